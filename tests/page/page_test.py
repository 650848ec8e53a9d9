#!/usr/bin/env python3
"""The status page (daemon/view/status_page.html) in a real browser.

Serves the page as the daemon embeds it (dumped by the test-only executable
lrsched_page_dump) and a status document from a python http.server on
127.0.0.1, loads it in headless Chromium (Debian's `chromium`) and reads the
DOM Chromium dumps once the page's timers have run:
- live: the first GET /v1/status answers tests/page/status_fixture.json,
  later ones a copy where the sweep moved on; the DOM must show every job
  and tenant of the later document (so the page refreshed in place), with
  the hostile strings of the fixture (job name, errors, reasons) as text and
  no element made of them;
- failing: GET /v1/status answers 503 with a hostile error; the page says so;
- without-live-figures: a document without its "daemon" member (the
  store's part only): no slots, and a notice saying why;
- passed-through: the --daemon path below, against a fixture server.
Then a screenshot of the live page (1280x800), checked to be a PNG.

With --daemon URL (a running daemon's `metrics.listen`), the page and its
status documents come from the daemon, through a recording pass-through:
the DOM is checked against the very documents the page was given (during
a sweep, the end-to-end test of the status page).

With --page-dump BIN --status-command CMD, the documents are CMD's output
(`lrsched status --json -c FILE` while a daemon runs a sweep), checked the
same way.

Usage: page_test.py (--page-dump BIN [--status-command CMD] | --daemon URL)
                    [--screenshot PATH] [--keep DIR]
  --screenshot PATH  where the screenshot goes (docs/status-page.png makes the
                     README's; default: a temporary directory)
Exit status: 0 passed, 1 failed, 77 skipped (no chromium, and CI is unset:
in CI a missing browser is a failure).
"""

import argparse
import copy
import html.parser
import http.server
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURE = os.path.join(HERE, "status_fixture.json")
# Not a timing assertion: a bound on a hung browser, far above the ~2 s a run
# takes (virtual time does not wait for the page's 2 s timers).
HANG_S = 90
SKIP = 77  # CTest's SKIP_RETURN_CODE for this test (tests/CMakeLists.txt)

# Every element the page itself creates. Anything else in the DOM (an <img>,
# a <b>, a second <script>) was made from the status document's strings.
PAGE_TAGS = {"html", "head", "meta", "title", "style", "script", "body", "header", "main",
             "section", "h1", "h2", "p", "div", "span", "table", "thead", "tbody", "tr", "th",
             "td", "small", "footer", "noscript"}
VOID_TAGS = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta",
             "source", "track", "wbr"}
STATES = ["queued", "busy", "submitting", "pending", "running", "collecting", "done", "failed",
          "expired", "not_found", "rejected", "cancelled", "withdrawn", "gave_up"]


class Failure(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Failure(what)


# --- a small DOM of Chromium's --dump-dom output --------------------------

class Node:
    def __init__(self, tag, attrs):
        self.tag, self.attrs, self.children = tag, dict(attrs), []

    def classes(self):
        return (self.attrs.get("class") or "").split()

    def walk(self):
        yield self
        for c in self.children:
            if isinstance(c, Node):
                yield from c.walk()

    def all(self, cls):
        return [n for n in self.walk() if cls in n.classes()]

    def one(self, cls):
        found = self.all(cls)
        check(len(found) == 1, f"expected one .{cls} in <{self.tag}>, found {len(found)}")
        return found[0]

    def text(self):
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)


