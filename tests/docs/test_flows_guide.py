"""docs/flows.md, "Writing your own flow", and the loan flow it is built on.

The guide: every Python snippet runs, in order, in one namespace, from a fresh
directory holding the repository's schemes/, and shows true results (the runner:
tests/docs/snippets.py); its `flowscheme flows ...` command lines run in their
place, against the same store, and succeed; the Scheme it shows is
schemes/examples/loan.scm as it is.

The loan flow: its whole lifecycle — approved by the manager, rejected by the
credit check, escalated to the director when the 48 h deadline passes, declined,
compensated when the credit check keeps failing — driven by a Worker and a
ManualClock, and across a restart of the durable store."""

import shlex

import pytest
from click.testing import CliRunner

from flow import Done, FlowRuntime, NotWaiting, SchemeObject, Suspended
from flow.clock import ManualClock
from flow.retry import RetryPolicy
from flow.worker import Worker
from snippets import ROOT, blocks, in_fresh_directory, run_snippet

GUIDE = ROOT / "docs" / "flows.md"
LOAN = ROOT / "schemes" / "examples" / "loan.scm"
T0 = 1_800_000_000.0
HOUR = 3600


# ------------------------------------------------------------------ the guide


def run_command(line):
    """Run a `flowscheme ...` line of the guide in-process; it must succeed."""
    from interp.cli import main

    r = CliRunner().invoke(main, shlex.split(line)[1:], catch_exceptions=False)
    assert r.exit_code == 0, f"docs/flows.md: {line!r} exited {r.exit_code}: {r.output}"
    assert "Traceback" not in r.output
    return r


def test_the_guide_has_snippets_and_commands():
    langs = [b.lang for b in blocks(GUIDE)]
    assert langs.count("python") >= 10 and langs.count("sh") >= 3 and "scheme" in langs


def test_every_snippet_and_command_of_the_guide_runs_and_shows_true_results(tmp_path):
    commands = 0
    with in_fresh_directory(tmp_path):
        namespace = {}
        for block in blocks(GUIDE, ("python", "sh")):
            if block.lang == "python":
                run_snippet(block.source, namespace, "docs/flows.md", block.line)
                continue
            for line in block.source.splitlines():
                if line.startswith("flowscheme flows "):
                    run_command(line)
                    commands += 1
    assert commands >= 3


def test_the_guide_shows_loan_scm_as_it_is():
    [scheme] = [b.source for b in blocks(GUIDE, ("scheme",))]
    assert scheme == LOAN.read_text(encoding="utf-8")


def test_the_guide_is_linked_from_the_readme():
    assert "(docs/flows.md)" in (ROOT / "README.md").read_text(encoding="utf-8")


def test_snippet_errors_name_the_document_and_its_line():
    with pytest.raises(AssertionError, match=r"guide.md line 12, 'x': shows 2, gives 1"):
        run_snippet("x = 1\nx   # 2\n", {}, "guide.md", 11)
    with pytest.raises(ZeroDivisionError) as e:
        run_snippet("y = 1\ny = 1 / 0\n", {}, "guide.md", 40)
    where = e.traceback[-1]
    assert (str(where.path), where.lineno + 1) == ("guide.md", 41)


# ------------------------------------------------------------------ the loan flow


class Bank:
    """The host's side: a credit bureau (that can be down) and the outbox of
    notices, keyed by request key."""

    def __init__(self, scores):
        self.scores = scores
        self.up = True
        self.checks = []
        self.outbox = {}

    def credit_check(self, req):
        self.checks.append(req.key)
        if not self.up:
            raise ConnectionError("credit bureau unreachable")
        applicant, _amount = req.payload
        return {"score": self.scores[applicant], "bureau": "acme"}

    def notify(self, req):
        self.outbox[req.key] = req.payload
        return True

    def handlers(self):
        return {"credit-check": self.credit_check, "notify": self.notify}


