"""The dashboard's pages over HTTP: what they show (counts, filtered and paged
flows, orders; a flow's waiting line, locals, journal, timer; an order's cart,
ledger and stock), that they are well-formed and accessible (labels, table
headers), that every value is escaped, that unknown ids are 404 pages and bad
queries 400 pages, and the server-sent events that keep them live.

Most tests run the app in-process (a ManualClock; the worker not started); the
event stream is read from a real `flowscheme serve` (conftest's `server`)."""

import asyncio
import json
import threading
import time
from urllib.parse import quote

import warnings

import httpx
import pytest

with warnings.catch_warnings():  # (starlette would rather have httpx2; httpx is what the tests depend on)
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from conftest import ADMIN_TOKEN, FLOWS_SCM, WEBHOOK_SECRET
from flow import FlowRuntime, ManualClock
from htmltree import parse
from serve.app import create_app
from serve.auth import AdminToken
from serve.dashboard import event_stream, sse_message
from serve.events import ChangeFeed
from serve.pages.markup import Html, attrs, h, query, tag
from serve.service import Service, iso_time

NOW = 1_800_000_000


def run_apart(coro):
    """asyncio.run(coro) on a thread of its own: the browser tests' Playwright (sync
    API) keeps an event loop running on the main thread for the session."""
    out = {}

    def target():
        try:
            out["value"] = asyncio.run(coro)
        except BaseException as e:  # re-raised on the test's thread
            out["error"] = e

    t = threading.Thread(target=target)
    t.start()
    t.join()
    if "error" in out:
        raise out["error"]
    return out["value"]


class Dash:
    def __init__(self, service, client, clock):
        self.service, self.client, self.clock = service, client, clock

    def page(self, path, status=200):
        r = self.client.get(path)
        assert r.status_code == status, (path, r.status_code, r.text[:500])
        assert r.headers["content-type"].startswith("text/html"), r.headers["content-type"]
        return parse(r.text), r.text

    def loan_waiting_for_approval(self, flow_id, who="ann", amount=5000, score=700):
        self.service.start_flow("loan", flow_id, [who, amount])
        return self.service.resume_flow(flow_id, f"{flow_id}:1", score)


@pytest.fixture
def dash(tmp_path):
    scm = tmp_path / "flows.scm"
    scm.write_text(FLOWS_SCM)
    clock = ManualClock(NOW)
    service = Service(str(tmp_path / "data"), loads=[str(scm)], clock=clock)
    app = create_app(service, admin=AdminToken(ADMIN_TOKEN.encode()), webhook_secret=WEBHOOK_SECRET.encode(),
                     manage=False)
    try:
        with TestClient(app, headers={"Accept": "text/html"}) as client:
            yield Dash(service, client, clock)
    finally:
        service.stop()


def rows(doc, table_id):
    """[[cell text]] of the body rows of the table in region `table_id`."""
    region = doc.by_id(table_id)
    table = region.find("table") if region is not None else None
    if table is None:
        return []
    return [[c.text for c in tr.children if not isinstance(c, str) and c.tag in ("th", "td")]
            for tr in table.find("tbody").find_all("tr")]


def flow_ids(doc):
    return [r[0] for r in rows(doc, "flows-region")]


def count_of(doc, group, status):
    """The number shown for `status` in the counts of `group` (flows|orders), or None."""
    for ul in doc.find_all("ul", class_="counts"):
        if ul.attrs.get("aria-label") == f"{group} by status":
            for a in ul.find_all("a"):
                if a.find("span", class_="count-label").text == status:
                    return int(a.find("span", class_="count-num").text.replace(",", ""))
    return None


# ---------------------------------------------------------------- the overview


def test_overview_counts_and_lists_flows_and_orders(dash):
    s = dash.service
    s.begin_order("o-1", [["tea", 2], ["mug", 1]])
    s.begin_order("o-2", [["tea", 1]])
    s.settle_payment("o-1", "pay-1", 2100)
    dash.loan_waiting_for_approval("l-1")
    s.start_flow("echo", "e-1", ["hi"])
    s.resume_flow("e-1", "e-1:1", "back")
    doc, _ = dash.page("/")
    assert flow_ids(doc) == ["e-1", "l-1", "o-1", "o-2"]
    assert count_of(doc, "flows", "suspended") == 2 and count_of(doc, "flows", "done") == 2
    assert count_of(doc, "orders", "fulfilled") == 1 and count_of(doc, "orders", "awaiting-payment") == 1
    by_id = {r[0]: r for r in rows(doc, "flows-region")}
    assert by_id["l-1"][1:4] == ["loan", "suspended", "2"]
    assert by_id["l-1"][4] == "approve" and by_id["l-1"][5].startswith("deadline 2027-01-15")
    assert by_id["e-1"][2] == "done" and by_id["e-1"][4] == "—"
    assert rows(doc, "orders-region") == [["o-1", "fulfilled", "21.00"], ["o-2", "awaiting-payment", "4.50"]]
    links = {a.text: a.attrs["href"] for a in doc.by_id("flows-region").find_all("a")}
    assert links["l-1"] == "/flows/l-1"
    assert doc.by_id("orders-region").find("a").attrs["href"] == "/orders/o-1"
    assert "Flows 1–4 of 4" in doc.by_id("flows-region").text


