import FlexIO
import FlexPlot
import FlexRuntime
import FlexTraining

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// What a run was asked to do, saved as `run.json` in the run folder when the run starts and never changed
/// (docs/training.md). `flexctl train --resume` rebuilds the data and the model from it; `flexctl export`
/// takes the task, architecture, input specification and provenance from it.
///
/// Keys are snake_case (`learning_rate`, `training.batch_size`) from format version 2; version 1 run folders
/// (camelCase keys, `learningRate`) are still read, so older runs resume and export (`RunConfig.Key`).
struct RunConfig: Equatable {
    var format = RunConfig.formatName
    var formatVersion = RunConfig.formatVersion
    var flexctlVersion = Checkpoint.currentFlexctlVersion
    /// ISO 8601 UTC time the run started.
    var created: String
    /// `cae` or `forecast`.
    var command: String
    var task: CheckpointTask
    /// `cae1`, `cae2`, `cae3` or `lstm`.
    var architecture: String
    /// The CAE's activation member, or the forecaster's gate member.
    var activation: String
    /// The forecaster's cell (candidate and output) member.
    var cell: String?
    var hidden: Int?
    var lstmLayers: Int?
    var data: DataConfig
    var training: TrainingOptions
    var learningRate: Double
    var regularizer: RegularizerSettings
    /// The model's layers (with the activation members and their defaults).
    var layers: [LayerSpec]
    /// The checkpoint input specification (normalisation fitted on the training split).
    var input: InputSpec
    /// A hash of every sample the run trains, validates and tests on (resume refuses changed data).
    var dataFingerprint: String
    var datasetDescription: String
    var trainSize: Int
    var validationSize: Int
    var testSize: Int

    static let formatName = "flexctl-run"
    /// 2: snake_case keys; 1: camelCase keys (read, never written).
    static let formatVersion = 2
    static let fileName = "run.json"
    static let stateFileName = "state.h5"
    /// Largest run.json read: 16 MiB (a run description is a few KB).
    static let maximumFileBytes = 16 << 20
    /// Largest sample count a run.json may record (far above any data set flexctl loads).
    static let maximumSamples = 1 << 40
}

/// run.json's keys, written in snake_case; `legacy` (format version 1) spells them in camelCase instead.
struct RunKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(_ snake: String, legacy: Bool) { stringValue = legacy ? camelCase(snake) : snake }
    init?(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }

    /// The decoder's userInfo entry saying the file uses version 1's camelCase keys.
    static let legacyInfo = CodingUserInfoKey(rawValue: "flexctl.run-json-camel-case")!

    static func isLegacy(_ decoder: any Decoder) -> Bool { decoder.userInfo[legacyInfo] as? Bool ?? false }
}

/// `learning_rate` → `learningRate`.
func camelCase(_ snake: String) -> String {
    var out = ""
    var upper = false
    for c in snake {
        if c == "_" { upper = true; continue }
        out += upper ? c.uppercased() : String(c)
        upper = false
    }
    return out
}

