"""What mobproc's own code costs per request, without HTTP: a loop calling the token and
introspection endpoints' handle() against a fresh SQLite database, on whatever core this
process is pinned to. `--profile CASE` adds a cProfile of one case.

    taskset -c 0 .venv/bin/python bench/handler_cost.py [--profile refresh]
"""

import argparse
import cProfile
import logging
import os
import pstats
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ap = argparse.ArgumentParser()
ap.add_argument("-n", type=int, default=2000, help="calls per case")
ap.add_argument("--profile", choices=("refresh", "client_credentials", "introspect"))
args = ap.parse_args()

workdir = tempfile.mkdtemp(prefix="mobproc-cost-")
os.environ.update(MOBPROC_DATABASE_URL=f"sqlite:///{workdir}/db.sqlite", MOBPROC_ENVIRONMENT="dev")
exe = str(Path(sys.executable).parent / "mobproc")
SECRET = "s" * 40
for argv, stdin in (
    (["db", "upgrade"], None),
    (["client", "add", "c", "--grant", "password", "--grant", "refresh_token", "--grant", "client_credentials",
      "--grant", "access_token_validation", "--scope", "MOBPROC", "--secret-stdin"], SECRET),
    (["user", "add", "command://u", "--password-stdin", "--tenant", "XYZ"], "pw"),
):
    subprocess.run([exe, *argv], input=stdin, text=True, check=True, capture_output=True)

# The audit lines are formatted and handled as in the server, then dropped.
logging.basicConfig(level=logging.INFO, stream=open(os.devnull, "w"))
from mobproc.config import load_settings  # noqa: E402
from mobproc.oauth2.request import TokenRequest  # noqa: E402
from mobproc.server.app import Services  # noqa: E402

services = Services.build(load_settings())


def request(**params):
    body = "&".join(f"{k}={v}" for k, v in params.items()).encode()
    return TokenRequest.from_http("", body, "application/x-www-form-urlencoded", None, "127.0.0.1")


first = services.token_endpoint.handle(request(grant_type="password", client_id="c", client_secret=SECRET,
                                               username="command://u", password="pw"))
refresh_token, access_token = first["refresh_token"], first["access_token"]


def refresh():
    global refresh_token
    for _ in range(args.n):
        refresh_token = services.token_endpoint.handle(request(
            grant_type="refresh_token", client_id="c", client_secret=SECRET, refresh_token=refresh_token))["refresh_token"]


def client_credentials():
    for _ in range(args.n):
        services.token_endpoint.handle(request(grant_type="client_credentials", client_id="c", client_secret=SECRET))


def introspect():
    for _ in range(args.n):
        services.introspection.handle(request(client_id="c", client_secret=SECRET, token=access_token))


cases = {"refresh": refresh, "client_credentials": client_credentials, "introspect": introspect}
for name, loop in cases.items():
    loop()  # warm-up: caches, compiled statements
    started = time.perf_counter()
    loop()
    print(f"{name:<20} {(time.perf_counter() - started) / args.n * 1e6:7.0f} µs per call")
if args.profile:
    profiler = cProfile.Profile()
    profiler.runcall(cases[args.profile])
    pstats.Stats(profiler).sort_stats(os.environ.get("SORT", "cumulative")).print_stats(30)
