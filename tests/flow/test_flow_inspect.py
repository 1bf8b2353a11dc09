"""flow.inspect.describe: where a suspended flow waits (file:line:col of the
call it stopped at), for each way a flow can suspend."""

from commerce import Shop
from flow import FlowRuntime
from flow.inspect import describe

HELPERS = """
(defflow plain (lambda (x) (request 'approve x)))
(define (ask kind x . seconds)      ; the kind is a variable here, not a quoted symbol
  (if (pair? seconds)
      (request/timeout kind x (car seconds))
      (request kind x)))
(defflow via-helper (lambda (x timed) (if timed (ask 'approve x 60) (ask 'approve x))))
(defflow napping (lambda () (sleep 30) 'rested))
"""


def where(rt, flow_id):
    return describe(rt, flow_id)["where"].rsplit("/", 1)[-1]


def runtime():
    rt = FlowRuntime()
    rt.load(HELPERS, filename="helpers.scm")
    return rt


def test_a_direct_request():
    rt = runtime()
    rt.start("plain", 1, flow_id="p")
    assert where(rt, "p") == "helpers.scm:2:28"


def test_a_request_through_a_helper_whose_kind_is_a_variable_with_and_without_a_deadline():
    rt = runtime()
    rt.start("via-helper", 1, True, flow_id="timed")
    rt.start("via-helper", 1, False, flow_id="untimed")
    assert where(rt, "timed") == "helpers.scm:5:7"
    assert where(rt, "untimed") == "helpers.scm:6:7"
    assert describe(rt, "timed")["in"] == "ask"


def test_a_sleep():
    rt = runtime()
    rt.start("napping", flow_id="n")
    assert where(rt, "n") == "helpers.scm:8:29"


def test_an_order_waits_at_the_payment_request_of_its_own_flow(tmp_path):
    with Shop(str(tmp_path / "shop")) as shop:  # with a payment deadline: request/timeout in `ask`
        shop.begin("o-1", [("tea", 2)])
        info = describe(shop.flows, "o-1")
        line = open(info["where"].split(":")[0]).read().splitlines()[int(info["where"].split(":")[1]) - 1]
        assert "(request/timeout kind oid" in line and info["in"] == "ask"
    with Shop(str(tmp_path / "no-deadline"), payment_window=None) as shop:
        shop.begin("o-2", [("tea", 2)])
        info = describe(shop.flows, "o-2")
        line = open(info["where"].split(":")[0]).read().splitlines()[int(info["where"].split(":")[1]) - 1]
        assert "(request kind oid)" in line


def test_the_journal_keeps_when_each_request_was_made_and_answered(tmp_path):
    from flow import ManualClock

    clock = ManualClock(1000.0)
    rt = FlowRuntime(store=str(tmp_path / "s"), clock=clock)
    rt.load("(defflow two (lambda () (list (request 'a 1) (request 'b 2))))", filename="two.scm")
    rt.start("two", flow_id="t")
    clock.advance(5)
    rt.resume("t", "x")
    clock.advance(7)
    rt.resume("t", "y")
    again = FlowRuntime(store=str(tmp_path / "s"), clock=clock)  # as stored
    again.load("(defflow two (lambda () (list (request 'a 1) (request 'b 2))))", filename="two.scm")
    assert [(e.asked, e.at) for e in again.journal("t")] == [(1000.0, 1005.0), (1005.0, 1012.0)]
    journal = describe(again, "t")["journal"]
    assert [(j["asked"], j["answered"]) for j in journal] == [(1000.0, 1005.0), (1005.0, 1012.0)]


def test_a_suspended_flow_knows_since_when_it_waits(tmp_path):
    from flow import ManualClock

    clock = ManualClock(50.0)
    rt = FlowRuntime(store=str(tmp_path / "s"), clock=clock)
    rt.load("(defflow one (lambda () (request 'a 1)))", filename="one.scm")
    rt.start("one", flow_id="o")
    assert FlowRuntime(store=str(tmp_path / "s"), clock=clock).flow("o", data=False).since == 50.0
