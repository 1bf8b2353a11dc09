"""PgStore, the flow store on PostgreSQL: schema versions, locks across
processes (and a SIGKILLed holder), fencing, dropped connections and a
restarted server, commit notifications, workers that spread out, and the
runtime, worker, timers and export/import on it."""

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import psycopg
import pytest

from flow import FlowRuntime, ManualClock, StoreWriteError, Suspended, Worker
from flow.model import snapshot_index
from flow.pgschema import SchemaTooNew
from flow.pgstore import PgStore
from flow.store import StoredFlow
from flowhelp import lose_the_answer_of_the_next_writes
from pgserver import sql

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HANG = 60  # seconds: a hang detector, never a timing assertion

WAITS = "(defflow waits (lambda (x) (list (request 'ask x) (request 'again x))))"
NAPS = "(defflow naps (lambda (s) (sleep s) (request 'ask s)))"


def store(url):
    return PgStore(url, snapshot_index)


def in_thread(fn):
    """Run fn in a thread -> a function that joins it (HANG s at most) and returns its result."""
    box = {}

    def run():
        try:
            box["value"] = fn()
        except BaseException as e:  # noqa: BLE001 - handed to the test
            box["error"] = e

    t = threading.Thread(target=run, daemon=True)
    t.start()

    def join():
        t.join(HANG)
        assert not t.is_alive(), "hung"
        if "error" in box:
            raise box["error"]
        return box.get("value")

    return join


# ---------------------------------------------------------------------- schema


def test_opening_creates_the_tables_and_a_version_row_and_a_second_open_changes_nothing(pg_url):
    s = store(pg_url)
    assert s.migrated.before == 0 and s.migrated.after == 3
    s.close()
    assert sql(pg_url, "SELECT component, version FROM schema_version") == [("flows", 3)]
    again = store(pg_url)
    assert again.migrated is None
    again.close()
    indexes = {r[0] for r in sql(pg_url, "SELECT indexname FROM pg_indexes WHERE tablename = 'flows'")}
    assert {"flows_by_wake", "flows_by_wait_kind"} <= indexes


def test_a_newer_schema_is_refused_naming_both_versions_and_left_alone(pg_url):
    store(pg_url).close()
    sql(pg_url, "UPDATE schema_version SET version = 7 WHERE component = 'flows'")
    with pytest.raises(SchemaTooNew, match=r"flows tables are at schema version 7, but this flowscheme knows "
                                           r"versions up to 3"):
        store(pg_url)
    with pytest.raises(SchemaTooNew):
        FlowRuntime(store=pg_url)
    assert sql(pg_url, "SELECT version FROM schema_version WHERE component = 'flows'") == [(7,)]


def test_db_migrate_says_what_it_did_and_refuses_a_newer_schema(pg_url):
    def cli(*args):
        return subprocess.run([sys.executable, "-m", "interp.cli", "db", *args], capture_output=True, text=True,
                              timeout=120, cwd=ROOT)

    r = cli("migrate", "--store", pg_url)
    assert r.returncode == 0, r.stderr
    assert "flows: created at version 3" in r.stdout
    assert "ledger: created at version 1" in r.stdout
    r = cli("migrate", "--store", pg_url)
    assert r.returncode == 0 and "flows: at version 3, nothing to do" in r.stdout
    r = cli("status", "--store", pg_url)
    assert "flows: version 3 (this flowscheme: 3)" in r.stdout
    sql(pg_url, "UPDATE schema_version SET version = 3 WHERE component = 'ledger'")
    r = cli("migrate", "--store", pg_url)
    assert r.returncode == 1 and "ledger tables are at schema version 3" in r.stderr
    r = cli("migrate", "--store", "/not/a/url")
    assert r.returncode == 2 and "not a postgresql:// URL" in r.stderr


# ---------------------------------------------------------------------- the interface


