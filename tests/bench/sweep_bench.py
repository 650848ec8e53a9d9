#!/usr/bin/env python3
"""lrsched sweep benchmark (SPEC §8): the real daemon against lrsched-sim.

Prints figures; asserts nothing. Time is compressed by configuration (limits
of seconds instead of minutes), never by faking a clock. Usage:
  tests/bench/run [--quick] [--only=PHASE]...   (builds a release tree first)
  sweep_bench.py BUILD_DIR WORKDIR [--quick] [--only=PHASE]...
PHASE: rate-bound, slot-bound, reads, big-job, hostile-names, restart, big-file,
real-fleet, real-fleet-30 (late, never-online and busy machines, lrsched beside
a script-style client: real_fleet.py).
"""

import json
import math
import os
import re
import sqlite3
import shutil
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import real_fleet  # noqa: E402
from simenv import SimTenant  # noqa: E402

JOB = """description: benchmark sweep
targets:
  tags: [tier0, server, workstation]
commands:
  - GetFile: 'C:\\\\Windows\\\\Temp\\\\bench.log'
comment: benchmark
"""


def quiet_fleet(n):
    return ["--machines", str(n), "--seed", "11", "--offline-fraction", "0",
            "--never-online-fraction", "0", "--busy-fraction", "0"]


def event_times(env, to_state):
    return [r[0] for r in env.query(
        "SELECT at FROM session_events WHERE to_state = ? ORDER BY at", (to_state,))]


def occupancy(env, slots, start, end):
    """Time-weighted share of `slots` held (submitting, pending, running) in [start, end]."""
    holding = {"submitting", "pending", "running"}
    rows = env.query("SELECT at, from_state, to_state FROM session_events ORDER BY at, id")
    deltas = []
    for at, frm, to in rows:
        d = (1 if to in holding else 0) - (1 if frm in holding else 0)
        if d:
            deltas.append((at, d))
    held, area, last = 0, 0.0, start
    for at, d in deltas:
        if at > start:
            area += held * (min(at, end) - last)
            last = min(at, end)
        if at >= end:
            break
        held += d
    area += held * (end - last) if last < end else 0
    return 100.0 * area / (slots * (end - start)) if end > start else float("nan")


def sweep(build, workdir, name, n, session_s, calls, per_s, slots, quick):
    env = SimTenant(
        os.path.join(workdir, name), build,
        quiet_fleet(n) + ["--submit-calls", str(calls), "--submit-window", f"{per_s}s",
                          "--concurrent-sessions", str(slots),
                          "--getfile-duration", str(session_s),
                          "--read-calls", "1000", "--read-window", "1m"],
        {"submit_rate": {"calls": calls, "per": f"{per_s}s"},
         "read_rate": [{"calls": 1000, "per": "1m"}],
         "concurrent_sessions": slots, "offline_slots": 1})
    try:
        env.add_job("sweep", JOB)
        env.start_daemon()
        env.wait_for("the sweep to finish", env.run_finished, timeout=60 + 4 * n)
        submits = event_times(env, "submitting")
        first, last = submits[0], submits[-1]
        finished = env.query("SELECT finished_at FROM runs WHERE id = 1")[0][0]
        ideal_span = per_s * 1000 * (math.ceil(len(submits) / calls) - 1)
        rate_pct = 100.0 * ideal_span / (last - first) if last > first else float("nan")
        # The sliding window lets the first `calls` go at once: the last submit
        # can leave per*(ceil(N/calls)-1) after the first, then runs T.
        bound = max(ideal_span / 1000.0 + session_s, n * session_s / slots)
        took = (finished - first) / 1000.0
        stats = env.stats()
        self_429 = stats["throttled"]["submit_rate"] + stats["throttled"]["concurrency"]
        occ = occupancy(env, slots, first, last)
        idle_cpu = None
        if not quick:
            _, cpu0 = env.daemon_usage()
            time.sleep(10)
            _, cpu1 = env.daemon_usage()
            idle_cpu = 100.0 * (cpu1 - cpu0) / 10.0
        rss, cpu = env.daemon_usage()
        print(f"[{name}] {n} online machines, {calls} submits per {per_s}s, {slots} slots, "
              f"{session_s}s per session at the server")
        print(f"  dispatch rate: {rate_pct:.1f}% of submit_rate "
              f"({len(submits)} submits over {(last - first) / 1000:.1f}s, ideal "
              f"{ideal_span / 1000:.1f}s); self-caused 429s: {self_429}; "
              f"duplicate tags: {stats['duplicate_tags']}")
        print(f"  slot occupancy while the backlog lasted: {occ:.1f}% "
              f"(daemon's view; server max concurrent {stats['max_concurrent_sessions']})")
        print(f"  sweep time: {took:.1f}s against the bound max(N/rate + T, N*T/slots) = "
              f"{bound:.1f}s ({100.0 * (took - bound) / bound:+.1f}%)")
        print(f"  daemon: peak RSS {rss:.1f} MB, CPU {cpu:.2f}s" +
              (f", idle CPU {idle_cpu:.2f}% of a core over 10s" if idle_cpu is not None else ""))
    finally:
        env.stop()


