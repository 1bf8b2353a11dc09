"""One flow's state, and its snapshot / journal-entry bytes.

A snapshot holds the flow's metadata in plain msgpack (id, name, status, step,
the pending request's kind and key, the error), its Scheme data (arguments,
request payload, result) and, while suspended, its continuation — each of the
last two an object-table encoding (flow.codec) packed as bytes, so a snapshot
can be read (status, listing) without the flow's code being loaded, and the
continuation decoded only when the flow resumes.

The journal is kept apart, one entry per answered request, appended as the flow
runs: a transition writes the new snapshot and one journal entry, whatever the
flow's history, so resuming costs the same after 20 or 10,000 requests.
"""

from enum import Enum

import msgpack

from interp.values import sym

from . import codec
from .packing import packb
from .pieces import is_piece, pack_changes
from .errors import CodeNotLoaded, StoreFormatError


# the runtime's own request kinds: (sleep s) and (sleep-until t) suspend with these
SLEEP = sym("%sleep")
SLEEP_UNTIL = sym("%sleep-until")


class DataNeedsCode(CodeNotLoaded, codec.MissingUnit):
    """A flow's data (arguments, payload, result) holds a procedure whose code
    unit is not loaded. A CodeNotLoaded (so a FlowError) naming flow, unit and
    file; also a codec.MissingUnit, as it was before it was named."""

    def __init__(self, flow_id, flow_name, unit_hash, filename):
        Exception.__init__(self, str(CodeNotLoaded(flow_id, flow_name, unit_hash, filename)))
        self.flow_id = flow_id
        self.flow_name = flow_name
        self.unit_hash = unit_hash
        self.filename = filename


# 2: the continuation graph carries the flow's parameter bindings; rationals as bytes
SNAPSHOT_VERSION = 2
# steps and attempts count up from what a snapshot says: far from msgpack's 64 bits
MAX_COUNT = 1 << 53
# Scheme strings are Python strs and may hold lone surrogates ("\xD800;"): keep them.
UNPACK_LIMITS = dict(raw=False, strict_map_key=True, unicode_errors="surrogatepass")


# metadata and journal entries are small maps: their containers are charged
# against a budget proportional to their size (see unpack_plain)
PLAIN_BUDGET_PER_BYTE = 16
PLAIN_BUDGET_BASE = 1 << 16


def unpack_plain(blob, what="flow data"):
    """msgpack bytes of plain data (metadata, a store body), with the memory its
    arrays and maps take bounded by a multiple of blob's size. Raises
    StoreFormatError."""
    if not isinstance(blob, (bytes, bytearray, memoryview)):
        raise StoreFormatError(f"malformed {what} (not bytes)")
    left = [PLAIN_BUDGET_PER_BYTE * len(blob) + PLAIN_BUDGET_BASE]

    def charge_list(x):
        left[0] -= 64 + 8 * len(x)
        if left[0] < 0:
            raise StoreFormatError(f"malformed {what} (too many arrays and maps for its size)")
        return x

    def charge_map(x):
        left[0] -= 240 + 24 * len(x)
        if left[0] < 0:
            raise StoreFormatError(f"malformed {what} (too many arrays and maps for its size)")
        return x

    try:
        return msgpack.unpackb(blob, list_hook=charge_list, object_hook=charge_map, **UNPACK_LIMITS)
    except StoreFormatError:
        raise
    except Exception as e:
        raise StoreFormatError(f"malformed {what} ({type(e).__name__}: {e})") from None


def pack_graph(root, cenv, shared=None, heap=None):
    units, objects, encoded = codec.encode(root, cenv, shared, heap)
    return packb([units, objects, encoded]), [u[0] for u in units], units


def unpack_graph(blob, cenv, shape=None, trust=None, cont_level=None, journal=None):
    """Decode a graph (codec.decode_graph); raises codec.CodecError / MissingUnit."""
    if not isinstance(blob, (bytes, bytearray)):
        raise codec.CodecError("malformed flow data (not bytes)")
    return codec.decode_graph(bytes(blob), cenv, shape, trust, cont_level, journal)


