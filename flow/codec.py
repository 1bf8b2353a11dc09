"""Scheme object graphs <-> msgpack-ready data, with an object table.

`encode(root, env)` walks a graph of Scheme values, continuations, frames,
closures and environment frames (iteratively: 20,000-frame continuations and
million-element lists are fine) and returns `(units, objects, root)`: every
mutable or shared thing becomes one entry of `objects` and is referred to by
index, so shared structure and cycles come back with identity preserved.

Code is never serialised: a closure or frame names its node as
(code-unit index, node id), `units` lists the (hash, file) of those units, and
primitives and other host objects are named (by primitive or global name).

`decode_graph(blob, env, shape, trust)` rebuilds the graph from its msgpack
bytes without running anything, streaming the object table twice (shells
first, then their fields), and accepts only what the loaded code could have
made (see interp.frames):

- every object is where its kind may be: an environment frame only as a
  frame's, closure's or environment's environment, a frame only in a
  continuation, a tuple only as frame data, a winder only in a winders list;
- frames and closures fit the nodes they name (kind, data layout, environment
  shape) and continuations end;
- a primitive or global is accepted by name only if some loaded code unit
  refers to that name and it is not a host-only (restricted) procedure the
  runtime does not grant (interp.capabilities);
- sizes are bounded: integers of at most MAX_INT_BYTES bytes (numerators and
  denominators too, rationals in lowest terms), and the memory the decoded
  graph takes is charged against a budget proportional to the input
  (BUDGET_PER_BYTE), as is the work of hashing structured hash-table keys.

Every malformed input raises CodecError (or MissingUnit when a code unit is
not loaded) saying what is wrong; nothing else escapes.
"""

import io
import struct
from fractions import Fraction
from math import gcd

import msgpack

