#!/usr/bin/env python3
"""Rate-distortion of the CAE image codec (`flexctl compress image`) against JPEG and WebP (issue 5).

    python3 benchmarks/rate_distortion.py --flexctl .build/release/flexctl [--whole-photos]

Fashion-MNIST: the first N (--count, default 200) images of the test set (t10k, never seen in training), coded one
file per image with CAE2 (models/cae2-p-e2-relu-fashion-mnist.h5) at several --bits, with cjpeg -grayscale at
qualities 1, 2, 3, 4, 5, 10, ..., 95 (1-4 added so that JPEG reaches the CAE's smallest sizes) and with cwebp at
qualities 0, 5, ..., 100 (0 is its smallest).
Photos: the bottom 20% of the rows of each photo in ../shared/data/photos (the rows CAE3 was *not* trained on; the
split is the training sampler's: split row = H - round(0.2 H)), coded with CAE3 (models/cae3-p-e2-id-photos.h5),
JPEG (colour; gray photos as gray JPEG) and WebP. RGBA photos lose their alpha before any codec sees them.
--whole-photos adds the same comparison on the whole photos, which include CAE3's training pixels.

Sizes are given two ways:
  file     the whole file each codec writes, one file per image;
  payload  what is left when the parts a store of many images could share are removed:
           CAE  the zlib stream only (file minus the .flexz header, its 4-byte payload length and its 4-byte CRC;
                the header holds the model fingerprint, image size and per-channel quantisation table);
           JPEG file minus its APPn/COM, DQT and DHT segments (JPEG's "abbreviated" streams: tables sent once);
           WebP the VP8 chunk's data (file minus the 12-byte RIFF header and the 8-byte chunk header).
PSNR is 10 log10(255^2 / MSE) on 8-bit values: "pooled" from the MSE over all images' pixels together (the usual
definition of a data set's PSNR, used for the matched-size comparison), and "mean" of the per-image PSNRs.
For gray images every codec is compared on gray values (WebP decodes to RGB: its BT.601 luma, rounded); for RGB
photos the MSE is over R, G and B. Pooled photo MSE weighs every pixel equally (gray pixel: 1 value; RGB pixel:
mean over its 3 values).

Matched size: for each CAE point, JPEG's and WebP's PSNR at the same size are interpolated linearly in log(size)
between neighbouring quality settings along each codec's Pareto front (settings that are both larger and worse
than another are dropped); outside a codec's range there is no matched point (the table says which side).
Also given: the size JPEG/WebP need to reach the CAE's PSNR (log size interpolated linearly in PSNR).

Python standard library + numpy only. Needs cjpeg/djpeg (libjpeg-turbo-progs) and cwebp/dwebp (webp) on PATH.
Runs one process at a time; flexctl runs with --threads 1 unless told otherwise.
Writes benchmarks/rate_distortion.json and benchmarks/rate_distortion.svg, prints markdown tables.
"""

import argparse
import glob
import gzip
import json
import math
import os
import platform
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import zlib

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


# ----------------------------------------------------------------------------------------------------------------
# Image files: minimal PNG (8-bit, non-interlaced) and PNM readers/writers

def write_png(path, a):
    """a: (H, W) gray or (H, W, 3) RGB uint8."""
    a = np.ascontiguousarray(a, dtype=np.uint8)
    h, w = a.shape[:2]
    ctype = 0 if a.ndim == 2 else {3: 2, 4: 6}[a.shape[2]]
    rows = a.reshape(h, -1)
    raw = np.zeros((h, rows.shape[1] + 1), np.uint8)  # filter byte 0 (None) on every row
    raw[:, 1:] = rows

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, ctype, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(raw.tobytes(), 6)) + chunk(b"IEND", b""))


