# SPDX-License-Identifier: Apache-2.0
"""The Python tests' broker fixture: a real mosquitto on free loopback ports,
configured by the test, waited for, and stopped and cleaned up afterwards."""
import os
import pwd
import shutil
import subprocess
import tempfile

from tern_harness import free_port, listening, wait_for


class Broker:
    """mosquitto with `listener <port> 127.0.0.1` then the test's extra lines
    (where "{dir}" stands for the broker's own temporary folder, e.g. for
    persistence_location). Run as root it stays root (`user`), so it can read
    test keys of mode 0600. stop() and restart() bring it down and up again on
    the same port and files, as a broker restart would."""

    def __init__(self, extra="", prefix="tern-broker-"):
        self.dir = tempfile.mkdtemp(prefix=prefix)
        self.port = free_port()
        self.conf = os.path.join(self.dir, "mosquitto.conf")
        with open(self.conf, "w") as f:
            f.write(f"user {pwd.getpwuid(os.getuid()).pw_name}\n"
                    f"allow_anonymous true\nlistener {self.port} 127.0.0.1\n"
                    + extra.replace("{dir}", self.dir))
        self.proc = None
        self.restart()

    def restart(self):
        """Start it (again): returns once it accepts connections."""
        self.proc = subprocess.Popen(["/usr/sbin/mosquitto", "-c", self.conf],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if wait_for(lambda: listening(self.port), 5):
            return
        self.close()
        raise RuntimeError("mosquitto did not start")

    def stop(self):
        """SIGTERM, as a service manager stops it (it writes its persistence file)."""
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None

    def close(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
