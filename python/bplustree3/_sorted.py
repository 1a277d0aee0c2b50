"""SortedDict and SortedSet: the API and semantics of sortedcontainers 2.4's
classes of the same names, with the sorted order kept in a SortedList.

As in sortedcontainers, a SortedDict is a dict and a SortedSet wraps a set:
membership, lookups and hashing are the dict's or the set's, exactly. The
sorted order of the keys or values is ``_list``, a SortedList (a
SortedKeyList with a key function) in the C tree's multiset mode, whose
subtree counts make every positional operation (``peekitem(i)``,
``index``, ``keys()[i]``, ``islice``, ``bisect_*``) O(log n). With a key
function, ``key(k)`` is computed once per insertion, never per comparison,
and keys whose ``key(k)`` tie keep the order sortedcontainers gives them
(the order they were added in, or the order of the dict or set when the
whole order is rebuilt from it).

sortedcontainers' private names that libraries built on it use are kept:
``_list``, and on a SortedDict ``_list_add``, ``_list_remove`` (and the rest
of the ``_list_*`` methods sortedcontainers binds), ``_setitem`` and
``_update``; ``_reset(load)`` is accepted and changes nothing.

Nothing lost: each method either completes or raises and leaves the dict
or set and the order exactly as they were (a raising key function or
comparison, a failed allocation). Each change is made where it can fail
first, and undone where a later step fails; the steps that come last
cannot fail (removals by position, discards from a set or dict, swapping a
rebuilt order in). When a SortedSet with a key function runs out of memory
rebuilding its order after a large difference_update (which may shrink the
set's table, so that the values could not go back), the order drops the
values by position instead: the call completes, and values whose keys tie
keep their old order where sortedcontainers would have rebuilt it.

Code that an update runs between its steps (a key function, __hash__,
__eq__, a comparison, a __del__ run by a collection) may read the dict or
set; a change raises RuntimeError (_exclusively), as a BPlusTreeMap's
operations refuse changes from their own comparisons.

Threads: each call on the underlying dict, set or list is atomic, so no
interleaving crashes, but a SortedDict or SortedSet call is several of
those, as in sortedcontainers: share one between threads behind a lock, or
use BPlusTreeMap, whose every operation is atomic.
"""

from collections.abc import ItemsView, KeysView, Mapping, MutableSet, Sequence, Set
from collections.abc import ValuesView
from itertools import chain
import functools
import operator
import reprlib
import sys
import warnings

from ._bplustree3 import _dict_apply, _set_apply
from ._sortedlist import SortedList, _KEYS, _VALUES


def _all_or_nothing(change, undo, *args):
    """Runs change(); when it raises, runs undo(*args) and re-raises.

    undo is one of the C helpers that allocate nothing (_dict_apply,
    _set_apply), so that it works when memory has run out. And this function is small on purpose: when
    an exception enters an ``except`` block, CPython (3.11 to 3.14) makes
    an int of the code offset, and when it cannot allocate it, it retries
    the same handler forever; small offsets are ints it never allocates.
    (That is why a sweep that made every allocation fail hung 3.12.)
    test_sweeps.py checks every function with a handler for it.
    """
    try:
        return change()
    except BaseException:
        undo(*args)
        raise


def _exclusively(container, change, *args):
    """Runs change(*args) with container marked as changing: until it
    returns, the container's methods that change it raise RuntimeError
    (_refuse). The calls that change a dict or set and its order in
    several steps run so, for code that runs between the steps (a key
    function, __hash__, __eq__, a comparison, a __del__ run by a collection)
    must not change the container under them: it may read it. Small: see
    _all_or_nothing."""
    container._changing = True
    try:
        return change(*args)
    finally:
        container._changing = False


def _refuse(container):
    raise RuntimeError(
        f"{type(container).__name__} changed by code that one of its own updates ran (a key "
        "function, a comparison, __eq__, __hash__ or a __del__): change it after the update "
        "returns")


def _exclusive(method):
    """method, run exclusively (see _exclusively)."""
    @functools.wraps(method)
    def exclusive(self, *args):
        if self._changing:
            _refuse(self)
        return _exclusively(self, method, self, *args)

    return exclusive


_NOTHING = frozenset()

