"""What SQLite alone costs per request: the statements mobproc's refresh, client-credentials
and introspection requests run, compiled by mobproc itself, on a connection set up as the
server's (same PRAGMAs, same background checkpoints), in groups as the server commits them
(each write request in its SAVEPOINT, one COMMIT per group), with no HTTP and no Python of
mobproc's around them. Whatever mobproc's app costs beyond these figures is its own Python.

    taskset -c 0 .venv/bin/python bench/storage_floor.py [-n 20000] [--group 13]
"""

import argparse
import os
import time

from cost_setup import CLIENT_ID, PASSWORD, SECRET, USERNAME, fresh_deployment, token_request

ap = argparse.ArgumentParser()
ap.add_argument("-n", type=int, default=20000, help="requests per case")
ap.add_argument("--group", type=int, default=13,
                help="requests per commit (13: the average group under the benchmark's 32 connections)")
args = ap.parse_args()

fresh_deployment("mobproc-floor-")

from mobproc.config import load_settings  # noqa: E402
from mobproc.domain.audit import AuditEvent  # noqa: E402
from mobproc.domain.secrets import digest  # noqa: E402
from mobproc.services import Services  # noqa: E402
from mobproc.storage import audit, tokens  # noqa: E402

services = Services.build(load_settings())  # starts the server's background checkpoints
database, environment = services.database, services.settings.environment.value


# Real logins, so that the rows are those the server makes.
logins = [services.token_endpoint.handle(token_request(grant_type="password", username=USERNAME, password=PASSWORD,
                                                       client_id=CLIENT_ID, client_secret=SECRET)) for _ in range(32)]


def sql(statement, keys=()):
    return database.prepared(statement, tuple(keys)).sql


ACCESS_KEYS = ("lookup", "environment", "grant_id", "scope", "issued_at", "expires_at")
REFRESH_KEYS = ("lookup", "environment", "grant_id", "generation", "issued_at", "expires_at")
AUDIT_KEYS = ("environment", *AuditEvent.__dataclass_fields__)
GRANT_KEYS = ("environment", "client_pk", "account_id", "grant_type", "subject", "scope", "source_system", "tenant",
              "multitenant", "domain", "created_at", "expires_at")
FIND_REFRESH, FIND_ACCESS, CONSUME = sql(tokens._FIND_REFRESH), sql(tokens._FIND_ACCESS), sql(tokens._CONSUME)
INSERT_ACCESS, INSERT_REFRESH = sql(tokens._INSERT_ACCESS, ACCESS_KEYS), sql(tokens._INSERT_REFRESH, REFRESH_KEYS)
INSERT_AUDIT, INSERT_GRANT = sql(audit._INSERT, AUDIT_KEYS), sql(tokens._INSERT_GRANT, GRANT_KEYS)

raw = database.engine.raw_connection()  # through the engine: the server's PRAGMAs
con = raw.dbapi_connection
client_pk = con.execute("SELECT id FROM clients").fetchone()[0]
refresh_lookups = [digest(login["refresh_token"]) for login in logins]
access_lookup = digest(logins[0]["access_token"])


def audit_row(now: float, grant_id: int, grant_type: str) -> dict:
    row = dict.fromkeys(AUDIT_KEYS)
    row.update(environment=environment, event="token_issued", at=now, client_id=CLIENT_ID, subject=USERNAME,
               source_address="127.0.0.1", grant_type=grant_type, grant_id=grant_id, token="0123456789ab")
    return row


def insert_access_token(now: float, grant_id: int) -> None:
    con.execute(INSERT_ACCESS, {"lookup": os.urandom(32), "environment": environment, "grant_id": grant_id,
                                "scope": "MOBPROC", "issued_at": now, "expires_at": now + 7200})


def refresh(i: int) -> None:
    now = time.time()
    row = con.execute(FIND_REFRESH, {"b_lookup": refresh_lookups[i % 32], "b_environment": environment}).fetchone()
    token_id, generation, grant_id = row[0], row[1], row[5]
    con.execute("SAVEPOINT request")
    assert con.execute(CONSUME, {"b_token_id": token_id, "b_grant_id": grant_id, "b_now": now}).rowcount == 1
    insert_access_token(now, grant_id)
    new = os.urandom(32)
    con.execute(INSERT_REFRESH, {"lookup": new, "environment": environment, "grant_id": grant_id,
                                 "generation": generation + 1, "issued_at": now, "expires_at": now + 86400})
    con.execute(INSERT_AUDIT, audit_row(now, grant_id, "refresh_token"))
    con.execute("RELEASE request")
    refresh_lookups[i % 32] = new


def client_credentials(i: int) -> None:
    now = time.time()
    con.execute("SAVEPOINT request")
    grant_id = con.execute(INSERT_GRANT, {
        "environment": environment, "client_pk": client_pk, "account_id": None, "grant_type": "client_credentials",
        "subject": CLIENT_ID, "scope": "MOBPROC", "source_system": None, "tenant": None, "multitenant": False,
        "domain": None, "created_at": now, "expires_at": now + 7200}).fetchone()[0]
    insert_access_token(now, grant_id)
    con.execute(INSERT_AUDIT, audit_row(now, grant_id, "client_credentials"))
    con.execute("RELEASE request")


def introspect(i: int) -> None:
    assert con.execute(FIND_ACCESS, {"b_lookup": access_lookup, "b_environment": environment}).fetchone()


def measure(case, writes: bool) -> float:
    def run(n: int) -> float:
        started = time.perf_counter()
        for first in range(0, n, args.group):
            if writes:
                con.execute("BEGIN IMMEDIATE")
            for i in range(first, first + args.group):
                case(i)
            if writes:
                con.execute("COMMIT")
        return (time.perf_counter() - started) / n * 1e6

    run(args.group * 50)  # warm-up
    return run(args.n // args.group * args.group)


for name, case, writes in (("refresh", refresh, True), ("client_credentials", client_credentials, True),
                           ("introspect", introspect, False)):
    print(f"{name:<20} {measure(case, writes):6.1f} µs of SQLite per request")
raw.close()
database.dispose()
