"""A directory that fails (issue 23, item 4; CONTRACT §5b): down, slow past its timeout,
refusing the service bind, or presenting a certificate that does not check out is a 503 with
Retry-After, never invalid_grant (a password that was not checked is never called wrong);
counted in /metrics, shown by the detailed /readyz, and recovered from without a restart.
Against a real slapd (tests/slapd.py)."""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path

from conftest import all_at_once, ldap_sources, mobproc, mobproc_process, password_grant, remember
from slapd import GOOD_HOST, WRONG_HOST

NO_BUDGETS = {"client_failure_burst": 0, "address_failure_burst": 0}


def unavailable(answer) -> bool:  # noqa: ANN001
    return (answer.status_code == 503 and answer.json()["error"] == "temporarily_unavailable"
            and int(answer.headers["Retry-After"]) >= 1)


def metric(server, name: str, **labels: str) -> float:  # noqa: ANN001
    """A sample of /metrics on the operations listener (the metrics are the test process's
    own, shared by every in-process server: compare before and after)."""
    with server.operations() as operations:
        text = operations.get("/metrics").text
    for line in text.splitlines():
        match = re.fullmatch(rf"{name}\{{(.*)\}} (\S+)", line)
        if match and dict(re.findall(r'(\w+)="([^"]*)"', match.group(1))) == labels:
            return float(match.group(2))
    return 0.0


def readiness(server) -> dict:  # noqa: ANN001
    with server.operations() as operations:
        answer = operations.get("/readyz")
    assert answer.status_code == 200  # a directory's outage degrades the server, it does not unready it
    return answer.json()


def test_the_directory_going_down_is_503_and_it_recovers_without_a_restart(make_server, slapd, tmp_path: Path) -> None:  # noqa: ANN001
    with make_server(identity_sources=ldap_sources(slapd, tmp_path), **NO_BUDGETS) as server, \
            server.client() as http:
        client, alice = server.add_client(), ("command://alice", slapd.passwords["alice"])
        assert password_grant(http, client, alice).status_code == 200
        assert readiness(server) == {"status": "ready", "identity_sources": {"command": {"status": "ok"}}}
        builtin = server.add_user(source="rivermine")
        unreachable = metric(server, "mobproc_identity_source_unavailable_total", source_system="command",
                             reason="unreachable")
        slapd.stop()
        try:
            for user in (alice, ("command://alice", "a wrong password"), ("command://nobody", "x")):
                answer = password_grant(http, client, user)
                assert unavailable(answer), answer.text  # never invalid_grant: nothing was checked
            # The built-in source systems go on as before.
            assert password_grant(http, client, builtin).status_code == 200
            state = readiness(server)
            assert state["status"] == "degraded"
            assert state["identity_sources"]["command"]["status"] == "unavailable"
            assert "Can't contact LDAP server" in state["identity_sources"]["command"]["reason"]
            assert metric(server, "mobproc_identity_source_unavailable_total", source_system="command",
                          reason="unreachable") == unreachable + 3
            assert metric(server, "mobproc_identity_source_up", source_system="command") == 0
            # Nothing was counted against alice: no failure, no lockout.
            assert not [e for e in server.services.audit.events(event="login_failed") if e.subject == "command://alice"]
        finally:
            slapd.start()
        returned = time.monotonic()
        while password_grant(http, client, alice).status_code != 200:
            assert time.monotonic() - returned < 5, "not recovered within 5 s of the directory's return"
            time.sleep(0.05)
        recovery = time.monotonic() - returned
        print(f"\nrecovered {recovery:.2f} s after the directory's return")
        assert readiness(server)["status"] == "ready"
        assert metric(server, "mobproc_identity_source_up", source_system="command") == 1


