"""BPlusTreeMap: the mapping API, and hostile input that must give clear
errors, never a crash, and lose nothing."""

import copy
import gc
import pickle
import random
import sys
import weakref
from collections.abc import Mapping, MutableMapping

import pytest

import bplustree3
from bplustree3 import BPlusTreeMap, InvariantError
from bplustree3._bplustree3 import _live_blocks
from keys import PyKey


def make(n=100, capacity=4, step=1):
    return BPlusTreeMap(((i * step, str(i * step)) for i in range(n)), capacity=capacity)


# ---- The mapping API ---------------------------------------------------------


def test_dict_like_basics():
    m = BPlusTreeMap()
    assert len(m) == 0 and not m and list(m) == []
    m[3] = "c"
    m[1] = "a"
    m[2] = "b"
    assert m and len(m) == 3
    assert m[2] == "b" and m.get(9) is None and m.get(9, 0) == 0
    assert 1 in m and 9 not in m
    assert list(m) == [1, 2, 3] and list(reversed(m)) == [3, 2, 1]
    m[2] = "B"
    assert m[2] == "B" and len(m) == 3
    del m[2]
    assert 2 not in m
    with pytest.raises(KeyError):
        m[2]
    with pytest.raises(KeyError):
        del m[2]
    assert m.pop(1) == "a" and m.pop(1, None) is None
    with pytest.raises(KeyError):
        m.pop(1)
    assert m.setdefault(5, "e") == "e" and m.setdefault(5, "x") == "e"
    assert m.popitem() == (3, "c")
    m.clear()
    assert len(m) == 0
    with pytest.raises(KeyError):
        m.popitem()
    with pytest.raises(KeyError):
        m.first()


def test_key_error_for_tuple_keys_carries_the_tuple():
    m = BPlusTreeMap({(1, 2): 0})
    with pytest.raises(KeyError) as e:
        m[(3, 4)]
    assert e.value.args == ((3, 4),)


def test_constructor_and_update_forms():
    assert list(BPlusTreeMap({2: 0, 1: 0})) == [1, 2]
    assert list(BPlusTreeMap([(2, 0), (1, 0)])) == [1, 2]
    assert list(BPlusTreeMap(BPlusTreeMap({5: 1}))) == [5]
    m = BPlusTreeMap()
    m.update({"a": 1}, b=2)
    m.update([("c", 3)])
    m.update()
    assert dict(m.items()) == {"a": 1, "b": 2, "c": 3}
    with pytest.raises(TypeError):
        BPlusTreeMap([1, 2])
    with pytest.raises(ValueError):
        BPlusTreeMap([(1, 2, 3)])


def test_update_with_mixed_key_types_raises_typeerror():
    m = BPlusTreeMap({1: 1})
    with pytest.raises(TypeError):
        m.update(b=2)
    assert dict(m.items()) == {1: 1}
    m.check()


def test_capacity():
    assert BPlusTreeMap().capacity == bplustree3.DEFAULT_CAPACITY
    for cap in (4, 5, 7, 64, 4096):
        m = BPlusTreeMap(((i, i) for i in range(300)), capacity=cap)
        assert m.capacity == cap
        m.check()
        assert list(m) == list(range(300))
    for bad in (3, 0, -1, 4097, 10**30):
        with pytest.raises(ValueError):
            BPlusTreeMap(capacity=bad)
    for bad in (4.0, "8", True, [8]):
        with pytest.raises(TypeError):
            BPlusTreeMap(capacity=bad)


def test_init_twice_and_new_without_init():
    m = BPlusTreeMap({1: 1})
    m.__init__({2: 2})  # like dict: updates
    assert dict(m.items()) == {1: 1, 2: 2}
    m.__init__(capacity=m.capacity)
    with pytest.raises(ValueError):
        m.__init__(capacity=8)  # non-empty: the capacity cannot change
    e = BPlusTreeMap.__new__(BPlusTreeMap)
    assert len(e) == 0
    e[1] = 2
    assert e[1] == 2
    e.check()


