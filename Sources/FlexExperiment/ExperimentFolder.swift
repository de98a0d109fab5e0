import FlexIO

/// An experiment folder: `experiment.json`, one run folder per run (`runs/<arm>/run-<k>/`, a `flexctl train` run
/// folder plus `result.json` once the run has finished) and the summary files written from the results
/// (`results.csv`, `comparisons.csv`, `summary.json`, `summary.md`, `plots/`). docs/experiment.md.
///
/// Every run's place follows from experiment.json (its arms and run count), so the folder is never listed: a file
/// someone put there is never read, and a result is only taken from the place of the run it claims to be.
public struct ExperimentFolder: Sendable {
    public let path: String

    public init(path: String) { self.path = path }

    public var configPath: String { path + "/" + ExperimentConfig.fileName }
    public var plotsPath: String { path + "/plots" }
    public func runPath(_ id: RunID) -> String { path + "/runs/" + id.arm + "/run-" + String(id.run) }
    public func resultPath(_ id: RunID) -> String { runPath(id) + "/" + RunResult.fileName }

    /// The folder for `config`: creates it (and experiment.json), or opens an existing one, which must hold the
    /// same experiment (a resume, or another shard writing into a shared folder). Two shards starting at once
    /// both succeed: experiment.json is created with no-replace semantics, and the loser reads the winner's.
    public static func prepare(_ path: String, config: ExperimentConfig) throws(ExperimentError) -> ExperimentFolder {
        let folder = ExperimentFolder(path: path)
        do { try makeDirectories(path) } catch {
            throw ExperimentError(file: error.path, "cannot create the experiment folder: \(error.reason)")
        }
        if !pathExists(folder.configPath) {
            do { try ExperimentJSON.write(config, to: folder.configPath, mode: .createNew) } catch {
                guard pathExists(folder.configPath) else { throw error }
            }
        }
        let existing = try ExperimentConfig.read(from: folder.configPath)
        guard existing.fingerprint == config.fingerprint else {
            throw ExperimentError(file: folder.configPath, "holds another experiment (\(existing.fingerprint), \(existing.describe)); these options make \(config.fingerprint) (\(config.describe)). Use another --out, or the options it was started with")
        }
        return folder
    }

    /// An existing experiment folder and its configuration.
    public static func open(_ path: String) throws(ExperimentError) -> (ExperimentFolder, ExperimentConfig) {
        let folder = ExperimentFolder(path: path)
        guard pathExists(folder.configPath) else {
            throw ExperimentError(file: path, "not an experiment folder: \(ExperimentConfig.fileName) is missing")
        }
        return (folder, try ExperimentConfig.read(from: folder.configPath))
    }

    /// Whether run `id` has a result file (finished).
    public func isFinished(_ id: RunID) -> Bool { pathExists(resultPath(id)) }

    /// The results of the finished runs, each checked against the experiment and its place.
    public func results(_ config: ExperimentConfig) throws(ExperimentError) -> [RunID: RunResult] {
        var found: [RunID: RunResult] = [:]
        let fingerprint = config.fingerprint
        for id in config.plan where isFinished(id) {
            found[id] = try RunResult.read(from: resultPath(id), config: config, fingerprint: fingerprint, expected: id)
        }
        return found
    }

    /// Records a finished run, checked as a reader would check it. Never replaces a result: a run is finished once.
    public func record(_ result: RunResult, config: ExperimentConfig) throws(ExperimentError) {
        let id = RunID(arm: result.arm, run: result.run)
        if let problem = result.problem(config: config, fingerprint: config.fingerprint, expected: id) {
            throw ExperimentError(file: resultPath(id), "not recorded: \(problem)")
        }
        do { try makeDirectories(runPath(id)) } catch {
            throw ExperimentError(file: error.path, "cannot create the run folder: \(error.reason)")
        }
        try ExperimentJSON.write(result, to: resultPath(id), mode: .createNew)
    }

    /// Writes the summary files from the results: results.csv, comparisons.csv, summary.json, summary.md and the
    /// plots. Each file is written atomically; returns the summary.
    @discardableResult
    public func writeSummary(_ config: ExperimentConfig, results: [RunID: RunResult]) throws(ExperimentError) -> ExperimentSummary {
        let summary = ExperimentSummary(config: config, results: results)
        func write(_ name: String, _ text: String) throws(ExperimentError) {
            do { try writeFileAtomically(path: path + "/" + name, text: text) } catch {
                throw ExperimentError(file: error.path, "cannot write: \(error.reason)")
            }
        }
        try write("results.csv", ExperimentSummary.resultsCSV(Array(results.values)))
        try write("comparisons.csv", summary.comparisonsCSV())
        try write("summary.md", summary.markdown())
        try ExperimentJSON.write(summary, to: path + "/summary.json")
        try ExperimentPlots(config: config, results: results).write(to: plotsPath)
        return summary
    }
}

extension ExperimentConfig {
    /// A few words for messages: `cae, 5 arms × 10 runs, seed 1`.
    public var describe: String {
        "\(task.rawValue), \(arms.count) arms × \(runs) runs, seed \(seed)"
    }
}

/// What `merge` found: the merged results and the runs that were missing or came more than once.
public struct MergeOutcome: Sendable {
    public var config: ExperimentConfig
    public var results: [RunID: RunResult]
    /// Runs found in more than one folder (the target's result, else the first folder's, is kept), with the
    /// folders and whether the results agree (everything but the time and thread count).
    public var duplicates: [(run: RunID, folders: [String], sameResult: Bool)]
    public var missing: [RunID]
}

/// Combines shard folders of one experiment into `out` (new, empty, or a folder of the same experiment, whose
/// results count as one more input). Refuses folders of different experiments, by fingerprint. Copies each
/// run's result.json (not its weights) and writes the summary.
public func mergeExperiments(_ folders: [String], into out: String) throws(ExperimentError) -> MergeOutcome {
    guard !folders.isEmpty else { throw ExperimentError("merge: expected at least one experiment folder") }
    var opened: [(ExperimentFolder, ExperimentConfig)] = []
    for f in folders { opened.append(try ExperimentFolder.open(f)) }
    let config = opened[0].1
    for (folder, c) in opened.dropFirst() where c.fingerprint != config.fingerprint {
        throw ExperimentError(file: folder.configPath, "is another experiment (\(c.fingerprint), \(c.describe)) than \(opened[0].0.configPath) (\(config.fingerprint), \(config.describe)); only shards of one experiment merge")
    }
    let target = try ExperimentFolder.prepare(out, config: config)
    // The target's own results come first (they are the ones it keeps), then each other folder once.
    var inputs = [target]
    for (folder, _) in opened where !inputs.contains(where: { sameFile($0.path, folder.path) }) { inputs.append(folder) }
    var results: [RunID: RunResult] = [:]
    var sources: [RunID: [String]] = [:]
    var same: [RunID: Bool] = [:]
    for folder in inputs {
        for (id, r) in try folder.results(config) {
            sources[id, default: []].append(folder.path)
            if let first = results[id] {
                same[id] = (same[id] ?? true) && first.sameOutcome(as: r)
            } else {
                results[id] = r
            }
        }
    }
    for (id, r) in results where !target.isFinished(id) { try target.record(r, config: config) }
    try target.writeSummary(config, results: results)
    let duplicates = sources.filter { $0.value.count > 1 }.keys.sorted().map { id in
        (run: id, folders: sources[id]!, sameResult: same[id] ?? true)
    }
    return MergeOutcome(config: config, results: results, duplicates: duplicates,
                        missing: config.plan.filter { results[$0] == nil })
}
