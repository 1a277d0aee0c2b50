"""Keys for the tests: ints wrapped in objects that compare with Python code."""


class PyKey:
    """An int-like key compared by Python code: the map stores it as an
    object and runs its ``__lt__`` (so collections and thread switches can
    happen in the middle of a search). ``hook``, when a subclass sets it,
    runs before each ``<`` with both keys: it may raise, wait or change
    things."""

    __slots__ = ("v",)
    hook = None

    def __init__(self, v):
        self.v = v

    def __lt__(self, other):
        hook = type(self).hook
        if hook is not None:
            hook(self, other)
        return self.v < other.v

    def __eq__(self, other):
        return isinstance(other, PyKey) and self.v == other.v

    def __hash__(self):
        return hash(self.v)

    def __repr__(self):
        return f"{type(self).__name__}({self.v})"


def failing_after(n, exc=LookupError):
    """A hook that lets n comparisons pass and raises exc from the next."""
    left = [n]

    def hook(a, b):
        left[0] -= 1
        if left[0] < 0:
            raise exc("comparison")

    return hook
