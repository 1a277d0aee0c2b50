"""BPlusTreeMap as a dict that keeps its keys sorted."""

from bplustree3 import BPlusTreeMap

scores = BPlusTreeMap({"carol": 82, "alice": 95, "bob": 71})
scores["dave"] = 88
del scores["bob"]

print(list(scores))                 # ['alice', 'carol', 'dave']
print(scores["alice"], len(scores))  # 95 3
print(scores.first(), scores.last())  # ('alice', 95) ('dave', 88)
print(scores.popitem())             # ('alice', 95): the smallest key
print(dict(scores.items()))         # {'carol': 82, 'dave': 88}
scores.check()                      # the C invariant checker: raises if broken
