"""The run-time machine: procedures, calls, tail calls, and continuations as data.

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
"""

import sys
import threading
import time

from .capabilities import POLICY
from .errors import ErrorObject, SchemeError, scheme_error
from .primitives import Primitive
from .errors import SchemeExit
from .values import NIL, MultipleValues, Pair, UNSPECIFIED, list_to_pairs

MAX_DEPTH = 400  # Scheme non-tail calls on the Python stack before spilling to the heap
# ... before a driver not yet in its roomy frame (see _make_roomy) spills and moves there
SHALLOW_DEPTH = 12
sys.setrecursionlimit(max(sys.getrecursionlimit(), 20000))

# ------------------------------------------------------------------ dynamic state
# One evaluation at a time per process: the driver holds LOCK while Scheme runs.
LOCK = threading.RLock()


class Dynamic:
    """The dynamic state a continuation carries besides its frames."""

    winders = NIL  # Scheme list of Winder, innermost first
    handlers = NIL  # Scheme list of exception handler procedures, innermost first
    may_suspend = False  # True while a driver that can return a suspension runs
    level = 0  # driver nesting level (a host function that re-enters Scheme)


D = Dynamic


class Winder:
    """One active dynamic-wind: its before and after thunks."""

    __slots__ = ("before", "after")
    type_name = "winder"

    def __init__(self, before, after):
        self.before = before
        self.after = after


# ------------------------------------------------------------------ procedures


class Lambda:
    """What a closure needs from its lambda node (kept small for the call path)."""

    __slots__ = ("nreq", "rest", "nslots", "body", "name", "node", "fast")

    def __init__(self, nreq, rest, nslots, body, name, node):
        self.nreq = nreq  # required parameters
        self.rest = rest  # True if a rest parameter follows them
        self.nslots = nslots  # internal-define slots after the parameters
        self.body = body  # compiled body: body(frame) -> value or TailCall
        self.name = name
        self.node = node
        # the frame is just the arguments plus the parent: the argument count, else -1
        self.fast = nreq if not rest and not nslots else -1


def parameter_text(info):
    """A procedure's parameter list as written: `(a b)`, `(a . rest)`, `args`
    (None when its code carries no scope)."""
    scope = getattr(info.node, "scope", None)
    if scope is None:
        return None
    names = {}
    for ident, binding in scope.bindings.items():
        if binding[0] == "var" and binding[1] <= info.nreq:
            base = getattr(ident, "base", ident)
            names[binding[1]] = getattr(base, "name", str(base))
    required = " ".join(names.get(i, "?") for i in range(info.nreq))
    if not info.rest:
        return f"({required})"
    rest = names.get(info.nreq, "rest")
    return f"({required} . {rest})" if required else rest


class Closure:
    __slots__ = ("lam", "env")
    type_name = "procedure"

    def __init__(self, lam, env):
        self.lam = lam
        self.env = env

    def __scheme_write__(self):
        """`#<procedure fib (n)>`: the name (when it has one) and the parameters."""
        name, params = self.lam.name, parameter_text(self.lam)
        return "#<procedure" + "".join(f" {x}" for x in (name, params) if x) + ">"

    @property
    def name(self):
        return self.lam.name or "anonymous procedure"


class TailCall:
    """Returned from a tail position: the caller's trampoline makes the call.
    `node` is the call's code node when known (errors making the call are
    reported there)."""

    __slots__ = ("f", "args", "node")

    def __init__(self, f, args, node=None):
        self.f = f
        self.args = args
        self.node = node


class TailPrimitive(Primitive):
    """A primitive that may return a TailCall (apply, call/cc, values plumbing...).

    It is never called on the fast path: `call` resolves what it returns."""

    __slots__ = ()


class ContinuationProcedure:
    """A first-class continuation, as made by call/cc: frames + dynamic state."""

    __slots__ = ("k", "winders", "handlers", "level")
    type_name = "continuation"
    name = "continuation"

    def __init__(self, k, winders, handlers, level):
        self.k = k
        self.winders = winders
        self.handlers = handlers
        self.level = level

    def __scheme_write__(self):
        return "#<continuation>"