class Sub(BPlusTreeMap):
    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.tag = "t"


def test_subclass():
    s = Sub({2: 2, 1: 1}, capacity=5)
    assert isinstance(s, BPlusTreeMap) and s.tag == "t"
    c = s.copy()
    assert type(c) is Sub and c == s and c.capacity == 5
    p = pickle.loads(pickle.dumps(s))
    assert type(p) is Sub and p == s and p.tag == "t" and p.capacity == 5


def test_inherited_c_methods_are_the_classs_own():
    # BPlusTreeMap holds its own descriptors of the C methods it inherits
    # (the interpreter's fast call path needs the instance's exact class);
    # the methods it defines in Python stay its own.
    from bplustree3 import BPlusTreeMapBase
    from bplustree3._bplustree3 import _adopt_methods

    own = vars(BPlusTreeMap)
    for name in ("get", "pop", "setdefault", "floor", "ceiling", "peekitem", "index",
                 "bisect_left", "delete_range", "first", "popitem", "check"):
        assert own[name].__objclass__ is BPlusTreeMap, name
        assert own[name].__doc__ == vars(BPlusTreeMapBase)[name].__doc__
    assert callable(own["irange"]) and own["irange"].__code__  # defined in Python
    assert "from_sorted_items" not in own  # a class method: the base's serves

    class Sub(BPlusTreeMap):
        def floor(self, key):
            return "mine"

    s = Sub({1: "a", 3: "c"})
    assert s.get(3) == "c" and s.floor(2) == "mine" and s.ceiling(2) == (3, "c")
    with pytest.raises(TypeError):
        BPlusTreeMap.get(BPlusTreeMapBase({1: 2}), 1)
    for bad in (dict, 1):
        with pytest.raises(TypeError):
            _adopt_methods(bad)

    class Mixin:
        def floor(self, key):
            return "mixin"

    class Mid(BPlusTreeMap):
        higher = BPlusTreeMap.lower  # another C method under this name

        def ceiling(self, key):
            return "mid"

    class Leaf(Mixin, Mid):
        pass

    _adopt_methods(Leaf)  # adopts only what comes from the base unchanged
    leaf = Leaf({1: "a", 3: "c"})
    assert (leaf.floor(1), leaf.ceiling(1), leaf.get(1)) == ("mixin", "mid", "a")
    assert leaf.higher(2) == leaf.lower(2) == (1, "a")
    assert not {"floor", "ceiling", "higher"} & set(vars(Leaf))
    assert vars(Leaf)["get"].__objclass__ is Leaf


def test_views():
    m = make(10)
    k, v, i = m.keys(), m.values(), m.items()
    assert isinstance(k, type(BPlusTreeMap().keys()))
    assert len(k) == len(v) == len(i) == 10
    assert list(k) == list(range(10))
    assert list(reversed(v)) == [str(x) for x in reversed(range(10))]
    assert list(reversed(i))[0] == (9, "9")
    assert list(reversed(k)) == list(range(9, -1, -1))
    assert 3 in k and (3, "3") in i and (3, "x") not in i and "3" in v
    assert k & {1, 2, 99} == {1, 2}
    assert k - set(range(8)) == {8, 9}
    m[10] = "10"  # live
    assert len(k) == 11 and 10 in k


def test_ranges_and_irange():
    m = make(20, step=2)  # 0, 2, ..., 38
    assert list(m.keys(5, 11)) == [6, 8, 10]
    assert list(m.keys(5)) == list(range(6, 40, 2))
    assert list(m.keys(end_key=5)) == [0, 2, 4]
    assert list(m.values(6, 9)) == ["6", "8"]
    assert list(m.items(36)) == [(36, "36"), (38, "38")]
    assert list(m.range(4, 8)) == [(4, "4"), (6, "6")]
    assert list(m.range(8, 4)) == []
    assert list(m.irange(4, 8)) == [4, 6, 8]
    assert list(m.irange(4, 8, (False, False))) == [6]
    assert list(m.irange(4, 8, reverse=True)) == [8, 6, 4]
    assert list(m.irange(maximum=3)) == [0, 2]
    assert list(m.irange(minimum=35, reverse=True)) == [38, 36]
    it = m.irange(0, 10)
    assert it.__length_hint__() == 6


