"""Scheme objects as a graph of plain fields, and back: how each kind of object
a suspension holds (pairs, vectors, strings, closures, continuation frames,
environment frames, winders, parameters, records, hash tables, ...) is taken
apart into plain fields and rebuilt (shell first, then fields), with the checks
that say the rebuilt graph is one the loaded code could have made (interp.frames).

A store (flow.codec) maps this graph to bytes; it never touches the objects'
insides itself. The pieces:

- `KINDS`: one `Kind` per type of object that is stored once and referred to
  (an object-table entry). An entry is a list `[head, field, ...]`: the head is
  the store's own (its tag for the kind), the fields are plain data — ints,
  strs, lists of strs — and what the store's `ref(value)` made of the values
  the object holds. A kind says:
    `parts(x, head, ref, unit)` -> the entry (unit(node): the store's number
      for the code unit of a code node; a node is saved as (unit, node id));
    `arity`: the (min, max) number of fields an entry has; `what` names it
      in "object i: malformed <what>";
    `size`: the bytes of memory one shell takes, before its elements;
    `early`: False if the shell is made from nothing (`new()`, its fields
      not read in the first pass; `is_env`: it is an environment frame, a
      plain list, which the reader tells apart from the lists it reads);
      True if made from its fields (`shell(e, i, d)`); None if built when
      first needed (`build(e, i, d)`);
    `fill_one(s, e, i, d)`: puts entry e's fields into shell s (second pass;
      None for a kind whose shell is complete; a hash table is filled last,
      `fill_last`, once every key is complete); `fill(shells, start, end,
      entry, d)` does it for a run of objects of the kind (entry() reads the
      next entry).
  `d` is the reader: the store's decoder, which offers `spend(n)`, `node(unit,
  nid)`, `value(x, where)`, `env_of(x, where)`, `frame_of(x, where)`,
  `rtd_of(x, where)`, `data(x)`, `special` (the field types `value` must look
  at), `local`, `cont_level`, `names` (a `Names`), `work`
  (hash-key imaging allowance) and `rebuilt` (a `Rebuilt`).
- Atoms are stored inline, not as entries: symbols, characters, exact and
  inexact numbers, the constants (`CONSTANTS`), primitives by name, and
  parameters and ports bound to globals by global name (`Names`).
- `Rebuilt` collects the shells that need checking and `check()`s them once
  every field is in place. `GraphError` says what is wrong.
- For the flow inspector: `frames_of(k)`, `describe_frame(frame)` (what a
  continuation frame waits for and in, where, its local variables by name),
  and the code-structure reads it needs (`subtree`, `own_body`, `global_call`,
  `constant_value`, `parameter_names`, `lambda_of`).
"""

import weakref
from functools import partial
from typing import NamedTuple

from .complexes import ExactComplex
from .errors import ErrorObject, SchemeError
from .frames import (
    Environments,
    FrameError,
    check_chains,
    check_closure,
    check_continuation_procedure,
    check_frame,
    check_handlers,
    check_parameter,
    check_winder,
    check_winders,
    describe,
    frame_kind,
    global_names,
    winders_of_frame,
)
from .machine import (
    RESUMERS,
    UNASSIGNED,
    Closure,
    ContinuationProcedure,
    Frame,
    Parameter,
    Resumer,
    TailPrimitive,
    Winder,
)
from .nodes import App, Const, GlobalRef, Lambda, Let, Letrec, Node
from .primitives import Primitive
from .primitives.hashtables import HashTable
from .primitives.records import Record, RecordProcedure, RecordType, record_procedure
from .scopes import Alias
from .values import (
    DEFAULT,
    EOF_OBJECT,
    NIL,
    UNSPECIFIED,
    Char,
    MString,
    MultipleValues,
    Pair,
    Symbol,
    Vector,
    char,
    sym,
)


class GraphError(Exception):
    """An object that cannot be taken apart (unsaveable), or fields that do not
    make one the loaded code could have made."""


# ---------------------------------------------------------------------- atoms

