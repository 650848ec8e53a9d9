#!/usr/bin/python3
"""The daemon under its systemd unit, for real (issue 14 item 2): boots a
throw-away systemd machine (container.py), installs lrsched there as an
operator would, gives it a tenant that is an `lrsched-sim` on the host's
loopback, its secret as an encrypted credential (systemd-creds, found in
/etc/credstore.encrypted by LoadCredentialEncrypted=; the configuration names
no secret file) and two job files, starts the service and checks what the
unit promises: READY=1, user lrsched without capabilities, NoNewPrivs, a
seccomp filter, the mount sandbox, the control socket, WATCHDOG=1 pings, the
sweep done, evidence and manifests that `lrsched verify` accepts, UMask,
reload (SIGHUP), a clean stop within 5 s, the daemon's lines in the journal
and no secret in it. Prints its figures; exit 0 only if every check passes.
About 12 s on the CI machine after the build (a failing run: up to ~80 s).
Drop-ins it adds: the credential, and WatchdogSec=6s (see configure()).

Usage: sandbox_sweep.py BUILD_DIR [--deb FILE] [--break [LINES]] [--keep DIR]
  --deb FILE  install that package (apt-get install ./FILE) instead of
              `cmake --install BUILD_DIR --prefix /usr` plus the unit and
              sysusers file of this tree; BUILD_DIR still gives lrsched-sim.
  --break [LINES]  add a drop-in that must make the sweep FAIL (shows the
              test catches a breaking restriction); LINES are ';'-separated
              directives, by default "RestrictAddressFamilies=;
              RestrictAddressFamilies=AF_UNIX" (exit 0 when something failed).
  --keep DIR  copy the journal and the simulator's log there at the end.

Faithfulness: the unit runs under the host's systemd 252 as PID 1, with its
namespaces, seccomp filter, capability sets, NoNewPrivileges, ProtectSystem,
credentials, the BPF firewall (IPAddressDeny=, probed: it does block here)
and the BPF device policy applied for real on a cgroup2 hierarchy. Not the same as a booted Debian: the host
is a hybrid-cgroup VM, so the container's cgroup2 has no controllers (any
CPUQuota=/MemoryMax= would be ignored; the unit sets none); the network
namespace is the host's (the simulator is on 127.0.0.1, so IPAddressDeny's
link-local/multicast denial is applied but not exercised against a real
remote host); and the boot target is basic.target with host units masked.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "bench"))
from container import Container  # noqa: E402
from simenv import CLIENT_ID, SECRET, SimTenant  # noqa: E402

CONFIG = "/etc/lrsched/lrsched.yaml"
STATE = "/var/lib/lrsched"
JOBS = {
    "sandbox-getfile": """description: the event log of every Windows server
targets:
  tags: [server]
  os: [WindowsServer2019, WindowsServer2022]
commands:
  - GetFile: 'C:\\Windows\\System32\\winevt\\Logs\\Security.evtx'
comment: sandbox sweep getfile
""",
    "sandbox-script": """description: a library script on every Windows server, then its output
targets:
  tags: [server]
  os: [WindowsServer2019, WindowsServer2022]
commands:
  - RunScript: collect-triage.ps1
  - GetFile: 'C:\\Windows\\Temp\\triage.zip'
comment: sandbox sweep script
""",
}
# Refused (an unknown key): never runs; the daemon logs an error, whose
# priority the journal must have as an error.
REFUSED_JOB = ("sandbox-refused", """targets:
  tags: [server]
commands:
  - GetFile: 'C:\\x'
colour: blue
""")


class Checks:
    def __init__(self):
        self.failed = []

    def check(self, what, ok, detail=""):
        print(f"  [{'ok' if ok else 'FAIL'}] {what}" + (f": {detail}" if detail else ""),
              flush=True)
        if not ok:
            self.failed.append(what)
        return ok


def config_text(ready):
    return f"""# written by tests/systemd/sandbox_sweep.py
