"""The server fixture: `flowscheme serve` as a real subprocess on a free 127.0.0.1
port with a temporary data directory, reached over HTTP (httpx); ready when
/healthz answers, stopped with SIGTERM at teardown (SIGKILL only if it hangs).

    def test_x(server):                       # one server per test module (shared state!)
        r = server.post("/orders", json=..., headers=server.admin)
    def test_y(start_server, tmp_path):       # a server of one's own
        s = start_server(tmp_path, admin_token=None, args=["--payment-window", "1"])
"""

import json
import os
import select
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

ADMIN_TOKEN = "test-admin-token-0123456789"
WEBHOOK_SECRET = "test-webhook-secret-0123456789"
READY_BOUND = 60.0  # seconds for a server to come up (a hang detector, not a timing claim)
STOP_BOUND = 60.0

FLOWS_SCM = """\
(defflow loan
  (lambda (who amount)
    (let ((score (request 'credit who)))
      (if (> score 600)
          (let ((answer (request/timeout 'approve (list who amount) 3600)))
            (if (timeout? answer) 'expired answer))
          'rejected))))

(defflow nap
  (lambda (seconds)
    (sleep seconds)
    (request 'woke seconds)))

(defflow spin
  (lambda (n)
    (let loop ((i 0))
      (if (< i n) (loop (+ i 1)) (request 'spun i)))))

(defflow echo
  (lambda (x)
    (request 'echo x)))
"""


def command():
    """How to run flowscheme: the console script beside this Python, else its main."""
    script = Path(sys.executable).with_name("flowscheme")
    if script.exists():
        return [str(script)]
    found = shutil.which("flowscheme")
    if found:
        return [found]
    return [sys.executable, "-c", "from interp.cli import main; main()"]


def sign(body, timestamp=None, secret=WEBHOOK_SECRET):
    """The webhook headers for `body` (bytes), computed here independently of serve.webhooks."""
    import hashlib
    import hmac

    ts = str(int(time.time()) if timestamp is None else int(timestamp))
    mac = hmac.new(secret.encode(), ts.encode() + b"." + body, hashlib.sha256).hexdigest()
    return {"X-Flowscheme-Timestamp": ts, "X-Flowscheme-Signature": f"v1={mac}",
            "Content-Type": "application/json"}


class Server:
    def __init__(self, proc, url, data, log_path, stdout_lines):
        self.proc = proc
        self.url = url
        self.data = data
        self.log_path = log_path
        self.stdout_lines = stdout_lines
        self.client = httpx.Client(base_url=url, timeout=60.0)
        self.admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}

    def get(self, path, **kw):
        return self.client.get(path, **kw)

    def post(self, path, **kw):
        return self.client.post(path, **kw)

    def webhook(self, payload, timestamp=None, secret=WEBHOOK_SECRET, body=None):
        body = json.dumps(payload).encode() if body is None else body
        return self.post("/webhooks/payment", content=body, headers=sign(body, timestamp, secret))

    def begin(self, order_id, cart=(("tea", 1),)):
        r = self.post("/orders", json={"id": order_id, "cart": [{"sku": s, "qty": q} for s, q in cart]},
                      headers=self.admin)
        assert r.status_code == 201, r.text
        return r.json()

    def state(self):
        """What a refused request must not change: the change counter, and every flow and order by status."""
        counts = self.get("/summary").json()
        return counts["changes"], counts["flows"], counts["orders"]

    def log(self):
        return Path(self.log_path).read_text(errors="replace")

    def stop(self, sig=signal.SIGTERM):
        """Signal the server and wait for it to exit -> exit status."""
        self.client.close()
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(STOP_BOUND)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
                raise AssertionError(f"the server did not stop within {STOP_BOUND} s of {sig!r}:\n{self.log()}")
        rest = self.proc.stdout.read().decode(errors="replace") if self.proc.stdout else ""
        self.stdout_lines.extend(rest.splitlines())
        if self.proc.stdout:
            self.proc.stdout.close()
        return self.proc.returncode


