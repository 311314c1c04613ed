#!/usr/bin/env python3
"""mobproc's benchmark harness.

Each server runs as a real process pinned to core 0 and is driven by wrk pinned
to core 1 (this harness also keeps to core 1). Every server gets a fresh temp
dir and SQLite database, one client and USERS users, a readiness wait and a
sanity check of every case; all of them stay up, stopped (SIGSTOP) but for
their turns. Then RUNS rounds: in each, every case runs once on every server in
turn, after a warm-up, so that the figures a ratio divides are measured minutes
apart at most (median of the rounds reported). The growth case does the same
with each target's servers, one per size. The password grant against a directory's accounts
runs last, beside its own ceiling (a bare search + bind loop against the same slapd,
run_directory). Writes bench/results.json,
bench/results/results.md and bench/results/chart.png.

    bench/.venv-peers/bin/python bench/run.py                 # everything
    bench/.venv-peers/bin/python bench/run.py --only peers,ceilings
    QUICK=1 bench/.venv-peers/bin/python bench/run.py         # under 5 minutes

mobproc is --mobproc or $MOBPROC_BIN, by default the repo's .venv/bin/mobproc. With
--baseline EXE (another build of mobproc, e.g. a worktree of an earlier commit), that build
runs beside it in every round as "mobproc before", its password turns bracketed by the
argon2id loop as mobproc's are, and results.md gets a before/after table: each case's ratio
to the same ceiling, before and after. Both builds then run the token endpoint's cases alone
(the baseline's), so that their databases grow alike through the run.
"""

import argparse
import base64
import concurrent.futures
import dataclasses
import hashlib
import json
import os
import platform
import re
import secrets
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack, closing, contextmanager
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Callable

import httpx

BENCH = Path(__file__).resolve().parent
PEERS = BENCH / "peers"
WRK = BENCH / "wrk"
PY = sys.executable  # the peers' venv: setup.sh makes it, the Makefile runs us with it
SERVER_CORE, LOAD_CORE = "0", "1"
OAUTH_CASES = ["password", "refresh", "client_credentials", "introspect"]
# The MOBPROC v1 API, mobproc's own and the ceilings' only: /ping through the door (an opaque
# token, and on the JWT target a JWT), and a page of 50 orders of a tenant holding API_ORDERS.
API_CASES = ["api_ping", "api_orders"]
API_PATHS = {"api_ping": ("/mobproc/v1/ping?echoText=bench", '"SUCCESS"'),
             "api_orders": ("/mobproc/v1/orders?limit=50", '"orders"')}
API_ORDERS = 10_000
# Interactive sign-in (issue 20), mobproc's own: the code flow of a browser already signed in
# (authorize with its session cookie -> code -> token: two requests a flow), and a sign-in on the
# login page with a password (-> a session and a code), beside the password grant.
SIGN_IN_CASES = ["code_flow", "sign_in"]
WEB_CLIENT_ID = "bench-web"
WEB_REDIRECT_URI = "http://127.0.0.1:8000/cb"
WEB_VERIFIER = "v" + secrets.token_urlsafe(48)
CASES = OAUTH_CASES + SIGN_IN_CASES + API_CASES
USERS = 8
CLIENT_ID = "bench-client"
# Fresh per run; they only guard loopback servers that live for one benchmark.
CLIENT_SECRET = "s" + secrets.token_urlsafe(24)  # never "-…", which argparse takes for an option
PASSWORD = "pw-" + secrets.token_urlsafe(12)


# ----------------------------------------------------------------- mobproc hook

def mobproc_insert_live_tokens(env: dict, db_path: Path, count: int, client_id: str,
                               username: str) -> None:
    """Insert `count` live grants -- each an access + refresh token pair, as one password
    login of `username` by `client_id` leaves them -- straight into mobproc's SQLite
    database at `db_path` (the server is stopped). Rows match src/mobproc/storage/schema.py
    and what storage/tokens.py writes: a token is stored as the SHA-256 of its value
    (`lookup`), every token hangs off a grant row carrying the account's attributes. One
    transaction, executemany in chunks, ids assigned here (no RETURNING per row).
    """
    import hashlib

    environment = env["MOBPROC_ENVIRONMENT"]
    source_system, name = username.split("://", 1) if "://" in username else ("", username)
    now = time.time()
    access_expires, refresh_expires, grant_expires = now + 7200, now + 30 * 86400, now + 30 * 86400
    with closing(sqlite3.connect(db_path, isolation_level=None)) as con:
        con.execute("PRAGMA synchronous = OFF")
        # The unique lookup indexes take random keys: keep their pages in memory, not in the WAL.
        con.execute("PRAGMA cache_size = -1000000")
        (client_pk,) = con.execute("SELECT id FROM clients WHERE environment = ? AND client_id = ?",
                                   (environment, client_id)).fetchone()
        account_id, tenant, multitenant, domain = con.execute(
            "SELECT id, tenant, multitenant, domain FROM accounts WHERE environment = ? AND"
            " source_system = ? AND name = ?", (environment, source_system, name)).fetchone()
        con.execute("BEGIN")
        first = {t: (con.execute(f"SELECT coalesce(max(id), 0) FROM {t}").fetchone()[0] + 1)
                 for t in ("grants", "access_tokens", "refresh_tokens")}
        sha = hashlib.sha256
        chunk = 50_000
        for start in range(0, count, chunk):
            n = min(chunk, count - start)
            ids = range(first["grants"] + start, first["grants"] + start + n)
            con.executemany(
                "INSERT INTO grants (id, environment, client_pk, account_id, grant_type, subject,"
                " scope, source_system, tenant, multitenant, domain, created_at, expires_at)"
                " VALUES (?, ?, ?, ?, 'password', ?, 'MOBPROC', ?, ?, ?, ?, ?, ?)",
                ((g, environment, client_pk, account_id, username, source_system, tenant,
                  multitenant, domain, now, grant_expires) for g in ids))
            con.executemany(
                "INSERT INTO access_tokens (id, lookup, environment, grant_id, scope, issued_at,"
                " expires_at) VALUES (?, ?, ?, ?, 'MOBPROC', ?, ?)",
                ((first["access_tokens"] + g - first["grants"], sha(os.urandom(21)).digest(),
                  environment, g, now, access_expires) for g in ids))
            con.executemany(
                "INSERT INTO refresh_tokens (id, lookup, environment, grant_id, generation,"
                " issued_at, expires_at) VALUES (?, ?, ?, ?, 0, ?, ?)",
                ((first["refresh_tokens"] + g - first["grants"], sha(os.urandom(32)).digest(),
                  environment, g, now, refresh_expires) for g in ids))
        con.execute("COMMIT")
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")


# ------------------------------------------------------------------- targets

@dataclass
class Target:
    name: str                      # row label
    group: str                     # "peer", "ceiling", "stack" or "mobproc"
    token_path: str = "/oauth/token"
    introspect_path: str = "/oauth/introspect"
    prefix: str = "user"           # username = prefix + index
    cc_client: str = CLIENT_ID     # DOT needs a second application for client_credentials
    cases: tuple = tuple(OAUTH_CASES)
    growth: bool = False           # also run the growth case
    provision: Callable = None     # (workdir, env) -> None
    command: Callable = None       # (workdir, port) -> argv
    env: Callable = lambda w: {}   # workdir -> extra environment
    bulk: Callable = None          # (workdir, env, count) -> None
    cwd: Path = BENCH
    notes: str = ""

    def environ(self, workdir):
        e = dict(os.environ, BENCH_DB=str(workdir / "db.sqlite"), **self.env(workdir))
        e.pop("DJANGO_SETTINGS_MODULE", None)
        return e


def run_quiet(argv, env, cwd=None, stdin=None):
    """Run a setup command; raise with its output when it fails."""
    p = subprocess.run(argv, env=env, cwd=cwd, input=stdin, capture_output=True, text=True,
                       timeout=600)
    if p.returncode:
        raise RuntimeError(f"{' '.join(map(str, argv[:3]))}… failed: {p.stderr[-2000:]}")
    return p.stdout


