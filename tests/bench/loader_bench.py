#!/usr/bin/env python3
"""Cost of `lrsched validate` on the worst job files and configurations we know.

SPEC: any job file or configuration is refused or accepted in < 0.5 s and
< 64 MB. Prints, per input, the verdict, the first message, peak RSS, CPU time
and wall time of the real binary; asserts nothing (figures depend on the
machine). Usage:
  tests/bench/loader                       (builds a release lrsched first)
  loader_bench.py LRSCHED_BINARY WORKDIR
"""

import os
import shutil
import subprocess
import sys

MIB = 1 << 20
JOB_HEAD = "targets: {tags: [a]}\ncommands: [{GetFile: x}]\n"
TENANT = ("tenants:\n  - name: contoso\n"
          "    tenant_id: 00000000-0000-0000-0000-000000000000\n"
          "    client_id: 11111111-1111-1111-1111-111111111111\n"
          "    client_secret_file: c.secret\n")


def fill(head, unit, size, tail=""):
    n = max(0, (size - len(head) - len(tail)) // len(unit))
    return head + unit * n + tail


def laughs():
    y = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    prev = "a"
    for c in "bcdefghi":
        y += "%s: &%s [%s]\n" % (c, c, ",".join(["*" + prev] * 9))
        prev = c
    return y


def job_inputs():
    ids = "".join("    - %040x\n" % i for i in range(22_000))
    return [
        ("alias bomb: 512 KiB string x 170,000 aliases",
         'a: &s "' + "x" * (512 << 10) + '"\nb: [*s' + ",*s" * 169_999 + "]\n"),
        ("billion laughs", laughs()),
        ("1 MiB of unclosed '['", "[" * (MIB - 1)),
        ("1 MiB of unclosed '{'", "{" * (MIB - 1)),
        ("1 MiB flow list after '- '", fill("- [", "a,", MIB - 4, "a]\n")),
        ("1 MiB flow list as a value", fill("x: [", "a,", MIB - 4, "a]\n")),
        ("1 MiB block list of one-letter items", fill("", "- a\n", MIB)),
        ("block list of 49,990 items (node cap 50,000)", "- a\n" * 49_990),
        ("tags: 49,990 items (node cap 50,000)",
         "targets:\n  tags:\n" + "    - a\n" * 49_990 + "commands: [{GetFile: x}]\n"),
        ("tags: 11,000 items of 80 bytes (1 MiB)",
         "targets:\n  tags:\n" + ("    - " + "t" * 80 + "\n") * 11_000 +
         "commands: [{GetFile: x}]\n"),
        ("deep block nesting", "".join("  " * i + "k:\n" for i in range(200))),
        ("1 MiB of blank lines", fill(JOB_HEAD, "\n", MIB)),
        ("1 MiB of CRLF blank lines", fill(JOB_HEAD, "\r\n", MIB)),
        ("1 MiB plain scalar", fill(JOB_HEAD + "comment: ", "y", MIB - 1, "\n")),
        ("1 MiB double-quoted escapes", fill(JOB_HEAD + 'comment: "', "\\x41", MIB - 2, '"\n')),
        ("1 MiB of comments", fill(JOB_HEAD, "#" + "c" * 78 + "\n", MIB)),
        ("valid job, 22,000 machine ids (1 MiB)",
         "targets:\n  machines:\n" + ids + "commands: [{GetFile: x}]\n"),
    ]


def config_inputs():
    cap = 256 << 10
    return [
        ("config: 256 KiB of blank lines", fill(TENANT, "\n", cap)),
        ("config: unclosed '[' to the cap", "[" * (cap - 1)),
        ("config: block list to the cap", fill("x:\n", "- a\n", cap)),
    ]


def measure(cmd):
    """Exit status, first message, peak RSS (MB), CPU and wall seconds.

    Through /usr/bin/time: a child forked from this Python process would count
    Python's own pages in its peak RSS."""
    fmt = "@@ %x %M %U %S %e"
    proc = subprocess.run(["/usr/bin/time", "-f", fmt] + cmd, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, check=False)
    lines = proc.stderr.decode(errors="replace").splitlines()
    stats = [ln for ln in lines if ln.startswith("@@ ")][-1].split()
    messages = [ln for ln in lines if not ln.startswith("@@ ") and
                not ln.startswith("Command exited")]
    code, rss_kb, user, sys_, wall = (int(stats[1]), int(stats[2]), float(stats[3]),
                                      float(stats[4]), float(stats[5]))
    return code, messages[0] if messages else "", rss_kb / 1024, user + sys_, wall


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    binary, work = sys.argv[1], sys.argv[2]
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    secret = os.path.join(work, "c.secret")
    with open(secret, "w") as f:
        f.write("x\n")
    os.chmod(secret, 0o600)
    # A job's target list is not YAML and has caps of its own (32 MiB,
    # 1,000,000 entries): what a job at those caps costs, for the record.
    with open(os.path.join(work, "fleet.txt"), "w") as f:
        for i in range(1_000_000):
            f.write("ws-%07d.corp.contoso.example\n" % i)
    fleet = ("from_file list at its caps (10^6 host names, 32 MiB)",
             "targets: {from_file: fleet.txt}\ncommands: [{GetFile: x}]\n")
    rows = []
    for i, (what, text) in enumerate(job_inputs() + config_inputs() + [fleet]):
        path = os.path.join(work, "in%02d.yaml" % i)
        with open(path, "w", newline="") as f:
            f.write(text)
        cmd = [binary, "validate", "-c", path] if what.startswith("config:") else \
            [binary, "validate", path]
        code, first, rss, cpu, wall = measure(cmd)
        rows.append((what, len(text), code, rss, cpu, wall, first))
    print("%-42s %8s %4s %8s %7s %7s  %s" % ("input", "bytes", "exit", "RSS MB", "CPU s",
                                             "wall s", "first message"))
    for what, size, code, rss, cpu, wall, first in rows:
        msg = first.split(": ", 1)[-1][:70]
        print("%-42s %8d %4d %8.1f %7.3f %7.3f  %s" % (what, size, code, rss, cpu, wall, msg))


if __name__ == "__main__":
    main()
