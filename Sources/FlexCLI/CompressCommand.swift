import ArgumentParser
import FlexCodec
import FlexIO
import FlexPlot
import FlexRuntime

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// `flexctl compress [image] INPUT --model MODEL.h5`: `image` is the default subcommand, so `compress` takes
/// the file directly as `decompress` does (`flexctl compress photo.png --model m.h5`), and `compress image`
/// keeps working.
public struct CompressCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "compress",
        abstract: "Compress an image with a trained model (the 'image' subcommand is the default).",
        discussion: """
        `flexctl compress INPUT --model MODEL.h5 ...` is `flexctl compress image INPUT --model MODEL.h5 ...`: \
        see `flexctl compress image --help` for the options.
        """,
        subcommands: [CompressImageCommand.self],
        defaultSubcommand: CompressImageCommand.self)
    public init() {}
}

/// `flexctl compress image INPUT --model MODEL.h5 [--output OUT.flexz] [--bits N] [--report]`.
struct CompressImageCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "image",
        abstract: "Compress an image (PNG, JPEG, PGM, PPM) with a CAE checkpoint into a .flexz file.",
        discussion: """
        Images of any size are cut into tiles of the model's input size (edge pixels repeated to fill the \
        last tiles) and stitched back by decompress. An RGB image given to a gray model is coded as its \
        BT.601 luma (and decodes as gray); a gray image given to an RGB model is coded with gray replicated \
        (and decodes as gray). Alpha is dropped, with a note. The code is quantised per channel to --bits \
        bits and compressed with zlib; the file records the model's fingerprint (docs/flexz-format.md). \
        INPUT "-" reads standard input and OUTPUT "-" writes standard output. The format is recognised by \
        content; a JPEG's EXIF orientation is not applied. A folder as INPUT compresses every \
        .png/.jpg/.jpeg/.pgm/.ppm in it into the --output folder. Outputs are written atomically; existing files \
        are replaced only with --overwrite, and the input never.
        """)

    @Argument(help: ArgumentHelp("The image (PNG, JPEG, PGM, PPM), '-' for standard input, or a folder.", valueName: "input"),
              completion: .file())
    var input: String

    @Option(help: ArgumentHelp("The checkpoint: a learned codec (image-codec) or an auto-encoder (default: the shipped learned codec at --quality).", valueName: "model.h5"),
            completion: .file())
    var model: String?

    @Option(help: "Quality level of the shipped learned codec, 1 (smallest files) to the number of shipped levels (default: \(QualityLadder.defaultQualityText)).")
    var quality: Int?

    @Option(name: .customLong("target-bpp"), help: "Use the highest quality whose file has at most this many bits per pixel (the lowest if none does).")
    var targetBpp: Double?

    @Option(name: .customLong("max-bytes"), help: "Use the highest quality whose file has at most this many bytes; fails if even the lowest does not fit.")
    var maxBytes: Int?

    @Option(name: [.short, .long], help: ArgumentHelp("The .flexz file, '-' for standard output, or a folder for a folder input (default: INPUT with .flexz).", valueName: "out.flexz"))
    var output: String?

    @Option(help: "Bits per code value of an auto-encoder model, \(OptionBounds.bits.text) (default 8).")
    var bits: Int?

    @Flag(help: "Print sizes, bits per pixel, PSNR and MSE of the decoded result, and the time taken.")
    var report = false

    @OptionGroup(title: "Report format (--format or --json imply --report)")
    var reportFormat: OutputOptions

    @Option(help: "Worker threads, \(OptionBounds.threads.text) (default: the number of processors).")
    var threads: Int?

    @Flag(help: "Replace existing output files (never the input).")
    var overwrite = false

    func validate() throws {
        if let o = output, o != "-", !isDirectory(input), ImageFile.isReadable(path: o) {
            let ext = o.split(separator: ".").last.map(String.init) ?? o
            throw ValidationError("--output '\(o)': a .\(ext) name for a .flexz file; use a .flexz name")
        }
        try OptionBounds.bits.check(bits, "--bits")
        let choices = [(quality != nil, "--quality"), (targetBpp != nil, "--target-bpp"), (maxBytes != nil, "--max-bytes")].filter(\.0)
        if choices.count > 1 {
            throw ValidationError("\(choices.map(\.1).joined(separator: " and ")) each choose the quality; give one of them")
        }
        if let m = choices.first, model != nil {
            throw ValidationError("\(m.1) chooses among the shipped learned codec's quality levels; leave out --model (or leave out \(m.1) to use that model)")
        }
        if let q = quality, !(1...QualityLadder.maximumLevels).contains(q) { throw ValidationError("--quality \(q): expected 1...\(QualityLadder.maximumLevels)") }
        if let t = targetBpp, !(t.isFinite && t > 0 && t <= 64) { throw ValidationError("--target-bpp \(t): expected a number in (0, 64]") }
        if let b = maxBytes, b < 1 { throw ValidationError("--max-bytes \(b): expected a positive number of bytes") }
        if bits != nil, model == nil { throw ValidationError("--bits applies to auto-encoder models (--model CAE.h5); the learned codec chooses its rate with --quality") }
        try OptionBounds.threads.check(threads, "--threads")
        try checkFolderOutputOption(input: input, output: output, fileExtensions: ["flexz"])
        if wantsReport, isDirectory(input) {
            throw ValidationError("--report describes one file; leave it out (and --format, --json) for a folder input")
        }
    }

    var wantsReport: Bool { report || reportFormat.format != nil || reportFormat.json }

    func run() throws {
        let start = monotonicSeconds()
        if isDirectory(input), let output {
            try compressFolder(output: output)
            return
        }
        let out = output ?? (input == "-" ? "-" : replacingExtension(input, with: "flexz"))
        try checkOutput(out, input: input, overwrite: overwrite)
        let bytes = try readInput(input, maxBytes: ImageFile.maximumFileBytes)
        let name = input == "-" ? "<stdin>" : input
        let image = try ImageFile.decode(bytes, name: name)
        // Small images run on one thread: starting worker threads would cost more than it saves.
        let threadCount = threads ?? CodecModel.threads(forPixels: image.width * image.height)
        guard let model else {
            return try compressLearned(image, name: name, inputBytes: bytes.count, out: out, threads: threadCount, start: start)
        }
        let codecModel = try CodecModel.load(model, threads: threadCount)
        if case .learned = codecModel.engine {
            if bits != nil { _ = try codecModel.autoencoder("--bits") }
            return try compressLearned(image, name: name, inputBytes: bytes.count, out: out, threads: threadCount, start: start,
                                       model: codecModel)
        }
        let codec = try codecModel.autoencoder("--bits")
        let bits = self.bits ?? 8
        let t0 = monotonicSeconds()
        let c = try codec.compress(image, bits: bits, fingerprint: codecModel.fingerprint)
        let data = c.file.serialized()
        let t1 = monotonicSeconds()
        for n in c.notes { writeError("note: \(n)\n") }
        try writeOutput(data, to: out, overwrite: overwrite)
        if wantsReport {
            let decoded = try codec.decompress(c.file, name: out)
            let d = imageDistortion(decoded, c.reference)
            let r = CompressReport(
                input: name, width: image.width, height: image.height, channels: channelName(image.channels),
                inputBytes: bytes.count, model: model, codec: "autoencoder",
                codeShape: [c.file.codeChannels, c.file.codeHeight, c.file.codeWidth],
                tileShape: [c.file.tileHeight, c.file.tileWidth], tiles: [c.file.tilesDown, c.file.tilesAcross],
                bits: bits, output: out == "-" ? "<stdout>" : out, outputBytes: data.count,
                compressionRatio: JSONNumber(Double(bytes.count) / Double(data.count)),
                bitsPerPixel: JSONNumber(Double(data.count * 8) / Double(image.width * image.height)),
                psnrDb: JSONNumber(d.psnr), mse: JSONNumber(d.mse), comparedChannels: c.reference.channels == 3 ? "RGB" : "gray",
                totalMs: JSONNumber((monotonicSeconds() - start) * 1000), compressMs: JSONNumber((t1 - t0) * 1000))
            let text = r.rendered(reportFormat.resolved)
            // With the .flexz on standard output, the report must not mix into it.
            if out == "-" { writeError(text) } else { writeOutput(text) }
        }
    }

    private func compressFolder(output: String) throws {
        let chosen = try model.map { try CodecModel.load($0, threads: threads) }
        let ladder = chosen == nil ? try QualityLadder.shipped(threads: threads ?? OptionBounds.defaultThreads) : nil
        let files = try imageFiles(in: input)
        guard !files.isEmpty else { throw CLIError("\(input): no .png, .jpg, .jpeg, .pgm or .ppm files in this folder") }
        try checkFolderOutputs(files.map { replacingExtension($0, with: "flexz") }, sources: files, folder: output, overwrite: overwrite)
        var bytesIn = 0, bytesOut = 0
        try runFolderJob(files, into: output, noun: "images", verb: "compressed") { f in
            let src = input + "/" + f
            let bytes = try readInput(src, maxBytes: ImageFile.maximumFileBytes)
            let image = try ImageFile.decode(bytes, name: src)
            let data: [UInt8]
            if let chosen, case let .autoencoder(codec) = chosen.engine {
                data = try codec.compress(image, bits: bits ?? 8, fingerprint: chosen.fingerprint).file.serialized()
            } else {
                data = try encodeLearned(image, name: src, threads: threads ?? OptionBounds.defaultThreads,
                                         model: chosen, ladder: ladder).encoded.bytes
            }
            try writeOutput(data, to: output + "/" + replacingExtension(f, with: "flexz"), overwrite: overwrite, durable: false)
            bytesIn += bytes.count
            bytesOut += data.count
        } summary: { ": \(bytesIn) → \(bytesOut) bytes" }
    }
}

