#!/usr/bin/env python3
"""Side-by-side benchmark of bplustree3.SortedList against
sortedcontainers.SortedList (and the SortedKeyLists), in one process, on the
same data, interleaved repetitions; reports ns per item and the ratio
sortedcontainers' time / bplustree3's time (> 1: bplustree3 is faster).

    python3 benchmarks/bench_list.py                 # 1M, every key type
    python3 benchmarks/bench_list.py --sizes 1M,10M  # the issue's table (10M: long)
    python3 benchmarks/bench_list.py --guard         # the test command's regression guard

Key types: ``int`` random ints in [0, 2**62); ``dense`` 0..N-1 in random
order; ``str`` random 16-letter ASCII strings; ``int-key`` random ints with
a key function (``neg``: SortedKeyList). Each list holds N values with
about 1% duplicates (values drawn with replacement from 0.99 N).

Operations (per item or query): add (N adds into an empty list), remove
(every value, random order), contains (half present), getitem (``sl[i]``),
index, bisect_left, irange100 and islice100 (100 values from random
starts), iterate, update (N new values into a list of N), build
(``SortedList(values)``), delslice (``del sl[i:i+1000]`` until empty),
count. Iterations are consumed by ``for`` loops, as programs consume them.
count, and memory: the RSS growth per value of a fresh process that
builds the list from values made on the fly, so that the list holds the
only references to them (a SortedList of ints holds no int objects: it
stores the numbers).
"""

import argparse
import gc
import operator
import random
import statistics
import subprocess  # nosec B404
import sys
import time

import sortedcontainers

import bplustree3

OPS = ["add", "remove", "contains", "getitem", "index", "bisect_left", "irange100",
       "islice100", "iterate", "update", "build", "delslice", "count", "memory"]

# Targets (ratio to sortedcontainers) from issue 22: per key type, op -> ratio.
TARGETS = {
    "int": {"add": 5, "remove": 6, "contains": 5, "bisect_left": 5, "getitem": 3, "index": 3,
            "irange100": 4, "islice100": 4, "iterate": 3, "build": 1, "update": 1,
            "memory": 2},
    "dense": {"add": 5, "remove": 6, "contains": 5, "bisect_left": 5, "getitem": 3,
              "index": 3, "irange100": 4, "islice100": 4, "iterate": 3, "build": 1,
              "update": 1, "memory": 2},
    "str": {"add": 3.5, "remove": 3.5, "contains": 3, "getitem": 2, "iterate": 1.5,
            "build": 0.9, "update": 0.9},
    "int-key": {"add": 2, "remove": 2, "getitem": 1.5, "index": 1.5, "bisect_left": 1.5},
}


# The guard (scripts/test.sh): at 1M, these operations must reach half
# their target, a margin for the noise of a shared machine; it catches a
# change that costs a multiple, not a few percent.
GUARD_OPS = ["add", "remove", "contains", "getitem", "bisect_left", "build", "update"]
GUARD_MARGIN = 0.5