class DomBuilder(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = Node("#document", [])
        self.stack = [self.root]

    def handle_starttag(self, tag, attrs):
        node = Node(tag, attrs)
        self.stack[-1].children.append(node)
        if tag not in VOID_TAGS:
            self.stack.append(node)

    def handle_endtag(self, tag):
        for i in range(len(self.stack) - 1, 0, -1):
            if self.stack[i].tag == tag:
                del self.stack[i:]
                return

    def handle_data(self, data):
        self.stack[-1].children.append(data)


def parse_dom(text):
    b = DomBuilder()
    b.feed(text)
    b.close()
    return b.root


# --- the status documents served -----------------------------------------

def moved_on(doc):
    """The fixture 4 s later: ten more sessions of nightly-autoruns done."""
    doc = copy.deepcopy(doc)
    run = doc["jobs"]["nightly-autoruns"]["latest_run"]
    run["sessions"]["queued"] -= 10
    run["sessions"]["done"] += 10
    run["finished"] += 10
    run["eta"] = "2024-05-01T02:30:05.250Z"
    doc["tenants"]["contoso"]["calls_last_minute"] = 9
    doc["now"] = "2024-05-01T02:16:05.250Z"
    doc["daemon"]["at"] = doc["now"]
    return doc


class Site:
    """What the server answers: the page at /, status documents in turn."""

    def __init__(self, page, answers):
        self.page, self.answers, self.requests = page, answers, 0
        self.lock = threading.Lock()

    def get(self, path):
        if path == "/":
            return 200, "text/html; charset=utf-8", self.page
        if path == "/v1/status":
            with self.lock:
                code, doc = self.answers[min(self.requests, len(self.answers) - 1)]
                self.requests += 1
            return code, "application/json", json.dumps(doc).encode()
        return 404, "application/json", b'{"error": "not found"}'


class DaemonSite:
    """A running daemon's page and status (its `metrics.listen` address),
    passed through as they are, each status document kept: the DOM is
    checked against the documents the page was given, so a sweep moving on
    between two reads is no race."""

    def __init__(self, base):
        self.base, self.docs, self.requests = base.rstrip("/"), [], 0
        self.page_answer = None  # GET /'s status and the start of its body
        self.lock = threading.Lock()

    def get(self, path):
        try:
            with urllib.request.urlopen(self.base + path, timeout=30) as r:
                code, ctype, body = r.status, r.headers.get("Content-Type", ""), r.read()
        except urllib.error.HTTPError as e:
            code, ctype, body = e.code, e.headers.get("Content-Type", ""), e.read()
        except (urllib.error.URLError, OSError) as e:  # the daemon does not answer
            code, ctype = 502, "application/json"
            body = json.dumps({"error": f"{self.base}{path}: {e}"}).encode()
        if path == "/":
            self.page_answer = (code, body[:300].decode(errors="replace"))
        if path == "/v1/status":
            with self.lock:
                self.requests += 1
                if code == 200:
                    self.docs.append(json.loads(body))
        return code, ctype, body


class CommandSite(DaemonSite):
    """The page from lrsched_page_dump, each status document from a command
    (`lrsched status --json -c FILE`: the store's part, while a daemon runs
    a sweep), kept as DaemonSite keeps them."""

    def __init__(self, page, argv):
        super().__init__("")
        self.page, self.argv = page, argv
        self.page_answer = (200, "")

    def get(self, path):
        if path != "/v1/status":
            return Site(self.page, []).get(path)
        p = subprocess.run(self.argv, capture_output=True, timeout=60)
        with self.lock:
            self.requests += 1
            if p.returncode == 0:
                self.docs.append(json.loads(p.stdout))
        if p.returncode != 0:
            err = json.dumps({"error": p.stderr.decode(errors="replace").strip()}).encode()
            return 500, "application/json", err
        return 200, "application/json", p.stdout


def serve(site):
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            code, ctype, body = site.get(self.path)
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def chromium(browser, profile, url, *args):
    """Runs headless Chromium on `url`; the virtual time budget lets the
    page's timers (its 2 s refresh) run without waiting for real time."""
    cmd = [browser, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
           "--no-first-run", "--no-default-browser-check", "--disable-extensions",
           "--disable-background-networking", "--disable-component-update",
           "--user-data-dir=" + profile, "--virtual-time-budget=5000", *args, url]
    # Its own process group, so a hung browser goes with all its children.
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         start_new_session=True)
    try:
        out, err = p.communicate(timeout=HANG_S)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        p.communicate()
        raise Failure(f"chromium did not finish in {HANG_S} s: an alert() from a string of the "
                      "status document run as HTML blocks it, as would a page that never loads")
    check(p.returncode == 0, f"chromium exited {p.returncode}:\n{err[-3000:]}")
    return out


