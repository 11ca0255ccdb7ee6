#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""A small simulated fleet through a broker restart and a twin change (run by
`make test` as integration.fleet_sim): 2,000 devices of the real SDK
(tern-sim) on mosquitto with ternd attached.

1. Every device comes online; the broker stops for a few seconds and comes
   back; every device is back online; a fleet-wide twin change reaches every
   device, which reports it; after the run every telemetry message each
   device sent is in ternd's store once, none missing, none twice.
2. The same fleet (without ternd) loses its broker twice more, once with a
   fixed retry interval and no jitter, once with full jitter: once the broker
   is back, the peak rate of reconnection attempts with full jitter is well
   below the other's.

usage: fleet_test.py <tern-sim> <ternd>"""
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests",
                                "support"))
import fleet as fleetlib  # noqa: E402
from tern_harness import check, summary  # noqa: E402

SIM, TERND = sys.argv[1:3]
N = 2000
work = tempfile.mkdtemp(prefix="tern-fleet-test-")


def run(name, **over):
    cfg = fleetlib.parse_scenario(None, [])
    cfg.update(devices=N, ramp=1000, period_ms=2000, payload=48, **over)
    d = os.path.join(work, name)
    os.makedirs(d)
    f = fleetlib.Fleet(cfg, SIM, TERND if cfg["ternd"] == "yes" else None, d, quiet=False)
    try:
        f.start()
        f.run()
        store = f.check_store() if f.ternds else None
    finally:
        f.stop()
    return f, store


try:
    # ---------------------------------------------------------------- 1 -- #
    f, (sent, stored, lost, extra) = run("restart", outage_at=10, outage_for=6, twin_at=24,
                                         twin_key="interval", duration=34, drain=30,
                                         backoff="full", base_ms=500, cap_ms=4000)
    ev = dict(f.events)
    before = [r for r in f.series if r["t"] < ev.get("outage", 0)]
    after = [r for r in f.series if r["t"] >= ev.get("back", 1e9)]
    check("every device comes online before the outage",
          any(r["online"] == N for r in before), str([r["online"] for r in before]))
    check("the outage takes them offline", any(r["online"] < N // 10 for r in f.series
                                              if ev.get("outage", 1e9) <= r["t"]
                                              <= ev.get("back", 0)))
    check("every device is back online after the broker restart",
          any(r["online"] == N for r in after), str([r["online"] for r in after][-10:]))
    final = [w.final or {} for w in f.workers]
    reported = sum(int(x.get("twin_reported", 0)) for x in final)
    check("the fleet-wide twin change reached every device, which reported it",
          reported == N, f"{reported} of {N}")
    check("every device sent telemetry", len(sent) == N and all(v > 0 for v in sent.values()),
          f"{len(sent)} devices")
    check("nothing lost: ternd stored every message each device sent",
          not lost, f"{sum(lost.values())} missing from {len(lost)} devices")
    check("nothing twice: no device has more stored than it sent", not extra, str(extra)[:200])
    check("all queued data drained", sum(int(x.get("queued", 0)) for x in final) == 0)

    # ---------------------------------------------------------------- 2 -- #
    peaks = {}
    for policy in ("fixed", "full"):
        f, _ = run(policy, ternd="no", outage_at=6, outage_for=6, duration=24, drain=2,
                   backoff=policy, base_ms=1000, cap_ms=8000, twin_key="")
        ev = dict(f.events)
        back = [r for r in f.series if r["t"] >= ev["back"]]
        peaks[policy] = max(r["attempts"] for r in back)
        check(f"{policy}: every device is back online", any(r["online"] == N for r in back),
              str([r["online"] for r in back]))
    print(f"peak reconnection attempts/s once the broker is back: fixed interval "
          f"{peaks['fixed']}, full jitter {peaks['full']}")
    check("once the broker is back, the peak reconnection rate with full jitter is well "
          "below the one without jitter (under half)",
          peaks["full"] * 2 < peaks["fixed"], str(peaks))
finally:
    pass

ok = summary()
if ok == 0:
    shutil.rmtree(work, ignore_errors=True)
else:
    print("logs kept in " + work)
sys.exit(ok)
