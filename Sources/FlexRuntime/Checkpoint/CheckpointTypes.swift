// The data a checkpoint carries besides its weights (docs/checkpoint-format.md): the task, the input
// specification, the learned codec's entropy-coding tables, the provenance, the stored float type and the
// reader's error report.

import FlexEntropy

/// What the model does.
public enum CheckpointTask: String, Codable, Sendable, CaseIterable {
    case imageAutoencoder = "image-autoencoder"
    case forecaster
    /// The learned image codec (analysis and synthesis transforms with an entropy model; input kind `codec`,
    /// the group `/entropy_model` required).
    case imageCodec = "image-codec"
}

/// How 8-bit pixels p map to model inputs.
public enum PixelScaling: String, Codable, Sendable, CaseIterable {
    /// x = p / 127.5 − 1 (for tanh outputs).
    case minusOneToOne = "minus_one_to_one"
    /// x = p / 255 (for sigmoid outputs).
    case zeroToOne = "zero_to_one"
}

/// The input of an image auto-encoder.
public struct ImageInputSpec: Codable, Sendable, Equatable {
    public var channels: Int
    public var height: Int
    public var width: Int
    public var pixelScaling: PixelScaling
    /// How many leading layers form the encoder; the code is their output.
    public var encoderLayers: Int

    public init(channels: Int, height: Int, width: Int, pixelScaling: PixelScaling, encoderLayers: Int) {
        self.channels = channels
        self.height = height
        self.width = width
        self.pixelScaling = pixelScaling
        self.encoderLayers = encoderLayers
    }

    enum CodingKeys: String, CodingKey {
        case channels, height, width
        case pixelScaling = "pixel_scaling"
        case encoderLayers = "encoder_layers"
    }
}

/// The input of the learned image codec: a fully convolutional transform pair, so there is no fixed image size.
/// The first `analysisLayers` layers of the architecture are the analysis transform g_a (image → latents with
/// `latentChannels` channels at 1/`stride` of the resolution), the rest the synthesis g_s (latents → image).
public struct CodecInputSpec: Codable, Sendable, Equatable {
    /// Channels the transforms see (3: gray images are coded as RGB with equal channels).
    public var imageChannels: Int
    /// M, the latent channels (one entropy-coding table each).
    public var latentChannels: Int
    /// How many leading layers form the analysis transform; the others are the synthesis.
    public var analysisLayers: Int
    /// Image sides are padded to a multiple of this before the analysis (16 for four stride-2 layers).
    public var stride: Int
    /// How 8-bit pixels map to the transforms' inputs (`zero_to_one`: x = p/255; the decoder rounds 255·x̂).
    public var pixelScaling: PixelScaling
    /// λ, the rate–distortion weight the codec was trained with (loss = rate + λ · distortion).
    public var lambda: Double

    public init(imageChannels: Int = 3, latentChannels: Int, analysisLayers: Int, stride: Int = 16,
                pixelScaling: PixelScaling = .zeroToOne, lambda: Double) {
        self.imageChannels = imageChannels
        self.latentChannels = latentChannels
        self.analysisLayers = analysisLayers
        self.stride = stride
        self.pixelScaling = pixelScaling
        self.lambda = lambda
    }

    /// The input of `architecture` (`CodecArchitecture.analysis + .synthesis`) trained with `lambda`.
    public init(_ architecture: CodecArchitecture, lambda: Double) {
        self.init(imageChannels: architecture.imageChannels, latentChannels: architecture.latentChannels,
                  analysisLayers: architecture.analysis.count, stride: CodecArchitecture.stride, lambda: lambda)
    }

    enum CodingKeys: String, CodingKey {
        case stride, lambda
        case imageChannels = "image_channels"
        case latentChannels = "latent_channels"
        case analysisLayers = "analysis_layers"
        case pixelScaling = "pixel_scaling"
    }
}

