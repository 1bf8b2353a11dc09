"""What a continuation can hold: the frame each kind of code node (and each
builtin resumer) pushes when a capture unwinds through it, as one table.

A continuation read from outside (a flow store) is plain data that names code
nodes; resuming it runs that code with the frames' environments and values. It
is safe to resume only if the loaded code could have made it. This module knows
what that means, from nodes.py and machine.py:

- every frame's node is of a kind that pushes frames (FRAMES / RESUMER_FRAMES),
  and its `data` has the layout that kind pushes: the index or values of the
  sub-expression it was evaluating when the capture passed, which must be one
  that can capture at all (a constant, a variable or a lambda never does);
- a frame from outside is never in top-level code, except in code (eval ...)
  analysed (top-level code runs when its file is loaded, not in a flow);
- its `env` is an environment frame chain of the shape the node's lexical
  scope expects: one Python list per scope, `scope.size()` slots plus the
  parent link, ending in None at top level (Environments);
- a closure's environment fits its lambda's enclosing scope likewise;
- the chain of frames ends (no cycles), winders lists hold Winders, handler
  lists procedures, and a resumer's procedures are procedures.

The "apply" resumer never appears in a saved continuation: the driver
(machine._drive) consumes the spill frame it heads at once (a run that gives
way to another thread returns a suspension starting with one, but the runtime
resumes that within the same step, never saves it). "toplevel" frames
name a program by a process-local key: they are accepted only from the
runtime's own store in the process that made them (LOCAL_RESUMER_FRAMES).

`global_names(unit)`: the global variable names a unit's code refers to — the
procedures that code can reach by name.

For the flow inspector: `describe(frame)` says in words what a frame waits for,
and `waiting_on(frame)` gives the sub-expression it was evaluating.
"""

import weakref
from typing import Callable, NamedTuple, Optional

from .machine import (
    Closure,
    Frame,
    Resumer,
    Winder,
    is_procedure,
)
from .nodes import (
    And,
    App,
    Case,
    CondArrow,
    Const,
    GlobalDefine,
    GlobalRef,
    GlobalSet,
    If,
    Lambda,
    Let,
    Letrec,
    LocalRef,
    LocalSet,
    Node,
    Or,
    Seq,
)
from .scopes import frame_scope
from .values import NIL, Pair


class FrameError(Exception):
    """A frame, closure or dynamic state that the loaded code could not have made."""


# sub-expressions that never capture a continuation: no frame can wait on one
SIMPLE = (Const, LocalRef, GlobalRef, Lambda)


def _can_capture(node):
    return not isinstance(node, SIMPLE)


def is_value(x):
    """Can x be a Scheme value (not a piece of the machine: a frame, an
    environment frame, a tuple of frame data, a winder)?"""
    t = type(x)
    return not (t is tuple or t is list or t is Frame or t is Winder or t is dict)


def _values(data, what):
    if type(data) is not tuple:
        return f"{what}: expected a tuple of values, got {type(data).__name__}"
    for v in data:
        if not is_value(v):
            return f"{what}: holds a {type(v).__name__}, not a Scheme value"
    return None


def _index(data, limit, what):
    """data must be an int in range(limit)."""
    if type(data) is not int:
        return f"{what}: expected an index, got {type(data).__name__}"
    if not 0 <= data < limit:
        return f"{what}: index {data} is out of range (0..{limit - 1})"
    return None


def _waits(child, what):
    if child is None:
        return f"{what}: waits on nothing"
    if not _can_capture(child):
        return f"{what}: waits on a {type(child).__name__}, which never captures a continuation"
    return None


# ---------------------------------------------------------------------- node frames
# Each check(node, data) returns None, or what is wrong. `env` says which
# environment the frame's env is: "scope" (the scope the node's code runs in),
# "own" (the node's own scope: letrec evaluates its inits in its new frame),
# "none" (resumers: always None).


class FrameKind(NamedTuple):
    name: str
    check: Callable  # (node, data) -> None | str
    env: str  # "scope" | "own" | "none"
    waiting: Callable  # (node, data) -> the sub-node evaluated, or None
    text: str  # for the inspector: what a frame of this kind waits for


def _check_assign(node, data):
    if data is not None:
        return "assignment frame: expected no data"
    return _waits(node.expr, "assignment frame")


def _check_if(node, data):
    if data is not None:
        return "if frame: expected no data"
    return _waits(node.test, "if frame")