CONSTANTS = (NIL, UNSPECIFIED, EOF_OBJECT, DEFAULT, UNASSIGNED)  # by their index
SYMBOL = Symbol
CHAR = Char
EXACT_COMPLEX = ExactComplex
PRIMITIVES = (Primitive, TailPrimitive)  # saved by name (Names.primitive)
FRAME = Frame  # a continuation frame (a frame's next, a continuation's k)
RECORD_TYPE = RecordType
# shells that are never a value: named in "<this> where a value belongs"
NOT_VALUES = {Frame: "a continuation frame", Winder: "a dynamic-wind"}


def symbol_name(x):
    """The name an interned symbol is saved by."""
    if x is not sym(x.name):
        raise GraphError(f"cannot save an uninterned symbol ({x.name})")
    return x.name


def symbol(name, foreign, fresh):
    """The symbol called name: interned, or (foreign data, only checked) one of
    `fresh` (a dict name -> Symbol of the graph being read)."""
    if not foreign:
        return sym(name)
    s = fresh.get(name)
    if s is None:
        s = fresh[name] = Symbol(name)
    return s


def character(c, foreign):
    return Char(ord(c)) if foreign else char(c)


def exact_complex(re, im):
    return ExactComplex(re, im)


def by_global_name(t):
    """Are objects of type t saved by the name of a global bound to them (when
    one is; else in the object table)?"""
    return t is Parameter or t.__name__.endswith("Port")


def is_parameter(x):
    return type(x) is Parameter


class Names:
    """The runtime's names a graph refers to: its code units, primitives and
    globals (what an atom or a code reference is looked up in)."""

    def __init__(self, interpreter):
        self.interp = interpreter
        self._global_of = None  # id(value) -> global name, see global_name
        self._cells_seen = 0
        self._fresh = False
        self._names_key = None
        self._names = frozenset()
        self._reachable = None  # ids of the values of referenced globals (see reachable)
        self._recproc_cells = {}  # (id(rtd), kind, field) -> (symbol, cell) it was found in
        self._rtd_cells = {}  # (name, fields) -> (symbol, cell) of a loaded record type

    def unit(self, h):
        return self.interp.units.get(h)

    def begin(self):
        """A graph is being taken apart: the global-name table may be rebuilt once."""
        self._fresh = False

    def primitive(self, name):
        p = self.interp.genv.primitives.get(name)
        if p is None:
            try:
                p = self.interp.lookup(name)
            except KeyError:
                return None
        return p if isinstance(p, Primitive) and not isinstance(p, RecordProcedure) else None

    def global_name(self, obj):
        """The name of a global bound to obj (for host objects saved by name).

        The table is rebuilt when a global was added, or when the name it gives
        no longer holds obj (a redefinition); a miss costs one rebuild per encode."""
        cells = self.interp.genv.cells
        if self._global_of is None or self._cells_seen != len(cells):
            self._rebuild_globals()
        name = self._global_of.get(id(obj))
        if name is not None and self.global_value(name) is obj:
            return name
        if self._fresh:  # rebuilt during this encode already
            return None
        self._rebuild_globals()
        return self._global_of.get(id(obj))

    def _rebuild_globals(self):
        self._global_of = {}
        cells = self.interp.genv.cells
        for s, cell in cells.items():
            v = getattr(cell, "value", None)
            if isinstance(v, (Parameter, RecordType)) or type(v).__name__.endswith("Port"):
                self._global_of.setdefault(id(v), s.name)
        self._cells_seen = len(cells)
        self._fresh = True

    def global_value(self, name):
        try:
            return self.interp.lookup(name)
        except KeyError:
            return None

    def referenced(self, name, fresh=True):
        """Does some loaded code unit refer to the global variable `name`?
        (fresh=False: as the last call found the loaded units, not looked at again.)"""
        if not fresh and self._names_key is not None:
            return name in self._names
        units = list(self.interp.units.values())
        key = (len(units), sum(len(u.nodes) for u in units))
        if key != self._names_key:
            names = set()
            for u in units:
                names |= global_names(u)
            self._names = frozenset(names)
            self._names_key = key
            self._reachable = None
        return name in self._names

    def reachable(self, value):
        """Is value the value of a global that loaded code refers to (under any name)?"""
        if self._reachable is None:
            ids = set()
            for name in self._names:
                v = self.global_value(name)
                if v is not None:
                    ids.add(id(v))
            self._reachable = ids
        return id(value) in self._reachable

    def known_primitive(self, name, referenced):
        """The primitive called name (its global binding is consulted only when
        loaded code refers to name: looking a name up interns it)."""
        p = self.interp.genv.primitives.get(name)
        if p is None and referenced:
            p = self.global_value(name)
        return p if isinstance(p, Primitive) and not isinstance(p, RecordProcedure) else None

    @staticmethod
    def nameable_global(v):
        """May a global with this value be named in a graph (a parameter or port)?"""
        return type(v) is Parameter or type(v).__name__.endswith("Port")

    def defines_record_procedure(self, rtd, kind, field):
        """Is a record procedure (kind, field) of record type rtd bound to a global?

        Where it was last found is remembered and checked to still hold it, so a
        continuation's record procedures cost a full walk of the globals only
        the first time (and after a redefinition moved one)."""
        key = (id(rtd), kind, field)
        found = self._recproc_cells.get(key)
        if found is not None and self._holds(found, RecordProcedure, lambda v: v.rtd is rtd and v.kind == kind
                                             and v.field == field):
            return True
        found = {}
        for s, cell in self.interp.genv.cells.items():
            v = getattr(cell, "value", None)
            if type(v) is RecordProcedure:
                found.setdefault((id(v.rtd), v.kind, v.field), (s, cell))
        self._recproc_cells = found
        return key in found

    def record_type(self, name, fields):
        """The loaded record type with this name and fields, if any (the cell it
        was last found in is remembered, and checked to still hold it)."""
        key = (name, fields)
        found = self._rtd_cells.get(key)
        if found is not None:
            v = self._holds(found, RecordType, lambda v: v.name == name and v.fields == fields)
            if v is not None:
                return v
        for s, cell in self.interp.genv.cells.items():
            v = getattr(cell, "value", None)
            if type(v) is RecordType and v.name == name and v.fields == fields:
                self._rtd_cells[key] = (s, cell)
                return v
        self._rtd_cells.pop(key, None)
        return None

    def _holds(self, found, t, check):
        """The value of a remembered (symbol, cell) when that cell is still the
        global's and holds a t passing check; else None."""
        s, cell = found
        if self.interp.genv.cells.get(s) is not cell:
            return None
        v = getattr(cell, "value", None)
        return v if type(v) is t and check(v) else None


