"""One flow's state, and its snapshot / journal-entry bytes.

A snapshot holds the flow's metadata in plain msgpack (id, name, status, step,
the pending request's kind and key, the error), its Scheme data (arguments,
request payload, result) and, while suspended, its continuation — each of the
last two an object-table encoding (flow.codec) packed as bytes, so a snapshot
can be read (status, listing) without the flow's code being loaded, and the
continuation decoded only when the flow resumes.

The journal is kept apart, one entry per answered request, appended as the flow
runs: a transition writes the new snapshot and one journal entry, whatever the
flow's history, so resuming costs the same after 20 or 10,000 requests.
"""

import msgpack

from interp.values import Symbol, sym

from . import codec
from .packing import packb
from .errors import CodeNotLoaded, StoreFormatError


class DataNeedsCode(CodeNotLoaded, codec.MissingUnit):
    """A flow's data (arguments, payload, result) holds a procedure whose code
    unit is not loaded. A CodeNotLoaded (so a FlowError) naming flow, unit and
    file; also a codec.MissingUnit, as it was before it was named."""

    def __init__(self, flow_id, flow_name, unit_hash, filename):
        Exception.__init__(self, str(CodeNotLoaded(flow_id, flow_name, unit_hash, filename)))
        self.flow_id = flow_id
        self.flow_name = flow_name
        self.unit_hash = unit_hash
        self.filename = filename


# 2: the continuation graph carries the flow's parameter bindings; rationals as bytes
SNAPSHOT_VERSION = 2
# Scheme strings are Python strs and may hold lone surrogates ("\xD800;"): keep them.
UNPACK_LIMITS = dict(raw=False, strict_map_key=True, unicode_errors="surrogatepass")
UNPACK_GRAPH = dict(UNPACK_LIMITS, ext_hook=codec.ext_tuple)


def pack_graph(root, cenv):
    units, objects, encoded = codec.encode(root, cenv)
    return packb([units, objects, encoded]), [u[0] for u in units], units


def unpack_graph(blob, cenv):
    try:
        units, objects, root = msgpack.unpackb(blob, **UNPACK_GRAPH)
    except Exception as e:
        raise codec.CodecError(f"malformed flow data ({e})") from None
    return codec.decode(units, objects, root, cenv)


def graph_units(blob):
    """[(hash, file)] of the code units an encoded graph refers to."""
    try:
        units = msgpack.unpackb(blob, **UNPACK_GRAPH)[0]
        return [(u[0], u[1]) for u in units]
    except Exception as e:
        raise codec.CodecError(f"malformed flow data ({e})") from None


class JournalEntry:
    __slots__ = ("kind", "payload", "key", "answer")

    def __init__(self, kind, payload, key, answer):
        self.kind = kind  # Symbol
        self.payload = payload
        self.key = key
        self.answer = answer


