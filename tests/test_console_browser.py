"""The console in a real browser (issue 24, "How it is checked"): Debian's Chromium driven by
Playwright (by executable_path; never Playwright's own download), against a real mobproc.

An admin signs in through mobproc's own login page, registers a client and sees its secret once,
the secret gets a token with curl, the client is disabled and the token endpoint refuses it; an
account locked by wrong passwords is unlocked and logs in; a grant revoked introspects inactive;
the audit page shows each of these with the actor. An auditor sees everything and changes
nothing; a form without the CSRF token, or posted from another site, changes nothing. A login
older than the re-authentication limit asks for the password before a destructive change. Every
page passes axe-core's WCAG 2.1 A and AA checks; the README's screenshots are written here
(docs/screenshots/console-*.png)."""

from __future__ import annotations

import json
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page

from conftest import LiveServer, introspect, password_grant, remember, unique
from mobproc.domain.registries import ClientRegistration
from test_sign_in_browser import SCREENSHOTS, assert_accessible, browser, sign_in  # noqa: F401 - a fixture

# What the console changes goes through the admin API's registries, which tests/test_admin_api.py
# runs on both databases: the browser's side runs once, in the SQLite run.
pytestmark = pytest.mark.database_agnostic

CONSOLE = "/admin/console"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, server_log: Path) -> Iterator[LiveServer]:
    # No client cache: a client disabled in the console is refused at its next request.
    with LiveServer(tmp_path_factory.mktemp("console") / "mobproc.db", client_cache_seconds=0) as live:
        yield live


def operator_account(server: LiveServer, role: str) -> tuple[str, str]:
    username, password = server.add_user(tenant=None)
    server.services.account_registry.grant_role(username, role, actor="cli:test")
    return username, password


@pytest.fixture(scope="module")
def admin(server: LiveServer) -> tuple[str, str]:
    return operator_account(server, "admin")


def open_console(browser: Browser, server: LiveServer, user: tuple[str, str], path: str = "/") -> Page:
    """A browser of its own, signed in to the console through the login page."""
    page = browser.new_context(viewport={"width": 1100, "height": 800}).new_page()
    page.goto(server.url + CONSOLE + path)
    sign_in(page, user)
    assert page.url.startswith(server.url + CONSOLE), page.url
    return page


def heading(page: Page) -> str:
    return page.locator("h1").inner_text()


def click_and_wait(page: Page, selector: str) -> None:
    with page.expect_navigation():
        page.click(selector)


def curl_token(server: LiveServer, client_id: str, secret: str) -> dict:
    """The client-credentials grant as a shell user sends it: curl, the secret in HTTP Basic."""
    done = subprocess.run(["curl", "-s", "-u", f"{client_id}:{secret}", "-d", "grant_type=client_credentials",
                           server.url + "/as/token.oauth2"], capture_output=True, text=True, timeout=30)
    return json.loads(done.stdout)


def test_the_browser_holds_a_session_cookie_and_never_a_token(browser: Browser, server: LiveServer,
                                                              admin: tuple[str, str]) -> None:
    page = open_console(browser, server, admin)
    assert heading(page) == "Overview" and page.locator("#environment").inner_text().lower().endswith("dev")
    cookies = {c["name"]: c for c in page.context.cookies()}
    console = cookies["mobproc_console"]
    assert console["httpOnly"] and console["sameSite"] == "Lax" and len(console["value"]) < 50
    # Nothing a script could read, in the page, its storage or its cookies, is a token.
    storage = page.evaluate("JSON.stringify(localStorage) + JSON.stringify(sessionStorage) + document.cookie")
    assert storage == "{}{}" and "access_token" not in page.content()
    page.context.close()


