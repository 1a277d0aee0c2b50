"""A map shared between threads: every operation is atomic, a thread that
arrives while another's operation is paused in a Python comparison waits for
it, and waiting that would deadlock raises RuntimeError (docs/threads.md).

The interleaving tests are deterministic: a key's first comparison can pause
on a Gate (an Event wait, which releases the GIL), so the test chooses where
the other thread runs. Each one failed (a crash, a use after free under
ASan, a wrong answer or a spurious RuntimeError) before maps had a lock.
test_stress runs many threads for a few seconds and checks every answer.
"""

from collections import Counter
import copy
import pickle
import random
import sys
import sysconfig
import threading
import time

import pytest

from bplustree3 import BPlusTreeMap, SortedList

# Not under pytest-run-parallel: these tests make threads of their own,
# and some wait for other threads on purpose.
pytestmark = pytest.mark.thread_unsafe

TIMEOUT = 60  # seconds; only reached when something hangs


class Gate:
    """Pauses the first comparison that meets it until opened."""

    def __init__(self):
        self.reached = threading.Event()
        self.opened = threading.Event()

    def pause(self):
        if not self.reached.is_set():
            self.reached.set()
            assert self.opened.wait(TIMEOUT), "gate never opened"


def _v(x):
    return x.v if isinstance(x, K) else x


class K:
    """A key compared with Python code (with other Ks and with numbers),
    whose first comparison may pause on a gate."""

    __slots__ = ("v", "gate")

    def __init__(self, v, gate=None):
        self.v = v
        self.gate = gate

    def _pause(self, other):
        for key in (self, other):
            gate = getattr(key, "gate", None)
            if gate is not None:
                gate.pause()

    def __lt__(self, other):
        self._pause(other)
        return self.v < _v(other)

    def __gt__(self, other):
        self._pause(other)
        return self.v > _v(other)

    def __eq__(self, other):
        return self.v == _v(other)

    def __hash__(self):
        return hash(self.v)

    def __repr__(self):
        return f"K({self.v!r})"


def start(fn):
    """Runs fn in a thread; returns the thread and a dict that receives
    {"value": result} or {"error": exception}."""
    outcome = {}

    def run():
        try:
            outcome["value"] = fn()
        except BaseException as e:  # noqa: BLE001 - reported to the test
            outcome["error"] = e

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t, outcome


def finish(t):
    t.join(TIMEOUT)
    assert not t.is_alive(), "thread hung"


def settle(gate):
    """Gives a thread that was just started time to reach gate, if it can
    (without the lock it could; with it, it waits and this times out)."""
    gate.reached.wait(0.3)


def keys_of(m):
    return [_v(k) for k in m]


def test_neighbour_query_waits_for_an_insert_that_unpacks_the_map():
    # Was: heap-use-after-free in bpt_floor after replace_tree <- unpack.
    m = BPlusTreeMap(((i, i) for i in range(0, 600, 2)), capacity=4)
    assert m._key_storage == "int"
    gw, gr = Gate(), Gate()
    w, wout = start(lambda: m.__setitem__(K(101.5, gw), "x"))
    assert gw.reached.wait(TIMEOUT)
    r, rout = start(lambda: m.floor(K(51, gr)))
    settle(gr)
    gw.opened.set()
    finish(w)
    gr.opened.set()
    finish(r)
    assert wout == {"value": None}
    assert rout == {"value": (50, 50)}
    assert m._key_storage == "object"
    m.check()
    assert len(m) == 301 and m[K(101.5)] == "x"


def test_two_reads_paused_in_comparisons_keep_their_own_search():
    # Was: the per-map search was restored last-in-first-out across
    # threads, so the second read went on comparing object pointers as
    # packed integers and reported a present key missing.
    m = BPlusTreeMap(((i, str(i)) for i in range(1000)), capacity=4)
    g1, g2 = Gate(), Gate()
    r1, out1 = start(lambda: m.get(K(500, g1)))
    assert g1.reached.wait(TIMEOUT)
    r2, out2 = start(lambda: m.get(K(700, g2)))
    settle(g2)
    g1.opened.set()
    finish(r1)
    g2.opened.set()
    finish(r2)
    assert out1 == {"value": "500"}
    assert out2 == {"value": "700"}
    m.check()


@pytest.mark.parametrize(("n", "victim", "probe"), [(5, 4, 3), (9, 8, 7), (5, 0, 1)])
def test_read_waits_for_a_pop_that_rebalances(n, victim, probe):
    # Was: a read paused at the root while a pop merged leaves went on
    # down a stale path and returned another key's value (the first two
    # cases) or reported a present key missing (the third).
    m = BPlusTreeMap(((K(i), i) for i in range(n)), capacity=4)
    gw, gr = Gate(), Gate()
    w, wout = start(lambda: m.pop(K(victim, gw)))
    assert gw.reached.wait(TIMEOUT)
    r, rout = start(lambda: m[K(probe, gr)])
    settle(gr)
    gw.opened.set()
    finish(w)
    gr.opened.set()
    finish(r)
    assert wout == {"value": victim}
    assert rout == {"value": probe}
    m.check()
    assert keys_of(m) == [i for i in range(n) if i != victim]


