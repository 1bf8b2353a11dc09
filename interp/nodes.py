"""Code nodes: the analysed program, compiled to Python closures, resumable from frames.

The analyser turns each expression into a tree of nodes (lexically addressed;
raw s-expressions are never looked at again). `node.compile()` returns a closure
`run(env) -> value` (or a TailCall from a tail position). Wherever a node waits
on a sub-expression that could capture a continuation, its closure catches
`Capture`, appends a Frame saying how far it got, and re-raises; `node.resume(
frame, value)` carries on from such a frame. Each node belongs to a CodeUnit and
has an index there (`nid`): a frame refers to its node by (unit hash, nid).
A procedure called more than GENERATE_AFTER times has its body's nodes fused
into one generated Python function (codegen.py) that makes the same frames.
"""

from .barrier import WATCHED
from .errors import SchemeError
from .calls import (
    APP_BUILDERS,
    call,
    convert_exception,
    internal,
    raise_scheme_error,
    tail_apply,
    unbound_error,
)
from .procedures import (
    UNASSIGNED,
    Capture,
    Closure,
    Frame,
    Lambda as LambdaInfo,
    TailCall,
)
from .primitives import Primitive
from .sha import sha256
from .values import UNSPECIFIED, eqv
from .errors import scheme_error

ANALYSER_VERSION = "1"
# a procedure's body is generated as one Python function (interp/codegen.py)
# after this many calls of its node closures (None: never)
GENERATE_AFTER = 8

_watcher_of = WATCHED.get  # the write barrier (interp.barrier): stores into existing frames tell


class CodeUnit:
    """The nodes analysed from one source text; identified by a content hash."""

    def __init__(self, text, filename=None):
        self.text = text
        self.filename = filename
        self.nodes = []
        self.deps = set()  # hashes of units whose macros this one used
        self._hash = None

    def add(self, node):
        node.unit = self
        node.nid = len(self.nodes)
        self.nodes.append(node)

    @property
    def hash(self):
        if self._hash is None:
            h = sha256()
            h.update(ANALYSER_VERSION.encode())
            h.update(self.text.encode("utf-8", "surrogatepass"))
            for d in sorted(self.deps):
                h.update(d.encode())
            self._hash = h.hexdigest()[:32]
        return self._hash

    def __repr__(self):
        return f"<code unit {self.filename or '<string>'} {self.hash[:8]}>"


class Node:
    """Base of all code nodes."""

    __slots__ = ("unit", "nid", "pos", "owner", "code")
    is_call = False

    def setup(self, pos, owner):
        self.pos = pos
        self.owner = owner
        self.code = None

    def compile(self):
        if self.code is None:
            self.code = self._compile()
        return self.code

    def resume(self, frame, value):  # pragma: no cover - only nodes that push frames
        raise AssertionError(f"{type(self).__name__} has no resume point")


class Const(Node):
    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value

    def _compile(self):
        value = self.value

        def run(env):
            return value

        return run


class LocalRef(Node):
    """A lexical variable: `depth` frames out, slot `index`; `scopes` are the
    compile-time scopes walked (their final sizes give the parent-link slots)."""

    __slots__ = ("depth", "index", "scopes", "name", "checked")

    def __init__(self, depth, index, scopes, name, checked):
        self.depth = depth
        self.index = index
        self.scopes = scopes
        self.name = name
        self.checked = checked

    def _compile(self):
        i = self.index
        links = [s.parent_slot() for s in self.scopes[: self.depth]]
        if self.checked:
            walk = _walker(links)
            node = self

            def run(env):
                v = walk(env)[i]
                if v is UNASSIGNED:
                    raise SchemeError(
                        scheme_error(f"{node.name}: variable used before its definition").payload,
                        node.pos,
                    )
                return v

            return run
        if self.depth == 0:

            def run(env):
                return env[i]

        elif self.depth == 1:
            (p0,) = links

            def run(env):
                return env[p0][i]

        elif self.depth == 2:
            p0, p1 = links

            def run(env):
                return env[p0][p1][i]

        else:
            walk = _walker(links)

            def run(env):
                return walk(env)[i]

        return run


def _walker(links):
    def walk(env):
        for p in links:
            env = env[p]
        return env

    return walk


class Cell:
    """A global variable; `value` is unset while unbound."""

    __slots__ = ("value", "name")

    def __init__(self, name):
        self.name = name

    def __repr__(self):
        return f"<cell {self.name}>"


