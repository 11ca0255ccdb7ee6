#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""`ternctl pub --outbox`: a store-and-forward publisher that loses nothing when
it is killed. N QoS 1 messages go into the outbox file, ternctl is killed with
SIGKILL mid-stream, started again on the same file without a message, and a
Paho subscriber (persistent session) counts the distinct outbox sequence
numbers (MQTT 5 user property "seq") it received. Prints
'fault ternctl_sigkill: sent=N received_unique=M duplicates=D' and 'N passed, M failed'.

usage: ternctl_outbox.py <ternctl>"""
import os
import signal
import subprocess
import sys
import threading
import time

import paho.mqtt.client as mqtt

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from tern_pybroker import Broker  # noqa: E402

TERNCTL = sys.argv[1]
N = 500


def main():
    broker = Broker(prefix="tern-outbox-")
    port, work = broker.port, broker.dir
    seqs, lock, got_all = [], threading.Lock(), threading.Event()

    def on_message(client, userdata, msg):
        props = dict(getattr(msg.properties, "UserProperty", []) or [])
        with lock:
            seqs.append(props.get("seq"))
            if len(set(seqs)) >= N:
                got_all.set()

    sub = mqtt.Client(client_id="outbox-counter", protocol=mqtt.MQTTv5)
    sub.on_message = on_message
    ready = threading.Event()
    sub.on_subscribe = lambda *a: ready.set()
    sub.connect("127.0.0.1", port)
    sub.loop_start()
    sub.subscribe("outbox/t", qos=1)
    results = []
    try:
        if not ready.wait(10):
            raise RuntimeError("paho did not subscribe")
        box = os.path.join(work, "outbox.bin")
        base = [TERNCTL, "pub", "-h", "127.0.0.1", "-p", str(port), "--outbox", box,
                "-t", "outbox/t", "-i", "outbox-dev", "-W", "120"]
        first = subprocess.Popen(base + ["-m", "reading", "--repeat", str(N)],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        # kill it once some, not all, messages are through
        deadline = time.time() + 30
        while time.time() < deadline:
            with lock:
                n = len(seqs)
            if n >= N // 5 or first.poll() is not None:
                break
            time.sleep(0.01)
        killed = first.poll() is None
        if killed:
            first.send_signal(signal.SIGKILL)
        first.wait()
        with lock:
            before = len(set(seqs))
        results.append(killed and before < N)
        print(("PASS" if results[-1] else "FAIL") +
              f" first run killed mid-stream ({before} of {N} received)")
        second = subprocess.run(base, capture_output=True, text=True, timeout=150)
        results.append(second.returncode == 0 and "outbox empty" in second.stdout)
        print(("PASS" if results[-1] else "FAIL") +
              f" second run on the same file drained the outbox: {second.stdout.strip()!r} "
              f"{second.stderr.strip()!r}")
        got_all.wait(10)
        with lock:
            uniq = len(set(seqs))
            dups = len(seqs) - uniq
        print(f"fault ternctl_sigkill: sent={N} received_unique={uniq} duplicates={dups}")
        results.append(uniq == N and None not in seqs)
        print(("PASS" if results[-1] else "FAIL") + " every message arrived, each with its seq")
    finally:
        sub.loop_stop()
        sub.disconnect()
        broker.close()
    passed = sum(results)
    print(f"{passed} passed, {len(results) - passed} failed")
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
