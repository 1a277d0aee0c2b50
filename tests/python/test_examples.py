"""The examples run and print exactly what their comments promise."""

import pathlib
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
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example_prints_what_it_says(name):
    out = subprocess.run([sys.executable, str(EXAMPLES / name)], check=True,
                         capture_output=True, text=True).stdout.splitlines()
    assert out == EXPECTED[name]


def test_the_wheels_smoke_test_passes():
    # tests/smoke.py is what the wheels workflow runs on the wheels whose
    # Python does not run this suite: it must keep passing too.
    smoke = EXAMPLES.parent / "tests" / "smoke.py"
    out = subprocess.run([sys.executable, str(smoke)], check=True,
                         capture_output=True, text=True).stdout
    assert out.startswith("smoke: ok (Python ")
