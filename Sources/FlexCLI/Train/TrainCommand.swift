import ArgumentParser
import FlexRuntime
import FlexTraining

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// `flexctl train`: `train cae` and `train forecast` (each with `--resume RUN_DIR`).
public struct TrainCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a convolutional auto-encoder or an LSTM forecaster with flexible activations.",
        discussion: """
        A run writes its folder (--out): run.json (what was asked), state.h5 (weights, alpha/beta, Adam \
        moments, epoch, shuffling state; saved atomically after every epoch), log.csv, loss.svg and loss.png. \
        Ctrl-C or SIGTERM saves the state at the next batch and exits with code 130 (SIGINT) or 143 \
        (SIGTERM); a second signal stops at once (the last saved state stays intact). \
        `flexctl train cae --resume RUN_DIR` (or `train forecast --resume`) continues exactly where the run stopped: the same seed and thread \
        count give the same result, interrupted or not. `flexctl export RUN_DIR --output MODEL.h5` writes \
        the inference checkpoint. See docs/training.md.
        """,
        subcommands: [TrainCAECommand.self, TrainForecastCommand.self, TrainCodecCommand.self]
    )

    public init() {}
}

/// The trainer's settings, shared by `train cae|forecast` and `experiment cae|forecast`. Unset options take the
/// subcommand's defaults (shown in its help).
struct TrainerOptions: ParsableArguments {
    @Option(help: "Passes over the training set, \(OptionBounds.epochs.text).")
    var epochs: Int?

    @Option(name: .customLong("batch-size"), help: "Samples per optimiser step, \(OptionBounds.batchSize.text).")
    var batchSize: Int?

    @Option(help: "Adam's learning rate, in \(OptionBounds.learningRate.text).")
    var lr: Double?

    @Option(help: "Seed of the weight initialisation, the validation split and the shuffling.")
    var seed: UInt64?

    @Option(name: .customLong("val-split"), help: "Fraction of the training data held out for validation, in \(OptionBounds.split.text) (0 for none).")
    var valSplit: Double?

    @Option(help: "Stop after this many epochs without a lower validation loss and restore the best weights, \(OptionBounds.patience.text).")
    var patience: Int?

    @Option(name: .customLong("reg-mean"), help: "Regulariser weight δ1: alpha/beta towards the layer mean, in \(OptionBounds.regularizerWeight.text).")
    var regMean: Double?

    @Option(name: .customLong("reg-default"), help: "Regulariser weight δ2: alpha/beta towards the member's default, in \(OptionBounds.regularizerWeight.text).")
    var regDefault: Double?

    @Option(name: .customLong("reg-boundary"), help: "Regulariser weight δ3: alpha away from the bounds, in \(OptionBounds.regularizerWeight.text).")
    var regBoundary: Double?

    @Option(help: "Regulariser margin Δ, in \(OptionBounds.margin.text): alpha is penalised beyond 1 − Δ (and below Δ for one free weight).")
    var margin: Double?

    @Option(help: "Worker threads, \(OptionBounds.threads.text) (default: the number of processors). The same seed and thread count give identical runs.")
    var threads: Int?

    /// The options given, by flag (those a resumed run takes from its folder).
    var given: [String] {
        var given: [String] = []
        if batchSize != nil { given.append("--batch-size") }
        if lr != nil { given.append("--lr") }
        if seed != nil { given.append("--seed") }
        if valSplit != nil { given.append("--val-split") }
        if patience != nil { given.append("--patience") }
        if regMean != nil { given.append("--reg-mean") }
        if regDefault != nil { given.append("--reg-default") }
        if regBoundary != nil { given.append("--reg-boundary") }
        if margin != nil { given.append("--margin") }
        if threads != nil { given.append("--threads") }
        return given
    }