extension RunConfig: Codable {
    init(from decoder: any Decoder) throws {
        let legacy = RunKey.isLegacy(decoder)
        let c = try decoder.container(keyedBy: RunKey.self)
        func k(_ name: String) -> RunKey { RunKey(name, legacy: legacy) }
        format = try c.decode(String.self, forKey: k("format"))
        formatVersion = try c.decode(Int.self, forKey: k("format_version"))
        flexctlVersion = try c.decode(String.self, forKey: k("flexctl_version"))
        created = try c.decode(String.self, forKey: k("created"))
        command = try c.decode(String.self, forKey: k("command"))
        task = try c.decode(CheckpointTask.self, forKey: k("task"))
        architecture = try c.decode(String.self, forKey: k("architecture"))
        activation = try c.decode(String.self, forKey: k("activation"))
        cell = try c.decodeIfPresent(String.self, forKey: k("cell"))
        hidden = try c.decodeIfPresent(Int.self, forKey: k("hidden"))
        lstmLayers = try c.decodeIfPresent(Int.self, forKey: k("lstm_layers"))
        data = try c.decode(DataConfig.self, forKey: k("data"))
        training = try c.decode(TrainingOptionsJSON.self, forKey: k("training")).options
        learningRate = try c.decode(Double.self, forKey: k("learning_rate"))
        regularizer = try c.decode(RegularizerSettings.self, forKey: k("regularizer"))
        layers = try c.decode([LayerSpec].self, forKey: k("layers"))
        input = try c.decode(InputSpec.self, forKey: k("input"))
        dataFingerprint = try c.decode(String.self, forKey: k("data_fingerprint"))
        datasetDescription = try c.decode(String.self, forKey: k("dataset_description"))
        trainSize = try c.decode(Int.self, forKey: k("train_size"))
        validationSize = try c.decode(Int.self, forKey: k("validation_size"))
        testSize = try c.decode(Int.self, forKey: k("test_size"))
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: RunKey.self)
        func k(_ name: String) -> RunKey { RunKey(name, legacy: false) }
        try c.encode(format, forKey: k("format"))
        try c.encode(formatVersion, forKey: k("format_version"))
        try c.encode(flexctlVersion, forKey: k("flexctl_version"))
        try c.encode(created, forKey: k("created"))
        try c.encode(command, forKey: k("command"))
        try c.encode(task, forKey: k("task"))
        try c.encode(architecture, forKey: k("architecture"))
        try c.encode(activation, forKey: k("activation"))
        try c.encodeIfPresent(cell, forKey: k("cell"))
        try c.encodeIfPresent(hidden, forKey: k("hidden"))
        try c.encodeIfPresent(lstmLayers, forKey: k("lstm_layers"))
        try c.encode(data, forKey: k("data"))
        try c.encode(TrainingOptionsJSON(training), forKey: k("training"))
        try c.encode(learningRate, forKey: k("learning_rate"))
        try c.encode(regularizer, forKey: k("regularizer"))
        try c.encode(layers, forKey: k("layers"))
        try c.encode(input, forKey: k("input"))
        try c.encode(dataFingerprint, forKey: k("data_fingerprint"))
        try c.encode(datasetDescription, forKey: k("dataset_description"))
        try c.encode(trainSize, forKey: k("train_size"))
        try c.encode(validationSize, forKey: k("validation_size"))
        try c.encode(testSize, forKey: k("test_size"))
    }
}

/// `TrainingOptions` (FlexTraining's, camelCase when synthesized) as run.json spells it.
struct TrainingOptionsJSON: Codable {
    var options: TrainingOptions
    init(_ options: TrainingOptions) { self.options = options }

    init(from decoder: any Decoder) throws {
        let legacy = RunKey.isLegacy(decoder)
        let c = try decoder.container(keyedBy: RunKey.self)
        func k(_ name: String) -> RunKey { RunKey(name, legacy: legacy) }
        options = TrainingOptions(
            epochs: try c.decode(Int.self, forKey: k("epochs")), batchSize: try c.decode(Int.self, forKey: k("batch_size")),
            seed: try c.decode(UInt64.self, forKey: k("seed")), patience: try c.decodeIfPresent(Int.self, forKey: k("patience")),
            threads: try c.decode(Int.self, forKey: k("threads")))
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: RunKey.self)
        try c.encode(options.epochs, forKey: RunKey("epochs", legacy: false))
        try c.encode(options.batchSize, forKey: RunKey("batch_size", legacy: false))
        try c.encode(options.seed, forKey: RunKey("seed", legacy: false))
        try c.encodeIfPresent(options.patience, forKey: RunKey("patience", legacy: false))
        try c.encode(options.threads, forKey: RunKey("threads", legacy: false))
    }
}

