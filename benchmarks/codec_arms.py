#!/usr/bin/env python3
"""The learned codec's nonlinearity arms at one λ with the same training budget (issue 11's activation
comparison): GDN/IGDN vs ReLU vs a flexible activation (P-E2-ReLU, per-channel α/β), several seeds each.

    python3 benchmarks/codec_arms.py [--flexctl .build/release/flexctl] [--corpus .corpus] [--steps 400]
        [--seeds 1 2] [--arms gdn relu p-e2-relu] [--lambda 0.018] [--parallel 2] [--out runs-codec/arms]

Each run: `flexctl train codec --data CORPUS/train --test CORPUS/test --lambda L --channels 64
--latent-channels 96 --nonlinearity ARM --seed S --steps STEPS --lr 5e-4 --lr-decay-at 0.85 --threads 1`,
PARALLEL runs at a time (one thread each). Runs already finished in OUT are not redone (a run folder resumes).
The result of a run is its last test.csv row: the codec as it codes (rounded latents, 8-bit pixels) on the
corpus' 7 test photos, pooled over all their pixels: bits per pixel, PSNR and the loss λ·255²·MSE + bpp. Prints
a markdown table (per run, then mean and sample standard deviation per arm) and writes OUT/summary.json.
"""
import argparse
import csv
import json
import os
import statistics
import subprocess
import sys
import time


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--flexctl", default=".build/release/flexctl")
    ap.add_argument("--corpus", default=".corpus")
    ap.add_argument("--steps", type=int, default=400)
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--arms", nargs="+", default=["gdn", "relu", "p-e2-relu"])
    ap.add_argument("--lambda", dest="lam", type=float, default=0.018)
    ap.add_argument("--parallel", type=int, default=2)
    ap.add_argument("--out", default="runs-codec/arms")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    jobs = [(arm, s) for arm in a.arms for s in a.seeds]
    running, seconds = [], {}

    def folder(arm, s):
        return os.path.join(a.out, f"{arm}-s{s}")

    def done(arm, s):
        p = os.path.join(folder(arm, s), "test.csv")
        if not os.path.exists(p):
            return None
        rows = list(csv.DictReader(open(p)))
        return rows[-1] if rows and int(rows[-1]["step"]) == a.steps else None

    for arm, s in jobs:
        if done(arm, s):
            continue
        while len(running) >= a.parallel:
            for r in running:
                if r[0].poll() is not None:
                    seconds[(r[1], r[2])] = time.time() - r[3]
                    running.remove(r)
                    break
            else:
                time.sleep(2)
        f = folder(arm, s)
        cmd = [a.flexctl, "train", "codec"]
        if os.path.exists(os.path.join(f, "state.h5")):
            cmd += ["--resume", f]
        else:
            cmd += ["--data", os.path.join(a.corpus, "train"), "--test", os.path.join(a.corpus, "test"),
                    "--lambda", str(a.lam), "--channels", "64", "--latent-channels", "96", "--nonlinearity", arm,
                    "--seed", str(s), "--steps", str(a.steps), "--lr", "5e-4", "--lr-decay-at", "0.85",
                    "--test-every", str(a.steps), "--threads", "1", "--out", f]
        log = open(f + ".log", "w")
        running.append((subprocess.Popen(cmd + ["--no-progress"], stdout=log, stderr=subprocess.STDOUT), arm, s, time.time()))
        print("started", " ".join(cmd), file=sys.stderr)
    for r in running:
        r[0].wait()
        seconds[(r[1], r[2])] = time.time() - r[3]

    results = {}
    print("| arm | seed | test bpp | test PSNR (dB) | test loss | wall (s) |\n| --- | --- | --- | --- | --- | --- |")
    for arm, s in jobs:
        row = done(arm, s)
        if row is None:
            print(f"| {arm} | {s} | (failed: see {folder(arm, s)}.log) | | | |")
            continue
        r = {k: float(row[k]) for k in ("bpp", "psnr_db", "loss")}
        r["seconds"] = round(seconds.get((arm, s), float("nan")), 1)
        results.setdefault(arm, {})[s] = r
        print(f"| {arm} | {s} | {r['bpp']:.4f} | {r['psnr_db']:.2f} | {r['loss']:.4f} | {r['seconds']} |")
    print("\n| arm | runs | bpp mean (sd) | PSNR mean (sd) | loss mean (sd) |\n| --- | --- | --- | --- | --- |")
    summary = {}
    for arm, runs in results.items():
        def ms(k):
            v = [r[k] for r in runs.values()]
            return statistics.mean(v), (statistics.stdev(v) if len(v) > 1 else float("nan"))
        summary[arm] = {k: ms(k) for k in ("bpp", "psnr_db", "loss")}
        b, p, l = summary[arm]["bpp"], summary[arm]["psnr_db"], summary[arm]["loss"]
        print(f"| {arm} | {len(runs)} | {b[0]:.4f} ({b[1]:.4f}) | {p[0]:.2f} ({p[1]:.2f}) | {l[0]:.4f} ({l[1]:.4f}) |")
    json.dump({"command": " ".join(sys.argv), "lambda": a.lam, "steps": a.steps, "runs": {k: {str(s): r for s, r in v.items()} for k, v in results.items()},
               "summary": summary}, open(os.path.join(a.out, "summary.json"), "w"), indent=1)


if __name__ == "__main__":
    main()
