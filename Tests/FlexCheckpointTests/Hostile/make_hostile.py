#!/usr/bin/env python3
"""Crafts hostile checkpoints from a shipped one, the way an attacker would (issue 10).

Run by the test author (needs h5py and numpy; CI does not): the files it writes here are committed, and
HostileCheckpointTests expects each to be refused with one clear message, without reading any other file,
crashing, hanging or allocating without bound.

    python3 Tests/FlexCheckpointTests/Hostile/make_hostile.py
"""
import json
import os
import shutil
import sys

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
BASE = os.path.join(ROOT, "models", "cae2-p-e2-relu-fashion-mnist.h5")
FIFO = "/tmp/flexctl-hostile.fifo"


def fresh(name):
    path = os.path.join(HERE, name)
    shutil.copyfile(BASE, path)
    return h5py.File(path, "r+")


def replace_dataset(f, path, **kwargs):
    old = f[path]
    shape, dtype = old.shape, old.dtype
    del f[path]
    return f.create_dataset(path, shape=shape, dtype=kwargs.pop("dtype", dtype), **kwargs)


made = []


def case(name):
    def wrap(fn):
        f = fresh(name)
        try:
            fn(f)
        finally:
            f.close()
        made.append(name)
        return fn
    return wrap


# The alpha of layer 1 kept in other files (HDF5 external storage).
@case("external-etc-passwd.h5")
def _(f):
    replace_dataset(f, "layers/1/alpha", external=[("/etc/passwd", 0, 64)])


@case("external-relative.h5")
def _(f):
    replace_dataset(f, "layers/1/alpha", external=[("../../../../../../../../etc/passwd", 0, 64)])


@case("external-proc-environ.h5")
def _(f):
    replace_dataset(f, "layers/1/alpha", external=[("/proc/self/environ", 0, 64)])


@case("external-fifo.h5")
def _(f):
    replace_dataset(f, "layers/1/alpha", external=[(FIFO, 0, 64)])


# Links and virtual datasets into another file, and a soft link.
shutil.copyfile(BASE, os.path.join(HERE, "other.h5"))


@case("external-link.h5")
def _(f):
    del f["layers/1"]
    f["layers/1"] = h5py.ExternalLink("other.h5", "/layers/1")


@case("soft-link.h5")
def _(f):
    del f["layers/1"]
    f["layers/1"] = h5py.SoftLink("/layers/0")


@case("virtual-dataset.h5")
def _(f):
    shape = f["layers/1/alpha"].shape
    del f["layers/1/alpha"]
    layout = h5py.VirtualLayout(shape=shape, dtype="f4")
    layout[:] = h5py.VirtualSource("other.h5", "layers/1/alpha", shape=shape)
    f["layers/1"].create_virtual_dataset("alpha", layout)


@case("hard-link-loop.h5")
def _(f):
    f["layers/0/loop"] = f["/"]


@case("named-datatype.h5")
def _(f):
    f["layers/0/type"] = np.dtype("f4")


# Sizes: declared but never written, overflowing, beyond the limits.
@case("provenance-2e40.h5")
def _(f):
    del f["provenance/train_loss"]
    f["provenance"].create_dataset("train_loss", shape=(2**40,), dtype="f8")


@case("provenance-2e32-squared.h5")
def _(f):
    del f["provenance/train_loss"]
    f["provenance"].create_dataset("train_loss", shape=(2**32, 2**32), dtype="f8", chunks=(1, 1024))


@case("provenance-2e26-unwritten.h5")
def _(f):
    del f["provenance/train_loss"]
    f["provenance"].create_dataset("train_loss", shape=(2**26,), dtype="f8", chunks=(2**16,))


@case("huge-chunk.h5")
def _(f):
    del f["provenance/train_loss"]
    # A chunk of 2^28 values over a 4-value dataset (never written: a written chunk would be 2 GB here too).
    f["provenance"].create_dataset("train_loss", shape=(4,), maxshape=(None,), dtype="f8", chunks=(2**28,))


def edit_json(f, attr, fn):
    value = json.loads(f.attrs[attr])
    fn(value)
    f.attrs[attr] = json.dumps(value, separators=(",", ":"))


@case("input-112000.h5")
def _(f):
    edit_json(f, "input", lambda v: v.update(height=112000, width=112000))


@case("out-channels-2e40.h5")
def _(f):
    edit_json(f, "architecture", lambda v: v[0].update(out_channels=2**40))


