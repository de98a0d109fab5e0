#!/usr/bin/env python3
"""The start of a codec training in PyTorch with flexctl's recipe, to compare loss curves (docs/benchmarks.md,
"Learned codec: rate–distortion"): the plain-torch FactorizedPrior of Tests/FlexCodecTrainingTests/Reference
(N = 64, M = 96, GDN), λ = 0.018, Adam, gradients clipped to norm 1, the quantiles' Adam at 1e-3, batches of 8
random 128×128 crops with horizontal flips from the corpus' training photos (area-weighted, as flexctl's
PhotoCrops), seed 0. Prints the mean loss of every 50 steps.

    python3 benchmarks/codec_train_curve_torch.py [LR=5e-4] [THREADS=2] [STEPS=200]
"""
import sys, glob, time
import numpy as np, torch
import os
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "Tests", "FlexCodecTrainingTests", "Reference"))
sys.path.insert(0, HERE)
from codec_torch import FactorizedPrior, rate_distortion
import rate_distortion as rd
torch.set_num_threads(int(sys.argv[2]) if len(sys.argv) > 2 else 2)
torch.manual_seed(0); rng = np.random.default_rng(0)
imgs = []
for p in sorted(glob.glob(os.path.join(HERE, "..", ".corpus", "train", "*.png"))):
    a = rd.read_png(p)
    if a.ndim == 2: a = np.stack([a]*3, -1)
    imgs.append(a[..., :3].astype(np.float32) / 255)
w = np.array([(a.shape[0]-127)*(a.shape[1]-127) for a in imgs], float); w /= w.sum()
model = FactorizedPrior(64, 96)
lam = 0.018
opt = torch.optim.Adam(model.main_parameters(), lr=float(sys.argv[1]) if len(sys.argv) > 1 else 5e-4)
aux = torch.optim.Adam(model.aux_parameters(), lr=1e-3)
steps = int(sys.argv[3]) if len(sys.argv) > 3 else 200
acc = []
t0 = time.time()
for step in range(steps):
    batch = []
    for _ in range(8):
        a = imgs[rng.choice(len(imgs), p=w)]
        y = rng.integers(0, a.shape[0]-127); x = rng.integers(0, a.shape[1]-127)
        c = a[y:y+128, x:x+128]
        if rng.random() < 0.5: c = c[:, ::-1]
        batch.append(np.ascontiguousarray(c.transpose(2, 0, 1)))
    xb = torch.from_numpy(np.stack(batch))
    noise = torch.rand(8, 96, 8, 8) - 0.5
    opt.zero_grad(); aux.zero_grad()
    x_hat, lik = model(xb, noise)
    out = rate_distortion(xb, x_hat, lik, lam)
    loss = out["loss"] if isinstance(out, dict) else out[0]
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.main_parameters(), 1.0)
    opt.step()
    al = model.entropy_bottleneck.aux_loss(); al.backward(); aux.step()
    acc.append(float(loss.detach()))
    if (step + 1) % 50 == 0:
        print(f"step {step+1} loss {np.mean(acc):.4f} {time.time()-t0:.0f}s", flush=True); acc = []