# --- what the page must show ---------------------------------------------

def clock(iso):
    return iso[11:19] + " UTC"


def check_no_injected_elements(dom):
    tags = {n.tag for n in dom.walk()} - {"#document"}
    check(tags <= PAGE_TAGS, f"elements the page never makes: {sorted(tags - PAGE_TAGS)} "
                             "(a string of the status document was parsed as HTML)")
    scripts = [n for n in dom.walk() if n.tag == "script"]
    check(len(scripts) == 1, f"{len(scripts)} <script> elements, expected the page's own")


def expected_eta(job, tenant):
    run = job["latest_run"]
    if run is None:
        return "no run yet"
    if run["finished_at"]:
        return "finished " + clock(run["finished_at"])
    if run["eta"]:
        return clock(run["eta"])
    if job["paused"]:
        return "none while the job is paused"
    if tenant and tenant["paused"]:
        return "none while the tenant is paused"
    return "unknown"


def check_job(row, name, job, tenant):
    check(row.one("name").text() == name, f"job name {row.one('name').text()!r} != {name!r}")
    check(row.one("tenant").text() == job["tenant"], f"{name!r}: tenant")
    run = job["latest_run"]
    if run is None:
        check(not row.all("bar"), f"{name!r}: a progress bar without a run")
    else:
        bar = row.one("bar")
        check(bar.attrs.get("aria-valuenow") == str(run["finished"]) and
              bar.attrs.get("aria-valuemax") == str(run["total"]),
              f"{name!r}: progress bar {bar.attrs} for {run['finished']} / {run['total']}")
        count = row.one("count").text()
        check(count.startswith(f"{run['finished']} / {run['total']}"),
              f"{name!r}: progress {count!r}, expected {run['finished']} / {run['total']}")
        chips = sorted(c.text() for c in row.one("states").all("chip"))
        want = sorted(f"{s} {run['sessions'][s]}" for s in STATES if run["sessions"][s])
        check(chips == want, f"{name!r}: sessions by state {chips}, expected {want}")
    paused = row.one("paused").text()
    if job["paused"]:
        want = "yes" + (": " + job["paused_reason"] if job["paused_reason"] else "")
        check(paused == want, f"{name!r}: paused {paused!r}, expected {want!r}")
    else:
        check(paused == "no", f"{name!r}: paused {paused!r}, expected 'no'")
    err = row.one("error")
    if job["last_error"]:
        msg = err.one("msg").text()
        check(msg == job["last_error"], f"{name!r}: last error {msg!r}")
        check(clock(job["last_error_at"]) in err.text(), f"{name!r}: last error's time")
    else:
        check(not err.all("msg"), f"{name!r}: a last error where there is none")
    eta = row.one("eta").text()
    want = expected_eta(job, tenant)
    check(want in eta, f"{name!r}: ETA {eta!r}, expected it to say {want!r}")


