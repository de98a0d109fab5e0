#!/usr/bin/env python3
"""Checkpoints written outside Swift, for flexctl's HDF5 interoperability test (issue 3).

Writes, next to this script:
  cae2-pe2relu.h5       CAE2 with P-E2-ReLU in the act slots (tanh at the end), image auto-encoder
  lstm-psigramp.h5      LSTM(4→16, 2 layers, gate p-sig-ramp, cell p-tanh-ramp) + Linear(16→1), forecaster
  interop-expected.json fixed inputs, the reference outputs, the fingerprints, the command and versions

    cd Tests/FlexCheckpointTests/Interop && python3 write_checkpoints.py

Only this generation needs Python (numpy, h5py; PyTorch for a cross-check); the Swift test
(Tests/FlexCheckpointTests/InteropTests.swift) reads the committed files, so CI never runs this script.

The files follow docs/checkpoint-format.md, written with h5py's *default* file settings (plain
`h5py.File(path, "w")`: earliest library version, no creation-order tracking, so `/layers/10` lists before
`/layers/2`), strings exactly as h5py writes a Python `str` attribute (scalar variable-length UTF-8),
integers as numpy int64 scalars, datasets float32 (`<f4`, H5T_IEEE_F32LE), uncompressed.

Values are deterministic "counting-range" numbers (as in Tests/FlexKnownAnswerTests/Reference/reference.py),
rounded to float32 before anything is computed. The expected outputs come from an independent float64 numpy
implementation of both forward passes (written from the formulas in docs/activations.md and docs/lstm.md and
PyTorch's layer semantics), evaluated on the parameters *as read back from the .h5 files*. The script
cross-checks it against PyTorch in float64 (torch.nn.functional conv2d / conv_transpose2d / max_pool2d and
a step-by-step torch flexible LSTM; torch.nn.LSTM for the α = 1 special case, which checks gate order and
layouts) and reruns the numpy reference in float32 to show how far float32 rounding alone moves the outputs
(the Swift test allows 1e-5 of each tensor's largest magnitude).
"""
import hashlib
import json
import os
import platform
import struct
import sys

import h5py
import numpy as np

COMMAND = "cd Tests/FlexCheckpointTests/Interop && python3 write_checkpoints.py"
HERE = os.path.dirname(os.path.abspath(__file__))
FLEXCTL_VERSION = "0.1.0"
TOLERANCE = 1e-5  # what the Swift test allows, relative to the tensor's largest magnitude
CAE_GAIN = 0.85 # weight std ≈ CAE_GAIN / sqrt(fan-in)

# --------------------------------------------------------------------------------------------------
# Deterministic values
# --------------------------------------------------------------------------------------------------
_MULTS = [7, 5, 11, 3, 13, 17, 9, 19, 4, 15, 6, 21, 8, 14, 10, 2]
_MODS = [23, 29, 31, 19, 37]
_counter = [0]


def f32(a):
    """Rounds to float32 (the values Swift will hold)."""
    return np.asarray(a, dtype=np.float64).astype(np.float32)


def pattern(shape, amplitude=1.0, offset=0.0):
    """Counting-range tensor in about [-amplitude, amplitude] + offset, float32:
    ((i*m + s) mod p - (p-1)/2) / ((p-1)/2) plus a finer coprime counter ((3i + k) mod 41 - 20)/(64 (p-1)/2)
    over the flattened index i, with multiplier m, modulus p, shift s and k changing from call to call."""
    k = _counter[0]
    _counter[0] += 1
    m, p = _MULTS[k % len(_MULTS)], _MODS[k % len(_MODS)]
    s = (3 * k) % p
    n = int(np.prod(shape))
    i = np.arange(n, dtype=np.int64)
    half = (p - 1) / 2.0
    v = (((i * m + s) % p) - half) / half + (((3 * i + k) % 41) - 20) / (64 * half)
    return f32((v * amplitude + offset).reshape(shape))


def per_unit(units, lo, hi, m):
    """Distinct per-unit values spread over the open interval (lo, hi) in a shuffled order (float32)."""
    u = np.arange(units)
    frac = (((u * m + 3) % units) + 0.5) / units
    return f32(lo + (hi - lo) * frac)


