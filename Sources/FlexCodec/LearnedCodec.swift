import Dispatch
import FlexEntropy
import FlexImageIO
import FlexRuntime
import Synchronization

/// The learned image codec's runtime (Ballé et al. 2018's factorized prior; docs/flexz-format.md, "Format
/// version 2"): an analysis transform to latents, per-channel quantisation around the entropy model's medians,
/// rANS coding with the model's CDF tables, and the synthesis transform back.
///
/// Coding: pixels x = p / 255 in RGB (a gray image is replicated to three channels and decodes as gray; alpha
/// is dropped and flagged), padded right and bottom to multiples of 16 by repeating the edge pixels;
/// y = analysis(x); symbols q = round(y − median_c), half away from zero (as `EntropyBottleneck.quantize`),
/// coded channel by channel with table c. Decoding: ŷ = q + median_c, x̂ = synthesis(ŷ), cropped;
/// pixel = clamp(round(255 · x̂), 0, 255); a gray image is the rounded mean of the three channels.
///
/// Large images are coded in horizontal bands of the latent grid (`bandPixels`): each band's analysis sees
/// `bandOverlap` latent rows (16 pixel rows each) of the image above and below, whose latents are discarded,
/// and each band's synthesis sees as many latent rows of context, whose pixels are discarded. The overlap
/// covers the transforms' receptive fields, and the layers compute every value the same way wherever it is
/// (see `TiledTransform`), so banded coding gives exactly the whole-image latents and pixels (tested). Each
/// band has its own rANS stream.
///
/// Threads share out each layer's tiles; the tiles and bands depend only on the image size, `bandPixels` and
/// `chunkFloats`, and every value is computed identically on any thread, so files and decoded images do not
/// depend on the thread count.
public final class LearnedCodec: Sendable {
    /// The model's fingerprint (the SHA-256 of its weights), stored in every file it writes.
    public let fingerprint: [UInt8]
    /// M.
    public let latentChannels: Int
    /// The entropy model's per-channel medians (quantisation offsets).
    public let medians: [Float]
    /// The entropy model's per-channel CDF tables.
    public let tables: [CDFTable]
    /// Latent rows of context on each side of a band: the transforms' receptive field, rounded up.
    public let bandOverlap: Int
    /// Images whose padded size exceeds this many pixels are coded in bands of about this size.
    public let bandPixels: Int

    let analysis: TiledTransform
    let synthesis: TiledTransform

    /// 2 MP: at N = 128 channels a band's largest activations (the first layer's output, N/4 floats per pixel)
    /// take 256 MB, its input 24 MB.
    public static let defaultBandPixels = 1 << 21
    /// 2^20 floats (4 MiB) of column matrix per thread and layer tile.
    public static let defaultChunkFloats = 1 << 20
    static let stride = FlexzLearnedFile.latentStride

    /// A codec from its transforms (any layers taking `[1, 3, H, W]` to `[1, M, H/16, W/16]` and back, e.g.
    /// `Sequential(specs: CodecArchitecture(...).analysis, ...)`'s layers), the entropy model's `medians` and
    /// `tables` (one per latent channel), and the model's `fingerprint` (`sha256:<64 hex digits>`, as
    /// checkpoints carry it). Anything inconsistent is one error naming `model`. `bandPixels` bounds the memory
    /// for large images; `chunkFloats` is each thread's scratch for a layer's column matrix (4 MiB by default;
    /// neither changes the results).
    public init(analysis: [any Layer], synthesis: [any Layer], medians: [Float], tables: [CDFTable],
                fingerprint: String, model: String, bandPixels: Int = LearnedCodec.defaultBandPixels,
                chunkFloats: Int = LearnedCodec.defaultChunkFloats) throws(CodecError) {
        func fail(_ m: String) -> CodecError { CodecError(file: model, m) }
        guard let bytes = parseFingerprint(fingerprint) else {
            throw fail("model fingerprint '\(fingerprint)' is not sha256: followed by 64 hex digits")
        }
        // The shapes on a small image whose sides are different multiples of 16.
        let probe = [3, 32, 48]
        var shape = probe
        do {
            for layer in analysis { shape = try layer.outputShape(forInput: shape) }
        } catch { throw fail("the analysis transform does not take an RGB image: \(error)") }
        guard shape.count == 3, shape[1] == 2, shape[2] == 3, shape[0] >= 1 else {
            throw fail("the analysis transform maps \(probe) to \(shape); a learned codec needs [M, 2, 3] (1/16 of the size)")
        }
        let m = shape[0]
        let latent = shape
        do {
            for layer in synthesis { shape = try layer.outputShape(forInput: shape) }
        } catch { throw fail("the synthesis transform does not take the latents \(latent): \(error)") }
        guard shape == probe else {
            throw fail("the synthesis transform maps the latents \(latent) to \(shape); expected \(probe)")
        }
        guard medians.count == m, tables.count == m else {
            throw fail("the entropy model has \(medians.count) medians and \(tables.count) tables; the transforms have \(m) latent channels")
        }
        if let c = medians.firstIndex(where: { !$0.isFinite }) { throw fail("median of latent channel \(c) is \(medians[c]); expected a finite value") }
        guard bandPixels >= 1 else { throw fail("band size \(bandPixels) pixels; expected at least 1") }
        self.fingerprint = bytes
        self.latentChannels = m
        self.medians = medians
        self.tables = tables
        self.bandPixels = bandPixels
        guard chunkFloats >= 1 else { throw fail("chunk size \(chunkFloats) floats; expected at least 1") }
        self.analysis = TiledTransform(layers: analysis, chunkFloats: chunkFloats)
        self.synthesis = TiledTransform(layers: synthesis, chunkFloats: chunkFloats)
        let s = Self.stride
        let halo = max((TiledTransform.analysisHalo(analysis) + s - 1) / s,
                       Int(TiledTransform.synthesisHalo(synthesis).rounded(.up)))
        bandOverlap = min(halo, FlexzLearnedFile.maximumBandOverlap)
    }

