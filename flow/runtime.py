"""FlowRuntime: the Python driver API for durable flows.

    rt = FlowRuntime(store="data/flows")        # durable; FlowRuntime() is in memory
    rt.load_file("schemes/order.scm")           # (defflow order-lifecycle ...)
    s = rt.start("order-lifecycle", "o-1", flow_id="o-1")   # -> Suspended(kind="reserve")
    s = rt.resume("o-1", "reserved", kind="reserve")         # -> Suspended(kind="payment")
    rt.resume("o-1", "paid", kind="reserve")                 # -> NotWaiting: nothing changed

Flows also move by themselves: (sleep s), (sleep-until t) and
(request/timeout kind payload s) are timers kept in the flow's state and the
store's time index; `fire_due()` (or a flow.worker.Worker) fires what is due,
serves requests with handlers and retries failing ones (RetryPolicy). Clock
and random reads in a flow are journalled (the runtime's clock: ManualClock in
tests). Steps run with the capabilities granted (allow=...) and inside limits
(interp.limits), in slices that give way to other threads.

Results: `Suspended(flow_id, kind, payload, key)`, `Sleeping(flow_id, until)`, `Done(flow_id, value)`,
`Failed(flow_id, error)` (the flow's Scheme code raised; the runtime carries on),
and from `resume` also `NotWaiting(flow_id, status, waiting_on)` when the flow is
not waiting (on that kind) — nothing changed; this is what makes a replayed
webhook harmless. Every call's outcome is committed to the store before it
returns. `serve={kind: handler}` on start/resume answers those requests inside
the call (see FlowRuntime._advance): one commit for the whole run, so handlers
must be idempotent by the request key. Values cross by the mapping in flow.convert.
"""

import os
import random
import threading
import uuid
from typing import NamedTuple

from interp.errors import SchemeError
from interp.interpreter import Interpreter
from interp.capabilities import grant
from interp.limits import Budget, Limits
from interp.machine import PREEMPTED, Closure, D, Interrupted, Parameter, Suspension, acquire_turn, turn
from interp.errors import SchemeExit
from interp.printer import write_string
from interp.recording import RECORDED_KIND
from interp.primitives.hashtables import HashTable
from interp.values import UNSPECIFIED, Pair, equal

from . import codec
from .clock import SystemClock
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
from .model import (
    DataNeedsCode,
    Flow,
    FlowStatus,
    JournalEntry,
    Timer,
    journal_entry_bytes,
    journal_entry_from_bytes,
    read_flow,
    snapshot_index,
)
from .results import (  # noqa: F401  (the result types are part of this module's API)
    Abandoned,
    Done,
    Failed,
    FlowFailure,
    NotWaiting,
    Sleeping,
    StepStopped,
    Suspended,
    Upgrade,
)
from .live import LiveFlows
from .retry import RetryPolicy
from .store import open_store
from .timers import Timers

# The export/import format lives in flow.transfer; these names stay importable here.
from .transfer import MAX_IMPORT_BYTES, STORE_MAGIC, STORE_VERSION  # noqa: E402,F401


class FlowDef(NamedTuple):
    name: str
    proc: Closure
    unit_hash: str
    filename: str


_RNG = random.SystemRandom()


def _random(n, *state):
    """(random n) for a flow: from the system's generator (recorded, so replays
    see the same value; the primitive checked n before suspending)."""
    return _RNG.randrange(n) if type(n) is int else _RNG.random() * n


def _pairs(x):
    while type(x) is Pair:
        yield x.car
        x = x.cdr


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
    return equal(a, b, HashTable)  # equal?'s own walker: cycles and shared parts are fine


