"""Write barrier: tells a watcher (the flow layer's incremental commits) that an object it saved was changed in place.

Every place in interp/ that changes an existing Scheme object of a kind
interp/graph.py saves (a pair, vector, mutable string, bytevector, hash table,
record, parameter, environment frame) calls `touch(obj)` (or inlines its two
lines on a hot path), before or after the change. Objects made by the change
itself (a fresh frame, a fresh vector being filled) are not touched: nobody can
have saved them yet.

The cost when nothing watches an object is one dict lookup per mutation;
reads never pay anything.

WATCHED maps id(obj) -> watcher (an object with a method `.touched(obj)`). The
watcher must keep obj alive while it is watched (an id is reused once its
object is gone). Hot paths bind `WATCHED.get` once, so WATCHED is never
rebound: change its entries (or `.clear()` it), never assign a new dict.
"""

WATCHED = {}  # id(obj) -> watcher; a watcher has a method .touched(obj)


def touch(obj):
    """Call at every in-place change of a Scheme object (before or after the change)."""
    w = WATCHED.get(id(obj))
    if w is not None:
        w.touched(obj)


def watch(obj, watcher):
    """Have watcher.touched(obj) called at every in-place change of obj."""
    WATCHED[id(obj)] = watcher


def unwatch(obj):
    """Stop watching obj (nothing happens if it was not watched)."""
    WATCHED.pop(id(obj), None)
