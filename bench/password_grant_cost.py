"""How much of one password grant is the argon2id verification?

Starts ``mobproc serve`` as a real process on a fresh SQLite file, sends sequential
password grants over HTTP, and times bare argon2id verifications with the same
parameters in this process. Prints medians and the ratio.

    .venv/bin/python bench/password_grant_cost.py [--requests 200]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from argon2 import PasswordHasher

MOBPROC = str(Path(sys.executable).with_name("mobproc"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--port", type=int, default=9131)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "MOBPROC_DATABASE_URL": f"sqlite:///{tmp}/bench.db", "MOBPROC_ACCESS_LOG": "false"}
        secret, password = "b" * 32, "bench password"
        run = lambda *a, stdin="": subprocess.run([MOBPROC, *a], input=stdin, text=True, env=env, check=True,  # noqa: E731
                                                  capture_output=True)
        run("client", "add", "bench", "--grant", "password", "--scope", "MOBPROC", "--secret-stdin", stdin=secret)
        run("user", "add", "command://bench", "--password-stdin", stdin=password)
        server = subprocess.Popen([MOBPROC, "serve", "--port", str(args.port)], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            url = f"http://127.0.0.1:{args.port}/as/token.oauth2"
            form = {"grant_type": "password", "client_id": "bench", "client_secret": secret,
                    "username": "command://bench", "password": password, "scope": "MOBPROC"}
            with httpx.Client(timeout=30) as http:
                for _ in range(100):
                    try:
                        http.post(url, data=form).raise_for_status()
                        break
                    except httpx.TransportError:
                        time.sleep(0.1)
                grant = []
                for _ in range(args.requests):
                    started = time.perf_counter()
                    http.post(url, data=form).raise_for_status()
                    grant.append(time.perf_counter() - started)
        finally:
            server.terminate()
            server.wait()
    hasher = PasswordHasher(memory_cost=19456, time_cost=2, parallelism=1)
    stored = hasher.hash(password)
    bare = []
    for _ in range(args.requests):
        started = time.perf_counter()
        hasher.verify(stored, password)
        bare.append(time.perf_counter() - started)
    g, b = statistics.median(grant) * 1000, statistics.median(bare) * 1000
    print(f"password grant over HTTP, median of {args.requests}: {g:.2f} ms")
    print(f"bare argon2id verify (m=19456 KiB, t=2, p=1), median: {b:.2f} ms")
    print(f"argon2id share of the grant: {b / g:.1%}; everything else: {g - b:.2f} ms")


if __name__ == "__main__":
    main()
