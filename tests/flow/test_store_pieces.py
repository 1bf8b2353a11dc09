"""Pieces in the stores: between full snapshots a commit may carry a piece (the
objects it changed), kept after the flow's base in order with its journal
entries and index entry; a full commit drops them; a piece of an unknown flow is
refused; other stores and processes, and a reopened store, see the same; the
file store's "piece" frames (torn, compaction) and PgStore's schema version 3
(migration, the step's transaction, a lost connection)."""

import os
import subprocess
import sys
import types
import warnings

import msgpack
import psycopg
import pytest

from flow import FlowRuntime, StoreFormatError, StoreWriteError
from flow.filestore import FRAME, HEADER, FileStore
from flow.model import snapshot_index
from flow.pgschema import Schema, migrate
from flow.pgstore import SCHEMA, PgStore, current_step
from flow.store import FlowStore, MemoryStore, StoredFlow, open_store
from flowhelp import lose_the_answer_of_the_next_writes
from pgserver import sql

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HANG = 60  # seconds: a hang detector, never a timing assertion

WAITS = "(defflow waits (lambda (x) (request 'ask x) (sleep 5) (request 'again x)))"


@pytest.fixture(params=("memory", "file", "postgres"))
def store_kind(request):
    """Every store: this module's tests run on the memory store too (conftest's
    store_kind has the durable ones only)."""
    return request.param


@pytest.fixture
def place(store_kind, new_store_location):
    """opener() -> a new store on this test's location (one shared MemoryStore for
    "memory"): every call opens another store object on the same flows."""
    if store_kind == "memory":
        shared = MemoryStore(snapshot_index)
        yield lambda: shared
        return
    where = new_store_location()
    opened = []

    def opener():
        s = open_store(where, snapshot_index)
        opened.append(s)
        return s

    opener.where = where
    yield opener
    for s in opened:
        s.close()


# (the memory store has no second instance, process or reopening)
durable_only = pytest.mark.parametrize("store_kind", ["file", "postgres"])


@pytest.fixture(scope="module")
def meta():
    """A real snapshot's metadata (a suspended `waits` flow), to make snapshots and pieces of."""
    rt = FlowRuntime()
    rt.load(WAITS, "waits.scm")
    rt.start("waits", 1, flow_id="real")
    return msgpack.unpackb(rt.store.get("real").snapshot, raw=False)


def snap(meta, mark, **changes):
    """A full snapshot: the real one's metadata with `changes`, marked."""
    return msgpack.packb(dict(meta, mark=mark, **changes), use_bin_type=True)


def piece(meta, mark, **changes):
    """A piece: the snapshot's metadata keys, "piece": 1, its own objects (here a mark)."""
    m = {k: v for k, v in meta.items() if k not in ("data", "k")}
    m.update(changes, piece=1, mark=mark, objs={"changed": mark.encode()})
    return msgpack.packb(m, use_bin_type=True)


def state(stored):
    return (bytes(stored.base), [bytes(p) for p in stored.pieces], [bytes(e) for e in stored.journal],
            bytes(stored.latest))


# ---------------------------------------------------------------------- every store


def test_every_store_takes_pieces():
    from flow.pgstore import PgStore

    for cls in (MemoryStore, FileStore, PgStore):
        assert cls.takes_pieces is True
    assert "takes_pieces" in FlowStore.__doc__  # the protocol says a store of your own may lack it


