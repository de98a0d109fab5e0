#!/usr/bin/env python3
"""Independent PyTorch reference for flexctl's known-answer tests.

Writes reference.json next to this script. Only the *generation* needs PyTorch; the Swift tests
read the committed JSON, so CI never runs this file.

    cd Tests/FlexKnownAnswerTests/Reference && python3 reference.py

Conventions (see docs/reference-tests.md):
- Inputs and parameters are deterministic "counting-range" values
  v_i = (((i*m + s) mod p) - (p-1)/2) * scale + (((3i + k) mod 41) - 20) * scale/64 over the
  flattened index i, with a different multiplier/modulus/shift (and k) per tensor. They are rounded to float32 first, then every expected value
  is computed in float64 from exactly those float32 numbers, so the Swift side (float32) starts from
  bit-identical inputs.
- Numbers are written with 9 significant digits (enough to round-trip any float32 exactly;
  the float64 expected values lose < 1e-9 relative).
- Gradients use a fixed weighting tensor w: L = sum(w * y); stored are autograd's dL/dx and dL/dtheta.
- Parameter tensors are in PyTorch layouts and named as flexctl names them.
"""
import json
import math
import platform
import sys

import numpy as np
import torch
import torch.nn.functional as F

# The dtype of the computation. The reference is float64; main() also reruns every case in float32 only
# to measure how far float32 rounding moves each result (the basis of the Swift tolerances).
DT = torch.float64
torch.set_default_dtype(DT)
COMMAND = "cd Tests/FlexKnownAnswerTests/Reference && python3 reference.py"

# --------------------------------------------------------------------------------------------------
# Deterministic values
# --------------------------------------------------------------------------------------------------
_MULTS = [7, 5, 11, 3, 13, 17, 9, 19, 4, 15, 6, 21, 8, 14, 10, 2]
_MODS = [23, 29, 31, 19, 37]
_counter = [0]


def pattern(shape, scale=1.0 / 16, m=None, p=None, s=None, offset=0.0):
    """Counting-range tensor: (((i*m + s) % p) - (p-1)/2) * scale + (((3i + k) % 41) - 20) * scale/64
    + offset, rounded to float32 (k counts the calls, so every tensor differs)."""
    k = _counter[0]
    _counter[0] += 1
    m = _MULTS[k % len(_MULTS)] if m is None else m
    p = _MODS[k % len(_MODS)] if p is None else p
    s = (3 * k) % p if s is None else s
    n = int(np.prod(shape)) if len(shape) else 1
    i = np.arange(n, dtype=np.int64)
    v = (((i * m + s) % p) - (p - 1) / 2.0) * scale + offset
    # A finer second counter with a coprime period breaks the exact ties that small integer
    # combinations would otherwise produce (e.g. equal values inside a max-pool window).
    v = v + (((i * 3 + k) % 41) - 20) * (scale / 64)
    return f32(torch.tensor(v, dtype=DT).reshape(shape))


def f32(t):
    """Round to float32 and back: the value Swift will see."""
    return t.detach().to(torch.float32).to(DT)


def pow2_scale(fan_in):
    """1/16 divided by a power of two near sqrt(fan_in): keeps pre-activations O(0.1 .. 1)."""
    return 1.0 / 16 / (2.0 ** round(math.log2(math.sqrt(fan_in))))


def enc(t):
    t = t.detach().to(torch.float64).contiguous()
    return {"shape": list(t.shape), "data": [float("%.9g" % v) for v in t.reshape(-1).tolist()]}


def grads_of(params):
    return {k: enc(v.grad) for k, v in params.items()}


def leaf(t):
    return t.clone().requires_grad_(True)


# --------------------------------------------------------------------------------------------------
# Activation members (exact formulas from the brief / paper, eq. 1)
# --------------------------------------------------------------------------------------------------
def elu_b(z, beta):
    """elu(z; beta) = z if z > 0 else beta * (e^z - 1)."""
    return torch.where(z > 0, z, beta * (torch.exp(z) - 1))


