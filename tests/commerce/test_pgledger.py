"""PgLedger, the order ledger on PostgreSQL: the Ledger API on tables, the
atomic conditional stock append across processes, verify, the schema version,
a dropped connection — and a served flow step's ledger records committed in
the same transaction as the flow's commit (both land, or neither)."""

import os
import signal
import subprocess
import sys
import textwrap

import pytest

from commerce import audit
from commerce.ledger import STOCK, LedgerError, LedgerInputError
from commerce.orders import Shop
from commerce.pgledger import LedgerSchemaError, PgLedger
from flow import Failed, FlowRuntime, ManualClock, StoreWriteError, Suspended
from interp.limits import Limits
from pgserver import sql

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HANG = 60  # seconds: a hang detector, never a timing assertion


@pytest.fixture
def ledger(pg_url):
    lg = PgLedger(pg_url)
    yield lg
    lg.close()


def test_append_is_idempotent_by_key_and_reads_back_what_was_written(ledger):
    assert ledger.created
    r, new = ledger.append("o-1", "created", "o-1:created", amount=2100, details={"cart": [["tea", 2]],
                                                                                  "raw": b"\x00\xff"})
    assert new and r.order == "o-1" and r.amount == 2100 and r.details == {"cart": [["tea", 2]], "raw": b"\x00\xff"}
    again, new = ledger.append("o-1", "created", "o-1:created", amount=9999)
    assert not new and again == r
    ledger.append(STOCK, "received", "stock:opening", details={"stock": {"tea": 5}})
    ledger.append("o-1", "reserved", "o-1:1", details={"stock": {"tea": -2}})
    ledger.append("o-2", "created", "o-2:created", amount=1)
    assert [x.kind for x in ledger.records("o-1")] == ["created", "reserved"]
    assert [x.key for x in ledger.records()] == ["o-1:created", "stock:opening", "o-1:1", "o-2:created"]
    seqs = [x.seq for x in ledger.records()]
    assert seqs == sorted(seqs) and [x.offset for x in ledger.records()] == seqs
    assert ledger.orders() == ["o-1", "o-2"]
    assert ledger.stock() == {"tea": 3}
    assert ledger.has_key("o-1:1") and not ledger.has_key("o-1:2") and ledger.get("nope") is None
    assert ledger.verify().ok, ledger.verify()


def test_bad_appends_are_refused_and_write_nothing(ledger):
    for args, kw, message in [
        (("o", "shipped", "k"), {}, "kind must be one of"),
        (("", "created", "k"), {}, "order must be a non-empty str"),
        (("o", "created", "k"), {"amount": 2.5}, "amount must be an int"),
        (("o\x00x", "created", "k"), {}, "NUL character"),
        (("o", "created", "k\x00"), {}, "NUL character"),
        (("o", "reserved", "k"), {"details": {"stock": {"a\x00": -1}}}, "NUL character"),
        (("o", "reserved", "k"), {"short_kind": "nonsense"}, "short_kind must be one of"),
    ]:
        with pytest.raises(LedgerInputError, match=message):
            ledger.append(*args, **kw)
    assert ledger.records() == [] and ledger.stock() == {}


