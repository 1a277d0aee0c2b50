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
import operator
import random
import sys
from functools import partial

import bplustree3
from bench_harness import (write_results, MEMORY_FLAG, Contender, installed, memory_in_child, parse_list,
                           parse_size, print_target_summary, report_skipped, rotated,
                           rss_growth, run_guard, summarize, target_status, time_per_unit)

REFERENCE, BASELINE = "bplustree3", "sortedcontainers"
KEY_TYPES = ["int", "dense", "str", "int-key"]
OPS = ["add", "remove", "contains", "getitem", "index", "bisect_left", "irange100",
       "islice100", "iterate", "update", "build", "delslice", "count", "memory"]
MEMORY_MIN_SIZE = 100_000

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
    """bplustree3's list for kind and sortedcontainers' when it is installed
    (new(values=()) makes one), and the missing ones as {name: package}."""
    key = operator.neg if kind == "int-key" else None

    def ours():
        cls = (bplustree3.SortedList if key is None
               else partial(bplustree3.SortedKeyList, key=key))
        return Contender(REFERENCE, lambda v=(): cls(v))

    def theirs():
        import sortedcontainers

        cls = (sortedcontainers.SortedList if key is None
               else partial(sortedcontainers.SortedKeyList, key=key))
        return Contender(BASELINE, lambda v=(): cls(v))

    found, missing = installed({REFERENCE: ours, BASELINE: theirs})
    return list(found.values()), missing