# What SortedSet's comparisons are, for their docstrings: op name -> (symbol, meaning).
_SET_COMPARISONS = {
    "eq": ("==", "equal to"), "ne": ("!=", "not equal to"),
    "lt": ("<", "a proper subset of"), "gt": (">", "a proper superset of"),
    "le": ("<=", "a subset of"), "ge": (">=", "a superset of"),
}


def _owned_size(container):
    """Bytes of what a SortedDict or SortedSet holds beside its own table:
    its attributes' dict (the bound methods sortedcontainers' names need
    among them) and its order, the C tree, with their object headers."""
    return sys.getsizeof(vars(container)) + sys.getsizeof(container._list)


def _large_update(count, size, share):
    """Whether changing count items of a container of size items is a large
    update: more than a share of it (SortedSet: 4, a quarter; SortedDict:
    10, a tenth). Those are sortedcontainers' rules for rebuilding its order
    from the set or dict (``sorted(set)``) instead of changing it item by
    item; items that tie under a key function then come out in the set's or
    dict's iteration order. We follow the same rules, so that ties come out
    in the same order as there."""
    return share * count > size


def _shrink(s):
    """Shrinks the table of the set s as set.difference_update does after
    its discards (when more than a quarter of the table is dummies), so
    that s iterates in the order it would have; when memory is short, it
    leaves the table as it is: s holds the same values either way."""
    try:
        s.difference_update(_NOTHING)
    except MemoryError:
        pass


def _swap_in(order, built, token, change):
    """Swaps the list built into the SortedList order (token: see
    SortedList._swap), then runs change(); when change raises, swaps the
    old order back (which cannot fail) and re-raises. Small: see
    _all_or_nothing."""
    order._swap(built, token)
    try:
        change()
    except BaseException:
        order._swap(built, None)
        raise


def _rebuild_or_drop(order, values, positions, dropped):
    """Rebuilds the SortedKeyList order from the set values, which has just
    lost the values dropped (at positions, descending, in order). When
    memory runs out, the order drops them by position instead (allocating
    nothing): the change is complete, and values whose keys tie keep their
    old order. When the key function or a comparison raises, the set gets
    them back and the error propagates: nothing changed. Small: see
    _all_or_nothing."""
    try:
        order._assign(values)
    except MemoryError:
        order._delete_at(positions)
    except BaseException:
        _set_apply(values, (), dropped)
        raise


def _kind(order):
    """What the SortedList order hands out, as _pop_many names it."""
    return _KEYS if order.key is None else _VALUES


def _positions_of(order, values):
    """The positions of values, all present in the SortedList order: values
    == to each other take the equal items in turn, as removing them one at
    a time would."""
    taken, positions = set(), []
    for value in values:
        at = order.index(value)
        while at in taken:
            at = order.index(value, at + 1)
        taken.add(at)
        positions.append(at)
    return positions


def _remove_all(order, values):
    """Removes values, all present in the SortedList order, by position;
    all or nothing (the positions are found first)."""
    order._pop_many(_kind(order), _positions_of(order, values))


class _NotGiven:
    def __repr__(self):
        return "<not-given>"


_NOT_GIVEN = _NotGiven()


class _Positions:
    """The sorted-list methods SortedDict and SortedSet share: those of
    their _list."""

    __slots__ = ()
    _changing = False  # see _exclusively

    def _reset(self, load):
        """Kept for compatibility with sortedcontainers: ``_list._reset(load)``,
        which records load and changes nothing."""
        self._list._reset(load)

    def index(self, value, start=None, stop=None):
        """The position of value; ValueError if absent. O(log n)."""
        return self._list.index(value, start, stop)

    def bisect_left(self, value):
        """Where value would go, before equal ones. O(log n)."""
        return self._list.bisect_left(value)

    def bisect_right(self, value):
        """Where value would go, after equal ones. O(log n)."""
        return self._list.bisect_right(value)

    bisect = bisect_right

    def irange(self, minimum=None, maximum=None, inclusive=(True, True), reverse=False):
        """Keys or values between minimum and maximum (None: unbounded), each
        end included or not as inclusive says, largest first if reverse.
        O(log n) to start, O(1) per key or value."""
        return self._list.irange(minimum, maximum, inclusive, reverse)

    def islice(self, start=None, stop=None, reverse=False):
        """Keys or values at positions start to stop, as a slice. O(log n) to
        start, O(1) per key or value."""
        return self._list.islice(start, stop, reverse)

    def _bind_key_methods(self):
        """With a key function, the key methods of _list (bisect_key_left,
        bisect_key_right, bisect_key, irange_key), as sortedcontainers
        binds them."""
        _list = self._list
        if _list.key is not None:
            self.bisect_key_left = _list.bisect_key_left
            self.bisect_key_right = _list.bisect_key_right
            self.bisect_key = _list.bisect_key_right
            self.irange_key = _list.irange_key


