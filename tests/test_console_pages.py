"""The console's pages without a browser: signing in (state, nonce, PKCE, only the console's own
pages to return to), its refusals as pages and never a 500, the session held server-side and
ended by signing out or by revoking the token it holds, a role taken away ending what it can do."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from conftest import LiveServer, dump_database, remember
from sign_in import Form
from mobproc.web.console import CLIENT_ID

CONSOLE = "/admin/console"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, server_log: Path) -> Iterator[LiveServer]:
    with LiveServer(tmp_path_factory.mktemp("console-pages") / "mobproc.db") as live:
        yield live


def account(server: LiveServer, role: str | None = "admin") -> tuple[str, str]:
    user = server.add_user(tenant=None)
    if role:
        server.services.account_registry.grant_role(user[0], role, actor="cli:test")
    return user


def signed_in(server: LiveServer, user: tuple[str, str], path: str = "/") -> tuple[httpx.Client, httpx.Response]:
    """A cookie jar signed in to the console through the login page; the page it came back to."""
    http = httpx.Client(base_url=server.url, follow_redirects=False, timeout=30)
    answer = http.get(CONSOLE + path)
    while answer.status_code in (302, 303):
        answer = http.get(answer.headers["location"])
    form = Form(answer.text)
    answer = http.post(form.action, data={**form.fields, "username": user[0], "password": user[1], "action": "login"})
    while answer.status_code in (302, 303):
        answer = http.get(answer.headers["location"])
    return http, answer


def csrf_of(page: httpx.Response) -> str:
    return Form(page.text).fields["csrf_token"]


def test_signing_in_uses_pkce_a_state_and_a_nonce_and_returns_to_the_page_asked_for(server: LiveServer) -> None:
    http = httpx.Client(base_url=server.url, follow_redirects=False)
    to_login = http.get(CONSOLE + "/keys")
    assert to_login.status_code == 303
    authorize = http.get(to_login.headers["location"])
    query = parse_qs(urlsplit(authorize.headers["location"]).query)
    assert query["client_id"] == [CLIENT_ID] and query["code_challenge_method"] == ["S256"]
    assert query["state"][0] and query["nonce"][0] and "openid" in query["scope"][0].split()
    assert query["redirect_uri"] == [server.url + CONSOLE + "/callback"]
    http.close()
    client, page = signed_in(server, account(server), "/keys")
    assert "<h1>Signing keys</h1>" in page.text
    client.close()


@pytest.mark.parametrize("return_to", ["https://evil.example/", "//evil.example/x", "/as/token.oauth2",
                                       CONSOLE + "//evil.example", CONSOLE + "/\\\\evil.example"])
def test_the_console_returns_only_to_its_own_pages(server: LiveServer, return_to: str) -> None:
    with httpx.Client(base_url=server.url, follow_redirects=False) as http:
        authorize = http.get(CONSOLE + "/login", params={"return_to": return_to})
        login = http.get(authorize.headers["location"])
        form = Form(login.text)
        user = account(server)
        answer = http.post(form.action, data={**form.fields, "username": user[0], "password": user[1],
                                              "action": "login"})
        back = http.get(answer.headers["location"])
        assert back.status_code == 303 and back.headers["location"] == CONSOLE + "/"


def test_a_callback_not_started_here_is_refused(server: LiveServer) -> None:
    with httpx.Client(base_url=server.url) as http:
        answer = http.get(CONSOLE + "/callback", params={"code": "x", "state": "y"})
    assert answer.status_code == 400 and "<h1>Cannot sign in</h1>" in answer.text


def test_an_account_without_a_role_gets_no_session(server: LiveServer) -> None:
    http, page = signed_in(server, account(server, None))
    assert page.status_code == 403 and "<h1>No role</h1>" in page.text
    assert not [name for name in http.cookies if name.endswith("mobproc_console")]
    http.close()


def test_the_token_is_kept_sealed_server_side_and_the_session_ends_with_it(server: LiveServer) -> None:
    user = account(server)
    http, page = signed_in(server, user)
    assert "<h1>Overview</h1>" in page.text
    cookie = http.cookies["mobproc_console"]
    remember(cookie)
    # The database holds neither the cookie nor anything it opens without it.
    assert cookie not in dump_database(server.settings.database_url)
    # Revoking the account's grants (a new password) ends what the console's token could do.
    server.services.account_registry.set_password(user[0], "pw-" + user[1], actor="cli:test")
    remember("pw-" + user[1])
    assert http.get(CONSOLE + "/").status_code == 303
    http.close()


def test_a_role_taken_away_ends_what_the_session_can_do(server: LiveServer) -> None:
    user = account(server, "operator")
    http, _ = signed_in(server, user)
    assert http.get(CONSOLE + "/clients").status_code == 200
    server.services.account_registry.revoke_role(user[0], "operator", actor="cli:test")
    refused = http.get(CONSOLE + "/clients")
    assert refused.status_code == 403 and "<h1>No role</h1>" in refused.text
    http.close()


def test_signing_out_needs_the_csrf_token_and_ends_the_session(server: LiveServer) -> None:
    http, page = signed_in(server, account(server))
    refused = http.post(CONSOLE + "/logout", data={"csrf_token": "forged"})
    assert refused.status_code == 403 and http.get(CONSOLE + "/").status_code == 200
    out = http.post(CONSOLE + "/logout", data={"csrf_token": csrf_of(page)})
    assert "<h1>Signed out of the console</h1>" in out.text
    assert http.get(CONSOLE + "/").status_code == 303
    http.close()


@pytest.mark.parametrize("method, path, data", [
    ("GET", "/clients/no-such-client", None),
    ("GET", "/accounts/nowhere%3A%2F%2Fx", None),
    ("GET", "/accounts/command%3A%2F%2F%00", None),
    ("GET", "/confirm?action=nope&target=x", None),
    ("GET", "/audit?cursor=%%%", None),
    ("GET", "/audit?cursor=MTo5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OQ", None),
    ("GET", "/audit?cursor=bmFuOjE", None),
    ("GET", "/audit?subject=" + "x" * 2000, None),
    ("GET", "/clients?offset=-5&prefix=%00", None),
    ("POST", "/act", {"action": "grant.revoke", "target": "command://x", "extra": "12345678901234567890"}),
    ("POST", "/act", {"action": "client.enable", "target": "no-such-client"}),
    ("POST", "/act", b"\xff\xfe=\x00"),
])
def test_bad_input_is_a_page_never_a_500(server: LiveServer, method: str, path: str, data: object) -> None:
    http, page = signed_in(server, account(server))
    if isinstance(data, dict):
        data = {**data, "csrf_token": csrf_of(page)}
    answer = http.request(method, CONSOLE + path, **({"data": data} if isinstance(data, dict) else
                                                     {"content": data} if data else {}))
    assert 200 <= answer.status_code < 500 and "Traceback" not in answer.text, answer.text
    http.close()


def test_the_console_moves_with_the_admin_api(make_server) -> None:  # noqa: ANN001
    with make_server(admin_port="own") as server:
        with httpx.Client(base_url=server.url) as main:
            assert main.get(CONSOLE + "/").status_code == 404
        with httpx.Client(base_url=server.admin_url, follow_redirects=False) as admin:
            login = admin.get(CONSOLE + "/login")
            redirect_uri = parse_qs(urlsplit(login.headers["location"]).query)["redirect_uri"][0]
            assert login.headers["location"].startswith(server.url + "/as/authorization.oauth2")
            assert redirect_uri == server.admin_url + CONSOLE + "/callback"
    with make_server(admin_enabled=False) as server, httpx.Client(base_url=server.url) as http:
        assert http.get(CONSOLE + "/").status_code == 404




def test_housekeeping_deletes_the_sessions_whose_token_has_expired(server: LiveServer) -> None:
    from mobproc.storage.housekeeping import cleanup

    http, _ = signed_in(server, account(server))
    assert http.get(CONSOLE + "/").status_code == 200
    cleaned = cleanup(server.services.database, now=time.time() + server.settings.access_token_lifetime + 1)
    assert cleaned.console_sessions >= 1
    assert http.get(CONSOLE + "/").status_code == 303
    http.close()


def test_an_operator_is_not_told_the_secret_of_a_client_that_acts_as_admin(server: LiveServer) -> None:
    from mobproc.domain.registries import ClientRegistration

    robot_id = f"robot-{time.time_ns()}"
    remember(server.services.client_registry.register(
        ClientRegistration(robot_id, ("client_credentials",), ("mobproc:admin",)), actor="cli:test").secret)
    ordinary = server.add_client(grants=("client_credentials",), scopes=("A",))[0]
    http, page = signed_in(server, account(server, "operator"))
    form = {"csrf_token": csrf_of(page), "action": "client.rotate", "confirmed": "yes"}
    refused = http.post(CONSOLE + "/act", data={**form, "target": robot_id})
    assert refused.status_code == 403 and "Client secret" not in refused.text
    rotated = http.post(CONSOLE + "/act", data={**form, "target": ordinary})
    assert rotated.status_code == 200 and "Client secret" in rotated.text
    remember(rotated.text.split('class="secret">')[1].split("<")[0])
    http.close()


def test_a_signing_key_that_cannot_be_used_is_a_503_page_at_the_callback(server: LiveServer, monkeypatch) -> None:  # noqa: ANN001
    from mobproc.domain.signing_keys import SigningKeyUnavailable

    def unavailable(*args: object, **kwargs: object) -> dict:
        raise SigningKeyUnavailable("the ID tokens' key cannot be decrypted")

    monkeypatch.setattr(server.services.token_endpoint, "handle", unavailable)
    http, page = signed_in(server, account(server))
    assert page.status_code == 503 and "<h1>Unavailable</h1>" in page.text, page.text
    http.close()
