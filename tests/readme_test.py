#!/usr/bin/env python3
"""Every shell command of README.md, run (issue 14): the README cannot drift.

Each ```sh block of the README must be preceded by a comment saying where it
runs, and this script runs it there or fails:

  <!-- run: service [before=HOOK] -->  in a throw-away Debian system booted
        under systemd (tests/systemd/container.py: an overlay copy of this
        machine's root, so the host is never changed), in README order, each
        block as one `bash -euo pipefail` from the repository's root, against
        an `lrsched-sim` tenant on the host's loopback. A block must exit 0.
  <!-- run: ci -->       commands .ci/run itself runs (`tests/run`, `tests/demo`):
        each must be a line of .ci/run.
  <!-- run: manual (WHY) -->  not run here, and listed as such at the end
        (the benchmark: 9 minutes).

Hooks do, before a block, what the README's prose asks the operator to do by
hand and no command shows: `edit-config` writes the simulated tenant's
values (tenant_id, client_id, api_base, login_base, its CA, compressed
limits) into the installed example configuration and deletes its
`client_secret_file` line, as the prose says; `operator-account` creates the
user `alice`; `wait-sweep` waits until the one-shot example job's run has
ended. The secret the README's `read` asks for is given on standard input.

Usage: readme_test.py BUILD_DIR [--list]   (BUILD_DIR: the release build,
<repo>/build/release, which the README's own commands name)
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "systemd"))
sys.path.insert(0, os.path.join(ROOT, "tests"))

CLIENT_ID = "11111111-1111-1111-1111-111111111111"
SECRET = "readme-test-secret"
ONE_SHOT = "ir-2291-triage"
# The simulator's limits compressed from minutes to seconds, as the demo's
# (tests/demo_sweep.py); its fleet is the demo's too (tests/demo_fleet.py),
# smaller: the hosts the example jobs name exist in it.
SIM_ARGS = ["--submit-calls", "10", "--submit-window", "3s", "--concurrent-sessions", "10",
            "--queue-expiry", "20s", "--runscript-duration", "1", "--getfile-duration", "1",
            "--putfile-duration", "0.5", "--read-calls", "100", "--read-window", "3s",
            "--read-calls-long", "1500", "--read-window-long", "1m",
            "--library", "autoruns.exe", "--library", "collect-autoruns.ps1",
            "--library", "collect-triage.ps1"]
FLEET_SIZE = 120
ANNOTATION = re.compile(r"^<!--\s*run:\s*(\w+)(.*?)-->\s*$")


def blocks(readme):
    """[(line, mode, params, code)] of every shell block; errors for blocks
    without an annotation."""
    lines = open(readme).read().split("\n")
    out, errors = [], []
    i = 0
    while i < len(lines):
        fence = re.match(r"^```(\w*)\s*$", lines[i])
        if not fence:
            i += 1
            continue
        start, lang = i, fence.group(1)
        j = i + 1
        while j < len(lines) and not lines[j].startswith("```"):
            j += 1
        if lang in ("sh", "bash", "shell", "console"):
            k = start - 1
            while k >= 0 and not lines[k].strip():
                k -= 1
            m = ANNOTATION.match(lines[k].strip()) if k >= 0 else None
            if not m:
                errors.append(f"README.md:{start + 1}: a shell block without a "
                              "`<!-- run: ... -->` comment before it")
            else:
                out.append((start + 1, m.group(1), m.group(2).strip(),
                            "\n".join(lines[start + 1:j])))
        i = j + 1
    return out, errors


def commands(code):
    """The command lines of a block, comments and blank lines left out."""
    return [line for line in code.split("\n") if line.strip() and not line.lstrip().startswith("#")]


def check_ci(line, code):
    ci = open(os.path.join(ROOT, ".ci", "run")).read()
    errors = []
    for cmd in commands(code):
        word = cmd.split()[0]
        if not re.search(r"^\s*" + re.escape(word) + r"\b", ci, re.M):
            errors.append(f"README.md:{line}: `{word}` is marked `run: ci` but .ci/run does not run it")
    return errors


def start_sim(build, workdir):
    """The simulated tenant, with the demo's fleet make-up (so the example
    jobs select machines) and limits compressed from minutes to seconds."""
    simdir = os.path.join(workdir, "sim")
    os.makedirs(simdir)
    from demo_fleet import fleet
    machines = os.path.join(workdir, "fleet.json")
    fleet_machines = fleet(FLEET_SIZE)
    for m in fleet_machines:
        # The example one-shot job retries a busy machine after 5 minutes, as
        # a real one would: here no machine is busy, so its run ends in seconds.
        m.pop("busy_until", None)
    with open(machines, "w") as f:
        json.dump(fleet_machines, f)
    argv = [os.path.join(build, "tests/sim/lrsched-sim"), "--port", "0", "--client-id",
            CLIENT_ID, "--client-secret", SECRET, "--state-dir", simdir, "--machines",
            str(FLEET_SIZE), "--machines-file", machines] + SIM_ARGS
    err = open(os.path.join(workdir, "sim.err"), "w")
    sim = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=err, text=True)
    line = sim.stdout.readline()
    if not line:
        raise RuntimeError("lrsched-sim did not start; see " + err.name)
    return sim, json.loads(line)


def set_key(text, key, value):
    """Replaces the value of the first `key:` line, keeping its indentation
    and comment: the operator's edit of the example configuration."""
    pattern = re.compile(r"^(\s*-?\s*" + re.escape(key) + r":\s*)([^#\n]*?)(\s*(#.*)?)$", re.M)
    new, n = pattern.subn(lambda m: m.group(1) + value + (m.group(3) or ""), text, count=1)
    if n != 1:
        raise RuntimeError(f"the example configuration has no `{key}:` line")
    return new


