#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""tern's CBOR codec against an independent implementation, Debian's python3-cbor2.

Thousands of generated values of every type and nesting (integers at every head
size and both signs up to 2^64, floats that fit half, single and double
precision and the special ones, byte and text strings with any Unicode, arrays,
maps with mixed keys, tags, simple values, and indefinite-length strings and
containers written by hand) are encoded by cbor2 into one CBOR sequence. The C
peer (cbor_peer) decodes every item with tern's decoder and encodes it again with
tern's encoder; cbor2 decodes what tern wrote, and each value must equal the
original, value by value. A second pass has tern encode deterministically (and
validate its own output as deterministic), and checks that against cbor2 too;
tern's preferred serialization must also never be longer than cbor2's
canonical encoding of the same value.

usage: cbor_roundtrip.py <cbor_peer>"""
import math
import random
import struct
import subprocess
import sys

import cbor2

PEER = sys.argv[1]
N = 4000
rng = random.Random(8949)


def rand_int():
    bits = rng.choice([3, 5, 8, 9, 16, 17, 32, 33, 63, 64])
    v = rng.getrandbits(bits)
    return v if rng.random() < 0.5 else -1 - v


def rand_float():
    kind = rng.randrange(7)
    if kind == 0:  # exact in half precision
        return struct.unpack(">e", struct.pack(">H", rng.getrandbits(15) & 0x7BFF))[0] * \
            rng.choice([1, -1])
    if kind == 1:  # exact in single precision
        return struct.unpack(">f", struct.pack(">I", rng.getrandbits(31) & 0x7F7FFFFF))[0]
    if kind == 2:
        return rng.choice([0.0, -0.0, math.inf, -math.inf, 1.5, 65504.0, 5.960464477539063e-8,
                           1.401298464324817e-45, 3.4028234663852886e+38, 1e300, 2.2e-308])
    return rng.uniform(-1e6, 1e6) * 10 ** rng.randrange(-30, 30)


def rand_text():
    n = rng.randrange(0, 40)
    pool = [lambda: chr(rng.randrange(0x20, 0x7F)), lambda: chr(rng.randrange(0xA0, 0x800)),
            lambda: chr(rng.randrange(0x800, 0xD800)), lambda: chr(rng.randrange(0xE000, 0x10000)),
            lambda: chr(rng.randrange(0x10000, 0x110000))]
    return "".join(rng.choice(pool)() for _ in range(n))


def rand_value(depth=0):
    kinds = ["int", "float", "bytes", "text", "bool", "none", "undef", "simple", "tag"]
    if depth < 4:
        kinds += ["list", "dict"] * (2 if depth < 2 else 1)
    k = rng.choice(kinds)
    if k == "int":
        return rand_int()
    if k == "float":
        return rand_float()
    if k == "bytes":
        return rng.randbytes(rng.choice([0, 1, 23, 24, 255, 256, 300]))
    if k == "text":
        return rand_text()
    if k == "bool":
        return rng.random() < 0.5
    if k == "none":
        return None
    if k == "undef":
        return cbor2.undefined
    if k == "simple":
        return cbor2.CBORSimpleValue(rng.choice(list(range(0, 20)) + list(range(32, 256))))
    if k == "tag":  # tag numbers cbor2 does not interpret
        return cbor2.CBORTag(rng.choice([40000, 65535, 1 << 20, 1 << 40]), rand_value(depth + 1))
    if k == "list":
        return [rand_value(depth + 1) for _ in range(rng.choice([0, 1, 3, 5, 24]))]
    keys = set()
    d = {}
    for _ in range(rng.choice([0, 1, 2, 5, 24])):
        key = rng.choice([rand_int, rand_text])()
        if key not in keys:
            keys.add(key)
            d[key] = rand_value(depth + 1)
    return d


def same(a, b):
    """Value equality, NaN equal to NaN, -0.0 distinct from 0.0, types respected."""
    if isinstance(a, float) or isinstance(b, float):
        if not (isinstance(a, float) and isinstance(b, float)):
            return False
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return a == b and math.copysign(1, a) == math.copysign(1, b)
    if type(a) is not type(b):
        return False
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return len(a) == len(b) and all(k in b and same(v, b[k]) for k, v in a.items())
    if isinstance(a, cbor2.CBORTag):
        return a.tag == b.tag and same(a.value, b.value)
    return a == b


def loads_seq(data):
    import io
    f = io.BytesIO(data)
    out = []
    while f.tell() < len(data):
        out.append(cbor2.CBORDecoder(f).decode())
    return out


# Indefinite-length items, written by hand (cbor2 only writes definite ones).
HAND = [
    (bytes.fromhex("5f42010243030405ff"), b"\x01\x02\x03\x04\x05"),
    (bytes.fromhex("7f657374726561646d696e67ff"), "streaming"),
    (bytes.fromhex("9fff"), []),
    (bytes.fromhex("9f018202039f0405ffff"), [1, [2, 3], [4, 5]]),
    (bytes.fromhex("bf61610161629f0203ffff"), {"a": 1, "b": [2, 3]}),
    (bytes.fromhex("bf6346756ef563416d7421ff"), {"Fun": True, "Amt": -2}),
    (bytes.fromhex("5fff"), b""),
    (bytes.fromhex("7f60ff"), ""),
]


def run_peer(data, *args):
    r = subprocess.run([PEER, *args], input=data, capture_output=True, timeout=120)
    if r.returncode != 0:
        raise SystemExit(f"cbor_peer {' '.join(args)} failed: {r.stderr.decode()}")
    return r.stdout, r.stderr.decode().strip()


def main():
    values = [rand_value() for _ in range(N)]
    failures = 0
    checks = 0
    # 1. cbor2 encodes (preferred floats with canonical=True on half the values), tern
    #    decodes and encodes again, cbor2 decodes: value for value.
    data = b"".join(cbor2.dumps(v, canonical=(i % 2 == 0)) for i, v in enumerate(values))
    data += b"".join(h for h, _ in HAND)
    out, note = run_peer(data)
    back = loads_seq(out)
    want = values + [v for _, v in HAND]
    print(f"round trip: {note}")
    if len(back) != len(want):
        print(f"FAIL {len(back)} items back, {len(want)} sent")
        return 1
    for i, (a, b) in enumerate(zip(want, back)):
        checks += 1
        if not same(a, b):
            failures += 1
            if failures <= 5:
                print(f"FAIL item {i}: sent {a!r}, got {b!r}")
    # the indefinite items stay indefinite on the way back
    tail = out[len(out) - sum(len(h) for h, _ in HAND):]
    checks += 1
    if tail != b"".join(h for h, _ in HAND):
        failures += 1
        print("FAIL indefinite-length items were not kept as they were")
    # 2. deterministic: tern's output validates as deterministic (the peer checks) and
    #    decodes to the same values; tern's preferred form is never longer than cbor2's
    #    canonical one
    data = b"".join(cbor2.dumps(v) for v in values)
    out, note = run_peer(data, "-d")
    print(f"deterministic: {note}")
    back = loads_seq(out)
    for i, (a, b) in enumerate(zip(values, back)):
        checks += 1
        if not same(a, b):
            failures += 1
            if failures <= 10:
                print(f"FAIL deterministic item {i}: sent {a!r}, got {b!r}")
    ours = len(out)
    theirs = sum(len(cbor2.dumps(v, canonical=True)) for v in values)
    checks += 1
    if ours > theirs:
        failures += 1
        print(f"FAIL deterministic output {ours} bytes, cbor2 canonical {theirs}")
    print(f"sizes: tern deterministic {ours} bytes, cbor2 canonical {theirs} bytes")
    print(f"{checks - failures} passed, {failures} failed ({N} generated values, "
          f"{len(HAND)} hand-written indefinite items)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
