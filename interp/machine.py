"""The run-time machine: the driver that runs Scheme code, resumes continuations and takes interrupts.

Code runs as direct-style Python closures (see nodes.py). A continuation is
reified only on demand ("continuations from generalized stack inspection",
Pettyjohn et al. 2005): to capture, a `Capture` exception unwinds the Python
stack and every node it passes appends a `Frame` saying where it was (its node,
its environment, the values it had computed). The driver links those frames onto
the heap continuation it already holds; resuming a continuation means resuming
its frames one by one, innermost first, from the driver's shallow stack.

The same unwinding bounds the Python stack: a non-tail call deeper than
MAX_DEPTH spills the whole stack into frames and carries on from the driver, so
recursion depth is bounded by memory, not by Python's stack.

A continuation is plain data: frames hold code nodes (which serialise as
(code-unit hash, node index)), environment frames (Python lists whose last slot
is the parent frame), and values.

The pieces live below this module and are re-exported from it: procedures.py
(closures, tail calls, frames, captures: the data) and calls.py (`call`, the
application closures and the call counters `_depth`, `_limit`, `_fuel`, which
the driver sets there as `calls._depth` etc.).
"""

import contextlib
import sys
import threading
import time

from . import calls as _calls
from .calls import (  # noqa: F401  (re-exported: the machine's public surface)
    MAX_DEPTH,
    PRELUDE_FILE,
    RAISE,
    SHALLOW_DEPTH,
    arity_error,
    call,
    call_other,
    call_primitive,
    convert_exception,
    internal,
    locate,
    make_frame,
    python_error,
    raise_scheme_error,
    spill,
    tail_apply,
    unbound_error,
)
from .capabilities import POLICY
from .errors import SchemeError, SchemeExit, scheme_error
from .procedures import (  # noqa: F401  (re-exported: the machine's public surface)
    D,
    RESUMERS,
    UNASSIGNED,
    Capture,
    Closure,
    ContinuationProcedure,
    Dynamic,
    Frame,
    Lambda,
    Parameter,
    Resumer,
    TailCall,
    TailPrimitive,
    Throw,
    Unassigned,
    Winder,
    is_procedure,
    parameter_text,
    procedure_name,
    resumer,
)
from .values import NIL, MultipleValues, Pair, UNSPECIFIED

sys.setrecursionlimit(max(sys.getrecursionlimit(), 20000))

# One evaluation at a time per process: the driver holds LOCK while Scheme runs.
LOCK = threading.RLock()

# ------------------------------------------------------------------ interrupts
# A computation is stopped from outside (a supervisor enforcing limits, another
# thread wanting its turn, a cancel) at no cost on the call path: `interrupt()`
# sets _limit to -1, so the next procedure call or tail call spills the stack
# into frames as if it were too deep; the driver, now holding the whole
# continuation as data, asks the run's CHECK hook what to do: carry on (None),
# give way (PREEMPT: a suspendable run returns a Suspension whose payload is
# PREEMPTED, which its owner resumes when others have had their turn), or stop
# (any other value, a reason: Interrupted is raised, which Scheme code cannot
# catch; the run is abandoned).

PREEMPT = "preempt"
PREEMPTED = ("preempted",)
CHECK = [None]  # the running computation's hook: () -> None | PREEMPT | reason
_interrupt = False  # set by interrupt(), taken by the driver
_waiting = []  # a _Waiter for each thread waiting for its turn to run Scheme (see acquire_turn)
SLICE = 0.01  # seconds a waiting thread lets the running one go on before asking it to give way
HANDOFF = 1.0  # seconds at most a thread that gave way waits for the waiters to have their turn


class _Waiter:
    """A thread waiting in acquire_turn (compared by identity)."""

    __slots__ = ()


class Interrupted(BaseException):
    """A run stopped from outside (a limit, a cancel): Scheme handlers never see it."""

    def __init__(self, reason):
        super().__init__(reason)
        self.reason = reason