def weight(shape, fan_in, gain=1.0):
    """Counting-range weights with amplitude gain * sqrt(3 / fan_in) (std ≈ gain / sqrt(fan_in))."""
    return pattern(shape, amplitude=gain * np.sqrt(3.0 / fan_in))


# --------------------------------------------------------------------------------------------------
# The two models: architecture JSON, input specification, parameters in format order
# --------------------------------------------------------------------------------------------------
MEMBER_PARAMS = {  # member -> (has alpha [units], has beta [units]); the two used here and the fixed ones
    "tanh": (False, False), "sigmoid": (False, False),
    "p-e2-relu": (True, True), "p-sig-ramp": (True, True), "p-tanh-ramp": (True, True),
}


def cae2_model():
    act = "p-e2-relu"
    arch = [
        {"kind": "Conv2d", "in_channels": 1, "out_channels": 16, "kernel_size": 3, "stride": 3, "padding": 1},
        {"kind": "Activation", "activation": act, "units": 16},
        {"kind": "MaxPool2d", "kernel_size": 2, "stride": 2},
        {"kind": "Conv2d", "in_channels": 16, "out_channels": 8, "kernel_size": 3, "stride": 2, "padding": 1},
        {"kind": "Activation", "activation": act, "units": 8},
        {"kind": "MaxPool2d", "kernel_size": 2, "stride": 1},
        {"kind": "ConvTranspose2d", "in_channels": 8, "out_channels": 16, "kernel_size": 3, "stride": 2,
         "padding": 0, "output_padding": 0},
        {"kind": "Activation", "activation": act, "units": 16},
        {"kind": "ConvTranspose2d", "in_channels": 16, "out_channels": 8, "kernel_size": 5, "stride": 3,
         "padding": 1, "output_padding": 0},
        {"kind": "Activation", "activation": act, "units": 8},
        {"kind": "ConvTranspose2d", "in_channels": 8, "out_channels": 1, "kernel_size": 2, "stride": 2,
         "padding": 1, "output_padding": 0},
        {"kind": "Activation", "activation": "tanh", "units": 1},
    ]
    input_spec = {"kind": "image", "channels": 1, "height": 28, "width": 28,
                  "pixel_scaling": "minus_one_to_one", "encoder_layers": 6}
    params = []  # (layer index, dataset name, float32 array), in the fingerprint's order
    for li, spec in enumerate(arch):
        kind = spec["kind"]
        if kind == "Conv2d":
            ci, co, k = spec["in_channels"], spec["out_channels"], spec["kernel_size"]
            params.append((li, "weight", weight([co, ci, k, k], ci * k * k, gain=CAE_GAIN)))
            params.append((li, "bias", pattern([co], amplitude=0.1)))
        elif kind == "ConvTranspose2d":
            ci, co, k, s = spec["in_channels"], spec["out_channels"], spec["kernel_size"], spec["stride"]
            params.append((li, "weight", weight([ci, co, k, k], ci * k * k / (s * s), gain=CAE_GAIN)))
            params.append((li, "bias", pattern([co], amplitude=0.1)))
        elif kind == "Activation" and spec["activation"] == act:
            u = spec["units"]
            params.append((li, "alpha", per_unit(u, 0.1, 0.9, 5 + li)))   # α ∈ (0, 1), not the default 1
            params.append((li, "beta", per_unit(u, 0.4, 1.8, 3 + li)))    # β > 0, not the default 1
    return arch, input_spec, params


LSTM_FEATURES = ["S&P/ASX 200", "FTSE 100", "KOSPI", "RTSI"]