extension RunConfig {
    /// The first thing wrong with a run description read from a file, or nil. A run folder may come from
    /// anyone, and resume and export build the model from it: its options are held to the command line's
    /// ranges (`OptionBounds`), and its layers and input shape must be exactly what its architecture and
    /// options give, so that a crafted run.json can neither ask for absurd sizes nor carry another model.
    func problem() -> String? {
        func int(_ field: String, _ v: Int?, _ b: IntBounds) -> String? {
            v.flatMap { b.problem($0) }.map { "field '\(field)' is \(v!); \($0)" }
        }
        func real(_ field: String, _ v: Double?, _ b: RealBounds) -> String? {
            v.flatMap { b.problem($0) }.map { "field '\(field)' is \(NumberText.short(v!)); \($0)" }
        }
        let checks: [String?] = [
            int("training.epochs", training.epochs, OptionBounds.epochs),
            int("training.batch_size", training.batchSize, OptionBounds.batchSize),
            int("training.patience", training.patience, OptionBounds.patience),
            int("training.threads", training.threads, OptionBounds.threads),
            real("learning_rate", learningRate, OptionBounds.learningRate),
            real("regularizer.delta1", regularizer.delta1, OptionBounds.regularizerWeight),
            real("regularizer.delta2", regularizer.delta2, OptionBounds.regularizerWeight),
            real("regularizer.delta3", regularizer.delta3, OptionBounds.regularizerWeight),
            real("regularizer.margin", regularizer.margin, OptionBounds.margin),
            real("data.validation_fraction", data.validationFraction, OptionBounds.split),
            real("data.test_fraction", data.testFraction, OptionBounds.split),
            int("data.patches", data.patches, OptionBounds.patches),
            int("data.window", data.window, OptionBounds.window),
            int("data.horizon", data.horizon, OptionBounds.targetHorizon),
            int("hidden", hidden, OptionBounds.hidden),
            int("lstm_layers", lstmLayers, OptionBounds.lstmLayers),
        ]
        if let first = checks.compactMap({ $0 }).first { return first }
        // Sizes the state is checked against (batches per epoch); a run always has training samples.
        for (field, v, range) in [("train_size", trainSize, 1...RunConfig.maximumSamples),
                                  ("validation_size", validationSize, 0...RunConfig.maximumSamples),
                                  ("test_size", testSize, 0...RunConfig.maximumSamples)] where !range.contains(v) {
            return "field '\(field)' is \(v); expected \(range.lowerBound)...\(range.upperBound)"
        }
        // A run records its data by absolute path (`absolutePath`); anything else was not written by flexctl.
        if command == "cae", data.path == nil { return "field 'data.path' is missing; a CAE run records its data" }
        if command == "forecast", data.series?.isEmpty ?? true {
            return "field 'data.series' is missing or empty; a forecaster run records its series files"
        }
        var paths: [(field: String, path: String)] = data.path.map { [("data.path", $0)] } ?? []
        for (i, p) in (data.series ?? []).enumerated() { paths.append(("data.series[\(i)]", p)) }
        for (field, p) in paths where !p.hasPrefix("/") {
            return "field '\(field)' is not an absolute path; a run records its data by absolute path"
        }
        let expected: [LayerSpec]
        switch (command, input) {
        case ("cae", .image):
            guard let shape = Architecture.inputShape(of: architecture), let member = try? ActivationFunction.member(activation),
                  let layers = try? Architecture.named(architecture, activation: member) else {
                return "architecture '\(architecture)' with activation '\(activation)' is not a CAE this flexctl trains"
            }
            guard input.perSampleShape == shape else {
                return "field 'input' has the shape \(input.perSampleShape); \(architecture) takes \(shape)"
            }
            expected = layers
        case let ("forecast", .series(spec)):
            guard let hidden, let lstmLayers, let cell, let gate = try? ActivationFunction.member(activation),
                  let cellMember = try? ActivationFunction.member(cell) else {
                return "the forecaster's hidden, lstm_layers, activation or cell is missing or unknown"
            }
            guard spec.window == data.window else {
                return "field 'input.window' is \(spec.window) but 'data.window' is \(data.window.map(String.init) ?? "missing")"
            }
            expected = Architecture.lstmForecaster(features: spec.features.count, hidden: hidden, layers: lstmLayers,
                                                   targets: spec.targets.count, gate: gate, cell: cellMember)
        default:
            return "command '\(command)' with \(input.kindName) input is not a run this flexctl makes"
        }
        guard layers == expected else {
            return "field 'layers' does not match the architecture its options give (\(expected.map(\.summary).joined(separator: ", ")))"
        }
        return nil
    }
}

/// Where the data came from and how it was split.
struct DataConfig: Equatable {
    /// CAE: the `--data` path (absolute).
    var path: String?
    /// CAE on a photo folder: patches sampled for training (test: a fifth as many) and their size.
    var patches: Int?
    /// Forecast: the series files (absolute), targets, window, horizon, transform.
    var series: [String]?
    var targets: [String]?
    var window: Int?
    var horizon: Int?
    var transform: SeriesTransform?
    /// Fraction of the training data held out for validation (CAE: random; forecast: the latest part).
    var validationFraction: Double
    /// Forecast: the latest fraction of the samples held out for testing.
    var testFraction: Double?
    /// Forecast: the column read from every series file (`--column`), or nil for the files' defaults.
    var column: String?
}

