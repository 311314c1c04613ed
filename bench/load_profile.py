#!/usr/bin/env python3
"""Where mobproc's time goes under the benchmark's load, sampled by py-spy.

mobproc is served and driven exactly as in bench/run.py (one process on core 0, wrk with 32
connections on core 1); for each case, after a warm-up, py-spy samples the server (on core 1,
beside wrk) for the length of one timed run. Every sample's innermost Python frame is charged to
the layer its file belongs to: time spent in C (SQLite, hashlib, httptools, libargon2) shows up
in the Python line that called it. Writes bench/results/profile.md (the layers and the busiest
functions, case by case) and bench/results/profiles/CASE.txt, the collapsed stacks (flamegraph.pl,
inferno or speedscope.app read them; git ignores them).

    bench/.venv-peers/bin/python bench/load_profile.py [--cases refresh,introspect] [--seconds 10]
"""

import argparse
import collections
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import run  # the harness: the same target, server, client and wrk runs

# First match wins: a frame's file path against these, in order.
LAYERS = (
    ("mobproc: HTTP edge (endpoints, access log, metrics)", "/mobproc/server/"),
    ("mobproc: OAuth 2.0 (grants, client authentication)", "/mobproc/oauth2/"),
    ("mobproc: domain (tokens, passwords, audit, throttling)", "/mobproc/domain/"),
    ("mobproc: storage (its SQL and the sqlite3 calls)", "/mobproc/storage/"),
    ("mobproc: other", "/mobproc/"),
    ("uvicorn and httptools (HTTP/1.1)", "/uvicorn/"),
    ("Starlette", "/starlette/"),
    ("logging", "/logging/"),
    ("event loop (asyncio, uvloop)", r"/(asyncio|uvloop)/"),
    ("threads (anyio, threading, concurrent.futures)", r"/(anyio|threading\.py|concurrent/)"),
    ("argon2-cffi", "/argon2/"),
    ("SQLAlchemy", "/sqlalchemy/"),
    ("prometheus_client", "/prometheus_client/"),
)
# Functions whose samples are a thread blocked on a lock or a queue, which py-spy does not always
# tell from a busy one: the password grants queued for the hasher, idle worker threads.
WAITS = {("Condition.wait", "threading.py"), ("Event.wait", "threading.py"),
         ("Queue.get", "queue.py"), ("_worker", "concurrent/futures/thread.py"),
         ("WorkerThread.run", "anyio/_backends/_asyncio.py"),
         ("HashingAdmission.slot", "mobproc/domain/passwords.py")}
WAITING = "waiting on a lock or a queue"
FRAME = re.compile(r"^(?P<func>.*) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")


def layer_of(func, path):
    """py-spy names a file from its package on (uvicorn/server.py), the patterns from a slash."""
    if (func, path) in WAITS:
        return WAITING
    return next((name for name, pattern in LAYERS if re.search(pattern, "/" + path)), "other")


def read_stacks(path):
    """Collapsed stacks ("frame;frame;frame count" a line) -> [(frames, count)]."""
    stacks = []
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            stacks.append((stack.split(";"), int(count)))
    return stacks


def summarize(stacks, top=12):
    """Samples by layer and by function, of the innermost frame that is Python code."""
    by_layer, by_func, total = collections.Counter(), collections.Counter(), 0
    for frames, count in stacks:
        m = next((m for f in reversed(frames) if (m := FRAME.match(f))), None)
        if m is None:
            continue
        total += count
        by_layer[layer_of(m["func"], m["file"])] += count
        by_func[f"{m['func']} ({m['file']})"] += count
    return total, by_layer.most_common(), by_func.most_common(top)


