#!/usr/bin/env python3
"""The status page during a real sweep: the demo's jobs (tests/demo_sweep.py)
run by the real `lrsched daemon` against `lrsched-sim` (200 machines, hostile
strings in machine names and error messages), and, while the sweep runs,
page_test.py loads the page in headless Chromium and checks every figure
it shows against the status documents it was given: today each one is
served by the daemon's own `metrics.listen` listener (GET / and GET
/v1/status, control/routes.hpp); with --via-store, the page from
lrsched_page_dump and its documents from `lrsched status --json`.
Then, with the daemon still running: its `GET /metrics` is parsed with
prometheus_client's parser of the text format (python3-prometheus-client)
and its session counts checked against `status --json`; the secret is
searched for in /metrics, `status --json` and the whole log (0 hits), and
every log line must be one record (a timestamp, a level, a message).
The sweep outlasts the checks by construction, not by speed: never-online
machines hold their run open until queue_expiry (20 s) after submission.

Usage: page_sweep_e2e.py BUILD_DIR [--via-store]
Exit status as page_test.py's (77: skipped, no chromium outside CI).
"""

import json
import os
import re
import urllib.request
import shutil
import socket
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "bench"))
sys.path.insert(0, os.path.join(ROOT, "tests"))
sys.path.insert(0, HERE)
import demo_sweep  # noqa: E402
import page_test  # noqa: E402
from simenv import SECRET, SimTenant  # noqa: E402


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def unfinished_run_seen(keep):
    """Whether a document the page was given had a run still going."""
    for name in sorted(os.listdir(keep)):
        if name.startswith("doc-") and name.endswith(".json"):
            with open(os.path.join(keep, name)) as f:
                doc = json.load(f)
            for job in doc["jobs"].values():
                run = job["latest_run"]
                if run and not run["finished_at"] and run["finished"] < run["total"]:
                    return True
    return False


def check_metrics_and_secrets(env, build, port):
    from prometheus_client.parser import text_string_to_metric_families
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30) as r:
        metrics = r.read().decode()
    status = subprocess.run([os.path.join(build, "daemon/lrsched"), "status", "--json", "-c",
                             env.config], capture_output=True, text=True, check=True).stdout
    # A parser of the format: a malformed line raises.
    families = {f.name: f for f in text_string_to_metric_families(metrics)}
    problems = []
    for name in ("lrsched_sessions", "lrsched_api_calls", "lrsched_build_info",
                 "lrsched_slots_in_use", "lrsched_queue_depth"):
        if name not in families:
            problems.append(f"/metrics has no family {name}")
    doc = json.loads(status)
    if "lrsched_sessions" in families:
        totals = {}
        for sample in families["lrsched_sessions"].samples:
            job = sample.labels["job"]
            totals[job] = totals.get(job, 0) + int(sample.value)
        for job, j in doc["jobs"].items():
            # A run's total is fixed once its targets are resolved.
            if j["latest_run"] and totals.get(job) != j["latest_run"]["total"]:
                problems.append(f"job {job}: /metrics counts {totals.get(job)} sessions, "
                                f"status --json {j['latest_run']['total']}")
    with open(os.path.join(env.workdir, "daemon.err"), encoding="utf-8", errors="replace") as f:
        log = f.read()
    for what, text in (("/metrics", metrics), ("status --json", status), ("the log", log)):
        if SECRET in text:
            problems.append(f"the secret appears in {what}")
    record = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z [a-z]+ [\x20-\x7e]*$")
    for n, line in enumerate(log.splitlines(), 1):
        if not record.match(line):
            problems.append(f"log line {n} is not one record: {line[:120]!r}")
            break
    for p in problems:
        print("FAIL " + p)
    if not problems:
        print(f"ok /metrics: {len(families)} families parsed and agree with status --json; "
              f"no secret in /metrics, status or {len(log.splitlines())} log lines")
    return 1 if problems else 0


def main():
    build = sys.argv[1]
    via_daemon = "--via-store" not in sys.argv[2:]
    page_test.browser_or_skip()
    work = tempfile.mkdtemp(prefix="lrsched-page-sweep-")
    env = SimTenant(
        os.path.join(work, "env"), build,
        ["--machines", "200", "--seed", "2291", "--submit-calls", "10", "--submit-window", "3s",
         "--concurrent-sessions", "10", "--queue-expiry", "20s", "--runscript-duration", "1",
         "--getfile-duration", "1", "--putfile-duration", "0.5", "--offline-fraction", "0.15",
         "--online-after-min", "2s", "--online-after-max", "15s", "--never-online-fraction",
         "0.05", "--busy-fraction", "0.1", "--busy-for-min", "2s", "--busy-for-max", "8s",
         "--hostile-strings", "--library", "autoruns.exe", "--library", "collect-autoruns.ps1",
         "--library", "collect-triage.ps1"],
        {"submit_rate": {"calls": 10, "per": "3s"}, "concurrent_sessions": 10,
         "offline_slots": 3, "queue_expiry": "20s", "runscript_timeout": "10s"})
    rc = 1
    try:
        demo_sweep.example_jobs(env)
        argv = [sys.executable, os.path.join(HERE, "page_test.py")]
        # The listener serves the page (by default) and /metrics (always).
        port = free_port()
        with open(env.config, "a") as f:
            f.write(f"metrics: {{listen: 127.0.0.1:{port}}}\n")
        if via_daemon:
            argv += ["--daemon", f"http://127.0.0.1:{port}"]
        else:
            status = [os.path.join(build, "daemon/lrsched"), "status", "--json", "-c", env.config]
            argv += ["--page-dump", os.path.join(build, "tests/lrsched_page_dump"),
                     "--status-command", " ".join(status)]
        env.start_daemon()
        env.wait_for("the first sessions",
                     lambda: (env.query("SELECT count(*) FROM sessions") or [[0]])[0][0] > 0, 120)
        keep = os.path.join(work, "page")
        rc = subprocess.run(argv + ["--keep", keep]).returncode
        if rc == 0 and not unfinished_run_seen(keep):
            print("FAIL the page saw no run in progress: the sweep ended before it was read")
            rc = 1
        if rc == 0:
            rc = check_metrics_and_secrets(env, build, port)
    finally:
        env.stop()
        if rc == 0:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"kept {work} (daemon.err, sim.err, the page's DOMs)")
    return rc


if __name__ == "__main__":
    sys.exit(main())
