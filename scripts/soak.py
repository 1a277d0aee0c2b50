#!/usr/bin/env python3
"""Soak test for bplustree3.BPlusTreeMap: random operations on a map of 1M+
items from several threads, check() every few seconds; exits 1 if RSS grows
past a bound after warm-up or if any answer is wrong.

Key indices 0 .. 2N-1 are cut into one contiguous stripe per thread, and the
map starts with the N even ones. Each worker touches only its stripe's keys
and alone keeps a reference of what they map to, so every answer is known
while other threads mutate the map: lookups, pops, setdefault, delete_range,
range reads, neighbour queries, popitem/poplast at the map's ends, and whole
map copies (check()ed, compared on the stripe). Inserts balance removals, so
the size stays near N and a leak shows as RSS growth. Nothing relies on the
GIL: it runs unchanged on a free-threaded build. Each thread's operations are
a function of --seed (their interleaving is not).
"""

import argparse
import itertools
import os
import random
import sys
import threading
import time
import traceback
from dataclasses import dataclass

from bplustree3 import BPlusTreeMap, InvariantError

MISSING = object()


@dataclass(order=True, frozen=True)
class Key:
    """A key of --key-type mixed: an int compared by Python code (__lt__)."""

    v: int


def key_codec(kind, universe):
    """(index -> key, key -> index), both order-preserving."""
    if kind == "int":
        return int, int
    if kind == "str":  # zero-padded: str order is int order
        width = len(str(universe))
        return (lambda i: f"{i:0{width}d}"), int
    return Key, (lambda k: k.v)


def rss_mb():
    """The current RSS in MB (the peak RSS where /proc is missing)."""
    try:
        with open("/proc/self/status") as f:
            return next(int(ln.split()[1]) for ln in f if ln.startswith("VmRSS:")) / 1024
    except (OSError, StopIteration):
        import resource  # ru_maxrss is in kB on Linux, bytes on macOS

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak / (1024 * 1024 if sys.platform == "darwin" else 1024)


def attempt(fn, *args):
    """fn(*args), or MISSING if it raises KeyError."""
    try:
        return fn(*args)
    except KeyError:
        return MISSING


class Mismatch(Exception):
    pass


