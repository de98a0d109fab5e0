#!/usr/bin/env python3
"""Reference values for the Adam tests (Tests/FlexTrainingTests/AdamReferenceValues.swift).

Runs torch.optim.Adam (CPU, float32, default single-tensor path) on fixed parameters with fixed gradient
sequences and prints a Swift source file with the inputs and the parameters after every step. The tests
compare flexctl's Adam with these constants; they do not need PyTorch. flexctl's Adam repeats PyTorch's
element-wise float32 operations (with the same fused multiply-adds); with torch 2.15 on CPU three cases agree
bit for bit, and "weightDecay" drifts by up to 4 ulps over 12 steps because torch's vectorised sqrt (MKL) is
not correctly rounded for about one input in six.

Regenerate (from the package root):
    python3 Tests/FlexTrainingTests/Reference/adam_reference.py > Tests/FlexTrainingTests/AdamReferenceValues.swift
"""
import math

import numpy as np
import torch

torch.set_default_dtype(torch.float32)


def fmt(values):
    """float32 values as Swift literals: numpy's shortest decimal that round-trips the float32 exactly."""
    return "[" + ", ".join(str(np.float32(v)) for v in values) + "]"


def case(name, shapes, steps, hyper, grad_fn, multipliers=None):
    """One reference case: parameters with the given shapes, `steps` Adam steps, gradients from grad_fn."""
    params = []
    for p_index, shape in enumerate(shapes):
        n = math.prod(shape)
        vals = [math.sin(0.7 * i + 1.3 * p_index + 0.2) * (1.5 if p_index == 0 else 0.4) for i in range(n)]
        params.append(torch.tensor(vals, dtype=torch.float32).reshape(shape).requires_grad_(True))
    initial = [p.detach().flatten().tolist() for p in params]
    if multipliers is None:
        opt = torch.optim.Adam(params, **hyper)
    else:
        opt = torch.optim.Adam(
            [{"params": [p], "lr": hyper["lr"] * s} for p, s in zip(params, multipliers)],
            **hyper)
    grads_per_step = []
    after_per_step = []
    for t in range(1, steps + 1):
        opt.zero_grad()
        grads = grad_fn(params, t)
        for p, g in zip(params, grads):
            p.grad = g.detach().clone()
        grads_per_step.append([g.detach().flatten().tolist() for g in grads])
        opt.step()
        after_per_step.append([p.detach().flatten().tolist() for p in params])

    lines = []
    lines.append(f"    static let {name} = AdamReferenceCase(")
    lines.append(f"        learningRate: {hyper['lr']!r}, beta1: {hyper['betas'][0]!r}, beta2: {hyper['betas'][1]!r},")
    lines.append(f"        epsilon: {hyper['eps']!r}, weightDecay: {hyper['weight_decay']!r},")
    lines.append(f"        learningRateMultipliers: {('[' + ', '.join(repr(float(s)) for s in multipliers) + ']') if multipliers else 'nil'},")
    lines.append(f"        shapes: {[list(s) for s in shapes]},")
    lines.append(f"        initial: [{', '.join(fmt(v) for v in initial)}],")
    lines.append("        gradients: [")
    for gs in grads_per_step:
        lines.append(f"            [{', '.join(fmt(v) for v in gs)}],")
    lines.append("        ],")
    lines.append("        after: [")
    for ps in after_per_step:
        lines.append(f"            [{', '.join(fmt(v) for v in ps)}],")
    lines.append("        ])")
    return "\n".join(lines)


def fixed_grads(params, t):
    # Deterministic gradients with a mix of signs and magnitudes (including tiny and zero entries).
    out = []
    for p_index, p in enumerate(params):
        n = p.numel()
        g = [math.cos(0.37 * i * t + 0.9 * p_index) * (10.0 ** ((i % 5) - 3)) for i in range(n)]
        if n > 3:
            g[3] = 0.0
        out.append(torch.tensor(g, dtype=torch.float32).reshape(p.shape))
    return out


def quadratic_grads(params, t):
    # Gradient of sum_e (e % 3 + 1) * (p_e - 0.25)^2 / 2: an actual descent on a convex quadratic.
    out = []
    for p in params:
        flat = p.detach().flatten()
        w = torch.tensor([(e % 3) + 1.0 for e in range(flat.numel())], dtype=torch.float32)
        out.append((w * (flat - 0.25)).reshape(p.shape))
    return out


default_hyper = {"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0.0}
cases = [
    # 19 and 8 elements: a SIMD8 body with a tail of 3, and an exact SIMD8 tensor; defaults.
    case("defaults", [(19,), (2, 4)], 6, default_hyper, fixed_grads),
    # Other hyper-parameters, coupled L2 weight decay, 12 steps of a real descent.
    case("weightDecay", [(3, 5), (7,)], 12,
         {"lr": 0.05, "betas": (0.8, 0.99), "eps": 1e-6, "weight_decay": 0.01}, quadratic_grads),
    # Per-tensor learning rates (PyTorch parameter groups with lr = base * multiplier).
    case("multipliers", [(9,), (4,)], 5, {"lr": 0.01, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0.0},
         fixed_grads, multipliers=[1.0, 0.25]),
    # beta1 <= 0.5 takes the other branch of PyTorch's lerp (weight 1 - beta1 >= 0.5).
    case("smallBeta1", [(13,)], 6, {"lr": 0.02, "betas": (0.3, 0.95), "eps": 1e-8, "weight_decay": 0.0},
         fixed_grads),
]

print(f"""// GENERATED by Tests/FlexTrainingTests/Reference/adam_reference.py with PyTorch {torch.__version__}
// (torch.optim.Adam, CPU, float32, default single-tensor path). Do not edit; regenerate with
//     python3 Tests/FlexTrainingTests/Reference/adam_reference.py > Tests/FlexTrainingTests/AdamReferenceValues.swift
// Each case: initial parameters, the gradient fed at each step, and the parameters PyTorch produced after each step.

struct AdamReferenceCase: Sendable {{
    var learningRate: Double, beta1: Double, beta2: Double, epsilon: Double, weightDecay: Double
    var learningRateMultipliers: [Double]?
    var shapes: [[Int]]
    var initial: [[Float]]
    /// gradients[step][tensor]
    var gradients: [[[Float]]]
    /// after[step][tensor]
    var after: [[[Float]]]
}}

enum AdamReference {{""")
print("\n".join(cases))
print(f"    static let all: [(String, AdamReferenceCase)] = [(\"defaults\", defaults), (\"weightDecay\", weightDecay), (\"multipliers\", multipliers), (\"smallBeta1\", smallBeta1)]")
print("}")
