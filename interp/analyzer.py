"""The analyser: expands macros and turns s-expressions into code nodes, once.

Variables are resolved here to lexical addresses (frames out, slot) or global
cells. Identifiers are Symbols, or Aliases that a macro expansion introduced:
an alias bound by a binding form in the same expansion is that binding; any
other alias means what its symbol meant where the macro was defined (hygiene).
"""

from .errors import SchemeSyntaxError
from .nodes import (
    And,
    App,
    Case,
    Cell,
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
    Or,
    Seq,
)
from .scopes import (  # noqa: F401  (re-exported: the analyser's public names)
    ELLIPSIS,
    UNDERSCORE,
    Alias,
    GlobalEnv,
    Scope,
    SyntaxScope,
    TopScope,
    base_symbol,
    frame_path,
    frame_scope,
    is_ident,
    lookup,
    map_leaves,
    plist,
    same_binding,
    strip,
)
from .values import NIL, UNSPECIFIED, Pair, Symbol, Vector, is_string, list_to_pairs, string_text, sym


class SpecialForm:
    def __init__(self, name, handler):
        self.name = name
        self.handler = handler

    def __repr__(self):
        return f"#<syntax {self.name}>"


SPECIAL_FORMS = {}


def special(name):
    def register(fn):
        SPECIAL_FORMS[sym(name)] = SpecialForm(name, fn)
        return fn

    return register


S_DEFINE = sym("define")
S_BEGIN = sym("begin")
S_DEFINE_SYNTAX = sym("define-syntax")
S_ELSE = sym("else")
S_ARROW = sym("=>")
S_ELLIPSIS, S_UNDERSCORE = ELLIPSIS, UNDERSCORE
S_QUOTE = sym("quote")
S_QUASIQUOTE = sym("quasiquote")
S_UNQUOTE = sym("unquote")
S_UNQUOTE_SPLICING = sym("unquote-splicing")
S_LAMBDA = sym("lambda")
S_SYNTAX_RULES = sym("syntax-rules")
S_DEFINE_VALUES = sym("define-values")
S_DEFINE_RECORD_TYPE = sym("define-record-type")


def _form_pos(x, pos):
    """Where top-level form x stands: a pair's own position, else `pos` (where it
    was read; a symbol or number cannot carry one)."""
    return (getattr(x, "pos", None) or pos) if type(x) is Pair else pos


