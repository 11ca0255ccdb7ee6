#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Run a simulated fleet: mosquitto brokers on distinct loopback addresses, a
ternd attached to each (its own SQLite shard, as a sharded deployment has it),
and tern-sim worker processes (the real SDK, one process per ~17,000 devices,
since every process here may hold 20,000 files at most), driven by a scenario:

    devices = 2000          # the whole fleet
    brokers = 1             # shards; devices are split evenly
    workers_per_broker = 1  # tern-sim processes per broker
    ramp = 1000             # devices brought online per second, per worker
    period_ms = 5000        # telemetry period of every device
    payload = 64            # bytes of a reading message, about
    duration = 40           # seconds the devices run (then they drain)
    drain = 30              # seconds they may take to empty their outboxes
    outage_at = 15          # every broker goes down at this second ...
    outage_for = 10         # ... for this long (0: no outage)
    twin_at = 28            # a fleet-wide twin change at this second (0: none)
    twin_key = interval
    backoff = full          # fixed | additive | full
    base_ms = 500
    cap_ms = 10000
    jitter_ms = 1000
    link_faults = 0         # per minute, per worker
    outbox_sectors = 8      # of 512 B: what a device can queue while its broker is away
    ternd = yes             # no: brokers and devices only (the herd experiment)

It prints one line a second for the whole fleet (devices online, connects and
connection attempts per second, messages sent and acknowledged, resident
memory per device) and at the end checks every device's telemetry against
ternd's store: what the devices sent, ternd must hold once each.

usage: fleet.py --sim PATH [--ternd PATH] [--scenario FILE] [key=value ...]
                [--work DIR] [--json-out FILE] [--series-out FILE] [--quiet]"""
import argparse
import csv
import json
import os
import pwd
import resource
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

DEFAULTS = {
    "devices": 2000, "brokers": 1, "workers_per_broker": 1, "ramp": 1000, "period_ms": 5000,
    "payload": 64, "duration": 40, "drain": 30, "outage_at": 0, "outage_for": 0, "twin_at": 0,
    "twin_key": "interval", "backoff": "full", "base_ms": 500, "cap_ms": 10000,
    "jitter_ms": 1000, "link_faults": 0, "ternd": "yes", "outbox_sectors": 8,
}
NOFILE = 20000


def parse_scenario(path, overrides):
    cfg = dict(DEFAULTS)
    if path:
        with open(path) as f:
            for line in f:
                line = line.split("#", 1)[0].strip()
                if line:
                    k, _, v = line.partition("=")
                    cfg[k.strip()] = v.strip()
    for o in overrides:
        k, _, v = o.partition("=")
        cfg[k.strip()] = v.strip()
    for k, v in list(cfg.items()):
        if isinstance(DEFAULTS.get(k), int) and not isinstance(v, int):
            cfg[k] = int(float(v))
    return cfg


def limit_files():
    resource.setrlimit(resource.RLIMIT_NOFILE, (NOFILE, NOFILE))


def free_port(addr):
    with socket.socket() as s:
        s.bind((addr, 0))
        return s.getsockname()[1]


def cpu_seconds(pid):
    """utime + stime of a process, in seconds (from /proc)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except OSError:
        return None


class Broker:
    def __init__(self, work, i):
        self.i, self.addr = i, f"127.0.0.{10 + i}"
        self.port = free_port(self.addr)
        self.dir = os.path.join(work, f"broker{i}")
        os.makedirs(self.dir, exist_ok=True)
        self.conf = os.path.join(self.dir, "mosquitto.conf")
        with open(self.conf, "w") as f:
            # the user it runs as must be able to write its persistence file (as root,
            # mosquitto would switch to the user "mosquitto" otherwise)
            f.write(f"user {pwd.getpwuid(os.getuid()).pw_name}\n"
                    f"listener {self.port} {self.addr}\nallow_anonymous true\n"
                    "max_connections -1\nmax_queued_messages 1000000\n"
                    f"persistence true\npersistence_location {self.dir}/\n"
                    "autosave_interval 1800\nset_tcp_nodelay true\n")
        self.log = open(os.path.join(self.dir, "mosquitto.log"), "ab")
        self.proc = None
        self.cpu_base = 0.0

    def start(self):
        self.proc = subprocess.Popen(["/usr/sbin/mosquitto", "-c", self.conf], stdout=self.log,
                                     stderr=subprocess.STDOUT, preexec_fn=limit_files)
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                socket.create_connection((self.addr, self.port), 0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"mosquitto {self.i} did not start")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.cpu_base += cpu_seconds(self.proc.pid) or 0.0
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def cpu(self):
        """CPU seconds used by this broker so far, across restarts."""
        now = cpu_seconds(self.proc.pid) if self.proc and self.proc.poll() is None else 0.0
        return self.cpu_base + (now or 0.0)


