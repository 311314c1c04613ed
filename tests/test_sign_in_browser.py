"""Interactive sign-in in a real browser (issue 20, "How it is checked"): Debian's Chromium
driven by Playwright (launched by executable_path; Playwright's own browser download is never
used), against a real mobproc server and a small client app on a loopback port
(tests/web_client.py). Also: axe-core's WCAG 2.1 A and AA checks of every page, the refusal to
be framed, and the README's screenshots (docs/screenshots/, written here)."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page, sync_playwright

from conftest import LiveServer, introspect, remember
from sign_in import add_web_client
from web_client import ClientApp

CHROMIUM = os.environ.get("MOBPROC_TEST_CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parent.parent / "docs" / "screenshots"
LOOPBACK = "http://127.0.0.1/cb"  # registered without a port: the app's port varies (RFC 8252 §7.3)
WCAG = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}}
# What a browser sees and does (pages, accessibility, framing, the redirects) is the same on
# either database; the flows' storage is tested on both by tests/test_sign_in_sessions.py.
pytestmark = pytest.mark.database_agnostic


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: scripts/system-packages installs Debian's chromium")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 800, "height": 720})
    yield context.new_page()
    context.close()


@pytest.fixture(scope="module")
def trusted(server: LiveServer):  # noqa: ANN201
    return add_web_client(server, redirect_uris=(LOOPBACK,))[0]


def sign_in(page: Page, user: tuple[str, str], *, keyboard: bool = False) -> None:
    expect_login(page)
    with page.expect_navigation():
        if keyboard:  # the username field has the focus; Tab, Tab to the password; Enter submits
            page.keyboard.type(user[0])
            page.keyboard.press("Tab")
            page.keyboard.press("Tab")
            page.keyboard.type(user[1])
            page.keyboard.press("Enter")
        else:
            page.fill("#username", user[0])
            page.fill("#password", user[1])
            page.click("button[value=login]")


def photograph(page: Page, name: str) -> None:
    """A screenshot for the README, replaced whole (the SQLite and PostgreSQL runs of `make test`
    may take the same one at once)."""
    target = SCREENSHOTS / f"{name}.png"
    partial = target.with_suffix(f".{os.getpid()}.tmp")
    partial.write_bytes(page.screenshot())
    os.replace(partial, target)


def expect_login(page: Page) -> None:
    assert page.locator("h1").inner_text() == "Sign in", page.content()


def assert_accessible(page: Page) -> None:
    results = Axe().run(page, options=WCAG)
    assert results.violations_count == 0, results.generate_report()


def test_code_and_pkce_from_login_to_tokens_and_a_refresh(server: LiveServer, page: Page, trusted: str) -> None:
    user = server.add_user()
    with ClientApp(server.url, trusted) as app:
        page.goto(app.url + "/start")
        assert page.evaluate("document.activeElement.id") == "username"  # the focus is where to type
        sign_in(page, user, keyboard=True)
        assert page.url.startswith(app.redirect_uri + "?code=") and page.locator("h1").inner_text() == "Signed in"
        assert len(app.tokens) == 1 and app.tokens[0]["scope"] == "MOBPROC"
        refreshed = app.refresh()
        assert refreshed.status_code == 200 and refreshed.json()["refresh_token"] != app.tokens[0]["refresh_token"]
        # The second authorization from this browser needs no password: the session serves it.
        page.goto(app.url + "/start")
        assert page.locator("h1").inner_text() == "Signed in" and len(app.tokens) == 2
        # prompt=login asks again.
        page.goto(app.url + "/start?prompt=login")
        expect_login(page)
        sign_in(page, user)
        assert len(app.tokens) == 3


def test_a_wrong_password_and_the_lockout_are_seen_on_the_page(make_server, browser: Browser) -> None:  # noqa: ANN001
    with make_server(client_failure_burst=0, address_failure_burst=0) as server:
        client = add_web_client(server, redirect_uris=(LOOPBACK,))[0]
        user = server.add_user()
        context = browser.new_context()
        page = context.new_page()
        with ClientApp(server.url, client) as app:
            page.goto(app.url + "/start")
            messages = []
            for _ in range(5):
                sign_in(page, (user[0], user[1] + "-wrong"))
                alert = page.locator("[role=alert]")
                messages.append(alert.inner_text())
                assert page.evaluate("document.activeElement.id") == "password"  # back where to correct it
                assert page.locator("#username").input_value() == user[0]
            # Locked now: the right password gets the very same message, and no code.
            sign_in(page, user)
            messages.append(page.locator("[role=alert]").inner_text())
            assert len(set(messages)) == 1 and "incorrect" in messages[0]
            assert app.tokens == []
        context.close()


def test_consent_is_asked_remembered_and_denied(server: LiveServer, browser: Browser) -> None:
    client = add_web_client(server, redirect_uris=(LOOPBACK,), trusted=False)[0]
    user = server.add_user()
    context = browser.new_context(viewport={"width": 800, "height": 720})
    page = context.new_page()
    with ClientApp(server.url, client) as app:
        page.goto(app.url + "/start")
        sign_in(page, user)
        assert client in page.locator("h1").inner_text() and "MOBPROC" in page.locator(".scopes").inner_text()
        assert_accessible(page)
        with page.expect_navigation():
            page.click("button[value=allow]")
        assert page.locator("h1").inner_text() == "Signed in"
        page.goto(app.url + "/start")  # remembered: no consent page
        assert page.locator("h1").inner_text() == "Signed in" and len(app.tokens) == 2
    other = add_web_client(server, redirect_uris=(LOOPBACK,), trusted=False)[0]
    with ClientApp(server.url, other) as app:
        page.goto(app.url + "/start")  # signed in already: straight to this client's consent
        with page.expect_navigation():
            page.click("button[value=deny]")
        assert page.locator("h1").inner_text() == "Refused: access_denied" and app.tokens == []
    context.close()


def test_logout_signs_the_browser_out(server: LiveServer, page: Page, trusted: str) -> None:
    user = server.add_user()
    with ClientApp(server.url, trusted) as app:
        page.goto(app.url + "/start")
        sign_in(page, user)
        page.goto(server.url + "/as/logout")
        assert user[0] in page.content()
        assert_accessible(page)
        with page.expect_navigation():
            page.click("button[type=submit]")
        assert page.locator("h1").inner_text() == "Signed out"
        assert_accessible(page)
        page.goto(app.url + "/start")
        expect_login(page)


def test_the_implicit_flow_for_an_implicit_client_and_refused_for_others(server: LiveServer, page: Page,
                                                                         trusted: str) -> None:
    implicit = add_web_client(server, grants=("implicit",), redirect_uris=(LOOPBACK,))[0]
    user = server.add_user()
    with ClientApp(server.url, implicit, response_type="token") as app:
        page.goto(app.url + "/start")
        sign_in(page, user)
        fragment = page.url.split("#", 1)[1]
        assert page.url.startswith(app.redirect_uri + "#") and "access_token=" in fragment
        token = re.search(r"access_token=([A-Za-z0-9]+)", fragment).group(1)
        validator = server.add_client(grants=("access_token_validation",))
        with server.client() as http:
            assert introspect(http, validator, token).json()["active"] is True
    with ClientApp(server.url, trusted, response_type="token") as app:
        page.goto(app.url + "/start")
        assert "error=unauthorized_client" in page.url and "access_token" not in page.url


def test_the_login_and_error_pages_pass_axe(server: LiveServer, page: Page, trusted: str) -> None:
    user = server.add_user()
    with ClientApp(server.url, trusted) as app:
        page.goto(app.url + "/start")
        assert_accessible(page)
        sign_in(page, (user[0], "not-the-password"))
        assert page.locator("[role=alert]").count() == 1
        assert page.locator("#password").get_attribute("aria-invalid") == "true"
        assert_accessible(page)
    page.goto(server.url + "/as/authorization.oauth2?client_id=nobody&response_type=code")
    assert page.locator("h1").inner_text() == "Cannot sign in"
    assert_accessible(page)


def test_the_readmes_screenshots(make_server, page: Page) -> None:  # noqa: ANN001
    """The README's walk, photographed: a client and an account with the README's names."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    remember("alice-password-for-screenshots")
    with make_server() as server:
        server.services.clients.add_client("procurement-app", "x" * 32, ("authorization_code", "refresh_token"),
                                           ("MOBPROC",), redirect_uris=(LOOPBACK,), public=True)
        server.services.account_registry.add("command://alice", "alice-password-for-screenshots", actor="test")
        with ClientApp(server.url, "procurement-app") as app:
            page.goto(app.url + "/start")
            photograph(page, "login")
            sign_in(page, ("command://alice", "not-the-password"))
            photograph(page, "login-refused")
            sign_in(page, ("command://alice", "alice-password-for-screenshots"))
            photograph(page, "consent")
            with page.expect_navigation():
                page.click("button[value=allow]")
            assert page.locator("h1").inner_text() == "Signed in"
            page.goto(server.url + "/as/logout")
            photograph(page, "logout")
        page.goto(server.url + "/as/authorization.oauth2?client_id=nobody&response_type=code")
        photograph(page, "error")
    for name in ("login", "login-refused", "consent", "logout", "error"):
        assert (SCREENSHOTS / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_pages_refuse_to_be_framed(server: LiveServer, page: Page, trusted: str) -> None:
    with ClientApp(server.url, trusted) as app:
        page.goto(app.url + "/frame?src=" + app.authorization_url().replace("&", "%26"))
        page.wait_for_timeout(500)
        frame = page.frames[1]
        assert frame.url in ("about:blank", "chrome-error://chromewebdata/") or "Sign in" not in frame.content()
