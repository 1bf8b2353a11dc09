"""Faults of a PostgreSQL flow store: a connection cut in the middle of a commit
(before the server saw it, and after it committed but before the client heard),
the server crashing and restarting under a running runtime and under worker
processes, and worker processes SIGKILLed at random moments while others carry
on. Each transition happens once or not at all, a retry under the same key is
harmless, and no flow is lost.

The cuts go through tests/pgserver.CuttingProxy, a TCP proxy between the store and
the server; the restarts are `pg_ctl stop -m immediate` (a crash: every
connection dies, no shutdown checkpoint) and a start on the same port.
"""

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter

import pytest

from flow import Done, FlowRuntime, NotWaiting, Suspended
from flow.clock import ManualClock
from flow.worker import Worker

from flowhelp import ORDER, stored_state
from pgserver import CuttingProxy
from worker_driver import SERVE_FLOWS, T0, FileClock, runtime as driver_runtime

DRIVER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "worker_driver.py")
KINDS = ["reserve", "payment", "fulfil"]


def commit_of(flow_id):
    """Bytes found in every commit of flow_id that PgStore sends (its NOTIFY payload)."""
    return json.dumps({"i": flow_id})[:-1].encode()


@pytest.fixture
def proxied(pg_database):
    """(URL through a CuttingProxy, the proxy, the direct URL) of a fresh database."""
    proxy = CuttingProxy(pg_database.server.port)
    try:
        yield proxy.url(pg_database.url), proxy, pg_database.url
    finally:
        proxy.close()


def order_runtime(url):
    rt = FlowRuntime(store=url)
    rt.load(ORDER, "order.scm")
    return rt


def journal_keys(url, flow_id):
    rt = order_runtime(url)
    try:
        return [(e.key, e.kind.name, e.answer) for e in rt.journal(flow_id)], rt.status(flow_id)
    finally:
        rt.close()


# ------------------------------------------------------------------ a connection cut mid-commit


@pytest.mark.parametrize("when", ["before", "after"],
                         ids=["cut-before-the-server-saw-it", "cut-after-it-committed"])
def test_a_connection_cut_in_the_middle_of_a_commit_commits_once(proxied, when):
    """resume's commit loses its connection: before the statement reached the server
    (it never ran) or after the server committed it (the answer never came back).
    Either way resume returns the new state, the transition is in the store once,
    and delivering the same answer again under the same key changes nothing."""
    url, proxy, direct = proxied
    rt = order_runtime(url)
    try:
        first = rt.start("order-lifecycle", "o", flow_id="o")
        assert first == Suspended("o", "reserve", "o", "o:1")
        proxy.arm(commit_of("o"), when)
        r = rt.resume("o", "reserved-1", key="o:1")
        assert proxy.cut.is_set(), "the commit never went through the proxy: the fault was not injected"
        assert r == Suspended("o", "payment", "o", "o:2")
        again = rt.resume("o", "reserved-2", key="o:1")  # the webhook delivered again
        assert isinstance(again, NotWaiting), again
        assert rt.result("o") == Suspended("o", "payment", "o", "o:2")
    finally:
        rt.close()
    keys, status = journal_keys(direct, "o")
    assert keys == [("o:1", "reserve", "reserved-1")] and status == "suspended"


@pytest.mark.parametrize("when", ["before", "after"],
                         ids=["cut-before-the-server-saw-it", "cut-after-it-committed"])
def test_a_cut_commit_of_a_served_step_calls_the_handler_once(proxied, when):
    """A step that served requests in place (serve=) and then lost its connection at
    the commit: the step is committed once, its handler was not run again."""
    url, proxy, direct = proxied
    calls = Counter()

    def handler(req):
        calls[req.key] += 1
        return f"{req.kind}-done"

    rt = order_runtime(url)
    try:
        rt.start("order-lifecycle", "s", flow_id="s")
        proxy.arm(commit_of("s"), when)
        r = rt.resume("s", "r", key="s:1", serve={"payment": handler, "fulfil": handler})
        assert proxy.cut.is_set()
        assert r == Done("s", "fulfil-done")
    finally:
        rt.close()
    assert calls == Counter({"s:2": 1, "s:3": 1})
    keys, status = journal_keys(direct, "s")
    assert [k for k, _, _ in keys] == ["s:1", "s:2", "s:3"] and status == "done"