class JournalValues:
    """The strings a flow's graphs refer to in its journal (codec.EXT_JOURNAL):
    journal(index, which) -> the payload (which 0) or answer (1) of entry
    `index`, which must be a string; each one met is noted in `shared` (string
    -> its reference), so the flow's next commits refer to it again."""

    def __init__(self, entries, cenv, shared, trust=None):
        self.entries = entries  # the journal's entry bytes, oldest first
        self.cenv = cenv
        self.shared = shared
        self.trust = trust
        self._read = {}

    def __call__(self, index, which):
        if not index < len(self.entries):
            raise codec.CodecError(f"a reference to journal entry {index}, which the flow does not have")
        e = self._read.get(index)
        if e is None:
            try:
                e = self._read[index] = journal_entry_from_bytes(self.entries[index], self.cenv, self.trust)
            except StoreFormatError as x:
                raise codec.CodecError(str(x)) from None
        v = e.answer if which else e.payload
        if type(v) is not str or len(v) < codec.LARGE_STRING:
            raise codec.CodecError(f"a journal reference to entry {index}'s {'answer' if which else 'payload'}, "
                                   "which is not a large string")
        self.shared.setdefault(v, codec.journal_ref(index, which))
        return v


def graph_units(blob):
    """[(hash, file)] of the code units an encoded graph refers to."""
    try:
        u = msgpack.Unpacker(None, max_buffer_size=max(len(blob), 1), **UNPACK_LIMITS)
        u.feed(blob)
        if u.read_array_header() != 3:
            raise ValueError("not [units, objects, root]")
        units = u.unpack()
        return [(str(x[0]), str(x[1])) for x in units]
    except Exception as e:
        raise codec.CodecError(f"malformed flow data ({e})") from None


class JournalEntry:
    """One answered request: raised means the answer was a condition raised at
    the request (a handler's attempts spent) instead of a value returned; asked
    and at: when the flow made the request and when it was answered (epoch
    seconds on the runtime's clock; None in entries written before they were kept)."""

    __slots__ = ("kind", "payload", "key", "answer", "raised", "asked", "at")

    def __init__(self, kind, payload, key, answer, raised=False, asked=None, at=None):
        self.kind = kind  # Symbol
        self.payload = payload
        self.key = key
        self.answer = answer
        self.raised = raised
        self.asked = asked
        self.at = at


class FlowStatus(str, Enum):
    """Where a flow is. A suspended flow waits on a request (maybe with a
    deadline, or a handler's retry, at `wake`); a sleeping one on its timer
    alone; both hold a continuation. The rest are final but for `retry`."""

    RUNNING = "running"  # (only while its first step runs: never stored)
    SUSPENDED = "suspended"
    SLEEPING = "sleeping"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"

    def __str__(self):
        return self.value

    def __repr__(self):  # shown as the string it equals (in results, say)
        return repr(self.value)


WAITING = (FlowStatus.SUSPENDED, FlowStatus.SLEEPING)  # the states that hold a continuation


class Timer(str, Enum):
    """What happens when a flow's wake-up time comes."""

    SLEEP = "sleep"  # (sleep ...) ends: the flow runs on
    DEADLINE = "deadline"  # (request/timeout ...): the request is answered with a timeout
    RETRY = "retry"  # a handler of its request failed: it is tried again

    def __str__(self):
        return self.value


_STORED_STATUSES = frozenset(s.value for s in FlowStatus) - {"running"}
_TIMERS = frozenset(t.value for t in Timer)
_WAITING_NAMES = frozenset(s.value for s in WAITING)


