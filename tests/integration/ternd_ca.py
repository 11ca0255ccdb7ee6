#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""ternd as its fleet's certificate authority, every process real: mosquitto
with the configuration `ternd --gen-broker-conf` writes (passwords, the
per-device ACL), ternd with --ca-cert/--ca-key (a CA made with openssl in a
scratch folder), and Paho clients as the devices (tern/wire.h).

1. A device publishes a CSR (`openssl req -new -key ... -subj /CN=dev-1
   -outform DER`) on tern/dev-1/cert/csr; the answer comes retained on
   tern/dev-1/cert/new with the request's serial, and its chain verifies with
   `openssl verify -CAfile`: CN=dev-1, CA:false, clientAuth, the lifetime
   asked for. A client subscribing later gets it too (retained).
2. The same request again (the device missed the answer): the same chain,
   no second certificate in the store.
3. A CSR naming another device on dev-1's topic: no answer, and ternd logs
   the refusal with its reason; so does a CSR that is not one.
4. ACL: dev-1 can neither read dev-2's certificate nor ask for one as dev-2.
5. Trust stores: PUT /v1/devices/dev-1/trust (the API, with its token) gives
   version 1, then 2, each retained on tern/dev-1/trust/new; `ternctl trust`
   gives version 3; a body that is no PEM trust store gets 400; GET
   /v1/devices/dev-1 shows the certificate and the trust version.
6. `ternd --ca-sign` prints a chain openssl verifies (EC and RSA CAs), and
   refuses a request naming another id than --device-id, exit 1.

usage: ternd_ca.py <ternd> <ternctl>"""
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time

import cbor2
import paho.mqtt.client as mqtt

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
import tern_harness  # noqa: E402
from tern_harness import Proc, check, free_port, listening, procs, summary  # noqa: E402

TERND, TERNCTL = sys.argv[1:3]
LIFETIME = 86400


def wait_for(cond, timeout=15.0, step=0.05):
    return tern_harness.wait_for(cond, timeout, step)


work = tempfile.mkdtemp(prefix="tern-ca-")


def path(name):
    return os.path.join(work, name)


def openssl(*args, stdin=None):
    r = subprocess.run(["openssl", *args], input=stdin, capture_output=True)
    if r.returncode != 0:
        raise RuntimeError("openssl " + " ".join(args) + ": " + r.stderr.decode())
    return r.stdout


def make_ca(name, key_args, subject):
    openssl("req", "-x509", "-newkey", *key_args, "-nodes", "-keyout", path(name + ".key"),
            "-out", path(name + ".crt"), "-days", "30", "-subj", subject,
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign")


def make_csr(key, cn):
    """A P-256 key (made once per name) and a DER request for CN=cn signed by it."""
    if not os.path.exists(path(key + ".key")):
        openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
                "-out", path(key + ".key"))
    openssl("req", "-new", "-key", path(key + ".key"), "-subj", "/CN=" + cn, "-outform", "DER",
            "-out", path(key + "-" + cn + ".der"))
    with open(path(key + "-" + cn + ".der"), "rb") as f:
        return f.read()


def split_chain(pem):
    return re.findall(r"-----BEGIN CERTIFICATE-----\n.*?-----END CERTIFICATE-----\n", pem,
                      re.S)


def verify_chain(pem, ca_file):
    """openssl verify of the chain's leaf, its other certificates as untrusted ones."""
    certs = split_chain(pem)
    if len(certs) < 2:
        return False, f"{len(certs)} certificates"
    with open(path("leaf.pem"), "w") as f:
        f.write(certs[0])
    with open(path("rest.pem"), "w") as f:
        f.write("".join(certs[1:]))
    r = subprocess.run(["openssl", "verify", "-CAfile", ca_file, "-untrusted", path("rest.pem"),
                        "-purpose", "sslclient", path("leaf.pem")], capture_output=True)
    return r.returncode == 0, (r.stdout + r.stderr).decode()


