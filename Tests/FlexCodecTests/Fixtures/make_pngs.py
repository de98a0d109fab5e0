#!/usr/bin/env python3
"""Writes one small PNG per flavour that flexctl's image reader must handle, plus expected.json with the
8-bit pixels each one must decode to (Python standard library only; run from this folder).

Every image is 13x7 (odd sizes exercise Adam7's partial passes). Expected 8-bit values: sub-8-bit gray is
expanded by bit replication (PNG spec), 16-bit samples v become round(v / 257), palette indices become their
RGB(A) entries, a tRNS colour key becomes an alpha channel (0 for the key, the maximum elsewhere), alpha is kept
(the codec drops it later).

Colour metadata (gAMA 1.0, 0.5, 2.0 and 0.45455, sRGB, iCCP, cHRM, as ImageMagick, GIMP and raw converters
write them) must not change any sample: those files expect exactly the samples stored. For 16-bit files
expected.json also lists the stored 16-bit samples ("stored", after the same expansions), compared exactly.
"""
import json
import struct
import zlib

W, H = 13, 7


def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def scanlines(rows, bits, channels, width):
    """Packs sample rows (lists of ints) into filtered (filter 0) scanlines."""
    out = b""
    for row in rows:
        if bits == 16:
            out += b"\x00" + b"".join(struct.pack(">H", v) for v in row)
        elif bits == 8:
            out += b"\x00" + bytes(row)
        else:
            acc, n, line = 0, 0, bytearray()
            for v in row:
                acc = (acc << bits) | v
                n += bits
                if n == 8:
                    line.append(acc)
                    acc, n = 0, 0
            if n:
                line.append(acc << (8 - n))
            out += b"\x00" + bytes(line)
    return out


ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]


def png(path, samples, bits, color_type, channels, palette=None, trns=None, interlace=False, extra=(), size=(W, H)):
    """samples: H rows of W*channels ints (or size = (width, height), not interlaced); extra: (kind, data)
    chunks written before PLTE and IDAT."""
    raw = b""
    if interlace:
        for x0, y0, dx, dy in ADAM7:
            xs = list(range(x0, W, dx))
            ys = list(range(y0, H, dy))
            if not xs or not ys:
                continue
            rows = [[samples[y][x * channels + k] for x in xs for k in range(channels)] for y in ys]
            raw += scanlines(rows, bits, channels, len(xs))
    else:
        raw = scanlines(samples, bits, channels, W)
    data = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", *size, bits, color_type, 0, 0, 1 if interlace else 0))
    for kind, payload in extra:
        data += chunk(kind, payload)
    if palette:
        data += chunk(b"PLTE", b"".join(bytes(p) for p in palette))
    if trns is not None:
        data += chunk(b"tRNS", trns)
    data += chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")
    open(path, "wb").write(data)


def gama(gamma):
    """A gAMA chunk for file gamma `gamma` (1.0 linear, 0.45455 the usual 1/2.2, 0.5, 2.0)."""
    return (b"gAMA", struct.pack(">I", round(gamma * 100000)))


SRGB = (b"sRGB", b"\x00")  # perceptual intent
CHRM_SRGB = (b"cHRM", struct.pack(">8I", 31270, 32900, 64000, 33000, 30000, 60000, 15000, 6000))
CHRM_ADOBE = (b"cHRM", struct.pack(">8I", 31270, 32900, 64000, 33000, 21000, 71000, 15000, 6000))


def iccp(space):
    """An iCCP chunk holding a minimal ICC v2 display profile header for colour space b"RGB " or b"GRAY"."""
    header = struct.pack(">I4sI4s4s4s6H4s4sI4s4sQI", 132, b"none", 0x02100000, b"mntr", space, b"XYZ ",
                         2026, 1, 1, 0, 0, 0, b"acsp", b"APPL", 0, b"none", b"none", 0, 0)
    header += struct.pack(">iii", 63190, 65536, 54061) + b"none" + bytes(16) + bytes(28)  # D50, creator, id
    profile = header + struct.pack(">I", 0)  # no tags
    assert len(profile) == 132
    return (b"iCCP", b"flexctl test profile\x00\x00" + zlib.compress(profile))


