"""The audit trail: a row and a log line for every security event, never a secret."""

from __future__ import annotations

import dataclasses
import json
import logging
import re
from pathlib import Path

from conftest import (
    EVERY_GRANT, LiveServer, client_credentials_grant, database_url, mobproc, password_grant, refresh_grant, remember,
    revoke,
)
from mobproc.domain import audit, secrets
from mobproc.domain.audit import AuditEvent, format_line


def test_a_session_of_grants_leaves_its_trail(make_server, server_log: Path) -> None:  # noqa: ANN001
    with make_server(lockout_threshold=2) as server, server.client() as http:
        client, (username, password) = server.add_client(), server.add_user()
        first = password_grant(http, client, (username, password)).json()
        second = refresh_grant(http, client, first["refresh_token"]).json()
        refresh_grant(http, client, first["refresh_token"])  # reuse: the grant is revoked
        password_grant(http, client, ("command://nobody-" + password, password))  # a password as username
        password_grant(http, client, (username, "wrong 1"))
        password_grant(http, client, (username, "wrong 2"))  # the second failure locks
        password_grant(http, client, (username, password))  # locked
        events = server.services.audit.events()

    kinds = [e.event for e in events]
    assert kinds == ["token_issued", "token_refreshed", "refresh_token_reuse", "grant_revoked", "login_failed",
                     "login_failed", "login_failed", "account_locked", "login_failed"]
    issued, refreshed, reuse, revoked = events[:4]
    assert (issued.grant_type, issued.client_id, issued.subject, issued.source_address) == (
        "password", client[0], username, "127.0.0.1")
    # Tokens are named by a digest prefix: enough to find them in the trail, useless to present.
    assert issued.token == secrets.short_id(first["access_token"]) and len(issued.token) == 12
    assert issued.refresh_token == secrets.short_id(first["refresh_token"])
    assert refreshed.token == secrets.short_id(second["access_token"])
    assert refreshed.grant_id == issued.grant_id == revoked.grant_id
    assert reuse.token == secrets.short_id(first["refresh_token"]) and revoked.reason == "refresh_token_reuse"
    reasons = [(e.subject, e.reason) for e in events if e.event == audit.LOGIN_FAILED]
    # Named by a digest keyed with the deployment's secret (issue 19, item 6), never as typed.
    unknown = server.services.pseudonyms.unknown_username("command://nobody-" + password)
    assert unknown != "#" + secrets.short_id("command://nobody-" + password)
    assert reasons == [(unknown, "unknown_account"), (username, "wrong_password"), (username, "wrong_password"),
                       (username, "locked")]
    # The same events, as lines on the mobproc.audit logger.
    for handler in logging.getLogger("mobproc").handlers:
        handler.flush()
    lines = [line for line in server_log.read_text().splitlines() if "mobproc.audit:" in line]
    assert any(format_line(issued) in line for line in lines)
    assert any(f"event=login_failed client_id={client[0]} subject={unknown}" in line for line in lines)


def test_command_line_changes_are_recorded_and_mobproc_audit_reads_them(tmp_path: Path) -> None:
    url = database_url(tmp_path / "cli.db")
    password = "audit trail password"
    remember(password)
    added = mobproc("client", "add", "audited", "--grant", "password", "--scope", "MOBPROC", "--database", url)
    remember(re.search(r"client_secret: (\S+)", added.stdout).group(1))
    mobproc("client", "rotate-secret", "audited", "--secret-stdin", "--database", url, stdin="r" * 40 + "\n")
    remember("r" * 40)
    mobproc("client", "disable", "audited", "--database", url)
    mobproc("user", "add", "command://carol", "--password-stdin", "--database", url, stdin=password + "\n")
    mobproc("user", "set-password", "command://carol", "--password-stdin", "--database", url, stdin=password + "\n")
    mobproc("user", "unlock", "command://carol", "--database", url)
    mobproc("user", "remove", "command://carol", "--database", url)
    mobproc("client", "remove", "audited", "--database", url)

    listing = mobproc("audit", "--json", "--database", url)
    assert listing.returncode == 0, listing.stderr
    rows = json.loads(listing.stdout)
    assert [row["event"] for row in rows] == [
        "client_added", "client_secret_rotated", "client_disabled", "account_added", "password_set",
        "account_unlocked", "account_removed", "client_removed"]
    assert all(row["actor"].startswith("cli:") and row["at"].endswith("Z") for row in rows)
    carol = json.loads(mobproc("audit", "--json", "--subject", "command://carol", "--database", url).stdout)
    assert [row["event"] for row in carol] == ["account_added", "password_set", "account_unlocked", "account_removed"]
    assert mobproc("audit", "--since", "2000-01-01", "--json", "--database", url).stdout == listing.stdout
    assert json.loads(mobproc("audit", "--since", "2999-01-01T00:00Z", "--json", "--database", url).stdout) == []
    text = mobproc("audit", "--since", "1h", "--database", url).stdout.splitlines()
    assert len(text) == 8
    assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ event=client_added client_id=audited ", text[0])
    assert password not in listing.stdout and "r" * 40 not in listing.stdout


