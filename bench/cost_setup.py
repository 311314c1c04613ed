"""The deployment bench/handler_cost.py and bench/app_cost.py measure against: a fresh
SQLite database in a temp dir, named in this process's MOBPROC_* environment, with one
client allowed every grant and one user, provisioned through the real command line."""

import os
import subprocess
import sys
import tempfile
from pathlib import Path

CLIENT_ID, SECRET = "c", "s" * 40
USERNAME, PASSWORD = "command://u", "pw"


def fresh_deployment(prefix: str) -> str:
    """The temp dir holding the new database."""
    workdir = tempfile.mkdtemp(prefix=prefix)
    os.environ.update(MOBPROC_DATABASE_URL=f"sqlite:///{workdir}/db.sqlite", MOBPROC_ENVIRONMENT="dev")
    provision(str(Path(sys.executable).parent / "mobproc"), dict(os.environ))
    return workdir


def provision(exe: str, env: dict[str, str]) -> None:
    """The client and the user, in the database ``env`` names, by the ``mobproc`` at ``exe``."""
    for argv, stdin in (
        (["db", "upgrade"], None),
        (["client", "add", CLIENT_ID, "--grant", "password", "--grant", "refresh_token", "--grant",
          "client_credentials", "--grant", "access_token_validation", "--scope", "MOBPROC", "--secret-stdin"], SECRET),
        (["user", "add", USERNAME, "--password-stdin", "--tenant", "XYZ"], PASSWORD),
    ):
        subprocess.run([exe, *argv], input=stdin, env=env, text=True, check=True, capture_output=True)


def token_request(**params: str):  # noqa: ANN201
    """A form-encoded token request as the HTTP edge would hand it to an endpoint's handle()."""
    from mobproc.oauth2.request import TokenRequest  # after fresh_deployment set MOBPROC_*

    body = "&".join(f"{k}={v}" for k, v in params.items()).encode()
    return TokenRequest.from_http("", body, "application/x-www-form-urlencoded", None, "127.0.0.1")
