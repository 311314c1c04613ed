#!/usr/bin/env python3
"""What one request costs a mobproc server over HTTP, this build beside another: CPU time per
request, how busy the server's core was, and context switches per request, in rounds.

Where ``bench/app_instructions.py`` counts the instructions of the ASGI app alone, this runs the
real server (``mobproc serve --workers 1`` pinned to core 0, as ``bench/run.py`` does) under wrk
(core 1) and reads the server's process group from /proc around each timed run. A build that
loses throughput but not CPU per request waits (a lock, a thread's turn, a commit) rather than
works; one whose CPU per request grows works more.

    bench/.venv-peers/bin/python bench/http_cost.py --baseline /work/wt-base/.venv/bin/mobproc
"""

import argparse
import os
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run  # noqa: E402  (the harness: targets, provisioning, wrk)

CASES = ("client_credentials", "refresh", "introspect")


def switches(pid_group: int) -> int:
    """Context switches (voluntary and not) of every thread of the process group so far."""
    total = 0
    for task in Path("/proc").glob("[0-9]*/task/[0-9]*/status"):
        try:
            text = task.read_text()
        except OSError:
            continue
        fields = dict(line.split(":\t", 1) for line in text.splitlines() if ":\t" in line)
        try:
            stat = (task.parent / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(stat[2]) == pid_group:
            total += int(fields["voluntary_ctxt_switches"]) + int(fields["nonvoluntary_ctxt_switches"])
    return total


def measure(stage, case: str, seconds: float, warmup: float) -> dict:
    stage.resume()
    try:
        stage.once(case, warmup)
        stage.server.wait_idle()
        pid = stage.server.proc.pid
        split, switched, started = run.cpu_split(pid), switches(pid), time.monotonic()
        result = stage.once(case, seconds)
        wall = time.monotonic() - started
        split, switched = [after - before for after, before in zip(run.cpu_split(pid), split)], switches(pid) - switched
        ticks = sum(split)
    finally:
        stage.pause()
    hz = os.sysconf("SC_CLK_TCK")
    served = result["requests"]
    return {"rps": result["rps"], "cpu_us": ticks / hz / served * 1e6, "busy": ticks / hz / wall,
            "user_us": split[0] / hz / served * 1e6, "system_us": split[1] / hz / served * 1e6,
            "switches": switched / served, "errors": result["errors"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mobproc", default=str(Path(__file__).resolve().parent.parent / ".venv/bin/mobproc"))
    ap.add_argument("--baseline", required=True, help="another build's mobproc executable")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=8)
    ap.add_argument("--cases", default=",".join(CASES))
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--after-sql", default="", help="SQL run on this build's database once provisioned "
                    "(an experiment: what an index costs, say)")
    cfg = ap.parse_args()
    cfg.run_dir = Path(tempfile.mkdtemp(prefix="mobproc-http-cost-"))
    cfg.keep, cfg.duration, cfg.warmup, cfg.password_seconds = False, cfg.seconds, 2, cfg.seconds
    cases = cfg.cases.split(",")
    builds = {"before": run.mobproc_target(cfg.baseline, api=False), "after": run.mobproc_target(cfg.mobproc)}
    for label, target in builds.items():
        target.name = f"mobproc {label}"
    if cfg.after_sql:
        provision = builds["after"].provision

        def provision_then_sql(workdir, env):  # noqa: ANN001
            provision(workdir, env)
            with sqlite3.connect(workdir / "db.sqlite") as db:
                db.executescript(cfg.after_sql)

        builds["after"].provision = provision_then_sql
    figures: dict = {(label, case): [] for label in builds for case in cases}
    try:
        with ExitStack() as stack:
            stages = {label: stack.enter_context(run.staged(label, target, cfg, cases))
                      for label, target in builds.items()}
            for round_ in range(cfg.rounds):
                for case in cases:
                    for label, stage in stages.items():
                        r = measure(stage, case, cfg.seconds, 2)
                        figures[label, case].append(r)
                        print(f"round {round_ + 1} {case:<19} {label:<7} {r['rps']:8.0f} req/s  "
                              f"{r['cpu_us']:6.0f} µs CPU/request ({r['user_us']:.0f} user, {r['system_us']:.0f} system)  "
                              f"core {r['busy']:5.1%}  "
                              f"{r['switches']:5.2f} switches/request  errors {r['errors']}", flush=True)
    finally:
        shutil.rmtree(cfg.run_dir, ignore_errors=True)
    print("\ncase                 rps after÷before   CPU/request after÷before   busy before/after   switches before/after")
    for case in cases:
        before, after = figures["before", case], figures["after", case]
        med = lambda runs, key: statistics.median(r[key] for r in runs)
        print(f"{case:<20} {med(after, 'rps') / med(before, 'rps'):17.3f}   "
              f"{med(after, 'cpu_us') / med(before, 'cpu_us'):24.3f}   "
              f"{med(before, 'busy'):7.1%} / {med(after, 'busy'):6.1%}   "
              f"{med(before, 'switches'):8.2f} / {med(after, 'switches'):.2f}")


if __name__ == "__main__":
    main()
