#!/usr/bin/env python3
"""Threads reading one map: how reads scale from 1 thread to 2 (or more),
a BPlusTreeMap against a dict of the same keys, in one process.

    python3 benchmarks/bench_threads.py                   # 1M keys, 1 and 2 threads
    python3 benchmarks/bench_threads.py --threads 1,2,4   # where the machine has the cores
    PYTHON_GIL=0 /path/to/python3.13t benchmarks/bench_threads.py   # the point of it
    ... bench_threads.py --writer-wait 1 --keys int   # a writer's waits among readers

Each thread makes its own bound method and its own random keys (a shared
global's reference count would be contended on a free-threaded build, for
both containers alike), waits at a barrier, then calls the method once per
key. Throughput is every call of every thread over the time from the
first thread's start to the last one's end; the best of --reps runs.
Scaling is the throughput at T threads over that at 1 thread (1: two
threads get no more done than one; 2: twice as much).

Reads: ``get``, ``m[k]``, ``in``, ``floor``, a 20-key ``irange``,
``peekitem(i)``; mix90: 90% ``get``, 10% ``m[k] = v``. Keys: ``int``
(packed), ``str`` (packed, with hints), ``obj`` (a class whose ``<`` is
Python code: every comparison runs the interpreter). dict is the anchor
for get, ``m[k]``, ``in`` and mix90: how far the interpreter itself
scales on this machine.
"""

import argparse
import random
import sys
import threading
import time

import bplustree3

KEY_TYPES = ["int", "str", "obj"]
OPS = ["get", "getitem", "contains", "floor", "range20", "peekitem", "mix90"]
DICT_OPS = {"get", "getitem", "contains", "mix90"}


class Key:
    """A key whose comparisons run Python code."""

    __slots__ = ("n",)

    def __init__(self, n):
        self.n = n

    def __lt__(self, other):
        return self.n < other.n

    def __eq__(self, other):
        return self.n == other.n

    def __hash__(self):
        return hash(self.n)


def key_of(kind, n):
    if kind == "int":
        return n
    if kind == "str":
        return f"{n:08d}"  # in order, and the hints (first 8 bytes) differ
    return Key(n)


def calls(container, op, kind, size, rng, count):
    """A thread's own bound method and arguments for op: (function, args)."""
    numbers = [rng.randrange(size) for _ in range(count)]
    if op == "peekitem":
        return container.peekitem, numbers
    keys = [key_of(kind, n) for n in numbers]
    if op == "get":
        return container.get, keys
    if op == "getitem":
        return container.__getitem__, keys
    if op == "contains":
        return container.__contains__, keys
    if op == "floor":
        return container.floor, keys
    if op == "range20":
        irange = container.irange
        ends = [key_of(kind, min(n + 19, size - 1)) for n in numbers]

        def range20(pair):
            for _ in irange(*pair):
                pass
        return range20, list(zip(keys, ends))
    if op == "mix90":
        get, put = container.get, container.__setitem__

        def mixed(arg):
            i, key = arg
            if i % 10 == 0:
                put(key, i)
            else:
                get(key)
        return mixed, list(enumerate(keys))
    raise ValueError(op)