class Analyzer:
    """Analyses the forms of one code unit in a global environment."""

    def __init__(self, genv, unit):
        self.genv = genv
        self.unit = unit
        self.includes = 0
        self.top = None  # the form being analysed at top level (where define may appear)
        self.depth = 0  # macro expansions being analysed, one inside another
        self.lambdas = 0  # lambda bodies being analysed, one inside another
        self.deep_macro = None  # a macro expanded inside 200 others (named if it overflows)

    # -------------------------------------------------------------- helpers

    def node(self, n, pos, owner):
        n.setup(pos, owner)
        self.unit.add(n)
        return n

    def error(self, msg, pos):
        return SchemeSyntaxError(msg, pos)

    def syntax_of(self, head, scope):
        """The special form or macro an identifier in head position denotes, or None."""
        r = lookup(head, scope)
        if r[0] == "macro":
            return r[1]
        if r[0] == "global":
            s = r[1]
            genv = r[2] or self.genv
            m = genv.macros.get(s)
            if m is not None:
                return m
            return SPECIAL_FORMS.get(s) if s not in genv.shadowed else None
        return None

    def is_keyword(self, x, scope, name):
        """Is x the identifier `name`, unbound locally (e.g. else, =>)?"""
        if not is_ident(x) or base_symbol(x) is not name:
            return False
        return lookup(x, scope)[0] == "global"

    # -------------------------------------------------------------- analysis

    def analyze_toplevel(self, x, pos=None):
        """Top-level form x; pos: where it was read (a pair knows its own)."""
        self.top = x
        return self.analyze(x, None, False, "<toplevel>", _form_pos(x, pos))

    def compile_toplevel(self, x, pos=None):
        """The compiled code of top-level form x (analysed, then compiled)."""
        self.deep_macro = None
        try:
            return self.analyze_toplevel(x, pos).compile()
        except RecursionError:
            why = ""
            if self.deep_macro is not None:
                why = f" (expanding the macro {self.deep_macro}: does its expansion grow without end?)"
            raise SchemeSyntaxError("expression nested too deeply" + why, _form_pos(x, pos)) from None

    def analyze(self, x, scope, tail, owner, pos):
        t = type(x)
        if t is Symbol or t is Alias:
            return self.variable(x, scope, owner, pos)
        if t is Pair:
            p = getattr(x, "pos", None) or pos
            head = x.car
            if is_ident(head):
                syn = self.syntax_of(head, scope)
                if syn is not None:
                    if type(syn) is SpecialForm:
                        return syn.handler(self, x, scope, tail, owner, p)
                    self.note_macro(syn)
                    expansion = syn.expand(x, scope, p)
                    if self.top is x:
                        self.top = expansion
                    self.depth += 1
                    if self.depth > 200:
                        self.deep_macro = syn.name
                    if self.depth > MAX_EXPANSIONS:
                        raise self.error(
                            f"{syn.name}: macro expansion does not terminate "
                            f"(more than {MAX_EXPANSIONS} nested expansions)", p)
                    try:
                        return self.analyze(expansion, scope, tail, owner, p)
                    finally:
                        self.depth -= 1
            return self.application(x, scope, tail, owner, p)
        if x is NIL:
            raise self.error("empty combination ()", pos)
        if t is Vector:  # self-evaluating; a macro template's may hold aliases
            return self.node(Const(strip(x)), pos, owner)
        return self.node(Const(x), pos, owner)

    def note_macro(self, m):
        h = getattr(m, "unit_hash", None)
        if h is not None and m.unit is not self.unit:
            self.unit.deps.add(m.unit.hash)

    def variable(self, x, scope, owner, pos):
        r = lookup(x, scope)
        if r[0] == "local":
            _, target, slot = r
            scopes = frame_path(scope, target)
            scopes.append(target)
            return self.node(
                LocalRef(len(scopes) - 1, slot, scopes, base_symbol(x).name, slot in target.checked),
                pos,
                owner,
            )
        if r[0] == "global":
            genv = r[2] or self.genv
            if r[1] in SPECIAL_FORMS and r[1] not in genv.shadowed or r[1] in genv.macros:
                raise self.error(f"syntax keyword {r[1].name} used as a variable", pos)
            cell = genv.cell(r[1])
            if genv.restricted and not self.lambdas and not hasattr(cell, "value") and r[1] not in genv.defined:
                # code eval runs now, in an environment that holds only its imports
                raise self.error(f"{r[1].name}: not bound in {genv.name}", pos)
            return self.node(GlobalRef(cell), pos, owner)
        raise self.error(f"macro {base_symbol(x).name} used as a variable", pos)

    def application(self, x, scope, tail, owner, pos):
        items = plist(x, "procedure call", pos)
        fn = self.analyze(items[0], scope, False, owner, pos)
        args = []
        p = x.cdr  # one walk (pos_in per argument would make long calls quadratic)
        for a in items[1:]:
            args.append(self.analyze(a, scope, False, owner, self._pos_at(p, pos)))
            p = p.cdr
        return self.node(App(fn, args, tail), pos, owner)

    @staticmethod
    def pos_in(x, i, default):
        """The position of the i-th element of list x (as the reader recorded it)."""
        p = x
        for _ in range(i):
            p = p.cdr
        return Analyzer._pos_at(p, default)

    @staticmethod
    def _pos_at(p, default):
        """The position of p's car (p: a pair of a list the reader made)."""
        el = p.car
        if type(el) is Pair and hasattr(el, "pos"):
            return el.pos
        return getattr(p, "pos", None) or default

    def sequence(self, forms, scope, tail, owner, pos):
        if not forms:
            return self.node(Const(UNSPECIFIED), pos, owner)
        nodes = [
            self.analyze(f, scope, tail and i == len(forms) - 1, owner, pos)
            for i, f in enumerate(forms)
        ]
        if len(nodes) == 1:
            return nodes[0]
        return self.node(Seq(nodes), pos, owner)

    # -------------------------------------------------------------- bodies

    def body(self, forms, scope, owner, pos, tail=True):
        """A lambda/let body: internal defines become slots of `scope`. `tail`: is
        the body in tail position (always for lambda; a let's own position)?

        A let-syntax / letrec-syntax at body level is spliced into the body (as
        chibi does): its macros hold for its own forms only, and its definitions
        are the body's (one of a name the body defined before it stays its own)."""
        if not forms:
            raise self.error("empty body", pos)
        items = []  # ("define", slot, expr, name, pos, scope) | ("expr", form, pos, scope)
        queue = [(f, scope) for f in forms]
        while queue:
            f, fscope = queue.pop(0)
            fpos = getattr(f, "pos", None) or pos
            f = self.expand_head(f, fscope, fpos)
            if type(f) is Pair and is_ident(f.car):
                syn = self.syntax_of(f.car, fscope)
                kind = syn.name if type(syn) is SpecialForm else None
                if kind == "begin":
                    queue[0:0] = [(g, fscope) for g in plist(f.cdr, "begin", fpos)]
                    continue
                if kind in ("include", "include-ci"):
                    queue[0:0] = [(g, fscope) for g in include_forms(self, f, fpos, kind == "include-ci")]
                    continue
                if kind == "cond-expand":
                    queue[0:0] = [(g, fscope) for g in cond_expand_forms(self, f, fscope, fpos)]
                    continue
                if kind in ("let-syntax", "letrec-syntax"):
                    inner, inner_forms = self.syntax_bindings(f, fscope, fpos, SyntaxScope)
                    queue[0:0] = [(g, inner) for g in inner_forms]
                    continue
                if kind == "define":
                    name, expr = self.parse_define(f, fpos)
                    real = fscope.real if type(fscope) is SyntaxScope else fscope
                    slot = fscope.bindings.get(name)
                    if slot is None or slot[0] != "var":
                        if fscope is not real and name in real.bindings:
                            # the body defined it already: this one is the let-syntax's own
                            slot = ("var", real.nvars)
                            real.nvars += 1
                            real.checked.add(slot[1])
                            fscope.bindings[name] = slot
                        else:
                            slot = ("var", real.add_var(name, checked=True))
                    items.append(("define", slot[1], expr, name, fpos, fscope))
                    continue
                if kind == "define-syntax":
                    self.define_syntax(f, fscope, fpos)
                    continue
            items.append(("expr", f, fpos, fscope))
        nodes = []
        for i, item in enumerate(items):
            last = i == len(items) - 1
            if item[0] == "define":
                _, slot, expr, name, fpos, fscope = item
                real = fscope.real if type(fscope) is SyntaxScope else fscope
                value = self.analyze_named(expr, fscope, base_symbol(name).name, owner, fpos)
                nodes.append(self.node(LocalSet(0, slot, [real], value), fpos, owner))
                if last:
                    nodes.append(self.node(Const(UNSPECIFIED), fpos, owner))
            else:
                nodes.append(self.analyze(item[1], item[3], tail and last, owner, item[2]))
        if not nodes:  # only empty (begin)s
            raise self.error("empty body", pos)
        if len(nodes) == 1:
            return nodes[0]
        return self.node(Seq(nodes), pos, owner)

    def expand_head(self, f, scope, pos):
        """f with its macro uses in head position expanded (a bounded number of times)."""
        n = 0
        while type(f) is Pair and is_ident(f.car):
            syn = self.syntax_of(f.car, scope)
            if syn is None or type(syn) is SpecialForm:
                break
            n += 1
            if n > MAX_EXPANSIONS:
                raise self.error(
                    f"{syn.name}: macro expansion does not terminate "
                    f"(more than {MAX_EXPANSIONS} expansions in a row)", pos)
            self.note_macro(syn)
            f = syn.expand(f, scope, pos)
        return f

    def syntax_bindings(self, x, scope, pos, scope_class):
        """The scope of a let-syntax / letrec-syntax's macros, and its body forms."""
        from .syntax_rules import make_transformer

        what = base_symbol(x.car).name
        items = plist(x, what, pos)
        if len(items) < 3 and scope_class is Scope or len(items) < 2:
            raise self.error(f"{what}: expected bindings and a body", pos)
        inner = scope_class(scope)
        recursive = what == "letrec-syntax"
        for b in plist(items[1], what, pos):
            parts = plist(b, f"{what} binding", pos) if type(b) is Pair else None
            if not parts or len(parts) != 2 or not is_ident(parts[0]):
                raise self.error(f"{what}: bad binding {_show(b)}", pos)
            m = make_transformer(self, parts[1], inner if recursive else scope, pos, base_symbol(parts[0]).name)
            inner.bindings[parts[0]] = ("macro", m)
        return inner, items[2:]

    def analyze_named(self, expr, scope, name, owner, pos):
        """Analyse expr; a lambda there is named `name` (for messages, backtraces)."""
        if type(expr) is Pair and is_ident(expr.car):
            syn = self.syntax_of(expr.car, scope)
            if type(syn) is SpecialForm and syn.name == "lambda":
                return self.lambda_(expr, scope, name, getattr(expr, "pos", None) or pos)
        return self.analyze(expr, scope, False, owner, pos)

    def parse_define(self, f, pos):
        """(define name expr) or (define (name . params) body...) -> (name, expr)."""
        items = plist(f, "define", pos)
        if len(items) < 2:
            raise self.error("define: expected a name", pos)
        target = items[1]
        if type(target) is Pair:
            # (define (name . params) body ...), curried forms included
            body = f.cdr.cdr
            seen = set()
            while type(target) is Pair:
                if id(target) in seen:
                    raise self.error("define: circular name", pos)
                seen.add(id(target))
                name, params = target.car, target.cdr
                lam = Pair(Alias(S_LAMBDA, None), Pair(params, body))
                lam.pos = pos
                body = Pair(lam, NIL)
                target = name
            if not is_ident(target):
                raise self.error("define: expected a name", pos)
            return target, body.car
        if not is_ident(target):
            raise self.error(f"define: expected a name, got {strip(target)!r}", pos)
        if len(items) == 2:
            return target, Pair(Alias(S_QUOTE, None), Pair(UNSPECIFIED, NIL))
        if len(items) != 3:
            raise self.error("define: expected (define name expr)", pos)
        return target, items[2]

    # -------------------------------------------------------------- lambda

    def lambda_(self, x, scope, name, pos):
        items = plist(x, "lambda", pos)
        if len(items) < 3:
            raise self.error("lambda: expected parameters and a body", pos)
        params = items[1]
        inner = Scope(scope)
        nreq = 0
        p = params
        seen = set()
        while type(p) is Pair:
            if not is_ident(p.car):
                raise self.error(f"lambda: parameter is not an identifier: {strip(p.car)!r}", pos)
            if p.car in seen:
                raise self.error(f"lambda: duplicate parameter {base_symbol(p.car).name}", pos)
            seen.add(p.car)
            inner.add_var(p.car)
            nreq += 1
            p = p.cdr
        rest = False
        if p is not NIL:
            if not is_ident(p):
                raise self.error("lambda: bad rest parameter", pos)
            inner.add_var(p)
            rest = True
        owner = name or "anonymous procedure"
        self.lambdas += 1
        try:
            body = self.body(items[2:], inner, owner, pos)
        finally:
            self.lambdas -= 1
        return self.node(Lambda(nreq, rest, inner, body, name), pos, owner)

    # -------------------------------------------------------------- syntax

    def define_syntax(self, f, scope, pos):
        from .syntax_rules import make_transformer

        items = plist(f, "define-syntax", pos)
        if len(items) != 3 or not is_ident(items[1]):
            raise self.error("define-syntax: expected (define-syntax name transformer)", pos)
        macro = make_transformer(self, items[2], scope, pos, base_symbol(items[1]).name)
        if is_top(scope):
            name = toplevel_name(items[1])
            self.genv.macros[name] = macro
            self.genv.shadowed.discard(name)
            self.genv.imported.discard(name)
            self.genv.defined.add(name)
        else:
            scope.bindings[items[1]] = ("macro", macro)