def test_overview_filters_by_status_name_kind_and_searches_ids(dash):
    s = dash.service
    dash.loan_waiting_for_approval("l-1")          # loan, waits on approve
    s.start_flow("loan", "l-2", ["bob", 10])       # loan, waits on credit
    s.start_flow("echo", "e-1", ["x"])             # echo, waits on echo
    s.start_flow("echo", "e-2", ["y"])
    s.resume_flow("e-2", "e-2:1", 1)               # done
    assert flow_ids(dash.page("/?status=done")[0]) == ["e-2"]
    assert flow_ids(dash.page("/?status=suspended")[0]) == ["e-1", "l-1", "l-2"]
    assert flow_ids(dash.page("/?name=loan")[0]) == ["l-1", "l-2"]
    assert flow_ids(dash.page("/?kind=approve")[0]) == ["l-1"]
    assert flow_ids(dash.page("/?q=-2")[0]) == ["e-2", "l-2"]
    doc, _ = dash.page("/?name=echo&status=suspended&q=e")
    assert flow_ids(doc) == ["e-1"]
    # the form shows what is applied
    assert doc.find("select", name="status").find("option", selected=True).attrs["value"] == "suspended"
    assert doc.find("select", name="name").find("option", selected=True).attrs["value"] == "echo"
    assert doc.find("input", name="q").attrs["value"] == "e"
    # nothing matching is said so, not an empty table
    doc, _ = dash.page("/?status=failed")
    assert flow_ids(doc) == [] and "No flows match." in doc.by_id("flows-region").text
    # a status this dashboard does not know still filters (to nothing) and is shown escaped
    doc, text = dash.page("/?status=%3Cb%3Ebold")
    assert flow_ids(doc) == [] and "<b>bold" not in text


def test_overview_orders_filter_by_status(dash):
    s = dash.service
    for oid in ("o-1", "o-2", "o-3"):
        s.begin_order(oid, [["tea", 1]])
    s.settle_payment("o-2", "p", 450)
    s.cancel_order("o-3")
    doc, _ = dash.page("/?order_status=fulfilled")
    assert [r[0] for r in rows(doc, "orders-region")] == ["o-2"]
    doc, _ = dash.page("/?order_status=cancelled&status=done")
    assert [r[0] for r in rows(doc, "orders-region")] == ["o-3"]
    assert flow_ids(doc) == ["o-2", "o-3"]  # the flow filter applies beside it


