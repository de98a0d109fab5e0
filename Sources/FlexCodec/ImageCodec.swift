import FlexRuntime

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Compresses images with an auto-encoder checkpoint into `.flexz` files and back (docs/flexz-format.md).
///
/// Compression: the image (alpha dropped, channels converted to the model's: gray → RGB replicates, RGB →
/// gray takes BT.601 luma) is cut into tiles of the model's input size, the last row and column of tiles
/// padded by repeating the image's edge pixels; the encoder maps each tile to its code; each code channel c
/// is quantised uniformly to N bits over its range [min_c, max_c] over all tiles and positions:
/// q = round((v − offset_c) / scale_c) with offset_c = min_c, scale_c = (max_c − min_c) / (2^N − 1)
/// (scale 0 and q = 0 for a constant channel). Decompression inverts each step: v̂ = offset_c + q · scale_c,
/// the decoder gives the tiles, the tiles are stitched and cropped, and the channels converted back to the
/// image's (an RGB reconstruction of a gray image becomes gray by BT.601 luma).
public struct ImageCodec: Sendable {
    public let session: ImageCodecSession
    /// Tiles per forward pass (bounds the memory for large images).
    public var tilesPerBatch = 1024

    /// A codec for an image auto-encoder checkpoint; other checkpoints are refused, naming `file`.
    public init(checkpoint: Checkpoint, file: String, threads: Int = Inference.defaultThreads) throws(CodecError) {
        guard checkpoint.task == .imageAutoencoder else {
            throw CodecError(file: file, "this checkpoint is a \(checkpoint.task.rawValue), not an image auto-encoder; compress and decompress need a CAE model (e.g. models/cae2-p-e2-relu-fashion-mnist.h5)")
        }
        do { session = try ImageCodecSession(checkpoint: checkpoint, threads: threads) } catch {
            throw CodecError(file: file, "cannot use this model as an image codec: \(error)")
        }
        let s = session.inputShape
        guard s.count == 3, s[0] == 1 || s[0] == 3 else {
            throw CodecError(file: file, "the model's input is \(s); the codec needs 1 or 3 channels")
        }
    }

    public var channels: Int { session.inputShape[0] }
    public var tileHeight: Int { session.inputShape[1] }
    public var tileWidth: Int { session.inputShape[2] }

    /// What `compress` did besides coding: notes for the user and the image it coded (for `--report`).
    public struct Compressed: Sendable {
        public var file: FlexzFile
        /// The input as the codec sees it (no alpha, its own channels): what a perfect decoder would return.
        public var reference: RasterImage
        public var notes: [String]
    }

    public func compress(_ input: RasterImage, bits: Int, fingerprint: String) throws -> Compressed {
        precondition((1...16).contains(bits))
        var notes: [String] = []
        var image = input
        if image.hasAlpha {
            notes.append("the alpha channel is dropped (not stored): the decoded image is opaque")
            image = image.droppingAlpha()
        }
        // What a perfect decoder returns: gray for a gray model, the input's own channels for an RGB model.
        let reference = image.channels > channels ? image.converted(toChannels: channels) : image
        if image.channels != channels {
            notes.append(channels == 1
                ? "the model codes gray images: the RGB input is converted to BT.601 luma and decodes as gray"
                : "the model codes RGB images: the gray input is coded as RGB (gray replicated) and decodes as gray")
            image = image.converted(toChannels: channels)
        }
        let th = tileHeight, tw = tileWidth, c = channels
        let across = (image.width + tw - 1) / tw, down = (image.height + th - 1) / th
        let tiles = across * down
        let codeShape = session.codeShape
        let perTile = codeShape.reduce(1, *)
        var code = [Float](repeating: 0, count: tiles * perTile)
        var t0 = 0
        while t0 < tiles {
            let t1 = min(tiles, t0 + tilesPerBatch)
            var px = [UInt8](repeating: 0, count: (t1 - t0) * c * th * tw)
            for t in t0..<t1 {
                let ty = t / across, tx = t % across
                for ch in 0..<c {
                    for y in 0..<th {
                        let sy = min(ty * th + y, image.height - 1)
                        let base = ((t - t0) * c + ch) * th * tw + y * tw
                        for x in 0..<tw {
                            let sx = min(tx * tw + x, image.width - 1)
                            px[base + x] = image.pixels[(sy * image.width + sx) * c + ch]
                        }
                    }
                }
            }
            let y = try session.encode(try session.modelInput(pixels: px, count: t1 - t0))
            for i in 0..<y.scalars.count { code[t0 * perTile + i] = y.scalars[i] }
            t0 = t1
        }
        // Per code channel range over every tile and position.
        let cc = codeShape[0], plane = perTile / cc
        var offsets = [Float](repeating: 0, count: cc), scales = [Float](repeating: 0, count: cc)
        let levels = Float((1 << bits) - 1)
        for k in 0..<cc {
            var lo = Float.infinity, hi = -Float.infinity
            for t in 0..<tiles {
                let base = t * perTile + k * plane
                for i in 0..<plane { lo = min(lo, code[base + i]); hi = max(hi, code[base + i]) }
            }
            offsets[k] = lo
            scales[k] = hi > lo ? (hi - lo) / levels : 0
        }
        var q = [UInt16](repeating: 0, count: code.count)
        for t in 0..<tiles {
            for k in 0..<cc where scales[k] > 0 {
                let base = t * perTile + k * plane
                for i in 0..<plane {
                    let v = ((code[base + i] - offsets[k]) / scales[k]).rounded()
                    q[base + i] = UInt16(min(levels, max(0, v)))
                }
            }
        }
        let file = FlexzFile(
            fingerprint: fingerprintBytes(fingerprint), width: image.width, height: image.height,
            imageChannels: min(reference.channels, c), codedChannels: c, bits: bits, alphaDropped: input.hasAlpha,
            tileWidth: tw, tileHeight: th, tilesAcross: across, tilesDown: down, codeChannels: cc,
            codeHeight: codeShape[1], codeWidth: codeShape[2], offsets: offsets, scales: scales, codes: q)
        return Compressed(file: file, reference: reference, notes: notes)
    }