def to8(v):
    """round(v / 257) for a 16-bit sample (no ties: 257 is odd)."""
    return (2 * v + 257) // 514


def colour_metadata(expected, flat, gray8, rgb8, alpha, rgba, ga):
    """Files whose colour chunks must not change the samples; the expected pixels are the stored ones."""
    # 8-bit.
    for name, rows, ct, ch, extra in [
        ("gama100-rgb8.png", rgb8, 2, 3, [gama(1.0)]),
        ("gama50-gray8.png", gray8, 0, 1, [gama(0.5)]),
        ("gama200-rgba8.png", rgba, 6, 4, [gama(2.0)]),
        ("gama45455-gray-alpha8.png", ga, 4, 2, [gama(0.45455)]),
        ("srgb-rgb8.png", rgb8, 2, 3, [gama(0.45455), CHRM_SRGB, SRGB]),
        ("iccp-rgb8.png", rgb8, 2, 3, [iccp(b"RGB ")]),
        ("chrm-rgb8.png", rgb8, 2, 3, [gama(0.45455), CHRM_ADOBE]),
    ]:
        png(name, rows, 8, ct, ch, extra=extra)
        expected[name] = (ch, flat(rows))
    pal = [((i * 40) % 256, (i * 90 + 10) % 256, (255 - i * 25) % 256) for i in range(10)]
    idx = [[(x * 3 + y) % 10 for x in range(W)] for y in range(H)]
    png("gama100-palette8.png", idx, 8, 3, 1, palette=pal, extra=[gama(1.0)])
    expected["gama100-palette8.png"] = (3, [c for v in flat(idx) for c in pal[v]])
    trns = bytes([255 - 20 * i for i in range(10)])
    png("gama50-palette8-trns.png", idx, 8, 3, 1, palette=pal, trns=trns, extra=[gama(0.5), SRGB])
    expected["gama50-palette8-trns.png"] = (4, [c for v in flat(idx) for c in pal[v] + (trns[v],)])
    g4 = [[(x + 2 * y) % 16 for x in range(W)] for y in range(H)]
    png("gama100-gray4.png", g4, 4, 0, 1, extra=[gama(1.0)])
    expected["gama100-gray4.png"] = (1, [v * 17 for v in flat(g4)])
    # A tRNS colour key (RGB): alpha 0 exactly where the pixel equals the key.
    key = rgb8[1][2 * 3:2 * 3 + 3]
    png("rgb8-trns.png", rgb8, 8, 2, 3, trns=struct.pack(">3H", *key), extra=[gama(1.0)])
    expected["rgb8-trns.png"] = (4, [v for row in rgb8 for x in range(W) for v in
                                     row[3 * x:3 * x + 3] + [0 if row[3 * x:3 * x + 3] == key else 255]])

    # 16-bit: full-range samples (not multiples of 257), as raw converters write them.
    g16 = [[(x * 4099 + y * 12345) % 65536 for x in range(W)] for y in range(H)]
    rgb16 = [[(x * 4099 + y * 12345 + c * 21845 + x * y * 77) % 65536 for x in range(W) for c in range(3)] for y in range(H)]
    a16 = [[(x * 5000 + y * 9000) % 65536 for x in range(W)] for y in range(H)]  # includes 0: nothing premultiplied
    rgba16 = [[v for x in range(W) for v in rgb16[y][3 * x:3 * x + 3] + [a16[y][x]]] for y in range(H)]
    ga16 = [[v for x in range(W) for v in (g16[y][x], a16[y][x])] for y in range(H)]
    for name, rows, ct, ch, extra, interlace in [
        ("gama100-gray16.png", g16, 0, 1, [gama(1.0)], False),
        ("gama45455-rgb16.png", rgb16, 2, 3, [gama(0.45455)], False),
        ("srgb-rgb16.png", rgb16, 2, 3, [gama(0.45455), CHRM_SRGB, SRGB], False),
        ("srgb-rgb16-interlaced.png", rgb16, 2, 3, [gama(0.45455), CHRM_SRGB, SRGB], True),
        ("gama50-rgba16.png", rgba16, 6, 4, [gama(0.5)], False),
        ("iccp-gray-alpha16.png", ga16, 4, 2, [iccp(b"GRAY")], False),
        ("chrm-rgb16.png", rgb16, 2, 3, [gama(1.0), CHRM_ADOBE], False),
    ]:
        png(name, rows, 16, ct, ch, interlace=interlace, extra=extra)
        expected[name] = (ch, [to8(v) for v in flat(rows)], flat(rows))
    # A 16-bit gray colour key: alpha 0 or 65535.
    gkey = g16[2][5]
    png("gray16-trns.png", g16, 16, 0, 1, trns=struct.pack(">H", gkey), extra=[SRGB])
    stored = [v for row in g16 for g in row for v in (g, 0 if g == gkey else 65535)]
    expected["gray16-trns.png"] = (2, [to8(v) for v in stored], stored)
    # A smooth 48x32 16-bit photo-like gradient tagged as ImageMagick tags it, for the CLI's --report test (an
    # auto-encoder reconstructs it well, so reading it darkened would show as a large PSNR difference).
    sw, sh = 48, 32
    smooth = [[int(65535 * (0.15 + 0.7 * ((x / sw) * (1 - c / 4) + (y / sh) * (c / 4)))) for x in range(sw) for c in range(3)] for y in range(sh)]
    png("srgb-rgb16-smooth.png", smooth, 16, 2, 3, extra=[gama(0.45455), CHRM_SRGB, SRGB], size=(sw, sh))
    expected["srgb-rgb16-smooth.png"] = (3, [to8(v) for v in flat(smooth)], flat(smooth), (sw, sh))


