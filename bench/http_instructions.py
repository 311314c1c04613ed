"""Instructions a request costs the whole server over HTTP, counted by callgrind: what
`app_instructions.py` counts in the ASGI app, plus uvicorn's protocol (mobproc's own
`server/http.py`: coalesced writes, the HTTP limits), the event loop and every thread of the
process. The server (`mobproc serve --workers 1`) runs under valgrind on a fresh SQLite
database; a client outside it sends requests one after another on one kept-alive connection,
and only the window of the timed requests is counted (`callgrind_control --zero`, then
`--dump`), warm-up and start-up left out. `--baseline PYTHON` counts another build the same way.

    .venv/bin/python bench/app_instructions.py ...   # the app alone
    .venv/bin/python bench/http_instructions.py [--cases client_credentials,refresh,introspect]
        [--baseline /work/wt-base/.venv/bin/python] [--repeat 3] [--requests 400]

valgrind must be installed (`bench/setup.sh` installs it). About a minute a case and build.
"""

import argparse
import base64
import http.client
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from app_instructions import compare  # noqa: E402
from cost_setup import CLIENT_ID, PASSWORD, SECRET, USERNAME, provision  # noqa: E402
from run import free_port  # noqa: E402

WARM_UP = 50


def deployment(python: str, workdir: str) -> dict:
    """The server's environment, its database in ``workdir`` provisioned by that build."""
    env = {**os.environ, "MOBPROC_DATABASE_URL": f"sqlite:///{workdir}/db.sqlite", "MOBPROC_ENVIRONMENT": "dev",
           "MOBPROC_ARGON2_MEMORY_KIB": "64", "MOBPROC_ARGON2_TIME_COST": "1", "MOBPROC_OPERATIONS_PORT": "0",
           "PYTHONHASHSEED": "0"}
    provision(str(Path(python).parent / "mobproc"), env)
    return env


def count(python: str, case: str, requests: int) -> float:
    """One request's instructions: the server's count over ``requests`` of ``case``, divided."""
    workdir = tempfile.mkdtemp(prefix="mobproc-http-instructions-")
    env = deployment(python, workdir)
    port = free_port()
    out = Path(workdir) / "callgrind.out"
    server = subprocess.Popen(
        ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", python, "-m", "mobproc", "serve",
         "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        connection = _connect(port, server)
        auth = "Basic " + base64.b64encode(f"{CLIENT_ID}:{SECRET}".encode()).decode()
        headers = {"Authorization": auth, "Content-Type": "application/x-www-form-urlencoded"}

        def post(path: str, **form: str) -> dict:
            connection.request("POST", path, urlencode(form), headers)
            answer = connection.getresponse()
            body = answer.read()
            assert answer.status == 200, body
            return json.loads(body)

        login = post("/as/token.oauth2", grant_type="password", username=USERNAME, password=PASSWORD)
        refresh_token = login["refresh_token"]

        def one() -> None:
            nonlocal refresh_token
            if case == "refresh":
                refresh_token = post("/as/token.oauth2", grant_type="refresh_token",
                                     refresh_token=refresh_token)["refresh_token"]
            elif case == "client_credentials":
                post("/as/token.oauth2", grant_type="client_credentials", scope="MOBPROC")
            else:
                post("/as/introspect.oauth2", token=login["access_token"])

        for _ in range(WARM_UP):
            one()
        subprocess.run(["callgrind_control", "--zero", str(server.pid)], check=True, capture_output=True)
        for _ in range(requests):
            one()
        subprocess.run(["callgrind_control", "--dump", str(server.pid)], check=True, capture_output=True)
        connection.close()
    finally:
        server.terminate()
        server.wait(60)
    try:
        return _window(sorted(Path(workdir).glob("callgrind.out*"))) / requests
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _window(dumps: list[Path]) -> int:
    """The instructions of the dump asked for (the window), not of the one made at the end."""
    for dump in dumps:
        text = dump.read_text(errors="replace")
        if re.search(r"^desc: Trigger: dump", text, re.MULTILINE):
            return int(re.search(r"^summary: (\d+)", text, re.MULTILINE).group(1))
    raise RuntimeError(f"no dump of the window among {[d.name for d in dumps]}")


def _connect(port: int, server: subprocess.Popen) -> http.client.HTTPConnection:
    deadline = time.monotonic() + 180  # start-up under valgrind takes a while
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError("the server exited under valgrind")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
            connection.connect()
            return connection
        except OSError:
            time.sleep(0.5)
    raise RuntimeError("the server did not answer under valgrind")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", default="client_credentials,refresh,introspect")
    parser.add_argument("--baseline", help="another build's python")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--requests", type=int, default=400)
    args = parser.parse_args()
    builds = {"this build": sys.executable, **({"baseline": args.baseline} if args.baseline else {})}
    compare(args.cases.split(","), builds, args.repeat, lambda python, case: count(python, case, args.requests))


if __name__ == "__main__":
    main()
