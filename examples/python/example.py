#!/usr/bin/env python3
"""The flexctl C API from Python with ctypes (docs/c-api.md): describe a model, compress and decompress raw
pixels, forecast from prices. Standard library only.

Usage (from the repository root, after `swift build --product flexctl_c_shared`):
    python3 examples/python/example.py [.build/debug/libflexctl_c_shared.so]
"""
import ctypes, json, math, sys

LIB = sys.argv[1] if len(sys.argv) > 1 else ".build/debug/libflexctl_c_shared.so"
lib = ctypes.CDLL(LIB)

c_size_p = ctypes.POINTER(ctypes.c_size_t)
c_char_pp = ctypes.POINTER(ctypes.c_char_p)
c_void_p = ctypes.c_void_p
err_p = ctypes.POINTER(c_void_p)  # char **error_message, read as a raw pointer so that we can free it

lib.flexctl_version.restype = ctypes.c_char_p
lib.flexctl_status_name.restype = ctypes.c_char_p
lib.flexctl_status_name.argtypes = [ctypes.c_int]
lib.flexctl_free.argtypes = [c_void_p]
lib.flexctl_model_open.argtypes = [ctypes.c_char_p, ctypes.c_int, ctypes.POINTER(c_void_p), err_p]
lib.flexctl_model_open_memory.argtypes = [c_void_p, ctypes.c_size_t, ctypes.c_char_p, ctypes.c_int,
                                          ctypes.POINTER(c_void_p), err_p]
lib.flexctl_model_close.argtypes = [c_void_p]
lib.flexctl_model_describe.argtypes = [c_void_p, ctypes.POINTER(c_void_p), err_p]
lib.flexctl_model_series_info.argtypes = [c_void_p, c_size_p, c_size_p, c_size_p, c_size_p, err_p]
lib.flexctl_compress.argtypes = [c_void_p, c_void_p, ctypes.c_size_t, ctypes.c_size_t, ctypes.c_size_t,
                                 ctypes.c_size_t, ctypes.c_int, ctypes.POINTER(c_void_p), c_size_p, err_p]
lib.flexctl_decompress.argtypes = [c_void_p, c_void_p, ctypes.c_size_t, ctypes.POINTER(c_void_p), c_size_p,
                                   c_size_p, c_size_p, err_p]
lib.flexctl_forecast.argtypes = [c_void_p, ctypes.POINTER(ctypes.c_double), ctypes.c_size_t, ctypes.c_size_t,
                                 ctypes.c_int, ctypes.c_size_t, ctypes.POINTER(c_void_p), ctypes.POINTER(c_void_p),
                                 c_size_p, err_p]


class FlexctlError(Exception):
    def __init__(self, status, message):
        super().__init__(f"{lib.flexctl_status_name(status).decode()}: {message}")
        self.status = status


def check(status, error):
    """Raises FlexctlError for a failed call (the message is copied, then freed with flexctl_free)."""
    if status != 0:
        message = ctypes.string_at(error.value).decode() if error.value else ""
        lib.flexctl_free(error)
        raise FlexctlError(status, message)


def take_bytes(pointer, size):
    data = ctypes.string_at(pointer.value, size)
    lib.flexctl_free(pointer)
    return data


