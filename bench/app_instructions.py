"""Instructions a request costs in the ASGI app, counted by callgrind: what `app_cost.py` times,
without the host's noise. Each case runs twice under valgrind, SHORT and LONG requests after one
login, in one process on a fresh SQLite database (the checkpoint thread off: it runs by the
clock, and valgrind's clock is fifty times slower); the difference over LONG - SHORT requests
is one request's count, start-up and imports cancelled out. As under `mobproc serve`, what start-up
made is frozen out of the garbage collector's sight. `--baseline PYTHON` counts another
build's app the same way (its venv runs this script), side by side.

    .venv/bin/python bench/app_instructions.py [--cases client_credentials,refresh,introspect]
        [--baseline /work/wt-base/.venv/bin/python] [--repeat 3]

valgrind must be installed (`bench/setup.sh` installs it). `--repeat N` counts each case and
build N times, the builds alternating, and prints the median and the range. About a minute a
case and build (its two runs side by side on two cores).
"""

import argparse
import gc
import json
import logging.config
import os
import re
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

SHORT, LONG = 20, 520
HERE = Path(__file__).resolve().parent


def count(python: str, case: str, requests: int) -> int:
    """Instructions of a whole run: a fresh deployment, one login, then ``requests`` of ``case``."""
    out = Path(tempfile.mkdtemp(prefix="mobproc-callgrind-")) / "callgrind.out"
    # One hash seed for every run: a random one moved the count of a request by up to 5 % (the
    # paths dict and set lookups take), as much as the builds differ.
    env = {**os.environ, "MOBPROC_ARGON2_MEMORY_KIB": "64", "MOBPROC_ARGON2_TIME_COST": "1", "PYTHONHASHSEED": "0"}
    done = subprocess.run(
        ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", python, __file__, "--child", case, str(requests)],
        env=env, capture_output=True, text=True, check=True,
    )
    out.unlink()
    return int(re.search(r"Collected : (\d+)", done.stderr).group(1))


def child(case: str, requests: int) -> None:
    sys.path.insert(0, str(HERE))
    from cost_setup import CLIENT_ID, PASSWORD, SECRET, USERNAME, fresh_deployment

    fresh_deployment("mobproc-instructions-")
    import uvloop

    import mobproc.storage.database as database

    database.Database._checkpoints = lambda self, interval: None  # noqa: SLF001 - by the clock, see above
    from mobproc.server.app import create_app
    from mobproc.server.logs import log_config

    config = log_config()
    config["handlers"]["stderr"] = {"class": "logging.FileHandler", "filename": os.devnull, "formatter": "default"}
    logging.config.dictConfig(config)
    app = create_app()
    gc.collect()
    gc.freeze()  # as `mobproc serve` does (server/app.py): start-up's objects out of the collector's walks
    auth = {"client_id": CLIENT_ID, "client_secret": SECRET}

    async def call(path: str, **form: str) -> dict:
        body = "&".join(f"{k}={v}" for k, v in {**form, **auth}.items()).encode()
        answer: dict = {}

        async def receive() -> dict:
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: dict) -> None:
            answer.update(message)

        await app({"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
                   "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
                   "headers": [(b"host", b"127.0.0.1"), (b"content-type", b"application/x-www-form-urlencoded"),
                               (b"content-length", str(len(body)).encode())],
                   "client": ("127.0.0.1", 40000), "server": ("127.0.0.1", 8000)}, receive, send)
        return json.loads(answer["body"])

    async def run() -> None:
        login = await call("/as/token.oauth2", grant_type="password", username=USERNAME, password=PASSWORD)
        refresh_token = login["refresh_token"]
        for _ in range(requests):
            if case == "refresh":
                refresh_token = (await call("/as/token.oauth2", grant_type="refresh_token",
                                            refresh_token=refresh_token))["refresh_token"]
            elif case == "client_credentials":
                await call("/as/token.oauth2", grant_type="client_credentials", scope="MOBPROC")
            else:
                await call("/as/introspect.oauth2", token=login["access_token"])

    uvloop.run(run())


def per_request(python: str, case: str) -> float:
    """One request's instructions: a LONG run less a SHORT one, both counted at once."""
    with ThreadPoolExecutor(2) as pool:
        long, short = pool.map(lambda n: count(python, case, n), (LONG, SHORT))
    return (long - short) / (LONG - SHORT)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", default="client_credentials,refresh,introspect")
    parser.add_argument("--baseline", help="another build's python (its venv in its own checkout)")
    parser.add_argument("--repeat", type=int, default=1, help="counts of each case and build (median, range)")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], int(args.child[1]))
        return
    builds = {"this build": sys.executable, **({"baseline": args.baseline} if args.baseline else {})}
    compare(args.cases.split(","), builds, args.repeat, per_request)


def compare(cases: list[str], builds: dict[str, str], repeat: int, counted: Callable[[str, str], float]) -> None:
    """Each case counted ``repeat`` times a build by ``counted(python, case)``, the builds
    alternating (so that a drift of the machine falls on both): the median and range of each,
    and this build's ÷ the baseline's."""
    for case in cases:
        counts: dict[str, list[float]] = {name: [] for name in builds}
        for _ in range(repeat):
            for name, python in builds.items():
                counts[name].append(counted(python, case))
        median = {name: statistics.median(values) for name, values in counts.items()}
        line = f"{case:<20}" + "".join(
            f" {name} {median[name]:>9,.0f} ({min(values):,.0f}–{max(values):,.0f})" for name, values in counts.items())
        if "baseline" in builds:
            line += f"  this ÷ baseline {median['this build'] / median['baseline']:.3f}"
        print(line, flush=True)


if __name__ == "__main__":
    main()
