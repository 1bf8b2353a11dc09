"""Live flows: the continuations a runtime committed, kept decoded between steps, and what each commit writes (a piece or a whole snapshot).

After a commit the runtime keeps the flow's continuation and its object table
(a codec.Heap, watched through interp.barrier) here. The next step of that flow
in this process takes them back instead of decoding the snapshot — when the
store still holds exactly that commit and nothing outside the flow's own steps
has changed an object of it since (the heap is not stale). "Exactly that
commit": the store's latest bytes for the flow are the ones we wrote. Another
commit of the flow (another runtime or process) cannot have written the same
bytes unless it made the very same state the same way: its step, attempts
and suspension time only grow, and a flow read back from a store is committed
whole next, so a piece equal to ours was built on a table numbered as ours. Its commit then
encodes only the objects that are new or changed (Flow.piece); a whole
snapshot is written instead when the piece is more than half its size (a
small state: the piece would save little; flows with a whole snapshot under
LIVE_MIN bytes are not kept at all), when the pieces since the last one
would outgrow it (so a continuation read back from the store is at most about
twice its size, and old objects no longer reachable are dropped), or when the
store does not take pieces.

Every path out of a step ends in `committed` (kept or dropped) or `drop`; a
heap taken for a step and never given back (an exception between) is dropped
at the flow's next step or when the runtime closes.

FLOWSCHEME_CHECK_PIECES=1 (the tests set it) checks every piece as it is
written: the continuation assembled from the store's base, its pieces and the
new piece, decoded, must encode to exactly what the live continuation encodes
to. A mutation the write barrier missed fails there, naming the flow.
"""

import os
import threading
from collections import OrderedDict

from . import codec
from .pieces import assemble

MAX_LIVE = 1024  # flows kept live per runtime (least recently committed dropped first)
PIECES_MIN = 1024  # pieces may add up to max(base size, this) before a whole snapshot is written
# flows whose whole snapshot is smaller than this are not kept live: their next
# commit would be whole anyway (a piece saves little), and decoding them again
# costs less than watching their objects (an order flow: about 500 bytes)
LIVE_MIN = 2048


class PieceMismatch(AssertionError):
    """FLOWSCHEME_CHECK_PIECES: a piece does not rebuild the live continuation."""


class LiveFlows:
    def __init__(self, store, cenv, max_live=MAX_LIVE):
        self.store = store
        self.cenv = cenv
        self.pieces = bool(getattr(store, "takes_pieces", False))
        self.max_live = max_live
        self.check = os.environ.get("FLOWSCHEME_CHECK_PIECES") == "1"
        self._kept = OrderedDict()  # flow id -> (Flow, driver level), between steps
        self._held = {}  # flow id -> (Flow, driver level) whose heap a step holds
        self._mutex = threading.Lock()

    def take(self, f, level):
        """Give f (just read from the store) the kept continuation and heap of
        the commit it was read from -> True, or False (decode it). level: the
        driver level the step runs at (interp.machine.D): the call/cc
        continuations in a kept one belong to the level it last ran at."""
        with self._mutex:
            kept, at = self._kept.pop(f.id, (None, None))
        if kept is None:
            return False
        heap = kept.k_heap
        if (heap is None or heap.stale or kept.suspension is None or f.committed is None
                or kept.committed != f.committed or at != level):
            kept.release()
            return False
        f.suspension, f.params, f.k_heap = kept.suspension, kept.params, heap
        f.shared.update(kept.shared)  # (the journal's strings it refers to)
        kept.k_heap = None
        return True

    def hold(self, f, level):
        """f's step is about to run at driver level `level`: its heap (if any)
        hears of the changes the step makes."""
        heap = f.k_heap
        with self._mutex:
            old, _ = self._held.pop(f.id, (None, None))
            self._held[f.id] = (f, level)
        if old is not None and old is not f:
            old.release()
        if heap is not None:
            heap.watch()
            heap.active = True

    def snapshot(self, f, entries=()):
        """(bytes, piece?) to commit for f (with the journal entries `entries`):
        a piece when one can be made and the pieces since the last whole
        snapshot stay within bounds."""
        if self.pieces and f.k_heap is not None:
            piece = f.piece(self.cenv)
            if piece is not None:
                # (a piece about as large as the whole snapshot saves nothing: write that)
                if 2 * len(piece) <= f.base_size and f.pieces_size + len(piece) <= max(f.base_size, PIECES_MIN):
                    if self.check:
                        self._check(f, piece, entries)
                    return piece, True
                f.release()  # (the heap is ahead of the store now: a whole snapshot starts a new one)
        return f.snapshot(self.cenv), False

    def committed(self, f, blob, piece, level):
        """f's commit of blob landed: keep f live (waiting, on a store that takes
        pieces) or drop its heap. level: the driver level its step ran at."""
        f.committed = blob
        if piece:
            f.pieces_size += len(blob)
        else:
            f.base_size, f.pieces_size = len(blob), 0
        with self._mutex:
            held, _ = self._held.get(f.id, (None, None))
            if held is f:
                del self._held[f.id]
        heap = f.k_heap
        # (a heap is a step's (hold) or was made by this commit's whole snapshot)
        if not (self.pieces and heap is not None and f.waiting and not heap.stale and f.suspension is not None
                and f.base_size >= LIVE_MIN):
            f.release()
            return
        heap.active = False
        heap.watch()
        evicted = []
        with self._mutex:
            old, _ = self._kept.pop(f.id, (None, None))
            self._kept[f.id] = (f, level)
            while len(self._kept) > self.max_live:
                evicted.append(self._kept.popitem(last=False)[1][0])
        if old is not None and old is not f:
            evicted.append(old)
        for g in evicted:
            g.release()

    def drop(self, flow_id):
        """The step of flow_id ended without a commit (or its commit failed)."""
        with self._mutex:
            gone = [self._held.pop(flow_id, (None, None))[0], self._kept.pop(flow_id, (None, None))[0]]
        for g in gone:
            if g is not None:
                g.release()

    def close(self):
        with self._mutex:
            gone = [g for g, _ in self._held.values()] + [g for g, _ in self._kept.values()]
            self._held.clear()
            self._kept.clear()
        for g in gone:
            g.release()

    def _check(self, f, piece, entries):
        from .model import JournalValues, unpack_graph, unpack_plain
        from .packing import packb

        stored = self.store.get(f.id)
        whole = unpack_plain(assemble(stored.base, [*stored.pieces, piece]), "flow snapshot")["k"]
        journal = JournalValues(list(stored.journal) + list(entries), self.cenv, {})
        rebuilt = unpack_graph(whole, self.cenv, "continuation", journal=journal)
        a = packb(list(codec.encode(rebuilt, self.cenv, f.shared)))
        b = packb(list(codec.encode(f._k_graph(), self.cenv, f.shared)))
        if a != b:
            raise PieceMismatch(f"flow {f.id!r}: its continuation rebuilt from the store's pieces differs from the "
                                "live one (a change the write barrier did not hear of?)")