# ---------------------------------------------------------------------- kinds


class Kind:
    """How one type of object is taken apart and rebuilt (see the module doc)."""

    type = None
    what = ""
    arity = (0, None)  # (min, max) fields; max None: any number
    size = 64
    early = True
    new = None  # () -> an empty shell (early False)
    is_env = False
    mutable = False  # can its objects change in place (so interp.barrier must hear of it)?

    fill_one = None  # (s, e, i, d): put entry e's fields in shell s (None: the shell is complete)
    fill_last = None  # (s, e, i, d): the same, once every other object is complete

    def parts(self, x, head, ref, unit):
        raise NotImplementedError

    def fill(self, shells, start, end, entry, d):
        """Fill shells[start:end] (all of this kind) from the next end - start
        entries (entry() reads the next one)."""
        one = self.fill_one
        for i in range(start, end):
            one(shells[i], entry(), i, d)


def _unsaveable(x):
    return GraphError(f"cannot save a value of type {getattr(x, 'type_name', type(x).__name__)}")


class PairKind(Kind):
    type, what, arity, size, early = Pair, "pair", (2, 2), 64, False
    mutable = True

    def parts(self, x, head, ref, unit):
        return [head, ref(x.car), ref(x.cdr)]

    new = partial(Pair.__new__, Pair)  # (no __init__ to run: fill sets car and cdr)

    def fill_one(self, s, e, i, d):
        self.fill([s], 0, 1, lambda: e, d)

    def fill(self, shells, start, end, entry, d):  # (the one kind with many: inline)
        special, value = d.special, d.value
        winder_pairs = d.rebuilt.winder_pairs
        for i in range(start, end):
            e = entry()
            s = shells[i]
            car = e[1]
            t = type(car)
            if t in special:
                if t is Winder:  # a winders list's pair: checked against the dynamic state
                    winder_pairs.append(s)
                else:
                    car = value(car)
            cdr = e[2]
            s.car = car
            s.cdr = value(cdr) if type(cdr) in special else cdr


