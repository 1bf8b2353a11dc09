"""The prelude's load plan: start-up binds the prelude's procedures without analysing them; each is analysed on first use.

A plan is JSON data kept in the prelude's datum-cache entry (interp/datum_cache.py,
keyed by the prelude text and every source file of interp). It is made from a
normal, eager load of interp/prelude.scm (a Program run form by form): for each
top-level form, the range of node indices (nids) its analysis filled in the
prelude's code unit and, for a form that only binds a global to a lambda and whose
analysis cannot depend on when it happens, that global's name.

A start with a valid plan runs only the other forms (macros, records), each
analysed into its own range. Every planned global is a LazyCell: the first read of
it (a Scheme reference, `genv.lookup`, the libraries' builtins) decodes, analyses,
compiles and evaluates its form, and the cell becomes an ordinary Cell. So every
node gets the nid, position and code the eager load gives it (a suspension refers
to prelude code by nid), and every value is the one the eager load makes.

A form's analysis depends on the program environment's macros, shadowed special
forms, imported names and cells, for the names it can meet: its symbols and those of
the templates of the macros it can expand (the plan lists them). The plan only
defers forms that meet no name whose macro binding the rest of the prelude changes;
and before the program changes the binding of a name (a define-syntax, an import,
a definition shadowing a special form...), the pending forms that can meet it are
analysed first (all of them for a special form's name: the analyser makes lambdas,
lets and begins of its own). Reading the unit's `nodes` (the flow store does)
analyses them all. Anything odd about a plan (missing, stale, malformed, another set
of primitives or special forms, a form that analyses differently) means the eager
load, which writes a fresh plan.
"""

import json
import threading

