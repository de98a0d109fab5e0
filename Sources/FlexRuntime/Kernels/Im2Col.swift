import CFlexKernels
import Synchronization

/// Offset tables by geometry, shared by all layers and threads.
private let offsetTableCache = Mutex<[ConvGeometry: [Int32]]>([:])

/// The geometry of a square convolution window sliding over an image (PyTorch's Conv2d formula):
/// `outputHeight = ⌊(height + 2·padding − kernel) / stride⌋ + 1`, likewise for the width.
public struct ConvGeometry: Sendable, Hashable {
    public var channels: Int, height: Int, width: Int
    public var kernel: Int, stride: Int, padding: Int
    public var outputHeight: Int { (height + 2 * padding - kernel) / stride + 1 }
    public var outputWidth: Int { (width + 2 * padding - kernel) / stride + 1 }
    /// Rows of the column matrix: `channels · kernel²`.
    public var patchSize: Int { channels * kernel * kernel }
    public var outputPixels: Int { outputHeight * outputWidth }

    public init(channels: Int, height: Int, width: Int, kernel: Int, stride: Int, padding: Int) {
        self.channels = channels; self.height = height; self.width = width
        self.kernel = kernel; self.stride = stride; self.padding = padding
    }
}

extension ConvGeometry {
    /// For each column-matrix row r = (c·k + kh)·k + kw and output pixel p = oh·OW + ow: the offset of the
    /// source element within one image (c·H·W + iy·W + ix), or −1 where the window hangs over the padding.
    /// Built once per call (rows·OH·OW entries, a small fraction of the batch's work), it turns im2col and
    /// col2im into branch-light gathers and scatters.
    func offsetTable() -> [Int32] {
        if let cached = offsetTableCache.withLock({ $0[self] }) { return cached }
        let table = buildOffsetTable()
        offsetTableCache.withLock { cache in
            if cache.count > 256 { cache.removeAll() }  // bounded: a model has a handful of geometries
            cache[self] = table
        }
        return table
    }

    private func buildOffsetTable() -> [Int32] {
        let oh = outputHeight, ow = outputWidth, k = kernel
        var table = [Int32](repeating: -1, count: patchSize * oh * ow)
        var t = 0
        for c in 0..<channels {
            for kh in 0..<k {
                for kw in 0..<k {
                    for y in 0..<oh {
                        let iy = y * stride - padding + kh
                        for x in 0..<ow {
                            let ix = x * stride - padding + kw
                            if iy >= 0, iy < height, ix >= 0, ix < width {
                                table[t] = Int32((c * height + iy) * width + ix)
                            }
                            t += 1
                        }
                    }
                }
            }
        }
        return table
    }
}

/// Unfolds a batch of images into a column matrix.
///
/// `image`: `[batch, C, H, W]`; `columns`: `[C·k·k, batch·OH·OW]` with row `(c·k + kh)·k + kw` and column
/// `b·OH·OW + oh·OW + ow` holding `image[b, c, oh·s − p + kh, ow·s − p + kw]` (0 outside the image).
///
/// Two loops: on narrow outputs (the CAEs' 28×28 digits: lines of 3–14 pixels) a gather through the cached
/// offset table, whose per-element cost does not depend on the line length; on wide ones (the codec's crops,
/// lines of 8–64 pixels at stride 2) line by line: the output columns whose input column falls inside the image
/// are one strided run `[x0, x1)` per kernel column kw, the rest are padding zeros, with no table traffic (the
/// table is as large as the column matrix). Both write the same values.
public func im2col(_ image: FloatPointer, batch: Int, geometry g: ConvGeometry, columns: MutableFloatPointer) {
    if g.outputWidth < im2colRunWidth {
        im2colGather(image, batch: batch, geometry: g, columns: columns)
    } else {
        im2colRuns(image, batch: batch, geometry: g, columns: columns)
    }
}

/// Output line length from which `im2col` copies runs instead of gathering through the table (measured:
/// the gather is faster for the CAEs' lines of ≤ 14 pixels, the runs for the codec's of ≥ 32; docs/benchmarks.md).
public let im2colRunWidth = 16