class Worker(threading.Thread):
    NEAR = 32  # keys a neighbour query scans for its answer before "beyond"

    def __init__(self, tid, m, lo, hi, universe, ref, codec, soak):
        super().__init__(name=f"soak-{tid}", daemon=True)
        # ref[j - lo] is the value of key index j, or MISSING: a flat list,
        # not a dict, whose table rebuilds under churn would make RSS jumpy.
        self.tid, self.m, self.lo, self.hi, self.ref, self.soak = tid, m, lo, hi, ref, soak
        self.key, self.idx = codec
        # Replayable seeds, not secrets.
        self.rng, self.serial = random.Random(soak.seed + tid), 0  # nosec B311
        self.ops = self.copies = self.retries = self.skipped = 0
        self.at_bottom, self.at_top = lo == 0, hi == universe  # own the map's ends
        self.low, self.high = lo, hi - 1  # no key of ours below low or above high
        self.next_copy = soak.start + soak.warmup * (tid + 1) / (soak.threads + 1)
        # Inserts (set 28 + setdefault 6) balance removals (pop 16 +
        # delete_range 2 x ~8.5 keys) at half density: the size stays near N.
        # read-heavy: 90 reads to 6.2 writes, balanced the same way (set 3 +
        # setdefault 1 against pop 2 + delete_range 0.2 x ~8.5 keys).
        if soak.mix == "read-heavy":
            table = [(self.op_set, 3), (self.op_get, 40), (self.op_contains, 20),
                     (self.op_pop, 2), (self.op_setdefault, 1), (self.op_delete_range, 0.2),
                     (self.op_neighbour, 20), (self.op_range, 10)]
        else:
            table = [(self.op_set, 28), (self.op_get, 15), (self.op_contains, 8),
                     (self.op_pop, 16), (self.op_setdefault, 6), (self.op_delete_range, 2),
                     (self.op_neighbour, 10), (self.op_range, 5)]
        if self.at_bottom or self.at_top:
            table.append((self.op_end, 1))
        self.table, self.weights = zip(*table)

    def run(self):
        rng, lo, hi, soak = self.rng, self.lo, self.hi, self.soak
        try:
            while not soak.stop.is_set():
                if time.monotonic() >= self.next_copy and soak.copying.acquire(False):
                    try:  # one copy alive at a time, for a steady RSS
                        self.check_copy()
                    finally:
                        soak.copying.release()
                    self.next_copy = time.monotonic() + soak.copy_every
                for op in rng.choices(self.table, self.weights, k=64):
                    op(rng.randrange(lo, hi))
                self.ops += 64
        except Mismatch as e:
            soak.fail(f"thread {self.tid}: wrong answer: {e}")
        except BaseException:
            soak.fail(f"thread {self.tid}: exception:\n{traceback.format_exc()}")

    def expect(self, what, got, want):
        if not (got is want or got == want):
            raise Mismatch(f"{what}: got {got!r}, expected {want!r}")

    def at(self, j):  # the value key index j must have, or MISSING
        return self.ref[j - self.lo]

    def has(self, j):
        return self.ref[j - self.lo] is not MISSING

    def put(self, j, v):
        self.ref[j - self.lo] = v
        if v is not MISSING:
            self.low, self.high = min(self.low, j), max(self.high, j)

    def value(self, i):  # encodes the key, so a value of another key shows
        self.serial += 1
        return i * 1024 + (self.serial & 1023)

    def as_pair(self, item):  # a (key, value) from the map, its key as an index
        return None if item is None else (self.idx(item[0]), item[1])

    def read(self, make):
        """list(make()), retried when changes to the tree's structure by other
        threads invalidate the iterator (a RuntimeError, as documented)."""
        for _ in range(20):
            try:
                return list(make())
            except RuntimeError as e:
                if "during iteration" not in str(e):
                    raise
                self.retries += 1
        self.skipped += 1
        return None

    # -- operations on key index i of the thread's own stripe ------------------
    def op_set(self, i):
        v = self.value(i)
        self.m[self.key(i)] = v
        self.put(i, v)

    def op_setdefault(self, i):
        v = self.value(i)
        want = self.at(i) if self.has(i) else v
        self.expect(f"setdefault({i})", self.m.setdefault(self.key(i), v), want)
        self.put(i, want)

    def op_get(self, i):
        k = self.key(i)
        got = self.m.get(k, MISSING) if self.rng.random() < 0.5 else attempt(self.m.__getitem__, k)
        self.expect(f"get({i})", got, self.at(i))

    def op_contains(self, i):
        self.expect(f"{i} in map", self.key(i) in self.m, self.has(i))

    def op_pop(self, i):
        k = self.key(i)
        got = self.m.pop(k, MISSING) if self.rng.random() < 0.6 else attempt(self.m.pop, k)
        self.expect(f"pop({i})", got, self.at(i))
        self.put(i, MISSING)

    def op_delete_range(self, a):
        b = min(self.hi, a + self.rng.randint(1, 16))
        want = sum(map(self.has, range(a, b)))
        self.expect(f"delete_range({a}, {b})", self.m.delete_range(self.key(a), self.key(b)), want)
        self.ref[a - self.lo:b - self.lo] = [MISSING] * (b - a)

    def op_neighbour(self, q):
        name = self.rng.choice(("floor", "ceiling", "lower", "higher"))
        step = -1 if name in ("floor", "lower") else 1
        start = q if name in ("floor", "ceiling") else q + step
        edge = max(self.lo, q - self.NEAR) if step < 0 else min(self.hi - 1, q + self.NEAR)
        got, what = self.as_pair(getattr(self.m, name)(self.key(q))), f"{name}({q})"
        for j in range(start, edge + step, step):
            if self.has(j):
                return self.expect(what, got, (j, self.at(j)))
        # None of ours up to edge: the answer lies beyond it, None past the
        # map's end, and one of ours (with its value) if inside our stripe.
        if got is None:
            return
        map_end = edge == self.lo and self.at_bottom if step < 0 else \
            edge == self.hi - 1 and self.at_top
        if map_end or (got[0] - edge) * step <= 0:
            raise Mismatch(f"{what}: got {got!r}, nothing expected up to {edge}")
        if self.lo <= got[0] < self.hi:
            self.expect(what, got, (got[0], self.at(got[0])))

    def op_range(self, a):
        b = min(self.hi, a + self.rng.randint(1, 128))
        key, kind = self.key, self.rng.randrange(3)
        present = [j for j in range(a, b) if self.has(j)]
        if kind == 0:
            got = self.read(lambda: self.m.items(key(a), key(b)))
            got, want = got and list(map(self.as_pair, got)), [(j, self.at(j)) for j in present]
        elif kind == 1:
            got = self.read(lambda: self.m.values(key(a), key(b)))
            want = list(map(self.at, present))
        else:  # irange over [a, b - 1], each end in or out, either way round
            incl, rev = (self.rng.random() < 0.5, self.rng.random() < 0.5), self.rng.random() < 0.5
            got = self.read(lambda: self.m.irange(key(a), key(b - 1), incl, rev))
            got = got and [self.idx(k) for k in got]
            want = [j for j in present if (incl[0] or j != a) and (incl[1] or j != b - 1)]
            want = want[::-1] if rev else want
        if got is not None:
            self.expect(f"range #{kind} [{a}, {b})", got, want)

    def op_end(self, _):
        """first/popitem (bottom stripe) or last/poplast (top stripe)."""
        if self.at_bottom and (not self.at_top or self.rng.random() < 0.5):
            while self.low < self.hi and not self.has(self.low):
                self.low += 1
            j, name = self.low, self.rng.choice(("popitem", "first"))
        else:
            while self.high >= self.lo and not self.has(self.high):
                self.high -= 1
            j, name = self.high, self.rng.choice(("poplast", "last"))
        if self.lo <= j < self.hi:  # else our stripe is empty: not ours to ask
            self.expect(name, self.as_pair(getattr(self.m, name)()), (j, self.at(j)))
            if name.startswith("pop"):
                self.put(j, MISSING)

    def check_copy(self):
        c = self.m.copy()
        c.check()
        self.check_stripe(c, "copy()")
        self.copies += 1

    def check_stripe(self, m, what):
        """m (which no other thread mutates) holds exactly our items, in order."""
        got = m.items(self.key(self.lo), self.key(self.hi))
        want = ((j, v) for j, v in enumerate(self.ref, self.lo) if v is not MISSING)
        for item, pair in itertools.zip_longest(got, want):
            self.expect(f"{what} on stripe [{self.lo}, {self.hi})", self.as_pair(item), pair)


