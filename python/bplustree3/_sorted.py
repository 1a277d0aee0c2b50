"""SortedDict and SortedSet: the API and semantics of sortedcontainers 2.4's
classes of the same names, with the sorted order kept in the C tree.

As in sortedcontainers, a SortedDict is a dict and a SortedSet wraps a set:
membership, lookups and hashing are the dict's or the set's, exactly. The
sorted order of the keys is an _Order: a tree whose subtree counts make
every positional operation (``peekitem(i)``, ``index``, ``keys()[i]``,
``islice``, ``bisect_*``) O(log n), where sortedcontainers rebuilds a
positional index.

With a key function, the tree is ordered by ``(key(k), n)``, where n counts
insertions, and holds ``k``: ``key(k)`` is computed once per insertion,
never per comparison, and keys with equal ``key(k)`` keep the order
sortedcontainers gives them (the order they were added in, or the order of
the dict or set when the whole order is rebuilt from it).

Threads: each call on the underlying dict, set or tree is atomic, so no
interleaving crashes, but a SortedDict or SortedSet call is several of
those, as in sortedcontainers: share one between threads behind a lock, or
use BPlusTreeMap, whose every operation is atomic.
"""

from collections.abc import ItemsView, KeysView, Mapping, MutableSet, Sequence, Set
from collections.abc import ValuesView
from itertools import chain, count, repeat
import operator
import reprlib
import warnings

from ._bplustree3 import BPlusTreeMapBase

_KEYS, _VALUES, _ITEMS = 0, 1, 2
_TOP = float("inf")  # above every insertion number: (k, _TOP) follows each (k, n)


class _NotGiven:
    def __repr__(self):
        return "<not-given>"


_NOT_GIVEN = _NotGiven()


class _Order:
    """The sorted order of a SortedDict's keys or a SortedSet's values."""

    __slots__ = ("key", "tree", "_seq", "_slot", "_kind")
    capacity = None  # node capacity of the trees (None: the default); tests set 4

    def __init__(self, key, values=()):
        self.key = key
        # Where a value sits in a tree item: the tree key itself, or (with a
        # key function) the tree value beside (key(value), n).
        self._slot = 0 if key is None else 1
        self._kind = _KEYS if key is None else _VALUES
        self.tree = BPlusTreeMapBase(capacity=self.capacity)
        self._seq = count()
        self.rebuild(values)

    def rebuild(self, values):
        """Makes the order that of values (in their order among equal keys);
        all or nothing."""
        tree = BPlusTreeMapBase(capacity=self.capacity)
        if self.key is None:
            tree.update(zip(values, repeat(None)))
        else:
            key, seq = self.key, self._seq
            tree.update(((key(v), next(seq)), v) for v in values)
        self.tree = tree

    def clear(self):
        self.tree = BPlusTreeMapBase(capacity=self.capacity)

    def __len__(self):
        return len(self.tree)

    def __iter__(self):
        return self.tree._iter(self._kind, False, None, None, True, False)

    def __reversed__(self):
        return self.tree._iter(self._kind, True, None, None, True, False)

    def add(self, value):
        if self.key is None:
            self.tree[value] = None
        else:
            self.tree[(self.key(value), next(self._seq))] = value

    def _entry(self, value):
        """The tree key that stands for value (ValueError if none)."""
        if self.key is None:
            return value
        k = self.key(value)
        for entry, v in self.tree._iter(_ITEMS, False, (k,), (k, _TOP), True, False):
            if v is value or v == value:
                return entry
        raise ValueError(f"{value!r} is not in list")

    def remove(self, value):
        try:
            del self.tree[self._entry(value)]
        except KeyError:
            raise ValueError(f"{value!r} is not in list") from None

    def _item(self, index):
        """The tree item at index, with a list's IndexError."""
        try:
            return self.tree.peekitem(index)
        except IndexError:
            raise IndexError("list index out of range") from None

    def at(self, index):
        return self._item(index)[self._slot]

    def __getitem__(self, index):
        if isinstance(index, slice):
            start, stop, step = index.indices(len(self.tree))
            if step == 1:
                return list(self.islice(start, stop))
            return list(self)[index]
        return self.at(index)

    def pop(self, index=-1):
        item = self._item(index)
        del self.tree[item[0]]
        return item[self._slot]

    def __delitem__(self, index):
        """Removes the values at index (an int or a slice); returns them."""
        if isinstance(index, slice):
            start, stop, step = index.indices(len(self.tree))
            if step == 1 and start < stop:
                values = list(self.islice(start, stop))
                end = None if stop == len(self.tree) else self.tree.peekitem(stop)[0]
                self.tree.delete_range(self.tree.peekitem(start)[0], end)
                return values
            chosen = list(self.tree._islice(_ITEMS, None, None, False))[index]
            for item in chosen:
                del self.tree[item[0]]
            return [item[self._slot] for item in chosen]
        return [self.pop(index)]

    def index(self, value, start=None, stop=None):
        try:
            return self.tree.index(self._entry(value), start, stop)
        except ValueError:
            raise ValueError(f"{value!r} is not in list") from None

    def bisect_left(self, value):
        if self.key is None:
            return self.tree.bisect_left(value)
        return self.bisect_key_left(self.key(value))

    def bisect_right(self, value):
        if self.key is None:
            return self.tree.bisect_right(value)
        return self.bisect_key_right(self.key(value))

    def bisect_key_left(self, key):
        return self.tree.bisect_left((key,))

    def bisect_key_right(self, key):
        return self.tree.bisect_right((key, _TOP))

    def irange(self, minimum=None, maximum=None, inclusive=(True, True), reverse=False):
        if self.key is None:
            lo_incl, hi_incl = inclusive
            return self.tree._iter(_KEYS, bool(reverse), minimum, maximum, bool(lo_incl),
                                   bool(hi_incl))
        key = self.key
        return self.irange_key(None if minimum is None else key(minimum),
                               None if maximum is None else key(maximum), inclusive, reverse)

    def irange_key(self, min_key=None, max_key=None, inclusive=(True, True), reverse=False):
        lo_incl, hi_incl = inclusive
        lo = None if min_key is None else (min_key,) if lo_incl else (min_key, _TOP)
        hi = None if max_key is None else (max_key, _TOP) if hi_incl else (max_key,)
        return self.tree._iter(_VALUES, bool(reverse), lo, hi, True, bool(hi_incl))

    def islice(self, start=None, stop=None, reverse=False):
        start, stop, _ = slice(start, stop).indices(len(self.tree))
        return self.tree._islice(self._kind, start, stop, bool(reverse))