def profile_case(stage, case, seconds, rate, outdir):
    """One warmed-up timed run of ``case`` with py-spy sampling the server throughout."""
    stage.resume()
    try:
        stage.once(case, 3)
        stage.server.wait_idle()
        unprofiled = stage.once(case, seconds)
        stage.server.wait_idle()
        load = stage.load(case)  # a refresh run's seed tokens come from password grants: before py-spy
        raw = outdir / f"{case}.txt"
        spy = subprocess.Popen(
            ["taskset", "-c", run.LOAD_CORE, Path(run.PY).with_name("py-spy"), "record",
             "--pid", str(stage.server.proc.pid), "--rate", str(rate), "--format", "raw",
             # Blocking mode stops the server for every sample: introspection fell from 7,149
             # to 482 req/s, and the samples were of threads waiting for it to go on.
             "--output", str(raw), "--nonblocking"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        time.sleep(0.5)  # attached
        if spy.poll() is not None:
            raise RuntimeError(f"py-spy could not attach: {spy.stderr.read()[-500:]}")
        profiled = run.wrk(*load, seconds, stage.cfg.connections)
        spy.send_signal(signal.SIGINT)  # py-spy writes its file on ^C
        _, err = spy.communicate(timeout=60)
        if not raw.exists():
            raise RuntimeError(f"py-spy wrote nothing: {err[-500:]}")
        return unprofiled, profiled, read_stacks(raw)
    finally:
        stage.pause()


def write_report(path, meta, results):
    lines = [
        "# Where mobproc's time goes (py-spy)", "",
        f"`bench/load_profile.py`, {meta['date']}, {meta['cpu']}: mobproc as in the benchmark, one "
        f"process on core 0, wrk with {meta['connections']} connections on core 1, py-spy "
        f"sampling at {meta['rate']} Hz (non-blocking) for one {meta['seconds']} s run of each "
        "case. A sample is charged to its innermost Python frame, so time in C (SQLite, "
        "hashlib, httptools, libargon2) counts for the Python line that called it; a thread "
        "blocked on a lock or a queue, which py-spy does not always tell from a busy one, is "
        f"counted as \"{WAITING}\". Throughput is the run just before without py-spy, then the "
        "profiled run.", ""]
    for case, r in results.items():
        total, layers, funcs = r["summary"]
        lines += [f"## {case}", "",
                  f"{r['unprofiled']['rps']:,.1f} req/s unprofiled, {r['profiled']['rps']:,.1f} "
                  f"profiled; {total:,} samples.", "",
                  "| layer | share |", "|---|---:|"]
        lines += [f"| {name} | {count / total:.1%} |" for name, count in layers]
        lines += ["", "| busiest functions (innermost Python frame) | share |", "|---|---:|"]
        lines += [f"| `{name}` | {count / total:.1%} |" for name, count in funcs]
        lines.append("")
    path.write_text("\n".join(lines))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cases", default=",".join(run.CASES))
    ap.add_argument("--seconds", type=int, default=10, help="length of the profiled run")
    ap.add_argument("--rate", type=int, default=250, help="py-spy samples per second")
    ap.add_argument("--mobproc", default=os.environ.get(
        "MOBPROC_BIN", str(run.BENCH.parent / ".venv" / "bin" / "mobproc")))
    ap.add_argument("--out", default=str(run.BENCH / "results"))
    args = ap.parse_args()
    cases = [c for c in args.cases.split(",") if c]
    if unknown := set(cases) - set(run.CASES):
        sys.exit(f"unknown cases: {', '.join(sorted(unknown))} (known: {', '.join(run.CASES)})")
    for tool in ("wrk", "taskset"):
        if not shutil.which(tool):
            sys.exit(f"{tool} not found: run bench/setup.sh")
    if not Path(run.PY).with_name("py-spy").exists():
        sys.exit("py-spy not found beside this Python: run bench/setup.sh")
    os.sched_setaffinity(0, {int(run.LOAD_CORE)})

    # What bench/run.py's Stage reads of its configuration.
    cfg = argparse.Namespace(run_dir=Path(tempfile.mkdtemp(prefix="mobproc-profile-")), keep=False,
                             connections=32, duration=args.seconds, password_seconds=args.seconds)
    outdir = Path(args.out)
    (outdir / "profiles").mkdir(parents=True, exist_ok=True)
    results = {}
    try:
        with run.staged("mobproc", run.mobproc_target(args.mobproc), cfg, cases) as stage:
            for case in cases:
                unprofiled, profiled, stacks = profile_case(stage, case, args.seconds, args.rate,
                                                            outdir / "profiles")
                results[case] = {"unprofiled": unprofiled, "profiled": profiled,
                                 "summary": summarize(stacks)}
                total, layers, _ = results[case]["summary"]
                print(f"{case}: {unprofiled['rps']:,.1f} req/s, {profiled['rps']:,.1f} profiled; "
                      + ", ".join(f"{name.split(' (')[0]} {count / total:.0%}"
                                  for name, count in layers[:4]), flush=True)
    finally:
        shutil.rmtree(cfg.run_dir, ignore_errors=True)
    meta = {"date": time.strftime("%Y-%m-%d %H:%M %Z"), "cpu": run.cpu_model(),
            "connections": cfg.connections, "rate": args.rate, "seconds": args.seconds}
    write_report(outdir / "profile.md", meta, results)
    print(f"wrote {outdir / 'profile.md'} and {outdir / 'profiles'}/*.txt")


if __name__ == "__main__":
    main()
