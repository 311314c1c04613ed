"""Ceiling for the password grant: a bare argon2id verification loop with
mobproc's parameters, on whatever core this process is pinned to.

    taskset -c 0 python bare_argon2.py --seconds 10     # prints one JSON line
"""

import argparse
import json
import time

from argon2 import PasswordHasher

ap = argparse.ArgumentParser()
ap.add_argument("--seconds", type=float, default=10.0)
ap.add_argument("--warmup", type=float, default=1.0)
args = ap.parse_args()

ph = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)  # argon2id
encoded = ph.hash("correct horse battery staple")


def loop(seconds):
    lat = []
    end = time.perf_counter() + seconds
    while (t0 := time.perf_counter()) < end:
        ph.verify(encoded, "correct horse battery staple")
        lat.append(time.perf_counter() - t0)
    return lat


loop(args.warmup)
lat = loop(args.seconds)
lat.sort()
print(json.dumps({
    "rps": len(lat) / sum(lat),
    "p50_ms": lat[len(lat) // 2] * 1e3,
    "p99_ms": lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1e3,
    "requests": len(lat),
    "errors": 0,
}))
