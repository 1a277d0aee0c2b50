"""Positional access, O(log n) each through the tree's subtree counts:
peekitem, index, bisect_left/bisect_right/bisect, islice, and the views as
sequences (view[i], view[i:j]), checked against a sorted list."""

import bisect
import random

import pytest

from bplustree3 import BPlusTreeMap
from keys import PyKey


class Obj(PyKey):
    """A key compared with Python code (object storage)."""

    __slots__ = ()


KINDS = {
    "int": lambda i: i,
    "str": lambda i: f"k{i:06d}",
    "object": Obj,
}


@pytest.fixture(params=[(kind, cap) for kind in KINDS for cap in (4, 64)],
                ids=lambda p: f"{p[0]}-{p[1]}")
def case(request):
    kind, capacity = request.param
    make = KINDS[kind]
    rng = random.Random(7)
    nums = rng.sample(range(0, 3000, 3), 400)
    m = BPlusTreeMap(((make(i), -i) for i in nums), capacity=capacity)
    return m, make, sorted(nums)


BOUNDS = [None, 0, 1, 5, 399, 400, 401, 10**6, -1, -5, -399, -400, -401, -(10**6), 2**70,
          -(2**70)]


def test_peekitem_matches_the_sorted_list(case):
    m, make, nums = case
    n = len(nums)
    for i in list(range(-n, n)) + [None]:
        want = nums[-1 if i is None else i]
        got = m.peekitem() if i is None else m.peekitem(i)
        assert got == (make(want), -want)
    for bad in (n, -n - 1, 2**70, -(2**70)):
        with pytest.raises(IndexError):
            m.peekitem(bad)
    with pytest.raises(TypeError):
        m.peekitem("0")
    with pytest.raises(IndexError):
        BPlusTreeMap().peekitem()


def test_index_matches_list_index(case):
    m, make, nums = case
    for pos, i in enumerate(nums):
        assert m.index(make(i)) == pos
    for i in (-1, 1, 2, 3001):  # absent
        with pytest.raises(ValueError, match="not in"):
            m.index(make(i))
    rng = random.Random(3)
    for _ in range(300):
        i = rng.choice(nums)
        start, stop = rng.choice(BOUNDS), rng.choice(BOUNDS)
        try:
            want = nums.index(i, *(() if start is None and stop is None else
                                   (0 if start is None else start,
                                    len(nums) if stop is None else stop)))
        except ValueError:
            with pytest.raises(ValueError):
                m.index(make(i), start, stop)
        else:
            assert m.index(make(i), start=start, stop=stop) == want
    m.check()


def test_bisect_matches_the_bisect_module(case):
    m, make, nums = case
    for i in range(-2, 3003):
        assert m.bisect_left(make(i)) == bisect.bisect_left(nums, i)
        assert m.bisect_right(make(i)) == bisect.bisect_right(nums, i)
        assert m.bisect(make(i)) == bisect.bisect_right(nums, i)


def test_islice_matches_list_slicing(case):
    m, make, nums = case
    keys = [make(i) for i in nums]
    for start in BOUNDS:
        for stop in BOUNDS:
            want = keys[start:stop]
            assert list(m.islice(start, stop)) == want
            assert list(m.islice(start, stop, reverse=True)) == want[::-1]
            assert list(m.keys()[start:stop]) == want
            assert m.values()[start:stop] == [-i for i in nums[start:stop]]
            assert m.items()[start:stop] == [(make(i), -i) for i in nums[start:stop]]
    assert list(m.islice()) == keys


def test_views_are_indexable_sequences(case):
    m, make, nums = case
    keys, values, items = m.keys(), m.values(), m.items()
    for i in (0, 1, 199, -1, -400, 399):
        assert keys[i] == make(nums[i])
        assert values[i] == -nums[i]
        assert items[i] == (make(nums[i]), -nums[i])
    for step in (2, 3, -1, -7):
        assert keys[::step] == [make(i) for i in nums][::step]
        assert values[5:300:step] == [-i for i in nums][5:300:step]
    for bad in (400, -401):
        with pytest.raises(IndexError):
            keys[bad]
    with pytest.raises(ValueError):
        keys[::0]


def test_positions_follow_changes():
    m = BPlusTreeMap(capacity=4)
    ref = []
    rng = random.Random(11)
    for step in range(3000):
        k = rng.randrange(500)
        if rng.random() < 0.6:
            m[k] = k
            if k not in ref:
                bisect.insort(ref, k)
        else:
            m.pop(k, None)
            if k in ref:
                ref.remove(k)
        if ref and step % 7 == 0:
            i = rng.randrange(-len(ref), len(ref))
            assert m.peekitem(i) == (ref[i], ref[i])
            assert m.index(ref[i]) == ref.index(ref[i])
            assert list(m.islice(i, i + 5)) == ref[i:i + 5]
    m.check()


def test_nan_has_no_position():
    m = BPlusTreeMap({1.5: "a", 2.5: "b"})
    with pytest.raises(ValueError, match="not in"):
        m.index(float("nan"))
    with pytest.raises(ValueError, match="NaN"):
        m.bisect_left(float("nan"))
    with pytest.raises(ValueError, match="NaN"):
        m.bisect_right(float("nan"))


