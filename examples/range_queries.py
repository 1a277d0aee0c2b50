"""Range and neighbour queries over timestamps."""

from bplustree3 import BPlusTreeMap

events = BPlusTreeMap.from_sorted_items(  # O(n) bulk load of sorted pairs
    [(t, f"event-{t}") for t in range(0, 100, 10)]
)

print(list(events.keys(20, 50)))            # [20, 30, 40]: the half-open [20, 50)
print(list(events.irange(20, 50)))          # [20, 30, 40, 50]: both ends included
print(list(events.irange(20, 50, reverse=True, inclusive=(False, False))))  # [40, 30]
print(events.floor(35), events.ceiling(35))  # (30, 'event-30') (40, 'event-40')
print(events.lower(30), events.higher(90))   # (20, 'event-20') None
print(events.delete_range(60, 90))           # 3: removed 60, 70, 80
print(list(events))                          # [0, 10, 20, 30, 40, 50, 90]