def lstm_model():
    H, layers, gate, cell = 16, 2, "p-sig-ramp", "p-tanh-ramp"
    arch = [
        {"kind": "LSTM", "input_size": 4, "hidden_size": H, "num_layers": layers, "gate": gate, "cell": cell},
        {"kind": "Linear", "in_features": H, "out_features": 1},
    ]
    input_spec = {
        "kind": "series", "features": LSTM_FEATURES, "targets": ["S&P/ASX 200"], "window": 30, "horizon": 1,
        "transform": "returns",
        # daily simple returns: mean and standard deviation per index over a training split
        "normalization": {"mean": [0.00021, 0.00014, 0.00027, 0.00035],
                          "std": [0.0098, 0.0107, 0.0121, 0.0214]},
    }
    params = []
    amp = 1.0 / np.sqrt(H)  # PyTorch's LSTM init range
    for l in range(layers):
        fan = 4 if l == 0 else H
        params.append((0, f"weight_ih_l{l}", pattern([4 * H, fan], amplitude=2 * amp)))
        params.append((0, f"weight_hh_l{l}", pattern([4 * H, H], amplitude=2 * amp)))
        params.append((0, f"bias_ih_l{l}", pattern([4 * H], amplitude=amp)))
        params.append((0, f"bias_hh_l{l}", pattern([4 * H], amplitude=amp)))
        for j, n in enumerate("ifgoc"):
            # every nonlinearity of every layer has its own α and β; ramp slopes chosen so that about half
            # of the ramps' inputs fall on the linear part and half beyond its ends (printed when run)
            lo_b, hi_b = (0.3, 1.5) if n in "ifo" else (0.6, 2.5)
            params.append((0, f"{n}_alpha_l{l}", per_unit(H, 0.05 + 0.02 * j + 0.03 * l, 0.95 - 0.03 * j, 3 + 2 * j + l)))
            params.append((0, f"{n}_beta_l{l}", per_unit(H, lo_b + 0.01 * l, hi_b - 0.02 * j, 5 + 2 * j + 3 * l)))
    params.append((1, "weight", pattern([1, H], amplitude=0.9)))
    params.append((1, "bias", f32([0.05])))
    return arch, input_spec, params


PROVENANCE = {  # optional group, exercised in the LSTM file only
    "attrs": {
        "dataset": "synthetic (interop test; not trained)",
        "train_size": np.int64(2000), "validation_size": np.int64(400), "test_size": np.int64(400),
        "seed": np.int64(7), "epochs": np.int64(3),
        "optimizer": json.dumps({"name": "adam", "learning_rate": 0.001, "beta1": 0.9, "beta2": 0.999,
                                 "epsilon": 1e-08}, separators=(",", ":")),
        "regularizer": json.dumps({"delta1": 0.001, "delta2": 0.001, "delta3": 0.0001, "margin": 0.05},
                                  separators=(",", ":")),
        "test_loss": np.float64(0.8125),
        "created": "2020-06-01T00:00:00Z",
    },
    "datasets": {"train_loss": [1.0, 0.9, 0.85], "validation_loss": [1.1, 0.95, 0.9]},
}


# --------------------------------------------------------------------------------------------------
# Fingerprint and HDF5 writing (docs/checkpoint-format.md)
# --------------------------------------------------------------------------------------------------
def fingerprint(named):
    """SHA-256 over (dotted name UTF-8, 0x00, rank and dims as <u8, values as <f4) per parameter, in order."""
    h = hashlib.sha256()
    for name, a in named:
        a = np.asarray(a, dtype="<f4")
        h.update(name.encode("utf-8"))
        h.update(b"\x00")
        h.update(struct.pack("<Q", a.ndim))
        for d in a.shape:
            h.update(struct.pack("<Q", d))
        h.update(np.ascontiguousarray(a).tobytes())
    return "sha256:" + h.hexdigest()


def dotted(params):
    return [(f"layers.{li}.{name}", a) for li, name, a in params]


def compact_json(obj):
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def write_checkpoint(path, task, arch, input_spec, params, provenance=None):
    with h5py.File(path, "w") as f:  # h5py's default file format settings
        f.attrs["format"] = "flexctl-checkpoint"
        f.attrs["format_version"] = np.int64(1)
        f.attrs["format_minor_version"] = np.int64(0)
        f.attrs["flexctl_version"] = FLEXCTL_VERSION
        f.attrs["task"] = task
        f.attrs["architecture"] = compact_json(arch)
        f.attrs["input"] = compact_json(input_spec)
        f.attrs["fingerprint"] = fingerprint(dotted(params))
        layers = f.create_group("layers")
        for li, spec in enumerate(arch):
            g = layers.create_group(str(li))
            g.attrs["kind"] = spec["kind"]
        for li, name, a in params:
            assert a.dtype == np.float32
            f["layers"][str(li)].create_dataset(name, data=a)
        if provenance is not None:
            g = f.create_group("provenance")
            for k, v in provenance["attrs"].items():
                g.attrs[k] = v
            for k, v in provenance["datasets"].items():
                g.create_dataset(k, data=np.asarray(v, dtype=np.float64))


