#!/usr/bin/env python3
"""Test driver: builds packets with the independent codec hbwire.py, for
crates/msg/tests/hbwire.rs to compare byte for byte.

Reads one JSON request a line on stdin, writes one line of hex per request:
  {"mode": "sign", "method": "sha1"|"md5"|"crc", "key": HEX, "idx": N, "fields": F}
      -> hbwire.build(F, key, idx, method)       (string/binary fields only)
  {"mode": "body", "fields": F}
      -> hbwire.encode_fields(F)                  (any type, nested by recursion)
F is a list of [type, name_hex, value]; value is hex for types 0, 1, 4, a list
of hex items for type 3 and a nested F for types 2 and 5.
The directory holding hbwire.py is the first argument.
"""
import json, sys

sys.path.insert(0, sys.argv[1])
import hbwire  # noqa: E402


def fields(spec):
    out = []
    for t, name_hex, value in spec:
        name = bytes.fromhex(name_hex).decode()
        if t in (2, 5):
            v = hbwire.encode_fields(fields(value))
        elif t == 3:
            items = [bytes.fromhex(i) for i in value]
            v = b"".join(b"%d:%s," % (len(i), i) for i in items)
        else:
            v = bytes.fromhex(value)
        out.append((t, name, v))
    return out


for line in sys.stdin:
    req = json.loads(line)
    f = fields(req["fields"])
    if req["mode"] == "sign":
        pkt = hbwire.build(f, bytes.fromhex(req["key"]), req["idx"], req["method"])
    else:
        pkt = hbwire.encode_fields(f)
    sys.stdout.write(pkt.hex() + "\n")
