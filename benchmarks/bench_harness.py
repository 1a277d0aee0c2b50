"""The harness the Python benchmarks share (bench.py, bench_list.py).

One piece of code per idea, for both scripts: contenders and the ones
skipped because their package is not installed; timing with the garbage
collector off; side-by-side repetitions, the first contender rotating;
medians and ratios against a baseline; targets met or missed and the
regression guard; memory as RSS growth in a fresh process; sizes and
lists on the command line; a progress bar. docs/performance.md, "Methods",
says how the benchmarks measure.

The scripts import this module as a sibling: run as ``python3
benchmarks/bench.py``, Python puts benchmarks/ first on sys.path.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import os
import platform
import statistics
# subprocess runs the calling benchmark script (its memory child), fixed arguments.
import subprocess  # nosec B404
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

# ---- Contenders -------------------------------------------------------------


@dataclass(frozen=True)
class Contender:
    """One structure under test: how to make it, and its way of doing each
    primitive an operation needs (a method, or the small helper function a
    user would write)."""

    name: str
    new: Callable  # a new structure (some benchmarks pass it initial contents)
    prims: dict[str, Callable] = field(default_factory=dict)
    ordered: bool = True  # iterates in key order

    def supports(self, needs: Iterable[str]) -> bool:
        """Whether it has every primitive in needs."""
        return all(p in self.prims for p in needs)

    def normalize(self, seq: list) -> list:
        """Iteration results in a comparable order (dict iterates unsorted)."""
        return seq if self.ordered else sorted(seq)


def installed(makers: Mapping[str, Callable[[], Contender]]
              ) -> tuple[dict[str, Contender], dict[str, str]]:
    """The contenders whose package imports, by name, and the others as
    {name: missing package}. Each maker imports its package itself, so that
    a benchmark runs with whatever is installed."""
    found, missing = {}, {}
    for name, make in makers.items():
        try:
            found[name] = make()
        except ModuleNotFoundError as err:
            missing[name] = (err.name or "?").split(".")[0]
    return found, missing


def report_skipped(asked: Iterable[str], missing: Mapping[str, str]) -> list[str]:
    """Print "skipped: OOBTree (BTrees not installed)" for each contender
    asked for that is missing; return their names."""
    skipped = [name for name in asked if name in missing]
    for name in skipped:
        print(f"skipped: {name} ({missing[name]} not installed)", flush=True)
    return skipped


# ---- Timing -----------------------------------------------------------------


def time_per_unit(run: Callable[[object], object], units: int, min_time: float = 0.0,
                  setup: Callable[[], object] = lambda: None) -> float:
    """Seconds per unit of ``run(setup())``, repeated until at least
    ``min_time`` seconds are timed (once at least). Only ``run`` is timed:
    ``setup`` (a fresh structure for an operation that empties it) and
    freeing what ``run`` returned are not. The garbage collector is
    collected, then off throughout."""
    elapsed, runs = 0.0, 0
    gc.collect()
    gc.disable()
    try:
        while runs == 0 or elapsed < min_time:
            # The previous run's result is freed here, untimed.
            seconds, _result = timed_run(run, setup())
            elapsed += seconds
            runs += 1
    finally:
        gc.enable()
    return elapsed / (runs * units)


def timed_run(run: Callable[[object], object], arg: object) -> tuple[float, object]:
    """Seconds of one ``run(arg)``, and its result, for the caller to free."""
    start = time.perf_counter()
    result = run(arg)
    return time.perf_counter() - start, result


# ---- Side by side -----------------------------------------------------------


def rotated(peers: Sequence, turn: int) -> list:
    """The peers starting from ``turn`` (modulo their number): in each
    repetition another contender runs first, so that none always runs on
    the caches, allocator or clock speed its predecessor left."""
    first = turn % len(peers)
    return [*peers[first:], *peers[:first]]


Cell = tuple  # (…, contender name): one measured cell of a table
Samples = dict  # Cell -> one value per repetition


def summarize(samples: Mapping[Cell, list[float]], baseline: str) -> dict[Cell, dict]:
    """Median, ratio and samples for every cell. The ratio is the
    baseline's median over the contender's (> 1: faster, or smaller); None
    when the baseline was not measured."""
    medians = {cell: statistics.median(values) for cell, values in samples.items()}
    out = {}
    for cell, median in medians.items():
        base = medians.get((*cell[:-1], baseline))
        ratio = base / median if base is not None and median > 0 else None
        out[cell] = {"median": median, "ratio": ratio, "samples": list(samples[cell])}
    return out


# ---- Targets and the guard --------------------------------------------------
# Targets: {key type: {operation: ratio}} for the reference contender
# against the baseline, checked in cells (key type, N, operation, name).


def target_status(summary: Mapping[Cell, dict], targets: Mapping[str, Mapping[str, float]],
                  reference: str, largest_only: bool = False) -> list[dict]:
    """The reference's ratio against each target it has a measured cell for
    (every size, or the largest measured per key type), met or not."""
    rows = []
    for kt, ops in targets.items():
        sizes = sorted({n for (k, n, _, _) in summary if k == kt})
        for n in sizes[-1:] if largest_only else sizes:
            for op, target in ops.items():
                cell = summary.get((kt, n, op, reference))
                if cell and cell["ratio"] is not None:
                    rows.append({"key_type": kt, "size": n, "op": op, "target": target,
                                 "ratio": cell["ratio"], "met": cell["ratio"] >= target})
    return rows


def fmt_value(v: float) -> str:
    """A measured value as the tables print it: 1,234, 56.7, 8.90."""
    if v >= 100:
        return f"{v:,.0f}"
    return f"{v:.1f}" if v >= 10 else f"{v:.2f}"


def fmt_target(target: float) -> str:
    return f">={target:.2f}x" if target < 1 else f">={target:g}x"


def print_target_summary(rows: Sequence[dict]) -> None:
    """"targets: 20 met, 1 missed" and a line per target missed."""
    if not rows:
        return
    missed = [t for t in rows if not t["met"]]
    print(f"\ntargets: {len(rows) - len(missed)} met, {len(missed)} missed"
          + "".join(f"\n  MISSED {t['key_type']} N={t['size']:,} {t['op']}: "
                    f"{t['ratio']:.2f}x < {fmt_target(t['target'])}" for t in missed))


def run_guard(summary: Mapping[Cell, dict], size: int, margin: float,
              targets: Mapping[str, Mapping[str, float]], reference: str, baseline: str,
              floors: Mapping[tuple[str, str], float] | None = None) -> int:
    """Exit status: 1 when a targeted ratio of the reference at ``size``
    falls below target * margin, or was not measured (a guard that checks
    nothing must fail). A target not met yet is held at its floor (the
    ratio measured when it was added) instead, times the margin."""
    floors = floors or {}
    width = max(6, *(len(kt) + 1 for kt in targets))
    failed = 0
    print(f"\nguard at N={size:,}: {reference} ratio against {baseline} must be "
          f">= target x {margin}")
    for kt, ops in targets.items():
        for op, target in ops.items():
            cell = summary.get((kt, size, op, reference))
            if not cell or cell["ratio"] is None:
                failed += 1
                print(f"  {kt:<{width}}{op:<19}not measured  FAIL")
                continue
            floor = floors.get((kt, op))
            bound = (target if floor is None else min(target, floor)) * margin
            ok = cell["ratio"] >= bound
            failed += not ok
            note = "" if floor is None else f", missed: floor {floor:.2f}x"
            print(f"  {kt:<{width}}{op:<19}{cell['ratio']:7.2f}x  bound {bound:5.2f}x "
                  f"(target {target:.2f}x{note})  {'ok' if ok else 'FAIL'}")
    print("guard: " + ("FAILED" if failed else "passed"))
    return 1 if failed else 0


# ---- What was measured, where ---------------------------------------------


def read_cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def package_versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in ("bplustree3", "sortedcontainers", "BTrees", "matplotlib"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    return out


def git_state() -> dict[str, object]:
    def git(*args):
        # git from PATH on purpose (the machine's git), fixed arguments, no shell.
        cmd = ["git", "-C", str(Path(__file__).resolve().parent.parent), *args]
        run = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=10)  # nosec B603
        return run.stdout.strip()
    try:
        return {"commit": git("rev-parse", "HEAD"),
                "dirty": bool(git("status", "--porcelain", "--untracked-files=no"))}
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}


def run_meta() -> dict[str, object]:
    """The machine, interpreter, packages and commit a run measured on: the
    "meta" of every results JSON, and the captions of the figures."""
    import bplustree3

    return {"python": sys.version, "implementation": platform.python_implementation(),
            "platform": platform.platform(), "cpu": read_cpu_model(), "cpus": os.cpu_count(),
            "packages": package_versions(), "bplustree3_path": bplustree3.__file__,
            "git": git_state(), "date": time.strftime("%Y-%m-%dT%H:%M:%S%z")}


def write_results(path: str | Path, summary: Mapping[Cell, dict], fields: Sequence[str],
                  targets: Sequence[dict], settings: Mapping[str, object]) -> None:
    """A results JSON: run_meta(), the settings, each summary cell as a row
    (its key tuple named by fields), and the target status rows."""
    import json

    rows = [{**dict(zip(fields, cell)), **values} for cell, values in sorted(summary.items())]
    doc = {"meta": run_meta(), "settings": dict(settings), "target_status": list(targets),
           "results": rows}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=1) + "\n")
    print(f"\nJSON: {path}")


# ---- Memory -----------------------------------------------------------------
# Bytes per item as RSS growth, in a fresh process per measurement: the
# parent runs its own script again with --_memory and the cell's arguments;
# the child builds the structure inside rss_growth and prints the result.

MEMORY_FLAG = "--_memory"


def malloc_trim() -> None:
    """Hand free heap memory back to the OS (glibc); elsewhere nothing."""
    try:
        ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def current_rss() -> int:
    """Resident bytes now (Linux); else the peak from resource."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak if sys.platform == "darwin" else peak * 1024