def test_overview_pages_ten_thousand_flows(dash, tmp_path):
    """10,000 flows: a page is 50 rows, Previous/Next keep the filters; the time a
    page takes is printed (measured, not asserted)."""
    scm = tmp_path / "flows.scm"
    bulk = FlowRuntime()
    bulk.load_file(str(scm))
    for i in range(10_000):
        bulk.start("echo", i, flow_id=f"f-{i:05d}")
    dash.service.rt.import_store(bulk.export_store())
    took = []
    passes = dash.service.listing.passes
    for _ in range(2):  # the first reads every flow's metadata; the second finds it cached
        dash.service.publish(type="test", id="-", action="bulk import")  # (a new counter: a pass each)
        started = time.perf_counter()
        doc, _ = dash.page("/?offset=5000")
        took.append(time.perf_counter() - started)
    assert dash.service.listing.passes == passes + 2  # one pass per overview
    print(f"\noverview of 10,000 flows, page at offset 5000: {took[0] * 1000:.0f} ms cold, "
          f"{took[1] * 1000:.0f} ms warm (one listing pass each)")
    assert flow_ids(doc) == [f"f-{i:05d}" for i in range(5000, 5050)]
    pager = doc.by_id("flows-region").find("nav", class_="pager")
    assert "Flows 5,001–5,050 of 10,000" in pager.text
    assert pager.find("a", rel="prev").attrs["href"] == "/?offset=4950#flows"
    assert pager.find("a", rel="next").attrs["href"] == "/?offset=5050#flows"
    assert count_of(doc, "flows", "suspended") == 10_000
    doc, _ = dash.page("/?offset=9950")
    assert flow_ids(doc)[-1] == "f-09999" and doc.by_id("flows-region").find("a", rel="next") is None
    doc, _ = dash.page("/?q=f-0999&status=suspended&limit=5")
    assert flow_ids(doc) == ["f-09990", "f-09991", "f-09992", "f-09993", "f-09994"]
    nxt = doc.by_id("flows-region").find("a", rel="next").attrs["href"]
    assert nxt == "/?status=suspended&q=f-0999&limit=5&offset=5#flows"
    doc, _ = dash.page(nxt)
    assert flow_ids(doc) == ["f-09995", "f-09996", "f-09997", "f-09998", "f-09999"]
    assert doc.by_id("flows-region").find("a", rel="prev").attrs["href"] == "/?status=suspended&q=f-0999&limit=5#flows"
    assert doc.by_id("flows-region").find("a", rel="next") is None
    doc, _ = dash.page("/?q=f-0999&offset=20")  # past the end: said so, with the way back
    assert flow_ids(doc) == [] and "No flows past 20 (of 10)" in doc.by_id("flows-region").text
    assert doc.by_id("flows-region").find("a", rel="prev").attrs["href"] == "/?q=f-0999#flows"


def test_one_overview_is_one_pass_and_requests_at_one_change_counter_share_it(dash):
    """The overview's counts, flows and orders come from one listing pass; pages,
    /summary, /flows, /orders and /metrics at the same change counter reuse it; a
    change makes the next one pass again, and what it shows is the change."""
    s = dash.service
    s.listing.max_age = 3600.0  # (no pass ends by age in this test)
    s.begin_order("o-1", [["tea", 1]])
    s.start_flow("echo", "e-1", ["x"])
    passes = s.listing.passes
    doc, _ = dash.page("/")
    assert s.listing.passes == passes + 1
    assert flow_ids(doc) == ["e-1", "o-1"] and count_of(doc, "flows", "suspended") == 2
    api = {"Accept": "application/json"}
    for path in ("/", "/?status=suspended", "/?order_status=awaiting-payment"):
        dash.page(path)
    for path in ("/summary", "/flows", "/orders", "/metrics"):
        assert dash.client.get(path, headers=api).status_code == 200
    assert s.listing.passes == passes + 1
    s.resume_flow("e-1", "e-1:1", "y")  # a change: the counter moves on
    doc, _ = dash.page("/")
    assert s.listing.passes == passes + 2
    assert count_of(doc, "flows", "done") == 1 and count_of(doc, "flows", "suspended") == 1
    summary = dash.client.get("/summary", headers=api).json()
    assert summary["flows"] == {"done": 1, "suspended": 1} and summary["changes"] == s.feed.seq
    assert s.listing.passes == passes + 2


def test_a_change_the_feed_did_not_see_shows_once_the_shared_pass_is_old(dash):
    """Another process's commits do not reach this one's change feed: a pass is
    reused for at most max_age seconds, then the store is read again."""
    s = dash.service
    s.listing.max_age = 3600.0
    s.start_flow("echo", "e-1", ["x"])
    assert flow_ids(dash.page("/")[0]) == ["e-1"]
    other = FlowRuntime(s.rt.store)  # (a runtime beside the service's: as another process would)
    other.load_file(s.loads[0])
    other.start("echo", "z", flow_id="e-2")
    assert flow_ids(dash.page("/")[0]) == ["e-1"]  # the shared pass, still young
    s.listing.max_age = 0.0
    assert flow_ids(dash.page("/")[0]) == ["e-1", "e-2"]


@pytest.mark.parametrize("query_string, message", [
    ("offset=abc", "offset must be a whole number"),
    ("offset=-1", "offset must be from 0"),
    ("limit=0", "limit must be from 1 to 500"),
    ("limit=501", "limit must be from 1 to 500"),
    ("orders_offset=1.5", "orders_offset must be a whole number"),
    ("q=" + "x" * 201, "q is longer than 200 characters"),
])
def test_a_bad_query_is_a_400_page_that_says_why(dash, query_string, message):
    doc, _ = dash.page(f"/?{query_string}", status=400)
    assert message in doc.find("main").text
    assert doc.find("a", href="/") is not None


# ---------------------------------------------------------------- the flow page


