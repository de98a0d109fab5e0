import FlexExperiment
import FlexIO
import FlexRuntime
import FlexTraining

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Runs an experiment's share of runs one after the other, each a `flexctl train` run in its own folder: starts a
/// run, resumes one that was interrupted, or only records one that finished before its result was written. After
/// each run: its result.json, the summary files rewritten, and one line on standard output.
struct ExperimentRunner {
    let config: ExperimentConfig
    let arguments: ExperimentArguments

    /// The experiment the options describe. The data's fingerprint is that of run 1's splits.
    static func config(_ task: ExperimentTask, arguments: ExperimentArguments, settings: [String: String], seed: UInt64,
                       data: PreparedData, references: [Reference] = []) throws -> ExperimentConfig {
        guard let test = data.test, test.count > 0 else {
            throw CLIError("the data gives no test set, and an experiment compares test MSE: use data with a test set or --test-split > 0")
        }
        do {
            return try ExperimentConfig(task: task, arms: try arguments.parsedArms(task), runs: arguments.runs, seed: seed,
                                        baselines: arguments.parsedBaselines, settings: settings,
                                        dataFingerprint: data.fingerprint, dataDescription: data.description,
                                        references: references)
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
        // Wall time of the runs trained from their start here, for the ETA (resumed and only-recorded runs
        // would make it too short).
        var seconds: [Double] = []
        var skipped: [RunID] = []
        for (i, id) in todo.enumerated() {
            let path = folder.runPath(id)
            let label = "[\(i + 1)/\(todo.count)] \(id.arm) run \(id.run)/\(config.runs)"
            let clock = monotonicSeconds()
            guard let lock = try RunLock(folder: path) else {
                writeError("note: \(id) is being trained by another process (\(path)); skipped\n")
                skipped.append(id)
                continue
            }
            defer { lock.release() }
            // The lock is held: another process may have finished the run meanwhile.
            if folder.isFinished(id) { continue }
            let (state, fresh) = try train(id, path: path, label: label, start: start)
            let result = try self.result(of: id, path: path, state: state)
            do throws(ExperimentError) {
                try folder.record(result, config: config)
                try folder.writeSummary(config, results: try folder.results(config))
            } catch { throw CLIError(error.description) }
            if fresh { seconds.append(monotonicSeconds() - clock) }
            let left = todo.count - i - 1
            let eta = left > 0 && !seconds.isEmpty ? ", ETA " + duration(seconds.reduce(0, +) / Double(seconds.count) * Double(left)) : ""
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
        if !skipped.isEmpty {
            writeError("note: \(skipped.count) run\(skipped.count == 1 ? " was" : "s were") being trained by another process; run the command again once it has ended\n")
        }
        writeError("summary: \(folder.path)/summary.md, summary.json, results.csv, comparisons.csv, plots/\n")
    }

    /// Name of the file in a run folder that says which experiment the run belongs to (its fingerprint).
    static let markerName = "experiment-fingerprint"

    /// Trains run `id` in `path`: resumes a run this experiment started there, else starts it. Returns the final
    /// state and whether the run was trained from its start here.
    func train(_ id: RunID, path: String, label: String,
               start: (_ id: RunID, _ path: String, _ label: String) throws -> TrainingState) throws -> (TrainingState, Bool) {
        let marker = path + "/" + Self.markerName
        let configPath = path + "/" + RunConfig.fileName
        if pathExists(configPath) {
            // A run folder made by another experiment (or by hand) is never continued as this one's.
            let recorded = (try? readRegularFile(marker, maxBytes: 256)).map { String(decoding: $0, as: UTF8.self) }
            guard recorded == config.fingerprint + "\n" else {
                throw CLIError("\(path): this run folder does not belong to this experiment (\(Self.markerName) is missing or names another); remove the folder to train the run again, or use another --out")
            }
            // run.json without state.h5: the start was killed before the initial state; start again.
            if pathExists(path + "/" + RunConfig.stateFileName) {
                return (try TrainingSession.resume(path, epochs: nil, progress: !arguments.noProgress, quiet: true, label: label), false)
            }
            unlink(configPath)
        }
        do {
            try makeDirectories(path)
            try writeFileAtomically(path: marker, text: config.fingerprint + "\n")
        } catch { throw CLIError("\(error.path): cannot write: \(error.reason)") }
        return (try start(id, path, label), true)
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
            let alpha = slot.alphaIndex.map { slot.slot.alphaColumn(0, of: layer.parameters[$0]).map(Double.init) } ?? []
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

/// An exclusive lock on a run folder (`flock` on its `.lock` file) while a process trains the run, so that two
/// processes given the same run (a requeued Slurm task, a shard started twice on a shared folder) never train it
/// at once: the second one skips it.
final class RunLock {
    private let fd: Int32

    /// Takes the lock, or returns nil when another process holds it.
    init?(folder: String) throws {
        do { try makeDirectories(folder) } catch { throw CLIError("\(error.path): cannot create the run folder: \(error.reason)") }
        let fd = open(folder + "/.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw CLIError("\(folder)/.lock: \(systemMessage(errno))") }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let code = errno
            close(fd)
            if code == EWOULDBLOCK { return nil }
            throw CLIError("\(folder)/.lock: cannot lock: \(systemMessage(code))")
        }
        self.fd = fd
    }

    func release() { close(fd) }
}
