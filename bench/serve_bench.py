#!/usr/bin/env python3
"""`flowscheme serve` under load, with a crash in the middle: orders begun over HTTP,
each payment webhook delivered 3 times in random order by concurrent clients,
the server SIGKILLed mid-load and restarted on the same data; afterwards every
order must be fulfilled exactly once and `flowscheme ledger verify` must pass.
Beside it, in the same run, the same orders on an in-process commerce.Shop.

    python bench/serve_bench.py                       # 500 orders, 16 clients, one SIGKILL
    python bench/serve_bench.py --orders 200 --clients 8 --seed 3
    python bench/serve_bench.py --no-kill             # the same without the crash

What is timed
  http        begins: POST /orders (admin token), --clients threads each with its own
              keep-alive connection; then the webhooks: 3 signed deliveries per order
              (the same body; timestamps fresh), all shuffled, by --clients threads.
              After --kill-at of the deliveries were sent the server is SIGKILLed (requests
              in flight are lost: their clients retry the same delivery until the
              restarted server answers) and started again on the same --data; its
              start-up runs Shop.recover. requests/s counts answered requests over the
              wall time of the phase (the crash and restart included, and apart);
              latency is per answered request (a request cut by the crash is not a sample).
  in-process  commerce.Shop on a fresh directory, one thread: begin each order, then
              its settle 3 times — the same calls the HTTP handlers make, without HTTP.

Checks (a failure exits 1): every order's ledger holds exactly one paid and one
fulfilled record and no refund-due, its status is fulfilled, no request got a 5xx,
and `flowscheme ledger verify` exits 0. Loopback only (127.0.0.1, a free port);
bounded by --orders and by --bound seconds for the whole run. Timings are never
asserted: this is a measuring tool, not a test.
"""

import argparse
import hashlib
import hmac
import json
import os
import queue
import random
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

import httpx

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

TOKEN = "bench-admin-token-0123456789"
SECRET = "bench-webhook-secret-0123456789"
CARTS = [[("tea", 1)], [("tea", 2), ("mug", 1)], [("mug", 1)], [("tray", 1)], [("tea", 1), ("tray", 1)]]


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def percentile(samples, p):
    if not samples:
        return float("nan")
    s = sorted(samples)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


def command():
    script = os.path.join(os.path.dirname(sys.executable), "flowscheme")
    if os.path.exists(script):
        return [script]
    return [sys.executable, "-c", "from interp.cli import main; main()"]


class ServerProcess:
    def __init__(self, data, workdir, bound):
        self.data, self.workdir, self.bound = data, workdir, bound
        self.proc = None
        self.url = None

    def start(self):
        env = dict(os.environ, FLOWSCHEME_ADMIN_TOKEN=TOKEN, FLOWSCHEME_WEBHOOK_SECRET=SECRET)
        err = open(os.path.join(self.workdir, "server.log"), "a")
        self.proc = subprocess.Popen(command() + ["serve", "--data", self.data, "--port", "0", "--no-access-log"],
                                     stdout=subprocess.PIPE, stderr=err, stdin=subprocess.DEVNULL, bufsize=0,
                                     env=env, cwd=self.workdir)
        err.close()
        deadline = time.monotonic() + self.bound
        pending = ""
        while self.url is None or not self.ready():
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise SystemExit(f"the server did not start; see {self.workdir}/server.log")
            if self.url is None:
                r, _, _ = select.select([self.proc.stdout], [], [], 0.5)
                if r:
                    pending += os.read(self.proc.stdout.fileno(), 65536).decode()
                    for line in pending.split("\n"):
                        if "listening on http://" in line:
                            self.url = line.split("listening on ", 1)[1].split()[0]
            else:
                time.sleep(0.05)
        return self

    def ready(self):
        try:
            return httpx.get(self.url + "/healthz", timeout=5).status_code == 200
        except httpx.TransportError:
            return False

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)
        self.url = None

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        return self.proc.returncode


def signed(body):
    ts = str(int(time.time()))
    mac = hmac.new(SECRET.encode(), ts.encode() + b"." + body, hashlib.sha256).hexdigest()
    return {"X-Flowscheme-Timestamp": ts, "X-Flowscheme-Signature": f"v1={mac}", "Content-Type": "application/json"}


