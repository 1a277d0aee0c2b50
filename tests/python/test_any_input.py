"""Any Python-level input: the map either works or raises a clear error,
never crashes, and its structure stays whole (check() passes, or reports a
key-order problem only when the keys' own < is inconsistent, as NaN's is)."""

import math

import pytest
from hypothesis import given, strategies as st

from bplustree3 import BPlusTreeMap, InvariantError

# Not under pytest-run-parallel: hypothesis is not thread-safe.
pytestmark = pytest.mark.thread_unsafe

anything = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=3),
    st.binary(max_size=3), st.tuples(st.integers(0, 3)), st.lists(st.integers(0, 3), max_size=2),
    st.frozensets(st.integers(0, 3), max_size=2), st.integers(2**63 - 2, 2**63 + 2),
)
op_names = ["set", "get", "del", "pop", "setdefault", "floor", "ceiling", "lower", "higher",
            "irange", "keys", "delete_range", "update", "fromsorted", "copy", "contains"]
ops = st.lists(st.tuples(st.sampled_from(op_names), anything, anything), max_size=40)
EXPECTED = (TypeError, KeyError, ValueError)


@given(ops, st.sampled_from([4, 5, 16]))
def test_never_crashes(program, capacity):
    m = BPlusTreeMap(capacity=capacity)
    nan_seen = False
    for name, a, b in program:
        nan_seen |= any(isinstance(x, float) and math.isnan(x) for x in (a, b))
        try:
            if name == "set":
                m[a] = b
            elif name == "get":
                m.get(a)
            elif name == "del":
                del m[a]
            elif name == "pop":
                m.pop(a, None)
            elif name == "setdefault":
                m.setdefault(a, b)
            elif name in ("floor", "ceiling", "lower", "higher"):
                getattr(m, name)(a)
            elif name == "irange":
                list(m.irange(a, b))
            elif name == "keys":
                list(m.keys(a, b))
            elif name == "delete_range":
                m.delete_range(a, b)
            elif name == "update":
                m.update([(a, b)])
            elif name == "fromsorted":
                m = BPlusTreeMap.from_sorted_items([(a, 1), (b, 2)], capacity=capacity)
            elif name == "copy":
                m = m.copy()
            else:
                a in m
        except EXPECTED:
            pass
        try:
            m.check()
        except InvariantError as e:
            assert nan_seen and e.invariant in ("key-order", "key-bounds", "separator")
        assert len(list(m)) == len(m)
