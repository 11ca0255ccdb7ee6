#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""The thundering-herd experiment (`make bench-herd`): a fleet of simulated
devices (the real SDK in tern-sim) on one mosquitto loses it for OUTAGE
seconds and gets it back, three times in one go, once per reconnect policy:

  fixed     a fixed retry interval of BASE ms, no jitter
  additive  the seed's additive jitter: BASE * 2^attempt + random(0, JITTER) ms
  full      full jitter: random(0, min(CAP, BASE * 2^attempt)) ms

For each run: connection attempts per second over time, their peak, the time
from the broker's return until 99 % of the fleet is back online, the broker's
CPU over that recovery, refused connections. Prints a table, writes the
series (herd.dat) and a plot of attempts per second over time for the three
runs (herd.png, gnuplot), so the herd and its flattening show at a glance.

usage: herd.py --sim PATH [--devices N] [--outage S] [--base-ms MS] [--cap-ms MS]
               [--jitter-ms MS] [--out DIR] [--policies fixed,additive,full]"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fleet as fleetlib  # noqa: E402


def run_policy(sim, policy, a, work):
    ready = max(8, a.devices // a.ramp + 6)  # all online before the outage
    cfg = fleetlib.parse_scenario(None, [])
    cfg.update(devices=a.devices, brokers=1, workers_per_broker=1, ramp=a.ramp,
               period_ms=60000, payload=32, outage_at=ready, outage_for=a.outage,
               duration=ready + a.outage + a.recovery, drain=2, twin_at=0, twin_key="",
               backoff=policy, base_ms=a.base_ms, cap_ms=a.cap_ms, jitter_ms=a.jitter_ms,
               ternd="no")
    os.makedirs(work, exist_ok=True)
    print(f"== {policy}: {a.devices} devices, broker down at {ready} s for {a.outage} s",
          flush=True)
    f = fleetlib.Fleet(cfg, sim, None, work, quiet=not a.verbose)
    try:
        f.start()
        f.run()
    finally:
        f.stop()
    ev = dict(f.events)
    down, back = ev.get("outage"), ev.get("back")
    rows = [r for r in f.series if down is not None and r["t"] >= down - 2]
    n = a.devices
    after = [r for r in f.series if back is not None and r["t"] >= back]
    back99 = next((r["t"] - back for r in after if r["online"] >= 0.99 * n), None)
    peak = max((r["attempts"] for r in rows), default=0)
    peak_after = max((r["attempts"] for r in after), default=0)
    refused = sum(r["refused"] for r in rows)
    connack_refused = sum(r["connack_refused"] for r in rows)
    # broker CPU from its return until the fleet is back (or the run's end)
    end_t = back + (back99 if back99 is not None else a.recovery)
    win = [r for r in after if r["t"] <= end_t + 1]
    cpu = (win[-1]["broker_cpu_s"] - win[0]["broker_cpu_s"]) if len(win) > 1 else 0.0
    span = (win[-1]["t"] - win[0]["t"]) if len(win) > 1 else 1.0
    steps = [(b["broker_cpu_s"] - a_["broker_cpu_s"]) / max(b["t"] - a_["t"], 0.1)
             for a_, b in zip(win, win[1:])]
    return {
        "policy": policy, "devices": n, "peak_attempts_per_s": peak,
        "peak_attempts_per_s_after_return": peak_after,
        "time_to_99pct_s": back99, "broker_cpu_s": round(cpu, 2),
        "broker_cpu_pct_avg": round(100 * cpu / span, 1) if span else 0.0,
        "broker_cpu_pct_peak": round(100 * max(steps, default=0.0), 1),
        "refused": refused, "connack_refused": connack_refused,
        "series": [(round(r["t"] - down, 1), r["attempts"], r["online"]) for r in rows],
    }


def plot(results, out, outage):
    dat = os.path.join(out, "herd.dat")
    with open(dat, "w") as f:
        for i, r in enumerate(results):
            if i:
                f.write("\n\n")
            f.write(f"# {r['policy']}: t_since_outage attempts_per_s online\n")
            for t, att, on in r["series"]:
                f.write(f"{t} {att} {on}\n")
    png = os.path.join(out, "herd.png")
    if shutil.which("gnuplot") is None:
        print("gnuplot not installed: no plot (tools/install-deps.sh installs gnuplot-nox)")
        return dat, None
    titles = {"fixed": "fixed interval, no jitter", "additive": "additive jitter (seed)",
              "full": "full jitter"}
    plots = ", ".join(f"'{dat}' index {i} using 1:2 with lines lw 2 title '{titles[r['policy']]}'"
                      for i, r in enumerate(results))
    script = (f"set terminal pngcairo size 1200,600 noenhanced\n" if _cairo() else
              "set terminal png size 1200,600\n")
    script += (f"set output '{png}'\n"
               f"set title 'Thundering herd: {results[0]['devices']} devices, broker down for "
               f"{outage} s at t=0'\n"
               "set xlabel 'seconds since the broker went down'\n"
               "set ylabel 'connection attempts per second'\nset grid\n"
               f"set object 1 rect from 0, graph 0 to {outage}, graph 1 fc rgb '#eeeeee' "
               "behind\nset key top right\n"
               f"plot {plots}\n")
    subprocess.run(["gnuplot"], input=script, text=True, check=True)
    return dat, png


def _cairo():
    r = subprocess.run(["gnuplot", "-e", "set terminal"], capture_output=True, text=True)
    return "pngcairo" in (r.stdout + r.stderr)


def table(results):
    head = (f"{'policy':<10} {'peak attempts/s':>16} {'after return':>13} {'99 % back':>10} "
            f"{'broker CPU':>11} {'avg CPU':>8} {'peak CPU':>9} {'refused':>8}")
    lines = [head, "-" * len(head)]
    for r in results:
        t99 = f"{r['time_to_99pct_s']:.1f} s" if r["time_to_99pct_s"] is not None else "never"
        lines.append(f"{r['policy']:<10} {r['peak_attempts_per_s']:>16} "
                     f"{r['peak_attempts_per_s_after_return']:>13} {t99:>10} "
                     f"{r['broker_cpu_s']:>9.2f} s {r['broker_cpu_pct_avg']:>7.1f}% "
                     f"{r['broker_cpu_pct_peak']:>8.1f}% {r['refused'] + r['connack_refused']:>8}")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sim", required=True)
    ap.add_argument("--devices", type=int, default=15000)
    ap.add_argument("--ramp", type=int, default=3000)
    ap.add_argument("--outage", type=int, default=30)
    ap.add_argument("--recovery", type=int, default=60)
    ap.add_argument("--base-ms", type=int, default=1000)
    ap.add_argument("--cap-ms", type=int, default=30000)
    ap.add_argument("--jitter-ms", type=int, default=1000)
    ap.add_argument("--policies", default="fixed,additive,full")
    ap.add_argument("--out", default=".")
    ap.add_argument("--json-out")
    ap.add_argument("--verbose", action="store_true")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    work = tempfile.mkdtemp(prefix="tern-herd-")
    results = []
    try:
        for p in a.policies.split(","):
            results.append(run_policy(a.sim, p, a, os.path.join(work, p)))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print()
    print(table(results))
    dat, png = plot(results, a.out, a.outage)
    print(f"series: {dat}" + (f"   plot: {png}" if png else ""))
    by = {r["policy"]: r for r in results}
    k = "peak_attempts_per_s_after_return"
    if "fixed" in by and "full" in by and by["fixed"][k]:
        ratio = by["full"][k] / by["fixed"][k]
        print(f"herd_peak_attempts_after_return: tern={by['full'][k]} attempts/s "
              f"reference={by['fixed'][k]} attempts/s ratio={ratio:.3f} "
              "(full jitter against a fixed interval without jitter, once the broker is back)")
    if a.json_out:
        with open(a.json_out, "w") as f:
            json.dump(results, f)
    return 0


if __name__ == "__main__":
    sys.exit(main())
