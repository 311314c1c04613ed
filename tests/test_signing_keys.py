"""Signing keys: made on first start, staged by the CLI or a schedule and published before they
sign, retired once their tokens expire, encrypted at rest with MOBPROC_KEY_ENCRYPTION_KEY."""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

import jwt
import pytest

from conftest import (
    JWKS_PATH, ServerProcess, client_credentials_grant, database_url, dump_database, mobproc, mobproc_process, remember,
)
from sqlalchemy import create_engine, text

from mobproc.storage.database import normalize_url
from mobproc.config import load_settings
from mobproc.domain.signing_keys import RETIREMENT_GRACE_SECONDS
from mobproc.services import Services
from mobproc.storage.migrate import upgrade

KEK = "k" * 8 + "-key-encryption-key-for-tests-0123456789"
remember(KEK)


def verifies(token: str, jwks: dict, issuer: str) -> bool:
    keys = {key.key_id: key for key in jwt.PyJWKSet.from_dict(jwks).keys}
    key = keys.get(jwt.get_unverified_header(token)["kid"])
    if key is None:
        return False
    jwt.decode(token, key.key, algorithms=["ES256"], audience="MOBPROC", issuer=issuer)
    return True


def kids(jwks: dict) -> set[str]:
    """The access tokens' keys (ES256 here); the JWKS also publishes the OpenID Connect ID
    tokens' RS256 ring beside them (tests/test_openid_connect.py)."""
    return {key["kid"] for key in jwks["keys"] if key["alg"] == "ES256"}


def test_rotation_now_keeps_old_tokens_valid_and_retires_the_key_once_they_expire(make_server, tmp_path: Path) -> None:  # noqa: ANN001
    database = tmp_path / "mobproc.db"
    # Long enough that `keys rotate` and `keys list` (run in this process) are done before the
    # first token expires on a busy machine; short enough to wait for.
    lifetime = 4
    env = {"MOBPROC_DATABASE_URL": database_url(database), "MOBPROC_ACCESS_TOKEN_LIFETIME": str(lifetime)}
    with make_server(database, access_token_format="jwt", access_token_lifetime=lifetime) as server, \
            server.client() as http:
        client = server.add_client(grants=("client_credentials",))
        before = client_credentials_grant(http, client).json()["access_token"]
        old_kid = jwt.get_unverified_header(before)["kid"]

        rotated = mobproc("keys", "rotate", "--now", env=env)
        rotated_at = time.time()
        assert rotated.returncode == 0, rotated.stderr
        assert f"signing key {old_kid} signs until" in rotated.stdout and "private key erased" in rotated.stdout

        after = client_credentials_grant(http, client).json()["access_token"]
        new_kid = jwt.get_unverified_header(after)["kid"]
        assert new_kid != old_kid  # the new key signs at once
        jwks = http.get(JWKS_PATH).json()
        assert kids(jwks) == {old_kid, new_kid}
        assert verifies(before, jwks, server.url) and verifies(after, jwks, server.url)

        listing = json.loads(mobproc("keys", "list", "--json", env=env).stdout)
        states = {row["kid"]: row for row in listing}
        assert states[new_kid]["state"] == "active" and states[old_kid]["state"] == "retired"
        assert states[old_kid]["private_key"] == "erased"  # a retired key only verifies

        # the last token the old key signed has expired, and the grace after it has passed
        time.sleep(max(0.0, rotated_at + lifetime + RETIREMENT_GRACE_SECONDS + 0.5 - time.time()))
        assert kids(http.get(JWKS_PATH).json()) == {new_kid}
        assert json.loads(mobproc("keys", "list", "--json", env=env).stdout)[1]["state"] == "expired"


def test_serve_makes_the_first_key_on_first_start(tmp_path: Path) -> None:
    with ServerProcess(tmp_path, env={"MOBPROC_ACCESS_TOKEN_FORMAT": "jwt"}) as server:
        assert len(server.services.keys.records()) == 1
        with server.client() as http:
            assert len(kids(http.get(JWKS_PATH).json())) == 1