def test_pieces_follow_the_base_in_order_with_their_journal_entries(place, meta):
    s = place()
    base = snap(meta, "base")
    p1, p2 = piece(meta, "p1", step=2), piece(meta, "p2", step=3)
    s.commit("f", base, [b"j1"])
    s.commit("f", p1, [b"j2"], piece=True)
    s.commit("f", p2, [b"j3", b"j4"], piece=True)
    s.commit("f", piece(meta, "p3", step=4), [], piece=True)  # a piece may add no journal entry
    want = (base, [p1, p2, piece(meta, "p3", step=4)], [b"j1", b"j2", b"j3", b"j4"], piece(meta, "p3", step=4))
    assert state(s.get("f")) == want
    assert state(s.get("f")) == want  # (read again: the PostgreSQL store's cached copy)
    with s.lock("f"):
        assert state(s.get("f")) == want
        s.commit("f", piece(meta, "p4"), [b"j5"], piece=True)
        got = s.get("f")  # (the store's own commit, no query)
        assert [bytes(p) for p in got.pieces][-1] == piece(meta, "p4") and got.journal[-1] == b"j5"
    assert s.ids() == ["f"]


def test_a_full_commit_drops_the_pieces_and_new_ones_follow_the_new_base(place, meta):
    s, other = place(), place()
    s.commit("f", snap(meta, "base1"), [b"j1"])
    s.commit("f", piece(meta, "p1"), [b"j2"], piece=True)
    s.commit("f", piece(meta, "p2"), [], piece=True)
    other.refresh()
    assert len(other.get("f").pieces) == 2  # another store has read (and cached) base1 and its pieces
    s.commit("f", snap(meta, "base2"), [b"j3"])
    want = (snap(meta, "base2"), [], [b"j1", b"j2", b"j3"], snap(meta, "base2"))
    assert state(s.get("f")) == want
    other.refresh()
    assert state(other.get("f")) == want
    s.commit("f", piece(meta, "q1"), [b"j4"], piece=True)
    s.commit("f", piece(meta, "q2"), [], piece=True)
    s.commit("f", piece(meta, "q3"), [b"j5"], piece=True)  # as many pieces as base1 had, and more
    want = (snap(meta, "base2"), [piece(meta, "q1"), piece(meta, "q2"), piece(meta, "q3")],
            [b"j1", b"j2", b"j3", b"j4", b"j5"], piece(meta, "q3"))
    assert state(s.get("f")) == want
    other.refresh()
    assert state(other.get("f")) == want  # the new base read, not base1 with the new pieces


def test_a_piece_of_a_flow_the_store_does_not_have_is_refused_and_nothing_is_written(place, meta, store_kind):
    s = place()
    s.commit("there", snap(meta, "base"), [b"j1"])
    size = os.path.getsize(os.path.join(place.where, "flows.log")) if store_kind == "file" else None
    with pytest.raises(StoreWriteError, match=r"flow 'ghost': a piece was committed for a flow this store does "
                                              r"not have .*nothing was written"):
        s.commit("ghost", piece(meta, "p1", wake=5.0, status="sleeping"), [b"g1"], index=("ask", 5.0), piece=True)
    assert s.get("ghost") is None and s.ids() == ["there"]
    assert s.due(10.0) == [] and s.waiting_on("ask") == ["there"]
    if store_kind == "file":
        assert os.path.getsize(os.path.join(place.where, "flows.log")) == size
    if store_kind == "postgres":
        assert sql(place.where, "SELECT count(*) FROM flow_pieces") == [(0,)]
        assert sql(place.where, "SELECT count(*) FROM flow_journal") == [(1,)]
    with s.lock("ghost"):  # holding its lock changes nothing
        with pytest.raises(StoreWriteError, match="flow 'ghost'"):
            s.commit("ghost", piece(meta, "p1"), [], piece=True)
    assert s.get("ghost") is None
    # the store goes on: the flow's first full commit, then its pieces
    s.commit("ghost", snap(meta, "gbase"), [b"g1"])
    s.commit("ghost", piece(meta, "p1"), [b"g2"], piece=True)
    assert state(s.get("ghost")) == (snap(meta, "gbase"), [piece(meta, "p1")], [b"g1", b"g2"], piece(meta, "p1"))


