"""PgStore's short commit path: the lock and the version read in one statement
(flowscheme_lock) still see a commit made while the lock was awaited — also when
the database defaults to repeatable read; the commit and its COMMIT sent
together never commit a fenced-off step's writes; only flows a worker could be
waiting for are announced; a database at schema version 1 is migrated."""

import json
import select
import threading

import psycopg
import pytest

from flow import StoreWriteError
from flow.pgschema import Schema, migrate
from flow.pgstore import SCHEMA, PgStore, _lock_key
from pgserver import sql

HANG = 60  # seconds: a hang detector, never a timing assertion


def row_of(url, flow_id):
    got = sql(url, "SELECT version, snapshot, journal_len FROM flows WHERE id = %s", flow_id)
    return (got[0][0], bytes(got[0][1]), got[0][2]) if got else None


@pytest.fixture
def pg(pg_url):
    s = PgStore(pg_url)
    yield s
    s.close()


def commit_behind_a_held_lock(url, store, flow_id):
    """Another session holds flow_id's lock, a thread of `store` waits for it, the
    other session commits a new version and lets go: the thread must see that
    version (not the one before the lock), so its own commit is not fenced off."""
    key = _lock_key(store.schema, flow_id)
    other = psycopg.connect(url, autocommit=True)
    try:
        other.execute("SELECT pg_advisory_lock(%s)", (key,))
        got = {}
        entered = threading.Event()

        def step():
            with store.lock(flow_id):
                entered.set()
                store.commit(flow_id, b"mine", [b"e2"], index=(None, None))
                got["done"] = True

        t = threading.Thread(target=step, daemon=True)
        t.start()
        # the thread's session is waiting for the lock before the other session commits
        for _ in range(HANG * 20):
            waiting = other.execute(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted").fetchone()[0]
            if waiting:
                break
            t.join(0.05)
        assert not entered.is_set()
        other.execute("UPDATE flows SET version = nextval('flow_version'), snapshot = 'theirs', "
                      "journal_len = 1 WHERE id = %s", (flow_id,))
        other.execute("INSERT INTO flow_journal (flow_id, seq, entry) VALUES (%s, 0, 'e1')", (flow_id,))
        other.execute("SELECT pg_advisory_unlock(%s)", (key,))
        t.join(HANG)
        assert not t.is_alive(), "hung"
        assert got.get("done"), "the commit after the lock was fenced off: the version read was stale"
    finally:
        other.close()
    version, snapshot, journal_len = row_of(url, flow_id)
    assert snapshot == b"mine" and journal_len == 2
    assert [bytes(r[0]) for r in sql(url, "SELECT entry FROM flow_journal WHERE flow_id = %s ORDER BY seq",
                                      flow_id)] == [b"e1", b"e2"]


def test_the_version_read_with_the_lock_sees_a_commit_made_while_waiting(pg_url, pg):
    pg.commit("f", b"first", [], index=(None, None))
    commit_behind_a_held_lock(pg_url, pg, "f")


def test_a_repeatable_read_default_does_not_make_the_version_read_stale(pg_url):
    dbname = sql(pg_url, "SELECT current_database()")[0][0]
    sql(pg_url, f'ALTER DATABASE "{dbname}" SET default_transaction_isolation = \'repeatable read\'')
    s = PgStore(pg_url)
    try:
        s.commit("f", b"first", [], index=(None, None))
        commit_behind_a_held_lock(pg_url, s, "f")
    finally:
        s.close()
        sql(pg_url, f'ALTER DATABASE "{dbname}" RESET default_transaction_isolation')


def test_try_lock_reports_a_flow_held_elsewhere_and_takes_a_free_one(pg_url, pg):
    pg.commit("f", b"first", [], index=(None, None))
    other = psycopg.connect(pg_url, autocommit=True)
    try:
        other.execute("SELECT pg_advisory_lock(%s)", (_lock_key(pg.schema, "f"),))
        with pg.try_lock("f") as got:
            assert got is False
        other.execute("SELECT pg_advisory_unlock(%s)", (_lock_key(pg.schema, "f"),))
        with pg.try_lock("f") as got:
            assert got is True
            pg.commit("f", b"second", [], index=(None, None))
        assert row_of(pg_url, "f")[1] == b"second"
        # nothing of ours is left holding it
        assert other.execute("SELECT pg_try_advisory_lock(%s)", (_lock_key(pg.schema, "f"),)).fetchone()[0]
    finally:
        other.close()


def test_a_fenced_off_commit_with_writes_in_its_transaction_commits_none_of_them(pg_url, pg):
    """The commit statement and COMMIT go in one round trip: when the version fence
    fails, the statement raises, so the COMMIT after it never runs."""
    pg.commit("f", b"first", [b"a"], index=(None, None))
    sql(pg_url, "CREATE TABLE side (note text)")
    with pg.lock("f"):
        from flow.pgstore import current_step

        step = current_step(pg.dbkey)
        step.transaction().execute("INSERT INTO side VALUES ('written in the step')")
        # another worker moves the flow behind this one's back (its lock was lost, say)
        sql(pg_url, "UPDATE flows SET version = nextval('flow_version'), snapshot = 'theirs' WHERE id = 'f'")
        with pytest.raises(StoreWriteError, match=r"flow 'f' was changed by another worker.*nothing of this "
                                                  r"step was committed"):
            pg.commit("f", b"mine", [b"b"], index=(None, None))
        assert not step.in_tx
    assert sql(pg_url, "SELECT count(*) FROM side") == [(0,)]
    assert row_of(pg_url, "f")[1:] == (b"theirs", 1)
    # a flow created by another worker meanwhile: the same
    with pg.lock("g"):
        current_step(pg.dbkey).transaction().execute("INSERT INTO side VALUES ('g')")
        sql(pg_url, "INSERT INTO flows (id, snapshot, version, born) "
                    "VALUES ('g', 'theirs', nextval('flow_version'), 1)")
        with pytest.raises(StoreWriteError, match=r"flow 'g' was created by another worker"):
            pg.commit("g", b"mine", [], index=(None, None))
    assert sql(pg_url, "SELECT count(*) FROM side") == [(0,)]
    # and the store goes on: a fresh step commits
    with pg.lock("f"):
        pg.commit("f", b"again", [], index=(None, None))
    assert row_of(pg_url, "f")[1] == b"again"


def listen(url, channel):
    conn = psycopg.connect(url, autocommit=True)
    conn.execute(f'LISTEN "{channel}"')
    return conn


def notified(conn, seconds):
    """The payloads received within `seconds` (after a commit returned: the server
    has queued them by then; the wait only covers delivery)."""
    out = []
    select.select([conn.fileno()], [], [], seconds)
    conn.pgconn.consume_input()
    while (n := conn.pgconn.notifies()) is not None:
        out.append(json.loads(n.extra.decode() if isinstance(n.extra, bytes) else n.extra))
    return out


def test_only_flows_a_worker_could_wait_for_are_announced(pg_url, pg):
    conn = listen(pg_url, pg.channel)
    try:
        pg.commit("waits", b"s", [], index=("ask", None))
        pg.commit("sleeps", b"s", [], index=(None, 1234.5))
        got = notified(conn, 5)
        got += notified(conn, 0.2) if len(got) < 2 else []
        assert {(d["i"], d["k"], d["w"]) for d in got} == {("waits", "ask", None), ("sleeps", None, 1234.5)}
        pg.commit("done", b"s", [], index=(None, None))  # finished: nobody waits for it
        pg.commit("waits", b"t", [], index=(None, None))
        pg.commit("marker", b"s", [], index=("ask", None))  # after them: its arrival means they were skipped
        got = notified(conn, 5)
        got += notified(conn, 0.2) if not got else []
        assert [d["i"] for d in got] == ["marker"]
        # a step with writes in its transaction: announced after its COMMIT, in a transaction of its own
        sql(pg_url, "CREATE TABLE side (note text)")
        with pg.lock("in-tx"):
            from flow.pgstore import current_step

            current_step(pg.dbkey).transaction().execute("INSERT INTO side VALUES ('x')")
            pg.commit("in-tx", b"s", [], index=("ask", 99.0))
        got = notified(conn, 5)
        assert [(d["i"], d["k"], d["w"]) for d in got] == [("in-tx", "ask", 99.0)]
        assert sql(pg_url, "SELECT note FROM side") == [("x",)]
        with pg.lock("in-tx"):
            current_step(pg.dbkey).transaction().execute("INSERT INTO side VALUES ('y')")
            pg.commit("in-tx", b"t", [], index=(None, None))  # finished: not announced
        pg.commit("marker", b"t", [], index=("ask", None))
        got = notified(conn, 5)
        got += notified(conn, 0.2) if not got else []
        assert [d["i"] for d in got] == ["marker"]
    finally:
        conn.close()


def test_a_database_at_schema_version_1_is_migrated_and_its_flows_kept(pg_url):
    with psycopg.connect(pg_url, autocommit=True) as conn:
        migrate(conn, Schema("flows", SCHEMA.migrations[:1]), "test")
    sql(pg_url, "INSERT INTO flows (id, snapshot, version, born, journal_len) "
                "VALUES ('old', 'v1 snapshot', nextval('flow_version'), 1, 1)")
    sql(pg_url, "INSERT INTO flow_journal (flow_id, seq, entry) VALUES ('old', 0, 'j0')")
    s = PgStore(pg_url)
    try:
        assert (s.migrated.before, s.migrated.after) == (1, SCHEMA.latest)
        assert [v for v, _ in s.migrated.steps] == list(range(2, SCHEMA.latest + 1))
        assert sql(pg_url, "SELECT version FROM schema_version WHERE component = 'flows'") == [(SCHEMA.latest,)]
        got = s.get("old")
        assert got.snapshot == b"v1 snapshot" and got.journal == [b"j0"]
        with s.lock("old"):
            s.commit("old", b"v2 snapshot", [b"j1"], index=(None, None))
        got = s.get("old")
        assert got.snapshot == b"v2 snapshot" and got.journal == [b"j0", b"j1"]
    finally:
        s.close()


def test_an_announcement_failing_after_the_commit_does_not_undo_or_deny_it(pg_url, pg, monkeypatch):
    import flow.pgstore as pgstore
    from flow.pgstore import current_step

    monkeypatch.setattr(pgstore, "_ANNOUNCE", "SELECT pg_notify(%s, %s::integer::text)")  # fails: not a number
    sql(pg_url, "CREATE TABLE side (note text)")
    with pg.lock("f"):
        current_step(pg.dbkey).transaction().execute("INSERT INTO side VALUES ('x')")
        pg.commit("f", b"mine", [b"e"], index=("ask", None))  # no error: it landed
        assert not current_step(pg.dbkey).in_tx
        pg.commit("f", b"again", [], index=("ask", None))  # the step goes on from the new version
    assert row_of(pg_url, "f")[1:] == (b"again", 1)
    assert sql(pg_url, "SELECT note FROM side") == [("x",)]
