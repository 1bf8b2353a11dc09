"""The dashboard in a real browser (Debian's chromium under Playwright) against a
real `flowscheme serve`: filtering flows, a flow's page with its waiting line
and locals, resuming a flow with the admin token, an order changing state live
when its payment webhook arrives (server-sent events, no reload), and the
pages without JavaScript. Each test saves a screenshot to tests/serve/artifacts/."""

import json
import re

from browser import chromium, page, shot  # noqa: F401  (fixtures)
from conftest import ADMIN_TOKEN

HIGHLIGHT = "rgb(255, 241, 168)"  # --mark in dashboard.css: the waiting line's background


# Every element with text of its own: its colour against the first opaque background
# behind it (WCAG relative luminance); those under 4.5:1 are returned.
CONTRAST_JS = """() => {
  const lum = (c) => {
    const [r, g, b] = c.map(v => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const rgba = (s) => (s.match(/[\\d.]+/g) || []).map(Number);
  const background = (e) => {
    for (; e; e = e.parentElement) {
      const c = rgba(getComputedStyle(e).backgroundColor);
      if (c.length === 3 || (c.length === 4 && c[3] === 1)) return c.slice(0, 3);
    }
    return [255, 255, 255];
  };
  const bad = [];
  for (const e of document.body.querySelectorAll("*")) {
    const own = [...e.childNodes].some(n => n.nodeType === 3 && n.textContent.trim());
    if (!own || !e.getClientRects().length || getComputedStyle(e).visibility === "hidden") continue;
    const fg = rgba(getComputedStyle(e).color).slice(0, 3), bg = background(e);
    const [hi, lo] = [lum(fg), lum(bg)].sort((a, b) => b - a);
    const ratio = (hi + 0.05) / (lo + 0.05);
    if (ratio < 4.5) bad.push(`${e.tagName.toLowerCase()}.${e.className} "${e.textContent.trim().slice(0, 30)}" ${ratio.toFixed(2)}`);
  }
  return bad;
}"""


def start_flow(server, name, flow_id, args):
    r = server.post(f"/flows/{name}", json={"id": flow_id, "args": args}, headers=server.admin)
    assert r.status_code in (200, 201), r.text
    return r.json()


def resume(server, flow_id, key, value):
    r = server.post(f"/flows/{flow_id}/resume", json={"key": key, "value": value}, headers=server.admin)
    assert r.status_code == 200, r.text
    return r.json()


def live(tab):
    """Wait until the page listens to /events."""
    tab.wait_for_selector('body[data-live-state="live"]')


def table_ids(tab, region):
    return tab.locator(f"#{region} tbody tr th[scope=row]").all_inner_texts()


def test_overview_filters_flows(page, server):
    start_flow(server, "loan", "flt-loan-1", ["ann", 100])
    start_flow(server, "echo", "flt-echo-1", ["a"])
    start_flow(server, "echo", "flt-echo-2", ["b"])
    resume(server, "flt-echo-2", "flt-echo-2:1", "done")
    page.goto(server.url + "/")
    live(page)
    assert {"flt-loan-1", "flt-echo-1", "flt-echo-2"} <= set(table_ids(page, "flows-region"))
    page.get_by_label("Search by id").fill("flt-")
    page.get_by_label("Flow name").select_option("echo")
    page.get_by_role("button", name="Apply").first.click()
    page.wait_for_url(re.compile(r"name=echo"))
    assert table_ids(page, "flows-region") == ["flt-echo-1", "flt-echo-2"]
    page.get_by_label("Status", exact=True).select_option("suspended")
    page.get_by_role("button", name="Apply").first.click()
    page.wait_for_url(re.compile(r"status=suspended"))
    assert table_ids(page, "flows-region") == ["flt-echo-1"]
    assert page.get_by_label("Search by id").input_value() == "flt-"
    assert "Flows 1–1 of 1" in page.locator("#flows-region .pager").inner_text()
    assert page.evaluate(CONTRAST_JS) == []
    shot(page, "overview-filtered")
    page.get_by_role("link", name="flt-echo-1").click()
    page.wait_for_url(re.compile(r"/flows/flt-echo-1$"))
    assert "flt-echo-1" in page.locator("h1").inner_text()
    assert page.problems == []


def test_flow_page_highlights_the_waiting_line_and_shows_locals(page, server):
    start_flow(server, "loan", "fp-loan-1", ["ann", 5000])
    resume(server, "fp-loan-1", "fp-loan-1:1", 720)
    page.goto(server.url + "/flows/fp-loan-1")
    live(page)
    mark = page.locator("mark#wait-line")
    assert "(request/timeout 'approve (list who amount) 3600)" in mark.inner_text()
    assert mark.evaluate("e => getComputedStyle(e).backgroundColor") == HIGHLIGHT
    assert mark.is_visible()
    local_rows = page.locator("#locals tbody tr").all_inner_texts()
    assert dict(r.split("\t") for r in local_rows) == {"who": '"ann"', "amount": "5000", "score": "720"}
    assert "Deadline of the request it waits on" in page.locator("#timer").inner_text()
    journal = page.locator("#journal li.entry")
    assert journal.count() == 1 and '(credit "ann")' in journal.inner_text()
    assert page.evaluate(CONTRAST_JS) == []
    shot(page, "flow-page")
    assert page.problems == []