def test_an_iterator_over_positions_raises_on_change():
    m = BPlusTreeMap((i, i) for i in range(100))
    it = m.islice(10, 90)
    assert next(it) == 10
    m[1000] = 0
    with pytest.raises(RuntimeError, match="changed size"):
        next(it)


def test_positional_argument_errors():
    m = BPlusTreeMap((i, i) for i in range(10))
    with pytest.raises(TypeError):
        m.peekitem(1, 2)
    for bad in (lambda: m.index(3, "a"), lambda: m.index(3, 0, 1.5),
                lambda: m.islice("a"), lambda: list(m.islice(0, [])),
                lambda: m.keys()["a"]):
        with pytest.raises(TypeError):
            bad()
    for incomparable in (lambda: m.index("x"), lambda: m.bisect_left("x"),
                         lambda: m.bisect_right(None)):
        with pytest.raises(TypeError):
            incomparable()
    with pytest.raises(ValueError, match="kind"):
        m._islice(7, None, None, False)
    with pytest.raises(TypeError):
        m._islice(0, None, None)

    class Bad:
        def __bool__(self):
            raise ZeroDivisionError

    with pytest.raises(ZeroDivisionError):
        m.islice(0, 5, Bad())
    with pytest.raises(ValueError, match="kind"):
        m._iter(9, False, None, None, True, True)
    assert list(m.islice(3, 3)) == [] and list(m.islice(5, 2, True)) == []
    m.check()


# ---- Removals by position (the private helpers of SortedDict and SortedSet) ----

PICKS = {0: lambda k, v: k, 1: lambda k, v: v, 2: lambda k, v: (k, v)}  # keys, values, items


@pytest.mark.parametrize("kind", sorted(PICKS))
def test_pop_many_removes_what_del_removes_from_a_list(kind):
    rng = random.Random(kind)
    for _ in range(300):
        n = rng.randrange(0, 60)
        items = [(i * 3, -i) for i in range(n)]
        m = BPlusTreeMap.from_sorted_items(items, capacity=4)
        expected = list(items)
        if rng.random() < 0.6:
            where = slice(rng.choice([None, *range(-n - 2, n + 2)]),
                          rng.choice([None, *range(-n - 2, n + 2)]),
                          rng.choice([None, 1, 2, 3, 9, 17, -1, -2, -11]))
            taken = sorted(expected[where])
            del expected[where]
        else:
            where = rng.sample(range(-n, n), min(n, rng.randrange(0, 8))) if n else []
            where = [p for i, p in enumerate(where) if (p % n if n else p) not in
                     [q % n for q in where[:i]]]
            taken = sorted(expected[p] for p in where)
            for p in sorted((p % n for p in where), reverse=True):
                del expected[p]
        got = m._pop_many(kind, where)
        assert got == [PICKS[kind](k, v) for k, v in taken]
        assert list(m.items()) == expected
        m.check()


def test_pop_many_and_pop_at_refuse_bad_positions():
    m = BPlusTreeMap({i: i for i in range(10)})
    with pytest.raises(IndexError):
        m._pop_many(0, [3, 10])
    with pytest.raises(IndexError):
        m._pop_many(0, [-11])
    with pytest.raises(ValueError, match="twice"):
        m._pop_many(0, [3, -7])
    with pytest.raises(TypeError):
        m._pop_many(0, 5)
    with pytest.raises(TypeError):
        m._pop_many(0, ["1"])
    with pytest.raises(ValueError):
        m._pop_many(0, slice(None, None, 0))
    with pytest.raises(ValueError):
        m._pop_many(7, slice(None))
    with pytest.raises(TypeError):
        m._pop_many(0)
    with pytest.raises(IndexError, match="empty"):
        BPlusTreeMap()._pop_at(0)
    with pytest.raises(IndexError):
        m._pop_at(10)
    with pytest.raises(TypeError):
        m._pop_at("0")
    assert len(m) == 10 and m._pop_at(-1) == (9, 9) and m._pop_at(0) == (0, 0)
    m.check()


def test_load_sorted_fills_only_an_empty_map():
    m = BPlusTreeMap({1: 1})
    with pytest.raises(TypeError, match="not empty"):
        m._load_sorted([(2, 2)], None)
    with pytest.raises(ValueError):
        BPlusTreeMap()._load_sorted([(2, 2)], 2)
    with pytest.raises(TypeError):
        BPlusTreeMap()._load_sorted([(2, 2)])
    assert list(m.items()) == [(1, 1)]


def test_delete_at_takes_descending_positions_and_allocates_nothing():
    m = BPlusTreeMap({i: i for i in range(10)}, capacity=4)
    for bad in ((3, 5), (10,), (-1,), (2, 2), ("1",), (1.0,)):
        with pytest.raises(ValueError, match="descending"):
            m._delete_at(bad)
    with pytest.raises(TypeError):
        m._delete_at([3])
    assert len(m) == 10
    m._delete_at((9, 4, 0))
    assert list(m) == [1, 2, 3, 5, 6, 7, 8]
    m._delete_at(())
    m.check()
