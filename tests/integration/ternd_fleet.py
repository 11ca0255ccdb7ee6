#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""The fleet end to end, every process real: mosquitto with the configuration
`ternd --gen-broker-conf` writes (passwords, the per-device ACL), ternd with
SQLite on disk, devices from examples/device (compact batches, presence, a
twin in their flash file) and ternctl as the operator.

1. Exactly once across faults: two devices send readings while ternd is
   killed (SIGKILL) and restarted, the broker is stopped and restarted, and
   one device is killed (SIGKILL) and restarted on its flash file to drain
   what it had queued. In the database every reading is there once: the
   surviving device's 0..N-1 all, the killed one's a gapless prefix of what
   it took, and no (device, name, time) twice.
2. Twin convergence: a device is off while its desired state changes three
   times; back on, one delta brings it to the net result (applied = desired
   version, reported = desired), whatever stale deltas the broker kept.
3. ACL: device A, with its own password, can neither read B's commands nor
   publish as B (telemetry or presence); nothing of it reaches ternd.
4. The API refuses requests without the token or with a wrong one.
5. Malformed payloads from a device (bad CBOR, not the schema, oversize, no
   sequence number) are refused with a logged reason; ternd keeps running and
   the other devices' data is untouched.

usage: ternd_fleet.py <ternd> <tern_device> <ternctl>"""
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time

import cbor2
import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
import tern_harness  # noqa: E402
from tern_harness import Proc, check, free_port, listening, procs, results, summary  # noqa: E402

TERND, DEVICE, TERNCTL = sys.argv[1:4]


def wait_for(cond, timeout=20.0, step=0.1):
    return tern_harness.wait_for(cond, timeout, step)


work = tempfile.mkdtemp(prefix="tern-fleet-")
state = os.path.join(work, "ternd")
db_path = os.path.join(state, "ternd.db")
port = free_port()
passwords = {d: os.urandom(8).hex() for d in ("dev-a", "dev-b", "dev-c", "dev-d", "dev-e")}
with open(os.path.join(work, "users"), "w") as f:
    f.writelines(f"{d}:{p}\n" for d, p in passwords.items())
subprocess.run([TERND, "--gen-broker-conf", os.path.join(work, "broker"), "--broker-port",
                str(port), "--dev-users", os.path.join(work, "users")],
               check=True, stdout=subprocess.DEVNULL)
ternd_pass = open(os.path.join(work, "broker", "ternd.pass")).read().strip()


def start_broker():
    b = Proc("broker", ["/usr/sbin/mosquitto", "-c",
                        os.path.join(work, "broker", "mosquitto.conf")], work)
    if not wait_for(lambda: listening(port), 5, 0.05):
        raise RuntimeError("mosquitto did not start: " + b.text())
    return b


def start_ternd(name="ternd", *opts):
    return Proc(name, [TERND, "--port", str(port), "--username", "ternd", "--password-file",
                       os.path.join(work, "broker", "ternd.pass"), "--state-dir", state,
                       "--api-port", "0", *opts], work)


def start_device(dev, *opts):
    return Proc(dev, [DEVICE, "-f", os.path.join(work, dev + ".flash"), "-1", "-q", "-u", dev,
                      "-w", passwords[dev], *opts, "127.0.0.1", str(port), dev], work)


def sql(query, *args):
    con = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=10)
    try:
        return con.execute(query, args).fetchall()
    finally:
        con.close()


def n_values(dev):
    return [int(r[0]) for r in sql("SELECT v FROM readings WHERE device = ? AND name LIKE '%:n' "
                                   "ORDER BY t", dev)]


def api(path, token=None, method="GET", body=None):
    return tern_harness.api(state, path, token, method, body)


def ternctl(*args):
    env = dict(os.environ, TERND_STATE_DIR=state)
    return subprocess.run([TERNCTL, *args], env=env, capture_output=True, text=True, timeout=30)


try:
    broker = start_broker()
    # One ternd in front of mosquitto 2.0: plain subscriptions, which a broker restart keeps
    # (shared ones it forgets until ternd subscribes again: part 6 runs two ternd shared).
    ternd = start_ternd("ternd", "--no-share")
    check("ternd starts and writes its API address",
          wait_for(lambda: os.path.exists(os.path.join(state, "api.url"))), ternd.text())
    token = open(os.path.join(state, "token")).read().strip()

    # ---------------------------------------------------------------- 1 -- #
    N = 120  # readings per device: 12 s at 100 ms, a batch a second
    a = start_device("dev-a", "-B", "1", "-p", "100", "-n", str(N), "-t", "90")
    b = start_device("dev-b", "-B", "1", "-p", "100", "-n", str(N), "-t", "90")
    time.sleep(2.5)
    ternd.kill()  # SIGKILL: what it had not committed, it had not acknowledged either
    time.sleep(1.0)
    ternd = start_ternd("ternd", "--no-share")
    time.sleep(1.5)
    broker.stop()  # the devices queue in flash meanwhile
    time.sleep(1.5)
    broker = start_broker()
    time.sleep(1.5)
    b.kill()  # SIGKILL mid-run: its outbox keeps what it had queued
    taken_b = len(n_values("dev-b"))
    b = start_device("dev-b", "-B", "1", "-n", "0", "-t", "60")  # drain only
    check("the surviving device took and delivered everything", a.wait(90) == 0, a.text()[-600:])
    check("the killed device drained its outbox after the restart", b.wait(60) == 0,
          b.text()[-600:])
    want_a = list(range(N))
    check("ternd stored every reading of dev-a", wait_for(lambda: n_values("dev-a") == want_a, 20),
          f"{len(n_values('dev-a'))} of {N}")
    vb = n_values("dev-b")
    check("dev-b: a gapless prefix of what it took, each once",
          vb == list(range(len(vb))) and len(vb) >= max(taken_b, 1), f"{vb[:5]}... {len(vb)}")
    dup = sql("SELECT device, name, t, count(*) FROM readings GROUP BY device, name, t "
              "HAVING count(*) > 1")
    check("no reading stored twice", not dup, str(dup[:3]))
    per_msg = sql("SELECT count(*), count(DISTINCT seq) FROM messages WHERE device = 'dev-a'")[0]
    check("one row per message, one message per seq", per_msg[0] == per_msg[1] > 0, str(per_msg))

    # ---------------------------------------------------------------- 2 -- #
    c = start_device("dev-c", "-B", "2", "-p", "500")
    check("dev-c comes online", wait_for(lambda: (api("/v1/devices/dev-c", token)[0] == 200 and
                                                  api("/v1/devices/dev-c", token)[1]["online"])))
    r = ternctl("twin", "set", "dev-c", "interval=5")
    check("ternctl twin set (online device)", r.returncode == 0, r.stderr)
    check("dev-c applies and reports it", wait_for(
        lambda: api("/v1/devices/dev-c/twin", token)[1].get("reported", {}).get("interval") == 5))
    c.stop()
    for kv in (["interval=10"], ["interval=20", "led=on"], ["mode=eco", "led=null"]):
        r = ternctl("twin", "set", "dev-c", *kv)
        check(f"twin set {' '.join(kv)} while dev-c is off", r.returncode == 0, r.stderr)
    before = c.text().count("twin delta: applied")
    c = start_device("dev-c", "-B", "2", "-p", "500")
    twin = {}

    def converged():
        now = api("/v1/devices/dev-c/twin", token)[1]
        twin.clear()
        twin.update(now)
        return twin.get("in_sync") and twin.get("reported") == twin.get("desired")

    check("dev-c converges after its week off", wait_for(converged, 20), json.dumps(twin))
    check("to the net result of the three changes",
          twin.get("desired") == {"interval": 20, "mode": "eco"} and
          twin.get("applied_version") == twin.get("desired_version") == 4, json.dumps(twin))
    applied_after = c.text().count("twin delta: applied") - before
    check("in one exchange (one delta applied)", applied_after == 1, c.text()[-800:])
    r = ternctl("twin", "get", "dev-c")
    check("ternctl twin get says in sync", r.returncode == 0 and "in sync:         yes" in r.stdout,
          r.stdout + r.stderr)
    c.stop()

    # ---------------------------------------------------------------- 3 -- #
    got = {}  # client id -> topics it received

    def on_message(cl, u, m):
        got.setdefault(u, []).append(m.topic)

    def client(dev):
        cl = mqtt.Client(client_id=f"{dev}-probe", protocol=mqtt.MQTTv5, userdata=dev)
        cl.username_pw_set(dev, passwords[dev])
        cl.on_message = on_message
        cl.connect("127.0.0.1", port)
        cl.loop_start()
        return cl

    mallory = client("dev-a")
    mallory.subscribe([("tern/dev-b/cmd", 1), ("tern/dev-b/twin/desired", 1), ("tern/+/cmd", 1)])
    time.sleep(0.5)
    victim = client("dev-b")
    victim.subscribe("tern/dev-b/cmd", 1)
    time.sleep(0.5)
    op = mqtt.Client(client_id="operator-probe", protocol=mqtt.MQTTv5)
    op.username_pw_set("ternd", ternd_pass)
    op.connect("127.0.0.1", port)
    op.loop_start()
    op.publish("tern/dev-b/cmd", b"reboot", qos=1).wait_for_publish(5)
    wait_for(lambda: "tern/dev-b/cmd" in got.get("dev-b", []), 5)
    time.sleep(0.5)
    check("B receives its own command", got.get("dev-b") == ["tern/dev-b/cmd"], str(got))
    check("A cannot read B's commands (it gets nothing)", not got.get("dev-a"), str(got))
    readings_b = sql("SELECT count(*) FROM readings WHERE device = 'dev-b'")[0][0]
    # ternctl (MQTT 5) reports the PUBACK's reason code
    for topic, payload in (("tern/dev-b/telemetry", "81a3000161000201061a00000001"),
                           ("tern/dev-b/presence", "a101f4"), ("tern/dev-b/twin/reported", "a0")):
        body = os.path.join(work, "body.bin")
        with open(body, "wb") as f:
            f.write(bytes.fromhex(payload))
        r = subprocess.run([TERNCTL, "pub", "-p", str(port), "-i", "dev-a-probe2", "-u", "dev-a",
                            "-P", passwords["dev-a"], "-q", "1", "-t", topic, "-D", "seq=999999",
                            "-f", body], capture_output=True, text=True, timeout=30)
        check(f"A cannot publish as B on {topic}: not authorized",
              r.returncode != 0 and "not authorized" in r.stderr.lower(), r.stdout + r.stderr)
    time.sleep(1)
    check("and nothing of it reaches ternd",
          sql("SELECT count(*) FROM readings WHERE device = 'dev-b'")[0][0] == readings_b and
          sql("SELECT count(*) FROM messages WHERE seq = 999999")[0][0] == 0, ternd.text()[-500:])
    for cl in (mallory, victim, op):
        cl.loop_stop()
        cl.disconnect()

    # ---------------------------------------------------------------- 4 -- #
    check("API: no token, 401", api("/v1/devices")[0] == 401)
    check("API: a wrong token, 401", api("/v1/devices", "0" * 64)[0] == 401)
    check("API: a token one character off, 401",
          api("/v1/devices", token[:-1] + ("0" if token[-1] != "0" else "1"))[0] == 401)
    code, body = api("/v1/devices", token)
    check("API: the token, 200 and the fleet",
          code == 200 and {"dev-a", "dev-b", "dev-c"} <= {d["id"] for d in body["devices"]},
          str(body)[:300])
    check("API: the token file is mode 0600",
          (os.stat(os.path.join(state, "token")).st_mode & 0o777) == 0o600)
    r = subprocess.run([TERNCTL, "devices", "--api", open(os.path.join(state, "api.url")).read().strip(),
                        "--token-file", "/dev/null"], capture_output=True, text=True, timeout=30)
    check("ternctl with no token says so", r.returncode == 1 and r.stderr, r.stderr)

    # ---------------------------------------------------------------- 5 -- #
    d = mqtt.Client(client_id="dev-d", protocol=mqtt.MQTTv5)
    d.username_pw_set("dev-d", passwords["dev-d"])
    d.connect("127.0.0.1", port)
    d.loop_start()
    base_rows = sql("SELECT count(*) FROM readings")[0][0]
    seq = [100]

    def send(payload, with_seq=True):
        p = None
        if with_seq:
            seq[0] += 1
            p = Properties(PacketTypes.PUBLISH)
            p.UserProperty = ("seq", str(seq[0]))
        d.publish("tern/dev-d/telemetry", payload, qos=1, properties=p).wait_for_publish(5)

    mark = len(ternd.text())
    send(b"\x9f\x01\x02")  # an indefinite array never closed: not well-formed
    send(cbor2.dumps({"not": "a pack"}))  # well-formed, not the schema
    send(b"\x81" + cbor2.dumps({0: "x", 2: 1}) * 1 + b"\x00" * 70000)  # oversize
    send(cbor2.dumps([{0: "n", 2: 1, 6: 1764300000}]), with_seq=False)  # no sequence number
    send(cbor2.dumps([{-2: "urn:dev:tern:dev-d:", 0: "ok", 2: 7, 6: 1764300001}]))  # good
    check("the good message after the bad ones is stored", wait_for(
        lambda: sql("SELECT count(*) FROM readings WHERE device = 'dev-d'")[0][0] == 1, 10))
    log = ternd.text()[mark:]
    for reason in ("cbor", "schema", "oversize"):
        check(f"refused and logged: {reason}", f"{reason}" in log and "dev-d" in log, log[-800:])
    check("ternd is still running", ternd.alive())
    check("nothing else changed (only dev-d's one reading added)",
          sql("SELECT count(*) FROM readings")[0][0] == base_rows + 1)
    check("dev-a's data is intact", n_values("dev-a") == want_a)
    d.loop_stop()
    d.disconnect()
    check("ternd stops cleanly on SIGTERM", ternd.stop() == 0, ternd.text()[-500:])

    # ---------------------------------------------------------------- 6 -- #
    # Two ternd behind one broker, shared subscriptions ($share/ternd/...): they split the
    # messages; one of them restarts midway; every reading is stored once.
    t1 = start_ternd("ternd-1", "--id", "ternd-x", "-v")  # (ternd-1: the plain session above)
    t2 = start_ternd("ternd-2", "--id", "ternd-y", "-v")
    wait_for(lambda: "subscribed" in t1.text() and "subscribed" in t2.text(), 10)
    e = start_device("dev-e", "-B", "1", "-p", "50", "-n", "200", "-t", "90")
    time.sleep(3)
    t2.kill()
    time.sleep(1)
    t2 = start_ternd("ternd-2", "--id", "ternd-y", "-v")
    check("dev-e took and delivered everything", e.wait(90) == 0, e.text()[-600:])
    check("both ternd stored every reading of dev-e once",
          wait_for(lambda: n_values("dev-e") == list(range(200)), 20),
          f"{len(n_values('dev-e'))} of 200")
    t1.stop()
    t2.stop()
    import re
    stored = [len(re.findall(r"dev-e: telemetry seq \d+: \d+ readings stored", p.text()))
              for p in (t1, t2)]
    check("the two shared the traffic", all(n > 0 for n in stored) and sum(stored) == 10,
          str(stored))
finally:
    for p in procs:
        if p.alive():
            p.proc.kill()
            p.proc.wait()
    if results.count(False):
        print("scratch kept in " + work)
    else:
        shutil.rmtree(work, ignore_errors=True)
    status = summary()
sys.exit(status)
