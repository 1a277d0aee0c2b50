"""Sweeps over every public method: each allocation in turn fails, and
collections run finalizers that change the container in the middle of the
method. After a MemoryError the container must be exactly as it was, and
after a finalizer's change nothing may be lost; the checker must pass
after every call.

The memory sweep uses _testcapi.set_nomemory(n, n + 1) (the n-th
allocation from the call on fails) and set_nomemory(n, 0) (every one from
the n-th on fails), for n = 0, 1, ... until the call succeeds, and then
compares the result and the container with a run without failures."""

from collections import Counter
import copy
import pickle
import sys
import sysconfig

import pytest

from bplustree3 import BPlusTreeMap, SortedDict, SortedList, SortedSet
from finalizers import COLLECTS_IN_ALLOCATIONS, collections_running
from keys import PyKey

_testcapi = pytest.importorskip("_testcapi")
if not hasattr(_testcapi, "set_nomemory"):  # pragma: no cover - every CPython has it
    pytest.skip("no _testcapi.set_nomemory", allow_module_level=True)

# Not under pytest-run-parallel: the allocator hooks and the collector's
# threshold are global to the process. When every allocation fails, the
# interpreter itself reports errors it cannot raise (a generator closed as
# it is freed, say): "Exception ignored"; they are not the containers'.
pytestmark = [pytest.mark.thread_unsafe,
              pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")]

N = 40  # items: with capacity 4, three levels, so that changes split and merge

KEYS = {
    "int": lambda i: 3 * i,
    "big": lambda i: (1 << 70) + 3 * i,  # past 64 bits: stored as objects
    "float": lambda i: 1.5 * i,
    "str": lambda i: f"key{3 * i:05}",
    "tuple": lambda i: (i % 5, 3 * i),
}


@pytest.fixture(autouse=True)
def small_nodes():
    saved = SortedList._capacity
    SortedList._capacity = 4  # the other trees split and merge too
    yield
    SortedList._capacity = saved


def plain(r):
    """A result as plain data, iterators and views read out."""
    if isinstance(r, (BPlusTreeMap, SortedDict)):
        return (type(r).__name__, list(r.items()))
    if isinstance(r, (SortedSet, SortedList)):
        return (type(r).__name__, list(r))
    if isinstance(r, (str, bytes, int, float, tuple, type(None), bool)):
        return r
    if isinstance(r, (list, set, frozenset, dict)):
        return r
    if hasattr(r, "__iter__"):
        return list(r)
    return r


# ---- The containers and their methods ----------------------------------------


def make_map(k):
    return BPlusTreeMap(((k(i), i) for i in range(N)), capacity=4)


def map_state(m):
    m.check()
    return list(m.items()), m.capacity


# A method that changes the container is called alone, its result returned
# as it is: what the test adds around it must not allocate after the change.


def map_methods(k):
    present, absent, lo, hi = k(7), k(N + 3), k(5), k(25)
    new_pairs = [(k(i) if i % 2 else k(N + i), -i) for i in range(12)]
    return {
        "len": lambda m: len(m),
        "contains": lambda m: (present in m, absent in m),
        "getitem": lambda m: m[present],
        "get": lambda m: (m.get(present), m.get(absent, 0)),
        "first_last": lambda m: (m.first(), m.last()),
        "neighbours": lambda m: (m.floor(present), m.ceiling(absent), m.lower(present),
                                 m.higher(present)),
        "peekitem": lambda m: (m.peekitem(3), m.peekitem()),
        "index": lambda m: m.index(present),
        "bisect": lambda m: (m.bisect_left(present), m.bisect_right(present), m.bisect(lo)),
        "iter": lambda m: list(m),
        "reversed": lambda m: list(reversed(m)),
        "keys": lambda m: list(m.keys()),
        "values": lambda m: list(m.values()),
        "items": lambda m: list(m.items()),
        "ranges": lambda m: (list(m.keys(lo, hi)), list(m.values(lo)), list(m.items(None, hi)),
                             list(m.range(lo, hi))),
        "irange": lambda m: (list(m.irange(lo, hi)), list(m.irange(lo, hi, (False, True), True))),
        "islice": lambda m: (list(m.islice(2, 9)), list(m.islice(-5, None, True))),
        "view_positions": lambda m: (m.keys()[3], m.items()[2:6], m.values()[::7]),
        "eq": lambda m: (m == dict(m.items()), m != {}),
        "repr": lambda m: repr(m),
        "copy": lambda m: m.copy(),
        "copy_module": lambda m: (copy.copy(m), copy.deepcopy(m)),
        "pickle": lambda m: pickle.loads(pickle.dumps(m)),
        "sizeof": lambda m: m.__sizeof__() > 0,
        "check": lambda m: m.check(),
        "or": lambda m: (m | {absent: 1}, {absent: 1} | m),
        "setitem_new": lambda m: m.__setitem__(absent, "new"),
        "setitem_existing": lambda m: m.__setitem__(present, "old"),
        "delitem": lambda m: m.__delitem__(present),
        "pop": lambda m: m.pop(present),
        "pop_absent": lambda m: m.pop(absent, None),
        "popitem": lambda m: m.popitem(),
        "poplast": lambda m: m.poplast(),
        "setdefault_new": lambda m: m.setdefault(absent, "d"),
        "setdefault_existing": lambda m: m.setdefault(present, "e"),
        "update": lambda m: m.update(new_pairs),
        "update_dict": lambda m: m.update(dict(new_pairs)),
        "ior": lambda m: m.__ior__(dict(new_pairs)),
        "clear": lambda m: m.clear(),
        "delete_range": lambda m: m.delete_range(lo, hi),
        "delete_range_open": lambda m: m.delete_range(None, k(2)),
        "init": lambda m: m.__init__(new_pairs),
        "fromkeys": lambda m: BPlusTreeMap.fromkeys([absent, present]),
        "from_sorted_items": lambda m: BPlusTreeMap.from_sorted_items(list(m.items())),
        "constructor": lambda m: BPlusTreeMap(m),
    }


def make_sorted_dict(k, key=None):
    return SortedDict(key, ((k(i), i) for i in range(N)))


def sorted_dict_state(sd):
    sd._check()
    return list(sd.items())


def sorted_dict_methods(k):
    present, absent, lo, hi = k(7), k(N + 3), k(5), k(25)
    few = {k(N + 1): 1, k(3): 3}  # small: added after equals
    many = {k(i): -i for i in range(N - 10, N + 10)}  # large: the order rebuilt
    return {
        "getitem": lambda sd: sd[present],
        "contains": lambda sd: present in sd,
        "iter": lambda sd: (list(sd), list(reversed(sd))),
        "views": lambda sd: (list(sd.keys()), list(sd.values()), list(sd.items()),
                             sd.keys()[2:5], sd.items()[3], sd.values()[-1]),
        "peekitem": lambda sd: (sd.peekitem(), sd.peekitem(4)),
        "index": lambda sd: sd.index(present),
        "bisect": lambda sd: (sd.bisect_left(present), sd.bisect_right(present)),
        "irange": lambda sd: list(sd.irange(lo, hi)),
        "islice": lambda sd: list(sd.islice(1, 6)),
        "eq": lambda sd: sd == dict(sd),
        "repr": lambda sd: repr(sd),
        "copy": lambda sd: sd.copy(),
        "pickle": lambda sd: pickle.loads(pickle.dumps(sd)),
        "or": lambda sd: (sd | few, few | sd),
        "fromkeys": lambda sd: SortedDict.fromkeys([absent, present]),
        "setitem_new": lambda sd: sd.__setitem__(absent, "new"),
        "setitem_existing": lambda sd: sd.__setitem__(present, "old"),
        "delitem": lambda sd: sd.__delitem__(present),
        "pop": lambda sd: sd.pop(present),
        "pop_absent": lambda sd: sd.pop(absent, None),
        "popitem": lambda sd: sd.popitem(),
        "popitem_first": lambda sd: sd.popitem(0),
        "setdefault_new": lambda sd: sd.setdefault(absent, "d"),
        "setdefault_existing": lambda sd: sd.setdefault(present, "e"),
        "update_small": lambda sd: sd.update(few),
        "update_large": lambda sd: sd.update(many),
        "update_pairs": lambda sd: sd.update(list(few.items()), **{}),
        "ior": lambda sd: sd.__ior__(few),
        "clear": lambda sd: sd.clear(),
        "del_view_slice": lambda sd: sd.keys().__delitem__(slice(3, 30, 4)),
        "del_view_index": lambda sd: sd.items().__delitem__(-2),
    }


def make_sorted_set(k, key=None, n=N):
    return SortedSet((k(i) for i in range(n)), key=key)


def sorted_set_state(ss):
    ss._check()
    return list(ss)


def sorted_set_methods(k):
    present, absent, lo, hi = k(7), k(N + 3), k(5), k(25)
    few = [k(N + 1), k(3)]
    many = [k(i) for i in range(N - 15, N + 15)]
    return {
        "contains": lambda ss: (present in ss, ss.count(absent)),
        "iter": lambda ss: (list(ss), list(reversed(ss))),
        "getitem": lambda ss: (ss[3], ss[-1], ss[2:30:3]),
        "index": lambda ss: ss.index(present),
        "bisect": lambda ss: (ss.bisect_left(present), ss.bisect_right(present)),
        "irange": lambda ss: list(ss.irange(lo, hi)),
        "islice": lambda ss: list(ss.islice(1, 6)),
        "compare": lambda ss: (ss == set(ss), ss <= set(ss), ss.isdisjoint(few)),
        "repr": lambda ss: repr(ss),
        "copy": lambda ss: ss.copy(),
        "pickle": lambda ss: pickle.loads(pickle.dumps(ss)),
        "algebra": lambda ss: (ss | few, ss & many, ss - few, ss ^ many,
                               ss.union(few), ss.intersection(many)),
        "add": lambda ss: ss.add(absent),
        "add_present": lambda ss: ss.add(present),
        "discard": lambda ss: ss.discard(present),
        "discard_absent": lambda ss: ss.discard(absent),
        "remove": lambda ss: ss.remove(present),
        "pop": lambda ss: ss.pop(),
        "pop_at": lambda ss: ss.pop(2),
        "delitem": lambda ss: ss.__delitem__(5),
        "delitem_slice": lambda ss: ss.__delitem__(slice(None, None, 3)),
        "delitem_all": lambda ss: ss.__delitem__(slice(None, None, -1)),
        "difference_update_all": lambda ss: ss.difference_update(list(ss)),
        "update_small": lambda ss: ss.update(few),
        "update_large": lambda ss: ss.update(many),
        "difference_update_small": lambda ss: ss.difference_update(few),
        "difference_update_large": lambda ss: ss.difference_update(many),
        "intersection_update": lambda ss: ss.intersection_update(many),
        "symmetric_difference_update": lambda ss: ss.symmetric_difference_update(many),
        "clear": lambda ss: ss.clear(),
    }


def make_sorted_list(k, key=None):
    values = [k(i // 2) for i in range(N)]  # each value twice
    return SortedList(values) if key is None else SortedList(values, key=key)


def sorted_list_state(sl):
    sl.check()
    return list(sl)


def sorted_list_methods(k):
    present, absent, lo, hi = k(7), k(N + 3), k(5), k(15)
    few = [k(N + 1), k(3)]
    many = [k(i) for i in range(N // 2 - 8, N // 2 + 8)]
    return {
        "contains": lambda sl: (present in sl, absent in sl, sl.count(present)),
        "iter": lambda sl: (list(sl), list(reversed(sl))),
        "getitem": lambda sl: (sl[3], sl[-1], sl[2:30:3]),
        "index": lambda sl: sl.index(present),
        "bisect": lambda sl: (sl.bisect_left(present), sl.bisect_right(present)),
        "irange": lambda sl: list(sl.irange(lo, hi)),
        "islice": lambda sl: list(sl.islice(1, 6)),
        "compare": lambda sl: (sl == list(sl), sl < list(sl) + [absent]),
        "repr": lambda sl: repr(sl),
        "copy": lambda sl: sl.copy(),
        "pickle": lambda sl: pickle.loads(pickle.dumps(sl)),
        "add": lambda sl: sl.add(present),
        "discard": lambda sl: sl.discard(present),
        "remove": lambda sl: sl.remove(present),
        "pop": lambda sl: sl.pop(),
        "pop_at": lambda sl: sl.pop(2),
        "delitem": lambda sl: sl.__delitem__(5),
        "delitem_slice": lambda sl: sl.__delitem__(slice(None, None, 3)),
        "delitem_range": lambda sl: sl.__delitem__(slice(4, 30)),
        "update": lambda sl: sl.update(few),
        "update_large": lambda sl: sl.update(many),
        "iadd": lambda sl: sl.__iadd__(few),
        "imul": lambda sl: sl.__imul__(2),
        "add_op": lambda sl: sl + few,
        "clear": lambda sl: sl.clear(),
    }


def neg(x):
    return tuple(-v for v in x) if isinstance(x, tuple) else (
        "".join(chr(0x10FFFF - ord(c)) for c in x) if isinstance(x, str) else -x)


CONTAINERS = {
    "BPlusTreeMap": (make_map, map_state, map_methods),
    "SortedDict": (make_sorted_dict, sorted_dict_state, sorted_dict_methods),
    "SortedSet": (make_sorted_set, sorted_set_state, sorted_set_methods),
    # with a key function: the tree holds (key(v), n) and the value
    "SortedDict_key": (lambda k: make_sorted_dict(k, neg), sorted_dict_state,
                       sorted_dict_methods),
    "SortedSet_key": (lambda k: make_sorted_set(k, neg), sorted_set_state, sorted_set_methods),
    # small: a set's table is near full, and shrinks after discards
    "SortedSet_8": (lambda k: make_sorted_set(k, n=8), sorted_set_state, sorted_set_methods),
    "SortedList": (make_sorted_list, sorted_list_state, sorted_list_methods),
    # with a key function: the tree holds key(v), with v beside it
    "SortedKeyList": (lambda k: make_sorted_list(k, neg), sorted_list_state,
                      sorted_list_methods),
}


def cases():
    for cname, (_, _, methods) in CONTAINERS.items():
        for kname in KEYS:
            for mname in methods(KEYS[kname]):
                yield cname, kname, mname


# ---- Failed allocations ---------------------------------------------------------


MAX_ALLOCATIONS = 5000  # far more than any method here makes


# What a failed allocation raises (pickle turns a failed import into
# PicklingError): a tuple made once, for an except clause that built one
# could fail itself when every allocation fails.
CAUGHT = (MemoryError, pickle.PicklingError)


def run_failing(op, c, start, stop):
    """(op(c), None), or (None, the error), with allocations start to stop
    failing; the tuples are made once allocations work again (a method
    that allocates nothing must not be blamed for the result's tuple)."""
    _testcapi.set_nomemory(start, stop)
    try:
        result = op(c)
    except CAUGHT as e:
        _testcapi.remove_mem_hooks()
        return None, e
    finally:
        _testcapi.remove_mem_hooks()
    return result, None


# Where the interpreter itself does not survive the sweep (its crashes, not
# the containers'): the free-threaded 3.13's PyList_New corrupts its free
# list when the array of a new list cannot be allocated (python/cpython
# issue 152125), and before 3.11 the interpreter stops when every
# allocation fails ("Cannot recover from MemoryErrors while normalizing
# exceptions"). scripts/python-other.sh says which others crash.
FREE_THREADED = bool(sysconfig.get_config_var("Py_GIL_DISABLED"))


@pytest.mark.nomemory
@pytest.mark.skipif(FREE_THREADED, reason="the free-threaded PyList_New crashes when an "
                    "allocation fails (python/cpython#152125)")
@pytest.mark.parametrize("every", [
    False,
    pytest.param(True, marks=pytest.mark.skipif(
        sys.version_info < (3, 11),
        reason="before 3.11 the interpreter cannot survive every allocation failing: "
               "it stops with 'Cannot recover from MemoryErrors while normalizing exceptions'")),
])
@pytest.mark.parametrize("cname,kname,mname", sorted(cases()))
def test_memory_runs_out_anywhere(cname, kname, mname, every):
    """every: set_nomemory(n, 0), every allocation from the n-th on fails;
    else set_nomemory(n, n + 1), the n-th alone."""
    make, state, methods = CONTAINERS[cname]
    k = KEYS[kname]
    op = methods(k)[mname]
    reference = make(k)
    expected = plain(op(reference))
    expected_state = state(reference)
    failures = 0
    for n in range(MAX_ALLOCATIONS):
        c = make(k)
        before = state(c)
        result, error = run_failing(op, c, n, 0 if every else n + 1)
        if error is None:
            break
        failures += 1
        assert state(c) == before, n
    else:  # pragma: no cover - a method that never succeeds
        raise AssertionError(f"{mname} failed {MAX_ALLOCATIONS} times")
    assert plain(result) == expected
    assert state(c) == expected_state
    if mname in MUST_ALLOCATE:  # the sweep is no formality
        assert failures >= 1


# Methods that make new objects whatever the keys: their sweeps must fail some calls.
MUST_ALLOCATE = {"copy", "pickle", "repr", "update", "update_large", "constructor", "imul",
                 "from_sorted_items", "algebra", "symmetric_difference_update"}


# ---- Finalizers that change the map in the middle of a method -------------------


class V:
    """A value that knows its key."""

    __slots__ = ("key",)

    def __init__(self, key):
        self.key = key

    def __eq__(self, other):
        return isinstance(other, V) and self.key == other.key

    __hash__ = None


STRESS_KEYS = {"int": lambda i: 3 * i, "str": lambda i: f"k{3 * i:04}", "py": lambda i: PyKey(3 * i)}


class _Str(str):
    """A str of another type: a map of strs stores its keys as objects after it."""


class Ledger:
    """What a map held, what finalizers took from it, and what they put in."""

    def __init__(self, m):
        self.m = m
        self.initial = set(m)
        self.added = set()
        self.removed = set()

    def record_removed(self, keys):
        self.removed.update(keys)

    def actions(self, k):
        m = self

        def clear():
            keys = list(m.m)
            m.m.clear()
            m.removed.update(keys)

        def insert():
            key = k(1000 + len(m.added))
            m.m[key] = V(key)
            m.added.add(key)

        def delete_band():
            keys = list(m.m.irange(k(10), k(14), (True, False)))
            m.m.delete_range(k(10), k(14))
            m.removed.update(keys)

        def iterate():
            for key, value in m.m.items():
                assert value.key == key

        def convert():  # a key of another type: a map of ints or strs stores objects after it
            key = k(1001)
            key = 0.5 if isinstance(key, int) else _Str(key) if isinstance(key, str) else key
            m.m[key] = V(key)
            m.added.add(key)

        return {"clear": clear, "insert": insert, "delete_band": delete_band,
                "iterate": iterate, "convert": convert}


def stress_methods(k):
    present, absent, lo, hi = k(7), k(N + 3), k(5), k(25)
    # Each: the call, and what it may remove (None: any key).
    return {
        "getitem": (lambda m: m[present], set()),
        "get": (lambda m: m.get(absent), set()),
        "first": (lambda m: (m.first(), m.last()), set()),
        "neighbours": (lambda m: (m.floor(present), m.higher(present)), set()),
        "peekitem": (lambda m: m.peekitem(5), set()),
        "index": (lambda m: m.bisect_left(present), set()),
        "iter": (lambda m: list(m), set()),
        "items": (lambda m: list(m.items()), set()),
        "irange": (lambda m: list(m.irange(lo, hi)), set()),
        "islice": (lambda m: list(m.islice(3, 20)), set()),
        "copy": (lambda m: m.copy(), set()),
        "snapshot": (lambda m: BPlusTreeMap(m), set()),
        "pickle": (lambda m: pickle.loads(pickle.dumps(m)), set()),
        "repr": (lambda m: repr(m), set()),
        "setitem": (lambda m: m.__setitem__(absent, V(absent)), set()),
        "setdefault": (lambda m: m.setdefault(absent, V(absent)), set()),
        "update": (lambda m: m.update((k(i), V(k(i))) for i in range(N, N + 8)), set()),
        "pop": (lambda m: m.pop(present, None), {present}),
        "delitem": (lambda m: m.__delitem__(present), {present}),
        "popitem": (lambda m: m.popitem(), "result"),
        "poplast": (lambda m: m.poplast(), "result"),
        "delete_range": (lambda m: m.delete_range(lo, hi), "range"),
        "clear": (lambda m: m.clear(), None),
    }


def stress_cases():
    for kname in STRESS_KEYS:
        for mname in stress_methods(STRESS_KEYS[kname]):
            for action in ("clear", "insert", "delete_band", "iterate", "convert"):
                yield kname, mname, action


@pytest.mark.parametrize("kname,mname,action", sorted(stress_cases()))
def test_finalizers_change_the_map_in_the_middle_of_every_method(kname, mname, action):
    k = STRESS_KEYS[kname]
    call, may_remove = stress_methods(k)[mname]
    fired = 0
    for skip in range(6):  # the first collections pass: each allocation point in turn
        m = BPlusTreeMap(((k(i), V(k(i))) for i in range(N)), capacity=4)
        ledger = Ledger(m)
        with collections_running(ledger.actions(k)[action], limit=2, skip=skip) as fuse:
            try:
                result = call(m)
            except (KeyError, IndexError):  # gone already: a finalizer took it first
                result = None
            except RuntimeError as e:  # an iterator that the map changed under
                assert "changed" in str(e)
                result = None
        m.check()
        for key, value in m.items():
            assert value.key == key
        present = set(m)
        assert len(present) == len(m) == len(list(m.items()))
        ever = ledger.initial | ledger.added
        if mname in ("setitem", "setdefault"):
            ever.add(k(N + 3))
        elif mname == "update":
            ever.update(k(i) for i in range(N, N + 8))
        missing = ever - ledger.removed - present
        if may_remove == "result" and result is None:  # the map was empty by then
            assert not missing
        elif may_remove == "result":
            assert isinstance(result, tuple) and result[1].key == result[0]
            assert missing == {result[0]}
        elif may_remove == "range":
            assert all(not key < k(5) and key < k(25) for key in missing)
            assert len(missing) == result
        elif may_remove is not None:
            assert missing <= may_remove
        assert not (present - ever)
        fired += len(fuse.outcomes)
    if COLLECTS_IN_ALLOCATIONS and mname in ("copy", "snapshot", "pickle", "items"):
        assert fired  # the finalizers ran: the test is no formality


# ---- The same for SortedList and SortedKeyList ----------------------------------


def _key_of(v):
    """A SortedKeyList's key: the key a V knows."""
    return v.key


class ListLedger:
    """What a list held, and what finalizers took from it and put in, by
    key, as counts (a multiset). A SortedList holds the keys themselves; a
    SortedKeyList holds V(key) values, ordered by their keys."""

    def __init__(self, sl, keyed):
        self.sl, self.keyed = sl, keyed
        self.initial = self.counts()
        self.added = Counter()
        self.removed = Counter()

    def counts(self):
        return Counter(v.key if self.keyed else v for v in self.sl)

    def value(self, key):
        return V(key) if self.keyed else key

    def actions(self, k):
        sl, ledger = self.sl, self

        def clear():
            counts = ledger.counts()
            sl.clear()
            ledger.removed.update(counts)

        def insert():
            key = k(1000 + sum(ledger.added.values()))
            sl.add(ledger.value(key))
            ledger.added[key] += 1

        def delete_band():
            lo = sl.bisect_key_left(k(10)) if ledger.keyed else sl.bisect_left(k(10))
            hi = sl.bisect_key_left(k(14)) if ledger.keyed else sl.bisect_left(k(14))
            band = sl[lo:hi]
            del sl[lo:hi]
            ledger.removed.update(v.key if ledger.keyed else v for v in band)

        def iterate():
            for _ in sl:
                pass

        def convert():  # another type: a list of ints or strs stores objects after it
            key = k(1001)
            key = 0.5 if isinstance(key, int) else _Str(key) if isinstance(key, str) else key
            sl.add(ledger.value(key))
            ledger.added[key] += 1

        return {"clear": clear, "insert": insert, "delete_band": delete_band,
                "iterate": iterate, "convert": convert}


def list_stress_methods(k, value):
    """Each list method: the call, and the keys it may remove (None: any;
    "result": the one it returns; "slice": those it returns)."""
    present, absent, lo, hi = value(k(7)), value(k(N + 3)), value(k(5)), value(k(25))
    return {
        "getitem": (lambda sl: sl[5], set()),
        "slice": (lambda sl: sl[3:20:2], set()),
        "contains": (lambda sl: (present in sl, absent in sl), set()),
        "count": (lambda sl: sl.count(present), set()),
        "index": (lambda sl: sl.index(present), set()),
        "bisect": (lambda sl: (sl.bisect_left(present), sl.bisect_right(present)), set()),
        "iter": (lambda sl: (list(sl), list(reversed(sl))), set()),
        "irange": (lambda sl: list(sl.irange(lo, hi)), set()),
        "islice": (lambda sl: list(sl.islice(3, 20)), set()),
        "copy": (lambda sl: sl.copy(), set()),
        "pickle": (lambda sl: pickle.loads(pickle.dumps(sl)), set()),
        "repr": (lambda sl: repr(sl), set()),
        "eq": (lambda sl: sl == list(sl), set()),
        "add": (lambda sl: sl.add(absent), set()),
        "update": (lambda sl: sl.update(value(k(i)) for i in range(N, N + 4)), set()),
        "update_large": (lambda sl: sl.update(value(k(i)) for i in range(N, 3 * N)), set()),
        "remove": (lambda sl: sl.remove(present), {k(7)}),
        "discard": (lambda sl: sl.discard(present), {k(7)}),
        "pop": (lambda sl: sl.pop(4), "result"),
        "delitem": (lambda sl: sl.__delitem__(slice(2, 30, 3)), None),
        "clear": (lambda sl: sl.clear(), None),
    }


def list_stress_cases():
    for kname in STRESS_KEYS:
        for mname in list_stress_methods(STRESS_KEYS[kname], lambda x: x):
            for action in ("clear", "insert", "delete_band", "iterate", "convert"):
                for keyed in (False, True):
                    yield kname, mname, action, keyed


@pytest.mark.parametrize("kname,mname,action,keyed", sorted(list_stress_cases()))
def test_finalizers_change_a_list_in_the_middle_of_every_method(kname, mname, action, keyed):
    k = STRESS_KEYS[kname]
    value = V if keyed else (lambda key: key)
    call, may_remove = list_stress_methods(k, value)[mname]
    added_by_call = Counter()
    if mname == "add":
        added_by_call[k(N + 3)] = 1
    elif mname.startswith("update"):
        added_by_call.update(k(i) for i in range(N, N + 4 if mname == "update" else 3 * N))
    fired = 0
    for skip in range(6):  # the first collections pass: each allocation point in turn
        values = [value(k(i)) for i in range(N)] + [value(k(7)), value(k(8))]  # two pairs
        sl = SortedList(values) if not keyed else SortedList(values, key=_key_of)
        ledger = ListLedger(sl, keyed)
        with collections_running(ledger.actions(k)[action], limit=2, skip=skip) as fuse:
            try:
                result = call(sl)
            except (ValueError, IndexError):  # gone already: a finalizer took it first
                result = None
            except RuntimeError as e:  # refused mid-operation, or an iterator that changed
                assert "changed" in str(e) or "SortedList" in str(e), e
                result = None
        sl.check()
        now = ledger.counts()
        if keyed:  # every value beside its own key, in key order
            keys = [v.key for v in sl]
            assert all(not b < a for a, b in zip(keys, keys[1:]))
        assert sum(now.values()) == len(sl)
        expected = ledger.initial + ledger.added + added_by_call
        expected.subtract(ledger.removed)
        missing = Counter({key: n - now[key] for key, n in expected.items() if n > now[key]})
        extra = Counter({key: n - expected[key] for key, n in now.items() if n > expected[key]})
        if mname in ("add", "update", "update_large") and result is None:
            # refused (RuntimeError) or failed: nothing of the call's is there
            missing -= added_by_call
        assert not extra, extra
        if may_remove == "result" and result is not None:
            assert missing == Counter({result.key if keyed else result: 1})
        elif may_remove == "result":
            assert not missing
        elif may_remove is not None:
            assert set(missing) <= may_remove and sum(missing.values()) <= 1
        fired += len(fuse.outcomes)
    if COLLECTS_IN_ALLOCATIONS and mname in ("copy", "pickle", "iter", "update_large"):
        assert fired  # the finalizers ran: the test is no formality
