"""sortedcontainers' ``sortedlist`` module, for code that imports from it:
``from bplustree3.sortedlist import SortedList, recursive_repr`` where it had
``from sortedcontainers.sortedlist import ...``.

Absolute imports, so that this module gives bplustree3's own classes even
when it is loaded under another package's name (a ``sortedcontainers``
alias of bplustree3, say).
"""

from reprlib import recursive_repr

from bplustree3._sortedlist import (
    SortedKeyList,
    SortedList,
    SortedListWithKey,
    identity,
)

__all__ = ["SortedList", "SortedKeyList", "SortedListWithKey", "identity", "recursive_repr"]
