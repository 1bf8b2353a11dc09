"""The prelude's datum cache (interp/datum_cache.py) on the start-up path: a stale or
corrupt entry is ignored (and a corrupt one rewritten), an unwritable cache directory
only costs speed, and many processes starting at once with no cache all run right
and leave a valid entry."""

import json
import os
import stat
import subprocess
import time
import sys
from pathlib import Path

import pytest

from interp import datum_cache
from interp.interpreter import _prelude_text

ROOT = Path(__file__).resolve().parents[2]
PROGRAM = "(display (map (lambda (x) (* x x)) (iota 4)))(newline)"
RUN = "import sys, interp; interp.Interpreter().eval(sys.argv[1]); print(sys.modules.get('lark') is None)"


def start(cache_home, extra_env=None):
    """A fresh process that builds an Interpreter (loading the prelude) and runs PROGRAM."""
    env = dict(os.environ, XDG_CACHE_HOME=str(cache_home), PYTHONDONTWRITEBYTECODE="1", PYTHONPATH=str(ROOT))
    env.update(extra_env or {})
    return subprocess.Popen(
        [sys.executable, "-c", RUN, PROGRAM], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT
    )


def finish(p):
    out, err = p.communicate(timeout=120)
    assert p.returncode == 0, err
    return out.split()


def prelude_entry(cache_home):
    key = datum_cache.cache_key(_prelude_text(), "<prelude>")
    return Path(cache_home) / "flowscheme" / f"datums.{key}.json"


def test_a_stale_entry_is_never_used(tmp_path, monkeypatch):
    """An entry whose recorded key differs (another prelude or reader) is ignored, even
    under the file name of the current key."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    text = "(define x 1)\n"
    key = datum_cache.cache_key(text, "s.scm")
    path = tmp_path / "flowscheme" / f"datums.{key}.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"key": "0" * 24, "datums": [["L", [1, 1], ["define", "y", 2]]]}))
    (d,) = datum_cache.read_cached(text, "s.scm")
    assert d.cdr.car.name == "x"
    assert json.loads(path.read_text())["key"] == key  # rewritten with the real entry


def test_the_key_changes_with_the_text_and_the_file_name():
    keys = {datum_cache.cache_key(t, f) for t in ("(a)", "(b)") for f in ("x.scm", "y.scm")}
    assert len(keys) == 4


@pytest.mark.parametrize("garbage", ["{not json", "", '{"key": 1}', "[1, 2]", '{"key": "%s", "datums": [["?"]]}'])
def test_a_corrupt_prelude_entry_is_ignored_and_rewritten(tmp_path, garbage):
    assert finish(start(tmp_path)) == ["(0", "1", "4", "9)", "True"]
    entry = prelude_entry(tmp_path)
    good = entry.read_text()
    key = json.loads(good)["key"]
    entry.write_text(garbage.replace("%s", key))
    assert finish(start(tmp_path))[:4] == ["(0", "1", "4", "9)"]
    assert entry.read_text() == good


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root writes anywhere")
def test_a_read_only_cache_directory_still_works(tmp_path):
    (tmp_path / "flowscheme").mkdir()
    os.chmod(tmp_path / "flowscheme", stat.S_IRUSR | stat.S_IXUSR)
    try:
        assert finish(start(tmp_path))[:4] == ["(0", "1", "4", "9)"]
        assert not list((tmp_path / "flowscheme").iterdir())
    finally:
        os.chmod(tmp_path / "flowscheme", stat.S_IRWXU)


def test_an_unusable_cache_location_still_works(tmp_path):
    """The cache home is a file, so no cache directory can be made (this holds for root too)."""
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    out = finish(start(blocker))
    assert out[:4] == ["(0", "1", "4", "9)"]
    assert blocker.read_text() == "x"


def test_concurrent_first_runs_all_succeed_and_leave_a_valid_entry(tmp_path):
    procs = [start(tmp_path) for _ in range(6)]
    outs = [finish(p) for p in procs]
    assert all(o[:4] == ["(0", "1", "4", "9)"] for o in outs)
    entry = prelude_entry(tmp_path)
    blob = json.loads(entry.read_text())
    assert blob["key"] == datum_cache.cache_key(_prelude_text(), "<prelude>")
    assert not [p for p in entry.parent.iterdir() if p.name.endswith(".tmp")]  # no leftovers
    assert finish(start(tmp_path)) == ["(0", "1", "4", "9)", "True"]


def test_writing_an_entry_removes_the_entries_no_version_has_written_for_a_week(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    folder = tmp_path / "flowscheme"
    folder.mkdir()
    old = [folder / "datums.0123456789abcdef01234567.json", folder / "datums.feedfacefeedfacefeedface.json.99.tmp"]
    recent = folder / "datums.aaaaaaaaaaaaaaaaaaaaaaaa.json"  # another version, in use
    other = folder / "notes.json"  # not ours, however old
    week_ago = time.time() - datum_cache.STALE_SECONDS - 60
    for path in old + [recent, other]:
        path.write_text("{}")
    for path in old + [other]:
        os.utime(path, (week_ago, week_ago))
    text = "(define x 1)\n"
    assert datum_cache.read_cached(text, "s.scm") is not None  # read, and its entry written
    written = folder / f"datums.{datum_cache.cache_key(text, 's.scm')}.json"
    assert written.exists() and recent.exists() and other.exists()
    assert not any(path.exists() for path in old)
