"""bplustree3: a B+ tree ordered map with a C core.

>>> from bplustree3 import BPlusTreeMap
>>> m = BPlusTreeMap({3: "c", 1: "a", 2: "b"})
>>> list(m.items())
[(1, 'a'), (2, 'b'), (3, 'c')]
>>> m.floor(2.5)
(2, 'b')
>>> list(m.irange(2, 3))
[2, 3]
"""

from collections.abc import ItemsView, KeysView, Mapping, MutableMapping, Sequence, ValuesView
import copyreg
import reprlib

from ._bplustree3 import (
    DEFAULT_CAPACITY,
    MAX_CAPACITY,
    MIN_CAPACITY,
    BPlusTreeMapBase,
    InvariantError,
    _ITEMS,
    _KEYS,
    _VALUES,
    _adopt_methods,
)

from ._sorted import SortedDict, SortedItemsView, SortedKeysView, SortedSet, SortedValuesView
from ._sortedlist import SortedKeyList, SortedList, SortedListWithKey

__all__ = [
    "BPlusTreeMap", "SortedDict", "SortedSet", "SortedList", "SortedKeyList",
    "SortedListWithKey", "SortedKeysView", "SortedItemsView",
    "SortedValuesView", "InvariantError", "DEFAULT_CAPACITY", "MIN_CAPACITY", "MAX_CAPACITY",
]

try:
    from importlib.metadata import version as _version

    __version__ = _version("bplustree3")
except Exception:  # pragma: no cover - only in a source checkout, never installed
    __version__ = "0+unknown"



class _View:
    """Iteration for the views: straight to the C iterator, both ways; and
    positions, as a sequence: ``view[i]`` in O(log n), ``view[i:j]``."""

    __slots__ = ()
    _kind = _KEYS

    def __iter__(self):
        return self._mapping._iter(self._kind)

    def __reversed__(self):
        return self._mapping._iter(self._kind, reverse=True)

    def __getitem__(self, index):
        if isinstance(index, slice):
            if index.step is None or index.step == 1:
                return list(self._mapping._islice(self._kind, index.start, index.stop, False))
            return list(self)[index]
        item = self._mapping.peekitem(index)
        return item if self._kind == _ITEMS else item[self._kind]


class _Keys(_View, KeysView, Sequence):
    """A live view of a BPlusTreeMap's keys: a set and a sequence."""

    __slots__ = ()
    _kind = _KEYS

    def index(self, key, start=None, stop=None):
        """The position of key, if it lies among positions start to stop;
        ValueError if not. O(log n)."""
        return self._mapping.index(key, start, stop)

    def count(self, key):
        """1 if the map holds key, else 0 (TypeError for a key that cannot
        be compared with the keys, as ``key in m``). O(log n)."""
        return int(key in self._mapping)


class _Values(_View, ValuesView, Sequence):
    """A live view of a BPlusTreeMap's values, in key order: a sequence."""

    __slots__ = ()
    _kind = _VALUES

    def index(self, value, start=None, stop=None):
        """The first position of a value that is (or is equal to) value
        among positions start to stop; ValueError if none. O(n)."""
        mapping = self._mapping
        lo, hi, _ = slice(start, stop).indices(len(mapping))
        for position, held in enumerate(mapping._islice(_VALUES, lo, hi, False), lo):
            if held is value or held == value:
                return position
        raise ValueError(f"{value!r} is not in the values view")

    def count(self, value):
        """How many values are (or are equal to) value. O(n)."""
        return sum(1 for held in self if held is value or held == value)


def _as_pair(item):
    """item as a (key, value) pair, or None when it is not a 2-tuple."""
    return item if isinstance(item, tuple) and len(item) == 2 else None


class _Items(_View, ItemsView, Sequence):
    """A live view of a BPlusTreeMap's items: a set and a sequence."""

    __slots__ = ()
    _kind = _ITEMS

    def index(self, item, start=None, stop=None):
        """The position of item, a (key, value) pair the map holds, if it
        lies among positions start to stop; ValueError if not. O(log n)."""
        pair = _as_pair(item)
        if pair is None or pair not in self:
            raise ValueError(f"{item!r} is not in the items view")
        return self._mapping.index(pair[0], start, stop)

    def count(self, item):
        """1 if the map holds item, a (key, value) pair, else 0. O(log n)."""
        pair = _as_pair(item)
        return int(pair is not None and pair in self)