def test_a_directory_slow_past_its_timeout_is_503(make_server, slapd, tmp_path: Path) -> None:  # noqa: ANN001
    with make_server(identity_sources=ldap_sources(slapd, tmp_path, timeout=1), **NO_BUDGETS) as server, \
            server.client() as http:
        client, alice = server.add_client(), ("command://alice", slapd.passwords["alice"])
        assert password_grant(http, client, alice).status_code == 200
        timeouts = metric(server, "mobproc_identity_source_unavailable_total", source_system="command",
                          reason="timeout")
        slapd.freeze()  # accepts connections, answers nothing
        try:
            started = time.monotonic()
            answer = password_grant(http, client, alice)
            took = time.monotonic() - started
        finally:
            slapd.thaw()
        assert unavailable(answer), answer.text
        assert took < 4, f"took {took:.1f} s with a 1 s timeout"
        assert metric(server, "mobproc_identity_source_unavailable_total", source_system="command",
                      reason="timeout") == timeouts + 1
        deadline = time.monotonic() + 5
        while password_grant(http, client, alice).status_code != 200:
            assert time.monotonic() < deadline
            time.sleep(0.05)


def test_a_refused_service_bind_is_503_not_a_wrong_password(make_server, slapd, tmp_path: Path) -> None:  # noqa: ANN001
    sources = ldap_sources(slapd, tmp_path)
    wrong = tmp_path / "wrong-bind-password"
    wrong.write_text("not-the-service-password\n")
    remember("not-the-service-password")
    sources.write_text(sources.read_text().replace(str(tmp_path / "bind-password-command"), str(wrong)))
    with make_server(identity_sources=sources, **NO_BUDGETS) as server, server.client() as http:
        client = server.add_client()
        refused = metric(server, "mobproc_identity_source_unavailable_total", source_system="command",
                         reason="service_bind")
        answer = password_grant(http, client, ("command://alice", slapd.passwords["alice"]))
        assert unavailable(answer), answer.text
        assert metric(server, "mobproc_identity_source_unavailable_total", source_system="command",
                      reason="service_bind") == refused + 1
        assert "service bind" in readiness(server)["identity_sources"]["command"]["reason"]


def test_a_directory_that_checked_nothing_spends_no_failure_budget(make_server, slapd, tmp_path: Path) -> None:  # noqa: ANN001
    """The failure budgets count failed logins (Security: a token is taken before the check and
    given back when the password was right). A 503 checked no password: it must not spend the
    client's or the address's budget either, or a directory's outage would turn into 429s for
    every integrator still retrying once the directory is back."""
    sources = ldap_sources(slapd, tmp_path)
    wrong = tmp_path / "wrong-bind-password"
    wrong.write_text("not-the-service-password\n")
    remember("not-the-service-password")
    sources.write_text(sources.read_text().replace(str(tmp_path / "bind-password-command"), str(wrong)))
    budgets = {"client_failure_burst": 2, "client_failures_per_minute": 1,
               "address_failure_burst": 2, "address_failures_per_minute": 1}
    with make_server(identity_sources=sources, **budgets) as server, server.client() as http:
        client = server.add_client()
        answers = [password_grant(http, client, ("command://alice", slapd.passwords["alice"])) for _ in range(5)]
        assert all(unavailable(answer) for answer in answers), [answer.text for answer in answers]
        # The budgets are whole: the built-in source's wrong passwords still get their two checks.
        user = server.add_user(source="rivermine")
        wrong_passwords = [password_grant(http, client, (user[0], "a wrong password")).status_code for _ in range(3)]
        assert wrong_passwords == [400, 400, 429]


