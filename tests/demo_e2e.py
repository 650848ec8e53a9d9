#!/usr/bin/python3
"""What tests/demo promises, checked without its minute-long sweep:

1. every example job of jobs/ selects machines of the demo's fleet and names
   none it lacks (`lrsched plan` against lrsched-sim on demo_fleet.py), so
   each of them does something in the demo;
2. the demo stops everything it started when interrupted: demo_sweep.py is
   sent SIGINT, then (another run) SIGTERM, once its status page answers;
   it must exit 128+signal, and leave no lrsched or lrsched-sim process of
   its work folder and no listener on the page's port.

Usage: demo_e2e.py BUILD_DIR (CTest: demo_e2e). About 15 s; every wait bounded.
"""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from demo_env import Demo  # noqa: E402
from demo_fleet import fleet  # noqa: E402
import demo_sweep  # noqa: E402

failures = []


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what, flush=True)
    if not ok:
        failures.append(what)


def example_jobs_select_machines(build, workdir):
    demo = Demo(workdir, build)
    try:
        machines = fleet(500)
        path = os.path.join(workdir, "fleet.json")
        with open(path, "w") as f:
            json.dump(machines, f)
        demo.start_sim(path, len(machines), demo_sweep.SIM_ARGS)
        demo.write_config(demo_sweep.LIMITS, None)
        jobs = demo.add_example_jobs()
        check(len(jobs) >= 2, f"jobs/ has example jobs ({', '.join(jobs)})")
        for job in jobs:
            r = demo.lrsched("plan", job, "-c", demo.config, timeout=60)
            m = re.search(r"^job \S+ \(tenant \S+\): (\d+) machine\(s\) of (\d+)", r.stdout, re.M)
            n = int(m.group(1)) if m else 0
            check(r.returncode == 0 and n > 0,
                  f"{job}: lrsched plan selects {n} machine(s) of the demo fleet")
            unknown = re.findall(r"^unknown (?:machine id|host name): .*$", r.stdout, re.M)
            check(not unknown, f"{job}: names nothing the fleet lacks {unknown}")
    finally:
        demo.stop()


def processes_of(workdir, but=()):
    """Live processes whose command line mentions `workdir`, but those of `but`."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) in (os.getpid(),) + tuple(but):
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
            with open(f"/proc/{pid}/stat") as f:
                zombie = f.read().rsplit(")", 1)[1].split()[0] == "Z"
        except OSError:
            continue
        if workdir in cmd and not zombie:
            found.append(f"{pid}: {cmd[:120]}")
    return found


def listening(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            return True
    except OSError:
        return False


def stops_on(signum, build, workdir):
    name = signal.Signals(signum).name
    p = subprocess.Popen(["/usr/bin/python3", os.path.join(HERE, "demo_sweep.py"), build, workdir],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    page, out = None, []
    try:
        for line in p.stdout:  # ends at EOF if the demo dies early
            out.append(line)
            m = re.search(r"status page while it runs: (http://127\.0\.0\.1:(\d+)/)", line)
            if m:
                page, port = m.group(1), int(m.group(2))
                break
        check(page is not None, f"{name}: the demo prints its status page's address")
        if page is None:
            return
        deadline, up = time.monotonic() + 30, False
        while not up and time.monotonic() < deadline and p.poll() is None:
            try:
                with urllib.request.urlopen(page, timeout=2) as r:
                    up = r.status == 200
            except OSError:
                time.sleep(0.2)
        check(up, f"{name}: the page at {page} answers while the demo runs")
        running = [x for x in processes_of(workdir, but=(p.pid,))
                   if "lrsched daemon " in x or "lrsched-sim " in x]  # not a passing `status`
        check(len(running) == 2, f"{name}: the daemon and the simulator run ({len(running)})")
        p.send_signal(signum)
        try:
            rest, _ = p.communicate(timeout=40)
            out.append(rest)
        except subprocess.TimeoutExpired:
            check(False, f"{name}: the demo exits within 40 s")
            return
        check(p.returncode == 128 + signum,
              f"{name}: the demo exits {128 + signum} (got {p.returncode})")
        left = processes_of(workdir)
        check(not left, f"{name}: no process of the demo is left {left}")
        check(not listening(port), f"{name}: nothing listens on {port} any more")
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        for pid in processes_of(workdir):  # only what this test's demo started
            os.kill(int(pid.split(":")[0]), signal.SIGKILL)
        if failures:
            print("".join(out)[-3000:])


def main():
    build = sys.argv[1]
    for tool in ("daemon/lrsched", "tests/sim/lrsched-sim"):
        if not os.access(os.path.join(build, tool), os.X_OK):
            print(f"demo_e2e: {os.path.join(build, tool)} is not built")
            return 1
    top = tempfile.mkdtemp(prefix="lrsched-demo-e2e-")
    try:
        example_jobs_select_machines(build, os.path.join(top, "plan"))
        stops_on(signal.SIGINT, build, os.path.join(top, "int"))
        stops_on(signal.SIGTERM, build, os.path.join(top, "term"))
    finally:
        shutil.rmtree(top, ignore_errors=True)
    print(f"demo_e2e: {len(failures)} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
