"""Where a request comes from: the socket's peer, or X-Forwarded-For only from a trusted proxy."""

from __future__ import annotations

import ipaddress

import pytest

from conftest import password_grant
from mobproc.domain import audit
from mobproc.server.forwarded import source_address

pytestmark = pytest.mark.database_agnostic

PROXIES = [ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("2001:db8:f::/48")]


@pytest.mark.parametrize(("peer", "forwarded", "expected"), [
    ("192.0.2.4", [], "192.0.2.4"),
    ("192.0.2.4", ["203.0.113.5"], "192.0.2.4"),  # an untrusted peer says what it likes, unheard
    ("10.0.0.2", ["203.0.113.5"], "203.0.113.5"),
    ("10.0.0.2", ["198.51.100.9, 203.0.113.5, 10.0.0.1"], "203.0.113.5"),  # the rightmost untrusted hop
    ("10.0.0.2", ["198.51.100.9", "203.0.113.5"], "203.0.113.5"),  # several headers are one list
    ("10.0.0.2", ["10.0.0.7, 10.0.0.1"], "10.0.0.7"),  # only proxies: the farthest one
    ("10.0.0.2", ["198.51.100.9, not-an-address"], "10.0.0.2"),  # garbage: the last hop we can vouch for
    ("10.0.0.2", ["[2001:db8::5]:443"], "2001:db8::5"),
    ("10.0.0.2", ["203.0.113.5:5555"], "203.0.113.5"),
    ("2001:db8:f::1", ["2001:db8:1::9"], "2001:db8:1::9"),
    ("10.0.0.2", [], "10.0.0.2"),
])
def test_the_source_address(peer: str, forwarded: list[str], expected: str) -> None:
    assert source_address(peer, forwarded, PROXIES) == expected


def test_without_trusted_proxies_the_header_is_ignored() -> None:
    assert source_address("10.0.0.2", ["203.0.113.5"], []) == "10.0.0.2"


def test_the_audit_trail_records_the_address_a_trusted_proxy_reports(make_server) -> None:  # noqa: ANN001
    with make_server(trusted_proxies="127.0.0.0/8") as server, server.client() as http:
        client, user = server.add_client(), server.add_user()
        http.headers["X-Forwarded-For"] = "198.51.100.7, 127.0.0.2"
        assert password_grant(http, client, user).status_code == 200
    [issued] = server.services.audit.events(event=audit.TOKEN_ISSUED)
    assert issued.source_address == "198.51.100.7"


def test_trusted_proxies_must_be_addresses_or_networks() -> None:
    from mobproc.config import SettingsError, load_settings

    assert load_settings(trusted_proxies="10.0.0.1, 192.168.0.0/16 ::1").trusted_proxies == (
        ipaddress.ip_network("10.0.0.1/32"), ipaddress.ip_network("192.168.0.0/16"), ipaddress.ip_network("::1/128"))
    with pytest.raises(SettingsError, match="MOBPROC_TRUSTED_PROXIES"):
        load_settings(trusted_proxies="proxy.example")


def test_an_address_is_stored_without_its_zone_and_bounded() -> None:
    zone = "%" + "z" * 100
    assert source_address(f"fe80::1{zone}", [], PROXIES) == "fe80::1"
    assert source_address("10.0.0.2", [f"fe80::2{zone}"], PROXIES) == "fe80::2"
    assert source_address("10.0.0.2", ["x" * 1000], PROXIES) == "10.0.0.2"


def test_a_crafted_forwarded_address_loses_no_login_and_no_audit_row(make_server) -> None:  # noqa: ANN001
    """Issue 19, item 12: a 100-byte IPv6 zone id from a trusted proxy broke PostgreSQL's writes
    (StringDataRightTruncation): a 503 for the right password, and the failed guesses' audit
    rows lost."""
    with make_server(trusted_proxies="127.0.0.1") as server, server.client() as http:
        client, user = server.add_client(), server.add_user()
        http.headers["X-Forwarded-For"] = "fe80::7%" + "a" * 100
        assert password_grant(http, client, (user[0], "wrong")).status_code == 400
        assert password_grant(http, client, user).status_code == 200
    events = server.services.audit.events(subject=user[0])
    assert [e.event for e in events] == [audit.LOGIN_FAILED, audit.TOKEN_ISSUED]
    assert {e.source_address for e in events} == {"fe80::7"}
