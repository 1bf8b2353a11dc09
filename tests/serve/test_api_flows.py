"""POST /flows/{name}, POST /flows/{id}/resume, POST /flows/{id}/cancel,
GET /flows (filters, paging), GET /flows/{id} (where it waits, its source,
locals, journal, timer) over real HTTP; order flows are refused here; bad input
answers 4xx with nothing changed."""

import time
import uuid
from datetime import datetime

import pytest

from conftest import STORES, served_on


@pytest.fixture(scope="module", params=STORES)
def server(request, tmp_path_factory):
    """The module's server, once on the file store and once on PostgreSQL."""
    yield from served_on(request.param, tmp_path_factory, request)


def fid(prefix="f"):
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def nested(depth):
    value = []
    for _ in range(depth):
        value = [value]
    return value


def start(server, name, flow_id, args):
    return server.post(f"/flows/{name}", json={"id": flow_id, "args": args}, headers=server.admin)


def test_start_resume_to_done(server):
    f = fid()
    r = start(server, "loan", f, ["ann", 5000])
    assert r.status_code == 201
    assert r.json() == {"flow": f, "state": "suspended", "kind": "credit", "key": f"{f}:1", "payload": "ann"}
    assert r.headers["location"] == f"/flows/{f}"
    r = server.post(f"/flows/{f}/resume", json={"key": f"{f}:1", "value": 700}, headers=server.admin)
    assert r.status_code == 200
    assert r.json() == {"flow": f, "state": "suspended", "kind": "approve", "key": f"{f}:2",
                        "payload": ["ann", 5000]}
    r = server.post(f"/flows/{f}/resume", json={"key": f"{f}:2", "value": {"ok": True, "limit": [1, 2.5]}},
                    headers=server.admin)
    assert r.json() == {"flow": f, "state": "done", "value": {"ok": True, "limit": [1, 2.5]}}
    assert server.get(f"/flows/{f}").json()["status"] == "done"


def test_starting_an_existing_id_answers_its_state(server):
    f = fid()
    assert start(server, "echo", f, [1]).status_code == 201
    again = start(server, "echo", f, [2])
    assert again.status_code == 200
    assert again.json()["payload"] == 1
    other = start(server, "loan", f, ["x", 1])
    assert other.status_code == 409 and "runs 'echo'" in other.json()["error"]


def test_a_replayed_resume_changes_nothing(server):
    f = fid()
    start(server, "loan", f, ["bo", 10])
    server.post(f"/flows/{f}/resume", json={"key": f"{f}:1", "value": 800}, headers=server.admin)
    before = server.state()
    replay = server.post(f"/flows/{f}/resume", json={"key": f"{f}:1", "value": 100}, headers=server.admin)
    assert replay.status_code == 409
    assert f"{f}:1" in replay.json()["error"] and "nothing changed" in replay.json()["error"]
    assert server.state() == before
    detail = server.get(f"/flows/{f}").json()
    assert detail["waiting"]["key"] == f"{f}:2"
    assert [j["answer"] for j in detail["journal"]] == ["800"]


def test_a_step_failing_in_scheme_is_a_failed_state_not_an_error(server):
    f = fid()
    start(server, "loan", f, ["cy", 1])
    r = server.post(f"/flows/{f}/resume", json={"key": f"{f}:1", "value": "not a number"}, headers=server.admin)
    assert r.status_code == 200
    body = r.json()
    assert body["state"] == "failed"
    assert "flows.scm" in body["error"]["position"]
    assert server.get(f"/flows/{f}").json()["status"] == "failed"


def test_cancel_a_flow(server):
    f = fid()
    start(server, "echo", f, ["x"])
    r = server.post(f"/flows/{f}/cancel", headers=server.admin)
    assert r.status_code == 200 and r.json() == {"flow": f, "status": "cancelled"}
    assert server.post(f"/flows/{f}/cancel", headers=server.admin).json()["status"] == "cancelled"
    r = server.post(f"/flows/{f}/resume", json={"key": f"{f}:1", "value": 1}, headers=server.admin)
    assert r.status_code == 409 and "cancelled" in r.json()["error"]


def test_order_flows_are_driven_through_orders_only(server):
    oid = fid("o")
    server.begin(oid)
    before = server.state()
    for r in [start(server, "shop-order", fid("o"), ["x", 60]),
              server.post(f"/flows/{oid}/resume", json={"key": f"{oid}:2", "value": 1}, headers=server.admin),
              server.post(f"/flows/{oid}/cancel", headers=server.admin)]:
        assert r.status_code == 409, r.text
        assert "/orders" in r.json()["error"]
    assert server.state() == before
    assert server.get(f"/orders/{oid}").json()["status"] == "awaiting-payment"