def test_a_start_whose_commit_was_cut_creates_the_flow_once(proxied):
    """The first commit of a flow (its creation) cut after the server committed it:
    start returns the flow; starting again with the same id returns the existing one."""
    url, proxy, direct = proxied
    rt = order_runtime(url)
    try:
        proxy.arm(commit_of("n"), "after")
        assert rt.start("order-lifecycle", "n", flow_id="n") == Suspended("n", "reserve", "n", "n:1")
        assert proxy.cut.is_set()
        assert rt.start("order-lifecycle", "n", flow_id="n") == Suspended("n", "reserve", "n", "n:1")
        assert rt.ids() == ["n"]
    finally:
        rt.close()
    assert list(stored_state(direct)) == ["n"]


# ------------------------------------------------------------------ the server restarted


def test_a_runtime_carries_on_after_the_server_restarts(pg_database, pg_restartable):
    """Crash and restart the server between transitions and while a flow's lock is
    held: every later call reconnects by itself, and nothing committed is lost."""
    rt = order_runtime(pg_database.url)
    try:
        for i in range(10):
            rt.start("order-lifecycle", i, flow_id=f"f{i}")
        for i in range(5):
            rt.resume(f"f{i}", "r", kind="reserve")
        pg_database.server.restart()
        assert sorted(rt.ids()) == [f"f{i}" for i in range(10)]
        for i in range(10):
            assert rt.resume(f"f{i}", "x", kind="reserve" if i >= 5 else "payment").kind in ("payment", "fulfil")
        # a restart while this thread holds a flow (inside a served step)
        def crash_then_answer(req):
            pg_database.server.restart()
            return "paid"

        assert rt.resume("f9", "p", kind="payment", serve={"fulfil": lambda req: "shipped"}) == Done("f9", "shipped")
        r = rt.resume("f8", "p", kind="payment", serve={"fulfil": crash_then_answer})
        assert r == Done("f8", "paid")
    finally:
        rt.close()
    again = order_runtime(pg_database.url)
    try:
        assert [e.key for e in again.journal("f8")] == ["f8:1", "f8:2", "f8:3"]
        assert again.status("f8") == "done" and again.status("f9") == "done"
        assert [again.flow(f"f{i}").step for i in range(8)] == [3] * 5 + [2] * 3
    finally:
        again.close()


def spawn(*args, stderr):
    return subprocess.Popen([sys.executable, DRIVER, *map(str, args)], stdout=subprocess.PIPE,
                            stderr=stderr, text=True)