def test_a_crafted_value_cannot_forge_fields_or_lines() -> None:
    line = format_line(AuditEvent("login_failed", subject='x reason=ok\nevent=token_issued', client_id="a b"))
    assert line == r'event=login_failed client_id="a b" subject="x reason=ok\nevent=token_issued"'


def test_an_event_for_its_grant_is_the_event_with_the_grants_id_and_nothing_else_changed() -> None:
    # Every field set to a value of its own: a field added, removed or moved would show.
    values = {name: f"value of {name}" for name in AuditEvent.__dataclass_fields__}
    values.update(grant_id=None, at=1764563122.5)
    event = AuditEvent(**values)
    assert event.for_grant(41) == dataclasses.replace(event, grant_id=41)


def test_client_credentials_and_revocations_are_recorded(server: LiveServer) -> None:
    client, user = server.add_client(grants=EVERY_GRANT), server.add_user()
    with server.client() as http:
        machine = client_credentials_grant(http, client).json()
        login = password_grant(http, client, user).json()
        assert revoke(http, client, machine["access_token"]).status_code == 200
        assert revoke(http, client, login["refresh_token"]).status_code == 200
    trail = server.services.audit.events(subject=client[0]) + server.services.audit.events(subject=user[0])
    kinds = [(e.event, e.grant_type, e.token) for e in trail]
    assert (audit.TOKEN_ISSUED, "client_credentials", secrets.short_id(machine["access_token"])) in kinds
    assert (audit.TOKEN_REVOKED, None, secrets.short_id(machine["access_token"])) in kinds
    assert (audit.GRANT_REVOKED, None, secrets.short_id(login["refresh_token"])) in kinds


def test_a_password_typed_as_a_username_cannot_be_found_by_a_dictionary(make_server) -> None:  # noqa: ANN001
    """Issue 19, item 6: the trail named an unknown username by the first 12 hex digits of its
    unsalted SHA-256, and a small dictionary recovered ``Tr0ub4dor&3`` in 457 guesses. It is a
    digest keyed with a secret of the deployment now, which the trail and the logs never hold."""
    typed = "Tr0ub4dor&3"
    dictionary = [f"{word}{n}" for word in ("Tr0ub4dor&", "password", "Summer20", "letmein") for n in range(250)]
    assert typed in dictionary
    with make_server() as server, server.client() as http:
        client = server.add_client()
        password_grant(http, client, (typed, typed))
        [failed] = server.services.audit.events(event=audit.LOGIN_FAILED)
    guesses = {"#" + secrets.short_id(word) for word in dictionary} | {"#" + secrets.short_id("platform://" + word)
                                                                        for word in dictionary}
    assert failed.subject.startswith("#") and failed.subject not in guesses


# Issue 19, item 12: these ran in tests/test_source_address.py, which is database_agnostic and so
# never ran on PostgreSQL, the one database that refuses a value longer than its column.
def test_a_crafted_forwarded_address_loses_no_login_and_no_audit_row(make_server) -> None:  # noqa: ANN001
    """Issue 19, item 12: a 100-byte IPv6 zone id from a trusted proxy broke PostgreSQL's writes
    (StringDataRightTruncation): a 503 for the right password, and the failed guesses' audit
    rows lost."""
    with make_server(trusted_proxies="127.0.0.1") as server, server.client() as http:
        client, user = server.add_client(), server.add_user()
        http.headers["X-Forwarded-For"] = "fe80::7%" + "a" * 100
        assert password_grant(http, client, (user[0], "wrong")).status_code == 400
        assert password_grant(http, client, user).status_code == 200
    events = server.services.audit.events(subject=user[0])
    assert [e.event for e in events] == [audit.LOGIN_FAILED, audit.TOKEN_ISSUED]
    assert {e.source_address for e in events} == {"fe80::7"}


def test_no_field_of_any_length_costs_an_audit_row(make_server) -> None:  # noqa: ANN001
    """Issue 19, item 12: "an audit row is never lost to a field's length". Every field is
    clipped to its column (PostgreSQL refuses a longer value, where SQLite stores it), so what a
    client can make long (a name, an address, a client id) never costs the row."""
    long = {name: f"{name}-" + "-".join(str(n) for n in range(300))  # no secret of another test is in it
            for name in ("client_id", "subject", "source_address", "grant_type", "reason", "actor")}
    with make_server() as server:
        server.services.audit.record(AuditEvent(audit.LOGIN_FAILED, **long))
        [stored] = server.services.audit.events(event=audit.LOGIN_FAILED)
    for name, value in long.items():
        kept = getattr(stored, name)
        assert kept.endswith("…") and value.startswith(kept[:-1]) and len(kept) < len(value), name
