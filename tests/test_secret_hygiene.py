"""Secret hygiene, proven: no plaintext secret, password or token in the database; tokens
from `secrets`; secrets compared in constant time."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest

from conftest import BACKEND, TOKEN_PATH, database_url, dump_database, password_grant, query, refresh_grant, remember
from conftest import mobproc as run_mobproc
from mobproc.domain import secrets as mobproc_secrets
from sign_in import Browser, add_web_client, code_flow_params, pkce_pair, query_of, redeem

SOURCE = Path(mobproc_secrets.__file__).parents[1]


def mobproc(*args: str, stdin: str = "") -> str:
    result = run_mobproc(*args, stdin=stdin)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_after_a_full_session_the_database_holds_no_secret_password_or_token(make_server, tmp_path: Path) -> None:  # noqa: ANN001
    database = tmp_path / "mobproc.db"
    url = database_url(database)
    used: list[str] = []
    with make_server(database, lockout_threshold=3, refresh_grace_seconds=30) as server, server.client() as http:
        client, (username, password) = server.add_client(), server.add_user()
        used += [client[1], password]
        # A client made on the command line, with a generated secret, then rotated.
        printed = mobproc("client", "add", "hygiene", "--grant", "password", "--grant", "refresh_token",
                          "--scope", "MOBPROC", "--database", url)
        generated = re.search(r"client_secret: (\S+)", printed).group(1)
        printed = mobproc("client", "rotate-secret", "hygiene", "--database", url)
        rotated = re.search(r"client_secret: (\S+)", printed).group(1)
        new_password = "a second password, set from the CLI"
        mobproc("user", "set-password", username, "--password-stdin", "--database", url, stdin=new_password + "\n")
        remember(generated, rotated, new_password)
        used += [generated, rotated, new_password]
        for secret_client in (client, ("hygiene", rotated)):
            first = password_grant(http, secret_client, (username, new_password)).json()
            second = refresh_grant(http, secret_client, first["refresh_token"]).json()
            graced = refresh_grant(http, secret_client, first["refresh_token"]).json()  # within the grace period
            used += [first["access_token"], first["refresh_token"], second["access_token"], second["refresh_token"],
                     graced["access_token"], graced["refresh_token"]]
        # A sign-in on the login page (issue 20): its session cookie, its code, the verifier and
        # the tokens with an ID token.
        verifier, challenge = pkce_pair()
        web = add_web_client(server, scopes=("openid", "MOBPROC"))
        with Browser(server) as browser:
            page = browser.authorize(**code_flow_params(web[0], challenge, scope="openid MOBPROC"))
            answer = browser.login(page, (username, new_password))
            session_cookie = browser.http.cookies["mobproc_session"]
        code = query_of(answer.headers["location"])["code"]
        signed_in = redeem(http, web, code, verifier).json()
        remember(session_cookie, signed_in["id_token"])
        used += [session_cookie, code, verifier, signed_in["access_token"], signed_in["refresh_token"],
                 signed_in["id_token"]]
        # Failures of every kind, one with a password typed into the username field.
        typed_in_username = "my-Secret-Passw0rd"
        remember(typed_in_username)
        used.append(typed_in_username)
        for user in ((typed_in_username, password), (username, "wrong-password-1"), (username, "wrong-password-2"),
                     (username, "wrong-password-3"), (username, new_password)):
            password_grant(http, client, user)
        used += ["wrong-password-1", "wrong-password-2", "wrong-password-3"]
        http.post(f"{TOKEN_PATH}?grant_type=password&client_id={client[0]}&client_secret={client[1]}"
                  f"&username={username}&password={new_password}&scope=MOBPROC")  # the seed's query string
        assert server.services.audit.events()  # the trail was written

    text = dump_database(url)
    assert "audit_events:" in text and "refresh_tokens:" in text and "throttle:" in text
    assert "browser_sessions:" in text and "authorization_codes:" in text
    found = [secret[:6] for secret in used if secret in text]
    assert not found, f"plaintext in the database: {found}"
    if BACKEND == "sqlite":  # not in the raw files either (free pages, the write-ahead log)
        raw = b"".join(p.read_bytes() for p in tmp_path.glob("mobproc.db*"))
        assert not [s[:6] for s in used if s.encode() in raw]
    # Only argon2id hashes of passwords, only SHA-256 digests of secrets and tokens.
    assert all(h.startswith("$argon2id$v=19$m=19456,t=2,p=1$") for (h,) in query(url, "SELECT password_hash FROM accounts"))
    digests = {bytes(d) for (d,) in query(url, "SELECT secret_digest FROM clients")}
    assert hashlib.sha256(rotated.encode()).digest() in digests
    lookups = {bytes(d) for (d,) in query(url, "SELECT lookup FROM refresh_tokens")}
    assert hashlib.sha256(first["refresh_token"].encode()).digest() in lookups


def test_tokens_are_drawn_from_the_secrets_module(monkeypatch: pytest.MonkeyPatch) -> None:
    assert len({mobproc_secrets.random_token(28) for _ in range(1000)}) == 1000
    monkeypatch.setattr(mobproc_secrets.secrets, "token_bytes", lambda n: bytes(n))
    assert mobproc_secrets.random_token(28) == "a" * 28  # every byte came from secrets.token_bytes
    # Nothing in the package draws from the predictable `random` module.
    uses_random = re.compile(r"^\s*(import random|from random )", re.M)
    offenders = [p.name for p in SOURCE.rglob("*.py") if uses_random.search(p.read_text())]
    assert not offenders


def test_secrets_and_tokens_are_compared_in_constant_time(make_server, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    import hmac

    compared: list[int] = []
    real = hmac.compare_digest
    monkeypatch.setattr(mobproc_secrets.hmac, "compare_digest", lambda a, b: compared.append(1) or real(a, b))
    with make_server() as server, server.client() as http:
        client, user = server.add_client(), server.add_user()
        assert password_grant(http, client, user).status_code == 200
        assert password_grant(http, (client[0], "x" * 32), user).status_code == 401
    assert len(compared) == 2  # the client secret, both times, by digest in constant time
    # No `==` on a secret anywhere: the only comparisons of digests go through hmac.compare_digest,
    # and tokens are found by their digest (an index lookup on a value the caller cannot steer).
    assert "compare_digest" in (SOURCE / "domain" / "secrets.py").read_text()