class Model:
    def __init__(self, path=None, data=None, threads=0):
        self.handle = c_void_p()
        error = c_void_p()
        if data is not None:
            buf = ctypes.create_string_buffer(data, len(data))
            check(lib.flexctl_model_open_memory(buf, len(data), b"<python bytes>", threads,
                                                ctypes.byref(self.handle), ctypes.byref(error)), error)
        else:
            check(lib.flexctl_model_open(path.encode(), threads, ctypes.byref(self.handle), ctypes.byref(error)),
                  error)

    def close(self):
        lib.flexctl_model_close(self.handle)
        self.handle = c_void_p()

    def describe(self):
        out, error = c_void_p(), c_void_p()
        check(lib.flexctl_model_describe(self.handle, ctypes.byref(out), ctypes.byref(error)), error)
        text = ctypes.string_at(out.value).decode()
        lib.flexctl_free(out)
        return json.loads(text)

    def compress(self, pixels, width, height, channels, bits=8):
        out, size, error = c_void_p(), ctypes.c_size_t(), c_void_p()
        buf = ctypes.create_string_buffer(bytes(pixels), len(pixels))
        check(lib.flexctl_compress(self.handle, buf, width, height, channels, width * channels, bits,
                                   ctypes.byref(out), ctypes.byref(size), ctypes.byref(error)), error)
        return take_bytes(out, size.value)

    def decompress(self, data):
        out, error = c_void_p(), c_void_p()
        w, h, c = ctypes.c_size_t(), ctypes.c_size_t(), ctypes.c_size_t()
        buf = ctypes.create_string_buffer(data, len(data))
        check(lib.flexctl_decompress(self.handle, buf, len(data), ctypes.byref(out), ctypes.byref(w),
                                     ctypes.byref(h), ctypes.byref(c), ctypes.byref(error)), error)
        return take_bytes(out, w.value * h.value * c.value), w.value, h.value, c.value

    def forecast(self, rows, steps=1):
        """rows: a list of rows (oldest first), each the prices of the model's features in order."""
        series = len(rows[0])
        flat = (ctypes.c_double * (len(rows) * series))(*[v for r in rows for v in r])
        values, levels, targets, error = c_void_p(), c_void_p(), ctypes.c_size_t(), c_void_p()
        check(lib.flexctl_forecast(self.handle, flat, len(rows), series, 0, steps, ctypes.byref(values),
                                   ctypes.byref(levels), ctypes.byref(targets), ctypes.byref(error)), error)
        n = steps * targets.value
        v = list(ctypes.cast(values.value, ctypes.POINTER(ctypes.c_double))[:n])
        l = list(ctypes.cast(levels.value, ctypes.POINTER(ctypes.c_double))[:n])
        lib.flexctl_free(values)
        lib.flexctl_free(levels)
        return v, l


print(f"flexctl {lib.flexctl_version().decode()}")

# An image model, opened from memory; a synthetic 40x30 gray gradient (not a multiple of the 28x28 tiles).
with open("models/cae2-p-e2-relu-fashion-mnist.h5", "rb") as f:
    cae = Model(data=f.read())
info = cae.describe()
# The description is the document `flexctl inspect --format json` prints (docs/cli.md, "JSON output").
assert info["kind"] == "checkpoint" and info["schema_version"] == 1, (info["kind"], info["schema_version"])
print(f"describe: task {info['task']}, input {info['input_shape']}, code {info['input']['code_shape']}, "
      f"{len(info['activations'])} activation slot(s), {info['total_parameters']} parameters, {info['fingerprint']}")
width, height = 40, 30
pixels = bytes((x * 6 + y * 2) % 256 for y in range(height) for x in range(width))
flexz = cae.compress(pixels, width, height, 1)
decoded, w, h, c = cae.decompress(flexz)
assert (w, h, c) == (width, height, 1), (w, h, c)
mse = sum((a - b) ** 2 for a, b in zip(pixels, decoded)) / len(pixels)
print(f"image: {width}x{height} gray -> {len(flexz)} bytes .flexz, PSNR {10 * math.log10(255 ** 2 / mse):.2f} dB")

# Errors are exceptions with the library's status and message.
try:
    cae.decompress(flexz[: len(flexz) // 2])
except FlexctlError as e:
    print(f"truncated .flexz refused: {e}")
else:
    sys.exit("a truncated .flexz was accepted")
cae.close()

# The forecaster, with the prices of examples/data/four-indices.csv.
lstm = Model(path="models/lstm-p-sig-ramp-4-indices.h5", threads=1)
spec = lstm.describe()["input"]  # kind "series": features, targets, window, horizon, transform, normalization
features, targets = spec["features"], spec["targets"]
with open("examples/data/four-indices.csv") as f:
    header = f.readline().rstrip("\n").split(",")
    assert header[1:] == features, (header, features)
    rows = [[float(v) for v in line.split(",")[1:]] for line in f if line.strip()]
values, levels = lstm.forecast(rows)
for name, v, l in zip(targets, values, levels):
    print(f"forecast {name}: return {v:.17g} level {l:.17g}")
lstm.close()
