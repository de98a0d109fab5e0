import ArgumentParser
import FlexExperiment
import FlexRuntime
import FlexTraining

/// `flexctl experiment`: many seeded runs per arm, the paper's table with t-tests, plots; shards and merge.
public struct ExperimentCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "experiment",
        abstract: "Compare activation functions over many seeded runs: test-MSE table, t-tests, plots.",
        discussion: """
        `experiment cae|forecast --arms A,B,... --runs N --out DIR` trains N runs per arm (run k of every arm \
        with seed --seed + k − 1, so the arms share splits and shuffles), each a full `flexctl train` run with \
        early stopping in DIR/runs/<arm>/run-<k>/, and writes DIR/summary.md (test MSE mean (sd) per arm; \
        one-sided Welch and paired t-tests of each flexible arm against each baseline, with Holm-adjusted \
        p-values), summary.json, results.csv, comparisons.csv and plots/. Running the same command again \
        resumes: finished runs are never redone, an interrupted run continues. `--shard I/N` runs only its \
        share of the runs (for Slurm array jobs, GNU parallel, ...); `experiment merge DIR... --out DIR` \
        combines shards. See docs/experiment.md.
        """,
        subcommands: [ExperimentCAECommand.self, ExperimentForecastCommand.self, ExperimentMergeCommand.self,
                      ExperimentSummaryCommand.self]
    )

    public init() {}
}

/// The options every `experiment cae|forecast` has.
struct ExperimentArguments: ParsableArguments {
    @Option(help: ArgumentHelp("The arms, comma-separated: member[+key=value...], e.g. relu,elu,p-e2-relu,p-e2-relu+reg-mean=0.01 (keys: reg-mean, reg-default, reg-boundary, margin; forecast also cell).", valueName: "arms"))
    var arms: String

    @Option(help: "Runs per arm, 1...\(ExperimentConfig.maximumRuns).")
    var runs: Int = 10

    @Option(help: ArgumentHelp("The arms the others are compared with, comma-separated (default: the arms without a flexible activation; if every arm is flexible, the first).", valueName: "arms"))
    var baselines: String?

    @Option(help: ArgumentHelp("Run only share I of N of the runs (1 ≤ I ≤ N), e.g. $SLURM_ARRAY_TASK_ID/8.", valueName: "I/N"))
    var shard: String?

    @Option(help: ArgumentHelp("The experiment folder (created, or continued when it holds the same experiment).", valueName: "dir"),
            completion: .directory)
    var out: String

    @Flag(name: .customLong("no-progress"), help: "No progress bar, even on a terminal.")
    var noProgress = false

    func validate() throws {
        guard (1...ExperimentConfig.maximumRuns).contains(runs) else {
            throw ValidationError("--runs \(runs): expected 1...\(ExperimentConfig.maximumRuns)")
        }
        if let shard { do { _ = try Shard(parsing: shard) } catch { throw ValidationError(error.message) } }
    }

    /// Checks what needs the task: the arms, the baselines among them, and that every run's seed fits.
    func validate(_ task: ExperimentTask, seed: UInt64?) throws {
        let arms = try parsedArms(task)
        if let baselines = try parsedBaselines {
            for b in baselines where !arms.contains(where: { $0.name == b }) {
                throw ValidationError("--baselines: '\(b)' is not one of the arms (\(arms.map(\.name).joined(separator: ", ")))")
            }
            guard Set(baselines).count < arms.count else {
                throw ValidationError("--baselines: every arm is a baseline; nothing would be compared")
            }
        }
        if let seed, seed > UInt64.max - UInt64(runs - 1) {
            throw ValidationError("--seed \(seed): run \(runs) would need seed \(seed) + \(runs - 1), beyond \(UInt64.max)")
        }
    }