class Parameter:
    """A parameter object (make-parameter): call it for its value."""

    __slots__ = ("value", "converter")
    type_name = "parameter"
    name = "parameter"

    def __init__(self, value, converter):
        self.value = value
        self.converter = converter

    def __scheme_write__(self):
        return "#<parameter>"


def is_procedure(x):
    t = type(x)
    return t is Closure or t is ContinuationProcedure or t is Parameter or isinstance(x, Primitive)


def procedure_name(f):
    if type(f) is Closure:
        return f.lam.name or "anonymous procedure"
    return getattr(f, "name", "procedure")


# ------------------------------------------------------------------ frames


class Frame:
    """One reified step of a continuation: resume `node` at `data` in `env`.

    `node` is a code node or a registered Resumer; `next` is the rest of the
    continuation (a Frame or None). Frames are never mutated once linked, so a
    continuation can be resumed any number of times."""

    __slots__ = ("node", "env", "data", "next")

    def __init__(self, node, env, data, next=None):
        self.node = node
        self.env = env
        self.data = data
        self.next = next


RESUMERS = {}


class Resumer:
    """A builtin continuation step (not a code node), serialised by its name."""

    def __init__(self, name, resume):
        self.name = name
        self.resume = resume  # resume(frame, value) -> value
        self.pos = None
        self.owner = name
        RESUMERS[name] = self

    def __repr__(self):
        return f"<resumer {self.name}>"


def resumer(name):
    def register(fn):
        return Resumer(name, fn)

    return register


# ------------------------------------------------------------------ captures


class Capture(BaseException):
    """Unwinds the Python stack, collecting frames (innermost first).

    reason: "callcc" (payload: the receiver), "spill" (stack too deep; the
    innermost frame makes the pending call), "suspend" (payload: the host's
    request arguments)."""

    def __init__(self, reason, payload=None):
        self.reason = reason
        self.payload = payload
        self.frames = []


class Throw(BaseException):
    """Unwinds to the driver to continue at a first-class continuation."""

    def __init__(self, kproc, values):
        self.kproc = kproc
        self.values = values


@resumer("apply")
def _resume_apply(frame, value):
    f, args = frame.data
    return TailCall(f, list(args))


def spill(f, args):
    c = Capture("spill")
    c.frames.append(Frame(RESUMERS["apply"], None, (f, tuple(args))))
    return c


# ------------------------------------------------------------------ calls


def arity_error(f, n):
    if type(f) is Closure:
        lam = f.lam
        want = f"{lam.nreq}{' or more' if lam.rest else ''}"
        plural = "s" if lam.nreq != 1 or lam.rest else ""
        return scheme_error(
            f"{procedure_name(f)}: expected {want} argument{plural}, got {n}"
        )
    return scheme_error(f"{procedure_name(f)}: expected {f.arity_text()}, got {n}")


def make_frame(f, args):
    """The environment frame for calling closure f with the Python list args."""
    lam = f.lam
    n = len(args)
    if lam.rest:
        if n < lam.nreq:
            raise arity_error(f, n)
        rest = list_to_pairs(args[lam.nreq :])
        del args[lam.nreq :]
        args.append(rest)
    elif n != lam.nreq:
        raise arity_error(f, n)
    if lam.nslots:
        args.extend([UNASSIGNED] * lam.nslots)
    args.append(f.env)
    return args


class Unassigned:
    __slots__ = ()

    def __repr__(self):
        return "#<unassigned>"

    def __reduce__(self):
        return "UNASSIGNED"


UNASSIGNED = Unassigned()


