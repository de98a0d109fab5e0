#!/usr/bin/env python3
"""Reference values of the learned codec's rate-distortion loss and gradients, computed by PyTorch in float64.

    python3 Tests/FlexCodecTrainingTests/Reference/codec_reference.py

writes Tests/FlexCodecTrainingTests/Reference/codec_reference.json (committed; CI does not need torch), which
CodecReferenceTests.swift reads: a tiny FactorizedPrior (N=4, M=3, GDN, batch 2, 16x16 crops) with
deterministic parameters (float32 values, away from CompressAI's initial ones so that every term matters: GDN
beta/gamma not at their initial values, non-zero density factors, shifted quantiles), input and quantisation
noise, and for two lambdas (0.01: distortion and rate both matter; 1e-8: the rate alone, so its gradient
through g_a and into the density is checked tightly) the loss, bits, squared error and the gradient of the loss
with respect to every parameter but the quantiles; plus the auxiliary (quantile) loss and its gradient.

The model is codec_torch.py (CompressAI's definitions in plain torch). Parameter names are flexctl's
(TrainableCodec.namedParameters), layouts PyTorch's (the density's trailing 1s dropped as flexctl stores them).
"""

import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from codec_torch import FactorizedPrior, flexctl_names, rate_distortion  # noqa: E402

N, M, BATCH, SIZE = 4, 3, 2, 16
LAMBDAS = [0.01, 1e-8]


def f32(a):
    """float32-rounded values as float64 (exact in JSON)."""
    return np.asarray(a, dtype=np.float32).astype(np.float64)


def build(rng):
    torch.manual_seed(11)
    model = FactorizedPrior(N, M).double()
    with torch.no_grad():
        for name, p in model.named_parameters():
            shape = tuple(p.shape)
            if name.endswith(".beta"):
                v = rng.uniform(0.6, 1.4, shape)
            elif name.endswith(".gamma"):
                v = rng.uniform(0.05, 0.6, shape)
            elif "_matrix" in name:
                v = p.numpy() + rng.normal(0, 0.3, shape)
            elif "_bias" in name:
                v = rng.uniform(-0.5, 0.5, shape)
            elif "_factor" in name:
                v = rng.uniform(-1, 1, shape)
            elif name.endswith("quantiles"):
                v = np.tile([-10.0, 0.0, 10.0], (M, 1, 1)) + rng.uniform(-1, 1, shape)
            elif ".weight" in name and name.startswith("g_a.0"):
                v = p.numpy() * 2
            else:
                v = p.numpy()
            p.copy_(torch.from_numpy(f32(v)))
    return model


def tensor_json(name, t):
    a = t.detach().numpy()
    if name.startswith("entropy.") and name.split(".")[-1].rstrip("0123456789") in ("bias", "factor", "quantiles"):
        a = a.reshape(a.shape[0], -1)  # [C, e, 1] -> [C, e]; quantiles [C, 1, 3] -> [C, 3]
    return {"name": name, "shape": list(a.shape), "values": [float(v) for v in a.reshape(-1)]}


def compact_json(v, indent=""):
    """JSON with one line per tensor (diffable, a third of indent=1's size)."""
    inner = indent + " "
    if isinstance(v, dict) and "values" not in v:
        items = [f"{inner}{json.dumps(k)}: {compact_json(x, inner)}" for k, x in v.items()]
        return "{\n" + ",\n".join(items) + "\n" + indent + "}"
    if isinstance(v, list) and v and isinstance(v[0], dict):
        return "[\n" + ",\n".join(inner + compact_json(x, inner) for x in v) + "\n" + indent + "]"
    return json.dumps(v)


def main():
    rng = np.random.default_rng(20261129)
    model = build(rng)
    x = torch.from_numpy(f32(rng.uniform(0, 1, (BATCH, 3, SIZE, SIZE))))
    noise = torch.from_numpy(f32(rng.uniform(-0.5, 0.5, (BATCH, M, SIZE // 16, SIZE // 16))))

    names = flexctl_names(model)
    params = dict(model.named_parameters())
    # flexctl's order: g_a, g_s, then matrix0..4, bias0..4, factor0..3, quantiles.
    eb = model.entropy_bottleneck
    k = len(eb.filters) + 1
    order = [n for n in params if not n.startswith("entropy_bottleneck.")]
    order += [f"entropy_bottleneck._matrix{i}" for i in range(k)] + [f"entropy_bottleneck._bias{i}" for i in range(k)]
    order += [f"entropy_bottleneck._factor{i}" for i in range(k - 1)] + ["entropy_bottleneck.quantiles"]
    assert sorted(order) == sorted(params)

    cases = []
    for lmbda in LAMBDAS:
        model.zero_grad()
        x_hat, likelihoods = model(x, noise)
        loss, bits, mse = rate_distortion(x, x_hat, likelihoods, lmbda)
        loss.backward()
        cases.append({
            "lambda": lmbda,
            "loss": loss.item(),
            "bits": bits.item(),
            "squaredError": (mse * x.numel()).item(),
            "gradients": [tensor_json(names[n], params[n].grad) for n in order if not n.endswith("quantiles")],
        })

    model.zero_grad()
    aux = eb.aux_loss()
    aux.backward()
    doc = {
        "generator": "Tests/FlexCodecTrainingTests/Reference/codec_reference.py (torch %s, float64)" % torch.__version__,
        "channels": N, "latentChannels": M, "batch": BATCH, "size": SIZE,
        "input": tensor_json("input", x),
        "noise": tensor_json("noise", noise),
        "parameters": [tensor_json(names[n], params[n]) for n in order],
        "cases": cases,
        "auxiliaryLoss": aux.item(),
        "quantileGradient": tensor_json("entropy.quantiles", eb.quantiles.grad),
    }
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "codec_reference.json")
    with open(out, "w") as f:
        f.write(compact_json(doc) + "\n")
    print(f"wrote {out}: loss {[c['loss'] for c in cases]}, bits {[c['bits'] for c in cases]}")


if __name__ == "__main__":
    main()
