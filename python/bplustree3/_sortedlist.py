"""SortedList and SortedKeyList: the API and semantics of sortedcontainers
2.4's classes of the same names, on the C tree in its multiset mode.

The values (with a key function: the keys key(value), with each value
beside its key) are kept in a B+ tree that holds equal keys side by side,
in the order they were added, with subtree counts: add, remove, ``sl[i]``,
``del sl[i]``, ``index`` and ``bisect_*`` are O(log n), and exact ints,
floats and strs are stored packed (no int object per value). The hot
methods are C (SortedListBase); this module has the rest.

Nothing lost: every method either completes or raises and leaves the list
as it was (a raising key function or comparison, a failed allocation).

Differences from sortedcontainers that a B+ tree cannot avoid: there are no
``_lists``, ``_maxes``, ``_index`` or ``_len`` attributes, and
``_reset(load)`` only records load as ``_load`` (node capacities are fixed
when a list is made). NaN cannot be stored (ValueError): it has no place in
an order.
"""

from collections.abc import MutableSequence, Sequence
from itertools import chain, repeat
from operator import eq, ge, gt, itemgetter, le, lt, ne
import reprlib
from types import GenericAlias

from ._bplustree3 import _ITEMS, _KEYS, _TOTAL_ORDER_HINT, _VALUES, SortedListBase



def identity(value):
    """The default key function of a SortedKeyList."""
    return value


def _pairs(keys, values):
    """The (key, value) pairs of keys with values beside them (None: every
    value None), made as they are read."""
    return zip(keys, repeat(None) if values is None else values)


_ALL = slice(None)


def _read(iterable):
    """The values of iterable in a new list. A sorted list's are read in
    one locked step, so that a copy of a list that other threads change is
    a snapshot, not a RuntimeError from its iterator."""
    if isinstance(iterable, SortedListBase):
        return SortedListBase.__getitem__(iterable, _ALL)
    return list(iterable)


def _sort(values, key=None):
    """Sorts the list values in place (stable), as list.sort; a TypeError
    from comparing two values (a str and an int) also says what a sorted
    container needs of them, as the C tree's comparisons do."""
    try:
        values.sort(key=key)
    except TypeError as error:
        if type(error) is not TypeError:  # someone's own subclass: theirs
            raise
        raise TypeError(f"{error} {_TOTAL_ORDER_HINT}") from error


def _merged_load(sl, keys, values, token):
    """Merges the sorted keys (with values beside them, or None) with sl's
    items, the old before the new among equals, and loads the whole into sl
    in one step, unless sl changed since token (RuntimeError)."""
    all_keys, all_values = keys, values
    if len(sl) and values is not None:
        merged = list(chain(sl._iter(_ITEMS), _pairs(keys, values)))
        _sort(merged, key=itemgetter(0))  # stable: the old values first
        all_keys = [k for k, _ in merged]
        all_values = [v for _, v in merged]
    elif len(sl):
        all_keys = list(chain(sl._iter(_KEYS), keys))
        _sort(all_keys)
    sl._load_sorted(all_keys, all_values, sl.capacity, True, token)


def _load_or_add(sl, keys, values, token):
    """_merged_load, or, when keys with only a partial order were left out
    of order by sorted(), or sl changed since token (another thread, or
    code that the sort ran, added or removed items: reading them failed, or
    the load would lose them), adds the keys (and values) one by one,
    each after those it ties with, in one locked step. Small: see
    _sorted._all_or_nothing on handlers."""
    try:
        _merged_load(sl, keys, values, token)
    except ValueError:
        sl._update_pairs(_pairs(keys, values))
    except RuntimeError:
        if sl._state() == token:  # not a change since token: the list is busy
            raise
        sl._update_pairs(_pairs(keys, values))


def _make_cmp(seq_op, symbol, doc):
    def comparer(self, other):
        if not isinstance(other, Sequence):
            return NotImplemented
        self_len, len_other = len(self), len(other)
        if self_len != len_other:
            if seq_op is eq:
                return False
            if seq_op is ne:
                return True
        for x, y in zip(self, other):
            if x != y:
                if seq_op is eq:
                    return False
                if seq_op is ne:
                    return True
                return seq_op(x, y)
        return seq_op(self_len, len_other)

    comparer.__name__ = f"__{seq_op.__name__}__"
    comparer.__doc__ = (f"Return true if the sorted list is {doc} `other`, compared as "
                        f"sequences (``sl {symbol} other``). O(n).")
    return comparer