@pytest.fixture
def loans():
    clock = ManualClock(T0)
    rt = FlowRuntime(clock=clock, retry=RetryPolicy(max_attempts=3, initial=30, backoff=2, max_interval=600))
    rt.load_file(str(LOAN))
    bank = Bank({"ann": 720, "bob": 540, "cy": 680, "dee": 810})
    return rt, clock, bank, Worker(rt, handlers=bank.handlers())


def apply(rt, flow_id, applicant, amount):
    return rt.start("loan-application", {"applicant": applicant, "amount": amount}, flow_id=flow_id)


def test_approved_by_the_manager(loans):
    rt, clock, bank, worker = loans
    assert apply(rt, "l", "ann", 25000).kind == "credit-check"
    [t] = worker.run_once()
    assert t.what == "served credit-check"
    assert t.result == Suspended("l", "manager-approval", ["ann", 25000, 720], "l:2")
    assert worker.run_once() == []  # a person's request: the worker leaves it alone
    clock.advance(47 * HOUR)
    assert rt.resume("l", "approve", key="l:2") == Suspended("l", "notify", ["ann", ["approved", "manager", 25000],
                                                                            T0 + 47 * HOUR], "l:4")
    assert [t.what for t in worker.run_once()] == ["served notify"]
    assert rt.result("l") == Done("l", ["approved", "manager", 25000])
    assert bank.outbox == {"l:4": ["ann", ["approved", "manager", 25000], T0 + 47 * HOUR]}
    clock.advance(2 * HOUR)
    assert worker.run_once() == [] and rt.due() == []  # the deadline went with the answer
    kinds = [e.kind.name for e in rt.journal("l")]
    assert kinds == ["credit-check", "manager-approval", "%recorded", "notify"]


def test_declined_by_the_manager(loans):
    rt, clock, bank, worker = loans
    apply(rt, "l", "cy", 3000)
    worker.run_once()
    assert rt.resume("l", "reject", kind="manager-approval", serve=bank.handlers()) == \
        Done("l", ["rejected", "manager", "declined"])


def test_rejected_by_the_credit_check(loans):
    rt, clock, bank, worker = loans
    apply(rt, "l", "bob", 5000)
    [t] = worker.run_once()
    assert t.result == Done("l", ["rejected", "credit", "score 540 is below 600"])
    assert bank.checks == ["l:1"]
    assert list(bank.outbox) == ["l:3"]  # the notice went out, no approval was asked
    assert rt.due() == []


def test_escalated_to_the_director_after_the_deadline(loans):
    rt, clock, bank, worker = loans
    apply(rt, "l", "cy", 40000)
    worker.run_once()
    assert rt.flow("l", data=False).wake == T0 + 48 * HOUR
    clock.advance(48 * HOUR - 1)
    assert worker.run_once() == []
    clock.advance(1)
    [t] = worker.run_once()
    assert t.what == "fired"
    assert t.result == Suspended("l", "director-approval",
                                 ["cy", 40000, 680, "no answer from the manager in 48 h"], "l:3")
    assert rt.resume("l", "approve", key="l:2") == NotWaiting("l", "suspended", "director-approval")
    assert rt.resume("l", "approve", kind="manager-approval") == NotWaiting("l", "suspended", "director-approval")
    clock.advance(30 * 24 * HOUR)  # the director has no deadline
    assert worker.run_once() == []
    r = rt.resume("l", SchemeObject(rt.eval("'approve")), key="l:3", serve=bank.handlers())
    assert r == Done("l", ["approved", "director", 40000])
    assert bank.outbox["l:5"][1] == ["approved", "director", 40000]


def test_a_manager_answer_after_the_deadline_loses_even_before_the_worker_looks(loans):
    rt, clock, bank, worker = loans
    apply(rt, "l", "cy", 40000)
    worker.run_once()
    clock.advance(48 * HOUR + 5)
    assert rt.resume("l", "approve", key="l:2") == NotWaiting("l", "suspended", "director-approval")
    assert rt.result("l").kind == "director-approval"


