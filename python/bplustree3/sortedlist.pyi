from reprlib import recursive_repr as recursive_repr

from bplustree3._sortedlist import SortedKeyList as SortedKeyList
from bplustree3._sortedlist import SortedList as SortedList
from bplustree3._sortedlist import SortedListWithKey as SortedListWithKey
from bplustree3._sortedlist import identity as identity

__all__ = ["SortedList", "SortedKeyList", "SortedListWithKey", "identity", "recursive_repr"]
