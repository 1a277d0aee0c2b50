"""sortedcollections, the library built on sortedcontainers, run on
bplustree3: its module is imported a second time with ``sortedcontainers``
resolved to bplustree3's classes (and ``sortedcontainers.sortedlist`` and
friends to bplustree3's modules of those names), and each of its classes
is driven by a hypothesis state machine side by side with the same class on
the real sortedcontainers, comparing every result and the type of every
exception, with our C checker (the classes' ``_check``) after every step.

The classes reach for sortedcontainers' private names (``_list``,
``_list_add``, ``_list_remove``, ``_setitem``, ``_nums._list[i]``), and
ValueSortedDict and ItemSortedDict order keys by their values, through a
key function that reads ``self[key]``: updates of non-empty dicts under
value-dependent keys, where ties come out in the order sortedcontainers
gives them. SegmentList, which writes into sortedcontainers' list of lists
(``_lists``, ``_maxes``, ``_len``), is the one class left out: a B+ tree has
none of those (docs/sortedcontainers.md).
"""

import copy
import importlib
import operator
import pickle
import re
import sys
import types

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

import bplustree3
import bplustree3.sorteddict
import bplustree3.sortedlist
import bplustree3.sortedset
from bplustree3 import SortedList
from differential import same

# Not under pytest-run-parallel: hypothesis is not thread-safe, and the
# import swaps modules in sys.modules.
pytestmark = pytest.mark.thread_unsafe

PACKAGES = ("sortedcontainers", "sortedcollections")


def _own(name):
    return name.split(".")[0] in PACKAGES


def import_sortedcollections(containers):
    """A fresh import of sortedcollections, with the sortedcontainers
    modules containers (name: module) in sys.modules, or the real ones
    when it is empty. sys.modules is as it was afterwards."""
    saved = {name: sys.modules.pop(name) for name in [n for n in sys.modules if _own(n)]}
    try:
        sys.modules.update(containers)
        return importlib.import_module("sortedcollections")
    finally:
        for name in [n for n in sys.modules if _own(n)]:
            del sys.modules[name]
        sys.modules.update(saved)


def bplustree3_as_sortedcontainers():
    """The sortedcontainers modules, made of bplustree3's."""
    top = types.ModuleType("sortedcontainers")
    for name in ("SortedList", "SortedKeyList", "SortedListWithKey", "SortedDict",
                 "SortedSet", "SortedKeysView", "SortedItemsView", "SortedValuesView"):
        setattr(top, name, getattr(bplustree3, name))
    modules = {"sortedcontainers": top}
    for part in ("sortedlist", "sorteddict", "sortedset"):
        module = getattr(bplustree3, part)
        setattr(top, part, module)
        modules[f"sortedcontainers.{part}"] = module
    return modules


OURS = import_sortedcollections(bplustree3_as_sortedcontainers())
THEIRS = import_sortedcollections({})


def test_the_two_imports_use_the_two_libraries():
    assert issubclass(OURS.ValueSortedDict, bplustree3.SortedDict)
    assert issubclass(OURS.IndexableSet, bplustree3.SortedSet)
    assert OURS.SortedListWithKey is bplustree3.SortedKeyList
    assert not issubclass(THEIRS.ValueSortedDict, bplustree3.SortedDict)
    assert THEIRS.SortedDict.__module__.startswith("sortedcontainers")


def item_key(key, value):
    """ItemSortedDict's key: few distinct results, so that keys tie."""
    return (key + value) % 5


KEYS = st.integers(-6, 6)  # -1 and -2 have the same hash: IndexableDict's keys tie
VALUES = st.integers(-4, 4)
INDEXES = st.integers(-8, 8)
PAIRS = st.lists(st.tuples(KEYS, VALUES), max_size=14)