@pytest.mark.parametrize("path, body, status, words", [
    ("/flows/no-such-flow", {"id": "a", "args": []}, 404, "no flow named"),
    ("/flows/echo", {"id": "", "args": []}, 422, "id"),
    ("/flows/echo", {"id": "a/b", "args": []}, 400, "'/'"),
    ("/flows/echo", {"id": "ctl\u0001", "args": []}, 400, "control"),
    ("/flows/echo", {"args": [1]}, 422, "id"),
    ("/flows/echo", {"id": "z", "args": "notalist"}, 422, "args"),
    ("/flows/echo", {"id": "z", "args": [1], "extra": 1}, 422, "extra"),
    ("/flows/echo", {"id": "deep", "args": [nested(80)]}, 400, "nested too deeply"),
    ("/flows/echo", {"id": "wide", "args": [list(range(20000))]}, 400, "too large"),
    ("/flows/nobody/resume", {"key": "k", "value": 1}, 404, "no flow"),
    ("/flows/nobody/cancel", None, 404, "no flow"),
])
def test_bad_flow_requests_are_4xx_and_change_nothing(server, path, body, status, words):
    before = server.state()
    r = server.post(path, json=body, headers=server.admin)
    assert r.status_code == status, r.text
    assert words in r.json()["error"]
    assert server.state() == before


def test_resume_bodies_are_checked(server):
    f = fid()
    start(server, "echo", f, [0])
    before = server.state()
    for body, status in [({"value": 1}, 422), ({"key": "", "value": 1}, 422), ({"key": 5, "value": 1}, 422),
                         ({"key": f"{f}:1", "value": 1, "more": 2}, 422)]:
        r = server.post(f"/flows/{f}/resume", json=body, headers=server.admin)
        assert r.status_code == status, (body, r.text)
        assert "error" in r.json()
    assert server.state() == before


def test_json_values_cross_into_scheme_and_back(server):
    f = fid()
    value = {"n": 2**70, "neg": -3, "f": 0.5, "s": "\u00e9t\u00e9", "t": True, "no": False, "nil": None,
             "l": [1, [2, []]], "d": {"k": "v"}}
    start(server, "echo", f, [0])
    r = server.post(f"/flows/{f}/resume", json={"key": f"{f}:1", "value": value}, headers=server.admin)
    assert r.status_code == 200
    assert r.json() == {"flow": f, "state": "done", "value": value}


def test_list_flows_filters_and_pages(server):
    tag = uuid.uuid4().hex[:8]
    ids = [f"list-{tag}-{i}" for i in range(5)]
    for i, f in enumerate(ids):
        start(server, "echo" if i % 2 else "loan", f, ["x", 1] if i % 2 == 0 else [i])
    server.post(f"/flows/{ids[1]}/cancel", headers=server.admin)
    mine = server.get("/flows", params={"q": tag, "limit": 500}).json()
    assert [r["id"] for r in mine["flows"]] == ids and mine["total"] == 5
    row = mine["flows"][0]
    assert row == {"id": ids[0], "name": "loan", "status": "suspended", "step": 1, "kind": "credit",
                   "key": f"{ids[0]}:1", "wake": None, "timer": None, "attempts": 0, "error": None}
    loans = server.get("/flows", params={"q": tag, "name": "loan"}).json()
    assert [r["id"] for r in loans["flows"]] == ids[0::2]
    cancelled = server.get("/flows", params={"q": tag, "status": "cancelled"}).json()
    assert [r["id"] for r in cancelled["flows"]] == [ids[1]]
    echoing = server.get("/flows", params={"q": tag, "kind": "echo"}).json()
    assert [r["id"] for r in echoing["flows"]] == [ids[3]]
    page = server.get("/flows", params={"q": tag, "offset": 2, "limit": 2}).json()
    assert [r["id"] for r in page["flows"]] == ids[2:4] and page["total"] == 5
    assert server.get("/flows", params={"q": tag, "status": "no-such-status"}).json()["total"] == 0
    for bad in ({"limit": 0}, {"limit": 10_000}, {"offset": -5}, {"limit": "many"}):
        r = server.get("/flows", params=bad)
        assert r.status_code == 422 and "error" in r.json()


def test_flow_detail_shows_where_it_waits(server):
    f = fid()
    start(server, "loan", f, ["dee", 300])
    server.post(f"/flows/{f}/resume", json={"key": f"{f}:1", "value": 650}, headers=server.admin)
    d = server.get(f"/flows/{f}").json()
    assert d["id"] == f and d["name"] == "loan" and d["status"] == "suspended" and d["step"] == 2
    assert d["args"] == ['"dee"', "300"]
    assert d["order"] is False
    assert d["waiting"] == {"kind": "approve", "key": f"{f}:2", "payload": ["dee", 300],
                            "payload_text": '(approve ("dee" 300))'}
    assert d["journal"][0]["key"] == f"{f}:1" and d["journal"][0]["answer"] == "650"
    assert d["journal"][0]["request"] == '(credit "dee")'
    assert d["timer"]["kind"] == "deadline" and 3500 < d["timer"]["due_in"] <= 3600
    local = {v["name"]: v["value"] for v in d["locals"]}
    assert local.get("score") == "650"
    pos = d["position"]
    assert pos["file"].endswith("flows.scm")
    src = d["source"]
    shown = src["lines"][pos["line"] - src["first_line"]]
    assert "request/timeout 'approve" in shown or "(request" in shown


