import FlexCodec
import FlexRuntime

/// The shipped learned codec's quality levels: the checkpoints `codec-q1.h5`, `codec-q2.h5`, … (quality k is
/// `codec-qk.h5`, 1 the smallest files) in the first model folder that has any (`ModelSearch`'s folders:
/// FLEXCTL_MODEL_PATH, ./models, the installed models). Each is read (strictly) only when used.
final class QualityLadder {
    static let maximumLevels = 16
    static let defaultQualityText = "the second highest level"

    let folder: String
    /// Paths by quality (index 0 is quality 1).
    let paths: [String]
    let threads: Int
    private var loaded: [Int: CodecModel] = [:]

    private init(folder: String, paths: [String], threads: Int) {
        self.folder = folder
        self.paths = paths
        self.threads = threads
    }

    var count: Int { paths.count }
    /// The default quality: the second highest of the levels (like cjpeg's and cwebp's default of 75, a
    /// high quality that still saves bits).
    var defaultQuality: Int { max(1, count - 1) }

    /// The levels found by the model search, or an error saying where flexctl looked.
    static func shipped(threads: Int, search: ModelSearch = ModelSearch()) throws -> QualityLadder {
        for folder in search.folders {
            guard let names = try? directoryEntries(folder) else { continue }
            var byQuality: [Int: String] = [:]
            for n in names where n.hasPrefix("codec-q") && n.hasSuffix(".h5") {
                if let q = Int(n.dropFirst("codec-q".count).dropLast(3)), (1...maximumLevels).contains(q) {
                    byQuality[q] = folder + "/" + n
                }
            }
            guard !byQuality.isEmpty else { continue }
            let count = byQuality.keys.max()!
            guard byQuality.count == count else {
                let missing = (1...count).filter { byQuality[$0] == nil }.map { "codec-q\($0).h5" }
                throw CLIError("\(folder): the learned codec's quality levels are incomplete (missing \(missing.joined(separator: ", "))); give a model with --model")
            }
            return QualityLadder(folder: folder, paths: (1...count).map { byQuality[$0]! }, threads: threads)
        }
        throw CLIError("no learned codec found (codec-q1.h5 … in \(search.folders.joined(separator: ", "))); give a model with --model, or add the models folder to FLEXCTL_MODEL_PATH")
    }

    /// The model of quality `q` (1-based), read on first use.
    func model(quality q: Int) throws -> CodecModel {
        guard (1...count).contains(q) else {
            throw CLIError("--quality \(q): the shipped learned codec has quality levels 1…\(count) (in \(folder))")
        }
        if let m = loaded[q] { return m }
        let m = try CodecModel.load(paths[q - 1], threads: threads)
        guard case .learned = m.engine else { throw CLIError("\(paths[q - 1]): not a learned codec (image-codec) checkpoint") }
        loaded[q] = m
        return m
    }
}

extension CompressImageCommand {
    /// One image coded by the learned codec: `model` when given, else the shipped level chosen by --quality,
    /// --target-bpp or --max-bytes.
    func encodeLearned(_ image: RasterImage, name: String, threads: Int, model: CodecModel?, ladder: QualityLadder?) throws
        -> (encoded: LearnedCodec.Encoded, model: CodecModel, quality: Int?) {
        func encode(_ m: CodecModel) throws -> LearnedCodec.Encoded {
            guard case let .learned(codec) = m.engine else { throw CLIError("\(m.path): not a learned codec") }
            return try codec.encode(image, name: name, threads: threads)
        }
        if let model { return (try encode(model), model, nil) }
        guard let ladder else { throw CLIError("no learned codec to use") }
        let pixels = image.width * image.height
        if targetBpp != nil || maxBytes != nil {
            // From the highest level down: the first file that fits is the best quality that fits (file sizes
            // grow with the level).
            var smallest: (LearnedCodec.Encoded, CodecModel, Int)?
            for q in stride(from: ladder.count, through: 1, by: -1) {
                let m = try ladder.model(quality: q)
                let e = try encode(m)
                let fits = maxBytes.map { e.bytes.count <= $0 } ?? (Double(e.bytes.count * 8) / Double(pixels) <= targetBpp!)
                if fits { return (e, m, q) }
                smallest = (e, m, q)
            }
            let (e, m, q) = smallest!
            if let maxBytes {
                throw CLIError("\(name): does not fit in \(maxBytes) bytes: the lowest quality (1) needs \(e.bytes.count) bytes; nothing written")
            }
            writeError("note: \(name): no quality reaches \(targetBpp!) bits per pixel; using the lowest (1), \(cFormat("%.4f", Double(e.bytes.count * 8) / Double(pixels))) bpp\n")
            return (e, m, q)
        }
        let q = quality ?? ladder.defaultQuality
        let m = try ladder.model(quality: q)
        return (try encode(m), m, q)
    }

    /// `compress` of one image with the learned codec, writing `out` and the report.
    func compressLearned(_ image: RasterImage, name: String, inputBytes: Int, out: String, threads: Int, start: Double,
                         model: CodecModel? = nil) throws {
        let ladder = model == nil ? try QualityLadder.shipped(threads: threads) : nil
        let t0 = monotonicSeconds()
        let (e, m, q) = try encodeLearned(image, name: name, threads: threads, model: model, ladder: ladder)
        let t1 = monotonicSeconds()
        for n in e.notes { writeError("note: \(n)\n") }
        try writeOutput(e.bytes, to: out, overwrite: overwrite)
        guard wantsReport, case let .learned(codec) = m.engine else { return }
        let decoded = try codec.decompress(e.file, name: out, threads: threads)
        let d = imageDistortion(decoded, e.reference)
        let r = CompressReport(
            input: name, width: image.width, height: image.height, channels: channelName(image.channels),
            inputBytes: inputBytes, model: m.path, codec: "learned", quality: q, lambda: m.lambda.map(JSONNumber.init),
            latentShape: [e.file.latentChannels, e.file.latentHeight, e.file.latentWidth], bands: e.file.bandCount,
            output: out == "-" ? "<stdout>" : out, outputBytes: e.bytes.count,
            compressionRatio: JSONNumber(Double(inputBytes) / Double(e.bytes.count)),
            bitsPerPixel: JSONNumber(e.bitsPerPixel), psnrDb: JSONNumber(d.psnr), mse: JSONNumber(d.mse),
            comparedChannels: e.reference.channels == 3 ? "RGB" : "gray",
            totalMs: JSONNumber((monotonicSeconds() - start) * 1000), compressMs: JSONNumber((t1 - t0) * 1000))
        let text = r.rendered(reportFormat.resolved)
        if out == "-" { writeError(text) } else { writeOutput(text) }
    }
}