    func validate() throws {
        try OptionBounds.epochs.check(epochs, "--epochs")
        try OptionBounds.batchSize.check(batchSize, "--batch-size")
        try OptionBounds.learningRate.check(lr, "--lr")
        try OptionBounds.split.check(valSplit, "--val-split")
        try OptionBounds.patience.check(patience, "--patience")
        if patience != nil, valSplit == 0 {
            throw ValidationError("--patience needs a validation split to watch; --val-split is 0")
        }
        try OptionBounds.regularizerWeight.check(regMean, "--reg-mean")
        try OptionBounds.regularizerWeight.check(regDefault, "--reg-default")
        try OptionBounds.regularizerWeight.check(regBoundary, "--reg-boundary")
        try OptionBounds.margin.check(margin, "--margin")
        try OptionBounds.threads.check(threads, "--threads")
    }

    /// Defaults of a task, overridden by the options given.
    func options(defaultEpochs: Int, defaultBatch: Int, defaultPatience: Int?) -> TrainingOptions {
        TrainingOptions(epochs: epochs ?? defaultEpochs, batchSize: batchSize ?? defaultBatch, seed: seed ?? 1,
                        patience: patience ?? defaultPatience, threads: threads ?? OptionBounds.defaultThreads)
    }

    var regularizer: RegularizerSettings {
        RegularizerSettings(delta1: regMean ?? TrainingDefaults.regularizer.delta1,
                            delta2: regDefault ?? TrainingDefaults.regularizer.delta2,
                            delta3: regBoundary ?? TrainingDefaults.regularizer.delta3,
                            margin: margin ?? TrainingDefaults.regularizer.margin)
    }
}

/// Options every `train` subcommand has: the trainer's settings and the run folder.
struct TrainingArguments: ParsableArguments {
    @OptionGroup var trainer: TrainerOptions

    @Option(help: ArgumentHelp("The run folder to create (default: runs/<task>-<timestamp>).", valueName: "run-dir"),
            completion: .directory)
    var out: String?

    @Option(help: ArgumentHelp("Continue the run in this folder (other options except --epochs are taken from it).", valueName: "run-dir"),
            completion: .directory)
    var resume: String?

    @Flag(name: .customLong("no-progress"), help: "No progress bar, even on a terminal.")
    var noProgress = false

    /// The options a resumed run takes from its folder.
    var fixedOnResume: [String] { trainer.given + (out != nil ? ["--out"] : []) }

    func validate() throws {
        if resume != nil, !fixedOnResume.isEmpty {
            throw ValidationError("--resume continues a run with the options it started with; remove \(fixedOnResume.joined(separator: ", ")) (only --epochs may change)")
        }
    }
}

enum TrainingDefaults {
    static let regularizer = RegularizerSettings(delta1: 1e-3, delta2: 1e-3, delta3: 1e-3, margin: 0.05)
    static let learningRate = 1e-3
}

/// The model and data options of a CAE (`train cae`, `experiment cae`).
struct CAEModelOptions: ParsableArguments {
    /// What --data accepts, for the commands' help.
    static let dataKinds = """
        --data accepts an IDX images file (gzip or raw), a folder with train-images-idx3-ubyte[.gz] (and \
        t10k-images-idx3-ubyte[.gz] as the test set, e.g. /usr/share/datasets/fashion-mnist), a CIFAR-10 \
        binary folder or file, or a folder of PNG photos (32×32 patches: --patches for training, a fifth as \
        many for testing, from disjoint rows). Data without its own test set gives --test-split of it for \
        testing.
        """

    @Option(help: "Architecture: cae1, cae2 or cae3.")
    var arch: String = "cae2"

    @Option(help: ArgumentHelp("Training images (the kinds accepted are listed above).", valueName: "path"), completion: .file())
    var data: String?

    @Option(help: "Patches sampled from a photo folder for training, \(OptionBounds.patches.text).")
    var patches: Int = 20_000

    @Option(name: .customLong("test-split"), help: "Fraction held out for testing when the data has no test set of its own (seeded), in \(OptionBounds.split.text).")
    var testSplit: Double = 0.1

