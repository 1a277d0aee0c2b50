"""Hypothesis drives BPlusTreeMap and a plain model (a dict plus sorted keys)
through every mutating and querying method at small capacities, so splits
and merges happen constantly, and runs the C invariant checker after every
step."""

import bisect
import pickle

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from bplustree3 import BPlusTreeMap

# Not under pytest-run-parallel: hypothesis is not thread-safe.
pytestmark = pytest.mark.thread_unsafe

values = st.integers()


def machine(keys):
    """A state machine over keys drawn from the given strategy."""

    class MapMachine(RuleBasedStateMachine):
        @initialize(capacity=st.sampled_from([4, 5, 6, 8, 16]))
        def start(self, capacity):
            self.m = BPlusTreeMap(capacity=capacity)
            self.model = {}

        def sorted_keys(self):
            return sorted(self.model)

        @rule(k=keys, v=values)
        def setitem(self, k, v):
            self.m[k] = v
            self.model[k] = v

        @rule(k=keys)
        def delitem(self, k):
            if k in self.model:
                del self.m[k]
                del self.model[k]
            else:
                try:
                    del self.m[k]
                except KeyError:
                    pass
                else:
                    raise AssertionError("del of a missing key succeeded")

        @rule(k=keys, d=values)
        def pop(self, k, d):
            assert self.m.pop(k, d) == self.model.pop(k, d)

        @rule()
        def popitem(self):
            if self.model:
                k = min(self.model)
                assert self.m.popitem() == (k, self.model.pop(k))
            else:
                try:
                    self.m.popitem()
                except KeyError:
                    pass
                else:
                    raise AssertionError("popitem on an empty map succeeded")

        @rule()
        def poplast(self):
            if self.model:
                k = max(self.model)
                assert self.m.poplast() == (k, self.model.pop(k))

        @rule(k=keys, v=values)
        def setdefault(self, k, v):
            assert self.m.setdefault(k, v) == self.model.setdefault(k, v)

        @rule(items=st.lists(st.tuples(keys, values), max_size=20))
        def update(self, items):
            self.m.update(items)
            self.model.update(items)

        @rule(k=keys)
        def get(self, k):
            assert self.m.get(k) == self.model.get(k)
            assert (k in self.m) == (k in self.model)

        @rule(k=keys)
        def neighbours(self, k):
            ks = self.sorted_keys()
            i = bisect.bisect_left(ks, k)
            j = bisect.bisect_right(ks, k)
            want = {
                "floor": ks[j - 1] if j else None,
                "ceiling": ks[i] if i < len(ks) else None,
                "lower": ks[i - 1] if i else None,
                "higher": ks[j] if j < len(ks) else None,
            }
            for name, key in want.items():
                got = getattr(self.m, name)(k)
                assert got == (None if key is None else (key, self.model[key])), name

        @rule(lo=st.none() | keys, hi=st.none() | keys)
        def ranges(self, lo, hi):
            ks = [k for k in self.sorted_keys()
                  if (lo is None or k >= lo) and (hi is None or k < hi)]
            if lo is None and hi is None:
                assert list(self.m.keys()) == ks
            else:
                assert list(self.m.keys(lo, hi)) == ks
                assert list(self.m.values(lo, hi)) == [self.model[k] for k in ks]
                assert list(self.m.items(lo, hi)) == [(k, self.model[k]) for k in ks]
            assert list(self.m.range(lo, hi)) == [(k, self.model[k]) for k in ks]

        @rule(lo=st.none() | keys, hi=st.none() | keys, incl=st.tuples(st.booleans(), st.booleans()),
              rev=st.booleans())
        def irange(self, lo, hi, incl, rev):
            def inside(k):
                if lo is not None and (k < lo or (k == lo and not incl[0])):
                    return False
                if hi is not None and (k > hi or (k == hi and not incl[1])):
                    return False
                return True
            ks = [k for k in self.sorted_keys() if inside(k)]
            assert list(self.m.irange(lo, hi, incl, rev)) == (ks[::-1] if rev else ks)

        @rule(lo=st.none() | keys, hi=st.none() | keys)
        def delete_range(self, lo, hi):
            doomed = [k for k in self.model
                      if (lo is None or k >= lo) and (hi is None or k < hi)]
            assert self.m.delete_range(lo, hi) == len(doomed)
            for k in doomed:
                del self.model[k]

        @rule()
        def copy_and_swap(self):
            c = self.m.copy()
            assert c == self.model and c.capacity == self.m.capacity
            c.check()
            self.m = c

        @rule(items=st.dictionaries(keys, values, max_size=8))
        def merge(self, items):
            merged = self.m | items
            assert merged == {**self.model, **items}
            self.m |= items
            self.model.update(items)

        @rule()
        def pickle_round_trip(self):
            self.m = pickle.loads(pickle.dumps(self.m))

        @rule()
        def rebuild_sorted(self):
            self.m = BPlusTreeMap.from_sorted_items(sorted(self.model.items()),
                                                    capacity=self.m.capacity)

        @precondition(lambda self: len(self.model) > 40)
        @rule()
        def clear(self):
            self.m.clear()
            self.model.clear()

        @invariant()
        def checked(self):
            self.m.check()

        @invariant()
        def same(self):
            assert self.m == self.model
            assert len(self.m) == len(self.model)
            assert list(self.m.items()) == sorted(self.model.items())
            assert list(reversed(self.m)) == sorted(self.model, reverse=True)
            if self.model:
                assert self.m.first() == min(self.model.items())
                assert self.m.last() == max(self.model.items())

    return MapMachine


# Small ints: the map's keys are all exact ints (the typed int search).
TestIntKeys = machine(st.integers(min_value=0, max_value=60)).TestCase

# Ints, floats and ints beyond 64 bits mixed: maps switch to the generic
# search as soon as keys of two kinds meet, and lookups of one kind in a map
# of another must still find equal keys (1 == 1.0).
TestMixedNumbers = machine(st.one_of(
    st.integers(min_value=-30, max_value=30),
    st.floats(min_value=-30, max_value=30, allow_nan=False).map(lambda f: round(f, 1)),
    st.integers(min_value=2**63 - 3, max_value=2**63 + 3),
)).TestCase

# Strs, ASCII and not (the typed str search compares code points).
TestStrKeys = machine(st.text(alphabet="ab\u00e9\u4e2d\U0001f600", max_size=4)).TestCase