class _Positions:
    """The sorted-list methods SortedDict and SortedSet share, over _order."""

    __slots__ = ()

    def index(self, value, start=None, stop=None):
        """The position of value; ValueError if absent. O(log n)."""
        return self._order.index(value, start, stop)

    def bisect_left(self, value):
        """Where value would go, before equal ones. O(log n)."""
        return self._order.bisect_left(value)

    def bisect_right(self, value):
        """Where value would go, after equal ones. O(log n)."""
        return self._order.bisect_right(value)

    bisect = bisect_right

    def irange(self, minimum=None, maximum=None, inclusive=(True, True), reverse=False):
        """Keys or values between minimum and maximum (None: unbounded), each
        end included or not as inclusive says, largest first if reverse."""
        return self._order.irange(minimum, maximum, inclusive, reverse)

    def islice(self, start=None, stop=None, reverse=False):
        """Keys or values at positions start to stop, as a slice."""
        return self._order.islice(start, stop, reverse)


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

    def __init__(self, *args, **kwargs):
        if args and (args[0] is None or callable(args[0])):
            self._key = args[0]
            args = args[1:]
        else:
            self._key = None
        self._order = _Order(self._key)
        if self._key is not None:
            self.bisect_key_left = self._order.bisect_key_left
            self.bisect_key_right = self._order.bisect_key_right
            self.bisect_key = self._order.bisect_key_right
            self.irange_key = self._order.irange_key
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

    def __setitem__(self, key, value):
        if key not in self:
            self._order.add(key)
        dict.__setitem__(self, key, value)

    _setitem = __setitem__

    def __delitem__(self, key):
        dict.__delitem__(self, key)
        self._order.remove(key)

    def clear(self):
        dict.clear(self)
        self._order.clear()

    def pop(self, key, default=_NOT_GIVEN):
        if key in self:
            self._order.remove(key)
            return dict.pop(self, key)
        if default is _NOT_GIVEN:
            raise KeyError(key)
        return default

    def popitem(self, index=-1):
        """Removes and returns the (key, value) at index, the last by
        default; KeyError if empty, IndexError if out of range. O(log n)."""
        if not self:
            raise KeyError("popitem(): dictionary is empty")
        key = self._order.pop(index)
        return key, dict.pop(self, key)

    def setdefault(self, key, default=None):
        if key in self:
            return self[key]
        self._order.add(key)
        dict.__setitem__(self, key, default)
        return default

    def update(self, *args, **kwargs):
        if not self:
            try:
                dict.update(self, *args, **kwargs)
                self._order.rebuild(dict.__iter__(self))
            except BaseException:
                dict.clear(self)  # as it was: empty
                raise
            return
        if not kwargs and len(args) == 1 and isinstance(args[0], dict):
            pairs = args[0]
        else:
            pairs = dict(*args, **kwargs)
        for key in pairs:
            self._setitem(key, pairs[key])

    _update = update

    def __ior__(self, other):
        self._update(other)
        return self

    # ---- Order ----

    def __iter__(self):
        return iter(self._order)

    def __reversed__(self):
        return reversed(self._order)

    def peekitem(self, index=-1):
        """The (key, value) at index, the last by default; IndexError if out
        of range. O(log n)."""
        key = self._order.at(index)
        return key, self[key]

    def keys(self):
        return SortedKeysView(self)

    def items(self):
        return SortedItemsView(self)

    def values(self):
        return SortedValuesView(self)

    # ---- Whole ----

    def __or__(self, other):
        if not isinstance(other, Mapping):
            return NotImplemented
        return self.__class__(self._key, chain(self.items(), other.items()))

    def __ror__(self, other):
        if not isinstance(other, Mapping):
            return NotImplemented
        return self.__class__(self._key, chain(other.items(), self.items()))

    def copy(self):
        return self.__class__(self._key, self.items())

    __copy__ = copy

    @classmethod
    def fromkeys(cls, iterable, value=None):
        return cls((key, value) for key in iterable)

    def __reduce__(self):
        return (type(self), (self._key, dict.copy(self)))

    @reprlib.recursive_repr()
    def __repr__(self):
        key_arg = "" if self._key is None else f"{self._key!r}, "
        items = ", ".join(f"{k!r}: {self[k]!r}" for k in self._order)
        return f"{type(self).__name__}({key_arg}{{{items}}})"

    def _check(self):
        """Runs the tree's invariant checker and checks that the order holds
        exactly the dict's keys."""
        self._order.tree.check()
        # Raised, not asserted: the check must hold under python -O too.
        if len(self._order) != dict.__len__(self) or not all(
                dict.__contains__(self, k) for k in self._order):
            raise AssertionError("the sorted order and the dict hold different keys")


