"""A flow's snapshot in pieces: the continuation changes a commit writes, and a whole snapshot assembled from a base and its pieces.

A store keeps per flow a base (a whole snapshot, flow.model) and the pieces
committed after it, oldest first. A piece is a snapshot's metadata map with
"piece": 1 whose "k" is not a whole object table but its changes since the
state before: [units, n, [index, entry, index, entry, ...], root] — the
table's code-unit list (whole: it only grows), its new length, the entries new
or changed since, and the new root (its "data" is whole, as in a snapshot).
Every metadata reader (status, kind, wake-up time) reads a piece as it reads a
snapshot; only the continuation needs the pieces put together.

`assemble(base, pieces)` puts them together without decoding a value: each
entry is copied as the msgpack bytes it was written as; the result is checked
(a table with an entry missing, a piece of another shape) and is what a whole
snapshot of that state: the objects the root no longer reaches are left out
and the rest renumbered in the order they are reached. A runtime that reads a
flow back this way writes its next commit whole (flow.live): pieces continue
only the numbering of the commit before them in the same process.
"""

import io
import struct

import msgpack
from msgpack import ExtType

from .errors import StoreFormatError
from .packing import packb

_UNPACK = dict(raw=False, strict_map_key=True, unicode_errors="surrogatepass")
EXT_REF = 0  # (flow.codec's reference: an object-table index, 4 bytes big-endian)
_REF = struct.Struct(">I")


def pack_changes(units, changes, root, n):
    """The "k" of a piece: units, table length n, changes [(index, entry)], root."""
    flat = []
    for i, e in changes:
        flat.append(i)
        flat.append(e)
    return packb([units, n, flat, root])


def is_piece(meta):
    return meta.get("piece") == 1


def assemble(base, pieces):
    """The whole snapshot (bytes) of a base snapshot and the pieces after it."""
    if not pieces:
        return base
    meta = _map(base, "base snapshot")
    if is_piece(meta):
        raise StoreFormatError("malformed flow snapshot (a piece where its base belongs)")
    table = None if meta.get("k") is None else _Table(meta["k"])
    for p in pieces:
        m = _map(p, "snapshot piece")
        if not is_piece(m):
            raise StoreFormatError("malformed snapshot piece (not marked as a piece)")
        k = m.get("k")
        if k is not None:
            if table is None:
                raise StoreFormatError("malformed snapshot piece (changes to a continuation the flow does not have)")
            table.apply(k)
        else:
            table = None
        meta = m
    out = dict(meta)
    del out["piece"]
    out["k"] = None if table is None else table.pack()
    return packb(out)


def _map(blob, what):
    try:
        m = msgpack.unpackb(blob, max_bin_len=len(blob), max_str_len=len(blob), **_UNPACK)
    except Exception as e:
        raise StoreFormatError(f"malformed {what} ({type(e).__name__}: {e})") from None
    if not isinstance(m, dict):
        raise StoreFormatError(f"malformed {what} (not a map)")
    if m.get("k") is not None and not isinstance(m["k"], bytes):
        raise StoreFormatError(f"malformed {what} (continuation)")
    return m


class _Table:
    """An object table as msgpack bytes per entry: [units, objects, root]."""

    def __init__(self, blob):
        try:
            u = _unpacker(blob)
            if u.read_array_header() != 3:
                raise ValueError("expected [units, objects, root]")
            self.units = u.unpack()
            n = u.read_array_header()
            self.entries = _spans(u, blob, n)
            self.root = _span(u, blob)
            if u.tell() != len(blob):
                raise ValueError("trailing bytes")
        except Exception as e:
            raise StoreFormatError(f"malformed flow snapshot (continuation: {type(e).__name__}: {e})") from None

    def apply(self, blob):
        try:
            u = _unpacker(blob)
            if u.read_array_header() != 4:
                raise ValueError("expected [units, n, changes, root]")
            units = u.unpack()
            n = u.unpack()
            entries = self.entries
            if type(n) is not int or not len(entries) <= n < 1 << 32:
                raise ValueError(f"table length {n!r} (it was {len(entries)})")
            m = u.read_array_header()
            if m % 2:
                raise ValueError("changes are not (index, entry) pairs")
            entries.extend([None] * (n - len(entries)))
            for _ in range(m // 2):
                i = u.unpack()
                if type(i) is not int or not 0 <= i < n:
                    raise ValueError(f"index {i!r} out of range")
                entries[i] = _span(u, blob)
            self.root = _span(u, blob)
            if u.tell() != len(blob):
                raise ValueError("trailing bytes")
            if type(units) is not list or len(units) < len(self.units) or units[: len(self.units)] != self.units:
                raise ValueError("its code units do not extend the table's")
            self.units = units
        except Exception as e:
            raise StoreFormatError(f"malformed snapshot piece ({type(e).__name__}: {e})") from None

    def pack(self):
        """The table as [units, objects, root] bytes, with only the objects the
        root reaches (renumbered in the order they are reached)."""
        entries, n = self.entries, len(self.entries)
        new = {}  # old index -> new index
        order = []

        def remap(x):
            t = type(x)
            if t is ExtType:
                if x.code != EXT_REF:
                    return x
                if len(x.data) != 4:
                    raise StoreFormatError("malformed snapshot pieces (a malformed reference)")
                (j,) = _REF.unpack(x.data)
                i = new.get(j)
                if i is None:
                    if not 0 <= j < n or entries[j] is None:
                        raise StoreFormatError(f"malformed snapshot pieces (object {j} is never written)")
                    i = new[j] = len(order)
                    order.append(j)
                return ExtType(EXT_REF, _REF.pack(i))
            if t is list:
                return [remap(v) for v in x]
            if t is dict:
                return {k: remap(v) for k, v in x.items()}
            return x

        try:
            p = msgpack.Packer(use_bin_type=True, unicode_errors="surrogatepass")
            root = p.pack(remap(msgpack.unpackb(self.root, **_UNPACK)))
            out = []
            i = 0
            while i < len(order):
                out.append(p.pack(remap(msgpack.unpackb(entries[order[i]], **_UNPACK))))
                i += 1
        except StoreFormatError:
            raise
        except Exception as e:
            raise StoreFormatError(f"malformed snapshot pieces ({type(e).__name__}: {e})") from None
        return b"".join([p.pack_array_header(3), p.pack(self.units), p.pack_array_header(len(out)), *out, root])


def _unpacker(blob):
    return msgpack.Unpacker(io.BytesIO(blob), max_buffer_size=max(len(blob), 1), read_size=min(max(len(blob), 1), 1 << 20),
                            **_UNPACK)


def _span(u, blob):
    start = u.tell()
    u.skip()
    return blob[start:u.tell()]


def _spans(u, blob, n):
    out = []
    tell, skip = u.tell, u.skip
    start = tell()
    for _ in range(n):
        skip()
        end = tell()
        out.append(blob[start:end])
        start = end
    return out