def test_second_writer_waits_instead_of_failing():
    # Was: RuntimeError("mutated during a comparison of its own keys") for
    # a write that only overlapped another thread's comparison.
    m = BPlusTreeMap(((K(i), i) for i in range(100)), capacity=4)
    g1, g2 = Gate(), Gate()
    t1, out1 = start(lambda: m.setdefault(K(500, g1), "first"))
    assert g1.reached.wait(TIMEOUT)
    t2, out2 = start(lambda: m.setdefault(K(500, g2), "second"))
    settle(g2)
    g1.opened.set()
    finish(t1)
    g2.opened.set()
    finish(t2)
    assert out1 == {"value": "first"}
    assert out2 == {"value": "first"}  # check-then-act is atomic
    assert m[K(500)] == "first" and len(m) == 101
    m.check()


def test_pop_with_default_and_popitem_are_atomic():
    m = BPlusTreeMap(((K(i), i) for i in range(50)), capacity=4)
    g1, g2 = Gate(), Gate()
    t1, out1 = start(lambda: m.pop(K(7, g1), "gone"))
    assert g1.reached.wait(TIMEOUT)
    t2, out2 = start(lambda: m.pop(K(7, g2), "gone"))
    settle(g2)
    g1.opened.set()
    finish(t1)
    g2.opened.set()
    finish(t2)
    assert sorted([out1["value"], out2["value"]], key=str) == [7, "gone"]

    got = []
    threads = [threading.Thread(target=lambda: got.append(m.popitem()), daemon=True)
               for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        finish(t)
    assert sorted(_v(k) for k, _ in got) == [0, 1, 2, 3, 4, 5, 6, 8, 9, 10]
    assert len(m) == 39
    m.check()


def test_iterator_of_another_thread_sees_before_or_after():
    m = BPlusTreeMap(((K(i), i) for i in range(100)), capacity=4)
    it = iter(m.items())
    assert next(it)[1] == 0
    gw = Gate()
    w, wout = start(lambda: m.__setitem__(K(1000, gw), "x"))
    assert gw.reached.wait(TIMEOUT)
    r, rout = start(lambda: next(it))
    time.sleep(0.3)  # waits for the write: a step is an operation too
    gw.opened.set()
    finish(w)
    finish(r)
    assert isinstance(rout.get("error"), RuntimeError)
    assert "changed size during iteration" in str(rout["error"])
    m.check()


def test_many_waiters_all_get_their_turn():
    m = BPlusTreeMap(((K(i), i) for i in range(100)), capacity=4)
    gate = Gate()
    w, wout = start(lambda: m.__setitem__(K(1000, gate), "x"))
    assert gate.reached.wait(TIMEOUT)
    readers = [start(lambda i=i: m.get(K(i))) for i in range(6)]
    writers = [start(lambda i=i: m.__setitem__(K(2000 + i), i)) for i in range(3)]
    time.sleep(0.3)  # all of them wait now
    gate.opened.set()
    finish(w)
    for t, _ in readers + writers:
        finish(t)
    assert [out for _, out in readers] == [{"value": i} for i in range(6)]
    assert all(out == {"value": None} for _, out in writers)
    assert len(m) == 104 and m[K(1000)] == "x"
    m.check()


@pytest.mark.parametrize("read", ["get", "index", "bisect_left", "bisect_right",
                                  "peekitem", "islice", "keys_at"])
def test_read_waits_for_a_range_delete_paused_in_a_comparison(read):
    # A reader that arrives while a range delete is paused in a comparison
    # waits for it (its own comparisons may pause too) and answers from the
    # map after. Was, for get: heap-use-after-free in descend <- bpt_get, the
    # nodes freed by remove_span <- bpt_remove_range. The positional methods
    # hold the lock as the others do.
    m = BPlusTreeMap(((K(i), i) for i in range(300)), capacity=4)
    gw, gr = Gate(), Gate()
    calls = {
        "get": lambda: m.get(K(150, gr), "absent"),
        "index": lambda: m.index(K(295, gr)),
        "bisect_left": lambda: m.bisect_left(K(150, gr)),
        "bisect_right": lambda: m.bisect_right(K(295, gr)),
        "peekitem": lambda: m.peekitem(12),
        "islice": lambda: [k.v for k in m.islice(8, 14)],
        "keys_at": lambda: m.keys()[-1].v,
    }
    want = {"get": "absent", "index": 15, "bisect_left": 10, "bisect_right": 16,
            "peekitem": (K(292), 292), "islice": [8, 9, 290, 291, 292, 293], "keys_at": 299}
    w, wout = start(lambda: m.delete_range(K(10, gw), K(290)))
    assert gw.reached.wait(TIMEOUT)
    r, rout = start(calls[read])
    settle(gr)
    gw.opened.set()
    finish(w)
    gr.opened.set()
    finish(r)
    assert wout == {"value": 280}
    assert rout == {"value": want[read]}
    m.check()
    assert keys_of(m) == list(range(10)) + list(range(290, 300))


def test_update_is_seen_whole_or_not_at_all():
    m = BPlusTreeMap(((K(i), i) for i in range(0, 2000, 2)), capacity=8)
    gate = Gate()
    new = [(K(i), i) for i in range(1, 2000, 2)]
    new[500] = (K(1001, gate), 1001)  # the update pauses half way
    w, wout = start(lambda: m.update(new))
    assert gate.reached.wait(TIMEOUT)
    r, rout = start(lambda: (len(m), m.get(K(1)), m.get(K(1999))))
    time.sleep(0.3)  # without the lock, the read would see half the update
    gate.opened.set()
    finish(w)
    finish(r)
    assert wout == {"value": None}
    assert rout == {"value": (2000, 1, 1999)}
    m.check()


def test_a_shared_iterator_hands_out_each_item_once():
    m = BPlusTreeMap((i, -i) for i in range(20000))
    it = iter(m.items())
    got = [[] for _ in range(4)]

    def drain(out):
        for item in it:
            out.append(item)

    threads = [threading.Thread(target=drain, args=(out,), daemon=True) for out in got]
    for t in threads:
        t.start()
    for t in threads:
        finish(t)
    items = sorted(item for out in got for item in out)
    assert items == [(i, -i) for i in range(20000)]
    for out in got:  # each thread saw its share in order
        assert out == sorted(out)


def test_waiting_that_would_deadlock_raises():
    # A comparison in map a's operation uses map b while one in b's uses
    # a: one thread gets RuntimeError, the other finishes.
    a = BPlusTreeMap(((K(i), i) for i in range(20)), capacity=4)
    b = BPlusTreeMap(((K(i), i) for i in range(20)), capacity=4)
    ga, gb = Gate(), Gate()

    class Cross(K):
        __slots__ = ("other",)

        def __lt__(self, x):
            self._pause(x)
            self.other.get(K(3))
            return self.v < _v(x)

        def __gt__(self, x):
            self._pause(x)
            self.other.get(K(3))
            return self.v > _v(x)

    ka, kb = Cross(5, ga), Cross(6, gb)
    ka.other, kb.other = b, a
    ta, outa = start(lambda: a.get(ka))
    assert ga.reached.wait(TIMEOUT)
    tb, outb = start(lambda: b.get(kb))
    assert gb.reached.wait(TIMEOUT)
    ga.opened.set()  # a's comparison now waits for b, held by tb
    time.sleep(0.3)
    gb.opened.set()  # b's comparison wants a, held by ta, which waits for b
    finish(ta)
    finish(tb)
    assert outa == {"value": 5}
    assert isinstance(outb.get("error"), RuntimeError), outb
    assert "deadlock" in str(outb["error"])
    a.check()
    b.check()


@pytest.mark.parametrize("kind", ["int", "str"])
@pytest.mark.parametrize("read", ["get", "next"])
def test_quick_reads_wait_for_a_range_delete_paused_in_a_comparison(kind, read):
    # Lookups of ints in a map of ints and of strs in a map of strs, and
    # iterator steps, take the quick read: with the GIL, no lock when nobody
    # holds the map. A range delete paused in a comparison of its foreign
    # bound holds it: the quick read must see that, wait, and answer from
    # the map after (a read that went ahead would find 150 and step to 0).
    key = (lambda i: i) if kind == "int" else (lambda i: f"{i:03d}")
    m = BPlusTreeMap(((key(i), i) for i in range(300)), capacity=4)
    it = iter(m)
    gw = Gate()
    w, wout = start(lambda: m.delete_range(K(key(0), gw), K(key(290))))
    assert gw.reached.wait(TIMEOUT)
    r, rout = start(lambda: m.get(key(150), "absent") if read == "get" else next(it))
    time.sleep(0.3)
    gw.opened.set()
    finish(w)
    finish(r)
    assert wout == {"value": 290}
    if read == "get":
        assert rout == {"value": "absent"}
    else:
        assert isinstance(rout.get("error"), RuntimeError)
    assert m._key_storage == kind  # the quick paths applied
    m.check()
    assert list(m) == [key(i) for i in range(290, 300)]


def wait_for_paused_range_delete(m, lo, hi, op):
    """Runs op in a thread while another's m.delete_range(lo, hi), paused in
    a comparison of its foreign bound K(lo), holds m; checks that op waits
    for it and that the delete removed hi - lo keys; op's outcome."""
    gw = Gate()
    w, wout = start(lambda: m.delete_range(K(lo, gw), K(hi)))
    assert gw.reached.wait(TIMEOUT)
    r, rout = start(op)
    time.sleep(0.3)
    assert "value" not in rout and "error" not in rout  # still waiting
    gw.opened.set()
    finish(w)
    finish(r)
    assert wout == {"value": hi - lo}
    return rout


@pytest.mark.parametrize("write", ["set", "del", "pop"])
def test_typed_int_writes_wait_for_a_range_delete_paused_in_a_comparison(write):
    # m[k] = v, del m[k] and pop(k) with an int in a map of ints take the
    # core's typed calls (no search hook). They take the lock as every
    # write does: one that went ahead of the paused range delete would
    # write into nodes the delete is about to free or merge.
    m = BPlusTreeMap(((i, i) for i in range(300)), capacity=4)
    ops = {"set": lambda: m.__setitem__(150, "late"),
           "del": lambda: m.__delitem__(150),
           "pop": lambda: m.pop(150, "absent")}
    rout = wait_for_paused_range_delete(m, 0, 290, ops[write])
    assert m._key_storage == "int"  # the typed paths applied
    m.check()
    if write == "set":
        assert rout == {"value": None}
        assert list(m.items()) == [(150, "late")] + [(i, i) for i in range(290, 300)]
    else:
        if write == "del":
            assert isinstance(rout.get("error"), KeyError)
        else:
            assert rout == {"value": "absent"}
        assert list(m) == list(range(290, 300))


@pytest.mark.parametrize("kind", ["keys", "items"])
def test_iterator_step_of_a_map_of_ints_waits_for_a_paused_range_delete(kind):
    # A step whose item is in its chunk already hands it out without the
    # lock only while nobody holds it: here a range delete holds it, paused
    # in a comparison of its foreign bound, and the step must wait, then
    # see the map after it.
    m = BPlusTreeMap(((i, i) for i in range(1000, 1300)), capacity=4)
    it = iter(getattr(m, kind)())
    first = next(it)  # the chunk after it is read already
    rout = wait_for_paused_range_delete(m, 1000, 1290, lambda: next(it))
    assert m._key_storage == "int"
    assert first in (1000, (1000, 1000))
    assert isinstance(rout.get("error"), RuntimeError)
    assert "changed size during iteration" in str(rout["error"])
    m.check()


def test_read_waits_while_the_holder_runs_del_of_removed_items():
    m = BPlusTreeMap(capacity=4)
    seen = []

    class Noisy:
        def __del__(self):
            seen.append(len(m))

    for i in range(40):
        m[K(i)] = Noisy()
    gw = Gate()
    w, wout = start(lambda: m.delete_range(K(0, gw), K(30)))
    assert gw.reached.wait(TIMEOUT)
    r, rout = start(lambda: m.get(K(35)))
    time.sleep(0.3)
    gw.opened.set()
    finish(w)
    finish(r)
    assert wout == {"value": 30}
    assert isinstance(rout["value"], Noisy)
    assert len(seen) == 30
    m.check()


def test_lookups_of_two_key_types_from_two_threads():
    # Was (free-threaded, GIL off): m.get(5) and m.get(5.5) in two threads
    # on an int map crashed in under a second (one search state per map).
    m = BPlusTreeMap((i, i) for i in range(0, 10000, 5))
    stop = time.monotonic() + 1.0
    bad = []

    def probe(key, want):
        while time.monotonic() < stop:
            got = m.get(key, "absent")
            if got != want:
                bad.append((key, got))
                return

    threads = [threading.Thread(target=probe, args=args, daemon=True)
               for args in ((5, 5), (5.5, "absent"), (5.0, 5), (9995, 9995))]
    for t in threads:
        t.start()
    for t in threads:
        finish(t)
    assert not bad, bad[:3]
    m.check()


# ---- Shared reads (free-threaded: reads of packed keys run in parallel) ------

import bplustree3._bplustree3 as _ext  # noqa: E402 - the test hook

FREE_THREADED = bool(sysconfig.get_config_var("Py_GIL_DISABLED"))

# Reads that run no Python code: shared between threads without the GIL.
SHARED_READS = {
    "get": lambda m: m.get(150, "absent"),
    "getitem": lambda m: m[150],
    "contains": lambda m: 150 in m,
    "floor": lambda m: m.floor(150),
    "higher": lambda m: m.higher(150),
    "peekitem": lambda m: m.peekitem(140),
    "bisect": lambda m: m.bisect_left(150),
    "index": lambda m: m.index(150),
    "len": len,
    "first": lambda m: m.first(),
}


def share(m):
    """Reads m from two threads, so that its reads are shared from now on
    (a map's reads take the lock until a second thread reads it)."""
    len(m)
    t, _ = start(lambda: len(m))
    finish(t)


def test_the_pause_hook_takes_a_state_and_exists_only_where_reads_are_shared():
    with pytest.raises(TypeError):
        _ext._pause_shared_read("1")
    if not FREE_THREADED:
        with pytest.raises(NotImplementedError):
            _ext._pause_shared_read(1)
        return
    with pytest.raises(ValueError):
        _ext._pause_shared_read(2)
    assert _ext._pause_shared_read(-1) == 0  # idle, and left so


@pytest.mark.skipif(not FREE_THREADED, reason="reads are shared only without the GIL")
@pytest.mark.parametrize("read", [*SHARED_READS, "next"])
def test_a_writer_waits_for_a_paused_shared_read(read):
    # A reader paused in its slot, after it has checked that nobody holds
    # the map and before its look at the tree: a range delete that frees
    # most of the nodes must wait until the read is over (one that went
    # ahead would free the nodes under the reader), and the reader sees
    # the map as it was before.
    m = BPlusTreeMap(((i, i) for i in range(300)), capacity=4)
    share(m)
    it = iter(m)
    before = {name: fn(m) for name, fn in SHARED_READS.items()}
    assert _ext._pause_shared_read(1) == 0
    try:
        r, rout = start(lambda: next(it) if read == "next" else SHARED_READS[read](m))
        deadline = time.monotonic() + TIMEOUT
        while _ext._pause_shared_read(-1) != 2:
            assert time.monotonic() < deadline and r.is_alive(), "the read did not pause"
            time.sleep(0.001)
        w, wout = start(lambda: m.delete_range(0, 290))
        time.sleep(0.3)
        assert wout == {}, "the writer did not wait for the paused read"
    finally:
        _ext._pause_shared_read(0)
    finish(r)
    finish(w)
    assert rout == {"value": 0 if read == "next" else before[read]}
    assert wout == {"value": 290}
    m.check()
    assert list(m) == list(range(290, 300))


@pytest.mark.parametrize("read", SHARED_READS)
def test_shared_reads_wait_for_a_paused_range_delete(read):
    # A range delete with a foreign bound holds the map while it is paused
    # in a comparison. Reads of packed ints from another thread (shared
    # without the GIL, quick with it) must see that the map is held, wait,
    # and answer from the map after the delete; one that went ahead would
    # answer from before it, or walk nodes the delete frees.
    m = BPlusTreeMap(((i, i) for i in range(300)), capacity=4)
    share(m)
    rout = wait_for_paused_range_delete(m, 0, 150, lambda: SHARED_READS[read](m))
    assert m._key_storage == "int"  # the reads took the packed paths
    after = BPlusTreeMap((i, i) for i in range(150, 300))
    assert rout == {"value": SHARED_READS[read](after)}
    m.check()


@pytest.mark.parametrize("kind", ["int", "str"])
def test_reads_of_none_beside_shared_reads(kind):
    # Was (free-threaded, GIL off): m.get(None), m[None], None in m or
    # m.floor(None) took the shared read, for None bounds a range as
    # "unbounded", then searched for None with objects, writing the map's
    # search state under another thread's shared m.floor(k): a segfault
    # within seconds. None is searched for under the lock now.
    key = (lambda i: i) if kind == "int" else (lambda i: f"{i:06d}")
    m = BPlusTreeMap(((key(i), i) for i in range(0, 20000, 2)), capacity=8)
    share(m)
    stop = time.monotonic() + 1.0
    bad = []

    def with_none():
        calls = (lambda: m.get(None), lambda: None in m, lambda: m[None],
                 lambda: m.floor(None), lambda: m.bisect_left(None), lambda: m.index(None))
        while time.monotonic() < stop:
            for call in calls:
                try:
                    call()
                except (TypeError, KeyError, ValueError):
                    pass

    def with_keys():
        rng = random.Random(5)
        while time.monotonic() < stop and not bad:
            i = rng.randrange(1, 19999)
            want = (key(i - i % 2), i - i % 2)
            got = m.floor(key(i))
            if got != want:
                bad.append((i, got, want))

    threads = [threading.Thread(target=fn, daemon=True) for fn in (with_none, with_keys)]
    for t in threads:
        t.start()
    for t in threads:
        finish(t)
    assert not bad, bad[:3]
    assert m._key_storage == kind
    m.check()


# ---- Reads whose comparisons run Python code ----------------------------------
# Without the GIL they are shared too: the thread records the maps it holds
# so, which its own comparisons may read but not change, and a thread that
# takes the lock of such a map waits for them, or raises when that would
# deadlock. The tests that can run with the GIL run there too (reads then
# hold the lock) and must give the same answers.

def obj_map(n=40, capacity=4):
    m = BPlusTreeMap(((K(i), i) for i in range(n)), capacity=capacity)
    share(m)
    return m


@pytest.mark.skipif(not FREE_THREADED, reason="reads are shared only without the GIL")
@pytest.mark.parametrize("read", ["get", "floor", "index", "irange"])
def test_reads_paused_in_comparisons_do_not_hold_up_each_other(read):
    m = obj_map()
    reads = {"get": lambda k: m.get(k), "floor": lambda k: m.floor(k),
             "index": lambda k: m.index(k), "irange": lambda k: list(m.irange(k, K(30)))}
    gate = Gate()
    r, rout = start(lambda: reads[read](K(20, gate)))
    assert gate.reached.wait(TIMEOUT)
    try:
        other, oout = start(lambda: reads[read](K(25)))
        other.join(TIMEOUT / 4)
        assert not other.is_alive(), "a read waited for another paused in a comparison"
    finally:
        gate.opened.set()
    finish(r)
    expect = {"get": (20, 25), "floor": ((K(20), 20), (K(25), 25)), "index": (20, 25),
              "irange": ([K(i) for i in range(20, 31)], [K(i) for i in range(25, 31)])}[read]
    assert rout == {"value": expect[0]}
    assert oout == {"value": expect[1]}


@pytest.mark.parametrize("write", ["insert", "delete", "delete_range"])
def test_a_writer_waits_for_a_read_paused_in_a_comparison(write):
    m = obj_map()
    gate = Gate()
    r, rout = start(lambda: m.bisect_left(K(10, gate)))
    assert gate.reached.wait(TIMEOUT)
    writes = {"insert": lambda: m.__setitem__(K(10.5), -1),
              "delete": lambda: m.pop(K(10)),
              "delete_range": lambda: m.delete_range(K(0), K(35))}
    try:
        w, wout = start(writes[write])
        time.sleep(0.3)
        assert wout == {}, "the writer did not wait for the paused read"
    finally:
        gate.opened.set()
    finish(r)
    finish(w)
    assert rout == {"value": 10}  # the map as it was before the write
    assert "error" not in wout, wout
    m.check()
    assert (K(10.5) in m) == (write == "insert")
    assert len(m) == {"insert": 41, "delete": 39, "delete_range": 5}[write]


def test_a_read_from_its_own_comparison_while_a_writer_waits():
    # The reader's comparison reads the map again, by every kind of read,
    # after a writer has started to wait for that read: they must not wait
    # for the writer (which waits for them), nor fail.
    m = obj_map()
    gate = Gate()
    seen = {}

    class Nested(K):
        __slots__ = ()

        def __lt__(self, other):
            self._pause(other)
            if not seen:
                seen["get"] = m.get(K(3))
                seen["len"] = len(m)
                seen["in"] = K(4) in m
                seen["range"] = [_v(k) for k in m.irange(K(1), K(4))]
                seen["slice"] = [_v(k) for k in m.keys()[2:5]]
                seen["copy"] = len(m.copy())
                seen["repr"] = repr(m).startswith("BPlusTreeMap")
                seen["peek"] = m.peekitem(0)[1]
            return self.v < _v(other)

    r, rout = start(lambda: m.get(Nested(7, gate)))
    assert gate.reached.wait(TIMEOUT)
    w, wout = start(lambda: m.__setitem__(K(100), 100))
    time.sleep(0.3)
    assert wout == {}, "the writer did not wait for the paused read"
    gate.opened.set()
    finish(r)
    finish(w)
    assert rout == {"value": 7}
    assert wout == {"value": None}
    assert seen == {"get": 3, "len": 40, "in": True, "range": [1, 2, 3, 4], "slice": [2, 3, 4],
                    "copy": 40, "repr": True, "peek": 0}
    assert m[K(100)] == 100
    m.check()


def test_a_change_from_a_reads_own_comparison_raises_and_changes_nothing():
    m = obj_map()
    before = list(m.items())
    attempts = {"set": lambda: m.__setitem__(K(99), 0), "pop": lambda: m.pop(K(1)),
                "clear": m.clear, "delete_range": lambda: m.delete_range(K(0), K(9))}
    for name, change in attempts.items():
        class Changer(K):
            __slots__ = ()

            def __lt__(self, other, change=change):
                change()
                return self.v < _v(other)

        with pytest.raises(RuntimeError, match="changed by code that one of its own"):
            m.get(Changer(5))
        assert list(m.items()) == before, name
        m.check()


@pytest.mark.parametrize("first", ["reader", "writer"])
def test_a_read_and_a_writer_waiting_for_each_other_through_two_maps(first):
    # A read of a (shared without the GIL, with a's lock with it) whose
    # comparison reads b, and a write of b whose comparison writes a: the
    # writer holds b and waits for a's read, the read waits for b. The one
    # that would close the cycle gets RuntimeError, the other finishes.
    a, b = obj_map(), obj_map()
    ga, gb = Gate(), Gate()

    class ReadsB(K):
        __slots__ = ()

        def __lt__(self, other):
            self._pause(other)
            b.get(K(3))
            return self.v < _v(other)

    class WritesA(K):
        __slots__ = ()

        def __lt__(self, other):
            self._pause(other)
            a[K(50)] = 50
            return self.v < _v(other)

        def __gt__(self, other):
            self._pause(other)
            a[K(50)] = 50
            return self.v > _v(other)

    ta, outa = start(lambda: a.get(ReadsB(5, ga)))
    assert ga.reached.wait(TIMEOUT)
    tb, outb = start(lambda: b.__setitem__(WritesA(60, gb), 60))
    assert gb.reached.wait(TIMEOUT)
    if first == "writer":  # the writer waits for a's read, then the read for b
        gb.opened.set()
        time.sleep(0.3)
        ga.opened.set()
    else:  # the read waits for b, then the writer for a's read
        ga.opened.set()
        time.sleep(0.3)
        gb.opened.set()
    finish(ta)
    finish(tb)
    loser, winner = (outa, outb) if first == "writer" else (outb, outa)
    assert isinstance(loser.get("error"), RuntimeError), loser
    assert "deadlock" in str(loser["error"])
    assert "error" not in winner, winner
    if first == "writer":
        assert outb == {"value": None}
        assert a[K(50)] == 50 and b[K(60)] == 60
    else:
        assert outa == {"value": 5}
        assert K(50) not in a and K(60) not in b
    a.check()
    b.check()


# ---- Stress: many threads, every answer checked ------------------------------

def _make_key(kind):
    if kind == "int":
        return lambda i: i
    if kind == "str":
        return lambda i: f"{i:09d}"
    return K


def run_threads(targets, container, seconds, stop):
    """Runs each (function, *args) of targets in a thread of its own, with
    the switch interval at its shortest, for seconds or until stop is set,
    running container.check() meanwhile; then stops and joins them."""
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        threads = [threading.Thread(target=fn, args=args, daemon=True) for fn, *args in targets]
        for t in threads:
            t.start()
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and not stop.is_set():
            time.sleep(0.05)
            container.check()
        stop.set()
        for t in threads:
            finish(t)
    finally:
        sys.setswitchinterval(old)


@pytest.mark.parametrize("kind", ["int", "str", "object"])
def test_stress(kind):
    """Writers on disjoint key stripes, readers, iterators, ranges,
    delete_range, copy and pickling, all at once: each writer checks every
    answer about its own stripe, and nothing is lost."""
    key = _make_key(kind)
    num = int if kind == "str" else _v
    stripe, writers = 2000, 4
    seconds = 2.0 if kind != "object" else 3.0
    m = BPlusTreeMap(capacity=8)
    stop = threading.Event()
    failures = []
    ops = [0] * (writers + 3)
    refs = [{} for _ in range(writers)]

    def fail(msg):
        failures.append(msg)
        stop.set()

    def writer(w):
        rng = random.Random(w)
        lo = w * stripe
        mine = refs[w]
        while not stop.is_set():
            i = lo + rng.randrange(stripe)
            op = rng.randrange(8)
            if op <= 1:
                m[key(i)] = (w, i)
                mine[i] = (w, i)
            elif op == 2:
                got = m.pop(key(i), None)
                if got != mine.pop(i, None):
                    fail(f"pop {i}: {got}")
            elif op == 3:
                if m.get(key(i)) != mine.get(i):
                    fail(f"get {i}")
            elif op == 4:
                if m.setdefault(key(i), (w, i)) != (w, i):
                    fail(f"setdefault {i}")
                mine[i] = (w, i)
            elif op == 5:
                j = i + rng.randrange(30)
                j = min(j, lo + stripe)
                want = sorted(k for k in mine if i <= k < j)
                try:
                    got = [v[1] for k, v in m.items(key(i), key(j))]
                except RuntimeError as e:  # another writer changed the tree
                    got = want
                    if "changed" not in str(e):
                        fail(f"range: {e!r}")
                if got != want:
                    fail(f"range {i}..{j}: {got} != {want}")
            elif op == 6:
                j = min(i + rng.randrange(20), lo + stripe)
                n = m.delete_range(key(i), key(j))
                gone = [k for k in mine if i <= k < j]
                for k in gone:
                    del mine[k]
                if n != len(gone):
                    fail(f"delete_range {i}..{j}: {n} != {len(gone)}")
            else:
                f = m.floor(key(i))
                below = [k for k in mine if k <= i]
                if below and (f is None or f[1] != (w, max(below))):
                    fail(f"floor {i}: {f}")
            ops[w] += 1

    def reader():
        rng = random.Random(99)
        while not stop.is_set():
            k = rng.randrange(writers * stripe)
            v = m.get(key(k))
            if v is not None and v != (k // stripe, k):
                fail(f"reader: {k} -> {v}")
            ops[writers] += 1

    def iterator():
        while not stop.is_set():
            try:
                prev = None
                for k, v in m.items():
                    i = num(k)
                    if v != (i // stripe, i) or (prev is not None and not prev < i):
                        fail(f"iterator: {k} -> {v} after {prev}")
                    prev = i
            except RuntimeError as e:  # a change between two steps
                if "changed" not in str(e):
                    fail(f"iterator: {e!r}")
            ops[writers + 1] += 1

    def snapshotter():
        while not stop.is_set():
            c = m.copy()
            c.check()
            back = pickle.loads(pickle.dumps(m))
            back.check()
            for snap in (c, back, copy.copy(m)):
                for k, v in snap.items():
                    i = num(k)
                    if v != (i // stripe, i):
                        fail(f"snapshot: {k} -> {v}")
                        break
            ops[writers + 2] += 1

    run_threads([(writer, w) for w in range(writers)]
                + [(f,) for f in (reader, iterator, snapshotter)], m, seconds, stop)
    assert not failures, failures[:5]
    assert all(ops), ops
    m.check()
    # Nothing lost, nothing extra: the map is the union of the writers' models.
    want = {i: v for ref in refs for i, v in ref.items()}
    assert {num(k): v for k, v in m.items()} == want


def test_list_read_waits_for_an_add_paused_in_a_comparison():
    # A SortedList is a map in the multiset mode: the same lock.
    sl = SortedList(K(i) for i in range(0, 400, 2))
    gw, gr = Gate(), Gate()
    w, wout = start(lambda: sl.add(K(101, gw)))
    assert gw.reached.wait(TIMEOUT)
    r, rout = start(lambda: (sl.bisect_left(K(103, gr)), sl.count(K(101)), sl[51].v))
    settle(gr)
    gw.opened.set()
    finish(w)
    gr.opened.set()
    finish(r)
    assert wout == {"value": None}
    assert rout == {"value": (53, 1, 101)}
    sl.check()


@pytest.mark.parametrize("kind", ["int", "str", "object"])
@pytest.mark.parametrize("keyed", [False, True])
def test_stress_sorted_list(kind, keyed):
    """SortedList (or SortedKeyList) shared: writers add and remove values
    with duplicates on disjoint stripes and check every answer about their
    own stripe (count, in, index, irange), while others read positions,
    iterate and copy; nothing is lost and nothing is added."""
    key = _make_key(kind)
    num = int if kind == "str" else _v
    stripe, writers, seconds = 300, 3, 1.5
    sl = SortedList(key=_v) if keyed else SortedList()
    stop = threading.Event()
    failures = []
    ops = [0] * (writers + 2)
    refs = [Counter() for _ in range(writers)]

    def fail(msg):
        failures.append(msg)
        stop.set()

    def writer(w):
        rng = random.Random(w)
        lo, mine = w * stripe, refs[w]
        while not stop.is_set():
            i = lo + rng.randrange(stripe)
            op = rng.randrange(7)
            if op <= 1:
                sl.add(key(i))
                mine[i] += 1
            elif op == 6:  # now and then large enough to rebuild the list
                batch = [lo + rng.randrange(stripe) for _ in range(3 if rng.random() < 0.9
                                                                   else len(sl) // 3 + 1)]
                sl.update(key(j) for j in batch)
                mine.update(batch)
            elif op == 2:
                if mine[i]:
                    sl.remove(key(i))
                    mine[i] -= 1
                else:
                    sl.discard(key(i))
            elif op == 3:
                if sl.count(key(i)) != mine[i] or (key(i) in sl) != (mine[i] > 0):
                    fail(f"count {i}")
            elif op == 4 and mine[i]:
                at = sl.index(key(i))  # others move it; it was there when asked
                if at < 0:
                    fail(f"index {i}")
            else:
                j = min(i + rng.randrange(20), lo + stripe - 1)
                want = sorted(mine.elements())
                want = [k for k in want if i <= k <= j]
                try:
                    got = [num(v) for v in sl.irange(key(i), key(j))]
                except RuntimeError as e:  # another writer changed the list
                    got = want
                    if "changed" not in str(e):
                        fail(f"irange: {e!r}")
                if got != want:
                    fail(f"irange {i}..{j}: {got} != {want}")
            ops[w] += 1

    def reader():
        rng = random.Random(99)
        while not stop.is_set():
            i = rng.randrange(writers * stripe)
            pair = sl[i:i + 2]  # whatever the list holds then: a slice is one read
            if len(pair) == 2 and num(pair[1]) < num(pair[0]):
                fail(f"positions {i}: {pair}")
            ops[writers] += 1

    def guarded(fn, *args):
        try:
            fn(*args)
        except Exception as e:  # noqa: BLE001 - any error is a failure of the test
            fail(f"{fn.__name__}: {e!r}")

    def copier():
        while not stop.is_set():
            try:
                values = [num(v) for v in sl]
            except RuntimeError as e:
                if "changed" not in str(e):
                    fail(f"iterator: {e!r}")
            else:
                if values != sorted(values):
                    fail("iteration out of order")
            c = sl.copy()
            c.check()
            pickle.loads(pickle.dumps(c)).check()
            ops[writers + 1] += 1

    run_threads([(guarded, writer, w) for w in range(writers)]
                + [(guarded, f) for f in (reader, copier)], sl, seconds, stop)
    assert not failures, failures[:5]
    assert all(ops), ops
    sl.check()
    assert Counter(num(v) for v in sl) == sum(refs, Counter())


@pytest.mark.skipif(not sysconfig.get_config_var("Py_GIL_DISABLED"),
                    reason="needs a free-threaded interpreter")
def test_the_gil_stays_disabled():
    import bplustree3  # noqa: F401 - the import is what is tested

    assert not sys._is_gil_enabled()
