/// The geometry of a square convolution window sliding over an image (PyTorch's Conv2d formula):
/// `outputHeight = ⌊(height + 2·padding − kernel) / stride⌋ + 1`, likewise for the width.
public struct ConvGeometry: Sendable, Equatable {
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

/// Unfolds a batch of images into a column matrix.
///
/// `image`: `[batch, C, H, W]`; `columns`: `[C·k·k, batch·OH·OW]` with row `(c·k + kh)·k + kw` and column
/// `b·OH·OW + oh·OW + ow` holding `image[b, c, oh·s − p + kh, ow·s − p + kw]` (0 outside the image).
public func im2col(_ image: FloatPointer, batch: Int, geometry g: ConvGeometry, columns: MutableFloatPointer) {
    let oh = g.outputHeight, ow = g.outputWidth, ohw = oh * ow
    let ld = batch * ohw
    let hw = g.height * g.width
    for c in 0..<g.channels {
        for kh in 0..<g.kernel {
            for kw in 0..<g.kernel {
                let row = columns + ((c * g.kernel + kh) * g.kernel + kw) * ld
                // Valid output columns for this kw: 0 <= ox*s - p + kw < W
                var owLo = 0
                while owLo < ow && owLo * g.stride - g.padding + kw < 0 { owLo += 1 }
                var owHi = ow
                while owHi > owLo && (owHi - 1) * g.stride - g.padding + kw >= g.width { owHi -= 1 }
                for b in 0..<batch {
                    let src = image + (b * g.channels + c) * hw
                    let dstB = row + b * ohw
                    for y in 0..<oh {
                        let iy = y * g.stride - g.padding + kh
                        let dst = dstB + y * ow
                        if iy < 0 || iy >= g.height {
                            dst.update(repeating: 0, count: ow)
                            continue
                        }
                        let srcRow = src + iy * g.width - g.padding + kw
                        if owLo > 0 { dst.update(repeating: 0, count: owLo) }
                        if g.stride == 1 {
                            dst.advanced(by: owLo).update(from: srcRow + owLo, count: owHi - owLo)
                        } else {
                            var x = owLo
                            while x < owHi { dst[x] = srcRow[x * g.stride]; x += 1 }
                        }
                        if owHi < ow { dst.advanced(by: owHi).update(repeating: 0, count: ow - owHi) }
                    }
                }
            }
        }
    }
}

/// The adjoint of `im2col`: adds each column entry back into the image position it came from.
/// `image` must be zeroed (or hold values to add to) by the caller.
public func col2im(_ columns: FloatPointer, batch: Int, geometry g: ConvGeometry, image: MutableFloatPointer) {
    let oh = g.outputHeight, ow = g.outputWidth, ohw = oh * ow
    let ld = batch * ohw
    let hw = g.height * g.width
    for c in 0..<g.channels {
        for kh in 0..<g.kernel {
            for kw in 0..<g.kernel {
                let row = columns + ((c * g.kernel + kh) * g.kernel + kw) * ld
                var owLo = 0
                while owLo < ow && owLo * g.stride - g.padding + kw < 0 { owLo += 1 }
                var owHi = ow
                while owHi > owLo && (owHi - 1) * g.stride - g.padding + kw >= g.width { owHi -= 1 }
                for b in 0..<batch {
                    let dstImg = image + (b * g.channels + c) * hw
                    let srcB = row + b * ohw
                    for y in 0..<oh {
                        let iy = y * g.stride - g.padding + kh
                        if iy < 0 || iy >= g.height { continue }
                        let src = srcB + y * ow
                        let dstRow = dstImg + iy * g.width - g.padding + kw
                        var x = owLo
                        while x < owHi { dstRow[x * g.stride] += src[x]; x += 1 }
                    }
                }
            }
        }
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

/// Splits a batch into chunks whose column matrices stay cache-resident (about `targetFloats` floats),
/// calling `body(first, count)` for each chunk in order.
@inline(__always)
public func forEachBatchChunk(batch: Int, floatsPerSample: Int, targetFloats: Int = 32 * 1024,
                              _ body: (_ first: Int, _ count: Int) -> Void) {
    let chunk = max(1, min(batch, targetFloats / max(1, floatsPerSample)))
    var b = 0
    while b < batch {
        let count = min(chunk, batch - b)
        body(b, count)
        b += count
    }
}
