"""A JSON cache of read datums, so start-up need not run the Lark reader over the prelude.

`read_cached(text, filename)` returns exactly what `reader.read_all(text, filename)`
returns (pairs carrying their source positions included), loading it from a cache
file keyed by the text, the file name and the implementation's own source (every
source file of interp) when it can, and writing that file when it cannot. The cache
is plain JSON (never pickle), kept in interp/__pycache__ (else ~/.cache/flowscheme);
anything odd about it (missing, stale, corrupt, unwritable) just means reading the
text afresh. An entry holds each datum as the JSON text of its encoding (so loading
an entry parses only the datums wanted: `decode_text`) and a checksum of the rest
(an entry damaged into other valid JSON is not used). An entry may carry more data
about its text (`cached_entry`,
`store_entry`: interp/prelude_plan.py keeps the prelude's load plan there).
Each version of the sources has entries of its own; a write removes the entries
beside it that were not written for a week.
"""

import json
import os
import sys
import time
import zlib
from fractions import Fraction

from .sha import sha256
from .values import NIL, Char, Pair, SourcePos, Symbol, Vector, char, sym

FORMAT = "2"
_HERE = os.path.dirname(os.path.abspath(__file__))


class Uncacheable(Exception):
    """A datum this cache does not represent (it is read afresh instead)."""


# ---------------------------------------------------------------- encoding


def encode(x, _active=None):
    """A JSON-able form of datum x. Symbols are bare strings; everything else
    but integers and booleans is a list tagged by its first element."""
    t = type(x)
    if t is Symbol:
        if x is not sym(x.name):
            raise Uncacheable("uninterned symbol")
        return x.name
    if t is bool or t is int:
        return x
    if t is Pair:
        if _active is None:
            _active = set()
        items = []
        where = []
        p = x
        while type(p) is Pair:
            if id(p) in _active:
                raise Uncacheable("shared or circular structure")
            _active.add(id(p))
            pos = getattr(p, "pos", None)
            if pos is None:
                raise Uncacheable("pair without a position")
            where.append(pos.line)
            where.append(pos.col)
            items.append(encode(p.car, _active))
            p = p.cdr
        out = ["L", where, items]
        if p is not NIL:
            out.append(encode(p, _active))
        return out
    if x is NIL:
        return ["n"]
    if t is str:
        return ["s", x]
    if t is Char:
        return ["c", x.code]
    if t is float:
        return ["f", repr(x)]
    if t is Fraction:
        return ["q", x.numerator, x.denominator]
    if t is Vector or t is bytearray:  # mutable: sharing one must survive, so refuse it
        if _active is None:
            _active = set()
        if id(x) in _active:
            raise Uncacheable("shared or circular structure")
        _active.add(id(x))
        if t is bytearray:
            return ["b", list(x)]
        return ["v", [encode(v, _active) for v in x]]
    raise Uncacheable(t.__name__)


def decode(o, filename):
    """The datum from encode(), with positions in `filename`."""
    if type(o) is str:
        return sym(o)
    if type(o) is not list:
        return o
    tag = o[0]
    if tag == "L":
        where, items = o[1], o[2]
        result = decode(o[3], filename) if len(o) > 3 else NIL
        for i in range(len(items) - 1, -1, -1):
            x = items[i]
            t = type(x)
            if t is str:  # the common leaves decoded here: a call each adds up at start-up
                x = sym(x)
            elif t is not int and t is not bool:
                x = decode(x, filename)
            result = Pair(x, result)
            result.pos = SourcePos(filename, where[2 * i], where[2 * i + 1])
        return result
    if tag == "n":
        return NIL
    if tag == "s":
        return o[1]
    if tag == "c":
        return char(chr(o[1]))
    if tag == "f":
        return float(o[1])
    if tag == "q":
        return Fraction(o[1], o[2])
    if tag == "v":
        return Vector([decode(v, filename) for v in o[1]])
    if tag == "b":
        return bytearray(o[1])
    raise ValueError(f"bad datum cache entry {tag!r}")


def decode_text(text, filename):
    """The datum from the JSON text of encode()'s result."""
    if type(text) is not str:
        raise ValueError("bad datum cache entry")
    return decode(json.loads(text), filename)


# ---------------------------------------------------------------- the cache files


