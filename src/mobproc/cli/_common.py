"""What every command shares, the client side's included: secrets from the environment,
standard input or a prompt (never argv), and one-line failures. Nothing here needs the server."""

from __future__ import annotations

import getpass
import os
import sys
from typing import NoReturn

import typer


def fail(message: str, code: int = 1) -> NoReturn:
    typer.echo(f"mobproc: {message}", err=True)
    raise typer.Exit(code)


def read_secret(prompt: str, from_stdin: bool, *, confirm: bool = False, env: str | None = None) -> str:
    """``env``'s value if it is set, else one line from standard input, or a hidden prompt on a
    terminal. None given is a usage error (exit 2)."""
    if env and os.environ.get(env):
        return os.environ[env]
    if from_stdin or not sys.stdin.isatty():
        value = sys.stdin.readline().rstrip("\r\n")
    else:
        value = getpass.getpass(f"{prompt}: ")
        if confirm and getpass.getpass(f"{prompt} (again): ") != value:
            fail("the two entries differ")
    if not value:
        fail(f"no {prompt.lower()} given: one a line on standard input" + (f", or set {env}" if env else ""), 2)
    return value