# ------------------------------------------------------------------ special forms


@special("quote")
def _quote(a, x, scope, tail, owner, pos):
    items = plist(x, "quote", pos)
    if len(items) != 2:
        raise a.error("quote: expected exactly one datum", pos)
    return a.node(Const(strip(items[1])), pos, owner)


@special("if")
def _if(a, x, scope, tail, owner, pos):
    items = plist(x, "if", pos)
    if len(items) not in (3, 4):
        raise a.error("if: expected (if test then [else])", pos)
    test = a.analyze(items[1], scope, False, owner, a.pos_in(x, 1, pos))
    then = a.analyze(items[2], scope, tail, owner, a.pos_in(x, 2, pos))
    if len(items) == 4:
        else_ = a.analyze(items[3], scope, tail, owner, a.pos_in(x, 3, pos))
    else:
        else_ = a.node(Const(UNSPECIFIED), pos, owner)
    return a.node(If(test, then, else_), pos, owner)


@special("define")
def _define(a, x, scope, tail, owner, pos):
    name, expr = a.parse_define(x, pos)
    if not is_top(scope) or a.top is not x:
        raise a.error("define: not allowed in an expression context", pos)
    s = toplevel_name(name)
    genv = a.genv
    if s in genv.macros or s in SPECIAL_FORMS:
        genv.macros.pop(s, None)
        genv.shadowed.add(s)
    if s in genv.imported:  # a definition replaces an imported binding (a new cell)
        genv.imported.discard(s)
        genv.cells[s] = Cell(s)
    genv.defined.add(s)
    value = a.analyze_named(expr, scope, s.name, owner, pos)
    return a.node(GlobalDefine(genv.cell(s), value), pos, owner)