def test_certificates_are_checked(make_server, slapd, tmp_path: Path) -> None:  # noqa: ANN001
    """RFC 4513 §3.1.3: the name the client asked for must be the certificate's (here
    127.0.0.2, which the certificate does not name), and the certificate must come from the
    configured CA. Either failure is a refused connection: 503, nothing sent."""
    alice = ("command://alice", slapd.passwords["alice"])
    wrong_name = ldap_sources(slapd, tmp_path, url=[slapd.url(tls=True, host=WRONG_HOST)])
    wrong_ca = ldap_sources(slapd, tmp_path, ca_file=str(slapd.other_ca_file))
    starttls_wrong_name = ldap_sources(slapd, tmp_path, url=[slapd.url(host=WRONG_HOST)], start_tls=True)
    for sources in (wrong_name, wrong_ca, starttls_wrong_name):
        with make_server(identity_sources=sources, **NO_BUDGETS) as server, server.client() as http:
            answer = password_grant(http, client := server.add_client(), alice)
            assert unavailable(answer), answer.text
            assert readiness(server)["identity_sources"]["command"]["status"] == "unavailable"
    # The same directory by its right name, over StartTLS on the plain port, is fine.
    starttls = ldap_sources(slapd, tmp_path, url=[slapd.url(host=GOOD_HOST)], start_tls=True)
    with make_server(identity_sources=starttls, **NO_BUDGETS) as server, server.client() as http:
        assert password_grant(http, client := server.add_client(), alice).status_code == 200
    assert client


def test_verify_certificate_false_accepts_a_certificate_that_does_not_match(make_server, slapd, tmp_path: Path) -> None:  # noqa: ANN001
    """``verify_certificate = false`` turns the checks off (the name the certificate does not
    carry, refused by default in test_certificates_are_checked, is accepted)."""
    sources = ldap_sources(slapd, tmp_path, url=[slapd.url(tls=True, host=WRONG_HOST)], verify_certificate=False)
    with make_server(identity_sources=sources, **NO_BUDGETS) as server, server.client() as http:
        answer = password_grant(http, server.add_client(), ("command://alice", slapd.passwords["alice"]))
        assert answer.status_code == 200, answer.text


def test_failover_to_the_next_url(make_server, slapd, tmp_path: Path) -> None:  # noqa: ANN001
    from conftest import free_port

    dead = f"ldaps://{GOOD_HOST}:{free_port()}"  # nothing listens there
    sources = ldap_sources(slapd, tmp_path, url=[dead, slapd.url(tls=True)])
    with make_server(identity_sources=sources, **NO_BUDGETS) as server, server.client() as http:
        client = server.add_client()
        for _ in range(3):
            assert password_grant(http, client, ("command://alice", slapd.passwords["alice"])).status_code == 200


def test_a_slow_directory_holds_neither_argon2_slots_nor_more_than_its_own(make_server, slapd, tmp_path: Path) -> None:  # noqa: ANN001
    """The directory's logins wait for its own slots (a pool of 2, 2 more queued): with the
    directory frozen, the built-in accounts' logins still take their one argon2id slot at
    once, and directory logins beyond its slots get a fast 503."""
    sources = ldap_sources(slapd, tmp_path, timeout=3, pool_size=2, queue=2, wait_ms=100)
    settings = {"hashing_concurrency": 1, "hashing_queue": 0, "hashing_wait_ms": 0, **NO_BUDGETS}
    with make_server(identity_sources=sources, **settings) as server, server.client() as http:
        client, builtin = server.add_client(), server.add_user(source="rivermine")
        alice = ("command://alice", slapd.passwords["alice"])
        assert password_grant(http, client, alice).status_code == 200
        busy = metric(server, "mobproc_identity_source_unavailable_total", source_system="command", reason="busy")
        slapd.freeze()
        try:
            answers: list = []
            stuck = threading.Thread(target=lambda: answers.extend(
                all_at_once(8, lambda n: password_grant(http, client, alice))))
            stuck.start()
            time.sleep(0.5)  # the directory's slots are taken, and stay taken for its timeout
            started = time.monotonic()
            assert password_grant(http, client, builtin).status_code == 200
            builtin_took = time.monotonic() - started
            stuck.join()
        finally:
            slapd.thaw()
        assert builtin_took < 1.5, f"a built-in login took {builtin_took:.2f} s while the directory hung"
        assert all(unavailable(answer) for answer in answers)
        refused_fast = [a for a in answers if "Too many" in a.json()["error_description"]]
        assert len(refused_fast) >= 4  # beyond 2 at once and 2 waiting
        assert metric(server, "mobproc_identity_source_unavailable_total", source_system="command",
                      reason="busy") == busy + len(refused_fast)


