"""The examples run and print exactly what their comments promise; the
timing demo prints its table (the numbers vary, the structure does not)."""

import pathlib
import re
import subprocess
import sys

import pytest

# Not under pytest-run-parallel: each example runs in a subprocess.
pytestmark = pytest.mark.thread_unsafe

EXAMPLES = pathlib.Path(__file__).resolve().parents[2] / "examples"

EXPECTED = {
    "basic_usage.py": [
        "['alice', 'carol', 'dave']",
        "95 3",
        "('alice', 95) ('dave', 88)",
        "('alice', 95)",
        "{'carol': 82, 'dave': 88}",
    ],
    "range_queries.py": [
        "[20, 30, 40]",
        "[20, 30, 40, 50]",
        "[40, 30]",
        "(30, 'event-30') (40, 'event-40')",
        "(20, 'event-20') None",
        "3",
        "[0, 10, 20, 30, 40, 50, 90]",
    ],
    "sorted_list.py": [
        "[61, 70, 70, 85, 85, 92]",
        "2 92",
        "3",
        "[70, 70, 85, 85]",
        "[70, 85, 85, 92]",
        "['bob', 'dee', 'ann', 'cid']",
        "3",
        "2",
    ],
    "migration_guide.py": [
        f"{task:<26} dict = SortedDict = OOBTree = BPlusTreeMap: {answer}" for task, answer in [
            ("keys in [lo, hi)", "[220, 230, 270, 280, 290, 320, 330, 350, 370]"),
            ("keys in [lo, hi]", "[220, 230, 270, 280, 290, 320, 330, 350, 370, 400]"),
            ("greatest key <= 555", "550"),
            ("least key >= 555", "570"),
            ("the 10th smallest key", "230"),
            ("keys below 555", "23"),
            ("remove the smallest item", "v10"),
            ("remove the largest item", "v990"),
            ("removed from [lo, hi)", "9"),
            ("the first five items left",
             "[(30, 'v30'), (70, 'v70'), (90, 'v90'), (100, 'v100'), (160, 'v160')]"),
        ]
    ],
}
NEEDS = {"migration_guide.py": ("sortedcontainers", "BTrees")}
TIMED = "performance_demo.py"  # its output is checked for structure below


def run(*args):
    return subprocess.run([sys.executable, *args], check=True, capture_output=True,
                          text=True, timeout=300).stdout.splitlines()


def test_every_example_is_checked():
    assert {p.name for p in EXAMPLES.glob("*.py")} == set(EXPECTED) | {TIMED}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example_prints_what_it_says(name):
    for module in NEEDS.get(name, ()):
        pytest.importorskip(module)
    assert run(str(EXAMPLES / name)) == EXPECTED[name]


def check_demo_table(out, n, with_sorted_dict):
    # The header, one row per operation (times in ms; a ratio when
    # SortedDict ran, dashes when it did not), and the ratio's meaning.
    assert out[0] == f"{n:,} random int keys, best of 3 interleaved runs"
    rows = out[1:]
    if not with_sorted_dict:
        assert rows.pop(0).startswith("sortedcontainers is not installed")
    assert rows.pop(0).split() == ["operation", "BPlusTreeMap", "SortedDict", "ratio"]
    if with_sorted_dict:
        assert rows.pop() == ("ratio: SortedDict's time / BPlusTreeMap's"
                              " (above 1: BPlusTreeMap is faster)")
        cells = r" +\d+\.\d\d ms +\d+\.\d\d ms +\d+\.\d\dx"
    else:
        cells = r" +\d+\.\d\d ms +- +-"
    names = [row[:28].rstrip() for row in rows]
    assert names == ["build, random inserts", "build from sorted pairs",
                     f"{n:,} lookups m[k]", "1,000 ranges of 100 items",
                     "1,000 floor queries", "iterate every item"]
    for row in rows:
        assert re.fullmatch(cells, row[28:]), row


def test_performance_demo_prints_its_table():
    pytest.importorskip("sortedcontainers")
    check_demo_table(run(str(EXAMPLES / TIMED), "2000"), 2000, True)


def test_performance_demo_without_sortedcontainers():
    hide = ("import runpy, sys; sys.modules['sortedcontainers'] = None; "
            f"sys.argv = ['demo', '2000']; runpy.run_path({str(EXAMPLES / TIMED)!r})")
    check_demo_table(run("-c", hide), 2000, False)


def test_the_wheels_smoke_test_passes():
    # tests/smoke.py is what the wheels workflow runs on the wheels whose
    # Python does not run this suite: it must keep passing too.
    out = run(str(EXAMPLES.parent / "tests" / "smoke.py"))
    assert out[0].startswith("smoke: ok (Python ")
