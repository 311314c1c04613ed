"""Signing keys: made on first start, rotated by the CLI, retired once their tokens expire,
encrypted at rest with MOBPROC_KEY_ENCRYPTION_KEY."""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from pathlib import Path

import jwt
import pytest

from conftest import (
    JWKS_PATH, MOBPROC, ServerProcess, client_credentials_grant, database_url, dump_database, remember,
)
from sqlalchemy import create_engine, text

from mobproc.storage.database import normalize_url
from mobproc.config import load_settings
from mobproc.domain.signing_keys import RETIREMENT_GRACE_SECONDS
from mobproc.services import Services
from mobproc.storage.migrate import upgrade

KEK = "k" * 8 + "-key-encryption-key-for-tests-0123456789"
remember(KEK)


def mobproc(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([MOBPROC, *args], capture_output=True, text=True, timeout=60, env={**os.environ, **(env or {})})


def verifies(token: str, jwks: dict, issuer: str) -> bool:
    keys = {key.key_id: key for key in jwt.PyJWKSet.from_dict(jwks).keys}
    key = keys.get(jwt.get_unverified_header(token)["kid"])
    if key is None:
        return False
    jwt.decode(token, key.key, algorithms=["ES256"], audience="MOBPROC", issuer=issuer)
    return True


def kids(jwks: dict) -> set[str]:
    return {key["kid"] for key in jwks["keys"]}


def test_rotation_keeps_old_tokens_valid_and_retires_the_key_once_they_expire(make_server, tmp_path: Path) -> None:  # noqa: ANN001
    database = tmp_path / "mobproc.db"
    # Long enough that the `keys rotate` and `keys list` processes, slow to start on a busy
    # machine, run before the first token expires; short enough to wait for.
    lifetime = 8
    env = {"MOBPROC_DATABASE_URL": database_url(database), "MOBPROC_ACCESS_TOKEN_LIFETIME": str(lifetime)}
    with make_server(database, access_token_format="jwt", access_token_lifetime=lifetime) as server, \
            server.client() as http:
        client = server.add_client(grants=("client_credentials",))
        before = client_credentials_grant(http, client).json()["access_token"]
        old_kid = jwt.get_unverified_header(before)["kid"]

        rotated = mobproc("keys", "rotate", env=env)
        rotated_at = time.time()
        assert rotated.returncode == 0, rotated.stderr
        assert f"signing key {old_kid} is retired" in rotated.stdout

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
            assert len(http.get(JWKS_PATH).json()["keys"]) == 1


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
        private_jwk = server.services.keys.active().private.as_dict(private=True)
        url = server.settings.database_url
    engine = create_engine(normalize_url(url))
    with engine.connect() as connection:
        stored = connection.execute(text("select private_key from signing_keys")).scalar_one()
    engine.dispose()
    assert stored.count(".") == 4 and private_jwk["d"] not in stored  # a JWE, not the JWK
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
    result = subprocess.run([MOBPROC, "serve", "--port", "1", "--database", url], capture_output=True, text=True,
                            timeout=60, env={**{k: v for k, v in os.environ.items() if "KEY_ENCRYPTION" not in k},
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
    assert mobproc("keys", "rotate", "--database", url, env={"MOBPROC_KEY_ENCRYPTION_KEY": KEK}).returncode == 0
    rows = json.loads(mobproc("keys", "list", "--json", "--database", url).stdout)
    assert [row["private_key"] for row in rows] == ["encrypted", "erased"]
    assert "active" in mobproc("keys", "list", "--database", url).stdout