from . import datum_cache
from .analyzer import SPECIAL_FORMS, Analyzer
from .machine import call
from .nodes import (
    And,
    App,
    Case,
    Cell,
    CodeUnit,
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
from .primitives import Primitive
from .procedures import Closure, TailCall
from .sha import sha256
from .values import Symbol, sym

PRELUDE = "<prelude>"
PLAN_FORMAT = 1
MAX_PLANS = 4  # plans kept in one entry (one per set of primitives / special forms)
MAX_NODES = 1_000_000

_SLOT = Cell.value  # the descriptor of Cell's `value` slot (LazyCell hides it behind a property)
_LOCK = threading.RLock()  # guards every pending form and lazy cell


class PlanMismatch(Exception):
    """A form analysed into a different number or kind of nodes than its plan says."""


# ---------------------------------------------------------------- lazy cells and builtins


class _Pending:
    """What a LazyCell's slot (or a builtins entry) holds until forced: form `index`."""

    __slots__ = ("loader", "index")

    def __init__(self, loader, index):
        self.loader = loader
        self.index = index


class LazyCell(Cell):
    """A global bound by a prelude form not yet evaluated; the first read evaluates it
    and turns the cell into a plain Cell (same object, same layout)."""

    __slots__ = ()

    @property
    def value(self):
        with _LOCK:
            p = _SLOT.__get__(self, Cell)
            if type(self) is not LazyCell:  # settled by another thread meanwhile
                return p
            try:
                v = p.loader.value_of(p.index)
            except AttributeError as e:  # never read as "unbound" by GlobalRef
                raise RuntimeError(f"loading the prelude's {self.name.name}: {e}") from e
            _SLOT.__set__(self, v)
            self.__class__ = Cell
            return v

    @value.setter
    def value(self, v):
        with _LOCK:
            _SLOT.__set__(self, v)
            self.__class__ = Cell

    @value.deleter
    def value(self):
        with _LOCK:
            self.__class__ = Cell
            _SLOT.__delete__(self)


class LazyBuiltins(dict):
    """GlobalEnv.builtins whose entries for pending prelude globals are forced when read."""

    __slots__ = ()

    def __getitem__(self, k):
        v = dict.__getitem__(self, k)
        if type(v) is _Pending:
            v = v.loader.value_of(v.index)
            dict.__setitem__(self, k, v)
        return v

    def get(self, k, default=None):
        return self[k] if k in self else default

    def values(self):
        return [self[k] for k in list(self)]

    def items(self):
        return [(k, self[k]) for k in list(self)]

    def copy(self):
        return dict(self.items())


def _guarded(base, changes, adding, removing):
    """A subclass of dict or set whose listed mutators first call self.before_change(key)
    when they change something: key is what they add (`adding` methods, unless present)
    or remove (`removing` ones, if present); None (anything) for the others."""

    def wrap(name):
        original = getattr(base, name)

        if name in adding or name in removing:
            present = name in removing

            def method(self, *args, **kwargs):
                if args and (args[0] in self) == present:
                    self.before_change(args[0])
                return original(self, *args, **kwargs)

        else:

            def method(self, *args, **kwargs):
                self.before_change(None)
                return original(self, *args, **kwargs)

        method.__name__ = name
        return method

    ns = {name: wrap(name) for name in changes}
    ns["__slots__"] = ("before_change",)
    return type(f"Guarded{base.__name__.capitalize()}", (base,), ns)


_DICT_CHANGES = ("__setitem__", "__delitem__", "pop", "popitem", "clear", "update", "setdefault", "__ior__")
_SET_CHANGES = (
    "add", "discard", "remove", "pop", "clear", "update", "difference_update",
    "intersection_update", "symmetric_difference_update", "__ior__", "__iand__", "__isub__", "__ixor__",
)
GuardedDict = _guarded(dict, _DICT_CHANGES, ("setdefault",), ("__delitem__", "pop"))


def _set_item(self, k, v):  # a new or another value: always a change
    self.before_change(k)
    dict.__setitem__(self, k, v)


GuardedDict.__setitem__ = _set_item
GuardedSet = _guarded(set, _SET_CHANGES, ("add",), ("discard", "remove"))


class GuardedCells(dict):
    """genv.cells: adding a new global is free; replacing or removing a cell first
    calls before_change()."""

    __slots__ = ("before_change",)

    def __setitem__(self, k, v):
        if k in self:
            self.before_change(k)
        dict.__setitem__(self, k, v)


for _name in ("__delitem__", "pop", "popitem", "clear", "update", "setdefault", "__ior__"):
    setattr(GuardedCells, _name, GuardedDict.__dict__[_name])


# ---------------------------------------------------------------- the prelude's code unit


class PreludeUnit(CodeUnit):
    """The prelude's code unit when loaded by plan: nodes go to the nid range of the
    form being analysed; reading `nodes` analyses every pending form first."""

    def __init__(self, text, filename, total, loader):
        self.loader = loader
        super().__init__(text, filename)
        self._nodes = [None] * total
        self.cursor = 0

    @property
    def nodes(self):
        if self.loader.pending:
            self.loader.analyse_all()
        return self._nodes

    @nodes.setter
    def nodes(self, value):  # CodeUnit.__init__'s empty list
        self._nodes = value

    def add(self, node):
        i = self.cursor
        if i >= self.loader.limit:
            raise PlanMismatch(f"more nodes than the plan gives form {self.loader.current}")
        node.unit = self
        node.nid = i
        self._nodes[i] = node
        self.cursor = i + 1


# ---------------------------------------------------------------- loading by plan


class PlannedLoad:
    """The prelude of one interpreter loaded by plan: its pending forms and their values."""

    def __init__(self, it, text, datums, plan):
        self.it = it
        self.genv = it.genv
        self.text = text
        self.datums = datums  # the datums' JSON texts (datum_cache), decoded when analysed
        self.forms = plan["forms"]
        self.reach = plan["reach"]  # per lazy form: the names its analysis can meet
        self._meeting = None  # name -> the lazy forms that can meet it
        self.unit = PreludeUnit(text, PRELUDE, plan["total"], self)
        self.tops = {}  # form index -> its analysed top node (a GlobalDefine)
        self.values = {}  # form index -> the value it defines
        self.cells = {}  # form index -> the cell it defines
        self.pending = 0  # lazy forms not analysed yet
        self.limit = 0
        self.current = None
        self._read = None  # the prelude read afresh (if a cached datum is unusable)

    def decode(self, i, fresh=False):
        if not fresh:
            try:
                return datum_cache.decode_text(self.datums[i], PRELUDE)
            except Exception:
                pass
        if self._read is None:
            from .reader import read_all

            self._read = read_all(self.text, PRELUDE)
        return self._read[i]

    def analyse(self, i, datum):
        """The compiled code of form i, its nodes in the plan's range (PlanMismatch if not)."""
        start, count, _ = self.forms[i]
        unit = self.unit
        saved = self.current, self.limit, unit.cursor
        self.current, self.limit, unit.cursor = i, start + count, start
        try:
            code = Analyzer(self.genv, unit).compile_toplevel(datum)
            if unit.cursor != start + count:
                raise PlanMismatch(f"form {i} made {unit.cursor - start} nodes, not {count}")
            return code
        except BaseException:
            unit._nodes[start : start + count] = [None] * count
            raise
        finally:
            self.current, self.limit, unit.cursor = saved

    def analysed(self, i):
        """The top node (GlobalDefine of a Lambda) of lazy form i, analysing it once."""
        with _LOCK:
            top = self.tops.get(i)
            if top is not None:
                return top
            start, count, _ = self.forms[i]
            for fresh in (False, True):  # a cached datum that analyses oddly: read it afresh
                try:
                    self.analyse(i, self.decode(i, fresh))
                except PlanMismatch as e:
                    if fresh:  # the plan is wrong: the next start will not use it
                        datum_cache.discard_entry(self.text, PRELUDE)
                        raise PlanMismatch(
                            f"the prelude's cached load plan is wrong ({e}); it is discarded, "
                            "the next start loads the prelude afresh"
                        ) from None
                    continue
                top = self.unit._nodes[start + count - 1]
                if type(top) is GlobalDefine and type(top.expr) is Lambda and top.cell is self.cells[i]:
                    break
                self.unit._nodes[start : start + count] = [None] * count
                if fresh:
                    datum_cache.discard_entry(self.text, PRELUDE)
                    raise PlanMismatch(f"the prelude's cached load plan is wrong: form {i} does not define "
                                       f"{self.forms[i][2]} by a lambda; it is discarded")
            else:  # not reached: the second try raises
                raise PlanMismatch(f"form {i}")
            self.tops[i] = top
            self.pending -= 1
            return top

    def value_of(self, i):
        """The value lazy form i defines (the same object every time)."""
        with _LOCK:
            if i not in self.values:
                self.values[i] = self.analysed(i).expr.code(None)
            return self.values[i]

    def analyse_all(self):
        with _LOCK:
            for i in self.cells:
                if i not in self.tops:
                    self.analysed(i)

    def before_change(self, key=None):
        """Called before the program environment's macros, shadowed or imported names
        or cells change (key: the name changed; None: any): the pending forms whose
        analysis could meet it are analysed first, as they would have been. A special
        form's name can be met by any (the analyser makes lambdas, lets, begins)."""
        if not self.pending:
            return
        name = getattr(key, "name", None)
        if type(name) is not str or sym(name) in SPECIAL_FORMS:
            self.analyse_all()
            return
        with _LOCK:
            if self._meeting is None:
                meeting = {}
                for i in self.cells:
                    for n in self.reach[i].split():
                        meeting.setdefault(n, []).append(i)
                self._meeting = meeting
            for i in self._meeting.get(name, ()):
                if i not in self.tops:
                    self.analysed(i)

    def load(self, plan):
        """Bind the lazy globals and run the other forms (PlanMismatch: start again eagerly)."""
        genv = self.genv
        eager = [(i, self.decode(i)) for i, f in enumerate(self.forms) if f[2] is None]
        for name in plan["cells"]:
            genv.cell(sym(name))
        for i, (_, _, name) in enumerate(self.forms):
            if name is None:
                continue
            s = sym(name)
            c = genv.cells[s]
            if type(c) is not Cell:
                raise PlanMismatch(f"the cell of {name} is not a plain cell")
            genv.defined.add(s)
            _SLOT.__set__(c, _Pending(self, i))
            c.__class__ = LazyCell
            self.cells[i] = c
            self.pending += 1

        def run_forms():
            v = None
            for i, datum in eager:
                v = self.analyse(i, datum)(None)
                if type(v) is TailCall:
                    v = call(v.f, v.args)
            return v

        self.it._run(run_forms, may_suspend=False)
        self.it.units[self.unit.hash] = self.unit
        genv.macros = GuardedDict(genv.macros)
        genv.shadowed = GuardedSet(genv.shadowed)
        genv.imported = GuardedSet(genv.imported)
        genv.cells = GuardedCells(genv.cells)
        for guarded in (genv.macros, genv.imported, genv.cells):
            guarded.before_change = self.before_change
        genv.shadowed.before_change = self.before_any_change

    def before_any_change(self, key=None):
        """A special form shadowed (or unshadowed): every pending form is analysed first."""
        if self.pending:
            self.analyse_all()


def snapshot_builtins(genv):
    """GlobalEnv.snapshot_builtins without forcing the pending prelude globals."""
    b = genv.builtins = LazyBuiltins()
    for s, c in genv.cells.items():
        if type(c) is LazyCell:
            with _LOCK:
                if type(c) is LazyCell:
                    p = _SLOT.__get__(c, Cell)
                    dict.__setitem__(b, s, _Pending(p.loader, p.index))
                    continue
        if hasattr(c, "value"):
            dict.__setitem__(b, s, c.value)
    genv.builtin_macros.clear()
    genv.builtin_macros.update(genv.macros)


# ---------------------------------------------------------------- making and checking plans


def signature(genv):
    """What the prelude's analysis depends on besides the sources: the globals and
    macros bound before it, the special forms (other packages may add some)."""
    names = [s.name for s in genv.cells]
    if any(s is not sym(s.name) for s in genv.cells):
        return None
    blob = json.dumps([names, sorted(s.name for s in genv.macros), sorted(s.name for s in SPECIAL_FORMS)])
    return sha256(blob.encode("utf-8", "surrogatepass")).hexdigest()[:24]


def valid_plan(plan, ndatums):
    """Is plan well-formed data for an entry of ndatums forms?"""
    if type(plan) is not dict or plan.get("format") != PLAN_FORMAT:
        return False
    total, cells, forms = plan.get("total"), plan.get("cells"), plan.get("forms")
    if type(total) is not int or not 0 <= total <= MAX_NODES:
        return False
    if type(cells) is not list or not all(type(c) is str for c in cells):
        return False
    if type(forms) is not list or len(forms) != ndatums:
        return False
    names = set()
    at = 0
    for f in forms:
        if type(f) is not list or len(f) != 3:
            return False
        start, count, name = f
        if type(start) is not int or type(count) is not int or start != at or count < 0:
            return False
        if name is not None:
            if type(name) is not str or name in names or count < 1:
                return False
            names.add(name)
        at += count
    reach = plan.get("reach")
    if type(reach) is not list or len(reach) != len(forms):
        return False
    if any((type(r) is str) != (f[2] is not None) or (r is not None and type(r) is not str) for r, f in zip(reach, forms)):
        return False
    return at == total and names <= set(cells)


def _symbols(o, out):
    """Add the names of the symbols in encoded datum o to out."""
    if type(o) is str:
        out.add(o)
    elif type(o) is list and o:
        if o[0] == "L":
            for x in o[2]:
                _symbols(x, out)
            if len(o) > 3:
                _symbols(o[3], out)
        elif o[0] == "v":
            for x in o[1]:
                _symbols(x, out)
    return out


def _reach(encoded, i, defines):
    """The names form i's analysis can meet: its symbols, and those of the forms before
    it that defined a macro it can expand (a macro's template can name more macros)."""
    seen = _symbols(encoded[i], set())
    grew = True
    while grew:
        grew = False
        for j, defined in defines.items():
            if j < i and defined & seen and not _symbols(encoded[j], set()) <= seen:
                _symbols(encoded[j], seen)
                grew = True
    return seen


_INERT = (Const, LocalRef, Lambda, If, Seq, Let, Letrec, And, Or, Case, LocalSet, GlobalDefine, GlobalSet, GlobalRef)


def _read_before(unit, marks, ends, forms, cell):
    """Could a form run before the lazy form binding `cell` (one bound before the prelude,
    so its old value is seen until then in an eager load) read it? Any call but of a
    primitive, or any node not known to be inert, counts as a possible read."""
    for j in range(len(forms)):
        if forms[j][2] is not None:
            continue  # deferred itself: it only makes a closure
        for k in range(marks[j][0], ends[j]):
            node = unit.nodes[k]
            t = type(node)
            if t is GlobalRef and node.cell is cell:
                return True
            if t is App:
                fn = node.fn
                if type(fn) is not GlobalRef or type(getattr(fn.cell, "value", None)) is not Primitive:
                    return True
            elif t not in _INERT:
                return True
    return False


def make_plan(genv, unit, marks, encoded, prebound):
    """The plan of an eager load: marks[i] = (nodes before form i, macros, shadowed);
    prebound: the globals bound before the prelude."""
    n = len(encoded)
    if len(marks) != n or genv.imported or unit.deps:
        return None
    if any(s is not sym(s.name) for s in genv.cells):
        return None
    states = [(m[1], m[2]) for m in marks] + [(dict(genv.macros), frozenset(genv.shadowed))]
    ends = [m[0] for m in marks[1:]] + [len(unit.nodes)]
    # last[s]: the last boundary at which the macro binding or shadowing of s changed;
    # defines[j]: what form j changed so (the macros it defined, by name)
    last = {}
    defines = {}
    for t in range(1, len(states)):
        (m0, s0), (m1, s1) = states[t - 1], states[t]
        diff = {s for s in set(m0) | set(m1) if m0.get(s) is not m1.get(s)} | (s0 ^ s1)
        for s in diff:
            last[s.name] = t
        if diff:
            defines[t - 1] = {s.name for s in diff}
    ever_syntax = {s for st in states for s in st[0]} | {s for st in states for s in st[1]} | set(SPECIAL_FORMS)
    forms = []
    reach = []
    names = set()
    for i in range(n):
        start, end = marks[i][0], ends[i]
        name = None
        top = unit.nodes[end - 1] if end > start else None
        if type(top) is GlobalDefine and type(top.expr) is Lambda:
            s = top.cell.name
            v = getattr(top.cell, "value", None)
            if (
                type(s) is Symbol
                and s is sym(s.name)
                and genv.cells.get(s) is top.cell
                and type(v) is Closure
                and v.lam is top.expr.info
                and v.env is None
                and s not in ever_syntax
                and s.name not in names
                and not (s in prebound and _read_before(unit, marks, ends, forms, top.cell))
                and not _reach(encoded, i, defines) & {x for x, t in last.items() if t > i}
            ):
                name = s.name
                names.add(name)
        forms.append([start, end - start, name])
        reach.append(" ".join(sorted(_reach(encoded, i, defines))) if name else None)
    return {
        "format": PLAN_FORMAT,
        "total": len(unit.nodes),
        "cells": [s.name for s in genv.cells],
        "forms": forms,
        "reach": reach,
    }


# ---------------------------------------------------------------- the start-up path


def load_prelude(it, text):
    """Load the prelude into interpreter it; True when loaded by plan (its globals
    partly pending: take the builtins snapshot with snapshot_builtins)."""
    blob = datum_cache.cached_entry(text, PRELUDE)
    sig = signature(it.genv)
    plans = blob.get("plans") if blob is not None else None
    if type(plans) is not dict:
        plans = {}
    plan = plans.get(sig) if sig is not None else None
    if plan is not None and valid_plan(plan, len(blob["datums"])):
        loader = PlannedLoad(it, text, blob["datums"], plan)
        try:
            loader.load(plan)
            return True
        except Exception:  # PlanMismatch, or worse: start again from a fresh environment, eagerly
            it._build_globals()
    encoded = None
    if blob is not None:
        try:
            encoded = [json.loads(d) for d in blob["datums"]]
            datums = [datum_cache.decode(d, PRELUDE) for d in encoded]
        except Exception:
            blob = None
    if blob is None:
        datums = datum_cache.read_cached(text, PRELUDE)
        try:
            encoded = [datum_cache.encode(d) for d in datums]
        except (datum_cache.Uncacheable, RecursionError, ValueError):
            encoded = None
    _load_eagerly(it, text, datums, encoded, sig, plans)
    return False


def _load_eagerly(it, text, datums, encoded, sig, plans):
    """The prelude as any program is run, watched to make a plan (stored if it can be)."""
    genv = it.genv
    prebound = {s for s, c in genv.cells.items() if hasattr(c, "value")}
    program = it.program(text, PRELUDE, datums)
    unit = program.unit
    analyzer = program.analyzer
    compile_toplevel = analyzer.compile_toplevel
    marks = []

    def watched(x, pos=None):
        marks.append((len(unit.nodes), dict(genv.macros), frozenset(genv.shadowed)))
        return compile_toplevel(x, pos)

    analyzer.compile_toplevel = watched
    try:
        it._run_program(program, may_suspend=False)
    finally:
        del analyzer.compile_toplevel
    if encoded is None or sig is None:
        return
    plan = make_plan(genv, unit, marks, encoded, prebound)
    if plan is None:
        return
    kept = {k: v for k, v in plans.items() if k != sig and type(k) is str}
    kept = dict(list(kept.items())[-(MAX_PLANS - 1) :]) if MAX_PLANS > 1 else {}
    kept[sig] = plan
    datum_cache.store_entry(text, PRELUDE, encoded, plans=kept)
