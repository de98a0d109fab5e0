#!/usr/bin/env python3
"""Speed of the image codec (issue 5): cold start of one small image, a 512x512 photo, a folder of 10,000 digits.

    swift build -c release --product flexctl --static-swift-stdlib
    python3 benchmarks/codec_speed.py [--flexctl .build/release/flexctl] [--runs 30]

Cold runs: the wall time of a whole `flexctl compress image` / `decompress` process (min and median of --runs
runs; Python's fork/exec overhead, ~1 ms, measured with /bin/true, is included) and the peak RSS. The photo is
scikit-image's astronaut (512x512 RGB, ../shared/data/photos/astronaut.png) with CAE3; the digits are the first
10,000 Fashion-MNIST test images written as PNGs, with CAE2, in a temporary folder (TMPDIR=/dev/shm puts it
on tmpfs; on a disk file system the per-file create/rename dominates). Peak RSS from GNU time. Python standard
library only.
"""
import argparse
import gzip
import os
import shutil
import struct
import subprocess
import tempfile
import time
import zlib

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CAE2 = os.path.join(REPO, "models/cae2-p-e2-relu-fashion-mnist.h5")
CAE3 = os.path.join(REPO, "models/cae3-p-e2-id-photos.h5")
DIGIT = os.path.join(REPO, "samples/images/fashion-mnist-t10k-0.png")
PHOTO = os.path.join(REPO, "../shared/data/photos/astronaut.png")
FASHION = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz"


def peak_rss_mb(cmd):
    """Peak resident set size of one run, from GNU time (not the Python parent's)."""
    r = subprocess.run(["/usr/bin/time", "-f", "%M"] + cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    return int(r.stderr.strip().splitlines()[-1]) / 1024


def timed(cmd, runs):
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        times.append(time.perf_counter() - t)
        if r.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} failed: {r.stderr.decode()}")
    times.sort()
    return times[0] * 1000, times[len(times) // 2] * 1000, peak_rss_mb(cmd)


def png(path, w, h, pixels):
    raw = b"".join(b"\x00" + pixels[y * w:(y + 1) * w] for y in range(h))
    def chunk(k, d):
        return struct.pack(">I", len(d)) + k + d + struct.pack(">I", zlib.crc32(k + d) & 0xFFFFFFFF)
    open(path, "wb").write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
                           + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--flexctl", default=os.path.join(REPO, ".build/release/flexctl"))
    ap.add_argument("--runs", type=int, default=30)
    a = ap.parse_args()
    fx = a.flexctl
    tmp = tempfile.mkdtemp(prefix="flexctl-codec-speed-")
    try:
        print("| what | min ms | median ms | peak RSS MB |")
        print("| --- | --- | --- | --- |")
        for label, cmd in [
            ("/bin/true (process overhead)", ["/bin/true"]),
            ("flexctl --version", [fx, "--version"]),
            ("compress image 28x28 PNG (CAE2)", [fx, "compress", "image", DIGIT, "--model", CAE2, "-o", tmp + "/d.flexz", "--overwrite"]),
            ("decompress 28x28 (CAE2, --model)", [fx, "decompress", tmp + "/d.flexz", "--model", CAE2, "-o", tmp + "/d.png", "--overwrite"]),
        ]:
            mn, med, rss = timed(cmd, a.runs)
            print(f"| {label} | {mn:.1f} | {med:.1f} | {rss:.1f} |")
        # The 512x512 photo: in-process compress time from --report, and whole-process wall time.
        if os.path.exists(PHOTO):
            r = subprocess.run([fx, "compress", "image", PHOTO, "--model", CAE3, "-o", tmp + "/a.flexz", "--report", "--overwrite"],
                               capture_output=True, text=True, check=True)
            line = [l for l in r.stdout.splitlines() if l.startswith("time")][0]
            comp_ms = float(line.split(",")[1].split()[0])
            mn, med, _ = timed([fx, "compress", "image", PHOTO, "--model", CAE3, "-o", tmp + "/a.flexz", "--overwrite"], 10)
            dmn, dmed, _ = timed([fx, "decompress", tmp + "/a.flexz", "--model", CAE3, "-o", tmp + "/a.png", "--overwrite"], 10)
            mb = 512 * 512 * 3 / 1e6
            print(f"\n512x512 RGB photo (0.786 MB of pixels): compress step {comp_ms:.1f} ms = {mb / comp_ms * 1000:.1f} MB/s; "
                  f"whole process compress min {mn:.1f} ms ({mb / mn * 1000:.1f} MB/s), decompress min {dmn:.1f} ms")
        if os.path.exists(FASHION):
            data = gzip.open(FASHION).read()[16:]
            os.makedirs(tmp + "/digits")
            for i in range(10000):
                png(f"{tmp}/digits/{i:05d}.png", 28, 28, data[i * 784:(i + 1) * 784])
            t = time.perf_counter()
            subprocess.run([fx, "compress", "image", tmp + "/digits", "--model", CAE2, "-o", tmp + "/z"], check=True,
                           stdout=subprocess.DEVNULL)
            c = time.perf_counter() - t
            t = time.perf_counter()
            subprocess.run([fx, "decompress", tmp + "/z", "--model", CAE2, "-o", tmp + "/out"], check=True,
                           stdout=subprocess.DEVNULL)
            d = time.perf_counter() - t
            print(f"\nfolder of 10,000 28x28 PNGs: compress {c:.2f} s ({10000 / c:,.0f} images/s), "
                  f"decompress {d:.2f} s ({10000 / d:,.0f} images/s)")
    finally:
        shutil.rmtree(tmp)


if __name__ == "__main__":
    main()
