"""The in-process loops of the benchmark (bare_argon2.py, jwt_check.py): call one check over
and over for a while, then print one JSON line as bench/run.py reads it."""

import json
import time
from collections.abc import Callable


def run(check: Callable[[], bool], seconds: float, warmup: float) -> None:
    """Checks per second, the p50 and p99 of one check, and how many checks answered False."""
    _loop(check, warmup)
    latencies, errors = _loop(check, seconds)
    latencies.sort()
    print(json.dumps({
        "rps": len(latencies) / sum(latencies),
        "p50_ms": latencies[len(latencies) // 2] * 1e3,
        "p99_ms": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1e3,
        "requests": len(latencies),
        "errors": errors,
    }))


def _loop(check: Callable[[], bool], seconds: float) -> tuple[list[float], int]:
    latencies, errors = [], 0
    end = time.perf_counter() + seconds
    while (started := time.perf_counter()) < end:
        if not check():
            errors += 1
        latencies.append(time.perf_counter() - started)
    return latencies, errors
