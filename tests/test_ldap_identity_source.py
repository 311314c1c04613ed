"""A source system backed by an LDAP directory (issue 23, CONTRACT §5b), against a real
OpenLDAP (tests/slapd.py): search as the service account, bind as the entry found; the
directory's refusals are invalid_grant with the reason in the audit trail only; names cannot
inject into the filter; a refresh replays the stored attributes or, with recheck_on_refresh,
asks the directory again."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import (
    DIRECTORY_PEOPLE,
    introspect,
    ldap_sources,
    password_grant,
    refresh_grant,
)
from mobproc.domain import audit
from mobproc.domain.identities import AuthenticationFailed
from mobproc.domain.registries import InvalidChange

NO_BUDGETS = {"client_failure_burst": 0, "address_failure_burst": 0}


@pytest.fixture
def directory_server(make_server, slapd, tmp_path: Path):  # noqa: ANN001, ANN201
    """A server whose ``command`` source system is the test directory (``rivermine`` stays built-in)."""
    with make_server(identity_sources=ldap_sources(slapd, tmp_path), **NO_BUDGETS) as server:
        yield server


def reasons(server, subject: str | None = None) -> list[str]:  # noqa: ANN001
    return [event.reason for event in server.services.audit.events(event=audit.LOGIN_FAILED)
            if subject is None or event.subject == subject]


def test_a_directory_account_logs_in_with_its_attributes_in_the_token(directory_server, slapd) -> None:  # noqa: ANN001
    server = directory_server
    client = server.add_client(grants=("password", "refresh_token", "access_token_validation"))
    with server.client() as http:
        answer = password_grant(http, client, ("command://multi", slapd.passwords["multi"]))
        assert answer.status_code == 200, answer.text
        tokens = answer.json()
        claims = introspect(http, client, tokens["access_token"]).json()
        assert claims["active"] is True and claims["sub"] == "command://multi"
        # Mapped from the entry: o is the tenant, employeeType TRUE makes it multitenant; the
        # domain is a constant of the configuration.
        assert (claims["tenant"], claims["multitenant"], claims["domain"], claims["platform"]) == (
            "ABC", True, "example.com", "command")
        # A refresh replays the attributes stored with the grant (PingFederate's behaviour).
        refreshed = refresh_grant(http, client, tokens["refresh_token"])
        assert refreshed.status_code == 200
        again = introspect(http, client, refreshed.json()["access_token"]).json()
        assert (again["sub"], again["tenant"], again["multitenant"]) == ("command://multi", "ABC", True)
        # Another spelling of the same name is the same subject (the directory matches it so).
        assert password_grant(http, client, ("command://ALICE", slapd.passwords["alice"])).status_code == 200
        # Non-ASCII names go to the directory as UTF-8 and find their entry.
        answer = password_grant(http, client, ("command://jürgen", slapd.passwords["jürgen"]))
        assert answer.status_code == 200, answer.text
        assert introspect(http, client, answer.json()["access_token"]).json()["tenant"] == "DE"
        # The built-in sources are untouched.
        user = server.add_user(source="rivermine")
        assert password_grant(http, client, user).status_code == 200
    [issued] = [e for e in server.services.audit.events(event=audit.TOKEN_ISSUED) if e.subject == "command://alice"]
    assert issued.grant_type == "password"


def test_the_directory_refusals_are_invalid_grant_with_the_reason_in_the_trail(directory_server, slapd) -> None:  # noqa: ANN001
    server = directory_server
    client = server.add_client()
    cases = {
        "wrong_password": ("command://alice", "not-her-password"),
        "unknown_account": ("command://nobody-here", slapd.passwords["alice"]),
        "ambiguous_account": ("command://twin", slapd.passwords["twin"]),  # two entries are named twin
        "directory_locked": ("command://locked", slapd.passwords["locked"]),  # its right password
        "password_expired": ("command://expired", slapd.passwords["expired"]),
    }
    bodies = set()
    with server.client() as http:
        for reason, user in cases.items():
            answer = password_grant(http, client, user)
            assert answer.status_code == 400, (reason, answer.text)
            bodies.add(answer.text)
            assert reasons(server)[-1] == reason
    assert len(bodies) == 1 and '"invalid_grant"' in bodies.pop()  # one answer for every reason
    # An entry that exists is named in clear; a name that matches none only by its digest.
    subjects = {e.reason: e.subject for e in server.services.audit.events(event=audit.LOGIN_FAILED)}
    assert subjects["directory_locked"] == "command://locked"
    assert subjects["unknown_account"].startswith("#")


def test_the_directory_locks_an_entry_by_its_own_policy(directory_server, slapd) -> None:  # noqa: ANN001
    # The strict policy locks an entry after three failed binds, before mobproc's five.
    server = directory_server
    client = server.add_client()
    with server.client() as http:
        for _ in range(3):
            assert password_grant(http, client, ("command://strict", "wrong")).status_code == 400
        answer = password_grant(http, client, ("command://strict", slapd.passwords["strict"]))
        assert answer.status_code == 400 and answer.json()["error"] == "invalid_grant"
    assert reasons(server, "command://strict") == ["wrong_password"] * 3 + ["directory_locked"]


@pytest.mark.parametrize("name", ["*", "al*", "*)(uid=*", ")(uid=*", "alice)(|(uid=*", "\\00", "\\2a", "(uid=alice)",
                                  "alice*", "ali\u0441e"])
def test_names_cannot_inject_into_the_filter(directory_server, slapd, name: str) -> None:  # noqa: ANN001
    """RFC 4515 §3: the name is escaped, so wildcards and parentheses match themselves (and a
    Cyrillic с is not a Latin c). None of these finds alice, with alice's password."""
    server = directory_server
    client = server.add_client()
    with server.client() as http:
        answer = password_grant(http, client, (f"command://{name}", slapd.passwords["alice"]))
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_grant"
    assert reasons(server)[-1] == "unknown_account"


