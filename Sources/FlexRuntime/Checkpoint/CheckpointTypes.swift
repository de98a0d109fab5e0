// The data a checkpoint carries besides its weights (docs/checkpoint-format.md): the task, the input
// specification, the provenance, the stored float type and the reader's error report.

/// What the model does.
public enum CheckpointTask: String, Codable, Sendable, CaseIterable {
    case imageAutoencoder = "image-autoencoder"
    case forecaster
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

    case image(ImageInputSpec)
    case series(SeriesInputSpec)

    /// Per-sample model input shape: `[C, H, W]` or `[window, features.count]`.
    public var perSampleShape: [Int] {
        switch self {
        case let .image(s): [s.channels, s.height, s.width]
        case let .series(s): [s.window, s.features.count]
        }
    }

    /// `image` or `series`.
    public var kindName: String {
        switch self {
        case .image: "image"
        case .series: "series"
        }
    }

    static let imageFields = ["kind", "channels", "height", "width", "pixel_scaling", "encoder_layers"]
    static let seriesFields = ["kind", "features", "targets", "window", "horizon", "transform", "normalization"]

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: JSONKey.self)
        let kind = try c.decode(String.self, forKey: JSONKey("kind"))
        let fields: [String]
        switch kind {
        case "image": fields = Self.imageFields
        case "series": fields = Self.seriesFields
        default:
            throw DecodingError.dataCorruptedError(forKey: JSONKey("kind"), in: c,
                debugDescription: "unknown input kind '\(kind)'; valid: image, series")
        }
        try checkNoExtraFields(c, allowed: fields, what: "\(kind) input")
        if kind == "image" {
            self = .image(try ImageInputSpec(from: decoder))
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