@case("out-channels-2e62.h5")
def _(f):
    edit_json(f, "architecture", lambda v: v[0].update(out_channels=2**62))


# Within every size limit, but hours of work or gigabytes of scratch memory per sample.
@case("conv-compute-bomb.h5")
def _(f):
    edit_json(f, "input", lambda v: v.update(height=2048, width=2048))
    edit_json(f, "architecture", lambda v: v[0].update(kernel_size=63, padding=31))


@case("operations-bomb.h5")
def _(f):
    # 250 modest convolutions: each within the scratch limit, all outputs within the activation limit, together
    # 8.5e10 multiply-adds per sample.
    def conv(i, o):
        return {"kind": "Conv2d", "in_channels": i, "out_channels": o, "kernel_size": 9, "stride": 1, "padding": 4}
    edit_json(f, "input", lambda v: v.update(height=128, width=128, encoder_layers=100))
    f.attrs["architecture"] = json.dumps([conv(1, 16)] + [conv(16, 16)] * 248 + [conv(16, 1)], separators=(",", ":"))


@case("activations-bomb.h5")
def _(f):
    # 62 layers, each output within the per-layer limit (8×2048×2048), together 2 billion values per sample.
    pool = {"kind": "MaxPool2d", "kernel_size": 1, "stride": 1}
    conv1 = {"kind": "Conv2d", "in_channels": 1, "out_channels": 8, "kernel_size": 1, "stride": 1, "padding": 0}
    conv2 = {"kind": "Conv2d", "in_channels": 8, "out_channels": 1, "kernel_size": 1, "stride": 1, "padding": 0}
    edit_json(f, "input", lambda v: v.update(height=2048, width=2048, encoder_layers=30))
    f.attrs["architecture"] = json.dumps([conv1] + [pool] * 60 + [conv2], separators=(",", ":"))


LSTM_BASE = os.path.join(ROOT, "models", "lstm-p-sig-ramp-4-indices.h5")


def lstm_case(name, fn):
    path = os.path.join(HERE, name)
    shutil.copyfile(LSTM_BASE, path)
    with h5py.File(path, "r+") as f:
        fn(f)
    made.append(name)


def lstm_bomb(f):
    edit_json(f, "input", lambda v: v.update(window=10000))
    edit_json(f, "architecture", lambda v: v[0].update(hidden_size=2048))


lstm_case("lstm-compute-bomb.h5", lstm_bomb)


@case("control-characters.h5")
def _(f):
    # Terminal escapes and a line break that would fake a line of output.
    f.attrs["task"] = "\x1b[2J\x1b[31mPWNED\nmodels/x.h5: all good"


@case("huge-string.h5")
def _(f):
    f.attrs["flexctl_version"] = "x" * (5 << 20)


@case("many-attributes.h5")
def _(f):
    for i in range(100):
        f["layers/0"].attrs[f"a{i}"] = i


@case("deep-groups.h5")
def _(f):
    g = f["provenance"]
    for i in range(10):
        g = g.create_group(f"g{i}")


# Types and filters the format does not have.
@case("compound-alpha.h5")
def _(f):
    shape = f["layers/1/alpha"].shape
    del f["layers/1/alpha"]
    f["layers/1"].create_dataset("alpha", shape=shape, dtype=[("a", "f4"), ("b", "f4")])


@case("fletcher32-alpha.h5")
def _(f):
    data = f["layers/1/alpha"][...]
    del f["layers/1/alpha"]
    f["layers/1"].create_dataset("alpha", data=data, fletcher32=True)


@case("non-ieee-float.h5")
def _(f):
    data = f["layers/1/alpha"][...]
    del f["layers/1/alpha"]
    t = h5py.h5t.IEEE_F32LE.copy()
    t.set_ebias(100)
    space = h5py.h5s.create_simple(data.shape)
    d = h5py.h5d.create(f["layers/1"].id, b"alpha", t, space)
    d.write(h5py.h5s.ALL, h5py.h5s.ALL, data.astype("f4"), mtype=h5py.h5t.IEEE_F32LE)


# Truncated: the first half of the file.
with open(BASE, "rb") as src:
    data = src.read()
with open(os.path.join(HERE, "truncated.h5"), "wb") as out:
    out.write(data[: len(data) // 2])
made.append("truncated.h5")

print("\n".join(made))
