"""A token endpoint's successful answer (RFC 6749 §5.1), and when it runs out."""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Token:
    """``access_token`` and ``refresh_token`` never show in ``repr()``.

    ``received_at`` is the wall-clock time the request was *sent* (so ``expires_at`` errs
    early, never late), in seconds since the epoch: a token store shared by processes
    compares it across them.

    >>> token = Token("2YotnFZFEjr1zCsicMWpAA", "Bearer", 7199, received_at=1_800_000_000)
    >>> token.expires_at
    1800007199
    >>> token
    Token(token_type='Bearer', expires_in=7199, scope=None, received_at=1800000000)
    """

    access_token: str = field(repr=False)
    token_type: str
    expires_in: int
    refresh_token: str | None = field(default=None, repr=False)
    scope: str | None = None
    received_at: float = field(default_factory=time.time)

    @property
    def expires_at(self) -> float:
        return self.received_at + self.expires_in

    def as_dict(self) -> dict[str, Any]:
        """The RFC 6749 §5.1 answer it came from (what ``mobproc token`` prints)."""
        body: dict[str, Any] = {"token_type": self.token_type, "expires_in": self.expires_in,
                                "access_token": self.access_token}
        if self.refresh_token:
            body["refresh_token"] = self.refresh_token
        if self.scope:
            body["scope"] = self.scope
        return body

    def to_json(self) -> dict[str, Any]:
        """What a token store keeps: the answer and when it was asked for."""
        return {**self.as_dict(), "received_at": self.received_at}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Token:
        return cls(
            access_token=str(data["access_token"]),
            token_type=str(data.get("token_type", "Bearer")),
            expires_in=int(data["expires_in"]),
            refresh_token=data.get("refresh_token") or None,
            scope=data.get("scope") or None,
            received_at=float(data["received_at"]),
        )

    def without_refresh_token(self) -> Token:
        """The same access token, its refresh token spent (presented, answer unknown)."""
        return dataclasses.replace(self, refresh_token=None)