/// `flexctl decompress INPUT.flexz --output OUT.png [--model MODEL.h5]`.
public struct DecompressCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "decompress",
        abstract: "Decode a .flexz file into an image (PNG, PGM or PPM).",
        discussion: """
        Without --model, looks for the checkpoint whose fingerprint the file records in the folders listed in \
        FLEXCTL_MODEL_PATH (separated by ':'), then in ./models, then in the installed models folder \
        (<dir of flexctl>/../share/flexctl/models). A model with another fingerprint is refused, naming both. INPUT "-" reads standard input; OUTPUT "-" writes a PNG to standard output. A folder as \
        INPUT decodes every .flexz in it into the --output folder (as PNG). Outputs are written atomically; existing \
        files are replaced only with --overwrite.
        """)

    @Argument(help: ArgumentHelp("The .flexz file, '-' for standard input, or a folder.", valueName: "input.flexz"), completion: .file())
    var input: String

    @Option(name: [.short, .long], help: ArgumentHelp("The image to write (.png, .pgm, .ppm), '-' for standard output (PNG), or a folder (default: INPUT with .png).", valueName: "out.png"))
    var output: String?

    @Option(help: ArgumentHelp("The auto-encoder checkpoint (default: found by fingerprint).", valueName: "model.h5"), completion: .file())
    var model: String?

    @Option(help: "Worker threads, \(OptionBounds.threads.text) (default: the number of processors).")
    var threads: Int?

    @Flag(help: "Replace existing output files.")
    var overwrite = false

    @Flag(help: "Print the input and output sizes, the image, the model used and the time taken.")
    var report = false

    @OptionGroup(title: "Report format (--format or --json imply --report)")
    var reportFormat: OutputOptions

    public init() {}

    var wantsReport: Bool { report || reportFormat.format != nil || reportFormat.json }

    public func validate() throws {
        if let o = output, o != "-", !isDirectory(o), !isDirectory(input), ImageFile.format(forPath: o) == nil {
            let jpeg = ImageFile.isReadable(path: o)  // .jpg/.jpeg: read by compress, never written
            throw ValidationError("--output '\(o)': unsupported extension; use .png, .pgm or .ppm\(jpeg ? " (flexctl reads JPEG but does not write it)" : "")")
        }
        try OptionBounds.threads.check(threads, "--threads")
        try checkFolderOutputOption(input: input, output: output, fileExtensions: ["png", "pgm", "ppm"])
        if wantsReport, isDirectory(input) {
            throw ValidationError("--report describes one file; leave it out (and --format, --json) for a folder input")
        }
    }

    public func run() throws {
        let start = monotonicSeconds()
        if isDirectory(input), let output {
            let files = try folderEntries(input).filter { $0.lowercased().hasSuffix(".flexz") }.sorted()
            guard !files.isEmpty else { throw CLIError("\(input): no .flexz files in this folder") }
            try checkFolderOutputs(files.map { replacingExtension($0, with: "png") }, sources: files, folder: output, overwrite: overwrite)
            var models: [String: CodecModel] = [:]
            let search = ModelSearch()
            try runFolderJob(files, into: output, noun: "files", verb: "decompressed") { f in
                let src = input + "/" + f
                let bytes = try readInput(src, maxBytes: FlexzFile.maximumFileBytes)
                let image = try decode(bytes, name: src, threads: threads) { fingerprint in
                    let m = try models[fingerprint] ?? resolveModel(fingerprint: fingerprint, name: src, threads: threads, search: search)
                    models[fingerprint] = m
                    return m
                }.image
                try writeOutput(try ImageFile.encode(image, format: .png, name: src),
                                to: output + "/" + replacingExtension(f, with: "png"), overwrite: overwrite, durable: false)
            }
            return
        }
        let out = output ?? (input == "-" ? "-" : replacingExtension(input, with: "png"))
        try checkOutput(out, input: input, overwrite: overwrite)
        let format = out == "-" ? .png : (ImageFile.format(forPath: out) ?? .png)
        let name = input == "-" ? "<stdin>" : input
        let bytes = try readInput(input, maxBytes: FlexzFile.maximumFileBytes)
        let (image, m) = try decode(bytes, name: name, threads: threads) { fingerprint in
            try resolveModel(fingerprint: fingerprint, name: name, threads: threads, search: ModelSearch())
        }
        let encoded = try ImageFile.encode(image, format: format, name: out)
        try writeOutput(encoded, to: out, overwrite: overwrite)
        if wantsReport {
            let r = DecompressReport(
                input: name, inputBytes: bytes.count, model: m.path, fingerprint: m.fingerprint,
                width: image.width, height: image.height, channels: channelName(image.channels),
                output: out == "-" ? "<stdout>" : out, outputBytes: encoded.count,
                totalMs: JSONNumber((monotonicSeconds() - start) * 1000))
            let text = r.rendered(reportFormat.resolved)
            if out == "-" { writeError(text) } else { writeOutput(text) }
        }
    }

    /// Decodes a `.flexz` of either version. The model is found (and its fingerprint compared) from the header
    /// alone, before the payload is inflated or decoded.
    private func decode(_ bytes: [UInt8], name: String, threads: Int?,
                        model find: (String) throws -> CodecModel) throws -> (image: RasterImage, model: CodecModel) {
        if try FlexzFormat.version(of: bytes, name: name) == 2 {
            let file = try FlexzLearnedFile.parse(bytes, name: name)
            let m = try find(file.fingerprintText)
            guard case let .learned(codec) = m.engine else {
                throw CLIError("\(m.path) is an auto-encoder; \(name) (.flexz version 2) needs the learned codec it was made with")
            }
            return (try codec.decompress(file, name: name, threads: threads ?? CodecModel.threads(forPixels: file.width * file.height)), m)
        }
        let header = try FlexzFile.parse(bytes, name: name, decodingPayload: false)
        let m = try find(header.fingerprintText)
        guard case let .autoencoder(codec) = m.engine else {
            throw CLIError("\(m.path) is a learned codec; \(name) (.flexz version 1) needs the auto-encoder it was made with")
        }
        return (try codec.decompress(try FlexzFile.parse(bytes, name: name), name: name), m)
    }

    private func resolveModel(fingerprint: String, name: String, threads: Int?, search: ModelSearch) throws -> CodecModel {
        if let model {
            let m = try CodecModel.load(model, threads: threads)
            guard m.fingerprint == fingerprint else {
                throw CLIError("\(name) was compressed with the model \(fingerprint); \(model) is \(m.fingerprint). Use the model the file was made with")
            }
            return m
        }
        guard let (path, checkpoint) = search.checkpoint(withFingerprint: fingerprint) else {
            let skipped = search.skipped == 0 ? "" : " (\(search.skipped) file\(search.skipped == 1 ? "" : "s") skipped, see the notes above)"
            throw CLIError("\(name) needs the model \(fingerprint); no checkpoint with that fingerprint in \(search.folders.joined(separator: ", "))\(skipped); give it with --model, or add its folder to FLEXCTL_MODEL_PATH")
        }
        return try CodecModel(checkpoint: checkpoint, path: path, threads: threads)
    }
}

