#!/usr/bin/env python3
"""Exits 0 when a PNG file decodes and is not blank (its pixel bytes take more than a few
distinct values), 1 otherwise. Standard library only (zlib); used by smoke-test-paper.sh on
the headless-Chromium screenshot of report.html.

Usage: png-nonblank.py FILE
"""
import struct
import sys
import zlib


def main(path):
    data = open(path, "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        return "not a PNG"
    pos, idat, width, height = 8, b"", 0, 0
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height = struct.unpack(">II", body[:8])
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw = zlib.decompress(idat)
    if width < 100 or height < 100:
        return f"only {width}x{height}"
    stride = len(raw) // height  # filter byte + pixels per row
    values = {raw[r * stride + 1 + c] for r in range(0, height, 7) for c in range(0, stride - 1, 5)}
    if len(values) < 8:
        return f"blank: {len(values)} distinct byte values"
    return None


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    err = main(sys.argv[1])
    if err:
        print(f"{sys.argv[1]}: {err}")
    sys.exit(1 if err else 0)
