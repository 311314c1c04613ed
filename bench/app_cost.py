"""What the ASGI app costs per request, without uvicorn and sockets: mobproc's app and the
bare Starlette ceiling (bare_starlette.py), called directly on uvloop by 32 concurrent tasks
(wrk's 32 connections), against a fresh SQLite database. What is left between these figures
and the benchmark's is the server's HTTP parsing and the kernel, the same for both apps.
Log lines are formatted and handled as `mobproc serve` does, then written to /dev/null.

    taskset -c 0 .venv/bin/python bench/app_cost.py [-n 20000] [--profile CASE]
"""

import argparse
import asyncio
import cProfile
import json
import logging.config
import os
import pstats
import time

import uvloop

from bare_starlette import app as bare
from cost_setup import CLIENT_ID, PASSWORD, SECRET, USERNAME, fresh_deployment

ap = argparse.ArgumentParser()
ap.add_argument("-n", type=int, default=20000, help="requests per case and app")
ap.add_argument("--profile", choices=("refresh", "client_credentials", "introspect"),
                help="a cProfile of mobproc's app on this case (cProfile inflates C calls)")
args = ap.parse_args()
TASKS = 32

fresh_deployment("mobproc-app-cost-")

from mobproc.server.app import create_app  # noqa: E402
from mobproc.server.logs import log_config  # noqa: E402

config = log_config()
config["handlers"]["stderr"] = {"class": "logging.FileHandler", "filename": os.devnull, "formatter": "default"}
logging.config.dictConfig(config)

APPS = {"bare Starlette": bare, "mobproc": create_app()}


async def call(app, path: str, body: bytes) -> dict:
    answer = {}

    async def receive() -> dict:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict) -> None:
        answer.update(message)

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
        "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
        "headers": [(b"host", b"127.0.0.1"), (b"content-type", b"application/x-www-form-urlencoded"),
                    (b"content-length", str(len(body)).encode())],
        "client": ("127.0.0.1", 40000), "server": ("127.0.0.1", 8000),
    }
    await app(scope, receive, send)
    return json.loads(answer["body"])


def form(**params: str) -> bytes:
    return "&".join(f"{k}={v}" for k, v in params.items()).encode()


AUTH = {"client_id": CLIENT_ID, "client_secret": SECRET}


async def login() -> dict:
    return await call(APPS["mobproc"], "/as/token.oauth2",
                      form(grant_type="password", username=USERNAME, password=PASSWORD, **AUTH))


async def measure(app, case: str, profiler: cProfile.Profile | None) -> float:
    """µs per request, over args.n requests by TASKS concurrent tasks."""
    access_token = (await login())["access_token"]

    async def worker(n: int, refresh_token: str) -> None:
        for _ in range(n):
            if case == "refresh":
                answer = await call(app, "/as/token.oauth2",
                                    form(grant_type="refresh_token", refresh_token=refresh_token, **AUTH))
                refresh_token = answer["refresh_token"]
            elif case == "client_credentials":
                await call(app, "/as/token.oauth2", form(grant_type="client_credentials", scope="MOBPROC", **AUTH))
            else:
                await call(app, "/as/introspect.oauth2", form(token=access_token, **AUTH))

    async def run(n: int, profiler: cProfile.Profile | None = None) -> float:
        # A refresh token of its own for each task: real logins, made before the clock starts.
        seeds = [(await login())["refresh_token"] for _ in range(TASKS)] if case == "refresh" else [""] * TASKS
        if profiler:
            profiler.enable()
        started = time.perf_counter()
        await asyncio.gather(*(worker(n // TASKS, seed) for seed in seeds))
        elapsed = time.perf_counter() - started
        if profiler:
            profiler.disable()
        return elapsed / (n // TASKS * TASKS) * 1e6

    await run(TASKS * 50)  # warm-up: caches, compiled statements
    return await run(args.n, profiler)


async def main() -> None:
    if args.profile:
        profiler = cProfile.Profile()
        await measure(APPS["mobproc"], args.profile, profiler)
        pstats.Stats(profiler).sort_stats(os.environ.get("SORT", "cumulative")).print_stats(40)
        return
    for case in ("refresh", "client_credentials", "introspect"):
        costs = {name: await measure(app, case, None) for name, app in APPS.items()}
        print(f"{case:<20}" + "".join(f" {name} {cost:6.0f} µs" for name, cost in costs.items())
              + f"  ratio {costs['bare Starlette'] / costs['mobproc']:.2f}")


uvloop.run(main())
