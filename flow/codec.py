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
made (see interp.graph, which takes each kind of object apart and builds
it back, and interp.frames):

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
import re
import struct
import threading
from fractions import Fraction
from math import gcd

import msgpack

from interp.barrier import WATCHED
from interp.errors import SchemeError
from interp.graph import (
    CHAR,
    CONSTANTS,
    EXACT_COMPLEX,
    FRAME,
    KINDS,
    NOT_VALUES,
    PRIMITIVES,
    RECORD_TYPE,
    SYMBOL,
    GraphError,
    Names,
    Rebuilt,
    by_global_name,
    character,
    exact_complex,
    is_parameter,
    symbol,
    symbol_name,
    unsaveable,
)


class CodecError(Exception):
    """The data cannot be encoded (an unsaveable object) or decoded (malformed)."""


# ext type codes (inline values)
EXT_REF, EXT_SYM, EXT_CHAR, EXT_CONST, EXT_BIGINT, EXT_FRACTION, EXT_PRIM, EXT_GLOBAL = range(8)
# complex numbers: an inexact one as two big-endian doubles; an exact one as its real and
# imaginary parts, each a kind byte (0 integer, 1 rational), a 4-byte length and the
# EXT_BIGINT / EXT_FRACTION payload
EXT_COMPLEX, EXT_EXACT_COMPLEX = 8, 9
# a string that is a value of the flow's journal: the entry's index (4 bytes, big-endian)
# and which value (1 byte: 0 its payload, 1 its answer) — written once, in the journal
EXT_JOURNAL = 10
LARGE_STRING = 1024  # strings at least this long are referred to where the journal has them
_JOURNAL_REF = struct.Struct(">IB")
_COMPLEX = struct.Struct(">dd")
# object table tags
(T_PAIR, T_VECTOR, T_ENV, T_BYTES, T_CLOSURE, T_FRAME, T_TUPLE, T_CONT, T_WINDER, T_PARAM,
 T_RECORD, T_RTD, T_RECPROC, T_HASHTABLE, T_MULTI, T_ERROR, T_STRING) = range(1, 18)
# (a str is an inline msgpack string: immutable, so sharing it needs no identity; a
# mutable string, interp.values.MString, is a T_STRING entry of the object table)


# the object table's tags: one per kind of interp.graph (the wire format: never renumber)
_WIRE = ((T_PAIR, "pair"), (T_VECTOR, "vector"), (T_ENV, "environment"), (T_BYTES, "bytevector"),
         (T_CLOSURE, "closure"), (T_FRAME, "frame"), (T_TUPLE, "tuple"), (T_CONT, "continuation"),
         (T_WINDER, "winder"), (T_PARAM, "parameter"), (T_RECORD, "record"), (T_RTD, "record-type"),
         (T_RECPROC, "record-procedure"), (T_HASHTABLE, "hash-table"), (T_MULTI, "multiple-values"),
         (T_ERROR, "error"), (T_STRING, "string"))
_KIND = {tag: KINDS[name] for tag, name in _WIRE}  # tag -> its interp.graph kind
_PARTS = {k.type: (tag, k.parts) for tag, k in _KIND.items()}  # Python type -> (tag, take apart)

_CONSTS = list(CONSTANTS)
_REF = struct.Struct(">I")
_INT64 = (-(2**63), 2**64 - 1)

# ExtType values are made once and reused: building one costs a Python-level __new__
_CONST_EXT = {id(c): msgpack.ExtType(EXT_CONST, bytes([i])) for i, c in enumerate(_CONSTS)}
_REF_EXT = [msgpack.ExtType(EXT_REF, _REF.pack(i)) for i in range(4096)]
_SYM_EXT = {}  # interned Symbol -> its ExtType


class Env(Names):
    """What the codec needs from the runtime: the code units, primitives and
    globals (interp.graph.Names), and the restricted procedures flow data may
    name when decoded without an explicit Trust: None for any (the runtime's
    own store; import passes its grant)."""

    def __init__(self, interpreter):
        super().__init__(interpreter)
        self.granted = None


# ------------------------------------------------------------------ encoding