def test_the_director_can_decline(loans):
    rt, clock, bank, worker = loans
    apply(rt, "l", "cy", 40000)
    worker.run_once()
    clock.advance(48 * HOUR)
    worker.run_once()
    assert rt.resume("l", "reject", serve=bank.handlers()).value == ["rejected", "director", "declined"]


def test_a_credit_check_that_keeps_failing_is_retried_then_compensated(loans):
    rt, clock, bank, worker = loans
    bank.up = False
    apply(rt, "l", "dee", 1000)
    waits = []
    for _ in range(2):
        worker.run_once()
        f = rt.flow("l", data=False)
        waits.append((f.attempts, f.wake - clock.now()))
        clock.advance(f.wake - clock.now())
    assert waits == [(1, 30), (2, 60)]
    [t] = worker.run_once()
    assert t.result == Done("l", ["rejected", "credit", "the credit check is unavailable"])
    assert bank.checks == ["l:1"] * 3  # every attempt under the same key
    assert [e.raised for e in rt.journal("l")] == [True, False, False]  # the condition, then clock, notify


def test_a_credit_check_that_recovers_carries_on(loans):
    rt, clock, bank, worker = loans
    bank.up = False
    apply(rt, "l", "ann", 1000)
    worker.run_once()
    bank.up = True
    clock.advance(30)
    [t] = worker.run_once()
    assert t.what == "fired" and t.result.kind == "manager-approval"


def test_the_lifecycle_survives_a_restart_and_takes_answers_from_the_command_line(tmp_path):
    store = str(tmp_path / "loans")
    clock = ManualClock(T0)
    bank = Bank({"cy": 680})

    def open_runtime():
        rt = FlowRuntime(store=store, clock=clock)
        rt.load_file(str(LOAN))
        return rt

    rt = open_runtime()
    apply(rt, "l", "cy", 40000)
    Worker(rt, handlers=bank.handlers()).run_once()
    rt.close()
    clock.advance(3 * 24 * HOUR)  # everything was down for three days
    again = open_runtime()
    assert [fid for _, fid in again.due()] == ["l"]
    [t] = Worker(again, handlers=bank.handlers()).run_once()
    assert t.result.kind == "director-approval"
    again.close()
    run_command(f"flowscheme flows resume l approve --key l:3 --store {store} --load {LOAN}")
    third = open_runtime()
    assert third.result("l").kind == "notify"
    Worker(third, handlers=bank.handlers()).run_once()
    assert third.result("l") == Done("l", ["approved", "director", 40000])
    assert list(bank.outbox) == ["l:5"]


def test_a_string_from_the_command_line_approves_too(tmp_path):
    store = str(tmp_path / "loans")
    rt = FlowRuntime(store=store)  # real time, as the command's: its deadline is 48 h from now
    rt.load_file(str(LOAN))
    rt.start("loan-application", {"applicant": "ann", "amount": 10}, flow_id="l",
             serve={"credit-check": lambda req: {"score": 700}})
    rt.close()
    run_command(f"flowscheme flows resume l '\"approve\"' --kind manager-approval --store {store} --load {LOAN}")
    again = FlowRuntime(store=store)
    again.load_file(str(LOAN))
    assert again.result("l").payload[1] == ["approved", "manager", 10]


def test_an_application_missing_a_field_fails_naming_it():
    rt = FlowRuntime(clock=ManualClock(T0))
    rt.load_file(str(LOAN))
    r = rt.start("loan-application", {"applicant": "ann"}, flow_id="l")
    assert r.error.message == 'loan-application: missing field "amount"'
    assert rt.status("l") == "failed"
    r = rt.start("loan-application", "ann", flow_id="m")
    assert r.error.message == 'loan-application: missing field "applicant"'
    r = rt.start("loan-application", {"applicant": "ann", "amount": 1}, flow_id="n",
                 serve={"credit-check": lambda req: {"rating": "AAA"}})
    assert r.error.message == 'loan-application: missing field "score"'
