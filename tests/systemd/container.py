"""A throw-away systemd machine for tests: a real systemd as PID 1 of new
mount, pid, cgroup, UTS and IPC namespaces, on an overlay copy of the host
root whose upper layer is a tmpfs. The network namespace is the host's, so a
simulator listening on 127.0.0.1 is reachable from inside. Standard library
only; run as root with Debian's /usr/bin/python3. Boots in about 1 s.

Interface (all of it):

    from container import Container
    with Container() as c:                      # boots; waits until it is up
        c.copy_in("/host/file", "/etc/x")       # host file -> container path
        c.write("/etc/y", "text", mode=0o644)   # text -> container path
        c.read("/var/log/z")                    # container file -> str
        r = c.run(["systemctl", "start", "x"], check=True, timeout=60)
        r.returncode, r.stdout, r.stderr        # a subprocess.CompletedProcess
        c.path("/etc/x")                        # the host path of a container path
        c.state, c.pid1                         # "running"/"degraded"; PID 1's host PID
    # leaving the block (normally, by an exception or by Ctrl-C) SIGKILLs the
    # namespace's PID 1, which ends every process in it and frees its mounts.

Self-test (boots twice, ~3 s): /usr/bin/python3 tests/systemd/container.py

Inside, the host's files are there as they are (read through the overlay:
a build tree under /work is usable as is) except /tmp, /run and /dev, which
are fresh: copy_in what lives there (a simulator's CA in a temp folder).
run() enters the namespaces but not the container's cgroups: what must run
as a service goes through systemctl/systemd-run inside. PID 1 runs without
CAP_SYS_MODULE, CAP_SYS_TIME, CAP_SYSLOG and CAP_WAKE_ALARM.

The host is never changed: every mount is made inside a private mount
namespace (nothing propagates back), the root is an overlay whose writes land
on the tmpfs, /proc/sys and /sys are read-only inside, and the units that
would reach outside the overlay through the shared kernel (module loading,
sysctl, udev, the clock, the network configuration) are masked; the boot
target is a small one (basic.target, no getty, timers or host services). What remains
on the host while it runs: an empty scratch directory in /tmp and a cgroup
under the cgroup2 hierarchy (/sys/fs/cgroup/unified here), both removed at
the end.

Faithfulness: systemd 252 of the host, in unified cgroup mode (a cgroup2
mount without controllers on this hybrid host: CPU/memory limits in units
would not apply; BPF-based IPAddressDeny= and DevicePolicy= do), with the
namespace, seccomp, capability and mount sandboxing of services real.
"""

import glob
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
# The host's cgroup2 mount: /sys/fs/cgroup/unified in the hybrid layout (this
# VM), /sys/fs/cgroup itself on a unified host.
UNIFIED = ("/sys/fs/cgroup/unified" if os.path.exists("/sys/fs/cgroup/unified/cgroup.procs")
           else "/sys/fs/cgroup")
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

# Units that would act on the shared kernel or the host's network/devices, or
# just slow the boot down; masked in the overlay before systemd starts.
MASKED = [
    "systemd-modules-load.service", "systemd-sysctl.service", "systemd-udevd.service",
    "systemd-udev-trigger.service", "systemd-udev-settle.service",
    "systemd-udevd-control.socket", "systemd-udevd-kernel.socket",
    "systemd-hwdb-update.service", "systemd-timesyncd.service", "systemd-networkd.service",
    "systemd-resolved.service", "networking.service", "ifupdown-pre.service",
    "systemd-pstore.service", "systemd-remount-fs.service", "systemd-firstboot.service",
    "systemd-binfmt.service", "proc-sys-fs-binfmt_misc.automount",
    "sys-kernel-debug.mount", "sys-kernel-tracing.mount", "sys-kernel-config.mount",
    "sys-fs-fuse-connections.mount", "dev-hugepages.mount", "dev-mqueue.mount",
    "systemd-journald-audit.socket", "systemd-journald-dev-log.socket",
    "getty.target", "console-getty.service", "serial-getty@.service", "getty@.service",
    "postgresql.service", "ssh.service", "cron.service", "e2scrub_reap.service",
    "apt-daily.timer", "apt-daily-upgrade.timer", "dpkg-db-backup.timer",
    "e2scrub_all.timer", "fstrim.timer", "man-db.timer", "logrotate.timer",
    "systemd-tmpfiles-clean.timer", "remote-fs.target", "swap.target", "cryptsetup.target",
]

