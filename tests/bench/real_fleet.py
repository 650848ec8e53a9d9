"""The benchmark's realistic fleet (issue 11, item 5; SPEC §8): one tenant of
200 machines where some come online late, some never, some are busy with a
foreign session, swept once by lrsched and once by the script-style client
(script_client.py), each against a fresh lrsched-sim started with the same
fleet and flags. Prints both clients' figures beside the bound computed
from the fleet. Asserts nothing.

The fleet is written as a --machines-file so its make-up is exact (20 late
machines, not "about 10 %"), which the bound needs; the simulator still runs
it on wall-clock time from its own start. Two sweeps of about 1-3 minutes.
"""

import hashlib
import json
import math
import os
import random
import time
from datetime import datetime, timedelta, timezone

from script_client import ScriptClient, commands_payload
from simenv import CLIENT_ID, SECRET, SimTenant

N = 200
CALLS, PER = 10, 3.0            # submit_rate: 10 per 3 s
SLOTS, OFFLINE_SLOTS = 10, 3    # concurrent_sessions (pending counted), offline_slots
EXPIRY = 15.0                   # queue_expiry, the simulator's and the daemon's
PUT_S, SCRIPT_S, GET_S = 0.2, 0.5, 0.3   # run time of each command at the server
T = PUT_S + SCRIPT_S + GET_S
LATE, NEVER, BUSY = (2.0, 12.0), "never", (4.0, 12.0)

PUT, SCRIPT, ARGS, GET = "bench-tool.exe", "bench-collect.ps1", "-Out C:\\Windows\\Temp\\b.csv", \
    "C:\\Windows\\Temp\\b.csv"
JOB = f"""description: benchmark sweep of a realistic fleet
targets:
  tags: [server, workstation]
commands:
  - PutFile: {PUT}
  - RunScript: {SCRIPT}
    Args: '{ARGS}'
  - GetFile: '{GET}'
comment: benchmark real fleet
retry: {{busy_every: 3s}}
"""


def iso(t):
    return t.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def make_fleet(late_fraction, seed):
    """[(machine json, kind)] with kind in normal/late/never/busy, shuffled."""
    rng = random.Random(seed)
    n_late, n_never, n_busy = round(N * late_fraction), round(N * 0.05), round(N * 0.05)
    kinds = (["late"] * n_late + ["never"] * n_never + ["busy"] * n_busy)
    kinds += ["normal"] * (N - len(kinds))
    rng.shuffle(kinds)
    now = datetime.now(timezone.utc)
    fleet = []
    for i, kind in enumerate(kinds):
        server = i % 5 == 1
        m = {"id": hashlib.sha1(f"real-fleet {seed} {i}".encode()).hexdigest(),
             "computerDnsName": f"{'srv' if server else 'ws'}-{i:05d}.bench.contoso.test",
             "osPlatform": rng.choice(["WindowsServer2022"] if server
                                      else ["Windows10", "Windows11"]),
             "rbacGroupName": "Servers" if server else "Workstations",
             "rbacGroupId": 2 if server else 3,
             "machineTags": ["server" if server else "workstation"],
             "lastIpAddress": f"10.0.{i >> 8}.{i & 255}",
             "healthStatus": "Active",
             "lastSeen": iso(now - timedelta(minutes=rng.uniform(1, 60))),
             "firstSeen": iso(now - timedelta(days=rng.uniform(100, 700)))}
        if kind == "late":   # as the simulator's generator: 4 in 5 reported Inactive
            m["online_at"] = rng.uniform(*LATE)
            if rng.random() < 0.8:
                m["healthStatus"] = "Inactive"
                m["lastSeen"] = iso(now - timedelta(days=rng.uniform(1.1, 10)))
            else:                       # went offline an hour or two ago
                m["lastSeen"] = iso(now - timedelta(hours=rng.uniform(1, 3)))
        elif kind == "never":
            m["never_online"] = True
            m["healthStatus"] = "Inactive"
            m["lastSeen"] = iso(now - timedelta(days=rng.uniform(30, 90)))
        elif kind == "busy":
            m["busy_until"] = rng.uniform(*BUSY)
        fleet.append((m, kind))
    return fleet


