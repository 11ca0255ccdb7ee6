#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""The time-series batch as Protobuf against independent readers.

For many seeds, tsbatch_pb_peer fills four series (numbers with skipped
samples and multi-byte deltas, a switch, a state machine) and prints the
readings it added, the compact CBOR batch and the nanopb tern.Batch message.
Google's protoc decodes the message (protoc --decode, text format) and
python3-cbor2 the CBOR batch. Both are expanded into readings by the rules of
docs/compact-batch.md, and each must equal the other, slot for slot, and give
back every reading the peer added, exactly.

Usage: tsbatch_protobuf.py <tsbatch_pb_peer> <tsbatch.proto>
"""
import os
import subprocess
import sys

import cbor2

SEEDS = 60


def expand(series):
    """{name: [(t_ms, value) per slot]} from dicts of the batch's fields."""
    out = {}
    for s in series:
        t, dt, kind = s["bt"] + s["t0"], s["dt"], s["kind"]
        slots = []
        if kind == 0:
            q = s["v0"]
            slots.append((t, q))
            gaps, deltas, k = set(s["gaps"]), iter(s["deltas"]), 0
            for k in range(1, len(s["deltas"]) + len(gaps) + 1):
                if k not in gaps:
                    q += next(deltas)
                    slots.append((t + k * dt, q))
        else:
            runs = s["runs"]
            if kind == 1:
                values = [bool(s["first"]) != bool(i % 2) for i in range(len(runs))]
            else:
                values = [s["states"][runs[i]] for i in range(0, len(runs), 2)]
                runs = runs[1::2]
            k = 0
            for v, n in zip(values, runs):
                for _ in range(n):
                    slots.append((t + k * dt, v))
                    k += 1
        out[s["n"]] = slots
    return out


def from_cbor(blob):
    b = cbor2.loads(blob)
    assert b[0] == 1, b[0]
    series = []
    for s in b[3:]:
        d = {"n": s[0], "kind": s[2], "t0": s[3], "dt": s[4], "bt": b[2], "gaps": [], "deltas": []}
        if s[2] == 0:
            d["v0"] = s[6]
            for k, x in enumerate(s[7], start=1):
                (d["gaps"].append(k) if x is None else d["deltas"].append(x))
        elif s[2] == 1:
            d["first"], d["runs"] = s[5], s[6]
        else:
            d["states"], d["runs"] = s[5], s[6]
        series.append(d)
    return expand(series)


def from_protoc(blob, proto):
    r = subprocess.run(["protoc", "-I", os.path.dirname(proto), "--decode=tern.Batch",
                        os.path.basename(proto)], input=blob, capture_output=True, check=True)
    top, series, cur = {}, [], None
    for line in r.stdout.decode().splitlines():
        line = line.strip()
        if line == "series {":
            cur = {"kind": "NUM", "t0": 0, "scale": 0, "v0": 0, "first": False,
                   "deltas": [], "gaps": [], "runs": [], "states": []}
            continue
        if line == "}":
            series.append(cur)
            cur = None
            continue
        key, val = line.split(": ", 1)
        val = val.strip('"') if val.startswith('"') else val
        target = cur if cur is not None else top
        if key in ("deltas", "gaps", "runs"):
            target[key].append(int(val))
        elif key == "states":
            target[key].append(val)
        elif key in ("n", "u", "bn", "kind"):
            target[key] = val
        elif key == "first":
            target[key] = val == "true"
        else:
            target[key] = int(val)
    assert top.get("version") == 1, top
    for s in series:
        s["bt"], s["kind"] = top["bt"], {"NUM": 0, "BOOL": 1, "ENUM": 2}[s["kind"]]
    return expand(series)


def main():
    peer, proto = sys.argv[1], sys.argv[2]
    fails = checks = 0
    total_cbor = total_pb = readings = 0
    for seed in range(1, SEEDS + 1):
        out = subprocess.run([peer, str(seed)], capture_output=True, check=True).stdout.decode()
        expect, blobs = {}, {}
        for line in out.splitlines():
            f = line.split()
            if f[0] == "expect":
                v = int(f[3]) if f[1] in ("temp", "pres", "door") else f[3]
                expect.setdefault(f[1], []).append((int(f[2]), bool(v) if f[1] == "door" else v))
            else:
                blobs[f[0]] = bytes.fromhex(f[1])
        a, b = from_cbor(blobs["cbor"]), from_protoc(blobs["pb"], proto)
        total_cbor += len(blobs["cbor"])
        total_pb += len(blobs["pb"])
        readings += sum(len(v) for v in expect.values())
        checks += 1
        if a != b:
            fails += 1
            print(f"FAIL seed {seed}: CBOR and Protobuf decode differently")
            continue
        for name, want in expect.items():
            got = dict(b[name])
            checks += 1
            if name in ("temp", "pres"):  # numbers: exactly the added samples
                ok = b[name] == want
            else:  # runs: every added sample's value, and no slot past the last
                ok = all(got.get(t) == v for t, v in want) and b[name][-1][0] == want[-1][0]
            if not ok:
                fails += 1
                print(f"FAIL seed {seed}: {name} decodes to other readings than were added")
    print(f"{checks} checks over {SEEDS} batches, {readings} readings: "
          f"CBOR {total_cbor} B, Protobuf {total_pb} B; {fails} failed")
    return 1 if fails or checks < SEEDS * 5 else 0


if __name__ == "__main__":
    sys.exit(main())