def _check_seq(node, data):
    err = _index(data, len(node.body) - 1, "begin frame")
    return err or _waits(node.body[data], "begin frame")


def _check_exprs(node, data):
    err = _index(data, len(node.exprs) - 1, f"{type(node).__name__.lower()} frame")
    return err or _waits(node.exprs[data], f"{type(node).__name__.lower()} frame")


def _check_let(node, data):
    err = _values(data, "let frame")
    if err:
        return err
    if len(data) >= len(node.inits):
        return f"let frame: {len(data)} values for {len(node.inits)} bindings"
    return _waits(node.inits[len(data)], "let frame")


def _check_letrec(node, data):
    err = _index(data, len(node.inits), "letrec frame")
    return err or _waits(node.inits[data], "letrec frame")


def _arrow_clauses(node):
    out = [b for _, b, arrow in node.clauses if arrow]
    if node.else_ is not None and node.else_[1]:
        out.append(node.else_[0])
    return out


def _check_case(node, data):
    if data is None:
        return _waits(node.key, "case frame")
    if type(data) is not tuple or len(data) != 2 or data[0] != "arrow" or not is_value(data[1]):
        return "case frame: malformed data"
    if not any(_can_capture(b) for b in _arrow_clauses(node)):
        return "case frame: this case has no => clause that can capture"
    return None


def _check_cond_arrow(node, data):
    if data is None:
        return _waits(node.test, "cond frame")
    if type(data) is not tuple or len(data) != 2 or data[0] != "receiver" or not is_value(data[1]):
        return "cond frame: malformed data"
    return _waits(node.receiver, "cond => frame")


def _check_app(node, data):
    err = _values(data, "call frame")
    if err:
        return err
    codes = [node.fn] + list(node.args)
    if len(data) >= len(codes):
        return f"call frame: {len(data)} values for a call of {len(codes)} expressions"
    err = _waits(codes[len(data)], "call frame")
    if err:
        return err
    if data and type(node.fn) is Lambda:  # ((lambda ...) ...): the operator is its closure
        f = data[0]
        if type(f) is not Closure or getattr(f.lam, "node", None) is not node.fn:
            return "call frame: the operator is not the closure of the call's own lambda"
    return None


def _pending(node, data):
    """The sub-node a frame of node was evaluating (None if unknown)."""
    try:
        t = type(node)
        if t is App:
            return ([node.fn] + list(node.args))[len(data)]
        if t is Let:
            return node.inits[len(data)]
        if t is Letrec:
            return node.inits[data]
        if t is Seq:
            return node.body[data]
        if t is Or or t is And:
            return node.exprs[data]
        if t is If:
            return node.test
        if t is CondArrow:
            return node.test if data is None else node.receiver
        if t is Case:
            return node.key if data is None else None
        if isinstance(node, (GlobalDefine, GlobalSet, LocalSet)):
            return node.expr
    except (IndexError, TypeError, AttributeError):
        pass
    return None


FRAMES = {
    GlobalDefine: FrameKind("define", _check_assign, "scope", _pending, "the value to define"),
    GlobalSet: FrameKind("set!", _check_assign, "scope", _pending, "the value to assign"),
    LocalSet: FrameKind("set!", _check_assign, "scope", _pending, "the value to assign"),
    If: FrameKind("if", _check_if, "scope", _pending, "the test of an if"),
    Seq: FrameKind("begin", _check_seq, "scope", _pending, "an expression of a body, for effect"),
    Or: FrameKind("or", _check_exprs, "scope", _pending, "an operand of or"),
    And: FrameKind("and", _check_exprs, "scope", _pending, "an operand of and"),
    Let: FrameKind("let", _check_let, "scope", _pending, "the value of a let binding"),
    Letrec: FrameKind("letrec", _check_letrec, "own", _pending, "the value of a letrec binding"),
    Case: FrameKind("case", _check_case, "scope", _pending, "the key of a case (or its => receiver)"),
    CondArrow: FrameKind("cond", _check_cond_arrow, "scope", _pending, "the test of a cond => clause"),
    App: FrameKind("call", _check_app, "scope", _pending, "the operator or an argument of a call"),
}


# ---------------------------------------------------------------------- resumer frames


def _proc(x, what):
    return None if is_procedure(x) else f"{what}: expected a procedure, got {type(x).__name__}"


def _tuple(data, n, what):
    if type(data) is not tuple or len(data) != n:
        return f"{what}: expected {n} items"
    return None