class Ternd:
    def __init__(self, work, exe, broker):
        self.state = os.path.join(work, f"ternd{broker.i}")
        self.log = open(os.path.join(work, f"ternd{broker.i}.log"), "ab")
        self.proc = subprocess.Popen([exe, "--broker", broker.addr, "--port", str(broker.port),
                                      "--state-dir", self.state, "--api-port", "0",
                                      "--no-share", "--id", f"ternd-{broker.i}"],
                                     stdout=self.log, stderr=subprocess.STDOUT,
                                     preexec_fn=limit_files)
        deadline = time.time() + 15
        while not os.path.exists(os.path.join(self.state, "api.url")):
            if time.time() > deadline or self.proc.poll() is not None:
                raise RuntimeError("ternd did not start: see " + self.log.name)
            time.sleep(0.05)
        self.url = open(os.path.join(self.state, "api.url")).read().strip()
        self.token = open(os.path.join(self.state, "token")).read().strip()

    def api(self, path, method="GET", body=None):
        req = urllib.request.Request(self.url + path, method=method,
                                     data=json.dumps(body).encode() if body is not None else None)
        req.add_header("Authorization", "Bearer " + self.token)
        req.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(req, timeout=120) as r:
            return json.loads(r.read() or b"null")

    def stored(self):
        """{device: telemetry messages stored} from the shard's SQLite."""
        con = sqlite3.connect(f"file:{self.state}/ternd.db?mode=ro", uri=True, timeout=30)
        try:
            return dict(con.execute("SELECT device, COUNT(*) FROM messages GROUP BY device"))
        finally:
            con.close()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class Worker:
    """One tern-sim process; its per-second JSON lines are kept as they come."""

    def __init__(self, work, exe, broker, index, n, cfg, k):
        self.name = f"w{broker.i}-{index}"
        self.stats = os.path.join(work, self.name + ".csv")
        self.prefix = f"sim-{broker.i}-{index}-"
        argv = [exe, "--broker", f"{broker.addr}:{broker.port}", "--devices", str(n),
                "--prefix", self.prefix, "--ramp", str(cfg["ramp"]),
                "--period-ms", str(cfg["period_ms"]), "--payload", str(cfg["payload"]),
                "--duration", str(cfg["duration"]), "--drain", str(cfg["drain"]),
                "--backoff", str(cfg["backoff"]), "--base-ms", str(cfg["base_ms"]),
                "--cap-ms", str(cfg["cap_ms"]), "--jitter-ms", str(cfg["jitter_ms"]),
                "--link-faults", str(cfg["link_faults"]),
                "--outbox-sectors", str(cfg["outbox_sectors"]),
                # four source addresses of its own: past ~14,000 connections from one address
                # to one broker, the kernel's search for a free source port dominates
                "--bind", ",".join(f"127.1.{k}.{j}" for j in range(1, 5)),
                "--json", "--stats-file", self.stats]
        if cfg.get("twin_key"):
            argv += ["--twin-key", str(cfg["twin_key"])]
        if cfg.get("password"):
            argv += ["--password", str(cfg["password"])]
        self.err = open(os.path.join(work, self.name + ".log"), "ab")
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=self.err, text=True,
                                     preexec_fn=limit_files)
        self.last, self.final, self.lines = {}, None, []
        self.thread = threading.Thread(target=self.read, daemon=True)
        self.thread.start()

    def read(self):
        for line in self.proc.stdout:
            try:
                o = json.loads(line)
            except ValueError:
                continue
            if o.get("final"):
                self.final = o
            else:
                self.last = o
                self.lines.append(o)


SUM = ("started", "online", "connects", "attempts", "refused", "connack_refused", "sent",
       "acked", "queued", "twin_applied", "twin_reported", "rss_kb")


