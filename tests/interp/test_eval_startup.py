"""Start-up: the prelude is read from a JSON cache of its datums (so a warm start
never runs, nor even imports, the Lark parser for it), and the cache is exact."""

import json
import os
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import pytest

from interp import datum_cache
from interp.interpreter import _prelude_text
from interp.reader import read_all
from interp.values import NIL, Pair, Vector, equal

ROOT = Path(__file__).resolve().parents[2]


def same_with_positions(a, b):
    """Equal data, and every pair at the same source position."""
    if type(a) is not type(b):
        return False
    if type(a) is Pair:
        while type(a) is Pair and type(b) is Pair:
            if getattr(a, "pos", None) != getattr(b, "pos", None):
                return False
            if not same_with_positions(a.car, b.car):
                return False
            a, b = a.cdr, b.cdr
        return same_with_positions(a, b)
    if type(a) is Vector:
        return len(a) == len(b) and all(same_with_positions(x, y) for x, y in zip(a, b))
    if type(a) is float and a != a:
        return b != b
    return equal(a, b)


def test_the_cached_prelude_is_exactly_what_the_reader_reads():
    text = _prelude_text()
    direct = read_all(text, "<prelude>")
    encoded = [datum_cache.encode(d) for d in direct]
    decoded = [datum_cache.decode(json.loads(json.dumps(e)), "<prelude>") for e in encoded]
    assert len(decoded) == len(direct)
    assert all(same_with_positions(a, b) for a, b in zip(direct, decoded))


def test_every_kind_of_datum_round_trips():
    text = '(a "s\\n" #\\x 1.5 -0.0 +inf.0 1/3 #(1 (2 . 3)) #u8(1 2) (x . y) () #t #f 123456789012345678901234567890 |odd sym|)'
    direct = read_all(text, "f.scm")
    decoded = [datum_cache.decode(json.loads(json.dumps(datum_cache.encode(d))), "f.scm") for d in direct]
    assert same_with_positions(direct[0], decoded[0])
    items = list(decoded[0])
    assert type(items[6]) is Fraction and items[11] is True and items[12] is False


def test_cache_files_are_used_and_a_corrupt_one_is_ignored(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setattr(sys, "dont_write_bytecode", True)  # only the XDG location
    text = "(define (f x) (* x 2))\n(f 21)\n"
    first = datum_cache.read_cached(text, "t.scm")
    files = list((tmp_path / "flowscheme").glob("datums.*.json"))
    assert len(files) == 1
    second = datum_cache.read_cached(text, "t.scm")
    assert all(same_with_positions(a, b) for a, b in zip(first, second))
    files[0].write_text("{not json")
    third = datum_cache.read_cached(text, "t.scm")
    assert all(same_with_positions(a, b) for a, b in zip(first, third))
    # a different text gets its own entry, never the old one
    other = datum_cache.read_cached("(g)", "t.scm")
    assert len(other) == 1 and other[0].car.name == "g"


def test_shared_structure_is_not_cached_but_still_read(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    datums = datum_cache.read_cached("'(#0=(1) #0#)", "s.scm")
    assert len(datums) == 1
    with pytest.raises(datum_cache.Uncacheable):
        datum_cache.encode(datums[0])


def test_a_warm_start_does_not_import_the_parser(tmp_path):
    code = "import sys; import interp; interp.Interpreter(); print('lark' in sys.modules)"
    env = dict(os.environ, XDG_CACHE_HOME=str(tmp_path), PYTHONDONTWRITEBYTECODE="1", PYTHONPATH=str(ROOT))
    runs = [
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)
        for _ in range(2)
    ]
    assert all(r.returncode == 0 for r in runs), runs[-1].stderr
    assert runs[1].stdout.strip() == "False"
