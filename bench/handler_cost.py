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
import time

from cost_setup import CLIENT_ID, PASSWORD, SECRET, USERNAME, fresh_deployment, token_request as request

ap = argparse.ArgumentParser()
ap.add_argument("-n", type=int, default=2000, help="calls per case")
ap.add_argument("--profile", choices=("refresh", "client_credentials", "introspect"))
args = ap.parse_args()

fresh_deployment("mobproc-cost-")

# The audit lines are formatted and handled as in the server, then dropped.
logging.basicConfig(level=logging.INFO, stream=open(os.devnull, "w"))
from mobproc.config import load_settings  # noqa: E402
from mobproc.services import Services  # noqa: E402

services = Services.build(load_settings())


AUTH = {"client_id": CLIENT_ID, "client_secret": SECRET}
first = services.token_endpoint.handle(request(grant_type="password", username=USERNAME, password=PASSWORD, **AUTH))
refresh_token, access_token = first["refresh_token"], first["access_token"]


def refresh():
    global refresh_token
    for _ in range(args.n):
        refresh_token = services.token_endpoint.handle(request(
            grant_type="refresh_token", refresh_token=refresh_token, **AUTH))["refresh_token"]


def client_credentials():
    for _ in range(args.n):
        services.token_endpoint.handle(request(grant_type="client_credentials", **AUTH))


def introspect():
    for _ in range(args.n):
        services.introspection.handle(request(token=access_token, **AUTH))


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