def test_flow_page_marks_the_line_it_waits_on_and_shows_its_locals(dash):
    dash.loan_waiting_for_approval("l-1", who="ann", amount=5000, score=700)
    doc, _ = dash.page("/flows/l-1")
    assert "suspended" in doc.find("h1").text and "l-1" in doc.find("h1").text
    mark = doc.find("mark", id="wait-line")
    assert "(request/timeout 'approve (list who amount) 3600)" in mark.text and "waits here" in mark.text
    source = doc.find("pre", class_="source")
    lines = source.find_all("span", class_=lambda c: c.startswith("line")) + [mark]
    numbers = sorted(int(x.find("span", class_="ln").text) for x in lines)
    assert numbers == list(range(numbers[0], numbers[-1] + 1))  # a contiguous window around it
    wait_no = int(mark.find("span", class_="ln").text)
    assert FLOWS_SCM.splitlines()[wait_no - 1].strip() in mark.text
    assert f"waiting at line {wait_no}" in doc.by_id("source").text
    local_rows = {r[0]: r[1] for r in rows(doc, "locals")}
    assert local_rows == {"who": '"ann"', "amount": "5000", "score": "700"}
    assert doc.by_id("locals").find("caption") is not None
    facts = doc.by_id("facts").text
    assert '(approve ("ann" 5000))' in facts and "l-1:2" in facts and "loan" in facts
    timer = doc.by_id("timer").text
    assert "Deadline of the request it waits on" in timer and "2027-01-15 09:00:00Z" in timer and "(in 60 min)" in timer
    entries = doc.by_id("journal").find_all("li", class_="entry")
    assert len(entries) == 1
    assert '(credit "ann")' in entries[0].text and "700" in entries[0].text and "l-1:1" in entries[0].text
    when = entries[0].find("p", class_="when").text
    assert "asked 2027-01-15 08:00:00Z" in when and "answered 2027-01-15 08:00:00Z" in when
    assert [t.attrs["datetime"] for t in entries[0].find_all("time")] == ["2027-01-15T08:00:00.000Z"] * 2
    assert "Waiting since 2027-01-15 08:00:00Z" in facts
    assert "hidden" in doc.by_id("action-forms").attrs  # shown by live.js: they need it for the header
    assert "curl -X POST http://testserver/flows/l-1/resume" in doc.by_id("actions").find("noscript").text
    forms = doc.by_id("actions").find_all("form")
    assert [f.attrs["action"] for f in forms] == ["/flows/l-1/resume", "/flows/l-1/cancel"]
    assert forms[0].find("input", name="key").attrs["value"] == "l-1:2"
    assert all(f.find("input", type="password", name="token") is not None for f in forms)


def test_flow_page_timeline_shows_request_and_answer_times_and_the_wait(dash):
    s = dash.service
    s.start_flow("loan", "l-1", ["ann", 5000])              # asks for credit at NOW
    dash.clock.advance(75)
    s.resume_flow("l-1", "l-1:1", 700)                      # answered 75 s later; asks for approval
    dash.clock.advance(3 * 3600 + 125)                      # (past its deadline, not yet fired)
    dash.service.rt.fire_due()                              # the timeout answers it
    doc, _ = dash.page("/flows/l-1")
    entries = doc.by_id("journal").find_all("li", class_="entry")
    assert len(entries) == 2
    first, second = (e.find("p", class_="when").text for e in entries)
    assert "asked 2027-01-15 08:00:00Z" in first and "answered 2027-01-15 08:01:15Z" in first
    assert "(waited 75 s)" in first
    assert "asked 2027-01-15 08:01:15Z" in second and "answered 2027-01-15 11:03:20Z" in second
    assert "(waited 3 h 2 min)" in second
    assert "Waiting since" not in doc.by_id("facts").text  # it is done: it waits on nothing


def test_a_journal_written_before_times_were_kept_says_so(dash):
    """Entries without times (an older store): the page says the time was not
    recorded; an order flow's old entries take their answer time from the ledger
    record under their key, and only those."""
    import msgpack

    s = dash.service
    s.start_flow("echo", "e-1", ["x"])
    s.resume_flow("e-1", "e-1:1", "y")
    s.begin_order("o-1", [["tea", 1]])
    store = s.rt.store
    old = {}
    for flow_id in store.ids():
        stored = store.get(flow_id)
        entries = []
        for blob in stored.journal:
            m = msgpack.unpackb(blob, raw=False)
            assert "asked" in m and "at" in m  # (what is taken away here is there to begin with)
            entries.append(msgpack.packb({k: v for k, v in m.items() if k not in ("asked", "at")}))
        old[flow_id] = type(stored)(stored.snapshot, entries)
    store.replace_all(old)
    d = s.flow_detail("e-1")
    assert [(j["asked"], j["answered"], j["waited"]) for j in d["journal"]] == [(None, None, None)]
    doc, _ = dash.page("/flows/e-1")
    when = doc.by_id("journal").find("li", class_="entry").find("p", class_="when").text
    assert when.count("time not recorded") == 2 and "waited" not in when
    reserve = s.flow_detail("o-1")["journal"][0]
    created = s.shop.ledger.get("o-1:1").time
    assert reserve["asked"] is None and reserve["answered"] == iso_time(created) and reserve["waited"] is None


