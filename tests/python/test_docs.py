"""The examples in the docstrings run and show what they say."""

import doctest

import bplustree3


def test_docstring_examples():
    result = doctest.testmod(bplustree3)
    assert result.failed == 0
    assert result.attempted >= 10
