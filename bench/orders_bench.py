#!/usr/bin/env python3
"""Orders per second end to end (begin + settle) on flowscheme's file-backed store,
with and without the payment deadline armed per order, ledger appends per second,
and — in the same run — the same order lifecycle on DBOS Transact; then many
suspended orders in one store (memory and size).

    python bench/orders_bench.py                      # everything, defaults below
    python bench/orders_bench.py --no-dbos --suspended 0
    python bench/orders_bench.py --suspended 100000   # 100k orders waiting for payment
    python bench/orders_bench.py --profile            # also cProfile one lifecycle run
    python bench/orders_bench.py --no-dbos-install    # DBOS only if its venv is already there

What is timed
  flowscheme   commerce.Shop on a fresh data directory: begin (create, price, reserve,
               suspend at payment) + settle (the webhook: paid, resume, fulfil), each
               order driven by one of --threads threads so the flow store's and the
               ledger's group commits can share fsyncs (every commit is still fsync'd
               before its call returns); also the same on one thread.
               With --processes P (default 2) the --orders also run split over P
               processes sharing one data directory (the store's and the ledger's
               file locks between them), started together: a web server's workers.
               Carts cycle through a few distinct carts (a shop's quotes repeat; the
               Pricing memo serves repeats); the "cold" row prices a distinct cart per
               order through the miniKanren rules. Every order takes stock (a shop
               with plenty) and waits for its payment with the deadline armed
               (request/timeout: a durable timer in the store's due-time index); the
               "no payment deadline" rows run the same orders with
               Shop(payment_window=None), alternating with the timed ones in
               --timer-rounds slices, and the timer's cost is their ratio.
  DBOS         bench/peers/dbos_orders.py in a throwaway venv (created under /tmp with
               `pip install dbos` if missing; never a flowscheme dependency): a workflow
               per order with the order id as workflow id, reserve step, DBOS.recv for
               the payment, fulfil step; the webhook is DBOS.send. SQLite system
               database, synchronous=FULL, in DBOS's default (rollback) journal mode and
               in WAL mode; each row's ratio is taken against the faster of the two, and
               "best of each" divides flowscheme's best single-process run by DBOS's
               best run. DBOS not installed and not installable (no network, or
               --no-dbos-install without the venv): the run says so and carries on.
  ledger       commerce.ledger.Ledger.append with fsync, one thread and many threads.
  suspended    --suspended N orders begun (and left waiting for payment) in one store,
               in a child process: its peak RSS (VmHWM), the store's size on disk, and a
               second process re-opening the shop (time, peak RSS) and settling one order.

Progress goes to stderr; the table to stdout. Timings are never asserted anywhere.
"""

import argparse
import cProfile
import io
import json
import os
import pstats
import shutil
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

DBOS_SCRIPT = os.path.join(ROOT, "bench", "peers", "dbos_orders.py")
DEFAULT_VENV = "/tmp/flowscheme-dbos-venv"
#: Plenty of every sku: the bench measures orders, not running out of stock.
PLENTY = 10**12
CARTS = [
    [("tea", 2), ("mug", 1)],
    [("pot", 1)],
    [("filter", 3), ("honey", 1)],
    [("tray", 1), ("tea", 4)],
    [("mug", 2)],
    [("tea", 12)],
    [("honey", 2), ("pot", 1), ("filter", 1)],
    [("tray", 2)],
]