def interrupt():
    """Ask the running computation to look at its CHECK hook at its next call
    (any thread may ask, at any time)."""
    global _interrupt
    _interrupt = True
    _calls._limit = -1


def turn_wanted():
    """Is some thread waiting for its turn to run Scheme?"""
    return bool(_waiting)


def acquire_turn(lock, gave_way=False):
    """Acquire lock, a lock held while Scheme runs; while it is busy, ask the
    holder to give way every SLICE seconds. Every lock that guards running
    Scheme must be taken this way (or with `turn`): a thread blocked on it
    otherwise never asks the holder to give way, and waits for the holder's
    whole step.

    gave_way: the caller has just given way (returned a preemption) and holds
    no turn lock: the threads waiting now go first — the caller waits (up to
    HANDOFF seconds) until each has taken the lock it waits for, whichever lock
    that is. A released lock goes to whichever thread asks first, and a woken
    waiter (on a busy machine, one not even scheduled yet) is slower to ask
    than the thread that released it."""
    if gave_way and _waiting:
        ahead = list(_waiting)
        deadline = time.monotonic() + HANDOFF
        while any(w in _waiting for w in ahead) and time.monotonic() < deadline:
            time.sleep(0.0002)
    if lock.acquire(False):
        return
    me = _Waiter()
    _waiting.append(me)
    try:
        while not lock.acquire(timeout=SLICE):
            interrupt()
    finally:
        _waiting.remove(me)


@contextlib.contextmanager
def turn(lock):
    """`with turn(lock):` holds lock, taken with acquire_turn."""
    acquire_turn(lock)
    try:
        yield
    finally:
        lock.release()


def set_fuel(n):
    """Set the call counter (calls left before the CHECK hook reports it); returns what was left."""
    old, _calls._fuel = _calls._fuel, n
    return old


def fuel():
    return _calls._fuel


def _spill_limit(normal):
    """The spill depth for the running driver: -1 while an interrupt is pending."""
    return -1 if _interrupt else normal


def _take_interrupt(k):
    """At a point where the whole continuation is the data k: act on an interrupt.
    Returns a Suspension to return (giving way), or None to carry on."""
    global _interrupt
    _interrupt = False
    check = CHECK[0]
    verdict = check() if check is not None else (PREEMPT if _waiting else None)
    if verdict is None:
        return None
    if verdict == PREEMPT:
        if D.may_suspend:
            return Suspension(k, D.winders, D.handlers, PREEMPTED)
        return None
    raise Interrupted(verdict)


# ------------------------------------------------------------------ the driver


class Suspension:
    """A computation stopped at a host request: resume it with `run_continuation`."""

    __slots__ = ("k", "winders", "handlers", "payload")

    def __init__(self, k, winders, handlers, payload):
        self.k = k
        self.winders = winders
        self.handlers = handlers
        self.payload = payload


def link(frames, k):
    """Link frames (innermost first) in front of continuation k."""
    for fr in reversed(frames):
        fr.next = k
        k = fr
    return k


def _wind_path(src, dst):
    """Winders to leave (innermost first) and to enter (outermost first)."""
    def to_list(w):
        out = []
        while w is not NIL:
            out.append(w)
            w = w.cdr
        return out

    a = to_list(src)
    b = to_list(dst)
    common = 0
    while common < len(a) and common < len(b) and a[-1 - common] is b[-1 - common]:
        common += 1
    leave = a[: len(a) - common]
    enter = list(reversed(b[: len(b) - common]))
    return leave, enter


@resumer("wind-step")
def _resume_wind_step(frame, value):
    winders, thunk, carried = frame.data
    D.winders = winders
    call(thunk, [])
    return carried


@resumer("set-dynamic")
def _resume_set_dynamic(frame, value):
    winders, handlers, carried = frame.data
    D.winders = winders
    D.handlers = handlers
    return carried