def toplevel_name(ident):
    """The global symbol a top-level definition of `ident` binds.

    An identifier a macro introduced (an Alias) gets a fresh, uninterned symbol,
    so that a macro's helper definition (say the `tmp` of define-values) never
    overwrites the user's global of the same name; every occurrence of that alias
    (one expansion's) then refers to the fresh global. Guile does the same."""
    if type(ident) is not Alias:
        return ident
    if ident.scope is None and type(ident.sym) is Symbol and ident.sym is not sym(ident.sym.name):
        return ident.sym  # renamed already
    fresh = Symbol(ident.base.name)
    ident.sym = fresh
    ident.scope = None
    return fresh


@special("set!")
def _set(a, x, scope, tail, owner, pos):
    items = plist(x, "set!", pos)
    if len(items) != 3 or not is_ident(items[1]):
        raise a.error("set!: expected (set! name expr)", pos)
    value = a.analyze(items[2], scope, False, owner, pos)
    r = lookup(items[1], scope)
    if r[0] == "local":
        _, target, slot = r
        scopes = frame_path(scope, target)
        return a.node(LocalSet(len(scopes), slot, scopes, value), pos, owner)
    if r[0] == "global":
        genv = r[2] or a.genv
        if r[1] in genv.imported:
            raise a.error(f"set!: cannot assign the imported variable {r[1].name}", pos)
        return a.node(GlobalSet(genv.cell(r[1]), value), pos, owner)
    raise a.error(f"set!: cannot assign the macro {base_symbol(items[1]).name}", pos)


@special("lambda")
def _lambda(a, x, scope, tail, owner, pos):
    return a.lambda_(x, scope, None, pos)


@special("begin")
def _begin(a, x, scope, tail, owner, pos):
    forms = plist(x.cdr, "begin", pos)
    if scope is None and a.top is x:
        # top level: definitions inside begin are global definitions; the names a
        # macro introduced are renamed first, so that they see each other
        for f in forms:
            if type(f) is Pair and is_ident(f.car):
                syn = a.syntax_of(f.car, scope)
                if type(syn) is SpecialForm and syn.name in ("define", "define-syntax") and type(f.cdr) is Pair:
                    target = f.cdr.car
                    for _ in range(100):  # curried (define ((f a) b) ...); never a cycle
                        if type(target) is not Pair:
                            break
                        target = target.car
                    if type(target) is Alias:
                        toplevel_name(target)
        nodes = []
        for f in forms:
            a.top = f
            nodes.append(a.analyze(f, None, False, owner, getattr(f, "pos", None) or pos))
        if not nodes:
            return a.node(Const(UNSPECIFIED), pos, owner)
        return nodes[0] if len(nodes) == 1 else a.node(Seq(nodes), pos, owner)
    return a.sequence(forms, scope, tail, owner, pos)


def _bindings(a, x, what, pos):
    """Parse ((name init) ...) into [(name, init)]."""
    out = []
    for b in plist(x, what, pos):
        items = plist(b, what, pos) if type(b) is Pair else None
        if not items or not is_ident(items[0]) or len(items) != 2:
            raise a.error(f"{what}: bad binding {strip(b)!r}", getattr(b, "pos", None) or pos)
        out.append((items[0], items[1]))
    return out


@special("let")
def _let(a, x, scope, tail, owner, pos):
    items = plist(x, "let", pos)
    if len(items) < 3:
        raise a.error("let: expected bindings and a body", pos)
    if is_ident(items[1]):
        return _named_let(a, x, items, scope, tail, owner, pos)
    binds = _bindings(a, items[1], "let", pos)
    names = [n for n, _ in binds]
    if len(set(names)) != len(names):
        raise a.error("let: duplicate variable", pos)
    inits = [a.analyze_named(e, scope, base_symbol(n).name, owner, pos) for n, e in binds]
    inner = Scope(scope)
    for n in names:
        inner.add_var(n)
    body = a.body(items[2:], inner, owner, pos, tail)
    return a.node(Let(inits, inner, body), pos, owner)


def _named_let(a, x, items, scope, tail, owner, pos):
    """(let name ((v init) ...) body) = ((letrec ((name (lambda (v ...) body))) name) init ...)."""
    if len(items) < 4:
        raise a.error("let: expected a name, bindings and a body", pos)
    name = items[1]
    binds = _bindings(a, items[2], "let", pos)
    inits = [a.analyze(e, scope, False, owner, pos) for _, e in binds]
    loop_scope = Scope(scope)
    slot = loop_scope.add_var(name)
    lam_form = Pair(Alias(S_LAMBDA, None), Pair(list_to_pairs([n for n, _ in binds]), list_to_pairs(items[3:])))
    lam_form.pos = pos
    lam = a.lambda_(lam_form, loop_scope, base_symbol(name).name, pos)
    ref = a.node(LocalRef(0, slot, [loop_scope], base_symbol(name).name, False), pos, owner)
    fn = a.node(Letrec([lam], loop_scope, ref), pos, owner)
    return a.node(App(fn, inits, tail), pos, owner)


@special("let*")
def _let_star(a, x, scope, tail, owner, pos):
    items = plist(x, "let*", pos)
    if len(items) < 3:
        raise a.error("let*: expected bindings and a body", pos)
    binds = plist(items[1], "let*", pos)
    if len(binds) <= 1:
        form = Pair(Alias(sym("let"), None), x.cdr)
        form.pos = pos
        return _let(a, form, scope, tail, owner, pos)
    inner = Pair(Alias(sym("let*"), None), Pair(list_to_pairs(binds[1:]), list_to_pairs(items[2:])))
    inner.pos = pos
    form = Pair(Alias(sym("let"), None), Pair(Pair(binds[0], NIL), Pair(inner, NIL)))
    form.pos = pos
    return _let(a, form, scope, tail, owner, pos)