def test_an_admin_registers_a_client_disables_it_unlocks_an_account_and_revokes_a_grant(
        browser: Browser, server: LiveServer, admin: tuple[str, str]) -> None:
    page = open_console(browser, server, admin, "/clients")
    client_id = unique("shop")
    # A client registered: its secret shown once, and it works with curl.
    click_and_wait(page, "text=Register a client")
    page.fill("#client_id", client_id)
    page.check("#grant_client_credentials")
    page.fill("#scopes", "MOBPROC")
    click_and_wait(page, "button[type=submit] >> text=Register")
    secret = page.locator("#client_secret").inner_text()
    remember(secret)
    assert len(secret) == 32 and "shown this once" in page.content()
    assert curl_token(server, client_id, secret)["token_type"] == "Bearer"
    click_and_wait(page, f"text=Go to client {client_id}")
    assert secret not in page.content() and page.locator("#state").inner_text() == "enabled"
    # Disabled after a confirmation: the token endpoint refuses it.
    click_and_wait(page, "a:has-text('Disable')")
    assert heading(page) == f"Disable client {client_id}?"
    click_and_wait(page, "button.danger")
    assert page.locator("#state").inner_text() == "disabled" and "The client is disabled." in page.content()
    assert curl_token(server, client_id, secret)["error"] == "invalid_client"

    # An account locked by wrong passwords, unlocked here, logs in.
    user = server.add_user()
    app = server.add_client()
    with httpx.Client(base_url=server.url) as http:
        for _ in range(server.settings.lockout_threshold):
            assert password_grant(http, app, (user[0], "wrong")).status_code == 400
        assert password_grant(http, app, user).status_code == 400  # locked
        page.goto(server.url + CONSOLE + "/accounts?prefix=" + user[0].split("://")[1])
        click_and_wait(page, f"text={user[0]}")
        assert page.locator("#locked").inner_text().startswith("until ")
        click_and_wait(page, "button:has-text('Unlock')")
        assert page.locator("#locked").inner_text() == "no"
        issued = password_grant(http, app, user)
        assert issued.status_code == 200
        # Its grant, revoked here, introspects inactive.
        validator = server.add_client(grants=("access_token_validation",))
        assert introspect(http, validator, issued.json()["access_token"]).json()["active"] is True
        page.reload()
        click_and_wait(page, "a:has-text('Revoke grant')")
        click_and_wait(page, "button.danger")
        assert "The grant is revoked." in page.content()
        assert introspect(http, validator, issued.json()["access_token"]).json() == {"active": False}

    # The audit trail shows each change with its actor.
    page.goto(server.url + CONSOLE + "/audit?actor=account:" + admin[0])
    rows = page.locator("tbody tr").all_inner_texts()
    for event, about in [("client_added", client_id), ("client_disabled", client_id),
                         ("account_unlocked", user[0]), ("grant_revoked", user[0])]:
        assert any(event in row and about in row and f"account:{admin[0]}" in row for row in rows), (event, rows)
    page.context.close()


def test_an_auditor_sees_everything_and_changes_nothing(browser: Browser, server: LiveServer) -> None:
    auditor = operator_account(server, "auditor")
    client_id = server.add_client()[0]
    page = open_console(browser, server, auditor, f"/clients/{client_id}")
    assert heading(page) == f"Client {client_id}" and page.locator(".actions").count() == 0
    for path in ("/", "/clients", "/accounts", "/keys", "/audit", f"/accounts/{auditor[0]}"):
        page.goto(server.url + CONSOLE + path)
        assert page.locator("form[action$='/act']").count() == 0, path
    csrf = page.locator("input[name=csrf_token]").first.get_attribute("value")  # the sign-out form's
    page.goto(server.url + CONSOLE + "/clients/new")
    assert heading(page) == "Not allowed"
    # The form it cannot see, posted anyway with its own CSRF token: refused, nothing changed.
    status = page.evaluate("""([csrf, target]) => fetch('/admin/console/act', {method: 'POST',
        headers: {'Content-Type': 'application/x-www-form-urlencoded'},
        body: new URLSearchParams({csrf_token: csrf, action: 'client.disable', target: target, confirmed: 'yes'})})
        .then(r => r.status)""", [csrf, client_id])
    assert status == 403 and server.services.client_registry.find(client_id).enabled
    page.context.close()


class CrossSite(BaseHTTPRequestHandler):
    """Another site's page whose form posts itself to the console on load."""

    target = ""

    def do_GET(self) -> None:  # noqa: N802
        body = (f'<!doctype html><html lang="en"><title>x</title><form method="post" action="{self.target}">'
                f'<input name="action" value="client.disable"><input name="target" value="{self.client_id}">'
                '<input name="confirmed" value="yes"></form><script>document.forms[0].submit()</script></html>')
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args: object) -> None:
        pass


