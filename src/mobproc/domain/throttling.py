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

    def take(self, buckets: Sequence[Bucket], now: float) -> None:
        """Take one token from every bucket, all or none: :class:`Throttled` (for the first
        empty bucket, with the seconds until it holds a token again) takes none, and rolls
        back the transaction it was taken in."""
        ...

    def give_back(self, buckets: Sequence[Bucket], now: float) -> None: ...


class Throttled(Exception):
    """A failure budget is spent: served as 429 with Retry-After."""

    def __init__(self, bucket: Bucket, retry_after: float) -> None:
        super().__init__(bucket.kind)
        self.bucket = bucket
        self.retry_after = retry_after


# An IPv6 subscriber commonly holds a whole /64, and often a /56 or a /48: each /64 alone would
# give one allocation 2^8 or 2^16 budgets (issue 19, item 11: 25 /64s of one /48 got 25 times
# the budget). So an IPv6 address draws on its /64 and, at twice and four times the budget, on
# its /56 and its /48: a guesser with a whole /48 gets four budgets, not 65,536.
IPV6_PREFIXES = ((64, 1), (56, 2), (48, 4))


def address_keys(address: str) -> list[tuple[str, int]]:
    """The budgets an address draws on, each with its multiple of the address budget.

    >>> address_keys("192.0.2.7")
    [('192.0.2.7', 1)]
    >>> [key for key, _ in address_keys("2001:db8:1:2:3:4:5:6")]
    ['2001:db8:1:2::/64', '2001:db8:1::/56', '2001:db8:1::/48']
    >>> address_keys("::ffff:192.0.2.7")
    [('192.0.2.7', 1)]
    """
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return [(address[:64], 1)]  # not an address (a test's name): itself, bounded
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return [(str(parsed.ipv4_mapped), 1)]
        bare = ipaddress.IPv6Address(parsed.packed)  # without a zone id
        return [(str(ipaddress.ip_network(f"{bare}/{bits}", strict=False)), times) for bits, times in IPV6_PREFIXES]
    return [(str(parsed), 1)]


class GuessingThrottle:
    """The per-client and per-source-address failure budgets of every password check."""

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
            burst, per_second = self._address
            chosen += [Bucket(ADDRESS, key, burst * times, per_second * times) for key, times in address_keys(address)]
        return chosen

    def take(self, buckets: Sequence[Bucket], now: float) -> None:
        if buckets:
            self._budget.take(buckets, now)

    def give_back(self, buckets: Sequence[Bucket], now: float) -> None:
        if buckets:
            self._budget.give_back(buckets, now)


class _NoBudget:
    def take(self, buckets: Sequence[Bucket], now: float) -> None:
        pass

    def give_back(self, buckets: Sequence[Bucket], now: float) -> None:
        pass


# Both budgets off: what an authenticator built without a throttle uses.
NO_THROTTLE = GuessingThrottle(_NoBudget(), client_burst=0, client_per_minute=1, address_burst=0, address_per_minute=1)
