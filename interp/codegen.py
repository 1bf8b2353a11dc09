"""Hot procedure bodies compiled to one generated Python function each, frame for frame like the nodes.

A procedure's body runs as a tree of node closures (nodes.py): about a dozen
Python calls per loop iteration of `(loop (+ i 1) (+ acc i))`. From its second
call, a procedure's body is instead one Python function generated here from the
same nodes (source text, `compile()`d once), with the same protocol as a body
closure, `body(env) -> value or TailCall`, and the same behaviour to the last
frame:

- the environment is the same list frames (`[args..., parent]`), read in place
  (a self-loop whose body leaves no node to its own closure keeps its own
  frame's values in Python locals instead, and makes the list only where a
  frame record or a let's frame holds it: the lists the node path would make);
- every place a node closure would catch `Capture` and append `Frame(node, env,
  data)`, the generated code does too, with the same node, env and data, so a
  continuation captured (or a stack spilled, or a run interrupted) inside it is
  the one the node path would have made: it resumes on the nodes, serialises by
  node id, and nothing else needs to know this module exists;
- errors are located and routed at the same nodes (`raise_scheme_error` with
  the application's position and owner);
- a call is made exactly as calls.py's application closures make it (fuel and
  depth counted, spill when too deep), except that a call to a primitive whose
  global still holds the standard primitive (checked by identity on every call:
  globals may be redefined at any time) with small-integer / pair arguments is
  done inline (`a + b`, `x.car`), and a tail call of the procedure to itself
  (a named-let loop) becomes a jump to the top of the function (a Python
  `while` loop), with fuel counted and an interrupt (limits, giving way) taken
  as the trampoline takes it: by returning the tail call to it.

Nodes the generator does not know (lambda, letrec, set!, define, case, ...)
are called as their own closures with the current env, which is always correct.
A body that cannot be generated (too deep, too big, anything unexpected) keeps
its node closure. Set FLOWSCHEME_CODEGEN=0 (or `ENABLED = False`) to turn this
off, e.g. to compare the two paths.
"""

import os

from . import calls as _calls
from .nodes import And, App, Const, GlobalRef, If, Let, LocalRef, Or, Seq
from .calls import convert_exception, raise_scheme_error
from .errors import SchemeError
from .primitives import PRIMITIVES, Primitive
from .values import NIL, Pair

ENABLED = os.environ.get("FLOWSCHEME_CODEGEN", "1") != "0"
MAX_ARGS = 4  # applications with more arguments stay node closures (as calls.py's builders)
MAX_NODES = 400  # bodies bigger than this are not generated (compile time)
MAX_TRY_DEPTH = 12  # nested try blocks (CPython allows 20 static blocks)
MAX_INDENT = 40

_INT2 = "type({0}) is int and type({1}) is int"

# primitive name -> (argument count, guard, inline expression); {0}, {1} are the arguments.
# Each is the primitive's own first fast path, word for word (interp/primitives).
INLINE = {
    "+": (2, _INT2, "{0} + {1}"),
    "-": (2, _INT2, "{0} - {1}"),
    "=": (2, _INT2, "{0} == {1}"),
    "<": (2, _INT2, "{0} < {1}"),
    ">": (2, _INT2, "{0} > {1}"),
    "<=": (2, _INT2, "{0} <= {1}"),
    ">=": (2, _INT2, "{0} >= {1}"),
    "zero?": (1, "type({0}) is int", "{0} == 0"),
    "not": (1, None, "{0} is False"),
    "null?": (1, None, "{0} is {NIL}"),
    "pair?": (1, None, "type({0}) is {Pair}"),
    "car": (1, "type({0}) is {Pair}", "{0}.car"),
    "cdr": (1, "type({0}) is {Pair}", "{0}.cdr"),
    "cons": (2, None, "{Pair}({0}, {1})"),
    "eq?": (2, "{0} is {1}", "True"),
    # (within these bounds the product is far below the primitive's size limit)
    "*": (2, "type({0}) is int and type({1}) is int and -3037000499 <= {0} <= 3037000499 "
             "and -3037000499 <= {1} <= 3037000499", "{0} * {1}"),
    # (with both signs known, the primitives' own fast paths come to these)
    "quotient": (2, "type({0}) is int and type({1}) is int and {0} >= 0 and {1} > 0", "{0} // {1}"),
    "remainder": (2, "type({0}) is int and type({1}) is int and {0} >= 0 and {1} > 0", "{0} % {1}"),
}

