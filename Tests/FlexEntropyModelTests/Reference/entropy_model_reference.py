#!/usr/bin/env python3
"""Reference values for the factorized entropy model (Tests/FlexEntropyModelTests/EntropyModelReferenceValues.swift).

An independent numpy float64 implementation of Ballé et al. 2018's per-channel cumulative density as CompressAI's
EntropyBottleneck evaluates it (filters (3, 3, 3, 3)): likelihoods with the sign trick, the rate in bits with the
1e-9 lower bound, the auxiliary quantile loss and the PMF export. Gradients are NOT derived by hand here (the Swift
code is): they come from complex-step differentiation, df/dx = Im f(x + ih) / h with h = 1e-30, which is exact to
float64 rounding for the analytic pieces (softplus, tanh, sigmoid, log). The non-analytic pieces are handled as
CompressAI's autograd sees them: the sign of the sign trick and of |·| is taken from the real part (torch detaches
the former; the latter is a constant factor), and the LowerBound passes the gradient of the rate through the
clamp (its incoming gradient −1/(ln 2 · x) is negative), which the complex version reproduces by moving only the
real part up to the bound.

Inputs and parameters are float32 values (printed exactly); every expected value is float64.

Regenerate (from the package root; needs numpy only):
    python3 Tests/FlexEntropyModelTests/Reference/entropy_model_reference.py > Tests/FlexEntropyModelTests/EntropyModelReferenceValues.swift
"""
import math
import sys

import numpy as np

FILTERS = (3, 3, 3, 3)
WIDTHS = (1,) + FILTERS + (1,)
K = len(WIDTHS) - 1
C = 3
BOUND = 1e-9
TAIL = 1e-9
H = 1e-30


def counting(n, m, p, s, scale, offset, k):
    """The counting-range values of docs/reference-tests.md, rounded to float32."""
    v = [(((i * m + s) % p) - (p - 1) / 2) * scale + (((3 * i + k) % 41) - 20) * scale / 64 + offset for i in range(n)]
    return np.array(v, dtype=np.float32)


def make_params():
    params = {}
    k = 0
    for layer in range(K):
        n = C * WIDTHS[layer + 1] * WIDTHS[layer]
        # Sharper than CompressAI's init (log(expm1(1/10^(1/5)/3)) ≈ −1.45) so the latents below reach the bound.
        params[f"matrix{layer}"] = counting(n, 7, 23, 3 + layer, 0.05, -0.6, k).reshape(C, WIDTHS[layer + 1], WIDTHS[layer])
        k += 1
    for layer in range(K):
        params[f"bias{layer}"] = counting(C * WIDTHS[layer + 1], 5, 29, 1 + layer, 0.035, 0.0, k).reshape(C, WIDTHS[layer + 1])
        k += 1
    for layer in range(K - 1):
        params[f"factor{layer}"] = counting(C * WIDTHS[layer + 1], 11, 31, 2 + layer, 0.06, 0.0, k).reshape(C, WIDTHS[layer + 1])
        k += 1
    params["quantiles"] = np.array([[-9.25, 0.375, 11.5], [-4.8125, -0.625, 3.1875], [-20.5, 1.25, 14.75]], dtype=np.float32)
    return params


NAMES = [f"matrix{i}" for i in range(K)] + [f"bias{i}" for i in range(K)] + [f"factor{i}" for i in range(K - 1)]


def csigmoid(x):
    """Sigmoid valid for complex x of any real part (no inf/inf)."""
    x = np.asarray(x, dtype=complex)
    out = np.empty_like(x)
    pos = x.real >= 0
    out[pos] = 1 / (1 + np.exp(-x[pos]))
    e = np.exp(x[~pos])
    out[~pos] = e / (1 + e)
    return out


def csoftplus(x):
    x = np.asarray(x, dtype=complex)
    return np.where(x.real > 0, x + np.log1p(np.exp(-x)), np.log1p(np.exp(x)))


def logits(p, c, x):
    """Cumulative logit of channel c at the points x (1-D complex array)."""
    v = np.asarray(x, dtype=complex)[None, :]  # [1, n]
    for layer in range(K):
        m = csoftplus(p[f"matrix{layer}"][c])
        v = m @ v + p[f"bias{layer}"][c][:, None]
        if layer < K - 1:
            v = v + np.tanh(p[f"factor{layer}"][c])[:, None] * np.tanh(v)
    return v[0]


def likelihood(p, c, y):
    lo, hi = logits(p, c, y - 0.5), logits(p, c, y + 0.5)
    s = np.where((lo + hi).real > 0, -1.0, 1.0)
    d = csigmoid(s * hi) - csigmoid(s * lo)
    return np.sign(d.real) * d


def rate(p, y):
    """y [N, C, W] complex -> (bits, likelihoods)."""
    bits = 0
    lik = np.zeros(y.shape, dtype=complex)
    for c in range(C):
        l = likelihood(p, c, y[:, c, :].reshape(-1)).reshape(y.shape[0], -1)
        lik[:, c, :] = l
        below = l.real < BOUND
        lb = np.where(below, l + (BOUND - l.real), l)
        bits = bits - np.sum(np.log(lb)) / math.log(2)
    return bits, lik