class VectorKind(Kind):
    type, what, arity, size, early = Vector, "vector", (0, None), 64, False
    mutable = True

    def parts(self, x, head, ref, unit):
        return [head] + [ref(v) for v in x]

    new = Vector

    def fill_one(self, s, e, i, d):
        special, value = d.special, d.value
        s.extend([value(v) if type(v) in special else v for v in e[1:]])


class EnvKind(Kind):
    """An environment frame: a list of slots, the last its parent (or None)."""

    type, what, arity, size, early = list, "environment frame", (1, None), 200, False
    mutable = True

    def parts(self, x, head, ref, unit):
        return [head] + [ref(v) for v in x]

    new, is_env = list, True

    def fill_one(self, s, e, i, d):
        special, value = d.special, d.value
        s.extend([value(v, "a variable's value") if type(v) in special else v for v in e[1:-1]])
        s.append(d.env_of(e[-1], "an environment frame"))


class TupleKind(Kind):
    """Frame data: built when a frame first refers to it (reader's data())."""

    type, what, arity, size, early = tuple, "tuple", (0, None), 64, None

    def parts(self, x, head, ref, unit):
        return [head] + [ref(v) for v in x]


class BytesKind(Kind):
    type, what, arity, size = bytearray, "bytevector", (1, 1), 64
    mutable = True

    def parts(self, x, head, ref, unit):
        return [head, bytes(x)]

    def shell(self, e, i, d):
        if type(e[1]) is not bytes:
            raise GraphError(f"object {i}: malformed bytevector")
        d.spend(len(e[1]))
        return bytearray(e[1])


class StringKind(Kind):
    """A mutable string (an immutable one is an atom: a str)."""

    type, what, arity, size = MString, "string", (1, 1), 64
    mutable = True

    def parts(self, x, head, ref, unit):
        return [head, x.text()]

    def shell(self, e, i, d):
        if type(e[1]) is not str:
            raise GraphError(f"object {i}: malformed string")
        d.spend(49 + len(e[1]))
        return MString(e[1])


class ClosureKind(Kind):
    type, what, arity, size = Closure, "closure", (3, 3), 64

    def parts(self, x, head, ref, unit):
        node = x.lam.node
        if node is None:
            raise GraphError(f"cannot save {x.lam.name or 'a host closure'}: it has no code node")
        return [head, unit(node), node.nid, ref(x.env)]

    def shell(self, e, i, d):
        node = d.node(e[1], e[2])
        if node is None:  # its unit is not loaded (see the reader's node)
            return Closure(None, None)
        if type(node) is not Lambda:
            raise GraphError(f"object {i}: node {e[2]} is not a lambda")
        if node.info is None:
            node.compile()
        s = Closure(node.info, None)
        d.rebuilt.closures.append(s)
        return s

    def fill_one(self, s, e, i, d):
        s.env = d.env_of(e[3], "a closure")


