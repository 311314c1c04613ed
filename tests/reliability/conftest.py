"""The reliability suite (``make test-reliability``): load, crash, races, bad input.

Each test adds its figures to ``FIGURES``; they are printed at the end of the run as one
table, so that a run can be quoted.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

# What every server of this suite runs with, and why:
# - argon2id at m=64 KiB, t=1: password hashing is not what is tested here, and OWASP's
#   parameters would make hashing, not the service, the bottleneck of the load;
# - admission control's queue and wait raised so that the deliberate saturation of the load
#   test queues instead of getting 503s (admission control has its own tests);
# - failure budgets and lockout off: the fuzz sends wrong passwords on purpose;
# - a long SQLite busy timeout: two processes write one file at saturation;
# - no access log: it would cost the CPU the two cores need for the traffic.
SERVER_ENV = {
    "MOBPROC_ARGON2_MEMORY_KIB": "64",
    "MOBPROC_ARGON2_TIME_COST": "1",
    "MOBPROC_HASHING_QUEUE": "4096",
    "MOBPROC_HASHING_WAIT_MS": "60000",
    "MOBPROC_CLIENT_FAILURE_BURST": "0",
    "MOBPROC_ADDRESS_FAILURE_BURST": "0",
    "MOBPROC_LOCKOUT_THRESHOLD": "0",
    "MOBPROC_SQLITE_BUSY_TIMEOUT_MS": "30000",
    "MOBPROC_ACCESS_LOG": "false",
}

FIGURES: list[tuple[str, str, str]] = []  # (check, figure, value)


def figure(check: str, name: str, value: object) -> None:
    """Add one row to the table printed at the end of the run."""
    FIGURES.append((check, name, f"{value:,}" if isinstance(value, int) else str(value)))


def kill_process_tree(pid: int) -> int:
    """SIGKILL ``pid`` and every descendant (uvicorn's worker processes), as a crash would:
    nobody gets to clean up. Answers how many processes were killed."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                # The parent pid is the field after the parenthesised command name.
                stat = (entry / "stat").read_text()
                parent = int(stat.rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    tree, pending = [], [pid]
    while pending:
        current = pending.pop()
        tree.append(current)
        pending.extend(children.get(current, []))
    for each in tree:  # the parent first, so that it cannot start a replacement worker
        try:
            os.kill(each, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return len(tree)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not FIGURES:
        return
    backend = os.environ.get("MOBPROC_TEST_BACKEND", "sqlite")
    write = terminalreporter.write_line
    terminalreporter.section(f"reliability figures ({backend}, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})")
    width = max(len(f"{c}: {n}") for c, n, _ in FIGURES)
    write(f"| {'check: figure'.ljust(width)} | value |")
    write(f"|{'-' * (width + 2)}|-------|")
    for check, name, value in FIGURES:
        write(f"| {f'{check}: {name}'.ljust(width)} | {value} |")