def test_an_empty_password_is_refused_before_any_bind(directory_server, slapd) -> None:  # noqa: ANN001
    """RFC 4513 §5.1.2: a bind with a name and an empty password is an unauthenticated bind,
    which a directory may answer with success. The token endpoint takes an empty parameter for
    a missing one (RFC 6749 §3.1); the source itself refuses one too, for any other way in."""
    server = directory_server
    client = server.add_client()
    alice = f"uid=alice,{DIRECTORY_PEOPLE}"
    before = slapd.binds(alice)
    with server.client() as http:
        answer = password_grant(http, client, ("command://alice", ""))
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_request"
    source = server.services.identity_sources["command"]
    with pytest.raises(AuthenticationFailed) as refused:
        source.verify("alice", "")
    assert refused.value.reason == "empty_password"
    assert slapd.binds(alice) == before


def test_a_name_with_a_nul_never_reaches_the_directory(directory_server, slapd) -> None:  # noqa: ANN001
    server = directory_server
    client = server.add_client()
    searches = slapd.log_path.read_text(errors="replace").count(" SRCH ")
    with server.client() as http:
        answer = password_grant(http, client, ("command://alice\x00", slapd.passwords["alice"]))
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_request"
    assert slapd.log_path.read_text(errors="replace").count(" SRCH ") == searches


def test_scope_one_searches_the_direct_children_of_the_base_only(make_server, slapd, tmp_path: Path) -> None:  # noqa: ANN001
    """The ``scope`` setting: ``one`` finds the twin directly under the base and not the one in
    ``ou=others`` below it, so the name is no longer ambiguous (with ``sub``, the default, the
    two are ``ambiguous_account``: test_the_directory_refusals_are_invalid_grant_with_the_reason_in_the_trail)."""
    with make_server(identity_sources=ldap_sources(slapd, tmp_path, scope="one"), **NO_BUDGETS) as server, \
            server.client() as http:
        client = server.add_client(grants=("password", "refresh_token", "access_token_validation"))
        answer = password_grant(http, client, ("command://twin", slapd.passwords["twin"]))
        assert answer.status_code == 200, answer.text
        assert introspect(http, client, answer.json()["access_token"]).json()["sub"] == "command://twin"
    assert reasons(server) == []


