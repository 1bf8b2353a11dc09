"""Identifiers, compile-time scopes and global environments: what a name means
where it is used.

An identifier is a Symbol, or an Alias that a macro expansion introduced (the
symbol as seen from the scope where the macro was defined: hygiene). A Scope is
a compile-time frame binding identifiers to slots or macros; `lookup` resolves
an identifier through scopes (and through an alias to its definition's scope)
to a local slot, a macro or a global. A GlobalEnv holds the global cells and
macros of the program, of a library, or of an `environment` made for eval.
Shared by the analyser and syntax-rules (which no longer import each other for it).
"""

from .errors import SchemeSyntaxError
from .nodes import Cell
from .values import NIL, Pair, Symbol, Vector, sym

ELLIPSIS = sym("...")  # the default ellipsis of syntax-rules
UNDERSCORE = sym("_")  # its wildcard


class Alias:
    """An identifier a macro template introduced: `sym` as seen from `scope`."""

    __slots__ = ("sym", "scope", "base")

    def __init__(self, sym_, scope):
        self.sym = sym_
        self.scope = scope
        self.base = sym_.base if type(sym_) is Alias else sym_

    def __repr__(self):
        return f"{self.base.name}"


def is_ident(x):
    return type(x) is Symbol or type(x) is Alias


def base_symbol(x):
    return x.base if type(x) is Alias else x


def strip(x):
    """syntax->datum: replace aliases by their symbols (copies only what changes)."""
    t = type(x)
    if t is Pair or t is Vector:
        return map_leaves(x, _unalias)
    return x.base if t is Alias else x


def _unalias(x):
    return x.base if type(x) is Alias else x


def map_leaves(x, leaf):
    """Datum x with each value v other than a pair or vector replaced by leaf(v).

    Only the pairs and vectors from which a changed value can be reached are
    copied (a copied pair keeps its source position); the rest are x's own, and
    shared or circular structure keeps its shape (a quoted '#0=(a . #0#) stays one
    pair). Iterative: neither deep nesting nor long lists need Python's stack."""
    t = type(x)
    if t is not Pair and t is not Vector:
        return leaf(x)
    nodes = {id(x): x}  # every pair and vector reachable from x, by id
    changed = []  # those with a leaf that changes
    todo = [x]
    while todo:
        node = todo.pop()
        if type(node) is Vector:
            dirty = False
            for c in node:
                tc = type(c)
                if tc is Pair or tc is Vector:
                    if id(c) not in nodes:
                        nodes[id(c)] = c
                        todo.append(c)
                elif not dirty and leaf(c) is not c:
                    dirty = True
            if dirty:
                changed.append(node)
            continue
        while True:  # along a list's spine without the stack
            c = node.car
            tc = type(c)
            if tc is Pair or tc is Vector:
                if id(c) not in nodes:
                    nodes[id(c)] = c
                    todo.append(c)
            elif leaf(c) is not c:
                changed.append(node)
            c = node.cdr
            tc = type(c)
            if tc is Pair or tc is Vector:
                if id(c) in nodes:
                    break
                nodes[id(c)] = c
                if tc is Vector:
                    todo.append(c)
                    break
                node = c
            else:
                if leaf(c) is not c and (not changed or changed[-1] is not node):
                    changed.append(node)
                break
    if not changed:
        return x
    # the nodes that reach a changed leaf: `changed` and, transitively, their parents
    parents = {}
    for node in nodes.values():
        for c in (node.car, node.cdr) if type(node) is Pair else node:
            if type(c) is Pair or type(c) is Vector:
                parents.setdefault(id(c), []).append(node)
    copies = {}  # id(original) -> its copy, made before any is filled (cycles)
    todo = changed
    while todo:
        node = todo.pop()
        if id(node) in copies:
            continue
        if type(node) is Pair:
            copy = Pair(None, None)
            pos = getattr(node, "pos", None)
            if pos is not None:
                copy.pos = pos
        else:
            copy = Vector(node)
        copies[id(node)] = copy
        todo.extend(parents.get(id(node), ()))

    def new(c):
        tc = type(c)
        if tc is Pair or tc is Vector:
            return copies.get(id(c), c)
        return leaf(c)

    for i, copy in copies.items():
        node = nodes[i]
        if type(node) is Pair:
            copy.car = new(node.car)
            copy.cdr = new(node.cdr)
        else:
            copy[:] = [new(c) for c in node]
    return copies[id(x)]


class Scope:
    """A compile-time frame: identifiers -> ("var", slot) or ("macro", Macro)."""

    __slots__ = ("parent", "bindings", "nvars", "checked")

    def __init__(self, parent):
        self.parent = parent
        self.bindings = {}
        self.nvars = 0
        self.checked = set()

    def add_var(self, ident, checked=False):
        slot = self.nvars
        self.nvars += 1
        self.bindings[ident] = ("var", slot)
        if checked:
            self.checked.add(slot)
        return slot

    def size(self):
        return self.nvars

    def parent_slot(self):
        return self.nvars


class TopScope(Scope):
    """The root scope of a macro defined at top level: its global names are those
    of environment `genv` (a library's macro means the library's bindings)."""

    __slots__ = ("genv",)

    def __init__(self, genv):
        super().__init__(None)
        self.genv = genv