def reads_in_flight(build, workdir, n, quick):
    env = SimTenant(
        os.path.join(workdir, f"reads-{n}"), build,
        ["--machines", str(n), "--seed", "5", "--offline-fraction", "1",
         "--online-after-min", "2h", "--online-after-max", "3h", "--never-online-fraction", "0",
         "--busy-fraction", "0", "--submit-calls", "200", "--submit-window", "1s",
         "--concurrent-sessions", str(max(n, 25)), "--pending-counts-as-running=false",
         "--read-calls", "1000", "--read-window", "1m"],
        {"submit_rate": {"calls": 200, "per": "1s"},
         "read_rate": [{"calls": 1000, "per": "1m"}],
         "concurrent_sessions": max(n, 25), "offline_slots": max(n, 25),
         "pending_counts_as_running": False})
    try:
        env.add_job("sweep", JOB)
        env.start_daemon()
        env.wait_for(f"{n} sessions pending",
                     lambda: env.counts().get("pending", 0) == n, timeout=120)
        window = 15 if quick else 60
        before = env.stats()["calls"].get("machineactions_list", {}).get("200", 0)
        time.sleep(window)
        after = env.stats()["calls"].get("machineactions_list", {}).get("200", 0)
        rss, cpu = env.daemon_usage()
        print(f"[reads] {n} sessions in flight (pending on offline machines), poll_interval 1s: "
              f"{(after - before) * 60.0 / window:.1f} action-list calls per minute "
              f"(over {window}s); daemon peak RSS {rss:.1f} MB")
    finally:
        env.stop()


def big_job(build, workdir, n):
    env = SimTenant(
        os.path.join(workdir, "big"), build,
        quiet_fleet(n) + ["--read-calls", "1000", "--read-window", "1m"],
        {"submit_rate": {"calls": 10, "per": "60s"},
         "read_rate": [{"calls": 1000, "per": "1m"}]})
    try:
        env.add_job("sweep", JOB)
        env.start_daemon()
        env.wait_for("the run to be resolved",
                     lambda: bool(env.query("SELECT 1 FROM runs WHERE resolved_at IS NOT NULL")),
                     timeout=300)
        created, resolved = env.query("SELECT created_at, resolved_at FROM runs WHERE id = 1")[0]
        queued = env.query("SELECT count(*) FROM sessions")[0][0]
        rss, _ = env.daemon_usage()
        log = open(os.path.join(env.workdir, "daemon.err")).read()
        listing = re.search(r"listing_ms=(\d+) queueing_ms=(\d+)", log)
        print(f"[big job] {queued} targets: run created to sessions queued "
              f"{(resolved - created) / 1000:.2f}s, of which listing the fleet from the "
              f"simulator {int(listing.group(1)) / 1000:.2f}s and resolving and queueing "
              f"{int(listing.group(2)) / 1000:.2f}s; daemon peak RSS {rss:.1f} MB")
    finally:
        env.stop()


def hostile_names(build, workdir, n):
    """A fleet whose every computerDnsName is 6 KB (and some carry CR LF, ESC
    and NUL): the daemon's peak RSS while it lists and queues them (issue 10,
    C12: names over 253 bytes are refused, so they cost nothing kept)."""
    env = SimTenant(
        os.path.join(workdir, "hostile-names"), build,
        quiet_fleet(n) + ["--read-calls", "1000", "--read-window", "1m",
                          "--long-names", "6144", "--hostile-strings"],
        {"submit_rate": {"calls": 10, "per": "60s"},
         "read_rate": [{"calls": 1000, "per": "1m"}]})
    try:
        env.add_job("sweep", JOB)
        env.start_daemon()
        env.wait_for("the run to be resolved",
                     lambda: bool(env.query("SELECT 1 FROM runs WHERE resolved_at IS NOT NULL")),
                     timeout=600)
        queued = env.query("SELECT count(*) FROM sessions")[0][0]
        rss, _ = env.daemon_usage()
        log = open(os.path.join(env.workdir, "daemon.err")).read()
        refused = re.search(r"(\d+) value\(s\) over their length cap", log)
        print(f"[hostile names] {queued} targets whose names are 6 KB: daemon peak RSS "
              f"{rss:.1f} MB (target < 100 MB); "
              f"{refused.group(1) if refused else 0} over-long values refused")
    finally:
        env.stop()