    /// A comma-separated list: items trimmed of spaces, none empty.
    static func list(_ text: String, option: String) throws -> [String] {
        let items = text.split(separator: ",", omittingEmptySubsequences: false).map { item in
            String(item.drop(while: { $0 == " " }).reversed().drop(while: { $0 == " " }).reversed())
        }
        guard !items.contains(where: \.isEmpty) else {
            throw ValidationError("\(option) '\(text)': an empty item; expected names separated by commas")
        }
        return items
    }

    func parsedArms(_ task: ExperimentTask) throws -> [Arm] {
        let items = try Self.list(arms, option: "--arms")
        do { return try parseArms(items, task: task) } catch {
            throw ValidationError("--arms: \(error.message)")
        }
    }

    var parsedShard: Shard {
        get throws { try shard.map { try Shard(parsing: $0) } ?? .whole }
    }

    var parsedBaselines: [String]? {
        get throws { try baselines.map { try Self.list($0.lowercased(), option: "--baselines") } }
    }
}

/// The trainer's settings of an experiment as text, for its fingerprint (only what changes results).
func experimentSettings(_ trainer: TrainerOptions, options: TrainingOptions, learningRate: Double) -> [String: String] {
    let r = trainer.regularizer
    var s: [String: String] = [:]
    s["epochs"] = String(options.epochs)
    s["batch_size"] = String(options.batchSize)
    s["patience"] = options.patience.map(String.init) ?? "none"
    s["lr"] = "\(learningRate)"
    s["reg_mean"] = "\(r.delta1)"
    s["reg_default"] = "\(r.delta2)"
    s["reg_boundary"] = "\(r.delta3)"
    s["margin"] = "\(r.margin)"
    return s
}

/// An arm's regulariser: the experiment's, with the arm's own values where it sets them.
func regularizer(_ base: RegularizerSettings, for arm: Arm) -> RegularizerSettings {
    RegularizerSettings(delta1: arm.regMean ?? base.delta1, delta2: arm.regDefault ?? base.delta2,
                        delta3: arm.regBoundary ?? base.delta3, margin: arm.margin ?? base.margin)
}

/// `flexctl experiment cae`.
struct ExperimentCAECommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cae",
        abstract: "Compare activations in convolutional auto-encoders over seeded runs (test MSE).",
        discussion: CAEModelOptions.dataKinds + """
         Each arm's member goes in the hidden layers. Defaults: --runs 10, \
        --epochs 30, --batch-size 128, --lr 0.001, --seed 1, --val-split 0.1, --patience 5 (early stopping, \
        the best epoch's weights are tested), --reg-mean/--reg-default/--reg-boundary 0.001, --margin 0.05.
        """
    )

    @OptionGroup var experiment: ExperimentArguments
    @OptionGroup var model: CAEModelOptions
    @OptionGroup var trainer: TrainerOptions

    func validate() throws {
        try experiment.validate(.cae, seed: trainer.seed)
        if model.data == nil { throw ValidationError("--data is required") }
    }

    func run() throws {
        let arch = model.arch.lowercased()
        let options = trainer.options(defaultEpochs: 30, defaultBatch: 128, defaultPatience: trainer.valSplit == 0 ? nil : 5)
        try options.validate()
        let learningRate = trainer.lr ?? TrainingDefaults.learningRate
        let dataConfig = model.dataConfig(validationFraction: trainer.valSplit)
        let first = try TrainingData.images(dataConfig, arch: arch, seed: options.seed)
        var settings = experimentSettings(trainer, options: options, learningRate: learningRate)
        settings["arch"] = arch
        settings["val_split"] = "\(dataConfig.validationFraction)"
        settings["test_split"] = "\(model.testSplit)"
        settings["patches"] = String(model.patches)
        let config = try ExperimentRunner.config(
            .cae, arguments: experiment, settings: settings, seed: options.seed, data: first)
        let runner = ExperimentRunner(config: config, arguments: experiment)
        try runner.run { id, path, label in
            var runOptions = options
            runOptions.seed = config.seed(ofRun: id.run)
            let arm = config.arm(named: id.arm)!
            let prepared = runOptions.seed == options.seed ? first : try TrainingData.images(dataConfig, arch: arch, seed: runOptions.seed)
            let layers = try Architecture.named(arch, activation: try ActivationFunction.member(arm.activation))
            return try TrainingSession.start(
                command: "cae", architecture: arch, activation: arm.activation, cell: nil, hidden: nil, lstmLayers: nil,
                layers: layers, data: dataConfig, prepared: prepared, options: runOptions, learningRate: learningRate,
                regularizer: regularizer(trainer.regularizer, for: arm), out: path, progress: !experiment.noProgress,
                quiet: true, label: label)
        }
    }
}