def check_tenant(row, name, t, live):
    check(row.one("name").text() == name, f"tenant name {row.one('name').text()!r}")
    calls = row.one("calls").text()
    check(f"{t['calls_last_minute']} submit" in calls and
          f"{t['read_calls_last_minute']} read" in calls, f"{name!r}: calls {calls!r}")
    load = row.one("load").text()
    check(load == f"{t['running']} running, {t['pending']} pending, {t['submitting']} submitting",
          f"{name!r}: running/pending {load!r}")
    slots = row.one("slots").text()
    if live:
        want = (f"{live['slots_held']} / {live['slot_limit']}",
                f"offline {live['slots_held_offline']} / {live['offline_slots']}")
        check(all(w in slots for w in want), f"{name!r}: slots {slots!r}, expected {want}")
    else:
        check(slots == "no live figures", f"{name!r}: slots {slots!r} without live figures")
    state = row.one("state").text()
    said = []
    if t["paused"]:
        said.append("paused: " + (t["paused_reason"] or ""))
    if live and live["unreachable"]:
        said.append("unreachable since " + clock(live["unreachable_since"]))
    if t["throttled_until"]:
        said.append("throttled until " + clock(t["throttled_until"]))
    warning = ((live or {}).get("credential") or {}).get("warning")
    if warning:  # a certificate near its end, as text (the fixture's has markup)
        said.append(warning)
    for s in said:
        check(s in state, f"{name!r}: state {state!r} does not say {s!r}")
    if not said:
        check(state == "ok", f"{name!r}: state {state!r}, expected 'ok'")
    if t["last_error"]:
        check(row.one("msg").text() == t["last_error"], f"{name!r}: last error")


def check_status(dom, doc):
    rows = {r.one("name").text(): r for r in dom.all("job-row")}
    check(sorted(rows) == sorted(doc["jobs"]), f"jobs shown {sorted(rows)}")
    for name, job in doc["jobs"].items():
        check_job(rows[name], name, job, doc["tenants"].get(job["tenant"]))
    rows = {r.one("name").text(): r for r in dom.all("tenant-row")}
    check(sorted(rows) == sorted(doc["tenants"]), f"tenants shown {sorted(rows)}")
    live = doc.get("daemon", {}).get("tenants", {})
    for name, t in doc["tenants"].items():
        check_tenant(rows[name], name, t, live.get(name))
    updated = dom.one("updated").text()
    check(clock(doc["now"]) in updated, f"updated {updated!r}, expected {clock(doc['now'])}")


def run_case(browser, tmp, name, site, verify, *args):
    server = serve(site)
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/"
        out = chromium(browser, os.path.join(tmp, "profile-" + name), url, *(args or ["--dump-dom"]))
    finally:
        server.shutdown()
        server.server_close()
    with open(os.path.join(tmp, name + ".html"), "w") as f:
        f.write(out)
    for i, doc in enumerate(getattr(site, "docs", [])):  # what the page was given, in order
        with open(os.path.join(tmp, f"doc-{i}.json"), "w") as f:
            json.dump(doc, f, indent=1)
    try:
        verify(parse_dom(out) if not args else None, site)
    except Failure as e:
        raise Failure(f"{name}: {e} (DOM in {os.path.join(tmp, name + '.html')})") from None
    print(f"ok   {name}")


def check_daemon_page(dom, site):
    """The page as a daemon served it: what it shows is the last status
    document it was given, or the one before when the last was still on its
    way when Chromium dumped the DOM."""
    check(site.page_answer and site.page_answer[0] == 200,
          f"GET / answered {site.page_answer}, not the page")
    check_no_injected_elements(dom)
    check(site.requests >= 2, f"{site.requests} GET /v1/status, expected a refresh")
    check(len(site.docs) >= 2, f"{len(site.docs)} status documents of {site.requests} answered 200")
    check(not dom.one("problem").text(), f"a problem shown: {dom.one('problem').text()!r}")
    try:
        check_status(dom, site.docs[-1])
    except Failure:
        check_status(dom, site.docs[-2])


def browser_or_skip():
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        if os.environ.get("CI", "").lower() not in ("", "0", "false"):
            print("FAIL: chromium is not installed, and CI is set: tests/deps.sh installs it")
            sys.exit(1)
        print("SKIP: chromium is not installed (apt-get install chromium, or tests/run, "
              "which installs tests/deps.sh's packages); in CI this test fails instead")
        sys.exit(SKIP)
    return browser


