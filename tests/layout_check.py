#!/usr/bin/env python3
"""The code map's rules (README, "Code map"), checked on daemon/:
- no file over 600 lines;
- the folders' include graph has no cycle;
- Boost.Asio/Beast are included in at most three folders (net/, mde/, runtime/);
- <sqlite3.h> is included only in store/.
Prints the folder graph; exits 1 naming every rule broken."""
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent / "daemon"
MAX_LINES = 600
ASIO_FOLDERS = {"net", "mde", "runtime"}

include = re.compile(r'^\s*#\s*include\s*[<"]([^>"]+)[>"]', re.M)
graph: dict[str, set[str]] = {}
asio: set[str] = set()
problems: list[str] = []

for path in sorted(ROOT.rglob("*.[ch]pp")):
    rel = path.relative_to(ROOT)
    folder = rel.parts[0] if len(rel.parts) > 1 else "."
    text = path.read_text(encoding="utf-8")
    lines = text.count("\n")
    if lines > MAX_LINES:
        problems.append(f"daemon/{rel}: {lines} lines (at most {MAX_LINES})")
    graph.setdefault(folder, set())
    for inc in include.findall(text):
        # net/'s headers bring Asio with them (net.hpp, coro.hpp, https_client.hpp).
        if inc.startswith(("boost/asio", "boost/beast", "net/")):
            asio.add(folder)
        if inc == "sqlite3.h" and folder != "store":
            problems.append(f"daemon/{rel}: includes <sqlite3.h> outside store/")
        head = inc.split("/")[0]
        if "/" in inc and (ROOT / head).is_dir() and head != folder:
            graph[folder].add(head)

if not asio <= ASIO_FOLDERS:
    problems.append(f"Asio/Beast included in {sorted(asio)}; only {sorted(ASIO_FOLDERS)} may")


def find_cycle() -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(n: str) -> list[str] | None:
        state[n] = 1
        stack.append(n)
        for m in sorted(graph.get(n, ())):
            if state.get(m) == 1:
                return stack[stack.index(m):] + [m]
            if m not in state:
                found = visit(m)
                if found:
                    return found
        stack.pop()
        state[n] = 2
        return None

    for n in sorted(graph):
        if n not in state:
            found = visit(n)
            if found:
                return found
    return None


cycle = find_cycle()
if cycle:
    problems.append("include cycle between folders: " + " -> ".join(cycle))

for folder in sorted(graph):
    print(f"{folder:10} -> {', '.join(sorted(graph[folder])) or '-'}")
print(f"Asio/Beast in: {', '.join(sorted(asio))}")
for p in problems:
    print("layout: " + p, file=sys.stderr)
sys.exit(1 if problems else 0)
