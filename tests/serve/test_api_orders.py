"""POST/GET /orders, GET /orders/{id}, POST /orders/{id}/cancel over real HTTP:
begin, idempotency keys, listing and filters, cancellation, the admin token,
and bad input answered 4xx with {"error"} and nothing recorded."""

import uuid

import pytest

from conftest import ADMIN_TOKEN, STORES, served_on


@pytest.fixture(scope="module", params=STORES)
def server(request, tmp_path_factory):
    """The module's server, once on the file store and once on PostgreSQL."""
    yield from served_on(request.param, tmp_path_factory, request)


def fresh(prefix="o"):
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def records(server, order_id):
    return [r["kind"] for r in server.get(f"/orders/{order_id}").json()["records"]]


def test_begin_reserves_stock_and_waits_for_payment(server):
    before = server.get("/stock").json()
    oid = fresh()
    r = server.post("/orders", json={"id": oid, "cart": [{"sku": "tea", "qty": 2}, {"sku": "mug", "qty": 1}]},
                    headers=server.admin)
    assert r.status_code == 201
    assert r.json() == {"order": oid, "status": "awaiting-payment"}
    assert r.headers["location"] == f"/orders/{oid}"
    detail = server.get(f"/orders/{oid}").json()
    assert detail["status"] == "awaiting-payment"
    assert detail["total"] == 2100
    assert detail["cart"] == [["tea", 2], ["mug", 1]]
    assert [r["kind"] for r in detail["records"]] == ["created", "reserved"]
    assert detail["stock"] == [{"key": f"{oid}:1", "kind": "reserved", "time": detail["records"][1]["time"],
                                "changes": {"tea": -2, "mug": -1}}]
    assert detail["flow"]["waiting_on"] == "payment"
    after = server.get("/stock").json()
    assert after["tea"] == before["tea"] - 2 and after["mug"] == before["mug"] - 1


def test_begin_again_with_the_same_cart_records_nothing_new(server):
    oid = fresh()
    server.begin(oid)
    again = server.post("/orders", json={"id": oid, "cart": [{"sku": "tea", "qty": 1}]}, headers=server.admin)
    assert again.status_code == 201 and again.json()["status"] == "awaiting-payment"
    assert records(server, oid) == ["created", "reserved"]


def test_begin_with_another_cart_under_an_existing_id_is_a_conflict(server):
    oid = fresh()
    server.begin(oid)
    r = server.post("/orders", json={"id": oid, "cart": [{"sku": "mug", "qty": 3}]}, headers=server.admin)
    assert r.status_code == 409
    assert "different cart" in r.json()["error"]
    assert records(server, oid) == ["created", "reserved"]


def test_an_idempotency_key_makes_a_retried_begin_the_same_order(server):
    key = uuid.uuid4().hex
    body = {"cart": [{"sku": "tray", "qty": 1}]}
    first = server.post("/orders", json=body, headers={**server.admin, "Idempotency-Key": key})
    second = server.post("/orders", json=body, headers={**server.admin, "Idempotency-Key": key})
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    oid = first.json()["order"]
    assert records(server, oid) == ["created", "reserved"]
    other = server.post("/orders", json=body, headers={**server.admin, "Idempotency-Key": key + "x"})
    assert other.json()["order"] != oid
    changed = server.post("/orders", json={"cart": [{"sku": "mug", "qty": 1}]},
                          headers={**server.admin, "Idempotency-Key": key})
    assert changed.status_code == 409
    assert records(server, oid) == ["created", "reserved"]


def test_without_id_or_key_each_begin_is_a_new_order(server):
    body = {"cart": [{"sku": "tea", "qty": 1}]}
    a = server.post("/orders", json=body, headers=server.admin).json()["order"]
    b = server.post("/orders", json=body, headers=server.admin).json()["order"]
    assert a != b


def test_out_of_stock_is_an_answer_not_an_error(server):
    oid = fresh()
    r = server.post("/orders", json={"id": oid, "cart": [{"sku": "pot", "qty": 1_000_000}]}, headers=server.admin)
    assert r.status_code == 201
    assert r.json()["status"] == "out-of-stock"
    assert records(server, oid) == ["created", "out-of-stock"]


@pytest.mark.parametrize("body, status, words", [
    ({"id": "x-1", "cart": [{"sku": "caviar", "qty": 1}]}, 400, "unknown sku"),
    ({"id": "x-2", "cart": [{"sku": "tea", "qty": 0}]}, 422, "qty"),
    ({"id": "x-3", "cart": [{"sku": "tea", "qty": -2}]}, 422, "qty"),
    ({"id": "x-4", "cart": [{"sku": "tea", "qty": "2"}]}, 422, "qty"),
    ({"id": "x-5", "cart": []}, 422, "cart"),
    ({"id": "x-6"}, 422, "cart"),
    ({"id": "x-7", "cart": [{"sku": "tea", "qty": 1, "price": 1}]}, 422, "price"),
    ({"id": "", "cart": [{"sku": "tea"}]}, 422, "id"),
    ({"id": "a/b", "cart": [{"sku": "tea"}]}, 400, "'/'"),
    ({"id": "%stock", "cart": [{"sku": "tea"}]}, 400, "must not start with '%'"),
    ({"id": "x" * 201, "cart": [{"sku": "tea"}]}, 422, "id"),
    ({"id": 5, "cart": [{"sku": "tea"}]}, 422, "id"),
    ([1, 2], 422, "invalid request"),
])
def test_bad_begin_requests_are_refused_and_record_nothing(server, body, status, words):
    before = server.state()
    r = server.post("/orders", json=body, headers=server.admin)
    assert r.status_code == status, r.text
    assert words in r.json()["error"]
    assert set(r.json()) == {"error"}
    assert server.state() == before
    oid = body.get("id") if isinstance(body, dict) else None
    if isinstance(oid, str) and oid and "/" not in oid:
        assert server.get(f"/orders/{oid}").status_code in (400, 404)