def _fill(sd, args, kwargs):
    """Fills the empty SortedDict sd as dict.update(*args, **kwargs) would,
    its order made from the dict's; all or nothing."""
    def fill():
        dict.update(sd, *args, **kwargs)
        sd._list._assign(dict.__iter__(sd))

    _all_or_nothing(fill, dict.clear, sd)  # as it was: empty


def _put_pairs(sd, pairs):
    """Puts the pairs of the dict pairs into the SortedDict sd, all or
    nothing: a large update (more than a tenth of sd) rebuilds the order
    from the dict's, a small one adds each new key after its equals."""
    rebuild = _large_update(len(pairs), len(sd), 10)
    # What the dict held before, to put back if a step fails.
    added = tuple(key for key in pairs if not dict.__contains__(sd, key))
    replaced = {key: dict.__getitem__(sd, key) for key in pairs if dict.__contains__(sd, key)}

    def change():
        dict.update(sd, pairs)  # it may grow its table half-way
        if rebuild:
            sd._list._assign(dict.__iter__(sd))
        else:
            sd._list._add_each(added)

    _all_or_nothing(change, _dict_apply, sd, added, replaced)


class SortedDict(_Positions, dict):
    """A dict that keeps its keys sorted: sortedcontainers.SortedDict's API
    and semantics, with positions in O(log n) from a C B+ tree.

    ``SortedDict(key=None, *args, **kwargs)``: an optional key function (or
    None) first, then what ``dict()`` takes.

    >>> sd = SortedDict({"b": 2, "a": 1, "c": 3})
    >>> list(sd), sd.peekitem(0), sd.index("c")
    (['a', 'b', 'c'], ('a', 1), 2)
    >>> sd.popitem()
    ('c', 3)
    """

    __not_given = _NOT_GIVEN  # sortedcontainers' name: _SortedDict__not_given

    def __init__(self, *args, **kwargs):
        """Initialize from an optional key function (or None), then what
        ``dict()`` takes. O(n log n)."""
        if args and (args[0] is None or callable(args[0])):
            self._key = args[0]
            args = args[1:]
        else:
            self._key = None
        _list = self._list = SortedList(key=self._key)
        # sortedcontainers' private names, which its dependents call.
        self._list_add = _list.add
        self._list_clear = _list.clear
        self._list_iter = _list.__iter__
        self._list_reversed = _list.__reversed__
        self._list_pop = _list.pop
        self._list_remove = _list.remove
        self._list_update = _list.update
        self._bind_key_methods()
        self._update(*args, **kwargs)

    @property
    def key(self):
        """The key function, or None."""
        return self._key

    @property
    def iloc(self):
        """Deprecated: the keys view (``keys()``)."""
        warnings.warn("sorted_dict.iloc is deprecated. Use SortedDict.keys() instead.",
                      DeprecationWarning, stacklevel=2)
        return SortedKeysView(self)

    # ---- Changes ----

    # The dict changes first, so that a key function may read self[key]
    # (sortedcollections' ValueSortedDict does); a failure to order the key
    # takes it out of the dict again. A removal goes the other way: the
    # order first, then the dict, where deleting cannot fail.

    def __setitem__(self, key, value):
        """Store value at key (``sd[key] = value``). O(log n)."""
        if self._changing:
            _refuse(self)
        if dict.__contains__(self, key):
            dict.__setitem__(self, key, value)
            return
        dict.__setitem__(self, key, value)
        try:
            self._list.add(key)
        except BaseException:
            dict.pop(self, key)  # allocates nothing (see _all_or_nothing)
            raise

    _setitem = __setitem__

    def __delitem__(self, key):
        """Remove key (``del sd[key]``); KeyError if absent. O(log n)."""
        if self._changing:
            _refuse(self)
        if not dict.__contains__(self, key):
            raise KeyError(key)
        self._list.remove(key)
        dict.pop(self, key)

    def clear(self):
        """Remove every item. O(n)."""
        if self._changing:
            _refuse(self)
        self._list.clear()  # a new tree: it may fail, and changes nothing then
        dict.clear(self)

    def pop(self, key, default=_NOT_GIVEN):
        """Remove key and return its value; if it is absent, return default
        when given, else raise KeyError. O(log n).

        >>> sd = SortedDict({"a": 1, "b": 2})
        >>> sd.pop("a"), sd.pop("z", 0), sd
        (1, 0, SortedDict({'b': 2}))
        """
        if self._changing:
            _refuse(self)
        if dict.__contains__(self, key):
            self._list.remove(key)
            return dict.pop(self, key)
        if default is _NOT_GIVEN:
            raise KeyError(key)
        return default

    def popitem(self, index=-1):
        """Removes and returns the (key, value) at index, the last by
        default; KeyError if empty, IndexError if out of range. O(log n)."""
        if self._changing:
            _refuse(self)
        if not self:
            raise KeyError("popitem(): dictionary is empty")
        key = self._list[index]
        item = key, dict.__getitem__(self, key)  # made before anything changes
        self._list.pop(index)
        dict.pop(self, key)
        return item

    def setdefault(self, key, default=None):
        """Return sd[key], first storing default if key is absent. O(log n).

        >>> sd = SortedDict({"b": 2})
        >>> sd.setdefault("b", 0), sd.setdefault("a", 1), sd
        (2, 1, SortedDict({'a': 1, 'b': 2}))
        """
        if dict.__contains__(self, key):
            return dict.__getitem__(self, key)
        if self._changing:
            _refuse(self)
        dict.__setitem__(self, key, default)
        try:
            self._list.add(key)
        except BaseException:
            dict.pop(self, key)  # allocates nothing (see _all_or_nothing)
            raise
        return default

    def update(self, *args, **kwargs):
        """Adds the items of a mapping or an iterable of pairs, then kwargs;
        all or nothing. As in sortedcontainers, a large update (more than a
        tenth of the dict) rebuilds the order from the dict's order (which
        decides among keys whose key function values tie); a small one adds
        each new key after its equals, or, in a subclass that defines
        ``_setitem`` (sortedcollections' ValueSortedDict does), sets each
        pair through it, as sortedcontainers does (what a failing
        ``_setitem`` leaves is its own). Code that the update runs may read
        the dict; a change raises RuntimeError. O(k log n) for k items;
        O((n + k) log(n + k)) when the order is rebuilt."""
        if self._changing:
            _refuse(self)
        if not self:
            return _exclusively(self, _fill, self, args, kwargs)
        if not kwargs and len(args) == 1 and isinstance(args[0], dict):
            pairs = args[0]
        else:
            pairs = dict(*args, **kwargs)
        small = not _large_update(len(pairs), len(self), 10)
        if small and type(self)._setitem is not SortedDict._setitem:
            for key in pairs:  # the subclass's own all or nothing, if any
                self._setitem(key, pairs[key])
            return
        _exclusively(self, _put_pairs, self, pairs)

    _update = update

    def __ior__(self, other):
        """Add the items of other (``sd |= other``), as update. O(k log n)."""
        self._update(other)
        return self

    # ---- Order ----

    def __iter__(self):
        """An iterator over the keys, in sorted order. O(1) per key."""
        return iter(self._list)

    def __reversed__(self):
        """An iterator over the keys, largest first. O(1) per key."""
        return reversed(self._list)

    def peekitem(self, index=-1):
        """The (key, value) at index, the last by default; IndexError if out
        of range. O(log n)."""
        key = self._list[index]
        return key, self[key]

    def keys(self):
        """A live view of the keys, a set and a sequence (SortedKeysView).
        O(1).

        >>> keys = SortedDict({"b": 2, "a": 1, "c": 3}).keys()
        >>> keys[0], keys[-2:], keys.index("b"), keys & {"c", "d"}
        ('a', ['b', 'c'], 1, SortedSet(['c']))
        """
        return SortedKeysView(self)

    def items(self):
        """A live view of the (key, value) pairs, in key order, a set and a
        sequence (SortedItemsView). O(1).

        >>> SortedDict({"b": 2, "a": 1}).items()[-1]
        ('b', 2)
        """
        return SortedItemsView(self)

    def values(self):
        """A live view of the values, in key order, a sequence
        (SortedValuesView). O(1).

        >>> SortedDict({"b": 1, "a": 2}).values()[:]
        [2, 1]
        """
        return SortedValuesView(self)

    # ---- Whole ----

    def __or__(self, other):
        """A new SortedDict of the items of both, other's values winning
        (``sd | other``). O((n + k) log(n + k)) for k items in other.

        >>> SortedDict({"a": 1, "b": 2}) | {"b": 3, "c": 4}
        SortedDict({'a': 1, 'b': 3, 'c': 4})
        """
        if not isinstance(other, Mapping):
            return NotImplemented
        return self.__class__(self._key, chain(self.items(), other.items()))

    def __ror__(self, other):
        """A new SortedDict of the items of both, this dict's values winning
        (``other | sd``). O((n + k) log(n + k)) for k items in other."""
        if not isinstance(other, Mapping):
            return NotImplemented
        return self.__class__(self._key, chain(other.items(), self.items()))

    def copy(self):
        """A shallow copy, with the same key function. O(n): the keys come
        sorted."""
        return self.__class__(self._key, self.items())

    __copy__ = copy

    def __sizeof__(self):
        """Bytes of the dict's table, its attributes and its order (the C
        tree's nodes), not counting the keys and values themselves, as
        ``sys.getsizeof`` of a dict does not. O(n / capacity)."""
        return dict.__sizeof__(self) + _owned_size(self)

    @classmethod
    def fromkeys(cls, iterable, value=None):
        """A new SortedDict with keys from iterable, each mapped to value.
        O(k log k) for k keys.

        >>> SortedDict.fromkeys("cab", 0)
        SortedDict({'a': 0, 'b': 0, 'c': 0})
        """
        return cls((key, value) for key in iterable)

    # The dict is made first, then filled (__setstate__), so that a
    # SortedDict among its own values pickles.
    def __reduce__(self):
        """Pickling: ``type(sd)(key)``, then filled with the items
        (__setstate__). O(n)."""
        return (type(self), (self._key,), list(dict.items(self)))

    def __setstate__(self, items):
        self._update(items)

    @reprlib.recursive_repr()
    def __repr__(self):
        """``SortedDict({key: value, ...})``, in key order, with the key
        function first when there is one. O(n)."""
        key_arg = "" if self._key is None else f"{self._key!r}, "
        items = ", ".join(f"{k!r}: {self[k]!r}" for k in self._list)
        return f"{type(self).__name__}({key_arg}{{{items}}})"

    def _check(self):
        """Runs the tree's invariant checker and checks that the order holds
        exactly the dict's keys."""
        self._list.check()
        # Raised, not asserted: the check must hold under python -O too.
        if len(self._list) != dict.__len__(self) or not all(
                dict.__contains__(self, k) for k in self._list):
            raise AssertionError("the sorted order and the dict hold different keys")


