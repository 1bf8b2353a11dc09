"""Races between processes on one data directory or database: the payment webhook against the
payment deadline (exactly one wins; a payment that loses is refund-due, never
lost), and 8 processes delivering payments, duplicate deliveries, second payments
under other references and cancellations for 200 orders at once. Every order ends
in one lifecycle, each record once; the stock on hand is the opening stock minus
what was fulfilled; every payment is fulfilled-for or refund-due."""

import json
import random
import subprocess
import sys
import textwrap
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from commerce import Shop, audit
from flow import ManualClock

ROOT = Path(__file__).resolve().parents[2]
T0 = 1_800_000_000
WINDOW = 1800
CART = [("tea", 2), ("mug", 1)]
TOTAL = 2100
OPENING = {"tea": 1000, "mug": 1000}

# A worker: opens a Shop on a clock standing at job["now"], says "ready", waits for
# the starting gun, then runs its ops in order; prints {op index: answer}.
WORKER = textwrap.dedent(
    """
    import json, sys
    sys.path.insert(0, sys.argv[1])
    from commerce import Shop
    from flow import ManualClock

    job = json.loads(sys.stdin.readline())
    shop = Shop(job["data"], clock=ManualClock(job["now"]), payment_window=job["window"])
    print("ready", flush=True)
    sys.stdin.readline()
    answers = []
    for op in job["ops"]:
        try:
            if op[0] == "settle":
                answers.append(shop.settle(op[1], op[2], job["total"]))
            elif op[0] == "cancel":
                answers.append(shop.cancel(op[1]))
            elif op[0] == "run-due":
                answers.append(shop.run_due())
        except Exception as e:
            answers.append("error: %s: %s" % (type(e).__name__, e))
    shop.close()
    print(json.dumps(answers), flush=True)
    """
)


