#!/usr/bin/env python3
"""Regenerates every current figure of the docs in one run: the README's
speed table and, in docs/performance.md, the summary, the tables at 1M
keys and across sizes, the plots, the SortedList table, the numpy table
and the node-capacity sweep; and docs/sortedcontainers.md's positional
speed table.

    python3 benchmarks/figures.py            # measure (about 20 minutes here), then rewrite
    python3 benchmarks/figures.py --render   # rewrite from the last results alone

It runs bench.py (1K to 1M keys; int, dense and str keys; bplustree3,
SortedDict, OOBTree and dict; its plots copied into docs/img), bench_list.py,
bench_numpy.py (1M), bench.py's capacity sweep (1M; int and str keys;
bplustree3 at capacities 16 to 256 and SortedDict) and its positional
operations (1M; for docs/sortedcontainers.md), each writing a results JSON into
benchmarks/results/figures/, then rewrites each block between the markers
``<!-- figures:NAME -->`` and ``<!-- /figures:NAME -->`` in README.md,
docs/performance.md and docs/sortedcontainers.md. Each block opens with a caption naming the commit
and the machine the figures were measured on (and says so when the tree
had uncommitted changes). Run it on a quiet machine, from a clean
checkout of the commit to publish; commit what it rewrote.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
import re
import shutil
# subprocess runs this directory's benchmarks, with fixed arguments.
import subprocess  # nosec B404
import sys

from bench_harness import fmt_value

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
OUT = HERE / "results" / "figures"
DOCS = {"README.md": REPO / "README.md", "performance.md": REPO / "docs" / "performance.md",
        "sortedcontainers.md": REPO / "docs" / "sortedcontainers.md"}

RUNS = {
    "bench": ["bench.py", "--sizes", "1K,10K,100K,1M", "--keys", "int,dense,str",
              "--contenders", "bplustree3,SortedDict,OOBTree,dict", "--repeat", "3",
              "--min-time", "0.05", "--plots", str(OUT / "plots")],
    "list": ["bench_list.py", "--sizes", "1M"],
    "numpy": ["bench_numpy.py", "--sizes", "1M"],
    "capacity": ["bench.py", "--sizes", "1M", "--keys", "int,str", "--ops",
                 "insert,lookup_hit,delete,iter_items,range100_items,build_sorted,"
                 "floor_ceiling,memory", "--contenders", "bplustree3,SortedDict",
                 "--capacities", "16,32,128,256", "--repeat", "3", "--no-plots"],
    "positions": ["bench.py", "--sizes", "1M", "--keys", "int,str", "--ops",
                  "peekitem,index,key_at,bisect_left,islice100", "--contenders",
                  "bplustree3,SortedDict,bplustree3.SortedDict", "--repeat", "5",
                  "--no-plots"],
}

SUMMARY_OPS = {  # bench.py's operations the summaries show, as the docs name them
    "insert": "insert, random order",
    "delete": "delete, random order",
    "lookup_hit": "`m[k]`, present key",
    "lookup_miss": "`get(k)`, absent key",
    "contains": "`k in m`, half present",
    "floor_ceiling": "`floor`/`ceiling`",
    "iter_keys": "iterate keys",
    "iter_items": "iterate items",
    "range100_items": "range of 100 items with values",
    "build_sorted": "build from sorted pairs",
    "peekitem": "`peekitem(i)`",
    "index": "`index(k)`",
    "memory": "memory per item",
}
README_OPS = ["insert", "delete", "lookup_hit", "iter_items", "range100_items",
              "floor_ceiling", "build_sorted", "memory"]
ACROSS_OPS = ["insert", "build_sorted", "lookup_hit", "lookup_miss", "floor_ceiling",
              "iter_keys", "iter_items", "range10_items", "range100_items", "delete", "memory"]
SIZE_NAMES = {1_000: "1K", 10_000: "10K", 100_000: "100K", 1_000_000: "1M",
              10_000_000: "10M"}


def measure(out: Path) -> None:
    """Runs each benchmark into out, then copies bench.py's plots into
    docs/img under the names the page uses (bench-int.png...)."""
    for name, args in RUNS.items():
        cmd = [sys.executable, str(HERE / args[0]), *args[1:], "--json", str(out / f"{name}.json")]
        print("==", " ".join(cmd[1:]), flush=True)
        subprocess.run(cmd, check=True, cwd=REPO)  # nosec B603
    for plot in sorted((out / "plots").glob("bench_*.png")):
        shutil.copyfile(plot, REPO / "docs" / "img" / plot.name.replace("_", "-"))
        print(f"figures: docs/img/{plot.name.replace('_', '-')} written")


def load(out: Path, name: str) -> dict:
    return json.loads((out / f"{name}.json").read_text())


def caption(doc: dict, command: str) -> str:
    meta = doc["meta"]
    git = meta.get("git") or {}
    commit = (git.get("commit") or "unknown")[:7]
    dirty = " with uncommitted changes" if git.get("dirty") else ""
    python = meta["python"].split()[0]
    date = meta.get("date", "")[:10]
    return (f"*Measured by `python3 benchmarks/figures.py` ({command}) at commit `{commit}`"
            f"{dirty}, {date}, on {meta['cpu']}, {meta['cpus']} CPUs, "
            f"{meta['implementation']} {python}, {meta['platform']}.*")


def cells(doc: dict) -> dict[tuple, dict]:
    return {(r["key_type"], r["size"], r["op"], r["contender"]): r for r in doc["results"]}


def ratio_text(ratio: float | None, op: str = "") -> str:
    if ratio is None:
        return "-"
    return f"{ratio:.2f}x less" if op == "memory" else f"{ratio:.2f}x"


def status_of(doc: dict) -> dict[tuple, dict]:
    return {(t["key_type"], t["size"], t["op"]): t for t in doc["target_status"]}


def target_cell(t: dict | None, cell: dict | None, op: str = "") -> str:
    if cell is None:
        return "-"
    text = ratio_text(cell["ratio"], op)
    if t is None:
        return text
    verdict = "met" if t["met"] else "**missed**"
    return f"{text} (target {t['target']:g}x): {verdict}"


def table(header: list[str], rows: list[list[str]], right_from: int = 1) -> str:
    lines = ["| " + " | ".join(header) + " |",
             "| " + " | ".join("---" if i < right_from else "---:"
                              for i in range(len(header))) + " |"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def top_size(doc: dict) -> int:
    return max(doc["settings"]["sizes"])


def size_name(n: int) -> str:
    return SIZE_NAMES.get(n, f"{n:,}")


def render_readme(bench: dict) -> str:
    c, n = cells(bench), top_size(bench)
    rows = [[SUMMARY_OPS[op], *(ratio_text((c.get((kt, n, op, "bplustree3")) or {})
                                          .get("ratio"), op) for kt in ("int", "str"))]
            for op in README_OPS]
    return caption(bench, "bench.py") + "\n\n" + table(
        [f"{size_name(n)} keys", "`int` keys", "`str` keys"], rows)


def render_in_short(bench: dict) -> str:
    c, s, n = cells(bench), status_of(bench), top_size(bench)
    kinds = ["int", "dense", "str"]
    rows = []
    for op, label in SUMMARY_OPS.items():
        found = [c.get((kt, n, op, "bplustree3")) for kt in kinds]
        if any(found):
            rows.append([label, *(target_cell(s.get((kt, n, op)), cell, op)
                                  for kt, cell in zip(kinds, found))])
    return (caption(bench, "bench.py") + "\n\n"
            + table([f"operation ({size_name(n)} keys)", "`int` keys", "`dense` keys",
                     "`str` keys"], rows))


def render_all_contenders(bench: dict) -> str:
    c, s, n = cells(bench), status_of(bench), top_size(bench)
    names = bench["settings"]["contenders"]
    parts = [caption(bench, "bench.py")]
    for kt in bench["settings"]["key_types"]:
        rows = []
        for op in bench["settings"]["ops"]:
            row_cells = [c.get((kt, n, op, name)) for name in names]
            if not any(row_cells):
                continue
            unit = next(cell["unit"] for cell in row_cells if cell)
            texts = []
            for name, cell in zip(names, row_cells):
                if cell is None:
                    texts.append("-")
                elif name == "SortedDict" or cell["ratio"] is None:
                    texts.append(fmt_value(cell["median"]))
                else:
                    texts.append(f"{fmt_value(cell['median'])} ({cell['ratio']:.2f}x)")
            t = s.get((kt, n, op))
            mark = "" if t is None else f">= {t['target']:g}x: " + (
                "met" if t["met"] else "**missed**")
            rows.append([op, unit, *texts, mark])
        parts.append(f"**{kt} keys, N = {n:,}** (median; in brackets SortedDict's "
                     "time over the contender's, or its bytes over the contender's)\n\n"
                     + table(["operation", "unit", *names, "target"], rows, right_from=2))
    return "\n\n".join(parts)


def render_across_sizes(bench: dict) -> str:
    c = cells(bench)
    sizes = bench["settings"]["sizes"]
    parts = [caption(bench, "bench.py")]
    for kt in bench["settings"]["key_types"]:
        rows = [[op, *(ratio_text((c.get((kt, n, op, "bplustree3")) or {}).get("ratio"))
                       for n in sizes)]
                for op in ACROSS_OPS if any((kt, n, op, "bplustree3") in c for n in sizes)]
        parts.append(table([f"{kt} keys", *(size_name(n) for n in sizes)], rows))
    return "\n\n".join(parts)


def render_sortedlist(lst: dict) -> str:
    c, s = cells(lst), status_of(lst)
    kinds, n = lst["settings"]["key_types"], top_size(lst)
    rows = []
    for op in lst["settings"]["ops"]:
        found = [c.get((kt, n, op, "bplustree3")) for kt in kinds]
        if any(found):
            rows.append([op, *(target_cell(s.get((kt, n, op)), cell)
                               for kt, cell in zip(kinds, found))])
    return (caption(lst, "bench_list.py") + "\n\n"
            + table([f"op ({size_name(n)} values)", *(f"`{k}`" for k in kinds)], rows))


def render_numpy(npy: dict) -> str:
    c, s, n = cells(npy), status_of(npy), top_size(npy)
    rows = []
    for op in npy["settings"]["ops"]:
        mine, base = c.get(("numbers", n, op, "numpy")), c.get(("numbers", n, op, "int"))
        if mine and base:
            t = s.get(("numbers", n, op))
            rows.append([op, f"{mine['median']:.1f}", f"{base['median']:.1f}",
                         target_cell(t, mine)])
    return (caption(npy, "bench_numpy.py") + "\n\n"
            + table([f"row ({size_name(n)} keys)", "numpy ns", "int ns", "ratio"], rows))


MISSED_RUNS = {  # the runs whose targets the missed block lists, and what each compares
    "bench": "`BPlusTreeMap` against `SortedDict`",
    "list": "`SortedList` against sortedcontainers' `SortedList`",
    "numpy": "numpy keys against `int` keys",
}


def render_missed(results: dict) -> str:
    """Every target the runs missed at their largest size, or a line saying
    that none was."""
    rows = []
    for name, what in MISSED_RUNS.items():
        doc = results[name]
        n = top_size(doc)
        for t in doc["target_status"]:
            if t["size"] == n and not t["met"]:
                rows.append([what, f"`{t['key_type']}`", t["op"],
                             ratio_text(t["ratio"], t["op"]), f"{t['target']:g}x"])
    first = caption(results["bench"], "bench.py, bench_list.py, bench_numpy.py")
    if not rows:
        return first + "\n\nEvery target was met in this run."
    return first + "\n\n" + table(["run", "keys", "operation", "ratio", "target"], rows,
                                     right_from=3)


RENDER = {
    "readme-speed": ("README.md", "bench", render_readme),
    "in-short": ("performance.md", "bench", render_in_short),
    "all-contenders": ("performance.md", "bench", render_all_contenders),
    "across-sizes": ("performance.md", "bench", render_across_sizes),
    "sortedlist": ("performance.md", "list", render_sortedlist),
    "numpy": ("performance.md", "numpy", render_numpy),
    "node-capacity": ("performance.md", "capacity", render_all_contenders),
    "missed": ("performance.md", None, render_missed),  # None: every run's results
    "positions": ("sortedcontainers.md", "positions", render_all_contenders),
}


def rewrite(out: Path = OUT, docs: dict[str, Path] = DOCS) -> None:
    """Rewrites each block of docs from the results JSONs in out."""
    results = {name: load(out, name) for name in RUNS}
    texts = {name: path.read_text() for name, path in docs.items()}
    for block, (doc, source, render) in RENDER.items():
        pattern = re.compile(rf"(<!-- figures:{block} -->\n)(?:.*?\n)?(<!-- /figures:{block} -->)",
                             re.S)
        if not pattern.search(texts[doc]):
            raise SystemExit(f"figures: {doc} has no block {block}")
        body = render(results if source is None else results[source])
        texts[doc] = pattern.sub(lambda m, body=body: m.group(1) + body + "\n" + m.group(2),
                                 texts[doc])
        print(f"figures: {doc} {block} rewritten")
    for name, path in docs.items():
        path.write_text(texts[name])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--render", action="store_true", help="rewrite from the last results alone")
    args = ap.parse_args(argv)
    if not args.render:
        measure(OUT)
    rewrite()
    return 0


if __name__ == "__main__":
    sys.exit(main())