# the types whose objects can change in place: a Heap watches them (interp.barrier)
MUTABLE = frozenset(k.type for k in KINDS.values() if k.mutable)
_WATCHING = threading.Lock()  # heaps (of any runtime, any thread) registering or dropping watches


class Heap:
    """The object table of one saved graph of a flow, kept between commits so
    that the next commit encodes only what is new or changed (flow.pieces).

    `index` maps id(object) -> its index in the table as last committed (its
    stable id until the next full encode), `keep` holds those objects in index
    order (alive, so their id()s stay theirs; its length is the table's), and
    `units` is the table's code-unit list (only ever appended to). The
    invariant: the entry committed at index[id(x)] describes x as it is now,
    unless x is in `dirty`.

    Mutable objects are watched through interp.barrier.WATCHED: a change made
    while the heap is `active` (its flow's step runs) marks the object dirty;
    one made at any other time (by other code that holds the object) makes the
    heap `stale`: its flow must then be read back from the store.

    Strings are values (immutable): they are written inline, except a large one
    the flow's journal holds (an answer or payload), written as a reference to
    its journal entry, so that it is stored once however often it is kept."""

    __slots__ = ("index", "keep", "units", "unit_index", "dirty", "active", "stale", "watched")

    def __init__(self):
        self.index = {}
        self.keep = []
        self.units = []
        self.unit_index = {}
        self.dirty = {}  # id(object) -> object changed since the last commit
        self.active = False
        self.stale = False
        self.watched = 0  # how many of `keep` (oldest first) are registered with the write barrier

    def touched(self, obj):
        if self.active:
            self.dirty[id(obj)] = obj
        else:
            self.stale = True

    def watch(self):
        """Register the heap's mutable objects not registered yet with the write barrier."""
        watched, mutable, keep = WATCHED, MUTABLE, self.keep
        with _WATCHING:
            for j in range(self.watched, len(keep)):
                x = keep[j]
                if type(x) in mutable:
                    k = id(x)
                    w = watched.get(k)
                    if w is None:
                        watched[k] = self
                    elif w is not self:
                        watched[k] = _Shared.of(w, self)
            self.watched = len(keep)

    def release(self):
        """Stop watching (the heap is dropped)."""
        watched, mutable, keep = WATCHED, MUTABLE, self.keep
        with _WATCHING:
            for j in range(self.watched):
                x = keep[j]
                if type(x) in mutable:
                    k = id(x)
                    w = watched.get(k)
                    if w is self:
                        del watched[k]
                    elif type(w) is _Shared:
                        w.drop(self, k)
            self.watched = 0
        self.stale = True


class _Shared:
    """The watcher of an object in several heaps (shared between flows' graphs)."""

    __slots__ = ("heaps",)

    def __init__(self, heaps):
        self.heaps = heaps

    @classmethod
    def of(cls, w, heap):
        if type(w) is cls:
            if heap not in w.heaps:
                w.heaps.append(heap)
            return w
        return cls([w, heap])

    def touched(self, obj):
        for h in list(self.heaps):
            h.touched(obj)

    def drop(self, heap, k):
        if heap in self.heaps:
            self.heaps.remove(heap)
        if len(self.heaps) == 1:
            WATCHED[k] = self.heaps[0]
        elif not self.heaps:
            del WATCHED[k]


def journal_ref(index, which):
    """The reference to the payload (which 0) or answer (which 1) of journal entry `index`."""
    return msgpack.ExtType(EXT_JOURNAL, _JOURNAL_REF.pack(index, which))


def encode(root, env, shared=None, heap=None):
    """-> (units, objects, encoded_root). Raises CodecError for unsaveable objects.
    shared: {string: journal_ref(...)} of the journal's large strings, written as
    references (see Heap). heap: an empty Heap that keeps the table (for pieces
    encoded against it later: encode_into)."""
    units, changes, encoded, n = encode_into(root, env, Heap() if heap is None else heap, shared)
    objects = [None] * n
    for i, e in changes:
        objects[i] = e
    return units, objects, encoded


