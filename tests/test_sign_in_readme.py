"""The README's walk "From a client to a token" (Interactive sign-in) runs as written against
`mobproc serve`: its commands, its shell lines for PKCE and its curl line (only the address
changes, and the password the walk types at a prompt comes on standard input)."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
from pathlib import Path

import pytest

from conftest import MOBPROC, ServerProcess, remember
from sign_in import Browser, query_of

pytestmark = pytest.mark.database_agnostic

README = Path(__file__).parent.parent / "README.md"


def walk() -> list[str]:
    text = README.read_text()
    section = text[text.index("### From a client to a token"):]
    section = section[:section.index("\n### ", 1)]
    return re.findall(r"```sh\n(.*?)```", section, re.DOTALL)


def shell(script: str, env: dict[str, str]) -> str:
    done = subprocess.run(["bash", "-euo", "pipefail", "-c", script], capture_output=True, text=True, timeout=60,
                          env={**os.environ, **env})
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_readmes_walk_from_client_add_to_a_token(tmp_path: Path) -> None:
    setup, authorize, redeem = walk()
    with ServerProcess(tmp_path) as server:
        env = {"MOBPROC_DATABASE_URL": server.database_url, "PATH": f"{Path(MOBPROC).parent}:{os.environ['PATH']}"}
        password = "alice's README password"
        remember(password)
        commands = [line for line in setup.replace("\\\n", " ").splitlines() if line.startswith("mobproc ")]
        assert [shlex.split(line)[:3] for line in commands] == [
            ["mobproc", "client", "add"], ["mobproc", "user", "add"], ["mobproc", "serve"]]
        shell(commands[0], env)
        # The walk types the password at a prompt; here it comes on standard input.
        subprocess.run(shlex.split(commands[1].split("#")[0]) + ["--password-stdin"], input=password + "\n",
                       env={**os.environ, **env}, check=True, capture_output=True, text=True, timeout=60)
        # The app's PKCE pair and the URL it sends the browser to; the code comes back to it.
        lines = authorize.replace("http://127.0.0.1:9031", server.url)
        printed = shell(lines + '\necho "VERIFIER=$VERIFIER"', env).splitlines()
        url, verifier = printed[0], printed[1].removeprefix("VERIFIER=")
        with Browser(server) as browser:  # type: ignore[arg-type] - it needs the URL only
            page = browser.http.get(url)
            assert page.status_code == 200 and "procurement-app" in page.text
            consent = browser.login(page, ("command://alice", password))
            assert "Allow <strong>procurement-app</strong> access?" in consent.text  # not --trusted: asked
            answer = browser.submit(consent, "allow")
        back = query_of(answer.headers["location"])
        assert answer.headers["location"].startswith("http://127.0.0.1:8000/cb?code=")
        assert back["state"] == "xyz" and back["iss"] == server.url
        remember(back["code"])
        curl = redeem.split("\n#")[0].replace("http://127.0.0.1:9031", server.url).replace("CODE", back["code"])
        token = json.loads(shell(curl, {**env, "VERIFIER": verifier}))
        remember(token["access_token"], token["refresh_token"])
        assert token["token_type"] == "Bearer" and token["expires_in"] == 7199 and token["scope"] == "MOBPROC"
