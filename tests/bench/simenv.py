"""A simulated tenant and a real daemon, for the benchmark and the demo.

Starts `lrsched-sim` (its ready line gives the base URL and the test CA),
writes a daemon configuration pointing at it, starts `lrsched daemon`, and
reads what happened from the simulator's stats and the daemon's SQLite
store (read-only, as a WAL reader). Standard library only.
"""

import json
import os
import signal
import sqlite3
import ssl
import subprocess
import time
import urllib.request

CLIENT_ID = "11111111-1111-1111-1111-111111111111"
SECRET = "bench-secret"


class SimTenant:
    def __init__(self, workdir, build, sim_args, limits, poll_interval="1s",
                 listing_lag="2s", name="sim"):
        self.workdir = workdir
        self.build = build
        self.name = name
        os.makedirs(workdir, exist_ok=True)
        simdir = os.path.join(workdir, "sim")
        os.makedirs(simdir, exist_ok=True)
        argv = [os.path.join(build, "tests/sim/lrsched-sim"), "--port", "0",
                "--client-id", CLIENT_ID, "--client-secret", SECRET,
                "--state-dir", simdir] + sim_args
        self.sim_err = open(os.path.join(workdir, "sim.err"), "w")
        self.sim = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=self.sim_err, text=True)
        line = self.sim.stdout.readline()
        if not line:
            raise RuntimeError("lrsched-sim did not start; see " + self.sim_err.name)
        self.ready = json.loads(line)
        self.ctx = ssl.create_default_context(cafile=self.ready["ca_file"])
        self.jobs_dir = os.path.join(workdir, "jobs")
        self.state_dir = os.path.join(workdir, "state")
        os.makedirs(self.jobs_dir, exist_ok=True)
        secret = os.path.join(workdir, "tenant.secret")
        with open(secret, "w") as f:
            f.write(SECRET + "\n")
        os.chmod(secret, 0o600)
        self.config = os.path.join(workdir, "lrsched.yaml")
        with open(self.config, "w") as f:
            f.write(f"""state_dir: {self.state_dir}
jobs_dir: {self.jobs_dir}
log: {{level: info}}
control: {{socket: {os.path.join(workdir, "control.sock")}}}
tenants:
  - name: {name}
    tenant_id: {self.ready["tenant"]}
    client_id: {CLIENT_ID}
    client_secret_file: {secret}
    api_base: {self.ready["base"]}
    login_base: {self.ready["base"]}
    ca_file: {self.ready["ca_file"]}
    limits: {json.dumps(limits)}
    poll_interval: {poll_interval}
    listing_lag: {listing_lag}
""")
        self.daemon = None

    def add_job(self, name, text):
        with open(os.path.join(self.jobs_dir, name + ".yaml"), "w") as f:
            f.write(text)

    def start_daemon(self):
        self.daemon_err = open(os.path.join(self.workdir, "daemon.err"), "a")
        self.daemon = subprocess.Popen(
            [os.path.join(self.build, "daemon/lrsched"), "daemon", "-c", self.config],
            stdout=subprocess.DEVNULL, stderr=self.daemon_err)

    def stats(self):
        with urllib.request.urlopen(self.ready["stats"], context=self.ctx, timeout=10) as r:
            return json.load(r)

    def db(self):
        path = os.path.join(self.state_dir, "lrsched.db")
        return sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)

    def query(self, sql, args=()):
        try:
            con = self.db()
        except sqlite3.OperationalError:
            return []
        try:
            return con.execute(sql, args).fetchall()
        except sqlite3.OperationalError:
            return []  # the daemon has not created its tables yet
        finally:
            con.close()

    def wait_for(self, what, predicate, timeout, every=0.2):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            if self.daemon is not None and self.daemon.poll() is not None:
                raise RuntimeError(f"the daemon exited ({self.daemon.returncode}) "
                                   f"waiting for {what}")
            time.sleep(every)
        raise RuntimeError(f"timed out waiting for {what}")

    def run_finished(self, run_id=1):
        rows = self.query("SELECT finished_at FROM runs WHERE id = ?", (run_id,))
        return bool(rows) and rows[0][0] is not None

    def counts(self, run_id=1):
        return dict(self.query("SELECT state, count(*) FROM sessions WHERE run_id = ? "
                               "GROUP BY state", (run_id,)))

    def daemon_usage(self):
        """(peak RSS in MB, CPU seconds) of the running daemon, from /proc."""
        pid = self.daemon.pid
        with open(f"/proc/{pid}/status") as f:
            hwm = next(int(l.split()[1]) for l in f if l.startswith("VmHWM:"))
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        ticks = os.sysconf("SC_CLK_TCK")
        cpu = (int(fields[11]) + int(fields[12])) / ticks
        return hwm / 1024.0, cpu

    def stop_daemon(self):
        if self.daemon is not None and self.daemon.poll() is None:
            self.daemon.send_signal(signal.SIGTERM)
            self.daemon.wait(timeout=10)
        self.daemon = None

    def stop(self):
        if self.daemon is not None and self.daemon.poll() is None:
            self.daemon.send_signal(signal.SIGTERM)
            self.daemon.wait(timeout=10)
        if self.sim.poll() is None:
            self.sim.send_signal(signal.SIGTERM)
            self.sim.wait(timeout=10)