STATS = {"generated": 0, "declined": 0}
_CODE = {}  # generated source -> its code (bodies of the same shape share it)


def call_error(e, f, nargs, node):
    """An exception from making the call of application node to f: located there
    and routed (see calls.raise_scheme_error); a Python one converted first."""
    if not isinstance(e, SchemeError):
        e = convert_exception(e, f, nargs)
    return raise_scheme_error(e, node.pos, node.owner)


def _int_literal(expr):
    return expr.lstrip("-").isdigit()


def _frame_locals(n):
    """The Python locals a lazy self-loop keeps its frame's n values in: "a0, a1, ..."."""
    return ", ".join(f"a{i}" for i in range(n))


class Decline(Exception):
    """This body is not generated (it keeps its node closure)."""


def body_function(lam_node, info):
    """The generated body of lambda node lam_node (its LambdaInfo info), or None."""
    if not ENABLED:
        return None
    try:
        fn = _Gen(lam_node, info).function()
    except Exception:  # Decline, or anything unforeseen: the node closure stays
        fn = None
    if fn is None:
        STATS["declined"] += 1
    else:
        STATS["generated"] += 1
    return fn


def source_of(lam_node, info):
    """The generated source of a body (for tests and debugging), or None."""
    try:
        return _Gen(lam_node, info).source()
    except Decline:
        return None


def _count(node, limit):
    """Nodes in node's tree, up to limit (Decline beyond)."""
    n, stack = 0, [node]
    while stack:
        x = stack.pop()
        n += 1
        if n > limit:
            raise Decline("too big")
        t = type(x)
        if t is If:
            stack += (x.test, x.then, x.else_)
        elif t is Seq:
            stack += x.body
        elif t is App:
            stack.append(x.fn)
            stack += x.args
        elif t is Let:
            stack += x.inits
            stack.append(x.body)
        elif t is And or t is Or:
            stack += x.exprs
    return n