/// The model search of `decompress` without `--model`: the `*.h5` files of, in this order,
/// 1. each folder in `FLEXCTL_MODEL_PATH` (separated by `:`; empty entries ignored),
/// 2. `./models` (the repository's shipped models when run from a clone),
/// 3. the installed models folder, `<folder of the flexctl executable>/../share/flexctl/models` (what
///    `scripts/install PREFIX` fills: PREFIX/bin/flexctl and PREFIX/share/flexctl/models),
/// each folder's names sorted, a folder listed twice searched once; the first one that loads and whose
/// fingerprint is the one asked for wins (docs/cli.md, "Finding the model").
///
/// Every candidate is loaded in full with `Checkpoint.read(from:)`, the strict reader, never peeked at with
/// libhdf5 directly: that reader is the one way in that is safe on a crafted file, and it verifies the stored
/// fingerprint against the weights, so a damaged file that carries the right fingerprint cannot hide a good
/// one after it. Anything that is not a regular file (a FIFO would block the search forever, a folder or a
/// device is no checkpoint) and any candidate that fails to load is skipped with one note on standard error
/// naming it and the reason. Each candidate is examined at most once per search, so a folder job with several
/// models does not repeat the notes; only its fingerprint is kept, and a candidate that turns out to be the
/// model of a later file is read again then (checkpoints are not kept in memory on speculation).
final class ModelSearch {
    let folders: [String]
    /// Candidates skipped so far (not regular files, or refused by the reader).
    private(set) var skipped = 0
    private var candidates: [String]?
    private var examined = 0
    /// Fingerprint → path of every candidate loaded so far (the first one for a fingerprint).
    private var seen: [String: String] = [:]