class Load:
    """Runs jobs on --clients threads; a job retries while the server is down."""

    def __init__(self, server, clients, bound):
        self.server, self.clients, self.bound = server, clients, bound
        self.lock = threading.Lock()
        self.up = threading.Event()
        self.up.set()
        self.results = []  # (job, status, body, latency)
        self.errors = []  # 5xx answers
        self.sent = 0
        self.retries = 0

    def run(self, jobs, on_sent=None):
        q = queue.Queue()
        for j in jobs:
            q.put(j)
        deadline = time.monotonic() + self.bound

        def client():
            c = httpx.Client(timeout=30)
            try:
                while True:
                    try:
                        job = q.get_nowait()
                    except queue.Empty:
                        return
                    while True:
                        if time.monotonic() > deadline:
                            raise SystemExit("the load ran past --bound")
                        self.up.wait(self.bound)
                        url = self.server.url
                        if url is None:
                            time.sleep(0.02)
                            continue
                        method, path, body, headers = job["make"]()
                        with self.lock:
                            self.sent += 1
                            n = self.sent
                        if on_sent:
                            on_sent(n)
                        t = time.perf_counter()
                        try:
                            r = c.request(method, url + path, content=body, headers=headers)
                        except httpx.TransportError:
                            with self.lock:
                                self.retries += 1
                            c.close()
                            c = httpx.Client(timeout=30)
                            time.sleep(0.05)
                            continue
                        took = time.perf_counter() - t
                        if r.status_code >= 500:
                            with self.lock:
                                self.errors.append((path, r.status_code, r.text[:200]))
                            time.sleep(0.05)
                            continue
                        with self.lock:
                            self.results.append((job, r.status_code, r.json(), took))
                        break
            finally:
                c.close()

        threads = [threading.Thread(target=client) for _ in range(self.clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()


def begin_job(oid, cart):
    body = json.dumps({"id": oid, "cart": [{"sku": s, "qty": q} for s, q in cart]}).encode()
    return {"kind": "begin", "order": oid,
            "make": lambda: ("POST", "/orders", body, {"Authorization": f"Bearer {TOKEN}",
                                                        "Content-Type": "application/json"})}


def webhook_job(oid, amount):
    body = json.dumps({"order": oid, "payment_ref": f"pay-{oid}", "amount": amount}).encode()
    return {"kind": "webhook", "order": oid, "make": lambda: ("POST", "/webhooks/payment", body, signed(body))}


def in_process(orders, carts, workdir):
    from commerce import Shop

    shop = Shop(os.path.join(workdir, "inproc"))
    begin_t, settle_t = [], []
    started = time.perf_counter()
    totals = {}
    for oid in orders:
        t = time.perf_counter()
        shop.begin(oid, carts[oid])
        begin_t.append(time.perf_counter() - t)
        totals[oid] = shop.quote(carts[oid]).total
    for oid in orders:
        for _ in range(3):
            t = time.perf_counter()
            shop.settle(oid, f"pay-{oid}", totals[oid])
            settle_t.append(time.perf_counter() - t)
    wall = time.perf_counter() - started
    shop.close()
    return {"calls": len(begin_t) + len(settle_t), "wall": wall, "begin": begin_t, "settle": settle_t}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--orders", type=int, default=500)
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--kill-at", type=float, default=0.5, help="fraction of the deliveries sent before SIGKILL")
    ap.add_argument("--no-kill", action="store_true")
    ap.add_argument("--bound", type=float, default=600.0, help="seconds the whole run may take")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = ap.parse_args()
    if not 1 <= args.orders <= 5000 or not 1 <= args.clients <= 64:
        ap.error("--orders 1..5000, --clients 1..64")
    rng = random.Random(args.seed)
    workdir = tempfile.mkdtemp(prefix="serve-bench-")
    data = os.path.join(workdir, "data")
    orders = [f"b-{i:05d}" for i in range(args.orders)]
    carts = {oid: CARTS[i % len(CARTS)] for i, oid in enumerate(orders)}
    failures = []
    server = ServerProcess(data, workdir, args.bound)
    try:
        log(f"in-process Shop: {args.orders} orders, 3 settles each ...")
        base = in_process(orders, carts, workdir)
        from commerce import Shop

        priced = Shop(os.path.join(workdir, "pricing"))
        totals = {oid: priced.quote(carts[oid]).total for oid in orders}
        priced.close()

        log(f"server on {data} ...")
        server.start()
        load = Load(server, args.clients, args.bound)
        t0 = time.perf_counter()
        load.run([begin_job(oid, carts[oid]) for oid in orders])
        begin_wall = time.perf_counter() - t0
        begins = [r for r in load.results if r[0]["kind"] == "begin"]
        for job, status, body, _ in begins:
            if status != 201 or body.get("status") != "awaiting-payment":
                failures.append(f"begin {job['order']}: {status} {body}")

        deliveries = [webhook_job(oid, totals[oid]) for oid in orders for _ in range(3)]
        rng.shuffle(deliveries)
        kill_at = None if args.no_kill else load.sent + max(1, int(len(deliveries) * args.kill_at))
        downtime = []

        def on_sent(n):
            if kill_at is not None and n == kill_at:
                threading.Thread(target=crash, daemon=True).start()

        def crash():
            load.up.clear()
            log(f"SIGKILL after {n_sent()} requests sent ...")
            t = time.perf_counter()
            server.kill()
            load.up.set()  # (clients retry against no server: connection refused, until it is back)
            server.start()
            downtime.append(time.perf_counter() - t)
            log(f"restarted in {downtime[-1]:.2f} s")

        def n_sent():
            return load.sent

        t1 = time.perf_counter()
        load.run(deliveries, on_sent)
        hook_wall = time.perf_counter() - t1
        hooks = [r for r in load.results if r[0]["kind"] == "webhook"]
        settled = {}
        for job, status, body, _ in hooks:
            if status != 200 or body.get("outcome") not in ("settled", "already-settled"):
                failures.append(f"webhook {job['order']}: {status} {body}")
            if body.get("outcome") == "settled":
                settled[job["order"]] = settled.get(job["order"], 0) + 1
        if any(n > 1 for n in settled.values()):
            failures.append(f"orders settled twice: {[o for o, n in settled.items() if n > 1][:5]}")
        if load.errors:
            failures.append(f"{len(load.errors)} 5xx answers, e.g. {load.errors[:3]}")
        if server.stop() != 0:
            failures.append(f"the server did not exit 0 on SIGTERM (exit {server.proc.returncode})")

        shop = Shop(data)
        for oid in orders:
            kinds = [r.kind for r in shop.ledger.records(oid)]
            if kinds.count("paid") != 1 or kinds.count("fulfilled") != 1 or "refund-due" in kinds:
                failures.append(f"{oid}: ledger {kinds}")
            elif shop.status(oid) != "fulfilled":
                failures.append(f"{oid}: status {shop.status(oid)}")
        shop.close()
        verify = subprocess.run(command() + ["ledger", "verify", "--data", data], capture_output=True, text=True,
                                timeout=args.bound)
        if verify.returncode != 0:
            failures.append(f"ledger verify exit {verify.returncode}: {verify.stdout[-500:]} {verify.stderr[-500:]}")

        begin_lat = [r[3] for r in begins]
        hook_lat = [r[3] for r in hooks]
        ms = 1000
        print(f"serve bench: {args.orders} orders, {args.clients} clients, 3 deliveries each in random order, "
              f"{'SIGKILL + restart at ' + str(int(args.kill_at * 100)) + '% of the deliveries' if not args.no_kill else 'no crash'}")
        print(f"{'':28}{'requests':>10}{'wall s':>9}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}")
        print(f"{'http begin':28}{len(begins):>10}{begin_wall:>9.2f}{len(begins) / begin_wall:>9.1f}"
              f"{percentile(begin_lat, 50) * ms:>9.1f}{percentile(begin_lat, 99) * ms:>9.1f}")
        print(f"{'http webhook':28}{len(hooks):>10}{hook_wall:>9.2f}{len(hooks) / hook_wall:>9.1f}"
              f"{percentile(hook_lat, 50) * ms:>9.1f}{percentile(hook_lat, 99) * ms:>9.1f}")
        if downtime:
            busy = hook_wall - downtime[0]
            print(f"{'http webhook, less restart':28}{len(hooks):>10}{busy:>9.2f}{len(hooks) / busy:>9.1f}")
        print(f"{'in-process begin':28}{len(base['begin']):>10}{sum(base['begin']):>9.2f}"
              f"{len(base['begin']) / sum(base['begin']):>9.1f}{percentile(base['begin'], 50) * ms:>9.1f}"
              f"{percentile(base['begin'], 99) * ms:>9.1f}")
        print(f"{'in-process settle':28}{len(base['settle']):>10}{sum(base['settle']):>9.2f}"
              f"{len(base['settle']) / sum(base['settle']):>9.1f}{percentile(base['settle'], 50) * ms:>9.1f}"
              f"{percentile(base['settle'], 99) * ms:>9.1f}")
        print(f"crash: {'restart took %.2f s; ' % downtime[0] if downtime else ''}{load.retries} requests cut or "
              f"refused while down (retried); 'settled' answered for {sum(settled.values())} of {args.orders} orders "
              f"(an order whose settling answer was cut by the crash answers its retry 'already-settled')")
        print(f"checks: every order fulfilled exactly once, ledger verify: "
              f"{'OK' if not failures else 'FAILED'}")
        for f in failures[:20]:
            print(f"  !!! {f}")
        return 1 if failures else 0
    finally:
        if server.proc and server.proc.poll() is None:
            server.proc.kill()
            server.proc.wait(10)
        if args.keep:
            log(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