def fixture_cases(browser, tmp, page, screenshot):
    with open(FIXTURE) as f:
        fixture = json.load(f)
    later = moved_on(fixture)

    def live(dom, site):
        check_no_injected_elements(dom)
        check(site.requests >= 2, f"{site.requests} GET /v1/status, expected a refresh")
        check(not dom.one("problem").text(), f"a problem shown: {dom.one('problem').text()!r}")
        check_status(dom, later)

    hostile = "store <b>locked</b> <img src=x onerror=alert(4)>"

    def failing(dom, site):
        check_no_injected_elements(dom)
        problem = dom.one("problem").text()
        check("HTTP 503" in problem and hostile in problem, f"problem shown: {problem!r}")
        check(not dom.all("job-row"), "jobs shown without a status document")

    run_case(browser, tmp, "live", Site(page, [(200, fixture), (200, later)]), live)
    run_case(browser, tmp, "failing", Site(page, [(503, {"error": hostile})]), failing)
    store_only = {k: v for k, v in fixture.items() if k != "daemon"}

    def without_live(dom, site):
        check_no_injected_elements(dom)
        check("no live figures" in dom.one("notice").text(), "no notice of missing live figures")
        check_status(dom, store_only)

    run_case(browser, tmp, "without-live-figures", Site(page, [(200, store_only)]), without_live)
    # The --daemon path, through a fixture server standing in for the daemon.
    stand_in = serve(Site(page, [(200, fixture), (200, later)]))
    try:
        base = f"http://127.0.0.1:{stand_in.server_address[1]}"
        run_case(browser, tmp, "passed-through", DaemonSite(base), check_daemon_page)
    finally:
        stand_in.shutdown()
        stand_in.server_close()

    shot = screenshot or os.path.join(tmp, "status-page.png")
    run_case(browser, tmp, "screenshot", Site(page, [(200, fixture)]), lambda dom, site: None,
             "--screenshot=" + os.path.abspath(shot), "--window-size=1280,800", "--hide-scrollbars")
    with open(shot, "rb") as f:
        check(f.read(8) == b"\x89PNG\r\n\x1a\n", f"{shot} is not a PNG")
    print(f"     {shot}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    what = ap.add_mutually_exclusive_group(required=True)
    what.add_argument("--page-dump", help="lrsched_page_dump: the fixture cases")
    what.add_argument("--daemon", help="http://HOST:PORT of a daemon's metrics.listen")
    ap.add_argument("--status-command", help="with --page-dump: each status document is this "
                    "command's output (lrsched status --json -c FILE) instead of the fixture's")
    ap.add_argument("--screenshot")
    ap.add_argument("--keep", help="a directory kept for the DOMs and the profile")
    a = ap.parse_args()

    browser = browser_or_skip()
    tmp = a.keep or tempfile.mkdtemp(prefix="lrsched-page-")
    os.makedirs(tmp, exist_ok=True)
    try:
        if a.daemon:
            run_case(browser, tmp, "daemon", DaemonSite(a.daemon), check_daemon_page)
            if a.screenshot:
                run_case(browser, tmp, "screenshot", DaemonSite(a.daemon), lambda d, s: None,
                         "--screenshot=" + os.path.abspath(a.screenshot),
                         "--window-size=1280,800", "--hide-scrollbars")
        else:
            page = subprocess.run([a.page_dump], capture_output=True, check=True).stdout
            check(page.lstrip().lower().startswith(b"<!doctype html>"),
                  f"{a.page_dump} printed no HTML page")
            if a.status_command:
                site = CommandSite(page, shlex.split(a.status_command))
                run_case(browser, tmp, "status-command", site, check_daemon_page)
            else:
                fixture_cases(browser, tmp, page, a.screenshot)
    except Failure as e:
        print(f"FAIL {e}")
        return 1  # tmp stays, for the DOMs the message names
    if not a.keep:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