@special("letrec")
@special("letrec*")
def _letrec(a, x, scope, tail, owner, pos):
    items = plist(x, "letrec", pos)
    if len(items) < 3:
        raise a.error("letrec: expected bindings and a body", pos)
    binds = _bindings(a, items[1], "letrec", pos)
    inner = Scope(scope)
    for n, _ in binds:
        inner.add_var(n, checked=True)
    inits = [a.analyze_named(e, inner, base_symbol(n).name, owner, pos) for n, e in binds]
    body = a.body(items[2:], inner, owner, pos, tail)
    return a.node(Letrec(inits, inner, body), pos, owner)


@special("and")
def _and(a, x, scope, tail, owner, pos):
    forms = plist(x.cdr, "and", pos)
    if not forms:
        return a.node(Const(True), pos, owner)
    if len(forms) == 1:
        return a.analyze(forms[0], scope, tail, owner, pos)
    nodes = [a.analyze(f, scope, tail and i == len(forms) - 1, owner, pos) for i, f in enumerate(forms)]
    return a.node(And(nodes), pos, owner)


@special("or")
def _or(a, x, scope, tail, owner, pos):
    forms = plist(x.cdr, "or", pos)
    if not forms:
        return a.node(Const(False), pos, owner)
    if len(forms) == 1:
        return a.analyze(forms[0], scope, tail, owner, pos)
    nodes = [a.analyze(f, scope, tail and i == len(forms) - 1, owner, pos) for i, f in enumerate(forms)]
    return a.node(Or(nodes), pos, owner)


@special("when")
def _when(a, x, scope, tail, owner, pos):
    items = plist(x, "when", pos)
    if len(items) < 3:
        raise a.error("when: expected a test and a body", pos)
    test = a.analyze(items[1], scope, False, owner, pos)
    body = a.sequence(items[2:], scope, tail, owner, pos)
    return a.node(If(test, body, a.node(Const(UNSPECIFIED), pos, owner)), pos, owner)


@special("unless")
def _unless(a, x, scope, tail, owner, pos):
    items = plist(x, "unless", pos)
    if len(items) < 3:
        raise a.error("unless: expected a test and a body", pos)
    test = a.analyze(items[1], scope, False, owner, pos)
    body = a.sequence(items[2:], scope, tail, owner, pos)
    return a.node(If(test, a.node(Const(UNSPECIFIED), pos, owner), body), pos, owner)


@special("cond")
def _cond(a, x, scope, tail, owner, pos):
    clauses = plist(x.cdr, "cond", pos)
    return _cond_clauses(a, clauses, scope, tail, owner, pos)


def _cond_clauses(a, clauses, scope, tail, owner, pos):
    if not clauses:
        return a.node(Const(UNSPECIFIED), pos, owner)
    clause = clauses[0]
    cpos = getattr(clause, "pos", None) or pos
    if type(clause) is not Pair:
        raise a.error(f"cond: bad clause {strip(clause)!r}", cpos)
    items = plist(clause, "cond clause", cpos)
    if a.is_keyword(items[0], scope, S_ELSE):
        if len(clauses) > 1:
            raise a.error("cond: else clause must be last", cpos)
        if len(items) < 2:
            raise a.error("cond: empty else clause", cpos)
        return a.sequence(items[1:], scope, tail, owner, cpos)
    rest = _cond_clauses(a, clauses[1:], scope, tail, owner, pos)
    test = a.analyze(items[0], scope, False, owner, cpos)
    if len(items) == 1:
        # (test): the value of test if true
        return a.node(Or([test, rest]), cpos, owner)
    if a.is_keyword(items[1], scope, S_ARROW):
        if len(items) != 3:
            raise a.error("cond: expected (test => receiver)", cpos)
        receiver = a.analyze(items[2], scope, False, owner, cpos)
        node = CondArrow(test, receiver, rest)
        node.tail = tail
        return a.node(node, cpos, owner)
    body = a.sequence(items[1:], scope, tail, owner, cpos)
    return a.node(If(test, body, rest), cpos, owner)


@special("case")
def _case(a, x, scope, tail, owner, pos):
    items = plist(x, "case", pos)
    if len(items) < 2:
        raise a.error("case: expected a key", pos)
    key = a.analyze(items[1], scope, False, owner, pos)
    clauses = []
    else_ = None
    for i, clause in enumerate(items[2:]):
        cpos = getattr(clause, "pos", None) or pos
        parts = plist(clause, "case clause", cpos) if type(clause) is Pair else None
        if not parts or len(parts) < 2:
            raise a.error(f"case: bad clause {strip(clause)!r}", cpos)
        arrow = a.is_keyword(parts[1], scope, S_ARROW)
        if arrow:
            if len(parts) != 3:
                raise a.error("case: expected (datums => receiver)", cpos)
            body = a.analyze(parts[2], scope, False, owner, cpos)
        else:
            body = a.sequence(parts[1:], scope, tail, owner, cpos)
        if a.is_keyword(parts[0], scope, S_ELSE):
            if i != len(items) - 3:
                raise a.error("case: else clause must be last", cpos)
            else_ = (body, arrow)
        else:
            datums = plist(parts[0], "case datums", cpos)
            clauses.append(([strip(d) for d in datums], body, arrow))
    node = Case(key, clauses, else_)
    node.tail = tail
    return a.node(node, pos, owner)


@special("define-syntax")
def _define_syntax(a, x, scope, tail, owner, pos):
    if not is_top(scope) or a.top is not x:
        raise a.error("define-syntax: not allowed in an expression context", pos)
    a.define_syntax(x, scope, pos)
    return a.node(Const(UNSPECIFIED), pos, owner)


@special("let-syntax")
@special("letrec-syntax")
def _let_syntax(a, x, scope, tail, owner, pos):
    if is_top(scope) and a.top is x:
        # at top level its forms are top-level forms (definitions are global)
        inner, forms = a.syntax_bindings(x, scope, pos, SyntaxScope)
        nodes = []
        for f in forms:
            a.top = f
            nodes.append(a.analyze(f, inner, False, owner, getattr(f, "pos", None) or pos))
        if not nodes:
            return a.node(Const(UNSPECIFIED), pos, owner)
        return nodes[0] if len(nodes) == 1 else a.node(Seq(nodes), pos, owner)
    inner, forms = a.syntax_bindings(x, scope, pos, Scope)
    body = a.body(forms, inner, owner, pos, tail)
    return a.node(Let([], inner, body), pos, owner)


