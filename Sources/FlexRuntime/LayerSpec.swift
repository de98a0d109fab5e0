/// A layer as data: its kind and sizes. A model is a list of these, so checkpoints carry the architecture.
///
/// Geometry follows PyTorch (`torch.nn.Conv2d`, `ConvTranspose2d`, `MaxPool2d`, `Linear`, `LSTM` with
/// `batch_first=True`); square kernels, strides and paddings.
public enum LayerSpec: Sendable, Equatable, Codable {
    /// `Conv2d(inChannels, outChannels, kernel, stride, padding)`; weight OIHW `[out, in, k, k]`, bias `[out]`.
    case conv2d(inChannels: Int, outChannels: Int, kernel: Int, stride: Int, padding: Int)
    /// `ConvTranspose2d(...)`; weight IOHW `[in, out, k, k]`, bias `[out]`.
    case convTranspose2d(inChannels: Int, outChannels: Int, kernel: Int, stride: Int, padding: Int, outputPadding: Int)
    /// `MaxPool2d(kernel, stride)`, no padding, floor mode.
    case maxPool2d(kernel: Int, stride: Int)
    /// `Linear(inFeatures, outFeatures)`; weight `[out, in]`, bias `[out]`.
    case dense(inFeatures: Int, outFeatures: Int)
    /// An activation with per-unit parameters (per channel for NCHW inputs, per feature for `[N, F]`).
    case activation(ActivationFunction, units: Int)
    /// A multi-layer, batch-first LSTM over `[N, T, inputSize]` returning the top layer's last hidden state
    /// `[N, hiddenSize]`. Gates i, f, o use `gate`; the candidate g and the cell output use `cell`.
    case lstm(inputSize: Int, hiddenSize: Int, numLayers: Int, gate: ActivationFunction, cell: ActivationFunction)
    /// GDN (`inverse` false) or IGDN over the channels of `[N, channels, H, W]` (CompressAI's `GDN`, beta_min
    /// 1e-6); stored (reparametrised) `beta` `[channels]`, `gamma` `[channels, channels]`. See `GDN`.
    case gdn(channels: Int, inverse: Bool)

    /// The PyTorch-style kind name: `Conv2d`, `ConvTranspose2d`, `MaxPool2d`, `Linear`, `Activation`, `LSTM`,
    /// `GDN`, `IGDN`.
    public var kindName: String {
        switch self {
        case .conv2d: "Conv2d"
        case .convTranspose2d: "ConvTranspose2d"
        case .maxPool2d: "MaxPool2d"
        case .dense: "Linear"
        case .activation: "Activation"
        case .lstm: "LSTM"
        case let .gdn(_, inverse): inverse ? "IGDN" : "GDN"
        }
    }

    /// A one-line summary such as `Conv2d(1, 16, kernel=3, stride=3, padding=1)`.
    public var summary: String {
        switch self {
        case let .conv2d(i, o, k, s, p): "Conv2d(\(i), \(o), kernel=\(k), stride=\(s), padding=\(p))"
        case let .convTranspose2d(i, o, k, s, p, op):
            "ConvTranspose2d(\(i), \(o), kernel=\(k), stride=\(s), padding=\(p)\(op > 0 ? ", output_padding=\(op)" : ""))"
        case let .maxPool2d(k, s): "MaxPool2d(kernel=\(k), stride=\(s))"
        case let .dense(i, o): "Linear(\(i), \(o))"
        case let .activation(f, u): "\(f.name)(units=\(u))"
        case let .lstm(i, h, l, g, c): "LSTM(\(i), \(h), layers=\(l), gate=\(g.name), cell=\(c.name))"
        case let .gdn(c, inverse): "\(inverse ? "IGDN" : "GDN")(\(c))"
        }
    }

    /// Builds the layer with deterministic initial parameters drawn from `rng`.
    public func makeLayer(name: String, rng: inout SplitMix64) throws(ConfigurationError) -> any Layer {
        try validate(name: name)
        switch self {
        case let .conv2d(i, o, k, s, p):
            return Conv2d(name: name, inputChannels: i, outputChannels: o, kernelSize: k, stride: s, padding: p, rng: &rng)
        case let .convTranspose2d(i, o, k, s, p, op):
            return ConvTranspose2d(name: name, inputChannels: i, outputChannels: o, kernelSize: k, stride: s,
                                   padding: p, outputPadding: op, rng: &rng)
        case let .maxPool2d(k, s):
            return MaxPool2d(name: name, kernelSize: k, stride: s)
        case let .dense(i, o):
            return Dense(name: name, inputFeatures: i, outputFeatures: o, rng: &rng)
        case let .activation(f, u):
            return Activation(name: name, function: f, units: u)
        case let .lstm(i, h, l, g, c):
            return LSTM(name: name, inputSize: i, hiddenSize: h, numLayers: l, gate: g, cell: c, rng: &rng)
        case let .gdn(c, inverse):
            // Deterministic (β = 1, γ = 0.1·I as CompressAI); draws nothing from `rng`.
            return GDN(name: name, channels: c, inverse: inverse)
        }
    }