/// `flexctl experiment forecast`.
struct ExperimentForecastCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "forecast",
        abstract: "Compare gate and cell activations in LSTM forecasters over seeded runs (test MSE).",
        discussion: """
        The series options as for `flexctl train forecast`. Each arm's member is the gates' (`sigmoid`, \
        `p-sig-ramp`); `+cell=p-tanh-ramp` sets an arm's cell member (default: --cell). The summary also tests \
        every arm against the training-mean and zero-return forecasts on the same test windows. Defaults: --runs 10, \
        --epochs 100, --batch-size 32, --lr 0.001, --seed 1, --val-split 0.2, --patience 10, \
        --reg-mean/--reg-default/--reg-boundary 0.001, --margin 0.05.
        """
    )

    @OptionGroup var experiment: ExperimentArguments
    @OptionGroup var model: ForecastModelOptions
    @OptionGroup var trainer: TrainerOptions

    func validate() throws {
        try experiment.validate(.forecast, seed: trainer.seed)
        if model.series.isEmpty { throw ValidationError("--series is required") }
    }

    func run() throws {
        let options = trainer.options(defaultEpochs: 100, defaultBatch: 32, defaultPatience: trainer.valSplit == 0 ? nil : 10)
        try options.validate()
        let learningRate = trainer.lr ?? TrainingDefaults.learningRate
        let (dataConfig, prepared) = try model.prepare(validationFraction: trainer.valSplit)
        var settings = experimentSettings(trainer, options: options, learningRate: learningRate)
        settings["val_split"] = "\(dataConfig.validationFraction)"
        settings["test_split"] = "\(model.testSplit)"
        settings["window"] = String(model.window)
        settings["horizon"] = String(model.horizon)
        settings["hidden"] = String(model.hidden)
        settings["layers"] = String(model.layers)
        settings["cell"] = model.cell.lowercased()
        settings["transform"] = model.transform
        settings["targets"] = (dataConfig.targets ?? []).joined(separator: "\t")
        let config = try ExperimentRunner.config(
            .forecast, arguments: experiment, settings: settings, seed: options.seed, data: prepared,
            references: Self.referenceForecasts(prepared, transform: model.transform))
        let runner = ExperimentRunner(config: config, arguments: experiment)
        try runner.run { id, path, label in
            var runOptions = options
            runOptions.seed = config.seed(ofRun: id.run)
            let arm = config.arm(named: id.arm)!
            let cell = arm.cell ?? model.cell
            let layers = try model.layers(for: prepared, gate: arm.activation, cell: cell)
            return try TrainingSession.start(
                command: "forecast", architecture: ArchitectureName.lstm.rawValue, activation: arm.activation, cell: cell,
                hidden: model.hidden, lstmLayers: model.layers, layers: layers, data: dataConfig, prepared: prepared,
                options: runOptions, learningRate: learningRate, regularizer: regularizer(trainer.regularizer, for: arm),
                out: path, progress: !experiment.noProgress, quiet: true, label: label)
        }
    }
}

