"""Moving flows between stores with the command line: `flowscheme flows export FILE
--store DIR` then `flowscheme flows import - --store postgresql://... < FILE`, and
back to a new directory. Every flow arrives as it was — its state, its journal
(request, key, answer, bit for bit), its timers, deadlines and retry state — the
moved store indexes it the same (what is due, what waits on which kind), and the
flows carry on there. Run as real processes, as a user would."""

import os
import subprocess

import pytest

from clihelp import ROOT, flowscheme_argv, run_process
from storestate import committed
from flow import Done, FlowRuntime, RetryPolicy, Suspended
from flow.clock import ManualClock
from flow.worker import Worker

FLOWS = """\
(defflow order (lambda (oid)
  (request 'reserve oid) (request 'payment oid) (request 'fulfil oid)))
(defflow napper (lambda (s) (list 'before (sleep s) 'after)))
(defflow pay (lambda (oid)
  (let ((answer (request/timeout 'payment oid 1800)))
    (if (timeout? answer) (list 'expired oid) (list 'paid answer)))))
(defflow charge (lambda (oid) (list 'charged (request 'charge oid))))
(defflow boom (lambda () (car (request 'x 1))))
(defflow closure (lambda (n)
  (let ((add (lambda (k) (+ n k))) (v (vector 1 2 3)))
    (vector-set! v 0 v)
    (add (request 'more (list n (vector-length v)))))))
"""
T0 = 1_800_000_000.0


def build(where, flows_scm):
    """Flows of every kind in the store at `where`; their ids by what they show."""
    clock = ManualClock(T0)
    rt = FlowRuntime(store=where, clock=clock, retry=RetryPolicy(max_attempts=5, initial=30))
    rt.load_file(str(flows_scm))
    for i in range(3):  # an order at each of its three requests, with its journal so far
        rt.start("order", f"o{i}", flow_id=f"o{i}")
        for kind in ["reserve", "payment"][:i]:
            rt.resume(f"o{i}", {"reserve": "reserved", "payment": ("paid", i * 100)}[kind], kind=kind)
    rt.start("order", "o9", flow_id="o9")
    for answer in ("r", "p", "shipped"):
        rt.resume("o9", answer)
    rt.start("napper", 600, flow_id="nap")  # a timer, due at T0 + 600
    rt.start("pay", "p1", flow_id="deadline")  # a deadline at T0 + 1800
    rt.start("boom", flow_id="failed")
    rt.resume("failed", 5)
    rt.start("order", "gone", flow_id="cancelled")
    rt.cancel("cancelled")
    rt.start("closure", 40, flow_id="closure")
    rt.start("charge", "c1", flow_id="retrying")

    def down(req):
        raise ConnectionError("the card service is down")

    Worker(rt, handlers={"charge": down}).run_once()  # one failed attempt: a retry at T0 + 30
    assert (rt.flow("retrying", data=False).attempts, rt.flow("retrying", data=False).wake) == (1, T0 + 30)
    rt.close()


def index(where, flows_scm):
    """What a store says of its flows beyond their bytes: due-time index, waits, statuses."""
    rt = FlowRuntime(store=where, clock=ManualClock(T0))
    rt.load_file(str(flows_scm))
    try:
        return {
            "due later": rt.due(T0 + 10**6),
            "due now": rt.due(T0),
            "next wake": rt.next_wake(),
            "waiting": {k: sorted(rt.store.waiting_on(k)) for k in ("reserve", "payment", "fulfil", "charge",
                                                                     "more", "x")},
            "flows": {fid: (rt.status(fid), rt.flow(fid, data=False).step, rt.flow(fid, data=False).wake,
                            rt.flow(fid, data=False).attempts,
                            [(e.kind.name, e.key, repr(e.answer)) for e in rt.journal(fid)])
                      for fid in sorted(rt.ids())},
        }
    finally:
        rt.close()


def flowscheme(*args, stdin=None, cwd):
    r = run_process("flows", *args, input=stdin, cwd=cwd)
    assert r.returncode == 0, f"flowscheme flows {' '.join(map(str, args))}:\n{r.stdout}{r.stderr}"
    assert "Traceback" not in r.stderr
    return r


@pytest.fixture
def scm(tmp_path):
    path = tmp_path / "moves.scm"
    path.write_text(FLOWS)
    return path