    /// `modelPath`: the value of `FLEXCTL_MODEL_PATH`; `executable`: the path of the flexctl executable (nil:
    /// no installed folder is searched).
    init(modelPath: String? = environmentValue("FLEXCTL_MODEL_PATH"), executable: String? = executablePath()) {
        self.folders = Self.folders(modelPath: modelPath, executable: executable)
    }

    /// The folders searched, in order (see the type's description).
    static func folders(modelPath: String?, executable: String?) -> [String] {
        var folders = (modelPath ?? "").split(separator: ":").map(String.init).filter { !$0.isEmpty }
        folders.append("models")
        if let executable { folders.append(installedModelsFolder(executable: executable)) }
        var unique: [String] = []
        for f in folders where !unique.contains(where: { $0 == f || sameFile($0, f) }) { unique.append(f) }
        return unique
    }

    /// `<folder of the executable>/../share/flexctl/models`, written without the `..`: `/usr/local/bin/flexctl` →
    /// `/usr/local/share/flexctl/models`.
    static func installedModelsFolder(executable: String) -> String {
        let bin = parentPath(executable)
        let prefix = parentPath(bin.isEmpty ? "." : bin)
        return (prefix.isEmpty ? "." : prefix == "/" ? "" : prefix) + "/share/flexctl/models"
    }