def rss_growth(build: Callable[[], object], count: int) -> float:
    """RSS growth per item of ``build()``, which makes ``count`` items:
    garbage collected and malloc trimmed before and after, the structure
    alive at the second reading."""
    gc.collect()
    malloc_trim()
    before = current_rss()
    built = build()
    gc.collect()
    malloc_trim()
    after = current_rss()
    del built
    return (after - before) / count


def memory_in_child(script: str | Path, *args: object) -> float:
    """What ``script --_memory args...`` prints, run by this interpreter."""
    cmd = [sys.executable, str(Path(script).resolve()), MEMORY_FLAG, *map(str, args)]
    # This interpreter running a benchmark script: no shell, no outside input.
    run = subprocess.run(cmd, check=True, capture_output=True, text=True)  # nosec B603
    return float(run.stdout.split()[0])


# ---- Command line -----------------------------------------------------------


def parse_size(text: str) -> int:
    """1000, 10K, 1.5M, 1_000_000."""
    text = text.strip().upper().replace("_", "")
    mult = {"K": 1_000, "M": 1_000_000}.get(text[-1:], 1)
    return int(float(text[:-1] if mult > 1 else text) * mult)


def parse_list(text: str, known: Sequence[str], what: str) -> list[str]:
    """The comma-separated items of text; exit with a message on one not known."""
    items = [x.strip() for x in text.split(",") if x.strip()]
    unknown = [x for x in items if x not in known]
    if unknown:
        raise SystemExit(f"unknown {what}: {', '.join(unknown)} (known: {', '.join(known)})")
    return items


# ---- Progress ---------------------------------------------------------------


class Progress:
    """A one-line text progress bar with percentage and time left."""

    WIDTH = 24

    def __init__(self, total: float, enabled: bool):
        self.total, self.done, self.enabled = max(total, 1e-9), 0.0, enabled
        self.label = ""
        self.start = time.perf_counter()

    def show(self, label: str) -> None:
        """Say what is being measured now."""
        self.label = label
        self.advance(0.0)

    def advance(self, work: float) -> None:
        """Count `work` (estimated seconds) as done and redraw."""
        self.done += work
        if not self.enabled:
            return
        frac = min(self.done / self.total, 1.0)
        elapsed = time.perf_counter() - self.start
        left = elapsed * (self.total - self.done) / self.done if self.done else 0.0
        bar = "#" * int(frac * self.WIDTH)
        sys.stderr.write(f"\r[{bar:<{self.WIDTH}}] {frac:6.1%}  left ~{fmt_duration(left):>7}"
                         f"  {self.label:<36.36}")
        sys.stderr.flush()

    def close(self) -> None:
        if self.enabled:
            elapsed = fmt_duration(time.perf_counter() - self.start)
            sys.stderr.write(f"\r{'':<80}\rdone in {elapsed}\n")


def fmt_duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"
