"""FlowRuntime.start/resume(..., serve={kind: handler}): requests the host answers
in place. While the flow waits on a served kind, the handler is called with the
Suspended request, its return value (converted to Scheme) is the answer and goes
into the journal, and the flow runs on — all inside the call's one store commit.
A raising handler leaves the flow committed waiting on its request; a crash
before the commit re-runs from the last commit and asks again under the same key."""

import os
import subprocess
import sys
import textwrap
import zlib
from fractions import Fraction

import pytest

from flow import Done, Failed, FlowError, FlowRuntime, NondeterminismError, NotWaiting, Suspended, to_python

from flowhelp import ORDER, Effects, runtime, transfer

# the order flow, returning every answer so that the served ones can be checked
ORDER3 = """
(defflow order3 (lambda (oid)
  (effect 'begin)
  (let* ((r (request 'reserve oid))
         (p (request 'payment (list oid r)))
         (f (request 'fulfil oid)))
    (list 'v1 r p f))))
"""
# the same requests, another text (another code unit): a resume replays the journal
ORDER3_V2 = ORDER3.replace("(list 'v1 r p f)", "(list 'v2 r p f)")
# a diverging version: the reserve request carries another payload
ORDER3_DIVERGES = ORDER3.replace("(request 'reserve oid)", "(request 'reserve (list oid))")

# n requests in a named let, summing the answers, then one more the host answers
SUMMER = """
(defflow summer (lambda (n)
  (let loop ((i 0) (acc 0))
    (if (= i n)
        (list acc (request 'confirm acc))
        (loop (+ i 1) (+ acc (request 'add i)))))))
"""
CONVERT = """
(defflow convert (lambda (x)
  (let* ((t (request 'table (list x 'sym 1/2)))
         (l (request 'items x))
         (b (request 'blob x)))
    (list (hash-table-ref t "sku") (hash-table-ref t "qty") (hash-table? t)
          (length l) (cadr l) (caddr l) (list? (caddr l))
          (bytevector? b) (bytevector-u8-ref b 1)
          (request 'nothing x) t l))))
"""
CODE = (ORDER, ORDER3, SUMMER, CONVERT)


class Handler:
    """A serve handler: records each Suspended it is given, answers with answer(s)."""

    def __init__(self, answer=lambda s: f"{s.kind}-ok", raises=None):
        self.answer = answer
        self.raises = raises
        self.calls = []

    def __call__(self, s):
        self.calls.append(s)
        if self.raises is not None:
            raise self.raises
        return self.answer(s)

    @property
    def keys(self):
        return [s.key for s in self.calls]


class Crash(Exception):
    """Stands for the process dying before the store commit."""


class HandlerFailed(Exception):
    pass


def count_commits(rt):
    """Wrap rt.store.commit; returns the list the flow ids of its calls go into."""
    calls = []
    real = rt.store.commit

    def commit(flow_id, snapshot, new_entries=(), index=None, **how):
        calls.append(flow_id)
        return real(flow_id, snapshot, new_entries, index, **how)

    rt.store.commit = commit
    return calls


def crash_on_commit(rt):
    """Make rt's next commits raise before anything is written; returns the undo."""
    real = rt.store.commit

    def commit(flow_id, snapshot, new_entries=(), index=None, **how):
        raise Crash(flow_id)

    rt.store.commit = commit
    return lambda: setattr(rt.store, "commit", real)


def entries(rt, flow_id):
    """The journal as plain Python: [(kind, payload, key, answer)]."""
    return [(e.kind.name, to_python(e.payload), e.key, to_python(e.answer)) for e in rt.journal(flow_id)]


@pytest.fixture(params=["memory", "file", "postgres"])
def make(request, tmp_path):
    """make() -> a runtime with CODE loaded and an `effect` host procedure
    (make.effects), on a MemoryStore, a FileStore in tmp_path/flows or a PgStore on
    a fresh database; every make() of a durable-store test opens the same store (a
    restart)."""
    opened = []
    store = {"memory": None, "file": tmp_path / "flows"}.get(request.param)
    if request.param == "postgres":
        store = request.getfixturevalue("pg_url")

    def make(*sources):
        rt = FlowRuntime(store=store)
        make.effects = Effects()
        rt.interp.define("effect", make.effects)
        for s in sources or CODE:
            rt.load(s, "flows.scm")
        opened.append(rt)
        return rt

    make.durable = store is not None
    yield make
    for rt in opened:
        rt.close()