def test_flow_page_after_the_deadline_passes_and_of_a_finished_flow(dash):
    dash.loan_waiting_for_approval("l-1")
    dash.clock.advance(3600)
    dash.service.rt.fire_due()
    doc, _ = dash.page("/flows/l-1")
    assert "done" in doc.find("h1").text
    assert "expired" in doc.by_id("facts").text
    assert doc.find("mark") is None and doc.by_id("actions").find("form") is None
    assert "nothing to resume or cancel" in doc.by_id("actions").text
    entries = doc.by_id("journal").find_all("li", class_="entry")
    assert len(entries) == 2 and "approve" in entries[1].text


def test_an_order_flow_page_links_its_order_and_its_journal_is_readable(dash):
    dash.service.begin_order("o-1", [["tea", 2]])
    doc, _ = dash.page("/flows/o-1")
    assert doc.by_id("facts").find("a", href="/orders/o-1") is not None
    assert doc.by_id("actions").find("form") is None  # orders move by webhook / order cancel
    assert doc.by_id("actions").find("a", href="/orders/o-1") is not None
    entry = doc.by_id("journal").find("li", class_="entry")
    assert "#<hash-table>" not in entry.text and '"record": "reserved"' in entry.text
    assert len(entry.find_all("time")) == 2  # asked and answered, from the journal


def test_an_order_flow_page_marks_the_request_inside_ask_with_its_payment_window(dash):
    """shop-order waits for the payment at the request/timeout inside `ask`
    (schemes/order.scm line 32), its deadline the payment window."""
    dash.service.begin_order("o-1", [["tea", 2]])
    doc, _ = dash.page("/flows/o-1")
    mark = doc.find("mark", id="wait-line")
    assert int(mark.find("span", class_="ln").text) == 32
    assert "(request/timeout kind oid (car seconds))" in mark.text
    assert "waiting at line 32" in doc.by_id("source").text
    assert "schemes/order.scm:32:" in doc.by_id("facts").text
    timer = doc.by_id("timer").text
    assert "Deadline of the request it waits on" in timer and "2027-01-15 08:30:00Z" in timer
    assert "(in 30 min)" in timer
    assert "Waiting since 2027-01-15 08:00:00Z" in doc.by_id("facts").text


@pytest.mark.parametrize("action, fields", [
    ("resume", {"answer": "1", "key": "l-1:2"}),
    ("cancel", {}),
])
def test_a_form_posted_without_javascript_is_a_clear_401_and_changes_nothing(dash, action, fields):
    """The resume / cancel forms are sent by live.js with an Authorization header; a
    plain form submission (JavaScript off, the form shown anyway) cannot carry it:
    a 401 JSON error that says so, even with the right token in the form's body,
    and nothing changes."""
    dash.loan_waiting_for_approval("l-1")
    seq = dash.service.feed.seq
    doc, _ = dash.page("/flows/l-1")
    form = doc.by_id("actions").find("form", data_action=action)
    assert form.attrs["method"] == "post" and form.attrs["action"] == f"/flows/l-1/{action}"
    for body in ({**fields, "token": "wrong"}, {**fields, "token": ADMIN_TOKEN}):
        for send in ({"data": body}, {"files": {"token": (None, body["token"])}}):
            r = dash.client.post(form.attrs["action"], headers={"Accept": "text/html"}, **send)
            assert r.status_code == 401, r.text
            assert r.headers["content-type"].startswith("application/json")
            error = r.json()["error"]
            assert "Authorization: Bearer" in error and "an HTML form cannot send it" in error
            assert "curl" in error
    assert dash.service.feed.seq == seq
    assert dash.service.flow_detail("l-1")["waiting"]["key"] == "l-1:2"


