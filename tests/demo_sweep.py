#!/usr/bin/python3
"""The demo sweep: every example job of jobs/, run by the real daemon against
lrsched-sim with a fleet of 500 machines (some offline for a while, some never
online, some busy, a few scripts failing) and limits compressed from minutes
to seconds; `lrsched status` redrawn in place while it runs, then a summary.

Usage: demo_sweep.py BUILD_DIR WORKDIR (tests/demo builds and execs it; the
environment's DEMO_T0, a Unix time, is when the demo began).
Exit status 0 only when every job's run ended with a non-empty manifest that
`lrsched verify` accepts and the simulator counted no limit crossed and no
tag submitted twice; 130/143 after SIGINT/SIGTERM, with every process stopped.
A sweep takes about a minute; the whole of it is bounded (SWEEP_TIMEOUT).
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from demo_env import Demo, copy_example_jobs, free_port  # noqa: E402
from demo_fleet import describe, fleet  # noqa: E402

SWEEP_TIMEOUT = 150  # seconds; a sweep that has not ended by then fails the demo
# The simulator's limits and the daemon's configuration of them: SPEC §1's
# 10 calls a minute become 10 per 3 s, a 3-day queue 10 s, 25 slots 10.
SIM_ARGS = ["--submit-calls", "10", "--submit-window", "3s", "--concurrent-sessions", "10",
            "--queue-expiry", "10s", "--runscript-timeout", "10s",
            "--runscript-duration", "1", "--getfile-duration", "1", "--putfile-duration", "0.5",
            "--runscript-fail-fraction", "0.2", "--read-calls", "100", "--read-window", "3s",
            "--read-calls-long", "1500", "--read-window-long", "1m"]
LIMITS = {"submit_rate": {"calls": 10, "per": "3s"},
          "read_rate": [{"calls": 100, "per": "3s"}, {"calls": 1500, "per": "1m"}],
          "concurrent_sessions": 10, "offline_slots": 3, "queue_expiry": "10s",
          "runscript_timeout": "10s"}


class Stopped(Exception):
    def __init__(self, signum):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _raise_stopped(signum, _frame):
    raise Stopped(signum)


class Screen:
    """Shows a frame of text: redrawn in place on a terminal (ANSI: cursor
    up, erase below; cut to the window so the cursor can always get back to
    its top), appended every `every` seconds otherwise (CI logs)."""

    def __init__(self, every=10):
        self.tty = sys.stdout.isatty()
        self.every = every
        self.drawn = 0
        self.last = None

    def show(self, lines, final=False):
        now = time.monotonic()
        if not self.tty:
            if final or self.last is None or now - self.last >= self.every:
                print("\n".join(lines) + "\n", flush=True)
                self.last = now
            return
        size = shutil.get_terminal_size()
        if len(lines) > size.lines - 2:  # the lines that say nothing go first
            lines = [x for x in lines if x not in ("  paused: no", "  last error: none")]
        lines = [line[:size.columns - 1] for line in lines][:max(1, size.lines - 2)]
        out = f"\x1b[{self.drawn}F\x1b[J" if self.drawn else ""
        sys.stdout.write(out + "\n".join(lines) + "\n")
        sys.stdout.flush()
        self.drawn = len(lines)


def example_jobs(env):
    """The example jobs, as the demo runs them, into another harness's jobs
    folder (tests/page/page_sweep_e2e.py's SimTenant); their names."""
    return copy_example_jobs(env.jobs_dir)


def runs_of(status, jobs):
    """{job: its latest run's JSON or None}."""
    got = (status or {}).get("jobs", {})
    return {j: (got.get(j) or {}).get("latest_run") for j in jobs}


def sweep(demo, jobs, page, t_start):
    screen = Screen()
    deadline = time.monotonic() + SWEEP_TIMEOUT
    while True:
        runs = runs_of(demo.status_json(), jobs)
        # Ended and closed: results.jsonl listed, the digest recorded.
        done = all(r and r.get("finished_at") and r.get("digest") for r in runs.values())
        text = demo.lrsched("status", "-c", demo.config).stdout.rstrip("\n").split("\n")
        head = (f"-- {time.strftime('%H:%M:%S')}, sweep at {time.monotonic() - t_start:.0f} s"
                f" -- status page {page} -- lrsched status:")
        screen.show([head] + text, final=done)
        if done:
            return True
        if time.monotonic() > deadline:
            screen.show([head] + text, final=True)
            print(f"demo: the sweep did not end within {SWEEP_TIMEOUT} s")
            return False
        if demo.daemon.poll() is not None:
            print(f"demo: the daemon exited ({demo.daemon.returncode}); "
                  f"see {demo.daemon_err.name}")
            return False
        time.sleep(1)


def manifest_sample(path, n=3):
    """The manifest's lines as (sha256, size, file), the first n, and their count."""
    rows = []
    with open(path) as f:
        for line in f:
            try:
                j = json.loads(line)
            except ValueError:
                continue
            rows.append((j.get("sha256", "?"), j.get("bytes", "?"), j.get("file", "?")))
    return rows[:n], len(rows)


def summary(demo, jobs):
    """Prints the summary; returns the list of what failed (empty: success)."""
    failed = []
    runs = runs_of(demo.status_json(), jobs)
    print("\n== sessions by state, per job")
    for job, run in runs.items():
        counts = ", ".join(f"{s} {n}" for s, n in sorted((run or {}).get("sessions", {}).items())
                           if n) or "none"
        total = (run or {}).get("total", 0)
        print(f"  {job:26} {total:4} sessions: {counts}")

    print("\n== evidence (a sample of each run's manifest.jsonl), and lrsched verify")
    for job, run in runs.items():
        if not run:
            failed.append(f"{job}: no run")
            continue
        folder = os.path.join(demo.state_dir, "evidence", job, str(run["id"]))
        manifest = os.path.join(folder, "manifest.jsonl")
        if not os.path.isfile(manifest):
            print(f"  {job}: no manifest at {manifest}")
            failed.append(f"{job}: no manifest")
            continue
        sample, count = manifest_sample(manifest)
        print(f"  {manifest}  ({count} files)")
        for sha, size, path in sample:
            print(f"    {path}  ({size} bytes)\n      sha256 {sha}")
        if count > len(sample):
            print(f"    ... and {count - len(sample)} more")
        v = demo.lrsched("verify", folder, timeout=60)
        print(f"  $ lrsched verify {folder}   -> exit status {v.returncode}")
        for line in (v.stdout + v.stderr).strip().split("\n")[-3:]:
            print(f"    {line}")
        if count == 0:
            failed.append(f"{job}: empty manifest")
        if v.returncode != 0:
            failed.append(f"{job}: lrsched verify exit status {v.returncode}")

    s = demo.sim_stats()
    thr = s["throttled"]
    crossed = (thr["submit_rate"] + thr["concurrency"] + thr["read_rate"] +
               int(s["max_submits_in_any_window"] > s["submit_calls_limit"]) +
               int(s["max_concurrent_sessions"] > s["concurrent_sessions_limit"]))
    print("\n== the simulator's own count")
    print(f"  {s['actions_created']} actions created ({', '.join(f'{k} {v}' for k, v in s['actions_by_status'].items() if v)})")
    print(f"  max {s['max_submits_in_any_window']} submits in any "
          f"{s['submit_window_seconds']:g} s window (limit {s['submit_calls_limit']}), max "
          f"{s['max_concurrent_sessions']} sessions at once (limit "
          f"{s['concurrent_sessions_limit']}); 429s for submit rate {thr['submit_rate']}, "
          f"concurrency {thr['concurrency']}, read rate {thr['read_rate']}")
    print(f"  limits crossed: {crossed}; tags submitted twice: {s['duplicate_tags']}")
    if crossed:
        failed.append(f"the simulator counted {crossed} limit(s) crossed")
    if s["duplicate_tags"]:
        failed.append(f"the simulator counted {s['duplicate_tags']} tag(s) submitted twice")
    return failed


def read_results(demo, jobs):
    """`lrsched stack` on the scheduled sweep, and `lrsched diff` after a
    second run of the triage job; returns what failed."""
    failed = []
    print("\n== reading results")
    for job in ("nightly-autoruns", "ir-2291-triage"):
        if job not in jobs:
            continue
        r = demo.lrsched("stack", job, "-c", demo.config, timeout=60)
        print(f"$ lrsched stack {job}")
        lines = r.stdout.rstrip("\n").split("\n")
        for line in lines[:9]:
            print(f"  {line}")
        if len(lines) > 9:
            print(f"  ... {len(lines) - 9} more lines")
        if r.returncode != 0:
            failed.append(f"lrsched stack {job}: exit status {r.returncode}: {r.stderr.strip()}")
    job = "ir-2291-triage"
    if job not in jobs:
        return failed
    r = demo.lrsched("run", job, "-c", demo.config)
    print(f"$ lrsched run {job}    (a second run, to compare with the first)")
    if r.returncode != 0:
        return failed + [f"lrsched run {job}: exit status {r.returncode}: {r.stderr.strip()}"]
    deadline = time.monotonic() + SWEEP_TIMEOUT
    while time.monotonic() < deadline:
        run = runs_of(demo.status_json(), [job])[job] or {}
        if run.get("id", 0) >= 2 and run.get("digest"):
            break
        time.sleep(1)
    else:
        return failed + [f"{job}'s second run did not end within {SWEEP_TIMEOUT} s"]
    r = demo.lrsched("diff", job, "-c", demo.config, timeout=60)
    print(f"$ lrsched diff {job}")
    for line in r.stdout.rstrip("\n").split("\n"):
        print(f"  {line}")
    if r.returncode != 0:
        failed.append(f"lrsched diff {job}: exit status {r.returncode}: {r.stderr.strip()}")
    return failed


def main():
    build, workdir = sys.argv[1], sys.argv[2]
    t0 = float(os.environ.get("DEMO_T0", time.time()))
    t_begin, w_begin = time.monotonic(), time.time()
    signal.signal(signal.SIGINT, _raise_stopped)
    signal.signal(signal.SIGTERM, _raise_stopped)
    shutil.rmtree(workdir, ignore_errors=True)
    os.makedirs(workdir)
    demo = Demo(workdir, build)
    marks = {}
    failed = ["interrupted"]
    try:
        machines = fleet(500)
        fleet_file = os.path.join(workdir, "fleet.json")
        with open(fleet_file, "w") as f:
            json.dump(machines, f)
        demo.start_sim(fleet_file, len(machines), SIM_ARGS)
        port = free_port()
        demo.write_config(LIMITS, port)
        jobs = demo.add_example_jobs()
        page = f"http://127.0.0.1:{port}/"
        print(f"simulated tenant at {demo.ready['base']}: {describe(machines)}; "
              f"a script fails one time in five")
        print(f"jobs: {', '.join(jobs)} (from jobs/: schedules removed, "
              f"busy machines retried after 3 s)")
        print(f"workdir {workdir}: configuration lrsched.yaml, daemon log daemon.err")
        print(f"\n   status page while it runs: {page}\n", flush=True)
        demo.start_daemon()
        demo.wait_http(page, 20)
        marks["simulator and daemon start"] = time.monotonic()
        ok = sweep(demo, jobs, page, marks["simulator and daemon start"])
        marks["sweep"] = time.monotonic()
        failed = summary(demo, jobs) + ([] if ok else ["the sweep did not end"])
        marks["summary"] = time.monotonic()
        if ok:
            failed += read_results(demo, jobs)
            marks["results, a second triage run and its diff"] = time.monotonic()
    except Stopped as e:
        print(f"\ndemo: {e}; stopping the daemon and the simulator", flush=True)
        failed = [str(e)]
    except (OSError, RuntimeError, ValueError, KeyError, subprocess.SubprocessError) as e:
        print(f"\ndemo: {type(e).__name__}: {e}", flush=True)
        failed = [str(e)]
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # the stop itself is bounded
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        codes = demo.stop()
    if "summary" in marks:
        marks["stop"] = time.monotonic()
        if codes.get("lrsched") != 0:
            failed.append(f"the daemon's exit status was {codes.get('lrsched')}, not 0")
    prev, split = t_begin, []
    for name, t in marks.items():
        split.append(f"{name} {t - prev:.1f} s")
        prev = t
    print(f"\ndemo: {time.time() - t0:.0f} s in all ({', '.join(split) or 'no phase ended'}"
          f"; before them, build and validate {w_begin - t0:.1f} s)")
    if failed:
        print("demo FAILED: " + "; ".join(failed))
        if failed[0] in ("SIGINT", "SIGTERM"):
            return 128 + signal.Signals[failed[0]]
        return 1
    print("demo OK: every job's evidence verified, no limit crossed, no tag submitted twice")
    return 0


if __name__ == "__main__":
    sys.exit(main())