def test_a_form_without_the_csrf_token_or_from_another_site_is_refused(browser: Browser, server: LiveServer,
                                                                       admin: tuple[str, str]) -> None:
    client_id = server.add_client()[0]
    page = open_console(browser, server, admin)
    # Same origin, the session's cookie, no CSRF token: refused.
    status = page.evaluate("""(target) => fetch('/admin/console/act', {method: 'POST',
        headers: {'Content-Type': 'application/x-www-form-urlencoded'},
        body: new URLSearchParams({action: 'client.disable', target: target, confirmed: 'yes'})}).then(r => r.status)""",
                           client_id)
    assert status == 403 and server.services.client_registry.find(client_id).enabled
    # Another site (localhost is not 127.0.0.1's site) posting a form to the console, in the
    # signed-in browser: the SameSite=Lax cookie stays home, and the change is not made.
    CrossSite.target, CrossSite.client_id = server.url + CONSOLE + "/act", client_id
    other = ThreadingHTTPServer(("127.0.0.1", 0), CrossSite)
    threading.Thread(target=other.serve_forever, daemon=True).start()
    try:
        page.goto(f"http://localhost:{other.server_address[1]}/")
        page.wait_for_load_state("networkidle")
    finally:
        other.shutdown()
    # The post reached the console without its session (it was sent on to sign in), and changed nothing.
    assert page.url.startswith(server.url), page.url
    assert server.services.client_registry.find(client_id).enabled
    page.context.close()


def test_a_destructive_change_asks_for_the_password_when_the_login_is_old(
        make_server, browser: Browser) -> None:  # noqa: ANN001
    # A login older than 4 s is old here: the fresh one must stay young from the sign-in to the
    # confirmed change (at 1 s, a loaded host took longer, and asked for the password once more).
    with make_server(console_reauth_seconds=4, client_cache_seconds=0) as server:
        admin = operator_account(server, "admin")
        client_id = server.add_client()[0]
        page = open_console(browser, server, admin, f"/clients/{client_id}")
        time.sleep(4.5)
        click_and_wait(page, "a:has-text('Disable')")
        assert heading(page) == "Sign in"  # prompt=login: the password again, whatever the session
        sign_in(page, admin)
        assert heading(page) == f"Disable client {client_id}?"
        click_and_wait(page, "button.danger")
        assert page.locator("#state").inner_text() == "disabled"
        page.context.close()


def test_production_is_shown_in_red(make_server, browser: Browser) -> None:  # noqa: ANN001
    with make_server(environment="production", issuer="self") as server:
        admin = operator_account(server, "admin")
        page = open_console(browser, server, admin)
        assert page.locator("#environment").inner_text().lower().endswith("production")
        banner = page.evaluate("getComputedStyle(document.querySelector('.console-banner')).backgroundColor")
        assert banner == "rgb(139, 16, 20)"
        assert_accessible(page)
        page.context.close()


def test_the_audit_pages_live_tail_shows_each_new_event_as_it_is_recorded(browser: Browser, server: LiveServer,
                                                                          admin: tuple[str, str]) -> None:
    page = open_console(browser, server, admin, "/audit?event=client_added")
    page.wait_for_selector("#tail-state:has-text('Live')")
    client_id = unique("live")
    server.services.client_registry.register(ClientRegistration(client_id, ("client_credentials",), ("A",)),
                                             actor="cli:tail-test")
    arrived = page.locator("#tail li", has_text=client_id)
    arrived.wait_for(timeout=15_000)
    assert "client_added" in arrived.inner_text() and "actor=cli:tail-test" in arrived.inner_text()
    # The filter holds: an event of another kind does not appear.
    server.services.client_registry.set_enabled(client_id, False, actor="cli:tail-test")
    time.sleep(2.5)
    assert page.locator("#tail li", has_text="client_disabled").count() == 0
    page.context.close()


def test_every_console_page_passes_axe_and_the_readmes_screenshots(browser: Browser, server: LiveServer,
                                                                   admin: tuple[str, str]) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    user = server.add_user()
    app = server.add_client()
    with httpx.Client(base_url=server.url) as http:
        assert password_grant(http, app, user).status_code == 200
    page = open_console(browser, server, admin)
    username = user[0]
    pages = [("/", "console-overview"), ("/clients", "console-clients"), (f"/clients/{app[0]}", None),
             ("/clients/new", None), ("/accounts?prefix=user", "console-accounts"),
             (f"/accounts/{username}", "console-account"), ("/keys", None), ("/audit", "console-audit"),
             (f"/confirm?action=client.remove&target={app[0]}", "console-confirm"),
             ("/clients/no-such-client", None)]
    for path, shot in pages:
        page.goto(server.url + CONSOLE + path)
        assert_accessible(page)
        if shot:
            page.screenshot(path=str(SCREENSHOTS / f"{shot}.png"), full_page=True)
    page.goto(server.url + CONSOLE + "/clients/new")
    page.fill("#client_id", unique("bad"))
    click_and_wait(page, "button[type=submit] >> text=Register")  # no grant: the error on the page
    assert page.locator("[role=alert]").count() == 1
    assert_accessible(page)
    click_and_wait(page, "button:has-text('Sign out')")
    assert heading(page) == "Signed out of the console"
    assert_accessible(page)
    page.context.close()