extension DataConfig: Codable {
    init(from decoder: any Decoder) throws {
        let legacy = RunKey.isLegacy(decoder)
        let c = try decoder.container(keyedBy: RunKey.self)
        func k(_ name: String) -> RunKey { RunKey(name, legacy: legacy) }
        path = try c.decodeIfPresent(String.self, forKey: k("path"))
        patches = try c.decodeIfPresent(Int.self, forKey: k("patches"))
        series = try c.decodeIfPresent([String].self, forKey: k("series"))
        targets = try c.decodeIfPresent([String].self, forKey: k("targets"))
        window = try c.decodeIfPresent(Int.self, forKey: k("window"))
        horizon = try c.decodeIfPresent(Int.self, forKey: k("horizon"))
        transform = try c.decodeIfPresent(SeriesTransform.self, forKey: k("transform"))
        validationFraction = try c.decode(Double.self, forKey: k("validation_fraction"))
        testFraction = try c.decodeIfPresent(Double.self, forKey: k("test_fraction"))
        column = try c.decodeIfPresent(String.self, forKey: k("column"))
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: RunKey.self)
        func k(_ name: String) -> RunKey { RunKey(name, legacy: false) }
        try c.encodeIfPresent(path, forKey: k("path"))
        try c.encodeIfPresent(patches, forKey: k("patches"))
        try c.encodeIfPresent(series, forKey: k("series"))
        try c.encodeIfPresent(targets, forKey: k("targets"))
        try c.encodeIfPresent(window, forKey: k("window"))
        try c.encodeIfPresent(horizon, forKey: k("horizon"))
        try c.encodeIfPresent(transform, forKey: k("transform"))
        try c.encode(validationFraction, forKey: k("validation_fraction"))
        try c.encodeIfPresent(testFraction, forKey: k("test_fraction"))
        try c.encodeIfPresent(column, forKey: k("column"))
    }
}

/// A run folder: `run.json`, `state.h5`, `log.csv`, `loss.svg`, `loss.png`.
struct RunFolder {
    let path: String
    /// The folders `create` made, outermost first (empty when the folder existed): only these may be removed
    /// when the run fails before its first state (`removeUnstarted`).
    var createdFolders: [String] = []

    var configPath: String { path + "/" + RunConfig.fileName }
    var statePath: String { path + "/" + RunConfig.stateFileName }
    var logPath: String { path + "/log.csv" }

    /// A new run folder: refuses one that already holds a run.
    static func create(_ path: String) throws -> RunFolder {
        if let kind = FileKind(path: path) {
            guard kind == .directory else { throw CLIError("--out \(path): exists and is not a folder") }
            if pathExists(path + "/" + RunConfig.fileName) {
                throw CLIError("--out \(path): already holds a run; continue it with `flexctl train <cae|forecast> --resume \(path)` or choose another --out")
            }
        }
        // Each missing folder from the outermost down, remembered so that a failed start removes exactly these
        // (and nothing that existed before).
        let created: [String]
        do { created = try makeDirectories(path) } catch {
            throw CLIError("--out \(path): cannot create the run folder: \(error.path): \(error.reason)")
        }
        var folder = RunFolder(path: path)
        folder.createdFolders = created
        guard access(path, W_OK) == 0 else {
            folder.removeUnstarted()
            throw CLIError("--out \(path): the folder is not writable")
        }
        return folder
    }

    /// Undoes `create` and `writeConfig` for a run that failed before writing its first state (a full disk, bad
    /// data, an interrupted start): removes run.json and the folders `create` made, if empty. Never removes
    /// anything else: a folder that is not empty (someone put a file there meanwhile) stays.
    func removeUnstarted() {
        unlink(configPath)
        for folder in createdFolders.reversed() { rmdir(folder) }
    }

    /// An existing run folder (for resume and export).
    static func open(_ path: String) throws -> RunFolder {
        guard isDirectory(path) else {
            throw CLIError("\(path): no such run folder (a folder made by `flexctl train --out`)")
        }
        let f = RunFolder(path: path)
        guard pathExists(f.configPath) else {
            throw CLIError("\(path): not a run folder: \(RunConfig.fileName) is missing")
        }
        return f
    }

