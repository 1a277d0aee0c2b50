"""SortedList and SortedKeyList: a leaderboard of scores, duplicates kept.

Run: python3 examples/sorted_list.py
"""

from bplustree3 import SortedKeyList, SortedList

scores = SortedList([70, 85, 70, 92, 61])
scores.add(85)
print(list(scores))                     # [61, 70, 70, 85, 85, 92]
print(scores.count(70), scores[-1])     # 2 92: how many 70s, the best
print(scores.bisect_left(80))           # 3: scores below 80
print(list(scores.irange(70, 85)))      # [70, 70, 85, 85]
scores.remove(70)                       # one of them
del scores[0]                           # the lowest
print(list(scores))                     # [70, 85, 85, 92]

# Ordered by a key: players by score, highest first; ties keep their order.
board = SortedKeyList(key=lambda player: -player[1])
board.update([("ann", 85), ("bob", 92), ("cid", 85)])
board.add(("dee", 92))
print([name for name, _ in board])      # ['bob', 'dee', 'ann', 'cid']
print(board.index(("cid", 85)))         # 3
print(board.bisect_key_left(-90))       # 2: players at 90 or more