class FrameKind(Kind):
    """A continuation frame: its node (a builtin resumer by name, or code), env, data, next."""

    type, what, arity, size = Frame, "frame", (4, 4), 200

    def parts(self, x, head, ref, unit):
        node = x.node
        where = node.name if type(node) is Resumer else [unit(node), node.nid]
        return [head, where, ref(x.env), ref(x.data), ref(x.next)]

    def shell(self, e, i, d):
        where = e[1]
        if type(where) is str:
            node = RESUMERS.get(where)
            if node is None:
                raise GraphError(f"unknown continuation step {where!r}")
        elif type(where) is list and len(where) == 2:
            node = d.node(where[0], where[1])
        else:
            raise GraphError(f"object {i}: malformed frame")
        if node is None:  # its unit is not loaded (see the reader's node)
            s = Frame(None, None, None, None)
            d.rebuilt.placeholders.append(s)
            return s
        if frame_kind(node, d.local) is None:
            if type(node) is Resumer:
                raise GraphError(f"invalid continuation: a frame of the builtin step {where!r}, "
                                 "which is never part of a saved continuation")
            raise GraphError(f"invalid continuation: a frame of node {where[1]} (a {type(node).__name__}), "
                             "which never pushes one")
        if type(node) is not Resumer and node.code is None:
            node.compile()
        s = Frame(node, None, None, None)
        d.rebuilt.frames.append(s)
        return s

    def fill_one(self, s, e, i, d):
        s.env = d.env_of(e[2], "a frame")
        s.data = d.data(e[3])
        s.next = d.frame_of(e[4], "a frame's continuation")


class ContinuationKind(Kind):
    """A continuation procedure (call/cc's k): frames, dynamic state, driver level."""

    type, what, arity, size = ContinuationProcedure, "continuation", (0, None), 120

    def parts(self, x, head, ref, unit):
        return [head, ref(x.k), ref(x.winders), ref(x.handlers), x.level]

    def shell(self, e, i, d):
        level = e[4] if len(e) == 5 else None
        # a driver level: 1 (the outermost driver) or more; a lower one would be
        # handed past every driver and escape from the host's call as a raw Throw
        if type(level) is not int or not 1 <= level < 1 << 31:
            raise GraphError(f"object {i}: malformed continuation")
        s = ContinuationProcedure(None, NIL, NIL, level if d.cont_level is None else d.cont_level)
        d.rebuilt.conts.append(s)
        return s

    def fill_one(self, s, e, i, d):
        s.k = d.frame_of(e[1], "a continuation's frames")
        s.winders = d.value(e[2])
        s.handlers = d.value(e[3])


class WinderKind(Kind):
    type, what, arity, size = Winder, "dynamic-wind", (2, 2), 64

    def parts(self, x, head, ref, unit):
        return [head, ref(x.before), ref(x.after)]

    def shell(self, e, i, d):
        s = Winder(None, None)
        d.rebuilt.winders.append(s)
        return s

    def fill_one(self, s, e, i, d):
        s.before = d.value(e[1])
        s.after = d.value(e[2])


class ParameterKind(Kind):
    type, what, arity, size = Parameter, "parameter", (2, 2), 64
    mutable = True

    def parts(self, x, head, ref, unit):
        return [head, ref(x.value), ref(x.converter)]

    def shell(self, e, i, d):
        s = Parameter(None, None)
        d.rebuilt.params.append(s)
        return s

    def fill_one(self, s, e, i, d):
        s.value = d.value(e[1])
        s.converter = d.value(e[2])


class RecordKind(Kind):
    type, what, arity, size, early = Record, "record", (1, None), 120, False
    mutable = True

    def parts(self, x, head, ref, unit):
        return [head, ref(x.rtd)] + [ref(v) for v in x.values]

    new = partial(Record.__new__, Record)  # (fill sets rtd and values)

    def fill_one(self, s, e, i, d):
        rtd = d.rtd_of(e[1], "a record's type")
        if len(e) - 2 != len(rtd.fields):
            raise GraphError(f"object {i}: malformed record")
        s.rtd = rtd
        value = d.value
        s.values = [value(v) for v in e[2:]]


class RecordTypeKind(Kind):
    """A record type: the loaded one of that name and fields, else the flow's own."""

    type, what, arity, size = RecordType, "record type", (0, None), 120

    def parts(self, x, head, ref, unit):
        return [head, x.name, list(x.fields)]

    def shell(self, e, i, d):
        if len(e) != 3 or type(e[1]) is not str or type(e[2]) is not list or not all(type(f) is str for f in e[2]):
            raise GraphError(f"object {i}: malformed record type")
        key = (e[1], tuple(e[2]))
        r = d.rebuilt
        s = r.rtds.get(key)
        if s is None:
            s = d.names.record_type(*key)
            if s is not None:
                r.loaded_rtds.add(id(s))
            else:
                d.spend(sum(len(f) + 64 for f in e[2]))
                s = RecordType(*key)
            r.rtds[key] = s
        return s


