"""The wheels' smoke test: imports the installed package and drives every
kind of key through the main operations once, with the C checker after
each phase. The wheels workflow runs it on each built wheel whose Python
does not run the full suite (pyproject.toml, [tool.cibuildwheel]). Prints
"smoke: ok" and the interpreter, or fails with a traceback."""

import pickle
import sys

import bplustree3
from bplustree3 import BPlusTreeMap, InvariantError, SortedDict, SortedSet


def drive(keys):
    m = BPlusTreeMap(capacity=bplustree3.MIN_CAPACITY)
    for i, k in enumerate(keys):
        m[k] = i
    m.check()
    ordered = sorted(keys)
    assert list(m) == ordered, (list(m)[:5], ordered[:5])
    assert m[ordered[3]] == keys.index(ordered[3])
    assert m.floor(ordered[10]) == (ordered[10], keys.index(ordered[10]))
    assert list(m.irange(ordered[5], ordered[9])) == ordered[5:10]
    assert m.peekitem(-1)[0] == ordered[-1] and m.index(ordered[7]) == 7
    assert pickle.loads(pickle.dumps(m)) == m
    m.delete_range(ordered[20], ordered[40])
    for k in ordered[::3]:
        m.pop(k, None)
    m.check()
    expect = [k for i, k in enumerate(ordered) if i % 3 and not 20 <= i < 40]
    assert list(m) == expect


n = 300
drive([(i * 7919) % 1009 for i in range(n)])                  # ints
drive([float(i) / 7 - 20 for i in range(n)][::-1])            # floats
drive([f"key-{(i * 31) % 997:05d}" for i in range(n)])        # strs
drive([((i * 13) % 101, str(i)) for i in range(n)])           # tuples
built = BPlusTreeMap.from_sorted_items((i, -i) for i in range(1000))
built.check()
assert len(built) == 1000 and built.ceiling(500.5) == (501, -501)
d = SortedDict({3: "c", 1: "a", 2: "b"})
assert d.peekitem() == (3, "c") and d.index(2) == 1
assert list(SortedSet([3, 1, 2], key=lambda v: -v)) == [3, 2, 1]
try:
    BPlusTreeMap({1: 1}).__getitem__("a")
except TypeError:
    pass
else:
    raise AssertionError("a str key in an int map should raise TypeError")
assert issubclass(InvariantError, Exception)
gil = getattr(sys, "_is_gil_enabled", lambda: True)()
print(f"smoke: ok (Python {sys.version.split()[0]}, GIL {'on' if gil else 'off'})")