    func validate() throws {
        guard Architecture.caeNames.contains(arch.lowercased()) else {
            throw ValidationError("--arch '\(arch)': unknown architecture; valid: \(Architecture.caeNames.joined(separator: ", "))")
        }
        try OptionBounds.patches.check(patches, "--patches")
        try OptionBounds.split.check(testSplit, "--test-split")
    }

    /// What a run records about its data (`--data` made absolute).
    func dataConfig(validationFraction: Double?) -> DataConfig {
        DataConfig(path: absolutePath(data!), patches: patches, validationFraction: validationFraction ?? 0.1,
                   testFraction: testSplit)
    }
}

/// `flexctl train cae`.
struct TrainCAECommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cae",
        abstract: "Train a convolutional auto-encoder (CAE1/CAE2 on 28×28 gray, CAE3 on 32×32 RGB).",
        discussion: CAEModelOptions.dataKinds + """
         Defaults: --epochs 10, --batch-size 128, --lr 0.001, --seed 1, \
        --val-split 0.1, no early stopping, --reg-mean/--reg-default/--reg-boundary 0.001, --margin 0.05.
        """
    )

    @OptionGroup var model: CAEModelOptions

    @Option(help: "Activation member in the hidden layers (e.g. p-e2-relu, p-e2-id, p-e-relu, relu, elu).")
    var activation: String = "p-e2-relu"

    @OptionGroup var common: TrainingArguments

    func validate() throws {
        do { _ = try ActivationFunction.member(activation) } catch {
            throw ValidationError("--activation '\(activation)': \(error.message)")
        }
        if common.resume == nil, model.data == nil {
            throw ValidationError("--data is required (or --resume RUN_DIR to continue a run)")
        }
    }

    func run() throws {
        if let resume = common.resume {
            try TrainingSession.resume(resume, epochs: common.trainer.epochs, progress: !common.noProgress, expecting: "cae")
            return
        }
        let arch = model.arch.lowercased()
        let options = common.trainer.options(defaultEpochs: 10, defaultBatch: 128, defaultPatience: nil)
        let dataConfig = model.dataConfig(validationFraction: common.trainer.valSplit)
        let prepared = try TrainingData.images(dataConfig, arch: arch, seed: options.seed)
        let layers = try Architecture.named(arch, activation: try ActivationFunction.member(activation))
        let out = common.out ?? "runs/\(arch)-\(activation)-\(timestampForPath())"
        _ = try TrainingSession.start(
            command: "cae", architecture: arch, activation: activation, cell: nil, hidden: nil, lstmLayers: nil,
            layers: layers, data: dataConfig, prepared: prepared, options: options,
            learningRate: common.trainer.lr ?? TrainingDefaults.learningRate, regularizer: common.trainer.regularizer,
            out: out, progress: !common.noProgress)
    }
}

/// The model and data options of an LSTM forecaster (`train forecast`, `experiment forecast`), except the gates'
/// member.
struct ForecastModelOptions: ParsableArguments {
    @Option(parsing: .upToNextOption, help: ArgumentHelp("Series files (CSV).", valueName: "file"), completion: .file())
    var series: [String] = []

    @Option(help: "A series to predict (repeat for several; 'all' predicts every series). Required with several series.")
    var target: [String] = []

    @Option(help: "Days per input window, \(OptionBounds.window.text).")
    var window: Int = 30

    @Option(help: "Days ahead of the window's last day that the target lies, \(OptionBounds.targetHorizon.text).")
    var horizon: Int = 1

    @Option(help: "LSTM hidden units, \(OptionBounds.hidden.text).")
    var hidden: Int = 16

    @Option(help: "Stacked LSTM layers, \(OptionBounds.lstmLayers.text).")
    var layers: Int = 1

    @Option(help: "Cell activation member (candidate and cell output), e.g. tanh or p-tanh-ramp.")
    var cell: String = "tanh"