def test_a_body_that_is_not_json_is_a_4xx(server):
    before = server.state()
    r = server.post("/orders", content=b"{not json", headers={**server.admin, "Content-Type": "application/json"})
    assert r.status_code == 422
    assert "error" in r.json()
    assert server.state() == before


@pytest.mark.parametrize("headers, status, words", [
    ({}, 401, "missing Authorization"),
    ({"Authorization": "Bearer wrong-token"}, 401, "wrong admin token"),
    ({"Authorization": f"Basic {ADMIN_TOKEN}"}, 401, "Bearer"),
    ({"Authorization": "Bearer"}, 401, "Bearer"),
    ({"Authorization": f"Bearer {ADMIN_TOKEN}x"}, 401, "wrong admin token"),
])
def test_mutations_need_the_admin_token(server, headers, status, words):
    oid = fresh()
    server.begin(oid)
    before = server.state()
    attempts = [
        server.post("/orders", json={"id": fresh(), "cart": [{"sku": "tea"}]}, headers=headers),
        server.post(f"/orders/{oid}/cancel", headers=headers),
        server.post("/flows/echo", json={"id": fresh("f"), "args": [1]}, headers=headers),
        server.post(f"/flows/{oid}/resume", json={"key": f"{oid}:2", "value": 1}, headers=headers),
        server.post(f"/flows/{oid}/cancel", headers=headers),
    ]
    for r in attempts:
        assert r.status_code == status, r.text
        assert words in r.json()["error"]
        assert r.headers["www-authenticate"] == "Bearer"
    assert server.state() == before
    assert server.get(f"/orders/{oid}").json()["status"] == "awaiting-payment"


def test_the_token_is_checked_before_the_body(server):
    r = server.post("/orders", content=b"garbage", headers={"Content-Type": "application/json"})
    assert r.status_code == 401


def test_get_an_unknown_order_is_404(server):
    r = server.get("/orders/no-such-order")
    assert r.status_code == 404
    assert r.json() == {"error": "unknown order: no-such-order"}


def test_list_orders_filters_by_status_and_pages(server):
    a, b = fresh(), fresh()
    server.begin(a)
    server.begin(b)
    assert server.post(f"/orders/{b}/cancel", headers=server.admin).json()["status"] == "cancelled"
    everything = server.get("/orders", params={"limit": 500}).json()
    ids = [o["id"] for o in everything["orders"]]
    assert a in ids and b in ids and everything["total"] == len(ids)
    waiting = server.get("/orders", params={"status": "awaiting-payment", "limit": 500}).json()["orders"]
    assert a in [o["id"] for o in waiting] and b not in [o["id"] for o in waiting]
    assert all(o["status"] == "awaiting-payment" for o in waiting)
    cancelled = server.get("/orders", params={"status": "cancelled", "limit": 500}).json()["orders"]
    assert b in [o["id"] for o in cancelled]
    row = next(o for o in everything["orders"] if o["id"] == a)
    assert row["total"] == 450 and isinstance(row["created"], float)
    page = server.get("/orders", params={"offset": 1, "limit": 2}).json()
    assert [o["id"] for o in page["orders"]] == ids[1:3]
    assert server.get("/orders", params={"limit": 0}).status_code == 422
    assert server.get("/orders", params={"limit": 501}).status_code == 422
    assert server.get("/orders", params={"offset": -1}).status_code == 422
    assert server.get("/orders", params={"offset": "x"}).status_code == 422


def test_cancel_releases_the_stock_and_is_idempotent(server):
    oid = fresh()
    before = server.get("/stock").json()["mug"]
    server.begin(oid, [("mug", 2)])
    assert server.get("/stock").json()["mug"] == before - 2
    r = server.post(f"/orders/{oid}/cancel", headers=server.admin)
    assert r.status_code == 200 and r.json() == {"order": oid, "status": "cancelled"}
    assert server.get("/stock").json()["mug"] == before
    again = server.post(f"/orders/{oid}/cancel", headers=server.admin)
    assert again.json() == {"order": oid, "status": "cancelled"}
    assert records(server, oid) == ["created", "reserved", "released"]


def test_cancel_a_fulfilled_order_is_a_conflict(server):
    oid = fresh()
    server.begin(oid)
    assert server.webhook({"order": oid, "payment_ref": "p-1", "amount": 450}).json()["outcome"] == "settled"
    r = server.post(f"/orders/{oid}/cancel", headers=server.admin)
    assert r.status_code == 409
    assert "fulfilled" in r.json()["error"]
    assert records(server, oid) == ["created", "reserved", "paid", "fulfilled"]


def test_cancel_an_unknown_order_is_404(server):
    before = server.state()
    r = server.post("/orders/nobody/cancel", headers=server.admin)
    assert r.status_code == 404 and "unknown order" in r.json()["error"]
    assert server.state() == before