def test_mobproc_sources_shows_the_configuration_but_no_secret(slapd, tmp_path: Path) -> None:  # noqa: ANN001
    sources = ldap_sources(slapd, tmp_path)
    env = {"MOBPROC_IDENTITY_SOURCES": str(sources)}
    shown = mobproc("sources", "--check", env=env)
    assert shown.returncode == 0, shown.stderr
    assert "command: ldap" in shown.stdout and "rivermine: builtin" in shown.stdout
    assert f"bind_password: file {tmp_path / 'bind-password-command'}" in shown.stdout
    assert "check: ok" in shown.stdout
    assert slapd.service_password not in shown.stdout + shown.stderr
    # From an environment variable, it says which.
    sources.write_text(re.sub(r"bind_password_file = .*", 'bind_password_env = "DIRECTORY_PASSWORD"',
                              sources.read_text()))
    shown = mobproc("sources", "--json", env={**env, "DIRECTORY_PASSWORD": slapd.service_password})
    assert '"bind_password": "environment variable DIRECTORY_PASSWORD"' in shown.stdout
    assert slapd.service_password not in shown.stdout + shown.stderr


def broken_sources(slapd, workdir: Path, line: str) -> Path:  # noqa: ANN001
    """A sources file whose one setting is ``line``: replaced if the good file has it, else added."""
    good = ldap_sources(slapd, workdir).read_text()
    key = line.split(" = ")[0]
    broken = re.sub(rf"^{key} = .*$", line, good, flags=re.MULTILINE) if key in good else good.replace(
        "[sources.command.attributes]", f"{line}\n[sources.command.attributes]")
    path = workdir / "broken.toml"
    path.write_text(broken)
    return path


def test_a_bad_configuration_stops_start_up_with_one_line_naming_the_setting(slapd, tmp_path: Path) -> None:  # noqa: ANN001
    """What the file's validation says, through ``mobproc serve`` and ``mobproc sources`` run in
    this process (the next test starts the real program)."""
    cases = {
        'filter = "(uid=name)"': "sources.command.filter: must contain {name}",
        'url = ["ldap.example.com"]': "sources.command.url: 'ldap.example.com' must be ldap://host[:port]",
        'scope = "everything"': "sources.command.scope: Input should be 'sub' or 'one'",
        'bind_dn = "not a dn"': "sources.command.bind_dn: not a distinguished name",
        'timeout = "soon"': "sources.command.timeout: Input should be a valid number",
        'bind_password_file = "/nonexistent"': "sources.command.bind_password_file: cannot read /nonexistent",
        "tiemout = 3": "sources.command.tiemout: Extra inputs are not permitted",
    }
    for line, message in cases.items():
        path = broken_sources(slapd, tmp_path, line)
        for command in (["serve", "--port", "1"], ["sources"]):
            run = mobproc(*command, env={"MOBPROC_IDENTITY_SOURCES": str(path),
                                         "MOBPROC_DATABASE_URL": f"sqlite:///{tmp_path / 'never.db'}"})
            assert run.returncode == 2, (line, run.stderr)
            lines = run.stderr.strip().splitlines()
            assert len(lines) == 1 and lines[0].startswith(f"mobproc: MOBPROC_IDENTITY_SOURCES: {message}"), lines
    assert not (tmp_path / "never.db").exists()


def test_the_mobproc_executable_refuses_to_start_on_a_bad_sources_file(slapd, tmp_path: Path) -> None:  # noqa: ANN001
    path = broken_sources(slapd, tmp_path, 'filter = "(uid=name)"')
    run = mobproc_process("serve", "--port", "1", inherit_env=False,
                          env={"MOBPROC_IDENTITY_SOURCES": str(path), "PATH": "/usr/bin:/bin",
                               "MOBPROC_DATABASE_URL": f"sqlite:///{tmp_path / 'never.db'}"})
    assert run.returncode == 2, run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(
        "mobproc: MOBPROC_IDENTITY_SOURCES: sources.command.filter: must contain {name}"), lines
    assert not (tmp_path / "never.db").exists()