class SortedList(SortedListBase):
    """A sorted list: values in ascending order, duplicates kept in the
    order they were added, with O(log n) add, remove, index and position
    access. ``SortedList(iterable, key=f)`` makes a SortedKeyList.

    >>> sl = SortedList([3, 1, 2, 1])
    >>> sl
    SortedList([1, 1, 2, 3])
    >>> sl.add(2); sl.count(2), sl.index(3), sl[-1]
    (2, 4, 3)
    """

    _capacity = None  # node capacity of new lists (None: the default); tests set 4
    DEFAULT_LOAD_FACTOR = 1000  # sortedcontainers' name; a B+ tree does not use it
    __class_getitem__ = classmethod(GenericAlias)

    def __new__(cls, iterable=None, key=None):
        if key is None:
            return SortedListBase.__new__(cls)
        if cls is SortedList:
            return SortedListBase.__new__(SortedKeyList)
        raise TypeError("inherit SortedKeyList for key argument")

    def __init__(self, iterable=None, key=None):
        """Initialize the list from iterable (sorted here). O(n log n)."""
        if self._capacity is not None:
            self._load_sorted([], None, self._capacity, True, None)
        if iterable is not None:
            self._update(iterable)

    @property
    def key(self):
        """The key function: None for a SortedList."""
        return None

    _load = DEFAULT_LOAD_FACTOR  # sortedcontainers' load factor: see _reset

    def _reset(self, load):
        """Kept for compatibility with sortedcontainers, where it sets the
        load factor: here it only records load as ``_load``. A B+ tree's
        node capacity is fixed when it is made, so the list is unchanged."""
        self._load = load

    def update(self, iterable):
        """Add every value of iterable, all or nothing. O(k log n), or
        O(n + k log k) when k is large."""
        values = _read(iterable)
        size = len(self)
        if (not size or len(values) * 4 >= size) and self._add_numbers(values):
            return  # ints or floats: sorted and merged as machine numbers
        _sort(values)
        self._merge(values, None)

    _update = update

    def _merge(self, keys, values):
        """Adds the sorted keys (with values beside them, or None), after
        their equals, in their order: loads an empty list, rebuilds a list
        that many keys join (as sortedcontainers does), else adds each one
        under an undo log. All or nothing."""
        if not keys:
            return
        size = len(self)
        if size and len(keys) * 4 < size:
            self._update_pairs(_pairs(keys, values))
            return
        _load_or_add(self, keys, values, self._state())

    def _add_each(self, values):
        """Adds each of the sequence values in turn, after its equals, as
        add() would one at a time; all or nothing."""
        self._update_pairs(_pairs(values, None))

    def _built(self, values):
        """A new list of this one's kind and node capacity holding values
        (their order decides among equal keys): how SortedDict and SortedSet
        build a whole new order aside."""
        built = SortedList() if self.key is None else SortedKeyList(key=self.key)
        if built.capacity != self.capacity:
            built._load_sorted([], None, self.capacity, True, None)
        built.update(values)
        return built

    def _assign(self, values):
        """Makes this list hold exactly values (their order decides among
        equal keys): built aside, then swapped in; all or nothing.
        RuntimeError when code that the build ran (a key function, a
        comparison) changed this list meanwhile."""
        token = self._state()
        self._swap(self._built(values), token)

    def reverse(self):
        """Not supported: use ``reversed(sl)``."""
        raise NotImplementedError("use ``reversed(sl)`` instead")

    def append(self, value):
        """Not supported: use ``sl.add(value)``."""
        raise NotImplementedError("use ``sl.add(value)`` instead")

    def extend(self, values):
        """Not supported: use ``sl.update(values)``."""
        raise NotImplementedError("use ``sl.update(values)`` instead")

    def insert(self, index, value):
        """Not supported: use ``sl.add(value)``."""
        raise NotImplementedError("use ``sl.add(value)`` instead")

    bisect = SortedListBase.bisect_right

    def copy(self):
        """A shallow copy (``self.__class__(self)``, as sortedcontainers
        makes it; the values come sorted, so it is O(n))."""
        return self.__class__(self)

    __copy__ = copy

    def __add__(self, other):
        """A new sorted list of the values of both. O((n + k) log(n + k))."""
        values = _read(self)
        values.extend(other)
        return self.__class__(values)

    __radd__ = __add__

    def __iadd__(self, other):
        """Add the values of other (``sl += other``). O(k log n)."""
        self._update(other)
        return self

    def __mul__(self, num):
        """A new sorted list with each value num times. O(n num log(n num))."""
        return self.__class__(_read(self) * num)

    __rmul__ = __mul__

    def __imul__(self, num):
        """Repeat each value num times, in place, all or nothing.
        O(n num log(n num))."""
        token = self._state()
        values = sorted(_read(self) * num)
        self._load_sorted(values, None, self.capacity, True, token)
        return self

    __eq__ = _make_cmp(eq, "==", "equal to")
    __ne__ = _make_cmp(ne, "!=", "not equal to")
    __lt__ = _make_cmp(lt, "<", "less than")
    __gt__ = _make_cmp(gt, ">", "greater than")
    __le__ = _make_cmp(le, "<=", "less than or equal to")
    __ge__ = _make_cmp(ge, ">=", "greater than or equal to")
    __hash__ = None

    def __reduce__(self):
        """Pickling: ``type(sl)(values)`` remakes the list. O(n)."""
        return (type(self), (_read(self),))

    @reprlib.recursive_repr()
    def __repr__(self):
        """``SortedList([value, ...])``, in sorted order. O(n)."""
        return f"{type(self).__name__}({_read(self)!r})"

    def _check(self):
        """Run the C invariant checker (InvariantError when it fails)."""
        self.check()


