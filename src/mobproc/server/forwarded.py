"""Which address a request comes from: the socket's peer, or X-Forwarded-For from a trusted proxy.

The peer's word is believed only if it is in MOBPROC_TRUSTED_PROXIES: anyone else could
write any X-Forwarded-For and so pick their own failure budget. Each proxy appends the
address it received the request from, so the list is read from the right, skipping our own
proxies; the first address that is not one of them is the client. Everything left of it was
written by that client and is not evidence of anything.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from functools import lru_cache

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


MAX_ADDRESS_TEXT = 64  # longer than any address, with a port and brackets


def _address(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address in ``value``, normalised: without port, brackets or IPv6 zone id (a zone is
    the sender's own interface name, of any length, and no part of who the client is)."""
    value = value.strip()
    if len(value) > MAX_ADDRESS_TEXT:
        value = value.split("%")[0]  # a zone id may be long; the address before it may not
        if len(value) > MAX_ADDRESS_TEXT:
            return None
    if value.startswith("[") and "]" in value:  # [2001:db8::1]:443
        value = value[1 : value.index("]")]
    elif value.count(":") == 1:  # 192.0.2.1:443
        value = value.split(":")[0]
    try:
        address = ipaddress.ip_address(value.split("%")[0])
    except ValueError:
        return None
    return address


@lru_cache(maxsize=4096)
def normalized(peer: str) -> str:
    """The socket's peer address as stored: bounded, without a zone id. (Remembered, within a
    bound: a process sees its few proxies and clients again and again, and parsing an address
    with ipaddress was about a twentieth of a client_credentials grant's cost.)"""
    address = _address(peer)
    return str(address) if address is not None else peer[:MAX_ADDRESS_TEXT]


def source_address(peer: str, forwarded_for: Iterable[str], trusted: Sequence[Network]) -> str:
    """The client's address.

    >>> proxies = [ipaddress.ip_network("10.0.0.0/8")]
    >>> source_address("10.0.0.2", ["198.51.100.9, 203.0.113.5, 10.0.0.1"], proxies)
    '203.0.113.5'
    >>> source_address("192.0.2.4", ["203.0.113.5"], proxies)   # not a trusted peer
    '192.0.2.4'
    """

    def is_trusted(address: ipaddress.IPv4Address | ipaddress.IPv6Address | None) -> bool:
        return address is not None and any(address in network for network in trusted)

    peer = normalized(peer)
    if not trusted or not is_trusted(_address(peer)):
        return peer
    hops = [hop for header in forwarded_for for hop in header.split(",") if hop.strip()]
    nearest = peer
    for hop in reversed(hops):
        address = _address(hop)
        if address is None:
            return nearest  # unreadable: the last address we can vouch for stands
        if not is_trusted(address):
            return str(address)
        nearest = str(address)
    return nearest
