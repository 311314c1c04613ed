"""CONTRACT §3: in one database, nothing of one environment works in another."""

from __future__ import annotations

from pathlib import Path

from conftest import password_grant, refresh_grant


def test_a_dev_client_account_and_token_do_nothing_in_qa(make_server, tmp_path: Path) -> None:  # noqa: ANN001
    database = tmp_path / "shared.db"
    with make_server(database, environment="dev") as dev, dev.client() as http:
        client, user = dev.add_client(), dev.add_user()
        token = password_grant(http, client, user).json()
        assert "access_token" in token
    with make_server(database, environment="qa", issuer="https://oauthqa.example.com") as qa, qa.client() as http:
        assert password_grant(http, client, user).json()["error"] == "invalid_client"
        qa_client = qa.add_client()
        # The dev account is unknown in qa, and so is the dev refresh token.
        assert password_grant(http, qa_client, user).json()["error"] == "invalid_grant"
        assert refresh_grant(http, qa_client, token["refresh_token"]).json()["error"] == "invalid_grant"
        # The same client id may exist in both, as separate registrations.
        qa.services.clients.add_client(client[0], "q" * 32, ["password"], ["MOBPROC"])
        assert password_grant(http, client, user).json()["error"] == "invalid_client"
