// A set of 8-bit images in NCHW order, with optional class labels. See docs/data-formats.md, "Images".
import FlexRuntime

/// Images as 8-bit pixels, NCHW.
public struct ImageSet: Sendable, Equatable {
    /// Number of images (N).
    public var count: Int
    /// Channels per image (C): 1 for gray, 3 for RGB.
    public var channels: Int
    /// Rows per image (H).
    public var height: Int
    /// Columns per image (W).
    public var width: Int
    /// `count * channels * height * width` bytes, NCHW (image, then channel plane, then rows top to bottom).
    public var pixels: [UInt8]
    /// One label per image when the source has labels (IDX labels file, CIFAR-10).
    public var labels: [Int]?
    /// Human description of where the images came from, e.g. "Fashion-MNIST train (/usr/share/...)".
    public var source: String

    /// Bytes per image: `channels * height * width`.
    public var imageSize: Int { channels * height * width }

    /// Wraps pixels already in NCHW order. `pixels.count` must be `count * channels * height * width` and
    /// `labels`, when given, must have `count` entries (programming errors otherwise).
    public init(count: Int, channels: Int, height: Int, width: Int, pixels: [UInt8], labels: [Int]? = nil,
                source: String) {
        precondition(count >= 0 && channels > 0 && height > 0 && width > 0, "invalid image set shape")
        precondition(pixels.count == count * channels * height * width,
                     "expected \(count * channels * height * width) pixels, got \(pixels.count)")
        precondition(labels == nil || labels!.count == count, "expected \(count) labels, got \(labels!.count)")
        self.count = count
        self.channels = channels
        self.height = height
        self.width = width
        self.pixels = pixels
        self.labels = labels
        self.source = source
    }

    /// The images at `indices` (in that order; repeats allowed), with their labels. Indices must be in
    /// `0 ..< count`.
    public func subset(_ indices: [Int]) -> ImageSet {
        let size = imageSize
        var out = [UInt8](repeating: 0, count: indices.count * size)
        out.withUnsafeMutableBufferPointer { dst in
            pixels.withUnsafeBufferPointer { src in
                for (k, i) in indices.enumerated() {
                    precondition(i >= 0 && i < count, "image index \(i) out of range 0..<\(count)")
                    dst.baseAddress!.advanced(by: k * size)
                        .update(from: src.baseAddress!.advanced(by: i * size), count: size)
                }
            }
        }
        return ImageSet(count: indices.count, channels: channels, height: height, width: width, pixels: out,
                        labels: labels.map { l in indices.map { l[$0] } }, source: source)
    }

    /// Converts channel count: 1 → 3 replicates gray; 3 → 1 uses ITU-R BT.601 luma
    /// round(0.299 R + 0.587 G + 0.114 B) (exact integer arithmetic, halves rounded up, so gray stays gray);
    /// the same count returns the set unchanged; anything else is an error naming `source`.
    public func converted(toChannels target: Int) throws(DataError) -> ImageSet {
        if target == channels { return self }
        let plane = height * width
        var out = [UInt8](repeating: 0, count: count * target * plane)
        switch (channels, target) {
        case (1, 3):
            out.withUnsafeMutableBufferPointer { dst in
                pixels.withUnsafeBufferPointer { src in
                    for n in 0..<count {
                        let s = src.baseAddress!.advanced(by: n * plane)
                        for c in 0..<3 {
                            dst.baseAddress!.advanced(by: (n * 3 + c) * plane).update(from: s, count: plane)
                        }
                    }
                }
            }
        case (3, 1):
            out.withUnsafeMutableBufferPointer { dst in
                pixels.withUnsafeBufferPointer { src in
                    for n in 0..<count {
                        let r = src.baseAddress!.advanced(by: n * 3 * plane)
                        let g = r.advanced(by: plane), b = g.advanced(by: plane)
                        let d = dst.baseAddress!.advanced(by: n * plane)
                        for i in 0..<plane {
                            d[i] = bt601Luma(r[i], g[i], b[i])
                        }
                    }
                }
            }
        default:
            throw DataError(file: source, message:
                "cannot convert \(channels)-channel images to \(target) channels; supported: 1 → 3 (replicate gray) and 3 → 1 (BT.601 luma)")
        }
        return ImageSet(count: count, channels: target, height: height, width: width, pixels: out, labels: labels,
                        source: source)
    }

    /// Images `range` as a float tensor [n, C, H, W] with pixels scaled to [0, 1] (value / 255).
    public func tensor(_ range: Range<Int>) -> Tensor {
        precondition(range.lowerBound >= 0 && range.upperBound <= count, "image range \(range) out of 0..<\(count)")
        let size = imageSize
        return Tensor(shape: [range.count, channels, height, width]) { dst in
            pixels.withUnsafeBufferPointer { src in
                let base = range.lowerBound * size
                for i in 0..<(range.count * size) { dst[i] = Float(src[base + i]) / 255 }
            }
        }
    }

    /// The images at `indices` as a float tensor [indices.count, C, H, W] with pixels scaled to [0, 1].
    public func tensor(indices: [Int]) -> Tensor {
        let size = imageSize
        return Tensor(shape: [indices.count, channels, height, width]) { dst in
            pixels.withUnsafeBufferPointer { src in
                for (k, i) in indices.enumerated() {
                    precondition(i >= 0 && i < count, "image index \(i) out of range 0..<\(count)")
                    for j in 0..<size { dst[k * size + j] = Float(src[i * size + j]) / 255 }
                }
            }
        }
    }
}