class SyntaxScope(Scope):
    """The macros of a let-syntax / letrec-syntax spliced into a body: no frame
    of its own (its variables live in `real`, the nearest frame scope)."""

    __slots__ = ("real",)

    def __init__(self, parent):
        super().__init__(parent)
        s = parent
        while type(s) is SyntaxScope:
            s = s.parent
        self.real = s


def lookup(ident, scope):
    """("local", scope, slot) | ("macro", Macro) | ("global", Symbol, genv or None).

    The genv of a global is that of the TopScope the identifier was resolved
    from (a library macro's free names), None for the analysing environment."""
    while True:
        s = scope
        env = None
        while s is not None:
            b = s.bindings.get(ident)
            if b is not None:
                if b[0] == "var":
                    if type(s) is SyntaxScope:
                        return ("local", s.real, b[1])
                    return ("local", s, b[1])
                return b
            if type(s) is TopScope:
                env = s.genv
            s = s.parent
        if type(ident) is Alias:
            scope = ident.scope
            ident = ident.sym
            continue
        return ("global", ident, env)


def frame_scope(scope):
    """The nearest scope from `scope` outwards that has a run-time frame (or None)."""
    while type(scope) is SyntaxScope:
        scope = scope.parent
    return scope


def frame_path(scope, target):
    """The frame scopes walked from scope out to target (SyntaxScopes have no frame)."""
    scopes = []
    s = scope
    while s is not target:
        if type(s) is not SyntaxScope:
            scopes.append(s)
        s = s.parent
    return scopes


def same_binding(a, scope_a, b, scope_b):
    """free-identifier=?: do a (in scope_a) and b (in scope_b) mean the same?"""
    ra = lookup(a, scope_a)
    rb = lookup(b, scope_b)
    if ra[0] != rb[0]:
        return False
    if ra[0] == "global":
        if ra[1] is not rb[1]:
            return False
        ga, gb = ra[2], rb[2]
        if ga is None or gb is None or ga is gb:
            return True
        return ga.cells.get(ra[1]) is gb.cells.get(rb[1]) and ga.macros.get(ra[1]) is gb.macros.get(rb[1])
    if ra[0] == "local":
        return ra[1] is rb[1] and ra[2] == rb[2]
    return ra[1] is rb[1]


def plist(x, what, pos):
    """The elements of a proper list, or a syntax error (a circular list included)."""
    out = []
    mark = x  # Brent's cycle check: `mark` jumps ahead at each power of two
    limit = 2
    while type(x) is Pair:
        out.append(x.car)
        x = x.cdr
        if x is mark:
            raise SchemeSyntaxError(f"{what}: circular list", pos)
        if len(out) == limit:
            mark = x
            limit <<= 1
    if x is not NIL:
        raise SchemeSyntaxError(f"{what}: not a proper list", pos)
    return out


class GlobalEnv:
    """Global variables (cells by symbol) and global macros: the program's
    environment, a library's, or one `environment` made for eval.

    The environments of one interpreter share `libraries` (the defined
    libraries by name), `builtins` (the standard bindings as the interpreter
    started: name -> value; macros in `builtin_macros`) and `builtin_cells` (the
    cells libraries import them through)."""

    def __init__(self, parent=None, name="the program"):
        self.cells = {}
        self.macros = {}
        self.shadowed = set()  # special-form names the program redefined as variables
        self.imported = set()  # names whose cells an import brought (another's cell)
        self.defined = set()  # names a top-level definition here bound
        self.import_bindings = {}  # name -> the binding an import gave it
        self.is_program = parent is None  # the interpreter's own (interaction) environment
        self.restricted = False  # an eval environment of imports only (see Analyzer.variable)
        self.name = name
        self.top_scope = TopScope(self)
        if parent is None:
            self.primitives = {}
            self.libraries = {}
            self.builtins = {}
            self.builtin_macros = {}
            self.builtin_cells = {}
        else:
            self.primitives = parent.primitives
            self.libraries = parent.libraries
            self.builtins = parent.builtins
            self.builtin_macros = parent.builtin_macros
            self.builtin_cells = parent.builtin_cells

    def snapshot_builtins(self):
        """Record the bindings present now as the standard ones libraries import."""
        self.builtins.clear()
        self.builtins.update((s, c.value) for s, c in self.cells.items() if hasattr(c, "value"))
        self.builtin_macros.clear()
        self.builtin_macros.update(self.macros)

    def builtin_cell(self, s):
        """The cell through which libraries and environments see builtin `s`."""
        c = self.builtin_cells.get(s)
        if c is None:
            c = self.builtin_cells[s] = Cell(s)
            c.value = self.builtins[s]
        return c

    def cell(self, s):
        c = self.cells.get(s)
        if c is None:
            c = self.cells[s] = Cell(s)
        return c

    def define(self, name, value):
        self.cell(sym(name)).value = value

    def lookup(self, name):
        c = self.cells.get(sym(name))
        if c is None or not hasattr(c, "value"):
            raise KeyError(name)
        return c.value

    def primitive(self, name):
        """A core primitive by name, independent of what the program rebinds."""
        return self.primitives[name]
