"""Registering the clients people sign in to (issue 20): `mobproc client add … --redirect-uri`,
`--public`, `--pkce optional`, `--trusted`, `--grant implicit`, one rule in one place
(ClientRegistration) whoever registers."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from conftest import database_url, mobproc, remember
from mobproc.domain.redirect_uris import matches


@pytest.fixture
def database(tmp_path: Path) -> str:
    return database_url(tmp_path / "clients.db")


def test_a_public_client_is_registered_without_a_secret(database: str) -> None:
    added = mobproc("client", "add", "spa", "--grant", "authorization_code", "--grant", "refresh_token", "--scope",
                    "MOBPROC", "--public", "--redirect-uri", "http://127.0.0.1:8000/cb", "--database", database)
    assert added.returncode == 0, added.stderr
    assert "client_secret" not in added.stdout
    listed = json.loads(mobproc("client", "list", "--json", "--database", database).stdout)
    assert listed == [{"client_id": "spa", "grants": ["authorization_code", "refresh_token"], "scopes": ["MOBPROC"],
                       "default_scopes": ["MOBPROC"], "enabled": True, "redirect_uris": ["http://127.0.0.1:8000/cb"],
                       "public": True, "pkce": "required", "trusted": False, "access_token_lifetime": None,
                       "id_token_alg": None}]
    rotated = mobproc("client", "rotate-secret", "spa", "--database", database)
    assert rotated.returncode == 2 and "public" in rotated.stderr


def test_a_trusted_confidential_client_with_pkce_optional_gets_a_secret(database: str) -> None:
    added = mobproc("client", "add", "console", "--grant", "authorization_code", "--scope", "MOBPROC", "--trusted",
                    "--pkce", "optional", "--redirect-uri", "https://console.example.com/cb", "--database", database)
    assert added.returncode == 0, added.stderr
    remember(re.search(r"client_secret: (\S+)", added.stdout).group(1))
    listed = mobproc("client", "list", "--database", database).stdout
    assert "redirect_uris=https://console.example.com/cb" in listed and "trusted" in listed


@pytest.mark.parametrize(("args", "says"), [
    (["--grant", "authorization_code"], "need a redirect URI"),
    (["--grant", "implicit"], "need a redirect URI"),
    (["--grant", "password", "--redirect-uri", "https://a.example/cb"], "are for the authorization_code"),
    (["--grant", "password", "--public"], "a public client may have only"),
    (["--grant", "authorization_code", "--public", "--pkce", "optional", "--redirect-uri", "https://a.example/cb"],
     "PKCE may be optional only"),
    (["--grant", "password", "--trusted"], "only a client people sign in to"),
    (["--grant", "authorization_code", "--redirect-uri", "https://a.example/cb", "--id-token-alg", "HS256"],
     "RS256 or ES256"),
    (["--grant", "authorization_code", "--redirect-uri", "http://app.example/cb"], "plain http only for a loopback"),
    (["--grant", "authorization_code", "--redirect-uri", "https://a.example/cb#x"], "fragment"),
    (["--grant", "authorization_code", "--redirect-uri", "cb"], "private-use scheme"),
    (["--grant", "authorization_code", "--redirect-uri", "javascript:alert(1)"], "private-use scheme"),
    (["--grant", "authorization_code", "--redirect-uri", "https://user@a.example/cb"], "no user information"),
])
def test_what_cannot_be_registered_is_refused_with_one_line(database: str, args: list[str], says: str) -> None:
    result = mobproc("client", "add", "x", "--scope", "MOBPROC", *args, "--database", database)
    assert result.returncode == 2, result.stdout
    assert says in result.stderr and "Traceback" not in result.stderr


def test_a_native_apps_private_use_scheme_and_a_loopback_uri_are_accepted(database: str) -> None:
    result = mobproc("client", "add", "native", "--scope", "MOBPROC", "--grant", "authorization_code", "--public",
                     "--redirect-uri", "com.example.app:/oauth2redirect", "--redirect-uri", "http://[::1]/cb",
                     "--database", database)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("presented", [
    "https://app.example/cb/", "https://app.example/c", "https://app.example/cb2", "HTTPS://app.example/cb",
    "https://APP.example/cb", "https://app.example/cb#frag", "https://app.example/cb?x=1", "https://app.example/cb/../cb",
    "https://app.example/%63b", "https://app.example%2Fcb", "https://good@app.example/cb",
    "https://app.example/cb@evil.example", "https://app.example:443/cb", "https://app.example:8443/cb",
    "https://app.example.evil.example/cb", "http://app.example/cb", " https://app.example/cb",
])
def test_a_redirect_uri_matches_only_exactly(presented: str) -> None:
    assert matches("https://app.example/cb", ["https://app.example/cb"])
    assert not matches(presented, ["https://app.example/cb"])


@pytest.mark.parametrize(("presented", "expected"), [
    ("http://127.0.0.1:51234/cb", True), ("http://127.0.0.1/cb", True), ("http://127.0.0.1:8000/cb", True),
    ("http://127.0.0.1:51234/cb/", False), ("http://127.0.0.1:51234/other", False),
    ("http://localhost:51234/cb", False), ("http://[::1]:51234/cb", False),
    ("http://127.0.0.1:51234@evil.example/cb", False), ("http://127.0.0.1.evil.example/cb", False),
    ("https://127.0.0.1:51234/cb", False), ("http://127.0.0.1:51234/cb#x", False),
])
def test_a_loopback_redirect_uri_may_vary_its_port_only(presented: str, expected: bool) -> None:
    """RFC 8252 §7.3."""
    assert matches(presented, ["http://127.0.0.1:8000/cb"]) is expected
