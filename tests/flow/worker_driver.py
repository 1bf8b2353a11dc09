"""A worker process on a shared flow store, for test_worker_processes.py.

    python worker_driver.py serve STORE CLOCK OUT
        Worker.run() with a "work" handler that appends its request key to OUT
        (O_APPEND, one line per call); stops on SIGTERM, then prints "stopped N".
    python worker_driver.py crash STORE CLOCK EFFECTS CALLS SEED [drain]
        Worker.run() with a flaky, idempotent "charge" handler: it logs every
        call's key to CALLS, records the key in the ledger EFFECTS only if it is
        not there yet (under a file lock: several processes share it), and fails
        now and then, before or after recording it. Prints a line per handler
        call and per transition, so that the test can SIGKILL it mid-work.
        With `drain`: runs until no flow has anything left to do, then exits 0.

Both print "ready" once the store is open and the flows are loaded. Time is a
FileClock: the test writes "now" to the CLOCK file and moves it on.
"""

import fcntl
import os
import random
import sys
import time

from flow import FlowRuntime
from flow.retry import RetryPolicy
from flow.worker import Worker

T0 = 1_800_000_000.0

# serve: one request, a sleep, another request (the first is serviced by
# Worker's service path, the second inline when the timer fires)
SERVE_FLOWS = """
(defflow job (lambda (i s)
  (let ((a (request 'work i)))
    (sleep s)
    (list a (request 'work i)))))
"""

# crash: a sleep, a charge, a deadline no handler answers, another charge
CRASH_FLOWS = """
(defflow pay (lambda (i s d)
  (sleep s)
  (let* ((first (request 'charge (list i 1)))
         (approval (request/timeout 'approval i d))
         (second (request 'charge (list i 2))))
    (list first (if (timeout? approval) 'timed-out approval) second))))
"""

CRASH_RETRY = RetryPolicy(max_attempts=40, initial=1.0, backoff=2.0, max_interval=8.0)


class FileClock:
    """A clock shared by processes: now() is the number in a file the test
    writes (atomically, by rename) and moves forward; sleep() waits a short
    real-time while, so a worker loop notices the test moving it on."""

    def __init__(self, path):
        self.path = path

    def now(self):
        with open(self.path) as f:
            return float(f.read())

    def sleep(self, seconds, stop=None):
        wait = min(max(0.0, seconds), 0.02)
        if stop is not None:
            stop.wait(wait)
        else:
            time.sleep(wait)

    @staticmethod
    def write(path, t):
        tmp = f"{path}.{os.getpid()}.tmp"
        with open(tmp, "w") as f:
            f.write(repr(float(t)))
        os.replace(tmp, path)


def runtime(store, clock_path, flows, retry=None):
    rt = FlowRuntime(store=store, clock=FileClock(clock_path), retry=retry)
    rt.load(flows, "workers.scm")
    return rt


def append_line(path, line):
    """One line, one write(2) on an O_APPEND descriptor: never interleaved, and
    in the file (the page cache) as soon as it returns, even if we are killed."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, (line + "\n").encode())
    finally:
        os.close(fd)


def say(*words):
    print(*words, flush=True)


def serve(store, clock_path, out):
    rt = runtime(store, clock_path, SERVE_FLOWS)

    def work(req):
        append_line(out, req.key)
        return f"done-{req.key}"

    w = Worker(rt, handlers={"work": work})
    say("ready")
    n = w.run()  # until SIGTERM
    rt.close()
    say("stopped", n)


class Ledger:
    """The "charge" handler: idempotent by the request key, like a real ledger."""

    def __init__(self, effects, calls, seed):
        self.effects = effects
        self.calls = calls
        self.rng = random.Random(seed)

    def __call__(self, req):
        append_line(self.calls, req.key)
        say("call", req.key)
        r = self.rng.random()
        if r < 0.2:
            raise ConnectionError(f"ledger unreachable ({req.key})")
        self.record(req.key)
        if r < 0.35:
            raise TimeoutError(f"ledger answered too late ({req.key})")  # after the effect
        return f"charged-{req.key}"

    def record(self, key):
        fd = os.open(self.effects, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            with open(fd, "r", closefd=False) as f:
                seen = f.read().split("\n")
            if key not in seen:
                os.write(fd, (key + "\n").encode())
        finally:
            os.close(fd)


def crash(store, clock_path, effects, calls, seed, drain):
    rt = runtime(store, clock_path, CRASH_FLOWS, retry=CRASH_RETRY)
    w = Worker(rt, handlers={"charge": Ledger(effects, calls, seed)},
               on_transition=lambda t: say("transition", t.flow_id, t.what))
    say("ready")
    if not drain:
        w.run()  # until killed
        return
    while True:
        if not w.run_once() and rt.next_wake() is None and not rt.store.waiting_on("charge"):
            break
        time.sleep(0.01)
    rt.close()
    say("drained")


def main(argv):
    mode = argv[1]
    if mode == "serve":
        serve(*argv[2:5])
    elif mode == "crash":
        crash(*argv[2:6], int(argv[6]), argv[7:8] == ["drain"])
    else:
        raise SystemExit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    main(sys.argv)
