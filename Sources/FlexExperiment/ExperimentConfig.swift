import FlexRuntime

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// What an experiment is: its task, arms, number of runs, seeds, the trainer's settings and the data. Written as
/// `experiment.json` in the experiment folder when the experiment starts; a second invocation (a resume, or
/// another shard writing into the same folder) must ask for the same experiment, checked by `fingerprint`.
///
/// The fingerprint covers everything that changes results — the task, arms, runs, base seed, every setting and a
/// hash of the data's content — and nothing that does not: the data's paths (machines mount data in different
/// places), the thread count, the shard. So shards of one sweep run anywhere and merge (docs/experiment.md).
public struct ExperimentConfig: Codable, Sendable, Equatable {
    public var format = ExperimentConfig.formatName
    public var formatVersion = ExperimentConfig.formatVersion
    public var task: ExperimentTask
    public var arms: [Arm]
    /// Runs per arm.
    public var runs: Int
    /// Run k (1-based) of every arm trains with seed `seed + k − 1`: the arms share seeds (the same split and
    /// shuffles), so they can also be compared pairwise.
    public var seed: UInt64
    /// The arms every flexible arm is compared with (by name).
    public var baselines: [String]
    /// The trainer's settings as text (architecture, epochs, batch size, learning rate, ...), sorted by key.
    public var settings: [String: String]
    /// A hash of the data's content (the splits of run 1).
    public var dataFingerprint: String
    public var dataDescription: String
    /// Fixed forecasts every arm is also compared with (a forecaster's zero-return and training-mean forecasts).
    public var references: [Reference]

    public static let formatName = "flexctl-experiment"
    public static let formatVersion = 1
    public static let fileName = "experiment.json"
    /// Largest experiment.json read.
    public static let maximumFileBytes = 1 << 20
    /// Most runs per arm and most arms.
    public static let maximumRuns = 10_000
    public static let maximumArms = 64

    public init(task: ExperimentTask, arms: [Arm], runs: Int, seed: UInt64, baselines: [String]?,
                settings: [String: String], dataFingerprint: String, dataDescription: String,
                references: [Reference] = []) throws(ExperimentError) {
        self.references = references
        self.task = task
        self.arms = arms
        self.runs = runs
        self.seed = seed
        self.settings = settings
        self.dataFingerprint = dataFingerprint
        self.dataDescription = dataDescription
        self.baselines = []
        self.baselines = baselines ?? defaultBaselines()
        if let problem = problem() { throw ExperimentError(problem) }
    }

    /// The default baselines: the arms without a flexible activation; if every arm is flexible (e.g. arms that
    /// differ only in the regulariser), the first arm.
    func defaultBaselines() -> [String] {
        let fixed = arms.filter { !$0.isFlexible(defaultCell: settings["cell"]) }.map(\.name)
        return fixed.isEmpty ? [arms[0].name] : fixed
    }

    /// Whether an arm is compared with the baselines (it is not one itself).
    public func isCompared(_ arm: Arm) -> Bool { !baselines.contains(arm.name) }

    /// The first inconsistency, for messages (nil when the configuration is sound).
    func problem() -> String? {
        guard format == ExperimentConfig.formatName else {
            return "field 'format' is '\(format)', expected '\(ExperimentConfig.formatName)'"
        }
        guard formatVersion >= 1, formatVersion <= ExperimentConfig.formatVersion else {
            return "field 'format_version' is \(formatVersion); this flexctl reads 1...\(ExperimentConfig.formatVersion)"
        }
        guard (1...ExperimentConfig.maximumRuns).contains(runs) else {
            return "field 'runs' is \(runs); expected 1...\(ExperimentConfig.maximumRuns)"
        }
        guard (2...ExperimentConfig.maximumArms).contains(arms.count) else {
            return "field 'arms' has \(arms.count) arms; expected 2...\(ExperimentConfig.maximumArms)"
        }
        for (i, arm) in arms.enumerated() {
            guard let parsed = try? Arm(parsing: arm.name, task: task), parsed == arm else {
                return "field 'arms[\(i)]' is not the arm its name '\(arm.name)' describes"
            }
        }
        guard Set(arms.map(\.name)).count == arms.count else { return "field 'arms' names an arm twice" }
        guard !baselines.isEmpty, Set(baselines).count == baselines.count else {
            return "field 'baselines' is empty or names an arm twice"
        }
        for b in baselines where !arms.contains(where: { $0.name == b }) {
            return "field 'baselines' names '\(b)', which is not one of the arms (\(arms.map(\.name).joined(separator: ", ")))"
        }
        guard arms.contains(where: isCompared) else {
            return "every arm is a baseline: nothing to compare (choose fewer --baselines)"
        }
        guard references.count <= 8, Set(references.map(\.name)).count == references.count else {
            return "field 'references' has more than 8 entries or a name twice"
        }
        for (i, r) in references.enumerated() where !(r.testMSE.isFinite && r.testMSE >= 0) || r.name.isEmpty || !isPlainText(r.name, 100) {
            return "field 'references[\(i)]' has no name (or one over 100 characters) or a test MSE that is not a finite number ≥ 0"
        }
        guard settings.count <= 64, settings.allSatisfy({ isPlainText($0.key, 64) && isPlainText($0.value, 4096) }) else {
            return "field 'settings' has more than 64 entries, or a key or value that is too long or holds control characters"
        }
        guard isPlainText(dataFingerprint, 128), isPlainText(dataDescription, 4096) else {
            return "field 'data_fingerprint' or 'data_description' is too long or holds control characters"
        }
        guard seed <= UInt64.max - UInt64(runs) else { return "field 'seed' is too large for \(runs) runs" }
        return nil
    }