def test_a_sleeping_flow_shows_its_timer_and_can_only_be_cancelled(dash):
    dash.service.start_flow("nap", "n-1", [90])
    doc, _ = dash.page("/flows/n-1")
    assert "sleeping" in doc.find("h1").text
    timer = doc.by_id("timer").text
    assert "Sleeps until" in timer and "2027-01-15 08:01:30Z" in timer and "(in 90 s)" in timer
    forms = doc.by_id("actions").find_all("form")
    assert [f.attrs["data-action"] for f in forms] == ["cancel"]  # no request key to answer


def test_a_retry_pending_shows_its_attempts_and_last_failure():
    from serve.pages.flow_page import flow_page

    doc = parse(flow_page({
        "id": "r-1", "name": "charge", "status": "suspended", "step": 1, "args": [], "order": False,
        "waiting": {"kind": "charge", "key": "r-1:1", "payload_text": "(charge 5)"},
        "timer": {"kind": "retry", "wake": NOW + 30, "due_in": -4},
        "retries": {"attempts": 2, "last_error": "gateway <timeout>", "next_at": NOW + 30},
        "journal": [], "locals": [], "called_from": [], "in": "procedure <&>",
        "position": {"file": "a&b.scm", "line": 3, "column": 1},
    }))
    assert "a&b.scm:3:1 in procedure <&>" in doc.by_id("facts").text  # escaped once, read as written
    timer = doc.by_id("timer").text
    assert "Retry 3 of its request at" in timer and "2027-01-15 08:00:30Z (4 s overdue)" in timer
    assert "Failed handler attempts 2" in timer and "gateway <timeout>" in timer
    assert "Its source is not available." in doc.by_id("source").text


# ---------------------------------------------------------------- the order page


def test_order_page_shows_cart_total_ledger_stock_and_flow(dash):
    s = dash.service
    s.begin_order("o-1", [["tea", 2], ["mug", 1]])
    doc, _ = dash.page("/orders/o-1")
    assert doc.by_id("order-status").attrs["data-status"] == "awaiting-payment"
    assert rows(doc, "cart") == [["tea", "2", "4.50", "9.00"], ["mug", "1", "12.00", "12.00"]]
    assert doc.by_id("cart").find("tfoot").text == "Total 21.00"
    assert [r[1] for r in rows(doc, "records")] == ["created", "reserved"]
    assert sorted((r[1], r[2]) for r in rows(doc, "stock")) == [("mug", "-1"), ("tea", "-2")]
    flow = doc.by_id("flow")
    assert flow.find("a", href="/flows/o-1") is not None
    assert "payment" in flow.text and "o-1:2" in flow.text and "Payment deadline" in flow.text
    assert "Waiting since 2027-01-15 08:00:00Z" in flow.text
    assert flow.find("time", datetime="2027-01-15T08:00:00.000Z") is not None
    s.settle_payment("o-1", "pay-9", 2100)
    doc, _ = dash.page("/orders/o-1")
    assert doc.by_id("order-status").attrs["data-status"] == "fulfilled"
    records = rows(doc, "records")
    assert [r[1] for r in records] == ["created", "reserved", "paid", "fulfilled"]
    paid = records[2]
    assert paid[2] == "o-1:2" and paid[3] == "21.00" and '"pay-9"' in paid[5]
    assert "fulfilled" in doc.by_id("flow").text and "Waiting since" not in doc.by_id("flow").text


def test_a_cancelled_order_shows_its_stock_given_back(dash):
    dash.service.begin_order("o-1", [["tea", 3]])
    dash.service.cancel_order("o-1")
    doc, _ = dash.page("/orders/o-1")
    assert doc.by_id("order-status").attrs["data-status"] == "cancelled"
    assert [(r[0], r[2]) for r in rows(doc, "stock")] == [("reserved", "-3"), ("released", "+3")]


# ---------------------------------------------------------------- 404, escaping, accessibility


@pytest.mark.parametrize("path, what", [("/flows/nope", "flow"), ("/orders/nope", "order")])
def test_an_unknown_id_is_a_404_page(dash, path, what):
    doc, _ = dash.page(path, status=404)
    assert doc.find("h1").text == "Not found"
    assert f"There is no {what} with the id nope." in doc.find("main").text
    assert doc.find("a", href="/") is not None


