"""The benchmarks run with whatever contenders are installed: bench.py with
BTrees and matplotlib made unimportable skips OOBTree and the plots, says
so, and still prints its table; bench_list.py runs on the shared harness.
Tiny sizes: this checks the command lines, not the speed."""

import pathlib
import re
import subprocess
import sys

import pytest

# Not under pytest-run-parallel: each benchmark runs in a subprocess.
pytestmark = pytest.mark.thread_unsafe

BENCHMARKS = pathlib.Path(__file__).resolve().parents[2] / "benchmarks"

# Runs a script as `python3 script args...` would, with the packages named
# in argv[1] made unimportable (None in sys.modules: ModuleNotFoundError).
BLOCKED_RUN = """
import runpy, sys
for name in filter(None, sys.argv[1].split(",")):
    sys.modules[name] = None
script = sys.argv[2]
sys.argv = sys.argv[2:]
sys.path.insert(0, script.rsplit("/", 1)[0])
runpy.run_path(script, run_name="__main__")
"""


def run_blocked(blocked, script, *args, cwd):
    if not (BENCHMARKS / script).exists():
        pytest.skip("no benchmarks/ here (an sdist)")
    pytest.importorskip("sortedcontainers")  # the baseline of both
    cmd = [sys.executable, "-c", BLOCKED_RUN, ",".join(blocked),
           (BENCHMARKS / script).as_posix(), *args]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=cwd)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_bench_without_btrees_and_matplotlib(tmp_path):
    out = run_blocked(
        ["BTrees", "matplotlib"], "bench.py", "--sizes", "300", "--keys", "int",
        "--ops", "insert,lookup_hit,floor_ceiling", "--repeat", "1", "--min-time", "0",
        "--json", str(tmp_path / "bench.json"), "--plots", str(tmp_path), cwd=tmp_path)
    assert "skipped: OOBTree (BTrees not installed)" in out
    assert "plots: none written (matplotlib is not installed)" in out
    header = next(line for line in out.splitlines() if line.startswith("op "))
    assert header.split() == ["op", "unit", "bplustree3", "SortedDict", "dict", "target"]
    rows = [line.split()[0] for line in out.splitlines()
            if re.match(r"(insert|lookup_hit|floor_ceiling) ", line)]
    assert rows == ["insert", "lookup_hit", "floor_ceiling"]
    assert (tmp_path / "bench.json").exists()
    assert not list(tmp_path.glob("*.png"))


def test_bench_list_small(tmp_path):
    out = run_blocked([], "bench_list.py", "--sizes", "2K", "--keys", "int,int-key",
                      "--ops", "add,getitem,irange100", "--reps", "1", cwd=tmp_path)
    rows = re.findall(r"^  (\S+) +[\d.]+ +[\d.]+ ns +[\d.]+x", out, re.MULTILINE)
    assert rows == ["add", "getitem", "irange100"] * 2, out
    assert re.search(r"^targets: \d+ met, \d+ missed$", out, re.MULTILINE), out


def test_bench_numpy_small(tmp_path):
    pytest.importorskip("numpy")
    out = run_blocked([], "bench_numpy.py", "--sizes", "2K", "--reps", "1", cwd=tmp_path)
    rows = re.findall(r"^  (\S+) +[\d.]+ +[\d.]+ ns +[\d.]+x", out, re.MULTILINE)
    assert rows == ["lookup", "contains", "lookup_int32", "lookup_bool", "lookup_float",
                    "after_stray", "fromkeys_sorted", "fromkeys_shuffled", "build_zip_sorted",
                    "build_zip_shuffled", "from_sorted_items"], out
    assert re.search(r"^targets: \d+ met, \d+ missed", out, re.MULTILINE), out


def test_bench_numpy_without_numpy(tmp_path):
    out = run_blocked(["numpy"], "bench_numpy.py", "--sizes", "2K", cwd=tmp_path)
    assert "skipped: numpy (numpy not installed)" in out


def test_figures_fill_every_block_from_results(tmp_path):
    """figures.py's rewrite, on results of tiny runs: every block of the
    README and the performance page is filled, under a caption naming the
    commit and the machine."""
    pytest.importorskip("numpy")
    out = tmp_path / "results"
    run_blocked([], "bench.py", "--sizes", "300", "--keys", "int,dense,str",
                "--ops", "insert,lookup_hit,iter_items,memory", "--contenders",
                "bplustree3,SortedDict", "--repeat", "1", "--min-time", "0", "--no-plots",
                "--json", str(out / "bench.json"), cwd=tmp_path)
    run_blocked([], "bench_list.py", "--sizes", "2K", "--ops", "add,getitem", "--reps", "1",
                "--json", str(out / "list.json"), cwd=tmp_path)
    run_blocked([], "bench_numpy.py", "--sizes", "2K", "--reps", "1", "--ops", "lookup",
                "--json", str(out / "numpy.json"), cwd=tmp_path)
    run_blocked([], "bench.py", "--sizes", "300", "--keys", "int", "--ops", "insert,memory",
                "--contenders", "bplustree3,SortedDict", "--capacities", "16", "--repeat", "1",
                "--min-time", "0", "--no-plots", "--json", str(out / "capacity.json"),
                cwd=tmp_path)
    run_blocked([], "bench.py", "--sizes", "300", "--keys", "int", "--ops", "peekitem,index",
                "--contenders", "bplustree3,SortedDict", "--repeat", "1", "--min-time", "0",
                "--no-plots", "--json", str(out / "positions.json"), cwd=tmp_path)
    sys.path.insert(0, str(BENCHMARKS))
    try:
        import figures
    finally:
        sys.path.remove(str(BENCHMARKS))
    docs = {name: tmp_path / name for name in figures.DOCS}
    for name, path in figures.DOCS.items():
        docs[name].write_text(path.read_text())
    figures.rewrite(out, docs)
    text = "".join(path.read_text() for path in docs.values())
    for block in figures.RENDER:
        body = re.search(rf"<!-- figures:{block} -->\n(.*?)\n<!-- /figures:{block} -->",
                         text, re.S)
        assert body, block
        caption, _, table = body.group(1).partition("\n\n")
        assert caption.startswith("*Measured by `python3 benchmarks/figures.py`"), block
        assert " at commit `" in caption and "CPUs" in caption, caption
        if block == "missed" and table == "Every target was met in this run.":
            continue
        assert table.count("\n| ") >= 2, (block, table)  # a header, a rule, rows
    assert "| insert, random order | " in text and "| lookup | " in text
    assert "bplustree3/c16" in text  # the capacity sweep
