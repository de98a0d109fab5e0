#!/usr/bin/env python3
"""Rate-distortion of flexctl's learned codec (issue 11) against JPEG and WebP on the photo corpus' test split and
on the held-out bottom rows of ../shared/data/photos, with BD-rates (docs/benchmarks.md).

    ../shared/tools/photo-corpus .corpus          # once: 34 photos from Debian packages (MANIFEST.tsv)
    python3 benchmarks/codec_corpus_rd.py [--corpus .corpus] [--photos ../shared/data/photos]
        [--flexctl .build/release/flexctl] [--models models/codec-q1.h5 models/codec-q2.h5 ...] [--threads 2]
        [--skip-anchors-from benchmarks/codec_corpus_rd.json] [--limit N]

Sets:
  corpus-test   every PNG in CORPUS/test (7 photos, 2.6 MP; one of them gray), whole images;
  photos-bottom the bottom 20% of the rows of each photo in PHOTOS (split row H - round(0.2 H), the rows CAE3 and
                the codec's training do not use); RGBA loses its alpha first.
--limit N keeps the first N images (by file name) of each set: for quick tests only.
Codecs: JPEG by libjpeg-turbo's cjpeg (defaults: 4:2:0 for colour, Huffman tables optimised: no; -grayscale for
gray images) at qualities 5, 10, ..., 95; WebP by cwebp -q 0, 5, ..., 100 (lossy; WebP decodes gray as RGB and is
compared on its BT.601 luma). The learned codec: one point per checkpoint given to --models (one checkpoint per
quality level; default models/codec-q*.h5, ordered by the number after q; none found: JPEG and WebP only). Each
image is written as a PNG and coded with
    flexctl compress IMG.png --model M -o X.flexz --threads N
    flexctl decompress X.flexz --model M -o Y.png --threads N
one process per image and direction (gray images are coded as RGB with gray replicated and decode as gray).
Times: the wall time of those processes (start-up, checkpoint loading, PNG reading and writing included), summed
over a set's images and divided by its megapixels (ms per MP). The checkpoint's fingerprint and lambda come from
`flexctl inspect --json M`.
--skip-anchors-from JSON reuses the JPEG and WebP points of an earlier run's JSON for every set whose image list
is the same (the anchors are recomputed for the others).
Metrics, CompressAI's convention: for each setting (quality, or checkpoint), the mean over images of bits per
pixel (file bytes * 8 / pixels) and the mean of per-image PSNR (10 log10(255^2 / MSE), MSE over R, G, B for
colour images, over the gray values for gray ones). BD-rate (benchmarks/bd_rate.py: cubic fit of log(bpp) in
PSNR) over the common PSNR range of the two curves, with each curve restricted to its Pareto front (settings that
are both larger and worse than another are dropped): WebP against JPEG, and the learned codec against JPEG and
against WebP (negative: fewer bits than the anchor at the same PSNR). When there are fewer than 4 points on a
front or the curves share no PSNR range, the BD-rate is null and the JSON says why.

Writes benchmarks/codec_corpus_rd.json and benchmarks/codec_corpus_rd.svg (PSNR against bpp, one panel per set)
and prints markdown tables. Needs cjpeg/djpeg (libjpeg-turbo-progs), cwebp/dwebp (webp) and numpy; flexctl for
the learned codec. Uses rate_distortion.py's PNG reader/writer, codec wrappers and SVG axis helpers.
"""

import argparse
import glob
import json
import os
import platform
import re
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


def load_sets(corpus, photos, limit=None):
    test = sorted(glob.glob(os.path.join(corpus, "test", "*.png")))[:limit]
    if not test:
        sys.exit(f"no PNG in {corpus}/test: build the corpus with ../shared/tools/photo-corpus {corpus}")
    sets = {"corpus-test": [(os.path.basename(p), rd.read_png(p)) for p in test]}
    bottom = []
    for p in sorted(glob.glob(os.path.join(photos, "*.png")))[:limit]:
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


