"""Prometheus metrics for the proxy, in a registry of its own (several apps in one process, as
in tests, do not collide)."""

from __future__ import annotations

LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 16, 32, 64, 128)


class ProxyMetrics:
    def __init__(self):
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
        from prometheus_client.exposition import CONTENT_TYPE_LATEST

        self.registry = CollectorRegistry()
        self.content_type = CONTENT_TYPE_LATEST
        self.requests = Counter("alignstack_requests_total", "Chat requests by status and policy",
                                ["status", "policy"], registry=self.registry)
        self.corrected = Counter("alignstack_corrected_total", "Answers the corrector changed",
                                 registry=self.registry)
        self.latency = Histogram("alignstack_request_seconds", "End-to-end latency",
                                 buckets=LATENCY_BUCKETS, registry=self.registry)
        self.ttft = Histogram("alignstack_time_to_first_token_seconds",
                              "Streaming: time to the first content chunk",
                              buckets=LATENCY_BUCKETS, registry=self.registry)
        self.disconnected = Counter("alignstack_disconnected_total",
                                    "Streams the client closed before their end",
                                    registry=self.registry)
        self.in_flight = Gauge("alignstack_in_flight", "Requests admitted and not yet answered",
                               registry=self.registry)

    def count(self, status: int, policy: str) -> None:
        self.requests.labels(str(status), policy).inc()

    def observe(self, status: int, policy: str, latency: float, ttft: float | None,
                corrected: bool) -> None:
        self.count(status, policy)
        self.latency.observe(latency)
        if ttft is not None:
            self.ttft.observe(ttft)
        if corrected:
            self.corrected.inc()

    def render(self) -> str:
        from prometheus_client import generate_latest

        return generate_latest(self.registry).decode("utf-8")
