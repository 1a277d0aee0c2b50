"""The examples in the docstrings run and show what they say."""

import doctest
import pathlib
import re

import pytest

import bplustree3

ROOT = pathlib.Path(__file__).resolve().parents[2]

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
    names = re.findall(r'case BPT_INV_\w+: return "([\w-]+)";',
                       (ROOT / "invariants" / "bpt_check.c").read_text())
    assert len(names) >= 13
    page = (ROOT / "docs" / "troubleshooting.md").read_text()
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


@pytest.mark.parametrize("page", ["index.md", "quickstart.md"])
def test_doc_snippets_print_what_they_say(page, capsys):
    # Each python block of these pages runs, and each print(...) line's
    # comment is what it prints (optionally followed by ": why").
    text = (ROOT / "docs" / page).read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    assert blocks
    for block in blocks:
        exec(compile(block, page, "exec"), {})  # noqa: S102 - our own docs
        printed = capsys.readouterr().out.splitlines()
        wanted = [line.split("# ", 1)[1].strip() for line in block.splitlines()
                  if line.startswith("print(")]
        assert len(printed) == len(wanted)
        for out, want in zip(printed, wanted):
            assert want == out or want.startswith(out + ":"), (page, out, want)


def test_api_reference_names_every_public_name():
    # docs/api.md is hand-written: it must name everything bplustree3
    # exports and every public method and attribute of BPlusTreeMap.
    from bplustree3 import BPlusTreeMap

    page = (ROOT / "docs" / "api.md").read_text()
    names = set(bplustree3.__all__)
    names |= {n for n in dir(BPlusTreeMap) if not n.startswith("_")}
    missing = sorted(n for n in names if f"`{n}" not in page and f" {n}(" not in page)
    assert not missing, missing