def test_refresh_with_recheck_ends_the_grant_of_a_deleted_entry(make_server, slapd, tmp_path: Path) -> None:  # noqa: ANN001
    sources = ldap_sources(slapd, tmp_path, recheck_on_refresh=True, enabled_filter="(!(pwdAccountLockedTime=*))")
    with make_server(identity_sources=sources, **NO_BUDGETS) as server, server.client() as http:
        client = server.add_client(grants=("password", "refresh_token", "access_token_validation"))
        leaver = password_grant(http, client, ("command://leaver", slapd.passwords["leaver"])).json()
        disabled = password_grant(http, client, ("command://disabled", slapd.passwords["disabled"])).json()
        # Still there: the refresh works (the directory was asked, by a search, no bind).
        binds = slapd.binds(f"uid=leaver,{DIRECTORY_PEOPLE}")
        leaver = refresh_grant(http, client, leaver["refresh_token"]).json()
        assert "access_token" in leaver and slapd.binds(f"uid=leaver,{DIRECTORY_PEOPLE}") == binds
        slapd.ldapmodify(f"dn: uid=leaver,{DIRECTORY_PEOPLE}\nchangetype: delete\n")
        slapd.ldapmodify(f"dn: uid=disabled,{DIRECTORY_PEOPLE}\nchangetype: modify\n"
                         "add: pwdAccountLockedTime\npwdAccountLockedTime: 000001010000Z\n")
        for tokens in (leaver, disabled):
            answer = refresh_grant(http, client, tokens["refresh_token"])
            assert answer.status_code == 400 and answer.json()["error"] == "invalid_grant"
            # The grant is over: its access token too.
            assert introspect(http, client, tokens["access_token"]).json() == {"active": False}
        ended = server.services.audit.events(event=audit.GRANT_REVOKED)
        assert sorted(e.subject for e in ended if e.reason == audit.ACCOUNT_GONE) == ["command://disabled",
                                                                                        "command://leaver"]


def test_refresh_without_recheck_replays_the_grant_of_a_deleted_entry(directory_server, slapd) -> None:  # noqa: ANN001
    server = directory_server
    client = server.add_client()
    slapd_name = "bench"  # deleted by no test; a refresh must not even ask the directory
    with server.client() as http:
        tokens = password_grant(http, client, (f"command://{slapd_name}", slapd.passwords[slapd_name])).json()
        slapd.freeze()
        try:
            answer = refresh_grant(http, client, tokens["refresh_token"])
        finally:
            slapd.thaw()
    assert answer.status_code == 200


def test_a_directorys_accounts_are_managed_in_the_directory(directory_server) -> None:  # noqa: ANN001
    registry = directory_server.services.account_registry
    for change in (lambda: registry.add("command://someone", "pw-" + "x" * 12, actor="cli:test"),
                   lambda: registry.set_password("command://alice", "pw-" + "x" * 12, actor="cli:test")):
        with pytest.raises(InvalidChange, match="backed by a directory"):
            change()
    registry.unlock("command://Alice", actor="cli:test")  # its lockout is mobproc's: by subject
    [event] = directory_server.services.audit.events(event=audit.ACCOUNT_UNLOCKED)
    assert event.subject == "command://alice"


def test_the_filter_and_name_helpers_say_what_they_do() -> None:
    import doctest

    from mobproc.directory import configuration, connections, ldap_source

    for module in (configuration, connections, ldap_source):
        assert doctest.testmod(module).failed == 0


def test_the_readmes_examples_are_configurations_that_load(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    import re

    from mobproc.directory import configuration

    readme = (Path(__file__).parents[1] / "README.md").read_text()
    section = readme.split("## Identity sources")[1].split("\n## ")[0]
    examples = re.findall(r"```toml\n(.*?)```", section, re.DOTALL)
    assert len(examples) == 2
    for n, example in enumerate(examples):
        password = tmp_path / "ldap-bind-password"
        password.write_text("a service password\n")
        ca = tmp_path / "ca.pem"
        ca.write_text("")
        example = re.sub(r'"/etc/mobproc/[^"]*ca[^"]*\.pem"', f'"{ca}"', example)
        example = example.replace('"/etc/mobproc/ldap-bind-password"', f'"{password}"')
        monkeypatch.setenv("MOBPROC_AD_BIND_PASSWORD", "a service password")
        path = tmp_path / f"example-{n}.toml"
        path.write_text(example)
        [source] = configuration.load(path, ("command", "rivermine", "platform")).values()
        assert source.type == "ldap" and source.bind_password.get_secret_value() == "a service password"