def bd(anchor, test):
    """BD-rate of test against anchor over their Pareto fronts: {bd_rate, psnr_range_db} or {bd_rate: None, why}."""
    try:
        rate, (lo, hi) = bd_rate.bd_rate([(p["bpp"], p["psnr"]) for p in front(anchor)],
                                         [(p["bpp"], p["psnr"]) for p in front(test)])
        return {"bd_rate": rate, "psnr_range_db": [lo, hi]}
    except ValueError as e:  # too few points, or no common PSNR range
        return {"bd_rate": None, "psnr_range_db": None, "why": str(e)}


def bd_text(r):
    if r["bd_rate"] is None:
        return f"none ({r['why']})"
    lo, hi = r["psnr_range_db"]
    return f"{r['bd_rate'] * 100:+.1f}% (PSNR {lo:.2f}-{hi:.2f} dB)"


# ----------------------------------------------------------------------------------------------------------------
# The learned codec

def default_models():
    """models/codec-q*.h5 ordered by quality number (q2 before q10)."""
    found = []
    for p in glob.glob(os.path.join("models", "codec-q*.h5")):
        m = re.fullmatch(r"codec-q(\d+)\.h5", os.path.basename(p))
        if m:
            found.append((int(m.group(1)), p))
    return [p for _, p in sorted(found)]


def model_info(flexctl, model):
    """Fingerprint and lambda from `flexctl inspect --json` (None for what it does not say)."""
    r = subprocess.run([flexctl, "inspect", "--json", model], capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"flexctl inspect {model} failed ({r.returncode}): {r.stderr.strip()}")
    d = json.loads(r.stdout)
    if d.get("task") != "image-codec":
        raise RuntimeError(f"{model}: task {d.get('task')!r}, expected 'image-codec' (a learned codec checkpoint)")
    return {"fingerprint": d.get("fingerprint"), "lambda": (d.get("input") or {}).get("lambda")}


def timed(cmd):
    t = time.perf_counter()
    rd.run(cmd)
    return time.perf_counter() - t


def flexctl_point(flexctl, model, info, images, tmp, threads):
    """One model on every image of a set: per-image bytes, PSNR and wall times; means as in curve()."""
    per_image = []
    for i, (name, img) in enumerate(images):
        src, z, dec = (os.path.join(tmp, f"f{i}{ext}") for ext in (".png", ".flexz", ".dec.png"))
        rd.write_png(src, img)
        tc = timed([flexctl, "compress", src, "--model", model, "-o", z, "--threads", str(threads), "--overwrite"])
        td = timed([flexctl, "decompress", z, "--model", model, "-o", dec, "--threads", str(threads),
                    "--overwrite"])
        nbytes = os.path.getsize(z)
        decoded = rd.to_compare(rd.read_png(dec), img)
        if decoded.shape != img.shape:
            raise RuntimeError(f"{name}: flexctl decoded {decoded.shape}, the original is {img.shape}")
        se, n = rd.mse_per_pixel(decoded, img)
        pixels = img.shape[0] * img.shape[1]
        per_image.append({"name": name, "bytes": nbytes, "bpp": nbytes * 8 / pixels, "psnr": rd.psnr(se / n),
                          "compress_s": round(tc, 4), "decompress_s": round(td, 4)})
        for f in (src, z, dec):
            os.remove(f)
    mp = sum(i.shape[0] * i.shape[1] for _, i in images) / 1e6
    q = re.fullmatch(r"codec-q(\d+)\.h5", os.path.basename(model))
    return {"setting": f"q{q.group(1)}" if q else os.path.basename(model), "model": model, **info,
            "bpp": float(np.mean([r["bpp"] for r in per_image])),
            "psnr": float(np.mean([r["psnr"] for r in per_image])),
            "compress_ms_per_mp": 1000 * sum(r["compress_s"] for r in per_image) / mp,
            "decompress_ms_per_mp": 1000 * sum(r["decompress_s"] for r in per_image) / mp,
            "per_image": per_image}


# ----------------------------------------------------------------------------------------------------------------
# Plot: rate_distortion.py's panels (log bpp axis, linear PSNR), with this script's PSNR convention on the y label

