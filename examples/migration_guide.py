"""The same tasks with dict, sortedcontainers.SortedDict, BTrees' OOBTree
and BPlusTreeMap, side by side: each line prints the answer once all the
maps agree on it. docs/migration.md has the tables of equivalent calls.
Needs sortedcontainers and BTrees (pip install sortedcontainers BTrees)."""

import random

from BTrees.OOBTree import OOBTree
from sortedcontainers import SortedDict

from bplustree3 import BPlusTreeMap

# A fixed seed: the same keys every run, not secrets.
rng = random.Random(13)  # nosec B311
pairs = [(k, f"v{k}") for k in rng.sample(range(0, 1_000, 10), 40)]
lo, hi = 200, 400
n = len(pairs)


def agree(task, answers):
    """Prints the task and the answer every map gave; exits if they differ."""
    values = list(answers.values())
    if any(v != values[0] for v in values):
        raise SystemExit(f"{task}: the maps disagree: {answers}")
    print(f"{task:<26} {' = '.join(answers)}: {values[0]}")


d, sd, t, m = dict(pairs), SortedDict(pairs), OOBTree(pairs), BPlusTreeMap(pairs)

agree("keys in [lo, hi)", {
    "dict": [k for k in sorted(d) if lo <= k < hi],
    "SortedDict": list(sd.irange(lo, hi, inclusive=(True, False))),
    "OOBTree": list(t.keys(lo, hi, excludemax=True)),
    "BPlusTreeMap": list(m.keys(lo, hi)),
})
agree("keys in [lo, hi]", {
    "dict": [k for k in sorted(d) if lo <= k <= hi],
    "SortedDict": list(sd.irange(lo, hi)),
    "OOBTree": list(t.keys(lo, hi)),
    "BPlusTreeMap": list(m.irange(lo, hi)),
})
agree("greatest key <= 555", {
    "dict": max(k for k in d if k <= 555),
    "SortedDict": sd.keys()[sd.bisect_right(555) - 1],
    "OOBTree": t.maxKey(555),
    "BPlusTreeMap": m.floor(555)[0],
})
agree("least key >= 555", {
    "dict": min(k for k in d if k >= 555),
    "SortedDict": sd.keys()[sd.bisect_left(555)],
    "OOBTree": t.minKey(555),
    "BPlusTreeMap": m.ceiling(555)[0],
})
agree("the 10th smallest key", {
    "dict": sorted(d)[9],
    "SortedDict": sd.keys()[9],
    "OOBTree": t.keys()[9],
    "BPlusTreeMap": m.keys()[9],
})
agree("keys below 555", {
    "dict": sum(1 for k in d if k < 555),
    "SortedDict": sd.bisect_left(555),
    "OOBTree": len(t.keys(max=555, excludemax=True)),
    "BPlusTreeMap": m.bisect_left(555),
})
agree("remove the smallest item", {
    "dict": d.pop(min(d)),
    "SortedDict": sd.popitem(0)[1],
    "OOBTree": t.popitem()[1],
    "BPlusTreeMap": m.popitem()[1],
})
agree("remove the largest item", {
    "dict": d.pop(max(d)),
    "SortedDict": sd.popitem()[1],
    "OOBTree": t.pop(t.maxKey()),
    "BPlusTreeMap": m.poplast()[1],
})

doomed = [k for k in d if lo <= k < hi]
for k in doomed:
    del d[k]
del sd.keys()[sd.bisect_left(lo):sd.bisect_left(hi)]
for k in list(t.keys(lo, hi, excludemax=True)):
    del t[k]
agree("removed from [lo, hi)", {
    "dict": len(doomed),
    "SortedDict": n - 2 - len(sd),
    "OOBTree": n - 2 - len(t),
    "BPlusTreeMap": m.delete_range(lo, hi),
})
agree("the first five items left", {
    "dict": sorted(d.items())[:5],
    "SortedDict": list(sd.items())[:5],
    "OOBTree": list(t.items())[:5],
    "BPlusTreeMap": m.items()[:5],
})
m.check()