/// The learned codec's integer entropy-coding tables, one per latent channel c: a latent y is coded as the
/// symbol q = round(y − medians[c]) with `tables[c]`, and a decoded symbol q stands for q + medians[c]. Stored in
/// the checkpoint's `/entropy_model` group exactly (int32 tables, float32 medians), so decoding never depends on
/// floating-point code that could differ between machines.
public struct EntropyCodingTables: Sendable, Equatable {
    /// Latent channels a checkpoint may have (the tables are per channel).
    public static let maxChannels = 1_024
    /// Entries of the stored `cdf` matrix ([M, L], padding included): bounds what a file makes the reader
    /// allocate (16 MiB of int32), far above a real codec's (192 channels × a few hundred entries).
    public static let maxStoredEntries = 1 << 22

    public var medians: [Float]
    public var tables: [CDFTable]

    public init(medians: [Float], tables: [CDFTable]) {
        self.medians = medians
        self.tables = tables
    }

    /// The channels (tables); the checkpoint requires one median per table.
    public var channelCount: Int { tables.count }
    /// L, the longest CDF (the width of the stored `cdf` matrix).
    public var maxCDFLength: Int { tables.map(\.cdf.count).max() ?? 0 }
    /// CDF entries over all tables (without the padding of the stored matrix).
    public var totalEntries: Int { tables.reduce(0) { $0 + $1.cdf.count } }
    /// Density layers (CompressAI's filters (3, 3, 3, 3) make 5) and hidden widths (`EntropyBottleneck`'s
    /// limit) a stored density may have.
    public static let maxDensityLayers = 16
    public static let maxDensityWidth = 64

    /// The density parameters of `EntropyBottleneck` for `channels` and layer widths `widths` = (1, filters…, 1),
    /// in its `parameterNames` order: `matrix{k}` [C, w(k+1), w(k)], `bias{k}` [C, w(k+1)], `factor{k}`
    /// [C, w(k+1)] for all but the last layer, `quantiles` [C, 3]. The one statement of the stored layout,
    /// shared by the checkpoint's reader and writer (FlexRuntime does not depend on FlexEntropyModel).
    public static func densityLayout(channels c: Int, widths w: [Int]) -> [(name: String, shape: [Int])] {
        let k = w.count - 1
        return (0..<k).map { ("matrix\($0)", [c, w[$0 + 1], w[$0]]) } + (0..<k).map { ("bias\($0)", [c, w[$0 + 1]]) }
            + (0..<max(k - 1, 0)).map { ("factor\($0)", [c, w[$0 + 1]]) } + [("quantiles", [c, 3])]
    }

    /// Whether `density` (names and shapes) is a stored density for `channels` channels: empty, or exactly
    /// `densityLayout` for the widths its matrices give. Returns what is wrong, nil if nothing is.
    public static func densityProblem(_ density: [(name: String, tensor: Tensor)], channels: Int) -> String? {
        if density.isEmpty { return nil }
        var widths = [1]
        while let m = density.first(where: { $0.name == "matrix\(widths.count - 1)" }), m.tensor.rank == 3,
              widths.count <= maxDensityLayers {
            widths.append(m.tensor.shape[1])
        }
        guard widths.count >= 2, widths.last == 1, widths.allSatisfy({ (1...maxDensityWidth).contains($0) }) else {
            return "expected matrix0 … matrix{K−1} (K ≤ \(maxDensityLayers)) with widths in 1...\(maxDensityWidth) ending at 1, found widths \(widths)"
        }
        let expected = densityLayout(channels: channels, widths: widths)
        let found = density.map { ($0.name, $0.tensor.shape) }
        guard found.map(\.0) == expected.map(\.name), found.map(\.1) == expected.map(\.shape) else {
            let show = { (l: [(String, [Int])]) in l.map { "\($0.0) \($0.1)" }.joined(separator: ", ") }
            return "expected \(show(expected.map { ($0.name, $0.shape) })), found \(show(found))"
        }
        return nil
    }

    /// The smallest and largest in-range symbol over all tables (escapes aside), nil without tables.
    public var symbolRange: ClosedRange<Int32>? {
        guard let lo = tables.map(\.minSymbol).min(), let hi = tables.map(\.maxSymbol).max() else { return nil }
        return lo...hi
    }
}