def _check_wind_step(node, data):
    # (winders outside the thunk, the before/after thunk, the value carried): made by machine._jump
    return _tuple(data, 3, "wind-step frame") or _proc(data[1], "wind-step frame") or (
        None if is_value(data[2]) else "wind-step frame: the carried value is not a value")


def _check_set_dynamic(node, data):
    # (the target's winders, its handlers, the value carried): made by machine._jump
    return _tuple(data, 3, "set-dynamic frame") or (
        None if is_value(data[2]) else "set-dynamic frame: the carried value is not a value")


def _check_cwv(node, data):
    return _proc(data, "call-with-values frame")


def _check_map1(node, data):
    # (f, the rest of the list, the results so far): control._map1
    return (_tuple(data, 3, "map frame") or _proc(data[0], "map frame")
            or (None if is_value(data[1]) else "map frame: malformed list")
            or _values(data[2], "map frame"))


def _check_map_n(node, data):
    # (f, the rests of the lists, the results so far): control._map_n
    return (_tuple(data, 3, "map frame") or _proc(data[0], "map frame")
            or _values(data[1], "map frame") or _values(data[2], "map frame"))


def _check_for_each(node, data):
    # (f, the rests of the lists): control._for_each
    return _tuple(data, 2, "for-each frame") or _proc(data[0], "for-each frame") or _values(data[1], "for-each frame")


def _no_child(node, data):
    return None


# "apply" (the spill frame, consumed at once by the driver) and "toplevel" (a
# program by process-local key) are deliberately absent.
RESUMER_FRAMES = {
    "wind-step": FrameKind("wind-step", _check_wind_step, "none", _no_child,
                           "a dynamic-wind before/after thunk run on a continuation jump"),
    "set-dynamic": FrameKind("set-dynamic", _check_set_dynamic, "none", _no_child,
                             "the end of a continuation jump (restores its dynamic state)"),
    "call-with-values": FrameKind("call-with-values", _check_cwv, "none", _no_child,
                                  "the producer of call-with-values"),
    "map1": FrameKind("map", _check_map1, "none", _no_child, "map's procedure, on one element"),
    "map-n": FrameKind("map", _check_map_n, "none", _no_child, "map's procedure, on one element of each list"),
    "for-each": FrameKind("for-each", _check_for_each, "none", _no_child, "for-each's procedure"),
}


def _check_toplevel(node, data):
    # (program key, index of the next form): program.Program.run_from
    from .program import PROGRAMS

    err = _tuple(data, 2, "toplevel frame")
    if err:
        return err
    key, i = data
    program = PROGRAMS.get(key) if type(key) is str else None
    if program is None:
        return "toplevel frame: names no program loaded in this process"
    return _index(i - 1, program.count, "toplevel frame")


# frames that are data only inside the process that made them: "toplevel" names
# a loaded program by a key of this process. Accepted from the runtime's own
# store (local=True), never from an import.
LOCAL_RESUMER_FRAMES = {
    "toplevel": FrameKind("toplevel", _check_toplevel, "none", _no_child, "the rest of a program's forms"),
}


def frame_kind(node, local=False) -> Optional[FrameKind]:
    """The FrameKind of frames of node (a code node or a Resumer), or None if
    no frame of it can be in a suspended continuation (local: also the
    process-local kinds, see LOCAL_RESUMER_FRAMES)."""
    if type(node) is Resumer:
        kind = RESUMER_FRAMES.get(node.name)
        if kind is None and local:
            kind = LOCAL_RESUMER_FRAMES.get(node.name)
        return kind
    return FRAMES.get(type(node))


# ---------------------------------------------------------------------- scopes


def _children(node):
    """[(child, scope or None)]: None means 'the node's own scope'."""
    t = type(node)
    if t is Lambda:
        return [(node.body, node.scope)]
    if t is Let:
        return [(i, None) for i in node.inits] + [(node.body, node.scope)]
    if t is Letrec:
        return [(i, node.scope) for i in node.inits] + [(node.body, node.scope)]
    if t is App:
        return [(node.fn, None)] + [(a, None) for a in node.args]
    if t is If:
        return [(node.test, None), (node.then, None), (node.else_, None)]
    if t is Seq:
        return [(b, None) for b in node.body]
    if t is Or or t is And:
        return [(e, None) for e in node.exprs]
    if t is Case:
        out = [(node.key, None)] + [(b, None) for _, b, _ in node.clauses]
        if node.else_ is not None:
            out.append((node.else_[0], None))
        return out
    if t is CondArrow:
        return [(node.test, None), (node.receiver, None), (node.rest, None)]
    if isinstance(node, (GlobalDefine, GlobalSet, LocalSet)):
        return [(node.expr, None)]
    if t is Const or t is LocalRef or t is GlobalRef:
        return []
    out = []  # a kind of node this table does not know: its sub-nodes by slot, same scope

    def collect(v):
        if isinstance(v, Node):
            out.append((v, None))
        elif isinstance(v, (list, tuple)):
            for x in v:
                collect(x)

    for cls in t.__mro__:
        for name in getattr(cls, "__slots__", ()):
            if name not in ("unit", "code", "codes", "compiled", "info", "scope", "scopes", "owner"):
                collect(getattr(node, name, None))
    return out