    func writeConfig(_ c: RunConfig) throws {
        let e = JSONEncoder()
        // Keys as `RunConfig.encode` spells them (snake_case); no key strategy, which would also rewrite the
        // runtime types' keys.
        e.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let data = try e.encode(c)
        try writeFileAtomically(path: configPath, bytes: Array(data) + [10])
    }

    func readConfig() throws -> RunConfig {
        let data: Data
        do { data = Data(try readRegularFile(configPath, maxBytes: RunConfig.maximumFileBytes)) } catch {
            throw CLIError("\(configPath): \(error.reason)")
        }
        let c: RunConfig
        do {
            // Version 1 files spell the keys in camelCase: known from which spelling of the version key they have.
            let probe = try JSONDecoder().decode(RunFormatProbe.self, from: data)
            let decoder = JSONDecoder()
            decoder.userInfo[RunKey.legacyInfo] = probe.format_version == nil && probe.formatVersion != nil
            c = try decoder.decode(RunConfig.self, from: data)
        } catch {
            throw CLIError("\(configPath): not a valid run description: \(decodingMessage(error))")
        }
        guard c.format == RunConfig.formatName else {
            throw CLIError("\(configPath): field 'format' is '\(c.format)', expected '\(RunConfig.formatName)'")
        }
        guard c.formatVersion <= RunConfig.formatVersion else {
            throw CLIError("\(configPath): run format version \(c.formatVersion) is newer than this flexctl reads (\(RunConfig.formatVersion))")
        }
        if let problem = c.problem() { throw CLIError("\(configPath): \(problem)") }
        return c
    }

    /// The run's state, checked on its own and against the run `config` describes (its model, epochs, batch size
    /// and training-set size): one message naming state.h5 and the field, before anything uses it.
    func readState(for config: RunConfig) throws -> TrainingState {
        let state = try TrainingState.read(from: statePath)
        let model = try Sequential(specs: config.layers, inputShape: config.input.perSampleShape, seed: 0)
        if let problem = state.problem(model: model, options: config.training, trainCount: config.trainSize) {
            throw TrainingStateError(file: statePath, message: problem)
        }
        // The trainer adopts the state's optimiser, which a run makes with run.json's learning rate.
        guard state.optimizer.learningRate == config.learningRate else {
            throw TrainingStateError(file: statePath, message: "field 'optimizer.learningRate' is \(state.optimizer.learningRate); expected the run's \(config.learningRate) (run.json 'learning_rate')")
        }
        return state
    }

    /// Rewrites `log.csv`, `loss.svg` and `loss.png` from the history (each atomically).
    func writeLog(_ state: TrainingState) throws {
        var lines = ["epoch,train_loss,validation_loss,regularization,seconds,alpha_mean,alpha_min,alpha_max,beta_mean,beta_min,beta_max"]
        func f(_ v: Double?) -> String { v.map { NumberText.exact($0) } ?? "" }
        for r in state.history {
            lines.append([String(r.epoch), f(r.trainLoss), f(r.validationLoss), f(r.regularization), f(r.seconds),
                          f(r.alpha?.mean), f(r.alpha?.min), f(r.alpha?.max), f(r.beta?.mean), f(r.beta?.min), f(r.beta?.max)]
                .joined(separator: ","))
        }
        try writeFileAtomically(path: logPath, text: lines.joined(separator: "\n") + "\n")
        guard !state.history.isEmpty else { return }
        var plot = LinePlot(title: "Loss per epoch", xLabel: "epoch", yLabel: "MSE")
        plot.xAxis = .integer
        let x = state.history.map { Double($0.epoch) }
        plot.addSeries(name: "train", x: x, y: state.history.map(\.trainLoss))
        let v = state.history.compactMap(\.validationLoss)
        if v.count == x.count { plot.addSeries(name: "validation", x: x, y: v) }
        try plot.write(to: path + "/loss.svg")
        try plot.write(to: path + "/loss.png")
    }
}

/// The version key of a run.json, in either spelling.
private struct RunFormatProbe: Decodable {
    var format_version: Int?
    var formatVersion: Int?
}