extension ExperimentForecastCommand {
    /// Fixed forecasts on the test windows, in the trainer's units (targets normalised with the training part's
    /// mean and standard deviation):
    /// - the training-mean forecast: the training part's mean of each target, which normalises to 0 — a model
    ///   that has learnt nothing but the mean does as well as this;
    /// - for returns (and log returns), the zero-return ("no change") forecast: a return of 0, which normalises
    ///   to −mean/std of its series.
    static func referenceForecasts(_ data: PreparedData, transform: String) -> [Reference] {
        guard case let .series(spec) = data.input, let test = data.test, let targets = test.targets, !targets.isEmpty else {
            return []
        }
        func mse(_ forecast: [Double]) -> Double {
            var sum = 0.0
            for (i, y) in targets.enumerated() {
                let d = Double(y) - forecast[i % forecast.count]
                sum += d * d
            }
            return sum / Double(targets.count)
        }
        var references = [Reference(name: "training-mean forecast", testMSE: mse(spec.targets.map { _ in 0 }))]
        if transform != SeriesTransform.none.rawValue {
            let zero = spec.targets.map { name -> Double in
                let f = spec.features.firstIndex(of: name)!
                return -spec.normalization.mean[f] / spec.normalization.std[f]
            }
            references.append(Reference(name: "zero-return forecast", testMSE: mse(zero)))
        }
        return references
    }
}

/// `flexctl experiment merge`.
struct ExperimentMergeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "merge",
        abstract: "Combine the shards of an experiment into one folder and summarise them.",
        discussion: """
        Each DIR is an experiment folder written by `flexctl experiment ... --shard I/N` (or a whole \
        experiment). They must hold the same experiment (the fingerprint in experiment.json covers the arms, \
        runs, seeds, settings and the data's content, not paths or thread counts); --out may be new, or one of \
        them. Each finished run's result.json is copied (the runs' weights stay where they are); runs found in \
        several folders keep --out's own result if it has one, else the first folder's (in the order given), and \
        are reported (with whether the results agree), as are missing runs.
        """
    )

    @Argument(help: ArgumentHelp("Experiment folders (shards).", valueName: "dir"), completion: .directory)
    var folders: [String]

    @Option(help: ArgumentHelp("The merged experiment folder.", valueName: "dir"), completion: .directory)
    var out: String

    func validate() throws {
        if folders.isEmpty { throw ValidationError("give at least one experiment folder to merge") }
    }

    func run() throws {
        let outcome: MergeOutcome
        do { outcome = try mergeExperiments(folders, into: out) } catch { throw CLIError(error.description) }
        for d in outcome.duplicates {
            writeError("note: \(d.run) is in \(d.folders.joined(separator: ", "))"
                + (d.sameResult ? " (the same result)" : " with different results; kept \(d.folders[0])'s") + "\n")
        }
        if !outcome.missing.isEmpty {
            writeError("note: \(outcome.missing.count) of \(outcome.config.plan.count) runs have no result in any folder: \(outcome.missing.prefix(12).map(\.description).joined(separator: ", "))\(outcome.missing.count > 12 ? ", …" : "")\n")
        }
        writeOutput(ExperimentSummary(config: outcome.config, results: outcome.results).markdown())
        writeError("merged \(outcome.results.count) runs into \(out)\n")
    }
}

/// `flexctl experiment summary`.
struct ExperimentSummaryCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "summary",
        abstract: "Summarise an experiment folder's finished runs (rewrites its summary files and plots).")

    @Argument(help: ArgumentHelp("The experiment folder.", valueName: "dir"), completion: .directory)
    var folder: String

    @OptionGroup var output: OutputOptions

    func run() throws {
        let summary: ExperimentSummary
        do throws(ExperimentError) {
            let (f, config) = try ExperimentFolder.open(folder)
            summary = try f.writeSummary(config, results: try f.results(config))
        } catch { throw CLIError(error.description) }
        switch output.resolved {
        case .table: writeOutput(summary.markdown())
        case .json: writeOutput(JSONOutput.document(kind: "experiment_summary", summary))
        case .csv: writeOutput(summary.comparisonsCSV())
        }
    }
}