/// Per-feature normalisation statistics, fitted on the training split: inputs are (x − mean) / std.
public struct Normalization: Codable, Sendable, Equatable {
    public var mean: [Double]
    public var std: [Double]
    public init(mean: [Double], std: [Double]) {
        self.mean = mean
        self.std = std
    }
}

/// How a forecaster's price series become its input rows. The raw values are what checkpoints store (the
/// input's `transform` field) and what `--transform` takes.
public enum SeriesTransform: String, Codable, Sendable, CaseIterable, CustomStringConvertible {
    /// r_t = p_t / p_{t−1} − 1
    case returns
    /// r_t = ln(p_t / p_{t−1})
    case logReturns = "log_returns"
    /// The values unchanged.
    case none

    /// The stored name, e.g. `log_returns`.
    public var description: String { rawValue }

    /// The accepted names, comma-separated, for messages.
    public static var names: String { allCases.map(\.rawValue).joined(separator: ", ") }

    /// Rows the transform drops at the start: 1 for the returns transforms (each return needs the day
    /// before), 0 for `none`.
    public var droppedRows: Int { self == .none ? 0 : 1 }

    /// What one transformed value is, as a snake_case name: `return`, `log_return` or `value`.
    public var valueName: String {
        switch self {
        case .returns: "return"
        case .logReturns: "log_return"
        case .none: "value"
        }
    }

    /// What the transformed rows are, in words: `returns`, `log returns` or `values`.
    public var pluralNoun: String {
        switch self {
        case .returns: "returns"
        case .logReturns: "log returns"
        case .none: "values"
        }
    }
}

/// The input of a forecaster.
public struct SeriesInputSpec: Codable, Sendable, Equatable {
    /// Names of the input series, in the order of the model's input features.
    public var features: [String]
    /// Names of the predicted series (each one of `features`).
    public var targets: [String]
    /// Time steps per input sequence.
    public var window: Int
    /// Steps ahead of the target.
    public var horizon: Int
    /// `returns` (r_t = p_t / p_{t−1} − 1), `log_returns` or `none`.
    public var transform: SeriesTransform
    /// Per feature, fitted on the training split.
    public var normalization: Normalization

    /// The checkpoint reader's lenient decoding (see `collectingProblemsKey`) keeps an unknown `transform` name
    /// here, so that it is reported together with every other problem of the input.
    var unknownTransform: String?

    /// Set to `true` in a decoder's `userInfo` to decode an unknown `transform` into `unknownTransform`
    /// (with `transform` left at `.returns`) instead of failing; used by the checkpoint reader only.
    static let collectingProblemsKey = CodingUserInfoKey(rawValue: "flexctl.seriesInput.collectProblems")!

    private enum CodingKeys: String, CodingKey { case features, targets, window, horizon, transform, normalization }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        features = try c.decode([String].self, forKey: .features)
        targets = try c.decode([String].self, forKey: .targets)
        window = try c.decode(Int.self, forKey: .window)
        horizon = try c.decode(Int.self, forKey: .horizon)
        let name = try c.decode(String.self, forKey: .transform)
        if let t = SeriesTransform(rawValue: name) {
            transform = t
        } else if decoder.userInfo[Self.collectingProblemsKey] as? Bool == true {
            transform = .returns
            unknownTransform = name
        } else {
            throw DecodingError.dataCorruptedError(forKey: .transform, in: c,
                debugDescription: "must be one of \(SeriesTransform.names), found \"\(name)\"")
        }
        normalization = try c.decode(Normalization.self, forKey: .normalization)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(features, forKey: .features)
        try c.encode(targets, forKey: .targets)
        try c.encode(window, forKey: .window)
        try c.encode(horizon, forKey: .horizon)
        try c.encode(transform, forKey: .transform)
        try c.encode(normalization, forKey: .normalization)
    }

    public init(features: [String], targets: [String], window: Int, horizon: Int, transform: SeriesTransform,
                normalization: Normalization) {
        self.features = features
        self.targets = targets
        self.window = window
        self.horizon = horizon
        self.transform = transform
        self.normalization = normalization
    }
}

