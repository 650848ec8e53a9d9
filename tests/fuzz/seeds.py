#!/usr/bin/env python3
"""Writes the seed corpus of each fuzz target from the repository itself.

The YAML targets start from the example job files and configuration and a
few committed files (tests/fuzz/seeds/); the value parsers from the string
literals of their doctest files. Usage: seeds.py REPO_ROOT OUT_DIR
"""

import glob
import hashlib
import os
import re
import shutil
import struct
import sys
import zipfile
import io

# A C string literal; escapes decoded below.
LITERAL = re.compile(r'"((?:[^"\\\n]|\\.)*)"')
ESCAPE = re.compile(r'\\(x[0-9a-fA-F]{1,2}|[0-7]{1,3}|.)')
SIMPLE = {"n": b"\n", "r": b"\r", "t": b"\t", "0": b"\0", "\\": b"\\", '"': b'"', "'": b"'"}
# 2023-11-14 22:13:20 UTC, for the targets whose first 4 bytes are the time.
NOW = struct.pack("<I", 1_700_000_000)


def literals(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        text = f.read()
    out = []
    for m in LITERAL.finditer(text):
        def unescape(e):
            s = e.group(1)
            if s[0] == "x":
                return chr(int(s[1:], 16))
            if s[0].isdigit() and s != "0":
                return chr(int(s, 8))
            return SIMPLE.get(s, s.encode()).decode("latin-1")
        out.append(ESCAPE.sub(unescape, m.group(1)).encode("latin-1"))
    return out


def write(out, seeds):
    os.makedirs(out, exist_ok=True)
    for seed in seeds:
        name = hashlib.sha1(seed).hexdigest()
        with open(os.path.join(out, name), "wb") as f:
            f.write(seed)


def files(*patterns):
    seeds = []
    for pattern in patterns:
        for path in sorted(glob.glob(pattern)):
            with open(path, "rb") as f:
                seeds.append(f.read())
    return seeds


def main():
    root, out = sys.argv[1], sys.argv[2]
    shutil.rmtree(out, ignore_errors=True)
    unit = os.path.join(root, "tests", "unit")
    fuzz = os.path.join(root, "tests", "fuzz", "seeds")
    yaml_files = files(os.path.join(root, "jobs", "*.yaml"), os.path.join(fuzz, "job_load", "*"))
    write(os.path.join(out, "job_load"), yaml_files)
    write(os.path.join(out, "yaml_caps"), yaml_files)
    write(os.path.join(out, "config"), files(os.path.join(root, "config", "*.yaml")))
    write(os.path.join(out, "manifest"), files(os.path.join(fuzz, "manifest", "*")))
    cron = literals(os.path.join(unit, "cron_test.cpp")) + literals(os.path.join(unit, "window_test.cpp"))
    write(os.path.join(out, "cron"), [NOW + s for s in cron])
    write(os.path.join(out, "duration"), literals(os.path.join(unit, "duration_test.cpp")))
    write(os.path.join(out, "byte_size"), literals(os.path.join(unit, "byte_size_test.cpp")))
    write(os.path.join(out, "retry_after"),
          [NOW + s for s in literals(os.path.join(unit, "retry_after_test.cpp"))])
    write(os.path.join(out, "transcript"), TRANSCRIPTS)
    write(os.path.join(out, "zip"), [small_zip(zipfile.ZIP_STORED), small_zip(zipfile.ZIP_DEFLATED)])


# RunScript results as the API writes them (mde-api.md §3): header, NULs, footer.
TRANSCRIPTS = [
    rb'{"script_name":"triage.ps1","exit_code":0,"script_output":"Transcript started, output file is '
    rb'C:\\T\\PSScript_Transcript_1.txt\r\n\u0000\u0000Id  Name\r\n 4  lsass\r\n'
    rb'Transcript stopped, output file is C:\\T\\PSScript_Transcript_1.txt\r\n","script_errors":""}',
    rb'{"script_output":"**********************\r\nWindows PowerShell transcript start\r\n'
    rb'Start time: 20261207010000\r\n**********************\r\nout \ud83d\ude00\r\n'
    rb'**********************\r\nWindows PowerShell transcript end\r\nEnd time: 20261207010005\r\n'
    rb'**********************\r\n","exit_code":-1,"x":[{"y":null}],"script_errors":"err\r\n"}',
]


def small_zip(method):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", method) as z:
        z.writestr("dir/", b"")
        z.writestr("dir/a.txt", b"alpha\n" * 20)
        z.writestr("../b.bin", bytes(range(256)))
    return buf.getvalue()


if __name__ == "__main__":
    main()
