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
webhook harmless. Every transition is committed to the store before the call
returns. Values cross by the mapping in flow.convert.
"""

import threading
import uuid
from typing import Any, NamedTuple, Optional

import msgpack

from interp.errors import SchemeError
from interp.interpreter import Interpreter
from interp.machine import Closure, Suspension
from interp.primitives.io import SchemeExit
from interp.printer import write_string
from interp.values import equal

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
from .model import Flow, JournalEntry, journal_entry_bytes, journal_entry_from_bytes
from .store import FileStore, MemoryStore, StoredFlow

STORE_MAGIC = b"FLOWSCHEME-STORE"
STORE_VERSION = 1
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


class FlowRuntime:
    """Durable flows on one interpreter; see the module docstring."""

    def __init__(self, store=None, interpreter=None, stdout=None):
        self.interp = interpreter if interpreter is not None else Interpreter(stdout=stdout)
        self.cenv = codec.Env(self.interp)
        self.defs = {}
        self.store = MemoryStore() if store is None else FileStore(store)
        self._lock = threading.RLock()
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

    def _flow(self, flow_id):
        stored = self.store.get(flow_id)
        if stored is None:
            self.store.refresh()
            stored = self.store.get(flow_id)
            if stored is None:
                raise FlowNotFound(flow_id)
        return Flow.from_snapshot(stored.snapshot, self.cenv)

    def status(self, flow_id):
        """"suspended", "done", "failed" or "cancelled"."""
        return self._flow(flow_id).status

    def result(self, flow_id):
        """The state of a flow as a result object (Suspended, Done, Failed, ...)."""
        return self._result(self._flow(flow_id))

    def flow(self, flow_id):
        """The Flow record itself (for inspection: step, args, error, ...)."""
        return self._flow(flow_id)

    def journal(self, flow_id):
        """The answered requests of a flow, oldest first: [JournalEntry]."""
        stored = self.store.get(flow_id)
        if stored is None:
            raise FlowNotFound(flow_id)
        return [journal_entry_from_bytes(b, self.cenv) for b in stored.journal]

    def ids(self):
        self.store.refresh()
        return self.store.ids()

    def pending(self):
        """Every flow waiting on the host: [Suspended]."""
        out = []
        for flow_id in self.ids():
            f = self._flow(flow_id)
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

    def start(self, name, *args, flow_id=None):
        """Start flow `name` with args; an existing flow_id returns that flow's state."""
        scheme_args = [to_scheme(a) for a in args]
        f = self._start(name, scheme_args, flow_id)
        return self._result(f)

    def _start(self, name, scheme_args, flow_id):
        d = self.defs.get(name)
        if d is None:
            raise UnknownFlow(f"no flow named {name!r} (defflow it first)")
        if flow_id is None:
            flow_id = f"{name}-{uuid.uuid4().hex[:12]}"
        flow_id = str(flow_id)
        with self.store.lock(flow_id):
            self.store.refresh()
            if self.store.get(flow_id) is not None:
                return self._flow(flow_id)
            f = Flow(flow_id, name, scheme_args)
            f.def_unit = (d.unit_hash, d.filename)
            outcome = self._run(lambda: self.interp.call_suspendable(d.proc, scheme_args))
            self._apply_outcome(f, outcome)
            self._commit(f, [])
            return f

    def resume(self, flow_id, value, kind=None):
        """Answer the request flow_id waits on; with kind=..., only if it waits on that kind."""
        return self._result_or(self._resume(str(flow_id), to_scheme(value), kind))

    def _result_or(self, x):
        return x if isinstance(x, NotWaiting) else self._result(x)

    def _resume(self, flow_id, answer, kind=None):
        with self.store.lock(flow_id):
            self.store.refresh()
            f = self._flow(flow_id)
            if f.status != "suspended":
                return NotWaiting(flow_id, f.status, None)
            if kind is not None and f.kind.name != str(kind):
                return NotWaiting(flow_id, f.status, f.kind.name)
            susp = self._continuation(f)
            entry = JournalEntry(f.kind, f.payload, f.key, answer)
            outcome = self._run(lambda: self.interp.resume(susp, answer))
            self._apply_outcome(f, outcome)
            self._commit(f, [journal_entry_bytes(entry, self.cenv)])
            return f

    def cancel(self, flow_id):
        """Cancel a suspended flow (a no-op on a finished one); returns its status."""
        flow_id = str(flow_id)
        with self.store.lock(flow_id):
            self.store.refresh()
            f = self._flow(flow_id)
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

    def _apply_outcome(self, f, outcome):
        f.changed()
        f.suspension = None
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
            try:
                return f.decode_continuation(self.cenv)
            except codec.MissingUnit:
                pass
            except codec.CodecError as e:
                raise StoreFormatError(f"flow {f.id!r}: {e}") from None
        if d is None:
            missing = next(((h, fn) for h, fn in f.k_units if self.interp.units.get(h) is None), None)
            h, fn = missing or (f.def_unit or ("?", "?"))
            raise CodeNotLoaded(f.id, f.name, h, fn)
        return self._replay(f, d)

    def _replay(self, f, d):
        """Re-run the flow's (new) code, answering its requests from the journal."""
        journal = self.journal(f.id)
        outcome = self._run(lambda: self.interp.call_suspendable(d.proc, list(f.args)))
        for i, entry in enumerate(journal):
            self._check_replay(f, i + 1, outcome, entry.kind, entry.payload)
            outcome = self._run(lambda o=outcome, a=entry.answer: self.interp.resume(o, a))
        self._check_replay(f, len(journal) + 1, outcome, f.kind, f.payload)
        f.def_unit = (d.unit_hash, d.filename)
        f.suspension = outcome
        return outcome

    def _check_replay(self, f, step, outcome, kind, payload):
        expected = f"(request '{kind.name} {write_string(payload)})"
        if type(outcome) is Suspension:
            k, p = outcome.payload
            if k is kind and equal(p, payload):
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
        return STORE_MAGIC + STORE_VERSION.to_bytes(2, "big") + body

    def import_store(self, data, max_bytes=MAX_IMPORT_BYTES):
        """Replace this runtime's flows with those in `data` (from export_store).

        Nothing runs. Truncated, malformed, oversized or wrong-version data, or a
        flow whose defflow is not loaded, raise a FlowError and change nothing."""
        flows = self._parse_store(data, max_bytes)
        for flow_id, stored in flows.items():
            f = Flow.from_snapshot(stored.snapshot, self.cenv)
            if f.id != flow_id:
                raise StoreFormatError(f"flow {flow_id!r}: snapshot names another flow ({f.id!r})")
            for b in stored.journal:
                journal_entry_from_bytes(b, self.cenv)
            if f.status == "suspended" and f.name not in self.defs:
                h, fn = f.def_unit or ("?", "?")
                raise CodeNotLoaded(f.id, f.name, h, fn)
        self.store.replace_all(flows)
        return len(flows)

    def _parse_store(self, data, max_bytes):
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise StoreFormatError(f"a flow store must be bytes, not {type(data).__name__}")
        data = bytes(data)
        if len(data) > max_bytes:
            raise StoreFormatError(f"flow store too large ({len(data)} bytes; the limit is {max_bytes})")
        head = len(STORE_MAGIC) + 2
        if len(data) < head or not data.startswith(STORE_MAGIC):
            raise StoreFormatError("not a flowscheme flow store (bad header)")
        version = int.from_bytes(data[len(STORE_MAGIC) : head], "big")
        if version != STORE_VERSION:
            raise StoreFormatError(
                f"flow store format version {version} is not supported (this flowscheme reads version {STORE_VERSION})"
            )
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