def _view_delitem(self, index):
    mapping = self._mapping
    for key in mapping._order.__delitem__(index):
        dict.__delitem__(mapping, key)


class SortedKeysView(KeysView, Sequence):
    """A live view of a SortedDict's keys: a set and a sequence."""

    __slots__ = ()

    @classmethod
    def _from_iterable(cls, it):
        return SortedSet(it)

    def __getitem__(self, index):
        return self._mapping._order[index]

    def __reversed__(self):
        return reversed(self._mapping._order)

    def index(self, value, start=None, stop=None):
        return self._mapping._order.index(value, start, stop)

    __delitem__ = _view_delitem


class SortedItemsView(ItemsView, Sequence):
    """A live view of a SortedDict's items: a set and a sequence."""

    __slots__ = ()

    @classmethod
    def _from_iterable(cls, it):
        return SortedSet(it)

    def __getitem__(self, index):
        mapping = self._mapping
        if isinstance(index, slice):
            return [(key, mapping[key]) for key in mapping._order[index]]
        key = mapping._order[index]
        return key, mapping[key]

    __delitem__ = _view_delitem


class SortedValuesView(ValuesView, Sequence):
    """A live view of a SortedDict's values, in key order: a sequence."""

    __slots__ = ()

    def __getitem__(self, index):
        mapping = self._mapping
        if isinstance(index, slice):
            return [mapping[key] for key in mapping._order[index]]
        return mapping[mapping._order[index]]

    __delitem__ = _view_delitem