/// How a model's inputs are prepared. JSON: `{"kind": "image", ...}` or `{"kind": "series", ...}`.
public enum InputSpec: Codable, Sendable, Equatable {
    // Limits a checkpoint's input specification must respect (docs/checkpoint-format.md, "Limits"); the
    // runtime sizes its buffers from it.
    /// Channels of an image input (gray, gray+alpha, RGB, RGBA).
    public static let maxImageChannels = 4
    /// Height and width of an image input.
    public static let maxImageSide = 2048
    /// Time steps of a forecaster's window.
    public static let maxWindow = 10_000
    /// Steps ahead of a forecaster's target.
    public static let maxHorizon = 1_000
    /// Input series of a forecaster.
    public static let maxFeatures = 1_024
    /// Bytes of one series name.
    public static let maxNameBytes = 256
    /// A codec's padding stride (sides are padded to a multiple of it; the architecture is checked on one
    /// stride × stride image).
    public static let maxCodecStride = 256

    case image(ImageInputSpec)
    case series(SeriesInputSpec)
    case codec(CodecInputSpec)

    /// Per-sample model input shape: `[C, H, W]`, `[window, features.count]`, or for a codec (fully
    /// convolutional, any size that is a multiple of the stride) the smallest image `[C, stride, stride]`.
    public var perSampleShape: [Int] {
        switch self {
        case let .image(s): [s.channels, s.height, s.width]
        case let .series(s): [s.window, s.features.count]
        case let .codec(s): [s.imageChannels, s.stride, s.stride]
        }
    }

    /// `image`, `series` or `codec`.
    public var kindName: String {
        switch self {
        case .image: "image"
        case .series: "series"
        case .codec: "codec"
        }
    }

    static let imageFields = ["kind", "channels", "height", "width", "pixel_scaling", "encoder_layers"]
    static let seriesFields = ["kind", "features", "targets", "window", "horizon", "transform", "normalization"]
    static let codecFields = ["kind", "image_channels", "latent_channels", "analysis_layers", "stride", "pixel_scaling", "lambda"]

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: JSONKey.self)
        let kind = try c.decode(String.self, forKey: JSONKey("kind"))
        let fields: [String]
        switch kind {
        case "image": fields = Self.imageFields
        case "series": fields = Self.seriesFields
        case "codec": fields = Self.codecFields
        default:
            throw DecodingError.dataCorruptedError(forKey: JSONKey("kind"), in: c,
                debugDescription: "unknown input kind '\(kind)'; valid: image, series, codec")
        }
        try checkNoExtraFields(c, allowed: fields, what: "\(kind) input")
        if kind == "image" {
            self = .image(try ImageInputSpec(from: decoder))
        } else if kind == "codec" {
            self = .codec(try CodecInputSpec(from: decoder))
        } else {
            self = .series(try SeriesInputSpec(from: decoder))
            // Normalization: exactly mean and std.
            let n = try c.nestedContainer(keyedBy: JSONKey.self, forKey: JSONKey("normalization"))
            try checkNoExtraFields(n, allowed: ["mean", "std"], what: "normalization")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: JSONKey.self)
        try c.encode(kindName, forKey: JSONKey("kind"))
        switch self {
        case let .image(s): try s.encode(to: encoder)
        case let .series(s): try s.encode(to: encoder)
        case let .codec(s): try s.encode(to: encoder)
        }
    }

    /// The JSON the checkpoint stores, fields in the documented order.
    public var canonicalJSON: String {
        switch self {
        case let .image(s):
            return JSONText.object([
                ("kind", JSONText.string("image")), ("channels", "\(s.channels)"), ("height", "\(s.height)"),
                ("width", "\(s.width)"), ("pixel_scaling", JSONText.string(s.pixelScaling.rawValue)),
                ("encoder_layers", "\(s.encoderLayers)"),
            ])
        case let .series(s):
            return JSONText.object([
                ("kind", JSONText.string("series")),
                ("features", JSONText.array(s.features.map(JSONText.string))),
                ("targets", JSONText.array(s.targets.map(JSONText.string))),
                ("window", "\(s.window)"), ("horizon", "\(s.horizon)"),
                ("transform", JSONText.string(s.transform.rawValue)),
                ("normalization", JSONText.object([
                    ("mean", JSONText.array(s.normalization.mean.map(JSONText.number))),
                    ("std", JSONText.array(s.normalization.std.map(JSONText.number))),
                ])),
            ])
        case let .codec(s):
            return JSONText.object([
                ("kind", JSONText.string("codec")), ("image_channels", "\(s.imageChannels)"),
                ("latent_channels", "\(s.latentChannels)"), ("analysis_layers", "\(s.analysisLayers)"),
                ("stride", "\(s.stride)"), ("pixel_scaling", JSONText.string(s.pixelScaling.rawValue)),
                ("lambda", JSONText.number(s.lambda)),
            ])
        }
    }
}