def write_svg(path, panels, footer):
    w, h = 560, 400
    W, H = w * len(panels), h + 24
    body = []
    for i, (title, series) in enumerate(panels):
        g = rd.panel_svg(i * w, 0, w, h, title, "bits per pixel, whole files (log)", series)
        pooled = "PSNR (dB, pooled MSE)"
        assert pooled in g, "rate_distortion.panel_svg changed its y label"
        body.append(g.replace(pooled, "PSNR (dB, mean of per-image PSNR)"))
    svg = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}">\n'
           f'<rect width="100%" height="100%" fill="white"/>\n' + "\n".join(body) +
           f'\n<text x="8" y="{H - 8}" font-family="sans-serif" font-size="10" fill="#555">{footer}</text>\n</svg>\n')
    with open(path, "w") as f:
        f.write(svg)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", default=".corpus")
    ap.add_argument("--photos", default="../shared/data/photos")
    ap.add_argument("--json", default="benchmarks/codec_corpus_rd.json")
    ap.add_argument("--svg", default="benchmarks/codec_corpus_rd.svg")
    ap.add_argument("--flexctl", default=".build/release/flexctl")
    ap.add_argument("--models", nargs="+", metavar="M.h5",
                    help="learned codec checkpoints, one per quality level (default: models/codec-q*.h5)")
    ap.add_argument("--threads", type=int, default=2, help="flexctl --threads (default 2)")
    ap.add_argument("--skip-anchors-from", metavar="JSON", help="reuse JPEG/WebP points of an earlier run")
    ap.add_argument("--limit", type=int, help="first N images of each set only (quick tests)")
    args = ap.parse_args()
    start = time.time()
    models = args.models if args.models is not None else default_models()
    if models and not os.access(args.flexctl, os.X_OK):
        sys.exit(f"{args.flexctl}: no flexctl executable there (give --flexctl)")
    for m in models:
        if not os.path.isfile(m):
            sys.exit(f"{m}: no such checkpoint")
    previous = {}
    if args.skip_anchors_from:
        with open(args.skip_anchors_from) as f:
            previous = json.load(f)
    sets = load_sets(args.corpus, args.photos, args.limit)
    result = {"machine": platform.platform(), "cjpeg": subprocess.run(["cjpeg", "-version"], capture_output=True,
              text=True).stderr.strip(), "cwebp": subprocess.run(["cwebp", "-version"], capture_output=True,
              text=True).stdout.strip(), "command": " ".join(sys.argv), "limit": args.limit, "sets": {}}
    if models:
        result["flexctl"] = rd.run([args.flexctl, "--version"]).decode().strip()
        result["flexctl_threads"] = args.threads
        infos = {m: model_info(args.flexctl, m) for m in models}
    md = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, images in sets.items():
            names = [n for n, _ in images]
            old = previous.get("sets", {}).get(name)
            if old and old.get("images") == names:
                jpeg, webp, anchors_from = old["jpeg"], old["webp"], args.skip_anchors_from
                for tool in ("cjpeg", "cwebp"):
                    if previous.get(tool) != result[tool]:
                        print(f"note: {name}: reused anchors were made with {tool} {previous.get(tool)!r}, "
                              f"this machine has {result[tool]!r}", file=sys.stderr)
            else:
                if previous:
                    print(f"note: {name}: {args.skip_anchors_from} has other images; computing JPEG/WebP",
                          file=sys.stderr)
                jpeg = curve(images, rd.jpeg_code, JPEG_QUALITIES)
                webp = curve(images, lambda img, q: rd.webp_code(img, q, tmp), WEBP_QUALITIES)
                anchors_from = None
            flex = []
            for m in models:
                flex.append(flexctl_point(args.flexctl, m, infos[m], images, tmp, args.threads))
                print(f"  {name} {flex[-1]['setting']}: {flex[-1]['bpp']:.3f} bpp, {flex[-1]['psnr']:.2f} dB",
                      file=sys.stderr, flush=True)
            webp_jpeg = bd(jpeg, webp)
            r = {"images": names, "pixels": int(sum(i.shape[0] * i.shape[1] for _, i in images)),
                 "jpeg": jpeg, "webp": webp, "anchors_from": anchors_from,
                 # kept under the names earlier runs used
                 "bd_rate_webp_vs_jpeg": webp_jpeg["bd_rate"], "bd_psnr_range_db": webp_jpeg["psnr_range_db"]}
            if "why" in webp_jpeg:
                r["bd_rate_webp_vs_jpeg_why"] = webp_jpeg["why"]
            if models:
                r["flexctl"] = flex
                r["bd_rate_flexctl_vs_jpeg"] = bd(jpeg, flex)
                r["bd_rate_flexctl_vs_webp"] = bd(webp, flex)
            result["sets"][name] = r

            md.append(f"\n### {name}: {len(images)} images, {r['pixels'] / 1e6:.2f} MP\n")
            md.append("| codec | setting | bpp | PSNR (dB) |\n| --- | --- | --- | --- |")
            for codec, pts in (("JPEG", jpeg), ("WebP", webp), ("flexctl", flex)):
                for p in pts:
                    md.append(f"| {codec} | {p['setting']} | {p['bpp']:.3f} | {p['psnr']:.2f} |")
            if models:
                md.append(f"\nflexctl (--threads {args.threads}), wall time per megapixel, process start and "
                          "checkpoint loading included:\n")
                md.append("| model | λ | fingerprint | bpp | PSNR (dB) | compress ms/MP | decompress ms/MP |\n"
                          "| --- | --- | --- | --- | --- | --- | --- |")
                for p in flex:
                    fp = (p["fingerprint"] or "?").removeprefix("sha256:")[:12]
                    md.append(f"| {p['model']} | {p['lambda']} | {fp} | {p['bpp']:.3f} | {p['psnr']:.2f} | "
                              f"{p['compress_ms_per_mp']:.0f} | {p['decompress_ms_per_mp']:.0f} |")
            md.append(f"\nBD-rate of WebP against JPEG: {bd_text(webp_jpeg)}")
            if models:
                md.append(f"BD-rate of flexctl against JPEG: {bd_text(r['bd_rate_flexctl_vs_jpeg'])}")
                md.append(f"BD-rate of flexctl against WebP: {bd_text(r['bd_rate_flexctl_vs_webp'])}")
    result["seconds"] = round(time.time() - start, 1)

    def clean(o):  # strict JSON: a lossless image's infinite PSNR becomes null
        if isinstance(o, float):
            return rd.finite_or_none(o)
        if isinstance(o, dict):
            return {k: clean(v) for k, v in o.items()}
        if isinstance(o, list):
            return [clean(v) for v in o]
        return o

    with open(args.json, "w") as f:
        json.dump(clean(result), f, indent=1, allow_nan=False)
        f.write("\n")

    titles = {"corpus-test": "Photo corpus, test split (whole images)",
              "photos-bottom": "Photos, bottom 20% rows (held out)"}
    panels = []
    for name, r in result["sets"].items():
        series = [("flexctl learned codec", "CAE", [(p["bpp"], p["psnr"], p["setting"]) for p in r.get("flexctl", [])]),
                  ("JPEG (cjpeg)", "JPEG", [(p["bpp"], p["psnr"], "") for p in r["jpeg"]]),
                  ("WebP (cwebp)", "WebP", [(p["bpp"], p["psnr"], "") for p in r["webp"]])]
        panels.append((f"{titles.get(name, name)}, {len(r['images'])} images", [s for s in series if s[2]]))
    write_svg(args.svg, panels, f"Means over images of bpp and of per-image PSNR (CompressAI's convention). "
              f"{result['cjpeg']}; cwebp {result['cwebp']}; flexctl {result.get('flexctl', '(no models given)')}. "
              f"benchmarks/codec_corpus_rd.py")
    print("\n".join(md))
    print(f"\nwrote {args.json}, {args.svg}; {result['seconds']} s")


if __name__ == "__main__":
    main()