class GlobalRef(Node):
    __slots__ = ("cell",)

    def __init__(self, cell):
        self.cell = cell

    def _compile(self):
        cell = self.cell
        node = self

        def run(env):
            try:
                return cell.value
            except AttributeError:
                raise unbound_error(cell.name.name, node.pos) from None

        return run


class _Assign(Node):
    """Shared by set! and define: evaluate, then store."""

    __slots__ = ("expr",)

    def _compile(self):
        c = self.expr.compile()
        store = self.store
        node = self

        def run(env):
            try:
                v = c(env)
            except Capture as cap:
                cap.frames.append(Frame(node, env, None))
                raise
            return store(env, v)

        return run

    def resume(self, frame, value):
        return self.store(frame.env, value)


class GlobalDefine(_Assign):
    __slots__ = ("cell",)

    def __init__(self, cell, expr):
        self.cell = cell
        self.expr = expr

    def store(self, env, v):
        self.cell.value = v
        return UNSPECIFIED


class GlobalSet(_Assign):
    __slots__ = ("cell",)

    def __init__(self, cell, expr):
        self.cell = cell
        self.expr = expr

    def store(self, env, v):
        cell = self.cell
        if not hasattr(cell, "value"):
            raise SchemeError(
                scheme_error(f"set!: unbound variable: {cell.name.name}").payload, self.pos
            )
        cell.value = v
        return UNSPECIFIED


class LocalSet(_Assign):
    """set! of a lexical variable, and internal define (depth 0)."""

    __slots__ = ("depth", "index", "scopes")

    def __init__(self, depth, index, scopes, expr):
        self.depth = depth
        self.index = index
        self.scopes = scopes
        self.expr = expr

    def store(self, env, v):
        for s in self.scopes[: self.depth]:
            env = env[s.parent_slot()]
        env[self.index] = v
        w = _watcher_of(id(env))
        if w is not None:
            w.touched(env)
        return UNSPECIFIED


class If(Node):
    __slots__ = ("test", "then", "else_", "c_then", "c_else")

    def __init__(self, test, then, else_):
        self.test = test
        self.then = then
        self.else_ = else_

    def _compile(self):
        ct = self.test.compile()
        c1 = self.c_then = self.then.compile()
        c2 = self.c_else = self.else_.compile()
        node = self

        def run(env):
            try:
                t = ct(env)
            except Capture as cap:
                cap.frames.append(Frame(node, env, None))
                raise
            if t is not False:
                return c1(env)
            return c2(env)

        return run

    def resume(self, frame, value):
        if value is not False:
            return self.c_then(frame.env)
        return self.c_else(frame.env)


class Seq(Node):
    """begin: all but the last for effect; the last in the same (tail) position."""

    __slots__ = ("body", "codes")

    def __init__(self, body):
        self.body = body

    def _compile(self):
        codes = self.codes = [b.compile() for b in self.body]
        node = self
        if len(codes) == 2:
            c0, c1 = codes

            def run(env):
                try:
                    c0(env)
                except Capture as cap:
                    cap.frames.append(Frame(node, env, 0))
                    raise
                return c1(env)

            return run
        head = codes[:-1]
        last = codes[-1]

        def run(env):
            i = 0
            try:
                for c in head:
                    c(env)
                    i += 1
            except Capture as cap:
                cap.frames.append(Frame(node, env, i))
                raise
            return last(env)

        return run

    def resume(self, frame, value):
        return self._continue(frame.env, frame.data + 1)

    def _continue(self, env, i):
        codes = self.codes
        n = len(codes) - 1
        try:
            while i < n:
                codes[i](env)
                i += 1
        except Capture as cap:
            cap.frames.append(Frame(self, env, i))
            raise
        return codes[n](env)


class Lambda(Node):
    __slots__ = ("nreq", "rest", "scope", "body", "name", "info")

    def __init__(self, nreq, rest, scope, body, name):
        self.nreq = nreq
        self.rest = rest
        self.scope = scope
        self.body = body
        self.name = name
        self.info = None

    def _compile(self):
        nslots = self.scope.size() - self.nreq - (1 if self.rest else 0)
        body = self.body
        node = self

        # the body is compiled when the procedure is first called (most of the
        # prelude's procedures never are, and start-up is part of the product),
        # and generated as one Python function (interp/codegen.py) when it is
        # called again
        code = None
        countdown = 0

        def compiled(env):
            nonlocal code, countdown
            code = info.body = body.compile()
            if GENERATE_AFTER is not None:
                countdown = GENERATE_AFTER - 1
                info.body = warming
            return code(env)

        def warming(env):
            nonlocal countdown
            if countdown > 0:
                countdown -= 1
                return code(env)
            from .codegen import body_function

            generated = info.body = body_function(node, info) or code
            return generated(env)

        info = self.info = LambdaInfo(self.nreq, self.rest, nslots, compiled, self.name, self)

        def run(env):
            return Closure(info, env)

        return run


