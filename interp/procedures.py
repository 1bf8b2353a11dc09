"""Procedures and continuations as data: closures, tail calls, frames, captures, the dynamic state.

The pieces machine.py's driver and calls.py's call path share (see machine.py
for how a continuation is captured and resumed). Everything here is plain data
and the exceptions that carry it; nothing here runs Scheme code.
"""

from .primitives import Primitive
from .values import NIL

# ------------------------------------------------------------------ dynamic state


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


class Unassigned:
    __slots__ = ()

    def __repr__(self):
        return "#<unassigned>"

    def __reduce__(self):
        return "UNASSIGNED"


UNASSIGNED = Unassigned()

