import FlexData
import FlexRuntime
import FlexTraining

/// The three splits a run trains, validates and tests on, with what the checkpoint needs to know about them.
struct PreparedData {
    var train: TensorDataset
    var validation: TensorDataset?
    var test: TensorDataset?
    var input: InputSpec
    var description: String
    /// `images`, `windows`: what the progress bar counts.
    var sampleNoun: String
    /// Lines to print before training (conversions, dropped rows, ...).
    var notes: [String] = []

    /// A 64-bit hash over every value and shape of the three splits (resume refuses data that changed).
    var fingerprint: String {
        var h = DataHasher()
        for d in [train, validation, test] {
            guard let d else { h.combine(0); continue }
            h.combine(UInt64(d.count))
            for s in d.inputShape + d.targetShape { h.combine(UInt64(s)) }
            h.combine(d.inputs)
            if let t = d.targets { h.combine(t) }
        }
        return h.hex
    }
}

/// A fast non-cryptographic 64-bit hash (multiply–xorshift over 64-bit words) to notice changed data.
struct DataHasher {
    private var h: UInt64 = 0x243F_6A88_85A3_08D3

    mutating func combine(_ v: UInt64) {
        h = (h ^ v) &* 0x9E37_79B9_7F4A_7C15
        h ^= h >> 29
    }

    mutating func combine(_ values: [Float]) {
        values.withUnsafeBufferPointer { b in
            var i = 0
            while i + 1 < b.count {
                combine(UInt64(b[i].bitPattern) | UInt64(b[i + 1].bitPattern) << 32)
                i += 2
            }
            if i < b.count { combine(UInt64(b[i].bitPattern)) }
        }
    }

    var hex: String {
        let s = String(h, radix: 16)
        return String(repeating: "0", count: 16 - s.count) + s
    }
}

enum TrainingData {
    /// The per-sample shape and pixel scaling of a CAE architecture (tanh output: [−1, 1]; sigmoid: [0, 1]).
    static func imageFormat(arch: String) throws -> (shape: [Int], scaling: PixelScaling) {
        guard let name = ArchitectureName(rawValue: arch), let shape = name.imageInputShape,
              let scaling = name.pixelScaling else {
            throw CLIError.usage("--arch '\(arch)': unknown architecture; valid: \(Architecture.caeNames.joined(separator: ", "))")
        }
        return (shape, scaling)
    }

    /// Loads `--data` for a CAE: converts the channel count if needed (1 → 3 replicates gray; 3 → 1 takes
    /// BT.601 luma, with a note), refuses other sizes, splits a random `validationFraction` of the training
    /// images (seeded) off for validation, and scales pixels as the model's output activation requires.
    static func images(_ config: DataConfig, arch: String, seed: UInt64) throws -> PreparedData {
        guard let path = config.path else { throw CLIError.usage("--data is required: an IDX file or folder, a CIFAR-10 folder or file, or a folder of PNG photos") }
        let (shape, scaling) = try imageFormat(arch: arch)
        let loaded = try ImageData.load(path: path, patches: config.patches ?? 20_000, patchSize: shape[1], seed: seed)
        var notes: [String] = []
        func fit(_ set: ImageSet, _ what: String) throws -> ImageSet {
            guard set.height == shape[1], set.width == shape[2] else {
                throw CLIError("\(path): the \(what) images are \(set.width)×\(set.height); \(arch) takes \(shape[2])×\(shape[1]) images")
            }
            guard set.channels != shape[0] else { return set }
            notes.append("converting the \(what) images from \(set.channels) to \(shape[0]) channel\(shape[0] == 1 ? "" : "s") (\(shape[0] == 3 ? "gray replicated" : "BT.601 luma"))")
            return try set.converted(toChannels: shape[0])
        }
        let all = try fit(loaded.train, "training")
        var test = try loaded.test.map { try fit($0, "test") }
        // One seeded shuffle: [test (only when the data has no test set of its own) | validation | train].
        var rng = SplitMix64(seed: seed ^ 0x5EED_0F5A_1100_0001)
        let order = rng.permutation(all.count)
        let nTest = test == nil ? Int((Double(all.count) * (config.testFraction ?? 0)).rounded()) : 0
        let nValidation = Int((Double(all.count) * config.validationFraction).rounded())
        guard all.count - nTest - nValidation >= 1 else {
            throw CLIError("\(path): \(all.count) images leave none for training after the test and validation splits")
        }
        if nTest > 0 { test = all.subset(Array(order[..<nTest])) }
        let validationSet = nValidation > 0 ? all.subset(Array(order[nTest ..< nTest + nValidation])) : nil
        let trainSet = all.subset(Array(order[(nTest + nValidation)...]))
        func tensor(_ s: ImageSet) throws -> TensorDataset {
            try TensorDataset(autoencoderInputs: s.pixels.map { scaling.modelValue(pixel: $0) }, shape: shape)
        }
        let spec = ImageInputSpec(channels: shape[0], height: shape[1], width: shape[2], pixelScaling: scaling,
                                  encoderLayers: Architecture.encoderLayerCount[arch] ?? 0)
        var description = loaded.description
        if nTest > 0 { description += "; \(nTest) images held out for testing (seeded)" }
        if nValidation > 0 { description += "; \(nValidation) held out for validation (seeded)" }
        return PreparedData(train: try tensor(trainSet), validation: try validationSet.map(tensor),
                            test: try test.map(tensor), input: .image(spec), description: description,
                            sampleNoun: "img", notes: notes)
    }