def test_of_many_processes_reserving_the_last_units_exactly_that_many_get_them(pg_url):
    with PgLedger(pg_url) as lg:
        lg.append(STOCK, "received", "stock:in", details={"stock": {"mug": 3}})
    racers = 8
    script = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {ROOT!r})
        from commerce.pgledger import PgLedger
        lg = PgLedger({pg_url!r})
        sys.stdin.readline()  # go
        r, new = lg.append(sys.argv[1], "reserved", sys.argv[1] + ":1", details={{"stock": {{"mug": -1}}}},
                           short_kind="out-of-stock")
        print(r.kind, new)
    """)
    procs = [subprocess.Popen([sys.executable, "-c", script, f"o-{i}"], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True) for i in range(racers)]
    for p in procs:
        p.stdin.write("go\n")
        p.stdin.flush()
    outs = [p.communicate(timeout=HANG)[0].split() for p in procs]
    kinds = sorted(o[0] for o in outs)
    assert kinds == ["out-of-stock"] * 5 + ["reserved"] * 3
    assert all(o[1] == "True" for o in outs)
    with PgLedger(pg_url) as lg:
        assert lg.stock() == {"mug": 0}
        short = [r for r in lg.records() if r.kind == "out-of-stock"]
        assert all(r.details["short"] == {"mug": {"wanted": 1, "on_hand": 0}} for r in short)


def test_verify_reports_lifecycle_problems_and_a_balance_that_disagrees(ledger, pg_url):
    ledger.append("o-1", "paid", "o-1:2", amount=5)  # paid before reserved
    ledger.append(STOCK, "received", "stock:in", details={"stock": {"tea": 4}})
    sql(pg_url, "UPDATE ledger_stock SET on_hand = 40 WHERE sku = 'tea'")
    report = ledger.verify()
    text = str(report)
    assert not report.ok and report.records == 2
    assert "'paid' recorded before 'reserved'" in text
    assert "stock of 'tea': the balance table holds 40, but the records' stock changes add up to 4" in text


def test_a_newer_ledger_schema_is_refused_naming_both_versions(pg_url):
    PgLedger(pg_url).close()
    sql(pg_url, "UPDATE schema_version SET version = 5 WHERE component = 'ledger'")
    with pytest.raises(LedgerSchemaError, match="ledger tables are at schema version 5, but this flowscheme "
                                                "knows versions up to 1"):
        PgLedger(pg_url)


def test_an_append_whose_connections_were_cut_is_retried_and_lands_once(ledger, pg_url):
    ledger.append("o-1", "created", "o-1:created", amount=1)
    sql(pg_url, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid()")
    r, new = ledger.append("o-1", "reserved", "o-1:1")
    assert new and [x.key for x in ledger.records()] == ["o-1:created", "o-1:1"]
    assert ledger.append("o-1", "reserved", "o-1:1")[1] is False


# ---------------------------------------------------------------------- one transaction with the flow

CHARGE = "(defflow charge (lambda (n) (request 'charge n) (request 'confirm n)))"


def test_a_served_steps_records_commit_with_the_flow_or_not_at_all(pg_url):
    rt = FlowRuntime(store=pg_url)
    rt.load(CHARGE)
    lg = PgLedger(pg_url)
    try:
        def charge(req):
            lg.append(req.flow_id, "created", f"{req.flow_id}:charged", amount=req.payload)
            return "ok"

        # the commit fails after the handler's append: neither the flow nor the record lands
        real = rt.store.commit
        rt.store.commit = lambda *a, **k: (_ for _ in ()).throw(StoreWriteError("db", None, "x", "commit failed"))
        with pytest.raises(StoreWriteError, match="commit failed"):
            rt.start("charge", 7, flow_id="c1", serve={"charge": charge})
        rt.store.commit = real
        assert "c1" not in rt.ids() and lg.records() == []
        # the step runs over its limit after the append: nothing is committed, the record goes too
        limited = FlowRuntime(store=pg_url, limits=Limits(fuel=10_000))
        limited.load("(defflow spins (lambda (n) (request 'charge n) (let loop () (loop))))")
        try:
            assert isinstance(limited.start("spins", 5, flow_id="c0", serve={"charge": charge}), Failed)
            assert "c0" not in limited.ids() and lg.records() == []
        finally:
            limited.close()
        # the normal path lands both, in one commit
        assert isinstance(rt.start("charge", 7, flow_id="c1", serve={"charge": charge}), Suspended)
        assert rt.result("c1").kind == "confirm"
        assert [(r.key, r.amount) for r in lg.records()] == [("c1:charged", 7)]
        # outside a step the ledger commits on its own
        assert lg.append("c2", "created", "c2:created")[1] and lg.has_key("c2:created")
    finally:
        lg.close()
        rt.close()


KILLED_STEP = textwrap.dedent("""
    import os, signal, sys
    sys.path.insert(0, {root!r})
    from commerce.pgledger import PgLedger
    from flow import FlowRuntime
    rt = FlowRuntime(store={url!r})
    rt.load({flow!r})
    lg = PgLedger({url!r})

    def charge(req):
        lg.append(req.flow_id, "created", req.flow_id + ":charged", amount=req.payload)
        assert lg.get(req.flow_id + ":charged") is not None  # the step sees its own write
        os.kill(os.getpid(), signal.SIGKILL)  # between the append and the flow's commit

    rt.resume("k1", "go", serve={{"charge": charge}})