def _implementation_fingerprint():
    """The contents of every source file of interp (the reader, the analyser, the
    primitives...) summed up: each file's name, size, CRC-32 and Adler-32 (a 64-bit
    checksum is ample to tell an edited file, and costs a tenth of a SHA-256 of them
    all)."""
    parts = []
    for sub in ("", "primitives"):
        folder = os.path.join(_HERE, sub)
        try:
            names = sorted(n for n in os.listdir(folder) if n.endswith((".py", ".lark", ".scm")))
        except OSError:
            names = []
        for name in names:
            try:
                with open(os.path.join(folder, name), "rb") as f:
                    data = f.read()
                parts.append(f"{sub}/{name} {len(data)} {zlib.crc32(data)} {zlib.adler32(data)}")
            except OSError:
                parts.append(f"{sub}/{name} unreadable")
    return "\n".join(parts)


# taken when this module is imported: as close as can be to when the sources were
_FINGERPRINT = _implementation_fingerprint()


def _cache_paths(key):
    name = f"datums.{key}.json"
    paths = []
    if not sys.dont_write_bytecode:
        paths.append(os.path.join(_HERE, "__pycache__", name))
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    paths.append(os.path.join(base, "flowscheme", name))
    return paths


def cache_key(text, filename):
    h = sha256()
    for part in (FORMAT, _FINGERPRINT, filename or "", text):
        h.update(part.encode("utf-8", "surrogatepass"))
        h.update(b"\0")
    return h.hexdigest()[:24]


def _checksum(blob):
    """A 64-bit checksum of an entry's members (but "check"), as they are ordered."""
    data = json.dumps(blob, separators=(",", ":")).encode("utf-8", "surrogatepass")
    return f"{zlib.crc32(data):08x}{zlib.adler32(data):08x}"


def cached_entry(text, filename=None):
    """The cache entry (a dict: "key", "datums", maybe more) for text, or None."""
    key = cache_key(text, filename)
    for path in _cache_paths(key):
        try:
            with open(path, encoding="utf-8") as f:
                blob = json.load(f)
            if type(blob) is not dict or blob.get("key") != key or type(blob.get("datums")) is not list:
                continue
            check = blob.pop("check", None)
            if check == _checksum(blob):
                return blob
        except Exception:  # missing, unreadable, not JSON or damaged
            continue
    return None


def read_cached(text, filename=None):
    """reader.read_all(text, filename), through the cache."""
    blob = cached_entry(text, filename)
    if blob is not None:
        try:
            return [decode_text(d, filename) for d in blob["datums"]]
        except Exception:  # corrupt: read afresh
            pass
    from .reader import read_all

    datums = read_all(text, filename)
    try:
        encoded = [encode(d) for d in datums]
    except (Uncacheable, RecursionError, ValueError):
        return datums
    store_entry(text, filename, encoded)
    return datums


def discard_entry(text, filename=None):
    """Remove the entries for text (one found wrong after it was loaded)."""
    for path in _cache_paths(cache_key(text, filename)):
        try:
            os.unlink(path)
        except OSError:
            pass


STALE_SECONDS = 7 * 24 * 3600  # an entry not rewritten for this long is removed by the next write


def _prune(directory, keep):
    """Remove the entries (and leftover temporary files) in directory, but keep, not
    written for STALE_SECONDS: each version of the interp sources has an entry of its
    own, so without this they pile up. An entry still in use that is removed is
    written again at its next start."""
    cutoff = time.time() - STALE_SECONDS
    try:
        names = os.listdir(directory)
    except OSError:
        return
    for name in names:
        if name == keep or not name.startswith("datums.") or not name.endswith((".json", ".tmp")):
            continue
        path = os.path.join(directory, name)
        try:
            if os.stat(path).st_mtime < cutoff:
                os.unlink(path)
        except OSError:
            pass


def store_entry(text, filename, encoded, **extra):
    """Write the entry for text: its datums (as encode() gives them) plus `extra`
    members (JSON data). False when no cache location could be written."""
    key = cache_key(text, filename)
    try:
        datums = [json.dumps(d, separators=(",", ":")) for d in encoded]
        blob = {"key": key, "datums": datums, **extra}
        blob["check"] = _checksum(blob)
        text_out = json.dumps(blob, separators=(",", ":"))
    except (RecursionError, ValueError, TypeError):
        return False
    for path in _cache_paths(key):
        tmp = f"{path}.{os.getpid()}.tmp"
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(tmp, "w", encoding="utf-8") as f:
                f.write(text_out)
            os.replace(tmp, path)
            _prune(os.path.dirname(path), os.path.basename(path))
            return True
        except OSError:
            try:
                os.unlink(tmp)
            except OSError:
                pass
    return False
