"""Which LDAP client library: the login's own work (a search as the service account, then a
bind as the entry found) with python-ldap, ldap3 and bonsai, against one slapd on loopback.

For each library, a loop of search + bind for ``--seconds``, one thread, then the same with
``--threads`` threads sharing nothing but the library: logins per second, and the client's
CPU time per login (what mobproc's process would spend; slapd runs in another process).
Prints one line per library and case. Needs the three installed (python-ldap and bonsai
build against Debian's libldap-dev and libsasl2-dev) and slapd (tests/slapd.py starts one):

    python bench/ldap_clients.py --seconds 3
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from slapd import PEOPLE, SERVICE_DN, Slapd  # noqa: E402

PASSWORD = "bench-password"


def python_ldap(url: str, service_password: str):  # noqa: ANN201
    import ldap

    search = ldap.initialize(url)
    search.protocol_version = 3
    search.simple_bind_s(SERVICE_DN, service_password)
    bind = ldap.initialize(url)
    bind.protocol_version = 3

    def login(name: str) -> bool:
        found = search.search_ext_s(PEOPLE, ldap.SCOPE_SUBTREE, f"(uid={name})", ["o"], sizelimit=2)
        bind.simple_bind_s(found[0][0], PASSWORD)
        return True

    return login


def ldap3_client(url: str, service_password: str):  # noqa: ANN201
    import ldap3

    STRATEGY = ldap3.SAFE_SYNC  # noqa: N806 - its thread-safe strategy (SYNC measured the same)

    server = ldap3.Server(url, get_info=ldap3.NONE)  # no schema read: it cost 12 ms of CPU a login
    search = ldap3.Connection(server, SERVICE_DN, service_password, auto_bind=True, client_strategy=STRATEGY)
    bind = ldap3.Connection(server, client_strategy=STRATEGY)
    bind.open()

    def login(name: str) -> bool:
        _, _, entries, _ = search.search(PEOPLE, f"(uid={name})", attributes=["o"], size_limit=2)
        answer = bind.rebind(user=entries[0]["dn"], password=PASSWORD)
        return bool(answer[0] if isinstance(answer, tuple) else answer)

    return login


def bonsai_client(url: str, service_password: str):  # noqa: ANN201
    import bonsai

    search_client = bonsai.LDAPClient(url)
    search_client.set_credentials("SIMPLE", user=SERVICE_DN, password=service_password)
    search = search_client.connect()

    def login(name: str) -> bool:
        found = search.search(PEOPLE, bonsai.LDAPSearchScope.SUBTREE, f"(uid={name})", ["o"], sizelimit=2)
        client = bonsai.LDAPClient(url)
        client.set_credentials("SIMPLE", user=str(found[0].dn), password=PASSWORD)
        client.connect().close()  # bonsai binds when it connects: a connection per login
        return True

    return login


LIBRARIES = {"python-ldap": python_ldap, "ldap3": ldap3_client, "bonsai": bonsai_client}


def measure(make, url: str, service_password: str, threads: int, seconds: float) -> tuple[float, float]:
    """Logins per second and client CPU milliseconds per login."""
    counts = [0] * threads
    logins = [make(url, service_password) for _ in range(threads)]
    for login in logins:
        login("user0")  # warm
    stop = time.monotonic() + seconds

    def run(n: int) -> None:
        while time.monotonic() < stop:
            logins[n](f"user{counts[n] % 8}")
            counts[n] += 1

    cpu, wall = time.process_time(), time.monotonic()
    workers = [threading.Thread(target=run, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    cpu, wall = time.process_time() - cpu, time.monotonic() - wall
    total = sum(counts)
    return total / wall, cpu / total * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=3)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        directory = Slapd(Path(workdir), log_level="0")
        directory.seed()
        for n in range(8):
            directory.add_person(f"user{n}", PASSWORD)
        with directory:
            for name, make in LIBRARIES.items():
                for threads in (1, args.threads):
                    try:
                        rate, cpu_ms = measure(make, directory.url(), directory.service_password, threads, args.seconds)
                    except ImportError as error:
                        print(f"{name:<12} not installed ({error})")
                        break
                    print(f"{name:<12} {threads} thread(s): {rate:8.0f} logins/s, client CPU {cpu_ms:.3f} ms a login")


if __name__ == "__main__":
    main()