def test_commits_are_read_back_by_another_store_without_a_refresh(pg_url):
    a, b = store(pg_url), store(pg_url)
    try:
        with a.lock("f1"):
            assert a.get("f1") is None
            a.commit("f1", b"one", [b"j1"], ("ask", 50.0))
            assert a.get("f1").journal == [b"j1"]
        assert b.get("f1").snapshot == b"one"
        b.commit("f1", b"two", [b"j2", b"j3"], (None, None))
        got = a.get("f1")
        assert (got.snapshot, got.journal) == (b"two", [b"j1", b"j2", b"j3"])
        a.commit("f2", b"x", [], ("ask", 10.0))
        a.commit("f3", b"y", [], (None, 20.0))
        assert b.ids() == ["f1", "f2", "f3"]
        assert b.due(15) == [(10.0, "f2")] and b.due(100) == [(10.0, "f2"), (20.0, "f3")]
        assert b.due(100, limit=1) == [(10.0, "f2")]
        assert b.next_wake() == 10.0 and b.waiting_on("ask") == ["f2"]
        rows = sql(pg_url, "SELECT id, wait_kind, wake, journal_len FROM flows ORDER BY id")
        assert rows == [("f1", None, None, 3), ("f2", "ask", 10.0, 0), ("f3", None, 20.0, 0)]
        b.replace_all({"n": StoredFlow(b"new", [b"a", b"b"])})
        assert a.ids() == ["n"] and a.get("f1") is None and a.get("n").journal == [b"a", b"b"]
        assert a.due(1e12) == [] and a.next_wake() is None
    finally:
        a.close()
        b.close()


def test_a_flow_id_with_a_nul_is_refused_by_name(pg_url):
    s = store(pg_url)
    try:
        with pytest.raises(Exception, match="NUL character"):
            s.commit("a\x00b", b"x", [])
        assert s.get("a\x00b") is None and s.ids() == []
    finally:
        s.close()


# ---------------------------------------------------------------------- locks


def test_try_lock_skips_a_flow_another_thread_holds_and_lock_is_reentrant(pg_url):
    a = store(pg_url)
    try:
        held, release = threading.Event(), threading.Event()

        def hold():
            with a.lock("f"):
                with a.lock("f"):  # re-entrant in a thread
                    held.set()
                    release.wait(HANG)

        join = in_thread(hold)
        assert held.wait(HANG)
        with a.try_lock("f") as got:
            assert got is False
        other = store(pg_url)
        try:
            with other.try_lock("f") as got:
                assert got is False  # another process's view: the advisory lock is the server's
            with other.try_lock("g") as got:
                assert got is True
        finally:
            other.close()
        release.set()
        join()
        with a.try_lock("f") as got:
            assert got is True
    finally:
        a.close()


def test_two_stores_of_one_process_on_one_database_share_a_threads_holds(pg_url):
    a, b = store(pg_url), store(pg_url)
    try:
        def nested():
            with a.lock("f"):
                with b.lock("f"):  # the same thread: never waits for itself
                    b.commit("f", b"through-b", [b"e"])
                assert a.get("f").snapshot == b"through-b"
                a.commit("f", b"through-a", [])
            return b.get("f").snapshot

        assert in_thread(nested)() == b"through-a"
    finally:
        a.close()
        b.close()


LOCK_HOLDER = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, {root!r})
    from flow.pgstore import PgStore
    s = PgStore({url!r})
    with s.lock("victim"):
        print("locked", flush=True)
        time.sleep(600)
