"""BPlusTreeMap next to sortedcontainers.SortedDict, in one process: build,
lookups, range queries, neighbour queries and iteration over the same
random int keys, best of three interleaved runs, with the ratio of their
times. A few seconds at the default 100,000 keys; the first argument sets
the number of keys. Without sortedcontainers it says so and times
BPlusTreeMap alone. The full benchmark, with its method and every figure,
is benchmarks/bench.py (docs/performance.md)."""

import random
import sys
import time
from itertools import islice

from bplustree3 import BPlusTreeMap

try:
    from sortedcontainers import SortedDict
except ImportError:
    SortedDict = None

N = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
REPEAT = 3
# A fixed seed: the same keys every run, not secrets.
rng = random.Random(13)  # nosec B311
keys = rng.sample(range(2**62), N)
pairs = [(k, k) for k in keys]
sorted_pairs = sorted(pairs)
probes = rng.sample(keys, min(N, 20_000))
starts = [rng.randrange(2**62) for _ in range(1_000)]


def build_inserts(cls):
    m = cls()
    for k, v in pairs:
        m[k] = v
    return m


def lookups(m):
    for k in probes:
        m[k]


def ranges_ours(m):
    for lo in starts:  # the 100 items from lo on
        list(islice(m.items(lo, None), 100))


def ranges_sorted_dict(sd):
    for lo in starts:
        [(k, sd[k]) for k in islice(sd.irange(lo), 100)]


def floor_ours(m):
    for k in starts:
        m.floor(k)


def floor_sorted_dict(sd):
    keys = sd.keys()
    for k in starts:
        i = sd.bisect_right(k)
        if i:
            keys[i - 1]


def iterate_items(m):
    for _ in m.items():
        pass


# Each row: what it times, then how for BPlusTreeMap and for SortedDict,
# each a function of the map built by the first row.
ROWS = [
    ("build, random inserts", lambda m: build_inserts(BPlusTreeMap),
     lambda sd: build_inserts(SortedDict)),
    ("build from sorted pairs", lambda m: BPlusTreeMap.from_sorted_items(sorted_pairs),
     lambda sd: SortedDict(sorted_pairs)),
    (f"{len(probes):,} lookups m[k]", lookups, lookups),
    ("1,000 ranges of 100 items", ranges_ours, ranges_sorted_dict),
    ("1,000 floor queries", floor_ours, floor_sorted_dict),
    ("iterate every item", iterate_items, iterate_items),
]


def elapsed(fn, arg):
    start = time.perf_counter()
    fn(arg)
    return time.perf_counter() - start


def main():
    print(f"{N:,} random int keys, best of {REPEAT} interleaved runs")
    if SortedDict is None:
        print("sortedcontainers is not installed (pip install sortedcontainers):"
              " timing BPlusTreeMap alone")
    ours = BPlusTreeMap(pairs)
    theirs = SortedDict(pairs) if SortedDict else None
    print(f"{'operation':<28}{'BPlusTreeMap':>14}{'SortedDict':>14}{'ratio':>9}")
    for name, fn_ours, fn_theirs in ROWS:
        t_ours = t_theirs = float("inf")
        for _ in range(REPEAT):
            t_ours = min(t_ours, elapsed(fn_ours, ours))
            if theirs is not None:
                t_theirs = min(t_theirs, elapsed(fn_theirs, theirs))
        if theirs is None:
            print(f"{name:<28}{t_ours * 1e3:>11.2f} ms{'-':>14}{'-':>9}")
        else:
            print(f"{name:<28}{t_ours * 1e3:>11.2f} ms{t_theirs * 1e3:>11.2f} ms"
                  f"{t_theirs / t_ours:>8.2f}x")
    if theirs is not None:
        print("ratio: SortedDict's time / BPlusTreeMap's (above 1: BPlusTreeMap is faster)")


main()
