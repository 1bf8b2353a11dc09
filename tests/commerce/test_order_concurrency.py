"""Duplicate webhooks from concurrent processes: 100 orders are begun, then 8 worker
processes deliver the same payment webhook for every order at once (each in its
own order of orders). Each order must be paid and fulfilled exactly once, and
exactly one delivery per order answers "settled" — every other "already-settled"."""

import json
import subprocess
import sys
import textwrap
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from commerce import Shop

ROOT = Path(__file__).resolve().parents[2]
ORDERS = 100
WORKERS = 8
CART = [("tea", 2), ("mug", 1)]
TOTAL = 2100

WORKER = textwrap.dedent(
    """
    import json, random, sys
    sys.path.insert(0, sys.argv[1])
    from commerce import Shop

    data_dir, seed, orders = sys.argv[2], int(sys.argv[3]), json.loads(sys.argv[4])
    shop = Shop(data_dir)
    random.Random(seed).shuffle(orders)
    print("ready", flush=True)
    sys.stdin.readline()  # the starting gun: every worker is open and waiting
    answers = {}
    for order in orders:
        try:
            answers[order] = shop.settle(order, "pay-" + order, %d)
        except Exception as e:
            answers[order] = "error: %%s: %%s" %% (type(e).__name__, e)
    print(json.dumps(answers), flush=True)
    """
    % TOTAL
)


def test_duplicate_webhooks_from_eight_processes_settle_each_order_once(tmp_path, store_location, store_kind):
    data_dir = store_location
    order_ids = [f"o-{i:03d}" for i in range(ORDERS)]
    with Shop(data_dir) as shop, ThreadPoolExecutor(8) as pool:  # threads share fsyncs
        assert set(pool.map(lambda o: shop.begin(o, CART), order_ids)) == {"awaiting-payment"}

    script = tmp_path / "worker.py"
    script.write_text(WORKER, encoding="utf-8")
    workers = [
        subprocess.Popen([sys.executable, str(script), str(ROOT), str(data_dir), str(seed), json.dumps(order_ids)],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for seed in range(WORKERS)
    ]
    try:
        for w in workers:
            assert w.stdout.readline().strip() == "ready", w.stderr.read()
        for w in workers:
            w.stdin.write("go\n")
            w.stdin.flush()
        answers = []
        for w in workers:
            out, err = w.communicate(timeout=600)
            assert w.returncode == 0, err
            answers.append(json.loads(out))
    finally:
        for w in workers:
            if w.poll() is None:
                w.kill()

    for order in order_ids:
        got = Counter(a[order] for a in answers)
        assert got == Counter({"settled": 1, "already-settled": WORKERS - 1}), (order, got)

    with Shop(data_dir) as shop:
        for order in order_ids:
            records = shop.ledger.records(order)
            assert [r.kind for r in records] == ["created", "reserved", "paid", "fulfilled"], order
            assert records[2].amount == TOTAL
            assert shop.status(order) == "fulfilled"
        report = shop.ledger.verify()
        assert report.ok, str(report)
        assert report.records == 1 + 4 * ORDERS  # the opening stock, then the orders'
        seqs = [r.seq for r in shop.ledger.records()]
        assert len(seqs) == 4 * ORDERS + 1 and seqs == sorted(set(seqs))  # nothing lost, in order
        if store_kind == "file":  # (PostgreSQL's seq is a sequence: gaps where an insert lost a race)
            assert seqs == list(range(1, 4 * ORDERS + 2))  # nothing interleaved


def test_concurrent_begins_of_the_same_orders_create_each_once(store_location):
    """Two threads of one shop and a second shop in the same process begin the same
    orders at once: one created and one reserved record per order."""
    data_dir = store_location
    order_ids = [f"b-{i}" for i in range(20)]
    with Shop(data_dir) as one, Shop(data_dir) as two, ThreadPoolExecutor(4) as pool:
        jobs = [pool.submit(shop.begin, o, CART) for o in order_ids for shop in (one, two, one, two)]
        assert {j.result() for j in jobs} == {"awaiting-payment"}
        for order in order_ids:
            assert [r.kind for r in one.ledger.records(order)] == ["created", "reserved"]
        assert one.ledger.verify().ok