def sim_flags(fleet_file):
    return ["--machines-file", fleet_file, "--seed", "11",
            "--submit-calls", str(CALLS), "--submit-window", f"{PER:g}s",
            "--concurrent-sessions", str(SLOTS), "--pending-counts-as-running",
            "--queue-expiry", f"{EXPIRY:g}s", "--putfile-duration", str(PUT_S),
            "--runscript-duration", str(SCRIPT_S), "--getfile-duration", str(GET_S),
            "--read-calls", "100", "--read-window", "3s",
            "--read-calls-long", "1500", "--read-window-long", "1m",
            "--library", PUT, "--library", SCRIPT]


LIMITS = {"submit_rate": {"calls": CALLS, "per": f"{PER:g}s"},
          "read_rate": [{"calls": 100, "per": "3s"}, {"calls": 1500, "per": "1m"}],
          "concurrent_sessions": SLOTS, "pending_counts_as_running": True,
          "offline_slots": OFFLINE_SLOTS, "queue_expiry": f"{EXPIRY:g}s"}


def bound(fleet):
    """(seconds, formula text): the least any client honouring the limits and
    offline_slots needs, whatever it knows in advance."""
    never = sum(1 for _, k in fleet if k == "never")
    reach = len(fleet) - never
    rate = PER * (math.ceil(len(fleet) / CALLS) - 1) + T
    slots = (reach * T + never * EXPIRY) / SLOTS
    offline = math.ceil(never / OFFLINE_SLOTS) * EXPIRY
    text = (f"max(rate: {PER:g} s x (ceil({len(fleet)}/{CALLS}) - 1) + T = {rate:.1f} s, "
            f"slots: ({reach} x T + {never} x {EXPIRY:g} s) / {SLOTS} = {slots:.1f} s, "
            f"offline: ceil({never}/{OFFLINE_SLOTS}) x {EXPIRY:g} s = {offline:.1f} s) "
            f"= {max(rate, slots, offline):.1f} s, T = {T:g} s per session at the server")
    return max(rate, slots, offline), text


def rate_used(times):
    """Share of submit_rate used from the first to the last submit: the
    sliding window lets the first CALLS go at once, so a client that never
    idles while submits remain scores 100 %."""
    if len(times) <= CALLS or times[-1] <= times[0]:
        return float("nan")
    return 100.0 * (len(times) - CALLS) / ((times[-1] - times[0]) * CALLS / PER)


def api_calls(stats):
    """(/api calls, progress reads, {endpoint: calls}): every answer counts;
    the token, the result downloads (blob: no bearer, no rate) and
    /_sim/stats are listed but not in the total."""
    per = {e: sum(by.values()) for e, by in stats["calls"].items() if e != "stats"}
    total = sum(n for e, n in per.items() if e not in ("token", "blob"))
    reads = per.get("machineactions_list", 0) + per.get("machineaction_get", 0)
    return total, reads, per


def run_lrsched(build, workdir, fleet_file, reachable, timeout):
    env = SimTenant(os.path.join(workdir, "lrsched"), build, sim_flags(fleet_file), LIMITS)
    try:
        env.add_job("sweep", JOB)
        env.start_daemon()
        env.wait_for("the sweep to finish", env.run_finished, timeout=timeout, every=0.5)
        created, finished = env.query("SELECT created_at, finished_at FROM runs WHERE id = 1")[0]
        stats = env.stats()
        # Submits the server counted: a refused one (429) goes back to queued.
        times = [t / 1000.0 for (t,) in env.query(
            "SELECT at FROM (SELECT at, to_state, lead(to_state) OVER (PARTITION BY session_id "
            "ORDER BY id) AS next FROM session_events) "
            "WHERE to_state = 'submitting' AND next IS NOT 'queued' ORDER BY at")]
        done = {m for (m,) in env.query("SELECT machine_id FROM sessions WHERE state = 'done'")}
        # When offline-looking sessions were first submitted, against the online ones (item 1).
        per_session = env.query(
            "SELECT s.looks_offline, min(e.at) FROM sessions s JOIN session_events e "
            "ON e.session_id = s.id AND e.to_state = 'submitting' GROUP BY s.id")
        online = [t for off, t in per_session if not off]
        offline = sorted(t for off, t in per_session if off)
        after = sum(1 for t in offline if online and t > max(online))
        return {"sweep": (finished - created) / 1000.0, "stats": stats,
                "rate": rate_used(times), "done": len(done & reachable),
                "note": f"{len(offline)} sessions looked offline at the start; {after} of them "
                        f"were first submitted after the last online-looking one"}
    finally:
        env.stop()