def test_an_order_flow_page_highlights_its_payment_request_and_journal_times(page, server):
    server.begin("fp-o-1", [("tea", 1)])
    page.goto(server.url + "/flows/fp-o-1")
    live(page)
    mark = page.locator("mark#wait-line")
    assert mark.locator(".ln").inner_text() == "32"
    assert "(request/timeout kind oid (car seconds))" in mark.inner_text()
    assert mark.evaluate("e => getComputedStyle(e).backgroundColor") == HIGHLIGHT and mark.is_visible()
    assert "Deadline of the request it waits on" in page.locator("#timer").inner_text()
    assert "Waiting since" in page.locator("#facts").inner_text()
    when = page.locator("#journal li.entry .when").first.inner_text()
    assert re.search(r"asked \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ · answered \d{4}-", when), when
    assert page.problems == []


def test_resume_a_flow_with_the_admin_token(page, server):
    start_flow(server, "loan", "rs-loan-1", ["bea", 900])
    resume(server, "rs-loan-1", "rs-loan-1:1", 650)
    page.goto(server.url + "/flows/rs-loan-1")
    live(page)
    page.evaluate("window.sameDocument = 'yes'")
    form = page.locator("form[data-action=resume]")
    form.get_by_label("Admin token").fill("not-the-token")
    form.get_by_label("Answer (JSON)").fill('"approved"')
    form.get_by_role("button", name="Resume").click()
    result = page.locator("#action-result")
    result.filter(has_text="Refused").wait_for()
    assert "HTTP 401" in result.inner_text() and "wrong admin token" in result.inner_text()
    page.problems.clear()  # (the browser logs the 401 it was meant to get)
    assert server.get("/flows/rs-loan-1").json()["status"] == "suspended"
    form.get_by_label("Answer (JSON)").fill("{not json")
    form.get_by_role("button", name="Resume").click()
    result.filter(has_text="not JSON").wait_for()
    form.get_by_label("Admin token").fill(ADMIN_TOKEN)
    form.get_by_label("Answer (JSON)").fill('"approved"')
    form.get_by_role("button", name="Resume").click()
    result.filter(has_text="Resumed").wait_for()
    assert "now done" in result.inner_text()
    # the page follows by itself (live refresh), not by a reload
    page.locator("#flow-status").filter(has_text="done").wait_for()
    page.locator("#journal li.entry").nth(1).wait_for()
    assert '"approved"' in page.locator("#journal li.entry").nth(1).inner_text()
    assert page.evaluate("window.sameDocument") == "yes"
    assert server.get("/flows/rs-loan-1").json()["result"] == '"approved"'
    shot(page, "flow-resumed")
    assert page.problems == []


def test_an_order_changes_state_live_when_its_webhook_arrives(page, server):
    server.begin("live-o-1", [("tea", 2)])
    page.goto(server.url + "/orders/live-o-1")
    live(page)
    assert page.locator("#order-status").get_attribute("data-status") == "awaiting-payment"
    page.evaluate("window.sameDocument = 'yes'")
    r = server.webhook({"order": "live-o-1", "payment_ref": "pay-live-1", "amount": 900})
    assert r.status_code == 200 and r.json()["outcome"] == "settled"
    page.wait_for_selector('#order-status[data-status="fulfilled"]')
    page.wait_for_selector('#records tr[data-kind="fulfilled"]')
    assert page.locator("#records tbody tr").count() == 4
    assert "paid" in page.locator("#records").inner_text()
    assert page.evaluate("window.sameDocument") == "yes"
    assert page.evaluate(CONTRAST_JS) == []
    shot(page, "order-live")
    # the overview, too: an order begun elsewhere appears without a reload
    page.goto(server.url + "/?order_status=awaiting-payment#orders")
    live(page)
    page.evaluate("window.sameDocument = 'overview'")
    server.begin("live-o-2", [("mug", 1)])
    page.locator("#orders-region a", has_text="live-o-2").wait_for()
    assert page.evaluate("window.sameDocument") == "overview"
    shot(page, "overview-live")
    assert page.problems == []


def test_the_pages_work_without_javascript(chromium, server):  # noqa: F811
    start_flow(server, "echo", "nojs-echo-1", ["<script>alert('x')</script>"])
    context = chromium.new_context(java_script_enabled=False, viewport={"width": 1280, "height": 900})
    try:
        tab = context.new_page()
        tab.goto(server.url + "/")
        tab.get_by_label("Search by id").fill("nojs-")
        tab.get_by_role("button", name="Apply").first.click()
        tab.wait_for_url(re.compile(r"q=nojs-"))
        assert tab.locator("#flows-region tbody th[scope=row]").all_inner_texts() == ["nojs-echo-1"]
        tab.get_by_role("link", name="nojs-echo-1").click()
        tab.wait_for_url(re.compile(r"/flows/nojs-echo-1$"))
        assert "(request 'echo x)" in tab.locator("mark#wait-line").inner_text()
        assert json.dumps("<script>alert('x')</script>") in tab.locator("#facts").inner_text()
        assert not tab.locator("#action-forms").is_visible()  # they need JavaScript to send the token...
        assert "curl -X POST" in tab.locator("#actions noscript").inner_text()  # ...so it says what to do
        shot(tab, "flow-no-javascript")
    finally:
        context.close()
