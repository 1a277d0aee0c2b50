"""Every public method of every class bplustree3 exports has its own
docstring, as sortedcontainers documents each method, and a public method's
docstring gives its complexity, O(...). The examples in _sortedlist's
docstrings run (test_docs.py runs those of bplustree3 and _sorted)."""

import doctest

import pytest

import bplustree3
from bplustree3 import _sortedlist

# Not under pytest-run-parallel: doctest runs examples that print.
pytestmark = pytest.mark.thread_unsafe

# The dunders that are part of the API, and so documented.
DUNDERS = frozenset("""
    __init__ __getitem__ __setitem__ __delitem__ __contains__ __iter__
    __reversed__ __len__ __or__ __ior__ __ror__ __and__ __rand__ __sub__
    __rsub__ __xor__ __rxor__ __copy__ __eq__ __ne__ __lt__ __le__ __gt__
    __ge__ __repr__ __reduce__ __add__ __iadd__ __mul__ __imul__
""".split())

# The package's Python modules: a class of one of them among an exported
# class's bases (SortedDict's and SortedSet's _Positions) gives it public
# methods too, which are checked with the class's own.
PACKAGE_MODULES = frozenset(["bplustree3", "bplustree3._sorted", "bplustree3._sortedlist"])


def exported_classes():
    """The classes in bplustree3.__all__ (an alias once), InvariantError aside."""
    classes = []
    for name in bplustree3.__all__:
        obj = getattr(bplustree3, name)
        if isinstance(obj, type) and name != "InvariantError" and obj not in classes:
            classes.append(obj)
    return classes


def documented_methods(cls):
    """(where, name, function) for each method cls documents: every callable
    in its own __dict__ (classmethods and staticmethods unwrapped) that is
    public or one of DUNDERS, and the public ones of its bases from the
    package's Python modules that are not exported themselves."""
    owners = [cls] + [base for base in cls.__mro__[1:]
                      if base.__module__ in PACKAGE_MODULES and base.__name__.startswith("_")]
    for owner in owners:
        for name, attr in vars(owner).items():
            if isinstance(attr, (classmethod, staticmethod)):
                attr = attr.__func__
            if not callable(attr):
                continue
            if name.startswith("_") and (owner is not cls or name not in DUNDERS):
                continue
            yield f"{cls.__name__}.{name}", name, attr


def undocumented(classes):
    """The methods of classes whose docstring is missing or blank."""
    return [where for cls in classes for where, _, attr in documented_methods(cls)
            if not (getattr(attr, "__doc__", None) or "").strip()]


def without_complexity(classes):
    """The public methods of classes whose docstring names no complexity,
    "O(...)". Those that are not supported (they only raise, as
    SortedList.append does) have none to give."""
    return [where for cls in classes for where, name, attr in documented_methods(cls)
            if not name.startswith("_")
            and not (attr.__doc__ or "").startswith("Not supported")
            and "O(" not in (attr.__doc__ or "")]


def test_the_exported_classes_are_all_walked():
    names = {cls.__name__ for cls in exported_classes()}
    assert names == {"BPlusTreeMap", "SortedDict", "SortedSet", "SortedList", "SortedKeyList",
                     "SortedKeysView", "SortedItemsView", "SortedValuesView"}


def test_every_public_method_has_a_docstring():
    missing = undocumented(exported_classes())
    assert not missing, f"no docstring: {', '.join(missing)}"


def test_every_public_method_docstring_gives_its_complexity():
    missing = without_complexity(exported_classes())
    assert not missing, f"no O(...) in the docstring: {', '.join(missing)}"


def test_the_checks_catch_a_missing_docstring():
    # The checks themselves: a public method, a listed dunder or a
    # classmethod without a docstring is named, and so is a public method
    # whose docstring has no complexity; private names are not checked.
    class Undocumented:
        def public(self):
            pass

        def __getitem__(self, index):
            pass

        @classmethod
        def made(cls):
            pass

        def __init_subclass__(cls):
            pass

        def _private(self):
            pass

        def vague(self):
            """Documented, but with no complexity."""

        def sure(self):
            """Documented. O(1)."""

    assert undocumented([Undocumented]) == [
        "Undocumented.public", "Undocumented.__getitem__", "Undocumented.made"]
    assert without_complexity([Undocumented]) == [
        "Undocumented.public", "Undocumented.made", "Undocumented.vague"]


def test_sortedlist_docstring_examples():
    # bplustree3's and bplustree3._sorted's run in test_docs.py.
    result = doctest.testmod(_sortedlist, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
    assert result.attempted >= 5