""")


def test_a_worker_killed_between_the_append_and_the_commit_leaves_neither(pg_url):
    rt = FlowRuntime(store=pg_url)
    rt.load("(defflow killed (lambda (n) (request 'start n) (request 'charge n) (request 'confirm n)))")
    lg = PgLedger(pg_url)
    try:
        rt.start("killed", 3, flow_id="k1")
        flow = "(defflow killed (lambda (n) (request 'start n) (request 'charge n) (request 'confirm n)))"
        proc = subprocess.run([sys.executable, "-c", KILLED_STEP.format(root=ROOT, url=pg_url, flow=flow)],
                              capture_output=True, text=True, timeout=HANG)
        assert proc.returncode == -signal.SIGKILL, proc.stderr
        assert rt.result("k1").kind == "start" and lg.records() == []
        # run again (no worker holds the flow: the killed one's lock went with its connection)
        served = rt.resume("k1", "go", serve={"charge": lambda req: lg.append(
            req.flow_id, "created", req.flow_id + ":charged", amount=req.payload)[0].key})
        assert served.kind == "confirm"
        assert [r.key for r in lg.records()] == ["k1:charged"]
    finally:
        lg.close()
        rt.close()


def test_a_shop_on_a_url_runs_orders_with_both_in_the_database(pg_url):
    clock = ManualClock(1_000_000.0)
    with Shop(pg_url, clock=clock, payment_window=60) as shop:
        assert shop.begin("o-1", [("tea", 2)]) == "awaiting-payment"
        total = shop.ledger.get("o-1:created").amount
        assert shop.settle("o-1", "pay-1", total) == "settled"
        assert shop.settle("o-1", "pay-1", total) == "already-settled"
        assert shop.begin("o-2", [("mug", 1)]) == "awaiting-payment"
        clock.advance(61)
        assert shop.run_due() == [("o-2", "expired")]
        assert shop.stock()["tea"] == 998 and shop.stock()["mug"] == 1000
        report = audit.verify(shop)
        assert report.ok, report
    with Shop(pg_url, clock=clock) as again:  # reopened: the opening stock is not recorded twice
        assert [r.key for r in again.ledger.records(STOCK)] == ["stock:opening"]
        assert again.status("o-1") == "fulfilled" and again.status("o-2") == "expired"


def test_the_ledger_cli_reads_and_verifies_a_url(pg_url):
    def cli(*args):
        return subprocess.run([sys.executable, "-m", "interp.cli", *args], capture_output=True, text=True,
                              timeout=120, cwd=ROOT)

    r = cli("ledger", "show", "--data", pg_url)
    assert r.returncode == 1 and "the database has no ledger tables" in r.stderr
    assert cli("order", "begin", "o-1", "tea=1", "--data", pg_url).returncode == 0
    r = cli("ledger", "show", "--data", pg_url)
    assert r.returncode == 0 and "o-1:created" in r.stdout and "o-1:1" in r.stdout
    r = cli("ledger", "verify", "--data", pg_url)
    assert r.returncode == 0 and "no problems" in r.stdout, r.stdout + r.stderr
    # a lost record (and the stock it took with it)
    sql(pg_url, "WITH gone AS (DELETE FROM ledger_records WHERE key = 'o-1:1' RETURNING 1) "
                "UPDATE ledger_stock SET on_hand = on_hand + 1 WHERE sku = 'tea'")
    r = cli("ledger", "verify", "--data", pg_url)
    assert r.returncode == 1 and "o-1:1" in r.stdout
    r = cli("ledger", "repair", "--data", pg_url)
    assert r.returncode == 0, r.stdout + r.stderr
    assert cli("ledger", "verify", "--data", pg_url).returncode == 0


def test_a_closed_ledger_refuses_use(pg_url):
    lg = PgLedger(pg_url)
    lg.close()
    with pytest.raises(LedgerError, match="closed"):
        lg.append("o", "created", "k")