TARGET = """[Unit]
Description=lrsched test container
Requires=basic.target
After=basic.target
AllowIsolate=yes
"""

# Runs under `unshare`: in the new namespaces, PID 1 until it execs systemd.
SETUP = r"""
set -eu
s=$1
mount -t tmpfs -o mode=0700 tmpfs "$s"
mkdir "$s/upper" "$s/work" "$s/root"
mount -t overlay overlay -o "lowerdir=/,upperdir=$s/upper,workdir=$s/work" "$s/root"
r=$s/root
mount -t proc proc "$r/proc"
mount --bind "$r/proc/sys" "$r/proc/sys"
mount -o remount,bind,ro "$r/proc/sys"
[ ! -e "$r/proc/sysrq-trigger" ] || mount --bind /dev/null "$r/proc/sysrq-trigger"
mount -t sysfs -o ro,nosuid,nodev,noexec sysfs "$r/sys"
mount -t cgroup2 -o nosuid,nodev,noexec cgroup2 "$r/sys/fs/cgroup"
# /dev: fresh nodes on a tmpfs, so nothing systemd does there (chmod, chown)
# reaches the host's device nodes.
mount -t tmpfs -o mode=0755,nosuid tmpfs "$r/dev"
mknod -m 666 "$r/dev/null" c 1 3
mknod -m 666 "$r/dev/zero" c 1 5
mknod -m 666 "$r/dev/full" c 1 7
mknod -m 666 "$r/dev/random" c 1 8
mknod -m 666 "$r/dev/urandom" c 1 9
mknod -m 666 "$r/dev/tty" c 5 0
mkdir "$r/dev/pts" "$r/dev/shm"
mount -t devpts -o newinstance,ptmxmode=0666,mode=620 devpts "$r/dev/pts"
ln -s pts/ptmx "$r/dev/ptmx"
ln -s /proc/self/fd "$r/dev/fd"
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs "$r/dev/shm"
mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs "$r/run"
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs "$r/tmp"
for u in $MASKED; do ln -sf /dev/null "$r/etc/systemd/system/$u"; done
printf '%s' "$TARGET" > "$r/etc/systemd/system/lrsched-ct.target"
echo lrsched-ct > "$r/etc/hostname"
hostname lrsched-ct
cd "$r"
mount --move . /
# systemd makes / shared itself only when it is not in a container; services'
# credentials are mounted in a child namespace and propagate back through it.
# (Shared within this mount namespace only: it has no peer on the host.)
exec chroot . /bin/sh -c 'mount --make-rshared / && exec /usr/bin/setpriv \
    --bounding-set -sys_module,-sys_time,-syslog,-wake_alarm \
    /lib/systemd/systemd --unit=lrsched-ct.target'
"""


