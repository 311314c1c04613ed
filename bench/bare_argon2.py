"""Ceiling for the password grant: a bare argon2id verification loop with
mobproc's parameters, on whatever core this process is pinned to.

    taskset -c 0 python bare_argon2.py --seconds 10     # prints one JSON line
"""

import argparse

from argon2 import PasswordHasher

import timed_loop

ap = argparse.ArgumentParser()
ap.add_argument("--seconds", type=float, default=10.0)
ap.add_argument("--warmup", type=float, default=1.0)
args = ap.parse_args()

ph = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)  # argon2id
encoded = ph.hash("correct horse battery staple")


timed_loop.run(lambda: ph.verify(encoded, "correct horse battery staple"), args.seconds, args.warmup)
