"""Crash everywhere: a child process drives orders and is SIGKILLed right after its
Nth ledger append (before the flow commit that follows: reserve and fulfil are
serviced inside the flow's step, so a kill there loses the uncommitted step) or
right after its Nth flow commit (before the next ledger append), for every N the
lifecycle has; then a new
Shop on the same data directory takes the begin and the webhook again, and every
order must end with exactly one created, reserved, paid and fulfilled record.

The kill is armed in the child script only (Ledger.append / FileStore.commit
wrapped there), never in production code.
"""

import json
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from commerce import Shop
from commerce.ledger import Ledger

ROOT = Path(__file__).resolve().parents[2]
KINDS = ["created", "reserved", "paid", "fulfilled"]
CARTS = {"a": [["tea", 2], ["mug", 1]], "b": [["pot", 1]]}
TOTALS = {"a": 2100, "b": 3950}
# begin a, begin b, settle a, settle b: 8 ledger appends and 4 flow commits in all
# (begin commits once, waiting for payment; settle once, done)
PLAN = [["begin", "a"], ["begin", "b"], ["settle", "a"], ["settle", "b"]]
STEPS = {"append": 8, "commit": 4}

# The child script: imports flowscheme once, then forks one worker per run (a fresh
# process with nothing open, as after a restart) so that the many runs do not each
# pay for starting Python. Each worker arms the kill, opens a Shop on its data
# directory, runs the recovery pass explicitly (its appends and commits count
# too) and delivers the plan. Runs of a scenario go one after another; scenarios in parallel.
CHILD = textwrap.dedent(
    """
    import json, os, signal, sys, traceback
    sys.path.insert(0, sys.argv[1])
    from commerce import Shop
    from commerce.ledger import Ledger
    from flow.store import FileStore

    job = json.load(sys.stdin)
    plan, carts, totals = job["plan"], job["carts"], job["totals"]

    def worker(hook, n, data_dir):
        calls = 0
        cls, name = (Ledger, "append") if hook == "append" else (FileStore, "commit")
        original = getattr(cls, name)

        def wrapped(*args, **kwargs):
            nonlocal calls
            result = original(*args, **kwargs)  # committed (fsync'd) when it returns
            calls += 1
            if calls == n:
                os.kill(os.getpid(), signal.SIGKILL)
            return result

        setattr(cls, name, wrapped)
        shop = Shop(data_dir)
        shop.recover()
        for op, order in plan:
            if op == "begin":
                shop.begin(order, [tuple(line) for line in carts[order]])
            else:
                shop.settle(order, "pay-" + order, totals[order])
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
            log = sc["dir"] + f".run{i}.log"
            pid = fork(lambda: worker(hook, n, sc["dir"]), log)
            status = os.waitpid(pid, 0)[1]
            code = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
            with open(log) as f:
                results.append([code, f.read()])
        with open(sc["dir"] + ".result.json", "w") as f:
            json.dump(results, f)

    running = set()
    for sc in job["scenarios"]:
        if len(running) >= job["parallel"]:
            running.discard(os.wait()[0])
        running.add(fork(lambda: scenario(sc), sc["dir"] + ".runner.log"))
    while running:
        running.discard(os.wait()[0])
    """
)


