#!/usr/bin/env python3
"""Rate-distortion of JPEG and WebP on the photo corpus' test split and on the held-out bottom rows of
../shared/data/photos: the anchors issue 11's learned codec is measured against (docs/benchmarks.md).

    ../shared/tools/photo-corpus .corpus          # once: 34 photos from Debian packages (MANIFEST.tsv)
    python3 benchmarks/codec_corpus_rd.py [--corpus .corpus] [--photos ../shared/data/photos]

Sets:
  corpus-test   every PNG in CORPUS/test (7 photos, 2.6 MP; one of them gray), whole images;
  photos-bottom the bottom 20% of the rows of each photo in PHOTOS (split row H - round(0.2 H), the rows CAE3 and
                the codec's training do not use); RGBA loses its alpha first.
Codecs: JPEG by libjpeg-turbo's cjpeg (defaults: 4:2:0 for colour, Huffman tables optimised: no; -grayscale for
gray images) at qualities 5, 10, ..., 95; WebP by cwebp -q 0, 5, ..., 100 (lossy; WebP decodes gray as RGB and is
compared on its BT.601 luma).
Metrics, CompressAI's convention: for each setting, the mean over images of bits per pixel (file bytes * 8 /
pixels) and the mean of per-image PSNR (10 log10(255^2 / MSE), MSE over R, G, B for colour images, over the gray
values for gray ones). BD-rate (benchmarks/bd_rate.py) over the common PSNR range of the two curves, with each
curve restricted to its Pareto front (settings that are both larger and worse than another are dropped).

Writes benchmarks/codec_corpus_rd.json and prints markdown tables. Needs cjpeg/djpeg (libjpeg-turbo-progs),
cwebp/dwebp (webp) and numpy. Uses rate_distortion.py's PNG reader and codec wrappers.
"""

import argparse
import glob
import json
import os
import platform
import subprocess
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bd_rate  # noqa: E402
import rate_distortion as rd  # noqa: E402

JPEG_QUALITIES = list(range(5, 100, 5))
WEBP_QUALITIES = list(range(0, 101, 5))


def load_sets(corpus, photos):
    test = sorted(glob.glob(os.path.join(corpus, "test", "*.png")))
    if not test:
        sys.exit(f"no PNG in {corpus}/test: build the corpus with ../shared/tools/photo-corpus {corpus}")
    sets = {"corpus-test": [(os.path.basename(p), rd.read_png(p)) for p in test]}
    bottom = []
    for p in sorted(glob.glob(os.path.join(photos, "*.png"))):
        a = rd.read_png(p)
        if a.ndim == 3 and a.shape[2] in (2, 4):
            a = a[..., :-1] if a.shape[2] == 4 else a[..., 0]
        h = a.shape[0]
        bottom.append((os.path.basename(p), np.ascontiguousarray(a[h - round(0.2 * h):])))
    if bottom:
        sets["photos-bottom"] = bottom
    return sets


def curve(images, code, settings):
    points = []
    for s in settings:
        bpps, psnrs = [], []
        for _, img in images:
            nbytes, _, decoded, _ = code(img, s)
            d = rd.to_compare(decoded, img)
            se, n = rd.mse_per_pixel(d, img)
            bpps.append(nbytes * 8 / (img.shape[0] * img.shape[1]))
            psnrs.append(rd.psnr(se / n))
        points.append({"setting": s, "bpp": float(np.mean(bpps)), "psnr": float(np.mean(psnrs))})
    return points


def front(points):
    """Pareto front: drop a point when another is no larger and at least as good."""
    keep = [p for p in points
            if not any(q is not p and q["bpp"] <= p["bpp"] and q["psnr"] >= p["psnr"]
                       and (q["bpp"], q["psnr"]) != (p["bpp"], p["psnr"]) for q in points)]
    return sorted(keep, key=lambda p: p["bpp"])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", default=".corpus")
    ap.add_argument("--photos", default="../shared/data/photos")
    ap.add_argument("--json", default="benchmarks/codec_corpus_rd.json")
    args = ap.parse_args()
    start = time.time()
    sets = load_sets(args.corpus, args.photos)
    result = {"machine": platform.platform(), "cjpeg": subprocess.run(["cjpeg", "-version"], capture_output=True,
              text=True).stderr.strip(), "cwebp": subprocess.run(["cwebp", "-version"], capture_output=True,
              text=True).stdout.strip(), "command": " ".join(sys.argv), "sets": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for name, images in sets.items():
            jpeg = curve(images, rd.jpeg_code, JPEG_QUALITIES)
            webp = curve(images, lambda img, q: rd.webp_code(img, q, tmp), WEBP_QUALITIES)
            bd, (lo, hi) = bd_rate.bd_rate([(p["bpp"], p["psnr"]) for p in front(jpeg)],
                                           [(p["bpp"], p["psnr"]) for p in front(webp)])
            result["sets"][name] = {"images": [n for n, _ in images],
                                    "pixels": int(sum(i.shape[0] * i.shape[1] for _, i in images)),
                                    "jpeg": jpeg, "webp": webp,
                                    "bd_rate_webp_vs_jpeg": bd, "bd_psnr_range_db": [lo, hi]}
            print(f"\n### {name}: {len(images)} images\n")
            print("| codec | setting | bpp | PSNR (dB) |\n| --- | --- | --- | --- |")
            for codec, pts in (("JPEG", jpeg), ("WebP", webp)):
                for p in pts:
                    print(f"| {codec} | {p['setting']} | {p['bpp']:.3f} | {p['psnr']:.2f} |")
            print(f"\nBD-rate of WebP against JPEG: {bd * 100:+.1f}% (PSNR {lo:.2f}-{hi:.2f} dB)")
    result["seconds"] = round(time.time() - start, 1)
    with open(args.json, "w") as f:
        json.dump(result, f, indent=1)
    print(f"\nwrote {args.json}; {result['seconds']} s")


if __name__ == "__main__":
    main()
