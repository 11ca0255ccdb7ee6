#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""ternctl's operator commands (devices, device, twin get|set, telemetry) as a
user runs them, against a fake ternd API: python's http.server on a free
loopback port serving canned JSON as docs/api.md describes it, checking the
bearer token and recording every request (PATCH bodies, query strings). The
state directory is a temp dir holding api.url and a mode-0600 token, as ternd
writes them. Checked: the tables (columns, alignment, local times and ages),
--json (the answer itself, pretty-printed with sorted keys), twin set's PATCH
body, --since/--name/--limit in the query string, HTTP errors with the API's
message, a stopped server, a server that never answers (the 10 s timeout), an
unreadable token file, the usage errors, and that the token is never printed.

usage: ternctl_api.py <ternctl>
Prints one line per case and ends with 'N passed, M failed'."""
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TERNCTL = os.path.abspath(sys.argv[1])
TOKEN = "3f" * 32
NOW_MS = int(time.time() * 1000)
LAST_SEEN = NOW_MS - 5000
OLD_SEEN = NOW_MS - 3 * 86400 * 1000 - 60000

DEVICES = {"devices": [
    {"id": "dev-1", "online": True, "first_seen_ms": 1764300000000, "last_seen_ms": LAST_SEEN,
     "fw": "1.4.2", "link": "eth0", "region": "eu", "epoch": 0, "max_seq": 41,
     "messages": 42, "readings": 25200},
    {"id": "sensor-000042", "online": False, "first_seen_ms": 1764000000000,
     "last_seen_ms": OLD_SEEN, "fw": "2.0.0-rc1\u001b[31m", "link": "lte0", "region": "us-east",
     "epoch": 3, "max_seq": 7, "messages": 8, "readings": 7},
]}
TWIN = {"desired": {"interval": 30, "led": "on", "cfg": {"a": 1, "b": [True, None]}},
        "desired_version": 3,
        "reported": {"interval": 30, "led": "on", "temp_offset": 0.5},
        "reported_version": 7, "applied_version": 2, "in_sync": False}
DEVICE = dict(DEVICES["devices"][0], twin=TWIN)
READINGS = {"readings": [
    {"seq": 41, "n": "urn:dev:tern:dev-1:temp", "u": "Cel", "t": 1764300001.25, "v": 21.53},
    {"seq": 41, "n": "urn:dev:tern:dev-1:door", "t": 1764300001.0, "vb": False},
    {"seq": 1042, "n": "urn:dev:tern:dev-1:state", "t": 1764300002.5, "vs": "idle"},
]}


class FakeTernd(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    requests = []  # (method, path, query, headers, body)

    def log_message(self, *args):
        pass

    def answer(self, status, obj):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def handle_any(self, method):
        url = urllib.parse.urlsplit(self.path)
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        FakeTernd.requests.append((method, url.path, url.query, dict(self.headers), body))
        if url.path == "/healthz":
            return self.answer(200, {"ok": True})
        if self.headers.get("Authorization") != "Bearer " + TOKEN:
            return self.answer(401, {"error": "unauthorized"})
        route = (method, url.path)
        if route == ("GET", "/v1/devices"):
            return self.answer(200, DEVICES)
        if route == ("GET", "/v1/devices/dev-1"):
            return self.answer(200, DEVICE)
        if route == ("GET", "/v1/devices/dev-1/twin"):
            return self.answer(200, TWIN)
        if route == ("PATCH", "/v1/devices/dev-1/twin/desired"):
            try:
                patch = json.loads(body)
            except ValueError as e:
                return self.answer(400, {"error": f"body is not JSON: {e}"})
            if not isinstance(patch, dict):
                return self.answer(400, {"error": "body is not a JSON object"})
            return self.answer(200, {"desired_version": 4})
        if route == ("GET", "/v1/devices/dev-1/telemetry"):
            return self.answer(200, READINGS)
        if route == ("GET", "/v1/devices/broken"):
            return self.answer(500, {"error": "store failed: disk full"})
        if url.path.startswith("/v1/devices/"):
            return self.answer(404, {"error": "no such device"})
        return self.answer(404, {"error": "not found"})

    def do_GET(self):
        self.handle_any("GET")

    def do_PATCH(self):
        self.handle_any("PATCH")


results = []


def case(name, ok, detail=b""):
    results.append(bool(ok))
    print(f"{'PASS' if ok else 'FAIL'}: {name}")
    if not ok and detail:
        text = detail.decode(errors="replace") if isinstance(detail, bytes) else str(detail)
        print("    " + text.replace("\n", "\n    "))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def write_state(d, url, token=TOKEN):
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "api.url"), "w") as f:
        f.write(url + "\n")
    path = os.path.join(d, "token")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(token + "\n")
    os.chmod(path, 0o600)


def local(ms, with_ms=False):
    s = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ms // 1000))
    return s + (f".{ms % 1000:03d}" if with_ms else "")


def main():
    os.environ["TZ"] = "UTC"
    time.tzset()
    work = tempfile.mkdtemp(prefix="ternctl_api.")
    state = os.path.join(work, "ternd-state")
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeTernd)
    url = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    write_state(state, url)
    env = dict(os.environ, TZ="UTC")
    env.pop("TERND_STATE_DIR", None)
    leaked = []

    def run(*args, extra_env=None, timeout=30):
        e = dict(env, **(extra_env or {}))
        p = subprocess.run([TERNCTL, *args], capture_output=True, timeout=timeout, env=e)
        if TOKEN.encode() in p.stdout + p.stderr:
            leaked.append(args)
        return p

    def last_request():
        return FakeTernd.requests[-1] if FakeTernd.requests else (None,) * 5

    # ---- devices
    r = run("devices", "--state-dir", state)
    lines = r.stdout.decode().splitlines()
    case("devices: exit 0, a header and a row a device", r.returncode == 0 and len(lines) == 3,
         r.stdout + r.stderr)
    head = lines[0] if lines else ""
    cols = ["ID", "ONLINE", "LAST SEEN", "FW", "LINK", "REGION", "MESSAGES", "READINGS"]
    case("devices: the columns in order",
         re.fullmatch(r"\s*".join(re.escape(c) for c in cols), head) is not None, head)
    row = {}
    if len(lines) == 3:
        starts = [head.index(c) for c in cols]
        ends = [head.index(c) + len(c) for c in cols]
        for ln in lines[1:]:
            # left-aligned columns start where their heading does; the numbers end there
            cells = [ln[starts[i]:starts[i + 1]].strip() for i in range(5)]
            cells.append(ln[starts[5]:].split("  ")[0].strip())
            tail = ln[ends[5]:].split()
            row[cells[0]] = (cells, tail, ln)
    d1 = row.get("dev-1")
    case("devices: dev-1's row (online yes, fw, link, region)",
         d1 and d1[0][1] == "yes" and d1[0][3] == "1.4.2" and d1[0][4] == "eth0"
         and d1[0][5] == "eu", r.stdout)
    case("devices: last seen as local time and its age",
         d1 and re.fullmatch(re.escape(local(LAST_SEEN)) + r" \([4-9]s ago\)", d1[0][2]),
         d1[0][2] if d1 else r.stdout)
    s2 = row.get("sensor-000042")
    case("devices: an old device reads '3d ago' and offline 'no'",
         s2 and s2[0][1] == "no" and s2[0][2] == local(OLD_SEEN) + " (3d ago)", r.stdout)
    case("devices: control characters from the network never reach the terminal",
         b"\x1b" not in r.stdout and s2 and s2[0][3] == "2.0.0-rc1?[31m", r.stdout)
    case("devices: MESSAGES and READINGS right-aligned under their headings",
         d1 and s2 and d1[2][ends[6] - 2:ends[6]] == "42" and d1[2].endswith("25200")
         and s2[2][ends[6] - 1:ends[6]] == "8" and s2[2].endswith(" 7")
         and len(s2[2]) == len(head) == len(d1[2]), r.stdout)

    r = run("devices", "--json", "--state-dir", state)
    want = json.dumps(DEVICES, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    case("devices --json: the API's JSON, pretty-printed with sorted keys",
         r.returncode == 0 and r.stdout.decode() == want, r.stdout + r.stderr)
    m, path, q, hdrs, body = last_request()
    case("devices: GET /v1/devices with the bearer token",
         (m, path) == ("GET", "/v1/devices") and hdrs.get("Authorization") == "Bearer " + TOKEN,
         str((m, path)))

    # ---- device
    r = run("device", "dev-1", "--state-dir", state)
    out = r.stdout.decode()
    field = {}
    for ln in out.splitlines():
        if not ln.startswith(" ") and ":" in ln:
            k, v = ln.split(":", 1)
            field[k] = v.strip()
    case("device: its fields one per line",
         r.returncode == 0 and field.get("id") == "dev-1" and field.get("online") == "yes"
         and field.get("fw") == "1.4.2" and field.get("link") == "eth0"
         and field.get("region") == "eu" and field.get("messages") == "42"
         and field.get("readings") == "25200" and field.get("max seq") == "41"
         and field.get("first seen", "").startswith(local(1764300000000) + " (")
         and re.fullmatch(re.escape(local(LAST_SEEN)) + r" \([4-9]s ago\)",
                          field.get("last seen", "")), out + r.stderr.decode())
    twin_lines = ["desired:         version 3", '  cfg = {"a":1,"b":[true,null]}',
                  "  interval = 30", '  led = "on"', "reported:        version 7",
                  "  interval = 30", '  led = "on"', "  temp_offset = 0.5",
                  "applied version: 2", "in sync:         no"]
    case("device: then its twin (key = value as compact JSON, versions, in sync)",
         out.splitlines()[-len(twin_lines):] == twin_lines, out)
    r = run("device", "dev-1", "--json", "--state-dir", state)
    case("device --json: the API's JSON",
         r.returncode == 0 and json.loads(r.stdout) == DEVICE
         and r.stdout.decode() == json.dumps(DEVICE, indent=2, sort_keys=True) + "\n",
         r.stdout + r.stderr)
    r = run("device", "nope", "--state-dir", state)
    case("device: an unknown id exits 1 with the API's message and the status",
         r.returncode == 1 and r.stderr == b"ternctl: 404 no such device\n" and not r.stdout,
         r.stderr)
    r = run("device", "broken", "--state-dir", state)
    case("device: a 500 exits 1 with the API's reason",
         r.returncode == 1 and r.stderr == b"ternctl: 500 store failed: disk full\n", r.stderr)
    run("device", "a b/c?d", "--state-dir", state)
    case("device: the id is percent-encoded in the path",
         last_request()[1] == "/v1/devices/a%20b%2Fc%3Fd", str(last_request()[:3]))

    # ---- twin get
    r = run("twin", "get", "dev-1", "--state-dir", state)
    case("twin get: desired and reported, versions, in sync",
         r.returncode == 0 and r.stdout.decode().splitlines() == twin_lines, r.stdout + r.stderr)
    r = run("twin", "get", "dev-1", "--json", "--state-dir", state)
    case("twin get --json: the API's JSON",
         r.returncode == 0 and r.stdout.decode() == json.dumps(TWIN, indent=2, sort_keys=True)
         + "\n", r.stdout + r.stderr)

    # ---- twin set
    r = run("twin", "set", "dev-1", "interval=30", "led=on", "x=null", 'cfg={"a":1}',
            'name="quoted"', "temp=0.1", "empty=", "flag=true", "note=hello world",
            "--state-dir", state)
    m, path, q, hdrs, body = last_request()
    case("twin set: prints the new desired version",
         r.returncode == 0 and r.stdout == b"desired version 4\n", r.stdout + r.stderr)
    try:
        sent = json.loads(body)
    except (TypeError, ValueError):
        sent = None
    case("twin set: PATCH /v1/devices/dev-1/twin/desired, application/json",
         (m, path) == ("PATCH", "/v1/devices/dev-1/twin/desired")
         and hdrs.get("Content-Type") == "application/json", str((m, path, hdrs)))
    case("twin set: values parsed as JSON if they parse, else taken as strings",
         sent == {"interval": 30, "led": "on", "x": None, "cfg": {"a": 1}, "name": "quoted",
                  "temp": 0.1, "empty": "", "flag": True, "note": "hello world"}
         and isinstance(sent["interval"], int) and b"0.1" in body and b"0.10" not in body,
         body)
    n = len(FakeTernd.requests)
    for args in (["twin", "set", "dev-1"], ["twin", "set", "dev-1", "novalue"],
                 ["twin", "set", "dev-1", "=5"], ["twin", "set", "dev-1", "a=1", "a=2"],
                 ["twin", "set", "dev-1", "big=123456789012345678901234567890"]):
        u = run(*args, "--state-dir", state)
        case(f"usage error: ternctl {' '.join(args)} exits 2", u.returncode == 2, u.stderr)
    case("usage errors send nothing", len(FakeTernd.requests) == n)

    # ---- telemetry
    before = int(time.time())
    r = run("telemetry", "dev-1", "--since", "10m", "--state-dir", state)
    after = int(time.time())
    m, path, q, hdrs, body = last_request()
    qs = urllib.parse.parse_qs(q)
    case("telemetry --since 10m: since = now - 600 s in the query",
         (m, path) == ("GET", "/v1/devices/dev-1/telemetry") and list(qs) == ["since"]
         and before - 600 <= int(qs["since"][0]) <= after - 600, q)
    lines = r.stdout.decode().splitlines()
    want = [["TIME", "NAME", "VALUE", "SEQ"],
            [local(1764300001250, True), "urn:dev:tern:dev-1:temp", "21.53 Cel", "41"],
            [local(1764300001000, True), "urn:dev:tern:dev-1:door", "false", "41"],
            [local(1764300002500, True), "urn:dev:tern:dev-1:state", '"idle"', "1042"]]
    got = [re.split(r"  +", ln.strip()) for ln in lines]
    case("telemetry: a table TIME (local, with ms), NAME, VALUE (with unit), SEQ",
         r.returncode == 0 and got == want, r.stdout + r.stderr)
    case("telemetry: columns aligned (NAME and VALUE start under their headings)",
         len(lines) == 4 and all(ln.index("urn:") == lines[0].index("NAME") for ln in lines[1:])
         and lines[1].index("21.53") == lines[0].index("VALUE")
         and all(len(ln) == len(lines[3]) for ln in lines[1:]), r.stdout)
    r = run("telemetry", "dev-1", "--since", "1764300000", "--name", "urn:dev:tern:dev-1:temp",
            "--limit", "5", "--json", "--state-dir", state)
    q = last_request()[2]
    case("telemetry: absolute --since, --name and --limit in the query",
         urllib.parse.parse_qs(q) == {"since": ["1764300000"], "name": ["urn:dev:tern:dev-1:temp"],
                                      "limit": ["5"]}, q)
    case("telemetry --json: the API's JSON",
         r.returncode == 0 and json.loads(r.stdout) == READINGS, r.stdout + r.stderr)
    for since, secs in (("30s", 30), ("2h", 7200), ("1d", 86400)):
        t0 = int(time.time())
        run("telemetry", "dev-1", "--since", since, "--state-dir", state)
        got_since = int(urllib.parse.parse_qs(last_request()[2])["since"][0])
        case(f"telemetry --since {since}", t0 - secs - 2 <= got_since <= t0 - secs + 2, got_since)
    for args in (["telemetry", "dev-1", "--since", "10x"], ["telemetry", "dev-1", "--since", "-5"],
                 ["telemetry", "dev-1", "--limit", "0"], ["telemetry"],
                 ["devices", "--since", "10m"], ["devices", "extra"], ["twin"],
                 ["twin", "frob", "dev-1"], ["device"], ["devices", "--bogus"]):
        u = run(*args, "--state-dir", state)
        case(f"usage error: ternctl {' '.join(args)} exits 2", u.returncode == 2, u.stderr)

    # ---- finding the API
    r = run("devices", extra_env={"TERND_STATE_DIR": state})
    case("TERND_STATE_DIR finds the state directory", r.returncode == 0 and b"dev-1" in r.stdout,
         r.stderr)
    r = subprocess.run([TERNCTL, "devices"], capture_output=True, timeout=30, env=env,
                       cwd=work)
    case("the default state directory is ./ternd-state",
         r.returncode == 0 and b"dev-1" in r.stdout, r.stderr)
    tok = os.path.join(work, "tok")
    with open(tok, "w") as f:
        f.write(TOKEN)
    r = run("devices", "--api", url + "/", "--token-file", tok, "--state-dir",
            os.path.join(work, "nowhere"))
    case("--api URL and --token-file FILE override the state directory",
         r.returncode == 0 and b"dev-1" in r.stdout, r.stderr)

    # ---- errors
    wrong = os.path.join(work, "wrong-state")
    write_state(wrong, url, token="00" * 32)
    r = run("devices", "--state-dir", wrong)
    case("a wrong token: exit 1, '401 unauthorized (is the token right?)'",
         r.returncode == 1 and r.stderr == b"ternctl: 401 unauthorized (is the token right?)\n"
         and b"00" * 32 not in r.stderr, r.stderr)
    notoken = os.path.join(work, "no-token")
    write_state(notoken, url)
    os.unlink(os.path.join(notoken, "token"))
    r = run("devices", "--state-dir", notoken)
    case("an unreadable token file is named, with the reason",
         r.returncode == 1 and b"cannot read the API token from " in r.stderr
         and os.path.join(notoken, "token").encode() in r.stderr
         and b"No such file or directory" in r.stderr, r.stderr)
    r = run("devices", "--state-dir", os.path.join(work, "nowhere"))
    case("no api.url: exit 1, the file named",
         r.returncode == 1 and b"nowhere/api.url" in r.stderr, r.stderr)
    dead = os.path.join(work, "dead-state")
    dead_url = f"http://127.0.0.1:{free_port()}"
    write_state(dead, dead_url)
    r = run("devices", "--state-dir", dead)
    case("no server: exit 1, 'cannot reach ternd at ...: is it running?'",
         r.returncode == 1 and r.stderr.decode() ==
         f"ternctl: cannot reach ternd at {dead_url}: is it running?\n", r.stderr)
    mute = socket.socket()
    mute.bind(("127.0.0.1", 0))
    mute.listen(1)
    mute_state = os.path.join(work, "mute-state")
    write_state(mute_state, f"http://127.0.0.1:{mute.getsockname()[1]}")
    t0 = time.monotonic()
    r = run("devices", "--state-dir", mute_state, timeout=60)
    took = time.monotonic() - t0
    mute.close()
    case(f"a server that never answers: exit 1 after the 10 s timeout ({took:.1f} s)",
         r.returncode == 1 and b"did not answer within 10 s" in r.stderr and 9 <= took <= 20,
         r.stderr)

    u = run("--help")
    case("ternctl --help lists the fleet commands",
         u.returncode == 0 and all(s in u.stdout for s in (
             b"ternctl devices", b"ternctl device ID", b"ternctl twin get ID",
             b"ternctl twin set ID KEY=VALUE", b"ternctl telemetry ID", b"--state-dir DIR",
             b"--token-file FILE")), u.stdout)
    u = run("devices", "--help")
    case("ternctl devices --help exits 0", u.returncode == 0 and b"--since" in u.stdout, u.stderr)
    case("the token is never printed", not leaked, str(leaked))

    server.shutdown()
    passed = sum(results)
    print(f"{passed} passed, {len(results) - passed} failed")
    return 0 if passed == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