_NO_ITEMS = {}  # never changed: what _view_delitem puts back


def _view_delitem(self, index):
    """Remove the item at index, or the items in a slice, from the dict
    (``del sd.keys()[i]``). O(log n), or O(k log n) for a slice of k items."""
    mapping = self._mapping
    if mapping._changing:
        _refuse(mapping)
    if isinstance(index, slice):  # by position, all or nothing; then deletions
        _list = mapping._list
        _dict_apply(mapping, _list._pop_many(_kind(_list), index), _NO_ITEMS)
    else:
        dict.pop(mapping, mapping._list.pop(index))


class SortedKeysView(KeysView, Sequence):
    """A live view of a SortedDict's keys: a set and a sequence."""

    __slots__ = ()

    @classmethod
    def _from_iterable(cls, it):
        return SortedSet(it)

    def __getitem__(self, index):
        """The key at index, or a list of the keys in a slice. O(log n), or
        O(k log n) for a slice of k keys."""
        return self._mapping._list[index]

    def __reversed__(self):
        """An iterator over the keys, largest first. O(1) per key."""
        return reversed(self._mapping._list)

    def index(self, value, start=None, stop=None):
        """The position of the key value among positions start to stop;
        ValueError if it is not there. O(log n)."""
        return self._mapping._list.index(value, start, stop)

    __delitem__ = _view_delitem


