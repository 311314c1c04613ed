"""Prometheus metrics of the domain (lockouts, reuse, password hashing, database failures),
and the exposition of every metric. With several worker processes each writes its own file
under ``PROMETHEUS_MULTIPROC_DIR`` (set by ``mobproc serve``) and a scrape of any worker
sums them. The HTTP edge's own metrics (requests by route, latency) are in
:mod:`mobproc.server.metrics`."""

from __future__ import annotations

import functools
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    generate_latest,
    multiprocess,
)

from .domain import audit
from .domain.audit import AuditEvent
from .domain.passwords import HashingAdmission, HashingCapacityExceeded

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
# Identity sources beyond the built-in table (directories), by source system: the label values
# come from the configuration, never from a request.
SOURCE_UNAVAILABLE = Counter(
    "mobproc_identity_source_unavailable_total",
    "Logins and refreshes answered 503 because a source system's directory failed, by why: unreachable, "
    "timeout, service_bind, busy (its admission control), error",
    ["source_system", "reason"],
)
SOURCE_UP = Gauge(
    "mobproc_identity_source_up",
    "1 when the last connection to a source system's directory succeeded, 0 when every URL failed",
    ["source_system"], multiprocess_mode="livemin",
)
SOURCE_IN_FLIGHT = Gauge(
    "mobproc_identity_source_in_flight", "Logins being checked against a source system's directory now",
    ["source_system"], multiprocess_mode="livesum",
)


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


_COUNTED = {audit.ACCOUNT_LOCKED: LOCKOUTS, audit.REFRESH_REUSE: REUSE_DETECTED}


def count_event(event: AuditEvent) -> None:
    """An audit trail listener: counts the events operators alert on, once each is on record."""
    counter = _COUNTED.get(event.event)
    if counter is not None:
        counter.inc()


class MeteredHashingAdmission(HashingAdmission):
    """Admission control for password hashing, with its load and its refusals as metrics."""

    in_flight, refused = HASHING_IN_FLIGHT, HASHING_REFUSED

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        try:
            async with super().slot():
                self.in_flight.inc()
                try:
                    yield
                finally:
                    self.in_flight.dec()
        except HashingCapacityExceeded:
            self.refused.inc()
            raise


class MeteredSourceAdmission(MeteredHashingAdmission):
    """A directory's own admission control (its connections), metered by source system."""

    def __init__(self, source_system: str, concurrency: int, queue: int, wait: float) -> None:
        super().__init__(concurrency, queue, wait)
        self.in_flight = SOURCE_IN_FLIGHT.labels(source_system)
        self.refused = SOURCE_UNAVAILABLE.labels(source_system, "busy")


def source_state(source_system: str):  # noqa: ANN201
    """A directory's listener of its connection state: the ``mobproc_identity_source_up`` gauge."""
    gauge = SOURCE_UP.labels(source_system)
    gauge.set(1)
    return lambda up: gauge.set(1 if up else 0)