    @Option(help: ArgumentHelp("The column to read from every series file, by name (exact, then ignoring case), e.g. Close for a CSV with Open, High, Low, Close, Adj Close, Volume (default: investing.com exports their Price column, other CSVs every column).", valueName: "name"))
    var column: String?

    @Option(help: "Transform of prices: returns, log_returns or none.")
    var transform: String = "returns"

    @Option(name: .customLong("test-split"), help: "The latest fraction of the windows held out for testing, in \(OptionBounds.split.text).")
    var testSplit: Double = 0.2

    func validate() throws {
        do { _ = try ActivationFunction.member(cell) } catch {
            throw ValidationError("--cell '\(cell)': \(error.message)")
        }
        try OptionBounds.window.check(window, "--window")
        try OptionBounds.targetHorizon.check(horizon, "--horizon")
        try OptionBounds.hidden.check(hidden, "--hidden")
        try OptionBounds.lstmLayers.check(layers, "--layers")
        guard SeriesTransform(rawValue: transform) != nil else {
            throw ValidationError("--transform '\(transform)': valid: \(SeriesTransform.names)")
        }
        try OptionBounds.split.check(testSplit, "--test-split")
    }

    /// The series loaded and split, with what a run records about them (the files made absolute, the targets
    /// resolved).
    func prepare(validationFraction: Double?) throws -> (DataConfig, PreparedData) {
        let dataConfig = DataConfig(series: series.map(absolutePath), targets: target, window: window, horizon: horizon,
                                    transform: SeriesTransform(rawValue: transform), validationFraction: validationFraction ?? 0.2,
                                    testFraction: testSplit, column: column)
        let prepared = try TrainingData.series(dataConfig)
        guard case let .series(spec) = prepared.input else { fatalError("series data without a series input") }
        var resolved = dataConfig
        resolved.targets = spec.targets
        return (resolved, prepared)
    }

    /// The forecaster's layers for the prepared data.
    func layers(for prepared: PreparedData, gate: String, cell: String) throws -> [LayerSpec] {
        guard case let .series(spec) = prepared.input else { fatalError("series data without a series input") }
        return Architecture.lstmForecaster(
            features: spec.features.count, hidden: hidden, layers: layers, targets: spec.targets.count,
            gate: try ActivationFunction.member(gate), cell: try ActivationFunction.member(cell))
    }
}

/// `flexctl train forecast`.
struct TrainForecastCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "forecast",
        abstract: "Train an LSTM forecaster on daily series (investing.com exports or numeric CSV).",
        discussion: """
        Every series is an input feature; the series are aligned by date (days on which every market traded), \
        turned into daily returns and normalised with statistics of the training part only. Samples are \
        windows of --window days; the target is the return --horizon days after the window's last day. \
        Split chronologically: the last --test-split of the windows for testing, the last --val-split of the \
        rest for validation. Defaults: --epochs 100, --batch-size 32, --lr 0.001, --seed 1, --val-split 0.2, \
        --patience 10, --reg-mean/--reg-default/--reg-boundary 0.001, --margin 0.05. See docs/data-formats.md.
        """
    )

    @OptionGroup var model: ForecastModelOptions

    @Option(help: "Gate activation member (input, forget, output gates), e.g. p-sig-ramp or sigmoid.")
    var gate: String = "p-sig-ramp"

    @OptionGroup var common: TrainingArguments

    func validate() throws {
        do { _ = try ActivationFunction.member(gate) } catch {
            throw ValidationError("--gate '\(gate)': \(error.message)")
        }
        if common.resume == nil, model.series.isEmpty {
            throw ValidationError("--series is required (or --resume RUN_DIR to continue a run)")
        }
        if common.resume != nil, model.column != nil {
            throw ValidationError("--resume continues a run with the options it started with; remove --column")
        }
    }

    func run() throws {
        if let resume = common.resume {
            try TrainingSession.resume(resume, epochs: common.trainer.epochs, progress: !common.noProgress, expecting: "forecast")
            return
        }
        let options = common.trainer.options(defaultEpochs: 100, defaultBatch: 32, defaultPatience: 10)
        let (resolved, prepared) = try model.prepare(validationFraction: common.trainer.valSplit)
        let layerSpecs = try model.layers(for: prepared, gate: gate, cell: model.cell)
        let out = common.out ?? "runs/forecast-\(gate)-\(timestampForPath())"
        _ = try TrainingSession.start(
            command: "forecast", architecture: ArchitectureName.lstm.rawValue, activation: gate, cell: model.cell, hidden: model.hidden,
            lstmLayers: model.layers, layers: layerSpecs, data: resolved, prepared: prepared, options: options,
            learningRate: common.trainer.lr ?? TrainingDefaults.learningRate, regularizer: common.trainer.regularizer,
            out: out, progress: !common.noProgress)
    }
}