class Let(Node):
    """let (and the frame of a body's internal defines): inits in the outer env,
    then the body in a new frame [values..., slots..., parent]."""

    __slots__ = ("inits", "scope", "body", "c_inits", "c_body", "nslots")

    def __init__(self, inits, scope, body):
        self.inits = inits
        self.scope = scope
        self.body = body

    def _compile(self):
        inits = self.c_inits = [i.compile() for i in self.inits]
        body = self.c_body = self.body.compile()
        nslots = self.nslots = self.scope.size() - len(inits)
        node = self
        if len(inits) == 1 and not nslots:
            (c0,) = inits

            def run(env):
                try:
                    v = c0(env)
                except Capture as cap:
                    cap.frames.append(Frame(node, env, ()))
                    raise
                return body([v, env])

            return run

        def run(env):
            frame = []
            try:
                for c in inits:
                    frame.append(c(env))
            except Capture as cap:
                cap.frames.append(Frame(node, env, tuple(frame)))
                raise
            if nslots:
                frame.extend([UNASSIGNED] * nslots)
            frame.append(env)
            return body(frame)

        return run

    def resume(self, frame, value):
        env = frame.env
        vals = list(frame.data)
        vals.append(value)
        inits = self.c_inits
        try:
            while len(vals) < len(inits):
                vals.append(inits[len(vals)](env))
        except Capture as cap:
            cap.frames.append(Frame(self, env, tuple(vals)))
            raise
        if self.nslots:
            vals.extend([UNASSIGNED] * self.nslots)
        vals.append(env)
        return self.c_body(vals)


class Letrec(Node):
    """letrec / letrec*: a new frame of unassigned slots, inits evaluated in it
    left to right and stored as they come."""

    __slots__ = ("inits", "scope", "body", "c_inits", "c_body")

    def __init__(self, inits, scope, body):
        self.inits = inits
        self.scope = scope
        self.body = body

    def _compile(self):
        inits = self.c_inits = [i.compile() for i in self.inits]
        body = self.c_body = self.body.compile()
        size = self.scope.size()
        node = self

        def run(env):
            frame = [UNASSIGNED] * size
            frame.append(env)
            i = 0
            try:
                for c in inits:
                    frame[i] = c(frame)
                    i += 1
            except Capture as cap:
                cap.frames.append(Frame(node, frame, i))
                raise
            return body(frame)

        return run

    def resume(self, frame, value):
        # (run's frame is new and filled before anyone can save it; a resumed one
        # may have been saved with the continuation, so its stores tell the barrier)
        env = frame.env
        i = frame.data
        env[i] = value
        w = _watcher_of(id(env))
        if w is not None:
            w.touched(env)
        i += 1
        inits = self.c_inits
        try:
            while i < len(inits):
                env[i] = inits[i](env)
                w = _watcher_of(id(env))
                if w is not None:
                    w.touched(env)
                i += 1
        except Capture as cap:
            cap.frames.append(Frame(self, env, i))
            raise
        return self.c_body(env)


class Or(Node):
    __slots__ = ("exprs", "codes")

    def __init__(self, exprs):
        self.exprs = exprs

    def _compile(self):
        self.codes = [e.compile() for e in self.exprs]
        node = self

        def run(env):
            return node._from(env, 0)

        return run

    def _from(self, env, i):
        codes = self.codes
        n = len(codes) - 1
        try:
            while i < n:
                v = codes[i](env)
                if v is not False:
                    return v
                i += 1
        except Capture as cap:
            cap.frames.append(Frame(self, env, i))
            raise
        return codes[n](env)

    def resume(self, frame, value):
        if value is not False:
            return value
        return self._from(frame.env, frame.data + 1)


class And(Node):
    __slots__ = ("exprs", "codes")

    def __init__(self, exprs):
        self.exprs = exprs

    def _compile(self):
        self.codes = [e.compile() for e in self.exprs]
        node = self

        def run(env):
            return node._from(env, 0)

        return run

    def _from(self, env, i):
        codes = self.codes
        n = len(codes) - 1
        try:
            while i < n:
                if codes[i](env) is False:
                    return False
                i += 1
        except Capture as cap:
            cap.frames.append(Frame(self, env, i))
            raise
        return codes[n](env)

    def resume(self, frame, value):
        if value is False:
            return False
        return self._from(frame.env, frame.data + 1)