class Flow:
    """A flow's state, and its transitions (suspend, finish, fail, cancel,
    wait_retry: the runtime orchestrates them — lock, run a step, commit).
    `data` (args, payload, result) and the continuation are decoded on first
    use; `k_blob` keeps the encoded continuation meanwhile."""

    __slots__ = (
        "id", "name", "status", "step", "def_unit", "kind", "key", "error",
        "args", "payload", "result", "suspension", "params", "k_blob", "k_units", "_data_blob",
        "wake", "timer", "attempts", "since", "k_heap", "whole", "committed", "base_size", "pieces_size",
        "shared", "journal_len", "journal",
    )

    def __init__(self, flow_id, name, args=()):
        self.id = flow_id
        self.name = name
        self.status = FlowStatus.RUNNING
        self.step = 0
        self.wake = None  # epoch seconds when `timer` fires, or None
        self.timer = None  # a Timer while wake is set
        self.attempts = 0  # failed handler attempts at the pending request
        self.since = None  # epoch seconds when it suspended at the pending request (or None)
        self.def_unit = None  # (hash, file) of the defflow's code unit
        self.kind = None  # pending request kind (Symbol)
        self.key = None
        self.error = None  # {"message", "position", "backtrace"}
        self.args = list(args)
        self.payload = None
        self.result = None
        self.suspension = None  # interp Suspension, when decoded or fresh
        # ((parameter, value), ...): the global parameters the suspended flow had
        # parameterized; they are set only while it runs (see FlowRuntime._step)
        self.params = ()
        self.k_blob = None
        self.k_units = []
        self._data_blob = None
        # incremental commits (flow.pieces): the continuation's object table as
        # last committed (a codec.Heap, while the runtime keeps the flow live);
        # whole() -> the whole snapshot, when what was read is a piece (its
        # continuation is in pieces); the bytes last committed or read (the
        # store's latest); the sizes of the base and of the pieces after it
        self.k_heap = None
        self.whole = None
        self.committed = None
        self.base_size = 0
        self.pieces_size = 0
        # the journal's large strings (codec.LARGE_STRING), written as references
        # to it: string -> codec.journal_ref; its length as committed; and what
        # resolves references when the flow's graphs are read (a JournalValues)
        self.shared = {}
        self.journal_len = 0
        self.journal = None

    # ---------------------------------------------------------------- bytes

    def snapshot(self, cenv):
        """The whole snapshot bytes (encodes the continuation if it changed: into
        a new heap, which later pieces build on)."""
        if self.suspension is None and self.status in WAITING:
            self._whole_k()  # (read from a piece, not decoded)
        self._data(cenv)
        if self.status in WAITING:
            if self.k_blob is None:
                self.release()
                heap = codec.Heap()
                self.k_blob, _, units = pack_graph(self._k_graph(), cenv, self.shared, heap)
                self.k_units = [tuple(u) for u in units]
                self.k_heap = heap
        else:
            self.release()
            self.k_blob = None
            self.k_units = []
        return self._pack_meta(None)

    def piece(self, cenv):
        """The piece bytes of this commit (flow.pieces: the continuation's
        changes since the last commit), or None when there is no heap to build
        on (the whole snapshot must be written)."""
        heap = self.k_heap
        if heap is None or heap.stale or self.status not in WAITING or self.suspension is None:
            return None
        self._data(cenv)
        units, changes, root, n = codec.encode_into(self._k_graph(), cenv, heap, self.shared)
        self.k_units = [tuple(u) for u in units]
        self.k_blob = None  # (the whole table is the store's to assemble)
        return self._pack_meta(pack_changes(units, changes, root, n))

    def _data(self, cenv):
        """The data graph's bytes (args, payload, result), encoded when it changed."""
        if self._data_blob is None:
            self._data_blob = pack_graph((tuple(self.args), self.payload, self.result), cenv, self.shared)[0]
        return self._data_blob

    def _whole_k(self):
        """The encoded continuation; for a flow read from a piece, taken from the
        whole snapshot the store assembles (None when it holds none)."""
        if self.k_blob is None and self.whole is not None:
            self.k_blob = unpack_plain(self.whole(), "flow snapshot")["k"]
        return self.k_blob

    def journalled(self, index, answer):
        """Its pending request is answered by journal entry `index`: a large
        string payload or answer is kept once, there (codec.EXT_JOURNAL)."""
        for which, v in ((0, self.payload), (1, answer)):
            if type(v) is str and len(v) >= codec.LARGE_STRING:
                self.shared.setdefault(v, codec.journal_ref(index, which))

    def _k_graph(self):
        s = self.suspension
        return (s.k, s.winders, s.handlers, s.payload, tuple(self.params))

    def release(self):
        """Drop the continuation's heap (stop watching its objects)."""
        if self.k_heap is not None:
            self.k_heap.release()
            self.k_heap = None

    def _pack_meta(self, changes):
        meta = {
            "v": SNAPSHOT_VERSION,
            "id": self.id,
            "name": self.name,
            "status": FlowStatus(self.status).value,
            "step": self.step,
            "def": list(self.def_unit) if self.def_unit else None,
            "kind": self.kind.name if self.kind is not None else None,
            "key": self.key,
            "error": self.error,
            "data": self._data_blob,
            "k": self.k_blob if changes is None else changes,
            "units": [list(u) for u in self.k_units],
        }
        if changes is not None:
            meta["piece"] = 1
        if self.wake is not None:
            meta["wake"] = self.wake
            meta["timer"] = self.timer.value
        if self.attempts:
            meta["attempts"] = self.attempts
        if self.since is not None and self.status in WAITING:
            meta["since"] = self.since
        return packb(meta)

    def changed(self):
        """Forget cached encodings after the flow's state changed."""
        self._data_blob = None
        self.k_blob = None

    # ---------------------------------------------------------------- transitions

    @property
    def waiting(self):
        """Does it hold a continuation (suspended or sleeping)?"""
        return self.status in WAITING

    def _leave(self, status):
        self.changed()
        self.status = status
        self.suspension = None
        self.params = ()
        self.kind = self.key = None
        self.payload = None
        self.wake = self.timer = None
        self.attempts = 0
        self.since = None

    def suspend(self, suspension, params, now):
        """The flow stopped at a request: (kind payload), (kind payload seconds)
        with a deadline, or the runtime's own (%sleep seconds) / (%sleep-until t).
        Wake-up times are computed here, once, from `now`."""
        self._leave(FlowStatus.SUSPENDED)
        request = suspension.payload
        kind, payload = request[0], request[1]
        self.step += 1
        self.kind = kind
        self.payload = payload
        self.key = f"{self.id}:{self.step}"
        self.suspension = suspension
        self.params = params
        self.since = float(now)
        if kind is SLEEP or kind is SLEEP_UNTIL:
            self.status = FlowStatus.SLEEPING
            self.wake = float(now + payload if kind is SLEEP else payload)
            self.timer = Timer.SLEEP
        elif len(request) > 2:
            self.wake = float(now + request[2])
            self.timer = Timer.DEADLINE

    def finish(self, value):
        self._leave(FlowStatus.DONE)
        self.release()
        self.result = value

    def fail(self, error):
        """error: {"message", "position", "backtrace"}."""
        self._leave(FlowStatus.FAILED)
        self.release()
        self.error = error

    def cancel(self):
        """Cancelled where it stands: its data (arguments, payload) is kept as it
        is, encoded (the flow may have been read without decoding it)."""
        self.status = FlowStatus.CANCELLED
        self.suspension = None
        self.release()
        self.k_blob = None
        self.wake = self.timer = None

    def wait_retry(self, attempts, at, message):
        """A handler of the pending request failed (attempts so far): try again at `at`."""
        self.attempts = attempts
        self.wake = float(at)
        self.timer = Timer.RETRY
        self.error = {"message": message, "position": None, "backtrace": []}

    def stop_retrying(self):
        """No handler to try again with: wait for an answer by resume alone."""
        self.wake = self.timer = None

    def index_entry(self):
        """(kind waited on, wake time) for the store's FlowIndex."""
        kind = self.kind.name if self.status == FlowStatus.SUSPENDED and self.kind is not None else None
        return (kind, self.wake)

    @classmethod
    def from_snapshot(cls, blob, cenv, decode_data=True, trust=None, journal=None):
        """The Flow in a snapshot; decode_data=False reads only the metadata
        (status, step, kind, ...: no code needed), leaving args/payload/result None.
        trust: a codec.Trust for decoding its data (an import: see flow.transfer);
        journal: its journal's entry bytes (what large strings in its data and
        continuation may refer to: see codec.EXT_JOURNAL), None for none;
        a foreign one (an import) only checks: the request kind is not interned (f.kind is None)."""
        meta = unpack_plain(blob, "flow snapshot")
        try:
            if not isinstance(meta, dict):
                raise ValueError("snapshot is not a map")
            version = meta.get("v")
            if version != SNAPSHOT_VERSION:
                raise StoreFormatError(
                    f"flow snapshot version {_shown(version)} is not supported (this flowscheme reads "
                    f"version {SNAPSHOT_VERSION})"
                )
            f = cls(_text(meta["id"], "id"), _text(meta["name"], "name"))
            f.status = _text(meta["status"], "status")
            if f.status not in _STORED_STATUSES:
                raise ValueError(f"unknown status {_shown(f.status)}")
            if type(meta["step"]) is not int or not 0 <= meta["step"] < MAX_COUNT:
                raise ValueError("malformed step")
            f.step = meta["step"]
            d = meta["def"]
            if d is not None and not (type(d) is list and len(d) == 2 and all(type(x) is str for x in d)):
                raise ValueError("malformed def (expected [unit hash, file])")
            f.def_unit = (d[0], d[1]) if d else None
            if f.status in _WAITING_NAMES and not (type(meta["kind"]) is str and type(meta["key"]) is str):
                raise ValueError("a suspended flow without its request kind and key")
            if meta["kind"] is not None and type(meta["kind"]) is not str:
                raise ValueError("malformed kind")
            if meta["key"] is not None and type(meta["key"]) is not str:
                raise ValueError("malformed key")
            if meta["error"] is not None and type(meta["error"]) is not dict:
                raise ValueError("malformed error")
            foreign = trust is not None and trust.foreign
            f.kind = sym(meta["kind"]) if meta["kind"] is not None and not foreign else None
            f.key = meta["key"]
            f.error = meta["error"]
            f._data_blob = meta["data"]
            f.k_blob = meta["k"]
            piece = is_piece(meta)
            units = meta["units"]
            if type(units) is not list or not all(
                type(u) is list and len(u) == 2 and all(type(x) is str for x in u) for u in units
            ):
                raise ValueError("malformed units (expected [[unit hash, file], ...])")
            f.k_units = [(u[0], u[1]) for u in units]
            f.status = FlowStatus(f.status)
            wake, timer, attempts = meta.get("wake"), meta.get("timer"), meta.get("attempts", 0)
            if wake is not None and not (type(wake) in (int, float) and wake == wake and timer in _TIMERS):
                raise ValueError("malformed wake-up time or timer")
            if type(attempts) is not int or not 0 <= attempts < MAX_COUNT:
                raise ValueError("malformed attempts")
            f.wake = float(wake) if wake is not None else None
            f.timer = Timer(timer) if wake is not None else None
            f.attempts = attempts
            since = meta.get("since")
            if since is not None and not (type(since) in (int, float) and since == since):
                raise ValueError("malformed suspension time")
            f.since = float(since) if since is not None else None
            if not isinstance(f._data_blob, bytes) or (f.status in _WAITING_NAMES and not isinstance(f.k_blob, bytes)):
                raise ValueError("missing data")
            if f.k_blob is not None and not isinstance(f.k_blob, bytes):
                raise ValueError("malformed continuation")
            if piece:  # its continuation is changes: the whole one comes from f.whole()
                if trust is not None:
                    raise ValueError("a piece where a whole snapshot belongs")
                f.k_blob = None
        except StoreFormatError:
            raise
        except Exception as e:
            raise StoreFormatError(f"malformed flow snapshot ({type(e).__name__}: {e})") from None
        if journal is not None:  # (the flow's journal: [entry bytes])
            f.journal = JournalValues(journal, cenv, f.shared, trust)
            f.journal_len = len(journal)
        if not decode_data:
            return f
        try:
            args, f.payload, f.result = unpack_graph(f._data_blob, cenv, "data", trust, journal=f.journal)
        except codec.MissingUnit as e:
            raise DataNeedsCode(f.id, f.name, e.unit_hash, e.filename) from None
        except codec.CodecError as e:
            raise StoreFormatError(f"flow {f.id!r}: {e}") from None
        f.args = list(args)
        return f

    def decode_continuation(self, cenv, trust=None, cont_level=None):
        """The Suspension to resume (raises codec.MissingUnit if code is not loaded,
        codec.CodecError if the continuation is not one the loaded code makes).
        cont_level: the driver level its call/cc continuations get (see codec.decode_graph)."""
        from interp.machine import Suspension

        if self.suspension is None:
            k, winders, handlers, payload, params = unpack_graph(self._whole_k(), cenv, "continuation", trust,
                                                                 cont_level, self.journal)
            suspension = Suspension(k, winders, handlers, payload)
            if trust is not None and trust.foreign:
                return suspension  # only checked (an import): not kept
            self.suspension = suspension
            self.params = params
            self.release()  # (its next commit is whole: see flow.live)
        return self.suspension


