"""Account search over the admin API, at scale: 10⁵ accounts and 10⁶ audit rows seeded into a
fresh database, a real ``mobproc serve`` process, and the p50/p95/p99 of the search measured
over HTTP (issue 24: within 50 ms p95). Also the first page of every account, an account
read, and the audit trail of one subject, which the console shows beside them.

    .venv/bin/python bench/admin_search.py                          # the full scale, SQLite
    .venv/bin/python bench/admin_search.py --accounts 10000 --audit 100000 --requests 200
    .venv/bin/python bench/admin_search.py --database postgresql://postgres@127.0.0.1/mobproc_bench

The PostgreSQL database is emptied first (its tables dropped). Run with mobproc's own Python: it
imports mobproc, and starts the ``mobproc`` beside it."""

from __future__ import annotations

import argparse
import json
import os
import random
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

import httpx
from sqlalchemy import MetaData, create_engine, insert, text

from mobproc.domain.passwords import PasswordHasher
from mobproc.domain.registries import ClientRegistration
from mobproc.services import Services
from mobproc.config import load_settings
from mobproc.storage.database import normalize_url
from mobproc.storage.migrate import upgrade
from mobproc.storage.schema import accounts, audit_events

SYLLABLES = "ka ri mo lu sen ta vi el no ra be do fi ga hu ja ko li ma ne or pa qu si to un ve wa xi yo zu".split()
SOURCES = ("command", "rivermine", "platform")
EVENTS = ("token_issued", "token_refreshed", "login_failed", "token_issued", "token_issued", "account_locked")
BATCH = 10_000


def name(rng: random.Random, n: int) -> str:
    return "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4))) + f".{n}"


def seed(url: str, count: int, audit_rows: int, rng: random.Random) -> list[str]:
    """The accounts (one argon2 hash for all: none of them signs in) and the audit rows, in
    batches of one statement each; the names, for the searches."""
    engine = create_engine(normalize_url(url))
    password_hash = PasswordHasher.from_settings(load_settings()).hash(secrets.token_urlsafe(16))
    now, names = time.time(), []
    with engine.begin() as connection:
        for start in range(0, count, BATCH):
            rows = []
            for n in range(start, min(count, start + BATCH)):
                names.append(name(rng, n))
                rows.append({"environment": "dev", "source_system": SOURCES[n % 3], "name": names[-1],
                             "password_hash": password_hash, "tenant": "XYZ", "multitenant": False,
                             "created_at": now, "credential_version": 0, "version": 0,
                             "last_login_at": now - rng.random() * 86400 * 30})
            connection.execute(insert(accounts), rows)
        for start in range(0, audit_rows, BATCH):
            rows = []
            for n in range(start, min(audit_rows, start + BATCH)):
                index = rng.randrange(count)
                subject = names[index] if index % 3 == 2 else f"{SOURCES[index % 3]}://{names[index]}"
                rows.append({"environment": "dev", "at": now - (audit_rows - n) * 2.6, "event": rng.choice(EVENTS),
                             "client_id": f"app{rng.randrange(50)}", "subject": subject,
                             "source_address": f"10.0.{rng.randrange(256)}.{rng.randrange(256)}",
                             "grant_type": "password", "reason": None, "detail": None, "actor": None})
            connection.execute(insert(audit_events), rows)
    engine.dispose()
    return names


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    pick = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000  # noqa: E731
    return {"p50_ms": round(pick(0.50), 2), "p95_ms": round(pick(0.95), 2), "p99_ms": round(pick(0.99), 2),
            "mean_ms": round(statistics.fmean(ordered) * 1000, 2), "requests": len(ordered)}