def encode_into(root, env, heap, shared=None):
    """Encode root against heap -> (units, changes, encoded_root, n): the
    entries [(index, entry)] of the objects new since the heap's last encode or
    changed (dirty) since, the root, and the table's new length. Objects the
    heap has are referred to, not encoded again (new ones are registered with
    the write barrier by heap.watch(), when the caller keeps the heap). Raises CodecError for unsaveable
    objects (the heap is then unusable: drop it)."""
    try:
        return _encode(root, env, heap, shared)
    except GraphError as e:
        raise CodecError(str(e)) from None


def _encode(root, env, heap, shared):
    env.begin()
    units = heap.units
    unit_index = heap.unit_index
    index = heap.index
    keep = heap.keep
    todo = []
    changes = []

    def unit_ref(node):
        u = node.unit
        i = unit_index.get(u.hash)
        if i is None:
            i = unit_index[u.hash] = len(units)
            units.append([u.hash, u.filename or "<string>"])
        return i

    def ref(x):
        t = type(x)
        if t is str:
            if shared and len(x) >= LARGE_STRING:
                return shared.get(x, x)
            return x
        if x is None or t is bool or t is float:
            return x
        if t is int:
            if _INT64[0] <= x <= _INT64[1]:
                return x
            return msgpack.ExtType(EXT_BIGINT, _int_bytes(x))
        if t is SYMBOL:
            e = _SYM_EXT.get(x)
            if e is None:
                e = _SYM_EXT[x] = msgpack.ExtType(EXT_SYM, symbol_name(x).encode("utf-8", "surrogatepass"))
            return e
        if t is CHAR:
            return msgpack.ExtType(EXT_CHAR, chr(x.code).encode("utf-8", "surrogatepass"))
        e = _CONST_EXT.get(id(x))
        if e is not None:
            return e
        if t is Fraction:  # numerator and denominator as signed big-endian bytes
            num = _int_bytes(x.numerator)
            return msgpack.ExtType(EXT_FRACTION, _REF.pack(len(num)) + num + _int_bytes(x.denominator))
        if t is complex:
            return msgpack.ExtType(EXT_COMPLEX, _COMPLEX.pack(x.real, x.imag))
        if t is EXACT_COMPLEX:
            return msgpack.ExtType(EXT_EXACT_COMPLEX, _exact_part(x.real) + _exact_part(x.imag))
        if t in PRIMITIVES:
            if env.primitive(x.name) is not x:
                raise CodecError(f"cannot save the host procedure {x.name}: it is not a named primitive")
            return msgpack.ExtType(EXT_PRIM, x.name.encode())
        i = index.get(id(x))
        if i is None:
            if by_global_name(t):
                name = env.global_name(x)
                if name is not None:
                    return msgpack.ExtType(EXT_GLOBAL, name.encode())
            i = index[id(x)] = len(keep)
            keep.append(x)
            todo.append((i, x))
        return _REF_EXT[i] if i < 4096 else msgpack.ExtType(EXT_REF, _REF.pack(i))

    if heap.dirty:
        for k, x in heap.dirty.items():
            i = index.get(k)
            if i is not None:
                todo.append((i, x))
        heap.dirty = {}
    encoded_root = ref(root)
    kinds = _PARTS
    while todo:
        i, x = todo.pop()
        k = kinds.get(type(x))
        if k is None:
            raise unsaveable(x)
        changes.append((i, k[1](x, k[0], ref, unit_ref)))
    return units, changes, encoded_root, len(keep)


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

# per tag: its interp.graph kind
_KIND_OF = [_KIND.get(t) for t in range(max(_KIND) + 1)]
# pass 1: (kind, shell size, min fields, max fields + 1, new (a shell made empty) or None, is_env)
_PASS1 = [None if k is None else (k, k.size, k.arity[0], (1 << 62) if k.arity[1] is None else k.arity[1] + 1,
                                  k.new if k.early is False else None, k.is_env) for k in _KIND_OF]
_FILL_OF = [None if k is None or k.early is None else k.fill_one for k in _KIND_OF]
_LONG_RUNS = re.compile(rb"(.)\1{31,}", re.S)  # runs of 32 or more objects of one tag in the table


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
# field types that need a look (everything else is a Scheme value as it is)
_SPECIAL = frozenset({str, bytes, list, dict, tuple, Ref, _Lazy, *NOT_VALUES})


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


