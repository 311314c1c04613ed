"""Answers that take as long as another kind: what keeps the time of an answer from telling
which accounts exist or are locked (CONTRACT §1: "the same answer in the same time")."""

from __future__ import annotations

import statistics
import time
from collections import deque


class Pace:
    """How long something has lately taken (the median of the last 64 times), and a wait until
    something else has taken as long.

    >>> pace = Pace()
    >>> pace.record(0.002)
    >>> started = time.perf_counter(); pace.wait_since(started)
    >>> time.perf_counter() - started >= 0.0015
    True
    """

    def __init__(self) -> None:
        self._recent: deque[float] = deque(maxlen=64)
        # How late time.sleep wakes (tens of microseconds): each wait is shortened by it, or the
        # imitation would be that much slower than what it imitates.
        self._late: deque[float] = deque([0.0], maxlen=64)

    @property
    def known(self) -> bool:
        return bool(self._recent)

    def record(self, seconds: float) -> None:
        self._recent.append(seconds)

    def wait_since(self, started: float) -> None:
        """Sleep until ``started`` (a ``time.perf_counter()``) plus the median time, if that is
        still to come."""
        if not self._recent:
            return
        late = statistics.median(self._late)
        wake = started + statistics.median(self._recent) - late
        pause = wake - time.perf_counter()
        if pause > 0:
            time.sleep(pause)
            self._late.append(time.perf_counter() - wake)