AMBIGUOUS = object()  # a node reached from two scopes (its env cannot be checked)
EVAL_UNIT = "<eval>"  # the file name of the code units (eval ...) makes (interpreter._eval_primitive)


class _UnitInfo:
    __slots__ = ("size", "scopes", "names", "__weakref__")

    def __init__(self, unit):
        nodes = list(unit.nodes)
        self.size = len(nodes)
        children = {}
        inner = set()
        for n in nodes:
            cs = _children(n)
            children[id(n)] = cs
            for c, _ in cs:
                inner.add(id(c))
        scopes = {}
        for root in nodes:
            if id(root) in inner:
                continue
            stack = [(root, None)]
            while stack:
                n, s = stack.pop()
                prev = scopes.get(id(n), stack)  # (stack: a marker for "absent")
                if prev is not stack:
                    if prev is not s:
                        scopes[id(n)] = AMBIGUOUS
                    continue
                scopes[id(n)] = s
                cs = children.get(id(n))
                if cs is None:
                    cs = _children(n)
                for c, cs_scope in cs:
                    stack.append((c, s if cs_scope is None else cs_scope))
        self.scopes = scopes
        names = set()
        for n in nodes:
            cell = getattr(n, "cell", None) if isinstance(n, (GlobalRef, GlobalSet, GlobalDefine)) else None
            if cell is not None:
                names.add(cell.name.name)
        self.names = frozenset(names)


_UNITS = weakref.WeakKeyDictionary()  # code unit -> _UnitInfo


def _info(unit):
    info = _UNITS.get(unit)
    if info is None or info.size != len(unit.nodes):
        info = _UNITS[unit] = _UnitInfo(unit)
    return info


def scope_of(node):
    """The compile-time scope node's code runs in (None: top level; AMBIGUOUS)."""
    return _info(node.unit).scopes.get(id(node))


def global_names(unit):
    """The names of the global variables unit's code refers to (reads, set!, define)."""
    return _info(unit).names


class Environments:
    """Checks environment frames against the scopes that use them. One instance
    per decoded graph: an environment frame belongs to exactly one scope."""

    def __init__(self):
        self.scope_of = {}  # id(env list) -> its scope
        self.keep = []

    def check(self, env, scope, what):
        if scope is AMBIGUOUS:
            return
        while True:
            scope = frame_scope(scope)
            if scope is None:
                if env is not None:
                    raise FrameError(f"{what}: an environment frame where the code runs at top level")
                return
            if type(env) is not list:
                raise FrameError(f"{what}: expected an environment frame, got {type(env).__name__}")
            prev = self.scope_of.get(id(env))
            if prev is not None:
                if prev is scope:
                    return
                raise FrameError(f"{what}: one environment frame used for two different scopes")
            n = scope.size() + 1
            if len(env) != n:
                raise FrameError(f"{what}: an environment frame of {len(env)} slots where the code's scope has {n}")
            self.scope_of[id(env)] = scope
            self.keep.append(env)
            env = env[-1]
            scope = scope.parent


# ---------------------------------------------------------------------- checks


def _where(node):
    pos = getattr(node, "pos", None)
    return f" at {pos}" if pos is not None else ""


