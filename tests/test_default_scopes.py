"""What a request without `scope` gets (RFC 6749 §3.3: "a pre-defined default value"): for a
client allowed several scopes, the ones its operator chose at registration, not all of them.

requests-oauthlib never sends the session's scope with the password grant, then compares the
granted scope with the session's: a client allowed MOBPROC and REPORTS, granted both by
default, failed with "Scope has changed from "MOBPROC" to "MOBPROC REPORTS"."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from oauthlib.oauth2 import LegacyApplicationClient
from requests_oauthlib import OAuth2Session

from conftest import TOKEN_PATH, mobproc, remember


def register(url: str, client_id: str, *options: str) -> subprocess.CompletedProcess[str]:
    secret = "s" * 8 + os.urandom(16).hex()
    remember(secret)
    added = mobproc("client", "add", client_id, "--grant", "password", *options, "--secret-stdin", "--database", url,
                    stdin=secret + "\n")
    added.secret = secret  # type: ignore[attr-defined]
    return added


def test_a_client_allowed_several_scopes_is_registered_with_its_default(make_server, tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")  # the test server speaks plain HTTP on loopback
    with make_server(tmp_path / "mobproc.db") as server:
        url = server.settings.database_url
        # Without a choice, registration stops and says what to choose.
        refused = register(url, "reports-app", "--scope", "MOBPROC", "--scope", "REPORTS")
        assert refused.returncode == 2
        assert "--default-scope" in refused.stderr and "Traceback" not in refused.stderr
        # All its scopes as its default, as every client had before: requests-oauthlib refuses the token.
        everything = register(url, "everything-app", "--scope", "MOBPROC", "--scope", "REPORTS",
                              "--default-scope", "MOBPROC", "--default-scope", "REPORTS")
        username, password = server.add_user()
        session = OAuth2Session(client=LegacyApplicationClient(client_id="everything-app"), scope=["MOBPROC"])
        with pytest.raises(Warning, match='Scope has changed from "MOBPROC" to "(MOBPROC REPORTS|REPORTS MOBPROC)"'):
            session.fetch_token(token_url=server.url + TOKEN_PATH, username=username, password=password,
                                client_id="everything-app", client_secret=everything.secret)
        # As the README says: the scope the client's library asks for is its default.
        added = register(url, "reports-app", "--scope", "MOBPROC", "--scope", "REPORTS", "--default-scope", "MOBPROC")
        assert added.returncode == 0, added.stderr
        session = OAuth2Session(client=LegacyApplicationClient(client_id="reports-app"), scope=["MOBPROC"])
        token = session.fetch_token(token_url=server.url + TOKEN_PATH, username=username, password=password,
                                    client_id="reports-app", client_secret=added.secret)
        remember(token["access_token"])
        assert token["scope"] == ["MOBPROC"]
        # REPORTS is there for the asking.
        wider = OAuth2Session(client=LegacyApplicationClient(client_id="reports-app"), scope=["MOBPROC", "REPORTS"])
        token = wider.fetch_token(token_url=server.url + TOKEN_PATH, username=username, password=password,
                                  client_id="reports-app", client_secret=added.secret, scope="MOBPROC REPORTS")
        remember(token["access_token"])
        assert "scope" not in token  # RFC 6749 §5.1: granted as asked


def test_a_client_allowed_one_scope_has_it_as_its_default(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/cli.db"
    assert register(url, "one", "--scope", "MOBPROC").returncode == 0
    assert register(url, "all", "--scope", "MOBPROC", "--scope", "REPORTS",
                    "--default-scope", "MOBPROC", "--default-scope", "REPORTS").returncode == 0
    listed = {row["client_id"]: row["default_scopes"]
              for row in json.loads(mobproc("client", "list", "--json", "--database", url).stdout)}
    assert listed == {"one": ["MOBPROC"], "all": ["MOBPROC", "REPORTS"]}
