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