def is_top(scope):
    """Is scope the top level (or a let-syntax's macros spliced there)?"""
    return scope is None or type(scope) is SyntaxScope and scope.real is None


@special("syntax-error")
def _syntax_error(a, x, scope, tail, owner, pos):
    """(syntax-error "message" irritant ...): an error when it is expanded (R7RS
    4.3.3), at the position of the macro use that produced it."""
    items = plist(x, "syntax-error", pos)
    if len(items) < 2 or not is_string(items[1]):
        raise a.error("syntax-error: expected a message string", pos)
    e = SchemeSyntaxError(string_text(items[1]), pos)
    e.payload.irritants = [strip(i) for i in items[2:]]
    raise e


@special("syntax-rules")
def _syntax_rules(a, x, scope, tail, owner, pos):
    raise a.error("syntax-rules: only valid as a macro transformer", pos)


# ------------------------------------------------------------------ include, import, cond-expand

MAX_EXPANSIONS = 10_000  # macro expansions in a row of one form, or nested (a looping macro)
MAX_INCLUDES = 500  # include operations per code unit (catches a file including itself)


def include_forms(a, x, pos, fold_case, what=None):
    """The forms of the files an (include "file" ...) names, read relative to the
    directory of the file the include form is in."""
    import hashlib

    from .errors import SchemeError
    from .reader import read_all
    from .sources import read_source, resolve_relative

    what = what or ("include-ci" if fold_case else "include")
    names = plist(x.cdr, what, pos)
    if not names:
        raise a.error(f"{what}: expected at least one file name", pos)
    forms = []
    for n in names:
        if not is_string(n):
            raise a.error(f"{what}: expected a file name string, got {_show(n)}", pos)
        n = string_text(n)
        a.includes += 1
        if a.includes > MAX_INCLUDES:
            raise a.error(f"{what}: too many nested includes (does {n} include itself?)", pos)
        path = resolve_relative(n, pos)
        try:
            text = read_source(path)
        except SchemeError as e:
            raise SchemeSyntaxError(f"{what}: {e.payload.message}", pos, kind="file") from None
        a.unit.deps.add(hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:32])
        datums = read_all(text, path)
        if fold_case:
            datums = [_fold_case(d) for d in datums]
        forms.extend(datums)
    return forms


def _fold_case(x):
    return map_leaves(x, _fold_symbol)


def _fold_symbol(x):
    return sym(x.name.casefold()) if type(x) is Symbol else x


def _show(x):
    from .printer import write_string

    return write_string(strip(x))


def _as_begin(forms, pos):
    form = Pair(Alias(S_BEGIN, None), list_to_pairs(forms))
    form.pos = pos
    return form


@special("include")
@special("include-ci")
def _include(a, x, scope, tail, owner, pos):
    form = _as_begin(include_forms(a, x, pos, _is_ci(a, x, scope)), pos)
    if a.top is x:
        a.top = form
    return _begin(a, form, scope, tail, owner, pos)


def _is_ci(a, x, scope):
    syn = a.syntax_of(x.car, scope)
    return type(syn) is SpecialForm and syn.name == "include-ci"


def _library_parts(a, spec, pos, what="import"):
    """The parts of a library name as Python values, or a syntax error."""
    parts = []
    if type(spec) is not Pair:
        raise a.error(f"{what}: expected a library name like (scheme base), got {_show(spec)}", pos)
    for p in plist(spec, what, pos):
        if is_ident(p):
            parts.append(base_symbol(p).name)
        elif type(p) is int and p >= 0:
            parts.append(p)
        else:
            raise a.error(f"{what}: bad library name {_show(spec)}", pos)
    return parts


_IMPORT_WRAPPERS = ("only", "except", "prefix", "rename")


def import_set(a, spec, pos):
    """The bindings import set `spec` brings: {name: (binding, standard?, original name)}."""
    from .libraries import exports_of, library_text, standard_library

    if type(spec) is not Pair:
        raise a.error(f"import: expected a library name like (scheme base), got {_show(spec)}", pos)
    head = spec.car
    if (is_ident(head) and base_symbol(head).name in _IMPORT_WRAPPERS
            and type(spec.cdr) is Pair and type(spec.cdr.car) is Pair):
        kind = base_symbol(head).name
        items = plist(spec, "import", pos)
        inner = import_set(a, items[1], pos)
        if kind in ("only", "except"):
            names = []
            for i in items[2:]:
                if not is_ident(i):
                    raise a.error(f"import: ({kind} ...) expects identifiers, got {_show(i)}", pos)
                n = base_symbol(i)
                if n not in inner:
                    raise a.error(f"import: ({kind} ...): {n.name} is not exported by {_show(items[1])}", pos)
                names.append(n)
            if kind == "only":
                return {n: inner[n] for n in names}
            return {n: b for n, b in inner.items() if n not in names}
        if kind == "prefix":
            if len(items) != 3 or not is_ident(items[2]):
                raise a.error("import: expected (prefix import-set prefix)", pos)
            prefix = base_symbol(items[2]).name
            return {sym(prefix + n.name): b for n, b in inner.items()}
        out = dict(inner)
        for r in items[2:]:
            pair = plist(r, "import", pos) if type(r) is Pair else None
            if not pair or len(pair) != 2 or not all(is_ident(p) for p in pair):
                raise a.error(f"import: expected (old new) in rename, got {_show(r)}", pos)
            old, new = base_symbol(pair[0]), base_symbol(pair[1])
            if old not in inner:
                raise a.error(f"import: (rename ...): {old.name} is not exported by {_show(items[1])}", pos)
            del out[old]
            out[new] = inner[old]
        return out
    parts = _library_parts(a, spec, pos)
    exports = exports_of(a.genv, parts)
    if exports is None:
        raise a.error(f"import: unknown library {library_text(parts)}", getattr(spec, "pos", None) or pos)
    standard = standard_library(parts) is not None and tuple(parts) not in a.genv.libraries
    return {n: (b, standard, n) for n, b in exports.items()}


