# SPDX-License-Identifier: Apache-2.0
"""integration.sim_smoke: tern-sim with 200 devices against a mosquitto of its own for
about 10 s, with sockets shut down under random devices: every device comes online,
every reading is acknowledged once the outboxes have drained, nothing stays queued, and
the per-device CSV agrees. Options come from a scenario file with one of them
overridden on the command line (the command line wins).

usage: sim_smoke.py TERN_SIM"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                "tests", "support"))
from tern_harness import (Proc, check, free_port, listening, procs, results,  # noqa: E402
                          summary, wait_for)

FIELDS = ["t", "started", "online", "connects", "attempts", "refused", "connack_refused",
          "sent", "acked", "queued", "twin_applied", "twin_reported", "rss_kb",
          "rss_per_device_b"]


def main():
    sim = sys.argv[1]
    work = tempfile.mkdtemp(prefix="tern-sim-smoke-")
    port = free_port()
    conf = os.path.join(work, "mosquitto.conf")
    with open(conf, "w") as f:
        f.write(f"listener {port} 127.0.0.1\nallow_anonymous true\nmax_connections -1\n"
                "persistence false\n")
    Proc("mosquitto", ["mosquitto", "-c", conf], work)
    try:
        if not wait_for(lambda: listening(port), 10):
            check("mosquitto listens", False)
            return summary()
        scenario = os.path.join(work, "smoke.scenario")
        with open(scenario, "w") as f:
            f.write("# the smoke run; --devices is given again on the command line\n"
                    f"broker = 127.0.0.1:{port}\n"
                    "devices = 20\n"
                    "prefix = smoke-\n"
                    "ramp = 400\n"
                    "period-ms = 1000\n"
                    "payload = 80\n"
                    "duration = 8\n"
                    "drain = 10\n"
                    "link-faults = 120\n"
                    "backoff = full\n"
                    "base-ms = 200\n"
                    "cap-ms = 2000\n"
                    "json = true\n")
        stats = os.path.join(work, "stats.csv")
        t0 = time.time()
        run = subprocess.run([sim, "--scenario", scenario, "--devices", "200",
                              "--stats-file", stats], capture_output=True, text=True,
                             timeout=45)
        took = time.time() - t0
        sys.stderr.write(run.stderr)
        lines = [json.loads(x) for x in run.stdout.splitlines() if x.startswith("{")]
        check("tern-sim exits 0", run.returncode == 0, f"exit {run.returncode}")
        check("JSON lines only on stdout", len(lines) == len(run.stdout.splitlines()),
              run.stdout[:300])
        ticks = [x for x in lines if not x.get("final")]
        final = [x for x in lines if x.get("final")]
        check("a line a second", len(ticks) >= 7, f"{len(ticks)} lines")
        check("every field in every line", all(all(k in x for k in FIELDS) for x in ticks),
              str(ticks[:1]))
        check("one final object", len(final) == 1, str(final))
        if not final:
            return summary()
        f = final[0]
        print("final:", json.dumps(f), flush=True)
        check("the command line wins over the scenario", f["devices"] == 200, f["devices"])
        check("all 200 started", f["started"] == 200, f["started"])
        check("all came online", f.get("online99_first_s") is not None and
              max(x["online"] for x in ticks) == 200, f"max {max(x['online'] for x in ticks)}")
        check("faults were injected and reconnected", f["faults"] > 5 and
              f["connects"] >= 200 + f["faults"] - 3, f"faults {f['faults']} "
              f"connects {f['connects']}")
        check("all online at the end", f["online"] == 200, f["online"])
        check("readings were sent", f["sent"] >= 200 * 6, f["sent"])
        check("acked == sent after the drain", f["acked"] == f["sent"],
              f"{f['acked']} != {f['sent']}")
        check("nothing queued", f["queued"] == 0, f["queued"])
        check("nothing evicted, rejected or fatal",
              f["evicted"] == 0 and f["rejected"] == 0 and f["fatal"] == 0, str(f))
        check("presence and twin hellos acknowledged",
              f["control_acked"] == f["control_sent"] and f["control_sent"] >= 400,
              f"{f['control_acked']} / {f['control_sent']}")
        check("no device with sent != acked", f["devices_sent_ne_acked"] == 0,
              f["devices_sent_ne_acked"])
        check("the SDK's bytes dominate a device",
              f["sdk_bytes_per_device"] > 4 * f["sim_bytes_per_device"], str(f))
        with open(stats) as fh:
            rows = [r.strip().split(",") for r in fh if r.strip()]
        check("stats CSV header", rows and rows[0] == ["id", "sent", "acked", "first_seq",
                                                       "last_seq", "queued"], rows[:1])
        body = rows[1:]
        check("stats CSV: a row per device", len(body) == 200, len(body))
        check("stats CSV: every device sent == acked, nothing queued",
              all(r[1] == r[2] and int(r[1]) > 0 and r[5] == "0" for r in body),
              [r for r in body if r[1] != r[2] or r[5] != "0"][:3])
        check("stats CSV: ids", body and body[0][0] == "smoke-000000", body[:1])
        check("under 30 s", took < 30, f"{took:.1f} s")
    finally:
        for p in procs:
            p.stop()
        if results and all(results):
            shutil.rmtree(work, ignore_errors=True)
        else:
            print("kept", work)
    return summary()


if __name__ == "__main__":
    sys.exit(main())