def flask_targets():
    d = PEERS / "flask_authlib"
    common = dict(
        cwd=d,
        provision=lambda w, e: run_quiet(
            [PY, "app.py", "provision", "--db", w / "db.sqlite", "--client-id", CLIENT_ID,
             "--client-secret", CLIENT_SECRET, "--users", str(USERS), "--password", PASSWORD], e, d),
        bulk=lambda w, e, n: run_quiet([PY, "app.py", "tokens", "--db", w / "db.sqlite",
                                        "--count", str(n)], e, d),
    )
    gunicorn = str(Path(PY).parent / "gunicorn")
    return [
        Target("flask-authlib shipped", "peer", notes="flask run (Werkzeug), SQLite defaults",
               command=lambda w, p: [str(Path(PY).parent / "flask"), "--app", "app:create_app",
                                     "run", "--host", "127.0.0.1", "--port", str(p)], **common),
        # gunicorn's documented worker count, (2 x cores) + 1, for one core.
        Target("flask-authlib tuned", "peer", growth=True, env=lambda w: {"BENCH_WAL": "1"},
               notes="gunicorn -w 3 (sync), SQLite WAL",
               command=lambda w, p: [gunicorn, "-w", "3", "-b", f"127.0.0.1:{p}",
                                     "app:create_app()"], **common),
    ]


def dot_targets(run_dir):
    d = PEERS / "django_oauth_toolkit"
    manage = [PY, "manage.py"]
    template = run_dir / "dot-migrated.sqlite"

    def provision(hash_secret):
        def f(w, e):
            # `migrate` as documented, once per harness run; each server gets a copy.
            if not template.exists():
                run_quiet(manage + ["migrate", "-v0"], dict(e, BENCH_DB=str(template)), d)
            shutil.copy(template, w / "db.sqlite")
            run_quiet(manage + ["bench_provision", "--client-id", CLIENT_ID,
                                "--client-secret", CLIENT_SECRET, "--users", str(USERS),
                                "--password", PASSWORD]
                      + ([] if hash_secret else ["--no-hash-client-secret"]), e, d)
        return f

    bulk = lambda w, e, n: run_quiet(manage + ["bench_tokens", "--count", str(n)], e, d)
    gunicorn = lambda w, p: [str(Path(PY).parent / "gunicorn"), "-w", "3", "-b",
                             f"127.0.0.1:{p}", "benchsite.wsgi"]
    common = dict(token_path="/o/token/", introspect_path="/o/introspect/",
                  cc_client=CLIENT_ID + "-cc", bulk=bulk, cwd=d)
    return [
        Target("django-oauth-toolkit shipped", "peer", provision=provision(True),
               notes="manage.py runserver, DEBUG on, SQLite defaults, client secrets hashed",
               command=lambda w, p: manage + ["runserver", f"127.0.0.1:{p}"], **common),
        Target("django-oauth-toolkit tuned", "peer", provision=provision(True),
               env=lambda w: {"BENCH_TUNED": "1"}, command=gunicorn,
               notes="gunicorn -w 3 (sync), DEBUG off, SQLite WAL, client secrets hashed", **common),
        # Growth runs here: with hashing on, argon2 on every client hides the database.
        Target("django-oauth-toolkit tuned, secret hashing off", "peer", growth=True,
               provision=provision(False), env=lambda w: {"BENCH_TUNED": "1"}, command=gunicorn,
               notes="as tuned, hash_client_secret=False", **common),
    ]


def node_targets():
    d = PEERS / "node_oauth2_server"
    server = ["node", str(d / "server.js")]
    common = dict(
        cwd=d,
        provision=lambda w, e: run_quiet(
            server + ["provision", "--db", w / "db.sqlite", "--client-id", CLIENT_ID,
                      "--client-secret", CLIENT_SECRET, "--users", str(USERS),
                      "--password", PASSWORD], e, d),
        bulk=lambda w, e, n: run_quiet(server + ["tokens", "--db", w / "db.sqlite",
                                                 "--count", str(n)], e, d),
    )
    serve = lambda w, p: server + ["serve", "--db", str(w / "db.sqlite"), "--port", str(p)]
    return [
        Target("node-oauth2-server shipped", "peer", command=serve,
               notes="node http, SQLite defaults", **common),
        Target("node-oauth2-server tuned", "peer", growth=True, env=lambda w: {"NODE_ENV": "production"},
               command=lambda w, p: serve(w, p) + ["--wal"],
               notes="NODE_ENV=production, SQLite WAL", **common),
    ]


# mobproc serves with uvicorn's httptools protocol writing each answer in one go
# (src/mobproc/server/http.py): the ceiling runs on that same stack.
MOBPROC_HTTP = "mobproc.server.http:CoalescingHttpToolsProtocol"


def ceiling_target(python, http="auto"):
    return Target(
        "ceiling: bare Starlette on uvicorn", "ceiling", cases=("refresh", "client_credentials",
                                                                "introspect", "api_ping"),
        token_path="/as/token.oauth2", introspect_path="/as/introspect.oauth2",
        provision=lambda w, e: None,
        command=lambda w, p: [python, "-m", "uvicorn", "bare_starlette:app", "--host",
                              "127.0.0.1", "--port", str(p), "--no-access-log", "--http", http,
                              "--log-level", "warning", "--app-dir", str(BENCH)],
        notes=f"parses the form, answers a token-sized JSON body; --http {http}; {python}")


def stack_target():
    """The ceiling's app on another server, granian (Rust, on hyper), from the peers' venv:
    whether a faster server under mobproc would lift it is measured, not assumed."""
    return Target(
        "stack: bare Starlette on granian", "stack", cases=("refresh", "client_credentials",
                                                             "introspect", "api_ping"),
        token_path="/as/token.oauth2", introspect_path="/as/introspect.oauth2",
        provision=lambda w, e: None,
        # Its single-threaded runtime and uvloop: one core, as every server here has.
        command=lambda w, p: [Path(PY).with_name("granian"), "--interface", "asgi", "--host",
                              "127.0.0.1", "--port", str(p), "--workers", "1",
                              "--runtime-mode", "st", "--loop", "uvloop", "--no-access-log",
                              "--log-level", "warning", "bare_starlette:app"],
        notes="the ceiling's app on granian: one worker, single-threaded runtime, uvloop")


def bare(group):
    """A ceiling's app checks nothing: any token will do, and there is nothing to check first."""
    return group in ("ceiling", "stack")


# A saturating benchmark keeps all 32 connections' password grants waiting for the one
# core's argon2id: the admission queue must hold them (the default 16 answers 503 to the
# rest) and let each wait about 32 x 25 ms. Lockout and the failure budgets stay at their
# defaults: every login here is right, so they never trigger (a success gives the budget back).
MOBPROC_BENCH_SETTINGS = {"MOBPROC_HASHING_QUEUE": "64", "MOBPROC_HASHING_WAIT_MS": "5000"}
# Several mobproc servers run at once here: none of them opens the operations listener (/metrics),
# whose default port they would all want.
MOBPROC_QUIET_OPERATIONS = {"MOBPROC_OPERATIONS_PORT": "0"}


def mobproc_target(exe, *, api=True):
    def provision(w, e):
        run_quiet([exe, "db", "upgrade"], e)
        run_quiet([exe, "client", "add", CLIENT_ID, "--grant", "password", "--grant",
                   "refresh_token", "--grant", "client_credentials", "--grant",
                   "access_token_validation", "--scope", "MOBPROC", "--secret-stdin"], e,
                  stdin=CLIENT_SECRET)
        if api:  # a baseline build (api=False) may predate the sign-in too
            run_quiet([exe, "client", "add", WEB_CLIENT_ID, "--grant", "authorization_code", "--public",
                       "--trusted", "--scope", "MOBPROC", "--redirect-uri", WEB_REDIRECT_URI], e)
        for i in range(USERS):
            run_quiet([exe, "user", "add", f"command://user{i}", "--password-stdin",
                       "--tenant", "XYZ"], e, stdin=PASSWORD)
        # The MOBPROC v1 API's tenant XYZ (the demo's), its accounts the users, and its orders.
        if api:
            run_quiet([Path(exe).with_name("python"), BENCH / "api_seed.py", "--database",
                       e["MOBPROC_DATABASE_URL"], "--orders", str(API_ORDERS), "--accounts",
                       *(f"command://user{i}" for i in range(USERS))], e)

    return Target(
        "mobproc", "mobproc", token_path="/as/token.oauth2",
        introspect_path="/as/introspect.oauth2", prefix="command://user", growth=True,
        cases=(*OAUTH_CASES, *SIGN_IN_CASES, *API_CASES) if api else tuple(OAUTH_CASES),
        provision=provision,
        command=lambda w, p: [exe, "serve", "--host", "127.0.0.1", "--port", str(p),
                              "--workers", "1"],
        bulk=lambda w, e, n: mobproc_insert_live_tokens(
            e, w / "db.sqlite", n, CLIENT_ID, "command://user0"),
        # w is absolute, so this is the sqlite:////abs/path form
        env=lambda w: {"MOBPROC_DATABASE_URL": f"sqlite:///{w / 'db.sqlite'}",
                       "MOBPROC_ENVIRONMENT": "dev", **MOBPROC_BENCH_SETTINGS, **MOBPROC_QUIET_OPERATIONS},
        notes="mobproc serve --workers 1, access log on; "
              + ", ".join(f"{k}={v}" for k, v in MOBPROC_BENCH_SETTINGS.items()))