    /// Checks the sizes as PyTorch's constructors do: positive channels, features, kernels and strides;
    /// non-negative padding; a transposed convolution's output padding below its stride. (Whether an input
    /// fits — e.g. a padded image at least as large as the kernel — is checked per input shape.)
    /// Channels, features, units and hidden sizes of one layer.
    public static let maxWidth = 65_536
    /// Kernel sizes, strides and paddings.
    public static let maxKernel = 64
    /// Stacked LSTM layers.
    public static let maxStackedLayers = 64
    /// Parameters of one layer (as one dataset may hold).
    public static let maxLayerParameters = 1 << 26
    /// Parameters of a whole model.
    public static let maxModelParameters = 1 << 27
    /// Values of one sample's activations after any layer.
    public static let maxActivationValues = 1 << 25

    /// Values of one sample's activations summed over all layers (inference keeps each layer's output).
    public static let maxTotalActivationValues = 1 << 27
    /// Scratch values one sample needs in one layer (im2col / col2im buffers, LSTM gate values over the window).
    public static let maxWorkspaceValues = 1 << 26
    /// Multiply-adds one sample needs through the whole model (2^36 ≈ 6.9e10: about a second of this machine's
    /// peak). A crafted architecture can stay within every size limit and still ask for hours of work per
    /// sample (a 63×63 kernel over a 2048×2048 input, an LSTM of 2048 units over 10,000 steps).
    public static let maxSampleOperations = 1 << 36

    /// The scratch values and multiply-adds one sample needs in this layer, from its per-sample input and
    /// output shapes; saturating at `Int.max` instead of overflowing.
    public func cost(input: [Int], output: [Int]) -> (workspace: Int, operations: Int) {
        func product(_ xs: [Int]) -> Int {
            var r = 1
            for x in xs {
                let (m, o) = r.multipliedReportingOverflow(by: max(x, 0))
                if o { return Int.max }
                r = m
            }
            return r
        }
        let inSpatial = input.count == 3 ? input[1] * input[2] : 1
        let outSpatial = output.count == 3 ? output[1] * output[2] : 1
        switch self {
        case let .conv2d(i, o, k, _, _):
            // im2col: i·k² rows by OH·OW columns; one multiply-add per weight and output position.
            return (product([i, k, k, outSpatial]), product([o, i, k, k, outSpatial]))
        case let .convTranspose2d(i, o, k, _, _, _):
            // col2im: o·k² rows by H·W columns (the input's positions).
            return (product([o, k, k, inSpatial]), product([i, o, k, k, inSpatial]))
        case let .maxPool2d(k, _):
            return (0, product([output.first ?? 0, k, k, outSpatial]))
        case let .dense(i, o):
            return (0, product([i, o]))
        case let .activation(f, _):
            return (0, product(output + [f.alphaWidth + 1]))
        case let .lstm(i, h, l, _, _):
            let steps = input.first ?? 0
            let perStep = product([4, h, max(i, h) + h])
            return (product([steps, l, 8, h]), product([steps, l, perStep]))
        case let .gdn(c, _):
            // Squares and normaliser for one pixel block plus the effective β, γ; the normaliser's matrix
            // product (C² per pixel) dominates the work.
            let block = min(GDN.pixelBlock, max(inSpatial, 1))
            let (workspace, overflow) = product([2, c, block]).addingReportingOverflow(product([c, c + 1]))
            return (overflow ? Int.max : workspace, product([c, c + 4, inSpatial]))
        }
    }

    /// Names of `integerFields`, in the same order.
    var integerFieldNames: [String] {
        switch self {
        case .conv2d: ["inChannels", "outChannels", "kernel", "stride", "padding"]
        case .convTranspose2d: ["inChannels", "outChannels", "kernel", "stride", "padding", "outputPadding"]
        case .maxPool2d: ["kernel", "stride"]
        case .dense: ["inFeatures", "outFeatures"]
        case .activation: ["", "units"]
        case .lstm: ["inputSize", "hiddenSize", "numLayers", "", ""]
        case .gdn: ["channels"]
        }
    }

