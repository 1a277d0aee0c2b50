from bplustree3._sorted import SortedDict as SortedDict
from bplustree3._sorted import SortedItemsView as SortedItemsView
from bplustree3._sorted import SortedKeysView as SortedKeysView
from bplustree3._sorted import SortedValuesView as SortedValuesView

__all__ = ["SortedDict", "SortedKeysView", "SortedItemsView", "SortedValuesView"]
