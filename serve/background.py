"""The worker beside the HTTP server: a thread that fires the shop's payment deadlines (Shop.run_due) and the other flows' timers and retries (flow.worker.Worker).

It first finishes what a crash left half-done (Shop.recover), then loops:
order flows are fired by the Shop (which serves their release request and
records it in the ledger), every other flow by a Worker that sees the runtime
without them. Each transition is published on the service's change feed and
counted in its metrics (with the timer's lateness). stop() lets the step under
way finish, then the thread ends. An error (a flow whose code is not loaded,
say) is logged and counted, and the loop carries on.
"""

import logging
import threading

from commerce.orders import ORDER_FLOWS
from flow.errors import FlowNotFound
from flow.worker import Worker

log = logging.getLogger("flowscheme.serve")


class _OtherFlows:
    """The runtime as the Worker sees it: due order flows left out (the Shop fires those)."""

    def __init__(self, rt):
        self._rt = rt

    def __getattr__(self, name):
        return getattr(self._rt, name)

    def due(self, now=None):
        out = []
        for wake, flow_id in self._rt.due(now):
            try:
                name = self._rt.flow(flow_id, data=False).name
            except FlowNotFound:
                continue
            if name not in ORDER_FLOWS:
                out.append((wake, flow_id))
        return out


class BackgroundWorker:
    def __init__(self, service, idle=1.0):
        self.service = service
        self.idle = idle
        self.stop_event = threading.Event()
        self.wake_event = threading.Event()
        self.thread = None
        self.passes = 0
        self.recovered = None  # how many orders Shop.recover moved at start (None: not yet)
        self.worker = Worker(_OtherFlows(service.rt), on_transition=self._transition, idle=idle)
        self.worker.stop_event = self.stop_event
        self._wakes = {}
        self._last_error = None

    def start(self):
        self.thread = threading.Thread(target=self._run, name="flowscheme-worker", daemon=True)
        self.thread.start()

    def alive(self):
        return self.thread is not None and self.thread.is_alive()

    def stop(self, timeout=30.0):
        self.stop_event.set()
        self.wake_event.set()
        if self.thread is not None:
            self.thread.join(timeout)

    def poke(self):
        """Look again now (something may have become due)."""
        self.wake_event.set()

    def _error(self, what, e):
        self.service.metrics.worker_errors.inc()
        text = f"{what}: {type(e).__name__}: {e}"
        if text != self._last_error:  # (the same error every pass is said once)
            log.error("worker %s", text)
            self._last_error = text

    def _run(self):
        shop = self.service.shop
        try:
            self.recovered = shop.recover()
            if self.recovered:
                log.info("worker: recovered %d order(s) a crash left half-done", self.recovered)
        except Exception as e:  # RecoveryError: the others were recovered
            self.recovered = getattr(e, "moved", 0)
            self._error("recover", e)
        try:
            self.service.listing_view()  # warm the listing cache (every flow's row read once)
        except Exception as e:
            self._error("listing", e)
        while not self.stop_event.is_set():
            did = self.run_once()
            self.passes += 1
            if did or self.stop_event.is_set():
                continue
            rt = self.service.rt
            try:
                nxt = rt.next_wake()
            except Exception as e:
                self._error("next_wake", e)
                nxt = None
            wait = self.idle if nxt is None else min(self.idle, max(0.0, nxt - rt.clock.now()))
            if wait > 0:
                self.wake_event.wait(wait)
                self.wake_event.clear()

    def run_once(self):
        """One pass: the shop's due deadlines, then the other flows' timers. How many transitions."""
        rt, shop, service = self.service.rt, self.service.shop, self.service
        now = rt.clock.now()
        try:
            self._wakes = dict((flow_id, wake) for wake, flow_id in rt.due(now))
        except Exception as e:
            self._error("due", e)
            return 0
        did = 0
        if self._wakes:
            try:
                moved = shop.run_due(now)
            except Exception as e:
                self._error("run_due", e)
                moved = []
            for order_id, status in moved:
                did += 1
                self._lateness(order_id)
                service.metrics.transitions.labels("worker", "fired").inc()
                service.publish(type="order", id=order_id, status=status, action="deadline")
        if self.stop_event.is_set():
            return did
        try:
            did += len(self.worker.run_once(now))
        except Exception as e:
            self._error("worker", e)
        return did

    def _lateness(self, flow_id):
        wake = self._wakes.get(flow_id)
        if wake is not None:
            self.service.metrics.timer_lateness.observe(max(0.0, self.service.rt.clock.now() - wake))

    def _transition(self, t):
        service = self.service
        if t.what == "error":
            self._error(f"flow {t.flow_id}", t.result)
            return
        if t.what == "fired":
            self._lateness(t.flow_id)
        state = type(t.result).__name__.lower()
        service.metrics.transitions.labels("worker", t.what.split()[0]).inc()
        service.publish(type="worker", id=t.flow_id, what=t.what, state=state)