_depth = 0  # Scheme calls currently on the Python stack (see MAX_DEPTH)
_limit = SHALLOW_DEPTH  # the depth that spills now: SHALLOW_DEPTH, MAX_DEPTH once roomy, -1 to interrupt
_fuel = 1 << 62  # counts down by one per procedure call (see interrupts below)


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
_waiting = []  # the lock each thread waiting for its turn to run Scheme waits on (see acquire_turn)
SLICE = 0.01  # seconds a waiting thread lets the running one go on before asking it to give way
HANDOFF = 1.0  # seconds a thread that gave way waits for a waiter to take its turn


class Interrupted(BaseException):
    """A run stopped from outside (a limit, a cancel): Scheme handlers never see it."""

    def __init__(self, reason):
        super().__init__(reason)
        self.reason = reason


def interrupt():
    """Ask the running computation to look at its CHECK hook at its next call
    (any thread may ask, at any time)."""
    global _interrupt, _limit
    _interrupt = True
    _limit = -1


def turn_wanted():
    """Is some thread waiting for its turn to run Scheme?"""
    return bool(_waiting)


def acquire_turn(lock, gave_way=False):
    """Acquire lock, a lock held while Scheme runs; while it is busy, ask the
    holder to give way every SLICE seconds. gave_way: the caller has just given
    way (returned a preemption): a thread waiting for the same lock goes first —
    the caller waits (up to HANDOFF seconds) until a waiter has taken it, for a
    released lock goes to whichever thread asks first, and a woken waiter is
    slower to ask than the thread that released it."""
    waiters = _waiting.count(lock) if gave_way else 0
    if waiters:  # a waiter leaves _waiting once it holds the lock
        deadline = time.monotonic() + HANDOFF
        while _waiting.count(lock) >= waiters and time.monotonic() < deadline:
            time.sleep(0.0002)
    if lock.acquire(False):
        return
    _waiting.append(lock)
    try:
        while not lock.acquire(timeout=SLICE):
            interrupt()
    finally:
        _waiting.remove(lock)


def set_fuel(n):
    """Set the call counter (calls left before the CHECK hook reports it); returns what was left."""
    global _fuel
    old, _fuel = _fuel, n
    return old


def fuel():
    return _fuel


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


def call(f, args, node=None):
    """Call procedure f with the Python list args (consumed) from a non-tail position.

    node: the code node of the call, when it is a tail call being made for it."""
    global _depth, _fuel
    if _depth > _limit:
        raise spill(f, args)
    _depth += 1
    try:
        while True:
            _fuel -= 1
            if type(f) is Closure:
                lam = f.lam
                if lam.fast == len(args):
                    args.append(f.env)
                else:
                    args = make_frame(f, args)
                r = lam.body(args)
            elif type(f) is Primitive:
                return call_primitive(f, args)
            else:
                r = call_other(f, args)
            if type(r) is TailCall:
                f = r.f
                args = r.args
                if r.node is not None:  # (library code's tail calls carry none)
                    node = r.node
                if _limit < 0:  # an interrupt: a loop of tail calls stops here too
                    raise spill(f, args)
                continue
            return r
    except SchemeError as e:
        if node is None or not internal(e.pos):
            raise
        # an error making a tail call (arity, not a procedure), or inside library
        # code it called: report it at the tail call
        return raise_scheme_error(e, node.pos, node.owner)
    finally:
        _depth -= 1


def call_primitive(f, args):
    try:
        return f.fn(*args)
    except SchemeError:
        raise
    except TypeError as e:
        if not f.arity_ok(len(args)):
            raise arity_error(f, len(args)) from None
        raise python_error(f, e) from None
    except (Capture, Throw):
        raise
    except Exception as e:
        raise python_error(f, e) from None


def python_error(f, e):
    """A Python exception escaping a primitive, as a Scheme error naming it."""
    if isinstance(e, RecursionError):
        return scheme_error(f"{procedure_name(f)}: nesting too deep")
    if isinstance(e, ZeroDivisionError):
        return scheme_error(f"{procedure_name(f)}: division by zero")
    if isinstance(e, MemoryError):
        return scheme_error(f"{procedure_name(f)}: out of memory")
    return scheme_error(f"{procedure_name(f)}: {e}")