def test_flow_detail_of_a_flow_at_its_first_request_shows_its_source_line(server):
    f = fid()
    start(server, "loan", f, ["eve", 1])
    d = server.get(f"/flows/{f}").json()
    assert d["position"]["line"] == 3
    src = d["source"]
    assert src["lines"][3 - src["first_line"]].strip().startswith("(let ((score (request 'credit who)))")
    assert {v["name"]: v["value"] for v in d["locals"]} == {"who": '"eve"', "amount": "1"}


def iso(text):
    """ISO 8601 UTC text as the API gives it -> epoch seconds (it must say Z)."""
    assert isinstance(text, str) and text.endswith("Z"), text
    return datetime.fromisoformat(text[:-1] + "+00:00").timestamp()


def test_journal_entries_carry_when_they_were_asked_and_answered(server):
    f = fid()
    before = time.time()
    start(server, "loan", f, ["jo", 1])
    d = server.get(f"/flows/{f}").json()
    assert d["journal"] == [] and before - 1 <= iso(d["waiting_since"]) <= time.time() + 1
    time.sleep(0.3)  # (a wait the journal must show: a lower bound, not a timing claim)
    server.post(f"/flows/{f}/resume", json={"key": f"{f}:1", "value": 700}, headers=server.admin)
    d = server.get(f"/flows/{f}").json()
    [entry] = d["journal"]
    asked, answered = iso(entry["asked"]), iso(entry["answered"])
    assert before - 1 <= asked and asked + 0.3 <= answered <= time.time() + 1
    assert abs(entry["waited"] - (answered - asked)) <= 0.002  # (the times shown are to the millisecond)
    assert iso(d["waiting_since"]) >= answered  # it waits on its second request since it was answered
    assert "time" not in entry  # (no time guessed from elsewhere)


def test_order_flows_journal_times_come_from_the_journal(server):
    oid = fid("o")
    server.begin(oid)
    d = server.get(f"/orders/{oid}").json()
    since = iso(d["flow"]["waiting_since"])
    server.webhook({"order": oid, "payment_ref": "t", "amount": 450})
    d = server.get(f"/flows/{oid}").json()
    assert d["order"] is True and d["status"] == "done" and d["waiting_since"] is None
    assert [j["key"] for j in d["journal"]] == [f"{oid}:1", f"{oid}:2", f"{oid}:3"]
    reserve, payment, fulfil = d["journal"]
    assert iso(payment["asked"]) == since  # the payment request was made when the order began waiting
    for j in d["journal"]:
        assert iso(j["asked"]) <= iso(j["answered"]) and j["waited"] >= 0
    assert iso(reserve["answered"]) <= iso(payment["asked"]) and iso(payment["answered"]) <= iso(fulfil["asked"])
    assert server.get(f"/orders/{oid}").json()["flow"]["waiting_since"] is None  # it waits no more


def test_the_openapi_document_describes_the_journal_times(server):
    doc = server.get("/openapi.json").json()
    ok = doc["paths"]["/flows/{flow_id}"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    detail = doc["components"]["schemas"][ok["$ref"].rsplit("/", 1)[1]]
    item = doc["components"]["schemas"][detail["properties"]["journal"]["items"]["$ref"].rsplit("/", 1)[1]]
    for name in ("asked", "answered"):
        assert {"type": "string", "format": "date-time"} in item["properties"][name]["anyOf"]
        assert {"type": "null"} in item["properties"][name]["anyOf"]
        assert "ISO 8601" in item["properties"][name]["description"]
        assert name in item["required"]
    assert {"type": "string", "format": "date-time"} in detail["properties"]["waiting_since"]["anyOf"]


def test_an_order_flow_waits_at_the_request_inside_ask(server):
    """schemes/order.scm: shop-order waits for its payment in `ask`, at its
    request/timeout (line 32), not at the first request of the file."""
    oid = fid("o")
    server.begin(oid)
    d = server.get(f"/flows/{oid}").json()
    assert d["position"]["file"].endswith("schemes/order.scm") and d["position"]["line"] == 32
    src = d["source"]
    assert src["lines"][32 - src["first_line"]].strip() == "(request/timeout kind oid (car seconds))"
    assert d["timer"]["kind"] == "deadline" and d["waiting"]["kind"] == "payment"


def test_get_an_unknown_flow_is_404(server):
    r = server.get("/flows/nobody-here")
    assert r.status_code == 404 and r.json() == {"error": "no flow 'nobody-here'"}


def test_a_lone_surrogate_in_a_scheme_string_crosses_as_an_escape(server):
    f = fid()
    r = server.post("/flows/echo", content=b'{"id": "' + f.encode() + b'", "args": ["a\\ud800b"]}',
                    headers={**server.admin, "Content-Type": "application/json"})
    assert r.status_code == 201, r.text
    assert b"\\ud800" in r.content
    assert r.json()["payload"] == "a\ud800b"
    assert server.get(f"/flows/{f}").json()["waiting"]["payload"] == "a\ud800b"