def leaf_text(pem):
    return openssl("x509", "-noout", "-text", "-serial", "-subject", "-dates",
                   stdin=split_chain(pem)[0].encode()).decode()


def leaf_span(text):
    nb = re.search(r"notBefore=(.*)", text).group(1)
    na = re.search(r"notAfter=(.*)", text).group(1)
    fmt = "%b %d %H:%M:%S %Y %Z"
    return time.mktime(time.strptime(na, fmt)) - time.mktime(time.strptime(nb, fmt))


class Device:
    """A Paho client with the device's password, collecting what arrives."""

    def __init__(self, port, user, password, subs=()):
        self.got = []
        self.lock = threading.Lock()
        self.c = mqtt.Client(client_id=f"{user}-{len(procs)}-{time.time_ns()}",
                             protocol=mqtt.MQTTv5)
        self.c.username_pw_set(user, password)
        self.c.on_message = self.on_message
        self.subscribed = threading.Event()
        self.c.on_subscribe = lambda *a: self.subscribed.set()
        self.c.connect("127.0.0.1", port)
        self.c.loop_start()
        for s in subs:
            self.subscribed.clear()
            self.c.subscribe(s, qos=1)
            self.subscribed.wait(5)

    def on_message(self, client, userdata, msg):
        with self.lock:
            self.got.append((msg.topic, msg.payload, msg.retain))

    def messages(self, topic):
        with self.lock:
            return [(cbor2.loads(p), r) for t, p, r in self.got if t == topic]

    def publish(self, topic, payload):
        info = self.c.publish(topic, payload, qos=1)
        info.wait_for_publish(10)
        return info.is_published()

    def close(self):
        self.c.loop_stop()
        self.c.disconnect()


def api(method, url_path, token, body=None, ctype="application/x-pem-file"):
    return tern_harness.api(path("state"), url_path, token, method, body, ctype)


