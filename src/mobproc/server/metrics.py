"""The HTTP edge's Prometheus metrics: every answer counted and timed by route. The domain's
own metrics and the exposition are in :mod:`mobproc.telemetry`."""

from __future__ import annotations

from prometheus_client import Counter, Histogram
from starlette.types import Scope

from ..telemetry import labelled

REQUESTS = Counter("mobproc_http_requests_total", "HTTP requests answered", ["endpoint", "status"])
LATENCY = Histogram(
    "mobproc_http_request_duration_seconds",
    "Time to answer, by endpoint",
    ["endpoint"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)


class RequestMetrics:
    """An :class:`~.observing.AnswerObserver` that counts and times every answer by route.
    Only known paths become label values: a label made of whatever path a client sends
    would grow without bound."""

    def __init__(self, known_paths: frozenset[str]) -> None:
        self.known_paths = known_paths

    def observe(self, scope: Scope, status: int, seconds: float) -> None:
        endpoint = scope["path"] if scope["path"] in self.known_paths else "other"
        labelled(REQUESTS, endpoint, str(status)).inc()
        labelled(LATENCY, endpoint).observe(seconds)