def log(msg):
    print(msg, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- flowscheme


def in_threads(fn, n, threads):
    """fn(0) .. fn(n - 1) on `threads` threads, each taking the next index as it
    gets free (no task objects queued up front: they would cost memory per order)."""
    if threads == 1:
        for i in range(n):
            fn(i)
        return
    indices = iter(range(n))
    lock = threading.Lock()
    errors = []

    def worker():
        while not errors:
            with lock:
                i = next(indices, None)
            if i is None:
                return
            try:
                fn(i)
            except BaseException as e:  # reported after the others stop
                errors.append(e)

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    if errors:
        raise errors[0]


def run_orders(shop, prefix, n, threads, cart_of):
    """Begin + settle n orders over `threads` threads; seconds taken."""
    def one(i):
        order_id = f"{prefix}-{i}"
        cart = cart_of(i)
        status = shop.begin(order_id, cart)
        assert status == "awaiting-payment", (order_id, status)
        total = shop.ledger.get(f"{order_id}:created").amount  # what the payment provider was asked for
        answer = shop.settle(order_id, "pay-" + order_id, total)
        assert answer == "settled", (order_id, answer)

    start = time.perf_counter()
    in_threads(one, n, threads)
    return time.perf_counter() - start


def bench_flowscheme(args, workdir):
    from commerce import Shop

    out = {}
    hot = lambda i: CARTS[i % len(CARTS)]
    def cold(base):  # a distinct cart per order (never seen before): priced by the rules, not the memo
        return lambda i: [("filter", base + i), ("tea", 1)]

    timed = Shop(os.path.join(workdir, "fs-orders"), opening_stock=PLENTY)  # the deadline armed (30 min)
    untimed = Shop(os.path.join(workdir, "fs-orders-no-deadline"), opening_stock=PLENTY, payment_window=None)
    try:
        for shop in (timed, untimed):
            for cart in CARTS:  # warm the interpreter and the quote memo
                shop.quote(cart)
            run_orders(shop, "warm", 20, 1, hot)
        for label, n, threads in (("concurrent", args.orders, args.threads), ("single", args.single_orders, 1)):
            if n <= 0:
                continue
            # The two alternate in --timer-rounds slices of n orders each, so that both
            # see the same machine (fsync times on a shared disk drift by 2x and more
            # over a run); each one's rate is its n orders over its summed time.
            rounds = max(1, min(args.timer_rounds, n))
            spent = {"deadline": 0.0, "no-deadline": 0.0}
            cpu = {"deadline": 0.0, "no-deadline": 0.0}  # process CPU time: no fsync waits in it
            log(f"flowscheme {label}: {n} orders on {threads} thread(s), with and without the payment "
                f"deadline, alternating in {rounds} slices ...")
            for round_ in range(rounds):
                part = n // rounds + (1 if round_ < n % rounds else 0)
                pair = (("deadline", timed), ("no-deadline", untimed))
                for key, shop in (pair if round_ % 2 == 0 else pair[::-1]):
                    before = time.process_time()
                    spent[key] += run_orders(shop, f"{label}-{round_}", part, threads, hot)
                    cpu[key] += time.process_time() - before
            for key, suffix in (("deadline", ""), ("no-deadline", "-no-deadline")):
                out[label + suffix] = {"orders": n, "threads": threads, "seconds": spent[key],
                                       "orders_per_s": n / spent[key], "cpu_ms_per_order": cpu[key] / n * 1000}
                log(f"  {key}: {n / spent[key]:.1f} orders/s")
        for label, n, threads, cart_of in (
            ("cold-concurrent", args.cold_orders, args.threads, cold(1_000)),
            ("cold-single", (args.cold_orders + 3) // 4, 1, cold(1_000_000)),
        ):
            if n <= 0:
                continue
            log(f"flowscheme {label}: {n} orders on {threads} thread(s) ...")
            seconds = run_orders(timed, label, n, threads, cart_of)
            out[label] = {"orders": n, "threads": threads, "seconds": seconds, "orders_per_s": n / seconds}
            log(f"  {n / seconds:.1f} orders/s")
        for shop in (timed, untimed):
            report = shop.ledger.verify()
            if not report.ok:
                raise SystemExit(f"ledger verify failed after the run:\n{report}")
    finally:
        timed.close()
        untimed.close()
    return out


def processes_worker(data_dir, prefix, n, threads):
    """Child process: a Shop on the shared data directory; warm up, say "ready",
    wait for "go" on stdin, run n orders on `threads` threads, report JSON."""
    from commerce import Shop

    with Shop(data_dir, recover=False, opening_stock=PLENTY) as shop:
        for cart in CARTS:
            shop.quote(cart)
        run_orders(shop, f"warm-{prefix}", 10, 1, lambda i: CARTS[i % len(CARTS)])
        print("ready", flush=True)
        sys.stdin.readline()
        start = time.time()
        run_orders(shop, prefix, n, threads, lambda i: CARTS[i % len(CARTS)])
        print(json.dumps({"start": start, "end": time.time()}), flush=True)


def bench_processes(args, workdir):
    """--processes P: the --orders split over P processes (each with --threads / P
    threads) sharing one data directory, started together."""
    data_dir = os.path.join(workdir, "fs-processes")
    from commerce import Shop

    Shop(data_dir, opening_stock=PLENTY).close()  # create it once (its opening stock), before they race
    per = args.orders // args.processes
    threads = max(1, args.threads // args.processes)
    log(f"flowscheme processes: {per * args.processes} orders over {args.processes} processes "
        f"x {threads} threads ...")
    me = os.path.abspath(__file__)
    procs = [subprocess.Popen([sys.executable, me, "--_orders-worker", data_dir, f"p{k}", str(per), str(threads)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
             for k in range(args.processes)]
    try:
        for p in procs:
            if p.stdout.readline().strip() != "ready":
                raise RuntimeError("a worker process failed to start")
        for p in procs:
            p.stdin.write("go\n")
            p.stdin.flush()
        reports = [json.loads(p.stdout.readline()) for p in procs]
    finally:
        for p in procs:
            p.stdin.close()
            p.wait(timeout=600)
    if any(p.returncode != 0 for p in procs):
        return {"error": "a worker process failed"}
    seconds = max(r["end"] for r in reports) - min(r["start"] for r in reports)
    with Shop(data_dir, recover=False) as shop:
        report = shop.ledger.verify()
        if not report.ok or report.records != 1 + 4 * (per + 10) * args.processes:
            raise SystemExit(f"ledger check failed after the multi-process run:\n{report}")
    n = per * args.processes
    log(f"  {n / seconds:.1f} orders/s")
    return {"orders": n, "processes": args.processes, "threads": threads, "seconds": seconds,
            "orders_per_s": n / seconds}


def profile_lifecycle(args, workdir):
    """cProfile of single-thread begin + settle (fsync included): the top of the profile."""
    from commerce import Shop

    with Shop(os.path.join(workdir, "fs-profile"), opening_stock=PLENTY) as shop:
        for cart in CARTS:
            shop.quote(cart)
        run_orders(shop, "warm", 10, 1, lambda i: CARTS[i % len(CARTS)])
        prof = cProfile.Profile()
        prof.enable()
        run_orders(shop, "prof", args.profile_orders, 1, lambda i: CARTS[i % len(CARTS)])
        prof.disable()
    text = io.StringIO()
    stats = pstats.Stats(prof, stream=text)
    stats.sort_stats("cumulative").print_stats(40)
    stats.sort_stats("tottime").print_stats(25)
    return text.getvalue()


def bench_ledger(args, workdir):
    from commerce.ledger import Ledger

    out = {}
    for label, n, threads in (("single", (args.appends + 3) // 4, 1), ("concurrent", args.appends, args.threads)):
        if n <= 0:
            continue
        path = os.path.join(workdir, f"ledger-{label}.log")
        with Ledger(path) as ledger:
            log(f"ledger {label}: {n} appends on {threads} thread(s) ...")

            def one(i):
                ledger.append(f"o-{i}", "created", f"o-{i}:created", amount=2100, details={"cart": [["tea", 2]]})

            start = time.perf_counter()
            in_threads(one, n, threads)
            seconds = time.perf_counter() - start
        out[label] = {"appends": n, "threads": threads, "seconds": seconds, "appends_per_s": n / seconds}
        log(f"  {n / seconds:.0f} appends/s")
    return out


# --------------------------------------------------------------------------- DBOS


def ensure_dbos_venv(venv, install=True):
    python = os.path.join(venv, "bin", "python")
    if os.path.exists(python):
        probe = subprocess.run([python, "-c", "import dbos"], capture_output=True)
        if probe.returncode == 0:
            return python
    if not install:
        raise OSError(f"no venv with dbos at {venv}, and --no-dbos-install")
    log(f"creating a throwaway venv with dbos at {venv} (pip install dbos) ...")
    subprocess.run([sys.executable, "-m", "venv", venv], check=True)
    subprocess.run([python, "-m", "pip", "install", "-q", "dbos"], check=True, stdout=sys.stderr)
    return python


def bench_dbos(args, workdir):
    try:
        python = ensure_dbos_venv(args.venv, install=args.dbos_install)
    except (subprocess.CalledProcessError, OSError) as e:
        log(f"DBOS is not installed ({e}): the DBOS comparison is skipped, the rest carries on")
        return {"unavailable": f"DBOS is not installed ({e}); its comparison was skipped"}
    out = {}
    for journal in args.dbos_journal.split(","):
        log(f"DBOS ({journal} journal): {args.dbos_orders} orders on {args.threads} threads, "
            f"{args.dbos_single_orders} on one ...")
        done = subprocess.run(
            [python, DBOS_SCRIPT, "--orders", str(args.dbos_orders), "--single-orders", str(args.dbos_single_orders),
             "--threads", str(args.threads), "--journal", journal,
             "--db", os.path.join(workdir, f"dbos-{journal}.sqlite")],
            capture_output=True, text=True, timeout=3600,
        )
        if done.returncode != 0:
            out[journal] = {"error": (done.stderr.strip().splitlines() or ["?"])[-1]}
            log(f"  DBOS failed: {out[journal]['error']}")
            continue
        out[journal] = json.loads(done.stdout.strip().splitlines()[-1])
        log(f"  {out[journal]['concurrent']['orders_per_s']:.1f} orders/s concurrent, "
            f"{out[journal]['single']['orders_per_s']:.1f} single")
    return out


# --------------------------------------------------------------------------- suspended orders


def peak_rss_mb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def suspended_worker(n, data_dir, threads):
    """Child process: begin n orders, report JSON (time, peak RSS)."""
    from commerce import Shop

    start = time.perf_counter()
    shop = Shop(data_dir, opening_stock=PLENTY)
    opened = time.perf_counter() - start
    done = [0]
    lock = threading.Lock()
    t0 = time.perf_counter()
    last = [t0]

    def one(i):
        shop.begin(f"s-{i}", CARTS[i % len(CARTS)])
        with lock:
            done[0] += 1
            now = time.perf_counter()
            if now - last[0] >= 10:
                last[0] = now
                log(f"  begun {done[0]}/{n} ({done[0] / (now - t0):.0f}/s, peak RSS {peak_rss_mb():.0f} MB)")

    in_threads(one, n, threads)
    seconds = time.perf_counter() - t0
    shop.close()
    print(json.dumps({"orders": n, "open_s": opened, "begin_s": seconds, "begins_per_s": n / seconds,
                      "peak_rss_mb": peak_rss_mb()}))


def reopen_worker(data_dir, n):
    """Child process: re-open a shop holding n suspended orders; settle one of them."""
    from commerce import Shop

    start = time.perf_counter()
    shop = Shop(data_dir)
    opened = time.perf_counter() - start
    rss_open = peak_rss_mb()
    order_id = f"s-{n // 2}"
    status = shop.status(order_id)
    t = time.perf_counter()
    total = shop.ledger.get(f"{order_id}:created").amount
    answer = shop.settle(order_id, "pay-x", total)
    settle_s = time.perf_counter() - t
    t = time.perf_counter()
    listed = len(shop.orders()) if n <= 200_000 else None
    orders_s = time.perf_counter() - t
    shop.close()
    print(json.dumps({"open_s": opened, "peak_rss_open_mb": rss_open, "status": status, "settle": answer,
                      "settle_s": settle_s, "orders_listed": listed, "orders_s": orders_s,
                      "peak_rss_mb": peak_rss_mb()}))


def bench_suspended(args, workdir):
    data_dir = os.path.join(workdir, "suspended")
    me = os.path.abspath(__file__)
    log(f"suspended: beginning {args.suspended} orders on {args.threads} threads in a child process ...")
    done = subprocess.run([sys.executable, me, "--_suspended-worker", str(args.suspended), data_dir,
                           "--threads", str(args.threads)],
                          stdout=subprocess.PIPE, text=True)
    if done.returncode != 0:
        return {"error": f"the begin process exited {done.returncode}"}
    out = {"begin": json.loads(done.stdout.strip().splitlines()[-1])}
    sizes = {name: os.path.getsize(os.path.join(data_dir, name))
             for name in ("ledger.log", os.path.join("flows", "flows.log"))}
    out["store_bytes"] = sizes
    log(f"  {out['begin']['begins_per_s']:.0f} begins/s; peak RSS {out['begin']['peak_rss_mb']:.0f} MB; "
        f"flows.log {sizes[os.path.join('flows', 'flows.log')] / 1e6:.1f} MB, "
        f"ledger.log {sizes['ledger.log'] / 1e6:.1f} MB")
    log("suspended: re-opening the shop in a second process ...")
    done = subprocess.run([sys.executable, me, "--_reopen-worker", str(args.suspended), data_dir],
                          stdout=subprocess.PIPE, text=True)
    if done.returncode != 0:
        out["reopen"] = {"error": f"the re-open process exited {done.returncode}"}
    else:
        out["reopen"] = json.loads(done.stdout.strip().splitlines()[-1])
        log(f"  re-opened in {out['reopen']['open_s']:.1f}s, peak RSS {out['reopen']['peak_rss_mb']:.0f} MB")
    return out


# --------------------------------------------------------------------------- report


def fmt(x, unit=""):
    if x is None:
        return "-"
    if isinstance(x, str):
        return x
    return f"{x:,.0f}{unit}" if x >= 100 else f"{x:,.1f}{unit}"


def table(rows):
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = []
    for j, r in enumerate(rows):
        lines.append("  ".join(c.ljust(widths[i]) if i == 0 else c.rjust(widths[i]) for i, c in enumerate(r)))
        if j == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def report(args, results):
    fs, ld, db, sus = (results.get(k) for k in ("flowscheme", "ledger", "dbos", "suspended"))
    unavailable = (db or {}).get("unavailable")
    if unavailable:
        db = {}
    journals = [j for j in (db or {}) if "error" not in db[j]]
    head = ["measure", "flowscheme"] + [f"DBOS ({j})" for j in journals] + (["flowscheme / DBOS"] if journals else [])
    rows = [head]

    def dbos_cell(j, key):
        return fmt(db[j][key]["orders_per_s"])

    def ratio(value, key):
        best = max(db[j][key]["orders_per_s"] for j in journals)
        return f"{value / best:.1f}x"

    fs = fs or {}
    for key, text in (("concurrent", f"orders/s end to end, {args.threads} threads"),
                      ("single", "orders/s end to end, 1 thread")):
        if key in fs or journals:
            v = fs[key]["orders_per_s"] if key in fs else None
            rows.append([text, fmt(v)] + [dbos_cell(j, key) for j in journals]
                        + ([ratio(v, key) if v is not None else "-"] if journals else []))
    for key, text in (("concurrent", f"  same, no payment deadline, {args.threads} threads"),
                      ("single", "  same, no payment deadline, 1 thread")):
        if f"{key}-no-deadline" in fs:
            rows.append([text, fmt(fs[f"{key}-no-deadline"]["orders_per_s"])] + ["-"] * len(journals)
                        + (["-"] if journals else []))
    mp = results.get("processes")
    if mp and "error" not in mp:
        rows.append([f"  same, {mp['processes']} processes x {mp['threads']} threads, one data dir",
                     fmt(mp["orders_per_s"])] + ["-"] * len(journals) + (["-"] if journals else []))
    elif mp:
        rows.append(["  same, several processes", "FAILED: " + mp["error"]]
                    + ["-"] * len(journals) + (["-"] if journals else []))
    if fs:
        for label, text in (("cold-concurrent", f"  same, every cart priced cold, {args.threads} threads"),
                            ("cold-single", "  same, every cart priced cold, 1 thread")):
            if label in fs:
                rows.append([text, fmt(fs[label]["orders_per_s"])] + ["-"] * len(journals) + (["-"] if journals else []))
    if ld:
        for label, text in (("single", "ledger appends/s (fsync each), 1 thread"),
                            ("concurrent", f"ledger appends/s, {args.threads} threads (group commit)")):
            if label not in ld:
                continue
            rows.append([text, fmt(ld[label]["appends_per_s"])] + ["-"] * len(journals) + (["-"] if journals else []))
    out = [table(rows)]
    fs_runs = [(v["orders_per_s"], f"{v['threads']} thread(s)") for k, v in fs.items()
               if not k.startswith("cold") and not k.endswith("no-deadline")]
    db_runs = [(db[j][k]["orders_per_s"], f"{j} journal, {db[j][k]['threads']} thread(s)")
               for j in journals for k in ("concurrent", "single")]
    if fs_runs and db_runs:
        (a, how_a), (b, how_b) = max(fs_runs), max(db_runs)
        out.append(f"best of each: flowscheme {fmt(a)} orders/s ({how_a}) / DBOS {fmt(b)} orders/s "
                   f"({how_b}) = {a / b:.1f}x")
    if journals:
        out.append("")
        out.append("DBOS counts: " + "; ".join(
            f"{j}: {db[j]['concurrent']['orders']} orders on {db[j]['concurrent']['threads']} threads, "
            f"{db[j]['single']['orders']} on one (dbos {db[j].get('version', '?')}, SQLite journal_mode="
            f"{db[j].get('sqlite', {}).get('journal_mode', '?')}, synchronous="
            f"{db[j].get('sqlite', {}).get('synchronous', '?')})" for j in journals))
    for j, v in (db or {}).items():
        if "error" in v:
            out.append(f"DBOS ({j}) FAILED: {v['error']}")
    if unavailable:
        out.append(unavailable)
    costs = []
    for key in ("concurrent", "single"):
        if key in fs and f"{key}-no-deadline" in fs:
            timed, untimed = fs[key], fs[f"{key}-no-deadline"]
            costs.append(f"{key}: {timed['orders_per_s']:,.0f} vs {untimed['orders_per_s']:,.0f} orders/s "
                         f"({timed['orders_per_s'] / untimed['orders_per_s']:.2f}x), CPU "
                         f"{timed['cpu_ms_per_order']:.2f} vs {untimed['cpu_ms_per_order']:.2f} ms/order "
                         f"({(timed['cpu_ms_per_order'] / untimed['cpu_ms_per_order'] - 1) * 100:+.1f}%)")
    if costs:
        out.append("the payment deadline armed per order, with vs without (the bar: at most 20% slower) — "
                   + "; ".join(costs))
    if fs:
        out.append("flowscheme counts: " + "; ".join(
            f"{k}: {v['orders']} orders on {v['threads']} thread(s)" for k, v in fs.items()))
    if sus:
        out.append("")
        if "error" in sus:
            out.append(f"suspended orders: FAILED: {sus['error']}")
        else:
            b, r, sz = sus["begin"], sus.get("reopen", {}), sus["store_bytes"]
            rows = [["suspended orders in one store", "value"],
                    ["orders begun (waiting for payment)", f"{b['orders']:,}"],
                    ["begins/s while filling", fmt(b["begins_per_s"])],
                    ["peak RSS of the filling process", fmt(b["peak_rss_mb"], " MB")],
                    ["flows.log size", fmt(sz[os.path.join("flows", "flows.log")] / 1e6, " MB")],
                    ["ledger.log size", fmt(sz["ledger.log"] / 1e6, " MB")]]
            if "error" in r:
                rows.append(["re-open", "FAILED: " + r["error"]])
            elif r:
                rows += [["re-open: Shop() time", f"{r['open_s']:.1f} s"],
                         ["re-open: peak RSS after Shop()", fmt(r["peak_rss_open_mb"], " MB")],
                         ["re-open: settle one order", f"{r['settle']} in {r['settle_s'] * 1000:.0f} ms"],
                         ["re-open: orders() listing", f"{r['orders_listed']:,} in {r['orders_s']:.1f} s"
                          if r["orders_listed"] is not None else "-"],
                         ["re-open: peak RSS at the end", fmt(r["peak_rss_mb"], " MB")]]
            out.append(table(rows))
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split("\n\n", 1)[1])
    ap.add_argument("--orders", type=int, default=2000, help="flowscheme orders on --threads threads (2000)")
    ap.add_argument("--single-orders", type=int, default=200, help="flowscheme orders on one thread (200)")
    ap.add_argument("--cold-orders", type=int, default=200,
                    help="flowscheme orders with a distinct cart each, on --threads threads (200; a quarter on one)")
    ap.add_argument("--threads", type=int, default=32, help="threads delivering orders (32)")
    ap.add_argument("--processes", type=int, default=2,
                    help="also run --orders split over this many processes on one data directory, "
                         "--threads shared among them (2; 1: skip)")
    ap.add_argument("--appends", type=int, default=4000, help="ledger appends on --threads threads (4000; a quarter on one)")
    ap.add_argument("--dbos-orders", type=int, default=200, help="DBOS orders on --threads threads (200)")
    ap.add_argument("--dbos-single-orders", type=int, default=50, help="DBOS orders on one thread (50)")
    ap.add_argument("--dbos-journal", default="default,wal", help="SQLite journal modes to run DBOS in (default,wal)")
    ap.add_argument("--no-dbos", action="store_true", help="skip DBOS")
    ap.add_argument("--dbos-install", action=argparse.BooleanOptionalAction, default=True,
                    help="create the DBOS venv (pip install dbos) when it is missing (default: yes)")
    ap.add_argument("--timer-rounds", type=int, default=8,
                    help="slices the orders with and without the payment deadline alternate in (8)")
    ap.add_argument("--venv", default=DEFAULT_VENV, help=f"the throwaway DBOS venv ({DEFAULT_VENV})")
    ap.add_argument("--suspended", type=int, default=0, metavar="N",
                    help="also begin N orders left waiting for payment and report memory and size (0: skip)")
    ap.add_argument("--profile", action="store_true", help="print a cProfile of the single-thread lifecycle")
    ap.add_argument("--profile-orders", type=int, default=200)
    ap.add_argument("--workdir", help="where the data goes (default: a temporary directory, removed after)")
    ap.add_argument("--json", help="also write the raw results here")
    ap.add_argument("--_suspended-worker", nargs=2, help=argparse.SUPPRESS)
    ap.add_argument("--_reopen-worker", nargs=2, help=argparse.SUPPRESS)
    ap.add_argument("--_orders-worker", nargs=4, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args._orders_worker:
        d, prefix, n, threads = args._orders_worker
        return processes_worker(d, prefix, int(n), int(threads))

    if args._suspended_worker:
        return suspended_worker(int(args._suspended_worker[0]), args._suspended_worker[1], args.threads)
    if args._reopen_worker:
        return reopen_worker(args._reopen_worker[1], int(args._reopen_worker[0]))

    workdir = args.workdir or tempfile.mkdtemp(prefix="orders-bench-")
    os.makedirs(workdir, exist_ok=True)
    results = {}
    try:
        results["flowscheme"] = bench_flowscheme(args, workdir)
        if args.processes > 1:
            results["processes"] = bench_processes(args, workdir)
        results["ledger"] = bench_ledger(args, workdir)
        if not args.no_dbos:
            results["dbos"] = bench_dbos(args, workdir)
        if args.suspended > 0:
            results["suspended"] = bench_suspended(args, workdir)
        if args.profile:
            log("profiling the single-thread lifecycle ...")
            results["profile"] = profile_lifecycle(args, workdir)
    finally:
        if not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    print(report(args, results))
    if args.profile:
        print("\n" + results["profile"])


if __name__ == "__main__":
    main()