def test_index_entries_follow_the_latest_piece(place, meta):
    s = place()
    s.commit("f", snap(meta, "base"))  # suspended on 'ask' (read from the snapshot)
    s.commit("g", snap(meta, "other", status="sleeping", kind=None, wake=300.0))
    assert s.waiting_on("ask") == ["f"] and s.next_wake() == 300.0
    s.commit("f", piece(meta, "p1", status="sleeping", kind=None, wake=100.0), piece=True)
    assert s.waiting_on("ask") == [] and s.due(150.0) == [(100.0, "f")] and s.next_wake() == 100.0
    s.commit("f", piece(meta, "p2", status="suspended", kind="again", wake=None), piece=True)
    assert s.waiting_on("again") == ["f"] and s.due(150.0) == [] and s.next_wake() == 300.0
    # an index entry given with the commit wins over the piece's metadata, as for a snapshot
    s.commit("f", piece(meta, "p3", status="suspended", kind="again"), index=("other", 50.0), piece=True)
    assert s.waiting_on("other") == ["f"] and s.waiting_on("again") == [] and s.due(60.0) == [(50.0, "f")]
    s.commit("f", piece(meta, "p4", status="done", kind=None), piece=True)
    assert s.waiting_on("other") == [] and s.due(1e12) == [(300.0, "g")]
    if hasattr(s, "dir") or hasattr(s, "url"):  # durable: a new store reads the same index
        again = place()
        again.refresh()
        assert again.due(1e12) == [(300.0, "g")] and again.waiting_on("ask") == []
        s.commit("f", piece(meta, "p5", status="sleeping", kind=None, wake=7.0), piece=True)  # index from the piece
        s.commit("g", piece(meta, "p6", status="suspended", kind="ask", wake=None), index=("ask", None), piece=True)
        fresh = place()
        assert fresh.due(1e12) == [(7.0, "f")] and fresh.waiting_on("ask") == ["g"]


@durable_only
def test_another_store_and_another_process_see_the_pieces_after_refresh(place, meta):
    a, b = place(), place()
    a.commit("f", snap(meta, "base"), [b"j1"])
    b.refresh()
    assert state(b.get("f")) == (snap(meta, "base"), [], [b"j1"], snap(meta, "base"))
    a.commit("f", piece(meta, "p1"), [b"j2"], piece=True)
    b.refresh()
    assert state(b.get("f")) == (snap(meta, "base"), [piece(meta, "p1")], [b"j1", b"j2"], piece(meta, "p1"))
    p2 = piece(meta, "p2", status="sleeping", kind=None, wake=42.0)
    code = (f"import sys; sys.path.insert(0, {ROOT!r}); from flow.store import open_store; "
            f"from flow.model import snapshot_index; "
            f"s = open_store({place.where!r}, snapshot_index); s.commit('f', {p2!r}, [b'j3'], piece=True); "
            f"s.commit('g', b'g-base', []); s.commit('g', b'g-piece', [b'gj'], piece=True); s.close()")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=HANG, cwd=ROOT)
    for s in (a, b):
        s.refresh()
        assert state(s.get("f")) == (snap(meta, "base"), [piece(meta, "p1"), p2], [b"j1", b"j2", b"j3"], p2)
        assert state(s.get("g")) == (b"g-base", [b"g-piece"], [b"gj"], b"g-piece")
        assert s.due(50.0) == [(42.0, "f")]
    # and this process carries on after the other's pieces
    with b.lock("f"):
        b.commit("f", piece(meta, "p3"), [b"j4"], piece=True)
    a.refresh()
    assert [bytes(p) for p in a.get("f").pieces] == [piece(meta, "p1"), p2, piece(meta, "p3")]
    assert a.get("f").journal == [b"j1", b"j2", b"j3", b"j4"]


@durable_only
def test_a_reopened_store_has_the_same_pieces(place, meta):
    s = place()
    s.commit("f", snap(meta, "base"), [b"j1"])
    s.commit("f", piece(meta, "p1", status="sleeping", kind=None, wake=9.0), [b"j2"], piece=True)
    s.commit("g", snap(meta, "g"), [])
    s.commit("g", snap(meta, "g2"), [b"gj"])
    s.commit("g", piece(meta, "gp"), [], index=("ask", None), piece=True)
    before = {i: state(s.get(i)) for i in ("f", "g")}
    s.close()
    again = place()
    assert {i: state(again.get(i)) for i in ("f", "g")} == before
    assert again.due(10.0) == [(9.0, "f")] and again.waiting_on("ask") == ["g"]
    assert before["f"][1] == [piece(meta, "p1", status="sleeping", kind=None, wake=9.0)]


