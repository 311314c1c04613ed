"""One process of an integrator, for tests/test_sdk_sessions.py: THREADS threads asking one
TokenSession for tokens for SECONDS, sharing the grant with other processes through a
FileTokenStore. The client secret and the password come on standard input, one a line.

Prints one JSON line per token it saw ({"token": …, "refresh": …}) and a last line
{"calls": …, "failures": […]}. Logs (the SDK's, at DEBUG) go to LOG_FILE.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
import time

from mobproc import FileTokenStore, TokenError, TokenSession


def main(url: str, client_id: str, username: str, store: str, seconds: str, threads: str, log_file: str) -> None:
    logging.basicConfig(filename=log_file, level=logging.DEBUG, format="%(asctime)s %(name)s: %(message)s")
    secret, password = sys.stdin.readline().strip(), sys.stdin.readline().strip()
    session = TokenSession(url, client_id, secret, username=username, password=password, store=FileTokenStore(store))
    seen: dict[str, str | None] = {}
    failures: list[str] = []
    calls = [0]
    lock = threading.Lock()
    end = time.monotonic() + float(seconds)

    def run() -> None:
        while time.monotonic() < end:
            try:
                token = session.token()
                if time.time() >= token.expires_at:
                    raise AssertionError("an expired token was handed out")
            except (TokenError, AssertionError) as error:
                with lock:
                    failures.append(repr(error))
            else:
                with lock:
                    seen.setdefault(token.access_token, token.refresh_token)
                    calls[0] += 1
            time.sleep(0.02)

    workers = [threading.Thread(target=run) for _ in range(int(threads))]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    for access, refresh in seen.items():
        print(json.dumps({"token": access, "refresh": refresh}))
    print(json.dumps({"calls": calls[0], "failures": failures}))


if __name__ == "__main__":
    main(*sys.argv[1:])