def check_frame(frame, envs, local=False):
    """Raise FrameError unless frame (its next not followed) is one the loaded code
    makes (local: also process-local ones, see LOCAL_RESUMER_FRAMES)."""
    node = frame.node
    kind = frame_kind(node, local)
    if kind is None:
        if type(node) is Resumer:
            raise FrameError(f"a frame of the builtin step {node.name!r}, which is never part of a saved continuation")
        raise FrameError(f"a frame of a {type(node).__name__} node{_where(node)}, which never pushes one")
    err = kind.check(node, frame.data)
    if err:
        raise FrameError(err + _where(node))
    if not local and type(node) is not Resumer and scope_of(node) is None and node.unit.filename != EVAL_UNIT:
        # top-level code runs when its file is loaded, never inside a flow: only
        # code that (eval ...) analysed inside the flow can be waiting at top level
        raise FrameError(f"a {kind.name} frame in the top-level code of {node.unit.filename or '<string>'}"
                         f"{_where(node)}, which never runs inside a flow")
    if kind.env == "none":
        if frame.env is not None:
            raise FrameError(f"{kind.name} frame: has an environment")
    elif kind.env == "own":
        envs.check(frame.env, node.scope, f"{kind.name} frame{_where(node)}")
    else:
        envs.check(frame.env, scope_of(node), f"{kind.name} frame{_where(node)}")
    if frame.next is not None and type(frame.next) is not Frame:
        raise FrameError(f"{kind.name} frame: its continuation is not a frame")


def check_chains(frames):
    """Every chain of `next` links from these frames ends (no frame follows itself)."""
    state = {}  # id(frame) -> 1 on the walk being made, 2 checked
    for f in frames:
        if state.get(id(f)) == 2:
            continue
        path = []
        x = f
        while x is not None and state.get(id(x)) != 2:
            if state.get(id(x)) == 1:
                raise FrameError("a continuation whose frames loop (a frame follows itself)")
            state[id(x)] = 1
            path.append(x)
            x = x.next
        for p in path:
            state[id(p)] = 2


def check_closure(closure, envs):
    lam = closure.lam.node
    if type(lam) is not Lambda:
        raise FrameError("a closure without its lambda")
    envs.check(closure.env, lam.scope.parent, f"closure {closure.lam.name or 'of a lambda'}{_where(lam)}")


def check_winders(w, seen=None):
    """A winders list: a proper list of Winders (its pairs are added to seen)."""
    n = 0
    while w is not NIL:
        if type(w) is not Pair or type(w.car) is not Winder:
            raise FrameError("malformed dynamic-wind state (winders)")
        if seen is not None:
            if id(w) in seen:
                return
            seen.add(id(w))
        n += 1
        if n > 1_000_000:
            raise FrameError("malformed dynamic-wind state (winders)")
        w = w.cdr


def check_handlers(h, seen=None):
    """A handlers list: a proper list of procedures."""
    n = 0
    while h is not NIL:
        if type(h) is not Pair or not is_procedure(h.car):
            raise FrameError("malformed exception handler state (handlers)")
        if seen is not None:
            if id(h) in seen:
                return
            seen.add(id(h))
        n += 1
        if n > 1_000_000:
            raise FrameError("malformed exception handler state (handlers)")
        h = h.cdr


def check_winder(w):
    if not (is_procedure(w.before) and is_procedure(w.after)):
        raise FrameError("a dynamic-wind whose before/after is not a procedure")


def check_continuation_procedure(kp, seen_winders=None, seen_handlers=None):
    if kp.k is not None and type(kp.k) is not Frame:
        raise FrameError("a continuation procedure without frames")
    check_winders(kp.winders, seen_winders)
    check_handlers(kp.handlers, seen_handlers)
    if type(kp.level) is not int:
        raise FrameError("a continuation procedure with a malformed level")


def check_parameter(p):
    c = p.converter
    if not (c is None or c is False or is_procedure(c)):
        raise FrameError("a parameter whose converter is not a procedure")
    if not is_value(p.value):
        raise FrameError("a parameter whose value is not a Scheme value")


def winders_of_frame(frame):
    """The winders/handlers lists a resumer frame holds: ([winders], [handlers])."""
    node = frame.node
    if type(node) is Resumer:
        if node.name == "wind-step":
            return [frame.data[0]], []
        if node.name == "set-dynamic":
            return [frame.data[0]], [frame.data[1]]
    return [], []


# ---------------------------------------------------------------------- inspection


def waiting_on(frame):
    """The sub-expression (node) frame's node was evaluating, or None."""
    kind = frame_kind(frame.node)
    return kind.waiting(frame.node, frame.data) if kind is not None else None


def describe(frame):
    """What a frame waits for, in words (for the flow inspector)."""
    node = frame.node
    kind = frame_kind(node)
    if kind is None:
        return f"an unknown step ({getattr(node, 'name', type(node).__name__)})"
    return f"{kind.text}{_where(node)}"
