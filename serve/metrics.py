"""Prometheus metrics of one service: flows by status, transitions, commit latency, timer lateness, webhook outcomes, requests.

Each Metrics has its own registry (several services in one process — tests —
do not mix); `render()` is the text exposition for GET /metrics.
"""

import time

import prometheus_client
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class _FlowsCollector:
    """flowscheme_flows{status}: read at scrape time from the service's listing."""

    def __init__(self, counts):
        self.counts = counts

    def collect(self):
        g = GaugeMetricFamily("flowscheme_flows", "Flows in the store, by status", labels=["status"])
        for status, n in sorted(self.counts().items()):
            g.add_metric([status], n)
        yield g


class Metrics:
    def __init__(self, flow_counts):
        """flow_counts() -> {status: number of flows}."""
        prometheus_client.disable_created_metrics()  # (no *_created series: they are noise here)
        self.registry = r = CollectorRegistry()
        r.register(_FlowsCollector(flow_counts))
        self.transitions = Counter("flowscheme_transitions", "Flow and order transitions made by this service",
                                   ["source", "what"], registry=r)
        self.commit_seconds = Histogram("flowscheme_commit_seconds", "Time to commit one flow transition durably",
                                        registry=r, buckets=(.0005, .001, .0025, .005, .01, .025, .05, .1, .25,
                                                             .5, 1, 2.5))
        self.timer_lateness = Histogram("flowscheme_timer_lateness_seconds",
                                        "How long after its wake time a timer, deadline or retry fired",
                                        registry=r, buckets=(.01, .05, .1, .25, .5, 1, 2, 5, 10, 30, 60, 300))
        self.webhooks = Counter("flowscheme_webhooks", "Payment webhook deliveries by outcome", ["outcome"],
                                registry=r)
        self.requests = Counter("flowscheme_http_requests", "HTTP requests by method, route and status",
                                ["method", "route", "status"], registry=r)
        self.request_seconds = Histogram("flowscheme_http_request_seconds", "HTTP request latency by route",
                                         ["route"], registry=r)
        self.in_flight = Gauge("flowscheme_http_in_flight", "HTTP requests being served now", registry=r)
        self.worker_errors = Counter("flowscheme_worker_errors", "Errors the worker met (it carries on)",
                                     registry=r)

    def watch_commits(self, store):
        """Time every commit of `store` (wraps its commit method on this instance)."""
        inner = store.commit
        hist = self.commit_seconds
        if getattr(inner, "_timed", False):
            return

        def commit(*args, **kw):
            t = time.perf_counter()
            try:
                return inner(*args, **kw)
            finally:
                hist.observe(time.perf_counter() - t)

        commit._timed = True
        store.commit = commit

    def render(self):
        return generate_latest(self.registry)


