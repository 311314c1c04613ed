"""CONTRACT §7: the seed's example request, sent with curl to ``mobproc serve --demo``."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

from conftest import ServerProcess, mobproc, remember

SEED_QUERY = (
    "grant_type=password&client_id=376af94124f4400e9227c89937c12354&client_secret=81f40d2777ea4a41A992535F17AC92EC"
    "&scope=MOBPROC&username=command://myusername&password=mypassword"
)


def test_the_seeds_curl_request_gets_the_seeds_response(tmp_path: Path) -> None:
    remember("81f40d2777ea4a41A992535F17AC92EC", "mypassword")
    with ServerProcess(tmp_path, "--demo") as server:
        result = subprocess.run(
            ["curl", "-s", "-i", "-X", "POST", f"{server.url}/as/token.oauth2?{SEED_QUERY}"],
            capture_output=True, timeout=30, check=True,
        )
    head, _, body = result.stdout.decode().partition("\r\n\r\n")
    token = json.loads(body)
    remember(token.get("access_token"), token.get("refresh_token"))
    assert head.startswith("HTTP/1.1 200")
    assert set(token) == {"token_type", "expires_in", "access_token", "refresh_token"}
    assert token["token_type"] == "Bearer"
    assert token["expires_in"] == 7199
    assert re.fullmatch(r"[A-Za-z0-9]{28}", token["access_token"])
    assert re.fullmatch(r"[A-Za-z0-9]{42}", token["refresh_token"])
    headers = head.lower()
    assert "content-type: application/json" in headers
    assert "cache-control: no-store" in headers and "pragma: no-cache" in headers
    # The demo prints the curl line that works, on standard output (not in the log).
    printed = server.out_path.read_text()
    assert SEED_QUERY.replace("127.0.0.1", "") in printed


def test_demo_is_refused_outside_dev(tmp_path: Path) -> None:
    for environment in ("qa", "production"):
        result = mobproc("serve", "--demo", "--environment", environment, "--database", f"sqlite:///{tmp_path}/x.db")
        assert result.returncode != 0
        assert "--demo" in result.stderr and environment in result.stderr
        assert "Traceback" not in result.stderr