class Hooks:
    def __init__(self, box, sim):
        self.box, self.sim = box, sim

    def edit_config(self):
        path = "/etc/lrsched/lrsched.yaml"
        text = self.box.read(path)
        self.box.write("/etc/lrsched/sim-ca.pem", open(self.sim["ca_file"]).read(), mode=0o644)
        for key, value in [("tenant_id", self.sim["tenant"]), ("client_id", CLIENT_ID),
                           ("api_base", self.sim["base"]), ("login_base", self.sim["base"]),
                           ("ca_file", "/etc/lrsched/sim-ca.pem"),
                           ("submit_rate", "{calls: 10, per: 3s}"),
                           ("read_rate", "[{calls: 100, per: 3s}, {calls: 1500, per: 1m}]"),
                           ("concurrent_sessions", "10"), ("offline_slots", "3"),
                           ("queue_expiry", "20s"), ("runscript_timeout", "10s"),
                           ("poll_interval", "1s"), ("listing_lag", "2s")]:
            text = set_key(text, key, value)
        text, n = re.subn(r"^\s*client_secret_file:.*\n", "", text, count=1, flags=re.M)
        if n != 1:
            raise RuntimeError("the example configuration has no client_secret_file line")
        self.box.write(path, text, mode=0o640)
        self.box.run(["chgrp", "lrsched", path])

    def operator_account(self):
        self.box.run(["useradd", "--create-home", "alice"])

    def wait_sweep(self):
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            r = self.box.run(["lrsched", "status", ONE_SHOT, "--json"], check=False)
            if r.returncode == 0:
                run = json.loads(r.stdout)["jobs"][ONE_SHOT]["latest_run"]
                if run and run["finished_at"] and run.get("digest"):  # ended and closed
                    return
            time.sleep(1)
        raise RuntimeError(f"{ONE_SHOT}'s run did not end within 180 s")


def run_service_blocks(build, service, workdir):
    from container import Container
    sim, ready = start_sim(build, workdir)
    failures = []
    try:
        with Container() as box:
            hooks = Hooks(box, ready)
            for line, params, code in service:
                for hook in re.findall(r"before=([\w-]+)", params):
                    print(f"-- hook {hook}", flush=True)
                    getattr(hooks, hook.replace("-", "_"))()
                print(f"\n== README.md:{line}", flush=True)
                for cmd in commands(code):
                    print(f"$ {cmd}")
                started = time.monotonic()
                r = box.run(["env", "-C", ROOT, "bash", "-euo", "pipefail", "-c", code],
                           check=False, input=SECRET + "\n", timeout=600)
                out = (r.stdout + r.stderr).rstrip("\n").split("\n")
                shown = out if len(out) <= 40 else out[:20] + [f"... ({len(out) - 40} lines)"] + out[-20:]
                print("\n".join("  " + x for x in shown))
                print(f"-- exit {r.returncode} after {time.monotonic() - started:.1f} s", flush=True)
                if r.returncode != 0:
                    failures.append(f"README.md:{line}: the block exited {r.returncode}")
                    break  # the blocks build on each other
            if not failures:
                active = box.run(["systemctl", "is-active", "lrsched"], check=False)
                if active.stdout.strip() != "active":
                    failures.append("lrsched.service is not active after the README's commands")
    finally:
        sim.terminate()
        sim.wait(timeout=10)
    return failures


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    build = os.path.abspath(sys.argv[1])
    found, errors = blocks(os.path.join(ROOT, "README.md"))
    service, manual = [], []
    for line, mode, params, code in found:
        if mode == "ci":
            errors += check_ci(line, code)
        elif mode == "service":
            service.append((line, params, code))
        elif mode == "manual":
            manual.append((line, params, code))
        else:
            errors.append(f"README.md:{line}: unknown mode `{mode}`")
    if "--list" in sys.argv:
        for line, mode, params, code in found:
            print(f"README.md:{line}: {mode} {params}: {len(commands(code))} command(s)")
    if errors:
        print("\n".join(errors), file=sys.stderr)
        return 1
    if "--list" in sys.argv:
        return 0
    workdir = tempfile.mkdtemp(prefix="lrsched-readme-")
    started = time.monotonic()
    try:
        failures = run_service_blocks(build, service, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    n_service = sum(len(commands(c)) for _, _, c in service)
    n_ci = sum(len(commands(c)) for _, m, _, c in found if m == "ci")
    print(f"\nREADME commands: {n_service} run in a booted system, {n_ci} run by .ci/run, "
          f"{sum(len(commands(c)) for _, _, c in manual)} not run "
          f"({'; '.join(f'README.md:{ln} {p}' for ln, p, _ in manual) or 'none'}); "
          f"{time.monotonic() - started:.0f} s")
    if failures:
        print("\n".join(failures), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