def workload(op, make, values, probes, positions, starts, extra):
    """(setup, run, units): run(setup()) is what is timed, units of work;
    setup makes the list (from values, but for add) untimed."""
    n = len(values)

    def full():
        return make(values)

    if op == "add":
        def add_all(sl):
            add = sl.add
            return [add(v) for v in values]
        return make, add_all, n
    if op == "build":
        return lambda: values, make, n
    if op == "remove":
        order = values[:]
        random.Random(5).shuffle(order)  # nosec B311

        def remove_all(sl):
            remove = sl.remove
            return [remove(v) for v in order]
        return full, remove_all, n
    if op == "contains":
        return full, lambda sl: [p in sl for p in probes], len(probes)
    if op == "count":
        def count_all(sl):
            count = sl.count
            return [count(p) for p in probes]
        return full, count_all, len(probes)
    if op == "getitem":
        def get_all(sl):
            get = sl.__getitem__
            return [get(i) for i in positions]
        return full, get_all, len(positions)
    if op == "index":
        present = values[:len(probes)]

        def index_all(sl):
            index = sl.index
            return [index(p) for p in present]
        return full, index_all, len(present)
    if op == "bisect_left":
        def bisect_all(sl):
            bisect = sl.bisect_left
            return [bisect(p) for p in probes]
        return full, bisect_all, len(probes)
    if op == "irange100":
        def with_bounds():
            sl = make(values)
            srt = list(sl)
            return sl, [(srt[s], srt[s + 99]) for s in starts]

        def ranges(arg):
            sl, bounds = arg
            irange = sl.irange
            for lo, hi in bounds:
                for _ in irange(lo, hi):
                    pass
        return with_bounds, ranges, len(starts)
    if op == "islice100":
        def slices(sl):
            islice = sl.islice
            for s in starts:
                for _ in islice(s, s + 100):
                    pass
        return full, slices, len(starts)
    if op == "iterate":
        def iterate(sl):
            for _ in sl:
                pass
        return full, iterate, n
    if op == "update":
        return full, lambda sl: sl.update(extra), len(extra)
    if op == "delslice":
        def delete_slices(sl):
            while sl:
                del sl[len(sl) // 2:len(sl) // 2 + 1000]
        return full, delete_slices, n
    raise ValueError(op)


def fresh_values(kind, n):
    """N values made one at a time, so that the list built from them holds
    the only references to them."""
    rng = random.Random(1)  # nosec B311
    if kind == "str":
        return ("".join(rng.choices("abcdefghijklmnopqrstuvwxyz", k=16)) for _ in range(n))
    if kind == "dense":
        return (rng.randrange(n) for _ in range(n))
    return (rng.getrandbits(62) for _ in range(n))


def memory_child(kind, n, who):
    """Runs in a fresh process: print the RSS growth per value of one list."""
    make = next(c.new for c in contenders(kind)[0] if c.name == who)
    print(f"{rss_growth(lambda: make(fresh_values(kind, n)), n):.3f}")


def bench(kind, n, reps, ops, samples):
    """Add kind's cells at size n to samples: per repetition, ns per unit
    (bytes per value for memory), contenders interleaved."""
    rng = random.Random(42)  # nosec B311
    values = make_values(kind, n, rng)
    extra = make_values(kind, n, random.Random(43))  # nosec B311
    q = min(n, 200_000)
    probes = [rng.choice(values) if i % 2 else make_values(kind, 1, rng)[0] for i in range(q)]
    positions = [rng.randrange(n) for _ in range(q)]
    starts = [rng.randrange(max(1, n - 200)) for _ in range(min(q, 20_000))]
    peers = contenders(kind)[0]
    for op in ops:
        if op == "memory":
            if n >= MEMORY_MIN_SIZE:
                for c in peers:
                    samples[(kind, n, op, c.name)] = [memory_in_child(__file__, kind, n, c.name)]
            continue
        for rep in range(reps):
            for c in rotated(peers, rep):
                setup, run, units = workload(op, c.new, values, probes, positions, starts,
                                             extra)
                seconds = time_per_unit(run, units, setup=setup)
                samples.setdefault((kind, n, op, c.name), []).append(seconds * 1e9)


def print_rows(summary, kind, n, ops, marks):
    print(f"\n{kind}, {n:,} values: bplustree3 vs sortedcontainers (ratio > 1: faster)")
    for op in ops:
        mine = summary.get((kind, n, op, REFERENCE))
        if mine is None:
            continue
        theirs = summary.get((kind, n, op, BASELINE))
        unit = "B/value" if op == "memory" else "ns"
        line = f"  {op:<12} {mine['median']:10.1f} "
        if theirs is None or mine["ratio"] is None:
            line += f"{'-':>10} {unit:<8} {'-':>7}"
        else:
            line += f"{theirs['median']:10.1f} {unit:<8} {mine['ratio']:6.2f}x"
        target = TARGETS.get(kind, {}).get(op)
        mark = marks.get((kind, n, op))
        verdict = "" if mark is None else (" met" if mark["met"] else " MISSED")
        print(line + ("" if target is None else f"  (target {target}x:{verdict})"))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="1M")
    ap.add_argument("--keys", default="int,dense,str,int-key")
    ap.add_argument("--ops", default=",".join(OPS))
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--json", help="write the results (and the machine, the commit) here")
    ap.add_argument("--guard", action="store_true",
                    help=f"1M, {', '.join(GUARD_OPS)}; exit 1 when one is below "
                         f"{GUARD_MARGIN} x its target")
    ap.add_argument(MEMORY_FLAG, nargs=3, metavar=("KEYS", "N", "CONTENDER"),
                    help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args._memory:
        kind, n, who = args._memory
        memory_child(kind, int(n), who)
        return 0
    if args.guard:
        args.sizes, args.reps, args.ops = "1M", 2, ",".join(GUARD_OPS)
    sizes = [parse_size(s) for s in args.sizes.split(",")]
    kinds = parse_list(args.keys, KEY_TYPES, "key types")
    ops = parse_list(args.ops, OPS, "operations")
    report_skipped([REFERENCE, BASELINE], contenders(kinds[0])[1])
    samples = {}
    for kind in kinds:
        for n in sizes:
            bench(kind, n, args.reps, ops, samples)
            summary = summarize(samples, BASELINE)
            marks = {(t["key_type"], t["size"], t["op"]): t
                     for t in target_status(summary, TARGETS, REFERENCE)}
            print_rows(summary, kind, n, ops, marks)
    summary = summarize(samples, BASELINE)
    status = target_status(summary, {k: TARGETS[k] for k in kinds}, REFERENCE)
    if args.json:
        write_results(args.json, summary, ("key_type", "size", "op", "contender"), status,
                      {"sizes": sizes, "key_types": kinds, "ops": ops, "reps": args.reps})
    if not args.guard:
        print_target_summary(status)
        return 0
    guarded = {k: {op: TARGETS[k][op] for op in GUARD_OPS if op in TARGETS[k]} for k in kinds}
    return run_guard(summary, max(sizes), GUARD_MARGIN, guarded, REFERENCE, BASELINE)


if __name__ == "__main__":
    sys.exit(main())