def test_neighbours_and_ends():
    m = make(10, step=10)
    assert m.first() == (0, "0") and m.last() == (90, "90")
    assert m.floor(25) == (20, "20") and m.floor(20) == (20, "20") and m.floor(-1) is None
    assert m.ceiling(25) == (30, "30") and m.ceiling(91) is None
    assert m.lower(20) == (10, "10") and m.lower(0) is None
    assert m.higher(20) == (30, "30") and m.higher(90) is None
    assert BPlusTreeMap().floor(1) is None


def test_delete_range():
    m = make(100)
    assert m.delete_range(10, 20) == 10
    assert m.delete_range(10, 20) == 0
    assert m.delete_range(90) == 10
    assert m.delete_range(end_key=5) == 5
    assert list(m) == list(range(5, 10)) + list(range(20, 90))
    m.check()
    assert m.delete_range() == len(list(range(5, 10)) + list(range(20, 90)))
    assert len(m) == 0


def test_from_sorted_items():
    m = BPlusTreeMap.from_sorted_items([(i, i) for i in range(1000)], capacity=8)
    assert len(m) == 1000 and m.capacity == 8 and m[500] == 500
    m.check()
    assert len(BPlusTreeMap.from_sorted_items([])) == 0
    for bad in ([(2, 0), (1, 0)], [(1, 0), (1, 0)]):
        with pytest.raises(ValueError):
            BPlusTreeMap.from_sorted_items(bad)
    with pytest.raises(TypeError):
        BPlusTreeMap.from_sorted_items([1, 2])
    with pytest.raises(TypeError):
        BPlusTreeMap.from_sorted_items([(1, 0), ("a", 0)])
    with pytest.raises(ValueError, match="#1 has length 3"):
        BPlusTreeMap.from_sorted_items([(1, 0), [2, 0, 0]])


@pytest.mark.parametrize("items", [
    [(1, "a"), [2, "b"], (3, "c")],  # a list among the pairs
    ((1, "a"), (2, "b"), (3, "c")),  # not a list
    [(1.5, "a"), (2, "b"), (3, "c")],  # keys that need comparing as objects
    [("a", 1), ("b", 2), ("c", 3)],  # strs, read in place
])
def test_from_sorted_items_takes_any_sequence_of_pairs(items):
    m = BPlusTreeMap.from_sorted_items(items)
    assert list(m.items()) == [tuple(p) for p in items]
    m.check()


def test_from_sorted_items_survives_comparisons_that_empty_the_input():
    class Key:
        def __init__(self, n):
            self.n = n

        def __lt__(self, other):
            items.clear()  # drops every pair while the map is being built
            return self.n < other.n

    # The input list holds the only references to the pairs: read in place,
    # they would be freed under the bulk load (ASan's test run would say).
    items = [(Key(i), [i]) for i in range(50)]
    m = BPlusTreeMap.from_sorted_items(items, capacity=4)
    assert not items
    assert [(k.n, v) for k, v in m.items()] == [(i, [i]) for i in range(50)]
    m.check()


def test_equality_repr_and_operators():
    m = BPlusTreeMap({1: "a", 2: "b"})
    assert m == {1: "a", 2: "b"} and m != {1: "a"} and m != {1: "a", 3: "b"}
    assert m == BPlusTreeMap({2: "b", 1: "a"})
    assert m != [1, 2]
    assert m != {1: "a", 5: "b"}  # same size, a key missing
    assert m != {1: "a", 2: "x"}  # same keys, a value differs
    with pytest.raises(TypeError):
        m | 5
    with pytest.raises(TypeError):
        5 | m
    assert repr(m) == "BPlusTreeMap({1: 'a', 2: 'b'})"
    r = BPlusTreeMap()
    r[1] = r
    assert repr(r) == "BPlusTreeMap({1: ...})"
    assert (m | {3: "c"}) == {1: "a", 2: "b", 3: "c"} and len(m) == 2
    assert ({0: "z"} | m) == {0: "z", 1: "a", 2: "b"}
    m |= {0: "z"}
    assert list(m) == [0, 1, 2]
    assert BPlusTreeMap.fromkeys([3, 1], 0) == {1: 0, 3: 0}
    with pytest.raises(TypeError):
        hash(m)