def import_into(a, sets, pos):
    """Bind what the import sets bring in a's environment. The program's own
    environment has every builtin already: a standard name imported as itself
    changes nothing there."""
    from .libraries import bind_import

    genv = a.genv
    for spec in sets:
        bindings = import_set(a, spec, getattr(spec, "pos", None) or pos)
        for name, (binding, standard, original) in bindings.items():
            if binding[0] == "aux" or standard and genv.is_program and name is original:
                continue
            bind_import(genv, name, binding)


@special("import")
def _import(a, x, scope, tail, owner, pos):
    """(import set ...) at top level: binds what the libraries export (see import_into)."""
    if not is_top(scope) or a.top is not x:
        raise a.error("import: only allowed at top level", pos)
    import_into(a, plist(x.cdr, "import", pos), pos)
    return a.node(Const(UNSPECIFIED), pos, owner)


@special("define-library")
def _define_library(a, x, scope, tail, owner, pos):
    """(define-library name declaration ...): the library's forms are analysed now,
    in an environment of its own that sees only what it imports; they run when
    this form runs. Its exports are registered at once (by name, for import)."""
    from .libraries import Library, library_text

    if not is_top(scope) or a.top is not x:
        raise a.error("define-library: only allowed at top level", pos)
    items = plist(x, "define-library", pos)
    if len(items) < 2:
        raise a.error("define-library: expected a library name", pos)
    parts = _library_parts(a, items[1], pos, "define-library")
    title = library_text(parts)
    genv = GlobalEnv(a.genv, f"library {title}")
    sub = Analyzer(genv, a.unit)
    sub.includes = a.includes
    exports = []  # (internal, external, pos)
    nodes = []
    queue = [(d, getattr(d, "pos", None) or pos) for d in items[2:]]
    while queue:
        d, dpos = queue.pop(0)
        kind = base_symbol(d.car).name if type(d) is Pair and is_ident(d.car) else None
        if kind == "export":
            for spec in plist(d.cdr, "export", dpos):
                if is_ident(spec):
                    exports.append((base_symbol(spec), base_symbol(spec), dpos))
                    continue
                r = plist(spec, "export", dpos) if type(spec) is Pair else None
                if (not r or len(r) != 3 or not all(is_ident(i) for i in r)
                        or base_symbol(r[0]).name != "rename"):
                    raise a.error(f"define-library {title}: bad export spec {_show(spec)}", dpos)
                exports.append((base_symbol(r[1]), base_symbol(r[2]), dpos))
        elif kind == "import":
            import_into(sub, plist(d.cdr, "import", dpos), dpos)
        elif kind in ("begin", "include", "include-ci"):
            if kind == "begin":
                forms = plist(d.cdr, "begin", dpos)
            else:
                forms = include_forms(sub, d, dpos, kind == "include-ci")
            for f in forms:
                nodes.append(sub.analyze_toplevel(f, getattr(f, "pos", None) or dpos))
        elif kind == "include-library-declarations":
            decls = include_forms(sub, d, dpos, False, kind)
            queue[0:0] = [(g, getattr(g, "pos", None) or dpos) for g in decls]
        elif kind == "cond-expand":
            decls = cond_expand_forms(sub, d, None, dpos)
            queue[0:0] = [(g, getattr(g, "pos", None) or dpos) for g in decls]
        else:
            raise a.error(f"define-library {title}: unknown library declaration {_show(d)}", dpos)
    a.includes = sub.includes
    table = {}
    for internal, external, epos in exports:
        if internal in genv.defined:
            m = genv.macros.get(internal)
            binding = ("macro", m) if m is not None else ("var", genv.cell(internal))
        elif internal in genv.import_bindings:
            binding = genv.import_bindings[internal]
        else:
            raise a.error(
                f"define-library {title}: exports {internal.name}, which it neither defines nor imports", epos)
        if external in table:
            raise a.error(f"define-library {title}: {external.name} exported twice", epos)
        table[external] = binding
    a.genv.libraries[tuple(parts)] = Library(tuple(parts), genv, table, pos)
    nodes.append(a.node(Const(UNSPECIFIED), pos, owner))
    return nodes[0] if len(nodes) == 1 else a.node(Seq(nodes), pos, owner)


def _feature_ok(a, req, scope, pos):
    from .libraries import FEATURES, library_known

    if is_ident(req):
        return base_symbol(req).name in FEATURES
    if type(req) is Pair and is_ident(req.car):
        kind = base_symbol(req.car).name
        args = plist(req.cdr, "cond-expand", pos)
        if kind == "and":
            return all(_feature_ok(a, r, scope, pos) for r in args)
        if kind == "or":
            return any(_feature_ok(a, r, scope, pos) for r in args)
        if kind == "not" and len(args) == 1:
            return not _feature_ok(a, args[0], scope, pos)
        if kind == "library" and len(args) == 1:
            return library_known(_library_parts(a, args[0], pos, "cond-expand"), a.genv)
    raise a.error(f"cond-expand: bad feature requirement {_show(req)}", pos)


def cond_expand_forms(a, x, scope, pos):
    """The body of the first cond-expand clause whose requirement holds."""
    for clause in plist(x.cdr, "cond-expand", pos):
        cpos = getattr(clause, "pos", None) or pos
        if type(clause) is not Pair:
            raise a.error(f"cond-expand: bad clause {_show(clause)}", cpos)
        parts = plist(clause, "cond-expand clause", cpos)
        if a.is_keyword(parts[0], scope, S_ELSE) or _feature_ok(a, parts[0], scope, cpos):
            return parts[1:]
    return []


@special("cond-expand")
def _cond_expand(a, x, scope, tail, owner, pos):
    form = _as_begin(cond_expand_forms(a, x, scope, pos), pos)
    if a.top is x:
        a.top = form
    return _begin(a, form, scope, tail, owner, pos)


