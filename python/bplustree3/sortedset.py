"""sortedcontainers' ``sortedset`` module, for code that imports from it:
``from bplustree3.sortedset import SortedSet`` where it had
``from sortedcontainers.sortedset import SortedSet`` (absolute imports: see
bplustree3.sortedlist).
"""

from bplustree3._sorted import SortedSet

__all__ = ["SortedSet"]