def read_flow(stored, cenv, decode_data=True):
    """The Flow a store holds (a StoredFlow), read from its latest commit: a
    whole snapshot, or a piece (flow.pieces) — then its continuation, when
    needed, comes from the snapshot assembled from the base and the pieces."""
    latest = getattr(stored, "latest", None)
    pieces = getattr(stored, "pieces", None) or ()
    if latest is None:
        latest = stored.snapshot
    f = Flow.from_snapshot(latest, cenv, decode_data, journal=stored.journal)
    f.committed = latest
    if pieces:
        f.whole = lambda: stored.snapshot
        f.base_size = len(stored.base)
        f.pieces_size = sum(len(p) for p in pieces)
    else:
        f.base_size = len(latest)
    return f


def snapshot_index(blob):
    """A snapshot's FlowIndex entry — (kind waited on, wake time) — from its
    metadata alone (no code needed); (None, None) for a malformed one."""
    try:
        meta = unpack_plain(blob, "flow snapshot")
        status, kind, wake = meta.get("status"), meta.get("kind"), meta.get("wake")
    except (StoreFormatError, AttributeError):
        return (None, None)
    kind = kind if status == "suspended" and type(kind) is str else None
    wake = float(wake) if type(wake) in (int, float) and wake == wake else None
    return (kind, wake)