def measure(http: httpx.Client, paths: list[str], headers: dict[str, str]) -> dict[str, float]:
    for path in paths[:20]:  # warm the connection and the caches
        http.get(path, headers=headers).raise_for_status()
    samples = []
    for path in paths:
        started = time.perf_counter()
        answer = http.get(path, headers=headers)
        samples.append(time.perf_counter() - started)
        answer.raise_for_status()
    return percentiles(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", help="a PostgreSQL URL (emptied first); default: a fresh SQLite file")
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--audit", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=24)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    workdir = Path(tempfile.mkdtemp(prefix="mobproc-admin-bench-"))
    url = args.database or f"sqlite:///{workdir / 'bench.db'}"
    if url.startswith("postgresql"):
        engine = create_engine(normalize_url(url))
        metadata = MetaData()
        metadata.reflect(engine)
        with engine.begin() as connection:
            metadata.drop_all(connection)
            connection.execute(text("DROP TABLE IF EXISTS alembic_version"))
        engine.dispose()
    settings = load_settings(database_url=url, environment="dev")
    services = Services.build(settings)
    upgrade(services.database)
    started = time.perf_counter()
    names = seed(url, args.accounts, args.audit, rng)
    seeded = time.perf_counter() - started
    client_secret, password = secrets.token_urlsafe(24), secrets.token_urlsafe(16)
    services.client_registry.register(ClientRegistration("bench-admin", ("password",), ("mobproc:auditor",)),
                                      actor="bench", secret=client_secret)
    services.account_registry.add("command://bench.admin", password, actor="bench")
    services.account_registry.grant_role("command://bench.admin", "auditor", actor="bench")
    services.close()

    port = free_port()
    env = {**os.environ, "MOBPROC_DATABASE_URL": url, "MOBPROC_OPERATIONS_PORT": "0", "MOBPROC_ACCESS_LOG": "false",
           "MOBPROC_CLEANUP_INTERVAL_SECONDS": "0"}
    mobproc = str(Path(sys.executable).with_name("mobproc"))
    server = subprocess.Popen([mobproc, "serve", "--port", str(port)], env=env, stdout=subprocess.DEVNULL,
                              stderr=open(workdir / "server.log", "wb"))
    base = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=base, timeout=30) as http:
            deadline = time.monotonic() + 60
            while True:
                try:
                    http.get("/healthz")
                    break
                except httpx.TransportError:
                    if time.monotonic() > deadline or server.poll() is not None:
                        raise SystemExit(f"the server did not start: {(workdir / 'server.log').read_text()}")
                    time.sleep(0.2)
            token = http.post("/as/token.oauth2", data={
                "grant_type": "password", "client_id": "bench-admin", "client_secret": client_secret,
                "username": "command://bench.admin", "password": password, "scope": "mobproc:auditor"}).json()
            headers = {"Authorization": f"Bearer {token['access_token']}"}
            pick = lambda: names[rng.randrange(len(names))]  # noqa: E731
            searches = [f"/admin/v1/accounts?prefix={quote(pick()[:rng.randint(2, 4)])}&limit=50"
                        for _ in range(args.requests)]
            by_source = [f"/admin/v1/accounts?prefix={quote(pick()[:3])}&source_system={rng.choice(SOURCES)}&limit=50"
                         for _ in range(args.requests)]
            pages = [f"/admin/v1/accounts?offset={rng.randrange(0, 1000) * 50}&limit=50" for _ in range(args.requests)]
            reads = []
            for _ in range(args.requests):
                index = rng.randrange(len(names))
                reads.append(f"/admin/v1/accounts/{quote(SOURCES[index % 3] + '://' + names[index], safe='')}")
            trails = []
            for _ in range(args.requests):
                index = rng.randrange(len(names))
                subject = names[index] if index % 3 == 2 else f"{SOURCES[index % 3]}://{names[index]}"
                trails.append(f"/admin/v1/audit?subject={quote(subject, safe='')}&limit=50")
            result = {
                "database": "postgresql" if url.startswith("postgresql") else "sqlite",
                "accounts": args.accounts, "audit_rows": args.audit, "seeded_seconds": round(seeded, 1),
                "search by name prefix": measure(http, searches, headers),
                "search by prefix and source system": measure(http, by_source, headers),
                "a page of all accounts": measure(http, pages, headers),
                "an account": measure(http, reads, headers),
                "a subject's audit trail": measure(http, trails, headers),
            }
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=30)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
