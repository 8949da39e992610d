#!/usr/bin/env python3
"""Writes the committed corpus seeds: a handful of small valid inputs per
fuzz target under fuzz/corpus/<target>/ (run once; scripts/fuzz copies them
to a scratch corpus before each run). Deterministic: run again, same files."""

import json
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def varint(n):
    n &= (1 << 64) - 1
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def key(tag, wt):
    return varint(tag << 3 | wt)


def v(tag, n):  # varint field
    return key(tag, 0) + varint(n)


def ld(tag, payload):  # length-delimited field
    if isinstance(payload, str):
        payload = payload.encode()
    return key(tag, 2) + varint(len(payload)) + payload


def f32(tag, x):
    return key(tag, 5) + struct.pack("<f", x)


def f64(tag, x):
    return key(tag, 1) + struct.pack("<d", x)


def zz(n):
    return (n << 1) ^ (n >> 63)


def nested(x, label, children=()):
    return v(1, x) + ld(2, label) + b"".join(ld(3, c) for c in children)


def write(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def proto():
    leaf = nested(3, "leaf")
    seeds = {
        "empty": b"",
        "scalars": v(1, -1) + v(2, 1 << 40) + v(3, 7) + v(4, 1 << 63) + v(5, 1)
        + f32(6, 1.5) + f64(7, -2.25) + ld(8, "hi") + ld(9, b"\x00\xff") + v(10, 0),
        "repeated": ld(11, varint(1) + varint(2) + varint(300)) + v(11, 5)
        + ld(12, "a") + ld(12, "") + ld(28, struct.pack("<dd", 1.0, 2.0))
        + ld(29, varint(zz(-3))) + ld(30, struct.pack("<I", 9)) + ld(31, b"\x01\x00")
        + v(50, 1) + ld(50, varint(2)) + ld(51, struct.pack("<q", -1)),
        "maps": ld(13, ld(1, "k") + v(2, 9)) + ld(22, v(1, 4) + ld(2, leaf))
        + ld(37, v(1, 1) + v(2, 7)) + ld(38, v(1, 2) + ld(2, b"xy"))
        + ld(49, ld(1, "s") + ld(2, ld(3, v(1, 2) + v(2, 3)))),
        "nested": ld(17, nested(1, "a", [leaf, nested(2, "b", [leaf])])) + ld(18, leaf) + ld(46, leaf),
        "enums": v(19, 7) + ld(21, varint(0) + varint(1) + varint(7) + varint(5)) + v(21, 1),
        "time": ld(20, v(1, 5) + v(2, 500)) + ld(33, v(1, -86400) + v(2, 1))
        + ld(43, v(1, 1_700_000_000)) + ld(44, v(1, 2) + v(2, 999_999_999)),
        "oneofs": ld(34, ld(3, v(1, 2) + v(2, 3))) + ld(35, f64(2, 3.5)) + ld(35, ld(4, "l"))
        + ld(35, ld(5, leaf)) + ld(35, ld(1, b"")) + ld(36, b""),
        "narrow": v(39, 255) + v(40, -5) + ld(41, varint(1) + varint(65535)) + v(47, 12),
        "wide_scalars": v(14, zz(-7)) + key(15, 1) + struct.pack("<Q", 1 << 60)
        + key(16, 5) + struct.pack("<i", -2) + v(24, zz(-1 << 40)) + key(25, 5)
        + struct.pack("<I", 7) + key(26, 1) + struct.pack("<q", -9) + ld(27, b"raw")
        + f32(32, 0.0) + ld(42, b"a") + ld(42, b"") + ld(45, b"b") + v(48, -3) + ld(23, ""),
        "unknown": v(99, 1) + key(100, 3) + v(1, 1) + key(100, 4) + key(101, 5) + b"\0\0\0\0"
        + key(102, 1) + b"\0" * 8 + ld(103, b"zz") + v(1, 5),
        "time_extremes": ld(33, v(1, -(1 << 63))) + ld(43, v(1, -(1 << 63)) + v(2, 5))
        + ld(20, v(1, (1 << 63) - 1) + v(2, 999_999_999)) + ld(44, v(1, -1) + v(2, -1)),
    }
    for name, data in seeds.items():
        write("proto", name, data)


def json_body():
    for i, body in enumerate([
        '{"s": "hello", "n": 3}',
        '{"s": "a \\"quoted\\" \\\\ string", "n": [1, 2], "opt": null}',
        '{"extra": {"x": [1, {"y": true}]}, "s": "x", "s": "last"}',
        '{"\\u0073": "escaped key", "\u00e9": 1.5e3}',
        '  {}  ',
        '[1, 2]',
        '{"n": -0.0, "opt": {"deep": [[[]]]}}',
    ]):
        write("json_body", f"seed{i}", body)


def url():
    texts = ["42", "-7", "3.5", "NaN", "inf", "true", "x", "fast", "tr\u00e8s",
             "18446744073709551615", "a&b&c", "", "1e3"]
    for i, t in enumerate(texts):
        write("url", f"value{i}", b"\x00" + t.encode())
    for i, q in enumerate(["a=1&b=2&a=3", "a=x%20y+z&a=%E2%82%AC", "a", "a=&a=", "b=1", "a=%FF"]):
        write("url", f"query{i}", b"\x01" + q.encode())
    for i, p in enumerate(["x/y", "h%C3%A9/%2F", "1/2?q=1", "a%20b/c", "%FF/x"]):
        write("url", f"path{i}", b"\x02" + p.encode())


def deadline():
    for i, t in enumerate(["1S", "250m", "7u", "3n", "2M", "1H", "99999999S", "123456789S", "-1S"]):
        write("deadline", f"grpc{i}", b"\x01" + t.encode())
    for i, t in enumerate(["1500", " 20 ", "0", "18446744073709551615", "soon", "1.5"]):
        write("deadline", f"kit{i}", b"\x00" + t.encode())


def traceparent():
    tid, sid = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
    for i, t in enumerate([
        f"00-{tid}-{sid}-01",
        f"00-{tid}-{sid}-00",
        f"01-{tid}-{sid}-01-future",
        f"00-{'0' * 32}-{sid}-01",
        f"ff-{tid}-{sid}-01",
        f"  00-{tid}-{sid}-01\t",
    ]):
        write("traceparent", f"seed{i}", t)


def error_json():
    bodies = [
        {"error": {"code": 404, "status": "NOT_FOUND", "message": "no such key", "details": []}},
        {"error": {"code": 400, "status": "INVALID_ARGUMENT", "message": "bad",
                   "details": [{"field": "s"}]}},
        {"error": {"code": 503, "status": "UNAVAILABLE", "message": ""}},
        {"error": {"code": 1, "status": "NOPE", "message": ""}},
    ]
    for i, b in enumerate(bodies):
        write("error_json", f"seed{i}", json.dumps(b))
    write("error_json", "html", "<html>bad gateway</html>")


def ndjson():
    lines = ['{"result":1}', '{"result":null}', '{"result":{"a":[1,"x"]}}', '{"result":"s"}',
             json.dumps({"error": {"code": 504, "status": "DEADLINE_EXCEEDED", "message": "late"}}),
             '{"other":1}', 'not json']
    for i, l in enumerate(lines):
        write("ndjson", f"line{i}", b"\x00" + l.encode())
    body = '{"result":1}\n\n{"result":[2]}\r\n' + lines[4] + '\n{"result":3}\n'
    write("ndjson", "stream0", b"\x01\x03\x05\x11\x20" + body.encode())
    write("ndjson", "stream1", b"\x01\x00" + b'{"result":"no newline at the end"}')


def jwt():
    import base64, hashlib, hmac
    secret = b"kit-fuzz-secret-0123456789abcdef"
    b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()
    def token(header, claims, key=secret):
        msg = b64(json.dumps(header).encode()) + "." + b64(json.dumps(claims).encode())
        return msg + "." + b64(hmac.new(key, msg.encode(), hashlib.sha256).digest())
    good = {"sub": "ana", "scope": "a b", "iss": "kit-fuzz", "aud": "fuzz-aud", "exp": 4102444800}
    write("jwt", "raw_valid", b"\x00" + token({"alg": "HS256", "typ": "JWT"}, good).encode())
    write("jwt", "raw_other_key", b"\x00" + token({"alg": "HS256"}, good, b"another key of thirty-two bytes!").encode())
    write("jwt", "raw_none", b"\x00" + (b64(b'{"alg":"none"}') + "." + b64(json.dumps(good).encode()) + ".").encode())
    write("jwt", "raw_junk", b"\x00a.b.c")
    # structured: mode, alg, kid, exp, nbf, iss, aud, spoil, "sub\0scope"
    write("jwt", "valid", bytes([1, 0, 0, 12, 0, 1, 1, 0]) + b"ana\x00read write")
    write("jwt", "expired", bytes([1, 0, 1, 4, 3, 3, 3, 0]) + b"bo\x00x")
    write("jwt", "missing", bytes([1, 0, 0, 0, 0, 0, 0, 0]) + b"\x00")
    write("jwt", "wrong_alg", bytes([1, 3, 2, 12, 0, 1, 1, 3]) + b"c")


if __name__ == "__main__":
    for fn in (proto, json_body, url, deadline, traceparent, error_json, ndjson, jwt):
        fn()