def read_png(path):
    """8-bit non-interlaced gray (0), RGB (2), gray+alpha (4) or RGBA (6) PNG -> (H, W) or (H, W, C) uint8."""
    b = open(path, "rb").read()
    if b[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError(f"{path}: not a PNG")
    pos, idat, ihdr = 8, [], None
    while pos < len(b):
        n, kind = struct.unpack(">I4s", b[pos:pos + 8])
        data = b[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            ihdr = struct.unpack(">IIBBBBB", data)
        elif kind == b"IDAT":
            idat.append(data)
        elif kind == b"IEND":
            break
        pos += 12 + n
    w, h, depth, ctype, _, _, interlace = ihdr
    if depth != 8 or interlace != 0 or ctype not in (0, 2, 4, 6):
        raise ValueError(f"{path}: only 8-bit non-interlaced gray/RGB/GA/RGBA PNGs are supported "
                         f"(depth {depth}, colour type {ctype}, interlace {interlace})")
    ch = {0: 1, 2: 3, 4: 2, 6: 4}[ctype]
    stride = w * ch
    raw = np.frombuffer(zlib.decompress(b"".join(idat)), np.uint8).reshape(h, stride + 1)
    out = np.zeros((h, stride), np.uint8)
    prev = np.zeros(stride, np.uint8)
    for y in range(h):
        ft, line = raw[y, 0], raw[y, 1:]
        if ft == 0:
            cur = line.copy()
        elif ft == 1:  # Sub: running sum per channel, mod 256
            cur = np.empty(stride, np.uint8)
            for c in range(ch):
                cur[c::ch] = np.cumsum(line[c::ch], dtype=np.uint64).astype(np.uint8)
        elif ft == 2:  # Up
            cur = (line.astype(np.uint16) + prev).astype(np.uint8)
        elif ft in (3, 4):  # Average, Paeth: sequential
            fl, up, cur_l = line.tolist(), prev.tolist(), [0] * stride
            for x in range(stride):
                left = cur_l[x - ch] if x >= ch else 0
                if ft == 3:
                    v = fl[x] + ((left + up[x]) >> 1)
                else:
                    ul = up[x - ch] if x >= ch else 0
                    p = left + up[x] - ul
                    pa, pb, pc = abs(p - left), abs(p - up[x]), abs(p - ul)
                    v = fl[x] + (left if pa <= pb and pa <= pc else (up[x] if pb <= pc else ul))
                cur_l[x] = v & 255
            cur = np.array(cur_l, np.uint8)
        else:
            raise ValueError(f"{path}: bad PNG filter type {ft} in row {y}")
        out[y] = cur
        prev = cur
    return out.reshape(h, w) if ch == 1 else out.reshape(h, w, ch)


def pnm_bytes(a):
    h, w = a.shape[:2]
    magic = b"P5" if a.ndim == 2 else b"P6"
    return magic + f"\n{w} {h}\n255\n".encode() + np.ascontiguousarray(a, np.uint8).tobytes()


def read_pnm(b):
    """Binary PGM (P5) / PPM (P6), maxval 255 -> array."""
    fields, pos = [], 2
    magic = b[:2]
    while len(fields) < 3:
        while b[pos:pos + 1].isspace():
            pos += 1
        if b[pos:pos + 1] == b"#":
            pos = b.index(b"\n", pos) + 1
            continue
        end = pos
        while not b[end:end + 1].isspace():
            end += 1
        fields.append(int(b[pos:end]))
        pos = end
    pos += 1
    w, h, maxval = fields
    if maxval != 255 or magic not in (b"P5", b"P6"):
        raise ValueError(f"unsupported PNM {magic!r} maxval {maxval}")
    ch = 1 if magic == b"P5" else 3
    a = np.frombuffer(b, np.uint8, count=w * h * ch, offset=pos)
    return a.reshape(h, w) if ch == 1 else a.reshape(h, w, 3)


def luma(rgb):
    """BT.601 luma of an RGB array, rounded to 8 bits (as flexctl turns RGB into gray)."""
    y = rgb[..., 0] * 0.299 + rgb[..., 1] * 0.587 + rgb[..., 2] * 0.114
    return np.clip(np.floor(y + 0.5), 0, 255).astype(np.uint8)


def to_compare(decoded, original):
    """The decoded image in the original's channel layout (gray or RGB)."""
    if original.ndim == 2 and decoded.ndim == 3:
        return luma(decoded.astype(np.float64))
    if original.ndim == 3 and decoded.ndim == 2:  # not expected: a codec returned gray for an RGB input
        return np.repeat(decoded[..., None], 3, axis=2)
    return decoded


def mse_per_pixel(a, b):
    """Sum over pixels of each pixel's mean squared error over its channels, and the pixel count."""
    d = (a.astype(np.float64) - b.astype(np.float64)) ** 2
    if d.ndim == 3:
        d = d.mean(axis=2)
    return float(d.sum()), d.size


def psnr(mse):
    return float("inf") if mse == 0 else 10 * math.log10(255.0 ** 2 / mse)


def finite_or_none(v):
    return v if math.isfinite(v) else None


# ----------------------------------------------------------------------------------------------------------------
# Payload-only sizes

def jpeg_payload(b):
    """(JPEG bytes minus the segments an abbreviated stream sends once (APPn, COM, DQT, DHT),
        entropy-coded scan data alone: the bytes between the SOS header and EOI)."""
    assert b[:2] == b"\xff\xd8" and b[-2:] == b"\xff\xd9"
    pos, strip = 2, 0
    while pos < len(b):
        if b[pos] != 0xFF:
            raise ValueError("JPEG: marker expected")
        marker = b[pos + 1]
        n = struct.unpack(">H", b[pos + 2:pos + 4])[0]
        if marker == 0xDA:  # SOS: one scan of entropy-coded data follows up to EOI (cjpeg's sequential output)
            return len(b) - strip, len(b) - (pos + 2 + n) - 2
        if 0xE0 <= marker <= 0xEF or marker in (0xFE, 0xDB, 0xC4):
            strip += 2 + n
        pos += 2 + n
    raise ValueError("JPEG: no SOS marker")


def webp_payload(b):
    """Size of the VP8 (lossy) chunk's data."""
    assert b[:4] == b"RIFF" and b[8:12] == b"WEBP"
    pos = 12
    while pos < len(b):
        kind, n = b[pos:pos + 4], struct.unpack("<I", b[pos + 4:pos + 8])[0]
        if kind == b"VP8 ":
            return n
        pos += 8 + n + (n & 1)
    raise ValueError("WebP: no VP8 chunk (expected lossy output)")


def flexz_payload(b):
    """Size of the .flexz zlib stream (docs in Sources/FlexCodec/FlexzFile.swift): header H, then u32 P, payload, CRC."""
    assert b[:8] == b"\x89FLXZ\r\n\x1a"
    header = struct.unpack("<H", b[10:12])[0]
    p = struct.unpack("<I", b[header:header + 4])[0]
    assert len(b) == header + 8 + p
    return p, header + 8


# ----------------------------------------------------------------------------------------------------------------
# Codecs

def run(cmd, data=None):
    r = subprocess.run(cmd, input=data, capture_output=True)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({r.returncode}): {r.stderr.decode(errors='replace')}")
    return r.stdout


def jpeg_code(img, q):
    args = ["cjpeg", "-quality", str(q)] + (["-grayscale"] if img.ndim == 2 else [])
    j = run(args, pnm_bytes(img))
    payload, scan = jpeg_payload(j)
    return len(j), payload, read_pnm(run(["djpeg", "-pnm"], j)), scan


def webp_code(img, q, tmp):
    src, dst = os.path.join(tmp, "in.pnm"), os.path.join(tmp, "out.webp")
    with open(src, "wb") as f:
        f.write(pnm_bytes(img))
    run(["cwebp", "-quiet", "-q", str(q), src, "-o", dst])
    w = open(dst, "rb").read()
    return len(w), webp_payload(w), read_pnm(run(["dwebp", "-quiet", dst, "-ppm", "-o", "-"])), None


class Point:
    """Accumulates one codec setting over a set of images."""

    def __init__(self, codec, setting):
        self.codec, self.setting = codec, setting
        self.bytes = self.payload = self.pixels = self.images = 0
        self.sse = 0.0
        self.psnrs = []
        self.header = None
        self.scan = 0
        self.per_image = []

    def add(self, nbytes, payload, original, decoded, scan=None, name=None):
        decoded = to_compare(decoded, original)
        if decoded.shape != original.shape:
            raise RuntimeError(f"{self.codec} {self.setting}: decoded {decoded.shape}, original {original.shape}")
        s, n = mse_per_pixel(original, decoded)
        self.bytes += nbytes
        self.payload += payload
        self.pixels += n
        self.images += 1
        self.sse += s
        self.psnrs.append(psnr(s / n))
        if scan is not None:
            self.scan += scan
        if name is not None:
            self.per_image.append({"name": name, "bytes": nbytes, "payload_bytes": payload, "pixels": n,
                                   "psnr": finite_or_none(psnr(s / n))})

    def result(self):
        finite = [p for p in self.psnrs if math.isfinite(p)]
        r = {
            "codec": self.codec, "setting": self.setting, "images": self.images, "pixels": self.pixels,
            "bytes_per_image": self.bytes / self.images, "payload_bytes_per_image": self.payload / self.images,
            "bpp": 8 * self.bytes / self.pixels, "payload_bpp": 8 * self.payload / self.pixels,
            "mse_pooled": self.sse / self.pixels, "psnr_pooled": psnr(self.sse / self.pixels),
            "psnr_mean": sum(finite) / len(finite) if finite else float("inf"),
            "lossless_images": len(self.psnrs) - len(finite),
        }
        if self.header is not None:
            r["container_bytes_per_file"] = self.header
        if self.codec == "JPEG":
            r["scan_bytes_per_image"] = self.scan / self.images
        if self.per_image:
            r["per_image"] = self.per_image
        return r


def cae_points_folder(flexctl, model, images, bits_list, tmp, threads):
    """CAE on many small gray images: folder mode (one flexctl process per bit depth and direction)."""
    src = os.path.join(tmp, "cae-src")
    os.makedirs(src, exist_ok=True)
    names = [f"img{i:05d}" for i in range(len(images))]
    for name, img in zip(names, images):
        write_png(os.path.join(src, name + ".png"), img)
    points = []
    for bits in bits_list:
        cz, dec = os.path.join(tmp, f"cae-{bits}-z"), os.path.join(tmp, f"cae-{bits}-dec")
        run([flexctl, "compress", "image", src, "--model", model, "-o", cz, "--overwrite", "--bits", str(bits),
             "--threads", str(threads)])
        run([flexctl, "decompress", cz, "-o", dec, "--overwrite", "--model", model, "--threads", str(threads)])
        p = Point("CAE2", bits)
        for name, img in zip(names, images):
            z = open(os.path.join(cz, name + ".flexz"), "rb").read()
            payload, container = flexz_payload(z)
            p.header = container
            p.add(len(z), payload, img, read_png(os.path.join(dec, name + ".png")))
        shutil.rmtree(cz)
        shutil.rmtree(dec)
        points.append(p)
        print(f"  CAE2 bits {bits}: {p.bytes / p.images:.1f} B/image, {psnr(p.sse / p.pixels):.2f} dB", flush=True)
    return points


def cae_points_files(flexctl, model, images, bits_list, tmp, threads, label, names=None):
    """CAE on a few large images: one file at a time, decoded to PGM/PPM."""
    points = []
    for bits in bits_list:
        p = Point(label, bits)
        for i, img in enumerate(images):
            src, z = os.path.join(tmp, f"p{i}.png"), os.path.join(tmp, f"p{i}.flexz")
            dec = os.path.join(tmp, f"p{i}." + ("pgm" if img.ndim == 2 else "ppm"))
            write_png(src, img)
            run([flexctl, "compress", "image", src, "--model", model, "-o", z, "--overwrite", "--bits", str(bits),
                 "--threads", str(threads)])
            run([flexctl, "decompress", z, "-o", dec, "--overwrite", "--model", model, "--threads", str(threads)])
            b = open(z, "rb").read()
            payload, container = flexz_payload(b)
            p.header = container
            p.add(len(b), payload, img, read_pnm(open(dec, "rb").read()), name=names[i] if names else None)
        points.append(p)
        print(f"  {label} bits {bits}: {8 * p.bytes / p.pixels:.3f} bpp, {psnr(p.sse / p.pixels):.2f} dB", flush=True)
    return points


def classic_points(kind, images, qualities, tmp, names=None):
    points = []
    for q in qualities:
        p = Point(kind, q)
        for i, img in enumerate(images):
            n, payload, dec, scan = jpeg_code(img, q) if kind == "JPEG" else webp_code(img, q, tmp)
            p.add(n, payload, img, dec, scan=scan, name=names[i] if names else None)
        points.append(p)
    r = [x.result() for x in points]
    print(f"  {kind}: q {qualities[0]}..{qualities[-1]}: {r[0]['bytes_per_image']:.1f}..{r[-1]['bytes_per_image']:.1f}"
          f" B/image, {r[0]['psnr_pooled']:.2f}..{r[-1]['psnr_pooled']:.2f} dB", flush=True)
    return points


# ----------------------------------------------------------------------------------------------------------------
# Matched size

def pareto(points, xkey, ykey="psnr_pooled"):
    """Points sorted by size with every point dropped that another beats (no larger, at least as good)."""
    pts = sorted(((p[xkey], p[ykey], p["setting"]) for p in points), key=lambda t: (t[0], -t[1]))
    front = []
    for x, y, s in pts:
        if front and y <= front[-1][1]:
            continue
        front.append((x, y, s))
    return front


def value_at_size(front, x):
    if x < front[0][0]:
        return None, "below"
    if x > front[-1][0]:
        return None, "above"
    for (x0, y0, _), (x1, y1, _) in zip(front, front[1:]):
        if x0 <= x <= x1:
            t = 0.0 if x1 == x0 else (math.log(x) - math.log(x0)) / (math.log(x1) - math.log(x0))
            return y0 + t * (y1 - y0), "in"
    return front[-1][1], "in"


def size_for_value(front, y):
    if y < front[0][1]:
        return None, "below"
    if y > front[-1][1]:
        return None, "above"
    for (x0, y0, _), (x1, y1, _) in zip(front, front[1:]):
        if y0 <= y <= y1:
            t = 0.0 if y1 == y0 else (y - y0) / (y1 - y0)
            return math.exp(math.log(x0) + t * (math.log(x1) - math.log(x0))), "in"
    return front[-1][0], "in"


def matched(cae, others, xkey, margin=0.1):
    """For every CAE point: the others' PSNR at the same size and the size they need for the same PSNR."""
    fronts = {name: pareto(pts, xkey) for name, pts in others.items()}
    rows = []
    for c in cae:
        row = {"bits": c["setting"], "size": c[xkey], "psnr": c["psnr_pooled"], "vs": {}}
        verdicts = []
        for name, front in fronts.items():
            y, where = value_at_size(front, c[xkey])
            x, where_y = size_for_value(front, c["psnr_pooled"])
            entry = {"psnr_at_size": y, "size_range": where, "size_for_psnr": x, "psnr_range": where_y,
                     "smallest": {"size": front[0][0], "psnr": front[0][1], "setting": front[0][2]}}
            if y is not None:
                d = c["psnr_pooled"] - y
                entry["verdict"] = "CAE" if d > margin else (name if d < -margin else "tie")
                entry["delta_db"] = d
            elif where == "below":
                # The CAE is smaller than anything the codec produces: it only wins if it is also better.
                s = front[0]
                entry["verdict"] = "CAE" if c["psnr_pooled"] > s[1] + margin else "no matched point"
            else:
                s = front[-1]
                entry["verdict"] = name if s[1] > c["psnr_pooled"] + margin else "no matched point"
            row["vs"][name] = entry
            verdicts.append(entry["verdict"])
        rows.append(row)
    return rows


# ----------------------------------------------------------------------------------------------------------------
# Markdown

def fmt_db(v):
    return "∞" if not math.isfinite(v) else f"{v:.2f}"


def table_points(points, xkey, xlabel, pkey, plabel, shown=None, digits=1):
    lines = [f"| codec | setting | {xlabel} (file) | {plabel} | PSNR pooled (dB) | PSNR mean per image (dB) |",
             "| --- | --- | --- | --- | --- | --- |"]
    for p in points:
        if shown is not None and p["codec"] in shown and p["setting"] not in shown[p["codec"]]:
            continue
        setting = (f"{p['setting']} bits" if p["codec"].startswith("CAE") else f"q {p['setting']}")
        lines.append(f"| {p['codec']} | {setting} | {p[xkey]:.{digits}f} | {p[pkey]:.{digits}f} | "
                     f"{fmt_db(p['psnr_pooled'])} | {fmt_db(p['psnr_mean'])} |")
    return "\n".join(lines)


def table_matched(rows, unit, digits=1):
    names = list(rows[0]["vs"].keys())
    head = f"| CAE bits | CAE {unit} | CAE PSNR | " + " | ".join(
        f"{n} PSNR at that size | {n} {unit} for CAE's PSNR" for n in names) + " | better at matched size |"
    lines = [head, "|" + " --- |" * (3 + 2 * len(names) + 1)]
    for r in rows:
        cells = [f"{r['bits']}", f"{r['size']:.{digits}f}", f"{r['psnr']:.2f}"]
        verdicts = []
        for n in names:
            e = r["vs"][n]
            if e["psnr_at_size"] is not None:
                cells.append(f"{e['psnr_at_size']:.2f} ({e['delta_db']:+.2f} for CAE)")
            elif e["size_range"] == "below":
                cells.append(f"— (smallest: {e['smallest']['size']:.{digits}f} at {e['smallest']['psnr']:.2f} dB)")
            else:
                cells.append("— (above its largest)")
            if e["size_for_psnr"] is not None:
                cells.append(f"{e['size_for_psnr']:.{digits}f}")
            elif e["psnr_range"] == "below":
                cells.append(f"< {e['smallest']['size']:.{digits}f} (even its smallest is better)")
            else:
                cells.append("— (never that good)")
            verdicts.append(f"vs {n}: {e['verdict']}")
        cells.append("; ".join(verdicts))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------------------------------
# SVG

COLORS = {"CAE": "#d62728", "JPEG": "#1f77b4", "WebP": "#2ca02c"}
MARKERS = {"CAE": "circle", "JPEG": "square", "WebP": "triangle"}


def nice_step(span, target=6):
    raw = span / target
    mag = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 2.5, 5, 10):
        if m * mag >= raw:
            return m * mag
    return 10 * mag


def log_ticks(lo, hi):
    ticks = []
    for e in range(math.floor(math.log10(lo)) - 1, math.ceil(math.log10(hi)) + 1):
        for m in (1, 2, 5):
            v = m * 10 ** e
            if lo <= v <= hi:
                ticks.append(v)
    if len(ticks) < 3:
        ticks = []
        for e in range(math.floor(math.log10(lo)) - 1, math.ceil(math.log10(hi)) + 1):
            for m in range(1, 10):
                v = m * 10 ** e
                if lo <= v <= hi:
                    ticks.append(v)
    return ticks


def tick_label(v):
    return f"{v:g}" if v >= 0.01 else f"{v:.0e}"


def panel_svg(x0, y0, w, h, title, xlabel, series):
    """series: list of (name, family, [(x, y, label)]) — x on a log axis, y (PSNR dB) linear."""
    ml, mr, mt, mb = 58, 14, 30, 46
    pw, ph = w - ml - mr, h - mt - mb
    xs = [p[0] for _, _, pts in series for p in pts]
    ys = [p[1] for _, _, pts in series for p in pts if math.isfinite(p[1])]
    lx0, lx1 = math.log10(min(xs)) - 0.05, math.log10(max(xs)) + 0.05
    step = nice_step(max(ys) - min(ys))
    y_lo, y_hi = math.floor(min(ys) / step) * step, math.ceil(max(ys) / step) * step

    def X(v):
        return x0 + ml + (math.log10(v) - lx0) / (lx1 - lx0) * pw

    def Y(v):
        return y0 + mt + (1 - (v - y_lo) / (y_hi - y_lo)) * ph

    out = [f'<g font-family="sans-serif" font-size="11">',
           f'<text x="{x0 + ml + pw / 2:.1f}" y="{y0 + 18}" text-anchor="middle" font-size="13" '
           f'font-weight="bold">{title}</text>',
           f'<rect x="{x0 + ml}" y="{y0 + mt}" width="{pw}" height="{ph}" fill="none" stroke="#333"/>']
    for t in log_ticks(10 ** lx0, 10 ** lx1):
        px = X(t)
        out.append(f'<line x1="{px:.1f}" y1="{y0 + mt}" x2="{px:.1f}" y2="{y0 + mt + ph}" stroke="#ddd"/>')
        out.append(f'<text x="{px:.1f}" y="{y0 + mt + ph + 14}" text-anchor="middle">{tick_label(t)}</text>')
    v = y_lo
    while v <= y_hi + 1e-9:
        py = Y(v)
        out.append(f'<line x1="{x0 + ml}" y1="{py:.1f}" x2="{x0 + ml + pw}" y2="{py:.1f}" stroke="#ddd"/>')
        out.append(f'<text x="{x0 + ml - 5}" y="{py + 4:.1f}" text-anchor="end">{v:g}</text>')
        v += step
    out.append(f'<text x="{x0 + ml + pw / 2:.1f}" y="{y0 + h - 8}" text-anchor="middle">{xlabel}</text>')
    out.append(f'<text transform="translate({x0 + 14},{y0 + mt + ph / 2:.1f}) rotate(-90)" '
               f'text-anchor="middle">PSNR (dB, pooled MSE)</text>')
    for i, (name, fam, pts) in enumerate(series):
        pts = [p for p in pts if math.isfinite(p[1])]  # in setting order (quality, bits), not sorted by size
        col = COLORS[fam]
        path = " ".join(f"{X(px):.1f},{Y(py):.1f}" for px, py, _ in pts)
        out.append(f'<polyline points="{path}" fill="none" stroke="{col}" stroke-width="1.6"/>')
        last_label = -1e9
        for px, py, lab in pts:
            cx, cy = X(px), Y(py)
            if MARKERS[fam] == "circle":
                out.append(f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="3.2" fill="{col}"/>')
            elif MARKERS[fam] == "square":
                out.append(f'<rect x="{cx - 2.6:.1f}" y="{cy - 2.6:.1f}" width="5.2" height="5.2" fill="{col}"/>')
            else:
                out.append(f'<path d="M{cx:.1f},{cy - 3.4:.1f} L{cx + 3.2:.1f},{cy + 2.6:.1f} '
                           f'L{cx - 3.2:.1f},{cy + 2.6:.1f} Z" fill="{col}"/>')
            if lab and abs(cx - last_label) >= 16:
                last_label = cx
                out.append(f'<text x="{cx + 4:.1f}" y="{cy - 5:.1f}" font-size="9" fill="{col}">{lab}</text>')
        ly = y0 + mt + 14 + 15 * i
        lx = x0 + ml + 10
        out.append(f'<line x1="{lx}" y1="{ly - 4}" x2="{lx + 18}" y2="{ly - 4}" stroke="{col}" stroke-width="2"/>')
        out.append(f'<text x="{lx + 23}" y="{ly}">{name}</text>')
    out.append("</g>")
    return "\n".join(out)


def write_svg(path, panels, footer):
    w, h, cols = 560, 400, 2
    rows = (len(panels) + cols - 1) // cols
    W, H = w * cols, h * rows + 24
    body = [panel_svg((i % cols) * w, (i // cols) * h, w, h, *p) for i, p in enumerate(panels)]
    svg = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}">\n'
           f'<rect width="100%" height="100%" fill="white"/>\n' + "\n".join(body) +
           f'\n<text x="8" y="{H - 8}" font-family="sans-serif" font-size="10" fill="#555">{footer}</text>\n</svg>\n')
    with open(path, "w") as f:
        f.write(svg)


# ----------------------------------------------------------------------------------------------------------------

def load_fashion_mnist(path, n):
    raw = gzip.open(path).read()
    magic, count, rows, cols = struct.unpack(">IIII", raw[:16])
    if magic != 2051 or rows != 28 or cols != 28:
        raise ValueError(f"{path}: not a 28x28 IDX image file")
    return np.frombuffer(raw, np.uint8, count=min(n, count) * 784, offset=16).reshape(-1, 28, 28)


def load_photos(folder, part):
    """[(name, array)]: gray photos as (H, W), colour as (H, W, 3) (alpha dropped); part: 'bottom' or 'whole'."""
    out = []
    for path in sorted(glob.glob(os.path.join(folder, "*.png"))):
        a = read_png(path)
        if a.ndim == 3 and a.shape[2] == 4:
            a = a[..., :3]
        elif a.ndim == 3 and a.shape[2] == 2:
            a = a[..., 0]
        if part == "bottom":
            h = a.shape[0]
            split = h - int(math.floor(h * 0.2 + 0.5))  # the training sampler's split row
            a = a[split:]
        out.append((os.path.basename(path)[:-4], np.ascontiguousarray(a)))
    return out


def tool_versions(flexctl):
    def first_line(cmd):
        try:
            r = subprocess.run(cmd, capture_output=True, text=True)
            return (r.stdout + r.stderr).strip().splitlines()[0]
        except (OSError, IndexError):
            return None
    v = {"cwebp": first_line(["cwebp", "-version"]), "cjpeg": first_line(["cjpeg", "-version"]),
         "flexctl": first_line([flexctl, "--version"])}
    try:
        r = subprocess.run(["dpkg-query", "-W", "-f", "${Package} ${Version}\n", "libjpeg-turbo-progs", "webp"],
                           capture_output=True, text=True)
        v["debian_packages"] = r.stdout.strip().splitlines()
    except OSError:
        pass
    return v


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    default_flexctl = os.path.join(ROOT, ".build", "release", "flexctl")
    ap.add_argument("--flexctl", default=default_flexctl if os.path.exists(default_flexctl) else "flexctl")
    ap.add_argument("--count", type=int, default=200, help="Fashion-MNIST test images (the first N)")
    ap.add_argument("--fashion-mnist", default="/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz")
    ap.add_argument("--photos", default=os.path.join(ROOT, "..", "shared", "data", "photos"))
    ap.add_argument("--cae2", default=os.path.join(ROOT, "models", "cae2-p-e2-relu-fashion-mnist.h5"))
    ap.add_argument("--cae3", default=os.path.join(ROOT, "models", "cae3-p-e2-id-photos.h5"))
    ap.add_argument("--bits", type=int, nargs="+", default=[2, 3, 4, 5, 6, 8])
    ap.add_argument("--photo-bits", type=int, nargs="+", default=[2, 3, 4, 6, 8])
    ap.add_argument("--jpeg-qualities", type=int, nargs="+", default=[1, 2, 3, 4] + list(range(5, 96, 5)))
    ap.add_argument("--webp-qualities", type=int, nargs="+", default=list(range(0, 101, 5)))
    ap.add_argument("--whole-photos", action="store_true",
                    help="also compare on the whole photos (these include CAE3's training pixels)")
    ap.add_argument("--threads", type=int, default=1, help="flexctl worker threads")
    ap.add_argument("--json", default=os.path.join(HERE, "rate_distortion.json"))
    ap.add_argument("--svg", default=os.path.join(HERE, "rate_distortion.svg"))
    args = ap.parse_args()

    t_start = time.time()
    versions = tool_versions(args.flexctl)
    results = {"command": "python3 " + " ".join(sys.argv), "date": time.strftime("%Y-%m-%d"),
               "machine": f"{platform.machine()}, {os.cpu_count()} CPUs", "versions": versions,
               "psnr": "10 log10(255^2/MSE), 8-bit values; pooled = MSE over all pixels of all images; "
                       "mean = mean of per-image PSNRs (lossless images excluded, counted in lossless_images)",
               "payload": {"CAE": "zlib stream (file minus .flexz header, payload length and CRC)",
                           "JPEG": "file minus APPn/COM/DQT/DHT segments (abbreviated stream); "
                                   "scan_bytes_per_image: the entropy-coded scan data alone",
                           "WebP": "VP8 chunk data (file minus 20 bytes of RIFF/chunk headers)"}}
    md = []
    with tempfile.TemporaryDirectory(prefix="rate-distortion-", dir="/tmp") as tmp:
        # -------- Fashion-MNIST
        images = load_fashion_mnist(args.fashion_mnist, args.count)
        print(f"Fashion-MNIST: {len(images)} test images", flush=True)
        cae = [p.result() for p in cae_points_folder(args.flexctl, args.cae2, images, args.bits, tmp, args.threads)]
        for r in cae:
            r["raw_code_bytes_per_image"] = 32 * r["setting"] / 8  # CAE2 code: 8x2x2 values per image
        jpeg = [p.result() for p in classic_points("JPEG", images, args.jpeg_qualities, tmp)]
        webp = [p.result() for p in classic_points("WebP", images, args.webp_qualities, tmp)]
        fm = {"images": len(images), "source": args.fashion_mnist, "selection": f"first {len(images)} of t10k",
              "model": os.path.basename(args.cae2), "points": cae + jpeg + webp,
              "matched_file": matched(cae, {"JPEG": jpeg, "WebP": webp}, "bytes_per_image"),
              "matched_payload": matched(cae, {"JPEG": jpeg, "WebP": webp}, "payload_bytes_per_image")}
        results["fashion_mnist"] = fm

        # -------- photos
        parts = ["bottom"] + (["whole"] if args.whole_photos else [])
        results["photos"] = {}
        for part in parts:
            photos = load_photos(args.photos, part)
            label = ("bottom 20% rows (not seen in CAE3's training)" if part == "bottom"
                     else "whole photos (INCLUDES CAE3's training pixels)")
            print(f"Photos, {label}: " + ", ".join(f"{n} {a.shape[1]}x{a.shape[0]}{'' if a.ndim == 2 else ' RGB'}"
                                                   for n, a in photos), flush=True)
            arrays, names = [a for _, a in photos], [n for n, _ in photos]
            c3 = [p.result() for p in cae_points_files(args.flexctl, args.cae3, arrays, args.photo_bits, tmp,
                                                       args.threads, "CAE3", names)]
            pj = [p.result() for p in classic_points("JPEG", arrays, args.jpeg_qualities, tmp, names)]
            pw = [p.result() for p in classic_points("WebP", arrays, args.webp_qualities, tmp, names)]
            results["photos"][part] = {
                "label": label, "model": os.path.basename(args.cae3),
                "images": [{"name": n, "width": a.shape[1], "height": a.shape[0],
                            "channels": 1 if a.ndim == 2 else 3} for n, a in photos],
                "points": c3 + pj + pw,
                "matched_file": matched(c3, {"JPEG": pj, "WebP": pw}, "bpp"),
                "matched_payload": matched(c3, {"JPEG": pj, "WebP": pw}, "payload_bpp")}
    elapsed = time.time() - t_start
    results["seconds"] = round(elapsed, 1)

    # -------- outputs
    def clean(o):  # strict JSON: infinities (lossless images) become null
        if isinstance(o, float):
            return finite_or_none(o)
        if isinstance(o, dict):
            return {k: clean(v) for k, v in o.items()}
        if isinstance(o, list):
            return [clean(v) for v in o]
        return o

    with open(args.json, "w") as f:
        json.dump(clean(results), f, indent=1, allow_nan=False)
        f.write("\n")

    def series(points, xkey, cae_name):
        out = []
        for fam, name in (("CAE", cae_name), ("JPEG", "JPEG (cjpeg)"), ("WebP", "WebP (cwebp)")):
            pts = [p for p in points if p["codec"].startswith(fam)]
            out.append((name, fam, [(p[xkey], p["psnr_pooled"],
                                     f"{p['setting']}b" if fam == "CAE" else "") for p in pts]))
        return out

    n = fm["images"]
    panels = [(f"Fashion-MNIST test, {n} images, whole files", "bytes per image (log)",
               series(fm["points"], "bytes_per_image", "CAE2 (.flexz)")),
              (f"Fashion-MNIST test, {n} images, payload only", "payload bytes per image (log)",
               series(fm["points"], "payload_bytes_per_image", "CAE2 (zlib stream)"))]
    for part, res in results["photos"].items():
        panels.append((f"Photos, {'bottom 20% rows (held out)' if part == 'bottom' else 'whole (incl. training)'}",
                       "bits per pixel, whole files (log)", series(res["points"], "bpp", "CAE3 (.flexz)")))
    write_svg(args.svg, panels,
              f"PSNR from the MSE pooled over all images. {versions.get('cjpeg')}; cwebp {versions.get('cwebp')}. "
              f"CAE points labelled with bits per code value. benchmarks/rate_distortion.py")

    shown = {"JPEG": {1, 3, 5, 10, 20, 30, 50, 75, 90, 95}, "WebP": {0, 5, 10, 25, 50, 75, 90, 100}}
    md.append(f"#### Fashion-MNIST (first {n} test images, 28×28 gray; CAE2)\n")
    md.append(table_points(fm["points"], "bytes_per_image", "bytes/image", "payload_bytes_per_image",
                           "payload bytes/image", shown))
    md.append("\nMatched size, whole files (bytes/image):\n")
    md.append(table_matched(fm["matched_file"], "bytes"))
    md.append("\nMatched size, payload only (CAE zlib stream vs JPEG without tables vs WebP VP8 data):\n")
    md.append(table_matched(fm["matched_payload"], "bytes"))
    for part, res in results["photos"].items():
        md.append(f"\n#### Photos, {res['label']}; CAE3\n")
        md.append(table_points(res["points"], "bpp", "bpp", "payload_bpp", "payload bpp", shown, digits=3))
        md.append("\nMatched size, whole files (bpp):\n")
        md.append(table_matched(res["matched_file"], "bpp", digits=3))
    text = "\n".join(md)
    print()
    print(text)
    print(f"\nwrote {args.json}, {args.svg}; {elapsed:.0f} s")


if __name__ == "__main__":
    main()