    /// The first checkpoint (path and contents) whose fingerprint is `fingerprint`, or nil.
    func checkpoint(withFingerprint fingerprint: String) -> (String, Checkpoint)? {
        // A candidate loaded earlier in this search (a folder job with several models) had this fingerprint.
        if let path = seen[fingerprint], let c = load(path), c.fingerprint == fingerprint { return (path, c) }
        let all = listCandidates()
        while examined < all.count {
            let path = all[examined]
            examined += 1
            guard let c = load(path) else { continue }
            if seen[c.fingerprint] == nil { seen[c.fingerprint] = path }
            if c.fingerprint == fingerprint { return (path, c) }
        }
        return nil
    }

    private func listCandidates() -> [String] {
        if let candidates { return candidates }
        var list: [String] = []
        for folder in folders {
            let names: [String]
            do { names = try directoryEntries(folder) } catch {
                // A folder that does not exist is simply not searched; one that exists but cannot be listed
                // (no permission, not a folder) is worth a note.
                if error.code != ENOENT {
                    writeError("note: cannot search \(folder) for models: \(error.reason)\n")
                }
                continue
            }
            list += names.filter { $0.hasSuffix(".h5") }.sorted().map { folder + "/" + $0 }
        }
        candidates = list
        return list
    }

    /// The candidate's checkpoint, or nil after a note saying why it was skipped.
    private func load(_ path: String) -> Checkpoint? {
        if let kind = Self.notRegularFile(path) {
            skip(path, kind)
            return nil
        }
        do { return try Checkpoint.read(from: path) } catch {
            let first = error.problems.first?.description ?? "cannot read the checkpoint"
            let more = error.problems.count > 1 ? " (and \(error.problems.count - 1) more problems)" : ""
            skip(path, first + more)
            return nil
        }
    }

