import ArgumentParser
import FlexCodecTraining
import FlexIO
import FlexRuntime
import FlexTraining

/// `flexctl export RUN_DIR --output MODEL.h5 [--dtype float32|float16]`.
public struct ExportCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write a run's model as an inference checkpoint (HDF5, docs/checkpoint-format.md).",
        discussion: """
        Takes the run's final weights and per-neuron alpha/beta — the best validation epoch's under early \
        stopping (--patience), the last epoch's otherwise — with the input specification (pixel scaling or \
        the series' normalisation statistics) and the provenance (data, sizes, seed, optimiser, regulariser, \
        loss per epoch, test loss). A run that has not finished exports its latest saved state, with a note. \
        The file is written atomically and never replaces an existing file unless --overwrite is given.
        """
    )

    @Argument(help: ArgumentHelp("The run folder (made by `flexctl train`).", valueName: "run-dir"), completion: .directory)
    var runDirectory: String

    @Option(name: [.short, .long], help: ArgumentHelp("The checkpoint to write.", valueName: "model.h5"), completion: .file())
    var output: String

    /// The float type of the stored weights.
    enum DType: String, ExpressibleByArgument, CaseIterable {
        case float32, float16
        var stored: StoredType { self == .float16 ? .float16 : .float32 }
    }

    @Option(help: "Float type of the stored weights: float32 or float16.")
    var dtype: DType = .float32

    @Flag(help: "Store the datasets compressed (shuffle + gzip).")
    var compress = false

    @Flag(help: "Replace an existing output file.")
    var overwrite = false

    public init() {}

    public func run() throws {
        // A codec run (`train codec`) has state.h5 and no run.json.
        if !pathExists(runDirectory + "/" + RunConfig.fileName), pathExists(runDirectory + "/" + TrainCodecCommand.stateFile) {
            return try exportCodec()
        }
        let folder = try RunFolder.open(runDirectory)
        let own = [folder.configPath, folder.statePath, folder.logPath, folder.path + "/loss.svg", folder.path + "/loss.png"]
        // Compared as files (`sameFile`): `run/./log.csv` or a hard link to run.json is still the run's file.
        if own.contains(where: { sameFile($0, output) }) {
            throw CLIError("--output \(output): that is one of the run's own files; write the checkpoint elsewhere")
        }
        let config = try folder.readConfig()
        let state = try folder.readState(for: config)
        let checkpoint = try Self.checkpoint(config: config, state: state)
        if state.finished == nil {
            writeError("note: \(runDirectory) has not finished (\(state.epochsCompleted) of \(config.training.epochs) epochs); exporting its latest saved state\n")
        }
        let fingerprint = try checkpoint.write(
            to: output, options: CheckpointWriteOptions(dtype: dtype.stored,
                                                        compress: compress, overwrite: overwrite))
        var line = "wrote \(output): \(checkpoint.task.rawValue), \(config.architecture)"
        if let t = state.testLoss { line += ", test MSE \(NumberText.table(t))" }
        line += ", \(fingerprint)\n"
        writeOutput(line)
    }

    /// `export` of a codec run: its latest saved parameters with the entropy model's integer tables.
    private func exportCodec() throws {
        let statePath = runDirectory + "/" + TrainCodecCommand.stateFile
        let own = [statePath, runDirectory + "/log.csv", runDirectory + "/test.csv"]
        if own.contains(where: { sameFile($0, output) }) {
            throw CLIError("--output \(output): that is one of the run's own files; write the checkpoint elsewhere")
        }
        let (state, parameters, _) = try CodecTrainingRun.read(from: statePath)
        let model = try TrainableCodec(architecture: try state.architecture, crop: state.options.crop, seed: 0)
        try model.load(parameters)
        if state.stepsDone < state.options.steps {
            writeError("note: \(runDirectory) has not finished (\(state.stepsDone) of \(state.options.steps) steps); exporting its latest saved state\n")
        }
        let test = state.tests.last
        let provenance = Provenance(
            dataset: state.trainFolders.joined(separator: ", "), seed: Int(truncatingIfNeeded: state.options.seed),
            epochs: nil, optimizer: OptimizerSettings(learningRate: state.options.learningRate, beta1: 0.9, beta2: 0.999, epsilon: 1e-8),
            trainLoss: state.log.map(\.loss), validationLoss: state.tests.map(\.loss), testLoss: test?.loss,
            created: isoTimestamp())
        let checkpoint = try model.checkpoint(lambda: state.options.lambda, provenance: provenance)
        let fingerprint = try checkpoint.write(
            to: output, options: CheckpointWriteOptions(dtype: dtype.stored, compress: compress, overwrite: overwrite))
        var line = "wrote \(output): image-codec N=\(state.channels) M=\(state.latentChannels) \(state.nonlinearity), λ=\(state.options.lambda), \(state.stepsDone) steps"
        if let test { line += cFormat(", test %.4f bpp %.2f dB", test.bitsPerPixel, test.psnr) }
        writeOutput(line + ", \(fingerprint)\n")
    }

    /// The checkpoint of a run's final parameters.
    static func checkpoint(config: RunConfig, state: TrainingState) throws -> Checkpoint {
        let model = try Sequential(specs: config.layers, inputShape: config.input.perSampleShape, seed: 0)
        try TrainingLoop.load(state.finalParameters(patience: config.training.patience), into: model)
        let provenance = Provenance(
            dataset: config.datasetDescription, trainSize: config.trainSize, validationSize: config.validationSize,
            testSize: config.testSize, seed: Int(truncatingIfNeeded: config.training.seed),
            epochs: state.epochsCompleted,
            optimizer: OptimizerSettings(learningRate: state.optimizer.learningRate, beta1: state.optimizer.beta1,
                                         beta2: state.optimizer.beta2, epsilon: state.optimizer.epsilon),
            regularizer: config.regularizer, trainLoss: state.history.map(\.trainLoss),
            validationLoss: state.history.compactMap(\.validationLoss), testLoss: state.testLoss,
            created: isoTimestamp())
        return Checkpoint(model: model, task: config.task, input: config.input, provenance: provenance)
    }
}