# ---------------------------------------------------------------- served in place


def test_start_serves_the_first_request_and_stops_at_the_next(make):
    """start answers 'reserve through its handler (given the right Suspended), journals the answer,
    stops at 'payment: one commit."""
    rt = make()
    commits = count_commits(rt)
    h = Handler(lambda s: {"hold": s.payload})
    r = rt.start("order3", "o-1", flow_id="o", serve={"reserve": h})
    assert r == Suspended("o", "payment", ["o-1", {"hold": "o-1"}], "o:2")
    assert h.calls == [Suspended("o", "reserve", "o-1", "o:1")]
    assert type(h.calls[0]) is Suspended
    assert entries(rt, "o") == [("reserve", "o-1", "o:1", {"hold": "o-1"})]
    assert commits == ["o"]
    assert rt.result("o") == r and rt.flow("o").step == 2


def test_resume_serves_the_requests_after_the_answer(make):
    """resume answers its request, then serves 'fulfil in place: Done, three journal entries in
    order, one commit per call."""
    rt = make()
    rt.start("order3", "o-1", flow_id="o")
    commits = count_commits(rt)
    h = Handler(lambda s: f"shipped {s.payload}")
    serve = {"fulfil": h, "payment": Handler(raises=AssertionError("payment is answered by resume"))}
    r = rt.resume("o", "R", kind="reserve", serve={"fulfil": h})
    assert r == Suspended("o", "payment", ["o-1", "R"], "o:2")  # payment is not served: it stops
    assert h.calls == [] and commits == ["o"]
    r = rt.resume("o", "P", kind="payment", serve={"fulfil": h})
    assert r == Done("o", ["v1", "R", "P", "shipped o-1"])
    assert h.calls == [Suspended("o", "fulfil", "o-1", "o:3")]
    assert entries(rt, "o") == [
        ("reserve", "o-1", "o:1", "R"),
        ("payment", ["o-1", "R"], "o:2", "P"),
        ("fulfil", "o-1", "o:3", "shipped o-1"),
    ]
    assert commits == ["o", "o"]
    assert rt.status("o") == "done" and rt.result("o") == r
    # finished: a resume is NotWaiting and asks no handler
    assert rt.resume("o", "again", serve=serve) == NotWaiting("o", "done", None)
    assert len(h.calls) == 1 and commits == ["o", "o"]


def test_the_whole_flow_served_in_one_start_is_one_commit(make):
    """Every request served: the flow finishes inside start, in one commit."""
    rt = make()
    commits = count_commits(rt)
    h = Handler(lambda s: s.kind.upper())
    r = rt.start("order-lifecycle", "x", flow_id="w", serve={"reserve": h, "payment": h, "fulfil": h})
    assert r == Done("w", "FULFIL")
    assert h.keys == ["w:1", "w:2", "w:3"]
    assert [e[0] for e in entries(rt, "w")] == ["reserve", "payment", "fulfil"]
    assert commits == ["w"]


@pytest.mark.parametrize("n", [1, 50])
def test_a_loop_of_served_requests_is_one_commit(make, n):
    """n requests in a loop, served in place: one commit, the right sum, n journal entries with
    sequential keys."""
    rt = make()
    commits = count_commits(rt)
    h = Handler(lambda s: s.payload * 2 + 1)
    r = rt.start("summer", n, flow_id="s", serve={"add": h})
    total = sum(i * 2 + 1 for i in range(n))
    assert r == Suspended("s", "confirm", total, f"s:{n + 1}")
    assert commits == ["s"]
    assert h.keys == [f"s:{i}" for i in range(1, n + 1)]
    assert [c.payload for c in h.calls] == list(range(n))
    journal = entries(rt, "s")
    assert len(journal) == n
    assert journal[-1] == ("add", n - 1, f"s:{n}", 2 * (n - 1) + 1)
    assert rt.resume("s", "yes", kind="confirm") == Done("s", [total, "yes"])
    assert commits == ["s", "s"] and len(rt.journal("s")) == n + 1