def test_abc_typing_pickle_copy():
    m = make(50, capacity=5)
    assert isinstance(m, MutableMapping) and isinstance(m, Mapping)
    assert BPlusTreeMap[int, str] is not None
    for clone in (pickle.loads(pickle.dumps(m)), copy.copy(m), m.copy()):
        assert clone == m and clone.capacity == 5 and clone is not m
        clone.check()
    inner = [1]
    d = BPlusTreeMap({1: inner})
    dc = copy.deepcopy(d)
    assert dc == d and dc[1] is not inner


def test_check_names_the_invariant():
    class Flip:
        reverse = False

        def __init__(self, v):
            self.v = v

        def __lt__(self, other):
            return (self.v > other.v) if Flip.reverse else (self.v < other.v)

    m = BPlusTreeMap(((Flip(i), i) for i in range(50)), capacity=4)
    m.check()
    Flip.reverse = True
    try:
        with pytest.raises(InvariantError) as e:
            m.check()
        assert e.value.invariant in ("key-order", "key-bounds")
        assert str(e.value)
    finally:
        Flip.reverse = False


# ---- Hostile input -------------------------------------------------------------


class Boom(Exception):
    pass


class Key(PyKey):
    """An int-like key whose comparisons can be made to misbehave (hook)."""

    __slots__ = ()


@pytest.fixture(autouse=True)
def reset_hook():
    yield
    Key.hook = None


def snapshot(m):
    return list(m.items())


@pytest.mark.thread_unsafe  # a class-level hook, or the collector and block counter
@pytest.mark.parametrize("capacity", [4, 7, 64])
def test_comparison_that_raises_changes_nothing(capacity):
    m = BPlusTreeMap(((Key(i), i) for i in range(0, 400, 2)), capacity=capacity)
    before = snapshot(m)
    ops = [
        lambda: m.__setitem__(Key(101), 1),
        lambda: m.__setitem__(Key(100), 1),
        lambda: m.__delitem__(Key(100)),
        lambda: m.pop(Key(7), None),
        lambda: m[Key(10)],
        lambda: Key(10) in m,
        lambda: m.setdefault(Key(5), 0),
        lambda: m.floor(Key(5)),
        lambda: m.delete_range(Key(10), Key(50)),
        lambda: list(m.irange(Key(10), Key(50))),
        lambda: m.update([(Key(3), 3)]),
    ]
    for op in ops:
        for fail_at in range(1, 40):
            calls = [0]

            def hook(a, b, calls=calls, fail_at=fail_at):
                calls[0] += 1
                if calls[0] == fail_at:
                    raise Boom

            Key.hook = hook
            try:
                op()
            except Boom:
                Key.hook = None
                assert snapshot(m) == before
                m.check()
                continue
            Key.hook = None
            break  # the operation needed fewer comparisons: it went through
        # Undo whatever the successful run did.
        m.clear()
        m.update(before)
        m.check()


def test_incomparable_keys_raise_typeerror_and_change_nothing():
    m = BPlusTreeMap(((i, i) for i in range(100)), capacity=4)
    before = snapshot(m)
    for op in (lambda: m.__setitem__("x", 1), lambda: m["x"], lambda: m.pop("x"),
               lambda: m.floor("x"), lambda: m.delete_range("a", "b"),
               lambda: m.setdefault(None, 1), lambda: list(m.keys("a"))):
        with pytest.raises(TypeError):
            op()
        assert snapshot(m) == before
        m.check()


