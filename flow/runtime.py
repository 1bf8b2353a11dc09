"""FlowRuntime: the Python driver API for durable flows.

    rt = FlowRuntime(store="data/flows")        # durable; FlowRuntime() is in memory
    rt.load_file("schemes/order.scm")           # (defflow order-lifecycle ...)
    s = rt.start("order-lifecycle", "o-1", flow_id="o-1")   # -> Suspended(kind="reserve")
    s = rt.resume("o-1", "reserved", kind="reserve")         # -> Suspended(kind="payment")
    rt.resume("o-1", "paid", kind="reserve")                 # -> NotWaiting: nothing changed

Results: `Suspended(flow_id, kind, payload, key)`, `Done(flow_id, value)`,
`Failed(flow_id, error)` (the flow's Scheme code raised; the runtime carries on),
and from `resume` also `NotWaiting(flow_id, status, waiting_on)` when the flow is
not waiting (on that kind) — nothing changed; this is what makes a replayed
webhook harmless. Every call's outcome is committed to the store before it
returns. `serve={kind: handler}` on start/resume answers those requests inside
the call (see FlowRuntime._advance): one commit for the whole run, so handlers
must be idempotent by the request key. Values cross by the mapping in flow.convert.
"""

import threading
import uuid
import zlib
from typing import Any, NamedTuple, Optional

import msgpack

from interp.errors import SchemeError
from interp.interpreter import Interpreter
from interp.machine import D, Closure, Parameter, Suspension
from interp.primitives.io import SchemeExit
from interp.printer import write_string
from interp.primitives.hashtables import HashTable
from interp.values import Pair, Vector, equal

from . import codec
from .convert import to_python, to_scheme
from .errors import (
    CodeNotLoaded,
    FlowError,
    FlowNotFound,
    NondeterminismError,
    StoreFormatError,
    UnknownFlow,
    UnsaveableFlow,
)
from .model import DataNeedsCode, Flow, JournalEntry, journal_entry_bytes, journal_entry_from_bytes
from .store import FileStore, MemoryStore, StoredFlow

# An exported store: magic, version (2 bytes), CRC-32 of the body (4 bytes), the
# msgpack body. The checksum makes a flipped bit an error rather than a changed value.
STORE_MAGIC = b"FLOWSCHEME-STORE"
STORE_VERSION = 2
MAX_IMPORT_BYTES = 512 * 1024 * 1024


class Suspended(NamedTuple):
    flow_id: str
    kind: str
    payload: Any
    key: str


class Done(NamedTuple):
    flow_id: str
    value: Any


class FlowFailure(NamedTuple):
    message: str
    position: Optional[str]
    backtrace: list


class Failed(NamedTuple):
    flow_id: str
    error: FlowFailure


class NotWaiting(NamedTuple):
    """resume() found the flow not waiting (on that kind): nothing was changed."""

    flow_id: str
    status: str
    waiting_on: Optional[str]

    def __bool__(self):
        return False


class FlowDef(NamedTuple):
    name: str
    proc: Closure
    unit_hash: str
    filename: str


def _check_id(flow_id):
    flow_id = str(flow_id)
    try:
        flow_id.encode("utf-8")
    except UnicodeEncodeError:
        raise FlowError(f"a flow id must be valid Unicode text, not {flow_id!r}") from None
    return flow_id


def same_data(a, b):
    """equal?, except that hash tables (which equal? compares by identity) are the
    same when they hold the same kind and the same keys with the same values: a
    request payload re-made on replay is a new table, like any other new object."""
    if type(a) is HashTable and type(b) is HashTable:
        entries = a.items()
        return (a.kind == b.kind and len(entries) == len(b.items())
                and all(b.contains(k) and same_data(v, b.get(k)) for k, v in entries))
    if type(a) is Pair and type(b) is Pair:
        while type(a) is Pair and type(b) is Pair:
            if not same_data(a.car, b.car):
                return False
            a, b = a.cdr, b.cdr
        return same_data(a, b)
    if type(a) is Vector and type(b) is Vector:
        return len(a) == len(b) and all(same_data(x, y) for x, y in zip(a, b))
    return equal(a, b)


