"""Prometheus metrics. With several worker processes each writes its own file under
``PROMETHEUS_MULTIPROC_DIR`` (set by ``mobproc serve``) and a scrape of any worker sums them."""

from __future__ import annotations

import functools
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client import multiprocess
from starlette.types import Scope

from ..domain import audit
from ..domain.audit import AuditEvent, AuditLog
from ..domain.passwords import HashingAdmission, HashingCapacityExceeded

REQUESTS = Counter("mobproc_http_requests_total", "HTTP requests answered", ["endpoint", "status"])
LATENCY = Histogram(
    "mobproc_http_request_duration_seconds",
    "Time to answer, by endpoint",
    ["endpoint"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
TOKEN_REQUESTS = Counter(
    "mobproc_token_requests_total", "Token endpoint requests by grant type and outcome", ["grant_type", "outcome"]
)
HASHING_IN_FLIGHT = Gauge(
    "mobproc_password_hashing_in_flight", "Password verifications running now", multiprocess_mode="livesum"
)
HASHING_REFUSED = Counter("mobproc_password_hashing_refused_total", "Password grants refused by admission control")
LOCKOUTS = Counter("mobproc_account_lockouts_total", "Accounts locked after repeated failed passwords")
REUSE_DETECTED = Counter("mobproc_refresh_token_reuse_total", "Consumed refresh tokens presented again (grant revoked)")
DATABASE_ERRORS = Counter("mobproc_database_errors_total", "Requests answered 503 because the database failed")


@functools.lru_cache(maxsize=1024)
def labelled(metric, *values: str):  # noqa: ANN001, ANN201
    """``metric.labels(*values)``, remembered: labels() validates, converts and takes a lock on
    every call, a measurable part of a fast request; the values here come from small fixed
    sets (known paths, statuses, grant types), so the cache stays small."""
    return metric.labels(*values)


def render() -> tuple[bytes, str]:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    from prometheus_client import REGISTRY

    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


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


class MeteredAuditLog:
    """The audit trail, counting the events operators alert on as they are recorded."""

    COUNTED = {audit.ACCOUNT_LOCKED: LOCKOUTS, audit.REFRESH_REUSE: REUSE_DETECTED}

    def __init__(self, trail: AuditLog) -> None:
        self._trail = trail

    def record(self, event: AuditEvent) -> None:
        counter = self.COUNTED.get(event.event)
        if counter is not None:
            counter.inc()
        self._trail.record(event)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._trail, name)  # reading the trail (``events``) is the trail's


class MeteredHashingAdmission(HashingAdmission):
    """Admission control for password hashing, with its load and its refusals as metrics."""

    @contextmanager
    def slot(self) -> Iterator[None]:
        try:
            with super().slot():
                HASHING_IN_FLIGHT.inc()
                try:
                    yield
                finally:
                    HASHING_IN_FLIGHT.dec()
        except HashingCapacityExceeded:
            HASHING_REFUSED.inc()
            raise
