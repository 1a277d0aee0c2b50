"""Python's protocols, as dict and sortedcontainers keep them: a
BPlusTreeMap's views are sequences with index and count; sys.getsizeof of
each class counts the memory it holds (measured against tracemalloc); a
subclass's __missing__ answers m[key] for a missing key, as a dict
subclass's does."""

from collections.abc import Sequence
import sys
import tracemalloc

import pytest
import sortedcontainers

from bplustree3 import BPlusTreeMap, SortedDict, SortedKeyList, SortedList, SortedSet

ITEMS = [(k, k % 3) for k in range(0, 40, 2)]  # values repeat
BOUNDS = [None, 0, 3, -4, 7, 100, -100]


def outcome(call):
    try:
        return call()
    except ValueError:
        return ValueError


@pytest.fixture
def pair():
    return BPlusTreeMap(ITEMS, capacity=4), sortedcontainers.SortedDict(ITEMS)


def test_views_are_sequences(pair):
    m, _ = pair
    for view in (m.keys(), m.values(), m.items()):
        assert isinstance(view, Sequence)
        assert list(reversed(view)) == list(view)[::-1]
    assert m.keys()[2] == 4 and m.values()[-1] == ITEMS[-1][1] and m.items()[1] == ITEMS[1]


def list_index(values, x, start, stop):
    """Sequence.index's answer: the first position of x (is, or ==) among
    start to stop, read as slice bounds (None: the end; sortedcontainers'
    views take no None there, so the views' own lists are the reference)."""
    lo, hi, _ = slice(start, stop).indices(len(values))
    for i in range(lo, hi):
        if values[i] is x or values[i] == x:
            return i
    return ValueError


@pytest.mark.parametrize("start", BOUNDS)
@pytest.mark.parametrize("stop", BOUNDS)
def test_index_as_a_list_of_the_view(pair, start, stop):
    m, sd = pair
    for key in (0, 4, 38, 5, -2, 100):
        ours = outcome(lambda: m.keys().index(key, start, stop))
        assert ours == list_index(list(sd.keys()), key, start, stop)
        for value in (key % 3, "other"):
            item = (key, value)
            assert outcome(lambda: m.items().index(item, start, stop)) == list_index(
                list(sd.items()), item, start, stop)
    for value in (0, 1, 2, 3, 1.0):
        assert outcome(lambda: m.values().index(value, start, stop)) == list_index(
            list(sd.values()), value, start, stop)


def test_count(pair):
    m, sd = pair
    for key in (0, 4, 5, 4.0):
        assert m.keys().count(key) == sd.keys().count(key) == (key in sd)
    with pytest.raises(TypeError, match="total order"):  # as "x" in m does
        m.keys().count("x")
    for item in ((4, 1), (4, 2), (5, 2), "x", (1, 2, 3)):
        assert m.items().count(item) == list(sd.items()).count(item)
    for value in (0, 1, 2, 1.0, None):
        assert m.values().count(value) == list(sd.values()).count(value)


def test_view_index_is_fast_where_the_key_is_given():
    m = BPlusTreeMap.fromkeys(range(200_000), 0)
    calls = 0

    class Counted(int):
        def __lt__(self, other):
            nonlocal calls
            calls += 1
            return int(self) < other

    assert m.keys().index(Counted(123_456)) == 123_456
    assert calls < 100  # a descent, not a scan


def measured(make, data):
    tracemalloc.start()
    try:
        made = make(data)
        used = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    return made, used


@pytest.mark.thread_unsafe  # tracemalloc counts every thread's allocations
@pytest.mark.parametrize("make", [BPlusTreeMap.fromkeys, SortedDict.fromkeys, SortedSet,
                                  SortedList, lambda d: SortedKeyList(d, key=lambda v: v)],
                         ids=["BPlusTreeMap", "SortedDict", "SortedSet", "SortedList",
                              "SortedKeyList"])
@pytest.mark.parametrize("kind", ["int", "str"])
def test_getsizeof_counts_what_each_class_holds(make, kind):
    data = list(range(50_000)) if kind == "int" else [f"k{i:06}" for i in range(50_000)]
    made, used = measured(make, data)  # the keys exist already: not counted
    size = sys.getsizeof(made)
    assert 0.97 * used <= size <= 1.03 * used, (size, used)
    assert sys.getsizeof(make(data[:10])) < size / 100


class MissingMap(BPlusTreeMap):
    def __missing__(self, key):
        self[key] = value = [key]
        return value


class MissingDict(dict):
    def __missing__(self, key):
        self[key] = value = [key]
        return value


class Raising(BPlusTreeMap):
    def __missing__(self, key):
        raise LookupError(f"no {key}")


class Static(BPlusTreeMap):
    __missing__ = staticmethod(lambda key: ("static", key))


class StaticDict(dict):
    __missing__ = staticmethod(lambda key: ("static", key))


def test_missing_is_called_for_a_missing_key_as_in_a_dict():
    m, d = MissingMap({1: "a"}), MissingDict({1: "a"})
    for probe in (m, d):
        assert probe[1] == "a"
        assert probe[2] == [2] and 2 in probe  # the hook stored it
        assert probe.get(3) is None and 3 not in probe  # get and in do not call it
        with pytest.raises(KeyError):
            del probe[3]
    assert list(m.items()) == sorted(d.items())
    m.check()
    assert Static()[5] == StaticDict()[5] == ("static", 5)
    with pytest.raises(LookupError, match="no 7"):
        Raising()[7]
    with pytest.raises(KeyError):
        BPlusTreeMap()[7]


class CallableHook:
    """A __missing__ that is no descriptor: dict calls it with the key alone."""

    def __call__(self, key):
        return ("called", key)


class FailingDescriptor:
    def __get__(self, obj, owner=None):
        raise LookupError("no hook today")


def test_missing_hooks_that_are_not_functions_as_in_a_dict():
    for base in (BPlusTreeMap, dict):
        plain = type("Plain", (base,), {"__missing__": CallableHook()})
        assert plain()[3] == ("called", 3)
        failing = type("Failing", (base,), {"__missing__": FailingDescriptor()})
        with pytest.raises(LookupError, match="no hook today"):
            failing()[3]
    from bplustree3._bplustree3 import BPlusTreeMapBase

    with pytest.raises(KeyError):
        BPlusTreeMapBase()[3]  # the base type itself has no subclass hook to look up