def run_threads(container, op, kind, size, threads, count, seed):
    """Calls per second of `threads` threads, each `count` calls."""
    barrier = threading.Barrier(threads)
    spans = [None] * threads
    work = [calls(container, op, kind, size, random.Random(seed + t), count)  # nosec B311
            for t in range(threads)]

    def worker(t):
        function, args = work[t]
        barrier.wait()
        start = time.perf_counter()
        for arg in args:
            function(arg)
        spans[t] = (start, time.perf_counter())

    pool = [threading.Thread(target=worker, args=(t,)) for t in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    elapsed = max(end for _, end in spans) - min(start for start, _ in spans)
    return threads * count / elapsed


def writer_waits(m, kind, size, readers, writes, seed):
    """Times `writes` single writes (m[k] = v, 100 us apart) made while
    `readers` threads call m.get as fast as they can: the sorted list of
    each write's time in ns."""
    stop = threading.Event()
    started = threading.Barrier(readers + 1)

    def read(t):
        rng = random.Random(seed + t)  # nosec B311
        get, keys = m.get, [key_of(kind, rng.randrange(size)) for _ in range(100_000)]
        started.wait()
        while not stop.is_set():
            for k in keys:
                get(k)

    pool = [threading.Thread(target=read, args=(t,)) for t in range(readers)]
    for thread in pool:
        thread.start()
    started.wait()
    rng = random.Random(seed)  # nosec B311
    put, clock, times = m.__setitem__, time.perf_counter_ns, []
    keys = [key_of(kind, rng.randrange(size)) for _ in range(writes)]
    for i, k in enumerate(keys):
        time.sleep(0.0001)
        t0 = clock()
        put(k, i)
        times.append(clock() - t0)
    stop.set()
    for thread in pool:
        thread.join()
    return sorted(times)


def report_writer_waits(kind, size, readers, writes):
    m = build(kind, size, "map")
    print(f"\nA writer among readers, {kind} keys, {size:,}: ns per m[k] = v, "
          f"{writes:,} writes 100 us apart")
    print(f"  {'readers':<10}{'median':>10}{'p99':>10}{'p99.9':>10}{'max':>12}")
    for r in sorted({0, readers}):
        t = writer_waits(m, kind, size, r, writes, 11)
        pick = [t[len(t) // 2], t[len(t) * 99 // 100], t[len(t) * 999 // 1000], t[-1]]
        print(f"  {r:<10}" + "".join(f"{v:>10,}" for v in pick[:3]) + f"{pick[3]:>12,}",
              flush=True)


def build(kind, size, which):
    keys = [key_of(kind, n) for n in range(size)]
    if which == "dict":
        return dict.fromkeys(keys, 0)
    return bplustree3.BPlusTreeMap.fromkeys(keys, 0)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", default="1M", help="keys in the map (obj keys: a tenth)")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--keys", default=",".join(KEY_TYPES))
    ap.add_argument("--ops", default=",".join(OPS))
    ap.add_argument("--count", type=int, default=400_000, help="calls per thread")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--writer-wait", type=int, metavar="READERS", default=0,
                    help="instead: time single writes among READERS reading threads, and "
                         "with none (the worst wait of a writer)")
    ap.add_argument("--guard", type=float, metavar="FLOOR",
                    help="exit 1 when a read of the map scales below FLOOR at the most threads "
                         "(the read-only ops; not mix90 or dict)")
    args = ap.parse_args(argv)
    size = int(float(args.size.upper().rstrip("KM")) * {"K": 1e3, "M": 1e6}.get(
        args.size.upper()[-1], 1))
    threads = [int(t) for t in args.threads.split(",")]
    gil = getattr(sys, "_is_gil_enabled", lambda: True)()
    low = []
    if args.writer_wait:
        print(f"Python {sys.version.split()[0]}, GIL {'on' if gil else 'off'}")
        for kind in args.keys.split(","):
            report_writer_waits(kind, size // 10 if kind == "obj" else size, args.writer_wait,
                                20_000)
        return 0
    print(f"Python {sys.version.split()[0]}, GIL {'on' if gil else 'off'}; "
          f"{args.count:,} calls per thread, best of {args.reps}; M calls/s, and the "
          f"scaling over 1 thread")
    for kind in args.keys.split(","):
        n = size // 10 if kind == "obj" else size
        containers = {"map": build(kind, n, "map"), "dict": build(kind, n, "dict")}
        print(f"\n{kind} keys, {n:,}")
        print(f"  {'op':<10}{'':<6}" + "".join(f"{t:>8} thr" for t in threads) + "   scaling")
        for op in args.ops.split(","):
            for which, container in containers.items():
                if which == "dict" and op not in DICT_OPS:
                    continue
                best = [max(run_threads(container, op, kind, n, t, args.count, 7 + r)
                            for r in range(args.reps)) for t in threads]
                scaling = "  ".join(f"{b / best[0]:.2f}x" for b in best[1:])
                print(f"  {op:<10}{which:<6}" + "".join(f"{b / 1e6:12.2f}" for b in best)
                      + f"   {scaling}", flush=True)
                if (args.guard and which == "map" and op != "mix90"
                        and best[-1] / best[0] < args.guard):
                    low.append(f"{kind} {op}: {best[-1] / best[0]:.2f}x")
    if low:
        print(f"\nFAIL: scaling below {args.guard}x at {threads[-1]} threads: " + ", ".join(low))
        return 1
    if args.guard:
        print(f"\nOK: every read of the map scales at least {args.guard}x at {threads[-1]} threads")
    return 0


if __name__ == "__main__":
    sys.exit(main())