def member_forward(member, z, alpha, beta):
    """z: [N, U, S]; alpha [U] or [U, 3]; beta [U]. Parameters broadcast per unit (dim 1)."""
    def u(p):
        return p.view(1, -1, 1)
    if member == "identity":
        return z
    if member == "relu":
        return torch.relu(z)
    if member == "elu":
        return torch.where(z > 0, z, torch.exp(z) - 1)
    if member == "sigmoid":
        return torch.sigmoid(z)
    if member == "tanh":
        return torch.tanh(z)
    if member == "prelu":
        return torch.where(z > 0, z, u(beta) * z)
    if member == "p-sig-ramp":
        a, b = u(alpha), u(beta)
        return a * torch.sigmoid(z) + (1 - a) * torch.clamp(b * z + 0.5, 0.0, 1.0)
    if member == "p-tanh-ramp":
        a, b = u(alpha), u(beta)
        return a * torch.tanh(z) + (1 - a) * torch.clamp(b * z, -1.0, 1.0)
    if member == "p-e-relu":
        a1, a2, a3 = (alpha[:, k].view(1, -1, 1) for k in range(3))
        elu = lambda x: torch.where(x > 0, x, torch.exp(x) - 1)
        return a1 * torch.relu(z) + a2 * elu(z) + a3 * (-elu(-z))
    if member == "p-e2-relu":
        a, b = u(alpha), u(beta)
        return a * torch.relu(z) + (1 - a) * (elu_b(z, b) - elu_b(-z, b))
    if member == "p-e2-id":
        a, b = u(alpha), u(beta)
        return a * z + (1 - a) * (elu_b(z, b) - elu_b(-z, b))
    raise ValueError(member)


# Which parameters each member has: (alpha shape per unit or None, has beta)
MEMBER_PARAMS = {
    "identity": (None, False), "relu": (None, False), "elu": (None, False),
    "sigmoid": (None, False), "tanh": (None, False), "prelu": (None, True),
    "p-sig-ramp": ((), True), "p-tanh-ramp": ((), True), "p-e-relu": ((3,), False),
    "p-e2-relu": ((), True), "p-e2-id": ((), True),
}


def act_nd(member, x, alpha, beta):
    """Applies a member to [N, C, ...] (per channel) or [N, F] (per feature)."""
    shape = x.shape
    z = x.reshape(shape[0], shape[1], -1)
    return member_forward(member, z, alpha, beta).reshape(shape)


# --------------------------------------------------------------------------------------------------
# Cases
# --------------------------------------------------------------------------------------------------
def weighted_case(y, params_leaf, x_leaf, w):
    L = (w * y).sum()
    L.backward()
    out = {"w": enc(w), "grad_input": enc(x_leaf.grad)}
    out["grad_params"] = grads_of(params_leaf)
    return out


def conv2d_case(name, cin, cout, k, s, p, n, h, wd):
    x = pattern([n, cin, h, wd])
    W = pattern([cout, cin, k, k], scale=pow2_scale(cin * k * k))
    b = pattern([cout], scale=1.0 / 32)
    xl, P = leaf(x), {"weight": leaf(W), "bias": leaf(b)}
    y = F.conv2d(xl, P["weight"], P["bias"], stride=s, padding=p)
    w = pattern(list(y.shape))
    case = {"name": name, "kind": "conv2d",
            "spec": {"in": cin, "out": cout, "kernel": k, "stride": s, "padding": p, "output_padding": 0},
            "input": enc(x), "params": {"weight": enc(W), "bias": enc(b)}, "output": enc(y)}
    case.update(weighted_case(y, P, xl, w))
    return case


def conv_t_case(name, cin, cout, k, s, p, op, n, h, wd):
    x = pattern([n, cin, h, wd])
    W = pattern([cin, cout, k, k], scale=pow2_scale(cin * k * k / (s * s)))
    b = pattern([cout], scale=1.0 / 32)
    xl, P = leaf(x), {"weight": leaf(W), "bias": leaf(b)}
    y = F.conv_transpose2d(xl, P["weight"], P["bias"], stride=s, padding=p, output_padding=op)
    w = pattern(list(y.shape))
    case = {"name": name, "kind": "conv_transpose2d",
            "spec": {"in": cin, "out": cout, "kernel": k, "stride": s, "padding": p, "output_padding": op},
            "input": enc(x), "params": {"weight": enc(W), "bias": enc(b)}, "output": enc(y)}
    case.update(weighted_case(y, P, xl, w))
    return case