/// Runs, resumes and reports a training session.
enum TrainingSession {
    static func start(command: String, architecture: String, activation: String, cell: String?, hidden: Int?,
                      lstmLayers: Int?, layers: [LayerSpec], data: DataConfig, prepared: PreparedData,
                      options: TrainingOptions, learningRate: Double, regularizer: RegularizerSettings,
                      out: String, progress: Bool, quiet: Bool = false, label: String? = nil) throws -> TrainingState {
        try options.validate()
        let folder = try RunFolder.create(out)
        let config = RunConfig(
            created: isoTimestamp(), command: command,
            task: command == "cae" ? .imageAutoencoder : .forecaster, architecture: architecture,
            activation: activation, cell: cell, hidden: hidden, lstmLayers: lstmLayers, data: data,
            training: options, learningRate: learningRate, regularizer: regularizer, layers: layers,
            input: prepared.input, dataFingerprint: prepared.fingerprint, datasetDescription: prepared.description,
            trainSize: prepared.train.count, validationSize: prepared.validation?.count ?? 0,
            testSize: prepared.test?.count ?? 0)
        // Until the initial state exists the folder holds nothing resumable: a failure before it (a full disk,
        // a model that cannot be built) removes what this start made, so no empty run is left behind.
        var started = false
        do {
            try folder.writeConfig(config)
            return try execute(config: config, prepared: prepared, folder: folder, state: nil, progress: progress,
                               quiet: quiet, label: label, onInitialState: { started = true })
        } catch {
            if !started { folder.removeUnstarted() }
            throw error
        }
    }

    /// Continues the run in `path`; returns its final state (at once for a run that has already finished).
    @discardableResult
    static func resume(_ path: String, epochs: Int?, progress: Bool, expecting: String? = nil, quiet: Bool = false,
                       label: String? = nil) throws -> TrainingState {
        let folder = try RunFolder.open(path)
        var config = try folder.readConfig()
        if let expecting, config.command != expecting {
            throw CLIError("\(path): this run trains a \(config.command == "cae" ? "CAE" : "forecaster"); resume it with `flexctl train \(config.command) --resume \(path)`")
        }
        let state = try folder.readState(for: config)
        if let epochs {
            guard epochs >= state.epochsCompleted else {
                throw CLIError("--epochs \(epochs): the run has already completed \(state.epochsCompleted) epochs")
            }
            config.training.epochs = epochs
        }
        var resumed = state
        if resumed.finished == .completed, resumed.epochsCompleted < config.training.epochs {
            // A finished run extended with --epochs: train on from its last weights.
            resumed.finished = nil
            resumed.testLoss = nil
        }
        if let reason = resumed.finished {
            if quiet { return state }
            writeError("\(path): the run has already finished (\(reason == .completed ? "all \(state.epochsCompleted) epochs" : "early stopping after epoch \(state.epochsCompleted)")); nothing to do. Extend it with --epochs N, or export it with `flexctl export \(path) --output MODEL.h5`.\n")
            return state
        }
        let prepared = try recordedData(config, folder: folder)
        guard prepared.fingerprint == config.dataFingerprint else {
            throw CLIError("\(path): the data changed since the run started (data fingerprint \(prepared.fingerprint), the run's \(config.dataFingerprint)); a resumed run must see the same data — start a new run instead")
        }
        // The state was checked against the recorded sizes; they must be the data's.
        let sizes = [prepared.train.count, prepared.validation?.count ?? 0, prepared.test?.count ?? 0]
        guard sizes == [config.trainSize, config.validationSize, config.testSize] else {
            throw CLIError("\(folder.configPath): fields 'train_size', 'validation_size', 'test_size' are \(config.trainSize), \(config.validationSize), \(config.testSize); the recorded data gives \(sizes.map(String.init).joined(separator: ", "))")
        }
        // Only once everything checks out: a refused resume prints its error alone.
        if !quiet { writeError("resuming \(path) at epoch \(state.epochsCompleted + 1), batch \(state.batchesCompleted + 1)\n") }
        return try execute(config: config, prepared: prepared, folder: folder, state: resumed, progress: progress,
                           quiet: quiet, label: label, extendedConfig: epochs != nil)
    }