class SortedSet(_Positions, MutableSet, Sequence):
    """A set that keeps its values sorted: sortedcontainers.SortedSet's API
    and semantics, with positions in O(log n) from a C B+ tree.

    >>> ss = SortedSet([3, 1, 2, 3])
    >>> ss, ss[0], ss.index(3), ss.bisect_left(2.5)
    (SortedSet([1, 2, 3]), 1, 2, 2)
    """

    def __init__(self, iterable=None, key=None):
        self._key = key
        if not hasattr(self, "_set"):
            self._set = set()
        self._order = _Order(key, self._set)
        self.isdisjoint = self._set.isdisjoint
        self.issubset = self._set.issubset
        self.issuperset = self._set.issuperset
        if key is not None:
            self.bisect_key_left = self._order.bisect_key_left
            self.bisect_key_right = self._order.bisect_key_right
            self.bisect_key = self._order.bisect_key_right
            self.irange_key = self._order.irange_key
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
        return value in self._set

    def __len__(self):
        return len(self._set)

    def __iter__(self):
        return iter(self._order)

    def __reversed__(self):
        return reversed(self._order)

    def __getitem__(self, index):
        return self._order[index]

    def __delitem__(self, index):
        removed = self._order.__delitem__(index)
        # As sortedcontainers changes its set (difference_update may resize
        # the table where remove does not): the set's order decides the
        # order of values whose keys tie when the order is rebuilt.
        if isinstance(index, slice):
            self._set.difference_update(removed)
        else:
            self._set.remove(removed[0])

    def _compare(op):
        def compare(self, other):
            if isinstance(other, SortedSet):
                return op(self._set, other._set)
            if isinstance(other, Set):
                return op(self._set, other)
            return NotImplemented

        compare.__name__ = op.__name__
        return compare

    __eq__ = _compare(operator.eq)
    __ne__ = _compare(operator.ne)
    __lt__ = _compare(operator.lt)
    __gt__ = _compare(operator.gt)
    __le__ = _compare(operator.le)
    __ge__ = _compare(operator.ge)
    _compare = staticmethod(_compare)
    __hash__ = None

    def add(self, value):
        if value not in self._set:
            self._order.add(value)
            self._set.add(value)

    _add = add

    def clear(self):
        self._set.clear()
        self._order.clear()

    def copy(self):
        return self._fromset(set(self._set), key=self._key)

    __copy__ = copy

    def count(self, value):
        return 1 if value in self._set else 0

    def discard(self, value):
        if value in self._set:
            self._order.remove(value)
            self._set.remove(value)

    _discard = discard

    def pop(self, index=-1):
        value = self._order.pop(index)
        self._set.remove(value)
        return value

    def remove(self, value):
        if value not in self._set:
            raise KeyError(value)
        self._order.remove(value)
        self._set.remove(value)

    def _rebuilt(self):
        self._order.rebuild(self._set)
        return self

    def difference(self, *iterables):
        return self._fromset(self._set.difference(*iterables), key=self._key)

    __sub__ = difference

    def difference_update(self, *iterables):
        values = set(chain(*iterables))
        if 4 * len(values) > len(self._set):
            self._set.difference_update(values)
            return self._rebuilt()
        for value in values:
            self._discard(value)
        return self

    __isub__ = difference_update

    def intersection(self, *iterables):
        return self._fromset(self._set.intersection(*iterables), key=self._key)

    __and__ = intersection
    __rand__ = __and__

    def intersection_update(self, *iterables):
        self._set.intersection_update(*iterables)
        return self._rebuilt()

    __iand__ = intersection_update

    def symmetric_difference(self, other):
        return self._fromset(self._set.symmetric_difference(other), key=self._key)

    __xor__ = symmetric_difference
    __rxor__ = __xor__

    def symmetric_difference_update(self, other):
        self._set.symmetric_difference_update(other)
        return self._rebuilt()

    __ixor__ = symmetric_difference_update

    def union(self, *iterables):
        return self.__class__(chain(iter(self), *iterables), key=self._key)

    __or__ = union
    __ror__ = __or__

    def update(self, *iterables):
        values = set(chain(*iterables))
        if 4 * len(values) > len(self._set):
            before = set(self._set)
            self._set.update(values)
            try:
                return self._rebuilt()
            except BaseException:
                self._set.clear()  # as it was
                self._set.update(before)
                raise
        for value in values:
            self._add(value)
        return self

    __ior__ = update
    _update = update

    def __reduce__(self):
        return (type(self), (self._set, self._key))

    @reprlib.recursive_repr()
    def __repr__(self):
        key = "" if self._key is None else f", key={self._key!r}"
        return f"{type(self).__name__}({list(self)!r}{key})"

    def _check(self):
        """Runs the tree's invariant checker and checks that the order holds
        exactly the set's values."""
        self._order.tree.check()
        if len(self._order) != len(self._set) or not all(
                value in self._set for value in self._order):
            raise AssertionError("the sorted order and the set hold different values")
