# pyright: strict
"""Typed use of the public API: `mypy --strict` and pyright in strict mode
pass on this file with no error (scripts/test.sh runs both), and every
assert_type here is what the stubs say. It also runs (test_stubs.py), so
what it asserts about the values holds at run time too."""

import sys
from collections.abc import ItemsView, Iterator, KeysView, ValuesView

from bplustree3 import (
    DEFAULT_CAPACITY,
    MAX_CAPACITY,
    MIN_CAPACITY,
    BPlusTreeMap,
    InvariantError,
    SortedDict,
    SortedKeyList,
    SortedList,
    SortedSet,
)

if sys.version_info >= (3, 11):
    from typing import assert_type
else:
    from typing_extensions import assert_type


def mapping_protocol() -> None:
    m: BPlusTreeMap[int, str] = BPlusTreeMap({3: "c", 1: "a"}, capacity=8)
    m[2] = "b"
    assert_type(m[2], str)
    assert_type(m.get(9), "str | None")
    assert_type(m.get(9, 0), "str | int")
    assert_type(m.pop(3), str)
    assert_type(m.setdefault(4, "d"), str)
    assert_type(m.popitem(), tuple[int, str])
    assert_type(m.poplast(), tuple[int, str])
    m.update({5: "e"}, )
    m.update([(6, "f")])
    assert_type(len(m), int)
    assert_type(2 in m, bool)
    assert list(m) == [2, 5, 6] and list(reversed(m)) == [6, 5, 2]
    copied = m.copy()
    assert_type(copied, BPlusTreeMap[int, str])
    merged = m | {7: "g"}
    assert_type(merged, BPlusTreeMap[int, str])
    assert merged == {2: "b", 5: "e", 6: "f", 7: "g"}
    assert_type(m.capacity, int)
    assert MIN_CAPACITY <= m.capacity == 8 <= DEFAULT_CAPACITY <= MAX_CAPACITY


def views_and_ranges() -> None:
    m = BPlusTreeMap([(k, k * 1.5) for k in range(10)])
    assert_type(m, BPlusTreeMap[int, float])
    keys = m.keys()
    both_none = m.keys(None, None)
    values = m.values()
    items = m.items()
    assert isinstance(keys, KeysView) and isinstance(both_none, KeysView)
    assert isinstance(values, ValuesView) and isinstance(items, ItemsView)
    assert_type(keys[0], int)
    assert_type(keys[-2:], list[int])
    assert_type(values[1], float)
    assert_type(items[2], tuple[int, float])
    assert_type(next(reversed(keys)), int)
    assert_type(next(reversed(values)), float)
    assert_type(next(reversed(items)), tuple[int, float])
    assert next(reversed(keys)) == 9 and items[2] == (2, 3.0)
    # With a bound: an iterator over [start_key, end_key).
    assert_type(m.keys(2, 5), Iterator[int])
    assert_type(m.keys(None, 5), Iterator[int])
    assert_type(m.keys(end_key=5), Iterator[int])
    assert_type(m.values(7), Iterator[float])
    assert_type(m.items(2, 4), Iterator[tuple[int, float]])
    assert list(m.keys(2, 5)) == [2, 3, 4] and list(m.keys(end_key=2)) == [0, 1]
    assert_type(m.range(8), Iterator[tuple[int, float]])
    assert_type(m.irange(2, 4, inclusive=(False, True), reverse=True), Iterator[int])
    assert list(m.irange(2, 4, inclusive=(False, True), reverse=True)) == [4, 3]
    assert_type(m.islice(1, 3), Iterator[int])
    bound: int | None = None
    either = m.keys(bound)  # a bound that may be None: a view or an iterator
    assert list(either) == list(range(10))


def order_and_positions() -> None:
    m = BPlusTreeMap({"b": 2, "d": 4, "a": 1})
    assert_type(m.first(), tuple[str, int])
    assert_type(m.last(), tuple[str, int])
    floor = m.floor("c")
    assert_type(floor, "tuple[str, int] | None")
    assert floor is not None and floor[0] == "b"
    assert_type(m.ceiling("c"), "tuple[str, int] | None")
    assert_type(m.lower("a"), "tuple[str, int] | None")
    assert_type(m.higher("d"), "tuple[str, int] | None")
    assert_type(m.peekitem(0), tuple[str, int])
    assert_type(m.index("d"), int)
    assert_type(m.bisect_left("c"), int)
    assert_type(m.bisect_right("c"), int)
    assert_type(m.bisect("c"), int)
    assert_type(m.delete_range("a", "c"), int)
    assert list(m) == ["d"]


def construction() -> None:
    pairs = [(i, str(i)) for i in range(5)]
    loaded = BPlusTreeMap.from_sorted_items(pairs, capacity=16)
    assert_type(loaded, BPlusTreeMap[int, str])
    assert loaded.capacity == 16 and loaded[4] == "4"
    zeros = BPlusTreeMap.fromkeys("abc", 0)
    assert_type(zeros, BPlusTreeMap[str, int])
    empty: BPlusTreeMap[str, list[int]] = BPlusTreeMap()
    empty.setdefault("k", []).append(1)
    assert empty == {"k": [1]}
    try:
        loaded.check()
    except InvariantError as e:
        assert_type(e.invariant, str)
        raise


def sortedcontainers_api() -> None:
    sd: SortedDict[str, int] = SortedDict({"b": 2, "a": 1})
    assert_type(sd.peekitem(0), tuple[str, int])
    assert_type(sd.keys()[0], str)
    assert_type(sd.popitem(), tuple[str, int])
    ss: SortedSet[int] = SortedSet([3, 1, 2])
    assert_type(ss[0], int)
    assert_type(list(ss.irange(1, 2)), list[int])
    assert sd == {"a": 1} and list(ss) == [1, 2, 3]
    sl: SortedList[int] = SortedList([3, 1, 2, 1])
    sl.add(5)
    assert_type(sl[0], int)
    assert_type(sl[1:3], list[int])
    assert_type(sl.pop(), int)
    assert_type(sl.count(1), int)
    assert_type(sl.bisect_left(2), int)
    assert_type(list(sl.irange(1, 2)), list[int])
    skl: SortedKeyList[str, str] = SortedKeyList(["b", "A"], key=str.lower)
    assert_type(skl[0], str)
    assert_type(skl.bisect_key_left("b"), int)
    assert list(sl) == [1, 1, 2, 3] and list(skl) == ["A", "b"]


mapping_protocol()
views_and_ranges()
order_and_positions()
construction()
sortedcontainers_api()