class Container:
    def __init__(self, boot_timeout=60, log=None):
        self.boot_timeout = boot_timeout
        self.log = log          # host path for the set-up's output; None: a temp file,
        self._own_log = log is None   # removed at the end unless the boot failed
        self.proc = None
        self.pid1 = None        # host PID of the namespace's PID 1
        self.scratch = None
        self.cgroup = None
        self._old_sigint = None

    # -- the context manager -------------------------------------------------
    def __enter__(self):
        # Ctrl-C must tear down too: make SIGINT a KeyboardInterrupt even if
        # the caller ignored it, and restore the handler afterwards.
        self._old_sigint = signal.signal(signal.SIGINT, signal.default_int_handler)
        try:
            self.start()
        except BaseException:
            self._own_log = False   # named in the error: keep it
            self.stop()
            raise
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    # -- lifecycle -------------------------------------------------------------
    def start(self):
        self.scratch = tempfile.mkdtemp(prefix="lrsched-ct-")
        if self.log is None:
            self.log = os.path.join(tempfile.gettempdir(), os.path.basename(self.scratch) + ".log")
        self.cgroup = os.path.join(UNIFIED, os.path.basename(self.scratch))
        os.mkdir(self.cgroup)
        env = {"PATH": PATH, "container": "lrsched-ct", "MASKED": " ".join(MASKED),
               "TARGET": TARGET}
        cg = self.cgroup
        with open(self.log, "w") as out:
            self.proc = subprocess.Popen(
                ["unshare", "--mount", "--pid", "--fork", "--cgroup", "--uts", "--ipc",
                 "--propagation", "private", "--", "/bin/sh", "-c", SETUP, "setup", self.scratch],
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=env,
                # in the fresh cgroup before unshare, so it is the cgroup namespace's root
                preexec_fn=lambda: open(os.path.join(cg, "cgroup.procs"), "w").write("0"),
                start_new_session=True)
        self.pid1 = self._child_of(self.proc.pid, 10)
        self._wait_up()

    def _child_of(self, pid, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with open(f"/proc/{pid}/task/{pid}/children") as f:
                    kids = f.read().split()
                if kids:
                    return int(kids[0])
            except FileNotFoundError:
                pass
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise RuntimeError(f"the container did not start; see {self.log}")

    def _wait_up(self):
        # systemctl needs PID 1 to be systemd with its private socket first.
        deadline = time.monotonic() + self.boot_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the container's systemd exited; see {self.log}")
            if os.path.exists(f"/proc/{self.pid1}/root/run/systemd/private"):
                r = self.run(["systemctl", "is-system-running", "--wait"], check=False,
                             timeout=max(1, deadline - time.monotonic()))
                state = r.stdout.strip()
                if state in ("running", "degraded"):
                    self.state = state
                    return
                if state not in ("initializing", "starting", ""):
                    raise RuntimeError(f"the container's systemd is {state!r}; see {self.log}")
            time.sleep(0.1)
        raise RuntimeError(f"the container did not boot in {self.boot_timeout} s; see {self.log}")

    def stop(self):
        if self.proc is not None:
            if self.pid1 is not None:
                try:
                    os.kill(self.pid1, signal.SIGKILL)   # SIGTERM would make systemd re-exec
                except ProcessLookupError:
                    pass
            elif self.proc.poll() is None:
                os.kill(self.proc.pid, signal.SIGKILL)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
            self.proc = None
        if self.cgroup is not None:
            self._remove_cgroup(self.cgroup, time.monotonic() + 10)
            self.cgroup = None
        if self.scratch is not None:
            # only an empty mount point on the host: the tmpfs lived in the namespace
            shutil.rmtree(self.scratch, ignore_errors=True)
            self.scratch = None
        if self._own_log and self.log is not None:
            try:
                os.unlink(self.log)
            except FileNotFoundError:
                pass
        if self._old_sigint is not None:
            signal.signal(signal.SIGINT, self._old_sigint)
            self._old_sigint = None

    @staticmethod
    def _remove_cgroup(path, deadline):
        # systemd's cgroups, deepest first; a dying process may hold one briefly
        for base, dirs, _ in sorted(os.walk(path), key=lambda w: -w[0].count("/")):
            while True:
                try:
                    os.rmdir(base)
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.05)

    # -- inside ----------------------------------------------------------------
    def run(self, argv, check=True, timeout=60, input=None):
        """argv in the container's mount, pid, cgroup, UTS and IPC namespaces,
        root and working directory /, as root with a clean environment."""
        cmd = ["nsenter", "--target", str(self.pid1), "--mount", "--pid", "--cgroup",
               "--uts", "--ipc", "--root", "--wd=/", "--", "/usr/bin/env", "-i",
               "PATH=" + PATH, "LANG=C.UTF-8", "SYSTEMD_PAGER=", "TERM=dumb"] + list(argv)
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, input=input,
                           stdin=None if input is not None else subprocess.DEVNULL)
        if check and r.returncode != 0:
            raise RuntimeError(f"in the container, {' '.join(argv)} exited {r.returncode}:\n"
                               f"{r.stdout}{r.stderr}")
        return r

    def path(self, path):
        """The host path of a container path (through PID 1's root: the overlay)."""
        return f"/proc/{self.pid1}/root/" + path.lstrip("/")

    def copy_in(self, host_path, path, mode=None):
        dest = self.path(path)
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        shutil.copyfile(host_path, dest)
        os.chmod(dest, mode if mode is not None else os.stat(host_path).st_mode & 0o7777)

    def write(self, path, text, mode=0o644):
        dest = self.path(path)
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        with open(dest, "w") as f:
            f.write(text)
        os.chmod(dest, mode)

    def read(self, path):
        with open(self.path(path)) as f:
            return f.read()


