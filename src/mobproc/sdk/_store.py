"""Where a session keeps its token, so that several sessions (threads, processes) share one grant.

Refresh tokens rotate, and presenting a used one again revokes the whole grant (RFC 9700
§4.14.2, as mobproc and PingFederate do). Two processes of one integrator that each keep the
refresh token in memory will, at the first refresh after the other's, present a used one. A
shared store prevents it: whoever refreshes does so under the store's lock, after reading the
newest token from it, and writes the new one before letting go.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import stat
import threading
from pathlib import Path
from typing import Any, Protocol

from ._token import Token

log = logging.getLogger("mobproc.sdk")


class TokenStore(Protocol):
    """What a session needs of a store. ``load`` and ``save`` are called only between a
    successful ``acquire`` and its ``release``; ``acquire`` never waits (the session polls it,
    so that the wait counts against its deadline and an asyncio loop is not blocked)."""

    def acquire(self, key: str) -> bool:
        """Take the lock for ``key`` if it is free; ``False`` if another holder has it."""
        ...

    def release(self, key: str) -> None: ...

    def load(self, key: str) -> Token | None: ...

    def save(self, key: str, token: Token | None) -> None: ...


class MemoryTokenStore:
    """The default: tokens in this process's memory. One store given to several sessions of one
    process (threads, or one per event loop) makes them share their grant."""

    def __init__(self) -> None:
        self._tokens: dict[str, Token] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def __repr__(self) -> str:
        return f"MemoryTokenStore({len(self._tokens)} tokens)"

    def acquire(self, key: str) -> bool:
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        return lock.acquire(blocking=False)

    def release(self, key: str) -> None:
        self._locks[key].release()

    def load(self, key: str) -> Token | None:
        return self._tokens.get(key)

    def save(self, key: str, token: Token | None) -> None:
        if token is None:
            self._tokens.pop(key, None)
        else:
            self._tokens[key] = token


class FileTokenStore:
    """Tokens in one JSON file, shared by the processes of one integrator on one host.

    - The file is created with mode 0600 (owner only); an existing file that others may read
      or write is refused (:class:`PermissionError`), as ssh refuses a readable key.
    - ``acquire`` takes an exclusive ``flock`` on the file; the session holds it from reading
      the stored token, through its refresh (or password grant), to writing the new token. A
      process that waited for it reads the file again and finds the token the other one got.
    - Before a refresh token is presented, the store is rewritten without it: if the answer
      is lost, or the process dies mid-refresh, no one presents that refresh token again
      (that would be reuse, and revoke the grant); the next refresh is a password grant.
    - Writes are in place, under the lock, followed by ``fsync``. A file left unreadable (a
      crash mid-write) counts as empty: the next token comes from the password grant.
    - One file may hold the tokens of several sessions (client, username, scope, endpoint),
      each under a digest of those; it holds bearer credentials, so keep it out of backups and
      shared folders. ``flock`` locks are advisory and local: not for NFS.

    >>> store = FileTokenStore("~/.cache/mobproc/tokens.json")                     # doctest: +SKIP
    >>> session = TokenSession("qa", client_id, secret, username=user, password=pw, store=store)  # doctest: +SKIP
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path).expanduser()
        self._held: dict[str, int] = {}
        self._guard = threading.Lock()

    def __repr__(self) -> str:
        return f"FileTokenStore({str(self.path)!r})"

    def acquire(self, key: str) -> bool:
        import fcntl  # POSIX only: the rest of the SDK works on Windows too

        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o600)
        try:
            mode = os.fstat(fd).st_mode
            if stat.S_IMODE(mode) & 0o077:
                raise PermissionError(f"token store {self.path} may be read by others "
                                      f"(mode {stat.S_IMODE(mode):04o}): chmod 600 {self.path}")
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as error:
            os.close(fd)
            if error.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                return False
            raise
        with self._guard:
            self._held[key] = fd
        return True

    def release(self, key: str) -> None:
        with self._guard:
            fd = self._held.pop(key)
        os.close(fd)  # closing the last descriptor of the open file ends its flock

    def load(self, key: str) -> Token | None:
        entry = self._read(self._held[key]).get(key)
        try:
            return Token.from_json(entry) if isinstance(entry, dict) else None
        except (KeyError, TypeError, ValueError):
            return None

    def save(self, key: str, token: Token | None) -> None:
        fd = self._held[key]
        tokens = self._read(fd)
        if token is None:
            tokens.pop(key, None)
        else:
            tokens[key] = token.to_json()
        data = json.dumps({"version": 1, "tokens": tokens}, separators=(",", ":")).encode()
        os.ftruncate(fd, 0)
        os.pwrite(fd, data, 0)
        os.fsync(fd)

    def _read(self, fd: int) -> dict[str, Any]:
        size = os.fstat(fd).st_size
        raw = os.pread(fd, size, 0) if size else b""
        if not raw:
            return {}
        try:
            tokens = json.loads(raw).get("tokens")
        except (ValueError, AttributeError):
            tokens = None
        if not isinstance(tokens, dict):
            log.warning("token store %s is not readable; starting afresh", self.path)
            return {}
        return tokens
