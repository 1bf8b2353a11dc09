"""Orders on PostgreSQL: flowscheme with 1, 2 and 4 processes against DBOS Transact
on the same PostgreSQL server, resume latency, and a worker's memory beside many
suspended orders — all in one run.

    python bench/pg_bench.py                        # a throwaway server (see tests/pgserver.py)
    python bench/pg_bench.py --pg postgresql://u@127.0.0.1:5432/postgres   # a server of yours
    python bench/pg_bench.py --suspended 100000     # also 100,000 suspended orders (minutes)

What it measures:

  orders/s      begin + settle (the payment webhook) end to end through
                commerce.Shop on a postgresql:// URL: the flow store and the ledger
                in one database, each served step's ledger records committed in the
                flow's transaction. P processes (--procs, default 1,2,4), each with
                T threads (--threads, default 8,1: every process count with 8
                threads each, then with one each), started together; orders/s over
                the wall time from the first start to the last finish. With 8
                threads one process already keeps a 2-core machine (the server
                beside it) about 80% busy, so more processes there show what they
                cost; one thread each shows what another worker process adds while
                there are cores to run it. The ledger is verified after
                each run (every order created, reserved, paid, fulfilled once).
                Per order, from the server's statistics: transactions committed
                (xact_commit: every autocommit statement counts, reads too) and
                WAL flushes (pg_stat_wal.wal_sync: the fsyncs; the server's own
                group commit lets one flush cover several commits). The machine's
                CPU (every core, /proc/stat) over the run: CPU ms per order and
                how busy the cores were — the orders processes and the server
                share them, so once they are busy more processes cannot help.
  DBOS          bench/peers/dbos_orders.py in the throwaway venv of
                bench/orders_bench.py (pip install dbos; never a flowscheme
                dependency) with its system database in another database of the SAME
                server: a workflow per order, reserve step, DBOS.recv for the payment,
                fulfil step, the webhook as DBOS.send; --dbos-threads threads in one
                process (DBOS's own concurrency model).
  latency       one process, one thread: each begin and each settle (resume of the
                suspended flow + its commit + the fulfil step) timed alone; p50/p99.
  suspended     --suspended N orders begun and left waiting for payment (by
                --procs' largest count of processes), then a fresh worker process
                opens the shop, runs a Worker pass and the payment deadlines that are
                due (none), settles one order; its peak RSS is reported.

The server runs with fsync on (the tests' throwaway servers turn it off), so a
commit costs what it costs in production on this disk; DBOS and flowscheme share
that server and its settings. Ratios, not absolute numbers, are what to quote.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
for p in (ROOT, os.path.join(ROOT, "bench"), os.path.join(ROOT, "tests")):
    if p not in sys.path:
        sys.path.insert(0, p)

from orders_bench import CARTS, DBOS_SCRIPT, DEFAULT_VENV, PLENTY, ensure_dbos_venv, in_threads, peak_rss_mb  # noqa: E402

ME = os.path.abspath(__file__)


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def total_of(shop, order_id):
    return shop.ledger.get(f"{order_id}:created").amount  # what the payment provider was asked for


def one_order(shop, order_id, cart):
    status = shop.begin(order_id, cart)
    assert status == "awaiting-payment", (order_id, status)
    answer = shop.settle(order_id, "pay-" + order_id, total_of(shop, order_id))
    assert answer == "settled", (order_id, answer)


# ----------------------------------------------------------------------------- children


def orders_child(url, prefix, n, threads):
    """A process of the throughput run: warm up, say ready, wait for go, run n orders."""
    from commerce import Shop

    with Shop(url, opening_stock=PLENTY) as shop:
        for cart in CARTS:
            shop.quote(cart)
        for i in range(5):
            one_order(shop, f"warm-{prefix}-{i}", CARTS[i % len(CARTS)])
        print("ready", flush=True)
        sys.stdin.readline()
        start, cpu = time.time(), time.process_time()
        in_threads(lambda i: one_order(shop, f"{prefix}-{i}", CARTS[i % len(CARTS)]), n, threads)
        print(json.dumps({"start": start, "end": time.time(), "cpu": time.process_time() - cpu}), flush=True)


def latency_child(url, n):
    from commerce import Shop

    begins, settles = [], []
    with Shop(url, opening_stock=PLENTY) as shop:
        for cart in CARTS:
            shop.quote(cart)
        for i in range(n + 10):
            order_id = f"lat-{i}"
            t0 = time.perf_counter()
            assert shop.begin(order_id, CARTS[i % len(CARTS)]) == "awaiting-payment"
            t1 = time.perf_counter()
            total = total_of(shop, order_id)
            t2 = time.perf_counter()
            assert shop.settle(order_id, "pay-" + order_id, total) == "settled"
            t3 = time.perf_counter()
            if i >= 10:  # the first ones warm up
                begins.append(t1 - t0)
                settles.append(t3 - t2)
    print(json.dumps({"begin": begins, "settle": settles}))


def suspended_child(url, prefix, n, threads):
    from commerce import Shop

    done = [0]
    lock = threading.Lock()
    t0 = time.perf_counter()
    last = [t0]
    with Shop(url, opening_stock=PLENTY) as shop:
        def one(i):
            assert shop.begin(f"{prefix}-{i}", CARTS[i % len(CARTS)]) == "awaiting-payment"
            with lock:
                done[0] += 1
                now = time.perf_counter()
                if now - last[0] >= 15:
                    last[0] = now
                    log(f"  {prefix}: begun {done[0]}/{n} ({done[0] / (now - t0):.0f}/s)")

        in_threads(one, n, threads)
    print(json.dumps({"seconds": time.perf_counter() - t0}))


def worker_child(url, order_id):
    """A worker process beside the suspended orders: open, one Worker pass, the due
    deadlines, one settle; peak RSS at each point."""
    from commerce import Shop
    from flow import Worker

    t0 = time.perf_counter()
    shop = Shop(url)
    opened = time.perf_counter() - t0
    rss_open = peak_rss_mb()
    t = time.perf_counter()
    moved = Worker(shop.flows).run_once()
    due = shop.run_due()
    pass_s = time.perf_counter() - t
    t = time.perf_counter()
    answer = shop.settle(order_id, "pay-x", total_of(shop, order_id))
    settle_s = time.perf_counter() - t
    shop.close()
    print(json.dumps({"open_s": opened, "rss_open_mb": rss_open, "worker_pass_s": pass_s,
                      "worker_moved": len(moved), "due_fired": str(due), "settle": answer, "settle_s": settle_s,
                      "peak_rss_mb": peak_rss_mb()}))


# ----------------------------------------------------------------------------- parent


class Server:
    """The PostgreSQL server of the run: --pg's, or a throwaway one with fsync on."""

    def __init__(self, url=None):
        import pgserver

        if url is None:
            pgserver._SETTINGS["fsync"] = "on"  # a production-like commit; the tests turn it off
            pgserver._SETTINGS["full_page_writes"] = "on"
        self.server = pgserver.PgServer(url).start()

    def database(self, hint):
        name = self.server.new_database_name(hint)
        return self.server.create_database(name)

    def stop(self):
        if not self.server.external:
            self.server.stop()