class _Gen:
    def __init__(self, lam_node, info):
        self.lam_node = lam_node
        self.info = info
        self.names = {}  # id(object) -> name in the generated code
        self.objects = []  # (name, object), kept alive here
        self.lines = []
        self.ntemp = 0
        self.self_loop = False
        self.raw = False  # code emitted may raise a Python exception no handler converted yet
        self.opaque_nodes = False  # some node is left to its own closure (it gets the env)
        # lazy: a self-loop body with no such node keeps its own frame's values in
        # Python locals (a0, a1, ..., penv: the parent) and makes the frame list
        # only where one is needed (a frame record, a let's parent): see source()
        self.lazy = False

    # -------------------------------------------------------------- plumbing

    def ref(self, obj, prefix):
        key = (prefix, id(obj))
        name = self.names.get(key)
        if name is None:
            name = f"{prefix}_{len(self.objects)}"  # (temporaries have no "_")
            self.names[key] = name
            self.objects.append((name, obj))
        return name

    def temp(self, prefix="t"):
        self.ntemp += 1
        return f"{prefix}{self.ntemp}"

    def emit(self, ind, line):
        if ind > MAX_INDENT:
            raise Decline("too deep")
        self.lines.append("    " * ind + line)

    def source(self):
        body = self.lam_node.body
        _count(body, MAX_NODES)
        body.compile()  # every node's closure exists (frames resume through them)
        self.lines = []
        self.stmt(body, "env", None, 4, 0)  # inside def make / def body / while / try
        if self.self_loop and not self.opaque_nodes and self.info.fast >= 0:
            # again, with the loop's frame in locals: every frame list the node path
            # would have made is still made, but only when something holds it
            self.lazy = True
            self.lines, self.ntemp = [], 0
            self.stmt(body, "env", None, 4, 0)
        names = ", ".join(n for n, _ in self.objects)
        out = [f"def make({names}):", "    def body(env):", "        global _depth, _fuel"]
        if self.lazy:
            n = self.info.fast
            out += [f"        {_frame_locals(n)}{',' if n == 1 else ''} = env[:{n}]" if n else "",
                    f"        penv = env[{n}]"]
        if self.self_loop:
            # the body inside `while True: try:`; an error of a later iteration in library
            # code is reported at the tail call that started it (as calls.call does)
            out += [
                "        tn = None",
                "        while True:",
                "            try:",
                *self.lines,
                "            except SchemeError as e:",
                "                if tn is not None and internal(e.pos):",
                "                    return raise_scheme_error(e, tn.pos, tn.owner)",
                "                raise",
            ]
        else:
            out += [line[8:] for line in self.lines]
        out.append("    return body")
        return "\n".join(out) + "\n"

    def function(self):
        src = self.source()
        name = self.info.name or "anonymous"
        pos = getattr(self.lam_node, "pos", None)
        filename = f"<scheme {name} {getattr(pos, 'file', None)}:{getattr(pos, 'line', '?')}>"
        code = _CODE.get(src)
        if code is None:
            if len(_CODE) >= 1000:
                _CODE.clear()
            code = _CODE[src] = compile(src, filename, "exec")
        ns = {}
        exec(code, _calls.__dict__, ns)
        return ns["make"](*[obj for _, obj in self.objects])

    # -------------------------------------------------------------- expressions

    def simple(self, node):
        """A Python expression for node when it can neither fail nor capture, else None."""
        t = type(node)
        if t is Const:
            v = node.value
            if v is True or v is False or v is None:
                return repr(v)
            if type(v) is int and -(1 << 30) < v < (1 << 30):
                return repr(v)
            return self.ref(v, "k")
        if t is LocalRef and not node.checked:
            return None  # needs the env name: see simple_in
        return None

    def simple_in(self, node, env):
        if type(node) is LocalRef and not node.checked:
            links = [s.parent_slot() for s in node.scopes[: node.depth]]
            if self.lazy and env == "env":  # the loop's own frame: in locals
                if not links:
                    return f"a{node.index}"
                return "penv" + "".join(f"[{p}]" for p in links[1:]) + f"[{node.index}]"
            return env + "".join(f"[{p}]" for p in links) + f"[{node.index}]"
        return self.simple(node)

    def materialise(self, env, ind):
        """In a lazy body, make the loop's frame list if this iteration has none yet."""
        if self.lazy and env == "env":
            n = self.info.fast
            self.emit(ind, f"if env is None: env = [{_frame_locals(n)}{', ' if n else ''}penv]")

    def put(self, ind, dest, expr):
        self.emit(ind, f"return {expr}" if dest is None else f"{dest} = {expr}")

    # -------------------------------------------------------------- statements

    def stmt(self, node, env, dest, ind, tries):
        """Lines computing node's value in environment `env` into variable dest
        (None: return it — node is then in tail position)."""
        if tries > MAX_TRY_DEPTH:
            return self.opaque(node, env, dest, ind)
        expr = self.simple_in(node, env)
        if expr is not None:
            return self.put(ind, dest, expr)
        t = type(node)
        if t is GlobalRef:
            return self.global_ref(node, node, env, dest, ind)
        if t is If:
            return self.if_(node, env, dest, ind, tries)
        if t is Seq:
            return self.seq(node, env, dest, ind, tries)
        if t is App and len(node.args) <= MAX_ARGS:
            return self.app(node, env, dest, ind, tries)
        if t is Let:
            return self.let(node, env, dest, ind, tries)
        if (t is And or t is Or) and node.exprs:
            return self.and_or(node, env, dest, ind, tries, t is And)
        return self.opaque(node, env, dest, ind)

    def opaque(self, node, env, dest, ind):
        """A node the generator leaves to its own closure (which appends its own frames;
        it may raise any Python exception, see guarded)."""
        self.raw = True
        self.opaque_nodes = True
        self.materialise(env, ind)
        self.put(ind, dest, f"{self.ref(node.compile(), 'r')}({env})")

    def global_ref(self, node, pos_node, env, dest, ind):
        cell = self.ref(node.cell, "c")
        if hasattr(node.cell, "value"):  # bound now, so for good (globals are never unbound)
            return self.put(ind, dest, f"{cell}.value")
        self.emit(ind, "try:")
        self.put(ind + 1, dest, f"{cell}.value")
        self.emit(ind, "except AttributeError:")
        self.emit(ind + 1, f"raise unbound_error({cell}.name.name, {self.ref(pos_node, 'n')}.pos) from None")

    def guarded(self, node, env, dest, ind, tries, owner, data, convert=False):
        """node's value into dest; a capture inside it appends Frame(owner, env, data).
        convert: a Python exception from it becomes a Scheme error (as an
        application's argument steps do)."""
        n = self.ref(owner, "n")
        if self.simple_in(node, env) is not None:
            return self.stmt(node, env, dest, ind, tries)
        outer_raw, self.raw = self.raw, False
        self.emit(ind, "try:")
        self.stmt(node, env, dest, ind + 1, tries + 1)
        self.emit(ind, "except Capture as cap:")
        self.materialise(env, ind + 1)
        self.emit(ind + 1, f"cap.frames.append(Frame({n}, {env}, {data}))")
        self.emit(ind + 1, "raise")
        if convert and self.raw:
            self.emit(ind, "except SchemeError:")
            self.emit(ind + 1, "raise")
            self.emit(ind, "except Exception as e:")
            self.emit(ind + 1, "raise convert_exception(e, None, 0) from e")
            self.raw = False  # converted here
        self.raw = self.raw or outer_raw

    def if_(self, node, env, dest, ind, tries):
        t = self.temp()
        self.guarded(node.test, env, t, ind, tries, node, "None")
        self.emit(ind, f"if {t} is not False:")
        self.stmt(node.then, env, dest, ind + 1, tries)
        self.emit(ind, "else:")
        self.stmt(node.else_, env, dest, ind + 1, tries)

    def seq(self, node, env, dest, ind, tries):
        body = node.body
        for i, b in enumerate(body[:-1]):
            if self.simple_in(b, env) is not None:
                continue  # a constant or variable for effect: nothing to do
            self.guarded(b, env, "_", ind, tries, node, str(i))
        self.stmt(body[-1], env, dest, ind, tries)

    def let(self, node, env, dest, ind, tries):
        vals = []
        for i, init in enumerate(node.inits):
            v = self.temp("v")
            data = "(" + "".join(f"{x}, " for x in vals) + ")"
            self.guarded(init, env, v, ind, tries, node, data)
            vals.append(v)
        nslots = node.scope.size() - len(node.inits)
        new = self.temp("e")
        self.materialise(env, ind)
        slots = ", ".join(vals + ["UNASSIGNED"] * nslots + [env])
        self.emit(ind, f"{new} = [{slots}]")
        self.stmt(node.body, new, dest, ind, tries)

    def and_or(self, node, env, dest, ind, tries, is_and):
        exprs = node.exprs
        for i, e in enumerate(exprs[:-1]):
            t = self.temp()
            self.guarded(e, env, t, ind, tries, node, str(i))
            if is_and:
                self.emit(ind, f"if {t} is False:")
                self.put(ind + 1, dest, "False")
            else:
                self.emit(ind, f"if {t} is not False:")
                self.put(ind + 1, dest, t)
            self.emit(ind, "else:")
            ind += 1
        self.stmt(exprs[-1], env, dest, ind, tries)

    # -------------------------------------------------------------- applications

    def app(self, node, env, dest, ind, tries):
        n = self.ref(node, "n")
        nargs = len(node.args)
        f = self.temp("f")
        fn = node.fn
        known = None  # the standard primitive the operator's global holds now, if inlinable
        if type(fn) is GlobalRef:
            self.global_ref(fn, node, env, f, ind)  # unbound: reported at the application
            cur = getattr(fn.cell, "value", None)
            if type(cur) is Primitive and INLINE.get(cur.name, (None,))[0] == nargs:
                if cur.fn is PRIMITIVES[cur.name].fn:  # the standard one
                    known = cur
        else:
            self.guarded(fn, env, f, ind, tries, node, "()", convert=True)
        xs = []
        for i, a in enumerate(node.args):
            if type(a) is Const:
                xs.append(self.simple(a))  # a literal: no temporary needed
                continue
            x = self.temp("x")
            data = "(" + ", ".join([f] + xs) + ",)"
            self.guarded(a, env, x, ind, tries, node, data, convert=True)
            xs.append(x)
        args = ", ".join(xs)
        if node.tail:
            self.tail_call(node, n, f, xs, args, known, dest, ind)
        else:
            primitive_now = type(fn) is GlobalRef and isinstance(getattr(fn.cell, "value", None), Primitive)
            self.call(node, n, f, xs, args, known, dest, ind, primitive_now)

    def inline(self, known, f, xs):
        """(condition, expression) of a call done inline, or None."""
        if known is None or (known.name == "eq?" and any(_int_literal(x) for x in xs)):
            return None  # (`2 is x` is a SyntaxWarning)
        _, guard, expr = INLINE[known.name]
        cond = f"{f} is {self.ref(known, 'p')}"
        if guard == _INT2:  # (a literal integer argument needs no test)
            cond += "".join(f" and type({x}) is int" for x in xs if not _int_literal(x))
        elif guard is not None and not (guard == "type({0}) is int" and _int_literal(xs[0])):
            cond += " and " + guard.format(*xs, Pair=self.ref(Pair, "g"))
        names = {"Pair": self.ref(Pair, "g"), "NIL": self.ref(NIL, "g")}
        return cond, expr.format(*xs, **names)

    def call(self, node, n, f, xs, args, known, dest, ind, primitive_now):
        r = dest if dest is not None else self.temp("r")
        nargs = len(xs)
        lam = self.temp("lam")
        lst = f"[{args}{', ' if xs else ''}{f}.env]"
        self.emit(ind, "try:")
        inl = self.inline(known, f, xs)
        kw = "if"
        if inl is not None:
            self.emit(ind + 1, f"if {inl[0]}:")
            self.emit(ind + 2, f"{r} = {inl[1]}")
            kw = "elif"
        self.emit(ind + 1, f"{kw} type({f}) is Primitive:")
        self.emit(ind + 2, f"{r} = {f}.fn({args})")
        if primitive_now:  # (what calls.call does too, a little slower)
            self.emit(ind + 1, "else:")
            self.emit(ind + 2, f"{r} = call({f}, [{args}])")
            return self.call_errors(n, f, nargs, r, dest, ind)
        self.emit(ind + 1, f"elif type({f}) is Closure and ({lam} := {f}.lam).fast == {nargs}:")
        self.emit(ind + 2, "if _depth > _limit:")
        self.emit(ind + 3, f"raise spill({f}, [{args}])")
        self.emit(ind + 2, "_depth += 1")
        self.emit(ind + 2, "_fuel -= 1")
        self.emit(ind + 2, f"{r} = {lam}.body({lst})")
        self.emit(ind + 2, "_depth -= 1")
        self.emit(ind + 2, f"if type({r}) is TailCall:")
        self.emit(ind + 3, f"{r} = call({r}.f, {r}.args, {r}.node)")
        self.emit(ind + 1, "else:")
        self.emit(ind + 2, f"{r} = call({f}, [{args}])")
        self.call_errors(n, f, nargs, r, dest, ind)

    def call_errors(self, n, f, nargs, r, dest, ind):
        self.emit(ind, "except Exception as e:")
        self.emit(ind + 1, f"{r} = {self.ref(call_error, 'h')}(e, {f}, {nargs}, {n})")
        if dest is None:
            self.emit(ind, f"return {r}")

    def tail_call(self, node, n, f, xs, args, known, dest, ind):
        if dest is not None:  # (the analyser marks a tail call only in tail position)
            raise Decline("a tail call out of tail position")
        nargs = len(xs)
        tnode = "None" if _calls.internal(node.pos) else n
        inl = self.inline(known, f, xs)
        if inl is not None:
            self.emit(ind, f"if {inl[0]}:")
            self.emit(ind + 1, f"return {inl[1]}")
        if self.info.fast == nargs:
            # the procedure calling itself: the next iteration of the loop, unless an
            # interrupt is pending (the trampoline then takes it, see calls.call)
            self.self_loop = True
            me = self.ref(self.info, "lam")
            self.emit(ind, f"if type({f}) is Closure and {f}.lam is {me} and _limit >= 0:")
            self.emit(ind + 1, "_fuel -= 1")
            if self.lazy:
                if xs:
                    self.emit(ind + 1, f"{_frame_locals(nargs)} = {args}")
                self.emit(ind + 1, f"penv = {f}.env")
                self.emit(ind + 1, "env = None")
            else:
                self.emit(ind + 1, f"env = [{args}{', ' if xs else ''}{f}.env]")
            if tnode != "None":
                self.emit(ind + 1, f"tn = {tnode}")
            self.emit(ind + 1, "continue")
        self.emit(ind, f"if type({f}) is Primitive:")
        self.emit(ind + 1, "try:")
        self.emit(ind + 2, f"return {f}.fn({args})")
        self.emit(ind + 1, "except Exception as e:")
        self.emit(ind + 2, f"return {self.ref(call_error, 'h')}(e, {f}, {nargs}, {n})")
        self.emit(ind, f"return TailCall({f}, [{args}], {tnode})")