def expected_order(arch):
    """(layer index, dataset name) in the format's order, from the architecture alone."""
    out = []
    for li, spec in enumerate(arch):
        kind = spec["kind"]
        if kind in ("Conv2d", "ConvTranspose2d", "Linear"):
            out += [(li, "weight"), (li, "bias")]
        elif kind == "Activation":
            has_a, has_b = MEMBER_PARAMS[spec["activation"]]
            out += [(li, n) for n, has in (("alpha", has_a), ("beta", has_b)) if has]
        elif kind == "LSTM":
            for l in range(spec["num_layers"]):
                out += [(li, f"{n}_l{l}") for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
                for n in "ifgoc":
                    has_a, has_b = MEMBER_PARAMS[spec["gate" if n in "ifo" else "cell"]]
                    out += [(li, f"{n}_{p}_l{l}") for p, has in (("alpha", has_a), ("beta", has_b)) if has]
    return out


def read_back(path):
    """Reads a checkpoint with h5py as an outside tool would, checks the stored fingerprint against one
    recomputed from the file's own datasets, and returns (attrs, architecture, input spec, params)."""
    with h5py.File(path, "r") as f:
        attrs = {k: f.attrs[k] for k in f.attrs}
        for k in ("format", "flexctl_version", "task", "architecture", "input", "fingerprint"):
            assert isinstance(attrs[k], str), (path, k, type(attrs[k]))  # h5py returns str: vlen UTF-8
        assert f.attrs.get_id("format").get_type().get_cset() == h5py.h5t.CSET_UTF8
        arch, spec = json.loads(attrs["architecture"]), json.loads(attrs["input"])
        params = []
        order = expected_order(arch)
        for li, name in order:
            ds = f["layers"][str(li)][name]
            assert ds.dtype == np.dtype("<f4"), (path, li, name, ds.dtype)
            params.append((li, name, ds[()]))
        for li, spec_l in enumerate(arch):  # no extra datasets, kinds match
            g = f["layers"][str(li)]
            assert g.attrs["kind"] == spec_l["kind"]
            assert sorted(g.keys()) == sorted(n for l2, n in order if l2 == li), (path, li, list(g.keys()))
        assert fingerprint(dotted(params)) == attrs["fingerprint"]
    return attrs, arch, spec, params


# --------------------------------------------------------------------------------------------------
# Independent numpy reference (float64 by default; dt=np.float32 only to measure float32 rounding)
# --------------------------------------------------------------------------------------------------
def elu_b(z, beta):
    """elu(z; β) = z if z > 0 else β (e^z − 1)."""
    return np.where(z > 0, z, beta * np.expm1(np.minimum(z, 0)))


def sigmoid(z):
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1 / (1 + e), e / (1 + e))


def member(name, z, alpha, beta):
    """z: [N, U, ...]; alpha, beta: [U], broadcast over the unit axis 1."""
    if name == "tanh":
        return np.tanh(z)
    if name == "sigmoid":
        return sigmoid(z)
    shape = (1, -1) + (1,) * (z.ndim - 2)
    a, b = alpha.reshape(shape), beta.reshape(shape)
    if name == "p-e2-relu":   # α relu(z) + (1−α)(elu(z;β) − elu(−z;β))
        return a * np.maximum(z, 0) + (1 - a) * (elu_b(z, b) - elu_b(-z, b))
    if name == "p-sig-ramp":  # α σ(z) + (1−α) clip(βz + 1/2, 0, 1)
        return a * sigmoid(z) + (1 - a) * np.clip(b * z + 0.5, 0.0, 1.0)
    if name == "p-tanh-ramp":  # α tanh(z) + (1−α) clip(βz, −1, 1)
        return a * np.tanh(z) + (1 - a) * np.clip(b * z, -1.0, 1.0)
    raise ValueError(name)


