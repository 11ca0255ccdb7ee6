#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Device identity end to end, every process real: mosquitto configured by
`ternd --gen-broker-conf` with a TLS listener that requires a client
certificate and takes its CN as the user name for the ACL; ternd as the
fleet's certificate authority; devices from examples/device with their keys
in a file key store; a second mosquitto as the quarantine endpoint. The PKI
is made here with openssl.

1. Provisioning: the device makes its factory key and CSR (-M), the CA signs
   it (`ternd --ca-sign`), the device connects with mTLS.
2. Rotation: past two thirds of its certificate's life the device makes a
   new key, sends a CSR, ternd issues a chain, the device reconnects with it
   and retires the old key (the key file is gone); ternd stored every
   certificate it issued. Twice in a row.
3. Killed mid-rotation (SIGKILL right after its CSR went out): restarted on
   its flash file, it finishes the rotation.
4. Expired while offline: the device's link is cut right after it sent a
   CSR; ternd answers (retained) meanwhile; the device's certificate expires
   while it is cut off. Healed, it connects with its fallback (factory)
   identity, picks up the chain, and comes back on the new certificate.
5. A trust-store update with the wrong root (pushed through ternd's API):
   the device tries it, fails three handshakes, rolls back and connects to
   the quarantine endpoint, where its report arrives (which store, which
   version, the TLS error and certificate). Then the right update, pushed
   there, is tried on the main broker and committed.
6. The ACL keys on the certificate: a client with dev-2's certificate cannot
   publish under dev-1's topics.

usage: identity_e2e.py <ternd> <tern_device>"""
import json
import pwd
import os
import re
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import time

import cbor2
import paho.mqtt.client as mqtt

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
import tern_harness  # noqa: E402
from tern_harness import Proc, check, free_port, listening, procs, results, summary  # noqa: E402

TERND, DEVICE = sys.argv[1:3]


def wait_for(cond, timeout=30.0, step=0.1):
    return tern_harness.wait_for(cond, timeout, step)


work = tempfile.mkdtemp(prefix="tern-identity-")
pki = os.path.join(work, "pki")
os.makedirs(pki)


def openssl(*args):
    subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=pki)


def make_ca(name, cn):
    openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", name + ".key")
    openssl("req", "-x509", "-new", "-key", name + ".key", "-sha256", "-days", "30", "-subj",
            "/CN=" + cn, "-addext", "basicConstraints=critical,CA:TRUE", "-addext",
            "keyUsage=critical,keyCertSign,cRLSign", "-out", name + ".crt")


def make_server(name, ca):
    openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", name + ".key")
    openssl("req", "-new", "-key", name + ".key", "-subj", "/CN=localhost", "-out", name + ".csr")
    with open(os.path.join(pki, name + ".ext"), "w") as f:
        f.write("subjectAltName=DNS:localhost\nextendedKeyUsage=serverAuth\n"
                "basicConstraints=CA:FALSE\n")
    openssl("x509", "-req", "-in", name + ".csr", "-CA", ca + ".crt", "-CAkey", ca + ".key",
            "-CAcreateserial", "-days", "30", "-sha256", "-extfile", name + ".ext", "-out",
            name + ".crt")


make_ca("ca", "tern fleet CA")
make_ca("other-ca", "not the fleet CA")
make_server("server", "ca")
make_server("quarantine", "ca")
P = lambda name: os.path.join(pki, name)  # noqa: E731

port, tls_port, q_port, q_plain = free_port(), free_port(), free_port(), free_port()
state = os.path.join(work, "ternd")
subprocess.run([TERND, "--gen-broker-conf", os.path.join(work, "broker"), "--broker-port",
                str(port), "--broker-cafile", P("ca.crt"), "--broker-cert", P("server.crt"),
                "--broker-key", P("server.key"), "--broker-tls-port", str(tls_port)],
               check=True, stdout=subprocess.DEVNULL)
# The quarantine endpoint: mTLS for devices (any certificate of the fleet CA), and a plain
# loopback listener for the fleet's quarantine service (this test).
qconf = os.path.join(work, "quarantine.conf")
with open(qconf, "w") as f:
    f.write(f"user {pwd.getpwuid(os.getuid()).pw_name}\nper_listener_settings true\n"
            f"listener {q_port} 127.0.0.1\ncafile {P('ca.crt')}\ncertfile {P('quarantine.crt')}\n"
            f"keyfile {P('quarantine.key')}\nrequire_certificate true\n"
            f"use_identity_as_username true\ntls_version tlsv1.2\nallow_anonymous false\n"
            f"listener {q_plain} 127.0.0.1\nallow_anonymous true\n")


def api(path, token, method="GET", body=None):
    return tern_harness.api(state, path, token, method, body)


def key_store(dev):
    """-K DIR (a file key store), or -P MODULE:TOKEN:PIN for the devices in a token."""
    if dev in tokens:
        return ["-P", f"{SOFTHSM_MODULE}:{tokens[dev]}:{TOKEN_PIN}"]
    return ["-K", os.path.join(work, dev + ".keys")]


def provision(dev):
    """The factory: key and CSR on the device, a chain from the CA (1 h)."""
    subprocess.run([DEVICE, *key_store(dev), "-M", os.path.join(work, dev + ".csr"), "127.0.0.1",
                    "0", dev], check=True, capture_output=True, timeout=30)
    with open(os.path.join(work, dev + ".factory.pem"), "w") as f:
        subprocess.run([TERND, "--ca-sign", os.path.join(work, dev + ".csr"), "--ca-cert",
                        P("ca.crt"), "--ca-key", P("ca.key"), "--cert-lifetime", "3600"],
                       check=True, stdout=f, timeout=30)


def start_device(dev, *opts):
    return Proc(dev, [DEVICE, "-f", os.path.join(work, dev + ".flash"), "-1", "-q", "-B", "2",
                      *key_store(dev), "-C",
                      os.path.join(work, dev + ".factory.pem"), "-A", P("ca.crt"), "-N",
                      "localhost", "-Q", f"127.0.0.1:{q_port}", *opts, "127.0.0.1",
                      str(tls_port), dev], work)


# Devices whose keys live in a SoftHSM2 token (a PKCS#11 module, as a secure element's
# would be): a token directory of the test's own, read through SOFTHSM2_CONF.
SOFTHSM_MODULE = "/usr/lib/softhsm/libsofthsm2.so"
TOKEN_PIN = "4321"
tokens = {}


def make_token(dev):
    d = os.path.join(work, "softhsm")
    os.makedirs(os.path.join(d, "tokens"), exist_ok=True)
    conf = os.path.join(d, "softhsm2.conf")
    with open(conf, "w") as f:
        f.write(f"directories.tokendir = {d}/tokens\nobjectstore.backend = file\n"
                "log.level = ERROR\n")
    os.environ["SOFTHSM2_CONF"] = conf
    subprocess.run(["softhsm2-util", "--init-token", "--free", "--label", "tern-" + dev, "--pin",
                    TOKEN_PIN, "--so-pin", "8765"], check=True, capture_output=True, timeout=30)
    tokens[dev] = "tern-" + dev




def count(proc, pattern):
    return len(re.findall(pattern, proc.text()))


def key_files(dev):
    return sorted(os.listdir(os.path.join(work, dev + ".keys")))


try:
    broker = Proc("broker", ["/usr/sbin/mosquitto", "-c",
                             os.path.join(work, "broker", "mosquitto.conf")], work)
    qbroker = Proc("qbroker", ["/usr/sbin/mosquitto", "-c", qconf], work)
    check("brokers start", wait_for(lambda: listening(tls_port) and listening(q_plain), 10),
          broker.text() + qbroker.text())
    # Rotated certificates live 40 s (valid from 60 s back): a device rotates ~7 s after
    # each issue, and one cut off for 45 s is past its certificate's end.
    ternd = Proc("ternd", [TERND, "--port", str(port), "--username", "ternd", "--password-file",
                           os.path.join(work, "broker", "ternd.pass"), "--state-dir", state,
                           "--api-port", "0", "--no-share", "--ca-cert", P("ca.crt"),
                           "--ca-key", P("ca.key"), "--cert-lifetime", "40"], work)
    check("ternd starts", wait_for(lambda: os.path.exists(os.path.join(state, "api.url"))),
          ternd.text())
    token = open(os.path.join(state, "token")).read().strip()

    # ---------------------------------------------------------------- 1 -- #
    provision("dev-1")
    check("factory: the key is in the key store, the CA signed its CSR",
          len(key_files("dev-1")) == 1 and "factory" in key_files("dev-1")[0] and
          "BEGIN CERTIFICATE" in open(os.path.join(work, "dev-1.factory.pem")).read(),
          str(key_files("dev-1")))
    d1 = start_device("dev-1")
    check("the device connects with mTLS (factory identity)",
          wait_for(lambda: "online over" in d1.text(), 20), d1.text())

    # ---------------------------------------------------------------- 2 -- #
    check("rotation 1 (off the factory identity at once): CSR, chain, committed",
          wait_for(lambda: count(d1, r"new identity is committed") >= 1, 40), d1.text())
    check("ternd issued the certificate for request 1",
          re.search(r"issued certificate \S+ to dev-1 \(request 1\)", ternd.text()), ternd.text())
    check("rotation 1 keeps the factory key (the fallback) beside op1",
          wait_for(lambda: len(key_files("dev-1")) == 2), str(key_files("dev-1")))
    check("rotation 2 (of the rotated certificate) commits and retires op1",
          wait_for(lambda: count(d1, r"new identity is committed") >= 2, 40), d1.text())
    check("only the factory key and op2 remain", wait_for(
        lambda: len(key_files("dev-1")) == 2 and not any("op1" in k for k in key_files("dev-1"))),
        str(key_files("dev-1")))
    st, dev_json = api("/v1/devices/dev-1", token)
    check("the API shows the device's current certificate",
          st == 200 and "cert" in json.dumps(dev_json), f"{st} {dev_json}")

    # ---------------------------------------------------------------- 3 -- #
    n_sent = count(d1, r"CSR sent")
    check("a third rotation starts", wait_for(lambda: count(d1, r"CSR sent") > n_sent, 40),
          d1.text())
    d1.kill()  # SIGKILL right after the CSR went out
    d1 = start_device("dev-1")
    check("restarted after a kill mid-rotation, it finishes the rotation",
          wait_for(lambda: "new identity is committed" in d1.text(), 60), d1.text())

    # ---------------------------------------------------------------- 4 -- #
    ternd.signal(signal.SIGSTOP)  # the next CSR waits in ternd's socket
    n_sent = count(d1, r"CSR sent")
    got_csr = wait_for(lambda: count(d1, r"CSR sent") > n_sent, 40)
    d1.signal(signal.SIGUSR1)  # cut eth0: offline from now on
    time.sleep(0.5)
    ternd.signal(signal.SIGCONT)  # answers, retained, while the device is cut off
    m = re.findall(r"valid until (\S+), rotation", d1.text())
    check("the CSR went out and the device is cut off", got_csr, d1.text())
    log_mark = len(d1.text())
    time.sleep(45)  # its certificate (40 s after issue) expires meanwhile
    d1.signal(signal.SIGUSR2)  # heal
    back = wait_for(lambda: "new identity is committed" in d1.text()[log_mark:], 60)
    tail = d1.text()[log_mark:]
    check("expired while offline: it comes back with the fallback identity",
          "identity: fallback (key factory)" in tail, tail)
    check("... and on the new certificate", back, tail)

    # ---------------------------------------------------------------- 5 -- #
    q_reports = []

    def on_q(c, u, msg):
        q_reports.append((msg.topic, msg.payload))

    qc = mqtt.Client(client_id="quarantine-service")
    qc.on_message = on_q
    qc.connect("127.0.0.1", q_plain)
    qc.subscribe("tern/+/quarantine", 1)
    qc.loop_start()
    wrong = open(P("other-ca.crt"), "rb").read()
    right = open(P("ca.crt"), "rb").read()
    st, body = api("/v1/devices/dev-1/trust", token, "PUT", wrong)
    check("the wrong trust store is pushed (version 1)", st == 200 and body.get("version") == 1,
          f"{st} {body}")
    check("the device tries it, fails three handshakes and is quarantined",
          wait_for(lambda: "rolled back, quarantined" in d1.text(), 60), d1.text())
    check("it connects to the quarantine endpoint",
          wait_for(lambda: "connected to the quarantine endpoint" in d1.text(), 30), d1.text())
    check("its report arrives there", wait_for(lambda: len(q_reports) > 0, 30), d1.text())
    if q_reports:
        topic, payload = q_reports[0]
        r = cbor2.loads(payload)
        check("the report: topic, store, version, error, detail, failures",
              topic == "tern/dev-1/quarantine" and r.get(1) == "tentative" and r.get(2) == 1 and
              r.get(3) == "TERN_ERR_CERT" and "localhost" in r.get(4, "") and r.get(5) == 3 and
              r.get(6) in ("operational", "next", "fallback"), repr(r))
    st, body = api("/v1/devices/dev-1/trust", token, "PUT", right)
    check("the right trust store is pushed (version 2)", st == 200 and body.get("version") == 2,
          f"{st} {body}")
    qc.publish("tern/dev-1/trust/new", cbor2.dumps({1: right.decode(), 2: 2}), qos=1,
               retain=True)
    check("received in quarantine, tried on the main broker and committed",
          wait_for(lambda: "trust store version 2 committed" in d1.text(), 60), d1.text())
    check("online on the main broker again", wait_for(
        lambda: d1.text().rfind("online over") > d1.text().rfind("quarantine report"), 30),
        d1.text())
    qc.loop_stop()
    qc.disconnect()

    # ---------------------------------------------------------------- 6 -- #
    provision("dev-2")
    ctx = ssl.create_default_context(cafile=P("ca.crt"))
    c2_cert = os.path.join(work, "dev-2.client.pem")
    # dev-2's factory key stays in its key store; for a paho client, a throwaway key signed
    # by the CA with CN dev-2 stands in.
    openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "dev2.key")
    openssl("req", "-new", "-key", "dev2.key", "-subj", "/CN=dev-2", "-out", "dev2.csr")
    openssl("x509", "-req", "-in", "dev2.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
            "-CAcreateserial", "-days", "1", "-sha256", "-out", "dev2.crt")
    shutil.copy(P("dev2.crt"), c2_cert)
    ctx.load_cert_chain(c2_cert, P("dev2.key"))
    seen = []
    watcher = mqtt.Client(client_id="watcher", protocol=mqtt.MQTTv311)
    watcher.username_pw_set("ternd", open(os.path.join(work, "broker", "ternd.pass")).read()
                            .strip())
    watcher.on_message = lambda c, u, m: seen.append(m.payload)
    watcher.connect("127.0.0.1", port)
    watcher.subscribe("tern/+/cmd/resp", 1)
    watcher.loop_start()
    c2 = mqtt.Client(client_id="dev-2", protocol=mqtt.MQTTv311)
    c2.tls_set_context(ctx)
    c2.connect("localhost", tls_port)
    c2.loop_start()
    time.sleep(0.5)
    c2.publish("tern/dev-1/cmd/resp", b"acl-probe-as-dev-1", qos=1)
    c2.publish("tern/dev-2/cmd/resp", b"acl-probe-as-dev-2", qos=1)
    wait_for(lambda: b"acl-probe-as-dev-2" in seen, 10)
    time.sleep(0.5)
    check("the ACL keys on the certificate: dev-2 publishes as itself, not as dev-1",
          b"acl-probe-as-dev-2" in seen and b"acl-probe-as-dev-1" not in seen, str(seen))
    c2.loop_stop()
    c2.disconnect()
    watcher.loop_stop()
    watcher.disconnect()

    # ---------------------------------------------------------------- 7 -- #
    make_token("dev-3")
    provision("dev-3")
    d3 = start_device("dev-3")
    check("a device with its keys in a PKCS#11 token (SoftHSM2) connects with mTLS and "
          "rotates: the new key is made in the token and signs there",
          wait_for(lambda: "new identity is committed" in d3.text(), 40), d3.text())
    check("... its key store is the token",
          "key store: pkcs11" in d3.text() and "connected with key op1" in d3.text(), d3.text())
    d3.stop()
finally:
    for p in procs:
        try:
            p.signal(signal.SIGCONT)
            p.stop()
        except Exception:  # noqa: BLE001
            pass
    if all(results) and results:
        shutil.rmtree(work, ignore_errors=True)
    else:
        print("logs kept in " + work)

sys.exit(summary())