    /// The data run.json records, loaded for a resume. run.json may come from anyone and may name any file
    /// (`/etc/passwd`, a key): the loaders' messages quote lines, column names and folder entries, so none of
    /// them is shown here — only which recorded path failed and what kind of failure, in general terms. The
    /// paths are absolute (`RunConfig.problem`); each must be a regular file (series, CAE data file) or a
    /// folder (CAE data folder), checked before anything is opened.
    static func recordedData(_ config: RunConfig, folder: RunFolder) throws -> PreparedData {
        let cae = config.command == "cae"
        var recorded: [(field: String, path: String)] = []
        if cae, let p = config.data.path { recorded.append(("data.path", p)) }
        if !cae { for (i, p) in (config.data.series ?? []).enumerated() { recorded.append(("data.series[\(i)]", p)) } }
        func failure(_ field: String, _ p: String, _ reason: String) -> CLIError {
            CLIError("\(folder.configPath): the data recorded in field '\(field)' (\(printable(p))) cannot be loaded: \(reason)")
        }
        for (field, p) in recorded {
            var st = stat()
            guard stat(p, &st) == 0 else { throw failure(field, p, String(cString: strerror(errno))) }
            let kind = st.st_mode & S_IFMT
            guard kind == S_IFREG || (cae && kind == S_IFDIR) else {
                throw failure(field, p, cae ? "not a regular file or a folder" : "not a regular file")
            }
        }
        do {
            return try cae
                ? TrainingData.images(config.data, arch: config.architecture, seed: config.training.seed)
                : TrainingData.series(config.data)
        } catch {
            let fields = recorded.map { "'\($0.field)'" }.joined(separator: ", ")
            let paths = recorded.map { printable($0.path) }.joined(separator: ", ")
            throw CLIError("\(folder.configPath): the data recorded in field\(recorded.count == 1 ? "" : "s") \(fields) (\(paths)) cannot be loaded: "
                + (cae ? "not image data this run can use" : "not series CSV files this run can use")
                + " (the content of files a run folder names is never shown; check the data, or start a new run)")
        }
    }