def np_conv2d(x, w, b, stride, pad):
    """PyTorch Conv2d: y[n,o,i,j] = b[o] + Σ_{c,a,e} xpad[n,c,i·s+a,j·s+e] w[o,c,a,e]."""
    n, c, h, wd = x.shape
    o, _, k, _ = w.shape
    xp = np.zeros((n, c, h + 2 * pad, wd + 2 * pad), dtype=x.dtype)
    xp[:, :, pad:pad + h, pad:pad + wd] = x
    ho, wo = (h + 2 * pad - k) // stride + 1, (wd + 2 * pad - k) // stride + 1
    y = np.zeros((n, o, ho, wo), dtype=x.dtype)
    for a in range(k):
        for e in range(k):
            patch = xp[:, :, a:a + stride * (ho - 1) + 1:stride, e:e + stride * (wo - 1) + 1:stride]
            y += np.einsum("nchw,oc->nohw", patch, w[:, :, a, e])
    return y + b.reshape(1, -1, 1, 1)


def np_conv_transpose2d(x, w, b, stride, pad, out_pad):
    """PyTorch ConvTranspose2d (weight [in, out, k, k]): each input pixel (i, j) adds x·w[c,o,a,e] at
    (i·s + a − pad, j·s + e − pad); output size (h−1)·s − 2·pad + k + output_padding."""
    n, c, h, wd = x.shape
    _, o, k, _ = w.shape
    full_h, full_w = (h - 1) * stride + k + out_pad, (wd - 1) * stride + k + out_pad
    full = np.zeros((n, o, full_h, full_w), dtype=x.dtype)
    for a in range(k):
        for e in range(k):
            full[:, :, a:a + stride * (h - 1) + 1:stride, e:e + stride * (wd - 1) + 1:stride] += \
                np.einsum("nchw,co->nohw", x, w[:, :, a, e])
    ho, wo = full_h - 2 * pad, full_w - 2 * pad
    return full[:, :, pad:pad + ho, pad:pad + wo] + b.reshape(1, -1, 1, 1)


def np_maxpool2d(x, k, stride):
    n, c, h, wd = x.shape
    ho, wo = (h - k) // stride + 1, (wd - k) // stride + 1
    y = np.full((n, c, ho, wo), -np.inf, dtype=x.dtype)
    for a in range(k):
        for e in range(k):
            y = np.maximum(y, x[:, :, a:a + stride * (ho - 1) + 1:stride, e:e + stride * (wo - 1) + 1:stride])
    return y


def np_lstm(x, P, spec):
    """Batch-first LSTM with flexible gates (docs/lstm.md); returns the top layer's last hidden state."""
    H, gate, cell = spec["hidden_size"], spec["gate"], spec["cell"]
    seq = x
    n, T, _ = x.shape
    for l in range(spec["num_layers"]):
        g = lambda name: P.get(f"{name}_l{l}")
        h = np.zeros((n, H), dtype=x.dtype)
        c = np.zeros((n, H), dtype=x.dtype)
        outs = []
        for t in range(T):
            z = seq[:, t, :] @ g("weight_ih").T + g("bias_ih") + h @ g("weight_hh").T + g("bias_hh")
            zi, zf, zg, zo = (z[:, q * H:(q + 1) * H] for q in range(4))  # PyTorch order i, f, g, o
            i = member(gate, zi, g("i_alpha"), g("i_beta"))
            f = member(gate, zf, g("f_alpha"), g("f_beta"))
            gg = member(cell, zg, g("g_alpha"), g("g_beta"))
            o = member(gate, zo, g("o_alpha"), g("o_beta"))
            c = f * c + i * gg
            h = o * member(cell, c, g("c_alpha"), g("c_beta"))
            outs.append(h)
        seq = np.stack(outs, axis=1)
    return h


def np_forward(arch, params, x, upto=None, dt=np.float64):
    """Runs layers [0, upto) of the model on x with every value in dtype dt."""
    by_layer = {}
    for li, name, a in params:
        by_layer.setdefault(li, {})[name] = a.astype(dt)
    y = x.astype(dt)
    for li, spec in enumerate(arch[:upto]):
        P = by_layer.get(li, {})
        kind = spec["kind"]
        if kind == "Conv2d":
            y = np_conv2d(y, P["weight"], P["bias"], spec["stride"], spec["padding"])
        elif kind == "ConvTranspose2d":
            y = np_conv_transpose2d(y, P["weight"], P["bias"], spec["stride"], spec["padding"],
                                    spec["output_padding"])
        elif kind == "MaxPool2d":
            y = np_maxpool2d(y, spec["kernel_size"], spec["stride"])
        elif kind == "Activation":
            y = member(spec["activation"], y, P.get("alpha"), P.get("beta"))
        elif kind == "Linear":
            y = y @ P["weight"].T + P["bias"]
        elif kind == "LSTM":
            y = np_lstm(y, P, spec)
        else:
            raise ValueError(kind)
        assert y.dtype == dt
    return y


