#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""ternctl pub/sub as a user runs them, against a real mosquitto started here
with a plain and an mTLS listener (test PKI made by tests/support/gen_pki.sh):
exit codes, argument errors, TLS and mTLS, retained messages, counts,
timeouts, user properties, MQTT 3.1.1 and 5.

usage: ternctl_cli.py <ternctl> <gen_pki.sh>
Prints one line per case and ends with 'N passed, M failed'."""
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from tern_pybroker import Broker, free_port  # noqa: E402

TERNCTL, GEN_PKI = sys.argv[1], sys.argv[2]


# Every connection names 127.0.0.1: these tests are about ternctl, not the resolver.
def run(verb, *args, timeout=20, stdin=None):
    return subprocess.run([TERNCTL, verb, "-h", "127.0.0.1", *args], capture_output=True,
                          text=True, timeout=timeout, input=stdin)


def sub_bg(*args):
    p = subprocess.Popen([TERNCTL, "sub", "-h", "127.0.0.1", *args], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    time.sleep(0.5)
    return p


def main():
    work = tempfile.mkdtemp(prefix="tern-cli-")
    pki = os.path.join(work, "pki")
    subprocess.run(["sh", GEN_PKI, pki], check=True, capture_output=True)
    tls_port = free_port()
    broker = Broker(prefix="tern-cli-", extra=(
        f"listener {tls_port} 127.0.0.1\n"
        f"cafile {pki}/ca.crt\ncertfile {pki}/server.crt\nkeyfile {pki}/server.key\n"
        f"require_certificate true\n"))
    port = broker.port
    p = str(port)
    tls = ["--tls-hostname", "localhost", "-p", str(tls_port), "--cafile", f"{pki}/ca.crt"]
    mtls = tls + ["--cert", f"{pki}/client.crt", "--key", f"{pki}/client.key"]
    results = []

    def case(name, ok, detail=""):
        results.append(ok)
        print(("PASS " if ok else "FAIL ") + name + ("" if ok else f": {detail}"))

    try:
        r = run("pub", "-t", "a")
        case("pub without a message is a usage error (exit 2)", r.returncode == 2, r.stderr)
        r = run("pub", "-p", "0", "-t", "a", "-m", "x")
        case("bad port is a usage error", r.returncode == 2, r.stderr)
        r = run("pub", "-q", "3", "-t", "a", "-m", "x")
        case("QoS 3 is a usage error", r.returncode == 2, r.stderr)
        r = run("pub", "--cert", "x", "-t", "a", "-m", "x")
        case("--cert without --key is a usage error", r.returncode == 2, r.stderr)
        r = run("pub", "-p", str(free_port()), "-t", "a", "-m", "x")
        case("connection refused exits 1 with a reason",
             r.returncode == 1 and "refused" in r.stderr, r.stderr)
        r = run("pub", "-p", p, "-t", "a/+/b", "-m", "x")
        case("a wildcard topic name is refused", r.returncode == 1, r.stderr)

        r = run("pub", "-p", p, "-t", "cli/retained", "-m", "kept", "-r", "-q", "1")
        s = run("sub", "-p", p, "-t", "cli/retained", "-C", "1", "-W", "5")
        case("a retained message reaches a later subscriber",
             r.returncode == 0 and s.returncode == 0 and s.stdout == "kept\n", s.stdout + s.stderr)

        s = run("sub", "-p", p, "-t", "cli/nothing", "-C", "1", "-W", "1")
        case("sub -W gives up with exit 1 when nothing comes", s.returncode == 1, s.stderr)

        bg = sub_bg("-p", p, "-t", "cli/count/#", "-C", "3", "-v")
        for i in range(5):
            run("pub", "-p", p, "-t", f"cli/count/{i}", "-m", str(i), "-q", "1")
        out, err = bg.communicate(timeout=10)
        case("sub -C 3 -v prints three 'topic payload' lines and exits 0",
             bg.returncode == 0 and out.splitlines() == ["cli/count/0 0", "cli/count/1 1",
                                                         "cli/count/2 2"], out + err)

        bg = sub_bg("-p", p, "-t", "cli/hex", "-C", "1", "--hex", "-v")
        run("pub", "-p", p, "-t", "cli/hex", "-m", "AB\n", "-q", "1")
        out, err = bg.communicate(timeout=10)
        case("sub --hex prints payloads as hex (binary-safe)", out == "cli/hex 41420a\n",
             out + err)

        bg = sub_bg("-p", p, "-t", "cli/stdin", "-C", "1")
        r = run("pub", "-p", p, "-t", "cli/stdin", "-s", "-V", "311", stdin="from stdin")
        out, err = bg.communicate(timeout=10)
        case("pub -s sends stdin (MQTT 3.1.1)", r.returncode == 0 and out == "from stdin\n",
             out + err + r.stderr)

        bg = sub_bg("-p", p, "-t", "cli/repeat", "-C", "50", "-q", "2")
        r = run("pub", "-p", p, "-t", "cli/repeat", "-m", "r", "-q", "2", "--repeat", "50")
        out, err = bg.communicate(timeout=20)
        case("--repeat 50 at QoS 2 arrives exactly 50 times",
             r.returncode == 0 and out.splitlines() == ["r"] * 50, f"{len(out.splitlines())} {err}")

        bg = sub_bg(*mtls, "-t", "cli/tls", "-C", "1")
        r = run("pub", *mtls, "-t", "cli/tls", "-m", "secret")
        out, err = bg.communicate(timeout=10)
        case("mTLS: pub and sub with a client certificate",
             r.returncode == 0 and bg.returncode == 0 and out == "secret\n", out + err + r.stderr)

        box = os.path.join(work, "tls.box")
        bg = sub_bg(*mtls, "-t", "cli/tls-box", "-C", "3", "-q", "1")
        r = run("pub", *mtls, "--outbox", box, "-t", "cli/tls-box", "-m", "kept", "--repeat", "3")
        out, err = bg.communicate(timeout=10)
        case("--outbox over mTLS: queued, drained, acknowledged",
             r.returncode == 0 and "3 messages acknowledged" in r.stdout and
             out == "kept\n" * 3, out + err + r.stdout + r.stderr)

        r = run("pub", *tls, "-t", "cli/tls", "-m", "x")
        case("mTLS listener refuses a client without a certificate", r.returncode == 1, r.stderr)

        r = run("pub", "-p", str(free_port()), "--outbox", box, "-t", "cli/down", "-m", "later",
                "-W", "2")
        case("--outbox with no broker: retries until -W, keeps the message",
             r.returncode == 1 and "still in the outbox" in r.stderr and
             "retrying with backoff" in r.stderr, r.stderr)

        r = run("pub", "--tls-hostname", "localhost", "-p", str(tls_port),
                "--cafile", f"{pki}/other-ca.crt",
                "--cert", f"{pki}/client.crt", "--key", f"{pki}/client.key", "-t", "x", "-m", "x")
        case("a server outside the trusted CA is refused (certificate error)",
             r.returncode == 1 and "certificate" in r.stderr, r.stderr)

        r = run("pub", "-p", str(tls_port), "--tls-hostname", "wrong.example",
                "--cafile", f"{pki}/ca.crt", "--cert", f"{pki}/client.crt", "--key",
                f"{pki}/client.key", "-t", "x", "-m", "x")
        case("a server certificate for another name is refused",
             r.returncode == 1 and "certificate" in r.stderr, r.stderr)
    finally:
        broker.close()
        shutil.rmtree(work, ignore_errors=True)
    passed = sum(results)
    print(f"{passed} passed, {len(results) - passed} failed")
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