/// `im2col` through the offset table (one look-up per element).
public func im2colGather(_ image: FloatPointer, batch: Int, geometry g: ConvGeometry, columns: MutableFloatPointer) {
    let ohw = g.outputPixels, ld = batch * ohw, chw = g.channels * g.height * g.width
    let table = g.offsetTable()
    table.withUnsafeBufferPointer { tb in
        for r in 0..<g.patchSize {
            let t = tb.baseAddress! + r * ohw
            let row = columns + r * ld
            for b in 0..<batch {
                let src = image + b * chw
                let dst = row + b * ohw
                for p in 0..<ohw {
                    let o = Int(t[p])
                    dst[p] = o >= 0 ? src[o] : 0
                }
            }
        }
    }
}

/// `im2col` by strided runs per output line.
public func im2colRuns(_ image: FloatPointer, batch: Int, geometry g: ConvGeometry, columns: MutableFloatPointer) {
    let k = g.kernel, s = g.stride, pad = g.padding, h = g.height, w = g.width
    let oh = g.outputHeight, ow = g.outputWidth
    let ohw = oh * ow, ld = batch * ohw, hw = h * w, chw = g.channels * hw
    for c in 0..<g.channels {
        for kh in 0..<k {
            for kw in 0..<k {
                let r = (c * k + kh) * k + kw
                // Output columns x with 0 ≤ x·s − pad + kw < w.
                let lo = pad - kw, hi = w - 1 + pad - kw
                let x0 = min(ow, lo <= 0 ? 0 : (lo + s - 1) / s)
                let x1 = max(x0, min(ow, hi < 0 ? 0 : hi / s + 1))
                let shift = kw - pad
                for b in 0..<batch {
                    let src = image + b * chw + c * hw
                    var dst = columns + r * ld + b * ohw
                    for y in 0..<oh {
                        let iy = y * s - pad + kh
                        if iy < 0 || iy >= h {
                            dst.update(repeating: 0, count: ow)
                        } else {
                            let base = iy * w + shift  // + x·s is inside row iy for x in [x0, x1)
                            for x in 0..<x0 { dst[x] = 0 }
                            if s == 1 {
                                if x1 > x0 { (dst + x0).update(from: src + base + x0, count: x1 - x0) }
                            } else if s == 2 {
                                // 8 outputs from 16 consecutive inputs (their even lanes) while the 16 stay
                                // inside row iy; the codec's layers are all stride 2.
                                var x = x0
                                let rowEnd = (iy + 1) * w
                                while x + 8 <= x1, base + 2 * x + 16 <= rowEnd {
                                    let v = UnsafeRawPointer(src + base + 2 * x).loadUnaligned(as: SIMD16<Float>.self)
                                    UnsafeMutableRawPointer(dst + x).storeBytes(of: v.evenHalf, as: SIMD8<Float>.self)
                                    x += 8
                                }
                                while x < x1 { dst[x] = src[base + 2 * x]; x += 1 }
                            } else {
                                for x in x0..<x1 { dst[x] = src[base + x * s] }
                            }
                            for x in x1..<ow { dst[x] = 0 }
                        }
                        dst += ow
                    }
                }
            }
        }
    }
}

/// The adjoint of `im2col`: adds each column entry back into the image position it came from.
/// `image` must be zeroed (or hold values to add to) by the caller. Rows are added in order (every image element
/// receives its terms in the same order whichever loop runs): through the offset table on narrow outputs, by
/// strided runs per output line on wide ones, as `im2col`.
public func col2im(_ columns: FloatPointer, batch: Int, geometry g: ConvGeometry, image: MutableFloatPointer) {
    if g.outputWidth < im2colRunWidth {
        col2imScatter(columns, batch: batch, geometry: g, image: image)
    } else {
        col2imRuns(columns, batch: batch, geometry: g, image: image)
    }
}