def decode_graph(blob, env, shape=None, trust=None, cont_level=None, journal=None):
    """The graph encoded in blob (msgpack of [units, objects, root]).

    shape: None (root is any value), "continuation" (a tuple (k, winders,
    handlers, payload, params)), "data" ((args, payload, result)) or "journal"
    ((payload, answer)). cont_level: the driver level given to the continuation
    procedures (call/cc's) in it (None: the level each was saved with).
    journal: journal(index, which) -> the string a journal reference stands for
    (raising CodecError when there is none); None: the graph may hold none.
    Raises CodecError or MissingUnit."""
    if trust is None:
        trust = Trust(getattr(env, "granted", None))
    d = _Decoder(env, trust, len(blob), cont_level, journal)
    try:
        return d.run(blob, shape)
    except (CodecError, MissingUnit):
        raise
    except GraphError as e:
        raise CodecError(str(e)) from None
    except SchemeError as e:  # (a hash-table key that cannot be imaged: see interp.graph)
        raise CodecError(f"malformed flow data ({e.message})") from None
    except (IndexError, TypeError, ValueError, KeyError, AttributeError, struct.error, UnicodeDecodeError,
            ArithmeticError, msgpack.UnpackException, msgpack.ExtraData) as e:
        raise CodecError(f"malformed flow data ({type(e).__name__}: {e})") from None
    except RecursionError:
        raise CodecError("malformed flow data (nested too deeply)") from None
    except MemoryError:
        raise CodecError("malformed flow data (out of memory)") from None


