"""The examples in the docstrings run and show what they say."""

import doctest

import pytest

import bplustree3

# Not under pytest-run-parallel: doctest runs examples that print.
pytestmark = pytest.mark.thread_unsafe


def test_docstring_examples():
    result = doctest.testmod(bplustree3)
    assert result.failed == 0
    assert result.attempted >= 10


def test_sorted_docstring_examples():
    from bplustree3 import _sorted

    result = doctest.testmod(_sorted)
    assert result.failed == 0
    assert result.attempted >= 2


def test_troubleshooting_names_every_invariant():
    # docs/troubleshooting.md explains each name InvariantError.invariant can
    # hold: every name the checker returns (invariants/bpt_check.c).
    import pathlib
    import re

    root = pathlib.Path(__file__).resolve().parents[2]
    names = re.findall(r'case BPT_INV_\w+: return "([\w-]+)";',
                       (root / "invariants" / "bpt_check.c").read_text())
    assert len(names) >= 13
    page = (root / "docs" / "troubleshooting.md").read_text()
    listed = set(re.findall(r"^\| `([\w-]+)` \|", page, re.M))
    assert listed == set(names) - {"ok"}


def test_every_public_method_has_a_signature():
    # The C methods carry text signatures, so inspect (and IDEs) see them.
    import inspect

    from bplustree3 import BPlusTreeMap, SortedDict, SortedSet

    for cls in (BPlusTreeMap, SortedDict, SortedSet):
        assert inspect.signature(cls) is not None
        for name in dir(cls):
            attr = getattr(cls, name)
            dunder = cls is BPlusTreeMap and name in ("__reversed__", "__sizeof__")
            if (name.startswith("_") and not dunder) or not callable(attr):
                continue
            assert inspect.signature(attr) is not None, (cls.__name__, name)
    assert str(inspect.signature(BPlusTreeMap.get)) == "(self, key, default=None, /)"
    assert str(inspect.signature(BPlusTreeMap)) == "(items=(), /, *, capacity=None)"