_RECPROC_KINDS = ("constructor", "predicate", "accessor", "modifier")


class RecordProcedureKind(Kind):
    """Built when first needed (its record type must be there): see the reader's value()."""

    type, what, arity, size, early = RecordProcedure, "record procedure", (4, 4), 400, None

    def parts(self, x, head, ref, unit):
        field = list(x.field) if isinstance(x.field, tuple) else x.field
        return [head, ref(x.rtd), x.kind, field, x.name]

    def build(self, e, j, d):
        rtd = d.rtd_of(e[1], "a record procedure's record type")
        kind, field, name = e[2], e[3], e[4]
        if type(kind) is not str or type(name) is not str:
            raise GraphError(f"object {j}: malformed record procedure")
        if type(field) is list:
            if not all(type(f) is str for f in field):
                raise GraphError(f"object {j}: malformed record procedure")
            field = tuple(field)
        elif not (field is None or type(field) is str):
            raise GraphError(f"object {j}: malformed record procedure")
        if kind not in _RECPROC_KINDS:
            raise GraphError(f"object {j}: unknown record procedure kind {kind!r}")
        r = d.rebuilt
        if id(rtd) in r.loaded_rtds:
            # a record procedure of a loaded record type must be one the code defined
            # (one of a record type of the flow's own: its instances are the flow's own)
            if not d.names.defines_record_procedure(rtd, kind, field):
                raise GraphError(f"object {j}: a {kind} of record type {rtd.name} that no loaded code defines")
        return record_procedure(rtd, kind, field, name)


class HashTableKind(Kind):
    """Filled last (build): its keys must be complete to be hashed."""

    type, what, arity, size = HashTable, "hash table", (1, None), 240
    mutable = True

    def parts(self, x, head, ref, unit):
        out = [head, x.kind]
        for k, v in x.items():
            out.append(ref(k))
            out.append(ref(v))
        return out

    def shell(self, e, i, d):
        if len(e) % 2 or type(e[1]) is not str or e[1] not in ("equal", "eqv"):
            raise GraphError(f"object {i}: malformed hash table")
        return HashTable(e[1])

    def fill_last(self, table, e, j, d):
        flat = e[2:]
        equal_kind = table.kind == "equal"
        value = d.value
        for k in range(0, len(flat), 2):
            key = value(flat[k])
            if equal_kind:
                _charge_key(key, d)
            try:
                if table.contains(key):
                    raise GraphError(f"object {j}: a hash table with a key twice")
                table.set(key, value(flat[k + 1]))
            except SchemeError as e:  # a key that cannot be imaged
                raise GraphError(f"malformed flow data ({e.message})") from None


def _charge_key(key, d):
    """Charge the elements an equal? table visits to image key to the work allowance."""
    stack = [key]
    while stack:
        x = stack.pop()
        t = type(x)
        if t is Pair:
            d.work -= 1
            stack.append(x.cdr)
            stack.append(x.car)
        elif t is Vector:
            d.work -= 1 + len(x)
            stack.extend(x)
        else:
            continue
        if d.work < 0:
            raise GraphError("hash table keys too large for the flow data's size")


class MultipleValuesKind(Kind):
    type, what, arity, size, early = MultipleValues, "multiple values", (0, None), 120, False

    def parts(self, x, head, ref, unit):
        return [head] + [ref(v) for v in x.items]

    new = partial(MultipleValues.__new__, MultipleValues)  # (fill sets items)

    def fill_one(self, s, e, i, d):
        value = d.value
        s.items = [value(v) for v in e[1:]]


class ErrorObjectKind(Kind):
    type, what, arity, size = ErrorObject, "error object", (0, None), 160

    def parts(self, x, head, ref, unit):
        return [head, x.message, [ref(v) for v in x.irritants], x.kind]

    def shell(self, e, i, d):
        if len(e) != 4 or type(e[1]) is not str or type(e[2]) is not list or type(e[3]) is not str:
            raise GraphError(f"object {i}: malformed error object")
        d.spend(len(e[1]) + len(e[3]))
        return ErrorObject(e[1], [], e[3])

    def fill_one(self, s, e, i, d):
        value = d.value
        s.irritants = [value(v) for v in e[2]]


