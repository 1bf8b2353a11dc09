"""Where flows live: the store interface (FlowStore), an in-memory store, and open_store.

A store keeps, per flow id, a full snapshot (the "base", bytes), the pieces
committed after it (each the objects one commit changed, oldest first: see
flow.pieces) and the flow's journal (a list of entry bytes, only ever appended
to). The interface is small:

    get(flow_id) -> StoredFlow | None     ids() -> list      refresh()
    lock(flow_id)   (exclusive, across threads and processes)
    commit(flow_id, snapshot, new_journal_entries, index, piece=False)
        durable when it returns (else it raises, nothing done); piece=True appends
        a piece after the base and pieces, else the snapshot replaces them
    replace_all({flow_id: StoredFlow})   (import, reset)

A piece is opaque to the stores except that it is a msgpack map carrying the
same metadata keys as a snapshot (status, kind, wake, name, def, ...) plus
"piece": 1, so whatever reads a snapshot's metadata (index_of, the PostgreSQL
store's descriptive columns) reads a piece's alike.

The durable file store is flow.filestore.FileStore (DIR/flows.log, on the log
engine flow.applog); the PostgreSQL one is flow.pgstore.PgStore.
"""

import heapq
import os
import threading
import zlib
from contextlib import contextmanager
from typing import ContextManager, Iterable, Protocol, runtime_checkable



class StoredFlow:
    """One flow as a store keeps it: its base snapshot (bytes), the pieces
    committed after it (bytes, oldest first) and its journal (entry bytes, oldest
    first, only ever appended to).

    `snapshot` is the whole snapshot: the base itself when there are no pieces,
    else the base with the pieces applied (flow.pieces.assemble, cached until a
    piece is added); setting it replaces the base and drops the pieces. `latest`
    is the newest metadata: the last piece, else the base. The stores publish a
    new StoredFlow at each commit of a flow (its base and pieces never change
    under a reader; the journal list may grow)."""

    __slots__ = ("base", "pieces", "journal", "_whole")

    def __init__(self, snapshot, journal=None, pieces=None):
        self.base = snapshot
        self.pieces = pieces if pieces else ()  # (no list of its own while there are none)
        self.journal = journal if journal is not None else []
        self._whole = None  # (how many pieces it was assembled from, the whole snapshot)

    @property
    def snapshot(self):
        base, pieces = self.base, self.pieces
        if not pieces:
            return base
        whole = self._whole
        if whole is None or whole[0] != len(pieces):
            from .pieces import assemble  # (pure msgpack work, no code needed)

            n = len(pieces)
            whole = self._whole = (n, assemble(base, pieces[:n]))
        return whole[1]

    @snapshot.setter
    def snapshot(self, value):
        self.pieces = ()
        self.base = value
        self._whole = None

    @property
    def latest(self):
        """The newest metadata: the last piece, else the base (what index_of reads)."""
        pieces = self.pieces
        return pieces[-1] if pieces else self.base

    def add_piece(self, piece):
        self.pieces = [*self.pieces, piece]
        self._whole = None

    def __repr__(self):
        return (f"<StoredFlow base {len(self.base)} bytes, {len(self.pieces)} pieces, "
                f"{len(self.journal)} journal entries>")


class FlowIndex:
    """What the worker looks flows up by, kept beside a store's flows: the
    wake-up time of each flow that has one (a timer, a deadline, a retry), in
    time order, and the request kind each suspended flow waits on.

    An entry is (kind, wake): kind a str or None, wake epoch seconds or None.
    `due(now)` costs O(k log n) for the k due flows, whatever n is."""

    def __init__(self):
        self.wake = {}  # flow id -> wake time
        self._heap = []  # (wake, flow id), with stale entries skipped lazily
        self.kinds = {}  # kind -> set of flow ids waiting on it
        self._kind_of = {}

    def clear(self):
        self.__init__()

    def set(self, flow_id, entry):
        kind, wake = entry if entry is not None else (None, None)
        old = self._kind_of.get(flow_id)
        if old != kind:
            if old is not None:
                ids = self.kinds[old]
                ids.discard(flow_id)
                if not ids:
                    del self.kinds[old]
                del self._kind_of[flow_id]
            if kind is not None:
                self.kinds.setdefault(kind, set()).add(flow_id)
                self._kind_of[flow_id] = kind
        if wake is None:
            self.wake.pop(flow_id, None)
        elif self.wake.get(flow_id) != wake:
            self.wake[flow_id] = wake
            heapq.heappush(self._heap, (wake, flow_id))
            if len(self._heap) > 2 * len(self.wake) + 1024:
                self._heap = [(t, i) for i, t in self.wake.items()]
                heapq.heapify(self._heap)

    def due(self, now, limit=None):
        """[(wake, flow id)] of the flows whose wake time is <= now, earliest first."""
        heap, out, seen = self._heap, [], set()
        popped = []
        while heap and heap[0][0] <= now and (limit is None or len(out) < limit):
            t, flow_id = heapq.heappop(heap)
            if self.wake.get(flow_id) == t and flow_id not in seen:
                seen.add(flow_id)
                out.append((t, flow_id))
                popped.append((t, flow_id))
        for item in popped:
            heapq.heappush(heap, item)
        return out

    def next_wake(self):
        """The earliest wake time, or None."""
        heap = self._heap
        while heap and self.wake.get(heap[0][1]) != heap[0][0]:
            heapq.heappop(heap)
        return heap[0][0] if heap else None

    def waiting_on(self, kind):
        return sorted(self.kinds.get(kind, ()))