    /// Decodes a parsed `.flexz` file with this model (whose fingerprint and shapes the caller has matched).
    public func decompress(_ f: FlexzFile, name: String) throws -> RasterImage {
        guard f.codedChannels == channels, f.tileWidth == tileWidth, f.tileHeight == tileHeight else {
            throw CodecError(file: name, "the file was coded as \(f.codedChannels)×\(f.tileHeight)×\(f.tileWidth) tiles; this model takes \(channels)×\(tileHeight)×\(tileWidth)")
        }
        let codeShape = session.codeShape
        guard [f.codeChannels, f.codeHeight, f.codeWidth] == codeShape else {
            throw CodecError(file: name, "the file's code is \(f.codeChannels)×\(f.codeHeight)×\(f.codeWidth) per tile; this model's encoder gives \(codeShape.map(String.init).joined(separator: "×"))")
        }
        let perTile = f.valuesPerTile, plane = perTile / f.codeChannels
        let th = tileHeight, tw = tileWidth, c = channels
        var out = [UInt8](repeating: 0, count: f.width * f.height * c)
        var t0 = 0
        while t0 < f.tileCount {
            let t1 = min(f.tileCount, t0 + tilesPerBatch)
            var values = [Float](repeating: 0, count: (t1 - t0) * perTile)
            for t in t0..<t1 {
                for k in 0..<f.codeChannels {
                    let base = t * perTile + k * plane
                    for i in 0..<plane {
                        values[(t - t0) * perTile + k * plane + i] = f.offsets[k] + Float(f.codes[base + i]) * f.scales[k]
                    }
                }
            }
            let images = try session.decode(Tensor(shape: [t1 - t0] + codeShape, scalars: values))
            let px = session.pixels(images)
            for t in t0..<t1 {
                let ty = t / f.tilesAcross, tx = t % f.tilesAcross
                for y in 0..<th {
                    let oy = ty * th + y
                    guard oy < f.height else { break }
                    for x in 0..<tw {
                        let ox = tx * tw + x
                        guard ox < f.width else { break }
                        for ch in 0..<c {
                            out[(oy * f.width + ox) * c + ch] = px[((t - t0) * c + ch) * th * tw + y * tw + x]
                        }
                    }
                }
            }
            t0 = t1
        }
        let decoded = RasterImage(width: f.width, height: f.height, channels: c, pixels: out)
        return decoded.channels == f.imageChannels ? decoded : decoded.converted(toChannels: f.imageChannels)
    }
}

/// `sha256:<64 hex>` → 32 bytes (zeros for anything else; checkpoints always have the `sha256:` form).
func fingerprintBytes(_ text: String) -> [UInt8] {
    parseFingerprint(text) ?? [UInt8](repeating: 0, count: 32)
}

/// Mean squared error and PSNR (peak 255) of two images of the same size and channels.
public func imageDistortion(_ a: RasterImage, _ b: RasterImage) -> (mse: Double, psnr: Double) {
    precondition(a.width == b.width && a.height == b.height && a.channels == b.channels)
    var s = 0.0
    for i in 0..<a.pixels.count { let d = Double(a.pixels[i]) - Double(b.pixels[i]); s += d * d }
    let mse = s / Double(a.pixels.count)
    return (mse, mse == 0 ? .infinity : 10 * log10(255.0 * 255.0 / mse))
}