def test_processes_racing_for_the_first_key_agree_on_one(tmp_path: Path) -> None:
    settings = load_settings(database_url=database_url(tmp_path / "race.db"), access_token_format="jwt")
    processes = [Services.build(settings) for _ in range(4)]
    upgrade(processes[0].database)
    chosen: list[str] = []
    threads = [threading.Thread(target=lambda s=s: chosen.append(s.keys.active().kid)) for s in processes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(chosen)) == 1 and len(processes[0].keys.records()) == 1
    for services in processes:
        services.database.dispose()


def test_private_keys_are_encrypted_at_rest_with_a_key_encryption_key(make_server, tmp_path: Path) -> None:  # noqa: ANN001
    database = tmp_path / "mobproc.db"
    with make_server(database, access_token_format="jwt", key_encryption_key=KEK) as server, server.client() as http:
        client = server.add_client(grants=("client_credentials",))
        token = client_credentials_grant(http, client).json()["access_token"]
        assert verifies(token, http.get(JWKS_PATH).json(), server.url)
        http.get("/.well-known/openid-configuration")  # makes the ID tokens' first key
        private_jwk = server.services.keys.active().private.as_dict(private=True)
        url = server.settings.database_url
    engine = create_engine(normalize_url(url))
    with engine.connect() as connection:
        stored = connection.execute(text("select private_key from signing_keys where ring = 'access'")).scalar_one()
        # The ID tokens' ring is encrypted under the same key.
        id_token_keys = connection.execute(text("select private_key from signing_keys where ring = 'id_token'")).all()
    engine.dispose()
    assert stored.count(".") == 4 and private_jwk["d"] not in stored  # a JWE, not the JWK
    assert id_token_keys and all(key.count(".") == 4 for (key,) in id_token_keys)
    assert private_jwk["d"] not in dump_database(url)


def test_the_key_encryption_key_may_come_from_a_file(make_server, tmp_path: Path) -> None:  # noqa: ANN001
    key_file = tmp_path / "kek"
    key_file.write_text(KEK + "\n")
    database = tmp_path / "mobproc.db"
    with make_server(database, access_token_format="jwt", key_encryption_key_file=key_file) as server, \
            server.client() as http:
        assert client_credentials_grant(http, server.add_client(grants=("client_credentials",))).status_code == 200
    # The same secret given directly decrypts the same key.
    with make_server(database, access_token_format="jwt", key_encryption_key=KEK) as server, server.client() as http:
        assert client_credentials_grant(http, server.add_client(grants=("client_credentials",))).status_code == 200
        assert len(server.services.keys.records()) == 1


@pytest.mark.parametrize("env", [
    {"MOBPROC_KEY_ENCRYPTION_KEY": "another-key-encryption-key-entirely-0123456789"},
    {},
], ids=["another key", "no key"])
def test_serve_refuses_a_signing_key_it_cannot_decrypt(tmp_path: Path, env: dict[str, str]) -> None:
    url = database_url(tmp_path / "mobproc.db")
    assert mobproc("keys", "rotate", "--database", url, env={"MOBPROC_KEY_ENCRYPTION_KEY": KEK}).returncode == 0
    # The installed executable: it stops before it listens, on one line and without a traceback.
    result = mobproc_process("serve", "--port", "1", "--database", url, inherit_env=False,
                             env={**{k: v for k, v in os.environ.items() if "KEY_ENCRYPTION" not in k},
                                  "MOBPROC_ACCESS_TOKEN_FORMAT": "jwt", **env})
    assert result.returncode == 1
    assert "the signing key cannot be used" in result.stderr and "Traceback" not in result.stderr
    assert KEK not in result.stderr


def test_a_short_key_encryption_key_is_refused_with_one_line() -> None:
    result = mobproc("serve", env={"MOBPROC_KEY_ENCRYPTION_KEY": "short"})
    assert result.returncode == 2
    assert result.stderr.strip().startswith("mobproc: MOBPROC_KEY_ENCRYPTION_KEY:") and "short" not in result.stderr


