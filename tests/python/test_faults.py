"""Failures the C layer must turn into clear errors, leaving the map as it
was: allocation failure at every allocation an operation makes, wrong
arguments, and use of the map from code that runs while it is busy."""

import gc

import pytest

from bplustree3 import BPlusTreeMap
from bplustree3._bplustree3 import _fail_allocation, _live_blocks

# Not under pytest-run-parallel: the allocation-failure hook and the block
# counter are global to the process.
pytestmark = pytest.mark.thread_unsafe


@pytest.fixture(autouse=True)
def disarm():
    yield
    _fail_allocation(0)


def full(n=200, capacity=4):
    """Full nodes (a bulk load), so that any insert splits up to the root."""
    return BPlusTreeMap.from_sorted_items([(i * 2, i) for i in range(n)], capacity=capacity)


class Str(str):
    """A str of another type: stored in a map of strs, it converts the map."""


OPS = {
    "setitem_split": lambda m: m.__setitem__(101, 0),
    "setdefault_split": lambda m: m.setdefault(103, 0),
    "update": lambda m: m.update([(105, 0)]),
    "copy": lambda m: m.copy(),
    "clear": lambda m: m.clear(),
    "iter": lambda m: iter(m),
    "reversed": lambda m: reversed(m),
    "irange": lambda m: m.irange(10, 20),
    "keys_view_iter": lambda m: iter(m.keys()),
    "from_sorted": lambda m: BPlusTreeMap.from_sorted_items([(i, i) for i in range(100)],
                                                           capacity=4),
    "constructor": lambda m: BPlusTreeMap({1: 1}, capacity=8),
    "or": lambda m: m | {1000: 1},
    "unpack": lambda m: m.__setitem__(101.5, 0),  # packed ints become objects
    "first_float": lambda m: BPlusTreeMap(capacity=4).__setitem__(0.5, 0),
    "unpack_str": lambda m: BPlusTreeMap.from_sorted_items(
        [(f"{i:03}", i) for i in range(100)], capacity=4).__setitem__(Str("zz"), 0),
}


@pytest.mark.parametrize("name", sorted(OPS))
def test_every_allocation_can_fail(name):
    op = OPS[name]
    failures = 0
    for n in range(1, 200):
        m = full()
        before = list(m.items())
        gc.collect()  # earlier rounds' garbage must not move the baseline
        blocks = _live_blocks()
        _fail_allocation(n)
        try:
            op(m)
        except MemoryError:
            failed = True
        else:
            failed = False
        _fail_allocation(0)
        if not failed:
            break  # the operation made fewer than n allocations
        failures += 1
        assert list(m.items()) == before
        m.check()
        gc.collect()  # the traceback is gone: so is any half-built map
        assert _live_blocks() == blocks
    assert failures >= 1
    m.check()


def test_argument_errors():
    m = full(10)
    with pytest.raises(TypeError):
        m.get()
    with pytest.raises(TypeError):
        m.get(1, 2, 3)
    with pytest.raises(TypeError):
        m.pop()
    with pytest.raises(TypeError):
        m.setdefault()
    with pytest.raises(TypeError):
        m.update({}, {})
    with pytest.raises(TypeError):
        m.delete_range(1, 2, 3)
    with pytest.raises(ValueError):
        m._iter(7, False, None, None, True, False)
    with pytest.raises(TypeError):
        m._iter()
    with pytest.raises(TypeError):
        m._iter(0, False, None, None, True, False, 1)
    with pytest.raises(TypeError):
        m._iter(0, reverse=True, backwards=True)
    with pytest.raises(TypeError):
        m._iter("keys", False, None, None, True, False)

    class NoBool:
        def __bool__(self):
            raise LookupError("no truth")

    for i in (1, 4, 5):
        args = [0, False, None, None, True, False]
        args[i] = NoBool()
        with pytest.raises(LookupError):
            m._iter(*args)
    with pytest.raises(TypeError):
        BPlusTreeMap.from_sorted_items()
    with pytest.raises(ValueError):
        BPlusTreeMap.from_sorted_items([(1, 2, 3)])
    with pytest.raises(TypeError):
        BPlusTreeMap.from_sorted_items([(1, 2)], capacity="x")
    with pytest.raises(TypeError):
        BPlusTreeMap.from_sorted_items(5)
    with pytest.raises(TypeError):
        BPlusTreeMap(5)
    with pytest.raises(TypeError):
        BPlusTreeMap({}, {})
    with pytest.raises(TypeError):
        m.update([1])
    with pytest.raises(ValueError):
        m.update([(1,)])
    with pytest.raises(TypeError):
        _fail_allocation("x")
    m.check()
    assert len(m) == 10


class Broken(dict):
    """A mapping whose keys() or item lookup raises."""

    def __init__(self, items, fail):
        super().__init__(items)
        self.fail = fail

    def keys(self):
        if self.fail == "keys":
            raise LookupError("keys")
        return super().keys()

    def __getitem__(self, key):
        if self.fail == "getitem":
            raise LookupError("getitem")
        return super().__getitem__(key)


@pytest.mark.parametrize("fail", ["keys", "getitem"])
def test_update_from_a_failing_mapping(fail):
    m = full(10)
    with pytest.raises(LookupError):
        m.update(Broken({1: 1}, fail))
    m.check()


