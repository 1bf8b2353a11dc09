"""POST /webhooks/payment over real HTTP: a signed delivery settles the order,
a replay answers already-settled and records nothing, and every bad delivery
(no, malformed or wrong signature, wrong secret, altered body, stale or future
timestamp) is refused 401 with nothing recorded."""

import json
import time
import uuid

import pytest

from conftest import STORES, served_on, sign


@pytest.fixture(scope="module", params=STORES)
def server(request, tmp_path_factory):
    """The module's server, once on the file store and once on PostgreSQL."""
    yield from served_on(request.param, tmp_path_factory, request)


def begun(server, cart=(("tea", 1),)):
    oid = f"w-{uuid.uuid4().hex[:10]}"
    server.begin(oid, cart)
    return oid


def kinds(server, oid):
    return [r["kind"] for r in server.get(f"/orders/{oid}").json()["records"]]


def test_a_signed_delivery_settles_and_its_replay_records_nothing(server):
    oid = begun(server)
    pay = {"order": oid, "payment_ref": "pay-1", "amount": 450}
    first = server.webhook(pay)
    assert first.status_code == 200
    assert first.json() == {"order": oid, "outcome": "settled"}
    assert server.get(f"/orders/{oid}").json()["status"] == "fulfilled"
    for _ in range(3):  # the same delivery again, freshly signed or the very same bytes
        again = server.webhook(pay)
        assert again.status_code == 200 and again.json()["outcome"] == "already-settled"
    body = json.dumps(pay).encode()
    headers = sign(body)
    assert server.post("/webhooks/payment", content=body, headers=headers).json()["outcome"] == "already-settled"
    assert server.post("/webhooks/payment", content=body, headers=headers).json()["outcome"] == "already-settled"
    assert kinds(server, oid) == ["created", "reserved", "paid", "fulfilled"]


def test_a_second_payment_reference_becomes_refund_due(server):
    oid = begun(server)
    server.webhook({"order": oid, "payment_ref": "a", "amount": 450})
    r = server.webhook({"order": oid, "payment_ref": "b", "amount": 450})
    assert r.json()["outcome"] == "duplicate-payment"
    assert kinds(server, oid) == ["created", "reserved", "paid", "fulfilled", "refund-due"]


def test_paying_a_cancelled_order_is_refund_due(server):
    oid = begun(server)
    server.post(f"/orders/{oid}/cancel", headers=server.admin)
    r = server.webhook({"order": oid, "payment_ref": "late", "amount": 450})
    assert r.status_code == 200 and r.json()["outcome"] == "cancelled"
    assert kinds(server, oid)[-1] == "refund-due"


def bad_deliveries(oid):
    pay = {"order": oid, "payment_ref": "pay-x", "amount": 450}
    body = json.dumps(pay).encode()
    good = sign(body)
    now = int(time.time())
    return [
        ("no signature", body, {k: v for k, v in good.items() if k != "X-Flowscheme-Signature"}, "missing"),
        ("no timestamp", body, {k: v for k, v in good.items() if k != "X-Flowscheme-Timestamp"}, "missing"),
        ("wrong secret", body, sign(body, secret="another-secret-0123456789"), "does not match"),
        ("altered body", json.dumps({**pay, "amount": 451}).encode(), good, "does not match"),
        ("body with a byte more", body + b" ", good, "does not match"),
        ("another timestamp", body, {**good, "X-Flowscheme-Timestamp": str(now + 1)}, "does not match"),
        ("stale", body, sign(body, timestamp=now - 301), "old"),
        ("much too old", body, sign(body, timestamp=now - 86400), "old"),
        ("from the future", body, sign(body, timestamp=now + 400), "future"),
        ("not v1", body, {**good, "X-Flowscheme-Signature": good["X-Flowscheme-Signature"].replace("v1=", "v0=")},
         "v1="),
        ("short hex", body, {**good, "X-Flowscheme-Signature": "v1=abcd"}, "v1="),
        ("uppercase hex", body, {**good, "X-Flowscheme-Signature": good["X-Flowscheme-Signature"].upper()
                                 .replace("V1=", "v1=")}, "v1="),
        ("timestamp not digits", body, {**good, "X-Flowscheme-Timestamp": "12x"}, "Unix seconds"),
        ("negative timestamp", body, {**good, "X-Flowscheme-Timestamp": "-5"}, "Unix seconds"),
    ]


