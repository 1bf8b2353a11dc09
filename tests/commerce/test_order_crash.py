"""Crash everywhere: a child process drives orders through every lifecycle — begin
(reserved, and out-of-stock), settle, a duplicate payment, cancel, a cancel by the
runtime (`flows cancel`) then recover, a payment deadline passing on a skipped
clock (expire), a late payment — and is SIGKILLed right after its Nth ledger
append (before the flow commit that follows: reserve, fulfil and release are
serviced inside the flow's step, so a kill there loses the uncommitted step) or
right after its Nth flow commit (before the next ledger append), for every N the
plan has; then a new Shop on the same data (directory or database) recovers and takes the whole
plan again, and every order must end in its one lifecycle with each record once,
the stock on hand must be the opening stock minus what was fulfilled, and every
payment received must be the one its order was fulfilled for or refund-due.

The kill is armed in the child script only (Ledger.append / FileStore.commit, or
PgLedger.append / PgStore.commit, wrapped there), never in production code. Every
scenario runs on the file store and on PostgreSQL.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from commerce import Shop, audit
from flow import ManualClock

from shophelp import ledger_state

ROOT = Path(__file__).resolve().parents[2]
T0 = 1_800_000_000
WINDOW = 1800
CARTS = {"a": [["tea", 2], ["mug", 1]], "b": [["pot", 1]], "c": [["tea", 3]], "d": [["tray", 1]],
         "e": [["pot", 1]], "f": [["mug", 2]]}
TOTALS = {"a": 2100, "b": 3950, "c": 1350, "d": 2400, "e": 3950, "f": 2400}
OPENING = {"tea": 10, "mug": 5, "filter": 0, "honey": 0, "tray": 3, "pot": 1}
# The plan, in time order ("advance" skips the clock past every payment deadline):
# a paid; b paid, then paid again under another reference; c expires, then a late
# payment; d cancelled by the shop; e finds no pot (b holds the only one); f
# cancelled by the runtime, its reservation released by the recover that follows.
PLAN = [["begin", "a"], ["begin", "b"], ["begin", "c"], ["begin", "d"], ["begin", "e"], ["begin", "f"],
        ["settle", "a", "pay-a"], ["settle", "b", "pay-b"], ["settle", "b", "pay-b2"],
        ["cancel", "d"], ["flows-cancel", "f"], ["recover"],
        ["advance"], ["run-due"], ["settle", "c", "pay-c"]]
LIFECYCLES = {
    "a": ["created", "reserved", "paid", "fulfilled"],
    "b": ["created", "reserved", "paid", "fulfilled", "refund-due"],
    "c": ["created", "reserved", "released", "refund-due"],
    "d": ["created", "reserved", "released"],
    "e": ["created", "out-of-stock"],
    "f": ["created", "reserved", "released"],
}
STATUSES = {"a": "fulfilled", "b": "fulfilled", "c": "expired", "d": "cancelled", "e": "out-of-stock",
            "f": "cancelled"}
PAYMENTS = {"pay-a": "a", "pay-b": "b", "pay-b2": "b", "pay-c": "c"}
# appends: begin a 3 (the opening stock, created, reserved), b c d f 2 each, e 2 (created,
# out-of-stock), settle a b 2 each, pay-b2 1 (refund-due), cancel d 1, recover 1 (f
# released), run-due 1 (c released), pay-c 1 (refund-due); commits: 6 begins, 2
# settles, cancel d, flows cancel f, run-due c
STEPS = {"append": 22, "commit": 11}

# The child script: imports flowscheme once, then forks one worker per run (a fresh
# process with nothing open, as after a restart) so that the many runs do not each
# pay for starting Python. Each worker arms the kill, opens a Shop on its data
# directory (a ManualClock at T0: every run replays the plan's time from its start),
# runs the recovery pass explicitly (its appends and commits count too) and
# delivers the plan. Runs of a scenario go one after another; scenarios in parallel.
CHILD = textwrap.dedent(
    """
    import json, os, signal, sys, traceback
    sys.path.insert(0, sys.argv[1])
    from commerce import Shop
    from flow import ManualClock

    job = json.load(sys.stdin)
    plan, carts, totals = job["plan"], job["carts"], job["totals"]
    if job["kind"] == "postgres":
        from commerce.pgledger import PgLedger as Ledger
        from flow.pgstore import PgStore as FlowStore
    else:
        from commerce.ledger import Ledger
        from flow.store import FileStore as FlowStore

    def worker(hook, n, data_dir):
        calls = 0
        cls, name = (Ledger, "append") if hook == "append" else (FlowStore, "commit")
        original = getattr(cls, name)

        def wrapped(*args, **kwargs):
            nonlocal calls
            result = original(*args, **kwargs)  # committed (fsync'd) when it returns
            calls += 1
            if calls == n:
                os.kill(os.getpid(), signal.SIGKILL)
            return result

        setattr(cls, name, wrapped)
        clock = ManualClock(job["t0"])
        shop = Shop(data_dir, clock=clock, payment_window=job["window"], opening_stock=job["opening"])
        shop.recover()
        for op, *args in plan:
            if op == "begin":
                shop.begin(args[0], [tuple(line) for line in carts[args[0]]])
            elif op == "settle":
                shop.settle(args[0], args[1], totals[args[0]])
            elif op == "cancel":
                shop.cancel(args[0])
            elif op == "flows-cancel":
                shop.flows.cancel(args[0])
            elif op == "recover":
                shop.recover()
            elif op == "advance":
                clock.set(job["t0"] + job["window"] + 1)
            elif op == "run-due":
                shop.run_due()
        print("finished", calls)

    def fork(fn, log):
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
                os.dup2(fd, 1)
                os.dup2(fd, 2)
                fn()
            except BaseException:
                traceback.print_exc()
                code = 1
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        return pid

    def scenario(sc):
        results = []
        for i, (hook, n) in enumerate(sc["kills"]):
            log = sc["log"] + f".run{i}.log"
            pid = fork(lambda: worker(hook, n, sc["where"]), log)
            status = os.waitpid(pid, 0)[1]
            code = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
            with open(log) as f:
                results.append([code, f.read()])
        with open(sc["log"] + ".result.json", "w") as f:
            json.dump(results, f)

    running = set()
    for sc in job["scenarios"]:
        if len(running) >= job["parallel"]:
            running.discard(os.wait()[0])
        running.add(fork(lambda: scenario(sc), sc["log"] + ".runner.log"))
    while running:
        running.discard(os.wait()[0])
    """
)


def run_scenarios(base, scenarios, new_location, kind, parallel=3):
    """Run each scenario (a list of (hook, n) kills, one run per kill) in the child
    script, each on a store of its own from new_location() (a data directory or a
    database URL, per `kind`): {scenario id: (data location, [(returncode, output)])}."""
    script = base / "child.py"
    script.write_text(CHILD, encoding="utf-8")
    where = {scenario_id(k): new_location() for k in scenarios}
    job = {"plan": PLAN, "carts": CARTS, "totals": TOTALS, "parallel": parallel, "t0": T0, "window": WINDOW,
           "opening": OPENING, "kind": kind,
           "scenarios": [{"where": where[scenario_id(k)], "log": str(base / scenario_id(k)), "kills": k}
                         for k in scenarios]}
    done = subprocess.run([sys.executable, str(script), str(ROOT)], input=json.dumps(job),
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    out = {}
    for kills in scenarios:
        log = base / scenario_id(kills)
        result_file = Path(str(log) + ".result.json")
        assert result_file.exists(), (Path(str(log) + ".runner.log").read_text()
                                      if Path(str(log) + ".runner.log").exists() else "no runner log")
        out[scenario_id(kills)] = (where[scenario_id(kills)], json.loads(result_file.read_text()))
    return out


SINGLE = [[(hook, n)] for hook in ("append", "commit") for n in range(1, STEPS[hook] + 1)]
# a second crash while the restarted process is recovering / taking the plan again
DOUBLE = [
    [("append", 5), ("append", 1)],
    [("commit", 3), ("commit", 1)],
    [("append", 3), ("commit", 1)],
    [("commit", 4), ("append", 2)],
    [("append", 14), ("append", 1)],
    [("append", 17), ("commit", 2)],
    [("commit", 9), ("append", 3)],
    [("append", 19), ("append", 19)],
    [("commit", 10), ("commit", 10)],
]
SCENARIOS = SINGLE + DOUBLE
STRESS = os.environ.get("FLOWSCHEME_STRESS") == "1"
# On PostgreSQL the default run crashes at every third point of the plan (a bounded
# version: the file store covers every point); FLOWSCHEME_STRESS=1 runs them all there too.
PG_SCENARIOS = SCENARIOS if STRESS else SINGLE[::3]


def scenario_id(kills):
    return "+".join(f"{hook}{n}" for hook, n in kills)


@pytest.fixture(scope="module", params=["file", "postgres"])
def crashed(request, tmp_path_factory):
    """(store kind, {scenario id: (data location, results)}) of every scenario."""
    base = tmp_path_factory.mktemp("crash")
    if request.param == "file":
        yield "file", run_scenarios(base, SCENARIOS, lambda: str(base / f"data{next(_numbers)}"), "file")
        return
    server = request.getfixturevalue("pg_server")
    names = []

    def new_database():
        names.append(server.acquire_database())
        return server.url(names[-1])
    try:
        yield "postgres", run_scenarios(base, PG_SCENARIOS, new_database, "postgres")
    finally:
        server.ensure_running()
        for name in names:
            server.release_database(name)


_numbers = iter(range(10**9))


def copy_of(kind, data, tmp_path, request):
    """Another store holding what the store at `data` holds now."""
    if kind == "file":
        bare = tmp_path / "bare"
        shutil.copytree(data, bare)
        return str(bare)
    server = request.getfixturevalue("pg_server")
    name = server.copy_database(data.rsplit("/", 1)[1].split("?")[0])
    request.addfinalizer(lambda: server.drop_database(name))
    return server.url(name)


def open_shop(data_dir, **kw):
    return Shop(data_dir, clock=ManualClock(T0), payment_window=WINDOW, opening_stock=OPENING, **kw)


def deliver(shop, plan=PLAN):
    """The whole plan again, as the child runs it (each step idempotent)."""
    for op, *args in plan:
        if op == "begin":
            status = shop.begin(args[0], [tuple(line) for line in CARTS[args[0]]])
            assert status in ("awaiting-payment", STATUSES[args[0]]), (args, status)
        elif op == "settle":
            answer = shop.settle(args[0], args[1], TOTALS[args[0]])
            assert answer in ("settled", "already-settled", "duplicate-payment", "expired"), (args, answer)
        elif op == "cancel":
            assert shop.cancel(args[0]) == "cancelled"
        elif op == "flows-cancel":
            shop.flows.cancel(args[0])
        elif op == "recover":
            shop.recover()
        elif op == "advance":
            shop.clock.set(T0 + WINDOW + 1)
        elif op == "run-due":
            shop.run_due()


def check_every_order_settled(shop):
    """Each order in its one lifecycle, each record once; the stock on hand is the
    opening stock minus what was fulfilled; every payment fulfilled-for or refund-due."""
    for order, kinds in LIFECYCLES.items():
        records = shop.ledger.records(order)
        assert [r.kind for r in records] == kinds, order
        assert records[0].amount == TOTALS[order]
        assert shop.status(order) == STATUSES[order], order
    shipped = {}
    for order in ("a", "b"):
        for sku, qty in CARTS[order]:
            shipped[sku] = shipped.get(sku, 0) + qty
    assert shop.stock() == {sku: OPENING[sku] - shipped.get(sku, 0) for sku in OPENING}
    for ref, order in PAYMENTS.items():
        records = shop.ledger.records(order)
        fulfilled_for = [r for r in records if r.kind == "paid" and r.details["payment_ref"] == ref
                         and any(x.kind == "fulfilled" for x in records)]
        refund = shop.ledger.get(f"{order}:refund:{ref}")
        assert bool(fulfilled_for) != (refund is not None), (ref, order)
        assert refund is None or (refund.kind == "refund-due" and refund.amount == TOTALS[order])
    report = shop.ledger.verify()
    assert report.ok, str(report)
    assert report.records == 1 + sum(len(k) for k in LIFECYCLES.values())
    cross = audit.verify(shop)
    assert cross.ok, str(cross)


@pytest.mark.parametrize("kills", SCENARIOS, ids=[scenario_id(k) for k in SCENARIOS])
def test_a_crash_then_redelivery_records_each_effect_exactly_once(crashed, kills, tmp_path, request):
    kind, by_scenario = crashed
    if scenario_id(kills) not in by_scenario:
        pytest.skip("on PostgreSQL this crash point runs with FLOWSCHEME_STRESS=1 (the default run takes every third)")
    data_dir, results = by_scenario[scenario_id(kills)]
    code, output = results[0]
    assert code == -signal.SIGKILL, f"the kill never fired (exit {code}):\n{output}"
    for code, output in results[1:]:
        assert code in (0, -signal.SIGKILL), output

    # Two restarts of the same wreck: with the recovery pass, then the plan delivered
    # again; and without it, only the plan again — each must settle every order once.
    bare = copy_of(kind, data_dir, tmp_path, request)

    with open_shop(data_dir) as shop:
        wreck = audit.verify(shop)  # what a crash leaves is named, and is all work recover finishes
        assert wreck.ledger.ok, str(wreck)
        assert all(g.remedy == audit.RECOVER for g in wreck.gaps), str(wreck)
        shop.recover()  # explicit: opening a Shop runs nothing
        deliver(shop)
        check_every_order_settled(shop)
        before = ledger_state(data_dir)
        deliver(shop)  # and once more: every step a replay now, nothing recorded
        assert ledger_state(data_dir) == before

    with open_shop(bare, recover=False) as shop:
        deliver(shop)
        check_every_order_settled(shop)


def test_the_child_finishes_when_no_kill_fires(tmp_path, new_store_location, store_kind):
    """The harness itself: with N past the last step the child runs to the end,
    having made exactly STEPS appends and commits."""
    kills = [[(hook, n + 1)] for hook, n in STEPS.items()]
    runs = run_scenarios(tmp_path, kills, new_store_location, store_kind)
    for (hook, n), (data_dir, results) in zip(STEPS.items(), runs.values()):
        [(code, output)] = results
        assert code == 0, output
        assert output.split() == ["finished", str(n)]
        with open_shop(data_dir) as shop:
            check_every_order_settled(shop)