def run_script(build, workdir, fleet_file, reachable):
    env = SimTenant(os.path.join(workdir, "script"), build, sim_flags(fleet_file), LIMITS)
    try:
        client = ScriptClient(env.ready, CLIENT_ID, SECRET,
                              commands_payload(PUT, SCRIPT, ARGS, GET, "benchmark script"),
                              os.path.join(env.workdir, "results"))
        started = time.time()
        outcome = client.sweep()
        took = time.time() - started
        stats = env.stats()
        times = [t for t, status in client.submit_times if status != 429]
        return {"sweep": took, "stats": stats, "rate": rate_used(times),
                "done": sum(1 for m, o in outcome.items() if o == "done" and m in reachable)}
    finally:
        env.stop()


def phase(build, workdir, name, late_fraction):
    workdir = os.path.join(workdir, name)
    os.makedirs(workdir, exist_ok=True)
    fleet = make_fleet(late_fraction, seed=11)
    fleet_file = os.path.join(workdir, "fleet.json")
    with open(fleet_file, "w") as f:
        json.dump([m for m, _ in fleet], f)
    reachable = {m["id"] for m, k in fleet if k != "never"}
    count = {k: sum(1 for _, x in fleet if x == k) for k in ("late", "never", "busy")}
    seconds, formula = bound(fleet)
    print(f"[{name}] {N} machines: {count['late']} online only after {LATE[0]:g}-{LATE[1]:g} s, "
          f"{count['never']} never online, {count['busy']} busy for {BUSY[0]:g}-{BUSY[1]:g} s; "
          f"{CALLS} submits per {PER:g} s, {SLOTS} slots (pending counted), offline_slots "
          f"{OFFLINE_SLOTS}, queue_expiry {EXPIRY:g} s; PutFile + RunScript + GetFile")
    print(f"  bound: {formula}")
    results = [("lrsched", run_lrsched(build, workdir, fleet_file, reachable, 60 + 5 * seconds))]
    results.append(("script", run_script(build, workdir, fleet_file, reachable)))
    print("  rate used: (submits - the first window's) / ((last - first submit) x rate), 429s left "
          "out; 429s: the simulator's throttled; API calls: /api calls, any answer (not the token "
          "or the downloads); progress reads: machineactions list and get")
    for who, r in results:
        total, reads, per = api_calls(r["stats"])
        throttled = r["stats"]["throttled"]
        print(f"  {who:8} sweep {r['sweep']:6.1f} s = {r['sweep'] / seconds:.2f} x bound; "
              f"rate used {r['rate']:5.1f} %; 429s {sum(throttled.values())} (submit_rate "
              f"{throttled['submit_rate']}, concurrency {throttled['concurrency']}, read_rate "
              f"{throttled['read_rate']}); API calls {total} (progress reads {reads}); "
              f"done {r['done']}/{len(reachable)} reachable")
        print(f"  {'':8} calls: " + ", ".join(f"{e} {n}" for e, n in sorted(per.items())))
        if "note" in r:
            print(f"  {'':8} {r['note']}")
    (lr_calls, lr_reads, _), (sc_calls, sc_reads, _) = (api_calls(r["stats"]) for _, r in results)
    print(f"  lrsched / script: sweep {results[0][1]['sweep'] / results[1][1]['sweep']:.2f}, "
          f"API calls {lr_calls / max(1, sc_calls):.2f}, progress reads "
          f"{lr_reads / max(1, sc_reads):.2f}")