def test_rotation_with_encryption_replaces_an_unencrypted_key(tmp_path: Path) -> None:
    url = database_url(tmp_path / "mobproc.db")
    assert mobproc("keys", "rotate", "--database", url).returncode == 0
    assert json.loads(mobproc("keys", "list", "--json", "--database", url).stdout)[0]["private_key"] == "unencrypted"
    assert mobproc("keys", "rotate", "--now", "--database", url, env={"MOBPROC_KEY_ENCRYPTION_KEY": KEK}).returncode == 0
    rows = json.loads(mobproc("keys", "list", "--json", "--database", url).stdout)
    assert [row["private_key"] for row in rows] == ["encrypted", "erased"]
    assert "active" in mobproc("keys", "list", "--database", url).stdout


# --- staged keys (issue 19 item 15): published before they sign --------------------------------


def kid_of(token: str) -> str:
    return jwt.get_unverified_header(token)["kid"]


def states(env: dict[str, str]) -> dict[str, dict]:
    listed = mobproc("keys", "list", "--json", env=env)
    assert listed.returncode == 0, listed.stderr
    return {row["kid"]: row for row in json.loads(listed.stdout)}


def test_a_rotation_stages_the_next_key_published_before_it_signs(make_server, tmp_path: Path) -> None:  # noqa: ANN001
    delay = 6
    with make_server(access_token_format="jwt", key_publication_delay_seconds=delay) as server, \
            server.client() as http:
        client = server.add_client(grants=("client_credentials",))
        old_kid = kid_of(client_credentials_grant(http, client).json()["access_token"])

        staged = server.services.keys.rotate()  # what `mobproc keys rotate` does (below)
        assert staged.signs_from - staged.created_at == pytest.approx(delay)
        jwks = http.get(JWKS_PATH)
        assert kids(jwks.json()) == {old_kid, staged.kid}  # published at once
        assert jwks.headers["cache-control"] == f"public, max-age={delay // 2}"  # a cache fetches it before it signs
        assert kid_of(client_credentials_grant(http, client).json()["access_token"]) == old_kid  # not signing yet
        keys = {record.kid: record for record in server.services.keys.records()}
        assert {kid: record.state(time.time()) for kid, record in keys.items()} == \
            {old_kid: "active", staged.kid: "staged"}
        assert keys[old_kid].retired_at == staged.signs_from  # the old key signs until the new one does
        assert server.services.keys.rotate().kid == staged.kid  # staged already: a cron job may run it again

        time.sleep(max(0.0, staged.signs_from + 0.2 - time.time()))
        assert kid_of(client_credentials_grant(http, client).json()["access_token"]) == staged.kid
        assert kids(http.get(JWKS_PATH).json()) == {old_kid, staged.kid}  # the old key's tokens live on
        keys = {record.kid: record for record in server.services.keys.records()}
        assert keys[old_kid].state(time.time()) == "retired" and keys[old_kid].private_key is None  # it signs no more


def test_keys_rotate_stages_a_key_and_says_when_it_signs(tmp_path: Path) -> None:
    env = {"MOBPROC_DATABASE_URL": database_url(tmp_path / "mobproc.db")}  # the default delay: a day
    assert "is active" in mobproc("keys", "rotate", env=env).stdout  # the first key signs at once
    first = next(iter(states(env)))
    rotated = mobproc("keys", "rotate", env=env)
    assert rotated.returncode == 0 and "is staged: published now, it signs from" in rotated.stdout, rotated.stderr
    listed = states(env)
    staged = (set(listed) - {first}).pop()
    assert listed[staged]["state"] == "staged" and listed[first]["state"] == "active"
    assert listed[first]["signs_until"] == listed[staged]["signs_from"]
    assert f"signing key {first} signs until {listed[staged]['signs_from']}" in rotated.stdout
    again = mobproc("keys", "rotate", env=env)
    assert f"signing key {staged} is staged already" in again.stdout and len(states(env)) == 2
    assert f"{staged}  ES256  staged" in mobproc("keys", "list", env=env).stdout


