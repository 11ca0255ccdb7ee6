# SPDX-License-Identifier: Apache-2.0
"""What the Python end-to-end tests share: PASS/FAIL checks counted for the
exit status, waiting for a condition, loopback ports, the processes a test
runs with their output in a log file of its scratch folder, and requests to
ternd's API.

A test puts this folder on sys.path (its own is tests/integration):
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                    "..", "support"))"""
import json
import os
import socket
import subprocess
import time
import urllib.error
import urllib.request

results = []  # one bool per check(), in order
procs = []  # every Proc started, for the test's cleanup


def check(name, ok, detail=""):
    """Count a check and print PASS or FAIL with its name (and the detail when it failed)."""
    results.append(bool(ok))
    print(("PASS " if ok else "FAIL ") + name + (f" ({detail})" if detail and not ok else ""),
          flush=True)


def summary():
    """Print 'N passed, M failed': the exit status, 0 when there were checks and all passed."""
    passed = sum(results)
    print(f"{passed} passed, {len(results) - passed} failed")
    return 0 if results and all(results) else 1


def wait_for(cond, timeout=10.0, step=0.05):
    """Poll cond() every step seconds until it is true (True) or timeout seconds have
    passed (then its last answer)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cond():
            return True
        time.sleep(step)
    return cond()


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def listening(port):
    """Whether something accepts TCP connections on 127.0.0.1:port."""
    try:
        socket.create_connection(("127.0.0.1", port), 0.2).close()
        return True
    except OSError:
        return False


def api(state_dir, path, token=None, method="GET", body=None, ctype=None):
    """A request to the API of the ternd whose state folder is state_dir (its address in
    api.url), with the token and the Content-Type if given: (HTTP status, the JSON answer,
    None if empty)."""
    url = open(os.path.join(state_dir, "api.url")).read().strip() + path
    req = urllib.request.Request(url, method=method, data=body)
    if token is not None:
        req.add_header("Authorization", "Bearer " + token)
    if ctype is not None:
        req.add_header("Content-Type", ctype)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


class Proc:
    """A process with its stdout and stderr appended to <log_dir>/<name>.log (a restart
    under the same name goes on in the same file)."""

    def __init__(self, name, argv, log_dir):
        self.name, self.argv = name, argv
        self.log = os.path.join(log_dir, name + ".log")
        self.start()

    def start(self):
        self.out = open(self.log, "ab")
        self.start_at = os.path.getsize(self.log)
        self.proc = subprocess.Popen(self.argv, stdout=self.out, stderr=subprocess.STDOUT)
        procs.append(self)

    def text(self, since_start=False):
        """The log, or only what this run of the process wrote to it."""
        with open(self.log, "rb") as f:
            if since_start:
                f.seek(self.start_at)
            return f.read().decode(errors="replace")

    def alive(self):
        return self.proc.poll() is None

    def signal(self, sig):
        if self.alive():
            self.proc.send_signal(sig)

    def kill(self):
        """SIGKILL, and wait for it."""
        if self.alive():
            self.proc.kill()
        self.proc.wait()
        self.out.close()

    def stop(self, timeout=15):
        """SIGTERM, SIGKILL if it is still there after timeout seconds: its exit status."""
        if self.alive():
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.out.close()
        return self.proc.returncode

    def wait(self, timeout):
        """Its exit status once it exits within timeout seconds, else None."""
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None
