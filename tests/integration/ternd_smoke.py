#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""ternd end to end: a real mosquitto on a free loopback port, ternd against
it, and a Paho "device" publishing as tern/wire.h says. Checks, in ternd's
SQLite database (read with Python's sqlite3), that a SenML telemetry message
sent twice with the same seq is stored once, one with a new seq (and one over
MQTT 3.1.1 with its 4-byte seq in front) too, that presence registers the
device online, that a malformed message and one on a bad topic are refused
(logged with their reason) while ternd keeps running, that a message sent
while ternd is down is delivered by the broker after its restart (persistent
session), and that SIGTERM stops it cleanly. Prints PASS/FAIL lines and
'N passed, M failed'.

usage: ternd_smoke.py <ternd>"""
import os
import sqlite3
import struct
import subprocess
import sys
import tempfile
import time

import cbor2
import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from tern_harness import Proc, check, summary, wait_for  # noqa: E402
from tern_pybroker import Broker  # noqa: E402

TERND = sys.argv[1]
DEV = "dev-1"


class Ternd(Proc):
    """ternd against the broker, its log next to its state folder; text() is this run's."""

    def __init__(self, port, state):
        super().__init__("ternd", [TERND, "--broker", "127.0.0.1", "--port", str(port),
                                   "--state-dir", state, "--api-port", "0", "-v"],
                         os.path.dirname(state))

    def text(self, since_start=True):
        return super().text(since_start)


def device(port, v5=True):
    c = mqtt.Client(client_id=f"{DEV}-{'5' if v5 else '311'}-{os.getpid()}",
                    protocol=mqtt.MQTTv5 if v5 else mqtt.MQTTv311)
    c.connect("127.0.0.1", port)
    c.loop_start()
    return c


def publish(c, topic, payload, seq=None, retain=False):
    props = None
    if seq is not None:
        props = Properties(PacketTypes.PUBLISH)
        props.UserProperty = [("seq", str(seq))]
    info = c.publish(topic, payload, qos=1, retain=retain, properties=props)
    info.wait_for_publish(10)
    return info.is_published()


def query(db, sql, args=()):
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    try:
        return con.execute(sql, args).fetchall()
    finally:
        con.close()


def main():
    broker = Broker(prefix="tern-ternd-")
    work = tempfile.mkdtemp(prefix="ternd-smoke-")
    state = os.path.join(work, "state")
    db = os.path.join(state, "ternd.db")
    t = None
    clients = []
    try:
        t = Ternd(broker.port, state)
        check("ternd connects and subscribes",
              wait_for(lambda: "subscribed (QoS 1)" in t.text()), t.text())
        d5 = device(broker.port)
        d3 = device(broker.port, v5=False)
        clients += [d5, d3]
        now = time.time()
        pack1 = [{-2: f"urn:dev:tern:{DEV}:", -3: now, 0: "temp", 1: "Cel", 2: 21.5},
                 {0: "hum", 1: "%RH", 2: 40.25, 6: 1},
                 {0: "door", 4: True, 6: 2}]
        pack2 = [{-2: f"urn:dev:tern:{DEV}:", -3: now + 10, 0: "temp", 1: "Cel", 2: 22.0},
                 {0: "note", 3: "hello", 6: 1}]
        pack3 = [{-2: f"urn:dev:tern:{DEV}:", -3: now + 20, 0: "temp", 1: "Cel", 2: 22.5}]
        presence = {1: True, 2: "1.2.3", 3: "eth0", 4: "eu", 5: 1}
        sent = [publish(d5, f"tern/{DEV}/presence", cbor2.dumps(presence), seq=1, retain=True),
                publish(d5, f"tern/{DEV}/telemetry", cbor2.dumps(pack1), seq=2),
                publish(d5, f"tern/{DEV}/telemetry", cbor2.dumps(pack1), seq=2),  # again
                publish(d5, f"tern/{DEV}/telemetry", cbor2.dumps(pack2), seq=3),
                publish(d5, f"tern/{DEV}/telemetry", b"\xff\x1f\x00", seq=4),  # bad CBOR
                publish(d5, "tern/no!such/telemetry", cbor2.dumps(pack1), seq=5),  # bad id
                # MQTT 3.1.1: the seq is the payload's first 4 bytes, big-endian
                publish(d3, f"tern/{DEV}/telemetry", struct.pack(">I", 6) + cbor2.dumps(pack3))]
        check("the broker took every message", all(sent), str(sent))

        def stored(n):
            return lambda: os.path.exists(db) and query(
                db, "SELECT count(*) FROM readings WHERE device = ?", (DEV,))[0][0] >= n
        wait_for(stored(6))
        wait_for(lambda: "reject topic" in t.text() and "reject cbor" in t.text())
        rows = query(db, "SELECT seq, name, unit, v, vb, vs FROM readings WHERE device = ? "
                         "ORDER BY seq, t, name", (DEV,))
        check("readings stored exactly once (3 + 2 + 1)", len(rows) == 6, str(rows))
        seqs = [r[0] for r in query(db, "SELECT seq FROM messages WHERE device = ? ORDER BY seq",
                                    (DEV,))]
        check("messages 2, 3 and 6 stored, the duplicate and the bad one not", seqs == [2, 3, 6],
              str(seqs))
        want = {(2, f"urn:dev:tern:{DEV}:temp", "Cel", 21.5, None, None),
                (2, f"urn:dev:tern:{DEV}:hum", "%RH", 40.25, None, None),
                (2, f"urn:dev:tern:{DEV}:door", "", None, 1, None),
                (3, f"urn:dev:tern:{DEV}:note", "", None, None, "hello")}
        check("SenML names, units and values resolved", want <= set(rows), str(rows))
        dev = query(db, "SELECT online, fw, link, region, messages, readings FROM devices "
                        "WHERE id = ?", (DEV,))
        check("the device is registered online with its presence",
              dev == [(1, "1.2.3", "eth0", "eu", 3, 6)], str(dev))
        log = t.text()
        check("the duplicate is dropped", "seq 2 already stored" in log, log)
        check("bad CBOR refused as cbor with the device id",
              f"reject cbor: device {DEV}, topic tern/{DEV}/telemetry" in log, log)
        check("the bad topic refused as topic", "reject topic: device no!such" in log, log)
        check("no device registered for the bad topic",
              query(db, "SELECT count(*) FROM devices WHERE id != ?", (DEV,))[0][0] == 0)
        check("ternd is still running", t.proc.poll() is None)

        # Down and up again: the broker keeps ternd's session and queues for it.
        rc = t.stop()
        check("SIGTERM stops ternd cleanly", rc == 0 and "stopped:" in t.text(), t.text())
        publish(d5, f"tern/{DEV}/telemetry", cbor2.dumps(pack3), seq=7)
        t = Ternd(broker.port, state)
        check("a message sent while ternd was down is stored after its restart",
              wait_for(lambda: query(db, "SELECT count(*) FROM messages WHERE device = ? AND "
                                         "seq = 7", (DEV,))[0][0] == 1), t.text())
        check("ternd resumed its session", "session resumed" in t.text(), t.text())
        check("still stored once each",
              query(db, "SELECT count(*) FROM readings WHERE device = ?", (DEV,))[0][0] == 7)
    finally:
        for c in clients:
            c.loop_stop()
            c.disconnect()
        if t is not None and t.stop() != 0:
            print(t.text())
        broker.close()
        subprocess.run(["rm", "-rf", work])
    return summary()


if __name__ == "__main__":
    sys.exit(main())
