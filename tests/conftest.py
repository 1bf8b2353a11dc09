"""Fixtures shared by every test directory.

`native_scheme` finds GNU Guile 3.0, the reference Scheme the differential tests
compare flowscheme against. If Guile is missing and we are root on a machine with
apt-get, it installs the `guile-3.0` package; if Guile still cannot be had, every
test that asks for it is skipped with the reason (never silently passed).
"""

import os
import shutil
import subprocess
import sys
from collections import namedtuple
from pathlib import Path

import pytest

import aptget
import r7rs_summary

# Make the repository's packages importable however pytest is launched.
_ROOT = str(Path(__file__).resolve().parent.parent)
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

# every piece a flow commit writes is checked against the live continuation (flow.live)
os.environ.setdefault("FLOWSCHEME_CHECK_PIECES", "1")

NativeScheme = namedtuple("NativeScheme", "path version")

_GUILE_NAMES = ("guile", "guile3.0", "guile-3.0")
_APT_PACKAGE = "guile-3.0"


def _find_guile():
    """(path, version line) of the first Guile 3.x on PATH, else (None, reason)."""
    seen = []
    for name in _GUILE_NAMES:
        path = shutil.which(name)
        if not path:
            continue
        try:
            out = subprocess.run(
                [path, "--version"], capture_output=True, text=True, timeout=60
            ).stdout
        except (OSError, subprocess.SubprocessError) as exc:
            seen.append(f"{path}: {exc}")
            continue
        version = out.splitlines()[0].strip() if out else ""
        if " 3." in version:
            return path, version
        seen.append(f"{path} is {version or 'of unknown version'}")
    return None, "; ".join(seen) or "no guile on PATH"


@pytest.fixture(scope="session")
def native_scheme():
    """NativeScheme(path, version) for GNU Guile 3.x, or a skip saying why not."""
    path, info = _find_guile()  # info: the version line, or why none was found
    if path is None:
        install_failure = aptget.install([_APT_PACKAGE], present=lambda: _find_guile()[0] is not None)
        path, info = _find_guile()
        if path is None:
            pytest.skip(
                "GNU Guile 3.0 is required for differential tests and is unavailable: "
                + (install_failure or info)
            )
    return NativeScheme(path, info)


# -- stores: the file store and PostgreSQL ------------------------------------------------
#
# `pg_server` (session) is the throwaway PostgreSQL server of tests/pgserver.py (or the one
# FLOWSCHEME_TEST_PG names). It is never skipped: a missing server fails the tests that
# need it, saying how to install one. `pg_database` / `pg_url` give each test a fresh,
# empty database of its own (emptied and recycled afterwards, connections cut).
#
# `store_kind` runs a test once per durable store ("file", "postgres"; the ids show in
# the test names); `store_location` is an empty place of that kind (a directory path or
# a postgresql:// URL) and `new_store_location()` makes more. Tests that are about the
# file store itself (its log format, torn tails, file modes, symlinks) stay file-only and
# say so with @pytest.mark.file_only(reason) (`pytest -m file_only` lists them).
#
# Cost per PostgreSQL test: a database is recycled, not created — at the end of a test its
# connections are cut and its schemas dropped (~20-40 ms), and the next test gets it
# back empty; CREATE DATABASE (~100-130 ms here) only when none is spare.

STORE_KINDS = ("file", "postgres")


def pytest_configure(config):
    # the R7RS suite's per-section counts: a plugin of this (the controlling) process,
    # which sees the reports of `pytest -n` workers too
    if not config.pluginmanager.has_plugin("r7rs-summary"):
        config.pluginmanager.register(r7rs_summary.Summary(), "r7rs-summary")
    config.addinivalue_line(
        "markers",
        "file_only(reason): a durable-store test about the file store itself (its log format, "
        "files, modes, locks) that has no PostgreSQL counterpart; it runs on the file store only",
    )


@pytest.fixture(scope="session")
def pg_server():
    from pgserver import PgUnavailable, start_server

    try:
        server = start_server()
    except PgUnavailable as exc:
        pytest.fail(str(exc), pytrace=False)
    yield server
    server.stop()


PgDatabase = namedtuple("PgDatabase", "url name server")


@pytest.fixture
def pg_databases(pg_server):
    """pg_databases() -> PgDatabase(url, name, server): a fresh empty database; each
    is given back when the test ends (its connections cut, emptied for reuse)."""
    made = []

    def make():
        name = pg_server.acquire_database()
        made.append(name)
        return PgDatabase(pg_server.url(name), name, pg_server)

    yield make
    if made:
        pg_server.ensure_running()  # a fault test may have left it stopped
    for name in made:
        pg_server.release_database(name)


@pytest.fixture
def pg_database(pg_databases):
    """PgDatabase(url, name, server): a fresh empty database for this test."""
    return pg_databases()


@pytest.fixture
def pg_restartable(pg_server):
    """For the tests that crash and restart the server: only our own throwaway one."""
    if pg_server.external:
        pytest.skip("FLOWSCHEME_TEST_PG names a server of your own, which these tests do not restart")
    return pg_server


@pytest.fixture
def pg_url(pg_database):
    """A postgresql:// URL of a fresh empty database for this test."""
    return pg_database.url


@pytest.fixture(params=STORE_KINDS)
def store_kind(request):
    """Runs the test once per durable store: "file" and "postgres"."""
    return request.param


@pytest.fixture
def new_store_location(store_kind, tmp_path, request):
    """new_store_location(kind=store_kind) -> a fresh empty store location: a directory
    path (not yet created) for "file", a postgresql:// URL of a new database for
    "postgres" (the server is only started when a postgres location is asked for)."""
    counter = iter(range(1, 1_000_000))

    def make(kind=None):
        kind = kind or store_kind
        if kind == "file":
            return str(tmp_path / f"store{next(counter)}")
        if kind == "postgres":
            return request.getfixturevalue("pg_databases")().url
        raise ValueError(f"unknown store kind {kind!r}")

    return make


@pytest.fixture
def store_location(new_store_location):
    """A fresh empty durable store location of kind store_kind (path or URL)."""
    return new_store_location()


@pytest.fixture(autouse=True)
def close_leaked_pg_objects():
    """Close the PostgreSQL stores and ledgers a test opened and left open: each
    holds a connection pool whose threads would otherwise live on and take CPU
    (and the GIL) from every later test. Those opened by wider fixtures stay."""
    before = _open_pg_objects()
    yield
    for obj in _open_pg_objects() - before:
        try:
            obj.close()
        except Exception:  # a test's own broken object: nothing more to release
            pass


def _open_pg_objects():
    found = set()
    for name in ("flow.pgstore", "commerce.pgledger"):
        module = sys.modules.get(name)  # (never imported here: a test that needs it has)
        if module is not None:
            found.update(module.OPEN)
    return found