def test_replace_all_takes_flows_with_pieces_as_their_whole_snapshots(place, meta, monkeypatch, store_kind):
    """(flow.pieces.assemble stood in for: this is about what the stores do with it.)"""
    calls = stand_in_assemble(monkeypatch)
    s = place()
    s.commit("old", snap(meta, "old"))
    s.replace_all({"n": StoredFlow(b"base", [b"j1", b"j2"], [b"p1", b"p2"]),
                   "m": StoredFlow(snap(meta, "m", status="sleeping", kind=None, wake=5.0), [])})
    assert sorted(s.ids()) == ["m", "n"] and s.get("old") is None
    got = s.get("n")
    assert got.snapshot == b"base+p1+p2" and got.journal == [b"j1", b"j2"]
    if store_kind == "memory":
        assert (got.base, list(got.pieces)) == (b"base", [b"p1", b"p2"])  # kept as it was given
    else:
        assert (got.base, list(got.pieces)) == (b"base+p1+p2", [])  # written assembled: the new base
        assert calls == [(b"base", [b"p1", b"p2"])]
    assert s.due(10.0) == [(5.0, "m")]
    s.commit("n", b"p3", [b"j3"], piece=True)  # pieces follow the new base
    got = s.get("n")
    assert got.journal == [b"j1", b"j2", b"j3"] and got.latest == b"p3"


# ---------------------------------------------------------------------- StoredFlow


def stand_in_assemble(monkeypatch):
    """flow.pieces.assemble replaced by one that joins base and pieces with '+' -> its calls."""
    calls = []

    def assemble(base, pieces):
        calls.append((bytes(base), [bytes(p) for p in pieces]))
        return b"+".join([bytes(base), *map(bytes, pieces)])

    monkeypatch.setitem(sys.modules, "flow.pieces", types.SimpleNamespace(assemble=assemble))
    return calls


def test_a_stored_flow_assembles_its_snapshot_once_per_piece_added(monkeypatch):
    calls = stand_in_assemble(monkeypatch)
    f = StoredFlow(b"base", [b"j"])
    assert (f.snapshot, f.latest, list(f.pieces), f.journal) == (b"base", b"base", [], [b"j"])
    assert calls == []  # no pieces: the base itself
    f.add_piece(b"p1")
    f.add_piece(b"p2")
    assert f.snapshot == b"base+p1+p2" and f.snapshot == b"base+p1+p2" and f.latest == b"p2"
    assert calls == [(b"base", [b"p1", b"p2"])]  # cached
    f.add_piece(b"p3")
    assert f.snapshot == b"base+p1+p2+p3" and len(calls) == 2
    f.pieces.append(b"p4")  # appended behind add_piece's back: still noticed
    assert f.snapshot == b"base+p1+p2+p3+p4"
    f.snapshot = b"new"  # existing code sets it: the new base, pieces dropped
    assert (f.base, list(f.pieces), f.snapshot, f.latest, f.journal) == (b"new", [], b"new", b"new", [b"j"])
    g = StoredFlow(b"b", pieces=[b"x"])
    assert g.snapshot == b"b+x" and g.journal == []


# ---------------------------------------------------------------------- the file store


def frames(path):
    data = open(path, "rb").read()
    out, pos = [], HEADER.size
    while pos < len(data):
        length, _ = FRAME.unpack_from(data, pos)
        out.append((pos, FRAME.size + length, msgpack.unpackb(data[pos + FRAME.size:pos + FRAME.size + length],
                                                              raw=False)))
        pos += FRAME.size + length
    return out


