"""Timers for FlowRuntime: firing what is due (sleeps, deadlines, handler
retries) and serving waiting requests with handlers — what a Worker calls.

A mixin of FlowRuntime: it orchestrates (lock, run a step, commit) through the
runtime's own steps; the flow's state changes by its transitions (flow.model).
"""

from contextlib import contextmanager

from interp.errors import ErrorObject

from .clock import SystemClock
from .convert import to_scheme
from .errors import FlowNotFound
from .model import Timer
from .results import Abandoned


class Timers:
    # -------------------------------------------------------------- time

    def due(self, now=None):
        """[(wake time, flow id)] of the flows whose timer, deadline or retry is
        due at `now` (default: the clock's now), earliest first. Read from the
        store's time index: it costs what is due, not how many flows there are."""
        return self.store.due(self.clock.now() if now is None else now)

    def next_wake(self):
        """The earliest wake-up time of any flow, or None."""
        return self.store.next_wake()

    def sleep_until_due(self, seconds, stop=None, kinds=()):
        """Sleep up to `seconds` on the clock (or until `stop` is set). On the
        system clock, a store that announces other processes' commits
        (wait_for_change: PgStore) wakes it early for a flow due sooner or
        waiting on one of `kinds`."""
        waiter = getattr(self.store, "wait_for_change", None)
        if waiter is not None and isinstance(self.clock, SystemClock):
            waiter(seconds, stop, self.clock.now() + seconds, kinds)
        else:
            self.clock.sleep(seconds, stop)

    def fire_due(self, now=None, serve=None, limit=None):
        """Fire every timer due at `now`: a sleep ends, a deadline answers its
        request with a timeout (timeout? x), a failed handler is tried again
        (with serve[kind], or, when serve has none, the request is left for an
        answer by resume). Each fires once, across threads and processes (the
        flow's lock, and a re-check under it). Returns [(flow_id, result)]."""
        now = self.clock.now() if now is None else now
        fired = []
        for _wake, flow_id in self.store.due(now, limit):
            r = self.fire(flow_id, now, serve)
            if r is not None:
                fired.append((flow_id, r))
        return fired

    def fire(self, flow_id, now=None, serve=None, skip_locked=False):
        """Fire flow_id's timer if it is due at `now` -> its result, or None
        when it is not due (any more: another worker fired it) — or, with
        skip_locked, when another thread or process holds the flow right now."""
        now = self.clock.now() if now is None else now
        with self._locked(flow_id, skip_locked) as f:
            if f is None or f.wake is None or f.wake > now or not f.waiting:
                return None
            return self._result(self._fire_locked(f, serve))

    @contextmanager
    def _locked(self, flow_id, skip_locked=False):
        """Hold flow_id's lock; yields its committed state, or None if it does not
        exist — or, with skip_locked, if another thread or process holds it (the
        store's try_lock, where it has one: workers spread out instead of queueing)."""
        flow_id = str(flow_id)
        try_lock = getattr(self.store, "try_lock", None) if skip_locked else None
        with (self.store.lock(flow_id) if try_lock is None else try_lock(flow_id)) as got:
            if got is False:
                yield None
                return
            self._not_running(flow_id)
            try:
                f = self._flow(flow_id)
            except FlowNotFound:
                f = None
            yield f

    def _fire_locked(self, f, serve):
        """f's timer fires (the caller holds its lock) -> f as committed."""
        entries = []
        self._running.add(f.id)
        try:
            if f.timer == Timer.RETRY:
                handler = (serve or {}).get(f.kind.name)
                if handler is None:
                    f.stop_retrying()
                    self._commit(f, entries)
                    return f
                if not self._serve_now(f, handler, serve, entries):
                    return f  # committed, waiting for the next try
            else:
                susp = self._continuation(f)
                if f.timer == Timer.SLEEP:
                    answer = True
                else:  # a deadline
                    answer = self._timeout(f.kind, susp.payload[2])
                outcome, params = self._answer(f, susp, answer, entries)
                self._advance(f, outcome, params, entries, serve, raising=False)
        except Abandoned as a:
            return self._abandoned(self._flow(f.id, decode_data=False), a.stopped)
        finally:
            self._running.discard(f.id)
        self._commit(f, entries)
        return f

    def service(self, flow_id, kind, serve, skip_locked=False):
        """If flow_id waits on a request of `kind` (and is not waiting for a
        retry's time), answer it with serve[kind](Suspended) and run on (serving
        what follows from serve too) -> the flow's result, or None when there
        was nothing to do (another worker did it). A handler that raises is
        tried again under the RetryPolicy (the flow is committed waiting).
        skip_locked: as for fire."""
        with self._locked(flow_id, skip_locked) as f:
            if f is None or f.status != "suspended" or f.kind.name != kind or f.timer == Timer.RETRY:
                return None
            flow_id = f.id
            if f.timer == Timer.DEADLINE and f.wake <= self.clock.now():
                return self._result(self._fire_locked(f, serve))
            entries = []
            self._running.add(flow_id)
            try:
                if not self._serve_now(f, serve[kind], serve, entries):
                    return self._result(f)
            except Abandoned as a:
                return self._result(self._abandoned(self._flow(flow_id, decode_data=False), a.stopped))
            finally:
                self._running.discard(flow_id)
            self._commit(f, entries)
            return self._result(f)

    def _serve_now(self, f, handler, serve, entries):
        """Answer f's request with handler(Suspended) and run on, serving what
        follows from serve (never raising a handler's error). False when the
        handler failed with attempts left: f is committed waiting for its retry."""
        susp = self._continuation(f)
        try:
            answer = to_scheme(handler(self._result(f)))
        except Exception as e:
            if self._handler_failed(f, e, entries):
                return False
            self._advance(f, None, None, entries, serve, applied=True, raising=False)
        else:
            outcome, params = self._answer(f, susp, answer, entries)
            self._advance(f, outcome, params, entries, serve, raising=False)
        return True

    def _timeout(self, kind, seconds):
        """The value a request with a deadline gets when the deadline passes first."""
        return self.interp.call(self.interp.lookup("make-timeout"), kind, seconds)


    def _handler_failed(self, f, error, entries):
        """A handler for f's request raised error. With attempts left, commit f
        waiting for its next try (RetryPolicy: the attempt count and the next
        try's time are durable) and return True; with none left, answer the
        request with a condition the flow can catch (`guard`) and return False."""
        attempts = f.attempts + 1
        message = f"{type(error).__name__}: {error}"
        if attempts < self.retry_policy.max_attempts:
            f.wait_retry(attempts, self.clock.now() + self.retry_policy.delay(attempts), message)
            self._commit(f, entries)
            entries.clear()  # (committed: a caller's commit must not append them again)
            return True
        condition = ErrorObject(
            f"request {f.kind.name} failed after {attempts} attempt{'s' if attempts != 1 else ''}: {message}",
            [f.kind, f.key], kind="request-failed")
        outcome, params = self._answer(f, f.suspension, condition, entries, raised=True)
        self._apply_outcome(f, outcome, params)
        return False

