"""Answers that take as long as another kind: what keeps the time of an answer from telling
which accounts exist or are locked (CONTRACT §1: "the same answer in the same time")."""

from __future__ import annotations

import statistics
import time
from collections import deque


class Pace:
    """How long something has lately taken (the median of the last 64 times), and a wait until
    something else has taken as long.

    The wait is not shortened by how late ``sleep`` tends to wake: that was tried, and an
    estimate learnt only from the waits it shortens stuck once it exceeded them (on a loaded
    machine no wait was left to correct it, and unknown names answered 15 % sooner than wrong
    passwords). Waking late errs on the safe side: a little slower, never faster.

    >>> pace = Pace()
    >>> pace.record(0.002)
    >>> started = time.perf_counter(); pace.wait_since(started)
    >>> time.perf_counter() - started >= 0.002
    True
    """

    def __init__(self) -> None:
        self._recent: deque[float] = deque(maxlen=64)

    @property
    def known(self) -> bool:
        return bool(self._recent)

    def record(self, seconds: float) -> None:
        self._recent.append(seconds)

    def wait_since(self, started: float) -> None:
        """Sleep until ``started`` (a ``time.perf_counter()``) plus the median time, if that is
        still to come."""
        if self._recent:
            pause = started + statistics.median(self._recent) - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