def run_workers(tmp_path, data, jobs):
    """Start one process per job, fire them together; their answers, in job order."""
    script = tmp_path / "worker.py"
    script.write_text(WORKER, encoding="utf-8")
    procs = [subprocess.Popen([sys.executable, str(script), str(ROOT)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in jobs]
    try:
        for p, job in zip(procs, jobs):
            p.stdin.write(json.dumps(dict(job, data=str(data), window=WINDOW, total=TOTAL)) + "\n")
            p.stdin.flush()
        for p in procs:
            assert p.stdout.readline().strip() == "ready", p.stderr.read()
        for p in procs:
            p.stdin.write("go\n")
            p.stdin.flush()
        out = []
        for p in procs:
            stdout, stderr = p.communicate(timeout=600)
            assert p.returncode == 0, stderr
            out.append(json.loads(stdout))
        return out
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()


def begin_all(data, orders):
    with Shop(data, clock=ManualClock(T0), payment_window=WINDOW, opening_stock=OPENING) as shop, \
            ThreadPoolExecutor(8) as pool:
        assert set(pool.map(lambda o: shop.begin(o, CART), orders)) == {"awaiting-payment"}


def check_settled(shop, orders, delivered):
    """Each order fulfilled or released, each record once; stock; every payment ref
    delivered for an order either the one it was fulfilled for or refund-due."""
    fulfilled = 0
    outcome = {}
    for order in orders:
        records = shop.ledger.records(order)
        kinds = [r.kind for r in records]
        assert kinds[:2] == ["created", "reserved"], (order, kinds)
        assert Counter(k for k in kinds if k != "refund-due") in (
            Counter(created=1, reserved=1, paid=1, fulfilled=1),
            Counter(created=1, reserved=1, released=1),
            Counter(created=1, reserved=1, paid=1, released=1)), (order, kinds)
        outcome[order] = shop.status(order)
        paid = [r for r in records if r.kind == "paid"]
        refunds = {r.details["payment_ref"] for r in records if r.kind == "refund-due"}
        if "fulfilled" in kinds:
            fulfilled += 1
            assert outcome[order] == "fulfilled"
            assert refunds == delivered[order] - {paid[0].details["payment_ref"]}, order
        else:
            assert outcome[order] in ("expired", "cancelled"), (order, outcome[order])
            assert refunds == delivered[order], (order, refunds, delivered[order])
        assert all(r.amount == TOTAL for r in records if r.kind in ("paid", "refund-due"))
    assert shop.stock()["tea"] == OPENING["tea"] - 2 * fulfilled
    assert shop.stock()["mug"] == OPENING["mug"] - fulfilled
    report = shop.ledger.verify()
    assert report.ok, str(report)
    cross = audit.verify(shop)
    assert cross.ok, str(cross)
    return outcome


@pytest.mark.parametrize("meeting", [False, True], ids=["side-by-side", "meeting"])
def test_the_webhook_and_the_deadline_at_the_same_moment_in_two_processes(tmp_path, store_location, meeting):
    """One process delivers each order's payment half a second before its deadline
    (by its clock), the other fires the deadlines (by its clock, due): for each
    order exactly one wins — fulfilled, or expired with the payment refund-due
    (recorded by the release when the payment came first, by the webhook when
    the release did). Side by side, both go through the orders in the same order
    (the timer overtakes); meeting, from both ends."""
    data = store_location
    orders = [f"r-{i:02d}" for i in range(40)]
    begin_all(data, orders)
    sequence = list(reversed(orders)) if meeting else orders
    payer = {"now": T0 + WINDOW - 0.5, "ops": [["settle", o, f"pay-{o}"] for o in sequence]}
    timer = {"now": T0 + WINDOW, "ops": [["run-due"]] * 3}  # fires in id order
    paid, fired = run_workers(tmp_path, data, [payer, timer])
    if meeting:
        paid.reverse()
    assert all(not str(a).startswith("error") for a in paid), paid
    assert set(paid) <= {"settled", "expired"}, paid
    expired_by_timer = {o for batch in fired for o, status in batch if status == "expired"}
    assert sum(len(batch) for batch in fired) == len(expired_by_timer)  # each deadline fired once
    with Shop(data, clock=ManualClock(T0 + WINDOW)) as shop:
        outcome = check_settled(shop, orders, {o: {f"pay-{o}"} for o in orders})
        for order, answer in zip(orders, paid):
            assert outcome[order] == ("fulfilled" if answer == "settled" else "expired"), order
            assert (order in expired_by_timer) == (answer == "expired"), order
        assert shop.run_due() == []


def test_eight_processes_deliver_payments_duplicates_and_cancellations_for_200_orders(tmp_path, store_location):
    data = store_location
    orders = [f"o-{i:03d}" for i in range(200)]
    begin_all(data, orders)
    rng = random.Random(15)
    ops = []      # (op, order, ref, how many processes deliver it)
    delivered = {o: {f"pay-{o}"} for o in orders}
    for i, o in enumerate(orders):
        ops.append((["settle", o, f"pay-{o}"], 3))          # the webhook, delivered thrice
        if i % 3 == 0:
            ops.append((["settle", o, f"pay-{o}-b"], 2))    # a second, real payment
            delivered[o].add(f"pay-{o}-b")
        if i % 4 == 0:
            ops.append((["cancel", o], 2))                 # the customer cancels
    per_process = [[] for _ in range(8)]
    for op, copies in ops:
        for k in rng.sample(range(8), copies):
            per_process[k].append(op)
    for mine in per_process:
        rng.shuffle(mine)
    answers = run_workers(tmp_path, data, [{"now": T0 + 1, "ops": mine} for mine in per_process])

    settled = Counter()
    for mine, got in zip(per_process, answers):
        for op, answer in zip(mine, got):
            if op[0] == "settle":
                assert answer in ("settled", "already-settled", "duplicate-payment", "cancelled"), (op, answer)
                settled[op[1]] += answer == "settled"
            else:
                assert answer == "cancelled" or "is fulfilled: it cannot be cancelled" in answer, (op, answer)
    with Shop(data, clock=ManualClock(T0 + 1)) as shop:
        outcome = check_settled(shop, orders, delivered)
        for i, o in enumerate(orders):
            if i % 4:
                assert outcome[o] == "fulfilled", o  # nobody cancelled it
            assert settled[o] == (1 if outcome[o] == "fulfilled" else 0), (o, settled[o])
        assert Counter(outcome.values())["cancelled"] > 0  # the cancellations did win some races