# one entry per kind, by name (a store maps each to its own tag)
KINDS = {
    "pair": PairKind(), "vector": VectorKind(), "environment": EnvKind(), "bytevector": BytesKind(),
    "closure": ClosureKind(), "frame": FrameKind(), "tuple": TupleKind(), "continuation": ContinuationKind(),
    "winder": WinderKind(), "parameter": ParameterKind(), "record": RecordKind(),
    "record-type": RecordTypeKind(), "record-procedure": RecordProcedureKind(), "hash-table": HashTableKind(),
    "multiple-values": MultipleValuesKind(), "error": ErrorObjectKind(), "string": StringKind(),
}


def unsaveable(x):
    """The error for an object no kind takes apart."""
    return _unsaveable(x)


# ---------------------------------------------------------------------- checks


class Rebuilt:
    """The shells of a graph being rebuilt that the checks look at, and the
    record types met so far."""

    def __init__(self):
        self.frames = []
        self.placeholders = []  # frames of code units not loaded (foreign data)
        self.closures = []
        self.conts = []
        self.winders = []
        self.params = []
        self.winder_pairs = []  # pairs whose car is a Winder: must be in a winders list
        self.root_state = None  # (winders, handlers) of a suspension's root
        self.rtds = {}  # (name, fields) -> RecordType
        self.loaded_rtds = set()  # ids of the record types that are the loaded code's

    def check(self, local):
        """Everything is in place: raise GraphError unless the graph is one the
        loaded code makes (local: process-local frames allowed)."""
        try:
            self._check(local)
        except FrameError as e:
            raise GraphError(f"invalid continuation: {e}") from None

    def _check(self, local):
        envs = Environments()
        seen_w, seen_h = set(), set()
        for f in self.frames:
            check_frame(f, envs, local)
            ws, hs = winders_of_frame(f)
            for w in ws:
                check_winders(w, seen_w)
            for h in hs:
                check_handlers(h, seen_h)
        check_chains(self.frames + self.placeholders)
        for c in self.closures:
            check_closure(c, envs)
        for kp in self.conts:
            check_continuation_procedure(kp, seen_w, seen_h)
        if self.root_state is not None:
            check_winders(self.root_state[0], seen_w)
            check_handlers(self.root_state[1], seen_h)
        for p in self.winder_pairs:
            if id(p) not in seen_w:
                raise GraphError("invalid continuation: a dynamic-wind outside the dynamic state")
        for w in self.winders:
            check_winder(w)
        for p in self.params:
            check_parameter(p)


# ---------------------------------------------------------------------- inspection
# (what the flow inspector reads of a continuation: frames, what each waits in,
# the local variables it holds by name, the code around it)


def frames_of(k, limit=10000):
    """The frames of a continuation (its innermost first), at most limit of them."""
    out = []
    while k is not None and len(out) < limit:
        out.append(k)
        k = k.next
    return out


def is_code_frame(frame):
    """Does frame wait in loaded Scheme code (not in a builtin step)?"""
    return isinstance(frame.node, Node)


def lambda_of(closure):
    """The code node (a Lambda) of a closure."""
    return closure.lam.node


def node_children(node):
    """The code nodes directly inside node."""
    out = []

    def collect(v):
        if isinstance(v, Node):
            out.append(v)
        elif isinstance(v, (list, tuple)):
            for x in v:
                collect(x)

    for cls in type(node).__mro__:
        for name in getattr(cls, "__slots__", ()):
            if name in ("unit", "code", "codes", "compiled", "info", "scope", "scopes"):
                continue
            collect(getattr(node, name, None))
    return out


def subtree(node):
    """node and every code node inside it."""
    seen, stack = [], [node]
    while stack:
        n = stack.pop()
        seen.append(n)
        stack.extend(node_children(n))
    return seen


