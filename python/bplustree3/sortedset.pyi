from bplustree3._sorted import SortedSet as SortedSet

__all__ = ["SortedSet"]