# --------------------------------------------------------------------------------------------------
# Cross-check with PyTorch (float64)
# --------------------------------------------------------------------------------------------------
def torch_forward(arch, params, x, upto=None, plain_lstm=False):
    """The same model through torch.nn.functional (convolutions, pooling, linear) and a step-by-step torch
    LSTM; with plain_lstm, the LSTM is torch.nn.LSTM (only valid when every α is 1)."""
    import torch
    import torch.nn.functional as F
    T = lambda a: torch.tensor(np.asarray(a, dtype=np.float64))

    def tmember(name, z, a, b):
        if name == "tanh":
            return torch.tanh(z)
        a, b = a.view(1, -1, *([1] * (z.dim() - 2))), b.view(1, -1, *([1] * (z.dim() - 2)))
        if name == "p-e2-relu":
            return a * F.relu(z) + (1 - a) * (F.elu(z) * torch.where(z > 0, 1, b) - F.elu(-z) * torch.where(z < 0, 1, b))
        if name == "p-sig-ramp":
            return a * torch.sigmoid(z) + (1 - a) * F.hardtanh(b * z + 0.5, 0.0, 1.0)
        if name == "p-tanh-ramp":
            return a * torch.tanh(z) + (1 - a) * F.hardtanh(b * z, -1.0, 1.0)
        raise ValueError(name)

    by_layer = {}
    for li, name, a in params:
        by_layer.setdefault(li, {})[name] = T(a)
    y = T(x)
    with torch.no_grad():
        for li, spec in enumerate(arch[:upto]):
            P = by_layer.get(li, {})
            kind = spec["kind"]
            if kind == "Conv2d":
                y = F.conv2d(y, P["weight"], P["bias"], stride=spec["stride"], padding=spec["padding"])
            elif kind == "ConvTranspose2d":
                y = F.conv_transpose2d(y, P["weight"], P["bias"], stride=spec["stride"], padding=spec["padding"],
                                       output_padding=spec["output_padding"])
            elif kind == "MaxPool2d":
                y = F.max_pool2d(y, spec["kernel_size"], spec["stride"])
            elif kind == "Activation":
                y = tmember(spec["activation"], y, P.get("alpha"), P.get("beta"))
            elif kind == "Linear":
                y = F.linear(y, P["weight"], P["bias"])
            elif kind == "LSTM" and plain_lstm:
                m = torch.nn.LSTM(spec["input_size"], spec["hidden_size"], spec["num_layers"], batch_first=True,
                                  dtype=torch.float64)
                for name, p in m.named_parameters():
                    p.copy_(P[name])
                y = m(y)[0][:, -1, :]
            elif kind == "LSTM":
                H = spec["hidden_size"]
                for l in range(spec["num_layers"]):
                    p = lambda n: P.get(f"{n}_l{l}")
                    h = torch.zeros(y.shape[0], H, dtype=torch.float64)
                    c = torch.zeros_like(h)
                    hs = []
                    for t in range(y.shape[1]):
                        z = F.linear(y[:, t], p("weight_ih"), p("bias_ih")) + F.linear(h, p("weight_hh"), p("bias_hh"))
                        zi, zf, zg, zo = z.chunk(4, dim=1)
                        i = tmember(spec["gate"], zi, p("i_alpha"), p("i_beta"))
                        f = tmember(spec["gate"], zf, p("f_alpha"), p("f_beta"))
                        g = tmember(spec["cell"], zg, p("g_alpha"), p("g_beta"))
                        o = tmember(spec["gate"], zo, p("o_alpha"), p("o_beta"))
                        c = f * c + i * g
                        h = o * tmember(spec["cell"], c, p("c_alpha"), p("c_beta"))
                        hs.append(h)
                    y = torch.stack(hs, dim=1)
                y = h
            else:
                raise ValueError(kind)
    return y.numpy()