def own_body(lam):
    """The nodes of a lambda's body that belong to it (not to lambdas nested in it)."""
    seen, stack = set(), [lam.body]
    while stack:
        n = stack.pop()
        if n in seen:
            continue
        seen.add(n)
        if type(n) is not Lambda:
            stack.extend(node_children(n))
    return seen


_SCOPES = weakref.WeakKeyDictionary()  # code unit -> {node: the scope its code runs in}


def _scope_map(unit):
    m = _SCOPES.get(unit)
    if m is not None and len(m) >= len(unit.nodes):
        return m
    m = {}
    children = {n: node_children(n) for n in unit.nodes}
    inner = {c for cs in children.values() for c in cs}

    def walk(root, scope):
        stack = [(root, scope)]
        while stack:
            n, s = stack.pop()
            if n in m:
                continue
            m[n] = s
            if type(n) is Lambda:
                stack.extend((c, n.scope) for c in children.get(n) or node_children(n))
            elif type(n) is Let:
                stack.extend((c, s) for c in n.inits)
                stack.append((n.body, n.scope))
            elif type(n) is Letrec:
                stack.extend((c, n.scope) for c in children.get(n) or node_children(n))
            else:
                stack.extend((c, s) for c in children.get(n) or node_children(n))

    for n in unit.nodes:
        if n not in inner:
            walk(n, None)
    _SCOPES[unit] = m
    return m


def waiting_in(frame):
    """The sub-expression (code node) a frame's node was evaluating when the
    continuation was taken, or None."""
    node, data = frame.node, frame.data
    try:
        if type(node) is App:
            return ([node.fn] + list(node.args))[len(data)]
        if type(node) is Let:
            return node.inits[len(data)]
        if type(node) is Letrec:
            return node.inits[data]
        t = type(node).__name__
        if t == "Seq":
            return node.body[data]
        if t in ("Or", "And"):
            return node.exprs[data]
        if t == "If" or t == "CondArrow":
            return node.test
        if t == "Case":
            return node.key
        if hasattr(node, "expr"):
            return node.expr
    except (IndexError, TypeError, AttributeError):
        pass
    return None


def frame_locals(frame):
    """[(name, value)] of the local variables visible where frame waits,
    innermost scope first (unassigned ones left out)."""
    scope = _scope_map(frame.node.unit).get(frame.node)
    env = frame.env
    out, seen = [], set()
    while scope is not None and type(env) is list:
        names = sorted(
            ((b[1], ident) for ident, b in scope.bindings.items() if b[0] == "var" and type(ident) is not Alias),
            key=lambda t: t[0],
        )
        for slot, ident in names:
            name = ident.name
            if name in seen or slot >= len(env):
                continue
            seen.add(name)
            v = env[slot]
            if v is UNASSIGNED:
                continue
            out.append((name, v))
        parent = scope.parent_slot()
        env = env[parent] if parent < len(env) else None
        scope = scope.parent
    return out


def parameter_names(lam):
    """The names of a lambda's required parameters, in order."""
    names = sorted(((b[1], i) for i, b in lam.scope.bindings.items() if b[0] == "var"), key=lambda t: t[0])
    return [getattr(ident, "name", str(ident)) for _, ident in names[: lam.nreq]]


def global_call(node):
    """(name, argument nodes) if node calls the global procedure `name`, else None."""
    if type(node) is not App or type(node.fn) is not GlobalRef:
        return None
    return node.fn.cell.name.name, node.args


NOT_CONSTANT = object()


def constant_value(node):
    """The value of a constant (quoted or literal) node, else NOT_CONSTANT."""
    return node.value if type(node) is Const else NOT_CONSTANT


class FrameDescription(NamedTuple):
    text: str  # what it waits for, in words, with where
    node: object  # the code node it waits in
    waiting_in: object  # the sub-expression it was evaluating, or None
    pos: object  # the source position of its node, or None
    locals: list  # [(name, value)] (code frames only)


def describe_frame(frame):
    """A continuation frame described for the flow inspector."""
    code = is_code_frame(frame)
    return FrameDescription(describe(frame), frame.node, waiting_in(frame) if code else None,
                            getattr(frame.node, "pos", None), frame_locals(frame) if code else [])