    /// `sha256:<hex>` of the model.
    public var fingerprintText: String { "sha256:" + fingerprint.map(hex).joined() }

    /// Latent rows per band for a padded image `paddedWidth` pixels wide with `latentHeight` latent rows.
    func bandHeight(latentHeight: Int, paddedWidth: Int) -> Int {
        max(1, min(latentHeight, bandPixels / max(1, paddedWidth * Self.stride)))
    }

    // MARK: Compression

    /// A compressed image and what the caller may report about it.
    public struct Encoded: Sendable {
        public var file: FlexzLearnedFile
        /// The `.flexz` file.
        public var bytes: [UInt8]
        /// The input as the codec sees it (no alpha, its own channels): what a perfect decoder would return.
        public var reference: RasterImage
        /// Notes for the user (alpha dropped, gray coded as RGB).
        public var notes: [String]
        /// The whole file's bits per image pixel.
        public var bitsPerPixel: Double { Double(bytes.count * 8) / Double(reference.width * reference.height) }
        /// The rANS streams' bits per image pixel (without the header, size fields and CRC).
        public var payloadBitsPerPixel: Double { Double(file.payloadBytes * 8) / Double(reference.width * reference.height) }
    }

    /// Compresses `image` to `.flexz` version-2 bytes. `name` names the image in errors.
    public func compress(_ image: RasterImage, name: String = "<image>", threads: Int = Inference.defaultThreads) throws(CodecError) -> [UInt8] {
        try encode(image, name: name, threads: threads).bytes
    }

    /// Compresses `input` and returns the file with notes and the reference image.
    public func encode(_ input: RasterImage, name: String = "<image>", threads: Int = Inference.defaultThreads) throws(CodecError) -> Encoded {
        func fail(_ m: String) -> CodecError { CodecError(file: name, m) }
        guard (1...4).contains(input.channels) else { throw fail("an image with \(input.channels) channels; expected 1 to 4") }
        if let m = imageSizeLimitMessage(width: input.width, height: input.height, maximumSide: ImageFile.maximumSide, maximumPixels: ImageFile.maximumPixels) {
            throw fail(m)
        }
        var notes: [String] = []
        var image = input
        if image.hasAlpha {
            notes.append("the alpha channel is dropped (not stored): the decoded image is opaque")
            image = image.droppingAlpha()
        }
        let reference = image
        if image.channels == 1 {
            notes.append("the model codes RGB images: the gray input is coded as RGB (gray replicated) and decodes as gray")
        }
        let s = Self.stride, wd = image.width, ht = image.height
        let h = (ht + s - 1) / s, w = (wd + s - 1) / s, pw = w * s
        let bh = bandHeight(latentHeight: h, paddedWidth: pw)
        let bands = (h + bh - 1) / bh
        let m = latentChannels, overlap = bandOverlap
        var streams: [[UInt8]] = []
        for band in 0..<bands {
            let rows = bandRange(band, bandHeight: bh, rows: h)
            let context = max(0, rows.lowerBound - overlap)..<min(h, rows.upperBound + overlap)
            let x = paddedPixels(image, rows: (context.lowerBound * s)..<(context.upperBound * s), paddedWidth: pw)
            let y: Tensor
            do { y = try analysis.forward(x, threads: threads) } catch { throw fail("the analysis transform failed: \(error)") }
            guard y.shape == [1, m, context.count, w] else {
                throw fail("the analysis transform gave latents \(y.shape) for pixel rows \(context.lowerBound * s)..<\(context.upperBound * s); expected [1, \(m), \(context.count), \(w)]")
            }
            // Symbols channel-major over the band's rows (the context rows' latents are dropped).
            let n = rows.count * w
            var symbols = [Int32](repeating: 0, count: m * n)
            var indices = [Int32](repeating: 0, count: m * n)
            y.scalars.withUnsafeBufferPointer { yb in
                for c in 0..<m {
                    let median = medians[c]
                    let src = yb.baseAddress! + (c * context.count + rows.lowerBound - context.lowerBound) * w
                    for i in 0..<n {
                        symbols[c * n + i] = quantizedSymbol(src[i], median: median)
                        indices[c * n + i] = Int32(c)
                    }
                }
            }
            do { streams.append(try RANS.encode(symbols, tableIndices: indices, tables: tables)) } catch {
                throw fail("entropy coding band \(band): \(error)")
            }
        }
        let file = FlexzLearnedFile(
            fingerprint: fingerprint, width: wd, height: ht, imageChannels: image.channels, alphaDropped: input.hasAlpha,
            latentChannels: m, latentHeight: h, latentWidth: w, bandHeight: bh, bandOverlap: overlap, bandStreams: streams)
        return Encoded(file: file, bytes: file.serialized(), reference: reference, notes: notes)
    }

