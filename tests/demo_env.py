"""The demo's processes: lrsched-sim on the demo fleet, the real daemon on the
example jobs, and the stopping of both whatever happens.

Each child is started in a session of its own (a Ctrl-C at the terminal
reaches only the demo, which then stops the daemon before the simulator it
talks to) and with PR_SET_PDEATHSIG, so that even a demo killed with SIGKILL
leaves no process behind. Every wait is bounded. Standard library only.
"""

import ctypes
import json
import os
import re
import signal
import socket
import ssl
import subprocess
import time
import urllib.request

CLIENT_ID = "11111111-1111-1111-1111-111111111111"
SECRET = "demo-secret"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_PR_SET_PDEATHSIG = 1


def _die_with_parent():
    # Runs in the child between fork and exec.
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


def free_port():
    """A free 127.0.0.1 port (the kernel's pick; free again once closed)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def compressed(text):
    """A job file made to run now and at the demo's pace: its `schedule:`
    block removed (a job without one runs once, when first loaded) and a
    busy machine tried again after 3 s instead of minutes."""
    text = re.sub(r"\nschedule:\n(  .*\n)+", "\n", text)
    return re.sub(r"(\n  busy_every: )\S+", r"\g<1>3s", text)


def copy_example_jobs(jobs_dir):
    """Every job of jobs/ into `jobs_dir`, compressed(), and their target
    lists; returns the jobs' names."""
    src = os.path.join(ROOT, "jobs")
    names = []
    for f in sorted(os.listdir(src)):
        if f.endswith(".yaml"):
            with open(os.path.join(src, f)) as i, open(os.path.join(jobs_dir, f), "w") as o:
                o.write(compressed(i.read()))
            names.append(f[:-5])
    os.makedirs(os.path.join(jobs_dir, "targets"), exist_ok=True)
    for f in os.listdir(os.path.join(src, "targets")):
        with open(os.path.join(src, "targets", f)) as i, \
                open(os.path.join(jobs_dir, "targets", f), "w") as o:
            o.write(i.read())
    return names


class Demo:
    def __init__(self, workdir, build):
        self.workdir, self.build = workdir, build
        self.procs = []  # (name, Popen), in start order
        self.jobs_dir = os.path.join(workdir, "jobs")
        self.state_dir = os.path.join(workdir, "state")
        self.config = os.path.join(workdir, "lrsched.yaml")
        os.makedirs(self.jobs_dir, exist_ok=True)

    def _start(self, name, argv, **kw):
        p = subprocess.Popen(argv, start_new_session=True, preexec_fn=_die_with_parent, **kw)
        self.procs.append((name, p))
        return p

    def start_sim(self, machines_file, n, sim_args):
        self.sim_err = open(os.path.join(self.workdir, "sim.err"), "w")
        argv = [os.path.join(self.build, "tests/sim/lrsched-sim"), "--machines", str(n),
                "--seed", "2291", "--port", "0", "--client-id", CLIENT_ID,
                "--client-secret", SECRET, "--state-dir", os.path.join(self.workdir, "sim"),
                "--machines-file", machines_file] + sim_args
        os.makedirs(os.path.join(self.workdir, "sim"), exist_ok=True)
        self.sim = self._start("lrsched-sim", argv, stdout=subprocess.PIPE,
                               stderr=self.sim_err, text=True)
        line = self.sim.stdout.readline()  # the ready line, or EOF if it failed
        if not line:
            raise RuntimeError("lrsched-sim did not start; see " + self.sim_err.name)
        self.ready = json.loads(line)
        self.ctx = ssl.create_default_context(cafile=self.ready["ca_file"])

    def write_config(self, limits, metrics_port):
        """The daemon's configuration; metrics_port None: no page."""
        metrics = f'metrics: {{listen: "127.0.0.1:{metrics_port}"}}\n' if metrics_port else ""
        secret = os.path.join(self.workdir, "tenant.secret")
        with open(secret, "w") as f:
            f.write(SECRET + "\n")
        os.chmod(secret, 0o600)
        with open(self.config, "w") as f:
            f.write(f"""# Written by tests/demo: the tenant is lrsched-sim's.
state_dir: {self.state_dir}
jobs_dir: {self.jobs_dir}
log: {{level: info}}
control: {{socket: {os.path.join(self.workdir, "control.sock")}}}
{metrics}tenants:
  - name: contoso
    tenant_id: {self.ready["tenant"]}
    client_id: {CLIENT_ID}
    client_secret_file: {secret}
    api_base: {self.ready["base"]}
    login_base: {self.ready["base"]}
    ca_file: {self.ready["ca_file"]}
    limits: {json.dumps(limits)}
    poll_interval: 1s
    listing_lag: 2s
""")

    def add_example_jobs(self):
        return copy_example_jobs(self.jobs_dir)

    def start_daemon(self):
        self.daemon_err = open(os.path.join(self.workdir, "daemon.err"), "a")
        self.daemon = self._start(
            "lrsched", [os.path.join(self.build, "daemon/lrsched"), "daemon", "-c", self.config],
            stdout=subprocess.DEVNULL, stderr=self.daemon_err)

    def wait_http(self, url, timeout):
        """Until `url` answers 200 (the daemon's page once it listens)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.daemon.poll() is not None:
                raise RuntimeError(f"the daemon exited ({self.daemon.returncode}); "
                                   f"see {self.daemon_err.name}")
            try:
                with urllib.request.urlopen(url, timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"no answer from {url} within {timeout} s")

    def lrsched(self, *args, timeout=20):
        return subprocess.run([os.path.join(self.build, "daemon/lrsched")] + list(args),
                              capture_output=True, text=True, timeout=timeout)

    def status_json(self):
        r = self.lrsched("status", "--json", "-c", self.config)
        try:
            return json.loads(r.stdout)
        except ValueError:
            return None

    def sim_stats(self):
        with urllib.request.urlopen(self.ready["stats"], context=self.ctx, timeout=10) as r:
            return json.load(r)

    def stop(self):
        """Stops what was started, the daemon first; SIGKILL after 15 s.
        Returns each one's exit status (negative: the signal that ended it)."""
        codes = {}
        for name, p in reversed(self.procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    print(f"demo: {name} ignored SIGTERM for 15 s; killing it")
                    p.kill()
                    p.wait(timeout=5)
            codes[name] = p.returncode
        self.procs = []
        return codes
