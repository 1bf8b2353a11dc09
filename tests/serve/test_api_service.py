"""The service around the API, over real HTTP with `flowscheme serve` as a
subprocess: /healthz, the OpenAPI document, /metrics, the worker beside the
server (deadlines, sleeps), the admin token rule with no token configured,
error bodies, one log line per request, restart on the same data, and
graceful shutdown on SIGTERM (in-flight requests finish, exit 0)."""

import json
import signal
import subprocess
import threading
import time

import httpx
import pytest

from conftest import command, sign

BOUND = 60.0  # seconds: a hang detector for things the worker does by itself


def wait_for(check, what, bound=BOUND):
    deadline = time.monotonic() + bound
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {bound} s")
        time.sleep(0.1)


def test_healthz(server):
    r = server.get("/healthz")
    assert r.status_code == 200
    body = r.json()
    assert body["ok"] is True and body["worker"] is True and isinstance(body["changes"], int)


def test_the_openapi_document_describes_every_endpoint(server):
    doc = server.get("/openapi.json").json()
    paths = doc["paths"]
    expected = {
        "/orders": {"get", "post"}, "/orders/{order_id}": {"get"}, "/orders/{order_id}/cancel": {"post"},
        "/webhooks/payment": {"post"}, "/flows": {"get"}, "/flows/{name}": {"post"},
        "/flows/{flow_id}": {"get"}, "/flows/{flow_id}/resume": {"post"}, "/flows/{flow_id}/cancel": {"post"},
        "/healthz": {"get"}, "/metrics": {"get"},
    }
    for path, methods in expected.items():
        assert methods <= set(paths[path]), path
    begin = paths["/orders"]["post"]
    assert any(p["name"] == "idempotency-key" and p["in"] == "header" for p in begin["parameters"])
    webhook = paths["/webhooks/payment"]["post"]
    assert "X-Flowscheme-Signature" in webhook["description"]
    assert webhook["requestBody"]["content"]["application/json"]["schema"]["required"] == \
        ["order", "payment_ref", "amount"]
    assert not any(p.startswith("/_html") for p in paths)


def test_metrics_are_prometheus_text(server):
    server.begin(f"m-{time.monotonic_ns()}")
    r = server.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    text = r.text
    for name in ("flowscheme_flows{status=\"suspended\"}", "flowscheme_transitions_total",
                 "flowscheme_commit_seconds_bucket", "flowscheme_commit_seconds_count",
                 "flowscheme_timer_lateness_seconds_count", "flowscheme_http_requests_total"):
        assert name in text, name
    count = next(float(line.split()[-1]) for line in text.splitlines()
                 if line.startswith("flowscheme_commit_seconds_count"))
    assert count >= 1


@pytest.mark.parametrize("method, path, status", [
    ("GET", "/no/such/thing", 404),
    ("DELETE", "/orders", 405),
    ("PUT", "/healthz", 405),
    ("GET", "/orders/a/b/c", 404),
    ("GET", "/flows/" + "x" * 300, 400),
])
def test_every_error_is_a_json_error_body(server, method, path, status):
    headers = dict(server.admin) if method != "GET" else {}
    r = server.client.request(method, path, headers=headers)
    assert r.status_code == status, r.text
    assert set(r.json()) == {"error"} and r.json()["error"]


def test_a_body_over_the_limit_is_413(server):
    before = server.state()
    r = server.post("/orders", content=b"x" * (1 << 20 + 1), headers={**server.admin,
                                                                      "Content-Type": "application/json"})
    assert r.status_code == 413 and "error" in r.json()
    assert server.state() == before