class SortedKeyList(SortedList):
    """A sorted list ordered by key(value): values whose keys are equal
    stay in the order they were added. key is called once per value added.

    >>> skl = SortedKeyList(["b", "A", "c"], key=str.lower)
    >>> list(skl), skl.bisect_key_left("b")
    (['A', 'b', 'c'], 1)
    """

    def __new__(cls, iterable=None, key=identity):
        return SortedListBase.__new__(cls)

    def __init__(self, iterable=None, key=identity):
        """Initialize the list, ordered by key, from iterable. O(n log n)."""
        self._key = key
        self._keyed()
        SortedList.__init__(self, iterable)

    @property
    def key(self):
        """The key function."""
        return self._key

    def add(self, value):
        """Add value, after the values whose keys equal its key. O(log n)."""
        self._add(self._key(value), value)

    def update(self, iterable):
        """Add every value of iterable, all or nothing. O(k log n), or
        O(n + k log k) when k is large."""
        values = _read(iterable)
        keys = list(map(self._key, values))
        order = list(range(len(keys)))
        _sort(order, key=keys.__getitem__)
        self._merge([keys[i] for i in order], [values[i] for i in order])

    _update = update

    def _add_each(self, values):
        """Adds each of the sequence values in turn, after the values whose
        keys equal its key, as add() would one at a time; all or nothing."""
        self._update_pairs(_pairs(list(map(self._key, values)), values))

    def __contains__(self, value):
        """Whether a value equal to value is among those whose keys equal
        its key. O(log n + m) for m such keys."""
        return self._find(self._key(value), value)

    def discard(self, value):
        """Remove the first value equal to value, if there is one. O(log n)."""
        self._discard(self._key(value), value)

    def remove(self, value):
        """Remove the first value equal to value; ValueError if there is
        none. O(log n)."""
        if not self._discard(self._key(value), value):
            raise ValueError(f"{value!r} not in list")

    def irange(self, minimum=None, maximum=None, inclusive=(True, True), reverse=False):
        """An iterator over the values whose keys lie from key(minimum) to
        key(maximum) (None: unbounded). O(log n) to start."""
        key = self._key
        return self.irange_key(None if minimum is None else key(minimum),
                               None if maximum is None else key(maximum), inclusive, reverse)

    irange_key = SortedListBase._irange_key

    bisect_key_left = SortedListBase.bisect_left
    bisect_key_right = SortedListBase.bisect_right
    bisect_key = bisect_key_right

    def bisect_left(self, value):
        """The position before the values whose keys equal key(value). O(log n)."""
        return self.bisect_key_left(self._key(value))

    def bisect_right(self, value):
        """The position after the values whose keys equal key(value). O(log n)."""
        return self.bisect_key_right(self._key(value))

    bisect = bisect_right

    def count(self, value):
        """The number of values equal to value. O(log n + m) for m values
        whose keys equal key(value)."""
        return self._count(self._key(value), value)

    def copy(self):
        """A shallow copy (``self.__class__(self, key=self.key)``, as
        sortedcontainers makes it; the values come sorted, so it is O(n))."""
        return self.__class__(self, key=self._key)

    __copy__ = copy

    def index(self, value, start=None, stop=None):
        """The position of the first value equal to value among positions
        start to stop; ValueError when there is none. O(log n + m) for m
        values whose keys equal key(value)."""
        return self._index(self._key, value, start, stop)

    def __add__(self, other):
        """A new sorted-key list of the values of both. O((n + k) log(n + k))."""
        values = _read(self)
        values.extend(other)
        return self.__class__(values, key=self._key)

    __radd__ = __add__

    def __mul__(self, num):
        """A new sorted-key list with each value num times. O(n num log(n num))."""
        return self.__class__(_read(self) * num, key=self._key)

    __rmul__ = __mul__

    def __imul__(self, num):
        """Repeat each value num times, in place, all or nothing.
        O(n num log(n num))."""
        token = self._state()
        items = list(self._iter(_ITEMS))
        n = len(items)
        order = sorted(range(n * num), key=lambda i: items[i % n][0]) if n else []
        self._load_sorted([items[i % n][0] for i in order], [items[i % n][1] for i in order],
                          self.capacity, True, token)
        return self

    def __reduce__(self):
        """Pickling: ``type(sl)(values, key)`` remakes the list. O(n)."""
        return (type(self), (_read(self), self.key))

    @reprlib.recursive_repr()
    def __repr__(self):
        """``SortedKeyList([value, ...], key=key)``, in key order. O(n)."""
        return f"{type(self).__name__}({_read(self)!r}, key={self._key!r})"


SortedListWithKey = SortedKeyList

MutableSequence.register(SortedList)
