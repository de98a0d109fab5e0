#!/usr/bin/env python3
"""The learned codec's training step, flexctl against PyTorch on the same model and batch (issue 11).

    swift build -c release --product flexctl
    python3 benchmarks/codec_train_step.py [--rounds 5] [--sizes 64x96 128x192] [--threads 2]

One step: forward through g_a, uniform noise, the entropy bottleneck's likelihoods, g_s; the loss
λ·255²·MSE + bpp; backward; gradient clipping to norm 1; Adam (lr 1e-4) on the transforms and the density; the
auxiliary (quantile) loss's backward and its own Adam (lr 1e-3). PyTorch runs CompressAI's FactorizedPrior
written in plain torch (Tests/FlexCodecTrainingTests/Reference/codec_torch.py; CompressAI is not needed) in
float32 with torch.set_num_threads(THREADS); flexctl runs `flexctl bench --workload codec-train` (CodecTrainer.step)
with --threads THREADS. Both on random crops in [0, 1] (the time does not depend on the pixel values), GDN,
batch 8 of 128×128 by default.

The two alternate round by round (torch, flexctl, torch, ...) so that load from other processes on the machine
disturbs both alike. Each round is summarised the same way (median and p95 of its step times, images/s from
its mean), and the table gives the median over rounds of each number and the best round's median (the least
disturbed). Writes benchmarks/codec_train_step.json.
"""
import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time

import torch

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "Tests/FlexCodecTrainingTests/Reference"))
from codec_torch import FactorizedPrior, rate_distortion  # noqa: E402

LAMBDA = 0.0067  # flexctl bench's codec-train λ (train codec's example value); the time does not depend on it


def summary(times_ms, batch):
    s = sorted(times_ms)
    pct = lambda p: s[min(len(s) - 1, int(p * (len(s) - 1) + 0.5))]
    mean = sum(s) / len(s)
    return {"steps": len(s), "p50Ms": pct(0.5), "p95Ms": pct(0.95), "meanMs": mean, "imgPerS": batch / (mean / 1000)}


class TorchStep:
    def __init__(self, n, m, batch, crop, seed=1):
        torch.manual_seed(seed)
        self.model = FactorizedPrior(n, m)
        self.optimizer = torch.optim.Adam(self.model.main_parameters(), lr=1e-4)
        self.aux_optimizer = torch.optim.Adam(self.model.aux_parameters(), lr=1e-3)
        self.x = torch.rand(batch, 3, crop, crop)
        self.latent_shape = (batch, m, crop // 16, crop // 16)

    def step(self):
        self.optimizer.zero_grad()
        self.aux_optimizer.zero_grad()
        noise = torch.empty(self.latent_shape).uniform_(-0.5, 0.5)
        x_hat, likelihoods = self.model(self.x, noise)
        loss, _, _ = rate_distortion(self.x, x_hat, likelihoods, LAMBDA)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.model.main_parameters(), 1.0)
        self.optimizer.step()
        aux = self.model.entropy_bottleneck.aux_loss()
        aux.backward()
        self.aux_optimizer.step()

    def round(self, seconds, min_steps=5):
        times = []
        start = time.perf_counter()
        while time.perf_counter() - start < seconds or len(times) < min_steps:
            t = time.perf_counter()
            self.step()
            times.append((time.perf_counter() - t) * 1000)
        return times


def flexctl_round(flexctl, n, m, batch, crop, threads, seconds):
    cmd = [flexctl, "bench", "--workload", "codec-train", "--channels", str(n), "--latent-channels", str(m),
           "--batch-size", str(batch), "--crop", str(crop), "--threads", str(threads), "--seconds", str(seconds),
           "--format", "json"]
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({r.returncode}): {r.stderr}")
    res = json.loads(r.stdout)["results"][0]
    return {"steps": res["batches"], "p50Ms": res["p50_ms"], "p95Ms": res["p95_ms"], "meanMs": res["mean_ms"],
            "imgPerS": res["throughput"]}


def loadavg():
    try:
        return os.getloadavg()[0]
    except OSError:
        return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--flexctl", default=os.path.join(REPO, ".build/release/flexctl"))
    ap.add_argument("--rounds", type=int, default=5, help="alternating rounds per implementation")
    ap.add_argument("--seconds", type=float, default=8, help="measured seconds per round (after warm-up)")
    ap.add_argument("--sizes", nargs="+", default=["64x96"], help="N x M pairs")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--crop", type=int, default=128)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default=os.path.join(REPO, "benchmarks/codec_train_step.json"))
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    configs = []
    for size in args.sizes:
        n, m = (int(v) for v in size.split("x"))
        torch_step = TorchStep(n, m, args.batch, args.crop)
        for _ in range(3):  # warm-up, as flexctl bench's 3 warm-up steps
            torch_step.step()
        rounds = []
        for r in range(args.rounds):
            load_before = loadavg()
            t = summary(torch_step.round(args.seconds), args.batch)
            f = flexctl_round(args.flexctl, n, m, args.batch, args.crop, args.threads, args.seconds)
            rounds.append({"torch": t, "flexctl": f, "loadAverage1m": load_before})
            print(f"N={n} M={m} round {r + 1}/{args.rounds}: torch p50 {t['p50Ms']:.0f} ms, flexctl p50 {f['p50Ms']:.0f} ms"
                  f" (load {load_before:.1f})", file=sys.stderr, flush=True)
        med = lambda impl, key: statistics.median(x[impl][key] for x in rounds)
        result = {"channels": n, "latentChannels": m, "rounds": rounds}
        for impl in ("flexctl", "torch"):
            result[impl] = {k: med(impl, k) for k in ("p50Ms", "p95Ms", "meanMs", "imgPerS")}
            # The least disturbed round: on a shared machine the closest to an idle one.
            result[impl]["bestP50Ms"] = min(x[impl]["p50Ms"] for x in rounds)
        result["speedup"] = result["torch"]["p50Ms"] / result["flexctl"]["p50Ms"]
        configs.append(result)

    print(f"codec training step, batch {args.batch} × {args.crop}², GDN, {args.threads} threads, "
          f"median over {args.rounds} alternating rounds of ~{args.seconds:g} s")
    print(f"{'N':>4} {'M':>4}  {'impl':<8} {'p50 ms':>9} {'p95 ms':>9} {'img/s':>7} {'best p50':>9}")
    for c in configs:
        for impl in ("flexctl", "torch"):
            r = c[impl]
            print(f"{c['channels']:>4} {c['latentChannels']:>4}  {impl:<8} {r['p50Ms']:>9.1f} {r['p95Ms']:>9.1f} {r['imgPerS']:>7.2f}"
                  f" {r['bestP50Ms']:>9.1f}")
        print(f"{'':>10}torch p50 / flexctl p50 = {c['speedup']:.2f} (best rounds: "
              f"{c['torch']['bestP50Ms'] / c['flexctl']['bestP50Ms']:.2f})")

    doc = {
        "command": "python3 benchmarks/codec_train_step.py " + " ".join(sys.argv[1:]),
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"processor": platform.processor() or platform.machine(), "cpus": os.cpu_count(),
                    "torch": torch.__version__, "python": platform.python_version()},
        "batch": args.batch, "crop": args.crop, "threads": args.threads, "lambda": LAMBDA, "seconds": args.seconds,
        "results": configs,
    }
    with open(args.out, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