def check_pool_margins(x, k, s, what, min_gap=1e-3):
    """Asserts every pooling window has a unique maximum with a clear gap (float32 can't flip it)."""
    n, c, h, w = x.shape
    win = x.unfold(2, k, s).unfold(3, k, s).reshape(n, c, (h - k) // s + 1, (w - k) // s + 1, k * k)
    top2 = win.topk(2, dim=-1).values
    gap = (top2[..., 0] - top2[..., 1]).min().item()
    assert gap > min_gap, f"{what}: max-pool window with near-tie (gap {gap})"
    return gap


def maxpool_case(name, k, s, n, c, h, wd):
    x = pattern([n, c, h, wd])
    check_pool_margins(x, k, s, name)
    xl = leaf(x)
    y = F.max_pool2d(xl, k, s)
    w = pattern(list(y.shape))
    case = {"name": name, "kind": "maxpool2d", "spec": {"kernel": k, "stride": s},
            "input": enc(x), "params": {}, "output": enc(y)}
    case.update(weighted_case(y, {}, xl, w))
    return case


def linear_case(name, fin, fout, n):
    x = pattern([n, fin])
    W = pattern([fout, fin], scale=pow2_scale(fin))
    b = pattern([fout], scale=1.0 / 32)
    xl, P = leaf(x), {"weight": leaf(W), "bias": leaf(b)}
    y = F.linear(xl, P["weight"], P["bias"])
    w = pattern(list(y.shape))
    case = {"name": name, "kind": "linear", "spec": {"in": fin, "out": fout},
            "input": enc(x), "params": {"weight": enc(W), "bias": enc(b)}, "output": enc(y)}
    case.update(weighted_case(y, P, xl, w))
    return case


ALPHA_1 = [0.3, 0.6, 0.9]
BETA_1 = [0.5, 1.0, 2.0]
ALPHA_SIMPLEX = [[0.5, 0.3, 0.2], [0.1, 0.6, 0.3], [0.25, 0.25, 0.5]]


def activation_input(units=3, n=2, spatial=13):
    """z = -3 .. 3 step 0.25, shifted by 0.01 (away from every kink); each unit sees all 25 values."""
    z = torch.empty(n, units, spatial, dtype=DT)
    for b in range(n):
        for u in range(units):
            for s in range(spatial):
                j = (b * spatial + s + 9 * u) % 25
                z[b, u, s] = -3.0 + 0.25 * j + 0.01
    return f32(z)


def activation_case(member):
    z = activation_input()
    a_shape, has_beta = MEMBER_PARAMS[member]
    P = {}
    if a_shape == ():
        P["alpha"] = f32(torch.tensor(ALPHA_1))
    elif a_shape == (3,):
        P["alpha"] = f32(torch.tensor(ALPHA_SIMPLEX))
    if has_beta:
        P["beta"] = f32(torch.tensor(BETA_1 if member != "prelu" else [0.05, 0.25, 0.6]))
    zl = leaf(z)
    PL = {k: leaf(v) for k, v in P.items()}
    y = member_forward(member, zl, PL.get("alpha"), PL.get("beta"))
    w = pattern(list(y.shape))
    case = {"name": member, "kind": "activation", "spec": {"member": member, "units": 3},
            "input": enc(z), "params": {k: enc(v) for k, v in P.items()}, "output": enc(y)}
    case.update(weighted_case(y, PL, zl, w))
    return case


# ---------------------------------------- LSTM ----------------------------------------------------
_ramp_margin = [math.inf]  # smallest distance of a ramp argument from a clip kink (float32 safety)


def _track(bz, kinks):
    d = min((bz.detach() - k).abs().min().item() for k in kinks)
    _ramp_margin[0] = min(_ramp_margin[0], d)


def p_sig_ramp(z, a, b):
    _track(b * z + 0.5, (0.0, 1.0))
    return a * torch.sigmoid(z) + (1 - a) * torch.clamp(b * z + 0.5, 0.0, 1.0)


def p_tanh_ramp(z, a, b):
    _track(b * z, (-1.0, 1.0))
    return a * torch.tanh(z) + (1 - a) * torch.clamp(b * z, -1.0, 1.0)


def flex_lstm(x, P, layers, hidden):
    """Hand-written batch-first LSTM; gates i, f, o: P-Sig-Ramp; candidate g and cell output: P-Tanh-Ramp.
    Returns the top layer's last hidden state [N, H]."""
    n, t_len, _ = x.shape
    seq = x
    H = hidden
    for l in range(layers):
        h = torch.zeros(n, H, dtype=DT)
        c = torch.zeros(n, H, dtype=DT)
        outs = []
        for t in range(t_len):
            gates = seq[:, t, :] @ P[f"weight_ih_l{l}"].T + P[f"bias_ih_l{l}"] \
                + h @ P[f"weight_hh_l{l}"].T + P[f"bias_hh_l{l}"]
            gi, gf, gg, go = gates.split(H, dim=1)
            i = p_sig_ramp(gi, P[f"i_alpha_l{l}"], P[f"i_beta_l{l}"])
            f = p_sig_ramp(gf, P[f"f_alpha_l{l}"], P[f"f_beta_l{l}"])
            g = p_tanh_ramp(gg, P[f"g_alpha_l{l}"], P[f"g_beta_l{l}"])
            o = p_sig_ramp(go, P[f"o_alpha_l{l}"], P[f"o_beta_l{l}"])
            c = f * c + i * g
            h = o * p_tanh_ramp(c, P[f"c_alpha_l{l}"], P[f"c_beta_l{l}"])
            outs.append(h)
        seq = torch.stack(outs, dim=1)
    return seq[:, -1, :]


def lstm_weights(inp, hidden, layers):
    P = {}
    for l in range(layers):
        fin = inp if l == 0 else hidden
        P[f"weight_ih_l{l}"] = pattern([4 * hidden, fin], scale=1.0 / 12)
        P[f"weight_hh_l{l}"] = pattern([4 * hidden, hidden], scale=1.0 / 12)
        P[f"bias_ih_l{l}"] = pattern([4 * hidden], scale=1.0 / 16)
        P[f"bias_hh_l{l}"] = pattern([4 * hidden], scale=1.0 / 16)
    return P


def lstm_flex_params(hidden, layers):
    P = {}
    for l in range(layers):
        for gi, g in enumerate("ifgoc"):
            # alpha in (0.2, 0.9), beta in (0.4, 1.6): non-default, different per gate and unit
            P[f"{g}_alpha_l{l}"] = f32(torch.tensor([0.2 + 0.7 * ((u * 3 + gi * 5 + l) % 7) / 6 for u in range(hidden)]))
            P[f"{g}_beta_l{l}"] = f32(torch.tensor([0.4 + 1.2 * ((u * 2 + gi * 3 + l * 4) % 5) / 4 for u in range(hidden)]))
    return P


def lstm_plain_case(name, inp, hidden, layers, n=2, t_len=6):
    x = pattern([n, t_len, inp], scale=1.0 / 8)
    P = lstm_weights(inp, hidden, layers)
    m = torch.nn.LSTM(inp, hidden, num_layers=layers, batch_first=True).to(DT)
    with torch.no_grad():
        for k, v in P.items():
            getattr(m, k).copy_(v)
    xl = leaf(x)
    out, _ = m(xl)
    y = out[:, -1, :]
    # The hand-written cell with alpha = 1 must be torch.nn.LSTM.
    ones = {k: (torch.ones(hidden) if "_alpha_" in k else v) for k, v in lstm_flex_params(hidden, layers).items()}
    y_hand = flex_lstm(x, {**P, **ones}, layers, hidden)
    assert torch.allclose(y_hand, y.detach(), atol=1e-13 if DT == torch.float64 else 1e-6, rtol=0), \
        "hand-written LSTM != torch.nn.LSTM"
    w = pattern(list(y.shape))
    L = (w * y).sum()
    L.backward()
    case = {"name": name, "kind": "lstm",
            "spec": {"input_size": inp, "hidden_size": hidden, "num_layers": layers, "gate": "sigmoid", "cell": "tanh"},
            "input": enc(x), "params": {k: enc(v) for k, v in P.items()}, "output": enc(y),
            "w": enc(w), "grad_input": enc(xl.grad),
            "grad_params": {k: enc(getattr(m, k).grad) for k in P}}
    return case


def lstm_flex_case(name, inp, hidden, layers, n=2, t_len=6):
    x = pattern([n, t_len, inp], scale=1.0 / 8)
    P = lstm_weights(inp, hidden, layers)
    P.update(lstm_flex_params(hidden, layers))
    xl = leaf(x)
    PL = {k: leaf(v) for k, v in P.items()}
    _ramp_margin[0] = math.inf
    y = flex_lstm(xl, PL, layers, hidden)
    assert _ramp_margin[0] > 1e-5, f"{name}: a ramp argument is {_ramp_margin[0]} from a kink"
    w = pattern(list(y.shape))
    case = {"name": name, "kind": "lstm",
            "spec": {"input_size": inp, "hidden_size": hidden, "num_layers": layers,
                     "gate": "p-sig-ramp", "cell": "p-tanh-ramp"},
            "input": enc(x), "params": {k: enc(v) for k, v in P.items()}, "output": enc(y)}
    case.update(weighted_case(y, PL, xl, w))
    case["min_ramp_kink_distance"] = _ramp_margin[0]
    return case


# ---------------------------------------- CAEs ----------------------------------------------------
def cae_layers(which):
    """The paper's CAEs as (kind, args) in Sequential order; 'act' = P-E2-ReLU, per channel."""
    if which == "cae1":
        return [("conv", 1, 16, 3, 3, 1), ("act", 16), ("pool", 2, 2),
                ("convt", 16, 8, 5, 3, 1), ("act", 8), ("convt", 8, 1, 2, 2, 1), ("tanh", 1)]
    if which == "cae2":
        return [("conv", 1, 16, 3, 3, 1), ("act", 16), ("pool", 2, 2),
                ("conv", 16, 8, 3, 2, 1), ("act", 8), ("pool", 2, 1),
                ("convt", 8, 16, 3, 2, 0), ("act", 16), ("convt", 16, 8, 5, 3, 1), ("act", 8),
                ("convt", 8, 1, 2, 2, 1), ("tanh", 1)]
    if which == "cae3":
        return [("conv", 3, 12, 4, 2, 1), ("act", 12), ("conv", 12, 24, 4, 2, 1), ("act", 24),
                ("conv", 24, 48, 4, 2, 1), ("act", 48), ("convt", 48, 24, 4, 2, 1), ("act", 24),
                ("convt", 24, 12, 4, 2, 1), ("act", 12), ("convt", 12, 3, 4, 2, 1), ("sigmoid", 3)]
    raise ValueError(which)


def cae_case(which, in_shape, n=2, first_pattern=0):
    layers = cae_layers(which)
    _counter[0] = first_pattern  # each CAE's values do not depend on the cases generated before it
    x = pattern([n] + in_shape, scale=1.0 / 16)
    P = {}
    for idx, spec in enumerate(layers):
        kind = spec[0]
        if kind == "conv":
            _, ci, co, k, s, p = spec
            P[f"layers.{idx}.weight"] = pattern([co, ci, k, k], scale=2 * pow2_scale(ci * k * k))
            P[f"layers.{idx}.bias"] = pattern([co], scale=1.0 / 64)
        elif kind == "convt":
            _, ci, co, k, s, p = spec
            P[f"layers.{idx}.weight"] = pattern([ci, co, k, k], scale=pow2_scale(ci * k * k))
            P[f"layers.{idx}.bias"] = pattern([co], scale=1.0 / 64)
        elif kind == "act":
            c = spec[1]
            P[f"layers.{idx}.alpha"] = f32(torch.tensor([0.15 + 0.7 * ((u * 5) % 11) / 10 for u in range(c)]))
            P[f"layers.{idx}.beta"] = f32(torch.tensor([0.5 + 1.5 * ((u * 3) % 7) / 6 for u in range(c)]))
    PL = {k: leaf(v) for k, v in P.items()}

    def run(inp, params, record=None):
        h = inp
        for idx, spec in enumerate(layers):
            kind = spec[0]
            if kind == "conv":
                h = F.conv2d(h, params[f"layers.{idx}.weight"], params[f"layers.{idx}.bias"], stride=spec[4], padding=spec[5])
            elif kind == "convt":
                h = F.conv_transpose2d(h, params[f"layers.{idx}.weight"], params[f"layers.{idx}.bias"],
                                       stride=spec[4], padding=spec[5])
            elif kind == "act":
                if record is not None:
                    record.append(("act", idx, h.detach().abs().min().item()))
                h = act_nd("p-e2-relu", h, params[f"layers.{idx}.alpha"], params[f"layers.{idx}.beta"])
            elif kind == "pool":
                if record is not None:
                    record.append(("pool", idx, check_pool_margins(h.detach(), spec[1], spec[2], f"{which} layers.{idx}", 1e-5)))
                h = F.max_pool2d(h, spec[1], spec[2])
            elif kind == "tanh":
                h = torch.tanh(h)
            elif kind == "sigmoid":
                h = torch.sigmoid(h)
        return h

    record = []
    y = run(x, PL, record)
    # No pre-activation sits on a kink (|z| tiny) where float32 could take the other branch.
    for what, idx, v in record:
        if what == "act":
            assert v > 1e-5, f"{which} layers.{idx}: pre-activation {v} too close to the kink at 0"
    target = pattern(list(y.shape), scale=1.0 / 32, offset=0.5 if which == "cae3" else 0.0)
    loss = ((y - target) ** 2).mean()
    loss.backward()
    arch = []
    for spec in layers:
        kind = spec[0]
        if kind == "conv":
            arch.append({"kind": "conv2d", "in": spec[1], "out": spec[2], "kernel": spec[3], "stride": spec[4], "padding": spec[5]})
        elif kind == "convt":
            arch.append({"kind": "conv_transpose2d", "in": spec[1], "out": spec[2], "kernel": spec[3], "stride": spec[4], "padding": spec[5]})
        elif kind == "pool":
            arch.append({"kind": "maxpool2d", "kernel": spec[1], "stride": spec[2]})
        elif kind == "act":
            arch.append({"kind": "activation", "member": "p-e2-relu", "units": spec[1]})
        else:
            arch.append({"kind": "activation", "member": kind, "units": spec[1]})
    return {"name": which, "kind": "cae", "architecture": arch,
            "input": enc(x), "params": {k: enc(v) for k, v in P.items()}, "output": enc(y),
            "target": enc(target), "loss": float("%.12g" % loss.item()),
            "loss_reduction": "mean of (y - target)^2 over all N*C*H*W elements",
            "grad_params": {k: enc(v.grad) for k, v in PL.items()},
            "min_pool_gap": min([v for w_, _, v in record if w_ == "pool"], default=None),
            "min_abs_preactivation": min(v for w_, _, v in record if w_ == "act")}


# ---------------------------------------- Adam ----------------------------------------------------
def adam_case():
    p0 = pattern([5], scale=1.0 / 8)
    g1 = pattern([5], scale=1.0 / 4)
    g2 = pattern([5], scale=1.0 / 4, offset=0.05)
    p = p0.clone().requires_grad_(True)
    opt = torch.optim.Adam([p], lr=1e-2, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)
    after = []
    for g in (g1, g2):
        opt.zero_grad()
        p.grad = g.clone()
        opt.step()
        after.append(enc(p.detach().clone()))
    return {"name": "adam", "kind": "adam", "lr": 1e-2, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8,
            "weight_decay": 0.0, "initial": enc(p0), "gradients": [enc(g1), enc(g2)], "after_steps": after}


def build_cases():
    _counter[0] = 0
    cases = []
    # Conv2d: every configuration of the paper's CAEs, plus a small odd, non-square case.
    cases += [
        conv2d_case("cae1.conv 1->16 k3 s3 p1 on 28x28", 1, 16, 3, 3, 1, 2, 28, 28),
        conv2d_case("cae2.conv 16->8 k3 s2 p1 on 5x5", 16, 8, 3, 2, 1, 2, 5, 5),
        conv2d_case("cae3.conv 3->12 k4 s2 p1 on 32x32", 3, 12, 4, 2, 1, 2, 32, 32),
        conv2d_case("cae3.conv 12->24 k4 s2 p1 on 16x16", 12, 24, 4, 2, 1, 2, 16, 16),
        conv2d_case("cae3.conv 24->48 k4 s2 p1 on 8x8", 24, 48, 4, 2, 1, 2, 8, 8),
        conv2d_case("odd 2->3 k3 s2 p1 on 7x9", 2, 3, 3, 2, 1, 2, 7, 9),
        conv2d_case("odd 3->2 k2 s1 p0 on 5x4 batch 3", 3, 2, 2, 1, 0, 3, 5, 4),
    ]
    cases += [
        conv_t_case("cae1.convT 16->8 k5 s3 p1 on 5x5", 16, 8, 5, 3, 1, 0, 2, 5, 5),
        conv_t_case("cae1.convT 8->1 k2 s2 p1 on 15x15", 8, 1, 2, 2, 1, 0, 2, 15, 15),
        conv_t_case("cae2.convT 8->16 k3 s2 p0 on 2x2", 8, 16, 3, 2, 0, 0, 2, 2, 2),
        conv_t_case("cae3.convT 48->24 k4 s2 p1 on 4x4", 48, 24, 4, 2, 1, 0, 2, 4, 4),
        conv_t_case("cae3.convT 12->3 k4 s2 p1 on 16x16", 12, 3, 4, 2, 1, 0, 2, 16, 16),
        conv_t_case("output_padding 3->2 k3 s2 p1 op1 on 4x5", 3, 2, 3, 2, 1, 1, 2, 4, 5),
    ]
    cases += [
        maxpool_case("pool k2 s2 on 16x10x10", 2, 2, 2, 16, 10, 10),
        maxpool_case("pool k2 s1 on 8x3x3", 2, 1, 2, 8, 3, 3),
    ]
    cases += [linear_case("linear 16->1", 16, 1, 3), linear_case("linear 5->3", 5, 3, 2)]
    for member in ["identity", "relu", "elu", "prelu", "sigmoid", "tanh",
                   "p-sig-ramp", "p-tanh-ramp", "p-e-relu", "p-e2-relu", "p-e2-id"]:
        cases.append(activation_case(member))
    cases += [
        lstm_plain_case("lstm 4->5 x1 sigmoid/tanh", 4, 5, 1),
        lstm_plain_case("lstm 3->4 x2 sigmoid/tanh", 3, 4, 2),
        lstm_flex_case("lstm 4->5 x1 p-sig-ramp/p-tanh-ramp", 4, 5, 1),
        lstm_flex_case("lstm 3->4 x2 p-sig-ramp/p-tanh-ramp", 3, 4, 2),
    ]
    cases += [cae_case("cae1", [1, 28, 28], first_pattern=1000), cae_case("cae2", [1, 28, 28], first_pattern=2000),
              cae_case("cae3", [3, 32, 32], first_pattern=3000)]
    cases.append(adam_case())
    return cases


def tensors_of(case):
    """(label, data) for every expected tensor of a case."""
    out = []
    for key in ("output", "grad_input"):
        if key in case:
            out.append((key, case[key]["data"]))
    for k, v in case.get("grad_params", {}).items():
        out.append((f"d/d {k}", v["data"]))
    for i, v in enumerate(case.get("after_steps", [])):
        out.append((f"after step {i + 1}", v["data"]))
    return out


def float32_deviation(c64, c32):
    """max over the case's tensors of max|y32 - y64| / max(max|y64|, tiny): how far float32 moves results."""
    worst, where = 0.0, ""
    for (label, a), (_, b) in zip(tensors_of(c64), tensors_of(c32)):
        a, b = np.array(a), np.array(b)
        scale = max(np.abs(a).max(), 1e-30)
        d = np.abs(a - b).max() / scale
        if d > worst:
            worst, where = d, label
    return worst, where


def main():
    global DT
    cases = build_cases()
    DT = torch.float32
    torch.set_default_dtype(DT)
    cases32 = build_cases()
    DT = torch.float64
    torch.set_default_dtype(DT)
    for c, c32 in zip(cases, cases32):
        dev, where = float32_deviation(c, c32)
        c["float32_torch_deviation"] = {"max_abs_over_tensor_max_abs": dev, "tensor": where}
        print(f'{c["kind"]:>16} {c["name"]:<42} float32 deviation {dev:.2e} ({where})')

    doc = {
        "generator": {
            "script": "Tests/FlexKnownAnswerTests/Reference/reference.py",
            "command": COMMAND,
            "torch": torch.__version__, "numpy": np.__version__, "python": platform.python_version(),
            "dtype": "float64 (inputs/parameters rounded to float32 first)",
            "number_format": "%.9g",
        },
        "cases": cases,
    }
    import os
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "reference.json")
    with open(path, "w") as fh:
        json.dump(doc, fh, separators=(",", ":"))
        fh.write("\n")
    for c in cases:
        if c["kind"] == "lstm" and "min_ramp_kink_distance" in c:
            print(f'{c["name"]}: min distance of a ramp argument from a kink {c["min_ramp_kink_distance"]:.3g}')
        if c["kind"] == "cae":
            print(f'{c["name"]}: loss {c["loss"]}, '
                  f'min pool gap {c["min_pool_gap"]}, min |pre-activation| {c["min_abs_preactivation"]:.3g}')
    print(f"{len(cases)} cases written to reference.json", file=sys.stderr)


if __name__ == "__main__":
    main()
