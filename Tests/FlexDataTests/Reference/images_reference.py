#!/usr/bin/env python3
"""Independent reference for the FlexData image loaders (Python standard library only: gzip, struct, zlib, json).

Reads the real IDX files with its own parser and records known answers in
Tests/FlexDataTests/Fixtures/images/images_reference.json; also writes the tiny fixtures the Swift tests read:

- mnist-20-images-idx3-ubyte.gz / mnist-20-labels-idx1-ubyte.gz: 20 digits of the MNIST subset
  (/work/shared/data/mnist-subset, records 500k and 500k+1 for k = 0..9, so two of each class), gzip with mtime 0;
- gray-40x50.png (8-bit gray), rgb-36x30.png (8-bit RGB), rgba-30x44.png (8-bit RGBA): small synthetic PNGs whose
  pixels are given by the formulas below (recorded in the JSON as their first row).

Usage: python3 images_reference.py [--mnist DIR] [--fashion DIR] [--out DIR]
"""
import argparse
import gzip
import json
import os
import struct
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))


def read_idx(path):
    """Returns (dims, bytes) of an unsigned-byte IDX file, gzip or raw."""
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    zero, dtype, rank = struct.unpack(">HBB", raw[:4])
    assert zero == 0 and dtype == 0x08 and 1 <= rank <= 4, (path, zero, dtype, rank)
    dims = list(struct.unpack(">" + "I" * rank, raw[4:4 + 4 * rank]))
    n = 1
    for d in dims:
        n *= d
    data = raw[4 + 4 * rank:]
    assert len(data) == n, (path, len(data), n)
    return dims, data


def idx_bytes(dims, data):
    return struct.pack(">HBB", 0, 0x08, len(dims)) + struct.pack(">" + "I" * len(dims), *dims) + bytes(data)


def png_bytes(width, height, color_type, channels, pixel):
    """A PNG (bit depth 8, no interlace); pixel(x, y) gives a tuple of `channels` bytes."""
    rows = b""
    for y in range(height):
        row = bytearray([0])  # filter type 0
        for x in range(width):
            row.extend(pixel(x, y))
        rows += bytes(row)

    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, color_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(rows, 9)) + chunk(b"IEND", b"")


# The fixture PNGs. Values below 128 in the top 80% of rows and 128 or more in the bottom 20% for the gray one,
# so a test can see which part of the image a patch came from.
def gray_pixel(x, y):
    return ((x * 3 + y) % 100 + (0 if y < 40 else 150),)


def rgb_pixel(x, y):
    return ((x * 7) % 256, (y * 8) % 256, (x + y) * 4 % 256)


def rgba_pixel(x, y):
    return ((x * 8) % 256, (y * 5) % 256, 200, (x * y) % 256)


PNGS = [
    ("gray-40x50.png", 40, 50, 0, 1, gray_pixel),
    ("rgb-36x30.png", 36, 30, 2, 3, rgb_pixel),
    ("rgba-30x44.png", 30, 44, 6, 4, rgba_pixel),
]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mnist", default="/work/shared/data/mnist-subset")
    ap.add_argument("--fashion", default="/usr/share/datasets/fashion-mnist")
    ap.add_argument("--out", default=os.path.join(HERE, "..", "Fixtures", "images"))
    args = ap.parse_args()
    out = {}

    dims, images = read_idx(os.path.join(args.mnist, "mnist-5k-images-idx3-ubyte.gz"))
    ldims, labels = read_idx(os.path.join(args.mnist, "mnist-5k-labels-idx1-ubyte.gz"))
    size = dims[1] * dims[2]
    histogram = [0] * 10
    for label in labels:
        histogram[label] += 1
    out["mnist_subset"] = {
        "dimensions": dims,
        "label_dimensions": ldims,
        "first_sums": [sum(images[i * size:(i + 1) * size]) for i in range(10)],
        "first_labels": list(labels[:10]),
        "label_histogram": histogram,
        "total_sum": sum(images),
        "image_2500_sum": sum(images[2500 * size:2501 * size]),
    }

    picks = [500 * k + j for k in range(10) for j in range(2)]
    sub_images = b"".join(images[i * size:(i + 1) * size] for i in picks)
    sub_labels = bytes(labels[i] for i in picks)
    for name, payload in [
        ("mnist-20-images-idx3-ubyte.gz", idx_bytes([20, dims[1], dims[2]], sub_images)),
        ("mnist-20-labels-idx1-ubyte.gz", idx_bytes([20], sub_labels)),
    ]:
        with open(os.path.join(args.out, name), "wb") as f:
            f.write(gzip.compress(payload, compresslevel=9, mtime=0))
    out["mnist_20"] = {
        "source_records": picks,
        "sums": [sum(sub_images[i * size:(i + 1) * size]) for i in range(20)],
        "labels": list(sub_labels),
        "image_5_row_14": list(sub_images[5 * size + 14 * dims[2]:5 * size + 15 * dims[2]]),
    }

    fashion = os.path.join(args.fashion, "t10k-images-idx3-ubyte.gz")
    if os.path.exists(fashion):
        fdims, fimages = read_idx(fashion)
        _, flabels = read_idx(os.path.join(args.fashion, "t10k-labels-idx1-ubyte.gz"))
        fsize = fdims[1] * fdims[2]
        tdims, _ = read_idx(os.path.join(args.fashion, "train-images-idx3-ubyte.gz"))
        out["fashion_mnist"] = {
            "t10k_dimensions": fdims,
            "t10k_first_sum": sum(fimages[:fsize]),
            "t10k_last_sum": sum(fimages[-fsize:]),
            "t10k_first_labels": list(flabels[:10]),
            "train_dimensions": tdims,
        }

    pngs = {}
    for name, w, h, color_type, channels, pixel in PNGS:
        with open(os.path.join(args.out, name), "wb") as f:
            f.write(png_bytes(w, h, color_type, channels, pixel))
        pngs[name] = {"width": w, "height": h, "channels": channels,
                      "first_row": [v for x in range(w) for v in pixel(x, 0)],
                      "last_row": [v for x in range(w) for v in pixel(x, h - 1)]}
    out["pngs"] = pngs

    with open(os.path.join(args.out, "images_reference.json"), "w") as f:
        json.dump(out, f, indent=1, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