    static func execute(config: RunConfig, prepared: PreparedData, folder: RunFolder, state: TrainingState?,
                        progress: Bool, quiet: Bool = false, label: String? = nil, extendedConfig: Bool = false,
                        onInitialState: () -> Void = {}) throws -> TrainingState {
        let options = config.training
        let model = try Sequential(specs: config.layers, inputShape: prepared.input.perSampleShape,
                                   seed: options.seed)
        let r = config.regularizer
        let trainer = Trainer(model: model, optimizer: Adam(learningRate: config.learningRate),
                              regularizer: LayerwiseRegularizer(delta1: r.delta1, delta2: r.delta2, delta3: r.delta3,
                                                                margin: r.margin))
        let loop = try TrainingLoop(trainer: trainer, options: options, train: prepared.train,
                                    validation: prepared.validation, test: prepared.test, state: state)
        // A resume with --epochs records the new count only once the state fits the run.
        if extendedConfig { try folder.writeConfig(config) }
        // Signals are trapped before the initial state exists, so a signal that sees state.h5 always finds the
        // trap installed (and the loop saves at the next batch).
        SignalTrap.install()
        defer { SignalTrap.remove() }
        if state == nil {
            // The initial state, so that a run killed during its first epoch can be resumed (from the start).
            try loop.state.write(to: folder.statePath)
            onInitialState()
        }
        if state == nil, !quiet {
            for n in prepared.notes { writeError("note: \(n)\n") }
            writeError("data: \(prepared.description)\n")
            writeError("model: \(config.architecture) (\(model.parameterCount) parameters), \(config.activation)"
                + (config.cell.map { " gates, \($0) cell" } ?? "") + "; \(options.epochs) epochs of \(loop.batchesPerEpoch) batches of \(options.batchSize), \(options.threads) thread\(options.threads == 1 ? "" : "s")\n")
            writeError("run folder: \(folder.path)\n")
        }
        let console = TrainingConsole(totalEpochs: options.epochs, trainCount: prepared.train.count,
                                      sampleNoun: prepared.sampleNoun, progress: progress, quiet: quiet, label: label)
        loop.onEvent = console.handle
        console.start(epoch: (state?.epochsCompleted ?? 0) + 1, batches: loop.batchesPerEpoch)
        loop.shouldStop = { SignalTrap.signalReceived != 0 }
        loop.saveState = { s in
            try s.write(to: folder.statePath)
            try folder.writeLog(s)
        }
        let outcome = try loop.run()
        console.clearBar()
        switch outcome {
        case .interrupted:
            let s = loop.state
            let sig = SignalTrap.signalReceived
            let again = quiet ? "run the same `flexctl experiment` command again" : "`flexctl train \(config.command) --resume \(folder.path)`"
            writeError("\(sig == SIGTERM ? "terminated" : "interrupted"): state saved to \(folder.statePath) (epoch \(s.epochsCompleted + (s.batchesCompleted > 0 ? 1 : 0)), batch \(s.batchesCompleted) of \(loop.batchesPerEpoch)); continue with \(again)\n")
            throw ExitCode(sig == SIGTERM ? 143 : 130)
        case .finished:
            let s = loop.state
            if quiet { return s }
            if let t = s.testLoss { writeOutput("test loss (MSE) \(NumberText.table(t)) on \(prepared.test?.count ?? 0) held-out samples\n") }
            writeOutput("finished in \(duration(s.elapsedSeconds)); export with `flexctl export \(folder.path) --output MODEL.h5`\n")
            return s
        }
    }
}

/// The canonical absolute path of an existing file (symbolic links and `..` resolved), else `p` made absolute.
func absolutePath(_ p: String) -> String {
    if let r = realpath(p, nil) {
        defer { free(r) }
        return String(cString: r)
    }
    return p.hasPrefix("/") ? p : currentDirectory() + "/" + p
}

/// `p` with control characters (a path from a file may hold escape sequences) shown as `?`, at most 300
/// characters.
func printable(_ p: String) -> String {
    var out = String(p.unicodeScalars.prefix(300).map { $0.properties.generalCategory == .control ? "?" : Character($0) })
    if p.unicodeScalars.count > 300 { out += "…" }
    return out
}

/// `2026-11-29T07:15:00Z`.
func isoTimestamp() -> String {
    var t = time(nil)
    var tm = tm()
    gmtime_r(&t, &tm)
    return cFormat("%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                   tm.tm_min, tm.tm_sec)
}

/// `20261129-071500`.
func timestampForPath() -> String {
    var t = time(nil)
    var tm = tm()
    gmtime_r(&t, &tm)
    return cFormat("%04d%02d%02d-%02d%02d%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                   tm.tm_sec)
}