EVIL = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def test_every_value_is_escaped(dash):
    """An id and a payload holding markup come out as text on every page."""
    s = dash.service
    evil_id = 'o-<script>alert(1)<\\script><img src=x onerror=alert(2)>"'  # ids may not hold '/'
    s.begin_order(evil_id, [["tea", 1]])
    s.start_flow("echo", "e-<b>1", [EVIL])
    s.start_flow("loan", "l-1", [EVIL, 1])
    s.resume_flow("l-1", "l-1:1", 700)
    paths = ["/", "/?q=" + quote(EVIL), "/?status=" + quote(EVIL), "/?name=" + quote(EVIL), "/flows/l-1",
             "/flows/" + quote("e-<b>1", safe=""), "/flows/" + quote(evil_id, safe=""),
             "/orders/" + quote(evil_id, safe=""), "/flows/" + quote("nope<script>", safe=""),
             "/orders/" + quote("<img src=x onerror=alert(1)>", safe="")]
    for path in paths:
        r = dash.client.get(path)
        assert r.status_code in (200, 404), (path, r.status_code)
        body = r.text
        assert "<script>alert" not in body and "<img src=x" not in body and "<b>1" not in body, path
        doc = parse(body)
        assert [e.attrs.get("src") for e in doc.find_all("script")] == (
            ["/static/live.js"] if r.status_code == 200 else []), path
        assert doc.find("img") is None and doc.find("b") is None, path
    doc, body = dash.page("/")
    assert evil_id in doc.by_id("orders-region").text  # shown as the text it is
    assert "&lt;script&gt;alert(1)" in body
    doc, _ = dash.page("/flows/l-1")
    assert {r[0]: r[1] for r in rows(doc, "locals")}["who"] == json.dumps(EVIL)
    assert doc.find("mark", id="wait-line") is not None
    doc, _ = dash.page("/flows/" + quote(evil_id, safe=""))
    assert evil_id in doc.find("h1").text
    assert doc.by_id("facts").find("a").attrs["href"] == "/orders/" + quote(evil_id, safe="")


def test_every_form_field_has_a_label_and_tables_have_headers(dash):
    dash.loan_waiting_for_approval("l-1")
    dash.service.begin_order("o-1", [["tea", 1]])
    for path in ("/", "/flows/l-1", "/orders/o-1"):
        doc, _ = dash.page(path)
        labels = {lab.attrs.get("for") for lab in doc.find_all("label")}
        fields = [e for e in doc.iter() if e.tag in ("input", "select", "textarea")
                  and e.attrs.get("type") != "hidden"]
        assert fields or path == "/orders/o-1"
        for f in fields:
            assert f.attrs.get("id") in labels, (path, f)
        ids = [e.attrs["id"] for e in doc.iter() if "id" in e.attrs]
        assert len(ids) == len(set(ids)), (path, "duplicate ids")
        for table in doc.find_all("table"):
            assert table.find("thead") is not None and table.find("th", scope="col") is not None, path
        assert doc.find("html").attrs.get("lang") == "en" and doc.find("title").text
        assert len(doc.find_all("h1")) == 1 and doc.find("main", id="main") is not None


# ---------------------------------------------------------------- static files