def main():
    devices = []
    try:
        # The CA (EC P-256) and an RSA one for --ca-sign; the broker with the generated ACL.
        make_ca("ca", ["ec", "-pkeyopt", "ec_paramgen_curve:P-256"],
                "/O=tern test/CN=tern fleet CA")
        make_ca("rsa-ca", ["rsa:2048"], "/CN=tern RSA CA")
        port = free_port()
        pw = {d: os.urandom(8).hex() for d in ("dev-1", "dev-2")}
        with open(path("users"), "w") as f:
            f.writelines(f"{d}:{p}\n" for d, p in pw.items())
        subprocess.run([TERND, "--gen-broker-conf", path("broker"), "--broker-port", str(port),
                        "--dev-users", path("users")], check=True, stdout=subprocess.DEVNULL)
        acl = open(path("broker/acl")).read()
        check("the generated ACL lets devices ask for certificates and read the answers",
              all(p in acl for p in ("pattern write tern/%u/cert/csr",
                                     "pattern read tern/%u/cert/new",
                                     "pattern read tern/%u/trust/new",
                                     "pattern write tern/%u/quarantine")), acl)
        broker = Proc("broker", ["/usr/sbin/mosquitto", "-c", path("broker/mosquitto.conf")],
                      work)
        if not wait_for(lambda: listening(port), 5):
            raise RuntimeError("mosquitto did not start: " + broker.text())
        ternd = Proc("ternd", [TERND, "--broker", "127.0.0.1", "--port", str(port),
                               "--username", "ternd", "--password-file", path("broker/ternd.pass"),
                               "--state-dir", path("state"), "--api-port", "0",
                               "--ca-cert", path("ca.crt"), "--ca-key", path("ca.key"),
                               "--cert-lifetime", str(LIFETIME)], work)
        check("ternd subscribes to cert/csr with its CA",
              wait_for(lambda: "subscribed (QoS 1)" in ternd.text()
                       and ", cert/csr" in ternd.text()), ternd.text())
        token = open(path("state/token")).read().strip()
        db = path("state/ternd.db")

        # 1. A request, its answer (retained), the chain verified by openssl.
        d1 = Device(port, "dev-1", pw["dev-1"],
                    ["tern/dev-1/cert/new", "tern/dev-1/trust/new", "tern/dev-2/cert/new"])
        devices.append(d1)
        csr = make_csr("dev1", "dev-1")
        check("the device's request goes out",
              d1.publish("tern/dev-1/cert/csr", cbor2.dumps({1: csr, 2: 1})))
        check("an answer arrives on tern/dev-1/cert/new",
              wait_for(lambda: d1.messages("tern/dev-1/cert/new")), ternd.text())
        ans = d1.messages("tern/dev-1/cert/new")[0][0] if d1.messages("tern/dev-1/cert/new") \
            else {}
        chain = ans.get(1, "")
        check("the answer is {1: chain (text), 2: the request's serial}",
              isinstance(chain, str) and ans.get(2) == 1 and len(split_chain(chain)) == 2,
              repr(ans)[:200])
        ok, why = verify_chain(chain, path("ca.crt"))
        check("openssl verify -CAfile ca.crt: the chain verifies (purpose sslclient)", ok, why)
        check("the chain's second certificate is the CA's",
              split_chain(chain)[1:] == split_chain(open(path("ca.crt")).read()))
        text = leaf_text(chain)
        serial = re.search(r"serial=([0-9A-F]+)", text).group(1)
        check("the leaf: CN=dev-1, CA:FALSE, digital signature, TLS client auth",
              re.search(r"subject=CN ?= ?dev-1\n", text) and "CA:FALSE" in text
              and "Digital Signature" in text and "TLS Web Client Authentication" in text
              and "X509v3 Subject Key Identifier" in text
              and "X509v3 Authority Key Identifier" in text, text)
        check(f"the leaf is valid for the lifetime asked (--cert-lifetime {LIFETIME}, 60 s back)",
              abs(leaf_span(text) - (LIFETIME + 60)) <= 2, text)
        check("ternd logs the issuance",
              re.search(rf"ternd: issued certificate {serial.lower()} to dev-1 \(request 1\), "
                        r"valid until \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", ternd.text()),
              ternd.text())
        late = Device(port, "dev-1", pw["dev-1"], ["tern/dev-1/cert/new"])
        devices.append(late)
        check("a client subscribing later gets it, retained",
              wait_for(lambda: late.messages("tern/dev-1/cert/new"))
              and late.messages("tern/dev-1/cert/new")[0] == (ans, True))

        # 2. The same request again: the same chain, nothing new in the store.
        d1.publish("tern/dev-1/cert/csr", cbor2.dumps({1: csr, 2: 1}))
        check("the same request again is answered with the same chain",
              wait_for(lambda: len(d1.messages("tern/dev-1/cert/new")) >= 2)
              and d1.messages("tern/dev-1/cert/new")[1][0] == ans, ternd.text())
        rows = sqlite3.connect(f"file:{db}?mode=ro", uri=True).execute(
            "SELECT device, request, serial FROM certs").fetchall()
        check("one certificate in the store", rows == [("dev-1", 1, serial.lower())], str(rows))
        check("ternd says it answered again",
              "dev-1: request 1 answered again with certificate " + serial.lower()
              in ternd.text(), ternd.text())

        # 3. Another device's CN on dev-1's topic, and no request at all: no answer, a reason.
        n = len(d1.messages("tern/dev-1/cert/new"))
        d1.publish("tern/dev-1/cert/csr", cbor2.dumps({1: make_csr("dev1", "dev-2"), 2: 2}))
        d1.publish("tern/dev-1/cert/csr", cbor2.dumps({1: b"not a request", 2: 3}))
        d1.publish("tern/dev-1/cert/csr", cbor2.dumps({1: "text, not bytes", 2: 4}))
        check("the request for CN=dev-2 is refused with its reason",
              wait_for(lambda: 'certificate request 2 refused: its subject CN "dev-2" is not '
                       'the device id dev-1' in ternd.text()), ternd.text())
        check("so is one that is not a request, and one that is not the schema",
              wait_for(lambda: "certificate request 3 refused: not a PKCS#10 request"
                       in ternd.text() and "the request (1) is not a byte string"
                       in ternd.text()), ternd.text())
        time.sleep(1)
        check("and none of them is answered", len(d1.messages("tern/dev-1/cert/new")) == n)

        # 4. ACL: dev-2's answer is not dev-1's to read; dev-1 cannot ask as dev-2.
        d2 = Device(port, "dev-2", pw["dev-2"], ["tern/dev-2/cert/new"])
        devices.append(d2)
        d1.publish("tern/dev-2/cert/csr", cbor2.dumps({1: make_csr("dev1", "dev-2"), 2: 1}))
        time.sleep(1)
        check("dev-1 cannot ask for a certificate as dev-2",
              not d2.messages("tern/dev-2/cert/new") and " to dev-2 " not in ternd.text(),
              ternd.text())
        d2.publish("tern/dev-2/cert/csr", cbor2.dumps({1: make_csr("dev2", "dev-2"), 2: 1}))
        check("dev-2 gets its own", wait_for(lambda: d2.messages("tern/dev-2/cert/new")))
        time.sleep(0.5)
        check("dev-1 never sees dev-2's certificate", not d1.messages("tern/dev-2/cert/new"))

        # 5. Trust stores through the API and ternctl.
        ca_pem = open(path("ca.crt"), "rb").read()
        both = ca_pem + open(path("rsa-ca.crt"), "rb").read()
        st, body = api("PUT", "/v1/devices/dev-1/trust", token, ca_pem)
        check("PUT trust: version 1", st == 200 and body.get("version") == 1, str((st, body)))
        check("trust/new version 1 arrives, retained",
              wait_for(lambda: d1.messages("tern/dev-1/trust/new"))
              and d1.messages("tern/dev-1/trust/new")[0][0] == {1: ca_pem.decode(), 2: 1})
        st, body = api("PUT", "/v1/devices/dev-1/trust", token, both)
        check("PUT trust again: version 2, two certificates",
              st == 200 and body == {"version": 2, "certificates": 2}, str((st, body)))
        check("trust/new version 2 arrives",
              wait_for(lambda: len(d1.messages("tern/dev-1/trust/new")) >= 2)
              and d1.messages("tern/dev-1/trust/new")[1][0] == {1: both.decode(), 2: 2})
        st, body = api("PUT", "/v1/devices/dev-1/trust", token, b"-----BEGIN CERTIFICATE-----\n"
                       b"bm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n")
        check("a bad PEM gets 400 with the reason",
              st == 400 and "not a trust store" in body.get("error", ""), str((st, body)))
        st, body = api("PUT", "/v1/devices/dev-1/trust", token + "0", ca_pem)
        check("without the right token: 401", st == 401, str((st, body)))
        r = subprocess.run([TERNCTL, "trust", "dev-1", path("ca.crt"), "--state-dir",
                            path("state")], capture_output=True)
        check("ternctl trust dev-1 ca.crt: version 3",
              r.returncode == 0 and r.stdout == b"trust store version 3\n", str(r))
        check("trust/new version 3 arrives",
              wait_for(lambda: len(d1.messages("tern/dev-1/trust/new")) >= 3)
              and d1.messages("tern/dev-1/trust/new")[2][0][2] == 3)
        late2 = Device(port, "dev-1", pw["dev-1"], ["tern/dev-1/trust/new"])
        devices.append(late2)
        check("a later subscriber gets version 3, retained",
              wait_for(lambda: late2.messages("tern/dev-1/trust/new"))
              and late2.messages("tern/dev-1/trust/new")[0][0][2] == 3
              and late2.messages("tern/dev-1/trust/new")[0][1])
        st, dev = api("GET", "/v1/devices/dev-1", token)
        cert = dev.get("certificate") or {}
        check("GET device: the certificate (serial, validity) and the trust version",
              st == 200 and cert.get("serial") == serial.lower() and cert.get("request") == 1
              and cert.get("not_after_ms", 0) - cert.get("not_before_ms", 0)
              == (LIFETIME + 60) * 1000 and dev.get("trust", {}).get("version") == 3,
              json.dumps(dev)[:400])
        check("and the broker took them (published)",
              wait_for(lambda: api("GET", "/v1/devices/dev-1", token)[1]["certificate"]
                       ["published"] and api("GET", "/v1/devices/dev-1", token)[1]["trust"]
                       ["published"]))
        r = subprocess.run([TERNCTL, "device", "dev-1", "--state-dir", path("state")],
                           capture_output=True)
        out = r.stdout.decode()
        check("ternctl device shows them",
              r.returncode == 0 and f"serial {serial.lower()} (request 1)" in out
              and "trust store:     version 3" in out, out)
        check("ternd is still running", ternd.proc.poll() is None, ternd.text())

        # 6. --ca-sign, for the factory.
        for ca in ("ca", "rsa-ca"):
            r = subprocess.run([TERND, "--ca-sign", path("dev1-dev-1.der"), "--ca-cert",
                                path(ca + ".crt"), "--ca-key", path(ca + ".key")],
                               capture_output=True)
            ok, why = verify_chain(r.stdout.decode(), path(ca + ".crt")) if r.returncode == 0 \
                else (False, r.stderr.decode())
            check(f"ternd --ca-sign ({ca}): a chain openssl verifies", ok, why)
        openssl("req", "-new", "-key", path("dev1.key"), "-subj", "/CN=dev-7",
                "-out", path("dev7.pem"))
        r = subprocess.run([TERND, "--ca-sign", path("dev7.pem"), "--ca-cert", path("ca.crt"),
                            "--ca-key", path("ca.key"), "--device-id", "dev-7",
                            "--cert-lifetime", "3600"], capture_output=True)
        check("--ca-sign takes PEM, --device-id and --cert-lifetime",
              r.returncode == 0 and abs(leaf_span(leaf_text(r.stdout.decode())) - 3660) <= 2,
              r.stderr.decode())
        r = subprocess.run([TERND, "--ca-sign", path("dev1-dev-1.der"), "--ca-cert",
                            path("ca.crt"), "--ca-key", path("ca.key"), "--device-id", "dev-9"],
                           capture_output=True)
        check("--ca-sign refuses a request for another id: exit 1, a reason, nothing printed",
              r.returncode == 1 and not r.stdout and b"refused (cn)" in r.stderr, str(r))
        with open(path("junk.der"), "wb") as f:
            f.write(b"\x30\x03junk")
        r = subprocess.run([TERND, "--ca-sign", path("junk.der"), "--ca-cert", path("ca.crt"),
                            "--ca-key", path("ca.key")], capture_output=True)
        check("--ca-sign refuses garbage", r.returncode == 1 and b"refused (parse)" in r.stderr,
              str(r))
        r = subprocess.run([TERND, "--ca-sign", path("dev1-dev-1.der"), "--ca-cert",
                            path("ca.crt"), "--ca-key", path("rsa-ca.key")], capture_output=True)
        check("--ca-sign refuses a key that is not the CA's",
              r.returncode == 1 and b"is not the key of" in r.stderr, str(r))

        rc = ternd.stop()
        check("SIGTERM stops ternd cleanly, with the certificate counts",
              rc == 0 and "certificates: 2 issued, 1 requests answered again" in ternd.text(),
              ternd.text()[-2000:])
    finally:
        for d in devices:
            d.close()
        for p in procs:
            p.stop()
        shutil.rmtree(work, ignore_errors=True)
    return summary()


if __name__ == "__main__":
    sys.exit(main())