def test_flows_move_from_a_directory_to_postgresql_and_back(tmp_path, pg_url, scm):
    source, back = str(tmp_path / "source"), str(tmp_path / "back")
    build(source, scm)
    before, before_index = committed(source), index(source, scm)
    assert len(before) == 10 and before_index["due later"] == [(T0 + 30, "retrying"), (T0 + 600, "nap"),
                                                               (T0 + 1800, "deadline")]
    # export from the directory, import into PostgreSQL from standard input
    flowscheme("export", tmp_path / "x.flows", "--store", source, cwd=tmp_path)
    data = (tmp_path / "x.flows").read_bytes()
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    with open(tmp_path / "x.flows", "rb") as f:  # `... import - < x.flows`: the bytes on standard input
        r = subprocess.run(flowscheme_argv("flows", "import", "-", "--store", pg_url, "--load", scm), stdin=f,
                           capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("imported 10 flows from - into "), r.stdout
    assert committed(pg_url) == before  # every snapshot and journal entry, bit for bit
    assert index(pg_url, scm) == before_index
    # and back, into a new directory
    flowscheme("export", tmp_path / "y.flows", "--store", pg_url, cwd=tmp_path)
    flowscheme("import", tmp_path / "y.flows", "--store", back, "--load", scm, cwd=tmp_path)
    assert committed(back) == before
    assert index(back, scm) == before_index
    assert (tmp_path / "y.flows").read_bytes() == data  # the same flows export to the same bytes


def test_moved_flows_carry_on_in_postgresql(tmp_path, pg_url, scm):
    source = str(tmp_path / "source")
    build(source, scm)
    flowscheme("export", tmp_path / "x.flows", "--store", source, cwd=tmp_path)
    flowscheme("import", tmp_path / "x.flows", "--store", pg_url, "--load", scm, cwd=tmp_path)
    r = flowscheme("resume", "o1", '"paid"', "--store", pg_url, "--load", scm, cwd=tmp_path)
    assert r.stdout == 'flow o1 waits on (fulfil "o1")\n'
    clock = ManualClock(T0 + 1800)
    rt = FlowRuntime(store=pg_url, clock=clock, retry=RetryPolicy(max_attempts=5, initial=30))
    rt.load_file(str(scm))
    try:
        fired = dict(rt.fire_due())  # the retry, the timer and the deadline, all due by now
        assert fired["nap"] == Done("nap", ["before", True, "after"])
        assert fired["deadline"] == Done("deadline", ["expired", "p1"])
        assert rt.flow("retrying", data=False).attempts == 1
        served = Worker(rt, handlers={"charge": lambda req: f"ok-{req.key}"}).run_once()
        assert [t.flow_id for t in served] == ["retrying"]
        assert rt.result("retrying") == Done("retrying", ["charged", "ok-retrying:1"])
        assert rt.resume("closure", 2) == Done("closure", 42)  # its closure and cyclic vector came along
        assert rt.result("o2") == Suspended("o2", "fulfil", "o2", "o2:3")
        assert rt.fire_due() == []  # nothing fires twice
        assert rt.status("cancelled") == "cancelled" and rt.status("failed") == "failed"
    finally:
        rt.close()


def test_an_import_replaces_what_the_postgresql_store_held(tmp_path, pg_url, scm):
    """import replaces every flow of the target: flows it held before are gone, also
    from its due-time index."""
    rt = FlowRuntime(store=pg_url, clock=ManualClock(T0))
    rt.load_file(str(scm))
    rt.start("napper", 5, flow_id="old-nap")
    rt.close()
    source = str(tmp_path / "source")
    build(source, scm)
    flowscheme("export", tmp_path / "x.flows", "--store", source, cwd=tmp_path)
    flowscheme("import", tmp_path / "x.flows", "--store", pg_url, "--load", scm, cwd=tmp_path)
    assert committed(pg_url) == committed(source)
    assert all(fid != "old-nap" for _, fid in index(pg_url, scm)["due later"])


def test_a_signed_export_moves_between_stores_only_with_its_key(tmp_path, pg_url, scm):
    key, other = tmp_path / "key", tmp_path / "other-key"
    key.write_text("move-key\n")
    other.write_text("not-it\n")
    source = str(tmp_path / "source")
    build(source, scm)
    flowscheme("export", tmp_path / "x.flows", "--store", source, "--key-file", key, cwd=tmp_path)
    r = run_process("flows", "import", tmp_path / "x.flows", "--store", pg_url, "--load", scm,
                    "--key-file", other, cwd=tmp_path)
    assert r.returncode == 1 and "authentication failed" in r.stderr, r.stderr
    assert committed(pg_url) == {}  # refused: nothing imported
    flowscheme("import", tmp_path / "x.flows", "--store", pg_url, "--load", scm, "--key-file", key, cwd=tmp_path)
    assert committed(pg_url) == committed(source)


def test_an_import_without_the_code_changes_nothing_in_postgresql(tmp_path, pg_url, scm):
    source = str(tmp_path / "source")
    build(source, scm)
    flowscheme("export", tmp_path / "x.flows", "--store", source, cwd=tmp_path)
    r = run_process("flows", "import", tmp_path / "x.flows", "--store", pg_url, cwd=tmp_path)  # no --load
    assert r.returncode == 1 and "not loaded" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr
    assert committed(pg_url) == {}