def main():
    expected = {}
    gray8 = [[(x * 19 + y * 37) % 256 for x in range(W)] for y in range(H)]
    rgb8 = [[v for x in range(W) for v in ((x * 19 + y * 37) % 256, (x * 7 + 200 * y) % 256, (255 - x * 11) % 256)] for y in range(H)]
    alpha = [[(x * 29 + y * 3) % 256 for x in range(W)] for y in range(H)]
    flat = lambda rows: [v for r in rows for v in r]

    png("gray8.png", gray8, 8, 0, 1)
    expected["gray8.png"] = (1, flat(gray8))
    png("gray8-interlaced.png", gray8, 8, 0, 1, interlace=True)
    expected["gray8-interlaced.png"] = (1, flat(gray8))
    ga = [[v for x in range(W) for v in (gray8[y][x], alpha[y][x])] for y in range(H)]
    png("gray-alpha8.png", ga, 8, 4, 2)
    expected["gray-alpha8.png"] = (2, flat(ga))
    png("rgb8.png", rgb8, 8, 2, 3)
    expected["rgb8.png"] = (3, flat(rgb8))
    png("rgb8-interlaced.png", rgb8, 8, 2, 3, interlace=True)
    expected["rgb8-interlaced.png"] = (3, flat(rgb8))
    rgba = [[v for x in range(W) for v in (rgb8[y][3 * x], rgb8[y][3 * x + 1], rgb8[y][3 * x + 2], alpha[y][x])] for y in range(H)]
    png("rgba8.png", rgba, 8, 6, 4)
    expected["rgba8.png"] = (4, flat(rgba))
    # 16-bit: v16 = 257 * v8 + d with |d| < 128, so round(v16 / 257) = v8.
    g16 = [[gray8[y][x] * 257 + ((x * 31 + y * 17) % 255) - 127 if 0 < gray8[y][x] < 255 else gray8[y][x] * 257 for x in range(W)] for y in range(H)]
    png("gray16.png", g16, 16, 0, 1)
    expected["gray16.png"] = (1, flat(gray8), flat(g16))
    r16 = [[v * 257 + (((i * 13) % 200) - 100 if 0 < v < 255 else 0) for i, v in enumerate(row)] for row in rgb8]
    png("rgb16.png", r16, 16, 2, 3)
    expected["rgb16.png"] = (3, flat(rgb8), flat(r16))
    png("rgb16-interlaced.png", r16, 16, 2, 3, interlace=True)
    expected["rgb16-interlaced.png"] = (3, flat(rgb8), flat(r16))
    # Alpha of at least 128/255 here (gama50-rgba16.png covers the whole range, including 0).
    a16 = [[(alpha[y][x] // 2 + 128) for x in range(W)] for y in range(H)]
    rgba16 = [[v for x in range(W) for v in (r16[y][3 * x], r16[y][3 * x + 1], r16[y][3 * x + 2], a16[y][x] * 257)] for y in range(H)]
    png("rgba16.png", rgba16, 16, 6, 4)
    expected["rgba16.png"] = (4, [v for y in range(H) for x in range(W) for v in (rgb8[y][3 * x], rgb8[y][3 * x + 1], rgb8[y][3 * x + 2], a16[y][x])], flat(rgba16))
    # Sub-8-bit gray: values expand by bit replication.
    for bits in (1, 2, 4):
        top = (1 << bits) - 1
        g = [[(x + y) % (top + 1) for x in range(W)] for y in range(H)]
        png(f"gray{bits}.png", g, bits, 0, 1)
        expected[f"gray{bits}.png"] = (1, [v * 255 // top for v in flat(g)])
    # Palette: 8-bit and 4-bit indices, with and without transparency.
    pal = [((i * 40) % 256, (i * 90 + 10) % 256, (255 - i * 25) % 256) for i in range(10)]
    idx = [[(x * 3 + y) % 10 for x in range(W)] for y in range(H)]
    png("palette8.png", idx, 8, 3, 1, palette=pal)
    expected["palette8.png"] = (3, [c for v in flat(idx) for c in pal[v]])
    png("palette4-interlaced.png", idx, 4, 3, 1, palette=pal, interlace=True)
    expected["palette4-interlaced.png"] = (3, [c for v in flat(idx) for c in pal[v]])
    trns = bytes([255 - 20 * i for i in range(10)])
    png("palette8-trns.png", idx, 8, 3, 1, palette=pal, trns=trns)
    expected["palette8-trns.png"] = (4, [c for v in flat(idx) for c in pal[v] + (trns[v],)])
    # Binary PNM: PGM maxval 255 and 1023 (16-bit samples), PPM maxval 255.
    open("gray.pgm", "wb").write(b"P5\n# a comment\n%d %d\n255\n" % (W, H) + bytes(flat(gray8)))
    expected["gray.pgm"] = (1, flat(gray8))
    g10 = [v * 1023 // 255 for v in flat(gray8)]
    open("gray10.pgm", "wb").write(b"P5 %d %d 1023\n" % (W, H) + b"".join(struct.pack(">H", v) for v in g10))
    expected["gray10.pgm"] = (1, [(v * 255 + 511) // 1023 for v in g10])
    open("rgb.ppm", "wb").write(b"P6\n%d %d\n255\n" % (W, H) + bytes(flat(rgb8)))
    expected["rgb.ppm"] = (3, flat(rgb8))
    colour_metadata(expected, flat, gray8, rgb8, alpha, rgba, ga)
    out = {}
    for k, (c, p, *more) in expected.items():
        w, h = more[1] if len(more) > 1 else (W, H)
        out[k] = {"width": w, "height": h, "channels": c, "pixels": p}
        if more:
            out[k]["stored"] = more[0]
    json.dump(out, open("expected.json", "w"), indent=None, sort_keys=True)


if __name__ == "__main__":
    main()
