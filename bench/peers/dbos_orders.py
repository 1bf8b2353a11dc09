"""The order lifecycle on DBOS Transact, for bench/orders_bench.py (run in a throwaway
venv with `dbos` installed; never imported by flowscheme).

The same lifecycle as schemes/order.scm: a workflow per order, the order id as the
workflow id, a reserve step, DBOS.recv for the payment (the webhook is DBOS.send),
a fulfil step. SQLite system database (DBOS's default journal mode, synchronous=FULL:
every commit is fsync'd), or with --db-url a PostgreSQL one (bench/pg_bench.py).
Prints one JSON object on stdout; progress on stderr.

    python dbos_orders.py --orders 200 --threads 32 --db /tmp/x.sqlite
    python dbos_orders.py --orders 200 --threads 32 --db-url postgresql://u@127.0.0.1:5432/dbos
"""

import argparse
import json
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor

from dbos import DBOS, SetWorkflowID


@DBOS.step()
def reserve(order_id):
    return "reserved"


@DBOS.step()
def fulfil(order_id):
    return "fulfilled"


@DBOS.workflow()
def order_lifecycle(order_id):
    reserve(order_id)
    payment = DBOS.recv("payment", timeout_seconds=120)
    if payment is None:
        return "payment-timed-out"
    fulfil(order_id)
    return "fulfilled"


def one_order(order_id):
    """begin (start the workflow under the order id) + settle (the webhook) + wait for it."""
    with SetWorkflowID(order_id):
        handle = DBOS.start_workflow(order_lifecycle, order_id)
    DBOS.send(order_id, {"payment_ref": "pay-" + order_id, "amount": 2100}, topic="payment",
              idempotency_key="pay-" + order_id)
    result = handle.get_result()
    if result != "fulfilled":
        raise RuntimeError(f"{order_id}: {result}")


def timed(label, orders, threads):
    ids = [f"{label}-{i}" for i in range(orders)]
    start = time.perf_counter()
    if threads == 1:
        for order_id in ids:
            one_order(order_id)
    else:
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(one_order, ids))
    seconds = time.perf_counter() - start
    print(f"dbos {label}: {orders} orders in {seconds:.2f}s", file=sys.stderr, flush=True)
    return {"orders": orders, "threads": threads, "seconds": seconds, "orders_per_s": orders / seconds}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--orders", type=int, default=200)
    ap.add_argument("--single-orders", type=int, default=50)
    ap.add_argument("--threads", type=int, default=32)
    where = ap.add_mutually_exclusive_group(required=True)
    where.add_argument("--db", help="SQLite system database file (created)")
    where.add_argument("--db-url", help="a PostgreSQL database URL for DBOS's system database instead")
    ap.add_argument("--journal", choices=["default", "wal"], default="default",
                    help="SQLite journal mode: DBOS's default (rollback journal) or WAL; "
                         "synchronous=FULL either way, so every commit is fsync'd")
    args = ap.parse_args()

    if args.db_url:
        return run_on_postgres(args)
    for suffix in ("", "-journal", "-wal", "-shm"):
        if os.path.exists(args.db + suffix):
            os.remove(args.db + suffix)
    if args.journal == "wal":  # persistent in the file: DBOS's connections inherit it
        import sqlite3

        con = sqlite3.connect(args.db)
        con.execute("PRAGMA journal_mode=WAL")
        con.close()
    DBOS(config={"name": "orders-bench", "system_database_url": f"sqlite:///{args.db}",
                 "log_level": "WARNING"})
    DBOS.launch()
    try:
        one_order("warm-up")
        out = {
            "version": _version(),
            "journal": args.journal,
            "single": timed("single", args.single_orders, 1),
            "concurrent": timed("concurrent", args.orders, args.threads),
        }
    finally:
        DBOS.destroy()
    import sqlite3

    con = sqlite3.connect(args.db)  # what DBOS's own connections get: the file's mode, the default sync
    out["sqlite"] = {"journal_mode": con.execute("PRAGMA journal_mode").fetchone()[0],
                     "synchronous": {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}.get(
                         con.execute("PRAGMA synchronous").fetchone()[0], "?")}
    con.close()
    print(json.dumps(out))


def run_on_postgres(args):
    """The same runs with DBOS's system database on PostgreSQL (bench/pg_bench.py)."""
    DBOS(config={"name": "orders-bench", "system_database_url": args.db_url, "log_level": "WARNING",
                 "sys_db_pool_size": max(20, args.threads + 4)})
    DBOS.launch()
    try:
        one_order("warm-up")
        out = {
            "version": _version(),
            "database": "postgresql",
            "single": timed("single", args.single_orders, 1),
            "concurrent": timed("concurrent", args.orders, args.threads),
        }
    finally:
        DBOS.destroy()
    print(json.dumps(out))


def _version():
    try:
        from importlib.metadata import version

        return version("dbos")
    except Exception:
        return "?"


if __name__ == "__main__":
    main()