# How each dict class is made: (function of the module and the items, how
# its items are compared after each step).
DICTS = {
    "ValueSortedDict": lambda m, items: m.ValueSortedDict(items),
    "ValueSortedDict_neg": lambda m, items: m.ValueSortedDict(operator.neg, items),
    "ItemSortedDict": lambda m, items: m.ItemSortedDict(item_key, items),
    "NearestDict": lambda m, items: m.NearestDict(items),
    "NearestDict_prev": lambda m, items: m.NearestDict(items, rounding=m.NearestDict.NEAREST_PREV),
    "IndexableDict": lambda m, items: m.IndexableDict(items),
    "OrderedDict": lambda m, items: m.OrderedDict(items),
}
SETS = {
    "IndexableSet": lambda m, values: m.IndexableSet(values),
    "OrderedSet": lambda m, values: m.OrderedSet(values),
}


def plain(r):
    """A result as data: containers read out, function addresses dropped
    from reprs (a key function made in each object differs)."""
    if isinstance(r, str):
        return re.sub(r" at 0x[0-9a-f]+", "", r)
    if isinstance(r, (tuple, list)):
        return type(r)(plain(x) for x in r)
    if isinstance(r, (dict, set)) or type(r).__module__.startswith(PACKAGES):
        return (type(r).__name__, list(r.items()) if hasattr(r, "items") else list(r))
    return r


class Pair:
    """One object of a class made on each library."""

    def __init__(self, make, arg):
        SortedList._capacity = 4  # deep trees: splits and merges in a few steps
        try:
            self.ours = make(OURS, arg)
        finally:
            SortedList._capacity = None
        self.theirs = make(THEIRS, arg)

    def same(self, call):
        return same(lambda: call(self.ours), lambda: call(self.theirs), plain=plain)

    def check(self):
        ours = self.ours
        if hasattr(ours, "_check"):
            ours._check()
        else:  # OrderedSet: its sorted dict of insertion numbers
            ours._nums._check()


def dict_machine(name):
    make = DICTS[name]
    sorted_dict = name != "OrderedDict"

    class DictMachine(RuleBasedStateMachine):
        @initialize(items=PAIRS)
        def start(self, items):
            self.pair = Pair(make, items)

        @invariant()
        def same_items_and_checked(self):
            if hasattr(self, "pair"):
                self.pair.check()
                self.pair.same(lambda d: (list(d.items()), len(d)))

        @rule(k=KEYS, v=VALUES)
        def setitem(self, k, v):
            self.pair.same(lambda d: d.__setitem__(k, v))

        @rule(k=KEYS)
        def delitem(self, k):
            self.pair.same(lambda d: d.__delitem__(k))

        @rule(k=KEYS, default=st.one_of(st.none(), VALUES))
        def pop(self, k, default):
            self.pair.same(lambda d: d.pop(k) if default is None else d.pop(k, default))

        @rule(i=st.one_of(st.none(), INDEXES))
        def popitem(self, i):
            self.pair.same(lambda d: d.popitem() if i is None else d.popitem(i))

        @rule(k=KEYS, v=VALUES)
        def setdefault(self, k, v):
            self.pair.same(lambda d: d.setdefault(k, v))

        # Small updates set each pair through _setitem; large ones (over a
        # tenth of the dict) rebuild the order from the dict's.
        @rule(items=st.lists(st.tuples(KEYS, VALUES), max_size=3) | PAIRS, as_dict=st.booleans())
        def update(self, items, as_dict):
            arg = dict(items) if as_dict else items
            self.pair.same(lambda d: d.update(arg))

        @rule(k=KEYS)
        def lookups(self, k):
            self.pair.same(lambda d: (k in d, d.get(k), d.get(k, "x")))
            self.pair.same(lambda d: d[k])

        @precondition(lambda self: name.startswith("NearestDict"))
        @rule(k=st.floats(-7, 7))
        def nearest(self, k):
            self.pair.same(lambda d: d.nearest_key(k))
            self.pair.same(lambda d: d[k])

        @rule(i=INDEXES, view=st.sampled_from(["keys", "values", "items"]))
        def view_index(self, i, view):
            self.pair.same(lambda d: getattr(d, view)()[i])

        @rule(i=INDEXES, j=INDEXES, view=st.sampled_from(["keys", "values", "items"]))
        def view_slice(self, i, j, view):
            self.pair.same(lambda d: getattr(d, view)()[i:j])

        @precondition(lambda self: sorted_dict)
        @rule(i=INDEXES, k=KEYS, j=INDEXES)
        def positions(self, i, k, j):
            self.pair.same(lambda d: d.peekitem(i))
            self.pair.same(lambda d: d.index(k))
            self.pair.same(lambda d: (d.bisect_left(k), d.bisect_right(k)))
            self.pair.same(lambda d: list(d.islice(i, j)))
            self.pair.same(lambda d: d.keys().__delitem__(i))

        @rule()
        def whole(self):
            self.pair.same(lambda d: (list(d), list(reversed(d)), repr(d)))
            self.pair.same(lambda d: d.copy())
            self.pair.same(lambda d: copy.copy(d))
            self.pair.same(lambda d: pickle.loads(pickle.dumps(d)))
            self.pair.same(lambda d: d == dict(d))

        @precondition(lambda self: len(self.pair.ours) > 8)
        @rule()
        def clear(self):
            self.pair.same(lambda d: d.clear())

    DictMachine.__name__ = f"{name}Machine"
    return DictMachine