def test_keys_rotate_now_replaces_a_compromised_key_and_a_staged_one_at_once(make_server, tmp_path: Path) -> None:  # noqa: ANN001
    database = tmp_path / "mobproc.db"
    env = {"MOBPROC_DATABASE_URL": database_url(database)}  # the default delay: a day
    with make_server(database, access_token_format="jwt") as server, server.client() as http:
        client = server.add_client(grants=("client_credentials",))
        compromised = kid_of(client_credentials_grant(http, client).json()["access_token"])
        assert "is staged" in mobproc("keys", "rotate", env=env).stdout
        staged = next(kid for kid, row in states(env).items() if row["state"] == "staged")
        rotated = mobproc("keys", "rotate", "--now", env=env)
        assert rotated.returncode == 0 and "is active" in rotated.stdout, rotated.stderr
        fresh = kid_of(client_credentials_grant(http, client).json()["access_token"])
        assert fresh not in (compromised, staged)
        listed = states(env)
        assert [row["state"] for row in listed.values()].count("active") == 1
        assert {kid: row["private_key"] for kid, row in listed.items() if kid != fresh} == \
            {compromised: "erased", staged: "erased"}


def test_no_token_fails_at_a_pyjwt_resource_server_across_a_rotation(make_server, tmp_path: Path) -> None:  # noqa: ANN001
    """The issue's finding: PyJWT's PyJWKClient refetches the JWKS at most every 30 s, so for up
    to 30 s after `mobproc keys rotate` every new token failed there. Here it keeps its set 5 s
    (lifespan; its default is 300 s, the default publication delay a day) with its default 30 s
    cooldown for unknown keys, and the key is staged 6 s ahead."""
    database, delay = tmp_path / "mobproc.db", 6
    env = {"MOBPROC_DATABASE_URL": database_url(database), "MOBPROC_KEY_PUBLICATION_DELAY_SECONDS": str(delay)}
    with make_server(database, access_token_format="jwt", key_publication_delay_seconds=delay) as server, \
            server.client() as http:
        client = server.add_client(grants=("client_credentials",))
        resource_server = jwt.PyJWKClient(server.url + JWKS_PATH, lifespan=5)

        def accepted(token: str) -> bool:
            try:
                key = resource_server.get_signing_key_from_jwt(token)
                jwt.decode(token, key.key, algorithms=["ES256"], audience="MOBPROC", issuer=server.url)
            except jwt.PyJWTError:
                return False
            return True

        seen: dict[str, list[bool]] = {}
        assert accepted(client_credentials_grant(http, client).json()["access_token"])
        assert mobproc("keys", "rotate", env=env).returncode == 0
        until = time.time() + delay + 2
        while time.time() < until:
            token = client_credentials_grant(http, client).json()["access_token"]
            seen.setdefault(kid_of(token), []).append(accepted(token))
            time.sleep(0.05)
    assert {kid: results.count(False) for kid, results in seen.items()} == {kid: 0 for kid in seen}
    assert len(seen) == 2, "the rotation happened"


def test_scheduled_rotation_stages_each_key_ahead_and_processes_agree(tmp_path: Path) -> None:
    """MOBPROC_KEY_ROTATION_DAYS: every process may stage the next key when it is due; one wins."""
    period, delay = 3.0, 1.0
    settings = load_settings(database_url=database_url(tmp_path / "scheduled.db"), access_token_format="jwt",
                             key_rotation_days=period / 86400, key_publication_delay_seconds=delay)
    processes = [Services.build(settings) for _ in range(3)]
    upgrade(processes[0].database)
    signed: list[tuple[float, str]] = []
    until = time.time() + 3 * period + 0.5

    def sign(services: Services) -> None:
        while time.time() < until:
            signed.append((time.time(), services.keys.active().kid))
            time.sleep(0.01)

    threads = [threading.Thread(target=sign, args=(services,)) for services in processes for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    keys = sorted(processes[0].keys.records(), key=lambda record: record.signs_from)
    for services in processes:
        services.database.dispose()
    assert len(keys) == 4  # the first, and one per period: not one per process
    for before, after in zip(keys, keys[1:]):
        assert before.retired_at == after.signs_from  # each key takes over where the last stopped
        assert after.signs_from - before.signs_from >= period - 0.01
        assert after.signs_from - after.created_at >= delay  # published before it signed
    by_kid = {key.kid: key for key in keys}
    assert all(by_kid[kid].signs_from - 0.05 <= at for at, kid in signed)  # no key signed before its time
