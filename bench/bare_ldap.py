"""Ceiling for the password grant against a directory: a bare loop of what a login asks of
it, a search as the service account then a bind as the entry found (python-ldap, as mobproc
uses it), on as many threads as mobproc's pool has connections. Prints one JSON line as
bench/run.py reads it (timed_loop's: logins/s, p50 and p99 of one login).

    taskset -c 0 python bare_ldap.py --url ldap://127.0.0.1:389 --bind-dn DN \
        --bind-password-file F --base BASE --password-file F --users 8 --threads 4 --seconds 10
"""

import argparse
import json
import threading
import time

import ldap

ap = argparse.ArgumentParser()
ap.add_argument("--url", required=True)
ap.add_argument("--bind-dn", required=True)
ap.add_argument("--bind-password-file", required=True)
ap.add_argument("--base", required=True)
ap.add_argument("--password-file", required=True)
ap.add_argument("--users", type=int, default=8)
ap.add_argument("--threads", type=int, default=4)
ap.add_argument("--seconds", type=float, default=10.0)
ap.add_argument("--warmup", type=float, default=1.0)
args = ap.parse_args()
service_password = open(args.bind_password_file).read().strip()
password = open(args.password_file).read().strip()


def connection():
    c = ldap.initialize(args.url)
    c.set_option(ldap.OPT_PROTOCOL_VERSION, 3)
    c.simple_bind_s(args.bind_dn, service_password)
    return c


def worker(seconds, latencies, errors, index):
    searcher, binder = connection(), connection()
    n = index
    end = time.perf_counter() + seconds
    while (started := time.perf_counter()) < end:
        n += 1
        try:
            [(dn, _)] = searcher.search_ext_s(args.base, ldap.SCOPE_SUBTREE, f"(uid=user{n % args.users})", ["o"],
                                              sizelimit=2)
            binder.simple_bind_s(dn, password)
        except (ldap.LDAPError, ValueError):
            errors.append(1)
        latencies.append(time.perf_counter() - started)


def run(seconds):
    latencies, errors = [], []
    threads = [threading.Thread(target=worker, args=(seconds, latencies, errors, i)) for i in range(args.threads)]
    wall = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies, errors, time.perf_counter() - wall


if args.warmup:
    run(args.warmup)
latencies, errors, wall = run(args.seconds)
latencies.sort()
print(json.dumps({
    "rps": len(latencies) / wall,
    "p50_ms": latencies[len(latencies) // 2] * 1e3,
    "p99_ms": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1e3,
    "requests": len(latencies),
    "errors": len(errors),
}))
