"""sortedcontainers' ``sorteddict`` module, for code that imports from it:
``from bplustree3.sorteddict import SortedDict`` where it had
``from sortedcontainers.sorteddict import SortedDict`` (absolute imports:
see bplustree3.sortedlist).
"""

from bplustree3._sorted import SortedDict, SortedItemsView, SortedKeysView, SortedValuesView

__all__ = ["SortedDict", "SortedKeysView", "SortedItemsView", "SortedValuesView"]
