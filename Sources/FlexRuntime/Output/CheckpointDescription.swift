import FlexEntropy

/// What a checkpoint holds, as one JSON document of kind `checkpoint`: format, task, fingerprint, the input
/// specification, the model's shapes, architecture, per-slot α/β statistics and provenance. The one description
/// of a checkpoint: `flexctl inspect --format json` prints it and the C API's `flexctl_model_describe` returns it
/// (schema in docs/cli.md, "JSON output"; written by `JSONOutput`, so keys are snake_case and sorted).
public struct CheckpointDescription: Encodable, Sendable {
    /// The document's `kind`.
    public static let kind = "checkpoint"
    /// Histogram bins for α (over [0, 1]) and β (over [min, max]).
    public static let histogramBins = 10

    /// The file the checkpoint was read from, as given (the C API: the path, or the name given to
    /// `flexctl_model_open_memory`).
    public var file: String
    public var format: String
    public var formatVersion: Int
    public var formatMinorVersion: Int
    public var flexctlVersion: String
    public var storedType: String
    public var task: String
    public var fingerprint: String
    public var input: Input
    /// The model's input per sample: `[C, H, W]` (one tile) or `[window, features]`.
    public var inputShape: [Int]
    /// The model's output per sample: `[C, H, W]` (one tile) or `[targets]` (the values `horizon` steps ahead).
    public var outputShape: [Int]
    public var architecture: [LayerEntry]
    public var totalParameters: Int
    public var activations: [Slot]
    public var provenance: Nullable<ProvenanceSummary>
    /// A learned codec's entropy-coding tables (`/entropy_model`); left out for other tasks.
    public var entropyModel: EntropyModel?

    /// The input specification's fields as the checkpoint stores them (those of the other kinds left out), the
    /// code shape of an auto-encoder (the encoder's output per tile) and the latent shape of a codec (per
    /// stride × stride block).
    public struct Input: Encodable, Sendable {
        public var kind: String
        public var channels: Int?, height: Int?, width: Int?, pixelScaling: String?, encoderLayers: Int?
        public var codeShape: [Int]?
        public var imageChannels: Int?, latentChannels: Int?, analysisLayers: Int?, stride: Int?, lambda: JSONNumber?
        public var latentShape: [Int]?
        public var features: [String]?, targets: [String]?, window: Int?, horizon: Int?, transform: String?
        public var normalization: Normalization?
        public struct Normalization: Encodable, Sendable { public var mean: [JSONNumber], std: [JSONNumber] }
    }

    /// The entropy model: totals over the tables, then one entry per latent channel.
    public struct EntropyModel: Encodable, Sendable {
        public var channels: Int
        /// CDF entries over all tables (the stored matrix's padding not counted).
        public var totalTableEntries: Int
        /// The longest CDF (the stored matrix's width).
        public var maxCdfLength: Int
        /// The smallest and largest in-range symbol over all tables.
        public var minSymbol: Int, maxSymbol: Int
        /// The density parameters' names (empty: only the tables are stored).
        public var densityParameters: [String]
        public var tables: [Table]

        public struct Table: Encodable, Sendable {
            public var channel: Int
            public var median: JSONNumber
            public var minSymbol: Int, maxSymbol: Int
            /// In-range symbols plus the escape.
            public var symbols: Int
            /// The escape's probability (its frequency / 2^16).
            public var escapeProbability: JSONNumber
        }

        public init(_ e: EntropyCodingTables, density: [(name: String, tensor: Tensor)]) {
            channels = e.channelCount
            totalTableEntries = e.totalEntries
            maxCdfLength = e.maxCDFLength
            minSymbol = Int(e.symbolRange?.lowerBound ?? 0)
            maxSymbol = Int(e.symbolRange?.upperBound ?? 0)
            densityParameters = density.map(\.name)
            tables = e.tables.enumerated().map { c, t in
                Table(channel: c, median: JSONNumber(Double(c < e.medians.count ? e.medians[c] : .nan)),
                      minSymbol: Int(t.minSymbol), maxSymbol: Int(t.maxSymbol), symbols: t.symbolCount,
                      escapeProbability: JSONNumber(Double(t.frequency(ofIndex: t.escapeIndex)) / Double(CDFTable.total)))
            }
        }
    }

    public struct LayerEntry: Encodable, Sendable {
        /// The layer's name (`layers.I`).
        public var layer: String
        public var kind: String
        public var summary: String
        /// The layer as the checkpoint's architecture stores it.
        public var spec: LayerSpec
        public var outputShape: [Int]
        public var parameters: Int
    }

    public struct Statistics: Encodable, Sendable {
        public var label: String
        public var count: Int
        public var mean: JSONNumber, std: JSONNumber, min: JSONNumber, max: JSONNumber
        public var histogramRange: [JSONNumber]
        public var histogram: [Int]

        init(_ label: String, _ s: ParameterStatistics) {
            self.label = label
            count = s.count
            mean = JSONNumber(s.mean)
            std = JSONNumber(s.std)
            min = JSONNumber(s.min)
            max = JSONNumber(s.max)
            histogramRange = JSONNumber.list([s.range.lowerBound, s.range.upperBound])
            histogram = s.histogram
        }
    }

    public struct Slot: Encodable, Sendable {
        public var slot: String
        public var layer: Int
        public var member: String
        public var units: Int
        public var alpha: [Statistics]
        public var beta: Nullable<Statistics>
    }