class _Decoder:
    """Reads the object table twice; the reader interp.graph's kinds fill their shells through."""

    special = _SPECIAL

    def __init__(self, env, trust, size, cont_level=None, journal=None):
        self.env = env
        self.names = env  # (interp.graph's reader: the runtime's names)
        self.trust = trust
        self.local = not trust.foreign
        self.cont_level = cont_level
        self.left = BUDGET_PER_BYTE * size + BUDGET_BASE
        self.work = WORK_PER_BYTE * size + WORK_BASE
        self.symbols = {}  # uninterned symbols by name (foreign data)
        self.journal = journal
        self.named_values = {}  # (name, primitive?) -> its value (checked)
        self.rebuilt = Rebuilt()
        self.missing = None  # (hash, file) of a code unit not loaded (foreign data)

    # -------------------------------------------------------------- budget

    def spend(self, n):
        self.left -= n
        if self.left < 0:
            raise CodecError("flow data too large for its size (it would take more memory than the "
                             f"limit of {BUDGET_PER_BYTE} bytes per byte of input)")

    # -------------------------------------------------------------- ext values

    def ext(self, code, data):
        if code == EXT_JOURNAL:
            if len(data) != _JOURNAL_REF.size or data[4] > 1:
                raise CodecError("malformed journal reference")
            if self.journal is None:
                raise CodecError("a journal reference where the flow's journal is not at hand")
            v = self.journal(*_JOURNAL_REF.unpack(data))
            self.spend(49 + len(v))
            return v
        if code == EXT_SYM:
            name = data.decode("utf-8", "surrogatepass")
            if self.trust.foreign and name not in self.symbols:
                self.spend(240 + 2 * len(data))
            return symbol(name, self.trust.foreign, self.symbols)
        if code == EXT_CHAR:
            c = data.decode("utf-8", "surrogatepass")
            if len(c) != 1:
                raise CodecError("bad character")
            return character(c, self.trust.foreign)
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
        return exact_complex(parts[0], parts[1])

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
        v = self.named_values.get(key)
        if v is not None:
            return v
        env = self.env
        what = "primitive" if primitive else "global"
        referenced = env.referenced(name, fresh=not self.named_values)  # (the units looked at once per graph)
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
        if not primitive and not env.nameable_global(v):
            raise CodecError(f"global {name!r} is not a parameter or port: it cannot be named in flow data")
        self.named_values[key] = v
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

    node = node_of  # (interp.graph's reader)

    def pass1(self, u, n):
        """Shells: one object per table entry, of its kind, fields empty. Entries
        are read field by field: fields not needed yet are skipped, not built."""
        self.n = n
        self.spend(9 * n)
        tags = self.tags = bytearray(n)
        shells = self.shells = [None] * n
        raw = self.raw = {}  # entries kept from pass 1: built on demand (early None) or last
        env_ids = self.env_ids = set()
        kinds = _PASS1
        nkinds = len(kinds)
        ra, up, sk = u.read_array_header, u.unpack, u.skip
        left = self.left
        for i in range(n):
            m = ra()
            if m == 0:
                raise CodecError(f"malformed object {i}")
            tag = up()
            info = kinds[tag] if type(tag) is int and 0 <= tag < nkinds else None
            if info is None:
                raise CodecError(f"object {i}: unknown tag {tag!r}")
            k, size, lo, hi1, new, is_env = info
            left -= size + 8 * m
            if left < 0:
                self.left = left
                self.spend(0)
            if new is not None:  # made empty: its fields wait for pass 2
                if not lo < m <= hi1:
                    raise CodecError(f"object {i}: malformed {k.what}")
                if m == 3:  # (most often: a pair)
                    sk()
                    sk()
                else:
                    for _ in range(m - 1):
                        sk()
                s = shells[i] = new()
                if is_env:
                    env_ids.add(id(s))
                tags[i] = tag
                continue
            e = [tag]
            for _ in range(m - 1):
                e.append(up())
            if not lo < m <= hi1:
                raise CodecError(f"object {i}: malformed {k.what}")
            self.left = left
            if k.early is None:  # built when first needed
                raw[i] = e
            else:
                if k.fill_last is not None:  # filled last (a hash table: its keys complete first)
                    raw[i] = e
                shells[i] = k.shell(e, i, self)
            left = self.left
            tags[i] = tag
        self.left = left
        self.done_tuples = {}
        self.symcache = {}

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
        raise CodecError(f"{NOT_VALUES.get(t, type(x).__name__)} where {where} belongs")

    def env_of(self, x, where):
        if type(x) is Ref:
            x = self.raw_item(x)
        if x is None or (type(x) is list and id(x) in self.env_ids):
            return x
        raise CodecError(f"malformed flow data (no environment frame where {where}'s environment belongs)")

    def frame_of(self, x, where):
        if type(x) is Ref:
            x = self.raw_item(x)
        if x is None or type(x) is FRAME:
            return x
        raise CodecError(f"malformed flow data (no frame where {where} belongs)")

    def rtd_of(self, x, where):
        if type(x) is Ref:
            x = self.raw_item(x)
        if type(x) is not RECORD_TYPE:
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
            s = self.shells[j] = _KIND[T_RECPROC].build(self.raw[j], j, self)
        return s

    def pass2(self, u, n):
        """Fields, in table order, each object's by its kind (interp.graph); a
        long run of objects of one kind (a list's pairs) is filled by the kind
        in one call. Kinds without fill_one are skipped: complete from pass 1,
        or built on demand or last from the entry pass 1 kept."""
        tags = self.tags
        shells = self.shells
        fills = _FILL_OF
        kinds = _KIND_OF
        up, sk = u.unpack, u.skip
        i = 0
        for run in _LONG_RUNS.finditer(tags):
            start, end = run.span()
            for i in range(i, start):
                fill = fills[tags[i]]
                if fill is None:
                    sk()
                else:
                    fill(shells[i], up(), i, self)
            k = kinds[tags[start]]
            if fills[tags[start]] is None:
                for _ in range(end - start):
                    sk()
            else:
                k.fill(shells, start, end, up, self)
            i = end
        for i in range(i, n):
            fill = fills[tags[i]]
            if fill is None:
                sk()
            else:
                fill(shells[i], up(), i, self)
        # record procedures and hash tables (their keys must be complete first)
        for j in self.raw:
            if tags[j] == T_RECPROC:
                self.recproc_of(j)
        kinds = _KIND_OF
        for j, e in self.raw.items():
            fill_last = kinds[tags[j]].fill_last
            if fill_last is not None:
                fill_last(shells[j], e, j, self)

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
        self.rebuilt.root_state = (winders, handlers)
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
            if not is_parameter(p):
                raise CodecError("malformed parameter bindings")
            bindings.append((p, self.value(v)))
        return (k, winders, handlers, payload, tuple(bindings))


    def validate(self):
        """Everything is in place: check the graph is one the loaded code makes."""
        self.rebuilt.check(self.local)
