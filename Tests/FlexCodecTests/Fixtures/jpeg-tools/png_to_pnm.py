#!/usr/bin/env python3
"""Crops an 8-bit RGB, non-interlaced PNG to a PPM (or, with --gray, a PGM of BT.601 luma), for cjpeg, which
reads no PNG. Python standard library only. Used by make_jpegs.sh; not part of the package.

    png_to_pnm.py IN.png X Y W H OUT.ppm [--gray]
"""
import struct
import sys
import zlib


def read_rgb8(path):
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, ihdr = 8, b"", None
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            ihdr = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    w, h, depth, colour, _, _, interlace = ihdr
    assert depth == 8 and colour == 2 and interlace == 0, "only 8-bit RGB, non-interlaced"
    raw, stride, rows, prev = zlib.decompress(idat), w * 3, [], bytearray(w * 3)
    for y in range(h):
        f, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - 3] if i >= 3 else 0
            b, c = prev[i], prev[i - 3] if i >= 3 else 0
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(line)
        prev = line
    return w, h, rows


def main():
    src, x, y, w, h, out = sys.argv[1], *map(int, sys.argv[2:6]), sys.argv[6]
    gray = "--gray" in sys.argv
    _, _, rows = read_rgb8(src)
    body = bytearray()
    for r in rows[y:y + h]:
        px = r[3 * x:3 * (x + w)]
        if gray:
            body += bytes((299 * px[i] + 587 * px[i + 1] + 114 * px[i + 2] + 500) // 1000 for i in range(0, len(px), 3))
        else:
            body += px
    open(out, "wb").write(b"P%d\n%d %d\n255\n" % (5 if gray else 6, w, h) + bytes(body))


main()
