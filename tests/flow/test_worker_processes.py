"""Several worker processes on one store (file and PostgreSQL), and workers killed with SIGKILL:
every timer fires exactly once, every request is serviced exactly once (and
after a crash, every handler effect is recorded once by its key), no flow is lost.

The workers are separate processes (tests/flow/worker_driver.py) sharing the
store (a directory or a database) and a FileClock: "now" is a number in a file the test moves on.
Beside them: a flow stays locked against other processes when a thread of the
holder's process lets go of a flow whose lock byte collides with it, and a
stopped worker (SIGTERM) stops after the transition under way.

The SIGKILL test does 25 rounds of two workers killed at random moments (50
kills, 300 flows) by default; FLOWSCHEME_STRESS=1 does 150 rounds (300 kills)
on 1,000 flows (about 5 minutes):

    FLOWSCHEME_STRESS=1 pytest tests/flow/test_worker_processes.py
"""

import os
import random
import signal
import subprocess
import sys
import threading
import time
import warnings
from collections import Counter

import pytest

from flow import FlowRuntime
from flow.clock import ManualClock
from flow.runtime import Done, Sleeping
from flow.store import FileStore, lock_byte
from flow.worker import Worker

from worker_driver import CRASH_FLOWS, SERVE_FLOWS, T0, FileClock, runtime

DRIVER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "worker_driver.py")
STRESS = os.environ.get("FLOWSCHEME_STRESS") == "1"


def spawn(*args, stderr):
    return subprocess.Popen([sys.executable, DRIVER, *map(str, args)], stdout=subprocess.PIPE,
                            stderr=stderr, text=True)


def wait_until(condition, seconds, what):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out after {seconds} s waiting for {what}"
        time.sleep(0.1)