def make_values(kind, n, rng):
    space = max(1, n * 99 // 100)
    if kind == "dense":
        values = [rng.randrange(space) for _ in range(n)]
    elif kind == "str":
        pool = ["".join(rng.choices("abcdefghijklmnopqrstuvwxyz", k=16)) for _ in range(space)]
        values = [rng.choice(pool) for _ in range(n)]
    else:
        pool = [rng.getrandbits(62) for _ in range(space)]
        values = [rng.choice(pool) for _ in range(n)]
    return values


def contenders(kind):
    key = operator.neg if kind == "int-key" else None
    if key is None:
        return {"bplustree3": lambda v=(): bplustree3.SortedList(v),
                "sortedcontainers": lambda v=(): sortedcontainers.SortedList(v)}
    return {"bplustree3": lambda v=(): bplustree3.SortedKeyList(v, key=key),
            "sortedcontainers": lambda v=(): sortedcontainers.SortedKeyList(v, key=key)}


def timed(fn):
    gc.collect()
    gc.disable()
    try:
        t0 = time.perf_counter()
        fn()
        return time.perf_counter() - t0
    finally:
        gc.enable()


def run_op(op, make, values, probes, positions, starts, extra):
    """Seconds for op and how many units it did."""
    n = len(values)
    if op == "add":
        sl = make()
        add = sl.add
        return timed(lambda: [add(v) for v in values]), n
    if op == "build":
        return timed(lambda: make(values)), n
    sl = make(values)
    if op == "remove":
        order = values[:]
        random.Random(5).shuffle(order)  # nosec B311
        remove = sl.remove
        return timed(lambda: [remove(v) for v in order]), n
    if op == "contains":
        return timed(lambda: [p in sl for p in probes]), len(probes)
    if op == "count":
        count = sl.count
        return timed(lambda: [count(p) for p in probes]), len(probes)
    if op == "getitem":
        get = sl.__getitem__
        return timed(lambda: [get(i) for i in positions]), len(positions)
    if op == "index":
        index = sl.index
        present = values[:len(probes)]
        return timed(lambda: [index(p) for p in present]), len(present)
    if op == "bisect_left":
        bisect = sl.bisect_left
        return timed(lambda: [bisect(p) for p in probes]), len(probes)
    if op == "irange100":
        srt = list(sl)
        bounds = [(srt[s], srt[s + 99]) for s in starts]
        irange = sl.irange

        def go():
            for lo, hi in bounds:
                for _ in irange(lo, hi):
                    pass
        return timed(go), len(bounds)
    if op == "islice100":
        islice = sl.islice

        def go():
            for s in starts:
                for _ in islice(s, s + 100):
                    pass
        return timed(go), len(starts)
    if op == "iterate":
        def go():
            for _ in sl:
                pass
        return timed(go), n
    if op == "update":
        return timed(lambda: sl.update(extra)), len(extra)
    if op == "delslice":
        def go():
            while sl:
                del sl[len(sl) // 2:len(sl) // 2 + 1000]
        return timed(go), n
    raise ValueError(op)


MEMORY_CHILD = r"""
import gc, sys, random
kind, n, who = sys.argv[1], int(sys.argv[2]), sys.argv[3]
sys.path.insert(0, sys.argv[4])
from bench_list import contenders
rng = random.Random(1)
if kind == "str":
    fresh = ("".join(rng.choices("abcdefghijklmnopqrstuvwxyz", k=16)) for _ in range(n))
elif kind == "dense":
    fresh = (rng.randrange(n) for _ in range(n))
else:
    fresh = (rng.getrandbits(62) for _ in range(n))
gc.collect()
def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096
before = rss()
sl = contenders(kind)[who](fresh)
gc.collect()
print((rss() - before) / n)
"""


def memory(kind, n, who):
    out = subprocess.run([sys.executable, "-c", MEMORY_CHILD, kind, str(n), who,  # nosec B603
                          sys.path[0]], capture_output=True, text=True, check=True)
    return float(out.stdout)


def bench(kind, n, reps, ops):
    rng = random.Random(42)  # nosec B311
    values = make_values(kind, n, rng)
    extra = make_values(kind, n, random.Random(43))  # nosec B311
    q = min(n, 200_000)
    probes = [rng.choice(values) if i % 2 else make_values(kind, 1, rng)[0] for i in range(q)]
    positions = [rng.randrange(n) for _ in range(q)]
    starts = [rng.randrange(max(1, n - 200)) for _ in range(min(q, 20_000))]
    rows = {}
    for op in ops:
        if op == "memory":
            if n < 100_000:
                continue
            res = {who: memory(kind, n, who) for who in ("bplustree3", "sortedcontainers")}
            rows[op] = (res["bplustree3"], res["sortedcontainers"], "B/value")
            continue
        times = {"bplustree3": [], "sortedcontainers": []}
        for _ in range(reps):
            for who, make in contenders(kind).items():
                secs, units = run_op(op, make, values, probes, positions, starts, extra)
                times[who].append(secs / units * 1e9)
        rows[op] = (statistics.median(times["bplustree3"]),
                    statistics.median(times["sortedcontainers"]), "ns")
    return rows


def parse_size(s):
    s = s.strip().upper()
    mult = 1_000_000 if s.endswith("M") else 1_000 if s.endswith("K") else 1
    return int(float(s.rstrip("MK")) * mult)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="1M")
    ap.add_argument("--keys", default="int,dense,str,int-key")
    ap.add_argument("--ops", default=",".join(OPS))
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--guard", action="store_true",
                    help=f"1M, {', '.join(GUARD_OPS)}; exit 1 when one is below "
                         f"{GUARD_MARGIN} x its target")
    args = ap.parse_args()
    if args.guard:
        args.sizes, args.reps, args.ops = "1M", 2, ",".join(GUARD_OPS)
    margin = GUARD_MARGIN if args.guard else 1.0
    sizes = [parse_size(s) for s in args.sizes.split(",")]
    missed = []
    for kind in args.keys.split(","):
        for n in sizes:
            rows = bench(kind, n, args.reps, args.ops.split(","))
            print(f"\n{kind}, {n:,} values: bplustree3 vs sortedcontainers (ratio > 1: faster)")
            for op, (mine, theirs, unit) in rows.items():
                ratio = theirs / mine if mine else float("inf")
                target = TARGETS.get(kind, {}).get(op)
                verdict = "" if target is None else (" met" if ratio >= target else " MISSED")
                if target is not None and ratio < target * margin:
                    missed.append((kind, n, op, ratio, target))
                print(f"  {op:<12} {mine:10.1f} {theirs:10.1f} {unit:<8} {ratio:6.2f}x"
                      + ("" if target is None else f"  (target {target}x:{verdict})"))
    if missed:
        print("\nmissed:", ", ".join(f"{k} {n:,} {op} {r:.2f}x < {t * margin:g}x"
                                       for k, n, op, r, t in missed))
    if args.guard:
        print("guard:", "FAILED" if missed else "passed")
        sys.exit(1 if missed else 0)


if __name__ == "__main__":
    main()