def aux_loss(p):
    t = math.log(2 / TAIL - 1)
    target = np.array([-t, 0, t])
    total = 0
    for c in range(C):
        r = logits(p, c, p["quantiles"][c].astype(complex)) - target
        total = total + np.sum(np.sign(r.real) * r)
    return total


def cparams(params):
    return {k: v.astype(np.float64).astype(complex) for k, v in params.items()}


def pmfs(params):
    p = cparams(params)
    out = []
    for c in range(C):
        q0, med, q2 = (float(v) for v in params["quantiles"][c])
        lo_n = max(0, math.ceil(med - q0))
        hi_n = max(0, math.ceil(q2 - med))
        xs = med + np.arange(-lo_n, hi_n + 1, dtype=np.float64)
        pmf = likelihood(p, c, xs.astype(complex)).real
        tail = csigmoid(logits(p, c, np.array([xs[0] - 0.5]))).real[0] + csigmoid(-logits(p, c, np.array([xs[-1] + 0.5]))).real[0]
        out.append((med, -lo_n, hi_n, pmf, tail))
    return out


def main():
    params = make_params()
    # Latents [N=2, C=3, 6]: the body of each density, its tails, and points far enough out that the likelihood
    # falls below the bound (the script asserts there are some).
    n_w = 6
    base = counting(2 * C * n_w, 13, 37, 4, 0.2, 0.0, 99).astype(np.float64).reshape(2, C, n_w)
    base[0, 0, 0], base[1, 1, 5], base[0, 2, 3], base[1, 0, 2] = 37.0, -41.5, 63.25, -28.0
    y = base.astype(np.float32)
    yc = y.astype(np.float64).astype(complex)
    p = cparams(params)

    bits, lik = rate(p, yc)
    bits = bits.real
    lik = lik.real
    assert np.all(lik > 0) and np.all(lik <= 1)
    assert np.sum(lik < BOUND) >= 2, "want latents below the likelihood bound"
    assert np.sum(lik > 0.02) >= 10, "want latents in the body of the densities"

    dy = np.zeros(y.shape)
    for idx in np.ndindex(y.shape):
        yy = yc.copy()
        yy[idx] += 1j * H
        dy[idx] = rate(p, yy)[0].imag / H

    grads = {}
    for name in NAMES:
        g = np.zeros(params[name].shape)
        for idx in np.ndindex(params[name].shape):
            pp = dict(p)
            arr = p[name].copy()
            arr[idx] += 1j * H
            pp[name] = arr
            g[idx] = rate(pp, yc)[0].imag / H
        grads[name] = g

    aux = aux_loss(p).real
    gq = np.zeros(params["quantiles"].shape)
    for idx in np.ndindex(gq.shape):
        pp = dict(p)
        arr = p["quantiles"].copy()
        arr[idx] += 1j * H
        pp["quantiles"] = arr
        gq[idx] = aux_loss(pp).imag / H

    exported = pmfs(params)

    def f32(a):
        return "[" + ", ".join(str(np.float32(v)) for v in np.asarray(a).reshape(-1)) + "]"

    def f64(a):
        return "[" + ", ".join(repr(float(v)) for v in np.asarray(a).reshape(-1)) + "]"

    w = sys.stdout.write
    w("// GENERATED by Tests/FlexEntropyModelTests/Reference/entropy_model_reference.py with numpy "
      f"{np.__version__}, Python {sys.version.split()[0]}\n")
    w("// (float64; gradients by complex-step differentiation). Do not edit; regenerate with\n")
    w("//     python3 Tests/FlexEntropyModelTests/Reference/entropy_model_reference.py > Tests/FlexEntropyModelTests/EntropyModelReferenceValues.swift\n\n")
    w("enum EntropyModelReference {\n")
    w(f"    static let channels = {C}\n    static let filters = {list(FILTERS)}\n")
    w("    /// Parameters in EntropyBottleneck.parameterNames order (flattened, row-major).\n")
    w("    static let parameters: [[Float]] = [\n")
    for name in NAMES + ["quantiles"]:
        w(f"        {f32(params[name])},  // {name} {list(params[name].shape)}\n")
    w("    ]\n")
    w(f"    static let latentShape = {list(y.shape)}\n")
    w(f"    static let latents: [Float] = {f32(y)}\n")
    w(f"    /// Unbounded (the Swift tensor holds max(value, 1e-9)).\n"
      f"    static let likelihoods: [Double] = {f64(lik)}\n")
    w(f"    static let bits = {float(bits)!r}\n")
    w(f"    static let latentGradient: [Double] = {f64(dy)}\n")
    w("    /// ∂bits/∂(density parameters), parameterNames order without quantiles.\n")
    w("    static let parameterGradients: [[Double]] = [\n")
    for name in NAMES:
        w(f"        {f64(grads[name])},  // {name}\n")
    w("    ]\n")
    w(f"    static let auxiliaryLoss = {float(aux)!r}\n")
    w(f"    static let quantileGradient: [Double] = {f64(gq)}\n")
    w("    /// Per channel: median, minimum, maximum, pmf, tail mass.\n")
    w("    static let pmfs: [(median: Float, minimum: Int, maximum: Int, pmf: [Double], tailMass: Double)] = [\n")
    for med, lo, hi, pmf, tail in exported:
        w(f"        ({np.float32(med)}, {lo}, {hi}, {f64(pmf)}, {float(tail)!r}),\n")
    w("    ]\n}\n")


if __name__ == "__main__":
    main()