@pytest.mark.parametrize("case", range(14), ids=[c[0] for c in bad_deliveries("x")])
def test_bad_deliveries_are_refused_and_record_nothing(server, case):
    oid = begun(server)
    name, body, headers, words = bad_deliveries(oid)[case]
    before = server.state()
    r = server.post("/webhooks/payment", content=body, headers=headers)
    assert r.status_code == 401, (name, r.text)
    assert words in r.json()["error"]
    assert set(r.json()) == {"error"}
    assert server.state() == before
    assert kinds(server, oid) == ["created", "reserved"]
    assert server.get(f"/orders/{oid}").json()["status"] == "awaiting-payment"


def test_one_good_signature_among_several_is_enough(server):
    oid = begun(server)
    body = json.dumps({"order": oid, "payment_ref": "rot", "amount": 450}).encode()
    good = sign(body)
    rotated = sign(body, secret="an-old-secret-0123456789")["X-Flowscheme-Signature"]
    headers = {**good, "X-Flowscheme-Signature": f"{rotated}, {good['X-Flowscheme-Signature']}"}
    assert server.post("/webhooks/payment", content=body, headers=headers).json()["outcome"] == "settled"


@pytest.mark.parametrize("payload, status, words", [
    (b"not json", 400, "JSON"),
    (b"[1, 2]", 400, "object"),
    (b'{"order": "o"}', 400, "payment_ref"),
    (b'{"order": "nobody-at-all", "payment_ref": "p", "amount": 450}', 404, "unknown order"),
    (b'{"order": 7, "payment_ref": "p", "amount": 450}', 400, "order id"),
    (b'{"order": "ORDER", "payment_ref": "", "amount": 450}', 400, "payment_ref"),
    (b'{"order": "ORDER", "payment_ref": "p", "amount": "450"}', 400, "amount"),
    (b'{"order": "ORDER", "payment_ref": "p", "amount": 4.5}', 400, "amount"),
    (b'{"order": "ORDER", "payment_ref": "p", "amount": 449}', 409, "does not match the quoted total"),
    (b'{"order": "ORDER", "payment_ref": "p", "amount": 99999999999999999999999}', 400, "amount"),
])
def test_signed_but_unusable_deliveries_are_4xx_and_record_nothing(server, payload, status, words):
    oid = begun(server)
    body = payload.replace(b"ORDER", oid.encode())
    before = server.state()
    r = server.post("/webhooks/payment", content=body, headers=sign(body))
    assert r.status_code == status, r.text
    assert words in r.json()["error"]
    assert server.state() == before
    assert kinds(server, oid) == ["created", "reserved"]


def test_webhook_outcomes_are_counted_in_the_metrics(server):
    oid = begun(server)
    server.webhook({"order": oid, "payment_ref": "m", "amount": 450})
    server.webhook({"order": oid, "payment_ref": "m", "amount": 450})
    server.webhook({"order": oid, "payment_ref": "m", "amount": 450}, secret="wrong-secret-0123456789")
    text = server.get("/metrics").text
    counts = {}
    for line in text.splitlines():
        if line.startswith("flowscheme_webhooks_total{"):
            label = line.split('outcome="', 1)[1].split('"', 1)[0]
            counts[label] = float(line.rsplit(" ", 1)[1])
    assert counts["settled"] >= 1 and counts["already-settled"] >= 1 and counts["bad-signature"] >= 1


def test_without_a_configured_secret_webhooks_are_refused(start_server, tmp_path):
    s = start_server(tmp_path, webhook_secret=None)
    oid = "nosecret-1"
    s.begin(oid)
    body = json.dumps({"order": oid, "payment_ref": "p", "amount": 450}).encode()
    r = s.post("/webhooks/payment", content=body, headers=sign(body))
    assert r.status_code == 403
    assert "FLOWSCHEME_WEBHOOK_SECRET" in r.json()["error"]
    assert s.get(f"/orders/{oid}").json()["status"] == "awaiting-payment"