def server_counts(url):
    """(transactions committed in the database, WAL flushes of the server) so far."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        commits = conn.execute("SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"
                               ).fetchone()[0]
        try:
            flushes = conn.execute("SELECT wal_sync FROM pg_stat_wal").fetchone()[0]
        except psycopg.Error:  # before PostgreSQL 14
            flushes = None
    return commits, flushes


def machine_cpu():
    """(busy, all) CPU seconds of the whole machine so far, every core (from /proc/stat;
    (0, 0) where it cannot be read): the orders processes and the server together."""
    try:
        with open("/proc/stat") as f:
            fields = [int(x) for x in f.readline().split()[1:]]
    except (OSError, ValueError):
        return 0.0, 0.0
    tick = os.sysconf("SC_CLK_TCK")
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    total = sum(fields[:8])  # user nice system idle iowait irq softirq steal
    return (total - idle) / tick, total / tick


def children(args_list):
    return [subprocess.Popen([sys.executable, ME] + a, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            for a in args_list]


def bench_orders(server, procs, orders, threads):
    from commerce import Shop

    url = server.database(f"orders_{procs}p")
    Shop(url, opening_stock=PLENTY).close()  # created (schema, opening stock) once, before they race
    per = orders // procs
    log(f"flowscheme on PostgreSQL: {per * procs} orders over {procs} process(es) x {threads} threads ...")
    ps = children([["--_orders", url, f"p{k}", str(per), str(threads)] for k in range(procs)])
    try:
        for p in ps:
            if p.stdout.readline().strip() != "ready":
                raise RuntimeError("an orders process failed to start")
        time.sleep(1.5)  # the warm-up's statistics reach the server (each backend reports at most once a second)
        before = server_counts(url)
        cpu_before = machine_cpu()
        for p in ps:
            p.stdin.write("go\n")
            p.stdin.flush()
        reports = [json.loads(p.stdout.readline()) for p in ps]
        cpu_after = machine_cpu()
    finally:
        for p in ps:
            p.stdin.close()
            p.wait(timeout=900)
    if any(p.returncode for p in ps):
        raise RuntimeError("an orders process failed")
    after = server_counts(url)  # (the processes have exited: their statistics are in)
    seconds = max(r["end"] for r in reports) - min(r["start"] for r in reports)
    with Shop(url) as shop:
        report = shop.ledger.verify()
        expected = 1 + 4 * (per + 5) * procs  # opening stock + created, reserved, paid, fulfilled per order
        if not report.ok or report.records != expected:
            raise SystemExit(f"ledger check failed after {procs} processes ({report.records} records, "
                             f"{expected} expected):\n{report}")
    n = per * procs
    commits = (after[0] - before[0]) / n
    flushes = None if after[1] is None else (after[1] - before[1]) / n
    busy, total = cpu_after[0] - cpu_before[0], cpu_after[1] - cpu_before[1]
    busy_share = busy / total if total else None
    cpu_ms = busy * 1000 / n
    client_ms = sum(r["cpu"] for r in reports) * 1000 / n  # the orders processes' own CPU
    log(f"  {n / seconds:.1f} orders/s (ledger verified: {report.records} records); per order "
        f"{commits:.1f} transactions" + ("" if flushes is None else f", {flushes:.2f} WAL flushes")
        + f"; machine CPU {cpu_ms:.1f} ms per order ({client_ms:.1f} in the orders processes, "
        f"{cpu_ms - client_ms:.1f} in the server and the rest)"
        + ("" if busy_share is None else f", {busy_share:.0%} busy"))
    return {"orders": n, "processes": procs, "threads": threads, "seconds": seconds, "orders_per_s": n / seconds,
            "transactions_per_order": commits, "wal_flushes_per_order": flushes,
            "machine_cpu_ms_per_order": cpu_ms, "client_cpu_ms_per_order": client_ms, "machine_busy": busy_share,
            "cores": os.cpu_count()}


def bench_dbos(server, args):
    try:
        python = ensure_dbos_venv(args.venv, install=args.dbos_install)
    except (OSError, subprocess.CalledProcessError) as e:
        log(f"DBOS is not installed ({e}): its comparison is skipped")
        return {"unavailable": str(e)}
    url = server.database("dbos")
    log(f"DBOS on the same server: {args.dbos_orders} orders on {args.dbos_threads} threads ...")
    before = server_counts(url)
    done = subprocess.run([python, DBOS_SCRIPT, "--orders", str(args.dbos_orders), "--threads",
                           str(args.dbos_threads), "--single-orders", str(args.dbos_single_orders),
                           "--db-url", url], stdout=subprocess.PIPE, text=True)
    if done.returncode != 0:
        return {"error": f"dbos_orders.py exited {done.returncode}"}
    after = server_counts(url)
    out = json.loads(done.stdout.strip().splitlines()[-1])
    n = args.dbos_orders + args.dbos_single_orders + 1  # (and its warm-up order; its launch's few are noise)
    out["transactions_per_order"] = (after[0] - before[0]) / n
    out["wal_flushes_per_order"] = None if after[1] is None else (after[1] - before[1]) / n
    log(f"  {out['concurrent']['orders_per_s']:.1f} orders/s concurrent, {out['single']['orders_per_s']:.1f} on one "
        f"thread; per order {out['transactions_per_order']:.1f} transactions"
        + ("" if after[1] is None else f", {out['wal_flushes_per_order']:.2f} WAL flushes"))
    return out


def bench_latency(server, n):
    url = server.database("latency")
    log(f"latency: {n} orders, one process, one thread ...")
    done = subprocess.run([sys.executable, ME, "--_latency", url, str(n)], stdout=subprocess.PIPE, text=True,
                          check=True)
    r = json.loads(done.stdout.strip().splitlines()[-1])
    out = {k: {"p50_ms": 1000 * pct(v, 50), "p99_ms": 1000 * pct(v, 99), "n": len(v)} for k, v in r.items()}
    log(f"  settle p50 {out['settle']['p50_ms']:.2f} ms, p99 {out['settle']['p99_ms']:.2f} ms")
    return out


def bench_suspended(server, n, procs, threads):
    from commerce import Shop

    url = server.database("suspended")
    Shop(url, opening_stock=PLENTY).close()
    log(f"suspended: beginning {n} orders over {procs} processes x {threads} threads ...")
    per = n // procs
    t0 = time.perf_counter()
    ps = children([["--_suspended", url, f"s{k}", str(per), str(threads)] for k in range(procs)])
    for p in ps:
        p.stdin.close()
    for p in ps:
        p.wait()
    if any(p.returncode for p in ps):
        return {"error": "a begin process failed"}
    seconds = time.perf_counter() - t0
    log(f"  {per * procs} begun in {seconds:.0f} s; a worker process opens the shop ...")
    done = subprocess.run([sys.executable, ME, "--_worker", url, f"s0-{per // 2}"], stdout=subprocess.PIPE,
                          text=True)
    if done.returncode != 0:
        return {"orders": per * procs, "error": f"the worker process exited {done.returncode}"}
    w = json.loads(done.stdout.strip().splitlines()[-1])
    log(f"  worker: peak RSS {w['peak_rss_mb']:.0f} MB (after opening {w['rss_open_mb']:.0f} MB)")
    return {"orders": per * procs, "begin_s": seconds, "worker": w}


def pct(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q / 100 * (len(values) - 1))))]


def report(results):
    lines = ["", "orders on PostgreSQL (begin + settle), one run:"]
    runs = results["orders"]
    one = {r["threads"]: r["orders_per_s"] for r in runs if r["processes"] == 1}
    base = runs[0]["orders_per_s"]
    for r in runs:
        flushes = r.get("wal_flushes_per_order")
        lines.append(f"  flowscheme {r['processes']} process(es) x {r['threads']} threads: "
                     f"{r['orders_per_s']:8.1f} orders/s  ("
                     + (f"{r['orders_per_s'] / one[r['threads']]:.2f}x one process; " if r["threads"] in one else "")
                     + "per order "
                     f"{r['transactions_per_order']:.1f} transactions"
                     + ("" if flushes is None else f", {flushes:.2f} WAL flushes")
                     + ("" if r.get("machine_busy") is None else
                        f"; machine CPU {r['machine_cpu_ms_per_order']:.1f} ms ({r['client_cpu_ms_per_order']:.1f} "
                        f"in flowscheme's processes), {r['machine_busy']:.0%} of "
                        f"{r['cores']} cores busy") + ")")
    d = results.get("dbos", {})
    if "concurrent" in d:
        best_fs = max(r["orders_per_s"] for r in runs)
        lines.append(f"  DBOS {d.get('version', '?')} same server, 1 process x {d['concurrent']['threads']} threads: "
                     f"{d['concurrent']['orders_per_s']:8.1f} orders/s; one thread {d['single']['orders_per_s']:.1f}"
                     + (f" (per order {d['transactions_per_order']:.1f} transactions"
                        + ("" if d.get("wal_flushes_per_order") is None
                           else f", {d['wal_flushes_per_order']:.2f} WAL flushes") + ")"
                        if "transactions_per_order" in d else ""))
        best_dbos = max(d["concurrent"]["orders_per_s"], d["single"]["orders_per_s"])
        lines.append(f"  flowscheme / DBOS: one process / DBOS threaded {base / d['concurrent']['orders_per_s']:.1f}x, "
                     f"best of each {best_fs / best_dbos:.1f}x")
    elif d:
        lines.append(f"  DBOS: {d}")
    lat = results.get("latency")
    if lat:
        lines.append(f"  latency (one thread): settle p50 {lat['settle']['p50_ms']:.2f} ms p99 "
                     f"{lat['settle']['p99_ms']:.2f} ms; begin p50 {lat['begin']['p50_ms']:.2f} ms "
                     f"p99 {lat['begin']['p99_ms']:.2f} ms")
    s = results.get("suspended")
    if s:
        if "error" in s:
            lines.append(f"  suspended: {s}")
        else:
            w = s["worker"]
            lines.append(f"  {s['orders']} suspended orders (begun in {s['begin_s']:.0f} s): a worker process "
                         f"peaks at {w['peak_rss_mb']:.0f} MB (open {w['open_s']:.2f} s, a Worker pass "
                         f"{w['worker_pass_s']:.2f} s, one settle {1000 * w['settle_s']:.1f} ms: {w['settle']})")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split("\n\n", 1)[1])
    ap.add_argument("--pg", help="a PostgreSQL server URL (its user needs CREATEDB); default: a throwaway server")
    ap.add_argument("--orders", type=int, default=800, help="orders per throughput run (800)")
    ap.add_argument("--procs", default="1,2,4", help="process counts of the throughput runs (1,2,4)")
    ap.add_argument("--threads", default="8,1", help="threads per process; a list runs every process count "
                                                     "with each (8,1)")
    ap.add_argument("--dbos-orders", type=int, default=400, help="DBOS orders (400)")
    ap.add_argument("--dbos-single-orders", type=int, default=50, help="DBOS orders on one thread (50)")
    ap.add_argument("--dbos-threads", type=int, default=32, help="DBOS threads (32)")
    ap.add_argument("--no-dbos", action="store_true")
    ap.add_argument("--dbos-install", action=argparse.BooleanOptionalAction, default=True)
    ap.add_argument("--venv", default=DEFAULT_VENV)
    ap.add_argument("--latency-orders", type=int, default=300, help="orders timed one by one (300)")
    ap.add_argument("--suspended", type=int, default=0, metavar="N", help="also N suspended orders (0: skip)")
    ap.add_argument("--json", help="also write the raw results here")
    ap.add_argument("--_orders", nargs=4, help=argparse.SUPPRESS)
    ap.add_argument("--_latency", nargs=2, help=argparse.SUPPRESS)
    ap.add_argument("--_suspended", nargs=4, help=argparse.SUPPRESS)
    ap.add_argument("--_worker", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args._orders:
        url, prefix, n, threads = args._orders
        return orders_child(url, prefix, int(n), int(threads))
    if args._latency:
        return latency_child(args._latency[0], int(args._latency[1]))
    if args._suspended:
        url, prefix, n, threads = args._suspended
        return suspended_child(url, prefix, int(n), int(threads))
    if args._worker:
        return worker_child(*args._worker)

    server = Server(args.pg)
    results = {}
    try:
        procs = [int(p) for p in args.procs.split(",")]
        threads = [int(t) for t in args.threads.split(",")]
        results["orders"] = [bench_orders(server, p, args.orders, t) for t in threads for p in procs]
        if not args.no_dbos:
            results["dbos"] = bench_dbos(server, args)
        results["latency"] = bench_latency(server, args.latency_orders)
        if args.suspended:
            results["suspended"] = bench_suspended(server, args.suspended, max(procs), max(threads))
    finally:
        server.stop()
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    print(report(results))


if __name__ == "__main__":
    main()