class Soak:
    """What the monitor and the workers share."""

    def __init__(self, args):
        self.seed, self.threads, self.copy_every = args.seed, args.threads, args.copy_every
        self.mix = args.mix
        self.stop, self.failures, self.copying = threading.Event(), [], threading.Lock()
        self.start, self.duration = time.monotonic(), args.minutes * 60
        self.warmup = max(0.2 * self.duration, args.check_every)  # >= 1 check interval

    def fail(self, message):
        self.failures.append(message)
        self.stop.set()


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--minutes", type=float, default=1.0)
    p.add_argument("--threads", type=int, default=4)
    p.add_argument("--items", type=int, default=1_000_000)
    p.add_argument("--seed", type=int, default=None, help="default: random, printed")
    p.add_argument("--check-every", type=float, default=10.0, metavar="SECONDS")
    p.add_argument("--copy-every", type=float, default=5.0, metavar="SECONDS",
                   help="how often each thread copies the whole map")
    # RSS slack: the warm-up's max includes a live copy of the map. After it,
    # with the GIL, RSS is flat at 1M int keys and creeps ~3 MB in 4 minutes
    # with str keys; free-threaded (mimalloc's per-thread heaps) it climbs
    # 20-50 MB more before it levels off. A leak of one 32-byte object per
    # operation (~10^5 ops/s in all) is ~200 MB a minute, one node per split
    # about as much: 64 MB catches these within ~20 s, and a leak every ~10
    # operations in a few minutes, without flaking on either interpreter.
    # Raise it with --items well past 1M (the noise grows with the heap).
    p.add_argument("--rss-slack-mb", type=float, default=64.0, metavar="MB")
    p.add_argument("--key-type", choices=("int", "str", "mixed"), default="int")
    p.add_argument("--mix", choices=("balanced", "read-heavy"), default="balanced",
                   help="read-heavy: 90%% reads (the shared reads of a free-threaded build)")
    p.add_argument("--progress-every", type=float, default=5.0, metavar="SECONDS")
    args = p.parse_args()
    if args.threads < 1 or args.items < args.threads:
        p.error("need --threads >= 1 and --items >= --threads")
    if args.seed is None:
        args.seed = int.from_bytes(os.urandom(4), "little")
    sys.setswitchinterval(1e-5)  # with a GIL: switch threads often, more interleavings

    universe, t = 2 * args.items, args.threads
    codec = key_codec(args.key_type, universe)
    bounds = [universe * k // t for k in range(t + 1)]
    refs = [[MISSING] * (bounds[k + 1] - bounds[k]) for k in range(t)]

    def initial():  # the even indices, each recorded in its stripe's reference
        for k in range(t):
            for i in range(bounds[k] + (bounds[k] & 1), bounds[k + 1], 2):
                refs[k][i - bounds[k]] = v = i * 1024
                yield codec[0](i), v

    t0 = time.monotonic()
    m = BPlusTreeMap.from_sorted_items(initial())
    m.check()
    gil = getattr(sys, "_is_gil_enabled", lambda: True)()
    print(f"soak: {len(m):,} {args.key_type} items loaded in {time.monotonic() - t0:.1f} s, "
          f"RSS {rss_mb():.0f} MB; {t} threads, {args.mix} mix, {args.minutes:g} min, seed {args.seed}, "
          f"GIL {'on' if gil else 'off'}, Python {sys.version.split()[0]}", flush=True)
    soak = Soak(args)
    if soak.warmup >= soak.duration:
        print("soak: warning: the run ends within warm-up, RSS is not bounded", flush=True)
    workers = [Worker(k, m, bounds[k], bounds[k + 1], universe, refs[k], codec, soak)
               for k in range(t)]
    for w in workers:
        w.start()

    # The monitor: check() every --check-every s, RSS sampled every 0.25 s.
    baseline = peak = 0.0
    checks, next_check = 0, soak.start + args.check_every
    last_print, last_ops = soak.start, [0] * t
    while not soak.stop.wait(0.25):
        now = time.monotonic()
        elapsed = now - soak.start
        if now >= next_check:
            try:
                m.check()
            except InvariantError as e:
                soak.fail(f"check() failed: invariant {getattr(e, 'invariant', '?')!r}: {e}")
            except Exception:
                soak.fail(f"check() raised:\n{traceback.format_exc()}")
            checks, next_check = checks + 1, time.monotonic() + args.check_every
        rss = rss_mb()
        peak = max(peak, rss)
        if elapsed < soak.warmup or checks == 0:  # warm-up: the baseline is its max
            baseline = max(baseline, rss)
        elif rss > baseline + args.rss_slack_mb:
            soak.fail(f"RSS {rss:.0f} MB exceeds the warm-up baseline {baseline:.0f} MB "
                      f"+ {args.rss_slack_mb:g} MB slack at {elapsed:.0f} s")
        if now - last_print >= args.progress_every:
            ops = [w.ops for w in workers]
            rates = " ".join(f"{(o - o0) / (now - last_print) / 1e3:.1f}k"
                             for o, o0 in zip(ops, last_ops))
            print(f"  {elapsed:6.1f} s  ops/s per thread [{rates}]  total {sum(ops):,}  "
                  f"size {len(m):,}  RSS {rss:.0f} MB"
                  f"{'  (warm-up)' if elapsed < soak.warmup else ''}", flush=True)
            last_print, last_ops = now, ops
        if elapsed >= soak.duration:
            break
    soak.stop.set()
    for w in workers:
        w.join()

    if not soak.failures:  # alone now: the map must be exactly the references
        try:
            m.check()
            want = sum(len(r) - r.count(MISSING) for r in refs)
            if len(m) != want:
                soak.fail(f"final: len(map) is {len(m):,}, the references hold {want:,}")
            for w in workers:
                w.check_stripe(m, "final items()")
        except Exception:
            soak.fail(f"final verification:\n{traceback.format_exc()}")
    elapsed, total = time.monotonic() - soak.start, sum(w.ops for w in workers)
    print(f"soak: {'FAIL' if soak.failures else 'PASS'} {args.key_type}, {elapsed:.1f} s, "
          f"{t} threads, {total:,} ops ({total / elapsed / t / 1e3:.1f}k ops/s per thread), "
          f"size {len(m):,}, RSS baseline {baseline:.0f} MB peak {peak:.0f} MB final "
          f"{rss_mb():.0f} MB (slack {args.rss_slack_mb:g}), {checks} checks, "
          f"{sum(w.copies for w in workers)} copies, {sum(w.retries for w in workers)} "
          f"iterator retries ({sum(w.skipped for w in workers)} reads skipped), "
          f"seed {args.seed}", flush=True)
    for message in soak.failures[:5]:
        print(f"soak: FAILURE: {message}", file=sys.stderr)
    return 1 if soak.failures else 0


if __name__ == "__main__":
    sys.exit(main())