def call_other(f, args):
    t = type(f)
    if isinstance(f, Primitive):  # TailPrimitive, record procedures
        return call_primitive(f, args)
    if t is ContinuationProcedure:
        raise Throw(f, args)
    if t is Parameter:
        if args:
            raise scheme_error(f"parameter: expected 0 arguments, got {len(args)}")
        return f.value
    raise scheme_error(f"not a procedure: {_write(f)}")


def _write(x):
    from .printer import write_string

    return write_string(x)


def tail_apply(f, args, node=None):
    """The value of a call in tail position: primitives run now, others trampoline."""
    if type(f) is Primitive:
        return call_primitive(f, args)
    return TailCall(f, args, node)


# ------------------------------------------------------------------ errors


def unbound_error(name, pos):
    return SchemeError(scheme_error(f"unbound variable: {name}").payload, pos)


def convert_exception(e, f, nargs):
    """A Python exception from a call, as a SchemeError."""
    if isinstance(e, TypeError) and isinstance(f, Primitive) and not f.arity_ok(nargs):
        return arity_error(f, nargs)
    if isinstance(f, Primitive):
        return python_error(f, e)
    if isinstance(e, RecursionError):
        return scheme_error("expression nested too deeply")
    return scheme_error(f"internal error: {type(e).__name__}: {e}")




PRELUDE_FILE = "<prelude>"


def internal(pos):
    """Is pos inside the prelude (library code a user did not write)?"""
    return pos is None or pos.file == PRELUDE_FILE


def locate(e, pos):
    """Give error e the position pos, unless it has a user-code position already:
    an error inside a prelude procedure is reported where user code called it."""
    if pos is None:
        return
    cur = e.pos
    if cur is None or (cur.file == PRELUDE_FILE and pos.file != PRELUDE_FILE):
        e.pos = pos
        p = e.payload
        if type(p) is ErrorObject and (p.pos is None or p.pos.file == PRELUDE_FILE):
            p.pos = pos


def raise_scheme_error(e, pos, owner):
    """Route a SchemeError raised by Python code at `pos` (inside procedure `owner`):
    to the Scheme exception handlers when there are any, else up to the host."""
    locate(e, pos)
    if D.handlers is not NIL and not e.dispatched:
        e.dispatched = True
        return call(RAISE[0], [e.payload])
    if pos is not None and pos.file != PRELUDE_FILE:
        e.add_frame(owner, pos)
    raise e


RAISE = [None]  # the Scheme-level raise procedure (installed by the interpreter)


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
    global _depth, _limit
    acquire_turn(LOCK)
    try:
        saved = (D.winders, D.handlers, D.may_suspend, POLICY.granted, POLICY.record, CHECK[0], _depth, _limit)
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
        _depth = 0
        _limit = _spill_limit(SHALLOW_DEPTH)
        try:
            # an error leaving for the host leaves the winds back to the caller's
            return _drive(action, k, level, saved[:2])
        finally:
            D.level -= 1
            D.winders, D.handlers, D.may_suspend, POLICY.granted, POLICY.record, CHECK[0], _depth, _limit = saved
            _limit = _spill_limit(_limit if _limit >= 0 else SHALLOW_DEPTH)
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
    global _depth, _limit
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
            _depth = 0  # the Python stack above the driver is gone
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
                    _limit = _spill_limit(MAX_DEPTH)
                    return _ROOMY(_drive, action, k, level, base, True)
                _limit = _spill_limit(MAX_DEPTH)
            elif c.reason == "callcc":
                kproc = ContinuationProcedure(K, D.winders, D.handlers, level)
                action = _call_action(c.payload, [kproc])
                k = K
            elif c.reason == "suspend":
                return Suspension(K, D.winders, D.handlers, c.payload)
            else:  # pragma: no cover
                raise AssertionError(c.reason)
        except Throw as t:
            _depth = 0
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
            _depth = 0
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
            _depth = 0
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