def mobproc_jwt_target(exe):
    """mobproc issuing JWT access tokens: the API's door checks their signature and then finds
    the token's row (a revocation is seen at once), where an opaque token is found by digest."""
    mob = mobproc_target(exe)
    return dataclasses.replace(
        mob, name="mobproc, JWT access tokens", group="mobproc-jwt", cases=("api_ping",), growth=False,
        env=lambda w: {**mob.env(w), "MOBPROC_ACCESS_TOKEN_FORMAT": "jwt"},
        notes=mob.notes + ", MOBPROC_ACCESS_TOKEN_FORMAT=jwt")


# ------------------------------------------------------------------- running

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_split(pid_group):
    """(user, system) clock ticks used so far by every process of the group."""
    user = system = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            f = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(f[2]) == pid_group:  # f[2] is the process group
            user, system = user + int(f[11]), system + int(f[12])  # utime, stime
    return user, system


class Server:
    """One server process pinned to SERVER_CORE, in its own process group."""

    def __init__(self, target, workdir, env):
        self.t, self.workdir, self.port = target, workdir, free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = open(workdir / "server.log", "ab")
        argv = ["taskset", "-c", SERVER_CORE, *map(str, target.command(workdir, self.port))]
        self.proc = subprocess.Popen(argv, cwd=target.cwd, env=env, stdout=self.log,
                                     stderr=subprocess.STDOUT, start_new_session=True)

    def wait_ready(self, timeout=60):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.tail()}")
            try:
                httpx.post(self.base + self.t.token_path, data={}, timeout=2)
                return
            except httpx.TransportError:
                time.sleep(0.2)
        raise RuntimeError(f"server not answering after {timeout}s: {self.tail()}")

    def cpu_ticks(self):
        """CPU time used so far by the server's process group, in clock ticks."""
        return sum(cpu_split(self.proc.pid))

    def wait_idle(self, timeout=15.0, window=0.2):
        """Until the server uses under a fifth of its core."""
        hz = os.sysconf("SC_CLK_TCK")
        end = time.monotonic() + timeout
        before = self.cpu_ticks()
        while time.monotonic() < end:
            time.sleep(window)
            now = self.cpu_ticks()
            if (now - before) / hz < window / 5:
                return
            before = now

    def tail(self):
        self.log.flush()
        return (self.workdir / "server.log").read_text(errors="replace")[-1500:]

    def stop(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)  # our own group: runserver's reloader child too
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        # Workers may outlive their parent; the next server must have the core alone.
        for _ in range(50):
            try:
                os.killpg(self.proc.pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.2)
        else:
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.log.close()