    /// Rows `rows` of the image padded to `paddedWidth` (and below its last row) by repeating edge pixels, as
    /// `[1, 3, rows, paddedWidth]` with x = p / 255 (gray replicated to three channels).
    func paddedPixels(_ image: RasterImage, rows: Range<Int>, paddedWidth pw: Int) -> Tensor {
        let c = image.channels, wd = image.width
        let plane = rows.count * pw
        return Tensor(shape: [1, 3, rows.count, pw]) { buffer in
            let d = buffer.baseAddress!
            image.pixels.withUnsafeBufferPointer { px in
                for (r, y) in rows.enumerated() {
                    let sy = min(y, image.height - 1)
                    for x in 0..<pw {
                        let p = (sy * wd + min(x, wd - 1)) * c
                        for ch in 0..<3 { (d + ch * plane + r * pw + x).initialize(to: Float(px[p + (c == 1 ? 0 : ch)]) / 255) }
                    }
                }
            }
        }
    }

    // MARK: Decompression

    /// Decodes `.flexz` version-2 bytes made with this model. `name` names the file in errors.
    public func decompress(_ bytes: [UInt8], name: String, threads: Int = Inference.defaultThreads) throws(CodecError) -> RasterImage {
        try decompress(try FlexzLearnedFile.parse(bytes, name: name), name: name, threads: threads)
    }

    /// Decodes a parsed file: its model must be this one.
    public func decompress(_ f: FlexzLearnedFile, name: String, threads: Int = Inference.defaultThreads) throws(CodecError) -> RasterImage {
        func fail(_ m: String) -> CodecError { CodecError(file: name, m) }
        let symbols = try decodeSymbols(f, name: name, threads: threads)
        let s = Self.stride, m = latentChannels, h = f.latentHeight, w = f.latentWidth
        let wd = f.width, ht = f.height, pw = w * s
        var rgb = [UInt8](repeating: 0, count: wd * ht * 3)
        let overlap = bandOverlap
        for band in 0..<f.bandCount {
            let rows = f.bandRows(band)
            let context = max(0, rows.lowerBound - overlap)..<min(h, rows.upperBound + overlap)
            // ŷ = q + median for the band and its context rows (the symbols of the whole grid are kept: at most
            // M · 2^18 values under the image limit).
            var slice = [Float](repeating: 0, count: m * context.count * w)
            for c in 0..<m {
                for (r, y) in context.enumerated() {
                    for x in 0..<w { slice[(c * context.count + r) * w + x] = Float(symbols[(c * h + y) * w + x]) + medians[c] }
                }
            }
            let xhat: Tensor
            do { xhat = try synthesis.forward(Tensor(shape: [1, m, context.count, w], scalars: slice), threads: threads) } catch {
                throw fail("the synthesis transform failed: \(error)")
            }
            let lh = context.count * s
            guard xhat.shape == [1, 3, lh, pw] else {
                throw fail("the synthesis transform gave \(xhat.shape) for latent rows \(context); expected [1, 3, \(lh), \(pw)]")
            }
            let top = rows.lowerBound * s, bottom = min(ht, rows.upperBound * s), offset = top - context.lowerBound * s
            xhat.scalars.withUnsafeBufferPointer { xb in
                for y in top..<bottom {
                    for x in 0..<wd {
                        for ch in 0..<3 {
                            rgb[(y * wd + x) * 3 + ch] = pixelValue(xb[(ch * lh + y - top + offset) * pw + x])
                        }
                    }
                }
            }
        }
        if f.imageChannels == 3 { return RasterImage(width: wd, height: ht, channels: 3, pixels: rgb) }
        var gray = [UInt8](repeating: 0, count: wd * ht)
        for i in 0..<(wd * ht) {
            // The rounded mean: the sum of three values over 3 is never exactly a half.
            gray[i] = UInt8((Int(rgb[3 * i]) + Int(rgb[3 * i + 1]) + Int(rgb[3 * i + 2]) + 1) / 3)
        }
        return RasterImage(width: wd, height: ht, channels: 1, pixels: gray)
    }