def test_a_flow_failing_on_a_served_answer_is_failed_with_its_journal(make):
    """A served answer the flow chokes on: Failed, the answer journaled, one commit."""
    rt = make("(defflow picky (lambda () (car (request 'pick 0))))")
    commits = count_commits(rt)
    r = rt.start("picky", flow_id="p", serve={"pick": Handler(lambda s: 5)})
    assert isinstance(r, Failed) and r.error.message == "car: expected a pair, got 5"
    assert rt.status("p") == "failed"
    assert entries(rt, "p") == [("pick", 0, "p:1", 5)]
    assert commits == ["p"]


# ---------------------------------------------------------------- a handler raising


def test_a_raising_handler_leaves_the_flow_waiting_on_its_request(make):
    """A raising handler: the exception propagates, the flow is committed waiting on its request
    with the earlier served answers (also seen after a restart), and resume carries it on."""
    rt = make()
    commits = count_commits(rt)
    ok = Handler(lambda s: "R")
    boom = Handler(raises=HandlerFailed("stock service down"))
    with pytest.raises(HandlerFailed, match="stock service down"):
        rt.start("order3", "o-1", flow_id="o", serve={"reserve": ok, "payment": boom})
    assert commits == ["o"]  # the one commit: the work before the failing request is kept
    assert boom.calls == [Suspended("o", "payment", ["o-1", "R"], "o:2")]
    assert rt.status("o") == "suspended"
    assert rt.result("o") == Suspended("o", "payment", ["o-1", "R"], "o:2")
    assert entries(rt, "o") == [("reserve", "o-1", "o:1", "R")]
    assert make.effects.seen == ["begin"]
    fx = make.effects
    if make.durable:  # a restart finds the same state, and can carry on
        again = make()
        fx = make.effects
        assert again.result("o") == Suspended("o", "payment", ["o-1", "R"], "o:2")
        assert entries(again, "o") == [("reserve", "o-1", "o:1", "R")]
        rt = again
    # answered as any request: by resume (with kind), and serve works again after it
    assert rt.resume("o", "P", kind="reserve") == NotWaiting("o", "suspended", "payment")
    f = Handler(lambda s: "F")
    assert rt.resume("o", "P", kind="payment", serve={"fulfil": f}) == Done("o", ["v1", "R", "P", "F"])
    assert f.keys == ["o:3"]
    assert [e[2:] for e in entries(rt, "o")] == [("o:1", "R"), ("o:2", "P"), ("o:3", "F")]
    assert fx.seen == ([] if make.durable else ["begin"])  # no replay: the continuation was saved


def test_a_handler_raising_on_the_first_request_still_creates_the_flow(make):
    """A handler raising at the first request of a start: the flow exists, waiting on it, with an
    empty journal; start again returns that state without asking."""
    rt = make()
    commits = count_commits(rt)
    with pytest.raises(HandlerFailed):
        rt.start("order-lifecycle", 1, flow_id="o", serve={"reserve": Handler(raises=HandlerFailed())})
    assert commits == ["o"]
    assert rt.ids() == ["o"] and rt.result("o") == Suspended("o", "reserve", 1, "o:1")
    assert rt.journal("o") == []
    # start with the same id returns that state: it does not ask the handler again
    h = Handler()
    assert rt.start("order-lifecycle", 1, flow_id="o", serve={"reserve": h}) == Suspended("o", "reserve", 1, "o:1")
    assert h.calls == [] and commits == ["o"]


def test_a_handler_raising_during_resume_keeps_the_resumed_answer(make):
    """A handler raising after a resume's answer: that answer is kept in the journal."""
    rt = make()
    rt.start("order3", "o-1", flow_id="o")
    commits = count_commits(rt)
    with pytest.raises(HandlerFailed):
        rt.resume("o", "R", kind="reserve", serve={"payment": Handler(raises=HandlerFailed())})
    assert commits == ["o"]
    assert rt.result("o") == Suspended("o", "payment", ["o-1", "R"], "o:2")
    assert entries(rt, "o") == [("reserve", "o-1", "o:1", "R")]


def test_an_unconvertible_answer_is_a_raising_handler(make):
    """A handler answer with no Scheme counterpart: TypeError, the flow waits on the request."""
    rt = make()
    with pytest.raises(TypeError, match="cannot pass a object"):
        rt.start("order3", "o-1", flow_id="o", serve={"reserve": Handler(lambda s: object())})
    assert rt.result("o") == Suspended("o", "reserve", "o-1", "o:1")
    assert rt.journal("o") == []