from interp.complexes import ExactComplex
from interp.errors import ErrorObject, SchemeError
from interp.frames import (
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
    frame_kind,
    global_names,
    winders_of_frame,
)
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
from interp.nodes import Lambda
from interp.primitives import Primitive
from interp.primitives.hashtables import HashTable
from interp.primitives.records import Record, RecordProcedure, RecordType, record_procedure
from interp.values import (
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


class CodecError(Exception):
    """The data cannot be encoded (an unsaveable object) or decoded (malformed)."""


# ext type codes (inline values)
EXT_REF, EXT_SYM, EXT_CHAR, EXT_CONST, EXT_BIGINT, EXT_FRACTION, EXT_PRIM, EXT_GLOBAL = range(8)
# complex numbers: an inexact one as two big-endian doubles; an exact one as its real and
# imaginary parts, each a kind byte (0 integer, 1 rational), a 4-byte length and the
# EXT_BIGINT / EXT_FRACTION payload
EXT_COMPLEX, EXT_EXACT_COMPLEX = 8, 9
_COMPLEX = struct.Struct(">dd")
# object table tags
(T_PAIR, T_VECTOR, T_ENV, T_BYTES, T_CLOSURE, T_FRAME, T_TUPLE, T_CONT, T_WINDER, T_PARAM,
 T_RECORD, T_RTD, T_RECPROC, T_HASHTABLE, T_MULTI, T_ERROR, T_STRING) = range(1, 18)
# (a str is an inline msgpack string: immutable, so sharing it needs no identity; a
# mutable string, interp.values.MString, is a T_STRING entry of the object table)

_CONSTS = [NIL, UNSPECIFIED, EOF_OBJECT, DEFAULT, UNASSIGNED]
_REF = struct.Struct(">I")
_INT64 = (-(2**63), 2**64 - 1)

# ExtType values are made once and reused: building one costs a Python-level __new__
_CONST_EXT = {id(c): msgpack.ExtType(EXT_CONST, bytes([i])) for i, c in enumerate(_CONSTS)}
_REF_EXT = [msgpack.ExtType(EXT_REF, _REF.pack(i)) for i in range(4096)]
_SYM_EXT = {}  # interned Symbol -> its ExtType


class Env:
    """What the codec needs from the runtime: the code units, primitives and globals."""

    def __init__(self, interpreter):
        self.interp = interpreter
        self._global_of = None  # id(value) -> global name, see global_name
        self._cells_seen = 0
        self._fresh = False
        self.cont_level = None  # decode: the driver level given to continuations
        # the restricted procedures flow data may name when decoded without an
        # explicit Trust: None for any (the runtime's own store; import passes its grant)
        self.granted = None
        self._names_key = None
        self._names = frozenset()
        self._reachable = None  # ids of the values of referenced globals (see reachable)

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

    def record_procedures(self):
        """id(record type) -> {(kind, field)} of the record procedures bound to globals."""
        out = {}
        for cell in self.interp.genv.cells.values():
            v = getattr(cell, "value", None)
            if type(v) is RecordProcedure:
                out.setdefault(id(v.rtd), set()).add((v.kind, v.field))
        return out

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
        if t is complex:
            return msgpack.ExtType(EXT_COMPLEX, _COMPLEX.pack(x.real, x.imag))
        if t is ExactComplex:
            return msgpack.ExtType(EXT_EXACT_COMPLEX, _exact_part(x.real) + _exact_part(x.imag))
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
    n = (x.bit_length() + 8) // 8
    if n > MAX_INT_BYTES:
        raise CodecError(f"cannot save an exact number of more than {MAX_INT_BYTES * 8 - 1} bits")
    return x.to_bytes(n, "big", signed=True)


def _exact_part(x):
    """A part of an exact complex number: kind byte, length, integer or rational payload."""
    if type(x) is int:
        payload, kind = _int_bytes(x), b"\x00"
    else:
        num = _int_bytes(x.numerator)
        payload, kind = _REF.pack(len(num)) + num + _int_bytes(x.denominator), b"\x01"
    return kind + _REF.pack(len(payload)) + payload


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
    if t is MString:
        return [T_STRING, x.text()]
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

MAX_INT_BYTES = 4096  # an exact integer (or a rational's numerator/denominator): 32,768 bits, ~9,860 digits
MAX_TUPLE_DEPTH = 8  # tuples (frame data) nest at most 3 deep in what the machine makes
BUDGET_PER_BYTE = 40  # bytes of decoded objects allowed per byte of input ...
BUDGET_BASE = 1 << 20  # ... plus this
# hash-table key elements imaged per byte of input (a key that shares no structure
# with another takes more than a byte per element) ...
WORK_PER_BYTE = 1
WORK_BASE = 100_000  # ... plus this
MAX_UNITS = 100_000

_RAW_TAGS = frozenset({T_TUPLE, T_RECPROC, T_HASHTABLE})  # kept from pass 1, built on demand
# approximate bytes of memory one object's shell takes (its elements are charged apart)
# (and what checking it takes: an environment frame's entries in the sets of
# interp.frames.Environments, a frame's in the chain check, ...)
_SHELL_COST = {T_PAIR: 64, T_ENV: 200, T_VECTOR: 64, T_TUPLE: 64, T_BYTES: 64, T_CLOSURE: 64, T_FRAME: 200,
               T_CONT: 120, T_WINDER: 64, T_PARAM: 64, T_RECORD: 120, T_RTD: 120, T_RECPROC: 400,
               T_HASHTABLE: 240, T_MULTI: 120, T_ERROR: 160, T_STRING: 64}


class MissingUnit(Exception):
    def __init__(self, unit_hash, filename):
        super().__init__(f"code unit {unit_hash} ({filename}) is not loaded")
        self.unit_hash = unit_hash
        self.filename = filename


class Ref(int):
    """An object-table index read in pass 1 (told apart from an int value by type)."""

    __slots__ = ()


class _Lazy:
    """A reference (pass 2) to an object built on demand: frame data (a tuple)
    or a record procedure."""

    __slots__ = ("j",)

    def __init__(self, j):
        self.j = j


# field types that need a look (everything else is a Scheme value as it is)
_SPECIAL = frozenset({str, bytes, list, dict, tuple, Ref, _Lazy, Frame, Winder})


def _ref_hook(code, data):
    """Pass 1's ext_hook: references become Refs, other ext values wait as (code, data)."""
    if code == EXT_REF:
        if len(data) != 4:
            raise CodecError("malformed reference")
        return Ref(_REF.unpack(data)[0])
    return (code, data)


def _restricted_names():
    try:
        from interp.capabilities import is_restricted
    except ImportError:  # pragma: no cover - the capability list not there yet
        return _fallback_restricted
    return is_restricted


_FALLBACK_RESTRICTED = frozenset({
    "load", "eval", "environment", "interaction-environment", "scheme-report-environment", "null-environment",
    "system-global-environment", "exit", "emergency-exit", "open-input-file", "open-output-file",
    "open-binary-input-file", "open-binary-output-file", "with-input-from-file", "with-output-to-file",
    "call-with-input-file", "call-with-output-file", "delete-file", "file-exists?", "get-environment-variable",
    "get-environment-variables", "command-line",
})


def _fallback_restricted(name):  # pragma: no cover - see _restricted_names
    return name in _FALLBACK_RESTRICTED or name.startswith(("flow-", "flow/"))


class Trust:
    """How a graph being decoded is trusted.

    granted: the host-only (restricted) procedures it may name — None for any
    (the runtime's own store), a set of names otherwise (an import: the
    runtime's grant). foreign: the data comes from outside (an import): it is
    only checked, and thrown away — the symbol and character tables are left
    alone, process-local frames (interp.frames.LOCAL_RESUMER_FRAMES) are
    refused, and a code unit that is not loaded is reported (MissingUnit) only
    after everything else has been checked."""

    def __init__(self, granted=None, foreign=False):
        self.granted = granted
        self.foreign = foreign


def _coprime_fraction(num, den):
    """Fraction(num, den) for num and den known coprime (den > 1): no second gcd."""
    make = getattr(Fraction, "_from_coprime_ints", None)  # Python 3.12+
    if make is not None:
        return make(num, den)
    return Fraction(num, den, _normalize=False)


def host_only(name, granted):
    """Is name a restricted procedure that `granted` does not allow?"""
    return granted is not None and name not in granted and _restricted_names()(name)


def decode_graph(blob, env, shape=None, trust=None):
    """The graph encoded in blob (msgpack of [units, objects, root]).

    shape: None (root is any value), "continuation" (a tuple (k, winders,
    handlers, payload, params)), "data" ((args, payload, result)) or "journal"
    ((payload, answer)). Raises CodecError or MissingUnit."""
    if trust is None:
        trust = Trust(getattr(env, "granted", None))
    d = _Decoder(env, trust, len(blob))
    try:
        return d.run(blob, shape)
    except (CodecError, MissingUnit):
        raise
    except FrameError as e:
        raise CodecError(f"invalid continuation: {e}") from None
    except SchemeError as e:  # a hash-table key that cannot be imaged
        raise CodecError(f"malformed flow data ({e.message})") from None
    except (IndexError, TypeError, ValueError, KeyError, AttributeError, struct.error, UnicodeDecodeError,
            ArithmeticError, msgpack.UnpackException, msgpack.ExtraData) as e:
        raise CodecError(f"malformed flow data ({type(e).__name__}: {e})") from None
    except RecursionError:
        raise CodecError("malformed flow data (nested too deeply)") from None
    except MemoryError:
        raise CodecError("malformed flow data (out of memory)") from None


class _Decoder:
    def __init__(self, env, trust, size):
        self.env = env
        self.trust = trust
        self.left = BUDGET_PER_BYTE * size + BUDGET_BASE
        self.work = WORK_PER_BYTE * size + WORK_BASE
        self.symbols = {}  # uninterned symbols by name (foreign data)
        self.names = {}  # primitive/global name -> its value (checked)
        self.rtds = {}  # (name, fields) -> RecordType
        self.loaded_rtds = set()  # ids of the record types that are the loaded code's
        self.recprocs = None  # id(loaded RecordType) -> {(kind, field)} bound to globals
        self.missing = None  # (hash, file) of a code unit not loaded (foreign data)

    # -------------------------------------------------------------- budget

    def spend(self, n):
        self.left -= n
        if self.left < 0:
            raise CodecError("flow data too large for its size (it would take more memory than the "
                             f"limit of {BUDGET_PER_BYTE} bytes per byte of input)")

    # -------------------------------------------------------------- ext values

    def ext(self, code, data):
        if code == EXT_SYM:
            name = data.decode("utf-8", "surrogatepass")
            if not self.trust.foreign:
                return sym(name)
            s = self.symbols.get(name)
            if s is None:
                self.spend(240 + 2 * len(data))
                s = self.symbols[name] = Symbol(name)
            return s
        if code == EXT_CHAR:
            c = data.decode("utf-8", "surrogatepass")
            if len(c) != 1:
                raise CodecError("bad character")
            return Char(ord(c)) if self.trust.foreign else char(c)
        if code == EXT_CONST:
            if len(data) != 1 or data[0] >= len(_CONSTS):
                raise CodecError("bad constant")
            return _CONSTS[data[0]]
        if code == EXT_BIGINT:
            if not 0 < len(data) <= MAX_INT_BYTES:
                raise CodecError(f"bad integer (more than {MAX_INT_BYTES} bytes)" if data else "bad integer")
            self.spend(32 + len(data))
            return int.from_bytes(data, "big", signed=True)
        if code == EXT_FRACTION:
            return self.rational(data)
        if code == EXT_COMPLEX:
            if len(data) != _COMPLEX.size:
                raise CodecError("bad complex number")
            self.spend(32)
            return complex(*_COMPLEX.unpack(data))
        if code == EXT_EXACT_COMPLEX:
            return self.exact_complex(data)
        if code == EXT_PRIM:
            return self.named(data.decode("utf-8"), primitive=True)
        if code == EXT_GLOBAL:
            return self.named(data.decode("utf-8"), primitive=False)
        if code == EXT_REF:
            raise CodecError("malformed reference")
        raise CodecError(f"unknown ext type {code}")

    def exact_complex(self, data):
        parts = []
        i = 0
        for _ in range(2):
            if len(data) < i + 5 or data[i] > 1:
                raise CodecError("bad exact complex number")
            (size,) = _REF.unpack_from(data, i + 1)
            body = data[i + 5 : i + 5 + size]
            if len(body) != size or size == 0:
                raise CodecError("bad exact complex number")
            if data[i] == 0:
                parts.append(self.ext(EXT_BIGINT, body))
            else:
                parts.append(self.rational(body))
            i += 5 + size
        if i != len(data) or parts[1] == 0:  # an exact zero imaginary part is a real, never this
            raise CodecError("bad exact complex number")
        self.spend(48)
        return ExactComplex(parts[0], parts[1])

    def rational(self, data):
        if len(data) < 4:
            raise CodecError("bad rational")
        (size,) = _REF.unpack_from(data)
        if size + 4 > len(data) or not 0 < size <= MAX_INT_BYTES or len(data) - 4 - size > MAX_INT_BYTES:
            raise CodecError("bad rational" + (f" (more than {MAX_INT_BYTES} bytes)" if size + 4 <= len(data) else ""))
        num = int.from_bytes(data[4 : 4 + size], "big", signed=True)
        den = int.from_bytes(data[4 + size :], "big", signed=True)
        if den <= 1 or num == 0:
            raise CodecError("bad rational")
        if gcd(num, den) != 1:  # sizes are bounded, so this is cheap enough
            raise CodecError("bad rational (not in lowest terms)")
        self.spend(96 + len(data))
        return _coprime_fraction(num, den)

    def named(self, name, primitive):
        key = (name, primitive)
        v = self.names.get(key)
        if v is not None:
            return v
        env = self.env
        what = "primitive" if primitive else "global"
        referenced = env.referenced(name, fresh=not self.names)  # (the units looked at once per graph)
        if primitive:
            v = env.known_primitive(name, referenced)
            if v is None:
                raise CodecError(f"unknown primitive {name!r}")
        else:
            if not referenced:
                raise CodecError(f"the global {name!r} is not used by any loaded code: flow data cannot name it")
            v = env.global_value(name)
            if v is None:
                raise CodecError(f"unknown global {name!r}")
        if host_only(name, self.trust.granted):
            raise CodecError(f"the {what} {name!r} is a host-only procedure that flow code is not granted: "
                             "flow data cannot name it")
        if not referenced and not env.reachable(v):
            raise CodecError(f"the {what} {name!r} is not used by any loaded code: flow data cannot name it")
        if not primitive and not (type(v) is Parameter or type(v).__name__.endswith("Port")):
            raise CodecError(f"global {name!r} is not a parameter or port: it cannot be named in flow data")
        self.names[key] = v
        return v

    # -------------------------------------------------------------- the graph

    def run(self, blob, shape):
        if not isinstance(blob, (bytes, bytearray)):
            raise CodecError("malformed flow data (not bytes)")
        size = max(len(blob), 1)
        opts = dict(raw=False, strict_map_key=True, unicode_errors="surrogatepass",
                    max_buffer_size=size, read_size=min(size, 1 << 20))
        u = msgpack.Unpacker(io.BytesIO(blob), ext_hook=_ref_hook, **opts)
        if u.read_array_header() != 3:
            raise CodecError("malformed flow data (expected [units, objects, root])")
        self.units(u.unpack())
        n = u.read_array_header()
        self.pass1(u, n)
        del u
        v = msgpack.Unpacker(io.BytesIO(blob), ext_hook=self.hook, **opts)
        v.read_array_header()
        v.skip()
        v.read_array_header()
        self.pass2(v, n)
        root = v.unpack()
        if v.tell() != len(blob):
            raise CodecError("malformed flow data (trailing bytes)")
        out = self.root(root, shape)
        self.validate()
        if self.missing is not None:
            raise MissingUnit(*self.missing)
        return out

    def hook(self, code, data):
        """Pass 2's ext_hook: a reference is the object itself (a _Lazy for one
        built on demand), other ext values are decoded."""
        if code == EXT_REF:
            (j,) = _REF.unpack(data)
            if j >= self.n:
                raise CodecError(f"reference {j} out of range")
            s = self.shells[j]
            return _Lazy(j) if s is None else s
        if code == EXT_SYM:
            s = self.symcache.get(data)
            if s is not None:
                return s
            s = self.symcache[data] = self.ext(code, data)
            return s
        return self.ext(code, data)

    def units(self, units):
        if type(units) is not list or len(units) > MAX_UNITS:
            raise CodecError("malformed flow data (units)")
        self.loaded = []
        for u in units:
            if type(u) is not list or len(u) != 2 or type(u[0]) is not str or type(u[1]) is not str:
                raise CodecError("malformed flow data (a code unit is not [hash, file])")
            self.spend(64 + len(u[0]) + len(u[1]))
            self.loaded.append((self.env.unit(u[0]), u[0], u[1]))

    def node_of(self, ui, nid):
        if type(ui) is not int or not 0 <= ui < len(self.loaded):
            raise CodecError(f"code unit {ui!r} is not in the flow data's unit list")
        unit, h, filename = self.loaded[ui]
        if unit is None:
            if not self.trust.foreign:
                raise MissingUnit(h, filename)
            # an import: check everything else (names, data) before saying so
            if self.missing is None:
                self.missing = (h, filename)
            return None
        if not (type(nid) is int and 0 <= nid < len(unit.nodes)):
            raise CodecError(f"node {nid} does not exist in code unit {h}")
        return unit.nodes[nid]

    def pass1(self, u, n):
        """Shells: one object per table entry, of its kind, fields empty. Entries
        are read field by field: fields not needed yet are skipped, not built."""
        self.n = n
        self.spend(9 * n)
        tags = self.tags = bytearray(n)
        shells = self.shells = [None] * n
        raw = self.raw = {}
        frames = self.frames = []
        self.placeholders = []  # frames of code units not loaded (an import)
        closures = self.closures = []
        self.conts = []
        self.winders = []
        self.params = []
        self.env_ids = env_ids = set()
        cost = _SHELL_COST
        ra, up, sk = u.read_array_header, u.unpack, u.skip
        left = self.left
        for i in range(n):
            m = ra()
            if m == 0:
                raise CodecError(f"malformed object {i}")
            tag = up()
            c = cost.get(tag) if type(tag) is int else None
            if c is None:
                raise CodecError(f"object {i}: unknown tag {tag!r}")
            left -= c + 8 * m
            if left < 0:
                self.left = left
                self.spend(0)
            if tag == T_PAIR:
                if m != 3:
                    raise CodecError(f"object {i}: malformed pair")
                sk()
                sk()
                shells[i] = Pair(None, None)
                tags[i] = tag
                continue
            if tag == T_ENV or tag == T_VECTOR or tag == T_RECORD or tag == T_MULTI:
                if m < 2 and tag != T_VECTOR and tag != T_MULTI:
                    raise CodecError(f"object {i}: malformed {'record' if tag == T_RECORD else 'environment frame'}")
                for _ in range(m - 1):
                    sk()
                if tag == T_ENV:
                    s = []
                    env_ids.add(id(s))
                elif tag == T_VECTOR:
                    s = Vector()
                elif tag == T_RECORD:
                    s = Record(None, [])
                else:
                    s = MultipleValues([])
                shells[i] = s
                tags[i] = tag
                continue
            e = [tag]
            for _ in range(m - 1):
                e.append(up())
            self.left = left
            s = self.shell(i, tag, e, m)
            left = self.left
            tags[i] = tag
            shells[i] = s
        self.left = left
        self.done_tuples = {}
        self.winder_pairs = []
        self.symcache = {}

    def shell(self, i, tag, e, m):
        if tag == T_TUPLE or tag == T_RECPROC or tag == T_HASHTABLE:
            if tag == T_RECPROC and m != 5:
                raise CodecError(f"object {i}: malformed record procedure")
            if tag == T_HASHTABLE and (m % 2 or type(e[1]) is not str or e[1] not in ("equal", "eqv")):
                raise CodecError(f"object {i}: malformed hash table")
            self.raw[i] = e
            return HashTable(e[1]) if tag == T_HASHTABLE else None
        if tag == T_BYTES:
            if m != 2 or type(e[1]) is not bytes:
                raise CodecError(f"object {i}: malformed bytevector")
            self.spend(len(e[1]))
            return bytearray(e[1])
        if tag == T_STRING:
            if m != 2 or type(e[1]) is not str:
                raise CodecError(f"object {i}: malformed string")
            self.spend(49 + len(e[1]))
            return MString(e[1])
        if tag == T_CLOSURE:
            if m != 4:
                raise CodecError(f"object {i}: malformed closure")
            node = self.node_of(e[1], e[2])
            if node is None:  # its unit is not loaded (see node_of)
                return Closure(None, None)
            if type(node) is not Lambda:
                raise CodecError(f"object {i}: node {e[2]} is not a lambda")
            if node.info is None:
                node.compile()
            s = Closure(node.info, None)
            self.closures.append(s)
            return s
        if tag == T_FRAME:
            if m != 5:
                raise CodecError(f"object {i}: malformed frame")
            where = e[1]
            if type(where) is str:
                node = RESUMERS.get(where)
                if node is None:
                    raise CodecError(f"unknown continuation step {where!r}")
            elif type(where) is list and len(where) == 2:
                node = self.node_of(where[0], where[1])
            else:
                raise CodecError(f"object {i}: malformed frame")
            if node is None:  # its unit is not loaded (see node_of)
                s = Frame(None, None, None, None)
                self.placeholders.append(s)
                return s
            if frame_kind(node, not self.trust.foreign) is None:
                if type(node) is Resumer:
                    raise CodecError(f"invalid continuation: a frame of the builtin step {where!r}, "
                                     "which is never part of a saved continuation")
                raise CodecError(f"invalid continuation: a frame of node {where[1]} (a {type(node).__name__}), "
                                 "which never pushes one")
            if type(node) is not Resumer and node.code is None:
                node.compile()
            s = Frame(node, None, None, None)
            self.frames.append(s)
            return s
        if tag == T_CONT:
            level = e[4] if m == 5 else None
            # a driver level: 1 (the outermost driver) or more; a lower one would be
            # handed past every driver and escape from the host's call as a raw Throw
            if type(level) is not int or not 1 <= level < 1 << 31:
                raise CodecError(f"object {i}: malformed continuation")
            s = ContinuationProcedure(None, NIL, NIL, level if self.env.cont_level is None else self.env.cont_level)
            self.conts.append(s)
            return s
        if tag == T_WINDER:
            if m != 3:
                raise CodecError(f"object {i}: malformed dynamic-wind")
            s = Winder(None, None)
            self.winders.append(s)
            return s
        if tag == T_PARAM:
            if m != 3:
                raise CodecError(f"object {i}: malformed parameter")
            s = Parameter(None, None)
            self.params.append(s)
            return s
        if tag == T_RTD:
            if m != 3 or type(e[1]) is not str or type(e[2]) is not list or not all(type(f) is str for f in e[2]):
                raise CodecError(f"object {i}: malformed record type")
            key = (e[1], tuple(e[2]))
            s = self.rtds.get(key)
            if s is None:
                s = self.env.record_type(*key)
                if s is not None:
                    self.loaded_rtds.add(id(s))
                else:
                    self.spend(sum(len(f) + 64 for f in e[2]))
                    s = RecordType(*key)
                self.rtds[key] = s
            return s
        if tag == T_ERROR:
            if m != 4 or type(e[1]) is not str or type(e[2]) is not list or type(e[3]) is not str:
                raise CodecError(f"object {i}: malformed error object")
            self.spend(len(e[1]) + len(e[3]))
            return ErrorObject(e[1], [], e[3])
        raise CodecError(f"object {i}: unknown tag {tag!r}")  # pragma: no cover - see _SHELL_COST

    # -------------------------------------------------------------- fields by position

    def raw_item(self, x):
        """An item of an entry kept from pass 1 (Refs, deferred ext values) as pass 2 reads it."""
        t = type(x)
        if t is Ref:
            if x >= self.n:
                raise CodecError(f"reference {x} out of range")
            s = self.shells[x]
            return _Lazy(x) if s is None else s
        if t is tuple:
            return self.ext(*x)
        return x

    def value(self, x, where="a value"):
        t = type(x)
        if t not in _SPECIAL:
            return x
        if t is str:
            self.spend(49 + len(x))
            return x
        if t is bytes:
            self.spend(64 + len(x))
            return bytearray(x)
        if t is _Lazy:
            if self.tags[x.j] == T_RECPROC:
                return self.recproc_of(x.j)
            raise CodecError(f"frame data (object {x.j}) where {where} belongs")
        if t is Ref or t is tuple:  # from an entry kept from pass 1
            return self.value(self.raw_item(x), where)
        if t is list:
            if id(x) in self.env_ids:
                raise CodecError(f"an environment frame where {where} belongs")
            raise CodecError(f"malformed flow data (an array where {where} belongs)")
        if t is dict:
            raise CodecError(f"malformed flow data (a map where {where} belongs)")
        names = {Frame: "a continuation frame", Winder: "a dynamic-wind"}
        raise CodecError(f"{names.get(t, type(x).__name__)} where {where} belongs")

    def env_of(self, x, where):
        if type(x) is Ref:
            x = self.raw_item(x)
        if x is None or (type(x) is list and id(x) in self.env_ids):
            return x
        raise CodecError(f"malformed flow data (no environment frame where {where}'s environment belongs)")

    def frame_of(self, x, where):
        if type(x) is Ref:
            x = self.raw_item(x)
        if x is None or type(x) is Frame:
            return x
        raise CodecError(f"malformed flow data (no frame where {where} belongs)")

    def rtd_of(self, x, where):
        if type(x) is Ref:
            x = self.raw_item(x)
        if type(x) is not RecordType:
            raise CodecError(f"malformed flow data (no record type where {where} belongs)")
        return x

    def data(self, x, depth=0):
        """Frame data: a value or a tuple (of such)."""
        t = type(x)
        if t is Ref or t is tuple:
            x = self.raw_item(x)
            t = type(x)
        if t is _Lazy and self.tags[x.j] == T_TUPLE:
            return self.tuple_of(x.j, depth)
        return self.value(x, "frame data")

    def tuple_of(self, j, depth):
        t = self.done_tuples.get(j)
        if t is None:
            if depth > MAX_TUPLE_DEPTH:
                raise CodecError("malformed flow data (frame data nested too deeply)")
            self.done_tuples[j] = False  # in progress
            items = self.raw[j]
            self.spend(160 + 8 * len(items))
            t = self.done_tuples[j] = tuple([self.data(v, depth + 1) for v in items[1:]])
        elif t is False:
            raise CodecError(f"object {j}: a tuple that contains itself")
        return t

    def recproc_of(self, j):
        s = self.shells[j]
        if s is None:
            e = self.raw[j]
            rtd = self.rtd_of(e[1], "a record procedure's record type")
            kind, field, name = e[2], e[3], e[4]
            if type(kind) is not str or type(name) is not str:
                raise CodecError(f"object {j}: malformed record procedure")
            if type(field) is list:
                if not all(type(f) is str for f in field):
                    raise CodecError(f"object {j}: malformed record procedure")
                field = tuple(field)
            elif not (field is None or type(field) is str):
                raise CodecError(f"object {j}: malformed record procedure")
            if kind not in ("constructor", "predicate", "accessor", "modifier"):
                raise CodecError(f"object {j}: unknown record procedure kind {kind!r}")
            self.check_recproc(rtd, kind, field, j)
            s = self.shells[j] = record_procedure(rtd, kind, field, name)
        return s

    def check_recproc(self, rtd, kind, field, j):
        """A record procedure of a loaded record type must be one the code defined."""
        if id(rtd) not in self.loaded_rtds:
            return  # a record type of the flow's own: its instances are the flow's own
        if self.recprocs is None:
            self.recprocs = self.env.record_procedures()
        if (kind, field) not in self.recprocs.get(id(rtd), ()):
            raise CodecError(f"object {j}: a {kind} of record type {rtd.name} that no loaded code defines")

    def pass2(self, u, n):
        """Fields, in table order."""
        tags = self.tags
        shells = self.shells
        value = self.value
        special = _SPECIAL
        up, sk = u.unpack, u.skip
        skipped = _RAW_TAGS | {T_BYTES, T_RTD, T_STRING}
        for i in range(n):
            tag = tags[i]
            if tag in skipped:
                sk()
                continue
            e = up()
            s = shells[i]
            if tag == T_PAIR:
                car = e[1]
                t = type(car)
                if t in special:
                    if t is Winder:
                        self.winder_pairs.append(s)
                    else:
                        car = value(car)
                cdr = e[2]
                s.car = car
                s.cdr = value(cdr) if type(cdr) in special else cdr
            elif tag == T_VECTOR:
                s.extend([value(v) if type(v) in special else v for v in e[1:]])
            elif tag == T_ENV:
                s.extend([value(v, "a variable's value") if type(v) in special else v for v in e[1:-1]])
                s.append(self.env_of(e[-1], "an environment frame"))
            elif tag == T_CLOSURE:
                s.env = self.env_of(e[3], "a closure")
            elif tag == T_FRAME:
                s.env = self.env_of(e[2], "a frame")
                s.data = self.data(e[3])
                s.next = self.frame_of(e[4], "a frame's continuation")
            elif tag == T_CONT:
                s.k = self.frame_of(e[1], "a continuation's frames")
                s.winders = value(e[2])
                s.handlers = value(e[3])
            elif tag == T_WINDER:
                s.before = value(e[1])
                s.after = value(e[2])
            elif tag == T_PARAM:
                s.value = value(e[1])
                s.converter = value(e[2])
            elif tag == T_RECORD:
                rtd = self.rtd_of(e[1], "a record's type")
                if len(e) - 2 != len(rtd.fields):
                    raise CodecError(f"object {i}: malformed record")
                s.rtd = rtd
                s.values = [value(v) for v in e[2:]]
            elif tag == T_MULTI:
                s.items = [value(v) for v in e[1:]]
            elif tag == T_ERROR:
                s.irritants = [value(v) for v in e[2]]
        # record procedures and hash tables (their keys must be complete first)
        for j in self.raw:
            if tags[j] == T_RECPROC:
                self.recproc_of(j)
        for j, e in self.raw.items():
            if tags[j] == T_HASHTABLE:
                self.fill_table(shells[j], e, j)

    def fill_table(self, table, e, j):
        flat = e[2:]
        equal_kind = table.kind == "equal"
        for k in range(0, len(flat), 2):
            key = self.value(flat[k])
            if equal_kind:
                self.charge_key(key)
            if table.contains(key):
                raise CodecError(f"object {j}: a hash table with a key twice")
            table.set(key, self.value(flat[k + 1]))

    def charge_key(self, key):
        """Charge the elements an equal? table visits to image key to the work budget."""
        stack = [key]
        while stack:
            x = stack.pop()
            t = type(x)
            if t is Pair:
                self.work -= 1
                stack.append(x.cdr)
                stack.append(x.car)
            elif t is Vector:
                self.work -= 1 + len(x)
                stack.extend(x)
            else:
                continue
            if self.work < 0:
                raise CodecError("hash table keys too large for the flow data's size")

    def root(self, x, shape):
        if shape is None:
            return self.data(x)
        sizes = {"continuation": 5, "data": 3, "journal": 2}
        if type(x) is not _Lazy or self.tags[x.j] != T_TUPLE or len(self.raw[x.j]) - 1 != sizes[shape]:
            self.data(x)  # what is wrong inside, if anything
            raise CodecError(f"malformed {'continuation' if shape == 'continuation' else 'flow data'}")
        items = [self.raw_item(v) for v in self.raw[x.j][1:]]
        if shape == "journal":
            return tuple(self.value(v) for v in items)
        if shape == "data":
            args = items[0]
            if type(args) is not _Lazy or self.tags[args.j] != T_TUPLE:
                raise CodecError("malformed flow data (arguments)")
            args = tuple(self.value(self.raw_item(v)) for v in self.raw[args.j][1:])
            return (args, self.value(items[1]), self.value(items[2]))
        k = self.frame_of(items[0], "a continuation's frames")
        winders = self.value(items[1])
        handlers = self.value(items[2])
        self.root_state = (winders, handlers)
        payload = self.data(items[3])  # the suspension's payload: the request's arguments
        params = items[4]
        if type(params) is not _Lazy or self.tags[params.j] != T_TUPLE:
            raise CodecError("malformed parameter bindings")
        bindings = []
        for b in self.raw[params.j][1:]:
            b = self.raw_item(b)
            if type(b) is not _Lazy or self.tags[b.j] != T_TUPLE or len(self.raw[b.j]) != 3:
                raise CodecError("malformed parameter bindings")
            p, v = (self.raw_item(y) for y in self.raw[b.j][1:])
            p = self.value(p)
            if type(p) is not Parameter:
                raise CodecError("malformed parameter bindings")
            bindings.append((p, self.value(v)))
        return (k, winders, handlers, payload, tuple(bindings))

    def validate(self):
        """Everything is in place: check the graph is one the loaded code makes."""
        envs = Environments()
        seen_w, seen_h = set(), set()
        local = not self.trust.foreign
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
        state = getattr(self, "root_state", None)
        if state is not None:
            check_winders(state[0], seen_w)
            check_handlers(state[1], seen_h)
        for p in self.winder_pairs:
            if id(p) not in seen_w:
                raise CodecError("invalid continuation: a dynamic-wind outside the dynamic state")
        for w in self.winders:
            check_winder(w)
        for p in self.params:
            check_parameter(p)