class IndexedFlows:
    """The index half of a store (see FlowIndex): `index_of(snapshot) -> entry`,
    given by the runtime, reads an entry from a snapshot where a commit did not
    carry one (a replaced store, an older log)."""

    def _init_index(self, index_of):
        self.index = FlowIndex()
        self.index_of = index_of

    def _entry(self, snapshot, entry):
        if entry is not None:
            return tuple(entry)
        return self.index_of(snapshot) if self.index_of is not None else None

    def due(self, now, limit=None):
        """[(wake, flow id)] of the flows due at `now`, earliest first."""
        self.refresh()
        return self.index.due(now, limit)

    def next_wake(self):
        self.refresh()
        return self.index.next_wake()

    def waiting_on(self, kind):
        """Ids of the suspended flows waiting on request kind `kind`."""
        self.refresh()
        return self.index.waiting_on(kind)


def lock_byte(flow_id):
    """The byte of flows.lock whose record lock stands for flow_id across processes."""
    return zlib.crc32(flow_id.encode("utf-8", "surrogatepass"))


@runtime_checkable
class FlowStore(Protocol):
    """What FlowRuntime, its timers and the Worker need of a store. MemoryStore,
    FileStore and PgStore (flow.pgstore) implement it; a store object of your
    own passed to open_store must too.

    Entries of the due-time index are (kind, wake): the request kind a suspended
    flow waits on (str or None) and its wake-up time in epoch seconds (or None).

    Pieces: a store whose class sets `takes_pieces = True` (the three shipped
    here) is sent, between full snapshots, pieces — commit(..., piece=True).
    A store object of your own without that attribute keeps getting a full
    snapshot at every commit (piece=False), and need not know pieces exist."""

    durable: bool

    def get(self, flow_id: str) -> "StoredFlow | None":
        """The flow as last committed (as of the last refresh), or None."""

    def ids(self) -> list:
        """Every flow id (as of the last refresh)."""

    def refresh(self) -> None:
        """Take in what other processes have committed since we last looked."""

    def lock(self, flow_id: str) -> ContextManager:
        """Hold flow_id exclusively, across threads and processes, while a step
        runs and commits; re-entrant within a thread."""

    def try_lock(self, flow_id: str) -> ContextManager:
        """Like lock, but yields False at once (holding nothing) when another thread
        or process holds the flow, else True: workers skip each other's flows."""

    def commit(self, flow_id: str, snapshot: bytes, new_entries: Iterable[bytes] = (),
               index: "tuple | None" = None, piece: bool = False) -> None:
        """Make a transition durable: the new snapshot, the journal entries it
        adds and its index entry (else index_of(snapshot)), all or nothing,
        before returning (or raise StoreWriteError with nothing done).
        piece=False: `snapshot` is a full snapshot, the flow's new base (its
        pieces are dropped). piece=True (only for a store with takes_pieces):
        `snapshot` is a piece, kept after the flow's base and pieces; a piece for
        a flow the store does not have raises StoreWriteError naming the flow,
        nothing written."""

    def replace_all(self, flows: "dict[str, StoredFlow]") -> None:
        """Replace every flow at once (import, reset). A StoredFlow with pieces
        may be kept with them (MemoryStore) or as its whole, assembled
        `snapshot` (FileStore, PgStore): get(...).snapshot is the same."""

    def due(self, now: float, limit: "int | None" = None) -> list:
        """[(wake, flow id)] of the flows whose wake time is <= now, earliest first."""

    def next_wake(self) -> "float | None":
        """The earliest wake time of any flow, or None."""

    def waiting_on(self, kind: str) -> list:
        """Ids of the suspended flows waiting on request kind `kind`."""

    def close(self) -> None:
        """Release files, connections and locks; the store is unusable after."""


STORE_METHODS = ("get", "ids", "refresh", "lock", "try_lock", "commit", "replace_all", "due", "next_wake",
                 "waiting_on", "close")