class Case(Node):
    """case: `clauses` is [(datums, body_node, is_arrow)], `else_` (body, is_arrow) or None."""

    __slots__ = ("key", "clauses", "else_", "compiled", "tail")

    def __init__(self, key, clauses, else_):
        self.key = key
        self.clauses = clauses
        self.else_ = else_

    def _compile(self):
        ck = self.key.compile()
        self.compiled = [(d, b.compile(), arrow) for d, b, arrow in self.clauses]
        if self.else_ is not None:
            self.compiled.append((None, self.else_[0].compile(), self.else_[1]))
        node = self

        def run(env):
            try:
                k = ck(env)
            except Capture as cap:
                cap.frames.append(Frame(node, env, None))
                raise
            return node.dispatch(env, k)

        return run

    def dispatch(self, env, k):
        for datums, code, arrow in self.compiled:
            if datums is None or any(eqv(k, d) for d in datums):
                if arrow:
                    try:
                        f = code(env)
                    except Capture as cap:
                        cap.frames.append(Frame(self, env, ("arrow", k)))
                        raise
                    if self.tail:
                        return tail_apply(f, [k], self)
                    return call(f, [k])
                return code(env)
        return UNSPECIFIED

    def resume(self, frame, value):
        if frame.data is None:
            return self.dispatch(frame.env, value)
        return tail_apply(value, [frame.data[1]], self)


class CondArrow(Node):
    """A cond clause `(test => receiver)` followed by the rest of the cond."""

    __slots__ = ("test", "receiver", "rest", "codes", "tail")

    def __init__(self, test, receiver, rest):
        self.test = test
        self.receiver = receiver
        self.rest = rest

    def _compile(self):
        ct = self.test.compile()
        cr = self.receiver.compile()
        crest = self.rest.compile()
        self.codes = (cr, crest)
        node = self

        def run(env):
            try:
                t = ct(env)
            except Capture as cap:
                cap.frames.append(Frame(node, env, None))
                raise
            return node._after_test(env, t)

        return run

    def _after_test(self, env, t):
        cr, crest = self.codes
        if t is False:
            return crest(env)
        try:
            f = cr(env)
        except Capture as cap:
            cap.frames.append(Frame(self, env, ("receiver", t)))
            raise
        if self.tail:
            return tail_apply(f, [t], self)
        return call(f, [t])

    def resume(self, frame, value):
        if frame.data is None:
            return self._after_test(frame.env, value)
        return tail_apply(value, [frame.data[1]], self)


# ------------------------------------------------------------------ application


class App(Node):
    __slots__ = ("fn", "args", "tail", "codes")
    is_call = True

    def __init__(self, fn, args, tail):
        self.fn = fn
        self.args = args
        self.tail = tail

    def _compile(self):
        self.codes = [self.fn.compile()] + [a.compile() for a in self.args]
        n = len(self.args)
        builder = APP_BUILDERS.get((n, self.tail, type(self.fn) is GlobalRef))
        if builder is None:
            return self._generic()
        if type(self.fn) is GlobalRef:
            return builder(self, self.fn.cell, *self.codes[1:])
        return builder(self, *self.codes)

    def _generic(self):
        codes = self.codes
        node = self
        tail = self.tail

        def run(env):
            vals = []
            try:
                for c in codes:
                    vals.append(c(env))
            except Capture as cap:
                cap.frames.append(Frame(node, env, tuple(vals)))
                raise
            return node.apply(vals[0], vals[1:], tail)

        return run

    def apply(self, f, args, tail):
        """Make the call (errors located at this node)."""
        try:
            if type(f) is Primitive:
                return f.fn(*args)
            if tail:
                return TailCall(f, args, None if internal(self.pos) else self)
            return call(f, args)
        except SchemeError as e:
            return raise_scheme_error(e, self.pos, self.owner)
        except Exception as e:
            return raise_scheme_error(convert_exception(e, f, len(args)), self.pos, self.owner)

    def resume(self, frame, value):
        env = frame.env
        vals = list(frame.data)
        vals.append(value)
        codes = self.codes
        try:
            while len(vals) < len(codes):
                vals.append(codes[len(vals)](env))
        except Capture as cap:
            cap.frames.append(Frame(self, env, tuple(vals)))
            raise
        return self.apply(vals[0], vals[1:], True)


class Dynamic(Node):
    """A node whose run is a Python function of the env (for analyser-made helpers)."""

    __slots__ = ("fn",)

    def __init__(self, fn):
        self.fn = fn

    def _compile(self):
        return self.fn