# ------------------------------------------------------------------ quasiquote


@special("quasiquote")
def _quasiquote(a, x, scope, tail, owner, pos):
    items = plist(x, "quasiquote", pos)
    if len(items) != 2:
        raise a.error("quasiquote: expected exactly one template", pos)
    _check_template(a, items[1], pos)
    return _qq(a, items[1], 1, scope, owner, pos)


MAX_TEMPLATE = 1 << 18  # pairs and vectors in a quasiquote template, shared parts once per use


def _check_template(a, x, pos):
    """A syntax error if template x is circular (R7RS: an error in quasiquote) or,
    counting a shared part at each place it is used, has more than MAX_TEMPLATE
    pairs and vectors (what _qq builds would be that big)."""
    if type(x) is not Pair and type(x) is not Vector:
        return
    sizes = {}  # id -> size of a finished node
    path = set()  # ids of the nodes being visited (a child among them: a cycle)
    todo = [(x, False)]
    while todo:
        node, finished = todo.pop()
        if not finished and id(node) in sizes:
            continue
        kids = [c for c in ((node.car, node.cdr) if type(node) is Pair else node)
                if type(c) is Pair or type(c) is Vector]
        if finished:
            path.discard(id(node))
            n = 1 + sum(sizes[id(c)] for c in kids)
            if n > MAX_TEMPLATE:
                raise a.error(f"quasiquote: template too large (more than {MAX_TEMPLATE} pairs)", pos)
            sizes[id(node)] = n
            continue
        path.add(id(node))
        todo.append((node, True))
        for c in kids:
            if id(c) in path:
                raise a.error("quasiquote: circular template", pos)
            if id(c) not in sizes:
                todo.append((c, False))


def _prim(a, name, pos, owner):
    return a.node(Const(a.genv.primitive(name)), pos, owner)


def _qq_form(a, x, depth, scope):
    """Is pair x an (unquote e), (quasiquote e) or, at depth 1, (unquote-splicing e)?"""
    head = x.car
    return (
        a.is_keyword(head, scope, S_UNQUOTE)
        or a.is_keyword(head, scope, S_QUASIQUOTE)
        or (depth == 1 and a.is_keyword(head, scope, S_UNQUOTE_SPLICING))
    )


def _qq(a, x, depth, scope, owner, pos):
    """The node building template x at quasiquote nesting `depth`."""
    if type(x) is Pair:
        p = getattr(x, "pos", None) or pos
        head = x.car
        if a.is_keyword(head, scope, S_UNQUOTE):
            arg = _qq_arg(a, x, "unquote", p)
            if depth == 1:
                return a.analyze(arg, scope, False, owner, p)
            return _qq_list(a, [Const(S_UNQUOTE), _qq(a, arg, depth - 1, scope, owner, p)], p, owner)
        if a.is_keyword(head, scope, S_QUASIQUOTE):
            arg = _qq_arg(a, x, "quasiquote", p)
            return _qq_list(a, [Const(S_QUASIQUOTE), _qq(a, arg, depth + 1, scope, owner, p)], p, owner)
        if a.is_keyword(head, scope, S_UNQUOTE_SPLICING) and depth == 1:
            raise a.error("unquote-splicing: not in a list", p)
        # (e1 e2 ... . tail): the cells up to a tail that is not an ordinary list
        # cell, built from the end (a loop, so long lists need no deep recursion)
        cells = []
        while True:
            cells.append((x, p))
            x = x.cdr
            if type(x) is not Pair or _qq_form(a, x, depth, scope):
                break
            p = getattr(x, "pos", None) or p
        rest = _qq(a, x, depth, scope, owner, p)
        for cell, p in reversed(cells):
            rest = _qq_cell(a, cell.car, rest, depth, scope, owner, p)
        return rest
    if type(x) is Vector:
        lst = _qq(a, list_to_pairs(list(x)), depth, scope, owner, pos)
        if type(lst) is Const:
            return a.node(Const(Vector(_to_py(lst.value))), pos, owner)
        return a.node(App(_prim(a, "list->vector", pos, owner), [lst], False), pos, owner)
    return a.node(Const(strip(x)), pos, owner)


def _qq_cell(a, car, rest, depth, scope, owner, p):
    """The node building (car . rest), rest already built: splices car if it is
    (unquote-splicing e) at depth 1."""
    if type(car) is Pair and a.is_keyword(car.car, scope, S_UNQUOTE_SPLICING):
        arg = _qq_arg(a, car, "unquote-splicing", p)
        if depth == 1:
            spliced = a.analyze(arg, scope, False, owner, p)
            if type(rest) is Const and rest.value is NIL:
                return spliced
            return a.node(App(_prim(a, "append", p, owner), [spliced, rest], False), p, owner)
        inner = _qq_list(
            a, [Const(S_UNQUOTE_SPLICING), _qq(a, arg, depth - 1, scope, owner, p)], p, owner
        )
        return a.node(App(_prim(a, "cons", p, owner), [inner, rest], False), p, owner)
    first = _qq(a, car, depth, scope, owner, p)
    if type(first) is Const and type(rest) is Const:
        return a.node(Const(Pair(first.value, rest.value)), p, owner)
    return a.node(App(_prim(a, "cons", p, owner), [first, rest], False), p, owner)


def _to_py(lst):
    out = []
    while type(lst) is Pair:
        out.append(lst.car)
        lst = lst.cdr
    return out


def _qq_arg(a, x, what, pos):
    items = plist(x, what, pos)
    if len(items) != 2:
        raise a.error(f"{what}: expected exactly one expression", pos)
    return items[1]


def _qq_list(a, parts, pos, owner):
    nodes = []
    for p in parts:
        if type(p) is Const and not hasattr(p, "unit"):
            p = a.node(p, pos, owner)
        nodes.append(p)
    if all(type(n) is Const for n in nodes):
        return a.node(Const(list_to_pairs([n.value for n in nodes])), pos, owner)
    return a.node(App(_prim(a, "list", pos, owner), nodes, False), pos, owner)


# ------------------------------------------------------------------ global environment