def journal_entry_bytes(entry, cenv):
    data = pack_graph((entry.payload, entry.answer), cenv)[0]
    m = {"kind": entry.kind.name, "key": entry.key, "data": data}
    if entry.raised:
        m["raised"] = True
    for name in ("asked", "at"):
        when = getattr(entry, name)
        if when is not None:
            m[name] = float(when)
    return packb(m)


def journal_entry_from_bytes(blob, cenv, trust=None):
    """A JournalEntry; trust as for Flow.from_snapshot (foreign: kind left None)."""
    m = unpack_plain(blob, "journal entry")
    try:
        kind, key, data = m["kind"], m["key"], m["data"]
        if type(kind) is not str or type(key) is not str or not isinstance(data, bytes):
            raise ValueError("expected a kind, a key and data")
    except Exception as e:
        raise StoreFormatError(f"malformed journal entry ({type(e).__name__}: {e})") from None
    try:
        payload, answer = unpack_graph(data, cenv, "journal", trust)
    except codec.CodecError as e:
        raise StoreFormatError(f"journal entry {key}: {e}") from None
    foreign = trust is not None and trust.foreign
    asked, at = (_time_or_none(m.get(name), key) for name in ("asked", "at"))
    return JournalEntry(None if foreign else sym(kind), payload, key, answer, m.get("raised") is True, asked, at)


def _time_or_none(x, key):
    if x is None:
        return None
    if type(x) not in (int, float) or x != x:
        raise StoreFormatError(f"journal entry {key}: malformed time")
    return float(x)


def _text(x, what):
    if type(x) is not str:
        raise ValueError(f"malformed {what} (expected text, got {type(x).__name__})")
    return x


def _shown(x):
    """x for a message: short."""
    r = repr(x)
    return r if len(r) <= 60 else r[:57] + "..."