class FlowRuntime(Timers):
    """Durable flows on one interpreter; see the module docstring."""

    def __init__(self, store=None, interpreter=None, stdout=None, allow=None, limits=None, clock=None,
                 retry=None, store_key=None):
        """allow: the restricted procedures flow code may call (names or categories
        of interp.capabilities: "file", "process", "eval", "environment-variables", "flows";
        "all" for everything; by default none). limits: an interp.limits.Limits
        for every step (default Limits(): generous bounds on calls, time, memory).
        clock: what "now" is for timers, deadlines, retries and the clock reads
        of flows (flow.clock: SystemClock() by default, ManualClock in tests).
        retry: the RetryPolicy of request handlers (serve=, the Worker's).
        store_key: bytes or str; exports carry its HMAC-SHA256 and imports
        without a valid one are refused (default: $FLOWSCHEME_STORE_KEY)."""
        self.interp = interpreter if interpreter is not None else Interpreter(stdout=stdout)
        self.cenv = codec.Env(self.interp)
        self.defs = {}  # name -> the latest FlowDef
        self.versions = {}  # (name, code unit hash) -> FlowDef: every version loaded
        self.store = open_store(store, index_of=snapshot_index)
        self.limits = Limits() if limits is None else limits
        self.clock = SystemClock() if clock is None else clock
        self.retry_policy = (RetryPolicy() if retry is None else retry).check()
        self.store_key = store_key
        self._lock = threading.RLock()
        self._running = set()  # ids of flows in a step (a flow may not start or resume itself)
        self._budgets = {}  # flow id -> (Budget, thread id) of its running step
        self.live = LiveFlows(self.store, self.cenv)  # continuations kept between steps (flow.live)
        from .scheme_api import install

        install(self)
        self.granted = grant(allow)  # (after install: it adds the "flows" category)

    # -------------------------------------------------------------- code

    def load(self, text, filename=None):
        """Evaluate Scheme source in the flow environment (defflow, request, ...)."""
        return self.interp.eval(text, filename)

    def load_file(self, path):
        """Evaluate a .scm file (a str or path-like, relative to the current
        directory); its code units are named by the path as given."""
        return self.interp.eval_file(os.fsdecode(os.fspath(path)))

    def eval(self, text):
        return self.interp.eval(text)

    def register(self, name, proc):
        """What (defflow name proc) does."""
        if type(proc) is not Closure or proc.lam.node is None:
            raise FlowError(f"defflow {name}: expected a Scheme procedure")
        unit = proc.lam.node.unit
        d = FlowDef(name, proc, unit.hash, unit.filename or "<string>")
        self.defs[name] = d  # new flows start on the latest version
        self.versions[(name, unit.hash)] = d  # old ones keep theirs while it is loaded

    # -------------------------------------------------------------- reading state

    def _flow(self, flow_id, refresh=True, decode_data=True):
        """The flow's committed state (refresh: first pick up other processes' commits)."""
        flow_id = str(flow_id)  # as start/resume/cancel take it
        if refresh:
            self.store.refresh()
        stored = self.store.get(flow_id)
        if stored is None:
            raise FlowNotFound(flow_id)
        return read_flow(stored, self.cenv, decode_data)

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
            f = read_flow(stored, self.cenv, decode_data=False)
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
        if f.status == FlowStatus.SLEEPING:
            return Sleeping(f.id, f.wake)
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
                outcome, params = self._step((), lambda **kw: self.interp.call_suspendable(d.proc, scheme_args, **kw),
                                             flow_id)
                self._advance(f, outcome, params, entries, serve)
            except Abandoned as a:
                return self._abandoned(Flow(flow_id, name, scheme_args), a.stopped)
            finally:
                self._running.discard(flow_id)
            self._commit(f, entries)
            return f

    def _not_running(self, flow_id):
        if flow_id in self._running:
            raise FlowError(f"flow {flow_id!r} is running: a flow cannot start or resume itself")

    def holding(self, flow_id):
        """Hold flow_id across several calls of this thread, as one step: a context
        manager (re-entrant: start, resume, fire and cancel inside take the flow
        again). On a store that commits a step together with the ledger
        (PostgreSQL, with a commerce.pgledger on the same database), ledger
        records appended inside are committed by the flow's next commit inside, and
        rolled back if none follows: append there only what a commit of the flow
        is to carry (the record that claims the transition)."""
        return self.store.lock(_check_id(flow_id))

    def resume(self, flow_id, value, kind=None, serve=None, key=None):
        """Answer the request flow_id waits on; with kind=..., only if it waits on
        that kind; with key=..., only if it waits on the request with that key
        (Suspended.key: a webhook's idempotency token — a replayed delivery for an
        earlier request of the same kind finds NotWaiting and changes nothing).
        serve: {kind: handler} answers the requests that follow in place (see _advance)."""
        return self._result_or(self._resume(str(flow_id), to_scheme(value), kind, serve, key))

    def _result_or(self, x):
        return x if isinstance(x, NotWaiting) else self._result(x)

    def _resume(self, flow_id, answer, kind=None, serve=None, key=None):
        with self.store.lock(flow_id):
            self._not_running(flow_id)
            f = self._flow(flow_id)
            if f.status != "suspended":
                return NotWaiting(flow_id, f.status, None)
            if (kind is not None and f.kind.name != str(kind)) or (key is not None and f.key != str(key)):
                return NotWaiting(flow_id, f.status, f.kind.name)
            if f.timer == Timer.DEADLINE and f.wake <= self.clock.now():
                # too late: the deadline passed first, so it fires now (exactly as
                # the worker would have) and the answer finds the flow not waiting
                self._fire_locked(f, serve)
                g = self._flow(flow_id, decode_data=False)
                return NotWaiting(flow_id, g.status, g.kind.name if g.status == "suspended" else None)
            self._running.add(flow_id)
            try:
                entries = []
                outcome, params = self._answer(f, self._continuation(f), answer, entries)
                self._advance(f, outcome, params, entries, serve)
            except Abandoned as a:
                return self._abandoned(self._flow(flow_id, decode_data=False), a.stopped)
            finally:
                self._running.discard(flow_id)
            self._commit(f, entries)
            return f

    def _abandoned(self, f, stopped):
        """A transition whose step was stopped; f: the flow as last committed (a
        new flow: as created). Over a limit, nothing is committed and the caller
        gets the flow as failed with the limit's message (the store keeps it as
        it was: the request can be answered again). Cancelled: the flow is
        committed cancelled (its journal as last committed)."""
        self.live.drop(f.id)
        if stopped.reason == "cancel":
            if f.waiting or f.step == 0:
                f.cancel()
                self._commit(f, [])
            return f
        f.status = "failed"
        f.error = {"message": stopped.message, "position": None, "backtrace": []}
        return f

    def _answer(self, f, susp, answer, entries, raised=False):
        """Answer the request f waits on (its journal entry goes into `entries`) and
        run the flow on from suspension susp -> (outcome, params). raised: the
        answer is a condition raised at the request instead of returned."""
        entries.append(journal_entry_bytes(JournalEntry(f.kind, f.payload, f.key, answer, raised, f.since,
                                                        self.clock.now()), self.cenv))
        f.journalled(f.journal_len + len(entries) - 1, answer)  # (its place in the journal once committed)
        go = self.interp.resume_raising if raised else self.interp.resume
        return self._step(f.params, lambda **kw: go(susp, answer, **kw), f.id)

    def _advance(self, f, outcome, params, entries, serve, applied=False, raising=True):
        """Apply a step's outcome to f; then, while f waits on a kind in `serve`,
        answer it with serve[kind](Suspended) and run on — all before the one commit
        the caller makes (each answer goes into `entries`, the journal).

        This is for requests the host services on the spot (a ledger append, a
        call to a stock service): their suspensions are never committed, so after
        a crash the flow runs again from its last commit and asks again under the
        same key — a handler must be idempotent by the request's key. When a
        handler raises, the flow is committed waiting on that request (the work
        before it is kept) and the exception propagates."""
        if not applied:  # (else: outcome is f's state already)
            self._apply_outcome(f, outcome, params)
        while f.status == "suspended":
            if f.kind is RECORDED_KIND:  # a clock or random read: answered and journalled here
                answer = self._recorded(f.payload)
            elif serve and f.kind.name in serve:
                try:
                    answer = to_scheme(serve[f.kind.name](self._result(f)))
                except Exception as e:
                    if self._handler_failed(f, e, entries):
                        if raising:
                            raise  # a retry is due later (f is committed waiting for it)
                        return
                    continue  # attempts spent: the flow got the condition and ran on
                except BaseException:
                    self._commit(f, entries)
                    raise
            else:
                break
            outcome, params = self._answer(f, f.suspension, answer, entries)
            self._apply_outcome(f, outcome, params)

    def _recorded(self, read):
        """The value of a recorded read (interp.recording) — (name args) — from
        the runtime's clock and random generator."""
        name, args = read.car.name, list(_pairs(read.cdr.car))
        if name == "current-second":
            return float(self.clock.now())
        if name == "current-time":
            return int(self.clock.now())
        if name == "current-jiffy":
            return int(self.clock.now() * 1_000_000)
        return _random(*args)

    def cancel(self, flow_id, unwind=False, serve=None):
        """Cancel a waiting flow (a no-op on a finished one); returns its status.
        A flow running a step in another thread of this process stops at its next
        check (within milliseconds) and is cancelled at its last commit.

        unwind=True lets the flow compensate instead: the request it waits on
        raises a flow-cancellation (`(flow-cancellation? c)`, journalled), which
        its guard / dynamic-wind can handle — release what it holds, say — and
        the flow then runs on (serving requests from serve) to wherever its
        handling takes it: done, or waiting on a compensating request. Uncaught,
        the flow ends cancelled. Needs the flow's code."""
        flow_id = str(flow_id)
        running = self._budgets.get(flow_id)
        if running is not None and running[1] != threading.get_ident():
            running[0].request_stop("cancel")
        with self.store.lock(flow_id):
            self._not_running(flow_id)
            f = self._flow(flow_id, decode_data=unwind)  # (else its data is kept as it is, encoded)
            if f.waiting and unwind:
                return self._unwind(f, serve)
            if f.waiting:
                f.cancel()
                self._commit(f, [])
            return f.status

    def _unwind(self, f, serve):
        entries = []
        condition = self.interp.call(self.interp.lookup("make-flow-cancellation"), f.id)
        self._running.add(f.id)
        try:
            outcome, params = self._answer(f, self._continuation(f), condition, entries, raised=True)
            if isinstance(outcome, SchemeError) and outcome.payload is condition:
                f.cancel()  # not handled: cancelled where it stood
            else:
                self._advance(f, outcome, params, entries, serve)
        except Abandoned as a:
            return self._abandoned(self._flow(f.id, decode_data=False), a.stopped).status
        finally:
            self._running.discard(f.id)
        self._commit(f, entries)
        return f.status

    def _run(self, action, budget):
        try:
            return budget.run(lambda: action(granted=self.granted, check=budget.check, record=True))
        except SchemeError as e:
            return e
        except SchemeExit as e:
            return FlowError(f"(exit {e.code}) called inside a flow")
        except Interrupted as e:
            return StepStopped(e.reason, self.limits.describe(e.reason))

    def _step(self, params, action, flow_id):
        """Run one step of flow flow_id -> (outcome, params); action(**kw) makes
        the interpreter call (kw: the capabilities and limits of the run).

        The step runs in slices: when another thread waits for its turn, the
        running slice gives way at its next procedure call (its continuation is
        data: machine.PREEMPTED) and carries on after the other has had its
        turn, so no lock is held across a whole step. The step spends one
        budget (self.limits) across its slices; over a limit, or cancelled, it
        stops with a StepStopped outcome.

        The global parameters the flow had parameterized when it suspended
        (params) are set while a slice runs; afterwards every global parameter
        gets back the value it had before, and the ones the suspended flow left
        changed are returned, so that a parameterize around a request stays the
        flow's own, across export."""
        budget = Budget(self.limits)
        me = threading.get_ident()
        outer = self._budgets.get(flow_id)
        self._budgets[flow_id] = (budget, me)
        gave_way = False
        try:
            while True:
                outcome, params = self._slice(params, action, budget, gave_way)
                if type(outcome) is not Suspension or outcome.payload is not PREEMPTED:
                    return outcome, params
                action = lambda susp=outcome, **kw: self.interp.resume(susp, UNSPECIFIED, **kw)  # noqa: E731
                gave_way = True
        finally:
            if outer is None:
                self._budgets.pop(flow_id, None)
            else:
                self._budgets[flow_id] = outer

    def _slice(self, params, action, budget, gave_way):
        acquire_turn(self._lock, gave_way)  # the parameters are global state
        try:
            saved = [(p, p.value) for p in self._global_parameters()]
            for p, v in params:
                p.value = v
            try:
                outcome = self._run(action, budget)
            finally:
                changed = tuple((p, p.value) for p, old in saved if p.value is not old)
                for p, old in saved:
                    p.value = old
        finally:
            self._lock.release()
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
        """The step's outcome as f's next state (see Flow's transitions)."""
        if type(outcome) is StepStopped:
            raise Abandoned(outcome)
        if type(outcome) is Suspension:
            f.suspend(outcome, params, self.clock.now())
        elif isinstance(outcome, SchemeError):
            f.fail({
                "message": outcome.message,
                "position": str(outcome.pos) if outcome.pos is not None else None,
                "backtrace": [[n, str(p) if p is not None else None] for n, p in outcome.backtrace[:50]],
            })
        elif isinstance(outcome, FlowError):
            f.fail({"message": str(outcome), "position": None, "backtrace": []})
        else:
            f.finish(outcome)

    def _commit(self, f, entries):
        try:
            try:
                snapshot, piece = self.live.snapshot(f, entries)
            except codec.CodecError as e:
                raise UnsaveableFlow(f"flow {f.id!r} cannot be saved: {e}") from None
            if piece:
                self.store.commit(f.id, snapshot, entries, f.index_entry(), piece=True)
            else:
                self.store.commit(f.id, snapshot, entries, f.index_entry())
        except BaseException:
            self.live.drop(f.id)
            f.release()
            raise
        f.journal_len += len(entries)
        self.live.committed(f, snapshot, piece, D.level + 1)

    # -------------------------------------------------------------- continuations and replay

    def _continuation(self, f):
        """The suspension to resume: decoded from the snapshot when the code the
        flow started on is loaded (pinned: several versions of a flow may be loaded
        side by side), else rebuilt by replaying the journal on the latest code."""
        d = self.defs.get(f.name)
        pinned = f.def_unit is not None and (f.name, f.def_unit[0]) in self.versions
        if pinned and all(self.interp.units.get(h) is not None for h, _ in f.k_units):
            # call/cc continuations saved in the flow belong to the driver that
            # will resume it, whatever driver (Python, or Scheme's flow/resume) ran it before
            with turn(self._lock):
                try:
                    level = D.level + 1
                    if not self.live.take(f, level):
                        f.decode_continuation(self.cenv, cont_level=level)
                    self.live.hold(f, level)
                    return f.suspension
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
        """Re-run the flow's (new) code, answering its requests from the journal,
        up to the request f waits on."""
        outcome, params = self._replay_journal(f, d)
        self._check_replay(f, f.step, outcome, f.kind, f.payload)
        f.def_unit = (d.unit_hash, d.filename)
        f.suspension = outcome
        f.params = params
        f.k_blob = None  # the continuation is the new code's now
        return outcome

    def _replay_journal(self, f, d):
        """Run flow def d from f's arguments, answering each request from f's
        journal (NondeterminismError where it asks for something else) ->
        (outcome, params) of the run after the last journalled answer."""
        journal = self.journal(f.id)
        outcome, params = self._step((), lambda **kw: self.interp.call_suspendable(d.proc, list(f.args), **kw), f.id)
        for i, entry in enumerate(journal):
            self._check_replay(f, i + 1, outcome, entry.kind, entry.payload)
            go = self.interp.resume_raising if entry.raised else self.interp.resume
            outcome, params = self._step(
                params, lambda o=outcome, a=entry.answer, go=go, **kw: go(o, a, **kw), f.id
            )
        return outcome, params

    def retry(self, flow_id, serve=None):
        """Run a failed flow again from its last committed state, on the code
        loaded now (its journal answers every request it had answered, so no
        handler runs twice): a fixed bug, a raised limit or a transient error
        lets it carry on. Any other flow: NotWaiting, nothing changes.
        NondeterminismError if the code now asks for something else."""
        flow_id = str(flow_id)
        with self.store.lock(flow_id):
            self._not_running(flow_id)
            f = self._flow(flow_id)
            if f.status != "failed":
                return NotWaiting(flow_id, f.status, None)
            d = self.defs.get(f.name)
            if d is None:
                raise UnknownFlow(f"no flow named {f.name!r} is loaded (load its defflow to retry {flow_id!r})")
            self._running.add(flow_id)
            try:
                outcome, params = self._replay_journal(f, d)
                f.def_unit = (d.unit_hash, d.filename)
                f.step = len(self.journal(flow_id))
                f.error = None
                entries = []
                self._advance(f, outcome, params, entries, serve)
            except Abandoned as a:
                return self._result(self._abandoned(self._flow(flow_id, decode_data=False), a.stopped))
            finally:
                self._running.discard(flow_id)
            self._commit(f, entries)
            return self._result(f)

    def upgrade(self, flow_id, dry_run=False):
        """Move a suspended flow onto the latest loaded version of its code by
        replaying its journal -> Upgrade(flow_id, outcome, detail): outcome
        "current" (already on it), "upgraded" ("would upgrade" with dry_run),
        "diverges" (the new code asks for something else: detail says where;
        nothing changes) or "not waiting" (not suspended). dry_run changes nothing."""
        flow_id = str(flow_id)
        with self.store.lock(flow_id):
            self._not_running(flow_id)
            f = self._flow(flow_id)
            if f.status != "suspended":
                return Upgrade(flow_id, "not waiting", f"it is {f.status}")
            d = self.defs.get(f.name)
            if d is None:
                raise UnknownFlow(f"no flow named {f.name!r} is loaded (load its defflow to upgrade {flow_id!r})")
            if f.def_unit is not None and f.def_unit[0] == d.unit_hash:
                return Upgrade(flow_id, "current", f"on {d.filename}")
            self._running.add(flow_id)
            try:
                self._replay(f, d)
            except NondeterminismError as e:
                return Upgrade(flow_id, "diverges", str(e))
            except Abandoned as a:
                return Upgrade(flow_id, "diverges", a.stopped.message)
            finally:
                self._running.discard(flow_id)
            if dry_run:
                return Upgrade(flow_id, "would upgrade", f"replays cleanly onto {d.filename}")
            self._commit(f, [])
            return Upgrade(flow_id, "upgraded", f"now on {d.filename}")

    def _check_replay(self, f, step, outcome, kind, payload):
        if type(outcome) is StepStopped:
            raise Abandoned(outcome)
        expected = f"(request '{kind.name} {write_string(payload)})"
        if type(outcome) is Suspension:
            k, p = outcome.payload[:2]
            if k is kind and same_data(p, payload):
                return
            actual = f"(request '{write_string(k)} {write_string(p)})"
        elif isinstance(outcome, SchemeError):
            actual = f"an error: {outcome.message}"
        else:
            actual = f"the flow finishing with {write_string(outcome)}"
        raise NondeterminismError(f.id, step, expected, actual)

    # -------------------------------------------------------------- export / import

    def export_store(self, key=None):
        """Every flow (state and journal) as bytes; see flow.transfer."""
        from . import transfer
        return transfer.export_store(self, key=key)

    def import_store(self, data, max_bytes=None, key=None):
        """Replace this runtime's flows with those in `data` (from export_store).
        Nothing runs; bad input raises a FlowError and changes nothing (flow.transfer)."""
        from . import transfer
        return transfer.import_store(self, data, max_bytes=max_bytes, key=key)

    def reset(self):
        """Forget every flow and every defflow registration."""
        self.store.replace_all({})
        self.defs.clear()
        self.versions.clear()

    def close(self):
        self.live.close()
        self.store.close()