# ---------------------------------------------------------------- a crash before the commit


def test_a_crash_before_the_commit_of_a_start_stores_nothing_and_asks_again(make):
    """The commit of a start fails: no flow is stored; the next start asks the handler again under
    the same key."""
    rt = make()
    ledger = {}

    def reserve(s):  # idempotent by the request's key
        return ledger.setdefault(s.key, f"hold-{len(ledger)}")

    h = Handler(reserve)
    undo = crash_on_commit(rt)
    with pytest.raises(Crash):
        rt.start("order3", "o-1", flow_id="o", serve={"reserve": h})
    assert rt.ids() == []
    if make.durable:
        assert make().ids() == []
    undo()
    r = rt.start("order3", "o-1", flow_id="o", serve={"reserve": h})
    assert r == Suspended("o", "payment", ["o-1", "hold-0"], "o:2")
    assert h.keys == ["o:1", "o:1"]  # asked again, under the same key
    assert h.calls[0] == h.calls[1]
    assert ledger == {"o:1": "hold-0"}
    assert entries(rt, "o") == [("reserve", "o-1", "o:1", "hold-0")]


def test_a_crash_before_the_commit_of_a_resume_leaves_the_flow_as_it_was(make):
    """The commit of a resume fails: the flow is as before; the next resume asks the same requests
    under the same keys."""
    rt = make()
    rt.start("summer", 20, flow_id="s")  # waits on 'add 0
    before = rt.export_store()
    h = Handler(lambda s: s.payload)
    undo = crash_on_commit(rt)
    with pytest.raises(Crash):
        rt.resume("s", 100, kind="add", serve={"add": h})
    assert h.keys == [f"s:{i}" for i in range(2, 21)]
    assert rt.export_store() == before
    assert rt.result("s") == Suspended("s", "add", 0, "s:1") and rt.journal("s") == []
    if make.durable:
        assert make().result("s") == Suspended("s", "add", 0, "s:1")
    undo()
    first = list(h.calls)
    h.calls.clear()
    r = rt.resume("s", 100, kind="add", serve={"add": h})
    assert r == Suspended("s", "confirm", 100 + sum(range(1, 20)), "s:21")
    assert h.calls == first  # the same requests, under the same keys
    assert [e[2] for e in entries(rt, "s")] == [f"s:{i}" for i in range(1, 21)]