class BPlusTreeMap(BPlusTreeMapBase):
    """A mutable mapping that keeps its keys sorted, backed by a C B+ tree.

    ``BPlusTreeMap(items=(), /, *, capacity=None)``: ``items`` is a mapping
    or an iterable of (key, value) pairs; ``capacity`` (4 to 4096, default
    64) is the number of keys per node. Keys are ordered with ``<``; all
    keys must be comparable with each other.

    Lookups, insertions and deletions cost O(log n) comparisons; ``len`` is
    O(1); iteration walks the leaves without re-descending.
    """

    __slots__ = ()

    def keys(self, start_key=None, end_key=None):
        """Keys in [start_key, end_key) as an iterator, or, with no
        arguments, a live set-like view. O(log n) to start, O(1) per key.

        >>> list(BPlusTreeMap({1: 0, 2: 0, 3: 0}).keys(2))
        [2, 3]
        """
        if start_key is None and end_key is None:
            return _Keys(self)
        return self._iter(_KEYS, minimum=start_key, maximum=end_key)

    def values(self, start_key=None, end_key=None):
        """Values of the keys in [start_key, end_key), or a live view.
        O(log n) to start, O(1) per value.

        >>> list(BPlusTreeMap({1: "a", 2: "b"}).values(None, 2))
        ['a']
        """
        if start_key is None and end_key is None:
            return _Values(self)
        return self._iter(_VALUES, minimum=start_key, maximum=end_key)

    def items(self, start_key=None, end_key=None):
        """(key, value) pairs with key in [start_key, end_key), or a live view.
        O(log n) to start, O(1) per item.

        >>> list(BPlusTreeMap({1: "a", 2: "b"}).items(2))
        [(2, 'b')]
        """
        if start_key is None and end_key is None:
            return _Items(self)
        return self._iter(_ITEMS, minimum=start_key, maximum=end_key)

    def range(self, start_key=None, end_key=None):
        """(key, value) pairs with key in [start_key, end_key), as an iterator.
        O(log n) to start, O(1) per item.

        >>> list(BPlusTreeMap({1: "a", 2: "b", 3: "c"}).range(2, 3))
        [(2, 'b')]
        """
        return self._iter(_ITEMS, minimum=start_key, maximum=end_key)

    def islice(self, start=None, stop=None, reverse=False):
        """Keys at positions start to stop (as a slice: negatives count
        from the end), largest first if reverse, as in sortedcontainers.
        O(log n) to start, O(1) per key.

        >>> list(BPlusTreeMap.fromkeys("abcdef").islice(1, -2))
        ['b', 'c', 'd']
        """
        return self._islice(_KEYS, start, stop, reverse)

    bisect = BPlusTreeMapBase.bisect_right

    def irange(self, minimum=None, maximum=None, inclusive=(True, True), reverse=False):
        """Keys between minimum and maximum (None: unbounded), each end
        included or not as ``inclusive`` says, as in sortedcontainers.
        O(log n) to start, O(1) per key.

        >>> list(BPlusTreeMap.fromkeys(range(6)).irange(1, 4, (False, True), reverse=True))
        [4, 3, 2]
        """
        lo_incl, hi_incl = _inclusive_pair(inclusive)
        return self._iter(_KEYS, reverse=reverse, minimum=minimum, maximum=maximum,
                          min_inclusive=lo_incl, max_inclusive=hi_incl)

    @classmethod
    def fromkeys(cls, iterable, value=None):
        """A new map with keys from iterable, each mapped to value.
        O(k log k) for k keys. A one-dimensional buffer of int64 or float64
        numbers (a numpy array, ``array.array("q")``) is read in C, sorted
        as machine numbers unless it is sorted already, and bulk loaded:
        O(k) for sorted keys.

        >>> BPlusTreeMap.fromkeys("ba", 0)
        BPlusTreeMap({'a': 0, 'b': 0})
        """
        m = cls()
        if not m._load_numbers(iterable, value, m.capacity):
            for key in iterable:
                m[key] = value
        return m

    # The methods below that read the whole map read a copy (one atomic
    # step, O(n)), so that other threads' changes meanwhile cannot make
    # them fail: see "Threads" in docs/threads.md.

    def __eq__(self, other):
        """Whether other is a mapping with equal items (``m == other``).
        O(n), plus a lookup in other per key."""
        if not isinstance(other, Mapping):
            return NotImplemented
        snapshot = self.copy()
        if len(snapshot) != len(other):
            return False
        for key, value in snapshot.items():
            try:
                theirs = other[key]
            except KeyError:
                return False
            if not (theirs is value or theirs == value):
                return False
        return True

    __hash__ = None  # mutable

    @reprlib.recursive_repr()
    def __repr__(self):
        """``BPlusTreeMap({key: value, ...})``, in key order. O(n)."""
        items = ", ".join(f"{k!r}: {v!r}" for k, v in self.copy().items())
        return f"{type(self).__name__}({{{items}}})"

    def __or__(self, other):
        """A new map of the items of both, other's values winning
        (``m | other``). O(n + k log(n + k)) for k items in other."""
        if not isinstance(other, Mapping):
            return NotImplemented
        new = self.copy()
        new.update(other)
        return new

    def __ror__(self, other):
        """A new map of the items of both, this map's values winning
        (``other | m``). O((n + k) log(n + k)) for k items in other."""
        if not isinstance(other, Mapping):
            return NotImplemented
        new = type(self)(other, capacity=self.capacity)
        new.update(self)
        return new

    def __ior__(self, other):
        """Add the items of other (``m |= other``), as update. O(k log n)."""
        self.update(other)
        return self

    # Pickling makes the map first, then fills it (__setstate__), as dict's
    # does, so that a map among its own values pickles.
    def __reduce__(self):
        """Pickling: the map is made empty, then filled with its items and
        capacity (__setstate__). O(n)."""
        snapshot = self.copy()
        attrs = getattr(self, "__dict__", None) or None
        return (copyreg.__newobj__, (type(self),),
                (attrs, list(snapshot.items()), snapshot.capacity))

    def __setstate__(self, state):
        if isinstance(state, dict):  # 0.1.0's: the attributes alone (_rebuild made the map)
            self.__dict__.update(state)
            return
        attrs, items, capacity = state
        if attrs:
            self.__dict__.update(attrs)
        self._load_sorted(items, capacity)

    def __copy__(self):
        """A shallow copy (``copy.copy(m)``), as copy. O(n)."""
        return self.copy()

    def __deepcopy__(self, memo):
        import copy

        snapshot = self.copy()
        new = type(self)(capacity=snapshot.capacity)
        memo[id(self)] = new
        for key, value in snapshot.items():
            new[copy.deepcopy(key, memo)] = copy.deepcopy(value, memo)
        return new

    def __class_getitem__(cls, params):
        import types

        return types.GenericAlias(cls, params)


def _inclusive_pair(inclusive):
    """The flags (min_inclusive, max_inclusive) of an irange's inclusive,
    with an error that says what it takes when it is not a pair."""
    try:
        lo_incl, hi_incl = inclusive
    except (TypeError, ValueError) as error:
        raise type(error)(f"{error}: inclusive takes a pair of bools, (min_inclusive, "
                          f"max_inclusive), such as (True, False); got {inclusive!r}") from error
    return lo_incl, hi_incl


def _rebuild(cls, items, capacity):
    """Unpickles what bplustree3 0.1.0 pickled."""
    return cls.from_sorted_items(items, capacity=capacity)


# The C methods this class inherits, as its own: the interpreter's fast call
# path applies only to an instance of the very class a method names.
_adopt_methods(BPlusTreeMap)
MutableMapping.register(BPlusTreeMap)
