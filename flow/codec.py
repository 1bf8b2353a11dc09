"""Scheme object graphs <-> msgpack-ready data, with an object table.

`encode(root, env)` walks a graph of Scheme values, continuations, frames,
closures and environment frames (iteratively: 20,000-frame continuations and
million-element lists are fine) and returns `(units, objects, root)`: every
mutable or shared thing becomes one entry of `objects` and is referred to by
index, so shared structure and cycles come back with identity preserved.

Code is never serialised: a closure or frame names its node as
(code-unit index, node id), `units` lists the (hash, file) of those units, and
primitives and other host objects are named (by primitive or global name).

`decode(units, objects, root, env)` rebuilds the graph without running
anything: shells first, then their fields. Every malformed input raises
CodecError with what is wrong; nothing else escapes.
"""

import struct
from fractions import Fraction

import msgpack

from interp.errors import ErrorObject
from interp.machine import (
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
from interp.primitives import Primitive
from interp.primitives.hashtables import HashTable
from interp.primitives.records import Record, RecordProcedure, RecordType, record_procedure
from interp.values import (
    DEFAULT,
    EOF_OBJECT,
    NIL,
    UNSPECIFIED,
    Char,
    MultipleValues,
    Pair,
    Symbol,
    Vector,
    char,
    sym,
)


class CodecError(Exception):
    """The data cannot be encoded (an unsaveable object) or decoded (malformed)."""


# ext type codes (inline values)
EXT_REF, EXT_SYM, EXT_CHAR, EXT_CONST, EXT_BIGINT, EXT_FRACTION, EXT_PRIM, EXT_GLOBAL = range(8)
# object table tags
(T_PAIR, T_VECTOR, T_ENV, T_BYTES, T_CLOSURE, T_FRAME, T_TUPLE, T_CONT, T_WINDER, T_PARAM,
 T_RECORD, T_RTD, T_RECPROC, T_HASHTABLE, T_MULTI, T_ERROR) = range(1, 17)

_CONSTS = [NIL, UNSPECIFIED, EOF_OBJECT, DEFAULT, UNASSIGNED]
_REF = struct.Struct(">I")
_INT64 = (-(2**63), 2**64 - 1)

# ExtType values are made once and reused: building one costs a Python-level __new__
_CONST_EXT = {id(c): msgpack.ExtType(EXT_CONST, bytes([i])) for i, c in enumerate(_CONSTS)}
_REF_EXT = [msgpack.ExtType(EXT_REF, _REF.pack(i)) for i in range(4096)]
_SYM_EXT = {}  # interned Symbol -> its ExtType


def ext_tuple(code, data):
    """msgpack ext_hook for decoding: an ext value as a plain (code, data) tuple
    (flow data holds no other tuples: msgpack arrays decode to lists)."""
    return (code, data)


class Env:
    """What the codec needs from the runtime: the code units, primitives and globals."""

    def __init__(self, interpreter):
        self.interp = interpreter
        self._global_of = None  # id(value) -> global name, see global_name
        self._cells_seen = 0
        self._fresh = False
        self.cont_level = None  # decode: the driver level given to continuations

    def unit(self, h):
        return self.interp.units.get(h)

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

    def record_type(self, name, fields):
        """The loaded record type with this name and fields, if any."""
        for cell in self.interp.genv.cells.values():
            v = getattr(cell, "value", None)
            if type(v) is RecordType and v.name == name and v.fields == fields:
                return v
        return None


# ------------------------------------------------------------------ encoding


def encode(root, env):
    """-> (units, objects, encoded_root). Raises CodecError for unsaveable objects."""
    env._fresh = False
    units = []
    unit_index = {}
    objects = []
    index = {}
    todo = []
    keep = []  # keep every indexed object alive so id()s stay unique

    def unit_ref(node):
        u = node.unit
        i = unit_index.get(u.hash)
        if i is None:
            i = unit_index[u.hash] = len(units)
            units.append([u.hash, u.filename or "<string>"])
        return i

    def ref(x):
        t = type(x)
        if x is None or t is bool or t is str or t is float:
            return x
        if t is int:
            if _INT64[0] <= x <= _INT64[1]:
                return x
            return msgpack.ExtType(EXT_BIGINT, _int_bytes(x))
        if t is Symbol:
            e = _SYM_EXT.get(x)
            if e is None:
                if x is not sym(x.name):
                    raise CodecError(f"cannot save an uninterned symbol ({x.name})")
                e = _SYM_EXT[x] = msgpack.ExtType(EXT_SYM, x.name.encode("utf-8", "surrogatepass"))
            return e
        if t is Char:
            return msgpack.ExtType(EXT_CHAR, chr(x.code).encode("utf-8", "surrogatepass"))
        e = _CONST_EXT.get(id(x))
        if e is not None:
            return e
        if t is Fraction:  # numerator and denominator as signed big-endian bytes
            num = _int_bytes(x.numerator)
            return msgpack.ExtType(EXT_FRACTION, _REF.pack(len(num)) + num + _int_bytes(x.denominator))
        if t is Primitive or t is TailPrimitive:
            if env.primitive(x.name) is not x:
                raise CodecError(f"cannot save the host procedure {x.name}: it is not a named primitive")
            return msgpack.ExtType(EXT_PRIM, x.name.encode())
        i = index.get(id(x))
        if i is None:
            if t is Parameter or t is RecordType or t.__name__.endswith("Port"):
                name = env.global_name(x)
                if name is not None and t is not RecordType:
                    return msgpack.ExtType(EXT_GLOBAL, name.encode())
            i = index[id(x)] = len(objects)
            objects.append(None)
            keep.append(x)
            todo.append((i, x))
        return _REF_EXT[i] if i < 4096 else msgpack.ExtType(EXT_REF, _REF.pack(i))

    encoded_root = ref(root)
    while todo:
        i, x = todo.pop()
        objects[i] = entry(x, ref, unit_ref)
    return units, objects, encoded_root


def _int_bytes(x):
    return x.to_bytes((x.bit_length() + 8) // 8, "big", signed=True)


def entry(x, ref, unit_ref):
    t = type(x)
    if t is Pair:
        return [T_PAIR, ref(x.car), ref(x.cdr)]
    if t is list:  # an environment frame; the last slot is the parent
        return [T_ENV] + [ref(v) for v in x]
    if t is Vector:
        return [T_VECTOR] + [ref(v) for v in x]
    if t is tuple:
        return [T_TUPLE] + [ref(v) for v in x]
    if t is bytearray:
        return [T_BYTES, bytes(x)]
    if t is Closure:
        node = x.lam.node
        if node is None:
            raise CodecError(f"cannot save {x.lam.name or 'a host closure'}: it has no code node")
        return [T_CLOSURE, unit_ref(node), node.nid, ref(x.env)]
    if t is Frame:
        node = x.node
        if type(node) is Resumer:
            where = node.name
        else:
            where = [unit_ref(node), node.nid]
        return [T_FRAME, where, ref(x.env), ref(x.data), ref(x.next)]
    if t is ContinuationProcedure:
        return [T_CONT, ref(x.k), ref(x.winders), ref(x.handlers), x.level]
    if t is Winder:
        return [T_WINDER, ref(x.before), ref(x.after)]
    if t is Parameter:
        return [T_PARAM, ref(x.value), ref(x.converter)]
    if t is Record:
        return [T_RECORD, ref(x.rtd)] + [ref(v) for v in x.values]
    if t is RecordType:
        return [T_RTD, x.name, list(x.fields)]
    if t is RecordProcedure:
        field = list(x.field) if isinstance(x.field, tuple) else x.field
        return [T_RECPROC, ref(x.rtd), x.kind, field, x.name]
    if t is HashTable:
        flat = []
        for k, v in x.items():
            flat.append(ref(k))
            flat.append(ref(v))
        return [T_HASHTABLE, x.kind] + flat
    if t is MultipleValues:
        return [T_MULTI] + [ref(v) for v in x.items]
    if t is ErrorObject:
        return [T_ERROR, x.message, [ref(v) for v in x.irritants], x.kind]
    raise CodecError(f"cannot save a value of type {getattr(x, 'type_name', t.__name__)}")


# ------------------------------------------------------------------ decoding


def decode(units, objects, root, env):
    """Rebuild the graph. Raises CodecError (naming the problem) on malformed data
    or on code units that are not loaded (MissingUnit)."""
    try:
        return _decode(units, objects, root, env)
    except (CodecError, MissingUnit):
        raise
    except (IndexError, TypeError, ValueError, KeyError, AttributeError, struct.error, UnicodeDecodeError,
            ArithmeticError) as e:
        raise CodecError(f"malformed flow data ({type(e).__name__}: {e})") from None
    except RecursionError:
        raise CodecError("malformed flow data (nested too deeply)") from None


class MissingUnit(Exception):
    def __init__(self, unit_hash, filename):
        super().__init__(f"code unit {unit_hash} ({filename}) is not loaded")
        self.unit_hash = unit_hash
        self.filename = filename


def _decode(units, objects, root, env):
    if not isinstance(units, list) or not isinstance(objects, list):
        raise CodecError("malformed flow data (units/objects are not arrays)")
    loaded = []
    for u in units:
        h, filename = u
        unit = env.unit(h)
        loaded.append((unit, h, filename))

    def node_of(ui, nid):
        unit, h, filename = loaded[ui]
        if unit is None:
            raise MissingUnit(h, filename)
        if not (type(nid) is int and 0 <= nid < len(unit.nodes)):
            raise CodecError(f"node {nid} does not exist in code unit {h}")
        return unit.nodes[nid]

    n = len(objects)
    shells = [None] * n
    # pass 1: shells
    for i, e in enumerate(objects):
        if not isinstance(e, list) or not e:
            raise CodecError(f"malformed object {i}")
        tag = e[0]
        if tag == T_PAIR:
            s = Pair(None, None)
        elif tag == T_ENV:
            s = []
        elif tag == T_VECTOR:
            s = Vector()
        elif tag == T_TUPLE:
            s = None  # built in pass 2 (immutable); tuples never contain themselves
        elif tag == T_BYTES:
            if type(e[1]) is not bytes:
                raise CodecError(f"object {i}: malformed bytevector")
            s = bytearray(e[1])
        elif tag == T_CLOSURE:
            node = node_of(e[1], e[2])
            info = getattr(node, "info", None)
            if info is None:
                node.compile()
                info = getattr(node, "info", None)
            if info is None:
                raise CodecError(f"object {i}: node {e[2]} is not a lambda")
            s = Closure(info, None)
        elif tag == T_FRAME:
            where = e[1]
            if isinstance(where, str):
                node = RESUMERS.get(where)
                if node is None:
                    raise CodecError(f"unknown continuation step {where!r}")
            else:
                node = node_of(where[0], where[1])
                if node.code is None:
                    node.compile()
            s = Frame(node, None, None, None)
        elif tag == T_CONT:
            level = int(e[4]) if env.cont_level is None else env.cont_level
            s = ContinuationProcedure(None, NIL, NIL, level)
        elif tag == T_WINDER:
            s = Winder(None, None)
        elif tag == T_PARAM:
            s = Parameter(None, None)
        elif tag == T_RECORD:
            s = Record(None, [])
        elif tag == T_RTD:
            name, fields = str(e[1]), tuple(str(f) for f in e[2])
            s = env.record_type(name, fields) or RecordType(name, fields)
        elif tag == T_RECPROC:
            s = None  # pass 2 (needs its record type)
        elif tag == T_HASHTABLE:
            s = HashTable(str(e[1]))
        elif tag == T_MULTI:
            s = MultipleValues([])
        elif tag == T_ERROR:
            s = ErrorObject(str(e[1]), [], str(e[3]))
        else:
            raise CodecError(f"object {i}: unknown tag {tag!r}")
        shells[i] = s

    done_tuples = {}

    def val(x):
        t = type(x)
        if x is None or t is bool or t is int or t is float or t is str:
            return x
        if t is tuple:  # an ext value (see ext_tuple)
            code, data = x
            if code == EXT_REF:
                (j,) = _REF.unpack(data)
                if j >= n:
                    raise CodecError(f"reference {j} out of range")
                if objects[j][0] == T_TUPLE:
                    return tuple_of(j)
                if objects[j][0] == T_RECPROC:
                    return recproc_of(j)
                return shells[j]
            if code == EXT_SYM:
                return sym(data.decode("utf-8", "surrogatepass"))
            if code == EXT_CHAR:
                c = data.decode("utf-8", "surrogatepass")
                if len(c) != 1:
                    raise CodecError("bad character")
                return char(c)
            if code == EXT_CONST:
                return _CONSTS[data[0]]
            if code == EXT_BIGINT:
                return int.from_bytes(data, "big", signed=True)
            if code == EXT_FRACTION:
                (size,) = _REF.unpack_from(data)
                num = int.from_bytes(data[4 : 4 + size], "big", signed=True)
                den = int.from_bytes(data[4 + size :], "big", signed=True)
                if size + 4 > len(data) or den <= 1:
                    raise CodecError("bad rational")
                f = Fraction(num, den)
                if f.denominator != den:
                    raise CodecError("bad rational (not in lowest terms)")
                return f
            if code == EXT_PRIM:
                name = data.decode()
                p = env.primitive(name)
                if p is None:
                    raise CodecError(f"unknown primitive {name!r}")
                return p
            if code == EXT_GLOBAL:
                name = data.decode()
                v = env.global_value(name)
                if v is None:
                    raise CodecError(f"unknown global {name!r}")
                return v
            raise CodecError(f"unknown ext type {code}")
        if t is bytes:
            return bytearray(x)
        raise CodecError(f"unexpected {t.__name__} in flow data")

    def tuple_of(j):
        t = done_tuples.get(j)
        if t is None:
            done_tuples[j] = False  # in progress
            t = done_tuples[j] = tuple(val(v) for v in objects[j][1:])
        elif t is False:
            raise CodecError(f"object {j}: a tuple that contains itself")
        return t

    def recproc_of(j):
        if shells[j] is None:
            e = objects[j]
            rtd = val(e[1])
            if type(rtd) is not RecordType:
                raise CodecError("record procedure without a record type")
            field = tuple(e[3]) if isinstance(e[3], list) else e[3]
            shells[j] = record_procedure(rtd, str(e[2]), field, str(e[4]))
        return shells[j]

    # pass 2: fields (hash tables last: their keys must be complete)
    tables = []
    for i, e in enumerate(objects):
        tag = e[0]
        s = shells[i]
        if tag == T_PAIR:
            s.car = val(e[1])
            s.cdr = val(e[2])
        elif tag == T_ENV or tag == T_VECTOR:
            s.extend(val(v) for v in e[1:])
        elif tag == T_CLOSURE:
            s.env = val(e[3])
        elif tag == T_FRAME:
            s.env = val(e[2])
            s.data = val(e[3])
            nxt = val(e[4])
            if nxt is not None and type(nxt) is not Frame:
                raise CodecError(f"object {i}: a frame's next is not a frame")
            s.next = nxt
        elif tag == T_CONT:
            s.k = val(e[1])
            s.winders = val(e[2])
            s.handlers = val(e[3])
        elif tag == T_WINDER:
            s.before = val(e[1])
            s.after = val(e[2])
        elif tag == T_PARAM:
            s.value = val(e[1])
            s.converter = val(e[2])
        elif tag == T_RECORD:
            rtd = val(e[1])
            if type(rtd) is not RecordType or len(e) - 2 != len(rtd.fields):
                raise CodecError(f"object {i}: malformed record")
            s.rtd = rtd
            s.values = [val(v) for v in e[2:]]
        elif tag == T_RECPROC:
            recproc_of(i)
        elif tag == T_HASHTABLE:
            tables.append((s, e))
        elif tag == T_MULTI:
            s.items = [val(v) for v in e[1:]]
        elif tag == T_ERROR:
            s.irritants = [val(v) for v in e[2]]
        elif tag == T_TUPLE:
            tuple_of(i)
    for s, e in tables:
        flat = e[2:]
        if len(flat) % 2:
            raise CodecError("malformed hash table")
        for k in range(0, len(flat), 2):
            s.set(val(flat[k]), val(flat[k + 1]))
    return val(root)