    /// `sha256:` + the SHA-256 of the fields that change results, each written as `name`, its length in bytes,
    /// `:` and its text, one per line, in a fixed order (settings sorted by key): the format, task, runs, seed,
    /// arms, baselines, settings, the data's content hash and the reference forecasts (their MSE in Swift's
    /// shortest round-trip form). Not `data_description`, which names the data's path, and nothing else that
    /// depends on the machine. Built by hand rather than by a JSON encoder, whose number formatting may differ
    /// between platforms.
    public var fingerprint: String {
        var text = ""
        func field(_ name: String, _ value: String) { text += "\(name) \(value.utf8.count):\(value)\n" }
        field("format", "\(format) \(formatVersion)")
        field("task", task.rawValue)
        field("runs", String(runs))
        field("seed", String(seed))
        for a in arms { field("arm", a.name) }
        for b in baselines { field("baseline", b) }
        for (k, v) in settings.sorted(by: { $0.key < $1.key }) { field("setting", k); field("value", v) }
        field("data", dataFingerprint)
        for r in references { field("reference", r.name); field("test_mse", "\(r.testMSE)") }
        return "sha256:" + sha256Hex(Array(text.utf8))
    }

    /// The seed of run `k` (1-based).
    public func seed(ofRun k: Int) -> UInt64 { seed + UInt64(k - 1) }

    /// Every run of the experiment in the order they are done: run-major (run 1 of every arm, then run 2, ...), so
    /// that a partial experiment or a shard has all arms in similar numbers.
    public var plan: [RunID] {
        (1...runs).flatMap { k in arms.map { RunID(arm: $0.name, run: k) } }
    }

    /// The arm named `name`.
    public func arm(named name: String) -> Arm? { arms.first { $0.name == name } }

    /// Reads and checks `experiment.json`.
    public static func read(from path: String) throws(ExperimentError) -> ExperimentConfig {
        let config: ExperimentConfig = try ExperimentJSON.read(path, maximumBytes: maximumFileBytes, what: "an experiment description")
        if let problem = config.problem() { throw ExperimentError(file: path, problem) }
        return config
    }
}

/// One run of an experiment: arm and 1-based run number.
public struct RunID: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var arm: String
    public var run: Int

    public init(arm: String, run: Int) {
        self.arm = arm
        self.run = run
    }

    public static func < (a: RunID, b: RunID) -> Bool { (a.run, a.arm) < (b.run, b.arm) }
    public var description: String { "\(arm) run \(run)" }
}

/// `--shard I/N`: the I-th of N disjoint shares of an experiment's runs (1 ≤ I ≤ N). Run j of the plan (0-based)
/// belongs to shard (j mod N) + 1, so shares differ by at most one run and mix the arms.
public struct Shard: Sendable, Equatable, CustomStringConvertible {
    public var index: Int
    public var count: Int

    public static let whole = Shard(uncheckedIndex: 1, count: 1)

    init(uncheckedIndex index: Int, count: Int) {
        self.index = index
        self.count = count
    }

    public init(parsing text: String) throws(ExperimentError) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let i = Int(parts[0]), let n = Int(parts[1]), n >= 1, n <= 100_000, (1...n).contains(i) else {
            throw ExperimentError("--shard '\(text)': expected I/N with 1 ≤ I ≤ N ≤ 100000, e.g. 2/8")
        }
        index = i
        count = n
    }

    /// The runs of `plan` in this shard.
    public func select(_ plan: [RunID]) -> [RunID] {
        plan.enumerated().filter { $0.offset % count == index - 1 }.map(\.element)
    }

    public var description: String { "\(index)/\(count)" }
}

/// A fixed forecast with its test MSE on the experiment's test set (no training, no seed): e.g. the zero-return
/// forecast of a returns series, which a forecaster must beat to be of any use.
public struct Reference: Codable, Sendable, Equatable {
    public var name: String
    public var testMSE: Double

    public init(name: String, testMSE: Double) {
        self.name = name
        self.testMSE = testMSE
    }

    /// `test_mse` in the files (see `RunResult.CodingKeys`).
    enum CodingKeys: String, CodingKey {
        case name
        case testMSE = "testMse"
    }
}

/// Whether `s` has at most `limit` characters and no control characters except tab (text from a file that is
/// printed or used in messages).
func isPlainText(_ s: String, _ limit: Int) -> Bool {
    s.count <= limit && s.unicodeScalars.allSatisfy { $0 == "\t" || $0.properties.generalCategory != .control }
}
