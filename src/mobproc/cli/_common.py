"""What every command shares, the client side's included: secrets from standard input or a
prompt (never argv), and one-line failures. Nothing here needs the server."""

from __future__ import annotations

import getpass
import sys
from typing import NoReturn

import typer


def fail(message: str, code: int = 1) -> NoReturn:
    typer.echo(f"mobproc: {message}", err=True)
    raise typer.Exit(code)


def read_secret(prompt: str, from_stdin: bool, *, confirm: bool = False) -> str:
    """One line from standard input, or a hidden prompt on a terminal."""
    if from_stdin or not sys.stdin.isatty():
        value = sys.stdin.readline().rstrip("\r\n")
    else:
        value = getpass.getpass(f"{prompt}: ")
        if confirm and getpass.getpass(f"{prompt} (again): ") != value:
            fail("the two entries differ")
    if not value:
        fail(f"no {prompt.lower()} given")
    return value