def test_a_process_killed_inside_a_handler_committed_nothing(store_location):
    """A real crash: the process exits (os._exit) in the middle of serving;
    the next process finds no flow and is asked the same keys again."""
    script = textwrap.dedent(f"""
        import os, sys
        from flow import FlowRuntime
        rt = FlowRuntime(store={store_location!r})
        rt.load({SUMMER!r}, "flows.scm")
        def add(s):
            print(s.key, flush=True)
            if s.payload == 3:
                os._exit(9)
            return s.payload
        rt.start("summer", 5, flow_id="s", serve={{"add": add}})
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 9, proc.stderr
    assert proc.stdout.split() == ["s:1", "s:2", "s:3", "s:4"]
    rt = runtime(SUMMER, store=store_location)
    assert rt.ids() == []
    h = Handler(lambda s: s.payload)
    assert rt.start("summer", 5, flow_id="s", serve={"add": h}) == Suspended("s", "confirm", 10, "s:6")
    assert h.keys == ["s:1", "s:2", "s:3", "s:4", "s:5"]
    rt.close()


# ---------------------------------------------------------------- values


def test_handler_answers_are_converted_to_scheme(make):
    """Handler answers cross by flow.convert (dict -> hash table, tuple -> list, bytes ->
    bytevector, None -> unspecified), payloads the other way."""
    rt = make()
    answers = {
        "table": {"sku": "A-1", "qty": 3},
        "items": (1, "two", [Fraction(1, 3), None, True]),
        "blob": b"\x00\x07",
        "nothing": None,
    }
    h = Handler(lambda s: answers[s.kind])
    r = rt.start("convert", "x", flow_id="c", serve={k: h for k in answers})
    assert r == Done("c", [
        "A-1", 3, True,
        3, "two", [Fraction(1, 3), None, True], True,
        True, 7,
        None, {"sku": "A-1", "qty": 3}, [1, "two", [Fraction(1, 3), None, True]],
    ])
    # payloads reach the handler as Python values (a symbol as str, 1/2 as a Fraction)
    assert h.calls[0] == Suspended("c", "table", ["x", "sym", Fraction(1, 2)], "c:1")
    assert [e[3] for e in entries(rt, "c")] == [
        {"sku": "A-1", "qty": 3}, [1, "two", [Fraction(1, 3), None, True]], b"\x00\x07", None]


# ---------------------------------------------------------------- re-entry


def test_a_handler_cannot_resume_or_start_its_own_flow(make):
    """start/resume of the flow being served, from its handler: FlowError 'is running'."""
    rt = make()
    errors = []

    def reenter(s):
        for call in (lambda: rt.resume(s.flow_id, "R"), lambda: rt.start("order3", "o-1", flow_id=s.flow_id)):
            with pytest.raises(FlowError, match="is running") as e:
                call()
            errors.append(str(e.value))
        return "R"

    r = rt.start("order3", "o-1", flow_id="o", serve={"reserve": reenter})
    assert r == Suspended("o", "payment", ["o-1", "R"], "o:2")
    assert len(errors) == 2 and all("'o'" in m for m in errors)
    assert entries(rt, "o") == [("reserve", "o-1", "o:1", "R")]
    # let through, the FlowError is a raising handler: the flow waits on its request
    with pytest.raises(FlowError, match="running"):
        rt.resume("o", "P", kind="payment", serve={"fulfil": lambda s: rt.resume("o", "F")})
    assert rt.result("o") == Suspended("o", "fulfil", "o-1", "o:3")
    assert rt.resume("o", "F", kind="fulfil") == Done("o", ["v1", "R", "P", "F"])


def test_a_handler_may_drive_another_flow(make):
    """A handler may start (and serve) another flow."""
    rt = make()

    def reserve(s):
        child = rt.start("order-lifecycle", s.payload, flow_id=f"{s.flow_id}-child",
                         serve={"reserve": lambda c: 1})
        return child.kind

    assert rt.start("order3", "o-1", flow_id="o", serve={"reserve": reserve}).kind == "payment"
    assert rt.result("o-child") == Suspended("o-child", "payment", "o-1", "o-child:2")
    assert entries(rt, "o") == [("reserve", "o-1", "o:1", "payment")]


@pytest.mark.file_only("probes the file store's lock file byte; see the test after it for every store")
def test_a_flow_stays_locked_against_other_processes_after_a_refused_reentry(tmp_path):
    """After a handler's refused resume of its own flow, the flow is still locked against other
    processes."""
    from flow.store import lock_byte

    rt = runtime(ORDER, store=tmp_path)
    bucket = lock_byte("o")
    probe = textwrap.dedent(f"""
        import fcntl
        f = open({os.path.join(str(tmp_path), "flows.lock")!r}, "a+b")
        try:
            fcntl.lockf(f, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, {bucket})
            print("acquired")
        except OSError:
            print("blocked")
    """)

    def other_process():
        """Can another process take the flow's lock right now? ("acquired" / "blocked")"""
        out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
        if out.returncode != 0 or out.stdout.strip() not in ("acquired", "blocked"):
            raise RuntimeError(f"probe failed: {out.stderr}")
        return out.stdout.strip()

    seen = []

    def reserve(s):
        seen.append(other_process())
        with pytest.raises(FlowError):
            rt.resume("o", 1)
        return 1

    def payment(s):
        seen.append(other_process())
        return 2

    rt.start("order-lifecycle", 0, flow_id="o", serve={"reserve": reserve, "payment": payment})
    rt.close()
    assert seen == ["blocked", "blocked"]


def test_a_served_flow_stays_locked_on_every_store_after_a_refused_reentry(store_location):
    """The same through the store interface: while a handler runs (also after it was refused
    a resume of its own flow) another process's store.lock(flow) waits; afterwards it gets it."""
    probe = textwrap.dedent(f"""
        import os, sys, threading
        from flow.store import open_store
        store = open_store({store_location!r})
        got = threading.Event()
        def take():
            with store.lock("o"):
                got.set()
        threading.Thread(target=take, daemon=True).start()
        print("acquired" if got.wait(float(sys.argv[1])) else "blocked", flush=True)
        os._exit(0)
    """)

    def other_process(expect):
        """Another process's try for the lock: 2 s when it should wait (a wait that long
        is waiting), up to 30 s when it should get it."""
        seconds = "2" if expect == "blocked" else "30"
        out = subprocess.run([sys.executable, "-c", probe, seconds], capture_output=True,
                             text=True, timeout=90)
        if out.returncode != 0 or out.stdout.strip() not in ("acquired", "blocked"):
            raise RuntimeError(f"probe failed: {out.stderr}")
        return out.stdout.strip()

    rt = runtime(ORDER, store=store_location)
    seen = []

    def reserve(s):
        seen.append(other_process("blocked"))
        with pytest.raises(FlowError):
            rt.resume("o", 1)
        seen.append(other_process("blocked"))
        return 1

    rt.start("order-lifecycle", 0, flow_id="o", serve={"reserve": reserve})
    seen.append(other_process("acquired"))  # the step is over: the lock is free
    rt.close()
    assert seen == ["blocked", "blocked", "acquired"]


# ---------------------------------------------------------------- serve left unused


@pytest.mark.parametrize("kinds", [["refund"], ["fulfil"], ["refund", "fulfil"]])
def test_kinds_not_requested_are_ignored(make, kinds):
    """Handlers for kinds the flow does not wait on (yet) are never called."""
    rt = make()
    commits = count_commits(rt)
    serve = {k: Handler(raises=AssertionError(f"{k} asked")) for k in kinds}
    assert rt.start("order3", "o-1", flow_id="o", serve=serve) == Suspended("o", "reserve", "o-1", "o:1")
    assert rt.resume("o", "R", kind="reserve", serve=serve) == Suspended("o", "payment", ["o-1", "R"], "o:2")
    assert rt.resume("o", "P", kind="fulfil", serve=serve) == NotWaiting("o", "suspended", "payment")
    assert all(h.calls == [] for h in serve.values())
    assert commits == ["o", "o"]
    assert entries(rt, "o") == [("reserve", "o-1", "o:1", "R")]


@pytest.mark.parametrize("serve", [None, {}])
def test_serve_none_and_empty_are_the_plain_calls(make, serve):
    """serve=None and serve={} drive the flow exactly as calls without serve."""
    rt = make()
    commits = count_commits(rt)
    assert [
        rt.start("order3", "x", flow_id="o", serve=serve),
        rt.resume("o", "R", serve=serve),
        rt.resume("o", "P", serve=serve),
        rt.resume("o", "F", serve=serve),
    ] == [
        Suspended("o", "reserve", "x", "o:1"),
        Suspended("o", "payment", ["x", "R"], "o:2"),
        Suspended("o", "fulfil", "x", "o:3"),
        Done("o", ["v1", "R", "P", "F"]),
    ]
    assert commits == ["o"] * 4
    assert [e[2:] for e in entries(rt, "o")] == [("o:1", "R"), ("o:2", "P"), ("o:3", "F")]


# ---------------------------------------------------------------- replay and transfer


def served_to_payment(make, answer=lambda s: ["hold", s.payload]):
    """A flow whose reserve request was served in place; it waits on payment."""
    rt = make()
    h = Handler(answer)
    assert rt.start("order3", "o-1", flow_id="o", serve={"reserve": h}).kind == "payment"
    assert h.keys == ["o:1"]
    return rt


def reopen(make, rt, *sources):
    """The flows of rt in a fresh runtime with sources: the same directory for a
    file store, an export/import for a memory store."""
    fresh = make(*sources)
    if not make.durable:
        fresh.import_store(rt.export_store())
    return fresh


def test_changed_code_replays_the_served_answers_from_the_journal(make):
    """New code: resume replays the journal, served answers included, without asking their handler
    again."""
    rt = served_to_payment(make)
    new = reopen(make, rt, ORDER3_V2)
    again = Handler(raises=AssertionError("reserve was answered already"))
    f = Handler(lambda s: "F")
    r = new.resume("o", "P", kind="payment", serve={"reserve": again, "fulfil": f})
    assert r == Done("o", ["v2", ["hold", "o-1"], "P", "F"])  # the served answer, from the journal
    assert again.calls == [] and f.keys == ["o:3"]
    assert make.effects.seen == ["begin"]  # the new code ran from the start: a replay
    assert entries(new, "o") == [
        ("reserve", "o-1", "o:1", ["hold", "o-1"]),
        ("payment", ["o-1", ["hold", "o-1"]], "o:2", "P"),
        ("fulfil", "o-1", "o:3", "F"),
    ]


def test_a_served_dict_answer_in_a_later_payload_replays(make):
    """A served dict answer that a later payload holds still replays on new code."""
    rt = served_to_payment(make, answer=lambda s: {"hold": s.payload})
    new = reopen(make, rt, ORDER3_V2)
    r = new.resume("o", "P", kind="payment")
    assert r == Suspended("o", "fulfil", "o-1", "o:3")


def test_a_replay_answers_a_loop_of_served_requests(make):
    """New code: 30 served answers are replayed from the journal; no handler is asked."""
    rt = make()
    h = Handler(lambda s: s.payload * 10)
    rt.start("summer", 30, flow_id="s", serve={"add": h})
    new = reopen(make, rt, SUMMER.replace("(list acc", "(list 'v2 acc"))
    assert new.resume("s", "ok", kind="confirm") == Done("s", ["v2", 4350, "ok"])
    assert len(h.calls) == 30  # nothing asked again
    assert len(new.journal("s")) == 31


def test_divergent_code_is_checked_against_the_served_steps(make):
    """New code diverging at a served step: NondeterminismError at that step, nothing changed."""
    rt = served_to_payment(make)
    new = reopen(make, rt, ORDER3_DIVERGES)
    before = new.export_store()
    with pytest.raises(NondeterminismError) as e:
        new.resume("o", "P", kind="payment")
    assert (e.value.step, e.value.expected, e.value.actual) == (
        1, "(request 'reserve \"o-1\")", "(request 'reserve (\"o-1\"))")
    assert new.export_store() == before


def test_export_and_import_keep_served_answers(make):
    """export_store/import_store keep flows whose journals hold served answers: journal, state and
    bytes."""
    rt = make()
    h = Handler(lambda s: s.payload + 1)
    rt.start("summer", 5, flow_id="s", serve={"add": h})
    rt.start("order3", "o-1", flow_id="o", serve={"reserve": Handler(lambda s: {"hold": [1, 2]})})
    data = rt.export_store()
    fresh = transfer(rt, *CODE)
    assert sorted(fresh.ids()) == ["o", "s"]
    for fid in ("o", "s"):
        assert entries(fresh, fid) == entries(rt, fid)
        assert fresh.result(fid) == rt.result(fid)
    assert entries(fresh, "o") == [("reserve", "o-1", "o:1", {"hold": [1, 2]})]
    assert [e[3] for e in entries(fresh, "s")] == [1, 2, 3, 4, 5]
    assert fresh.export_store() == data
    # the copy carries on, its journal growing after the served entries
    assert fresh.resume("s", "ok", kind="confirm") == Done("s", [15, "ok"])
    assert [e[2] for e in entries(fresh, "s")] == [f"s:{i}" for i in range(1, 7)]
    assert rt.result("s") == Suspended("s", "confirm", 15, "s:6")


def test_replay_compares_hash_tables_in_payloads_by_content():
    """The replay check's comparison: tables with the same kind, keys and values are
    the same; a different value, a missing key or another kind is not."""
    from flow.runtime import same_data
    from interp.primitives.hashtables import HashTable
    from interp.values import list_to_pairs

    def table(kind="equal", **entries):
        t = HashTable(kind)
        for k, v in entries.items():
            t.set(k, v)
        return t

    assert same_data(list_to_pairs([1, table(a=1, b=list_to_pairs([2]))]),
                     list_to_pairs([1, table(b=list_to_pairs([2]), a=1)]))
    assert not same_data(table(a=1), table(a=2))
    assert not same_data(table(a=1), table(a=1, b=1))
    assert not same_data(table(a=1), table("eqv", a=1))
    assert not same_data(list_to_pairs([table(a=1)]), list_to_pairs([table(a=1), 2]))
