"""Worker: moves flows on by themselves — fires what is due (timers, deadlines,
handler retries) and services the requests it has handlers for.

    w = Worker(rt, handlers={"credit-check": check_credit})
    w.run_once()          # -> [Transition(...)]: what it did, now
    w.run(stop=event)     # loop: sleep until the next wake-up time; SIGTERM/SIGINT stop it

A handler takes the request (a `Suspended`: flow_id, kind, payload, key) and
returns the answer; it must be idempotent by the key (after a crash a request
is serviced again under the same key). One that raises is tried again under
the runtime's RetryPolicy. Several workers — threads or processes on one store —
fire every timer once and service every request once: each transition holds
the flow's lock and re-checks the flow under it.
"""

import signal
import threading
import time
from typing import Any, NamedTuple

from .errors import FlowError, StoreWriteError
from .runtime import Failed, NotWaiting


PAUSE = 0.5  # seconds before a flow whose commit the store failed to write is tried again
MAX_PAUSE = 30.0


class Transition(NamedTuple):
    flow_id: str
    what: str  # "fired" (a timer, deadline or retry), "served KIND", or "error" (result: the FlowError)
    result: Any  # the flow's result afterwards (Suspended, Done, Failed, Sleeping, ...)


class Worker:
    def __init__(self, rt, handlers=None, on_transition=None, idle=1.0):
        """handlers: {kind: fn(Suspended) -> answer}; on_transition(Transition)
        is called after each one (say, to print it); idle: the longest sleep
        between looks when nothing is due (other processes may add work)."""
        self.rt = rt
        self.handlers = dict(handlers or {})
        self.on_transition = on_transition
        self.idle = idle
        self.stop_event = threading.Event()
        self._stuck = {}  # flow id -> what failed for it (see _try)
        self._paused = {}  # flow id -> (failures in a row, monotonic time to try again) after store write errors

    def run_once(self, now=None):
        """Fire everything due and service every waiting request a handler
        answers; returns the transitions made. Once stopped (stop(), a
        signal) it returns after the transition under way."""
        rt = self.rt
        done = []
        now = rt.clock.now() if now is None else now
        for wake, flow_id in rt.due(now):  # (rt.fire_due, but stopping when told to)
            if self.stop_event.is_set():
                return done
            if self._stuck.get(flow_id) == ("fire", wake) or self._pausing(flow_id):
                continue
            result = self._try(flow_id, ("fire", wake), lambda: rt.fire(flow_id, now, serve=self.handlers,
                                                                                skip_locked=True))
            if result is not None:  # (None: another worker fired it)
                done.append(self._note(Transition(flow_id, "fired", result)))
        for kind in self.handlers:
            for flow_id in rt.store.waiting_on(kind):
                if self.stop_event.is_set():
                    return done
                if self._stuck.get(flow_id) == ("serve", kind) or self._pausing(flow_id):
                    continue
                result = self._try(flow_id, ("serve", kind), lambda: rt.service(flow_id, kind, self.handlers,
                                                                                     skip_locked=True))
                if result is not None:
                    done.append(self._note(Transition(flow_id, f"served {kind}", result)))
        return done

    def _try(self, flow_id, what, action):
        """action() for one flow; a FlowError (its code not loaded, a replay
        that diverges, a malformed store entry) is reported as an "error"
        transition and that flow left alone by this worker until its state
        changes — the others carry on. A StoreWriteError is reported too, and
        the flow tried again after a pause."""
        try:
            result = action()
        except StoreWriteError as e:
            # the store could not write (a cut connection, a restarting server, a
            # full disk): nothing was done, so the flow is tried again after a pause
            # (doubling from PAUSE to MAX_PAUSE seconds while it keeps failing)
            failures = self._paused.get(flow_id, (0, 0))[0] + 1
            self._paused[flow_id] = (failures, time.monotonic() + min(MAX_PAUSE, PAUSE * 2 ** (failures - 1)))
            self._note(Transition(flow_id, "error", e))
            return None
        except FlowError as e:
            self._stuck[flow_id] = what
            self._paused.pop(flow_id, None)
            self._note(Transition(flow_id, "error", e))
            return None
        self._stuck.pop(flow_id, None)
        self._paused.pop(flow_id, None)
        return result

    def _pausing(self, flow_id):
        paused = self._paused.get(flow_id)
        return paused is not None and time.monotonic() < paused[1]

    def _note(self, t):
        if self.on_transition is not None:
            self.on_transition(t)
        return t

    def run(self, stop=None, signals=True, max_transitions=None):
        """Loop until stop (a threading.Event) is set, a SIGTERM or SIGINT
        arrives (when signals and in the main thread: the step under way
        finishes first), or max_transitions were made. Sleeps until the next
        wake-up time (at most `idle` seconds), never busy-polls. Returns the
        number of transitions made."""
        if stop is not None:
            self.stop_event = stop
        restore = self._install_signals() if signals else None
        count = 0
        try:
            while not self.stop_event.is_set():
                did = self.run_once()
                count += len(did)
                if max_transitions is not None and count >= max_transitions:
                    break
                if did:
                    continue
                nxt = self.rt.next_wake()
                now = self.rt.clock.now()
                wait = self.idle if nxt is None else min(self.idle, max(0.0, nxt - now))
                if wait <= 0:  # due, yet nothing done: another worker holds it (skipped), or it is stuck
                    wait = min(self.idle, 0.05)
                self.rt.sleep_until_due(wait, self.stop_event, kinds=self.handlers)
        finally:
            if restore is not None:
                restore()
        return count

    def stop(self):
        self.stop_event.set()

    def _install_signals(self):
        if threading.current_thread() is not threading.main_thread():
            return None
        old = {}

        def handler(signum, frame):
            self.stop_event.set()

        for sig in (signal.SIGTERM, signal.SIGINT):
            old[sig] = signal.signal(sig, handler)

        def restore():
            for sig, h in old.items():
                signal.signal(sig, h)

        return restore


def describe(t):
    """One line for a transition, as `flowscheme worker` prints it."""
    r = t.result
    name = type(r).__name__
    if name == "Suspended":
        state = f"waits on {r.kind} ({r.key})"
    elif name == "Done":
        state = "done"
    elif name == "Sleeping":
        state = f"sleeps until {time.strftime('%Y-%m-%d %H:%M:%S', time.gmtime(r.until))}Z"
    elif isinstance(r, Failed):
        state = f"failed: {r.error.message}"
    elif isinstance(r, NotWaiting):
        state = r.status
    elif isinstance(r, Exception):
        state = f"{type(r).__name__}: {r}"
    else:
        state = str(r)
    return f"{t.flow_id}: {t.what} -> {state}"