def rel_err(a, b):
    """max |a − b| / max |b|, the Swift test's measure."""
    return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))


# --------------------------------------------------------------------------------------------------
# Inputs, cases, output
# --------------------------------------------------------------------------------------------------
def image_inputs():
    """Batch 3 of 1×28×28 images: counting-range 8-bit pixels p mapped as minus_one_to_one, x = p/127.5 − 1."""
    imgs = []
    for n, (m, s) in enumerate([(37, 11), (53, 200), (91, 77)]):
        r, c = np.meshgrid(np.arange(28), np.arange(28), indexing="ij")
        p = (m * (r * 28 + c) + s + 5 * ((r * c) % 13)) % 256
        imgs.append(p / 127.5 - 1.0)
    return f32(np.stack(imgs)[:, None, :, :])


def series_inputs():
    """[3, 30, 4] normalised returns, counting-range values in about [−2.5, 2.5]."""
    return pattern([3, 30, 4], amplitude=2.5, offset=0.05)


def provenance_json(provenance):
    """The provenance as one JSON object (the JSON-string attributes parsed), or None."""
    if provenance is None:
        return None
    out = {}
    for k, v in provenance["attrs"].items():
        if k in ("optimizer", "regularizer"):
            out[k] = json.loads(v)
        elif isinstance(v, str):
            out[k] = v
        elif isinstance(v, np.integer):
            out[k] = int(v)
        else:
            out[k] = float(v)
    out.update({k: [float(x) for x in v] for k, v in provenance["datasets"].items()})
    return out


def enc_f32(a):
    """Float32 values, shortest round-trip decimal (exact)."""
    a = np.asarray(a, dtype=np.float32)
    return {"shape": list(a.shape),
            "data": [float(np.format_float_positional(v, unique=True, trim="-")) for v in a.reshape(-1)]}


def enc_f64(a):
    a = np.asarray(a, dtype=np.float64)
    return {"shape": list(a.shape), "data": [float("%.9g" % v) for v in a.reshape(-1)]}


def case(file, task, arch, input_spec, params, x, intermediate_layers, intermediate_name, provenance=None):
    path = os.path.join(HERE, file)
    write_checkpoint(path, task, arch, input_spec, params, provenance)
    attrs, arch_r, spec_r, params_r = read_back(path)  # everything below uses the file's contents
    assert arch_r == arch and spec_r == input_spec and attrs["task"] == task
    for (l1, n1, a1), (l2, n2, a2) in zip(params, params_r):
        assert (l1, n1) == (l2, n2) and np.array_equal(a1, a2)

    y = np_forward(arch_r, params_r, x)
    mid = np_forward(arch_r, params_r, x, upto=intermediate_layers)
    # cross-check against PyTorch (independent code: torch.nn.functional layers, torch activations)
    ty = torch_forward(arch_r, params_r, x)
    tmid = torch_forward(arch_r, params_r, x, upto=intermediate_layers)
    cross = max(rel_err(ty, y), rel_err(tmid, mid))
    assert cross < 1e-12, f"{file}: numpy and torch references differ by {cross}"
    # float32 rounding alone (the same numpy code in float32): what an exact float32 engine could differ by
    f32_dev = max(rel_err(np_forward(arch_r, params_r, x, dt=np.float32), y),
                  rel_err(np_forward(arch_r, params_r, x, upto=intermediate_layers, dt=np.float32), mid))
    assert f32_dev < TOLERANCE / 10, f"{file}: float32 rounding moves the outputs by {f32_dev}"
    print(f"{file}: {os.path.getsize(path)} bytes, {sum(a.size for _, _, a in params)} parameters, "
          f"{attrs['fingerprint']}\n  output {list(y.shape)} range [{y.min():.4f}, {y.max():.4f}], "
          f"{intermediate_name} {list(mid.shape)} range [{mid.min():.4f}, {mid.max():.4f}]; "
          f"numpy vs torch {cross:.1e}, float32 rounding {f32_dev:.1e}")
    return {
        "file": file,
        "task": task,
        "flexctl_version": attrs["flexctl_version"],
        "architecture": arch,
        "input_spec": input_spec,
        "fingerprint": attrs["fingerprint"],
        "parameter_names": [n for n, _ in dotted(params_r)],
        "parameter_count": int(sum(a.size for _, _, a in params_r)),
        "provenance": provenance_json(provenance),
        "input": enc_f32(x),
        "output": enc_f64(y),
        "intermediate": {"name": intermediate_name, "layers": intermediate_layers, "output": enc_f64(mid)},
        "numpy_vs_torch": cross,
        "float32_rounding": f32_dev,
    }