class FlowRuntime:
    """Durable flows on one interpreter; see the module docstring."""

    def __init__(self, store=None, interpreter=None, stdout=None):
        self.interp = interpreter if interpreter is not None else Interpreter(stdout=stdout)
        self.cenv = codec.Env(self.interp)
        self.defs = {}
        self.store = MemoryStore() if store is None else FileStore(store)
        self._lock = threading.RLock()
        self._running = set()  # ids of flows in a step (a flow may not start or resume itself)
        from .scheme_api import install

        install(self)

    # -------------------------------------------------------------- code

    def load(self, text, filename=None):
        """Evaluate Scheme source in the flow environment (defflow, request, ...)."""
        return self.interp.eval(text, filename)

    def load_file(self, path):
        return self.interp.eval_file(path)

    def eval(self, text):
        return self.interp.eval(text)

    def register(self, name, proc):
        """What (defflow name proc) does."""
        if type(proc) is not Closure or proc.lam.node is None:
            raise FlowError(f"defflow {name}: expected a Scheme procedure")
        unit = proc.lam.node.unit
        self.defs[name] = FlowDef(name, proc, unit.hash, unit.filename or "<string>")

    # -------------------------------------------------------------- reading state

    def _flow(self, flow_id, refresh=True, decode_data=True):
        """The flow's committed state (refresh: first pick up other processes' commits)."""
        flow_id = str(flow_id)  # as start/resume/cancel take it
        if refresh:
            self.store.refresh()
        stored = self.store.get(flow_id)
        if stored is None:
            raise FlowNotFound(flow_id)
        return Flow.from_snapshot(stored.snapshot, self.cenv, decode_data)

    def status(self, flow_id):
        """"suspended", "done", "failed" or "cancelled"."""
        return self._flow(flow_id, decode_data=False).status

    def result(self, flow_id):
        """The state of a flow as a result object (Suspended, Done, Failed, ...)."""
        return self._result(self._flow(flow_id))

    def flow(self, flow_id, data=True):
        """The Flow record itself (for inspection: step, args, error, ...); with
        data=False only its metadata (status, step, kind, key: no decoding)."""
        return self._flow(flow_id, decode_data=data)

    def journal(self, flow_id):
        """The answered requests of a flow, oldest first: [JournalEntry]."""
        flow_id = str(flow_id)
        self.store.refresh()
        stored = self.store.get(flow_id)
        if stored is None:
            raise FlowNotFound(flow_id)
        return self._journal_entries(stored)

    def _journal_entries(self, stored):
        try:
            return [journal_entry_from_bytes(b, self.cenv) for b in stored.journal]
        except codec.MissingUnit as e:  # an answer or payload holding a procedure
            f = Flow.from_snapshot(stored.snapshot, self.cenv, decode_data=False)
            raise DataNeedsCode(f.id, f.name, e.unit_hash, e.filename) from None

    def ids(self):
        self.store.refresh()
        return self.store.ids()

    def waiting(self):
        """[(flow_id, kind, key)] of every suspended flow — read from the snapshots'
        metadata only, so it is cheap on a large store and needs no code loaded."""
        out = []
        for flow_id in self.ids():
            f = self._flow(flow_id, refresh=False, decode_data=False)
            if f.status == "suspended":
                out.append((f.id, f.kind.name, f.key))
        return out

    def pending(self):
        """Every flow waiting on the host: [Suspended]."""
        out = []
        for flow_id in self.ids():
            f = self._flow(flow_id, refresh=False)
            if f.status == "suspended":
                out.append(self._result(f))
        return out

    def _result(self, f):
        if f.status == "suspended":
            return Suspended(f.id, f.kind.name, to_python(f.payload), f.key)
        if f.status == "done":
            return Done(f.id, to_python(f.result))
        if f.status == "failed":
            e = f.error or {}
            return Failed(f.id, FlowFailure(e.get("message", ""), e.get("position"), e.get("backtrace", [])))
        return NotWaiting(f.id, f.status, None)

    # -------------------------------------------------------------- transitions

    def start(self, name, *args, flow_id=None, serve=None):
        """Start flow `name` with args; an existing flow_id returns that flow's state.
        serve: {kind: handler} answers those requests in place (see _advance)."""
        scheme_args = [to_scheme(a) for a in args]
        f = self._start(name, scheme_args, flow_id, serve)
        return self._result(f)

    def _start(self, name, scheme_args, flow_id, serve=None):
        d = self.defs.get(name)
        if d is None:
            raise UnknownFlow(f"no flow named {name!r} (defflow it first)")
        if flow_id is None:
            flow_id = f"{name}-{uuid.uuid4().hex[:12]}"
        flow_id = _check_id(flow_id)
        with self.store.lock(flow_id):
            self._not_running(flow_id)
            self.store.refresh()
            if self.store.get(flow_id) is not None:
                return self._flow(flow_id, refresh=False)
            f = Flow(flow_id, name, scheme_args)
            f.def_unit = (d.unit_hash, d.filename)
            entries = []
            self._running.add(flow_id)
            try:
                outcome, params = self._step((), lambda: self.interp.call_suspendable(d.proc, scheme_args))
                self._advance(f, outcome, params, entries, serve)
            finally:
                self._running.discard(flow_id)
            self._commit(f, entries)
            return f

    def _not_running(self, flow_id):
        if flow_id in self._running:
            raise FlowError(f"flow {flow_id!r} is running: a flow cannot start or resume itself")

    def resume(self, flow_id, value, kind=None, serve=None):
        """Answer the request flow_id waits on; with kind=..., only if it waits on that kind.
        serve: {kind: handler} answers the requests that follow in place (see _advance)."""
        return self._result_or(self._resume(str(flow_id), to_scheme(value), kind, serve))

    def _result_or(self, x):
        return x if isinstance(x, NotWaiting) else self._result(x)

    def _resume(self, flow_id, answer, kind=None, serve=None):
        with self.store.lock(flow_id):
            self._not_running(flow_id)
            f = self._flow(flow_id)
            if f.status != "suspended":
                return NotWaiting(flow_id, f.status, None)
            if kind is not None and f.kind.name != str(kind):
                return NotWaiting(flow_id, f.status, f.kind.name)
            self._running.add(flow_id)
            try:
                entries = []
                outcome, params = self._answer(f, self._continuation(f), answer, entries)
                self._advance(f, outcome, params, entries, serve)
            finally:
                self._running.discard(flow_id)
            self._commit(f, entries)
            return f

    def _answer(self, f, susp, answer, entries):
        """Answer the request f waits on (its journal entry goes into `entries`) and
        run the flow on from suspension susp -> (outcome, params)."""
        entries.append(journal_entry_bytes(JournalEntry(f.kind, f.payload, f.key, answer), self.cenv))
        return self._step(f.params, lambda: self.interp.resume(susp, answer))

    def _advance(self, f, outcome, params, entries, serve):
        """Apply a step's outcome to f; then, while f waits on a kind in `serve`,
        answer it with serve[kind](Suspended) and run on — all before the one commit
        the caller makes (each answer goes into `entries`, the journal).

        This is for requests the host services on the spot (a ledger append, a
        call to a stock service): their suspensions are never committed, so after
        a crash the flow runs again from its last commit and asks again under the
        same key — a handler must be idempotent by the request's key. When a
        handler raises, the flow is committed waiting on that request (the work
        before it is kept) and the exception propagates."""
        self._apply_outcome(f, outcome, params)
        while serve and f.status == "suspended" and f.kind.name in serve:
            try:
                answer = to_scheme(serve[f.kind.name](self._result(f)))
            except BaseException:
                self._commit(f, entries)
                raise
            outcome, params = self._answer(f, f.suspension, answer, entries)
            self._apply_outcome(f, outcome, params)

    def cancel(self, flow_id):
        """Cancel a suspended flow (a no-op on a finished one); returns its status."""
        flow_id = str(flow_id)
        with self.store.lock(flow_id):
            self._not_running(flow_id)
            f = self._flow(flow_id, decode_data=False)  # its data is kept as it is
            if f.status == "suspended":
                f.status = "cancelled"
                f.suspension = None
                self._commit(f, [])
            return f.status

    def _run(self, action):
        with self._lock:
            try:
                return action()
            except SchemeError as e:
                return e
            except SchemeExit as e:
                return FlowError(f"(exit {e.code}) called inside a flow")

    def _step(self, params, action):
        """Run one step of a flow -> (outcome, params). The global parameters the
        flow had parameterized when it suspended (params) are set while it runs;
        afterwards every global parameter gets back the value it had before the
        step, and the ones the suspended flow left changed are returned, so that
        a parameterize around a request stays the flow's own, across export."""
        with self._lock:  # one step at a time: the parameters are global state
            saved = [(p, p.value) for p in self._global_parameters()]
            for p, v in params:
                p.value = v
            try:
                outcome = self._run(action)
            finally:
                changed = tuple((p, p.value) for p, old in saved if p.value is not old)
                for p, old in saved:
                    p.value = old
        return outcome, (changed if type(outcome) is Suspension else ())

    def _global_parameters(self):
        """The parameter objects bound to globals (rescanned when globals are added)."""
        cells = self.interp.genv.cells
        cached = getattr(self, "_params_cache", None)
        if cached is not None and cached[0] == len(cells):
            return cached[1]
        out = []
        for cell in cells.values():
            try:
                v = cell.value
            except AttributeError:
                continue
            if type(v) is Parameter:
                out.append(v)
        self._params_cache = (len(cells), out)
        return out

    def _apply_outcome(self, f, outcome, params=()):
        f.changed()
        f.suspension = None
        f.params = params
        f.kind = f.key = None
        f.payload = None
        if type(outcome) is Suspension:
            kind, payload = outcome.payload
            f.step += 1
            f.status = "suspended"
            f.kind = kind
            f.payload = payload
            f.key = f"{f.id}:{f.step}"
            f.suspension = outcome
        elif isinstance(outcome, SchemeError):
            f.status = "failed"
            f.error = {
                "message": outcome.message,
                "position": str(outcome.pos) if outcome.pos is not None else None,
                "backtrace": [[n, str(p) if p is not None else None] for n, p in outcome.backtrace[:50]],
            }
        elif isinstance(outcome, FlowError):
            f.status = "failed"
            f.error = {"message": str(outcome), "position": None, "backtrace": []}
        else:
            f.status = "done"
            f.result = outcome

    def _commit(self, f, entries):
        try:
            snapshot = f.snapshot(self.cenv)
        except codec.CodecError as e:
            raise UnsaveableFlow(f"flow {f.id!r} cannot be saved: {e}") from None
        self.store.commit(f.id, snapshot, entries)

    # -------------------------------------------------------------- continuations and replay

    def _continuation(self, f):
        """The suspension to resume: decoded from the snapshot when the flow's code
        is loaded unchanged, else rebuilt by replaying the journal on the new code."""
        d = self.defs.get(f.name)
        same_def = d is not None and f.def_unit is not None and d.unit_hash == f.def_unit[0]
        if same_def and all(self.interp.units.get(h) is not None for h, _ in f.k_units):
            # call/cc continuations saved in the flow belong to the driver that
            # will resume it, whatever driver (Python, or Scheme's flow/resume) ran it before
            with self._lock:
                self.cenv.cont_level = D.level + 1
                try:
                    return f.decode_continuation(self.cenv)
                except codec.MissingUnit:
                    pass
                except codec.CodecError as e:
                    raise StoreFormatError(f"flow {f.id!r}: {e}") from None
                finally:
                    self.cenv.cont_level = None
        if d is None:
            missing = next(((h, fn) for h, fn in f.k_units if self.interp.units.get(h) is None), None)
            h, fn = missing or (f.def_unit or ("?", "?"))
            raise CodeNotLoaded(f.id, f.name, h, fn)
        return self._replay(f, d)

    def _replay(self, f, d):
        """Re-run the flow's (new) code, answering its requests from the journal."""
        journal = self.journal(f.id)
        outcome, params = self._step((), lambda: self.interp.call_suspendable(d.proc, list(f.args)))
        for i, entry in enumerate(journal):
            self._check_replay(f, i + 1, outcome, entry.kind, entry.payload)
            outcome, params = self._step(params, lambda o=outcome, a=entry.answer: self.interp.resume(o, a))
        self._check_replay(f, len(journal) + 1, outcome, f.kind, f.payload)
        f.def_unit = (d.unit_hash, d.filename)
        f.suspension = outcome
        f.params = params
        return outcome

    def _check_replay(self, f, step, outcome, kind, payload):
        expected = f"(request '{kind.name} {write_string(payload)})"
        if type(outcome) is Suspension:
            k, p = outcome.payload
            if k is kind and same_data(p, payload):
                return
            actual = f"(request '{write_string(k)} {write_string(p)})"
        elif isinstance(outcome, SchemeError):
            actual = f"an error: {outcome.message}"
        else:
            actual = f"the flow finishing with {write_string(outcome)}"
        raise NondeterminismError(f.id, step, expected, actual)

    # -------------------------------------------------------------- export / import

    def export_store(self):
        """Every flow (state and journal) as bytes: msgpack with a versioned header."""
        self.store.refresh()
        flows = []
        for flow_id in self.store.ids():
            s = self.store.get(flow_id)
            flows.append([flow_id, s.snapshot, list(s.journal)])
        body = msgpack.packb({"version": STORE_VERSION, "flows": flows}, use_bin_type=True)
        return STORE_MAGIC + STORE_VERSION.to_bytes(2, "big") + zlib.crc32(body).to_bytes(4, "big") + body

    def import_store(self, data, max_bytes=MAX_IMPORT_BYTES):
        """Replace this runtime's flows with those in `data` (from export_store).

        Nothing runs. Truncated, malformed, oversized or wrong-version data, or a
        flow whose defflow is not loaded, raise a FlowError and change nothing."""
        flows = self._parse_store(data, max_bytes)
        for flow_id, stored in flows.items():
            f = Flow.from_snapshot(stored.snapshot, self.cenv)
            if f.id != flow_id:
                raise StoreFormatError(f"flow {flow_id!r}: snapshot names another flow ({f.id!r})")
            self._journal_entries(stored)
            if f.status == "suspended" and f.name not in self.defs:
                h, fn = f.def_unit or ("?", "?")
                raise CodeNotLoaded(f.id, f.name, h, fn)
            if f.status == "suspended":  # check the continuation decodes (nothing runs)
                try:
                    f.decode_continuation(self.cenv)
                except codec.MissingUnit:
                    pass  # its code changed: resume will replay the journal
                except codec.CodecError as e:
                    raise StoreFormatError(f"flow {f.id!r}: {e}") from None
        self.store.replace_all(flows)
        return len(flows)

    def _parse_store(self, data, max_bytes):
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise StoreFormatError(f"a flow store must be bytes, not {type(data).__name__}")
        data = bytes(data)
        if len(data) > max_bytes:
            raise StoreFormatError(f"flow store too large ({len(data)} bytes; the limit is {max_bytes})")
        m = len(STORE_MAGIC)
        head = m + 6
        if not data.startswith(STORE_MAGIC):
            if data and STORE_MAGIC.startswith(data):
                raise StoreFormatError(f"flow store is truncated (only {len(data)} bytes)")
            raise StoreFormatError("not a flowscheme flow store (bad magic)")
        if len(data) < head:
            raise StoreFormatError(f"flow store is truncated (a {len(data)}-byte header)")
        version = int.from_bytes(data[m : m + 2], "big")
        if version != STORE_VERSION:
            raise StoreFormatError(
                f"flow store format version {version} is not supported (this flowscheme reads version {STORE_VERSION})"
            )
        if zlib.crc32(data[head:]) != int.from_bytes(data[m + 2 : head], "big"):
            raise StoreFormatError("flow store is truncated or corrupt (checksum mismatch)")
        try:
            body = msgpack.unpackb(data[head:], raw=False, strict_map_key=True)
        except Exception as e:
            raise StoreFormatError(f"flow store is truncated or malformed ({type(e).__name__}: {e})") from None
        try:
            if body["version"] != STORE_VERSION:
                raise ValueError("version mismatch between header and body")
            flows = {}
            for flow_id, snapshot, journal in body["flows"]:
                if not isinstance(flow_id, str) or not isinstance(snapshot, bytes):
                    raise ValueError("bad flow entry")
                if not all(isinstance(b, bytes) for b in journal):
                    raise ValueError("bad journal")
                if flow_id in flows:
                    raise ValueError(f"flow {flow_id!r} appears twice")
                flows[flow_id] = StoredFlow(snapshot, list(journal))
        except (KeyError, TypeError, ValueError) as e:
            raise StoreFormatError(f"flow store is malformed ({e})") from None
        return flows

    def reset(self):
        """Forget every flow and every defflow registration."""
        self.store.replace_all({})
        self.defs.clear()

    def close(self):
        self.store.close()