def test_a_chunked_body_is_bounded_too(server):
    def chunks(total):
        for _ in range(total // 65536):
            yield b" " * 65536
        yield b'{"id": "chunked-1", "cart": [{"sku": "tea"}]}'

    before = server.state()
    big = server.post("/orders", content=chunks(2 << 20), headers={**server.admin, "Content-Type": "application/json"})
    assert big.status_code == 413 and "error" in big.json()
    assert server.state() == before
    small = server.post("/orders", content=chunks(65536), headers={**server.admin, "Content-Type": "application/json"})
    assert small.status_code == 201 and small.json()["order"] == "chunked-1"


def test_browsers_get_the_page_and_clients_the_json(server):
    oid = f"neg-{time.monotonic_ns()}"
    server.begin(oid)
    as_json = server.get(f"/orders/{oid}")
    assert as_json.headers["content-type"].startswith("application/json")
    page = server.get(f"/orders/{oid}", headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert server.get(f"/_html/orders/{oid}").headers["content-type"].startswith("text/html")


def test_one_log_line_per_request(server):
    marker = f"logline-{time.monotonic_ns()}"
    server.get(f"/orders/{marker}")
    wait_for(lambda: f'"GET /orders/{marker}" 404' in server.log(), "the request's log line", 10)
    assert server.log().count(f"/orders/{marker}") == 1


def test_without_an_admin_token_mutations_are_refused_not_open(start_server, tmp_path):
    s = start_server(tmp_path, admin_token=None)
    before = s.state()
    for r in [s.post("/orders", json={"id": "a", "cart": [{"sku": "tea"}]}),
              s.post("/orders", json={"id": "a", "cart": [{"sku": "tea"}]},
                     headers={"Authorization": "Bearer anything-at-all"}),
              s.post("/orders/a/cancel", headers={"Authorization": "Basic abc"}),
              s.post("/flows/echo", json={"id": "e", "args": [1]}),
              s.post("/flows/e/resume", json={"key": "e:1", "value": 1}),
              s.post("/flows/e/cancel")]:
        assert r.status_code == 403, r.text
        assert "FLOWSCHEME_ADMIN_TOKEN" in r.json()["error"] and "--admin-token-file" in r.json()["error"]
    assert s.state() == before
    assert s.get("/orders").status_code == 200 and s.get("/flows").status_code == 200


def test_the_admin_token_and_secret_can_come_from_files(start_server, tmp_path):
    (tmp_path / "token").write_text("file-admin-token-0123456789\n")
    (tmp_path / "secret").write_text("file-webhook-secret-0123456789\n")
    s = start_server(tmp_path, admin_token="env-token-is-not-used-0123", webhook_secret=None,
                     args=["--admin-token-file", str(tmp_path / "token"),
                           "--webhook-secret-file", str(tmp_path / "secret")])
    body = {"id": "ff-1", "cart": [{"sku": "tea"}]}
    assert s.post("/orders", json=body, headers={"Authorization": "Bearer env-token-is-not-used-0123"}) \
        .status_code == 401
    assert s.post("/orders", json=body, headers={"Authorization": "Bearer file-admin-token-0123456789"}) \
        .status_code == 201
    raw = json.dumps({"order": "ff-1", "payment_ref": "p", "amount": 450}).encode()
    r = s.post("/webhooks/payment", content=raw, headers=sign(raw, secret="file-webhook-secret-0123456789"))
    assert r.json()["outcome"] == "settled"


def test_a_short_secret_is_refused_at_start(tmp_path):
    (tmp_path / "token").write_text("short")
    r = subprocess.run(command() + ["serve", "--data", str(tmp_path / "d"), "--admin-token-file",
                                    str(tmp_path / "token"), "--port", "0"],
                       capture_output=True, text=True, timeout=BOUND)
    assert r.returncode == 2
    assert "too short" in r.stderr


def test_help_explains_every_option():
    r = subprocess.run(command() + ["serve", "--help"], capture_output=True, text=True, timeout=BOUND)
    assert r.returncode == 0
    for option in ("--data", "--load", "--host", "--port", "--admin-token-file", "--webhook-secret-file",
                   "--payment-window", "--idle", "--grace", "--access-log"):
        assert option in r.stdout
    assert "127.0.0.1" in r.stdout and "SIGTERM" in r.stdout


def test_it_listens_on_loopback_and_prints_the_dashboard(server):
    assert server.url.startswith("http://127.0.0.1:")
    assert any(line.startswith("dashboard: http://127.0.0.1:") for line in server.stdout_lines)


def test_the_worker_expires_unpaid_orders_and_wakes_sleeping_flows(start_server, tmp_path):
    s = start_server(tmp_path, args=["--payment-window", "1"])
    tea = s.get("/stock").json()["tea"]
    s.begin("late-1", [("tea", 3)])
    assert s.get("/stock").json()["tea"] == tea - 3
    assert s.post("/flows/nap", json={"id": "nap-1", "args": [1]}, headers=s.admin).json()["state"] == "sleeping"
    wait_for(lambda: s.get("/orders/late-1").json()["status"] == "expired", "the order expiring")
    assert s.get("/stock").json()["tea"] == tea
    wait_for(lambda: s.get("/flows/nap-1").json()["status"] == "suspended", "the flow waking")
    assert s.get("/flows/nap-1").json()["waiting"]["kind"] == "woke"
    late = s.webhook({"order": "late-1", "payment_ref": "p", "amount": 1350})
    assert late.json()["outcome"] == "expired"
    text = s.get("/metrics").text
    lateness = next(float(line.split()[-1]) for line in text.splitlines()
                    if line.startswith("flowscheme_timer_lateness_seconds_count"))
    assert lateness >= 2
    assert 'flowscheme_transitions_total{source="worker",what="fired"}' in text


def test_data_survives_a_restart(start_server, tmp_path):
    s = start_server(tmp_path)
    s.begin("keep-1")
    s.webhook({"order": "keep-1", "payment_ref": "p", "amount": 450})
    s.post("/flows/echo", json={"id": "keep-f", "args": ["x"]}, headers=s.admin)
    assert s.stop() == 0
    t = start_server(tmp_path)
    assert t.get("/orders/keep-1").json()["status"] == "fulfilled"
    assert t.post("/flows/keep-f/resume", json={"key": "keep-f:1", "value": 1}, headers=t.admin) \
        .json()["state"] == "done"


def test_sigterm_lets_the_request_in_flight_finish(start_server, tmp_path):
    s = start_server(tmp_path)
    outcome = {}

    def slow():  # a flow step of some seconds: the request is in flight when SIGTERM comes
        with httpx.Client(base_url=s.url, timeout=BOUND) as c:
            outcome["r"] = c.post("/flows/spin", json={"id": "spin-1", "args": [800_000]}, headers=s.admin)

    t = threading.Thread(target=slow)
    t.start()
    wait_for(lambda: _in_flight(s) >= 1, "the slow request arriving")
    s.proc.send_signal(signal.SIGTERM)
    t.join(BOUND)
    assert outcome["r"].status_code == 201
    assert outcome["r"].json()["state"] == "suspended" and outcome["r"].json()["kind"] == "spun"
    assert s.stop() == 0
    assert "flowscheme serve: stopped" in s.stdout_lines
    t2 = start_server(tmp_path)
    assert t2.get("/flows/spin-1").json()["waiting"]["payload"] == 800_000


def _in_flight(s):
    text = s.client.get("/metrics").text
    return sum(float(line.split()[-1]) for line in text.splitlines()
               if line.startswith("flowscheme_http_in_flight ")) - 1  # (less the /metrics request itself)


def test_sigterm_ends_open_event_streams_and_exits(start_server, tmp_path):
    s = start_server(tmp_path, args=["--grace", "120"])
    received = []
    opened = threading.Event()

    def listen():
        with httpx.Client(base_url=s.url, timeout=BOUND) as c:
            with c.stream("GET", "/events") as r:
                opened.set()
                for line in r.iter_lines():
                    received.append(line)

    t = threading.Thread(target=listen, daemon=True)
    t.start()
    assert opened.wait(BOUND)
    wait_for(lambda: any("hello" in line for line in received), "the stream's hello")
    s.begin("ev-1")
    wait_for(lambda: any('"ev-1"' in line for line in received), "the change event")
    started = time.monotonic()
    assert s.stop() == 0
    assert time.monotonic() - started < 100  # (not held for --grace: a hang detector, --grace is 120)
    t.join(BOUND)
    assert not t.is_alive()


def test_flows_whose_code_is_not_loaded_are_shown_and_refused_not_500(start_server, tmp_path):
    s = start_server(tmp_path)
    s.post("/flows/echo", json={"id": "orphan", "args": [{"a": 1}]}, headers=s.admin)
    assert s.stop() == 0
    (tmp_path / "flows.scm").write_text("(defflow other (lambda () (request 'x 1)))\n")
    t = start_server(tmp_path)
    d = t.get("/flows/orphan")
    assert d.status_code == 200
    assert d.json()["status"] == "suspended" and d.json()["waiting"]["key"] == "orphan:1"
    assert d.json()["note"]
    r = t.post("/flows/orphan/resume", json={"key": "orphan:1", "value": 1}, headers=t.admin)
    assert r.status_code == 409 and "not loaded" in r.json()["error"]
    assert t.post("/flows/echo", json={"id": "e2", "args": [1]}, headers=t.admin).status_code == 404
    assert t.get("/flows", params={"q": "orphan"}).json()["flows"][0]["status"] == "suspended"
    assert t.get("/healthz").json()["worker"] is True


def test_serving_a_shop_kept_in_postgresql_never_prints_its_password(start_server, tmp_path, pg_url):
    """--data postgresql://...: the shop lives in the database; the start-up line
    names it without the password (the tests' server trusts any password)."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(pg_url)
    user, _, host = parts.netloc.rpartition("@")
    url = urlunsplit(parts._replace(netloc=f"{user}:pw-s3cret-99@{host}"))
    s = start_server(tmp_path, data=url)
    banner = next(line for line in s.stdout_lines if "listening on" in line)
    assert f"(data postgresql://{user}@{host}{parts.path};" in banner
    s.begin("pg-o-1")
    assert s.get("/orders/pg-o-1").json()["status"] == "awaiting-payment"
    assert s.stop() == 0
    assert "pw-s3cret-99" not in "\n".join(s.stdout_lines) + s.log()