    public struct ProvenanceSummary: Encodable, Sendable {
        public var dataset: Nullable<String>
        public var trainSize: Nullable<Int>, validationSize: Nullable<Int>, testSize: Nullable<Int>
        public var seed: Nullable<Int>, epochs: Nullable<Int>
        public var optimizer: Nullable<Optimizer>
        public var regularizer: Nullable<Regularizer>
        public var created: Nullable<String>
        public var trainLoss: [JSONNumber], validationLoss: [JSONNumber]
        public var testLoss: Nullable<JSONNumber>
        public struct Optimizer: Encodable, Sendable {
            public var name: String, learningRate: JSONNumber, beta1: JSONNumber, beta2: JSONNumber, epsilon: JSONNumber
        }
        public struct Regularizer: Encodable, Sendable {
            public var delta1: JSONNumber, delta2: JSONNumber, delta3: JSONNumber, margin: JSONNumber
        }
    }

    /// The index of the encoder's last layer for an image auto-encoder with a valid split (the reader enforces
    /// one; a checkpoint built in memory may not have it), else nil.
    public static func codeLayer(_ checkpoint: Checkpoint, model: Sequential) -> Int? {
        guard case let .image(s) = checkpoint.input, s.encoderLayers >= 1, s.encoderLayers <= model.layers.count
        else { return nil }
        return s.encoderLayers - 1
    }

    /// The description of `checkpoint` (read from `file`), whose model `checkpoint.makeModel()` built, with the
    /// statistics `model.activationStatistics(bins: histogramBins)` computed.
    public init(checkpoint c: Checkpoint, model: Sequential, file: String, activations: [ActivationSlotStatistics]) {
        self.file = file
        format = Checkpoint.formatName
        formatVersion = c.formatVersion
        formatMinorVersion = c.formatMinorVersion
        flexctlVersion = c.flexctlVersion
        storedType = c.storedType.rawValue
        task = c.task.rawValue
        fingerprint = c.fingerprint
        switch c.input {
        case let .image(s):
            input = Input(kind: c.input.kindName, channels: s.channels, height: s.height, width: s.width,
                          pixelScaling: s.pixelScaling.rawValue, encoderLayers: s.encoderLayers,
                          codeShape: Self.codeLayer(c, model: model).map { model.layerOutputShapes[$0] })
        case let .series(s):
            input = Input(kind: c.input.kindName, features: s.features, targets: s.targets, window: s.window,
                          horizon: s.horizon, transform: s.transform.rawValue,
                          normalization: .init(mean: JSONNumber.list(s.normalization.mean),
                                               std: JSONNumber.list(s.normalization.std)))
        case let .codec(s):
            let latent = s.analysisLayers >= 1 && s.analysisLayers <= model.layers.count
                ? model.layerOutputShapes[s.analysisLayers - 1] : nil
            input = Input(kind: c.input.kindName, pixelScaling: s.pixelScaling.rawValue, imageChannels: s.imageChannels,
                          latentChannels: s.latentChannels, analysisLayers: s.analysisLayers, stride: s.stride,
                          lambda: JSONNumber(s.lambda), latentShape: latent)
        }
        entropyModel = c.entropyTables.map { EntropyModel($0, density: c.entropyDensity) }
        inputShape = model.inputShape
        outputShape = model.outputShape
        architecture = model.layers.enumerated().map { i, layer in
            LayerEntry(layer: layer.name, kind: layer.spec.kindName, summary: layer.spec.summary, spec: layer.spec,
                       outputShape: model.layerOutputShapes[i], parameters: layer.parameterCount)
        }
        totalParameters = model.parameterCount
        self.activations = activations.map { a in
            Slot(slot: a.path, layer: a.layer, member: a.member, units: a.units,
                 alpha: a.alpha.map { Statistics($0.label, $0.statistics) },
                 beta: Nullable(a.beta.map { Statistics("beta", $0) }))
        }
        provenance = Nullable(c.provenance.map { p in
            ProvenanceSummary(
                dataset: Nullable(p.dataset), trainSize: Nullable(p.trainSize), validationSize: Nullable(p.validationSize),
                testSize: Nullable(p.testSize), seed: Nullable(p.seed), epochs: Nullable(p.epochs),
                optimizer: Nullable(p.optimizer.map {
                    .init(name: $0.name, learningRate: JSONNumber($0.learningRate), beta1: JSONNumber($0.beta1),
                          beta2: JSONNumber($0.beta2), epsilon: JSONNumber($0.epsilon))
                }),
                regularizer: Nullable(p.regularizer.map {
                    .init(delta1: JSONNumber($0.delta1), delta2: JSONNumber($0.delta2), delta3: JSONNumber($0.delta3),
                          margin: JSONNumber($0.margin))
                }),
                created: Nullable(p.created), trainLoss: JSONNumber.list(p.trainLoss),
                validationLoss: JSONNumber.list(p.validationLoss), testLoss: Nullable(JSONNumber.optional(p.testLoss)))
        })
    }

    /// The description of `checkpoint` (read from `file`): builds its model and the α/β statistics.
    public init(checkpoint: Checkpoint, file: String) throws(ConfigurationError) {
        let model = try checkpoint.makeModel()
        self.init(checkpoint: checkpoint, model: model, file: file,
                  activations: model.activationStatistics(bins: Self.histogramBins))
    }

    /// The JSON document: `kind` `checkpoint`, `schema_version`, then the fields above in snake_case.
    public var json: String { JSONOutput.document(kind: Self.kind, self) }
}