def _jump(kproc, values):
    """The continuation that runs the winders between here and kproc, then
    delivers values to kproc's frames."""
    value = values[0] if len(values) == 1 else MultipleValues(list(values))
    leave, enter = _wind_path(D.winders, kproc.winders)
    k = Frame(RESUMERS["set-dynamic"], None, (kproc.winders, kproc.handlers, value), kproc.k)
    steps = []
    for w in leave:  # run `after` with the winders outside it
        steps.append((w.cdr, w.car.after))
    for w in enter:  # run `before` outside it, then enter
        steps.append((w.cdr, w.car.before))
    for winders, thunk in reversed(steps):
        k = Frame(RESUMERS["wind-step"], None, (winders, thunk, value), k)
    return k


_INHERIT = object()


def run(action, k=None, winders=NIL, handlers=NIL, may_suspend=False, granted=_INHERIT, check=_INHERIT,
        record=_INHERIT):
    """Drive a computation: `action()` computes a value that is delivered to the
    continuation k. Returns the final value, or a Suspension when a host request
    stops it (only when may_suspend) or when it gives way to a PREEMPT interrupt
    (payload PREEMPTED). granted: the capabilities of the run (see
    interp.capabilities), check: its CHECK hook (see interrupts above), record:
    whether clock and random reads suspend to be recorded (interp.recording);
    by default all three are those of the enclosing run."""
    acquire_turn(LOCK)
    try:
        saved = (D.winders, D.handlers, D.may_suspend, POLICY.granted, POLICY.record, CHECK[0], _calls._depth, _calls._limit)
        D.level += 1
        level = D.level
        D.winders = winders
        D.handlers = handlers
        D.may_suspend = may_suspend
        if granted is not _INHERIT:
            POLICY.granted = granted
        if check is not _INHERIT:
            CHECK[0] = check
        if record is not _INHERIT:
            POLICY.record = record
        _calls._depth = 0
        _calls._limit = _spill_limit(SHALLOW_DEPTH)
        try:
            # an error leaving for the host leaves the winds back to the caller's
            return _drive(action, k, level, saved[:2])
        finally:
            D.level -= 1
            D.winders, D.handlers, D.may_suspend, POLICY.granted, POLICY.record, CHECK[0], _calls._depth, limit = saved
            _calls._limit = _spill_limit(limit if limit >= 0 else SHALLOW_DEPTH)
    finally:
        LOCK.release()


def _roomy(fn, *args):
    return fn(*args)


def _make_roomy():
    """`_roomy` with a frame that reserves ~1 MiB of CPython's frame stack.

    CPython (3.11+) keeps Python frames in 16 KiB chunks and frees a chunk as soon
    as the stack shrinks below it, so a recursive program that keeps crossing a
    chunk boundary pays an mmap + munmap per crossing (measured: fib 25 twice as
    slow, depending only on how deep the host happened to call us). Calling the
    driver through a frame this big makes CPython give the driver a fresh 2 MiB
    chunk, with room for MAX_DEPTH Scheme calls' worth of frames after it. The
    reserved stack is never touched, so it costs address space, not memory —
    but the chunk's mmap/munmap cost ~17 µs a run, a lot for a short one (a flow
    step), so a driver starts without it and moves into it (spilling its stack
    into frames) only when its computation first gets SHALLOW_DEPTH calls deep."""
    try:
        code = _roomy.__code__.replace(co_stacksize=140_000)
        return type(_roomy)(code, globals(), "_roomy")
    except Exception:  # pragma: no cover - an implementation without code.replace
        return _roomy


_ROOMY = _make_roomy()