class SortedItemsView(ItemsView, Sequence):
    """A live view of a SortedDict's items: a set and a sequence."""

    __slots__ = ()

    @classmethod
    def _from_iterable(cls, it):
        return SortedSet(it)

    def __getitem__(self, index):
        """The (key, value) at index, or a list of those in a slice.
        O(log n), or O(k log n) for a slice of k items."""
        mapping = self._mapping
        if isinstance(index, slice):
            return [(key, mapping[key]) for key in mapping._list[index]]
        key = mapping._list[index]
        return key, mapping[key]

    __delitem__ = _view_delitem


class SortedValuesView(ValuesView, Sequence):
    """A live view of a SortedDict's values, in key order: a sequence."""

    __slots__ = ()

    def __getitem__(self, index):
        """The value at index (of the key there), or a list of the values in
        a slice. O(log n), or O(k log n) for a slice of k values."""
        mapping = self._mapping
        if isinstance(index, slice):
            return [mapping[key] for key in mapping._list[index]]
        return mapping[mapping._list[index]]

    __delitem__ = _view_delitem


class SortedSet(_Positions, MutableSet, Sequence):
    """A set that keeps its values sorted: sortedcontainers.SortedSet's API
    and semantics, with positions in O(log n) from a C B+ tree.

    >>> ss = SortedSet([3, 1, 2, 3])
    >>> ss, ss[0], ss.index(3), ss.bisect_left(2.5)
    (SortedSet([1, 2, 3]), 1, 2, 2)
    """

    def __init__(self, iterable=None, key=None):
        """Initialize from iterable, ordered by key (a function of a value,
        or None: the values themselves). O(n log n)."""
        self._key = key
        if not hasattr(self, "_set"):
            self._set = set()
        self._list = SortedList(self._set, key=key)
        self.isdisjoint = self._set.isdisjoint
        self.issubset = self._set.issubset
        self.issuperset = self._set.issuperset
        self._bind_key_methods()
        if iterable is not None:
            self._update(iterable)

    @classmethod
    def _fromset(cls, values, key=None):
        sorted_set = object.__new__(cls)
        sorted_set._set = values
        sorted_set.__init__(key=key)
        return sorted_set

    @property
    def key(self):
        """The key function, or None."""
        return self._key

    def __contains__(self, value):
        """Whether value is in the set (``value in ss``), by hash. O(1)."""
        return value in self._set

    def __len__(self):
        """The number of values (``len(ss)``). O(1)."""
        return len(self._set)

    def __iter__(self):
        """An iterator over the values, in sorted order. O(1) per value."""
        return iter(self._list)

    def __reversed__(self):
        """An iterator over the values, largest first. O(1) per value."""
        return reversed(self._list)

    def __getitem__(self, index):
        """The value at position index, or a list of the values in a slice
        (``ss[i]``). O(log n), or O(k log n) for a slice of k values.

        >>> ss = SortedSet("dbca")
        >>> ss[0], ss[-1], ss[1:3]
        ('a', 'd', ['b', 'c'])
        """
        return self._list[index]

    def __delitem__(self, index):
        """Remove the value at position index, or the values in a slice
        (``del ss[i]``). O(log n), or O(k log n) for a slice of k values.

        >>> ss = SortedSet(range(6))
        >>> del ss[::2]
        >>> ss
        SortedSet([1, 3, 5])
        """
        # The order first, by position (all or nothing), then the set as
        # sortedcontainers changes it: remove, or for a slice
        # difference_update, which discards (that cannot fail) and may then
        # shrink the table (_shrink).
        if self._changing:
            _refuse(self)
        _set = self._set
        if not isinstance(index, slice):
            _set.remove(self._list.pop(index))
            return
        _set_apply(_set, self._list._pop_many(_kind(self._list), index), ())
        _shrink(_set)

    def _compare(op):
        def compare(self, other):
            if isinstance(other, SortedSet):
                return op(self._set, other._set)
            if isinstance(other, Set):
                return op(self._set, other)
            return NotImplemented

        symbol, meaning = _SET_COMPARISONS[op.__name__]
        compare.__name__ = op.__name__
        compare.__doc__ = (f"Whether the set is {meaning} other, compared as sets "
                           f"(``ss {symbol} other``). O(min(n, m)) for m values in other.")
        return compare

    __eq__ = _compare(operator.eq)
    __ne__ = _compare(operator.ne)
    __lt__ = _compare(operator.lt)
    __gt__ = _compare(operator.gt)
    __le__ = _compare(operator.le)
    __ge__ = _compare(operator.ge)
    _compare = staticmethod(_compare)
    __hash__ = None

    # The set changes as sortedcontainers changes it, so that its order, which
    # decides among values whose keys tie when the order is rebuilt from it,
    # stays the same; each method is all or nothing (see _change).

    def add(self, value):
        """Add value, if it is not in the set already. O(log n).

        >>> ss = SortedSet([3, 1])
        >>> ss.add(2); ss.add(3); ss
        SortedSet([1, 2, 3])
        """
        if self._changing:
            _refuse(self)
        _set = self._set
        if value not in _set:
            _set.add(value)
            try:
                self._list.add(value)
            except BaseException:
                _set.discard(value)  # allocates nothing (see _all_or_nothing)
                raise

    _add = add

    def clear(self):
        """Remove every value. O(n)."""
        if self._changing:
            _refuse(self)
        self._list.clear()  # a new tree: it may fail, and changes nothing then
        self._set.clear()

    def copy(self):
        """A shallow copy, with the same key function. O(n log n): the
        order is made again from a copy of the set."""
        return self._fromset(set(self._set), key=self._key)

    __copy__ = copy

    def __sizeof__(self):
        """Bytes of the object, its attributes, its set's table and its
        order (the C tree's nodes), not counting the values themselves, as
        ``sys.getsizeof`` of a set does not. O(n / capacity)."""
        return object.__sizeof__(self) + _owned_size(self) + sys.getsizeof(self._set)

    def count(self, value):
        """1 if value is in the set, else 0. O(1)."""
        return 1 if value in self._set else 0

    def discard(self, value):
        """Remove value, if it is in the set. O(log n)."""
        if self._changing:
            _refuse(self)
        if value in self._set:
            self._list.remove(value)
            self._set.remove(value)

    _discard = discard

    def pop(self, index=-1):
        """Remove and return the value at index, the last by default;
        IndexError if the set is empty or index out of range. O(log n).

        >>> ss = SortedSet([1, 2, 3])
        >>> ss.pop(), ss.pop(0), ss
        (3, 1, SortedSet([2]))
        """
        if self._changing:
            _refuse(self)
        value = self._list.pop(index)
        self._set.remove(value)
        return value

    def remove(self, value):
        """Remove value; KeyError if it is not in the set. O(log n)."""
        if self._changing:
            _refuse(self)
        if value not in self._set:
            raise KeyError(value)
        self._list.remove(value)
        self._set.remove(value)

    def _change(self, mutate, added, removed):
        """mutate() changes the set as sortedcontainers does (the set's
        order decides among values whose keys tie), then the order is
        rebuilt from it; all or nothing: if either fails, the values in
        added (a tuple) leave the set and those in removed come back."""
        _set = self._set

        def change():
            mutate()
            self._list._assign(_set)

        _all_or_nothing(change, _set_apply, _set, added, removed)
        return self

    def difference(self, *iterables):
        """A new SortedSet of the values in none of iterables
        (``ss - other``). O(n log n + m) for m values in iterables.

        >>> SortedSet([1, 2, 3, 4]).difference([2], {4})
        SortedSet([1, 3])
        """
        return self._fromset(self._set.difference(*iterables), key=self._key)

    __sub__ = difference

    @_exclusive
    def difference_update(self, *iterables):
        """Removes the values of iterables, all or nothing. With a key
        function, a large update (a quarter of the set or more) rebuilds the
        order from the set, as in sortedcontainers; otherwise each value is
        removed by position. O(k log n) for k values; O(n log n) when the
        order is rebuilt."""
        _set = self._set
        values = set(chain(*iterables))
        present = [value for value in values if value in _set]
        if self.key is not None and _large_update(len(values), len(_set), 4):
            # The set's new table decides ties: the order is rebuilt after
            # the set changed (discards, which cannot fail, and _shrink).
            positions = tuple(sorted(_positions_of(self._list, present), reverse=True))
            _set_apply(_set, present, ())
            _shrink(_set)
            _rebuild_or_drop(self._list, _set, positions, present)
            return self
        # Without a key function no two values tie: the order first, by
        # position (all or nothing), then the set, as sortedcontainers
        # changes it (a large update: difference_update, which may shrink).
        _remove_all(self._list, present)
        _set_apply(_set, present, ())
        if _large_update(len(values), len(_set) + len(present), 4):
            _shrink(_set)
        return self

    __isub__ = difference_update

    def intersection(self, *iterables):
        """A new SortedSet of the values also in every iterable
        (``ss & other``). O(n log n + m) for m values in iterables.

        >>> SortedSet("abc") & "bcd"
        SortedSet(['b', 'c'])
        """
        return self._fromset(self._set.intersection(*iterables), key=self._key)

    __and__ = intersection
    __rand__ = __and__

    @_exclusive
    def intersection_update(self, *iterables):
        """Keeps only the values also in every iterable, all or nothing.
        O(n log n + m) for m values in iterables: the order is rebuilt."""
        _set = self._set
        _list = self._list
        # The set makes its new table as its intersection() does: the order
        # is built from that and swapped in; then the set changes, and if
        # it fails, the old order is swapped back (all or nothing).
        others = [it if isinstance(it, (set, frozenset)) else list(it) for it in iterables]
        token = _list._state()
        built = _list._built(_set.intersection(*others))
        _swap_in(_list, built, token, lambda: _set.intersection_update(*others))
        return self

    __iand__ = intersection_update

    def symmetric_difference(self, other):
        """A new SortedSet of the values in exactly one of the set and other
        (``ss ^ other``). O((n + m) log(n + m)) for m values in other.

        >>> SortedSet([1, 2]) ^ [2, 3]
        SortedSet([1, 3])
        """
        return self._fromset(self._set.symmetric_difference(other), key=self._key)

    __xor__ = symmetric_difference
    __rxor__ = __xor__

    @_exclusive
    def symmetric_difference_update(self, other):
        """Keeps the values in exactly one of the set and other, all or
        nothing. O((n + m) log(n + m)) for m values in other: the order is
        rebuilt."""
        _set = self._set
        if not (type(other) is dict or isinstance(other, (set, frozenset))):
            other = set(other)
        values = other if isinstance(other, (set, frozenset)) else set(other)
        return self._change(lambda: _set.symmetric_difference_update(other),
                            tuple(values - _set), tuple(values & _set))

    __ixor__ = symmetric_difference_update

    def union(self, *iterables):
        """A new SortedSet of the values of the set and of iterables
        (``ss | other``). O((n + m) log(n + m)) for m values in iterables.

        >>> SortedSet([3, 1]).union([2], (5, 4))
        SortedSet([1, 2, 3, 4, 5])
        """
        return self.__class__(chain(iter(self), *iterables), key=self._key)

    __or__ = union
    __ror__ = __or__

    @_exclusive
    def update(self, *iterables):
        """Adds the values of iterables, all or nothing. A large update (a
        quarter of the set or more) rebuilds the order from the set, as in
        sortedcontainers; a small one adds each value after its equals.
        O(k log n) for k values; O((n + k) log(n + k)) when the order is
        rebuilt."""
        _set = self._set
        values = set(chain(*iterables))
        if _large_update(len(values), len(_set), 4):
            return self._change(lambda: _set.update(values), tuple(values - _set), ())
        added = tuple(value for value in values if value not in _set)

        def change():
            _set.update(added)  # one by one, as sortedcontainers adds them
            self._list._add_each(added)

        _all_or_nothing(change, _set_apply, _set, added, ())
        return self

    __ior__ = update
    _update = update

    def __reduce__(self):
        """Pickling: ``type(ss)(set, key)`` remakes the set. O(1) here;
        unpickling sorts the values again, O(n log n)."""
        return (type(self), (self._set, self._key))

    @reprlib.recursive_repr()
    def __repr__(self):
        """``SortedSet([value, ...])``, in sorted order, with ``key=`` when
        there is a key function. O(n)."""
        key = "" if self._key is None else f", key={self._key!r}"
        return f"{type(self).__name__}({list(self)!r}{key})"

    def _check(self):
        """Runs the tree's invariant checker and checks that the order holds
        exactly the set's values."""
        self._list.check()
        if len(self._list) != len(self._set) or not all(
                value in self._set for value in self._list):
            raise AssertionError("the sorted order and the set hold different values")
