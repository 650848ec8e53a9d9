"""The demo's simulated fleet: about 500 machines of a contoso.local domain,
written as lrsched-sim's `--machines-file` JSON.

The simulator's generated fleet names its machines `ws-00042.sim.contoso.test`;
the example jobs name real-looking hosts (`ws-0142.contoso.local`, the
laptops and the machine id of jobs/targets/ir-2291.txt), so the demo builds
its own fleet that has them, with the same behaviour mix as the generated
one: some offline for a while, some never online, some busy with someone
else's session at the start. Deterministic for a given seed; standard
library only; 500 machines take a few milliseconds.
"""

import datetime
import random

# The hosts the IR-2291 example names (the job file and its target list),
# with what each does in the demo: the alert's machine and one workstation
# answer at once, one is busy for a while, one laptop comes online late.
IR_HOSTS = [
    ("ws-0142.contoso.local", None, {"busy_until": 6}),
    ("ws-0877.contoso.local", None, {}),
    ("lt-jdoe-01.contoso.local", None, {}),
    ("lt-jdoe-02.contoso.local", None, {"online_at": 8}),
    ("ws-0311.contoso.local", "9f3c2a71b8e4d05c6a1f2e3d4c5b6a7980f1e2d3", {}),
]


ODD_HOSTS = ("dc-03.contoso.local", "ws-0877.contoso.local")


def _iso(t):
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def _behaviour(rnd, now, m, mix):
    """Online at once, offline for a while, never online, or busy: one draw,
    so the fractions partition the fleet as the simulator's do."""
    b = rnd.random()
    never, offline, busy = mix["never"], mix["never"] + mix["offline"], \
        mix["never"] + mix["offline"] + mix["busy"]
    m["healthStatus"] = "Active"
    m["lastSeen"] = _iso(now - datetime.timedelta(hours=rnd.random() * 6))
    if b < never:
        m["never_online"] = True
        m["healthStatus"] = "Inactive"
        m["lastSeen"] = _iso(now - datetime.timedelta(days=30 + rnd.random() * 60))
    elif b < offline:
        lo, hi = mix["online_after"]
        m["online_at"] = round(lo + rnd.random() * (hi - lo), 1)
        m["healthStatus"] = "Inactive" if rnd.random() < 0.8 else "Active"
        m["lastSeen"] = _iso(now - datetime.timedelta(days=1 + rnd.random() * 9))
    elif b < busy:
        lo, hi = mix["busy_for"]
        m["busy_until"] = round(lo + rnd.random() * (hi - lo), 1)


def fleet(n=500, seed=2291, mix=None):
    """A list of n machines (the simulator's machines-file objects), at
    least the IR hosts, a few servers and two domain controllers."""
    mix = mix or {"never": 0.04, "offline": 0.12, "busy": 0.10,
                  "online_after": (3, 30), "busy_for": (2, 10)}
    rnd = random.Random(seed)
    now = datetime.datetime.now(datetime.timezone.utc)
    used_ids = {mid for _, mid, _ in IR_HOSTS if mid}

    def new_id():
        while True:
            mid = "%040x" % rnd.getrandbits(160)
            if mid not in used_ids:
                used_ids.add(mid)
                return mid

    machines = []

    def add(name, os_platform, group, group_id, tags, mid=None, behaviour=None):
        m = {"id": mid or new_id(), "computerDnsName": name, "osPlatform": os_platform,
             "rbacGroupName": group, "rbacGroupId": group_id, "machineTags": tags,
             "lastIpAddress": "10.%d.%d.%d" % (group_id, len(machines) // 250,
                                               len(machines) % 250 + 1),
             "firstSeen": _iso(now - datetime.timedelta(days=100 + rnd.random() * 600))}
        if rnd.random() < 0.03:
            m["machineTags"] = tags + ["no-live-response"]
        if behaviour is None:
            _behaviour(rnd, now, m, mix)
        else:
            m["healthStatus"] = "Active"
            m["lastSeen"] = _iso(now - datetime.timedelta(minutes=5))
            m.update(behaviour)
        machines.append(m)

    # Domain controllers: Tier0, what nightly-autoruns collects from.
    for i in range(1, max(2, n // 40) + 1):
        add("dc-%02d.contoso.local" % i, rnd.choice(["WindowsServer2019", "WindowsServer2022"]),
            "Domain Controllers", 1, ["tier0", "dc"])
    # Servers: a fifth of the fleet, some Tier1, some Linux.
    for i in range(1, max(5, n // 5) + 1):
        role = rnd.choice(["app", "sql", "file", "web", "print"])
        os_platform = rnd.choice(["WindowsServer2019", "WindowsServer2022",
                                  "WindowsServer2022", "Linux"])
        add("srv-%s-%03d.contoso.local" % (role, i), os_platform, "Servers", 2,
            ["server"] + (["tier1"] if rnd.random() < 0.3 else []))
    # Workstations and laptops fill the rest; the IR hosts are among them.
    ir_names = {name for name, _, _ in IR_HOSTS}
    laptops = n * 8 // 100
    ws_numbers = sorted(rnd.sample([k for k in range(1, max(1000, 2 * n)) if k not in (142, 311, 877)],
                                   max(0, n - len(machines) - len(IR_HOSTS) - laptops)))
    for k in ws_numbers:
        add("ws-%04d.contoso.local" % k, rnd.choice(["Windows10", "Windows11", "Windows11"]),
            "Workstations", 3, ["workstation"])
    users = ["abrown", "cwong", "dsmith", "ekim", "fmartin", "gpatel", "hnguyen", "ilopez"]
    for i in range(laptops):
        name = "lt-%s-%02d.contoso.local" % (users[i % len(users)], i // len(users) + 1)
        add(name, rnd.choice(["Windows11", "macOS"]), "Workstations", 3,
            ["workstation", "laptop"])
    for name, mid, behaviour in IR_HOSTS:
        assert name not in {m["computerDnsName"] for m in machines}
        add(name, "Windows11", "Workstations", 3,
            ["workstation"] + (["laptop"] if name.startswith("lt-") else []), mid, behaviour)
    assert len(ir_names) == len(IR_HOSTS)
    # Their scripts print a line the others' do not: what `lrsched stack`
    # puts first (one domain controller, one of the IR hosts).
    for m in machines:
        if m["computerDnsName"] in ODD_HOSTS:
            m["odd_output"] = True
    return machines


def describe(machines):
    """'500 machines: 23 never online, 61 offline for a while, 48 busy'."""
    never = sum(1 for m in machines if m.get("never_online"))
    offline = sum(1 for m in machines if m.get("online_at"))
    busy = sum(1 for m in machines if m.get("busy_until"))
    return (f"{len(machines)} machines: {never} never online, {offline} offline for a "
            f"while, {busy} busy at the start")