    private func skip(_ path: String, _ reason: String) {
        skipped += 1
        writeError("note: skipping \(path): \(reason)\n")
    }

    /// Why `path` is not a regular file (`is a FIFO`, ...), or nil if it is one. Symbolic links are followed:
    /// a link to a checkpoint is a checkpoint.
    static func notRegularFile(_ path: String) -> String? {
        var st = stat()
        guard stat(path, &st) == 0 else {
            let code = errno
            return code == ENOENT ? "a broken symbolic link" : "cannot read it (\(String(cString: strerror(code))))"
        }
        switch st.st_mode & S_IFMT {
        case S_IFREG: return nil
        case S_IFDIR: return "is a folder"
        case S_IFIFO: return "is a FIFO"
        case S_IFCHR: return "is a character device"
        case S_IFBLK: return "is a block device"
        case S_IFSOCK: return "is a socket"
        default: return "is not a regular file"
        }
    }
}

/// A checkpoint loaded as an image codec: a CAE (`image-autoencoder`, tiles, `.flexz` version 1) or a learned
/// codec (`image-codec`, whole images, `.flexz` version 2).
struct CodecModel {
    enum Engine {
        case autoencoder(ImageCodec)
        case learned(LearnedCodec)
    }
    var engine: Engine
    var fingerprint: String
    /// The checkpoint's path.
    var path: String
    /// The learned codec's training λ (nil for a CAE).
    var lambda: Double?
    /// Worker threads for the learned codec (the CAE's session holds its own).
    var threads: Int

    /// Worker threads for one image of `pixels` pixels: one below 64 × 64 pixels, all processors above.
    static func threads(forPixels pixels: Int) -> Int { pixels <= 64 * 64 ? 1 : OptionBounds.defaultThreads }

    static func load(_ path: String, threads: Int?) throws -> CodecModel {
        try CodecModel(checkpoint: try Checkpoint.read(from: path), path: path, threads: threads)
    }

    /// The codec of a checkpoint already read from `path`.
    init(checkpoint: Checkpoint, path: String, threads: Int?) throws {
        self.threads = threads ?? OptionBounds.defaultThreads
        switch checkpoint.task {
        case .imageCodec:
            engine = .learned(try LearnedCodec(checkpoint: checkpoint, file: path))
            if case let .codec(spec) = checkpoint.input { lambda = spec.lambda }
        default:
            engine = .autoencoder(try ImageCodec(checkpoint: checkpoint, file: path, threads: self.threads))
        }
        fingerprint = checkpoint.fingerprint
        self.path = path
    }

