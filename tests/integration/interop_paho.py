#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Interop with an independent MQTT implementation: Eclipse Paho (Debian's
python3-paho-mqtt) publishes to and subscribes from ternctl through a real
mosquitto started here on a free loopback port, for MQTT 3.1.1 and 5, QoS 0-2.

usage: interop_paho.py <path to ternctl>
Prints one line per case and ends with 'N passed, M failed'."""
import os
import subprocess
import sys
import threading
import time

import paho.mqtt.client as mqtt

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from tern_pybroker import Broker  # noqa: E402

TERNCTL = sys.argv[1]
TIMEOUT = 10


def paho_client(version, name):
    proto = mqtt.MQTTv5 if version == "5" else mqtt.MQTTv311
    return mqtt.Client(client_id=name, protocol=proto)


def connect(c, port, version):
    ready = threading.Event()
    c.on_connect = lambda *a: ready.set()
    if version == "5":
        c.connect("127.0.0.1", port, clean_start=True)
    else:
        c.connect("127.0.0.1", port)
    c.loop_start()
    if not ready.wait(TIMEOUT):
        raise RuntimeError("paho did not connect")


def paho_to_ternctl(port, version, qos):
    """ternctl sub receives what paho publishes, in order, exactly once."""
    topic = f"interop/p2t/v{version}/q{qos}"
    msgs = [f"paho-{version}-{qos}-{i}" for i in range(5)]
    sub = subprocess.Popen([TERNCTL, "sub", "-h", "127.0.0.1", "-p", str(port), "-V", version, "-q", str(qos),
                            "-t", topic, "-C", str(len(msgs)), "-W", str(TIMEOUT)],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(0.5)  # let the subscription land before publishing
    c = paho_client(version, f"paho-pub-{version}-{qos}")
    connect(c, port, version)
    for m in msgs:
        c.publish(topic, m, qos=qos).wait_for_publish(TIMEOUT)
    out, err = sub.communicate(timeout=TIMEOUT + 5)
    c.loop_stop()
    c.disconnect()
    got = out.splitlines()
    if sub.returncode != 0 or got != msgs:
        return f"ternctl exit {sub.returncode}, got {got!r}, stderr {err.strip()!r}"
    return None


def ternctl_to_paho(port, version, qos):
    """paho receives what ternctl publishes, with MQTT 5 user properties."""
    topic = f"interop/t2p/v{version}/q{qos}"
    got, done = [], threading.Event()

    def on_message(client, userdata, msg):
        props = {}
        if version == "5" and hasattr(msg, "properties") and hasattr(msg.properties, "UserProperty"):
            props = dict(msg.properties.UserProperty)
        got.append((msg.payload.decode(), msg.qos, props))
        if len(got) == 3:
            done.set()

    c = paho_client(version, f"paho-sub-{version}-{qos}")
    c.on_message = on_message
    connect(c, port, version)
    subscribed = threading.Event()
    c.on_subscribe = lambda *a: subscribed.set()
    c.subscribe(topic, qos=qos)
    if not subscribed.wait(TIMEOUT):
        return "paho SUBACK missing"
    args = [TERNCTL, "pub", "-h", "127.0.0.1", "-p", str(port), "-V", version, "-q", str(qos), "-t", topic,
            "-m", f"tern-{version}-{qos}", "--repeat", "3"]
    if version == "5":
        args += ["-D", "device=dev-42", "-D", "seq=7"]
    r = subprocess.run(args, capture_output=True, text=True, timeout=TIMEOUT + 5)
    ok = done.wait(TIMEOUT)
    c.loop_stop()
    c.disconnect()
    want_props = {"device": "dev-42", "seq": "7"} if version == "5" else {}
    want = [(f"tern-{version}-{qos}", qos, want_props)] * 3
    if r.returncode != 0 or not ok or got != want:
        return f"ternctl exit {r.returncode} ({r.stderr.strip()!r}), paho got {got!r}"
    return None


def main():
    broker = Broker(prefix="tern-paho-")
    passed = failed = 0
    try:
        for version in ("311", "5"):
            for qos in (0, 1, 2):
                for case in (paho_to_ternctl, ternctl_to_paho):
                    why = case(broker.port, version, qos)
                    name = f"{case.__name__} MQTT {version} QoS {qos}"
                    if why is None:
                        passed += 1
                        print(f"PASS {name}")
                    else:
                        failed += 1
                        print(f"FAIL {name}: {why}")
    finally:
        broker.close()
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