""")


def test_a_sigkilled_holder_frees_its_flow_for_another_worker(pg_url):
    proc = subprocess.Popen([sys.executable, "-c", LOCK_HOLDER.format(root=ROOT, url=pg_url)],
                            stdout=subprocess.PIPE, text=True)
    s = store(pg_url)
    try:
        assert proc.stdout.readline().strip() == "locked"
        with s.try_lock("victim") as got:
            assert got is False
        waiter = in_thread(lambda: s.commit("victim", b"mine", [b"e"]))  # blocks on the lock
        proc.send_signal(signal.SIGKILL)
        proc.wait(HANG)
        waiter()
        assert s.get("victim").snapshot == b"mine"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        s.close()


def test_a_worker_whose_lock_was_lost_is_fenced_off(pg_url):
    a, b = store(pg_url), store(pg_url)
    try:
        a.commit("f", b"v1", [b"e1"])
        with a.lock("f"):
            step = a._held()["f"]
            sql(pg_url, "SELECT pg_terminate_backend(%s)", step.conn.info.backend_pid)  # a's session ends
            # the lock is free: another worker (a process) moves the flow
            subprocess.run([sys.executable, "-c", f"import sys; sys.path.insert(0, {ROOT!r}); "
                            f"from flow.pgstore import PgStore; "
                            f"PgStore({pg_url!r}).commit('f', b'b-moved-it', [b'b1'])"], check=True, timeout=HANG)
            with pytest.raises(StoreWriteError, match=r"nothing of this step was committed "
                                                      r"\(another worker moved the flow meanwhile\)"):
                a.commit("f", b"stale", [b"a2"])
        got = b.get("f")
        assert (got.snapshot, got.journal) == (b"b-moved-it", [b"e1", b"b1"])
    finally:
        a.close()
        b.close()


def test_a_connection_dropped_during_a_step_still_commits_once_when_nobody_moved_the_flow(pg_url):
    a = store(pg_url)
    try:
        a.commit("f", b"v1", [b"e1"])
        with a.lock("f"):
            sql(pg_url, "SELECT pg_terminate_backend(%s)", a._held()["f"].conn.info.backend_pid)
            a.commit("f", b"v2", [b"e2"])
            assert a.get("f").journal == [b"e1", b"e2"]
        assert sql(pg_url, "SELECT seq, entry FROM flow_journal ORDER BY seq") == [(0, b"e1"), (1, b"e2")]
    finally:
        a.close()


def test_a_commit_whose_answer_was_lost_is_found_and_not_made_twice(pg_url, monkeypatch):
    """The connection drops after the server committed and before the client heard:
    the store takes the lock again on a new connection and finds its commit id."""
    a = store(pg_url)
    try:
        a.commit("f", b"v1", [b"e1"])
        lose_the_answer_of_the_next_writes(monkeypatch)
        with a.lock("f"):
            a.commit("f", b"v2", [b"e2"])
        monkeypatch.undo()
        assert sql(pg_url, "SELECT entry FROM flow_journal ORDER BY seq") == [(b"e1",), (b"e2",)]
        assert a.get("f").snapshot == b"v2"
        a.commit("f", b"v3", [b"e3"])  # and the store carries on
        assert a.get("f").journal == [b"e1", b"e2", b"e3"]
    finally:
        a.close()


def test_a_commit_cut_off_by_pg_terminate_backend_lands_once(pg_url):
    """A commit statement held up by a (test) trigger is cut off mid-way by
    pg_terminate_backend: it did not land, so the store commits it again on a new
    connection — the transition happens exactly once."""
    a = store(pg_url)
    try:
        a.commit("f", b"v1", [b"e1"])
        sql(pg_url, "CREATE SEQUENCE slow_once")  # (not rolled back: only the first try sleeps)
        sql(pg_url, "CREATE FUNCTION slow() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                    "IF NEW.snapshot = 'slow' AND nextval('slow_once') = 1 THEN PERFORM pg_sleep(600); END IF; "
                    "RETURN NEW; END $$")
        sql(pg_url, "CREATE TRIGGER slow BEFORE UPDATE ON flows FOR EACH ROW EXECUTE FUNCTION slow()")
        with a.lock("f"):
            pid = a._held()["f"].conn.info.backend_pid

            def cut():
                deadline = time.monotonic() + HANG
                while time.monotonic() < deadline:
                    waiting = sql(pg_url, "SELECT count(*) FROM pg_stat_activity WHERE pid = %s "
                                          "AND wait_event = 'PgSleep'", pid)[0][0]
                    if waiting:
                        return sql(pg_url, "SELECT pg_terminate_backend(%s)", pid)
                    time.sleep(0.01)

            cutter = in_thread(cut)
            a.commit("f", b"slow", [b"e2"])
            cutter()
        assert sql(pg_url, "SELECT entry FROM flow_journal ORDER BY seq") == [(b"e1",), (b"e2",)]
        assert sql(pg_url, "SELECT snapshot FROM flows") == [(b"slow",)]
        assert sql(pg_url, "SELECT last_value FROM slow_once") == [(2,)]  # cut off once, committed on the retry
    finally:
        a.close()


def test_the_store_carries_on_after_the_server_restarts(pg_database):
    url, server = pg_database.url, pg_database.server
    if server.external:
        pytest.skip("FLOWSCHEME_TEST_PG names a server of your own: it is not restarted by the tests")
    rt = FlowRuntime(store=url)
    rt.load(WAITS)
    try:
        rt.start("waits", 1, flow_id="before")
        server.restart()
        assert isinstance(rt.resume("before", "a"), Suspended)  # the pool reconnects
        assert isinstance(rt.start("waits", 2, flow_id="after"), Suspended)
        assert rt.ids() == ["before", "after"] and [e.answer for e in rt.journal("before")] == ["a"]
        with rt.store.lock("before"):
            server.restart()  # mid-step: the step's connection is gone
            rt.store.commit("before", rt.store.get("before").snapshot, [])
        assert rt.status("before") == "suspended"
    finally:
        rt.close()


# ---------------------------------------------------------------------- notifications


def test_a_waiting_worker_wakes_when_another_process_commits_something_due_sooner(pg_url):
    a, b = store(pg_url), store(pg_url)
    try:
        now = time.time()
        assert a.wait_for_change(0.2, wake_before=now + 100) is False  # (LISTENing from here on)
        waiter = in_thread(lambda: a.wait_for_change(HANG, wake_before=now + 100))
        b.commit("later", b"x", [], (None, now + 1000))  # due after the planned look: not a reason to wake
        b.commit("kind", b"x", [], ("other", None))
        b.commit("sooner", b"x", [], (None, now + 5))
        assert waiter() is True
        waiter = in_thread(lambda: a.wait_for_change(HANG, kinds={"ask"}))
        b.commit("asks", b"x", [], ("ask", None))
        assert waiter() is True
        stop = threading.Event()
        waiter = in_thread(lambda: a.wait_for_change(HANG, stop=stop))
        stop.set()
        assert waiter() is False
    finally:
        a.close()
        b.close()


# ---------------------------------------------------------------------- the runtime on it


def test_runtime_timers_worker_and_export_import_on_postgresql(pg_url, tmp_path):
    clock = ManualClock(1000.0)
    rt = FlowRuntime(store=pg_url, clock=clock)
    rt.load(NAPS)
    try:
        for i in range(3):
            rt.start("naps", 10 + i, flow_id=f"n{i}")
        assert [f for _, f in rt.due(1015)] == ["n0", "n1", "n2"]
        clock.set(1011)
        w = Worker(rt, handlers={"ask": lambda req: req.payload * 2})
        done = w.run_once()
        assert [(t.flow_id, t.what) for t in done] == [("n0", "fired"), ("n1", "fired")]
        assert rt.result("n0").value == 20 and rt.status("n2") == "sleeping"
        data = rt.export_store()
        other = FlowRuntime(store=str(tmp_path / "files"), clock=clock)
        other.load(NAPS)
        assert other.import_store(data) == 3
        assert other.status("n2") == "sleeping" and other.result("n1").value == 22
        back = FlowRuntime(store=pg_url, clock=clock)
        back.load(NAPS)
        back.import_store(other.export_store())
        clock.set(1020)
        assert [f for f, _ in back.fire_due()] == ["n2"]
        assert back.result("n2") == Suspended("n2", "ask", 12, back.result("n2").key)
        assert back.result("n1").value == 22
        other.close()
        back.close()
    finally:
        rt.close()


SLOW = "(defflow slow (lambda (i) (request 'work i)))"


def test_two_workers_spread_out_over_the_due_flows_and_serve_each_once(pg_url):
    n = 12
    rt = FlowRuntime(store=pg_url)
    rt.load(SLOW)
    for i in range(n):
        rt.start("slow", i, flow_id=f"s{i:02d}")
    rt.close()
    served = []
    lock = threading.Lock()

    def handler(req):
        time.sleep(0.05)  # long enough for the other worker to find this flow taken
        with lock:
            served.append(req.flow_id)
        return req.payload

    barrier = threading.Barrier(2)

    def work():
        wrt = FlowRuntime(store=pg_url)
        wrt.load(SLOW)
        try:
            barrier.wait(HANG)
            return [t.flow_id for t in Worker(wrt, handlers={"work": handler}).run_once()]
        finally:
            wrt.close()

    joins = [in_thread(work) for _ in range(2)]
    did = [j() for j in joins]
    assert sorted(served) == [f"s{i:02d}" for i in range(n)]  # each served exactly once
    assert all(did), f"a worker did nothing: {did}"  # they spread out instead of queueing
    assert sorted(did[0] + did[1]) == sorted(served)