    /// The CAE codec, or an error naming the model for a learned one (`--bits` and tiles are CAE options).
    func autoencoder(_ what: String) throws -> ImageCodec {
        guard case let .autoencoder(c) = engine else {
            throw CLIError("\(path) is a learned codec (image-codec); \(what) applies to auto-encoder (CAE) models only")
        }
        return c
    }
}

/// A folder as INPUT writes one file per input, so it needs an output folder: no --output, "-", or a name that
/// is not a folder but ends in one of the outputs' file extensions (`-o q.flexz`, which would otherwise become a
/// folder named q.flexz) is a command-line error (exit 64), found before any work.
func checkFolderOutputOption(input: String, output: String?, fileExtensions: [String]) throws {
    guard isDirectory(input) else { return }
    guard let output, output != "-" else {
        throw ValidationError("\(input) is a folder: give an output folder with --output")
    }
    let name = output.split(separator: "/").last.map(String.init) ?? output
    if !isDirectory(output), let dot = name.lastIndex(of: "."), dot != name.startIndex,
       fileExtensions.contains(name[name.index(after: dot)...].lowercased()) {
        throw ValidationError("\(input) is a folder, so --output names a folder for its outputs; '\(output)' is a file name (give a folder, e.g. --output \(String(name[..<dot]))/)")
    }
}

func channelName(_ c: Int) -> String { c == 1 ? "gray" : c == 2 ? "gray+alpha" : c == 3 ? "RGB" : "RGBA" }

/// `name.png` → `name.flexz` (the extension after the last dot of the file name replaced, or appended).
func replacingExtension(_ path: String, with ext: String) -> String {
    let slash = path.lastIndex(of: "/")
    if let dot = path.lastIndex(of: "."), slash.map({ dot > $0 }) ?? true, dot != path.startIndex,
       path[path.index(before: dot)] != "/" {
        return String(path[..<dot]) + "." + ext
    }
    return path + "." + ext
}

/// The bytes of a regular file of at most `maxBytes` bytes, or of standard input for "-" (at most `maxBytes`
/// too); a FIFO, device or folder is refused without reading it. Errors name the file.
func readInput(_ path: String, maxBytes: Int) throws -> [UInt8] {
    do {
        return path == "-" ? try readStandardInput(maxBytes: maxBytes) : try readRegularFile(path, maxBytes: maxBytes)
    } catch {
        throw CLIError("\(error.path): \(error.reason)")
    }
}

/// Refuses an output that is the input itself, a folder, an existing file (unless `overwrite`), or whose folder
/// is not writable — before any work.
func checkOutput(_ out: String, input: String, overwrite: Bool) throws {
    guard out != "-" else { return }
    if input != "-", FileKind(path: out) != nil, !isSymbolicLink(out), absolutePath(out) == absolutePath(input) {
        throw CLIError("\(out): the output would overwrite the input; choose another --output")
    }
    if isDirectory(out) { throw CLIError("\(out): is a folder; give a file name for --output") }
    if !overwrite, FileKind(path: out) != nil {
        throw CLIError(alreadyExistsMessage(out))
    }
    if let reason = reasonPathIsNotWritable(out) { throw CLIError("\(out): cannot write there (\(reason))") }
}

/// The message for an output that exists without --overwrite.
func alreadyExistsMessage(_ path: String, folder: Bool = false) -> String {
    "\(path): already exists; refusing to replace it (choose another --output\(folder ? " folder" : ""), or add --overwrite)"
}

/// Writes atomically to a file, or to standard output for "-". Without `overwrite` the file is created only
/// if it does not exist, atomically (`.createNew`): of two runs writing the same new file, one fails with
/// "already exists" instead of silently replacing the other's. Folder jobs pass `durable: false` (no fsync
/// per file) and flush the file system once at the end.
func writeOutput(_ bytes: [UInt8], to path: String, overwrite: Bool, durable: Bool = true) throws {
    if path == "-" { writeStream(STDOUT_FILENO, bytes); return }
    do {
        try writeFileAtomically(path: path, bytes: bytes, mode: overwrite ? .replace : .createNew, durable: durable)
    } catch where error.isAlreadyExists {
        throw CLIError(alreadyExistsMessage(path))
    }
}

