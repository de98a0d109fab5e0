import FlexExperiment
import FlexIO
import FlexRuntime
import FlexTraining

/// Runs an experiment's share of runs one after the other, each a `flexctl train` run in its own folder: starts a
/// run, resumes one that was interrupted, or only records one that finished before its result was written. After
/// each run: its result.json, the summary files rewritten, and one line on standard output.
struct ExperimentRunner {
    let config: ExperimentConfig
    let arguments: ExperimentArguments

    /// The experiment the options describe. The data's fingerprint is that of run 1's splits.
    static func config(_ task: ExperimentTask, arguments: ExperimentArguments, settings: [String: String], seed: UInt64,
                       data: PreparedData, reference: Reference? = nil) throws -> ExperimentConfig {
        guard let test = data.test, test.count > 0 else {
            throw CLIError("the data gives no test set, and an experiment compares test MSE: use data with a test set or --test-split > 0")
        }
        do {
            return try ExperimentConfig(task: task, arms: try arguments.parsedArms(task), runs: arguments.runs, seed: seed,
                                        baselines: arguments.parsedBaselines, settings: settings,
                                        dataFingerprint: data.fingerprint, dataDescription: data.description,
                                        reference: reference)
        } catch let error as ExperimentError {
            throw CLIError(error.description)
        }
    }

    /// Trains the shard's unfinished runs; `start` starts run `id` in folder `path` (with a progress label).
    func run(start: (_ id: RunID, _ path: String, _ label: String) throws -> TrainingState) throws {
        let folder: ExperimentFolder
        do { folder = try ExperimentFolder.prepare(arguments.out, config: config) } catch { throw CLIError(error.description) }
        let shard = try arguments.parsedShard
        let mine = shard.select(config.plan)
        let todo = mine.filter { !folder.isFinished($0) }
        let total = config.plan.count
        writeError("experiment \(config.fingerprint.prefix(19))…: \(config.describe), \(total) runs"
            + (shard == .whole ? "" : "; shard \(shard): \(mine.count) runs")
            + "; \(mine.count - todo.count) finished, \(todo.count) to do → \(folder.path)\n")
        writeError("data: \(config.dataDescription)\n")
        var seconds: [Double] = []
        for (i, id) in todo.enumerated() {
            let path = folder.runPath(id)
            let label = "[\(i + 1)/\(todo.count)] \(id.arm) run \(id.run)/\(config.runs)"
            let clock = monotonicSeconds()
            let state = pathExists(path + "/" + RunConfig.fileName)
                ? try TrainingSession.resume(path, epochs: nil, progress: !arguments.noProgress, quiet: true, label: label)
                : try start(id, path, label)
            let result = try self.result(of: id, path: path, state: state)
            do throws(ExperimentError) {
                try folder.record(result)
                try folder.writeSummary(config, results: try folder.results(config))
            } catch { throw CLIError(error.description) }
            seconds.append(monotonicSeconds() - clock)
            let left = todo.count - i - 1
            let eta = left > 0 ? ", ETA " + duration(seconds.reduce(0, +) / Double(seconds.count) * Double(left)) : ""
            var line = "\(label) (seed \(result.seed)): test MSE " + cFormat("%.4E", result.testMSE) + ", \(result.epochs) epochs"
            if let best = result.bestEpoch {
                line += result.stop == "early_stopped" ? " (early stop, best \(best))" : " (best \(best))"
            }
            line += ", " + duration(result.seconds)
            if left > 0 { line += "; \(left) left" + eta }
            writeOutput(line + "\n")
        }
        let summary: ExperimentSummary
        do throws(ExperimentError) { summary = try folder.writeSummary(config, results: try folder.results(config)) } catch {
            throw CLIError(error.description)
        }
        writeOutput("\n" + summary.markdown())
        writeError("summary: \(folder.path)/summary.md, summary.json, results.csv, comparisons.csv, plots/\n")
    }

    /// The result of a finished run, from its folder and final state.
    func result(of id: RunID, path: String, state: TrainingState) throws -> RunResult {
        guard let testMSE = state.testLoss, let stop = state.finished else {
            throw CLIError("\(path): the run ended without a test loss; run the experiment command again to continue it")
        }
        // JSON has no NaN, and a diverged run has no test MSE to compare: say so rather than record a number.
        guard testMSE.isFinite, state.history.allSatisfy({ $0.trainLoss.isFinite && ($0.validationLoss?.isFinite ?? true) }) else {
            throw CLIError("\(path): the run diverged (a loss is not finite: test MSE \(testMSE)); an experiment needs settings every arm trains with — lower --lr, then use a new --out")
        }
        let runConfig = try RunFolder.open(path).readConfig()
        let model = try Sequential(specs: runConfig.layers, inputShape: runConfig.input.perSampleShape, seed: 0)
        try TrainingLoop.load(state.finalParameters(patience: runConfig.training.patience), into: model)
        let slots = model.activationSlots.map { (l, slot) -> SlotValues in
            let layer = model.layers[l]
            let alpha = slot.alphaIndex.map { i -> [Double] in
                let a = layer.parameters[i].scalars
                let w = slot.function.alphaWidth
                return stride(from: 0, to: a.count, by: w).map { Double(a[$0]) }
            } ?? []
            let beta = slot.betaIndex.map { layer.parameters[$0].scalars.map(Double.init) } ?? []
            return SlotValues(slot: slot.name, member: slot.function.name, alpha: alpha, beta: beta)
        }
        return RunResult(
            experiment: config.fingerprint, arm: id.arm, run: id.run, seed: runConfig.training.seed, testMSE: testMSE,
            epochs: state.epochsCompleted, bestEpoch: runConfig.training.patience == nil ? nil : state.bestEpoch,
            stop: stop.rawValue, seconds: state.elapsedSeconds, threads: runConfig.training.threads,
            curve: state.history.map { EpochLoss(epoch: $0.epoch, trainLoss: $0.trainLoss, validationLoss: $0.validationLoss) },
            activations: slots)
    }
}