def set_machine(name):
    make = SETS[name]

    class SetMachine(RuleBasedStateMachine):
        @initialize(values=st.lists(KEYS, max_size=14))
        def start(self, values):
            self.pair = Pair(make, values)

        @invariant()
        def same_values_and_checked(self):
            if hasattr(self, "pair"):
                self.pair.check()
                self.pair.same(lambda s: (list(s), len(s)))

        @rule(v=KEYS, w=KEYS, u=KEYS)
        def add_discard_remove(self, v, w, u):
            self.pair.same(lambda s: (s.add(v), v in s, s.count(v)))
            self.pair.same(lambda s: s.discard(w))
            self.pair.same(lambda s: s.remove(u))

        @rule()
        def pop(self):
            self.pair.same(lambda s: s.pop())

        @rule(i=INDEXES, v=KEYS)
        def positions(self, i, v):
            self.pair.same(lambda s: s[i])
            self.pair.same(lambda s: s.index(v))

        @rule(other=st.lists(KEYS, max_size=14),
              op=st.sampled_from(["__ior__", "__iand__", "__isub__", "__ixor__"]))
        def in_place(self, other, op):
            self.pair.same(lambda s: getattr(s, op)(set(other)))

        @rule()
        def whole(self):
            self.pair.same(lambda s: (list(reversed(s)), repr(s), s == set(s)))
            self.pair.same(lambda s: pickle.loads(pickle.dumps(s)))

    SetMachine.__name__ = f"{name}Machine"
    return SetMachine


@pytest.mark.parametrize("name", sorted(DICTS))
def test_dict_classes_behave_as_on_sortedcontainers(name):
    dict_machine(name).TestCase().runTest()


@pytest.mark.parametrize("name", sorted(SETS))
def test_set_classes_behave_as_on_sortedcontainers(name):
    set_machine(name).TestCase().runTest()


def test_a_value_sorted_dict_keeps_ties_in_sortedcontainers_order():
    """Ties under a value-dependent key, after updates of a non-empty dict
    small (each pair through ValueSortedDict._setitem) and large (the order
    rebuilt from the dict's)."""
    for make in (lambda m: m.ValueSortedDict(), lambda m: m.ValueSortedDict(operator.neg)):
        ours, theirs = make(OURS), make(THEIRS)
        for d in (ours, theirs):
            d.update({k: k % 3 for k in range(20)})
            d.update({5: 0, 30: 1})  # small: 2 pairs for 20 keys
            d.update({k: (k * 7) % 3 for k in range(0, 40, 2)})  # large: a rebuild
            d[41] = 2
            d.setdefault(42, 1)
            del d[3]
        assert list(ours.items()) == list(theirs.items())
        ours._check()