def test_a_piece_is_a_frame_of_its_own_operation(tmp_path, meta):
    s = FileStore(tmp_path, snapshot_index)
    s.commit("f", snap(meta, "base"), [b"j1"])
    s.commit("f", piece(meta, "p1"), [b"j2"], index=("ask", 3.0), piece=True)
    s.commit("f", piece(meta, "p2"), [], piece=True)
    s.close()
    recs = [f[2] for f in frames(tmp_path / "flows.log")]
    assert [r["op"] for r in recs] == ["put", "piece", "piece"]  # not a "put": older code refuses the log
    assert recs[1] == {"id": "f", "op": "piece", "piece": piece(meta, "p1"), "journal": [b"j2"], "ix": ["ask", 3.0]}
    assert "ix" not in recs[2] and "snapshot" not in recs[2]


@pytest.mark.parametrize("cut", [1, 8, 9, 30, -1])
def test_a_torn_piece_frame_is_dropped_and_the_next_writer_appends_after_the_last_whole_one(tmp_path, meta, cut):
    s = FileStore(tmp_path, snapshot_index)
    s.commit("f", snap(meta, "base"), [b"j1"])
    s.commit("f", piece(meta, "p1"), [b"j2"], piece=True)
    s.commit("f", piece(meta, "p2", status="sleeping", kind=None, wake=5.0), [b"j3"], piece=True)
    s.close()
    log = tmp_path / "flows.log"
    last_off, last_len, rec = frames(log)[-1]
    assert rec["op"] == "piece"
    data = log.read_bytes()
    keep = last_off + (cut if cut > 0 else last_len + cut)
    log.write_bytes(data[:keep])
    # another process's writer, which finds the torn tail first, cuts it before appending
    with pytest.warns(UserWarning, match=f"dropped {keep - last_off} bytes .* at offset {last_off}"):
        s = FileStore(tmp_path, snapshot_index)
    assert state(s.get("f")) == (snap(meta, "base"), [piece(meta, "p1")], [b"j1", b"j2"], piece(meta, "p1"))
    assert s.due(10.0) == [] and s.waiting_on("ask") == ["f"]  # the index as of the last whole piece
    s.commit("f", piece(meta, "p3"), [b"j4"], piece=True)
    s.close()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        again = FileStore(tmp_path, snapshot_index)
    assert state(again.get("f")) == (snap(meta, "base"), [piece(meta, "p1"), piece(meta, "p3")],
                                     [b"j1", b"j2", b"j4"], piece(meta, "p3"))
    again.close()


def test_a_torn_piece_left_by_a_crashed_writer_is_cut_by_the_next_commit_of_an_open_store(tmp_path, meta):
    s = FileStore(tmp_path, snapshot_index)
    s.commit("f", snap(meta, "base"), [b"j1"])
    s.commit("f", piece(meta, "p1"), [b"j2"], piece=True)
    log = tmp_path / "flows.log"
    size = os.path.getsize(log)
    body = msgpack.packb({"id": "f", "op": "piece", "piece": piece(meta, "torn"), "journal": []},
                         use_bin_type=True)
    with open(log, "ab") as f:  # a writer died half-way through a frame
        f.write(FRAME.pack(len(body), 0) + body[:10])
    with pytest.warns(UserWarning, match=f"dropped 18 bytes .* at offset {size}"):
        s.commit("f", piece(meta, "p2"), [b"j3"], piece=True)
    assert [bytes(p) for p in s.get("f").pieces] == [piece(meta, "p1"), piece(meta, "p2")]
    s.close()
    again = FileStore(tmp_path)
    assert [bytes(p) for p in again.get("f").pieces] == [piece(meta, "p1"), piece(meta, "p2")]
    assert again.get("f").journal == [b"j1", b"j2", b"j3"]
    again.close()


