"""Failure budgets: slowing password guessing across accounts.

Lockout (:class:`~mobproc.domain.identities.LockoutPolicy`) stops guessing one account's
password; it does nothing against *spraying*, one likely password tried once on each of
many accounts (RFC 9700 §2.4 names the password grant's exposure). So each client and each
source address also has a budget of failed logins: a token bucket of ``burst`` failures,
refilled at ``per_minute``. A login attempt takes a token before any password is checked
and gives it back when the password was right (or never checked), so only failures spend
the budget, and parallel attempts cannot overdraw it. An empty bucket is a 429 with
Retry-After, at the cost of a database row, not of an argon2id hash.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

CLIENT = "client"
ADDRESS = "address"


@dataclass(frozen=True, slots=True)
class Bucket:
    kind: str  # CLIENT or ADDRESS
    key: str
    capacity: int
    per_second: float

    @property
    def name(self) -> str:
        return f"{self.kind}:{self.key}"


class FailureBudget(Protocol):
    """Token buckets that every process shares (the SQL behind it is in mobproc.storage)."""

    def take(self, buckets: Sequence[Bucket], now: float) -> tuple[Bucket, float] | None:
        """Take one token from every bucket, all or none. None when taken; else the first empty
        bucket and the seconds until it holds a token again."""
        ...

    def give_back(self, buckets: Sequence[Bucket], now: float) -> None: ...


class Throttled(Exception):
    """A failure budget is spent: served as 429 with Retry-After."""

    def __init__(self, bucket: Bucket, retry_after: float) -> None:
        super().__init__(bucket.kind)
        self.bucket = bucket
        self.retry_after = retry_after


def address_key(address: str) -> str:
    """The budget an address draws on: itself for IPv4, its /64 for IPv6, since one IPv6
    subscriber commonly holds a whole /64 and could otherwise take a new budget per guess.

    >>> address_key("2001:db8:1:2:3:4:5:6"), address_key("192.0.2.7")
    ('2001:db8:1:2::/64', '192.0.2.7')
    """
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address[:64]
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.ip_network(f"{parsed}/64", strict=False))
    return str(parsed)


class GuessingThrottle:
    """The per-client and per-source-address failure budgets of the password grant."""

    def __init__(
        self,
        budget: FailureBudget,
        *,
        client_burst: int,
        client_per_minute: float,
        address_burst: int,
        address_per_minute: float,
    ) -> None:
        self._budget = budget
        self._client = (client_burst, client_per_minute / 60)
        self._address = (address_burst, address_per_minute / 60)

    def buckets(self, client_pk: int, address: str) -> list[Bucket]:
        chosen = []
        if self._client[0]:
            chosen.append(Bucket(CLIENT, str(client_pk), *self._client))
        if self._address[0] and address:
            chosen.append(Bucket(ADDRESS, address_key(address), *self._address))
        return chosen

    def take(self, buckets: Sequence[Bucket], now: float) -> None:
        if buckets and (empty := self._budget.take(buckets, now)) is not None:
            raise Throttled(*empty)

    def give_back(self, buckets: Sequence[Bucket], now: float) -> None:
        if buckets:
            self._budget.give_back(buckets, now)


class _NoBudget:
    def take(self, buckets: Sequence[Bucket], now: float) -> tuple[Bucket, float] | None:
        return None

    def give_back(self, buckets: Sequence[Bucket], now: float) -> None:
        pass


# Both budgets off: what a grant built without a throttle uses.
NO_THROTTLE = GuessingThrottle(_NoBudget(), client_burst=0, client_per_minute=1, address_burst=0, address_per_minute=1)