def launch(directory, admin_token=ADMIN_TOKEN, webhook_secret=WEBHOOK_SECRET, args=(), data=None, env=None):
    """Start `flowscheme serve` on a free port with its data in directory/data -> Server."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    scm = directory / "flows.scm"
    if not scm.exists():
        scm.write_text(FLOWS_SCM)
    data = str(directory / "data") if data is None else data
    environ = {k: v for k, v in os.environ.items()
               if k not in ("FLOWSCHEME_ADMIN_TOKEN", "FLOWSCHEME_WEBHOOK_SECRET")}
    if admin_token is not None:
        environ["FLOWSCHEME_ADMIN_TOKEN"] = admin_token
    if webhook_secret is not None:
        environ["FLOWSCHEME_WEBHOOK_SECRET"] = webhook_secret
    environ.update(env or {})
    log_path = directory / f"server-{time.monotonic_ns()}.log"
    log = open(log_path, "w")
    proc = subprocess.Popen(command() + ["serve", "--data", data, "--load", str(scm), "--port", "0",
                                         "--idle", "0.2", *args],
                            stdout=subprocess.PIPE, stderr=log, stdin=subprocess.DEVNULL, bufsize=0,
                            cwd=directory, env=environ)
    log.close()
    deadline = time.monotonic() + READY_BOUND
    lines = []
    url = None
    pending = ""
    try:
        while url is None or not any(line.startswith("dashboard: ") for line in lines):
            left = deadline - time.monotonic()
            if left <= 0 or proc.poll() is not None:
                raise AssertionError(f"the server did not start (exit {proc.poll()}):\n"
                                     f"{log_path.read_text(errors='replace')}")
            ready, _, _ = select.select([proc.stdout], [], [], min(left, 1.0))
            if ready:  # (raw reads: a buffered readline could hide a line already read from select)
                chunk = os.read(proc.stdout.fileno(), 65536).decode()
                if not chunk:
                    continue
                pending += chunk
                *complete, pending = pending.split("\n")
                for line in complete:
                    lines.append(line)
                    if "listening on http://" in line:
                        url = line.split("listening on ", 1)[1].split()[0]
        server = Server(proc, url, data, log_path, lines)
        while True:
            try:
                if server.get("/healthz").status_code == 200:
                    return server
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                raise AssertionError(f"/healthz never answered:\n{log_path.read_text(errors='replace')}")
            time.sleep(0.05)
    except BaseException:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        raise


@pytest.fixture
def start_server():
    """launch(...) with every server it started stopped (SIGTERM) at teardown."""
    started = []

    def start(directory, **kw):
        s = launch(directory, **kw)
        started.append(s)
        return s

    yield start
    for s in started:
        if s.proc.poll() is None:
            s.stop()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """One server for a test module (admin token and webhook secret configured)."""
    s = launch(tmp_path_factory.mktemp("serve"))
    yield s
    s.stop()


STORES = ("file", "postgres")  # where `flowscheme serve --data` keeps the shop


def served_on(kind, tmp_path_factory, request):
    """A server (as `server`) whose --data is a directory ("file") or a postgresql://
    URL of a fresh database on the tests' throwaway PostgreSQL server ("postgres";
    tests/pgserver.py via the pg_server fixture), stopped and given back after.
    A module takes it as its `server` fixture, once per store:

        @pytest.fixture(scope="module", params=STORES)
        def server(request, tmp_path_factory):
            yield from served_on(request.param, tmp_path_factory, request)
    """
    directory = tmp_path_factory.mktemp(f"serve-{kind}")
    if kind == "file":
        s = launch(directory)
        yield s
        s.stop()
        return
    pg = request.getfixturevalue("pg_server")
    name = pg.acquire_database()
    try:
        s = launch(directory, data=pg.url(name))
        try:
            yield s
        finally:
            assert s.stop() == 0, s.log()
    finally:
        pg.ensure_running()
        pg.release_database(name)