def test_a_piece_frame_with_no_snapshot_before_it_is_an_error_naming_the_flow_and_offset(tmp_path):
    import zlib

    body = msgpack.packb({"id": "lost", "op": "piece", "piece": b"p", "journal": []}, use_bin_type=True)
    (tmp_path / "flows.log").write_bytes(HEADER.pack(b"FSFLOWS\x00", 1) + FRAME.pack(len(body), zlib.crc32(body))
                                         + body)
    with pytest.raises(StoreFormatError, match=rf"a piece of flow 'lost' at offset {HEADER.size}, but the log "
                                               r"holds no snapshot of that flow before it"):
        FileStore(tmp_path)


def test_compaction_writes_a_flow_without_pieces_as_one_frame(tmp_path, meta):
    s = FileStore(tmp_path, snapshot_index)
    for i in range(5):
        s.commit("a", snap(meta, f"a{i}"), [f"ja{i}".encode()])
        s.commit("b", snap(meta, f"b{i}", status="sleeping", kind=None, wake=float(i)), [])
    before = {i: state(s.get(i)) for i in ("a", "b")}
    s.compact()
    recs = [f[2] for f in frames(tmp_path / "flows.log")]
    assert [(r["id"], r["op"], r["full"]) for r in recs] == [("a", "put", True), ("b", "put", True)]
    assert {i: state(s.get(i)) for i in ("a", "b")} == before
    s.commit("a", piece(meta, "p"), [b"ja5"], piece=True)  # pieces follow the compacted base
    s.close()
    again = FileStore(tmp_path, snapshot_index)
    assert state(again.get("a")) == (snap(meta, "a4"), [piece(meta, "p")], [f"ja{i}".encode() for i in range(6)],
                                     piece(meta, "p"))
    assert state(again.get("b")) == before["b"] and again.due(10.0) == [(4.0, "b")]
    again.close()


# ---------------------------------------------------------------------- PostgreSQL


def test_a_version_2_database_is_migrated_and_its_flows_take_pieces(pg_url, meta):
    with psycopg.connect(pg_url, autocommit=True) as conn:
        migrate(conn, Schema("flows", SCHEMA.migrations[:2]), "test")
    sql(pg_url, "INSERT INTO flows (id, snapshot, version, born, journal_len) "
                "VALUES ('old', %s, nextval('flow_version'), 1, 1)", snap(meta, "v2 snapshot"))
    sql(pg_url, "INSERT INTO flow_journal (flow_id, seq, entry) VALUES ('old', 0, 'j0')")
    a = PgStore(pg_url, snapshot_index)
    b = PgStore(pg_url, snapshot_index)
    try:
        assert (a.migrated.before, a.migrated.after, [v for v, _ in a.migrated.steps]) == (2, 3, [3])
        assert b.migrated is None
        assert sql(pg_url, "SELECT version FROM schema_version WHERE component = 'flows'") == [(3,)]
        assert sql(pg_url, "SELECT pieces, based FROM flows") == [(0, None)]
        assert state(b.get("old")) == (snap(meta, "v2 snapshot"), [], [b"j0"], snap(meta, "v2 snapshot"))
        a.commit("old", piece(meta, "p1"), [b"j1"], piece=True)
        a.commit("old", piece(meta, "p2"), [], piece=True)
        want = (snap(meta, "v2 snapshot"), [piece(meta, "p1"), piece(meta, "p2")], [b"j0", b"j1"], piece(meta, "p2"))
        assert state(a.get("old")) == want and state(b.get("old")) == want  # (b: cached with an unknown base)
        a.commit("old", snap(meta, "v3 snapshot"), [b"j2"])
        assert state(b.get("old")) == (snap(meta, "v3 snapshot"), [], [b"j0", b"j1", b"j2"],
                                       snap(meta, "v3 snapshot"))
        assert sql(pg_url, "SELECT pieces, based = version FROM flows") == [(0, True)]
        assert sql(pg_url, "SELECT count(*) FROM flow_pieces") == [(0,)]
    finally:
        a.close()
        b.close()