    /// The file's quantised latents q, `[M, h, w]` channel-major, after checking that the file is for this
    /// model; each band's stream is decoded on its own (bands run in parallel).
    public func decodeSymbols(_ f: FlexzLearnedFile, name: String, threads: Int = Inference.defaultThreads) throws(CodecError) -> [Int32] {
        func fail(_ m: String) -> CodecError { CodecError(file: name, m) }
        guard f.fingerprint == fingerprint else {
            throw fail("the file needs the model \(f.fingerprintText); this model is \(fingerprintText)")
        }
        guard f.latentChannels == latentChannels else {
            throw fail("the file has \(f.latentChannels) latent channels (bytes 56–57); this model has \(latentChannels)")
        }
        let m = latentChannels, h = f.latentHeight, w = f.latentWidth
        var out = [Int32](repeating: 0, count: m * h * w)
        let bands = f.bandCount
        let errors = Mutex<[CodecError?]>(Array(repeating: nil, count: bands))
        let shared = Unchecked(self)
        let next = Atomic<Int>(0)
        out.withUnsafeMutableBufferPointer { ob in
            let dst = Unchecked(ob.baseAddress!)
            DispatchQueue.concurrentPerform(iterations: max(1, min(threads, bands))) { _ in
                let codec = shared.value
                while true {
                    let band = next.wrappingAdd(1, ordering: .relaxed).oldValue
                    guard band < bands else { return }
                    let rows = f.bandRows(band), n = rows.count * w
                    var indices = [Int32](repeating: 0, count: m * n)
                    for c in 0..<m { for i in 0..<n { indices[c * n + i] = Int32(c) } }
                    do {
                        let q = try RANS.decode(f.bandStreams[band], tableIndices: indices, tables: codec.tables)
                        q.withUnsafeBufferPointer { qb in
                            for c in 0..<m { (dst.value + (c * h + rows.lowerBound) * w).update(from: qb.baseAddress! + c * n, count: n) }
                        }
                    } catch {
                        errors.withLock { $0[band] = CodecError(file: name, "band \(band) (latent rows \(rows.lowerBound)..<\(rows.upperBound)): corrupt rANS stream: \(error)") }
                    }
                }
            }
        }
        if let e = errors.withLock({ $0.compactMap { $0 }.first }) { throw e }
        return out
    }
}

/// round(y − median), half away from zero, as `EntropyBottleneck.quantize`: clamped so that diverged latents
/// cannot trap the Int32 conversion (such values take the coder's escape path), NaN as 0.
@inline(__always)
func quantizedSymbol(_ y: Float, median: Float) -> Int32 {
    let q = (y - median).rounded(.toNearestOrAwayFromZero)
    return Int32(max(-1e9, min(1e9, q.isNaN ? 0 : q)))
}

/// clamp(round(255 · v), 0, 255); NaN (from hostile latents) as 0.
@inline(__always)
func pixelValue(_ v: Float) -> UInt8 {
    let p = (255 * v).rounded(.toNearestOrAwayFromZero)
    return p >= 255 ? 255 : p >= 0 ? UInt8(p) : 0
}

/// `sha256:<64 hex>` → 32 bytes, or nil.
func parseFingerprint(_ text: String) -> [UInt8]? {
    let digits = Array(text.utf8.dropFirst(7))
    guard text.hasPrefix("sha256:"), digits.count == 64 else { return nil }
    func nibble(_ c: UInt8) -> UInt8? {
        switch c {
        case 48...57: c - 48
        case 97...102: c - 87
        case 65...70: c - 55
        default: nil
        }
    }
    var out: [UInt8] = []
    for i in 0..<32 {
        guard let hi = nibble(digits[2 * i]), let lo = nibble(digits[2 * i + 1]) else { return nil }
        out.append(hi << 4 | lo)
    }
    return out
}