state_dir: {STATE}
jobs_dir: /etc/lrsched/jobs
log: {{level: info}}
tenants:
  - name: sim
    tenant_id: {ready["tenant"]}
    client_id: {CLIENT_ID}
    api_base: {ready["base"]}
    login_base: {ready["base"]}
    ca_file: /etc/lrsched/sim-ca.pem
    limits:
      submit_rate: {{calls: 10, per: 3s}}
      read_rate: [{{calls: 100, per: 3s}}, {{calls: 1500, per: 1m}}]
      concurrent_sessions: 10
      queue_expiry: 20s
      runscript_timeout: 10s
    poll_interval: 1s
    listing_lag: 2s
"""


def install(c, build, deb):
    if deb:
        c.copy_in(deb, "/tmp/" + os.path.basename(deb), 0o644)
        c.run(["apt-get", "install", "-y", "--no-install-recommends",
               "/tmp/" + os.path.basename(deb)], timeout=120)
    else:
        c.run(["cmake", "--install", build, "--prefix", "/usr"], timeout=60)
        if not os.path.exists(c.path("/usr/bin/lrsched")):
            c.copy_in(os.path.join(build, "daemon/lrsched"), "/usr/bin/lrsched", 0o755)
        # this tree's unit and user, whatever the build's install rules did
        c.copy_in(os.path.join(ROOT, "systemd/lrsched.service"),
                  "/usr/lib/systemd/system/lrsched.service", 0o644)
        c.copy_in(os.path.join(ROOT, "systemd/lrsched.sysusers"),
                  "/usr/lib/sysusers.d/lrsched.conf", 0o644)
        c.run(["systemd-sysusers", "/usr/lib/sysusers.d/lrsched.conf"])


def configure(c, env, broken):
    c.run(["install", "-d", "-m", "0750", "-g", "lrsched", "/etc/lrsched", "/etc/lrsched/jobs"])
    c.copy_in(env.ready["ca_file"], "/etc/lrsched/sim-ca.pem", 0o644)
    c.write(CONFIG, config_text(env.ready), 0o640)
    for name, text in list(JOBS.items()) + [REFUSED_JOB]:
        c.write(f"/etc/lrsched/jobs/{name}.yaml", text, 0o640)
    c.run(["chgrp", "-R", "lrsched", "/etc/lrsched"])
    # The secret as an operator would give it: encrypted with the machine's
    # credential key, loaded by name from /etc/credstore.encrypted.
    c.run(["install", "-d", "-m", "0700", "/etc/credstore.encrypted"])
    c.run(["systemd-creds", "encrypt", "--name=sim.secret", "-", "/etc/credstore.encrypted/sim.secret"],
          input=SECRET)
    dropins = "/etc/systemd/system/lrsched.service.d/"
    c.write(dropins + "credentials.conf", "[Service]\nLoadCredentialEncrypted=sim.secret\n")
    # The shipped 5 min would see no ping in a 10 s sweep: 6 s has the daemon
    # ping every 3 s, and systemd kill it if the pings do not get through.
    c.write(dropins + "watchdog.conf", "[Service]\nWatchdogSec=6s\n")
    if broken:
        c.write(dropins + "break.conf", "[Service]\n" + broken.replace(";", "\n") + "\n")
    c.run(["systemctl", "daemon-reload"])


def status_fields(text):
    fields = {}
    for line in text.splitlines():
        k, _, v = line.partition(":")
        fields[k] = v.strip()
    return fields


def query(c, sql):
    """Rows of the daemon's store, read inside the container (a read-only
    WAL reader as root); [] until the daemon has made its tables."""
    code = ("import json, sqlite3, sys\n"
            "try:\n"
            "    con = sqlite3.connect('file:%s/lrsched.db?mode=ro', uri=True, timeout=5)\n"
            "    print(json.dumps(con.execute(sys.argv[1]).fetchall()))\n"
            "except sqlite3.OperationalError:\n"
            "    print('[]')\n" % STATE)
    r = c.run(["/usr/bin/python3", "-c", code, sql], check=False, timeout=20)
    return [tuple(row) for row in json.loads(r.stdout)] if r.returncode == 0 else []


def firewall_applies(c, env, t):
    """IPAddressDeny= needs BPF on cgroup2: shown to work in this container by
    a transient unit that must fail to reach the simulator with it, and
    reach it without."""
    port = env.ready["base"].rsplit(":", 1)[1].strip("/")
    code = ("import socket; socket.create_connection(('127.0.0.1', %s), timeout=1)" % port)
    ok = []
    for prop in ("IPAddressDeny=", "IPAddressDeny=any"):
        r = c.run(["systemd-run", "--wait", "--quiet", "-p", prop, "/usr/bin/python3", "-c", code],
                  check=False, timeout=30)
        ok.append(r.returncode == 0)
    t.check("the BPF firewall applies here (IPAddressDeny=any blocks the simulator)",
            ok == [True, False], f"connects without it: {ok[0]}, with it: {ok[1]}")


def watchdog_ping(c):
    """systemd's time of the last WATCHDOG=1 (or of READY=1 before any)."""
    return c.run(["systemctl", "show", "-p", "WatchdogTimestampMonotonic", "--value",
                  "lrsched"]).stdout.strip()