def _host_state():
    with open("/proc/self/mountinfo") as f:
        mounts = sorted(" ".join(l.split()[3:5]) for l in f)
    cgroups = sorted(d for d in os.listdir(UNIFIED) if d.startswith("lrsched-ct-"))
    scratch = sorted(d for d in os.listdir(tempfile.gettempdir()) if d.startswith("lrsched-ct-"))
    # where a systemd booted on the host's root would write first
    paths = ["/etc", "/var/lib/systemd"] + glob.glob("/var/log/journal/*/system.journal")
    stamps = [(p, os.stat(p).st_mtime_ns) for p in paths if os.path.exists(p)]
    return mounts, cgroups, scratch, open("/etc/hostname").read(), stamps


def self_test():
    """Boots, does what would hurt the host (tmpfiles' /tmp cleaning, writes
    to /etc, a service), tears down, and checks the host is as it was; then
    the same torn down by SIGINT from a child process."""
    before = _host_state()
    canary = tempfile.NamedTemporaryFile(prefix="lrsched-canary-", delete=False)
    canary.write(b"still here\n")
    canary.close()
    t0 = time.monotonic()
    with Container() as c:
        print(f"booted in {time.monotonic() - t0:.1f} s: {c.state}")
        c.run(["systemd-tmpfiles", "--clean", "--remove", "--boot"], check=False)
        c.run(["systemd-creds", "setup"], check=False)   # /var/lib/systemd/credential.secret
        c.write("/etc/lrsched-ct-probe", "inside\n")
        c.run(["rm", "-f", "/usr/bin/true"])  # a lower-layer file, deleted in the overlay
        r = c.run(["systemd-run", "--wait", "--pipe", "-p", "DynamicUser=yes", "id", "-un"])
        assert r.stdout.strip().startswith("run-"), r.stdout
        assert c.read("/etc/lrsched-ct-probe") == "inside\n"
        assert c.run(["stat", "-f", "-c", "%T", "/tmp"]).stdout.strip() == "tmpfs"
    assert open(canary.name).read() == "still here\n", "the host's /tmp was touched"
    assert not os.path.exists("/etc/lrsched-ct-probe"), "a write reached the host's /etc"
    assert os.path.exists("/usr/bin/true"), "a deletion reached the host"
    assert _host_state() == before, "mounts, cgroups or scratch left on the host"
    # Ctrl-C: the library in a child; SIGINT once it is up.
    child = subprocess.Popen([sys.executable, "-c", "import sys, time; sys.path.insert(0, %r); "
                              "from container import Container\nwith Container():\n"
                              "    print('up', flush=True); time.sleep(60)" % HERE],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert child.stdout.readline().strip() == "up"
    child.send_signal(signal.SIGINT)
    assert child.wait(timeout=30) != 0
    assert _host_state() == before, "SIGINT left mounts, cgroups or scratch on the host"
    os.unlink(canary.name)
    print(f"container self-test: ok ({time.monotonic() - t0:.1f} s): host /tmp canary intact, "
          "/etc and /usr untouched, no mount, cgroup or scratch left (also after SIGINT)")


if __name__ == "__main__":
    self_test()