    /// Loads the series for a forecaster: the trainer's pipeline (aligned by date, transformed, normalised with
    /// statistics of the training part, windows split chronologically) from `ForecastDataset`.
    static func series(_ config: DataConfig) throws -> PreparedData {
        guard let files = config.series, !files.isEmpty else { throw CLIError.usage("--series is required: one or more CSV files") }
        var all: [PriceSeries] = []
        for f in files { all += try SeriesFile.read(path: f, column: config.column) }
        let names = all.map(\.name)
        var targets = config.targets ?? []
        // Which targets exist is known only once the files are read, but a missing or unknown --target is still a
        // mistake in the command line: exit 64 (docs/cli.md), naming the series to choose from.
        if targets.isEmpty || targets == ["all"] {
            if targets.isEmpty, names.count > 1 {
                throw CLIError.usage("--target is required with several series; choose from: \(MessageText.list(names)) (or 'all'; one series per column unless --column picks one)")
            }
            targets = names
        } else if let unknown = targets.first(where: { !names.contains($0) }) {
            throw CLIError.usage("--target '\(unknown)': no such series; the files hold \(MessageText.list(names)) (or 'all')")
        }
        let d = try ForecastDataset.build(series: all, targets: targets, window: config.window ?? 30,
                                          horizon: config.horizon ?? 1, transform: config.transform ?? .returns,
                                          testFraction: config.testFraction ?? 0.2,
                                          validationFraction: config.validationFraction)
        func tensor(_ w: SeriesWindows) throws -> TensorDataset? {
            guard w.count > 0 else { return nil }
            return try TensorDataset(inputShape: [w.window, w.featureCount], inputs: w.inputs,
                                     targetShape: [w.targetCount], targets: w.targets)
        }
        guard let train = try tensor(d.train) else { throw CLIError("the series leave no training windows") }
        let spec = SeriesInputSpec(features: d.features, targets: d.targets, window: d.window, horizon: d.horizon,
                                   transform: d.transform,
                                   normalization: Normalization(mean: d.statistics.mean, std: d.statistics.std))
        var range = ""
        if let dates = d.dates, let first = dates.first, let last = dates.last { range = ", \(first) to \(last)" }
        let description = "\(d.transform) of \(d.features.joined(separator: ", ")) (\(d.dates?.count ?? 0) aligned days\(range)); "
            + "window \(d.window), horizon \(d.horizon); chronological split \(d.train.count) train, "
            + "\(d.validation.count) validation, \(d.test.count) test windows"
        return PreparedData(train: train, validation: try tensor(d.validation), test: try tensor(d.test),
                            input: .series(spec), description: description, sampleNoun: "seq", notes: [])
    }
}