def read_lines(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        text = f.read()
    assert text == "" or text.endswith("\n"), f"{path}: a torn line"
    return text.split("\n")[:-1]


def no_tracebacks(paths):
    for p in paths:
        with open(p) as f:
            err = f.read()
        assert "Traceback" not in err, f"{p}:\n{err}"


def kill_all(procs):
    for p in procs:
        if p.poll() is None:
            p.kill()
            p.wait()


# ------------------------------------------------------------------ locks and stopping

COLLIDING = ("order-29685295", "order-32060020")  # two flow ids with one crc32: one byte of flows.lock

HOLD_IN_CHILD = """
import sys
from flow.store import FileStore
with FileStore(sys.argv[1]).lock(sys.argv[2]):
    print("locked", flush=True)
"""


@pytest.mark.file_only("about the file store's one-byte-per-flow record locks")
def test_a_flow_stays_locked_against_other_processes_when_a_thread_drops_a_colliding_flow(tmp_path):
    """Flow locks are record locks on one byte per flow (crc32 of its id), owned
    by the process: two ids on the same byte, held by two threads, share it; the
    first to let go must not unlock the other's flow for every other process."""
    a, b = COLLIDING
    assert lock_byte(a) == lock_byte(b)
    store = FileStore(tmp_path)
    held, release = threading.Event(), threading.Event()

    def hold_a():
        with store.lock(a):
            held.set()
            release.wait(30)

    t = threading.Thread(target=hold_a)
    t.start()
    child = None
    try:
        assert held.wait(10)
        with store.lock(b):  # another thread, another flow, the same byte
            pass
        child = subprocess.Popen([sys.executable, "-c", HOLD_IN_CHILD, str(tmp_path), a], stdout=subprocess.PIPE,
                                 text=True)
        try:
            child.communicate(timeout=1.5)
            raise AssertionError(f"another process locked {a} while a thread here held it")
        except subprocess.TimeoutExpired:
            pass  # it waits, as it should
        release.set()
        t.join()
        out, _ = child.communicate(timeout=30)  # now it gets the lock
        assert out == "locked\n"
    finally:
        release.set()
        t.join()
        if child is not None and child.poll() is None:
            child.kill()
            child.wait()
        store.close()


def test_a_stopped_worker_stops_between_timers_not_after_every_due_one():
    """SIGTERM (Worker.stop) lets the transition under way finish, then returns:
    a worker with a thousand timers due does not fire them all first."""
    clock = ManualClock(T0)
    rt = FlowRuntime(clock=clock)
    rt.load("(defflow nap (lambda () (sleep 1) 'rested))")
    for i in range(5):
        rt.start("nap", flow_id=f"n{i}")
    clock.advance(1)
    w = Worker(rt, on_transition=lambda t: w.stop())
    assert [t.flow_id for t in w.run_once()] == ["n0"]
    assert [rt.result(f"n{i}") for i in range(1, 5)] == [Sleeping(f"n{i}", T0 + 1) for i in range(1, 5)]


# ------------------------------------------------------------------ 4 processes, 1,000 timers

PROCESSES = 4
JOBS = 1000


def test_worker_processes_fire_every_timer_and_serve_every_request_exactly_once(tmp_path, store_location):
    store, clock = store_location, str(tmp_path / "clock")
    FileClock.write(clock, T0)
    rt = runtime(store, clock, SERVE_FLOWS)
    ids = [f"j{i:04d}" for i in range(JOBS)]
    for i, fid in enumerate(ids):
        rt.start("job", i, (i * 37 % 100) / 10, flow_id=fid)  # sleeps of 0 to 9.9 s, shuffled
    outs = [str(tmp_path / f"served-{n}") for n in range(PROCESSES)]
    errs = [str(tmp_path / f"stderr-{n}") for n in range(PROCESSES)]
    procs = []
    try:
        for out, err in zip(outs, errs):
            with open(err, "w") as e:
                procs.append(spawn("serve", store, clock, out, stderr=e))
        for p in procs:
            assert p.stdout.readline() == "ready\n"
        # the workers race for the 1,000 first requests, then for the timers, which
        # come due a batch at a time as the clock moves on (a second each 0.1 s)
        now = T0

        def finished():
            nonlocal now
            now += 1
            FileClock.write(clock, now)
            return rt.next_wake() is None and not rt.store.waiting_on("work")

        wait_until(finished, 50, "every flow to finish")
        for p in procs:
            p.send_signal(signal.SIGTERM)  # Worker.run stops after the transition under way
        for p in procs:
            out, _ = p.communicate(timeout=30)
            assert p.returncode == 0 and out.startswith("stopped "), (p.returncode, out)
    finally:
        kill_all(procs)
    no_tracebacks(errs)
    served = [read_lines(out) for out in outs]
    calls = Counter(key for keys in served for key in keys)
    expected = {f"{fid}:{step}" for fid in ids for step in (1, 3)}
    twice = sorted(k for k, n in calls.items() if n > 1)
    assert not twice, f"{len(twice)} requests serviced more than once: {twice[:10]}"
    assert set(calls) == expected
    assert sum(1 for keys in served if keys) >= 2, "one process did all the work: nothing raced"
    for fid in ids:
        assert rt.result(fid) == Done(fid, [f"done-{fid}:1", f"done-{fid}:3"])
        journal = rt.journal(fid)
        assert [(e.kind.name, e.key) for e in journal] == [("work", f"{fid}:1"), ("%sleep", f"{fid}:2"),
                                                           ("work", f"{fid}:3")]  # the timer fired once
        assert journal[1].answer is True
    rt.close()


# ------------------------------------------------------------------ SIGKILL at random moments

ROUNDS = 150 if STRESS else 25
DRIVERS_PER_ROUND = 2
PAYMENTS = 1000 if STRESS else 300
STEP = 10.0  # clock seconds each round moves time on (more than the longest retry wait)


class KilledDriver:
    """A crash-mode worker, SIGKILLed once it has printed `after` lines (a line
    per handler call and per transition) or when told to; with after=None at
    a random moment of its start-up instead (opening the store, loading code)."""

    def __init__(self, args, err, after, delay):
        self.proc = spawn(*args, stderr=err)
        self.after, self.delay = after, delay
        self.ready = threading.Event()
        self.lines = 0
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        proc = self.proc
        if self.after is None:
            time.sleep(self.delay)
            proc.kill()
        for line in proc.stdout:
            if line == "ready\n":
                self.ready.set()
                continue
            self.lines += 1
            if self.after is not None and self.lines >= self.after and proc.poll() is None:
                time.sleep(self.delay)  # lands somewhere in the work that follows
                proc.kill()
        self.ready.set()

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self.thread.join()
        return self.proc.returncode


def check_payment_journals(rt, ids):
    """Every flow is there, and its journal is a prefix of the one expected:
    one answer per timer, one per request."""
    assert set(rt.ids()) == set(ids), f"lost flows: {sorted(set(ids) - set(rt.ids()))}"
    kinds = ["%sleep", "charge", "approval", "charge"]
    for fid in ids:
        journal = rt.journal(fid)
        assert [(e.kind.name, e.key) for e in journal] == [(k, f"{fid}:{n}") for n, k in
                                                           enumerate(kinds[:len(journal)], 1)]
        assert not any(e.raised for e in journal)


def test_sigkilled_workers_fire_every_timer_once_and_record_every_effect_once(tmp_path, store_location):
    """Two workers at a time fire sleeps and deadlines and retry a flaky, idempotent
    handler; each is SIGKILLed at a random moment; after each round the store is
    consistent, and in the end every flow is done with one journal answer per
    timer and request, and the ledger holds every charge exactly once."""
    store, clock = store_location, str(tmp_path / "clock")
    effects, calls = str(tmp_path / "effects"), str(tmp_path / "calls")
    rng = random.Random(11)
    FileClock.write(clock, T0)
    rt = runtime(store, clock, CRASH_FLOWS)
    ids = [f"p{i:04d}" for i in range(PAYMENTS)]
    span = (ROUNDS - 5) * STEP
    for i, fid in enumerate(ids):
        rt.start("pay", i, round(rng.uniform(0, span), 1), rng.randint(5, 30), flow_id=fid)
    rt.close()
    errs, kills, now = [], 0, T0
    for round_ in range(ROUNDS):
        now += STEP
        FileClock.write(clock, now)
        drivers = []
        try:
            for n in range(DRIVERS_PER_ROUND):
                errs.append(str(tmp_path / f"stderr-{round_}-{n}"))
                args = ("crash", store, clock, effects, calls, round_ * DRIVERS_PER_ROUND + n)
                if rng.random() < 0.1:
                    after, delay = None, rng.uniform(0.05, 1.0)  # while it starts up
                else:
                    after, delay = rng.randint(1, 50), rng.uniform(0, 0.004)
                with open(errs[-1], "w") as e:
                    drivers.append(KilledDriver(args, e, after, delay))
            for d in drivers:
                assert d.ready.wait(30), "a worker did not start"
            # the longest a round lasts (a worker that ran out of due work is killed idle)
            end = time.monotonic() + 1.0
            while time.monotonic() < end and any(d.proc.poll() is None for d in drivers):
                time.sleep(0.01)
        finally:
            codes = [d.kill() for d in drivers]
        assert codes == [-signal.SIGKILL] * len(drivers), f"a worker exited by itself: {codes}"
        kills += len(codes)
        if round_ % 5 == 4:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # a torn last frame of a file store is cut off, with a warning
                rt = runtime(store, clock, CRASH_FLOWS)
            check_payment_journals(rt, ids)
            rt.close()
    no_tracebacks(errs)
    assert kills >= 50

    # then one worker, not killed, finishes what is left while time moves on
    drain_err = str(tmp_path / "stderr-drain")
    with open(drain_err, "w") as e:
        drain = spawn("crash", store, clock, effects, calls, 999, "drain", stderr=e)
    try:
        deadline = time.monotonic() + 60
        while drain.poll() is None:
            assert time.monotonic() < deadline, "the last worker did not finish the flows"
            now += STEP
            FileClock.write(clock, now)
            time.sleep(0.05)
        out, _ = drain.communicate()
        assert drain.returncode == 0 and out.endswith("drained\n"), out[-500:]
    finally:
        kill_all([drain])
    no_tracebacks([drain_err])

    rt = runtime(store, clock, CRASH_FLOWS)
    check_payment_journals(rt, ids)
    for fid in ids:
        assert rt.result(fid) == Done(fid, [f"charged-{fid}:2", "timed-out", f"charged-{fid}:4"])
        assert len(rt.journal(fid)) == 4
    keys = {f"{fid}:{n}" for fid in ids for n in (2, 4)}
    recorded = Counter(read_lines(effects))
    assert set(recorded) == keys
    assert [k for k, n in recorded.items() if n > 1] == [], "an effect recorded twice"
    called = Counter(read_lines(calls))
    assert set(called) == keys
    repeats = sum(called.values()) - len(keys)
    print(f"{kills} kills, {len(keys)} charges, {repeats} repeated calls (retries and crashes)")
    rt.close()


CHILD_HOLDS_C = r"""
import os, sys, threading, time
sys.path.insert(0, sys.argv[2])
from flow.store import open_store
s = open_store(sys.argv[1])
release = sys.argv[3]
def hold_c():
    with s.lock("c"):
        print("c held", flush=True)
        while not os.path.exists(release):
            time.sleep(0.01)
def wait_a():
    with s.lock("a"):
        print("a taken", flush=True)
x = threading.Thread(target=hold_c); x.start()
time.sleep(0.3)
y = threading.Thread(target=wait_a); y.start()
print("waiting for a", flush=True)
x.join(); y.join()
"""


def test_threads_of_two_processes_waiting_on_each_others_flows_is_not_a_deadlock(tmp_path, store_location):
    """Record locks belong to processes: process 1 (A holds a, B wants c) and
    process 2 (X holds c, Y wants a) look like a cycle to the kernel (EDEADLK),
    though no thread waits for itself (and to PostgreSQL, were the threads to share
    one connection). B must simply wait for c."""
    import subprocess
    import threading

    from flow.store import open_store

    store = open_store(store_location)
    release_c = tmp_path / "release-c"
    a_held, release_a = threading.Event(), threading.Event()

    def hold_a():
        with store.lock("a"):
            a_held.set()
            release_a.wait(30)

    ta = threading.Thread(target=hold_a)
    ta.start()
    a_held.wait(10)
    root = str(__import__("pathlib").Path(__file__).resolve().parents[2])
    child = subprocess.Popen([sys.executable, "-c", CHILD_HOLDS_C, store_location, root, str(release_c)],
                             stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "c held"
        assert child.stdout.readline().strip() == "waiting for a"
        time.sleep(0.3)  # Y is blocked on a
        got = {}

        def take_c():
            try:
                with store.lock("c"):
                    got["c"] = True
            except OSError as e:
                got["error"] = e

        tb = threading.Thread(target=take_c)
        tb.start()
        time.sleep(0.5)
        release_c.write_text("")
        tb.join(20)
        assert got == {"c": True}
        release_a.set()
        ta.join(10)
        assert child.stdout.readline().strip() == "a taken"
        assert child.wait(20) == 0
    finally:
        release_a.set()
        if child.poll() is None:
            child.kill()
    store.close()