def run_scenarios(base, scenarios, parallel=3):
    """Run each scenario (a list of (hook, n) kills, one run per kill) in the child
    script: {scenario id: (data dir, [(returncode, output)])}."""
    script = base / "child.py"
    script.write_text(CHILD, encoding="utf-8")
    job = {"plan": PLAN, "carts": CARTS, "totals": TOTALS, "parallel": parallel,
           "scenarios": [{"dir": str(base / scenario_id(k)), "kills": k} for k in scenarios]}
    done = subprocess.run([sys.executable, str(script), str(ROOT)], input=json.dumps(job),
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    out = {}
    for kills in scenarios:
        data_dir = base / scenario_id(kills)
        result_file = Path(str(data_dir) + ".result.json")
        assert result_file.exists(), (Path(str(data_dir) + ".runner.log").read_text()
                                      if Path(str(data_dir) + ".runner.log").exists() else "no runner log")
        out[scenario_id(kills)] = (data_dir, json.loads(result_file.read_text()))
    return out


SINGLE = [[(hook, n)] for hook in ("append", "commit") for n in range(1, STEPS[hook] + 1)]
# a second crash while the restarted process is recovering / taking the redeliveries
DOUBLE = [
    [("append", 5), ("append", 1)],
    [("commit", 3), ("commit", 1)],
    [("append", 3), ("commit", 1)],
    [("commit", 4), ("append", 2)],
    [("append", 6), ("append", 1)],
    [("append", 7), ("append", 1)],
]
SCENARIOS = SINGLE + DOUBLE


def scenario_id(kills):
    return "+".join(f"{hook}{n}" for hook, n in kills)


@pytest.fixture(scope="module")
def crashed(tmp_path_factory):
    return run_scenarios(tmp_path_factory.mktemp("crash"), SCENARIOS)


def paid_before_restart(data_dir):
    with Ledger(data_dir / "ledger.log") as ledger:
        return {o for o in TOTALS if any(r.kind == "paid" for r in ledger.records(o))}


def check_every_order_complete(shop):
    for order in TOTALS:
        records = shop.ledger.records(order)
        assert [r.kind for r in records] == KINDS, order
        assert records[0].amount == TOTALS[order] and records[2].amount == TOTALS[order]
        assert records[2].details == {"payment_ref": "pay-" + order}
        assert shop.status(order) == "fulfilled"
        assert shop.flows.status(order) == "done"
    report = shop.ledger.verify()
    assert report.ok, str(report)
    assert report.records == 4 * len(TOTALS)


@pytest.mark.parametrize("kills", SCENARIOS, ids=[scenario_id(k) for k in SCENARIOS])
def test_a_crash_then_redelivery_records_each_effect_exactly_once(crashed, kills, tmp_path):
    data_dir, results = crashed[scenario_id(kills)]
    code, output = results[0]
    assert code == -signal.SIGKILL, f"the kill never fired (exit {code}):\n{output}"
    for code, output in results[1:]:
        assert code in (0, -signal.SIGKILL), output

    # Two restarts of the same wreck: with the recovery pass and the begin and the
    # webhook redelivered; and without recovery, with only the webhook redelivered
    # (for orders the ledger knows) — each must finish every order exactly once.
    bare = tmp_path / "bare"
    shutil.copytree(data_dir, bare)
    paid = paid_before_restart(data_dir)

    with Shop(data_dir) as shop:
        shop.recover()  # explicit: opening a Shop runs nothing
        for order, cart in CARTS.items():
            assert shop.begin(order, [tuple(line) for line in cart]) in ("awaiting-payment", "fulfilled")
        for order in TOTALS:
            answer = shop.settle(order, "pay-" + order, TOTALS[order])
            assert answer == ("already-settled" if order in paid else "settled"), order
            assert shop.settle(order, "pay-" + order, TOTALS[order]) == "already-settled"
        check_every_order_complete(shop)

    with Shop(bare, recover=False) as shop:
        for order, cart in CARTS.items():
            if shop.ledger.get(f"{order}:created") is None:
                shop.begin(order, [tuple(line) for line in cart])
            answer = shop.settle(order, "pay-" + order, TOTALS[order])
            assert answer in ("settled", "already-settled")
        check_every_order_complete(shop)


def test_the_child_finishes_when_no_kill_fires(tmp_path):
    """The harness itself: with N past the last step the child runs to the end,
    having made exactly STEPS appends and commits."""
    kills = [[(hook, n + 1)] for hook, n in STEPS.items()]
    for (hook, n), (data_dir, results) in zip(STEPS.items(), run_scenarios(tmp_path, kills).values()):
        [(code, output)] = results
        assert code == 0, output
        assert output.split() == ["finished", str(n)]
        with Shop(data_dir) as shop:
            check_every_order_complete(shop)
