#!/usr/bin/env python3
"""Turns C2SP CCTV age vectors into fuzz seeds: each vector's age file,
without the `key: value` header and decompressed when the header says
`compressed: zlib`. Usage: make_seeds.py VECTOR_DIR OUT_DIR"""

import os
import sys
import zlib


def age_file(vector: bytes) -> bytes:
    header, sep, body = vector.partition(b"\n\n")
    if not sep:
        raise ValueError("no blank line after the vector header")
    fields = dict(line.split(b": ", 1) for line in header.split(b"\n") if b": " in line)
    if fields.get(b"compressed") == b"zlib":
        body = zlib.decompress(body)
    return body


def main() -> int:
    vector_dir, out_dir = sys.argv[1], sys.argv[2]
    os.makedirs(out_dir, exist_ok=True)
    count = 0
    for name in sorted(os.listdir(vector_dir)):
        path = os.path.join(vector_dir, name)
        if name.startswith(".") or name.endswith(".md") or not os.path.isfile(path):
            continue
        with open(path, "rb") as f:
            seed = age_file(f.read())
        with open(os.path.join(out_dir, name), "wb") as f:
            f.write(seed)
        count += 1
    if count == 0:
        print(f"make_seeds: no vectors in {vector_dir}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