class Client:
    """The few real requests the harness makes itself: sanity checks and seeds."""

    def __init__(self, target, base):
        self.t, self.http = target, httpx.Client(base_url=base, timeout=30)

    def _post(self, path, data, expect):
        r = self.http.post(path, data=data)
        body = r.json() if r.headers.get("content-type", "").startswith("application/json") else {}
        if r.status_code != 200 or expect not in body:
            raise RuntimeError(f"POST {path} {data.get('grant_type', '')}: {r.status_code} {r.text[:300]}")
        return body

    def password(self, i=0):
        return self._post(self.t.token_path, {
            "grant_type": "password", "username": f"{self.t.prefix}{i}", "password": PASSWORD,
            "scope": "MOBPROC", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET},
            "refresh_token")

    def refresh(self, token):
        return self._post(self.t.token_path, {
            "grant_type": "refresh_token", "refresh_token": token, "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET}, "refresh_token")

    def client_credentials(self):
        return self._post(self.t.token_path, {
            "grant_type": "client_credentials", "scope": "MOBPROC", "client_id": self.t.cc_client,
            "client_secret": CLIENT_SECRET}, "access_token")

    def api_get(self, case, token):
        path, expect = API_PATHS[case]
        r = self.http.get(path, headers=api_headers(token))
        if r.status_code != 200 or expect not in r.text:
            raise RuntimeError(f"GET {path}: {r.status_code} {r.text[:300]}")
        return r.json()

    def introspect(self, token):
        body = self._post(self.t.introspect_path, {
            "token": token, "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}, "active")
        if body["active"] is not True:
            raise RuntimeError(f"introspection says inactive: {body}")
        return body

    def login_page(self):
        """The login page of a code-flow request: its transaction cookie and CSRF token."""
        self.http.cookies.clear()  # a browser not signed in yet
        r = self.http.get("/as/authorization.oauth2", params=authorize_params())
        csrf = re.search(r'name="csrf_token" value="([0-9a-f]+)"', r.text)
        if r.status_code != 200 or csrf is None:
            raise RuntimeError(f"GET /as/authorization.oauth2: {r.status_code} {r.text[:300]}")
        return f"mobproc_login={r.cookies['mobproc_login']}", csrf.group(1)

    def session_cookie(self, i=0):
        """Sign in once on the login page: the browser session's cookie."""
        login, csrf = self.login_page()
        r = self.http.post("/as/authorization.oauth2", headers={"Cookie": login}, data={
            **authorize_params(), "csrf_token": csrf, "action": "login", "username": f"{self.t.prefix}{i}",
            "password": PASSWORD})
        if r.status_code != 303 or "code=" not in r.headers.get("location", ""):
            raise RuntimeError(f"sign-in: {r.status_code} {r.text[:300]}")
        return f"mobproc_session={r.cookies['mobproc_session']}"

    def code_flow(self, cookie):
        r = self.http.get("/as/authorization.oauth2", params=authorize_params(), headers={"Cookie": cookie})
        code = re.search(r"[?&]code=([A-Za-z0-9]+)", r.headers.get("location", ""))
        if r.status_code != 302 or code is None:
            raise RuntimeError(f"authorize: {r.status_code} {r.text[:300]}")
        return self._post(self.t.token_path, {
            "grant_type": "authorization_code", "code": code.group(1), "client_id": WEB_CLIENT_ID,
            "redirect_uri": WEB_REDIRECT_URI, "code_verifier": WEB_VERIFIER}, "access_token")

    def seeds(self, n):
        """n fresh refresh tokens, by real password grants."""
        with concurrent.futures.ThreadPoolExecutor(4) as ex:
            return list(ex.map(lambda i: self.password(i % USERS)["refresh_token"], range(n)))


def pkce_challenge(verifier):
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


def authorize_params():
    return {"response_type": "code", "client_id": WEB_CLIENT_ID, "redirect_uri": WEB_REDIRECT_URI,
            "scope": "MOBPROC", "state": "bench", "code_challenge": pkce_challenge(WEB_VERIFIER),
            "code_challenge_method": "S256"}


def api_headers(token):
    return {"Authorization": f"Bearer {token}", "X-TNGO-TENANT": "XYZ", "client_id": CLIENT_ID}


def wrk(script, url, args, duration, connections):
    argv = ["taskset", "-c", LOAD_CORE, "wrk", "-t1", f"-c{connections}", f"-d{duration}s",
            "--timeout", "10s", "-s", str(WRK / script), url, "--",
            *(f"{k}={v}" for k, v in args.items())]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=duration + 60).stdout
    line = next((l for l in out.splitlines() if l.startswith("JSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no summary: {out[-1000:]}")
    r = json.loads(line[5:])
    e = r["errors"]
    return {"rps": r["rps"], "p50_ms": r["p50_us"] / 1e3, "p99_ms": r["p99_us"] / 1e3,
            "requests": r["requests"],
            # "bad" covers non-200 answers and 200s with the wrong body.
            "errors": e["connect"] + e["read"] + e["write"] + e["timeout"] + e["bad"]}


def summarize(runs):
    return {"rps": statistics.median(r["rps"] for r in runs),
            "p50_ms": statistics.median(r["p50_ms"] for r in runs),
            "p99_ms": statistics.median(r["p99_ms"] for r in runs),
            "errors": sum(r["errors"] for r in runs), "runs": runs}


def paired_ratios(mine, other):
    """``mine`` ÷ ``other`` (two case results), round by round: each pair was measured a
    minute or two apart, so the host's drift over a run (10-20 %) cancels out of each ratio."""
    theirs = {r.get("round", i + 1): r["rps"] for i, r in enumerate(other.get("runs", ()))}
    return [r["rps"] / theirs[k] for i, r in enumerate(mine.get("runs", ()))
            if theirs.get(k := r.get("round", i + 1))]


def paired_ratio(mine, other):
    """The median of the round-by-round ratios (the ratio of the medians for a result without
    its runs); None when either was not measured."""
    if not mine or not other or "rps" not in mine or "rps" not in other:
        return None
    by_round = paired_ratios(mine, other)
    return statistics.median(by_round) if by_round else (mine["rps"] / other["rps"] if other["rps"] else None)


FAST_CASES = ("refresh", "client_credentials", "introspect")


def issue_targets(targets):
    """The benchmark issue's targets, each as measured in this run: the median of its ratio's
    round-by-round values, those values, and whether the median reaches the goal."""
    by_name = {t["name"]: t for t in targets if "cases" in t}
    mob = next((t for t in by_name.values() if t["group"] == "mobproc"), None)
    checks = []

    def check(name, goal, mine, other, against):
        ratio = paired_ratio(mine, other)
        if ratio is not None:
            checks.append({"target": name, "goal": goal, "against": against, "ratio": ratio,
                           "by_round": [round(r, 3) for r in paired_ratios(mine, other)],
                           "met": ratio >= goal})

    # The directory's own (run alone with --servers directory, too).
    for scheme in DIRECTORY_SCHEMES:
        directory, directory_loop = (by_name.get(name) for name in directory_names(scheme))
        if directory and directory_loop:
            check(f"password (directory, {{{scheme}}}) ÷ search + bind loop", 0.8, directory["cases"].get("password"),
                  directory_loop["cases"].get("password"), directory_loop["name"])
    if mob is None:
        return checks

    loop = by_name.get("ceiling: argon2id verify loop")
    if loop:
        check("password ÷ argon2id loop", 0.95, mob["cases"].get("password"),
              loop["cases"].get("password"), loop["name"])
    # Issue 20: a sign-in on the login page within 10 % of a password grant (same run, same rounds).
    check("sign_in ÷ password grant", 0.9, mob["cases"].get("sign_in"), mob["cases"].get("password"), mob["name"])
    stack = next((t for t in by_name.values() if t["group"] == "ceiling" and t is not loop
                  and not t["name"].startswith(DIRECTORY_LOOP)), None)
    python = [t for t in by_name.values() if t["group"] == "peer" and "tuned" in t["name"]
              and not t["name"].startswith("node")]
    node = by_name.get("node-oauth2-server tuned")
    for case in FAST_CASES:
        mine = mob["cases"].get(case)
        if stack:
            check(f"{case} ÷ bare stack", 0.5, mine, stack["cases"].get(case), stack["name"])
        measured = [t for t in python if "rps" in t["cases"].get(case, {})]
        if measured:  # the fastest tuned Python peer of this case
            fastest = max(measured, key=lambda t: t["cases"][case]["rps"])
            check(f"{case} ÷ fastest tuned Python peer", 5.0, mine, fastest["cases"][case], fastest["name"])
        if node:
            check(f"{case} ÷ tuned Node peer", 1.0, mine, node["cases"].get(case), node["name"])
    # The MOBPROC v1 API's /ping beside the bare stack's: the whole door (token, headers) and
    # FastAPI against a route that reads the headers and answers.
    jwt = next((t for t in by_name.values() if t["group"] == "mobproc-jwt"), None)
    if stack:
        check("api_ping, opaque token ÷ bare stack", 0.3, mob["cases"].get("api_ping"),
              stack["cases"].get("api_ping"), stack["name"])
        if jwt:
            check("api_ping, JWT ÷ bare stack", 0.4, jwt["cases"].get("api_ping"),
                  stack["cases"].get("api_ping"), stack["name"])
    sizes = sorted(mob.get("growth", {}), key=int)
    if len(sizes) >= 2:
        small, large = mob["growth"][sizes[0]], mob["growth"][sizes[-1]]
        for case in ("refresh", "introspect"):
            check(f"{case} at {int(sizes[-1]):,} ÷ at {int(sizes[0]):,} live tokens", 0.9,
                  large.get(case), small.get(case), f"mobproc, {int(sizes[0]):,} live tokens")
    return checks


def before_after(targets):
    """Each case's ratio to the same ceiling, for the baseline build (before) and this one
    (after), each the median of its round-by-round ratios, and after ÷ before."""
    by_name = {t["name"]: t for t in targets if "cases" in t}
    mob = next((t for t in by_name.values() if t["group"] == "mobproc"), None)
    base = next((t for t in by_name.values() if t["group"] == "baseline"), None)
    stack = next((t for t in by_name.values() if t["group"] == "ceiling" and "argon2" not in t["name"]
                  and not t["name"].startswith(DIRECTORY_LOOP)), None)
    loop, base_loop = by_name.get("ceiling: argon2id verify loop"), by_name.get(
        "ceiling: argon2id verify loop, around mobproc before")
    rows = []
    if not (mob and base):
        return rows
    for case in CASES:
        ceiling, base_ceiling = (loop, base_loop) if case == "password" else (stack, stack)
        if not ceiling or not base_ceiling:
            continue
        after = paired_ratio(mob["cases"].get(case), ceiling["cases"].get(case))
        before = paired_ratio(base["cases"].get(case), base_ceiling["cases"].get(case))
        if after is None or before is None:
            continue
        rows.append({"case": case, "ceiling": ceiling["name"], "before": before, "after": after,
                     "change": after / before - 1,
                     "before_by_round": [round(r, 3) for r in paired_ratios(base["cases"][case], base_ceiling["cases"][case])],
                     "after_by_round": [round(r, 3) for r in paired_ratios(mob["cases"][case], ceiling["cases"][case])]})
    return rows


@contextmanager
def serving(target, cfg, prepare):
    """A fresh workdir, made ready by ``prepare(workdir, env)``, and the target serving on it;
    the server's log tail if anything fails, and afterwards the server stopped and the workdir
    removed (unless --keep)."""
    workdir = Path(tempfile.mkdtemp(dir=cfg.run_dir))
    env = target.environ(workdir)
    server = None
    try:
        prepare(workdir, env)
        server = Server(target, workdir, env)
        server.wait_ready()
        yield server, workdir
    except Exception:
        if server:
            print(server.tail(), file=sys.stderr)
        raise
    finally:
        if server:
            server.stop()
        if not cfg.keep:
            shutil.rmtree(workdir, ignore_errors=True)


class Stage:
    """A target's server, provisioned and checked, stopped (SIGSTOP) but for its turns: every
    server stays up through the run, so that each case's runs of all of them can alternate."""

    def __init__(self, label, target, server, client, workdir, cfg, token):
        self.label, self.t, self.server, self.client = label, target, server, client
        self.workdir, self.cfg, self.token = workdir, cfg, token
        self.runs, self.errors = {}, {}  # case -> timed runs, case -> why it stopped

    def pause(self):
        self.server.wait_idle()  # the last run's queued requests first (wrk leaves one per connection)
        os.killpg(self.server.proc.pid, signal.SIGSTOP)

    def resume(self):
        os.killpg(self.server.proc.pid, signal.SIGCONT)
        self.server.wait_ready()
        self.server.wait_idle()  # whatever it postponed while stopped: gunicorn's worker check

    def turn(self, case, warmup):
        """A warm-up and one timed run of the case, the server running only meanwhile."""
        cfg = self.cfg
        duration = max(cfg.duration, cfg.password_seconds) if case in ("password", "sign_in") else cfg.duration
        self.resume()
        try:
            if warmup:
                self.once(case, warmup)
                self.server.wait_idle()
            return self.once(case, duration)
        finally:
            self.pause()

    def once(self, case, duration):
        return wrk(*self.load(case), duration, self.cfg.connections)

    def load(self, case):
        """wrk's script, URL and script arguments for a run of ``case``; for a refresh run, the
        fresh refresh tokens it starts from, got now."""
        auth = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
        t = self.t
        url = self.server.base + (t.introspect_path if case == "introspect" else t.token_path)
        if case == "password":
            return "password.lua", url, dict(auth, password=PASSWORD, users=USERS, prefix=t.prefix)
        if case == "refresh":
            seeds = self.workdir / "seeds.txt"
            n = self.cfg.connections + 4  # one per connection, a few spare
            tokens = (self.client.seeds(n) if not bare(t.group)
                      else [secrets.token_urlsafe(31) for _ in range(n)])
            seeds.write_text("\n".join(tokens) + "\n")
            return "refresh.lua", url, dict(auth, tokens=seeds)
        if case == "client_credentials":
            return "client_credentials.lua", url, dict(auth, client_id=t.cc_client)
        web = dict(client_id=WEB_CLIENT_ID, redirect_uri=WEB_REDIRECT_URI, challenge=pkce_challenge(WEB_VERIFIER))
        if case == "code_flow":
            return "code_flow.lua", self.server.base, dict(web, cookie=self.client.session_cookie(),
                                                           verifier=WEB_VERIFIER)
        if case == "sign_in":
            cookie, csrf = self.client.login_page()
            return "sign_in.lua", self.server.base + "/as/authorization.oauth2", dict(
                web, cookie=cookie, csrf=csrf, password=PASSWORD, users=USERS, prefix=t.prefix)
        if case in API_CASES:
            path, expect = API_PATHS[case]
            return "api_get.lua", self.server.base + path, dict(token=self.token, tenant="XYZ",
                                                                 client_id=CLIENT_ID, expect=expect)
        return "introspect.lua", url, dict(auth, token=self.token)

    def results(self):
        return {**{case: summarize(runs) for case, runs in self.runs.items() if runs},
                **{case: {"error": why} for case, why in self.errors.items()}}


@contextmanager
def staged(label, target, cfg, cases, bulk_count=0):
    """The target served on a fresh database (with ``bulk_count`` live tokens more), each case
    checked once by a real request, and paused until its first turn."""

    def prepare(workdir, env):
        # Provision once per target; its other (growth) servers start from a copy.
        template = cfg.run_dir / (target.name.replace(" ", "_").replace(",", "") + ".sqlite")
        if not template.exists():
            target.provision(workdir, env)
            with closing(sqlite3.connect(workdir / "db.sqlite")) as con:
                con.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # all of it in the one file
            shutil.copy(workdir / "db.sqlite", template)
        else:
            shutil.copy(template, workdir / "db.sqlite")
        if bulk_count:
            t0 = time.monotonic()
            target.bulk(workdir, env, bulk_count)
            os.sync()  # the inserted rows written out now, not by the kernel during the timed runs
            print(f"    inserted {bulk_count:,} live tokens in {time.monotonic() - t0:.1f}s", flush=True)

    with serving(target, cfg, prepare) as (server, workdir):
        client = Client(target, server.base)
        token = (secrets.token_urlsafe(21) if bare(target.group)
                 else client.password(1)["access_token"])
        stage = Stage(label, target, server, client, workdir, cfg, token)
        checks = {  # each case must work once before it is timed
            "password": lambda: client.password(),
            "refresh": lambda: client.refresh(client.password()["refresh_token"]),
            "client_credentials": lambda: client.client_credentials(),
            "introspect": lambda: client.introspect(token),
            "code_flow": lambda: client.code_flow(client.session_cookie()),
            "sign_in": lambda: client.session_cookie(1),
            **{case: (lambda case=case: client.api_get(case, token)) for case in API_CASES},
        }
        for case in cases:
            try:
                if not bare(target.group):
                    checks[case]()
                stage.runs[case] = []
            except Exception as e:  # a case not built yet must not cost the others
                stage.errors[case] = str(e)[:300]
                print(f"    {case:<19} FAILED its check: {e}", flush=True)
        stage.pause()
        try:
            yield stage
        finally:
            os.killpg(server.proc.pid, signal.SIGCONT)  # so that it can take its SIGTERM


def measure_in_rounds(entries, cfg, t_start, argon2_runs=None, baseline_argon2_runs=None):
    """Every server of ``entries`` (label, target, cases, bulk count) up at once, then
    ``cfg.runs`` rounds, each running every case once on every server in turn: a ratio's two
    figures are measured within a minute or two of each other, however the host's speed drifts
    over the run (10-20 %). Each server warms up for ``cfg.warmup`` s before its first run of a
    case and 1 s before the others. ``argon2_runs``, when given, gets each round's figure of the
    argon2id loop (below). Returns label -> results, or an error."""
    out, width = {}, max((len(entry[0]) for entry in entries), default=0)
    with ExitStack() as stack:
        stages = []
        for label, target, cases, bulk_count in entries:
            print(f"{label}: starting  [{time.monotonic() - t_start:.0f} s]", flush=True)
            try:
                stages.append(stack.enter_context(staged(label, target, cfg, cases, bulk_count)))
            except Exception as e:  # one broken server must not cost the others' figures
                out[label] = {"error": str(e)[:500]}
                print(f"    FAILED: {e}", file=sys.stderr, flush=True)
        for round_ in range(cfg.runs):
            for case in CASES:
                playing = [s for s in stages if case in s.runs and case not in s.errors]
                loop_turn = argon2_runs is not None and case == "password"
                if playing or loop_turn:
                    print(f"round {round_ + 1}/{cfg.runs}: {case}  [{time.monotonic() - t_start:.0f} s]",
                          flush=True)
                # The argon2id loop, the password grant's ceiling, runs just before mobproc's
                # password turn and just after it, and the round's figure is the mean of the two:
                # a drift of the host's speed between them cancels out. Without mobproc in the
                # round, one run opens it.
                bracketed = [s for s in playing if s.t.group in ("mobproc", "baseline")] if loop_turn else []
                loop_runs: list = []
                baseline_loop_runs: list = []

                def loop(into=loop_runs):
                    into.append(r := argon2_once(cfg))
                    print(f"    {'argon2id verification loop':<{width}} {r['rps']:9.1f} verifications/s"
                          f"  (one verification: p50 {r['p50_ms']:.1f} ms)", flush=True)

                if loop_turn and not bracketed:
                    loop()
                for stage in playing:
                    into = baseline_loop_runs if stage.t.group == "baseline" else loop_runs
                    if stage in bracketed:
                        loop(into)
                    try:
                        r = stage.turn(case, cfg.warmup if round_ == 0 else min(cfg.warmup, 1))
                    except Exception as e:
                        stage.errors[case] = str(e)[:300]
                        print(f"    {stage.label:<{width}} {case} FAILED: {e}", file=sys.stderr, flush=True)
                    else:
                        stage.runs[case].append({**r, "round": round_ + 1})
                        print(f"    {stage.label:<{width}} {r['rps']:9.1f} req/s  p50 {r['p50_ms']:8.1f} ms"
                              f"  p99 {r['p99_ms']:8.1f} ms  errors {r['errors']}", flush=True)
                    if stage in bracketed:
                        loop(into)
                if loop_runs:
                    argon2_runs.append(mean_run(loop_runs, round_ + 1))
                if baseline_loop_runs and baseline_argon2_runs is not None:
                    baseline_argon2_runs.append(mean_run(baseline_loop_runs, round_ + 1))
        for stage in stages:
            out[stage.label] = stage.results()
    return out


def mean_run(runs, round_):
    """One round's figure from several runs of the same thing: their means, and the runs."""
    mean = lambda key: statistics.fmean(r[key] for r in runs)
    return {"rps": mean("rps"), "p50_ms": mean("p50_ms"), "p99_ms": mean("p99_ms"),
            "requests": sum(r["requests"] for r in runs), "errors": sum(r["errors"] for r in runs),
            "round": round_, "runs": runs}


def argon2_once(cfg):
    out = run_quiet(["taskset", "-c", SERVER_CORE, PY, BENCH / "bare_argon2.py",
                     "--seconds", str(cfg.duration), "--warmup", str(cfg.warmup)], os.environ)
    r = json.loads(out)
    return {k: r[k] for k in ("rps", "p50_ms", "p99_ms", "requests", "errors")}


JWT_ISSUER = "https://mobproc.bench.test"
JWT_CHECKERS = (  # row name, group, whose venv, jwt_check.py's CHECKER
    ("ceiling: ES256 verification loop", "ceiling", "mobproc", "ceiling"),
    ("mobproc TokenChecker, each check verifying", "mobproc", "mobproc", "mobproc"),
    ("mobproc TokenChecker, the token seen before", "mobproc, kept", "mobproc", "mobproc-kept"),
    ("PyJWT", "peer", "peers", "pyjwt"),
    ("joserfc", "peer", "peers", "joserfc"),
)


def run_jwt(cfg, exe):
    """The JWT case: a mobproc issuing JWT access tokens (ES256) hands out one token, then each
    checker validates it in a loop of its own (bench/jwt_check.py) on the server's core, with
    the server idle but for the one JWKS fetch of mobproc's checker."""
    mob = mobproc_target(exe)
    target = dataclasses.replace(mob, name="mobproc, JWT access tokens", env=lambda w: {
        **mob.env(w), "MOBPROC_ACCESS_TOKEN_FORMAT": "jwt", "MOBPROC_ISSUER": JWT_ISSUER})
    with serving(target, cfg, target.provision) as (server, _):
        token = Client(target, server.base).client_credentials()["access_token"]
        rows = []
        for name, group, venv, checker in JWT_CHECKERS:
            python = Path(exe).with_name("python") if venv == "mobproc" else PY
            argv = ["taskset", "-c", SERVER_CORE, python, BENCH / "jwt_check.py", checker,
                    "--token", token, "--issuer", JWT_ISSUER, "--audience", "MOBPROC",
                    "--jwks-uri", server.base + "/pf/JWKS", "--seconds", str(cfg.duration),
                    "--warmup", str(cfg.warmup or 0.3)]  # QUICK has none: a few thousand checks
            r = summarize([json.loads(run_quiet(argv, os.environ)) for _ in range(cfg.runs)])
            print(f"    {name:<44} {r['rps']:9.1f} checks/s  p50 {r['p50_ms'] * 1e3:6.1f} µs"
                  f"  p99 {r['p99_ms'] * 1e3:6.1f} µs  errors {r['errors']}", flush=True)
            rows.append({"name": name, "group": group, "check": r})
        return rows


DIRECTORY_POOL = 4  # mobproc's default pool_size: connections (and logins) at once per process
# How the directory stores its passwords: {SSHA} (salted SHA-1, a bind costs next to nothing:
# the ratio weighs mobproc's own work) and {ARGON2} (argon2id at mobproc's own cost, as a
# directory that hashes as well as mobproc does: the ratio weighs what mobproc adds to it).
DIRECTORY_SCHEMES = ("SSHA", "ARGON2")
DIRECTORY_TARGET, DIRECTORY_LOOP = "mobproc, directory accounts", "ceiling: search + bind loop"


def directory_names(scheme):
    return f"{DIRECTORY_TARGET} ({{{scheme}}})", f"{DIRECTORY_LOOP} ({{{scheme}}})"


def run_directory(cfg, exe, scheme):
    """The password grant against a directory's accounts (issue 23): mobproc with its
    ``command`` source system on a slapd (tests/slapd.py, on the load core, as a directory on
    another machine would have a core of its own), its passwords stored with ``scheme``,
    beside the ceiling: a bare loop of the search + bind a login asks of the same slapd
    (bare_ldap.py, mobproc's venv, on the server's core, on as many threads as mobproc's
    pool). The loop runs just before and just after each of mobproc's turns, as the argon2id
    loop does; the round's ceiling is their mean."""
    sys.path.insert(0, str(BENCH.parent / "tests"))
    from slapd import PEOPLE, SERVICE_DN, Slapd, argon2id, ssha

    workdir = Path(tempfile.mkdtemp(dir=cfg.run_dir))
    directory = Slapd(workdir, log_level="0", wrapper=("taskset", "-c", LOAD_CORE))
    directory.seed()
    for i in range(USERS):
        directory.add_person(f"user{i}", PASSWORD, scheme={"SSHA": ssha, "ARGON2": argon2id}[scheme])
    (workdir / "bind-password").write_text(directory.service_password + "\n")
    (workdir / "password").write_text(PASSWORD + "\n")
    sources = workdir / "sources.toml"
    sources.write_text("\n".join([
        "[sources.command]", 'type = "ldap"', f'url = "{directory.url()}"', f'bind_dn = "{SERVICE_DN}"',
        f'bind_password_file = "{workdir / "bind-password"}"', f'base = "{PEOPLE}"',
        # 32 connections of wrk: the queue must hold them, as MOBPROC_BENCH_SETTINGS does for argon2id.
        f"pool_size = {DIRECTORY_POOL}", "queue = 64", "wait_ms = 5000",
        "[sources.command.attributes]", 'tenant = "o"', ""]))
    mob = mobproc_target(exe)

    def provision(w, e):
        run_quiet([exe, "db", "upgrade"], e)
        run_quiet([exe, "client", "add", CLIENT_ID, "--grant", "password", "--grant", "refresh_token",
                   "--scope", "MOBPROC", "--secret-stdin"], e, stdin=CLIENT_SECRET)

    target = dataclasses.replace(
        mob, name=directory_names(scheme)[0], group="mobproc, directory", cases=("password",), growth=False,
        provision=provision, env=lambda w: {**mob.env(w), "MOBPROC_IDENTITY_SOURCES": str(sources)},
        notes=f"{mob.notes}; command:// accounts in slapd ({{{scheme}}}, on core {LOAD_CORE}), pool_size {DIRECTORY_POOL}")
    python = Path(exe).with_name("python")
    loop_argv = ["taskset", "-c", SERVER_CORE, python, BENCH / "bare_ldap.py", "--url", directory.url(),
                 "--bind-dn", SERVICE_DN, "--bind-password-file", workdir / "bind-password", "--base", PEOPLE,
                 "--password-file", workdir / "password", "--users", str(USERS), "--threads", str(DIRECTORY_POOL),
                 "--seconds", str(cfg.duration), "--warmup", str(cfg.warmup)]
    loop_runs, mob_runs = [], []
    with directory:
        with staged(target.name, target, cfg, target.cases) as stage:
            if "password" in stage.errors:
                raise RuntimeError(stage.errors["password"])
            for round_ in range(cfg.runs):
                bracket = []
                for turn in ("loop", "mobproc", "loop"):
                    if turn == "loop":
                        r = json.loads(run_quiet(loop_argv, os.environ))
                        bracket.append(r)
                        print(f"    {'search + bind loop':<36} {r['rps']:9.1f} logins/s  p50 {r['p50_ms']:6.2f} ms"
                              f"  errors {r['errors']}", flush=True)
                    else:
                        r = stage.turn("password", cfg.warmup if round_ == 0 else min(cfg.warmup, 1))
                        mob_runs.append({**r, "round": round_ + 1})
                        print(f"    {target.name:<36} {r['rps']:9.1f} req/s  p50 {r['p50_ms']:8.1f} ms"
                              f"  p99 {r['p99_ms']:8.1f} ms  errors {r['errors']}", flush=True)
                loop_runs.append(mean_run(bracket, round_ + 1))
    return [
        {"name": directory_names(scheme)[1], "group": "ceiling",
         "notes": f"python-ldap, {DIRECTORY_POOL} threads each with a search and a bind connection, on core "
                  f"{SERVER_CORE}; slapd on core {LOAD_CORE}", "cases": {"password": summarize(loop_runs)}},
        {"name": target.name, "group": target.group, "notes": target.notes,
         "cases": {"password": summarize(mob_runs)}},
    ]


# ------------------------------------------------------------------- reports

def versions():
    v = {"python": platform.python_version()}
    for pkg in ("Flask", "Authlib", "Flask-SQLAlchemy", "SQLAlchemy", "Django",
                "django-oauth-toolkit", "oauthlib", "argon2-cffi", "gunicorn", "uvicorn",
                "starlette", "granian", "PyJWT", "joserfc"):
        try:
            v[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            pass
    node_dir = PEERS / "node_oauth2_server"
    for pkg in ("@node-oauth/oauth2-server", "better-sqlite3", "argon2"):
        pj = node_dir / "node_modules" / pkg / "package.json"
        if pj.exists():
            v[pkg] = json.loads(pj.read_text())["version"]
    for name, argv in (("node", ["node", "--version"]), ("wrk", ["wrk", "--version"])):
        try:
            out = subprocess.run(argv, capture_output=True, text=True, timeout=10)
            words = (out.stdout or out.stderr).split()  # "v20.20.2"; "wrk debian/4.1.0 …"
            v[name] = words[1] if name == "wrk" else words[0]
        except OSError:
            pass
    return v


def cpu_model():
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor()


def fmt(x, digits=1):
    return "—" if x is None else f"{x:,.{digits}f}"


def write_markdown(results, path):
    meta, targets = results["meta"], results["targets"]
    mob = next((t for t in targets if t["group"] == "mobproc" and "cases" in t), None)
    mob_rps = lambda case: mob and mob["cases"].get(case, {}).get("rps")
    ceiling = lambda case: next((t["cases"][case] for t in targets
                                 if t["group"] == "ceiling" and case in t.get("cases", {})), None)
    # mobproc ÷ another server's result of the same case: the median of the rounds' ratios.
    versus = lambda case, other: paired_ratio(mob and mob["cases"].get(case), other)
    lines = [
        "# mobproc benchmarks", "",
        f"{meta['date']} · {meta['cpu']} · server on core {SERVER_CORE}, wrk on core {LOAD_CORE}"
        f" · {meta['connections']} connections · {meta['runs']} run(s) of {meta['duration_s']} s"
        f" (password grant: at least {meta.get('password_seconds', 5)} s)"
        f" after {meta['warmup_s']} s warm-up (median){' · QUICK' if meta['quick'] else ''}", "",
    ]
    if max(meta["loadavg_1min"].values()) > 2.5:
        load = ", ".join(f"{k} {v:.1f}" for k, v in meta["loadavg_1min"].items())
        lines += [f"**Warning: load average ({load}) says other work shared the cores: "
                  "these figures are suspect.**", ""]
    lines += [
        "Password hashing everywhere: argon2id, m=19456 KiB, t=2, p=1. "
        "Ceilings: password = bare argon2id verification loop, run just before and just after "
        "mobproc's password grants, the mean of the two (verifications/s; its latencies are of one "
        "verification, not at 32 connections); other grants = bare Starlette on uvicorn, "
        "with mobproc's HTTP protocol (uvicorn's httptools one, each answer in one write). "
        "The stack row is the same app on another server, granian. "
        "Every ratio is the median of its round-by-round ratios: the two figures of each were "
        "measured a minute or two apart, which cancels the host's drift over the run.", "",
    ]
    checks = results.get("issue_targets") or []
    if checks:
        lines += ["## The issue's targets", "",
                  "| target | at least | measured | by round | against | |", "|---|---:|---:|---|---|---|"]
        for c in checks:
            lines.append(f"| {c['target']} | {c['goal']:g} | {fmt(c['ratio'], 2)} | "
                         f"{', '.join(f'{r:.2f}' for r in c['by_round'])} | {c['against']} | "
                         f"{'met' if c['met'] else 'missed'} |")
        lines.append("")
    if results.get("before_after"):
        lines += ["## Before and after: each case's ratio to the same ceiling, this build and the baseline", "",
                  "| case | ceiling | before (by round) | after (by round) | change |", "|---|---|---:|---:|---:|"]
        for r in results["before_after"]:
            lines.append(f"| {r['case']} | {r['ceiling']} | {r['before']:.3f} ({', '.join(map(str, r['before_by_round']))})"
                         f" | {r['after']:.3f} ({', '.join(map(str, r['after_by_round']))}) | {r['change'] * 100:+.1f} % |")
        lines.append("")
    lines += ["## Summary: mobproc ÷ tuned peer and ÷ ceiling (throughput)", ""]
    tuned = [t for t in targets if t["group"] == "peer" and "tuned" in t["name"]]
    row = lambda cells: "| " + " | ".join(cells) + " |"
    lines.append(row(["case", "mobproc req/s", *(f"÷ {t['name']}" for t in tuned), "÷ ceiling"]))
    lines.append(row(["---"] + ["---:"] * (len(tuned) + 2)))
    for case in CASES:
        lines.append(row([case, fmt(mob_rps(case)),
                          *(fmt(versus(case, t.get("cases", {}).get(case)), 2) for t in tuned),
                          fmt(versus(case, ceiling(case)), 2)]))
    if not mob:
        lines += ["", "_mobproc was not measured in this run (ratios need it)._"]

    jwt = results.get("jwt")
    if isinstance(jwt, dict):
        lines += ["", f"_JWT validation not measured: {jwt['error'][:200]}_"]
    elif jwt:
        mob_check = next((r["check"]["rps"] for r in jwt if r["group"] == "mobproc"), None)
        ratio = lambda a, b: None if not a or not b else a / b  # one checker at a time, no rounds
        lines += ["", "## JWT validation: a resource server's check of one JWT access token, in-process", "",
                  "ES256, issued by mobproc; one checker in one process on the server's core, "
                  "checking the same token in a loop (checks/s; the latencies are of one check). "
                  "The peers and the first mobproc row verify the signature at every check; "
                  "mobproc as shipped keeps a valid token's answer (at most 30 s, never past its "
                  "expiry), which the second row measures. Ratios are of the first.", "",
                  "| checker | checks/s | p50 µs | p99 µs | errors | mobproc ÷ this |",
                  "|---|---:|---:|---:|---:|---:|"]
        for r in jwt:
            c = r["check"]
            lines.append(f"| {r['name']} | {fmt(c['rps'])} | {fmt(c['p50_ms'] * 1e3)} | "
                         f"{fmt(c['p99_ms'] * 1e3)} | {c['errors']} | {fmt(ratio(mob_check, c['rps']), 2)} |")

    for case in CASES:
        lines += ["", f"## {case}", "",
                  "| server | req/s | p50 ms | p99 ms | errors | mobproc ÷ this |",
                  "|---|---:|---:|---:|---:|---:|"]
        for t in targets:
            r = t.get("cases", {}).get(case)
            if r and "error" in r:
                lines.append(f"| {t['name']} | not measured: {r['error'][:120]} | | | | |")
            elif r:
                lines.append(f"| {t['name']} | {fmt(r['rps'])} | {fmt(r['p50_ms'])} | "
                             f"{fmt(r['p99_ms'])} | {r['errors']} | "
                             f"{fmt(versus(case, r), 2)} |")

    growth = [t for t in targets if t.get("growth")]
    if growth:
        lines += ["", "## Growth: live tokens already in the database", "",
                  "| server | live tokens | refresh req/s | refresh p99 ms | introspect req/s |"
                  " introspect p99 ms | errors |", "|---|---:|---:|---:|---:|---:|---:|"]
        for t in growth:
            for n, g in t["growth"].items():
                if "error" in g:
                    lines.append(f"| {t['name']} | {int(n):,} | {g['error']} | | | | |")
                    continue
                rf, it = g.get("refresh", {}), g.get("introspect", {})
                lines.append(f"| {t['name']} | {int(n):,} | {fmt(rf.get('rps'))} | "
                             f"{fmt(rf.get('p99_ms'))} | {fmt(it.get('rps'))} | "
                             f"{fmt(it.get('p99_ms'))} | "
                             f"{rf.get('errors', 0) + it.get('errors', 0)} |")

    failed = [t for t in targets if "error" in t]
    if failed:
        lines += ["", "## Not measured", ""] + [f"- {t['name']}: {t['error']}" for t in failed]
    lines += ["", "## Servers", ""] + [f"- **{t['name']}**: {t['notes']}" for t in targets]
    lines += ["", "## Versions", "", ", ".join(f"{k} {v}" for k, v in meta["versions"].items()), ""]
    path.write_text("\n".join(lines))


def write_chart(results, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    targets = [t for t in results["targets"] if "cases" in t]
    growth = [t for t in results["targets"] if t.get("growth")]
    fig, axes = plt.subplots(1, 2 if growth else 1, figsize=(15 if growth else 10, 6),
                             gridspec_kw={"width_ratios": [2, 1]} if growth else None)
    ax = axes[0] if growth else axes
    width = 0.8 / max(1, len(targets))
    # One colour per server, the same in both plots: the default cycle has ten, and repeats.
    palette = plt.get_cmap("tab20").colors
    colour = {t["name"]: palette[i % len(palette)] for i, t in enumerate(targets)}
    for i, t in enumerate(targets):
        xs = [c + (i - (len(targets) - 1) / 2) * width for c in range(len(CASES))]
        ys = [t["cases"].get(case, {}).get("rps", 0) for case in CASES]
        ax.bar(xs, ys, width, label=t["name"], color=colour[t["name"]],
               edgecolor="black" if t["group"] == "mobproc" else None,
               hatch="//" if bare(t["group"]) else None)
    ax.set_xticks(range(len(CASES)), CASES)
    ax.set_yscale("log")
    ax.set_ylabel("requests per second (log)")
    ax.set_title(f"Throughput at {results['meta']['connections']} connections, one core")
    ax.legend(fontsize=7)
    if growth:
        g_ax = axes[1]
        for t in growth:
            for case, style in (("refresh", "-o"), ("introspect", "--s")):
                pts = sorted((int(n), g[case]["rps"]) for n, g in t["growth"].items()
                             if "rps" in g.get(case, {}))
                if pts:
                    g_ax.plot(*zip(*pts), style, label=f"{t['name']} {case}",
                              color=colour.get(t["name"]))
        g_ax.set_xscale("log")
        g_ax.set_yscale("log")
        g_ax.set_xlabel("live tokens in the database")
        g_ax.set_ylabel("requests per second (log)")
        g_ax.set_title("Growth")
        if g_ax.lines:
            g_ax.legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


# ------------------------------------------------------------------- main

def main():
    quick = os.environ.get("QUICK", "") not in ("", "0")
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", default="peers,ceilings,mobproc",
                    help="comma list of groups: peers, ceilings, mobproc")
    ap.add_argument("--servers", default="", help="only targets whose name contains one of these")
    ap.add_argument("--duration", type=int, default=2 if quick else 10, help="s per timed run")
    ap.add_argument("--warmup", type=int, default=0 if quick else 3,
                    help="s of warm-up per case (0: none, the sanity checks only)")
    ap.add_argument("--runs", type=int, default=1 if quick else 3)
    # At 32 connections a password grant waits about a second in the queue; a run must be
    # several times that long for its latencies to mean anything (QUICK settles for 3).
    ap.add_argument("--password-seconds", type=int, default=3 if quick else 5,
                    help="s per timed run of the password grant, at least")
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--growth", default="1000,100000" if quick else "1000,1000000",
                    help="live-token counts for the growth case ('' to skip)")
    # QUICK keeps to 5 minutes on a slow host: the growth target is mobproc's own, and the
    # peers' growth servers took a minute of it.
    ap.add_argument("--growth-of", default="mobproc" if quick else "",
                    help="the growth case only for targets whose name contains one of these ('': all)")
    ap.add_argument("--mobproc", default=os.environ.get(
        "MOBPROC_BIN", str(BENCH.parent / ".venv" / "bin" / "mobproc")))
    ap.add_argument("--baseline", default=os.environ.get("MOBPROC_BASELINE_BIN", ""),
                    help="another mobproc build to measure beside it, round by round (before/after)")
    ap.add_argument("--out", default=str(BENCH))
    ap.add_argument("--keep", action="store_true", help="keep the temp dirs")
    cfg = ap.parse_args()
    groups = set(cfg.only.split(","))
    cfg.run_dir = Path(tempfile.mkdtemp(prefix="mobproc-bench-"))
    os.sched_setaffinity(0, {int(LOAD_CORE)})  # keep the harness off the server's core

    for tool in ("wrk", "taskset", "node"):
        if not shutil.which(tool):
            sys.exit(f"{tool} not found: run bench/setup.sh")

    targets = []
    if "peers" in groups:
        targets += flask_targets() + dot_targets(cfg.run_dir) + node_targets()
    if "ceilings" in groups:
        # Same server stack as mobproc: its venv's uvicorn when there is one.
        mob_py = Path(cfg.mobproc).parent / "python"
        has_stack = mob_py.exists() and subprocess.run(
            [mob_py, "-c", "import starlette, uvicorn, mobproc.server.http"],
            capture_output=True).returncode == 0
        targets.append(ceiling_target(str(mob_py), MOBPROC_HTTP) if has_stack else ceiling_target(PY))
        targets.append(stack_target())
    if "mobproc" in groups:
        if not os.access(cfg.mobproc, os.X_OK):
            sys.exit(f"mobproc not found at {cfg.mobproc} (use --mobproc, or --only peers,ceilings)")
        if cfg.baseline:
            # A baseline may predate the MOBPROC v1 API: it runs the token endpoint's cases, and
            # so does this build, like for like. Every write case grows the database its server
            # keeps through the run: had this build also run the sign-in's and the API's cases
            # (tens of thousands of grants, codes and audit rows a round), its later rounds
            # would write into a larger database than the baseline's.
            targets += [dataclasses.replace(mobproc_target(cfg.mobproc), cases=tuple(OAUTH_CASES)),
                        dataclasses.replace(mobproc_target(cfg.baseline, api=False), name="mobproc before",
                                            group="baseline", growth=False)]
        else:
            targets += [mobproc_target(cfg.mobproc), mobproc_jwt_target(cfg.mobproc)]
    if cfg.servers:
        targets = [t for t in targets if any(s in t.name for s in cfg.servers.split(","))]
    sizes = [int(float(n)) for n in cfg.growth.split(",") if n]

    t_start, load_start = time.monotonic(), os.getloadavg()[0]
    out = []

    argon2 = "ceilings" in groups and (not cfg.servers or "argon2" in cfg.servers)
    argon2_runs = [] if argon2 else None
    baseline_argon2_runs = [] if argon2 and cfg.baseline else None
    figures = measure_in_rounds([(t.name, t, t.cases, 0) for t in targets], cfg, t_start, argon2_runs,
                                baseline_argon2_runs)
    if argon2:  # first in the tables
        out.append({"name": "ceiling: argon2id verify loop", "group": "ceiling",
                    "notes": "argon2-cffi verify, m=19456 KiB t=2 p=1, one core",
                    "cases": {"password": summarize(argon2_runs)}})
    if baseline_argon2_runs:
        out.append({"name": "ceiling: argon2id verify loop, around mobproc before", "group": "ceiling-baseline",
                    "notes": "the same loop, bracketing the baseline's password turns",
                    "cases": {"password": summarize(baseline_argon2_runs)}})
    for t in targets:
        measured = figures[t.name]
        row = {"name": t.name, "group": t.group, "notes": t.notes,
               **({"error": measured["error"]} if "error" in measured else {"cases": measured})}
        # Growth: each target's servers, one per size, alternate with each other only, so
        # that none of them waits stopped through the others' turns.
        grows = t.growth and (not cfg.growth_of or any(g in t.name for g in cfg.growth_of.split(",")))
        if grows and sizes and "cases" in row:
            print(f"growth: {t.name}", flush=True)
            grown = measure_in_rounds([(f"{t.name}, {n:,} live tokens", t, ("refresh", "introspect"), n)
                                       for n in sizes], cfg, t_start)
            row["growth"] = {str(n): grown[f"{t.name}, {n:,} live tokens"] for n in sizes}
        out.append(row)
    if "mobproc" in groups and (not cfg.servers or "directory" in cfg.servers):
        for scheme in DIRECTORY_SCHEMES:
            print(f"password grant against a directory, {{{scheme}}}  [{time.monotonic() - t_start:.0f} s]", flush=True)
            try:
                out += run_directory(cfg, cfg.mobproc, scheme)
            except Exception as e:
                out.append({"name": directory_names(scheme)[0], "group": "mobproc, directory", "notes": "",
                            "error": str(e)[:500]})
                print(f"    FAILED: {e}", file=sys.stderr, flush=True)
    jwt = None
    if "mobproc" in groups and (not cfg.servers or "jwt" in cfg.servers):
        print(f"JWT validation  [{time.monotonic() - t_start:.0f} s]", flush=True)
        try:
            jwt = run_jwt(cfg, cfg.mobproc)
        except Exception as e:
            jwt = {"error": str(e)[:500]}
            print(f"    FAILED: {e}", file=sys.stderr, flush=True)

    if cfg.keep:
        print(f"kept {cfg.run_dir}")
    else:
        shutil.rmtree(cfg.run_dir, ignore_errors=True)
    results = {
        "meta": {"date": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "cpu": cpu_model(),
                 "quick": quick, "duration_s": cfg.duration, "warmup_s": cfg.warmup,
                 "runs": cfg.runs, "password_seconds": cfg.password_seconds,
                 "connections": cfg.connections, "users": USERS,
                 "argon2id": {"memory_kib": 19456, "time_cost": 2, "parallelism": 1},
                 "growth_sizes": sizes, "growth_of": cfg.growth_of or "all",
                 "elapsed_s": round(time.monotonic() - t_start, 1),
                 # The harness and servers alone keep this near 2; more means
                 # something else shared the cores and the figures are suspect.
                 "loadavg_1min": {"start": load_start, "end": os.getloadavg()[0]},
                 "versions": versions()},
        "targets": out,
    }
    if jwt is not None:
        results["jwt"] = jwt
    results["issue_targets"] = issue_targets(out)
    if cfg.baseline:
        results["before_after"] = before_after(out)
    outdir = Path(cfg.out)
    (outdir / "results").mkdir(parents=True, exist_ok=True)
    (outdir / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    write_markdown(results, outdir / "results" / "results.md")
    write_chart(results, outdir / "results" / "chart.png")
    print(f"wrote {outdir / 'results.json'}, results/results.md, results/chart.png"
          f" in {results['meta']['elapsed_s']} s")
    for c in results["issue_targets"]:
        print(f"  {c['target']:<46} {fmt(c['ratio'], 2):>6} (at least {c['goal']:g})"
              f"  {'met' if c['met'] else 'missed'}")
    def errors(t):
        return sum(r.get("errors", 0) for r in t.get("cases", {}).values()) + sum(
            r.get("errors", 0) for g in t.get("growth", {}).values()
            for r in g.values() if isinstance(r, dict))

    for t in out:
        if errors(t):
            print(f"warning: {t['name']}: {errors(t)} request errors", file=sys.stderr)
    failed = [t["name"] for t in out if "error" in t] + [
        f"{t['name']} growth {n}" for t in out for n, g in t.get("growth", {}).items()
        if "error" in g and not g["error"].startswith("skipped")] + [
        f"{t['name']} {c}" for t in out for c, r in t.get("cases", {}).items() if "error" in r]
    # A peer's errors are a finding about that peer (results.md shows them);
    # mobproc's or a ceiling's are a failure, as is a server that could not be measured.
    ours = sum(errors(t) for t in out if t["group"] != "peer")
    if isinstance(jwt, dict):
        failed.append("JWT validation")
    elif jwt:
        ours += sum(r["check"]["errors"] for r in jwt if r["group"] != "peer")
    if ours or failed:
        sys.exit(f"benchmark not clean: {ours} request errors, failed: {failed}")


if __name__ == "__main__":
    main()