@pytest.mark.thread_unsafe  # a class-level hook, or the collector and block counter
def test_comparison_that_mutates_the_same_map():
    m = BPlusTreeMap(((Key(i), i) for i in range(100)), capacity=4)
    seen = []

    def hook(a, b):
        for mutate in (lambda: m.__setitem__(Key(1000), 0), lambda: m.__delitem__(Key(1)),
                       m.clear, lambda: m.delete_range(), m.popitem):
            try:
                mutate()
            except RuntimeError as e:
                seen.append(str(e))
            else:
                raise AssertionError("a mutation during a comparison went through")
        assert len(m) >= 100  # reads are fine

    Key.hook = hook
    m[Key(50)] = "x"
    m[Key(500)] = "y"
    del m[Key(20)]
    Key.hook = None
    assert seen and all("comparison" in s for s in seen)
    m.check()
    assert m[Key(50)] == "x" and m[Key(500)] == "y" and Key(20) not in m
    assert len(m) == 100


@pytest.mark.thread_unsafe  # a class-level hook, or the collector and block counter
def test_comparison_that_raises_runtimeerror_from_mutation_propagates():
    m = BPlusTreeMap(((Key(i), i) for i in range(50)), capacity=4)
    Key.hook = lambda a, b: m.__setitem__(Key(-1), 0)
    with pytest.raises(RuntimeError):
        m[Key(7)] = 0
    Key.hook = None
    m.check()
    assert len(m) == 50


def test_inconsistent_comparisons_never_crash():
    rng = random.Random(5)

    class Liar:
        def __init__(self, v):
            self.v = v

        def __lt__(self, other):
            return rng.random() < 0.5

    for capacity in (4, 5, 16):
        m = BPlusTreeMap(capacity=capacity)
        keys = [Liar(i) for i in range(300)]
        for step in range(3000):
            k = rng.choice(keys)
            op = rng.randrange(6)
            try:
                if op == 0:
                    m[k] = step
                elif op == 1:
                    m.pop(k, None)
                elif op == 2:
                    m.get(k)
                elif op == 3:
                    m.delete_range(k, rng.choice(keys))
                elif op == 4:
                    list(m.irange(k))
                else:
                    m.floor(k)
            except (RuntimeError, TypeError):  # TypeError: no total order found
                pass
        # Order may be wrong, but the structure is whole.
        n = len(m)
        assert len(list(m)) == n
        try:
            m.check()
        except InvariantError as e:
            assert e.invariant in ("key-order", "key-bounds")
        except TypeError as e:  # two neighbours neither less, greater nor equal
            assert "total order" in str(e)
        m.clear()


@pytest.mark.parametrize("view", ["iter", "keys", "values", "items", "range", "irange",
                                  "reversed"])
def test_mutation_during_iteration(view):
    m = make(50)
    make_it = {
        "iter": lambda: iter(m),
        "keys": lambda: iter(m.keys()),
        "values": lambda: iter(m.values()),
        "items": lambda: iter(m.items()),
        "range": lambda: m.range(0, 40),
        "irange": lambda: m.irange(0, 40),
        "reversed": lambda: reversed(m),
    }[view]
    it = make_it()
    next(it)
    m[5] = "five"  # replacing a value is allowed, as with dict
    next(it)
    m[1000] = "new"
    with pytest.raises(RuntimeError):
        next(it)
    it = make_it()
    next(it)
    del m[1000]
    with pytest.raises(RuntimeError):
        next(it)
    it = make_it()
    next(it)
    m.clear()
    with pytest.raises(RuntimeError):
        next(it)
    m.update({1: 1})
    it = make_it()
    assert len(list(it)) == 1


@pytest.mark.thread_unsafe  # a class-level hook, or the collector and block counter
def test_iterator_outlives_map_and_exhausts_cleanly():
    m = make(10)
    it = iter(m)
    del m
    gc.collect()
    assert list(it) == list(range(10))
    assert list(it) == []


