"""A script-style live response client: what users run today, for the
benchmark to compare lrsched with (issue 11, item 5).

It does what the one-shot tools do: get a token, list the machines, hand
every machine to a pool of 10 threads with a fixed sleep between hand-offs,
and in each thread submit (a fixed sleep and a few retries after a 429 or
ActiveRequestAlreadyExists), poll the action with GET
/api/machineactions/{id} until it ends, then ask for each result link and
download it. No scheduler, no view of the limits beyond the fixed sleeps.
It is kept honest: the sleeps are the ones such a tool would pick for a
limit of 10 submits per 3 s (0.3 s between submits, one window after a
refusal), and it polls as often as the daemon's poll_interval.
Standard library only (urllib for the form, http.client + ssl for the
rest); a few hundred calls per sweep.
"""

import http.client
import json
import os
import ssl
import threading
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor

WORKERS = 10          # threads: one machine each at a time
SUBMIT_GAP = 0.3      # s between hand-offs to the pool: 10 per 3 s, the limit
RETRY_SLEEP = 3.0     # s after a 429 or a busy machine: one rate window
RETRIES = 5           # retries of a submit before the machine is given up
POLL_EVERY = 1.0      # s between two GETs of an action (the daemon's poll_interval)
FINAL = {"Succeeded", "Failed", "TimeOut", "Cancelled"}
SCOPE = "https://api.securitycenter.microsoft.com/.default"


class Http:
    """One keep-alive HTTPS connection per thread to the one host."""

    def __init__(self, base, ca_file):
        self.host = urllib.parse.urlsplit(base)
        self.ctx = ssl.create_default_context(cafile=ca_file)
        self.local = threading.local()
        self.token = None

    def _conn(self):
        c = getattr(self.local, "conn", None)
        if c is None:
            c = http.client.HTTPSConnection(self.host.hostname, self.host.port,
                                            context=self.ctx, timeout=30)
            self.local.conn = c
        return c

    def call(self, method, url, body=None, headers=None):
        """(status, body bytes); a dropped keep-alive connection is reopened once."""
        parts = urllib.parse.urlsplit(url)
        target = parts.path + ("?" + parts.query if parts.query else "")
        hdrs = dict(headers or {})
        if self.token and parts.path.startswith("/api/"):
            hdrs["Authorization"] = "Bearer " + self.token
        for attempt in (1, 2):
            conn = self._conn()
            try:
                conn.request(method, target, body=body, headers=hdrs)
                r = conn.getresponse()
                return r.status, r.read()
            except (http.client.HTTPException, OSError):
                conn.close()
                self.local.conn = None
                if attempt == 2:
                    raise

    def json_call(self, method, url, payload=None):
        body = None if payload is None else json.dumps(payload).encode()
        headers = {"Content-Type": "application/json"} if body is not None else {}
        status, data = self.call(method, url, body, headers)
        try:
            return status, json.loads(data) if data else {}
        except ValueError:
            return status, {}


def commands_payload(put_file, script, script_args, get_file, comment):
    return {"Commands": [
        {"type": "PutFile", "params": [{"key": "FileName", "value": put_file}]},
        {"type": "RunScript", "params": [{"key": "ScriptName", "value": script},
                                         {"key": "Args", "value": script_args}]},
        {"type": "GetFile", "params": [{"key": "Path", "value": get_file}]}],
        "Comment": comment}


class ScriptClient:
    def __init__(self, ready, client_id, secret, payload, out_dir):
        self.base = ready["base"]
        self.tenant = ready["tenant"]
        self.client_id, self.secret = client_id, secret
        self.payload = payload
        self.out_dir = out_dir
        self.http = Http(self.base, ready["ca_file"])
        self.lock = threading.Lock()
        self.submit_times = []   # (time, http status) of every runliveresponse call

    def get_token(self):
        form = urllib.parse.urlencode({"grant_type": "client_credentials",
                                       "client_id": self.client_id,
                                       "client_secret": self.secret, "scope": SCOPE}).encode()
        status, data = self.http.call(
            "POST", f"{self.base}/{self.tenant}/oauth2/v2.0/token", form,
            {"Content-Type": "application/x-www-form-urlencoded"})
        if status != 200:
            raise RuntimeError(f"token: HTTP {status}")
        self.http.token = json.loads(data)["access_token"]

    def list_machines(self):
        url, out = f"{self.base}/api/machines", []
        while url:
            status, page = self.http.json_call("GET", url)
            if status != 200:
                raise RuntimeError(f"machines: HTTP {status}")
            out += page["value"]
            url = page.get("@odata.nextLink")
        return out

    def submit(self, machine_id):
        """The action's id, or None when the retries ran out or the server refused."""
        url = f"{self.base}/api/machines/{machine_id}/runliveresponse"
        for _ in range(1 + RETRIES):
            status, body = self.http.json_call("POST", url, self.payload)
            with self.lock:
                self.submit_times.append((time.time(), status))
            if status == 201:
                return body["id"]
            code = body.get("error", {}).get("code", "")
            if status == 429 or code == "ActiveRequestAlreadyExists" or status >= 500:
                time.sleep(RETRY_SLEEP)
                continue
            return None
        return None

    def wait_for(self, action_id):
        while True:
            time.sleep(POLL_EVERY)
            status, body = self.http.json_call("GET", f"{self.base}/api/machineactions/{action_id}")
            if status == 200 and body.get("status") in FINAL:
                return body

    def download(self, machine, action):
        for cmd in action["commands"]:
            if cmd["command"]["type"] == "PutFile":
                continue
            url = (f"{self.base}/api/machineactions/{action['id']}/"
                   f"GetLiveResponseResultDownloadLink(index={cmd['index']})")
            for _ in range(1 + RETRIES):
                status, body = self.http.json_call("GET", url)
                if status == 200:
                    break
                time.sleep(RETRY_SLEEP)
            else:
                return False
            status, data = self.http.call("GET", body["value"])
            if status != 200:
                return False
            name = f"{machine['computerDnsName']}-{cmd['index']}-{cmd['command']['type']}"
            with open(os.path.join(self.out_dir, name), "wb") as f:
                f.write(data)
        return True

    def run_machine(self, machine):
        action_id = self.submit(machine["id"])
        if action_id is None:
            return machine["id"], "not submitted"
        action = self.wait_for(action_id)
        if action["status"] != "Succeeded":
            return machine["id"], action["status"]
        return machine["id"], "done" if self.download(machine, action) else "download failed"

    def sweep(self):
        """{machine id: outcome}; the caller times it."""
        os.makedirs(self.out_dir, exist_ok=True)
        self.get_token()
        machines = self.list_machines()
        with ThreadPoolExecutor(WORKERS) as pool:
            futures = []
            for m in machines:
                futures.append(pool.submit(self.run_machine, m))
                time.sleep(SUBMIT_GAP)
            return dict(f.result() for f in futures)