class Fleet:
    def __init__(self, cfg, sim, ternd_exe, work, quiet=False, brokers=None, out=sys.stdout):
        self.cfg, self.sim, self.work, self.quiet, self.out = cfg, sim, work, quiet, out
        n_brokers = int(cfg["brokers"])
        self.brokers = brokers if brokers is not None else [Broker(work, i)
                                                            for i in range(n_brokers)]
        self.external = brokers is not None
        self.ternd_exe = ternd_exe if str(cfg["ternd"]) == "yes" else None
        self.ternds, self.workers, self.series, self.events = [], [], [], []

    def say(self, text):
        if not self.quiet:
            print(text, file=self.out, flush=True)

    def start(self):
        if not self.external:
            for b in self.brokers:
                b.start()
        if self.ternd_exe:
            self.ternds = [Ternd(self.work, self.ternd_exe, b) for b in self.brokers]
        total, nb = int(self.cfg["devices"]), len(self.brokers)
        per_w = int(self.cfg["workers_per_broker"])
        k = 0
        for bi, b in enumerate(self.brokers):
            for wi in range(per_w):
                slots = nb * per_w
                n = total // slots + (1 if k < total % slots else 0)
                k += 1
                self.workers.append(Worker(self.work, self.sim, b, wi, n, self.cfg, k))
        self.t0 = time.time()

    def aggregate(self):
        row = {f: sum(int(w.last.get(f, 0)) for w in self.workers) for f in SUM}
        row["t"] = round(time.time() - self.t0, 1)
        row["rss_per_device_b"] = (row["rss_kb"] * 1024 // row["started"]) if row["started"] else 0
        row["broker_cpu_s"] = round(sum(b.cpu() for b in self.brokers), 2)
        return row

    def line(self, r):
        return (f"t={r['t']:6.1f}s online {r['online']:>6}/{self.cfg['devices']}"
                f"  connects/s {r['connects']:>5}  attempts/s {r['attempts']:>5}"
                f"  refused/s {r['refused']:>5}  sent {r['sent']:>8}  acked {r['acked']:>8}"
                f"  queued {r['queued']:>6}  twin {r['twin_reported']:>6}"
                f"  rss/device {r['rss_per_device_b']} B")

    def run(self):
        """The timeline: outage, twin change; a line a second until every worker ended."""
        cfg, down, restarted, twin_done = self.cfg, False, False, False
        while any(w.proc.poll() is None for w in self.workers):
            time.sleep(1.0)
            t = time.time() - self.t0
            if cfg["outage_for"] and not down and t >= cfg["outage_at"]:
                for b in self.brokers:
                    b.stop()
                down = True
                self.events.append(("outage", t))
                self.say(f"--- t={t:.1f}s: every broker stops for {cfg['outage_for']} s")
            if down and not restarted and t >= cfg["outage_at"] + cfg["outage_for"]:
                for b in self.brokers:
                    b.start()
                restarted = True
                self.events.append(("back", time.time() - self.t0))
                self.say(f"--- t={time.time() - self.t0:.1f}s: brokers back")
            if cfg["twin_at"] and not twin_done and t >= cfg["twin_at"] and self.ternds:
                value = int(time.time())
                answers = [td.api("/v1/fleet/twin/desired", "PATCH", {cfg["twin_key"]: value})
                           for td in self.ternds]
                twin_done = True
                self.events.append(("twin", t))
                self.say(f"--- t={t:.1f}s: fleet-wide twin change {cfg['twin_key']}={value} "
                         f"({sum(a.get('devices', 0) for a in answers)} devices)")
            r = self.aggregate()
            self.series.append(r)
            self.say(self.line(r))
        for w in self.workers:
            w.thread.join(10)

    def check_store(self, settle=60):
        """Per device: telemetry the sim says it sent vs messages ternd stored (once each)."""
        sent = {}
        for w in self.workers:
            if not os.path.exists(w.stats):
                continue
            with open(w.stats) as f:
                for row in csv.DictReader(f):
                    sent[row["id"]] = int(row.get("tele", row["sent"]))
        stored = {}
        deadline = time.time() + settle
        while True:  # ternd may still be storing what the broker queued for it
            stored = {}
            for td in self.ternds:
                stored.update(td.stored())
            if sum(stored.values()) >= sum(sent.values()) or time.time() > deadline:
                break
            time.sleep(1.0)
        lost = {d: n - stored.get(d, 0) for d, n in sent.items() if stored.get(d, 0) < n}
        extra = {d: n - sent.get(d, 0) for d, n in stored.items() if n > sent.get(d, 0)}
        return sent, stored, lost, extra

    def stop(self):
        for w in self.workers:
            if w.proc.poll() is None:
                w.proc.terminate()
                w.proc.wait(30)
        for td in self.ternds:
            td.stop()
        if not self.external:
            for b in self.brokers:
                b.stop()

    def finals(self):
        return [w.final or {} for w in self.workers]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sim", required=True)
    ap.add_argument("--ternd")
    ap.add_argument("--scenario")
    ap.add_argument("--work")
    ap.add_argument("--json-out")
    ap.add_argument("--quiet", action="store_true")
    ap.add_argument("set", nargs="*", help="key=value overrides of the scenario")
    a = ap.parse_args()
    cfg = parse_scenario(a.scenario, a.set)
    if cfg["ternd"] == "yes" and not a.ternd:
        ap.error("the scenario wants ternd: give --ternd")
    work = a.work or tempfile.mkdtemp(prefix="tern-fleet-")
    fleet = Fleet(cfg, a.sim, a.ternd, work, a.quiet)
    result = {"scenario": cfg}
    try:
        fleet.start()
        fleet.run()
        finals = fleet.finals()
        result["finals"] = finals
        if fleet.ternds:
            sent, stored, lost, extra = fleet.check_store()
            result.update(sent=sum(sent.values()), stored=sum(stored.values()),
                          devices_lost=len(lost), lost=sum(lost.values()), extra=len(extra))
            print(f"telemetry: {result['sent']} messages sent by {len(sent)} devices, "
                  f"{result['stored']} stored by ternd, {result['lost']} lost "
                  f"({len(lost)} devices), {len(extra)} devices with more than they sent")
        online = [f.get("online", 0) for f in finals]
        result["online_end"] = sum(online)
        result["series"] = fleet.series
        result["events"] = fleet.events
    finally:
        fleet.stop()
    if a.json_out:
        with open(a.json_out, "w") as f:
            json.dump(result, f)
    ok = not result.get("lost") and not result.get("extra")
    if not a.work and ok:
        shutil.rmtree(work, ignore_errors=True)
    elif not ok:
        print("logs kept in " + work)
    return 0 if ok else 1


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    sys.exit(main())