def test_update_from_a_failing_iterable():
    def gen():
        yield (1, 1)
        raise LookupError("gen")

    m = BPlusTreeMap({0: 0})
    with pytest.raises(LookupError):
        m.update(gen())
    assert list(m.items()) == [(0, 0)]  # all or nothing: none of them stays
    with pytest.raises(LookupError):
        BPlusTreeMap(gen())

    class BadKeys:
        def keys(self):
            return iter([1])

        def __getitem__(self, key):
            return key

    m.update(BadKeys())
    assert m[1] == 1

    class KeysNotIterable:
        def keys(self):
            return 5

    with pytest.raises(TypeError):
        m.update(KeysNotIterable())


class Attr:
    """An object whose attribute lookup raises something else."""

    def __getattr__(self, name):
        raise LookupError(name)


def test_update_from_an_object_whose_getattr_raises():
    with pytest.raises(LookupError):
        BPlusTreeMap().update(Attr())


def calls(m):
    """Every method, with arguments that would work on a calm map."""
    return {
        "len": lambda: len(m),
        "get": lambda: m.get(0),
        "getitem": lambda: m[0],
        "contains": lambda: 0 in m,
        "setitem": lambda: m.__setitem__(0, 1),
        "delitem": lambda: m.__delitem__(0),
        "pop": lambda: m.pop(0, None),
        "popitem": lambda: m.popitem(),
        "poplast": lambda: m.poplast(),
        "setdefault": lambda: m.setdefault(0, 1),
        "update": lambda: m.update({0: 1}),
        "clear": lambda: m.clear(),
        "copy": lambda: m.copy(),
        "first": lambda: m.first(),
        "last": lambda: m.last(),
        "floor": lambda: m.floor(0),
        "delete_range": lambda: m.delete_range(0, 1),
        "check": lambda: m.check(),
        "iter": lambda: iter(m),
        "init": lambda: m.__init__({0: 1}),
        "peekitem": lambda: m.peekitem(0),
        "index": lambda: m.index(0),
        "bisect_left": lambda: m.bisect_left(0),
        "bisect_right": lambda: m.bisect_right(0),
        "islice": lambda: m.islice(0, 1),
        "sizeof": lambda: m.__sizeof__(),
        "capacity": lambda: m.capacity,
        "key_storage": lambda: m._key_storage,
    }


def test_every_method_refuses_use_while_an_item_is_released():
    m = BPlusTreeMap(capacity=4)
    outcomes = {}

    class Probe:
        def __init__(self, name):
            self.name = name

        def __del__(self):
            try:
                calls(m)[self.name]()
                outcomes[self.name] = "ran"
            except RuntimeError:
                outcomes[self.name] = "refused"
            except Exception as e:  # noqa: BLE001 - any other error is a finding
                outcomes[self.name] = repr(e)

    names = sorted(calls(m))
    for i, name in enumerate(names):
        m[i + 10] = Probe(name)
    m.delete_range(10, 10 + len(names))
    m.check()
    # len(), the capacity and the storage read one field and are always
    # safe; everything else is refused.
    for name in ("len", "capacity", "key_storage"):
        assert outcomes.pop(name) == "ran"
    assert set(outcomes.values()) == {"refused"}, outcomes


def test_every_mutation_refuses_use_from_a_comparison():
    m = BPlusTreeMap(((i, i) for i in range(50)), capacity=4)
    outcomes = {}
    mutations = ["setitem", "delitem", "pop", "popitem", "poplast", "setdefault", "update",
                 "clear", "delete_range", "init"]

    class Probe:
        def __init__(self, v):
            self.v = v

        def __lt__(self, other):
            for name in mutations:
                try:
                    calls(m)[name]()
                    outcomes[name] = "ran"
                except RuntimeError:
                    outcomes[name] = "refused"
            return self.v < other

        def __gt__(self, other):
            return self.v > other

        def __eq__(self, other):
            return self.v == other

        __hash__ = None

    assert m.get(Probe(25)) == 25
    assert set(outcomes) == set(mutations)
    assert set(outcomes.values()) == {"refused"}, outcomes
    m.check()
    assert len(m) == 50


def test_the_allocation_free_helpers_check_their_arguments():
    from bplustree3._bplustree3 import _dict_apply, _set_apply

    class Unhashable:
        __hash__ = None

    class BadHash:
        def __hash__(self):
            raise LookupError("hash")

    d, s = {1: 1, 2: 2}, {1, 2}
    for call in (lambda: _dict_apply([], (), {}), lambda: _dict_apply(d, {1}, {}),
                 lambda: _dict_apply(d, (), []), lambda: _dict_apply(d, ()),
                 lambda: _set_apply({}, (), ()), lambda: _set_apply(s, {1}, ()),
                 lambda: _set_apply(s, (), 5)):
        with pytest.raises(TypeError):
            call()
    with pytest.raises(TypeError):
        _dict_apply(d, (Unhashable(),), {})
    with pytest.raises(LookupError):
        _dict_apply(d, (BadHash(),), {})
    with pytest.raises(LookupError):
        _set_apply(s, (BadHash(),), ())
    with pytest.raises(LookupError):
        _set_apply(s, (), (BadHash(),))
    _dict_apply(d, (1, 3), {2: "two"})
    _set_apply(s, [1, 3], (4,))
    assert d == {2: "two"} and s == {2, 4}
