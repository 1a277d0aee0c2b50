"""The type stubs match the runtime (mypy's stubtest) and type-check use;
tests/python/typing_usage.py, which scripts/test.sh checks with mypy
--strict and pyright, holds at run time too."""

import pathlib
import runpy
import subprocess
import sys
import textwrap

import pytest

# Not under pytest-run-parallel: mypy and stubtest run in subprocesses.
pytestmark = pytest.mark.thread_unsafe

HERE = pathlib.Path(__file__).resolve().parent


def test_typing_usage_runs():
    # Its asserts check the values the typed calls return.
    if sys.version_info < (3, 11):
        pytest.importorskip("typing_extensions")  # its assert_type
    runpy.run_path(str(HERE / "typing_usage.py"), run_name="__typing_usage__")


def test_stubtest_finds_no_mismatch():
    pytest.importorskip("mypy")
    run = subprocess.run([sys.executable, "-m", "mypy.stubtest", "bplustree3"],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr


def test_typed_use_checks(tmp_path):
    pytest.importorskip("mypy")
    src = tmp_path / "use.py"
    src.write_text(textwrap.dedent("""
        from bplustree3 import BPlusTreeMap

        m: BPlusTreeMap[int, str] = BPlusTreeMap({1: "a"}, capacity=8)
        m[2] = "b"
        first: tuple[int, str] = m.first()
        floor = m.floor(3)
        if floor is not None:
            key: int = floor[0]
        keys: list[int] = list(m.irange(1, 2))
        n: int = m.delete_range(0, 1)
        bad: str = m.capacity  # the one deliberate error
    """))
    run = subprocess.run([sys.executable, "-m", "mypy", "--no-incremental", str(src)],
                         capture_output=True, text=True, cwd=tmp_path)
    out = run.stdout
    assert "use.py:12: error: Incompatible types in assignment" in out, out
    assert out.count(": error:") == 1, out