def _drive(action, k, level, base, roomy=False):
    while True:
        try:
            v = action()
            while True:
                if type(v) is TailCall:
                    v = call(v.f, v.args, v.node)
                    continue
                if k is None:
                    return v
                fr = k
                k = fr.next
                v = fr.node.resume(fr, v)
        except Capture as c:
            _calls._depth = 0  # the Python stack above the driver is gone
            K = link(c.frames, k)
            if c.reason == "spill":
                if _interrupt:
                    s = _take_interrupt(K)
                    if s is not None:
                        return s
                k = K.next
                first = K
                action = _resume_action(first)
                if not roomy:  # deep work: carry on in a roomy frame
                    _calls._limit = _spill_limit(MAX_DEPTH)
                    return _ROOMY(_drive, action, k, level, base, True)
                _calls._limit = _spill_limit(MAX_DEPTH)
            elif c.reason == "callcc":
                kproc = ContinuationProcedure(K, D.winders, D.handlers, level)
                action = _call_action(c.payload, [kproc])
                k = K
            elif c.reason == "suspend":
                return Suspension(K, D.winders, D.handlers, c.payload)
            else:  # pragma: no cover
                raise AssertionError(c.reason)
        except Throw as t:
            _calls._depth = 0
            if t.kproc.level < level:
                if level > 1:
                    raise  # it belongs to an outer driver
                raise scheme_error("a continuation of a computation that has ended was called") from None
            k = _jump(t.kproc, t.values)
            action = _value_action(UNSPECIFIED)
            if _interrupt:  # a loop of continuation jumps stops here
                s = _take_interrupt(k)
                if s is not None:
                    return s
        except Exception as ex:
            _calls._depth = 0
            e = ex if isinstance(ex, SchemeError) else _as_scheme_error(ex)
            if not e.dispatched and D.handlers is not NIL and RAISE[0] is not None:
                # an error no node routed (say an unbound variable in a thunk called
                # from the driver): hand it to the Scheme handlers now
                e.dispatched = True
                _locate(e, k)
                action = _call_action(RAISE[0], [e.payload])
                continue
            add_continuation_backtrace(e, k)
            replaced = _leave_winds(base)
            if replaced is not None:
                raise replaced from e
            if e is ex:
                raise
            raise e from ex
        except SchemeExit:  # (exit) runs the `after` thunks it leaves
            _calls._depth = 0
            _leave_winds(base)
            raise


def _leave_winds(base):
    """An error (or exit) is leaving this driver for the host: run the `after`
    thunks of the dynamic-winds it leaves, innermost first, each outside its own
    extent. An error in one replaces the escaping one (it is returned) and the
    unwinding goes on."""
    winders, handlers = base
    replaced = None
    w = D.winders
    while w is not winders and type(w) is Pair:
        D.winders = w.cdr
        after = w.car.after
        try:
            run(lambda: call(after, []), None, w.cdr, handlers)
        except SchemeError as e:
            replaced = e
        w = w.cdr
    return replaced


def _as_scheme_error(ex):
    """A Python exception that reached the driver, as a Scheme error."""
    if isinstance(ex, RecursionError):
        return scheme_error("expression nested too deeply")
    if isinstance(ex, MemoryError):
        return scheme_error("out of memory")
    return scheme_error(f"internal error: {type(ex).__name__}: {ex}")


def _resume_action(frame):
    return lambda: frame.node.resume(frame, UNSPECIFIED)


def _call_action(f, args):
    return lambda: call(f, args)


def _value_action(v):
    return lambda: v


def add_continuation_backtrace(e, k):
    """Add the calls waiting in continuation k to e's backtrace (and locate e at
    the first one in user code if it has no such place yet)."""
    n = 0
    while k is not None and n < 1000:
        node = k.node
        pos = getattr(node, "pos", None)
        owner = getattr(node, "owner", None)
        if pos is not None and owner is not None and getattr(node, "is_call", False):
            locate(e, pos)
            if pos.file != PRELUDE_FILE:
                e.add_frame(owner, pos)
        k = k.next
        n += 1


def _locate(e, k):
    """Locate e at the innermost call in continuation k that is in user code."""
    n = 0
    while k is not None and n < 1000 and internal(e.pos):
        node = k.node
        if getattr(node, "is_call", False):
            locate(e, getattr(node, "pos", None))
        k = k.next
        n += 1


def continuation_frames(k):
    """The frames of a continuation, innermost first (for inspection)."""
    out = []
    while k is not None:
        out.append(k)
        k = k.next
    return out
