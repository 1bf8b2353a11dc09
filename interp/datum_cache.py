"""A JSON cache of read datums, so start-up need not run the Lark reader over the prelude.

`read_cached(text, filename)` returns exactly what `reader.read_all(text, filename)`
returns (pairs carrying their source positions included), loading it from a cache
file keyed by the text, the file name and the reader's own source when it can, and
writing that file when it cannot. The cache is plain JSON (never pickle), kept in
interp/__pycache__ (else ~/.cache/flowscheme); anything odd about it (missing,
stale, corrupt, unwritable) just means reading the text afresh.
"""

import hashlib
import json
import os
import sys
from fractions import Fraction

from .values import NIL, Char, Pair, SourcePos, Symbol, Vector, char, sym

FORMAT = "1"
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


# ---------------------------------------------------------------- the cache files


def _reader_fingerprint():
    h = hashlib.sha256()
    for name in ("reader.py", "scheme.lark", "values.py", "datum_cache.py", "numsyntax.py", "complexes.py"):
        try:
            with open(os.path.join(_HERE, name), "rb") as f:
                h.update(f.read())
        except OSError:
            h.update(name.encode())
    return h.hexdigest()


def _cache_paths(key):
    name = f"datums.{key}.json"
    paths = []
    if not sys.dont_write_bytecode:
        paths.append(os.path.join(_HERE, "__pycache__", name))
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    paths.append(os.path.join(base, "flowscheme", name))
    return paths


def cache_key(text, filename):
    h = hashlib.sha256()
    for part in (FORMAT, _reader_fingerprint(), filename or "", text):
        h.update(part.encode("utf-8", "surrogatepass"))
        h.update(b"\0")
    return h.hexdigest()[:24]


def read_cached(text, filename=None):
    """reader.read_all(text, filename), through the cache."""
    key = cache_key(text, filename)
    paths = _cache_paths(key)
    for path in paths:
        try:
            with open(path, encoding="utf-8") as f:
                blob = json.load(f)
            if blob.get("key") == key:
                return [decode(d, filename) for d in blob["datums"]]
        except Exception:  # missing, unreadable or corrupt: read afresh
            pass
    from .reader import read_all

    datums = read_all(text, filename)
    try:
        text_out = json.dumps({"key": key, "datums": [encode(d) for d in datums]}, separators=(",", ":"))
    except (Uncacheable, RecursionError, ValueError):
        return datums
    for path in paths:
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            tmp = f"{path}.{os.getpid()}.tmp"
            with open(tmp, "w", encoding="utf-8") as f:
                f.write(text_out)
            os.replace(tmp, path)
            break
        except OSError:
            continue
    return datums