    /// The number of parameters the layer has, computed with overflow checks (nil if it overflows). For an
    /// activation: its α and β (at most `alphaWidth + 1` per unit).
    public var parameterCount: Int? {
        func product(_ xs: Int...) -> Int? {
            var r = 1
            for x in xs {
                let (m, o) = r.multipliedReportingOverflow(by: max(x, 0))
                if o { return nil }
                r = m
            }
            return r
        }
        func sum(_ xs: Int?...) -> Int? {
            var r = 0
            for x in xs {
                guard let x else { return nil }
                let (s, o) = r.addingReportingOverflow(x)
                if o { return nil }
                r = s
            }
            return r
        }
        switch self {
        case let .conv2d(i, o, k, _, _), let .convTranspose2d(i, o, k, _, _, _):
            return sum(product(i, o, k, k), o)
        case .maxPool2d:
            return 0
        case let .dense(i, o):
            return sum(product(i, o), o)
        case let .activation(f, u):
            return product(u, f.alphaWidth + 1)
        case let .lstm(i, h, l, g, c):
            // Per stacked layer: weights, biases and five α/β slots.
            let weights = sum(product(4, h, max(i, h)), product(4, h, h), product(8, h))
            let slots = product(5, h, max(g.alphaWidth, c.alphaWidth) + 1)
            return sum(weights, slots).flatMap { product($0, l) }
        case let .gdn(c, _):
            return sum(product(c, c), c)
        }
    }

    public func validate(name: String) throws(ConfigurationError) {
        func positive(_ v: Int, _ field: String) throws(ConfigurationError) {
            guard v > 0 else { throw ConfigurationError("\(name) (\(kindName)): \(field) must be positive, found \(v)") }
        }
        // Upper bounds (docs/checkpoint-format.md, "Limits"): an architecture comes from a file that may be
        // crafted, and every size below feeds an allocation or a product that must not overflow.
        func atMost(_ v: Int, _ limit: Int, _ field: String) throws(ConfigurationError) {
            guard v <= limit else {
                throw ConfigurationError("\(name) (\(kindName)): \(field) must be at most \(limit), found \(v)")
            }
        }
        let L = LayerSpec.self
        for (value, field) in zip(integerFields, integerFieldNames) {
            guard let value else { continue }
            let limit = switch field {
            case "kernel", "stride", "padding", "outputPadding": L.maxKernel
            case "numLayers": L.maxStackedLayers
            default: L.maxWidth
            }
            try atMost(value, limit, field)
        }
        guard let count = parameterCount, count <= L.maxLayerParameters else {
            throw ConfigurationError("\(name) (\(kindName)): more than \(L.maxLayerParameters) parameters; not allowed")
        }
        switch self {
        case let .conv2d(i, o, k, s, p):
            try positive(i, "inChannels"); try positive(o, "outChannels"); try positive(k, "kernel"); try positive(s, "stride")
            guard p >= 0 else { throw ConfigurationError("\(name) (Conv2d): padding must be >= 0, found \(p)") }
        case let .convTranspose2d(i, o, k, s, p, op):
            try positive(i, "inChannels"); try positive(o, "outChannels"); try positive(k, "kernel"); try positive(s, "stride")
            guard p >= 0 else { throw ConfigurationError("\(name) (ConvTranspose2d): padding must be >= 0, found \(p)") }
            guard op >= 0, op < s else {
                throw ConfigurationError("\(name) (ConvTranspose2d): output padding must be in 0..<stride (\(s)), found \(op)")
            }
        case let .maxPool2d(k, s):
            try positive(k, "kernel"); try positive(s, "stride")
        case let .dense(i, o):
            try positive(i, "inFeatures"); try positive(o, "outFeatures")
        case let .activation(_, u):
            try positive(u, "units")
        case let .lstm(i, h, l, _, _):
            try positive(i, "inputSize"); try positive(h, "hiddenSize"); try positive(l, "numLayers")
        case let .gdn(c, _):
            try positive(c, "channels")
        }
    }
}

/// SplitMix64: a small, fast, seedable generator; the same seed gives the same stream on every machine.
public struct SplitMix64: RandomNumberGenerator, Sendable, Equatable, Codable {
    public var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// A uniform float in [lo, hi).
    public mutating func uniform(_ lo: Float, _ hi: Float) -> Float {
        lo + (hi - lo) * Float(next() >> 40) * (1.0 / Float(1 << 24))
    }
}