def test_del_of_a_released_value_cannot_touch_the_map():
    m = BPlusTreeMap(capacity=4)
    errors = []

    class Noisy:
        def __del__(self):
            try:
                m.get(0)
            except RuntimeError as e:
                errors.append(e)

    for i in range(50):
        m[i] = Noisy()
    assert m.delete_range(10, 40) == 30
    m.check()
    assert len(m) == 20 and len(errors) == 30
    m.clear()  # released after the swap: the new empty map is usable
    assert len(errors) == 30
    m.check()


@pytest.mark.skipif(not getattr(sys, "_is_gil_enabled", lambda: True)(),
                    reason="without the GIL, iterators reuse no pairs")
def test_an_iterator_step_outlives_its_map_freed_by_the_value_it_lets_go_of():
    # A step that reuses a pair lets go of the pair's old value last, after
    # reading its item: here that value's __del__ drops every other
    # reference to the map and exhausts the iterator, which frees the map
    # in the middle of the step (ASan sees any later use of it).
    box = {"m": BPlusTreeMap({0: None, 1: None, 2: None})}
    ref = weakref.ref(box["m"])
    events = []

    class Last:
        def __del__(self):
            box.clear()
            events.append(next(it, "exhausted"))

    box["m"][0] = Last()
    it = iter(box["m"].items())
    first = next(it)
    box["m"][0] = None  # the first pair now holds the only Last
    del first
    second = next(it)
    assert next(it) == (2, None)  # reuses the first pair, frees Last
    assert second == (1, None)
    assert events == ["exhausted"] and ref() is None
    assert next(it, "done") == "done"


@pytest.mark.thread_unsafe  # a class-level hook, or the collector and block counter
def test_gc_collects_cycles():
    class Box:
        pass

    refs = []
    for _ in range(3):
        m = BPlusTreeMap(capacity=4)
        box = Box()
        box.m = m
        m[1] = box          # value -> map
        m[2] = m            # map -> itself
        it = iter(m)
        box.it = it         # iterator -> map -> box -> iterator
        refs.append(weakref.ref(m))
        refs.append(weakref.ref(box))
        del m, box, it
    gc.collect()
    assert all(r() is None for r in refs)


@pytest.mark.thread_unsafe  # a class-level hook, or the collector and block counter
def test_no_reference_leaks():
    class Obj:
        def __init__(self, v):
            self.v = v

        def __lt__(self, other):
            return self.v < other.v

    def workout(keys, vals):
        m = BPlusTreeMap(zip(keys, vals), capacity=4)
        m2 = m.copy()
        for k in keys[::3]:
            del m[k]
        m.delete_range(keys[100], keys[200])
        m.popitem()
        m.poplast()
        m.setdefault(keys[0], vals[0])
        m[keys[1]] = vals[2]
        m.pop(keys[1])
        list(m.items())
        list(reversed(m.values()))
        list(m2.irange(keys[5], keys[50], reverse=True))
        m2.floor(keys[7])
        m3 = BPlusTreeMap.from_sorted_items(list(m2.items()))
        m3.clear()
        pickle.loads(pickle.dumps(BPlusTreeMap({1: 2})))
        try:
            m["x"] = 1
        except (AttributeError, TypeError):  # a comparison raising mid-descent
            pass
        try:
            m.pop(keys[2])
        except KeyError:
            pass

    def fresh():
        return [Obj(i) for i in range(300)], [Obj(-i) for i in range(300)]

    # Every key and value is freed once the maps are gone.
    for _ in range(5):
        keys, vals = fresh()
        wk = [weakref.ref(o) for o in keys + vals]
        workout(keys, vals)
        del keys, vals
        gc.collect()
        assert all(r() is None for r in wk)

    # The C core's own memory (trees, nodes, cursors) returns to where it
    # was: every block it allocated through the map's allocator is freed.
    # (sys.getallocatedblocks is too noisy here: CPython 3.11's own caches
    # keep growing for hundreds of rounds.)
    keys, vals = fresh()
    gc.collect()
    base = _live_blocks()
    for _ in range(20):
        workout(keys, vals)
        it = iter(BPlusTreeMap({1: 2}))
        del it
    gc.collect()
    assert _live_blocks() == base