/// `col2im` by strided runs per output line (the inverse walk of `im2colRuns`).
public func col2imRuns(_ columns: FloatPointer, batch: Int, geometry g: ConvGeometry, image: MutableFloatPointer) {
    let k = g.kernel, s = g.stride, pad = g.padding, h = g.height, w = g.width
    let oh = g.outputHeight, ow = g.outputWidth
    let ohw = oh * ow, ld = batch * ohw, hw = h * w, chw = g.channels * hw
    for c in 0..<g.channels {
        for kh in 0..<k {
            for kw in 0..<k {
                let r = (c * k + kh) * k + kw
                let lo = pad - kw, hi = w - 1 + pad - kw
                let x0 = min(ow, lo <= 0 ? 0 : (lo + s - 1) / s)
                let x1 = max(x0, min(ow, hi < 0 ? 0 : hi / s + 1))
                let shift = kw - pad
                for b in 0..<batch {
                    let dst = image + b * chw + c * hw
                    var src = columns + r * ld + b * ohw
                    for y in 0..<oh {
                        let iy = y * s - pad + kh
                        if iy >= 0, iy < h {
                            let base = iy * w + shift
                            var x = x0
                            if s == 2 {
                                // Even lanes of 16 image floats take 8 column entries while the 16 stay in row iy.
                                let rowEnd = (iy + 1) * w
                                while x + 8 <= x1, base + 2 * x + 16 <= rowEnd {
                                    let p = UnsafeMutableRawPointer(dst + base + 2 * x)
                                    var v = p.loadUnaligned(as: SIMD16<Float>.self)
                                    v.evenHalf += UnsafeRawPointer(src + x).loadUnaligned(as: SIMD8<Float>.self)
                                    p.storeBytes(of: v, as: SIMD16<Float>.self)
                                    x += 8
                                }
                            }
                            while x < x1 { dst[base + x * s] += src[x]; x += 1 }
                        }
                        src += ow
                    }
                }
            }
        }
    }
}

/// `col2im` through the offset table (C, one look-up per element).
public func col2imScatter(_ columns: FloatPointer, batch: Int, geometry g: ConvGeometry, image: MutableFloatPointer) {
    let table = g.offsetTable()
    table.withUnsafeBufferPointer { tb in
        // C (`col2im` in Sources/CFlexKernels/kernels_body.h): rows in order, each entry added where its table
        // offset is not −1.
        flexk_col2im(columns, batch, g.patchSize, g.outputPixels, tb.baseAddress, image, g.channels * g.height * g.width)
    }
}

/// `[batch, C, P]` → `[C, batch·P]` (channel-major), and back with `fromChannelMajor`.
public func toChannelMajor(_ src: FloatPointer, batch: Int, channels: Int, pixels: Int, _ dst: MutableFloatPointer) {
    for b in 0..<batch {
        for c in 0..<channels {
            (dst + c * batch * pixels + b * pixels).update(from: src + (b * channels + c) * pixels, count: pixels)
        }
    }
}

/// `[C, batch·P]` → `[batch, C, P]`, adding `bias[c]` when given.
public func fromChannelMajor(_ src: FloatPointer, batch: Int, channels: Int, pixels: Int,
                             bias: FloatPointer?, _ dst: MutableFloatPointer) {
    for b in 0..<batch {
        for c in 0..<channels {
            let s = src + c * batch * pixels + b * pixels
            let d = dst + (b * channels + c) * pixels
            if let bias {
                let v = bias[c]
                for p in 0..<pixels { d[p] = s[p] + v }
            } else {
                d.update(from: s, count: pixels)
            }
        }
    }
}

/// Floats per column-matrix chunk (256 KiB: within L2 on the machines we measured, see docs/benchmarks.md).
public let batchChunkFloats = 64 * 1024

/// The number of samples whose `pixels` columns make a multiple of 8 (the GEMM kernel's vector width).
@inline(__always)
public func samplesForFullVectors(pixels: Int) -> Int {
    var g = 8, p = pixels
    while p != 0 { (g, p) = (p, g % p) }  // gcd(8, pixels)
    return 8 / g
}

/// The largest chunk size `forEachBatchChunk` uses for this per-sample size.
@inline(__always)
public func maxBatchChunk(batch: Int, floatsPerSample: Int) -> Int {
    max(1, min(batch, batchChunkFloats / max(1, floatsPerSample)))
}

/// Splits a batch into chunks whose column matrices stay cache-resident (about `targetFloats` floats),
/// calling `body(first, count)` for each chunk in order. With `chunkMultiple`, full chunks hold a multiple of
/// that many samples (so the column count fills whole SIMD vectors).
@inline(__always)
public func forEachBatchChunk(batch: Int, floatsPerSample: Int, targetFloats: Int = batchChunkFloats,
                              chunkMultiple: Int? = nil, _ body: (_ first: Int, _ count: Int) -> Void) {
    var chunk = max(1, min(batch, targetFloats / max(1, floatsPerSample)))
    if let multiple = chunkMultiple, chunk > multiple, chunk < batch { chunk -= chunk % multiple }
    var b = 0
    while b < batch {
        let count = min(chunk, batch - b)
        body(b, count)
        b += count
    }
}