func makeFolder(_ path: String) throws {
    do { try makeDirectories(path) } catch {
        throw CLIError("\(path): cannot create the output folder: \(error.path): \(error.reason)")
    }
}

/// The names in an input folder; an error names the folder.
func folderEntries(_ folder: String) throws -> [String] {
    do { return try directoryEntries(folder) } catch {
        throw CLIError("\(folder): cannot list the folder: \(error.reason)")
    }
}

/// The images a folder job compresses: the names with an extension `ImageFile.decode` reads (PNG, JPEG, PGM,
/// PPM, any case).
func imageFiles(in folder: String) throws -> [String] {
    try folderEntries(folder).filter { ImageFile.isReadable(path: $0) }.sorted()
}

/// Checks a folder job's output names before any work: two inputs may not map to the same output (a.png and
/// a.jpg both → a.flexz), and existing outputs are refused unless `overwrite`.
func checkFolderOutputs(_ names: [String], sources: [String], folder: String, overwrite: Bool) throws {
    var seen: [String: String] = [:]
    for (n, src) in zip(names, sources) {
        if let other = seen[n] {
            throw CLIError("\(other) and \(src) would both be written to \(folder)/\(n); rename one of them")
        }
        seen[n] = src
    }
    if !overwrite {
        let existing = names.filter { FileKind(path: folder + "/" + $0) != nil }
        if let first = existing.first {
            throw CLIError(alreadyExistsMessage("\(folder)/\(first)\(existing.count > 1 ? " and \(existing.count - 1) more outputs" : "")", folder: true))
        }
    }
}

/// Runs `body` on every file of a folder job: creates the output folder, shows progress on a terminal,
/// collects failures (naming each file) without stopping, flushes the written files once at the end, prints
/// "<verb> N of M <noun> into OUTPUT<summary>", and exits 1 if any file failed.
func runFolderJob(_ files: [String], into output: String, noun: String, verb: String, _ body: (String) throws -> Void,
                  summary: () -> String = { "" }) throws {
    try makeFolder(output)
    let progress = FolderProgress(total: files.count, noun: noun)
    var failures: [String] = []
    for (i, f) in files.enumerated() {
        do { try body(f) } catch { failures.append("\(error)") }
        progress.update(i + 1)
    }
    progress.finish()
    syncFileSystem(containing: output)
    FlexCLI.writeOutput("\(verb) \(files.count - failures.count) of \(files.count) \(noun) into \(output)\(summary())\n")
    if !failures.isEmpty {
        for f in failures { writeError("error: \(f)\n") }
        throw ExitCode(1)
    }
}

/// A progress bar for folder jobs on a terminal (standard error), cut to its width; nothing otherwise.
final class FolderProgress {
    let total: Int, noun: String
    let enabled = standardErrorIsTerminal()
    private var last = 0.0
    private let start = monotonicSeconds()
    init(total: Int, noun: String) {
        self.total = total
        self.noun = noun
        update(0)  // at once: the first file may take a while
    }

    func update(_ done: Int) {
        guard enabled else { return }
        let t = monotonicSeconds()
        guard done == total || t - last >= 0.1 else { return }
        last = t
        let rate = Double(done) / max(t - start, 1e-9)
        let eta = rate > 0 ? Double(total - done) / rate : .infinity
        writeErrorLine(control: "\r\u{1B}[2K", progressLine(
            head: "\(done)/\(total) \(noun)", fraction: Double(done) / Double(max(total, 1)),
            tail: ["\(rateText(rate))/s", "ETA \(duration(eta))"], columns: terminalColumns()))
    }

    func finish() { if enabled { writeErrorLine(control: "\r\u{1B}[2K") } }
}