def pre_activation_report(arch, params, x):
    """Fraction of each ramp's inputs on its linear part (|βz| < 1/2 for the gates' clip(βz + 1/2, 0, 1),
    |βz| < 1 for clip(βz, −1, 1)), so that both regimes of the ramps are exercised."""
    P = {n: a.astype(np.float64) for li, n, a in params if li == 0}
    spec = arch[0]
    H = spec["hidden_size"]
    inside = {n: [] for n in "ifgoc"}
    seq = x.astype(np.float64)
    for l in range(spec["num_layers"]):
        p = lambda name: P[f"{name}_l{l}"]
        h = np.zeros((x.shape[0], H))
        c = np.zeros_like(h)
        outs = []
        for t in range(x.shape[1]):
            z = seq[:, t] @ p("weight_ih").T + p("bias_ih") + h @ p("weight_hh").T + p("bias_hh")
            a = {}
            for q, n in enumerate("ifgo"):
                zn = z[:, q * H:(q + 1) * H]
                inside[n].append(np.abs(p(f"{n}_beta") * zn) < (0.5 if n != "g" else 1.0))
                a[n] = member(spec["gate"] if n != "g" else spec["cell"], zn, p(f"{n}_alpha"), p(f"{n}_beta"))
            c = a["f"] * c + a["i"] * a["g"]
            inside["c"].append(np.abs(p("c_beta") * c) < 1.0)
            h = a["o"] * member(spec["cell"], c, p("c_alpha"), p("c_beta"))
            outs.append(h)
        seq = np.stack(outs, axis=1)
    return {n: float(np.mean(v)) for n, v in inside.items()}


def main():
    import torch
    np.seterr(over="raise", invalid="raise")
    arch, spec, params = cae2_model()
    cae = case("cae2-pe2relu.h5", "image-autoencoder", arch, spec, params, image_inputs(),
               spec["encoder_layers"], "code")
    arch, spec, params = lstm_model()
    x = series_inputs()
    lstm = case("lstm-psigramp.h5", "forecaster", arch, spec, params, x, 1, "hidden", provenance=PROVENANCE)
    print("  LSTM ramp pre-activations on the linear part:",
          {k: round(v, 2) for k, v in pre_activation_report(arch, params, x).items()})
    # layouts and gate order against torch.nn.LSTM: with every α = 1 the flexible LSTM is the plain one
    ones = [(li, n, np.ones_like(a) if "_alpha_" in n else a) for li, n, a in params]
    plain = rel_err(np_forward(arch, ones, x), torch_forward(arch, ones, x, plain_lstm=True))
    assert plain < 1e-12, f"numpy LSTM with α = 1 differs from torch.nn.LSTM by {plain}"
    print(f"  numpy LSTM (α = 1) vs torch.nn.LSTM: {plain:.1e}")

    out = {
        "generator": {
            "command": COMMAND,
            "python": platform.python_version(),
            "numpy": np.__version__,
            "h5py": h5py.version.version,
            "hdf5": h5py.version.hdf5_version,
            "torch": torch.__version__,
        },
        "tolerance": TOLERANCE,
        "note": ("inputs are float32 values (exact); outputs are the float64 numpy reference on the parameters "
                 "read back from each file (9 significant digits). Forecaster inputs are already transformed "
                 "and normalised (the model's own input); outputs are normalised predictions."),
        "checkpoints": [cae, lstm],
    }
    with open(os.path.join(HERE, "interop-expected.json"), "w") as f:
        json.dump(out, f, separators=(",", ":"), ensure_ascii=False)
        f.write("\n")
    print(f"interop-expected.json: {os.path.getsize(os.path.join(HERE, 'interop-expected.json'))} bytes")


if __name__ == "__main__":
    sys.exit(main())
