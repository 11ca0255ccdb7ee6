#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""ternctl cbor as a user runs it: `encode` (JSON to deterministic CBOR, checked
by decoding with cbor2, an independent implementation: values, key order,
shortest forms, errors and their byte offsets, deep nesting) and `diag`
(diagnostic notation of binary and hex input, sequences, errors), the two
together in a pipeline, and the usage errors.

usage: ternctl_cbor.py <ternctl>
Prints one line per case and ends with 'N passed, M failed'."""
import json
import os
import subprocess
import sys
import tempfile

import cbor2

TERNCTL = sys.argv[1]


def run(*args, stdin=b"", timeout=60):
    if isinstance(stdin, str):
        stdin = stdin.encode()
    return subprocess.run([TERNCTL, *args], input=stdin, capture_output=True, timeout=timeout)


def same(a, b):
    """JSON value @p a (json.loads) equals CBOR value @p b (cbor2.loads); floats by value."""
    if isinstance(a, bool) or a is None:
        return a is b
    if isinstance(a, float) or isinstance(b, float):
        return isinstance(a, (int, float)) and isinstance(b, (int, float)) and \
            not isinstance(b, bool) and float(a) == float(b)
    if isinstance(a, int):
        return type(b) is int and a == b
    if isinstance(a, str):
        return isinstance(b, str) and a == b
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(map(same, a, b))
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return False


def wire_keys_sorted(v):
    """Every map of @p v (decoded by cbor2, which keeps the wire order) has its
    encoded keys in strictly ascending bytewise order."""
    if isinstance(v, dict):
        keys = [cbor2.dumps(k) for k in v]
        return keys == sorted(set(keys)) and all(wire_keys_sorted(x) for x in v.values())
    if isinstance(v, list):
        return all(wire_keys_sorted(x) for x in v)
    return True


DOC = r'''
{
  "name": "tern", "zeta": {"b": [1, 2, {"y": null, "x": true}], "a": false},
  "unicode": "caf\u00e9 \u65e5\u672c \ud83d\ude00 \"q\" \\ \/ \b\f\n\r\t",
  "raw utf8": "grüße ✓ 😀",
  "ints": [0, 1, 23, 24, 255, 256, 65535, 65536, 4294967295, 4294967296,
           9223372036854775807, 18446744073709551615, -1, -24, -25, -256, -257,
           -9223372036854775808, -9223372036854775809, -18446744073709551616],
  "bigger": [18446744073709551616, -18446744073709551617, 123456789012345678901234567890],
  "floats": [0.0, -0.0, 1.5, -4.1, 0.1, 100000.0, 3.4028234663852886e38, 1e300, 5e-324,
             2.5e-8, 65504.0, 1E3, 1e-2, -2.5E+2],
  "empty": {"o": {}, "a": [], "s": ""},
  "": "empty key", "aa": 1, "b": 2, "a": 3
}
'''

SHORTEST = [
    ("1.5", "f93e00"), ("100000.0", "fa47c35000"), ("24", "1818"), ("23", "17"),
    ("0", "00"), ("-0", "00"), ("-0.0", "f98000"), ("0.0", "f90000"), ("-1", "20"),
    ("-24", "37"), ("-25", "3818"), ("255", "18ff"), ("256", "190100"), ("65536", "1a00010000"),
    ("4294967296", "1b0000000100000000"), ("18446744073709551615", "1bffffffffffffffff"),
    ("-18446744073709551616", "3bffffffffffffffff"), ("18446744073709551616", "fa5f800000"),
    ("0.1", "fb3fb999999999999a"), ("65504.0", "f97bff"), ("5.960464477539063e-8", "f90001"),
    ("1e300", "fb7e37e43c8800759c"), ("true", "f5"), ("false", "f4"), ("null", "f6"),
    ('""', "60"), ('"a"', "6161"), ("[]", "80"), ("{}", "a0"),
    ('{"b":1,"a":2}', "a2616102616201"),
    ('{"aa":1,"b":2}', "a261620262616101"),  # shorter encoded key first: 0x61 'b' < 0x62 "aa"
    (' \t\r\n[ 1 , [ ] ] \n', "820180"),
    # maps whose items have 2-byte heads (lengths of 24 and more) must sort too
    ('{"b":1,"a":"%s"}' % ("x" * 24), "a261617818" + "78" * 24 + "616201"),
    ('{"b":1,"a":[%s]}' % ",".join(["0"] * 24), "a261619818" + "00" * 24 + "616201"),
    ('{"%s":1,"a":2}' % ("k" * 30), "a2616102781e" + "6b" * 30 + "01"),
]

ERRORS = [
    ('{"a":1,}', "unexpected character at byte 7"),
    ("[1,2", "unexpected end of input at byte 4"),
    ('"\\ud800"', "lone surrogate at byte 1"),
    ('"ab\\udc00"', "lone surrogate at byte 3"),
    ('"\\ud800\\u0041"', "lone surrogate at byte 1"),
    ('{"a":1,"a":2}', "duplicate key at byte 7"),
    ('{"k":{"x":1,"y":2,"\\u0078":3}}', "duplicate key at byte 18"),
    ('{"a":{"b":1},"a":{"c":2}}', "duplicate key at byte 13"),
    ("", "unexpected end of input at byte 0"),
    ("  ", "unexpected end of input at byte 2"),
    ('"abc', "unterminated string at byte 0"),
    ('["x", "abc', "unterminated string at byte 6"),
    ('"\\q"', "bad escape at byte 1"),
    ('"\\u12g4"', "bad escape at byte 1"),
    ('"a\tb"', "control character in string at byte 2"),
    ("1 2", "trailing characters at byte 2"),
    ("{} x", "trailing characters at byte 3"),
    ("[01]", "unexpected character at byte 2"),
    ("1.", "unexpected end of input at byte 2"),
    ("1.e5", "unexpected character at byte 2"),
    ("-", "unexpected end of input at byte 1"),
    ("+1", "unexpected character at byte 0"),
    ("tru", "unexpected end of input at byte 3"),
    ("nul!", "unexpected character at byte 3"),
    ("[1;2]", "unexpected character at byte 2"),
    ('{"a" 1}', "unexpected character at byte 5"),
    ("{1:2}", "unexpected character at byte 1"),
    ("1e400", "number out of range at byte 0"),
    ("[1, -1e999]", "number out of range at byte 4"),
    ("NaN", "unexpected character at byte 0"),
    ("\ufeff1", "unexpected character at byte 0"),
    ("[" * 65 + "]" * 65, "nesting too deep at byte 64"),
]

# Invalid UTF-8 inside a string (bytes, not text).
BAD_UTF8 = [
    (b'"a\xffb"', "invalid UTF-8 at byte 2"),
    (b'"\xc0\xaf"', "invalid UTF-8 at byte 1"),          # overlong
    (b'"\xed\xa0\x80"', "invalid UTF-8 at byte 1"),      # a surrogate
    (b'"\xf4\x90\x80\x80"', "invalid UTF-8 at byte 1"),  # above U+10FFFF
    (b'"ab\xe2\x82"', "invalid UTF-8 at byte 3"),        # cut short
]

DIAG_BIN = [
    ([1, 2, 3], "[1, 2, 3]"),
    ({"a": 1, "b": [True, False, None]}, '{"a": 1, "b": [true, false, null]}'),
    (b"\x01\x02\xff", "h'0102ff'"),
    ("text \"q\"", '"text \\"q\\""'),
    (-5, "-5"),
    (18446744073709551615, "18446744073709551615"),
    (-18446744073709551616, "-18446744073709551616"),
    (1.5, "1.5"),
    (-4.1, "-4.1"),
    (float("inf"), "Infinity"),
    (float("-inf"), "-Infinity"),
    (cbor2.CBORTag(0, "2013-03-21T20:04:00Z"), '0("2013-03-21T20:04:00Z")'),
    (cbor2.undefined, "undefined"),
    (cbor2.CBORSimpleValue(16), "simple(16)"),
    ([], "[]"),
    ({}, "{}"),
]

DIAG_HEX = [
    ("83010203", "[1, 2, 3]"),
    ("bf6346756ef563416d7421ff", '{_ "Fun": true, "Amt": -2}'),
    ("BF6346756EF563416D7421FF", '{_ "Fun": true, "Amt": -2}'),
    ("f97e00", "NaN"),
    ("f93e00", "1.5"),
    (" 83 01\n02\t03 \n", "[1, 2, 3]"),
    ("9f018202039f0405ffff", "[_ 1, [2, 3], [_ 4, 5]]"),
    ("c074323031332d30332d32315432303a30343a30305a", '0("2013-03-21T20:04:00Z")'),
    ("4401020304", "h'01020304'"),
    ("f7", "undefined"),
]


def main():
    work = tempfile.mkdtemp(prefix="tern-cbor-")
    results = []

    def case(name, ok, detail=""):
        results.append(ok)
        print(("PASS " if ok else "FAIL ") + name + ("" if ok else f": {detail}"))

    def encode(doc, *extra):
        return run("cbor", "encode", *extra, stdin=doc)

    # ---- encode: values, as an independent decoder reads them
    r = encode(DOC)
    ok = r.returncode == 0
    try:
        got = cbor2.loads(r.stdout) if ok else None
    except Exception as exc:  # noqa: BLE001
        ok, got = False, exc
    case("encode: a document decodes (cbor2) to what json.loads reads",
         ok and same(json.loads(DOC), got), f"rc={r.returncode} {r.stderr!r} {got!r}")
    case("encode: every map's encoded keys ascend bytewise (deterministic)",
         ok and wire_keys_sorted(got), repr(got))
    h = encode(DOC, "--hex")
    case("encode --hex: the same bytes as lowercase hex and a newline",
         h.returncode == 0 and h.stdout.endswith(b"\n") and
         h.stdout.decode().strip() == r.stdout.hex(), h.stdout[:80])
    case("encode: nested maps sorted, exact bytes",
         encode('{"b":1,"a":2,"c":{"zz":1,"y":2}}').stdout ==
         bytes.fromhex("a36161026162016163a2617902627a7a01"),
         encode('{"b":1,"a":2,"c":{"zz":1,"y":2}}').stdout.hex())

    path = os.path.join(work, "doc.json")
    with open(path, "w", encoding="utf-8") as f:
        f.write(DOC)
    fr = run("cbor", "encode", path)
    case("encode FILE reads the file", fr.returncode == 0 and fr.stdout == r.stdout, fr.stderr)
    fr = run("cbor", "encode", "-", stdin=DOC)
    case("encode - reads stdin", fr.returncode == 0 and fr.stdout == r.stdout, fr.stderr)

    # ---- encode: shortest forms, one per line
    for doc, want in SHORTEST:
        e = encode(doc, "--hex")
        out = e.stdout.decode().strip()
        case(f"encode {doc.strip()!r} -> {want}", e.returncode == 0 and out == want,
             f"rc={e.returncode} got {out!r} {e.stderr!r}")

    # ---- encode: nesting
    deep = "[" * 64 + "]" * 64
    e = encode(deep)
    v, depth = (cbor2.loads(e.stdout) if e.returncode == 0 else None), 0
    while isinstance(v, list) and v:
        v, depth = v[0], depth + 1
    case("encode: 64 nested arrays (the limit) are accepted",
         e.returncode == 0 and depth == 63 and v == [], e.stderr)
    deep = "".join('{"b":%d,"a":[' % i for i in range(32)) + "1" + "]}" * 32
    e = encode(deep)
    try:
        got = cbor2.loads(e.stdout)
    except Exception as exc:  # noqa: BLE001
        got = exc
    case("encode: 32 objects in 32 arrays nested (64 levels), deeper than the encoder's own stack,"
         " decode right and sorted", e.returncode == 0 and same(json.loads(deep), got) and
         wire_keys_sorted(got), f"{e.stderr!r} {str(got)[:100]}")
    deep = "[" * 40 + '{"a":1,"a":2}' + "]" * 40
    e = encode(deep)
    case("encode: a duplicate key 40 levels deep names its byte",
         e.returncode == 1 and b"duplicate key at byte 47" in e.stderr, e.stderr)

    big = json.dumps({"k%05d" % (9999 - i): [i, i * 0.5, "v" * (i % 7)] for i in range(10000)})
    e = encode(big)
    try:
        got = cbor2.loads(e.stdout)
    except Exception as exc:  # noqa: BLE001
        got = exc
    case("encode: a map of 10,000 pairs comes out sorted",
         e.returncode == 0 and same(json.loads(big), got) and wire_keys_sorted(got), e.stderr)
    doc = '{"b":1,"a":"%s"}' % ("x" * 70000)
    e = encode(doc)
    case("encode: a map with a 70,000-byte text value (4-byte length head) sorts",
         e.returncode == 0 and e.stdout == bytes.fromhex("a261617a00011170") + b"x" * 70000 +
         bytes.fromhex("616201"), f"rc={e.returncode} {e.stderr[-300:]!r}")
    e = encode("[" + ",".join(["0.1"] * 200000) + "]")
    case("encode: 200,000 doubles (the output 2.25 times the input)",
         e.returncode == 0 and len(e.stdout) == 5 + 9 * 200000, e.stderr)
    e = encode(" " * (1 << 20) + "1")
    case("encode: input over 1 MiB is refused",
         e.returncode == 1 and b"larger than" in e.stderr, e.stderr)

    # ---- encode: errors and their bytes
    for doc, want in ERRORS:
        e = encode(doc)
        msg = e.stderr.decode(errors="replace").strip()
        case(f"encode error {doc[:30]!r}: {want}",
             e.returncode == 1 and msg == f"ternctl: cbor: {want}" and e.stdout == b"",
             f"rc={e.returncode} {msg!r}")
    for doc, want in BAD_UTF8:
        e = encode(doc)
        msg = e.stderr.decode(errors="replace").strip()
        case(f"encode error {doc!r}: {want}",
             e.returncode == 1 and msg == f"ternctl: cbor: {want}", f"rc={e.returncode} {msg!r}")

    # ---- diag (needs the decoder and the printer)
    for value, want in DIAG_BIN:
        d = run("cbor", "diag", stdin=cbor2.dumps(value))
        out = d.stdout.decode(errors="replace")
        case(f"diag {cbor2.dumps(value).hex()} -> {want}",
             d.returncode == 0 and out == want + "\n", f"rc={d.returncode} {out!r} {d.stderr!r}")
    for text, want in DIAG_HEX:
        d = run("cbor", "diag", "--hex", stdin=text)
        out = d.stdout.decode(errors="replace")
        case(f"diag --hex {text.strip()!r} -> {want}",
             d.returncode == 0 and out == want + "\n", f"rc={d.returncode} {out!r} {d.stderr!r}")
    bin_path = os.path.join(work, "item.cbor")
    with open(bin_path, "wb") as f:
        f.write(bytes.fromhex("a26161016162820203"))
    d = run("cbor", "diag", bin_path)
    case("diag FILE reads the file", d.returncode == 0 and d.stdout == b'{"a": 1, "b": [2, 3]}\n',
         f"{d.stdout!r} {d.stderr!r}")
    d = run("cbor", "diag", "--hex", "--seq", stdin="01 820203 6161 f6")
    case("diag --seq: one line per item of a sequence",
         d.returncode == 0 and d.stdout == b'1\n[2, 3]\n"a"\nnull\n', f"{d.stdout!r} {d.stderr!r}")
    d = run("cbor", "diag", "--hex", "--seq", stdin="01 8201")
    case("diag --seq: a truncated second item fails, after printing the first",
         d.returncode == 1 and d.stdout == b"1\n" and b"at byte" in d.stderr,
         f"{d.stdout!r} {d.stderr!r}")

    # ---- the pipeline: encode --hex | diag --hex
    doc = '{"b": [1, 2.5, "x\\u0079", -7, {"n": null}], "a": true, "c": 1e3}'
    p1 = subprocess.Popen([TERNCTL, "cbor", "encode", "--hex"], stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    p2 = subprocess.Popen([TERNCTL, "cbor", "diag", "--hex"], stdin=p1.stdout,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    p1.stdout.close()
    p1.stdin.write(doc.encode())
    p1.stdin.close()
    out2, err2 = p2.communicate(timeout=60)
    p1.wait(timeout=60)
    want = '{"a": true, "b": [1, 2.5, "xy", -7, {"n": null}], "c": 1000.0}\n'
    case("pipeline: ternctl cbor encode --hex | ternctl cbor diag --hex",
         p1.returncode == 0 and p2.returncode == 0 and out2.decode() == want,
         f"rc={p1.returncode},{p2.returncode} {out2!r} {err2!r}")

    # ---- diag errors
    d = run("cbor", "diag", "--hex", stdin="8301")
    case("diag: truncated input 8301 fails with exit 1 at a byte",
         d.returncode == 1 and b"at byte" in d.stderr and d.stderr.startswith(b"ternctl: cbor: "),
         f"rc={d.returncode} {d.stderr!r}")
    d = run("cbor", "diag", stdin=bytes.fromhex("8301"))
    case("diag: truncated binary input fails with exit 1 at a byte",
         d.returncode == 1 and b"at byte" in d.stderr, d.stderr)
    d = run("cbor", "diag", stdin=bytes.fromhex("0102"))
    case("diag: bytes after the item fail at the first of them",
         d.returncode == 1 and d.stderr.strip().endswith(b"at byte 1"), d.stderr)
    d = run("cbor", "diag", stdin=b"")
    case("diag: empty input fails at byte 0",
         d.returncode == 1 and d.stderr.strip().endswith(b"at byte 0"), d.stderr)
    d = run("cbor", "diag", "--hex", stdin="83 0g")
    case("diag --hex: a bad hex digit names its offset",
         d.returncode == 1 and d.stderr == b"ternctl: cbor: bad hex digit at offset 4\n", d.stderr)
    d = run("cbor", "diag", "--hex", stdin="830")
    case("diag --hex: an odd number of digits fails", d.returncode == 1, d.stderr)

    # ---- senml: the compact batch (docs/compact-batch.md's worked example) and SenML packs
    example = ("85 01 6364313a 1b0000018bcfe56800 88 6474656d70 6343656c 00 00 1903e8 21 190869"
               " 83022000 87 64646f6f72 f6 01 00 1903e8 f4 83020101")
    d = run("cbor", "senml", "--hex", stdin=example)
    recs = json.loads(d.stdout) if d.returncode == 0 else []
    want = [("temp", "v", v, 1700000000 + i) for i, v in enumerate([21.53, 21.55, 21.54, 21.54])]
    want += [("door", "vb", v, 1700000000 + i) for i, v in enumerate([False, False, True, False])]
    case("senml: the worked example's batch reads back as its 8 SenML records",
         len(recs) == 8 and all(r["bn"] == "d1:" and r["n"] == n and r[k] == v and r["t"] == t
                                for r, (n, k, v, t) in zip(recs, want))
         and recs[0]["u"] == "Cel" and "u" not in recs[4], d.stdout + d.stderr)
    pack = cbor2.dumps([{-2: "urn:dev:x:", -3: 1000, 0: "rssi", 1: "dBm", 2: -71},
                        {0: "state", 3: "idle", 6: 2.5}, {0: "raw", 8: b"\x01\x02\x03"}])
    d = run("cbor", "senml", stdin=pack)
    recs = json.loads(d.stdout) if d.returncode == 0 else []
    case("senml: a SenML-CBOR pack is resolved (base name, base time, vs, vd in base64url)",
         len(recs) == 3 and recs[0]["v"] == -71 and recs[0]["t"] == 1000 and
         recs[1]["vs"] == "idle" and recs[1]["t"] == 1002.5 and recs[2]["vd"] == "AQID" and
         all(r["bn"] == "urn:dev:x:" for r in recs), d.stdout + d.stderr)
    d = run("cbor", "senml", "--hex", stdin=example[:60])
    case("senml: a cut batch fails with its byte", d.returncode == 1 and b"at byte" in d.stderr,
         d.stderr)
    d = run("cbor", "senml", stdin=cbor2.dumps([{2: 1}]))
    case("senml: a record without a name is refused", d.returncode == 1, d.stderr)

    # ---- usage
    for args in (["cbor"], ["cbor", "frob"], ["cbor", "encode", "--bogus"],
                 ["cbor", "diag", "a", "b"], ["cbor", "encode", "--seq"]):
        u = run(*args)
        case(f"usage error: ternctl {' '.join(args)} exits 2", u.returncode == 2, u.stderr)
    u = run("--help")
    case("ternctl --help lists cbor diag and cbor encode",
         u.returncode == 0 and b"cbor diag" in u.stdout and b"cbor encode" in u.stdout, u.stdout)
    u = run("cbor", "encode", os.path.join(work, "missing.json"))
    case("a missing FILE fails with exit 1", u.returncode == 1 and b"missing.json" in u.stderr,
         u.stderr)

    passed = sum(results)
    print(f"{passed} passed, {len(results) - passed} failed")
    return 0 if passed == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