def sweep(c, env, t, broken):
    firewall_applies(c, env, t)
    t0 = time.monotonic()
    try:  # a daemon that never says READY=1 keeps `systemctl start` waiting
        r = c.run(["systemctl", "start", "lrsched"], check=False, timeout=20)
    except subprocess.TimeoutExpired:
        r = subprocess.CompletedProcess([], 1, "", "no READY=1 within 20 s")
    started = time.monotonic() - t0
    active = c.run(["systemctl", "is-active", "lrsched"], check=False).stdout.strip()
    if not t.check("systemctl start: active (READY=1)", r.returncode == 0 and active == "active",
                   f"{active} after {started:.1f} s" + (f"; {r.stderr.strip()}" if r.returncode else "")):
        return
    pid = int(c.run(["systemctl", "show", "-p", "MainPID", "--value", "lrsched"]).stdout)
    watchdog0 = watchdog_ping(c)
    st = status_fields(c.run(["cat", f"/proc/{pid}/status"]).stdout)
    uid = c.run(["id", "-u", "lrsched"]).stdout.strip()
    t.check("runs as user lrsched", st["Uid"].split() == [uid] * 4, f"Uid {st['Uid']}")
    caps = {k: st[k] for k in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb")}
    t.check("no capabilities", all(int(v, 16) == 0 for v in caps.values()),
            " ".join(f"{k} {v}" for k, v in caps.items()))
    t.check("NoNewPrivs 1", st.get("NoNewPrivs") == "1", st.get("NoNewPrivs", "?"))
    t.check("Seccomp 2 (filter)", st.get("Seccomp") == "2", st.get("Seccomp", "?"))

    # The mount sandbox as the daemon sees it: / read-only (ProtectSystem=strict)
    # but its state directory, /home covered (ProtectHome), a /tmp of its own
    # (PrivateTmp: systemd-private-*), /dev a read-only one (PrivateDevices).
    mounts = {}
    for line in c.read(f"/proc/{pid}/mountinfo").splitlines():
        f = line.split()
        mounts[f[4]] = (set(f[5].split(",")) & {"ro", "rw"}, f[3])
    want = {"/": "ro", STATE: "rw", "/home": "ro", "/tmp": "rw", "/dev": "ro"}
    ok = all(p in mounts and flag in mounts[p][0] for p, flag in want.items())
    ok = ok and "systemd-private-" in mounts["/tmp"][1]
    t.check("the daemon's mounts: ProtectSystem, ProtectHome, PrivateTmp, PrivateDevices", ok,
            ", ".join(f"{p} {','.join(mounts[p][0])}" if p in mounts else f"{p} absent"
                      for p in want) + (f" (from {mounts['/tmp'][1]})" if "/tmp" in mounts else ""))

    r = c.run(["lrsched", "status", "-c", CONFIG], check=False, timeout=30)
    t.check("lrsched status as root through /run/lrsched/control.sock", r.returncode == 0,
            f"exit {r.returncode}, {len(r.stdout.splitlines())} lines" +
            (f"; {r.stderr.strip()}" if r.returncode else ""))

    deadline = time.monotonic() + 75
    done = False
    while time.monotonic() < deadline:
        # Ended and closed (results.jsonl listed); the refused job has none.
        runs = query(c, "SELECT count(*), count(closed_at) FROM runs")
        if runs and runs[0][0] == len(JOBS) and runs[0][1] == len(JOBS):
            done = True
            break
        if c.run(["systemctl", "is-active", "lrsched"], check=False).stdout.strip() != "active":
            break
        time.sleep(0.5)
    counts = dict(query(c, "SELECT state, count(*) FROM sessions GROUP BY state"))
    total = sum(counts.values())
    t.check("the sweep ends with every session done",
            done and total > 0 and counts.get("done") == total,
            f"{len(JOBS)} jobs, sessions {counts or 'none'}, "
            f"{time.monotonic() - t0:.1f} s after start" + ("" if done else " (not finished)"))

    verified = 0
    for job in JOBS:
        rows = query(c, "SELECT r.id FROM runs r JOIN jobs j ON j.id = r.job_id "
                        f"WHERE j.name = '{job}'")
        folder = f"{STATE}/evidence/{job}/{rows[0][0] if rows else 1}"
        manifest = os.path.exists(c.path(folder + "/manifest.jsonl"))
        r = c.run(["lrsched", "verify", folder], check=False)
        ok = manifest and r.returncode == 0 and " 0 missing, 0 altered, 0 extra, 0 manifest" in r.stdout
        t.check(f"evidence of {job} verified", ok, r.stdout.strip() or r.stderr.strip())
        verified += ok

    deadline = time.monotonic() + 10
    while watchdog_ping(c) == watchdog0 and time.monotonic() < deadline:
        time.sleep(0.5)
    t.check("WATCHDOG=1 pings reach systemd (WatchdogSec=6s drop-in)",
            watchdog_ping(c) != watchdog0, f"last ping at {watchdog_ping(c)} us, "
            f"{watchdog0} us at READY")

    r = c.run(["find", STATE, "/run/lrsched", "-perm", "/o=rwx"], check=False)
    t.check("nothing in the state or runtime directory is open to others (UMask=0027)",
            r.returncode == 0 and not r.stdout.strip(), r.stdout.strip()[:200] or "none")

    # The daemon logs its SIGHUP; the journal may take a moment to have it.
    r = c.run(["systemctl", "reload", "lrsched"], check=False, timeout=30)
    active = c.run(["systemctl", "is-active", "lrsched"], check=False).stdout.strip()
    seen = False
    deadline = time.monotonic() + 10
    while r.returncode == 0 and not seen and time.monotonic() < deadline:
        seen = "SIGHUP" in c.run(["journalctl", "-u", "lrsched", "--no-pager", "-o", "cat"],
                                 check=False).stdout
        if not seen:
            time.sleep(0.2)
    newpid = c.run(["systemctl", "show", "-p", "MainPID", "--value", "lrsched"]).stdout.strip()
    t.check("systemctl reload: the daemon re-reads its jobs (SIGHUP), same process",
            r.returncode == 0 and active == "active" and seen and newpid == str(pid),
            f"{active}, SIGHUP in the journal: {seen}, main PID {pid} -> {newpid}")

    t1 = time.monotonic()
    r = c.run(["systemctl", "stop", "lrsched"], check=False, timeout=40)
    stopped = time.monotonic() - t1
    show = dict(l.partition("=")[::2] for l in c.run(
        ["systemctl", "show", "-p", "Result", "-p", "ExecMainStatus", "lrsched"]).stdout.splitlines())
    t.check("systemctl stop: clean, within 5 s",
            r.returncode == 0 and stopped < 5 and show.get("Result") == "success",
            f"{stopped:.2f} s, Result {show.get('Result')}, exit status {show.get('ExecMainStatus')}")

    journal = c.run(["journalctl", "-u", "lrsched", "--no-pager", "-o", "cat"]).stdout
    daemon_lines = [l for l in journal.splitlines() if l and not l.startswith(
        ("Starting ", "Started ", "Stopping ", "Stopped ", "Reloading ", "Reloaded ",
         "lrsched.service:"))]
    t.check("the journal has the daemon's lines (journalctl -u lrsched)", len(daemon_lines) > 0,
            f"{len(daemon_lines)} lines, e.g. {daemon_lines[0][:100]!r}" if daemon_lines else "none")
    # Each line's priority as journald stored it (sd-daemon's <N> prefix):
    # the level word of the line, and the prefix itself taken off.
    priority = {"trace": "7", "debug": "7", "info": "6", "warning": "4", "error": "3",
                "critical": "2"}
    records = [json.loads(l) for l in c.run(
        ["journalctl", "-u", "lrsched", "--no-pager", "-o", "json"]).stdout.splitlines() if l]
    ours = [(r.get("MESSAGE", ""), r.get("PRIORITY")) for r in records
            if r.get("SYSLOG_IDENTIFIER") == "lrsched" and isinstance(r.get("MESSAGE"), str)]
    wrong = [(m[:80], p) for m, p in ours
             if len(m.split()) < 2 or priority.get(m.split()[1]) != p]
    errors = sum(1 for m, p in ours if p == "3")
    t.check("the journal stores each line's priority (journalctl -p warning finds errors)",
            ours and not wrong and errors > 0,
            f"{len(ours)} lines, {errors} at priority 3 (err); wrong: {wrong[:2]}")
    full = c.run(["journalctl", "--no-pager", "-o", "cat"], check=False).stdout
    t.check("the secret is nowhere in the journal", SECRET not in full,
            f"{len(full.splitlines())} lines searched")
    if t.failed and not broken:
        print("--- journalctl -u lrsched (last 30 lines)")
        print("\n".join(journal.splitlines()[-30:]))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("build")
    ap.add_argument("--deb")
    # An empty assignment first: these lists add up across drop-ins otherwise.
    ap.add_argument("--break", dest="broken", nargs="?",
                    const="RestrictAddressFamilies=;RestrictAddressFamilies=AF_UNIX")
    ap.add_argument("--keep")
    args = ap.parse_args()
    build = os.path.abspath(args.build)
    if build == "/tmp" or build.startswith("/tmp/"):
        ap.error("BUILD_DIR under /tmp is not visible in the container (its /tmp is its own)")
    t = Checks()
    t_start = time.monotonic()
    work = tempfile.mkdtemp(prefix="sandbox-sweep-")
    env = None
    try:
        env = SimTenant(
            work, build,
            ["--machines", "80", "--seed", "14", "--submit-calls", "10", "--submit-window", "3s",
             "--concurrent-sessions", "10", "--runscript-duration", "0.5", "--getfile-duration",
             "0.5", "--offline-fraction", "0", "--never-online-fraction", "0",
             "--busy-fraction", "0", "--read-calls", "100", "--read-window", "3s",
             "--read-calls-long", "1500", "--read-window-long", "1m",
             "--library", "collect-triage.ps1"], {})
        print(f"simulator on the host at {env.ready['base']}", flush=True)
        with Container() as c:
            print(f"container up in {time.monotonic() - t_start:.1f} s ({c.state})", flush=True)
            install(c, build, args.deb)
            configure(c, env, args.broken)
            print("installed" + (f" {args.deb}" if args.deb else f" from {build}") +
                  (f", with the breaking drop-in {args.broken!r}" if args.broken else ""),
                  flush=True)
            try:
                sweep(c, env, t, args.broken)
            finally:
                if args.keep:
                    os.makedirs(args.keep, exist_ok=True)
                    with open(os.path.join(args.keep, "journal.txt"), "w") as f:
                        f.write(c.run(["journalctl", "--no-pager"], check=False).stdout)
                    shutil.copy(os.path.join(work, "sim.err"), args.keep)
    except Exception as e:  # noqa: BLE001  (any error is a failed check, reported)
        t.check("no error", False, f"{type(e).__name__}: {e}")
    except KeyboardInterrupt:
        print("sandbox sweep: interrupted; the container and the simulator are stopped")
        return 130
    finally:
        if env is not None:
            env.stop()
        shutil.rmtree(work, ignore_errors=True)
    took = time.monotonic() - t_start
    if args.broken:
        print(f"sandbox sweep with --break: {len(t.failed)} check(s) failed, as they must "
              f"({took:.1f} s)" if t.failed else f"sandbox sweep with --break: nothing failed ({took:.1f} s)")
        return 0 if t.failed else 1
    print(f"sandbox sweep: {'PASS' if not t.failed else 'FAIL: ' + ', '.join(t.failed)} "
          f"({took:.1f} s in all)")
    return 0 if not t.failed else 1


if __name__ == "__main__":
    sys.exit(main())