def test_static_files_and_nothing_else(dash):
    css = dash.client.get("/static/dashboard.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    js = dash.client.get("/static/live.js")
    assert js.status_code == 200 and js.headers["content-type"].startswith("text/javascript")
    assert "EventSource" in js.text
    for bad in ("/static/nope.css", "/static/live.py", "/static/..%2Fdashboard.py", "/static/%2e%2e%2fapp.py"):
        assert dash.client.get(bad).status_code == 404, bad


def test_the_pages_say_where_their_data_stands_in_the_change_feed(dash):
    doc, _ = dash.page("/")
    before = int(doc.find("body").attrs["data-seq"])
    dash.service.begin_order("o-1", [["tea", 1]])
    doc, _ = dash.page("/orders/o-1")
    assert int(doc.find("body").attrs["data-seq"]) == before + 1
    assert doc.find("body").attrs["data-events"] == "/events"
    assert doc.find("body").attrs["data-watch"] == "o-1"  # its live refresh follows that id's changes only
    assert "data-watch" not in dash.page("/")[0].find("body").attrs  # the overview: every change
    assert dash.page("/flows/o-1")[0].find("body").attrs["data-watch"] == "o-1"
    assert "data-events" not in dash.page("/flows/nope", status=404)[0].find("body").attrs


# ---------------------------------------------------------------- markup


def test_markup_escapes_everything_but_html():
    assert h("<a href='x'>&") == "&lt;a href=&#x27;x&#x27;&gt;&amp;"
    assert h(Html("<br>")) == "<br>" and h(None) == "" and h(3) == "3"
    joined = Html("<p>") + "<i>" + Html("</p>")
    assert isinstance(joined, Html) and joined == "<p>&lt;i&gt;</p>"
    assert "<b>" + Html("<i>") == "&lt;b&gt;<i>"
    assert tag("td", "<x>", class_='a"b') == '<td class="a&quot;b">&lt;x&gt;</td>'
    assert tag("input", name="n", required=True, value=None) == '<input name="n" required>'
    assert attrs(aria_label="x", data_live=True, hidden=False) == ' aria-label="x" data-live'
    assert query(a=None, b="", c="x y", d=0) == "?c=x+y&d=0"
    assert query() == ""


# ---------------------------------------------------------------- server-sent events


class FeedOnly:
    def __init__(self):
        self.feed = ChangeFeed()


async def _collect(gen, n):
    out = []
    async for chunk in gen:
        out.append(chunk)
        if len(out) == n:
            break
    return out


def _events(chunks):
    """[(event name, data dict, id)] of the SSE messages in chunks (comments left out)."""
    out = []
    for chunk in chunks:
        fields = {}
        for line in chunk.splitlines():
            if line and not line.startswith(":"):
                k, _, v = line.partition(": ")
                fields[k] = v
        if "event" in fields:
            out.append((fields["event"], json.loads(fields["data"]), fields.get("id")))
    return out


def test_event_stream_says_hello_then_each_change_then_ends_with_the_feed():
    async def run():
        svc = FeedOnly()
        svc.feed.publish({"type": "order", "id": "before"})  # before subscribing: only counted
        gen = event_stream(svc, keepalive=30)
        hello = await gen.__anext__()
        svc.feed.publish({"type": "order", "id": "o-1", "status": "settled"})
        svc.feed.publish({"type": "flow", "id": "f-<1>", "state": "done"})
        changes = [await gen.__anext__(), await gen.__anext__()]
        svc.feed.close()
        rest = [c async for c in gen]
        await asyncio.sleep(0.01)
        return hello, changes, rest, svc.feed.subscribers()

    hello, changes, rest, subscribers = run_apart(run())
    assert _events([hello]) == [("hello", {"seq": 1}, "1")]
    assert "retry: 2000" in hello
    got = _events(changes)
    assert [(e, d["id"], d["seq"], i) for e, d, i in got] == [("change", "o-1", 2, "2"), ("change", "f-<1>", 3, "3")]
    assert rest == [] and subscribers == 0


def test_event_stream_keeps_alive_ends_after_its_age_and_collapses_a_backlog():
    async def quiet():
        svc = FeedOnly()
        chunks = [c async for c in event_stream(svc, keepalive=0.05, max_age=0.3)]
        await asyncio.sleep(0.01)  # (the subscription's task ends at the loop's next turn)
        return chunks, svc.feed.subscribers()

    chunks, subscribers = run_apart(quiet())
    assert chunks[0].startswith("retry:") and ": keep-alive\n\n" in chunks[1:] and subscribers == 0

    async def flooded():
        svc = FeedOnly()
        gen = event_stream(svc, backlog=5)
        await gen.__anext__()
        for i in range(12):  # published faster than the client reads
            svc.feed.publish({"type": "order", "id": f"o-{i}"})
        await asyncio.sleep(0.05)
        chunks = await _collect(gen, 2)
        await gen.aclose()
        await asyncio.sleep(0.01)
        return chunks, svc.feed.subscribers()

    chunks, subscribers = run_apart(flooded())
    got = _events(chunks)
    assert got[0][1]["type"] == "resync" and got[0][1]["seq"] == 11 and got[1][1]["id"] == "o-11"
    assert subscribers == 0


def test_an_sse_message_is_one_event_whatever_the_data_holds():
    msg = sse_message({"type": "order", "id": "a\nb\r\nc", "seq": 7})
    assert msg.count("\n\n") == 1 and msg.endswith("\n\n")
    assert _events([msg]) == [("change", {"type": "order", "id": "a\nb\r\nc", "seq": 7}, "7")]


def test_events_over_http_carry_a_change_as_it_happens(server):
    with httpx.Client(base_url=server.url, timeout=30) as client:
        with client.stream("GET", "/events") as r:
            assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
            lines = r.iter_lines()
            hello = [next(lines) for _ in range(4)]
            assert hello[2] == "event: hello"
            seq = json.loads(hello[3][len("data: "):])["seq"]
            server.begin("sse-1")
            got = None
            for line in lines:
                if line.startswith("data: ") and '"sse-1"' in line:
                    got = json.loads(line[len("data: "):])
                    break
    assert got["type"] == "order" and got["status"] == "awaiting-payment" and got["seq"] > seq