def is_store_url(where):
    """True for a PostgreSQL URL (postgresql://... or postgres://...)."""
    return isinstance(where, str) and where.startswith(("postgresql://", "postgres://"))


def open_store(where, index_of=None):
    """The store for `where`: None (in memory), a directory path (the durable
    file store), a postgresql:// URL (flow.pgstore.PgStore), or a store object
    implementing FlowStore (returned as it is). index_of: see IndexedFlows."""
    if where is None:
        return MemoryStore(index_of)
    if is_store_url(where):
        from .pgstore import PgStore  # psycopg is only needed by those who use it
        return PgStore(where, index_of)
    if isinstance(where, (str, bytes, os.PathLike)):
        from .filestore import FileStore

        return FileStore(where, index_of)
    missing = [m for m in STORE_METHODS if not callable(getattr(where, m, None))]
    if not missing:
        return where
    if len(missing) < len(STORE_METHODS):
        raise TypeError(f"{type(where).__name__} is not a flow store: it lacks {', '.join(missing)}"
                        " (see flow.store.FlowStore)")
    raise TypeError("a flow store is None, a directory path, a postgresql:// URL or a store object,"
                    f" not {type(where).__name__}")


class FlowLocks:
    """One re-entrant lock per flow id, made while it is held or waited for."""

    def __init__(self):
        self._locks = {}  # flow id -> [RLock, users, depth]
        self._mutex = threading.Lock()

    @contextmanager
    def hold(self, flow_id, blocking=True):
        """Hold flow_id's lock; yields how many holds this thread now has (1: outermost),
        or 0 (holding nothing) when not blocking and another thread holds it."""
        with self._mutex:
            entry = self._locks.get(flow_id)
            if entry is None:
                entry = self._locks[flow_id] = [threading.RLock(), 0, 0]
            entry[1] += 1
        try:
            if not entry[0].acquire(blocking):
                yield 0
                return
            try:
                entry[2] += 1
                try:
                    yield entry[2]
                finally:
                    entry[2] -= 1
            finally:
                entry[0].release()
        finally:
            with self._mutex:
                entry[1] -= 1
                if entry[1] == 0:
                    del self._locks[flow_id]


def piece_of_unknown_flow(where, flow_id):
    """The StoreWriteError of a piece committed for a flow the store does not have."""
    from .errors import StoreWriteError

    return StoreWriteError(where, None, f"committing a piece of flow {flow_id!r}",
                           f"{where}: flow {flow_id!r}: a piece was committed for a flow this store does not "
                           f"have (a piece needs the flow's base snapshot); nothing was written")


class MemoryStore(IndexedFlows):
    """Flows in memory only (FlowRuntime(store=None))."""

    durable = False
    takes_pieces = True

    def __init__(self, index_of=None):
        self.flows = {}
        self._locks = FlowLocks()
        self._init_index(index_of)

    def get(self, flow_id):
        return self.flows.get(flow_id)

    def ids(self):
        return list(self.flows)

    def refresh(self):
        pass

    def lock(self, flow_id):
        return self._locks.hold(flow_id)

    @contextmanager
    def try_lock(self, flow_id):
        """Hold flow_id if no other thread does (yields True), else yield False at once."""
        with self._locks.hold(flow_id, blocking=False) as depth:
            yield depth > 0

    def commit(self, flow_id, snapshot, new_entries=(), index=None, piece=False):
        """index: the flow's FlowIndex entry (kind, wake), else read from snapshot
        (or from the piece). piece: see FlowStore.commit."""
        stored = self.flows.get(flow_id)
        if piece:
            if stored is None:
                raise piece_of_unknown_flow("memory store", flow_id)
            journal = stored.journal
            journal.extend(new_entries)
            self.flows[flow_id] = StoredFlow(stored.base, journal, [*stored.pieces, snapshot])
        elif stored is None:
            self.flows[flow_id] = StoredFlow(snapshot, list(new_entries))
        else:
            journal = stored.journal
            journal.extend(new_entries)
            self.flows[flow_id] = StoredFlow(snapshot, journal)
        self.index.set(flow_id, self._entry(snapshot, index))

    def replace_all(self, flows):
        """The StoredFlows as they are (with their pieces, if any)."""
        self.flows = dict(flows)
        self.index.clear()
        for flow_id, stored in self.flows.items():
            self.index.set(flow_id, self._entry(stored.latest, None))

    def close(self):
        pass



def __getattr__(name):
    """FileStore and its format constants, from flow.filestore (imported on first use)."""
    if name in ("FileStore", "FRAME", "HEADER", "MAGIC", "VERSION", "MAX_FRAME"):
        from . import filestore

        return getattr(filestore, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
