#!/usr/bin/env python3
"""The demo sweep: the example jobs, run by the real daemon against a
simulated tenant of 200 machines (some offline for a while, some never
online, some busy), with limits compressed from minutes to seconds.

Usage: demo_sweep.py BUILD_DIR WORKDIR (tests/demo builds and calls it).
"""

import os
import re
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "bench"))
from simenv import SimTenant  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def example_jobs(env):
    """The examples of jobs/, made to run now: the nightly one loses its
    schedule (it would wait for 01:00), the rest is as shipped."""
    jobs = os.path.join(ROOT, "jobs")
    nightly = open(os.path.join(jobs, "nightly-autoruns.yaml")).read()
    nightly = re.sub(r"\nschedule:\n(  .*\n)+", "\n", nightly)
    env.add_job("nightly-autoruns", nightly)
    env.add_job("ir-2291-triage", open(os.path.join(jobs, "ir-2291-triage.yaml")).read())
    os.makedirs(os.path.join(env.jobs_dir, "targets"), exist_ok=True)
    shutil.copy(os.path.join(jobs, "targets", "ir-2291.txt"), os.path.join(env.jobs_dir, "targets"))
    env.add_job("servers-sweep", """# The demo's own: a file from every Windows server.
description: event log from every Windows server
targets:
  tags: [server]
  os: [WindowsServer2019, WindowsServer2022]
commands:
  - GetFile: 'C:\\Windows\\System32\\winevt\\Logs\\Security.evtx'
comment: demo servers sweep
retry: {busy_every: 3s, expired: 1}
""")


def lrsched(build, *args):
    return subprocess.run([os.path.join(build, "daemon/lrsched")] + list(args),
                          capture_output=True, text=True)


def main():
    build, workdir = sys.argv[1], sys.argv[2]
    shutil.rmtree(workdir, ignore_errors=True)
    env = SimTenant(
        workdir, build,
        ["--machines", "200", "--seed", "2291", "--submit-calls", "10", "--submit-window", "3s",
         "--concurrent-sessions", "10", "--queue-expiry", "20s", "--runscript-duration", "1",
         "--getfile-duration", "1", "--putfile-duration", "0.5", "--offline-fraction", "0.15",
         "--online-after-min", "2s", "--online-after-max", "15s", "--never-online-fraction",
         "0.05", "--busy-fraction", "0.1", "--busy-for-min", "2s", "--busy-for-max", "8s",
         "--read-calls", "100", "--read-window", "3s", "--read-calls-long", "1500",
         "--read-window-long", "1m", "--library", "autoruns.exe",
         "--library", "collect-autoruns.ps1", "--library", "collect-triage.ps1"],
        {"submit_rate": {"calls": 10, "per": "3s"},
         "read_rate": [{"calls": 100, "per": "3s"}, {"calls": 1500, "per": "1m"}],
         "concurrent_sessions": 10, "offline_slots": 3, "queue_expiry": "20s",
         "runscript_timeout": "10s"})
    cfg = env.config
    try:
        example_jobs(env)
        print(f"simulated tenant at {env.ready['base']} (200 machines); daemon log: "
              f"{os.path.join(workdir, 'daemon.err')}")
        for job in ("servers-sweep", "nightly-autoruns"):
            print(f"$ lrsched plan {job}")
            print(lrsched(build, "plan", job, "-c", cfg).stdout, end="")
        env.start_daemon()
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            time.sleep(3)
            rows = env.query("SELECT count(*), count(finished_at), count(resolved_at) FROM runs")
            counts = env.query("SELECT state, count(*) FROM sessions GROUP BY state")
            print("  " + time.strftime("%H:%M:%S") + "  " +
                  ", ".join(f"{s} {n}" for s, n in sorted(counts)))
            if rows and rows[0][0] == 3 and rows[0][1] == 3:
                break
        print("\n$ lrsched status")
        print(lrsched(build, "status", "-c", cfg).stdout, end="")
        print("\n$ lrsched sessions nightly-autoruns")
        print(lrsched(build, "sessions", "nightly-autoruns", "-c", cfg).stdout, end="")
        stats = env.stats()
        print(f"\nsimulator: {stats['actions_created']} actions created, "
              f"{stats['duplicate_tags']} duplicate tags, max "
              f"{stats['max_submits_in_any_window']} submits in any 3 s window (limit 10), "
              f"max {stats['max_concurrent_sessions']} concurrent sessions (limit 10), "
              f"throttled by rate {stats['throttled']['submit_rate']}, "
              f"by concurrency {stats['throttled']['concurrency']}")
        run = env.query("SELECT r.id FROM runs r JOIN jobs j ON j.id = r.job_id "
                        "WHERE j.name = 'nightly-autoruns'")[0][0]
        folder = os.path.join(env.state_dir, "evidence", "nightly-autoruns", str(run))
        print(f"\n$ ls -R {folder}")
        for base, _, files in sorted(os.walk(folder)):
            for f in sorted(files):
                path = os.path.join(base, f)
                print(f"  {os.path.relpath(path, folder)}  ({os.path.getsize(path)} bytes)")
        print(f"\n$ head -3 {os.path.join(folder, 'manifest.jsonl')}")
        with open(os.path.join(folder, "manifest.jsonl")) as m:
            for line in m.readlines()[:3]:
                print(line, end="")
        print(f"\n$ lrsched verify {folder}")
        print(lrsched(build, "verify", folder).stdout, end="")
    finally:
        env.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