/// Optimiser settings recorded in the provenance (`{"name":"adam","learning_rate":…,"beta1":…,…}`).
public struct OptimizerSettings: Codable, Sendable, Equatable {
    public var name: String
    public var learningRate: Double
    public var beta1: Double
    public var beta2: Double
    public var epsilon: Double

    public init(name: String = "adam", learningRate: Double, beta1: Double, beta2: Double, epsilon: Double) {
        self.name = name
        self.learningRate = learningRate
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
    }

    enum CodingKeys: String, CodingKey {
        case name, beta1, beta2, epsilon
        case learningRate = "learning_rate"
    }

    public var canonicalJSON: String {
        JSONText.object([
            ("name", JSONText.string(name)), ("learning_rate", JSONText.number(learningRate)),
            ("beta1", JSONText.number(beta1)), ("beta2", JSONText.number(beta2)), ("epsilon", JSONText.number(epsilon)),
        ])
    }
}

/// Regulariser settings recorded in the provenance: δ1, δ2, δ3 and the margin Δ (eq. 7).
public struct RegularizerSettings: Codable, Sendable, Equatable {
    public var delta1: Double
    public var delta2: Double
    public var delta3: Double
    public var margin: Double

    public init(delta1: Double, delta2: Double, delta3: Double, margin: Double) {
        self.delta1 = delta1
        self.delta2 = delta2
        self.delta3 = delta3
        self.margin = margin
    }

    public var canonicalJSON: String {
        JSONText.object([
            ("delta1", JSONText.number(delta1)), ("delta2", JSONText.number(delta2)),
            ("delta3", JSONText.number(delta3)), ("margin", JSONText.number(margin)),
        ])
    }
}

/// How the model was trained (the optional `/provenance` group). Every field is optional except the loss
/// arrays, which may be empty.
public struct Provenance: Codable, Sendable, Equatable {
    public var dataset: String?
    public var trainSize: Int?
    public var validationSize: Int?
    public var testSize: Int?
    public var seed: Int?
    public var epochs: Int?
    public var optimizer: OptimizerSettings?
    public var regularizer: RegularizerSettings?
    /// Per-epoch mean training loss.
    public var trainLoss: [Double]
    /// Per-epoch validation loss.
    public var validationLoss: [Double]
    public var testLoss: Double?
    /// ISO 8601 time of creation.
    public var created: String?

    public init(dataset: String? = nil, trainSize: Int? = nil, validationSize: Int? = nil, testSize: Int? = nil,
                seed: Int? = nil, epochs: Int? = nil, optimizer: OptimizerSettings? = nil,
                regularizer: RegularizerSettings? = nil, trainLoss: [Double] = [], validationLoss: [Double] = [],
                testLoss: Double? = nil, created: String? = nil) {
        self.dataset = dataset
        self.trainSize = trainSize
        self.validationSize = validationSize
        self.testSize = testSize
        self.seed = seed
        self.epochs = epochs
        self.optimizer = optimizer
        self.regularizer = regularizer
        self.trainLoss = trainLoss
        self.validationLoss = validationLoss
        self.testLoss = testLoss
        self.created = created
    }

    enum CodingKeys: String, CodingKey {
        case dataset, seed, epochs, optimizer, regularizer, created
        case trainSize = "train_size", validationSize = "validation_size", testSize = "test_size"
        case trainLoss = "train_loss", validationLoss = "validation_loss", testLoss = "test_loss"
    }
}

/// The float type of a checkpoint's datasets.
public enum StoredType: String, Codable, Sendable, CaseIterable {
    case float16, float32, float64
}