def restart_with_rows(build, workdir, rows):
    """A store already holding `rows` sessions of an unfinished run: how long
    from the daemon's start until it submits again (a new one-shot job)."""
    env = SimTenant(os.path.join(workdir, "restart"), build,
                    quiet_fleet(10) + ["--read-calls", "1000", "--read-window", "1m"],
                    {"submit_rate": {"calls": 10, "per": "60s"},
                     "read_rate": [{"calls": 1000, "per": "1m"}]})
    try:
        env.start_daemon()  # creates the store
        env.wait_for("the store", lambda: bool(env.query("SELECT count(*) FROM jobs")), 30)
        env.stop_daemon()
        con = sqlite3.connect(os.path.join(env.state_dir, "lrsched.db"))
        definition = json.dumps({
            "name": "bulk", "description": "", "tenant": env.name,
            "targets": {"include": {"machines": [], "hostnames": [], "tags": ["x"], "groups": []},
                        "os": [], "from_file": "",
                        "exclude": {"machines": [], "hostnames": [], "tags": [], "groups": []}},
            "commands": [{"type": "GetFile", "param": "C:\\x.log"}], "comment": "",
            "schedule": {"timezone": "utc", "overlap": "skip", "catch_up": False},
            "priority": 50, "retry": {"busy_every_ms": 600000, "failed": 0, "expired": 0},
            "deadline_ms": None})
        now = int(time.time() * 1000)
        con.execute("INSERT INTO jobs (name, tenant, definition, source_path, source_sha256, "
                    "loaded_at) VALUES ('bulk', ?, ?, '/nonexistent/bulk.yaml', ?, ?)",
                    (env.name, definition, "0" * 64, now))
        con.execute("INSERT INTO runs (job_id, definition, \"trigger\", created_at, resolved_at) "
                    "VALUES ((SELECT id FROM jobs WHERE name = 'bulk'), ?, 'manual', ?, ?)",
                    (definition, now, now))
        states = ["done"] * 8 + ["failed", "expired"]
        con.executemany(
            "INSERT INTO sessions (run_id, machine_id, state, created_at, updated_at) "
            "VALUES ((SELECT max(id) FROM runs), ?, ?, ?, ?)",
            ((f"{i:040x}", states[i % 10], now, now) for i in range(rows)))
        con.execute("INSERT INTO sessions (run_id, machine_id, state, created_at, updated_at) "
                    "VALUES ((SELECT max(id) FROM runs), ?, 'queued', ?, ?)",
                    ("f" * 40, now, now))  # keeps the run unfinished, its machine unknown
        con.commit()
        con.close()
        env.add_job("sweep", JOB)
        started = time.time()
        env.start_daemon()
        env.wait_for("a submit", lambda: bool(env.query(
            "SELECT 1 FROM session_events WHERE to_state = 'submitting' LIMIT 1")), 120)
        first = env.query("SELECT min(at) FROM session_events WHERE to_state = 'submitting'")[0][0]
        rss, _ = env.daemon_usage()
        print(f"[restart] store of {rows + 1} sessions: first submit {first / 1000 - started:.2f}s "
              f"after the daemon started (job scan, a machines listing and a run included); "
              f"peak RSS {rss:.1f} MB")
    finally:
        env.stop()


def big_file(build, workdir, size):
    """One GetFile of `size` bytes: the daemon's peak RSS while it streams."""
    env = SimTenant(os.path.join(workdir, "big-file"), build,
                    quiet_fleet(1) + ["--getfile-size", str(size)],
                    {"submit_rate": {"calls": 10, "per": "60s"}})
    try:
        env.add_job("sweep", JOB)
        env.start_daemon()
        env.wait_for("the download", env.run_finished, timeout=600)
        rss, cpu = env.daemon_usage()
        row = env.query("SELECT bytes FROM artifacts")
        print(f"[big file] one GetFile of {size / 1e6:.0f} MB (stored {row[0][0] / 1e6:.0f} MB, "
              f"a ZIP): daemon peak RSS {rss:.1f} MB, CPU {cpu:.2f}s")
    finally:
        env.stop()


def main():
    if len(sys.argv) < 3:
        print(__doc__)
        return 2
    build, workdir = sys.argv[1], sys.argv[2]
    quick = "--quick" in sys.argv[3:]
    only = {a.split("=", 1)[1] for a in sys.argv[3:] if a.startswith("--only=")}
    shutil.rmtree(workdir, ignore_errors=True)
    os.makedirs(workdir)
    phases = [
        ("rate-bound", lambda: sweep(build, workdir, "rate-bound", 100 if quick else 300,
                                     0.5, 10, 3, 25, quick)),
        ("slot-bound", lambda: sweep(build, workdir, "slot-bound", 60 if quick else 150,
                                     4, 20, 1, 10, quick)),
        ("reads", lambda: [reads_in_flight(build, workdir, n, quick) for n in (25, 1000)]),
        ("big-job", lambda: big_job(build, workdir, 10_000 if quick else 100_000)),
        ("hostile-names", lambda: hostile_names(build, workdir, 10_000 if quick else 100_000)),
        ("restart", lambda: restart_with_rows(build, workdir, 100_000 if quick else 1_000_000)),
        ("big-file", lambda: big_file(build, workdir, 20_000_000 if quick else 200_000_000)),
        ("real-fleet", lambda: real_fleet.phase(build, workdir, "real-fleet", 0.10)),
        ("real-fleet-30", lambda: real_fleet.phase(build, workdir, "real-fleet-30", 0.30)),
    ]
    for name, run in phases:
        if not only or name in only:
            run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
