#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Faults against a real mosquitto, 10,000 QoS 1 messages each, through the
device example (examples/device: tern_uplink over two links with a flash-file
outbox). An independent Eclipse Paho subscriber with a persistent session
counts the distinct sequence numbers (MQTT 5 user property "seq", or the
payload's first 4 bytes in MQTT 3.1.1) and checks that duplicates are true
duplicates (same sequence number, same content) and that every reading
0..9,999 arrived under exactly one sequence number.

  broker_restart  mosquitto is stopped mid-stream and started again on the
                  same port and persistence; the device waits out its backoff
  link_cut        the preferred link (eth0) is cut mid-stream: failover to
                  lte0 with the session resumed, then healed: fail back
  sigkill         MQTT 3.1.1; the device is killed with SIGKILL mid-stream and
                  started again on the same flash file

Prints 'fault <scenario>: sent=N received_unique=M duplicates=D' and exits 0
only if all arrived. usage: fault_scenarios.py <tern_device> <scenario>"""
import json
import os
import signal
import struct
import subprocess
import sys
import threading
import time

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from tern_pybroker import Broker  # noqa: E402

DEVICE, SCENARIO = sys.argv[1], sys.argv[2]
N = 10000
TIMEOUT_S = 120


class Counter:
    """The receiver: deduplicates by sequence number, as an application would."""

    def __init__(self, port, v311_payload):
        self.v311 = v311_payload
        self.lock = threading.Lock()
        self.by_seq = {}        # seq -> payload
        self.seq_of_n = {}      # reading number -> seq
        self.duplicates = 0
        self.errors = []
        self.ready = threading.Event()
        c = mqtt.Client(client_id="fault-counter", protocol=mqtt.MQTTv5)
        c.on_message = self.on_message
        c.on_subscribe = lambda *a: self.ready.set()
        c.reconnect_delay_set(0.05, 0.5)
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = 600
        c.connect("127.0.0.1", port, clean_start=False, properties=props)
        c.loop_start()
        c.subscribe("tern/+/telemetry", qos=1)
        self.client = c

    def on_message(self, client, userdata, msg):
        body = msg.payload
        if self.v311:
            if len(body) < 4:
                self.errors.append(f"payload without its sequence number: {body!r}")
                return
            seq, body = struct.unpack(">I", body[:4])[0], body[4:]
        else:
            props = dict(getattr(msg.properties, "UserProperty", []) or [])
            if "seq" not in props:
                self.errors.append("message without the seq user property")
                return
            seq = int(props["seq"])
        with self.lock:
            if seq in self.by_seq:
                self.duplicates += 1
                if self.by_seq[seq] != body:
                    self.errors.append(f"seq {seq} came twice with different contents")
                return
            self.by_seq[seq] = body
            n = json.loads(body)["n"]
            if n in self.seq_of_n:
                self.errors.append(f"reading {n} under two sequence numbers")
            self.seq_of_n[n] = seq

    def unique(self):
        with self.lock:
            return len(self.by_seq)

    def wait_for(self, count, timeout):
        deadline = time.time() + timeout
        while time.time() < deadline and self.unique() < count:
            time.sleep(0.02)
        return self.unique() >= count

    def close(self):
        self.client.loop_stop()
        self.client.disconnect()


def main():
    extra = "persistence true\nmax_queued_messages 0\nset_tcp_nodelay true\n"
    broker = Broker(extra=extra + "persistence_location {dir}/\n", prefix="tern-fault-")
    port, work = broker.port, broker.dir
    v311 = SCENARIO == "sigkill"
    counter = Counter(port, v311)
    if not counter.ready.wait(10):
        raise SystemExit("paho did not subscribe")
    flash = os.path.join(work, "device.flash")
    base = [DEVICE, "-f", flash, "-q", "-s", "1000", "-t", str(TIMEOUT_S)]
    if v311:
        base.append("-3")
    if SCENARIO == "sigkill":
        # every reading is taken at once and waits in flash: the kill lands mid-drain
        first = base + ["-n", str(N), "-k", str(N), "-p", "1"]
    else:
        first = base + ["-n", str(N), "-k", "5", "-p", "5"]  # 1,000 readings a second
    log = open(os.path.join(work, "device.log"), "w+")
    dev = subprocess.Popen(first + ["127.0.0.1", str(port), "fault-dev"], stdout=log,
                           stderr=subprocess.STDOUT)
    checks = []
    try:
        if not counter.wait_for(N // 10, 60):
            raise RuntimeError(f"the stream did not start: {counter.unique()} received")
        if SCENARIO == "broker_restart":
            broker.stop()
            time.sleep(1.0)
            broker.restart()
        elif SCENARIO == "link_cut":
            dev.send_signal(signal.SIGUSR1)  # cut eth0
            time.sleep(1.5)
            dev.send_signal(signal.SIGUSR2)  # heal it
        elif SCENARIO == "sigkill":
            dev.kill()
            dev.wait()
            dev = subprocess.Popen(base + ["-n", "0", "127.0.0.1", str(port), "fault-dev"],
                                   stdout=log, stderr=subprocess.STDOUT)
        else:
            raise SystemExit(f"unknown scenario {SCENARIO}")
        counter.wait_for(N, TIMEOUT_S)
        rc = dev.wait(TIMEOUT_S)
        time.sleep(0.3)  # a last duplicate may still be on its way
    finally:
        if dev.poll() is None:
            dev.kill()
        counter.close()
        log.seek(0)
        out = log.read()
        broker.close()
    unique = counter.unique()
    print(f"fault {SCENARIO}: sent={N} received_unique={unique} duplicates={counter.duplicates}")
    checks.append(("device exited 0", rc == 0))
    checks.append(("all received", unique == N))
    checks.append(("every reading once", sorted(counter.seq_of_n) == list(range(N))))
    checks.append(("no bad message", not counter.errors))
    checks.append(("device says nothing is left",
                   "0 rejected, 0 evicted, 0 still queued" in out))
    if SCENARIO == "broker_restart":
        checks.append(("went offline and resumed its session",
                       "offline" in out and "session present: yes" in out))
        # every reconnect waits for its link's jittered backoff: over a 1 s outage two
        # links try a handful of times each, where a retry loop would try hundreds
        attempts = out.count("(connection refused or unreachable)")
        print(f"reconnect attempts while the broker was down: {attempts}")
        checks.append(("reconnects follow the backoff", 1 <= attempts <= 16))
    if SCENARIO == "link_cut":
        checks.append(("failed over to lte0", "link switched eth0 -> lte0" in out))
        checks.append(("failed back to eth0", "link switched lte0 -> eth0" in out))
        checks.append(("session resumed over lte0", "online over lte0 (session present: yes)"
                       in out))
    if SCENARIO == "sigkill":
        checks.append(("restart found the queue", "records waiting" in out and
                       out.count("outbox ") >= 2))
    failed = [name for name, ok in checks if not ok]
    for e in counter.errors[:5]:
        print("  error:", e)
    if failed:
        print("device output:\n" + out[-3000:])
        print("failed:", ", ".join(failed))
        return 1
    print(f"{len(checks)} checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