/// Everything wrong with a checkpoint file, one problem per line: `FILE: PATH: message`.
public struct CheckpointError: Error, CustomStringConvertible, Equatable, Sendable {
    /// One problem at one place in the file.
    public struct Problem: Equatable, Sendable, CustomStringConvertible {
        /// The HDF5 path (`/layers/3/weight`, `/` for root attributes), empty for the file as a whole.
        public var path: String
        /// What was expected and what was found.
        public var message: String
        public init(path: String, message: String) {
            self.path = path
            self.message = message
        }
        /// One line: line breaks inside the path or message (which may quote a crafted file) are shown as
        /// `\n` and `\r`, so every line of a report is one problem.
        public var description: String {
            func oneLine(_ s: String) -> String {
                guard s.contains(where: { $0 == "\n" || $0 == "\r" || $0 == "\r\n" }) else { return s }
                var out = ""
                for ch in s {  // "\r\n" is one Character
                    switch ch {
                    case "\r\n": out += "\\r\\n"
                    case "\n": out += "\\n"
                    case "\r": out += "\\r"
                    default: out.append(ch)
                    }
                }
                return out
            }
            return path.isEmpty ? oneLine(message) : "\(oneLine(path)): \(oneLine(message))"
        }
    }

    /// The file as given to the reader or writer.
    public var file: String
    public var problems: [Problem]

    public init(file: String, problems: [Problem]) {
        self.file = file
        self.problems = problems
    }

    public init(file: String, path: String, message: String) {
        self.init(file: file, problems: [Problem(path: path, message: message)])
    }

    public var description: String {
        problems.map { "\(file): \($0)" }.joined(separator: "\n")
    }
}

// MARK: JSON helpers

/// A coding key for any string (strict decoding checks the keys present).
struct JSONKey: CodingKey, Hashable {
    var stringValue: String
    init(_ s: String) { stringValue = s }
    init?(stringValue: String) { self.stringValue = stringValue }
    var intValue: Int? { nil }
    init?(intValue: Int) { nil }
}

/// Throws if the object has fields outside `allowed`.
func checkNoExtraFields(_ c: KeyedDecodingContainer<JSONKey>, allowed: [String], what: String) throws {
    let extra = c.allKeys.map(\.stringValue).filter { !allowed.contains($0) }.sorted()
    guard extra.isEmpty else {
        throw StrictJSONError(
            codingPath: c.codingPath,
            message: "unexpected field\(extra.count == 1 ? "" : "s") \(extra.map { "'\($0)'" }.joined(separator: ", ")) for \(what) (fields: \(allowed.joined(separator: ", ")))")
    }
}

/// A JSON object with fields the format does not have.
struct StrictJSONError: Error, CustomStringConvertible {
    var codingPath: [any CodingKey]
    var message: String
    var description: String { message }
}

/// Builds JSON text with fields in a fixed order (Foundation's encoder does not keep insertion order).
public enum JSONText {
    /// `s` as a JSON string literal (quotes, backslashes and control characters escaped).
    public static func string(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                // Controls (C0, DEL, C1) and the invisible characters that reorder or hide text are escaped,
                // so JSON printed on a terminal cannot carry escape sequences or bidirectional overrides.
                if u.value < 0x20 || (0x7F...0x9F).contains(u.value) || (0x200B...0x200F).contains(u.value)
                    || (0x2028...0x202E).contains(u.value) || (0x2060...0x206F).contains(u.value) || u.value == 0xFEFF {
                    let hex = String(u.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(u)
                }
            }
        }
        return out + "\""
    }

    /// Shortest round-tripping decimal; integral values without a fraction; non-finite values as null.
    static func number(_ v: Double) -> String {
        guard v.isFinite else { return "null" }
        if v == v.rounded(), abs(v) < 1e15 { return String(Int64(v)) }
        return "\(v)"
    }

    static func array(_ items: [String]) -> String { "[" + items.joined(separator: ",") + "]" }

    static func object(_ fields: [(String, String)]) -> String {
        "{" + fields.map { string($0.0) + ":" + $0.1 }.joined(separator: ",") + "}"
    }
}