def read_lines(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        text = f.read()
    assert text == "" or text.endswith("\n"), f"{path}: a torn line"
    return text.split("\n")[:-1]


def wait_until(condition, seconds, what):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out after {seconds} s waiting for {what}"
        time.sleep(0.1)


JOBS = 300
WORKERS = 3
RESTARTS = 2


def test_worker_processes_carry_on_through_server_restarts(tmp_path, pg_database, pg_restartable):
    """Three worker processes fire 300 timers and serve 600 requests while the server
    crashes and restarts twice: they reconnect and carry on; every flow ends done with
    one journal entry per request and timer (nothing lost, nothing done twice). A
    request may be serviced again only when a restart took the step's lock away
    (at most one per worker and restart); its answer is recorded once."""
    store, clock = pg_database.url, str(tmp_path / "clock")
    FileClock.write(clock, T0)
    rt = driver_runtime(store, clock, SERVE_FLOWS)
    ids = [f"j{i:04d}" for i in range(JOBS)]
    for i, fid in enumerate(ids):
        rt.start("job", i, (i * 37 % 100) / 10, flow_id=fid)
    outs = [str(tmp_path / f"served-{n}") for n in range(WORKERS)]
    errs = [str(tmp_path / f"stderr-{n}") for n in range(WORKERS)]
    procs = []
    restarts = 0
    try:
        for out, err in zip(outs, errs):
            with open(err, "w") as e:
                procs.append(spawn("serve", store, clock, out, stderr=e))
        for p in procs:
            assert p.stdout.readline() == "ready\n"
        now = T0

        def finished():
            nonlocal now, restarts
            served = sum(len(read_lines(o)) for o in outs)
            if restarts < RESTARTS and served >= (restarts + 1) * 2 * JOBS // (RESTARTS + 2):
                pg_database.server.restart()
                restarts += 1
            now += 1
            FileClock.write(clock, now)
            return restarts == RESTARTS and rt.next_wake() is None and not rt.store.waiting_on("work")

        wait_until(finished, 120, "every flow to finish")
        for p in procs:
            assert p.poll() is None, f"a worker died: exit {p.returncode}: {open(errs[procs.index(p)]).read()}"
            p.send_signal(signal.SIGTERM)
        for p, err in zip(procs, errs):
            out, _ = p.communicate(timeout=60)
            assert p.returncode == 0 and out.startswith("stopped "), (p.returncode, out, open(err).read()[-2000:])
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    calls = Counter(key for out in outs for key in read_lines(out))
    assert set(calls) == {f"{fid}:{step}" for fid in ids for step in (1, 3)}
    repeated = sum(n - 1 for n in calls.values())
    assert repeated <= WORKERS * RESTARTS, f"{repeated} repeated services: {calls.most_common(5)}"
    for fid in ids:
        assert rt.result(fid) == Done(fid, [f"done-{fid}:1", f"done-{fid}:3"])
        assert [(e.kind.name, e.key) for e in rt.journal(fid)] == [("work", f"{fid}:1"), ("%sleep", f"{fid}:2"),
                                                                   ("work", f"{fid}:3")]
    rt.close()
    print(f"{restarts} restarts, {sum(calls.values())} services, {repeated} repeated")


# ------------------------------------------------------------------ workers SIGKILLed at random moments

KILL_FLOWS = """
(defflow order (lambda (i)
  (let* ((a (request 'charge (list i 1)))
         (b (request 'charge (list i 2))))
    (sleep 1)
    (list a b (request 'charge (list i 3))))))
"""

KILLED_WORKER = r"""
import os, sys, time
from flow import FlowRuntime
from flow.worker import Worker
sys.path.insert(0, sys.argv[3])
from worker_driver import FileClock, append_line

rt = FlowRuntime(store=sys.argv[1], clock=FileClock(sys.argv[2]))
rt.load(sys.argv[4], "orders.scm")
log = sys.argv[5]

def charge(req):
    append_line(log, f"{os.getpid()} {req.key}")
    print("call", flush=True)
    return f"charged-{req.key}"

w = Worker(rt, handlers={"charge": charge}, on_transition=lambda t: print("t", t.flow_id, flush=True))
print("ready", flush=True)
if sys.argv[6] == "drain":
    while w.run_once() or rt.next_wake() is not None or rt.store.waiting_on("charge"):
        time.sleep(0.01)
    rt.close()
    print("drained", flush=True)
else:
    w.run()
"""

STRESS = os.environ.get("FLOWSCHEME_STRESS") == "1"
KILL_ORDERS = 200 if STRESS else 40
# two workers a round: 32 kills with FLOWSCHEME_STRESS=1; 8 in the default run (bounded time)
KILL_ROUNDS = 16 if STRESS else 4
ROUND_SECONDS = 5  # a round's workers are killed after this long at the latest


def test_sigkilled_workers_lose_nothing_and_another_finishes(tmp_path, pg_database):
    """Two worker processes at a time serve 3 charges and a timer for each of 200 orders (40 unless FLOWSCHEME_STRESS=1) and are
    SIGKILLed at random moments (32 kills; 8 unless FLOWSCHEME_STRESS=1); a last worker finishes. The server
    drops a killed worker's advisory locks with its connection, so its flows are
    free at once. No flow is lost, every journal holds each request once, and a
    charge is serviced twice only when the process that serviced it first was
    killed before its step committed."""
    store, clock = pg_database.url, str(tmp_path / "clock")
    log = str(tmp_path / "charges")
    script = tmp_path / "killed_worker.py"
    script.write_text(KILLED_WORKER)
    here = os.path.dirname(os.path.abspath(__file__))
    FileClock.write(clock, T0)
    rt = FlowRuntime(store=store, clock=ManualClock(T0))
    rt.load(KILL_FLOWS, "orders.scm")
    ids = [f"k{i:03d}" for i in range(KILL_ORDERS)]
    for i, fid in enumerate(ids):
        rt.start("order", i, flow_id=fid)
    rt.close()
    rng = random.Random(30)
    killed, kills, now = set(), 0, T0
    errs = []

    def start(mode, n):
        errs.append(str(tmp_path / f"stderr-{n}"))
        with open(errs[-1], "w") as e:
            return subprocess.Popen([sys.executable, str(script), store, clock, here, KILL_FLOWS, log, mode],
                                    stdout=subprocess.PIPE, stderr=e, text=True)

    for round_ in range(KILL_ROUNDS):
        now += 0.5
        FileClock.write(clock, now)
        procs = [start("run", round_ * 2 + n) for n in range(2)]
        try:
            for p in procs:
                assert p.stdout.readline() == "ready\n", open(errs[-1]).read()
            lines = [rng.randint(1, 60) for _ in procs]

            def kill_after(p, n):
                for _ in range(n):
                    if not p.stdout.readline():
                        return
                time.sleep(rng.uniform(0, 0.003))
                p.kill()

            threads = [threading.Thread(target=kill_after, args=(p, n)) for p, n in zip(procs, lines)]
            # a worker that runs out of work before its n-th line is killed idle
            timers = [threading.Timer(ROUND_SECONDS, p.kill) for p in procs]
            for t in threads + timers:
                t.start()
            for t in threads:
                t.join(60)
            for t in timers:
                t.cancel()
        finally:
            for p in procs:
                if p.poll() is None:
                    p.kill()
                p.wait()
        for p in procs:
            assert p.returncode == -signal.SIGKILL, (p.returncode, open(errs[-1]).read()[-2000:])
            killed.add(p.pid)
            kills += 1
    assert kills >= 2 * KILL_ROUNDS - 2

    FileClock.write(clock, now + 10)  # every sleep due
    drain = start("drain", 999)
    try:
        assert drain.stdout.readline() == "ready\n"
        out, _ = drain.communicate(timeout=300)
        assert drain.returncode == 0 and out.endswith("drained\n"), (out[-500:], open(errs[-1]).read()[-2000:])
    finally:
        if drain.poll() is None:
            drain.kill()
            drain.wait()
    for err in errs:
        assert "Traceback" not in open(err).read(), open(err).read()

    check = FlowRuntime(store=store, clock=ManualClock(now + 10))
    check.load(KILL_FLOWS, "orders.scm")
    try:
        assert sorted(check.ids()) == ids, "lost flows"
        for fid in ids:
            keys = [f"{fid}:{n}" for n in (1, 2, 4)]
            assert check.result(fid) == Done(fid, [f"charged-{k}" for k in keys])
            assert [(e.kind.name, e.key) for e in check.journal(fid)] == [
                ("charge", f"{fid}:1"), ("charge", f"{fid}:2"), ("%sleep", f"{fid}:3"), ("charge", f"{fid}:4")]
    finally:
        check.close()
    served = {}
    for line in read_lines(log):
        pid, key = line.split()
        served.setdefault(key, []).append(int(pid))
    assert set(served) == {f"{fid}:{n}" for fid in ids for n in (1, 2, 4)}
    twice = {k: pids for k, pids in served.items() if len(pids) > 1}
    for key, pids in twice.items():  # every serving but the last was by a process killed mid-step
        assert all(pid in killed for pid in pids[:-1]), (key, pids)
    print(f"{kills} kills, {len(served)} charges, {len(twice)} serviced again after a kill")
