#!/usr/bin/env python3
"""Writes samples/ from the real data (run from the repository root; Python standard library only).

- samples/images/fashion-mnist-t10k-0.png: Fashion-MNIST test image 0 (28x28 gray; Debian's dataset-fashion-mnist).
- samples/images/mnist-digit-7.png: the first 7 of the MNIST subset (28x28 gray; ../shared/data/mnist-subset).
- samples/images/chelsea-96.png: a 96x96 RGB crop of scikit-image's chelsea.png (../shared/data/photos).
- samples/series/*.csv: the newest 300 rows of the four investing.com exports the shipped forecaster uses,
  byte for byte (byte-order mark, quoting and line endings kept).
"""
import gzip
import struct
import zlib
from pathlib import Path

SHARED = Path("../shared/data")
OUT = Path("samples")


def png(path, width, height, channels, pixels):
    color = {1: 0, 3: 2, 4: 6}[channels]
    raw = b"".join(b"\x00" + bytes(pixels[y * width * channels:(y + 1) * width * channels]) for y in range(height))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    data = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, color, 0, 0, 0))
    data += chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")
    path.write_bytes(data)


def read_png(path):
    """8-bit, non-interlaced gray/RGB/RGBA PNG -> (width, height, channels, pixels)."""
    b = path.read_bytes()
    pos, idat = 8, b""
    while pos < len(b):
        n, kind = struct.unpack(">I4s", b[pos:pos + 8])
        body = b[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            w, h, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and interlace == 0, (path, depth, interlace)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    ch = {0: 1, 2: 3, 4: 2, 6: 4}[color]
    raw = zlib.decompress(idat)
    stride = w * ch
    out = bytearray(h * stride)
    prev = bytearray(stride)
    for y in range(h):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for x in range(stride):
            a = line[x - ch] if x >= ch else 0
            up = prev[x]
            c = prev[x - ch] if x >= ch else 0
            if f == 1:
                line[x] = (line[x] + a) & 255
            elif f == 2:
                line[x] = (line[x] + up) & 255
            elif f == 3:
                line[x] = (line[x] + (a + up) // 2) & 255
            elif f == 4:
                p = a + up - c
                pa, pb, pc = abs(p - a), abs(p - up), abs(p - c)
                line[x] = (line[x] + (a if pa <= pb and pa <= pc else up if pb <= pc else c)) & 255
        out[y * stride:(y + 1) * stride] = line
        prev = line
    return w, h, ch, bytes(out)


def idx_image(path, index):
    with gzip.open(path, "rb") as f:
        data = f.read()
    n, rows, cols = struct.unpack(">III", data[4:16])
    return data[16 + index * rows * cols:16 + (index + 1) * rows * cols]


def main():
    (OUT / "images").mkdir(parents=True, exist_ok=True)
    (OUT / "series").mkdir(parents=True, exist_ok=True)
    png(OUT / "images/fashion-mnist-t10k-0.png", 28, 28, 1,
        idx_image("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz", 0))
    with gzip.open(SHARED / "mnist-subset/mnist-5k-labels-idx1-ubyte.gz", "rb") as f:
        labels = f.read()[8:]
    png(OUT / "images/mnist-digit-7.png", 28, 28, 1,
        idx_image(SHARED / "mnist-subset/mnist-5k-images-idx3-ubyte.gz", labels.index(7)))
    w, h, ch, px = read_png(SHARED / "photos/chelsea.png")
    x0, y0, size = 150, 40, 96
    crop = b"".join(px[((y0 + y) * w + x0) * ch:((y0 + y) * w + x0 + size) * ch] for y in range(size))
    png(OUT / "images/chelsea-96.png", size, size, ch, crop)
    for name in ["S&P_ASX All Australian 200 Historical Data.csv", "FTSE 100.csv", "KOSPI Historical Data.csv",
                 "RTSI Historical Data.csv"]:
        b = (SHARED / "indices" / name).read_bytes()
        eol = b"\r\n" if b"\r\n" in b else (b"\r" if b"\r" in b else b"\n")
        lines = b.split(eol)
        (OUT / "series" / name).write_bytes(eol.join(lines[:301]) + eol)


if __name__ == "__main__":
    main()