class Flow:
    """A flow's state. `data` (args, payload, result) and the continuation are
    decoded on first use; `k_blob` keeps the encoded continuation meanwhile."""

    __slots__ = (
        "id", "name", "status", "step", "def_unit", "kind", "key", "error",
        "args", "payload", "result", "suspension", "params", "k_blob", "k_units", "_data_blob",
    )

    def __init__(self, flow_id, name, args=()):
        self.id = flow_id
        self.name = name
        self.status = "running"
        self.step = 0
        self.def_unit = None  # (hash, file) of the defflow's code unit
        self.kind = None  # pending request kind (Symbol)
        self.key = None
        self.error = None  # {"message", "position", "backtrace"}
        self.args = list(args)
        self.payload = None
        self.result = None
        self.suspension = None  # interp Suspension, when decoded or fresh
        # ((parameter, value), ...): the global parameters the suspended flow had
        # parameterized; they are set only while it runs (see FlowRuntime._step)
        self.params = ()
        self.k_blob = None
        self.k_units = []
        self._data_blob = None

    # ---------------------------------------------------------------- bytes

    def snapshot(self, cenv):
        """The snapshot bytes (encodes the continuation if it changed)."""
        if self._data_blob is None:
            self._data_blob = pack_graph((tuple(self.args), self.payload, self.result), cenv)[0]
        if self.status == "suspended":
            if self.k_blob is None:
                s = self.suspension
                graph = (s.k, s.winders, s.handlers, s.payload, tuple(self.params))
                self.k_blob, _, units = pack_graph(graph, cenv)
                self.k_units = [tuple(u) for u in units]
        else:
            self.k_blob = None
            self.k_units = []
        meta = {
            "v": SNAPSHOT_VERSION,
            "id": self.id,
            "name": self.name,
            "status": self.status,
            "step": self.step,
            "def": list(self.def_unit) if self.def_unit else None,
            "kind": self.kind.name if self.kind is not None else None,
            "key": self.key,
            "error": self.error,
            "data": self._data_blob,
            "k": self.k_blob,
            "units": [list(u) for u in self.k_units],
        }
        return packb(meta)

    def changed(self):
        """Forget cached encodings after the flow's state changed."""
        self._data_blob = None
        self.k_blob = None

    @classmethod
    def from_snapshot(cls, blob, cenv, decode_data=True):
        """The Flow in a snapshot; decode_data=False reads only the metadata
        (status, step, kind, ...: no code needed), leaving args/payload/result None."""
        try:
            meta = msgpack.unpackb(blob, **UNPACK_LIMITS)
            if not isinstance(meta, dict):
                raise ValueError("snapshot is not a map")
            version = meta.get("v")
            if version != SNAPSHOT_VERSION:
                raise StoreFormatError(
                    f"flow snapshot version {version} is not supported (this flowscheme reads "
                    f"version {SNAPSHOT_VERSION})"
                )
            f = cls(str(meta["id"]), str(meta["name"]))
            f.status = str(meta["status"])
            if f.status not in ("suspended", "done", "failed", "cancelled"):
                raise ValueError(f"unknown status {f.status!r}")
            f.step = int(meta["step"])
            d = meta["def"]
            f.def_unit = (str(d[0]), str(d[1])) if d else None
            if f.status == "suspended" and not (type(meta["kind"]) is str and type(meta["key"]) is str):
                raise ValueError("a suspended flow without its request kind and key")
            if meta["error"] is not None and type(meta["error"]) is not dict:
                raise ValueError("malformed error")
            f.kind = sym(meta["kind"]) if meta["kind"] is not None else None
            f.key = meta["key"]
            f.error = meta["error"]
            f._data_blob = meta["data"]
            f.k_blob = meta["k"]
            f.k_units = [(str(u[0]), str(u[1])) for u in meta["units"]]
            if not isinstance(f._data_blob, bytes) or (f.status == "suspended" and not isinstance(f.k_blob, bytes)):
                raise ValueError("missing data")
        except StoreFormatError:
            raise
        except Exception as e:
            raise StoreFormatError(f"malformed flow snapshot ({type(e).__name__}: {e})") from None
        if not decode_data:
            return f
        try:
            args, f.payload, f.result = unpack_graph(f._data_blob, cenv)
        except codec.MissingUnit as e:
            raise DataNeedsCode(f.id, f.name, e.unit_hash, e.filename) from None
        except codec.CodecError as e:
            raise StoreFormatError(f"flow {f.id!r}: {e}") from None
        f.args = list(args)
        return f

    def decode_continuation(self, cenv):
        """The Suspension to resume (raises codec.MissingUnit if code is not loaded)."""
        from interp.machine import Frame, Parameter, Suspension
        from interp.values import NIL, Pair

        if self.suspension is None:
            graph = unpack_graph(self.k_blob, cenv)
            if type(graph) is not tuple or len(graph) != 5 or type(graph[4]) is not tuple:
                raise codec.CodecError("malformed continuation")
            k, winders, handlers, payload, params = graph
            if not (k is None or type(k) is Frame) or not all(
                w is NIL or type(w) is Pair for w in (winders, handlers)
            ):
                raise codec.CodecError("malformed continuation")
            if not all(type(p) is tuple and len(p) == 2 and type(p[0]) is Parameter for p in params):
                raise codec.CodecError("malformed parameter bindings")
            self.suspension = Suspension(k, winders, handlers, payload)
            self.params = params
        return self.suspension


def journal_entry_bytes(entry, cenv):
    data = pack_graph((entry.payload, entry.answer), cenv)[0]
    return packb({"kind": entry.kind.name, "key": entry.key, "data": data})


def journal_entry_from_bytes(blob, cenv):
    try:
        m = msgpack.unpackb(blob, **UNPACK_LIMITS)
        kind, key, data = sym(m["kind"]), m["key"], m["data"]
    except Exception as e:
        raise StoreFormatError(f"malformed journal entry ({type(e).__name__}: {e})") from None
    try:
        payload, answer = unpack_graph(data, cenv)
    except codec.CodecError as e:
        raise StoreFormatError(f"journal entry {key}: {e}") from None
    return JournalEntry(kind, payload, key, answer)


def is_symbol(x):
    return type(x) is Symbol