def test_a_piece_committed_in_a_step_with_ledger_writes_commits_with_them(pg_url, meta):
    s = PgStore(pg_url, snapshot_index)
    try:
        s.commit("f", snap(meta, "base"), [b"j1"])
        sql(pg_url, "CREATE TABLE side (note text)")
        with s.lock("f"):
            step = current_step(s.dbkey)
            step.transaction().execute("INSERT INTO side VALUES ('with the piece')")
            s.commit("f", piece(meta, "p1", status="sleeping", kind=None, wake=8.0), [b"j2"], piece=True)
            assert not step.in_tx
        assert sql(pg_url, "SELECT note FROM side") == [("with the piece",)]
        assert sql(pg_url, "SELECT seq, piece FROM flow_pieces") == [(0, piece(meta, "p1", status="sleeping",
                                                                                  kind=None, wake=8.0))]
        assert sql(pg_url, "SELECT status, wake, wait_kind, snapshot, pieces, journal_len FROM flows") == [
            ("sleeping", 8.0, None, snap(meta, "base"), 1, 2)]
        # fenced off: neither the piece nor the step's writes
        with s.lock("f"):
            current_step(s.dbkey).transaction().execute("INSERT INTO side VALUES ('fenced')")
            sql(pg_url, "UPDATE flows SET version = nextval('flow_version') WHERE id = 'f'")
            with pytest.raises(StoreWriteError, match=r"flow 'f' was changed by another worker.*nothing of this "
                                                      r"step was committed"):
                s.commit("f", piece(meta, "p2"), [b"j3"], piece=True)
        assert sql(pg_url, "SELECT count(*) FROM side WHERE note = 'fenced'") == [(0,)]
        assert sql(pg_url, "SELECT count(*), max(seq) FROM flow_pieces") == [(1, 0)]
        assert sql(pg_url, "SELECT pieces, journal_len FROM flows") == [(1, 2)]
        # a piece of an unknown flow is refused, the step's transaction left for a full commit
        with s.lock("new"):
            step = current_step(s.dbkey)
            step.transaction().execute("INSERT INTO side VALUES ('new flow')")
            with pytest.raises(StoreWriteError, match="flow 'new'"):
                s.commit("new", piece(meta, "p"), [b"n1"], piece=True)
            assert step.in_tx
            s.commit("new", snap(meta, "new"), [b"n1"])
        assert sql(pg_url, "SELECT count(*) FROM side WHERE note = 'new flow'") == [(1,)]
        assert state(s.get("new")) == (snap(meta, "new"), [], [b"n1"], snap(meta, "new"))
    finally:
        s.close()


def test_a_piece_commit_whose_answer_was_lost_is_found_and_not_made_twice(pg_url, meta, monkeypatch):
    a = PgStore(pg_url, snapshot_index)
    try:
        a.commit("f", snap(meta, "base"), [b"e1"])
        lose_the_answer_of_the_next_writes(monkeypatch)
        with a.lock("f"):
            a.commit("f", piece(meta, "p1"), [b"e2"], piece=True)
        monkeypatch.undo()
        assert sql(pg_url, "SELECT seq FROM flow_pieces") == [(0,)]
        assert sql(pg_url, "SELECT entry FROM flow_journal ORDER BY seq") == [(b"e1",), (b"e2",)]
        with a.lock("f"):  # a connection dropped before the statement: committed again, once
            sql(pg_url, "SELECT pg_terminate_backend(%s)", a._held()["f"].conn.info.backend_pid)
            a.commit("f", piece(meta, "p2"), [b"e3"], piece=True)
        assert sql(pg_url, "SELECT seq, piece FROM flow_pieces ORDER BY seq") == [
            (0, piece(meta, "p1")), (1, piece(meta, "p2"))]
        assert state(a.get("f")) == (snap(meta, "base"), [piece(meta, "p1"), piece(meta, "p2")],
                                     [b"e1", b"e2", b"e3"], piece(meta, "p2"))
    finally:
        a.close()
