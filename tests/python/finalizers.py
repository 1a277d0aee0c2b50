"""Python code run by the collector in the middle of an operation.

On CPython 3.9 to 3.11 a collection can start inside any allocation of a
container object (a tuple, a list, an iterator); from 3.12 on it starts when
Python code runs (a comparison written in Python, a __del__). Either way the
__del__ of cyclic garbage then runs whatever it likes, in the middle of the
operation. ``collections_running(action)`` makes that happen at (almost)
every collection for the duration of a ``with`` block: the threshold drops
to 1 and each collection finds a new piece of cyclic garbage whose __del__
calls ``action()``.
"""

import gc
import sys
import sysconfig
from contextlib import contextmanager

# Whether a collection may start inside an allocation (3.9 to 3.11), not
# only when Python code runs (every version).
COLLECTS_IN_ALLOCATIONS = sys.version_info < (3, 12)

# The free-threaded collector also waits for the young objects to grow by a
# quarter of the old ones, unless the second threshold is 0.
_THRESHOLD = (1, 0) if sysconfig.get_config_var("Py_GIL_DISABLED") else (1,)

# Tuples of two kept aside, so that the interpreter's free list of them is
# empty and a new pair is a real allocation, which may start a collection.
_FREE_LIST_DRAIN = 4000


class Fuse:
    """Runs action from finalizers while armed, and records each outcome:
    "ran", "refused" (RuntimeError: the map was busy) or the exception's
    type name."""

    def __init__(self, action, limit, skip):
        self.action = action
        self.limit = limit
        self.skip = skip
        self.armed = False
        self.outcomes = []

    def fire(self):
        if not self.armed:
            return
        if self.skip > 0:
            self.skip -= 1
        elif len(self.outcomes) < self.limit:
            try:
                self.action()
            except RuntimeError:
                self.outcomes.append("refused")
            except Exception as e:  # noqa: BLE001 - recorded for the test to judge
                self.outcomes.append(type(e).__name__)
            else:
                self.outcomes.append("ran")
        _Garbage(self)  # for the next collection


class _Garbage:
    """A cycle with a finalizer: only a collection frees it."""

    def __init__(self, fuse):
        self.fuse = fuse
        self.me = self

    def __del__(self):
        self.fuse.fire()


@contextmanager
def collections_running(action, limit=10_000, skip=0):
    """Within the block, each collection after the first skip runs action()
    from a finalizer (at most limit times); yields the Fuse, whose outcomes
    say what happened. The first collection comes at the first container
    allocated in the block (on 3.9 to 3.11; later, at the first Python code
    run): skip=k reaches the (k+1)-th."""
    fuse = Fuse(action, limit, skip)
    threshold = gc.get_threshold()
    was_enabled = gc.isenabled()
    gc.freeze()  # what exists now out of the collector's way: collections stay quick
    gc.collect()  # and so does this one, which empties the generations
    pairs = [(i, None) for i in range(_FREE_LIST_DRAIN)]
    gc.disable()
    fuse.armed = True
    _Garbage(fuse)
    gc.set_threshold(*_THRESHOLD)
    gc.enable()
    try:
        yield fuse
    finally:
        fuse.armed = False
        gc.set_threshold(*threshold)
        gc.collect()  # the last garbage of the block, disarmed
        gc.unfreeze()
        del pairs
        if not was_enabled:
            gc.disable()