/// PyTorch's default initialisation for Conv/Linear/LSTM: U(-1/sqrt(fanIn), 1/sqrt(fanIn)) for weights and
/// biases (kaiming_uniform with a = sqrt(5) reduces to this bound for the weights).
func uniformInit(count: Int, fanIn: Int, rng: inout SplitMix64) -> [Float] {
    let bound = 1 / Float(fanIn).squareRoot()
    return (0..<count).map { _ in rng.uniform(-bound, bound) }
}

// MARK: Codable (docs/checkpoint-format.md, "Architecture")

extension LayerSpec {
    /// The JSON fields of each kind besides `kind`, in the documented order.
    public static let jsonFields: [String: [String]] = [
        "Conv2d": ["in_channels", "out_channels", "kernel_size", "stride", "padding"],
        "ConvTranspose2d": ["in_channels", "out_channels", "kernel_size", "stride", "padding", "output_padding"],
        "MaxPool2d": ["kernel_size", "stride"],
        "Linear": ["in_features", "out_features"],
        "Activation": ["activation", "units"],
        "LSTM": ["input_size", "hidden_size", "num_layers", "gate", "cell"],
        "GDN": ["channels"],
        "IGDN": ["channels"],
    ]

    /// The kinds in the documented order.
    public static let jsonKinds = ["Conv2d", "ConvTranspose2d", "MaxPool2d", "Linear", "Activation", "LSTM", "GDN", "IGDN"]

    /// Decodes `{"kind": ..., fields}`; unknown kinds, unknown activation members, missing or extra fields
    /// are errors whose description says what was expected.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: JSONKey.self)
        let kind = try c.decode(String.self, forKey: JSONKey("kind"))
        guard let fields = Self.jsonFields[kind] else {
            throw DecodingError.dataCorruptedError(
                forKey: JSONKey("kind"), in: c,
                debugDescription: "unknown layer kind '\(kind)'; valid kinds: \(Self.jsonKinds.joined(separator: ", "))")
        }
        try checkNoExtraFields(c, allowed: ["kind"] + fields, what: kind)
        func int(_ key: String) throws -> Int { try c.decode(Int.self, forKey: JSONKey(key)) }
        func act(_ key: String) throws -> ActivationFunction { try c.decode(ActivationFunction.self, forKey: JSONKey(key)) }
        switch kind {
        case "Conv2d":
            self = .conv2d(inChannels: try int("in_channels"), outChannels: try int("out_channels"),
                           kernel: try int("kernel_size"), stride: try int("stride"), padding: try int("padding"))
        case "ConvTranspose2d":
            self = .convTranspose2d(inChannels: try int("in_channels"), outChannels: try int("out_channels"),
                                    kernel: try int("kernel_size"), stride: try int("stride"),
                                    padding: try int("padding"), outputPadding: try int("output_padding"))
        case "MaxPool2d":
            self = .maxPool2d(kernel: try int("kernel_size"), stride: try int("stride"))
        case "Linear":
            self = .dense(inFeatures: try int("in_features"), outFeatures: try int("out_features"))
        case "Activation":
            self = .activation(try act("activation"), units: try int("units"))
        case "GDN", "IGDN":
            self = .gdn(channels: try int("channels"), inverse: kind == "IGDN")
        default:
            self = .lstm(inputSize: try int("input_size"), hiddenSize: try int("hidden_size"),
                         numLayers: try int("num_layers"), gate: try act("gate"), cell: try act("cell"))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: JSONKey.self)
        try c.encode(kindName, forKey: JSONKey("kind"))
        func act(_ f: ActivationFunction, _ key: String) throws {
            if f.isBuiltInMember { try c.encode(f.name, forKey: JSONKey(key)) } else { try c.encode(f, forKey: JSONKey(key)) }
        }
        for (key, value) in zip(Self.jsonFields[kindName]!, integerFields) where value != nil {
            try c.encode(value!, forKey: JSONKey(key))
        }
        switch self {
        case let .activation(f, _): try act(f, "activation")
        case let .lstm(_, _, _, g, cell): try act(g, "gate"); try act(cell, "cell")
        default: break
        }
    }

    /// The values of `jsonFields[kindName]`, nil for the activation fields.
    var integerFields: [Int?] {
        switch self {
        case let .conv2d(i, o, k, s, p): [i, o, k, s, p]
        case let .convTranspose2d(i, o, k, s, p, op): [i, o, k, s, p, op]
        case let .maxPool2d(k, s): [k, s]
        case let .dense(i, o): [i, o]
        case let .activation(_, u): [nil, u]
        case let .lstm(i, h, l, _, _): [i, h, l, nil, nil]
        case let .gdn(c, _): [c]
        }
    }
}
