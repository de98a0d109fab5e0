import FlexExperiment
import FlexIO
import FlexStats
import Foundation
import Testing

/// A configuration with `arms` (as written) and `runs`.
func makeConfig(_ arms: [String] = ["relu", "elu", "p-e2-relu"], runs: Int = 4, seed: UInt64 = 1,
                task: ExperimentTask = .cae, baselines: [String]? = nil, epochs: String = "3",
                data: String = "00aa") throws -> ExperimentConfig {
    try ExperimentConfig(task: task, arms: parseArms(arms, task: task), runs: runs, seed: seed, baselines: baselines,
                         settings: ["arch": "cae1", "epochs": epochs], dataFingerprint: data, dataDescription: "test data")
}

/// A finished run's result with test MSE `mse` and a short curve.
func makeResult(_ config: ExperimentConfig, arm: String, run: Int, mse: Double, epochs: Int = 2) -> RunResult {
    RunResult(experiment: config.fingerprint, arm: arm, run: run, seed: config.seed(ofRun: run), testMSE: mse,
              epochs: epochs, bestEpoch: epochs, stop: "completed", seconds: 1.5, threads: 2,
              curve: (1...epochs).map { EpochLoss(epoch: $0, trainLoss: mse * Double(3 - $0), validationLoss: mse * Double(4 - $0)) },
              activations: [SlotValues(slot: "layers.1", member: arm, alpha: [0.5, 0.75], beta: [1, 1.25])])
}

/// A fresh temporary folder, removed by `cleanup`.
struct Scratch {
    let path: String
    init() throws {
        var template = Array((NSTemporaryDirectory() + "/flexctl-experiment-XXXXXX").utf8CString)
        guard let p = mkdtemp(&template) else { throw CocoaError(.fileWriteUnknown) }
        path = String(cString: p)
    }
    func file(_ name: String) -> String { path + "/" + name }
    func cleanup() { try? FileManager.default.removeItem(atPath: path) }
}

@Suite("Arms, seeds and shards")
struct ArmAndShardTests {
    @Test("arms parse member[+key=value...]; errors name the arm and what was expected")
    func arms() throws {
        let a = try Arm(parsing: "P-E2-ReLU+reg-mean=0.01+margin=0.1", task: .cae)
        #expect(a.name == "p-e2-relu+reg-mean=0.01+margin=0.1" && a.activation == "p-e2-relu")
        #expect(a.regMean == 0.01 && a.margin == 0.1 && a.regDefault == nil && a.cell == nil)
        #expect(a.isFlexible(defaultCell: nil))
        #expect(!(try Arm(parsing: "prelu", task: .cae)).isFlexible(defaultCell: nil))
        let f = try Arm(parsing: "sigmoid+cell=p-tanh-ramp", task: .forecast)
        #expect(f.cell == "p-tanh-ramp" && f.isFlexible(defaultCell: "tanh"))
        #expect(!(try Arm(parsing: "sigmoid", task: .forecast)).isFlexible(defaultCell: "tanh"))
        #expect((try Arm(parsing: "sigmoid", task: .forecast)).isFlexible(defaultCell: "p-tanh-ramp"))
        func message(_ text: String, _ task: ExperimentTask = .cae) -> String {
            do { _ = try Arm(parsing: text, task: task); return "" } catch { return error.description }
        }
        #expect(message("relux").contains("arm 'relux'") && message("relux").contains("unknown activation"))
        #expect(message("relu+cell=tanh").contains("unknown key 'cell'"))
        #expect(message("relu+reg-mean=-1").contains("expected a number ≥ 0"))
        #expect(message("relu+reg-mean=nan").contains("expected a number ≥ 0"))
        #expect(message("relu+reg-mean").contains("is not key=value"))
        #expect(message("relu+margin=0.1+margin=0.2").contains("given twice"))
        #expect(message("sigmoid+cell=bogus", .forecast).contains("cell: unknown activation"))
        #expect(throws: ExperimentError.self) { try parseArms(["relu", "RELU"], task: .cae) }
        #expect(throws: ExperimentError.self) { try parseArms(["relu"], task: .cae) }
    }

    @Test("run k of every arm has seed + k − 1; the plan is run-major")
    func seedsAndPlan() throws {
        let c = try makeConfig(runs: 3, seed: 7)
        #expect(c.seed(ofRun: 1) == 7 && c.seed(ofRun: 3) == 9)
        #expect(c.plan.map(\.description) == ["relu run 1", "elu run 1", "p-e2-relu run 1", "relu run 2", "elu run 2",
                                              "p-e2-relu run 2", "relu run 3", "elu run 3", "p-e2-relu run 3"])
    }

    @Test("shards partition the plan: every run in exactly one shard, sizes within one")
    func shards() throws {
        let plan = try makeConfig(runs: 7).plan
        for n in 1...9 {
            let parts = try (1...n).map { try Shard(parsing: "\($0)/\(n)").select(plan) }
            #expect(parts.flatMap { $0 }.sorted() == plan.sorted())
            #expect(Set(parts.flatMap { $0 }).count == plan.count)
            let sizes = parts.map(\.count)
            #expect(sizes.max()! - sizes.min()! <= 1)
        }
        for bad in ["0/4", "5/4", "1/0", "a/b", "1", "1/2/3", "-1/2", ""] {
            #expect(throws: ExperimentError.self) { try Shard(parsing: bad) }
        }
    }

    @Test("baselines: the fixed arms by default; the first arm when all are flexible; checked")
    func baselines() throws {
        #expect(try makeConfig().baselines == ["relu", "elu"])
        #expect(try makeConfig(["p-e2-relu", "p-e2-relu+reg-mean=0.01"]).baselines == ["p-e2-relu"])
        #expect(try makeConfig(baselines: ["elu"]).baselines == ["elu"])
        #expect(throws: ExperimentError.self) { try makeConfig(baselines: ["gelu"]) }
        #expect(throws: ExperimentError.self) { try makeConfig(["relu", "elu"], baselines: ["relu", "elu"]) }
    }

    @Test("the fingerprint covers arms, runs, seed, settings and data, and survives a round trip through the file")
    func fingerprint() throws {
        let c = try makeConfig()
        #expect(c.fingerprint.hasPrefix("sha256:") && c.fingerprint.count == 71)
        #expect(c.fingerprint == (try makeConfig()).fingerprint)
        for other in [try makeConfig(["relu", "p-e2-relu"]), try makeConfig(runs: 5), try makeConfig(seed: 2),
                      try makeConfig(epochs: "4"), try makeConfig(data: "00ab"), try makeConfig(baselines: ["relu"])] {
            #expect(other.fingerprint != c.fingerprint)
        }
        // The description names the data's path, which differs between machines: not part of the fingerprint.
        var moved = c
        moved.dataDescription = "IDX images (/mnt/elsewhere/images.idx)"
        #expect(moved.fingerprint == c.fingerprint)
        let dir = try Scratch()
        defer { dir.cleanup() }
        let folder = try ExperimentFolder.prepare(dir.file("e"), config: c)
        #expect(try ExperimentConfig.read(from: folder.configPath) == c)
        // Crafted descriptions are refused when read: arms that disagree with their names, control characters.
        let text = try String(contentsOfFile: folder.configPath, encoding: .utf8)
        for (bad, expected) in [
            (text.replacingOccurrences(of: "\"activation\" : \"elu\"", with: "\"activation\" : \"relu\""), "is not the arm its name 'elu' describes"),
            (text.replacingOccurrences(of: "\"name\" : \"elu\"", with: "\"name\" : \"../x\""), "field 'arms[1]'"),
            (text.replacingOccurrences(of: "\"runs\" : 4", with: "\"runs\" : 0"), "field 'runs' is 0"),
            (text.replacingOccurrences(of: "test data", with: "test \\u001b[31m data"), "control characters"),
            (text.replacingOccurrences(of: "\"format_version\" : 1", with: "\"format_version\" : 9"), "field 'format_version' is 9"),
        ] {
            try bad.write(toFile: dir.file("bad.json"), atomically: true, encoding: .utf8)
            do {
                _ = try ExperimentConfig.read(from: dir.file("bad.json"))
                Issue.record("accepted: \(expected)")
            } catch {
                #expect(error.description.contains(dir.file("bad.json")) && error.description.contains(expected), "\(error) / \(expected)")
            }
        }
    }
}

@Suite("Experiment summary and statistics")
struct SummaryTests {
    /// Test MSEs per arm: p-e2-relu clearly lower than relu, about equal to elu.
    static let values: [String: [Double]] = [
        "relu": [0.0135, 0.0131, 0.0138, 0.0133],
        "elu": [0.0101, 0.0104, 0.0099, 0.0102],
        "p-e2-relu": [0.0100, 0.0103, 0.0101, 0.0098],
    ]

    static func results(_ c: ExperimentConfig, values: [String: [Double]] = values) -> [RunID: RunResult] {
        var r: [RunID: RunResult] = [:]
        for (arm, list) in values { for (i, v) in list.enumerated() { r[RunID(arm: arm, run: i + 1)] = makeResult(c, arm: arm, run: i + 1, mse: v) } }
        return r
    }

    @Test("per-arm mean, sd, median; one-sided Welch and paired tests as FlexStats computes them; Holm over each family")
    func summary() throws {
        let c = try makeConfig()
        let s = ExperimentSummary(config: c, results: Self.results(c))
        #expect(s.runsPlanned == 12 && s.runsFinished == 12 && s.missing.isEmpty)
        let relu = try #require(s.arms.first { $0.arm == "relu" })
        let expected = try SampleSummary(Self.values["relu"]!)
        #expect(abs(relu.mean! - expected.mean) < 1e-15 && abs(relu.sd! - expected.standardDeviation) < 1e-15)
        #expect(relu.median == (0.0133 + 0.0135) / 2 && relu.min == 0.0131 && relu.max == 0.0138 && relu.baseline)
        #expect(s.comparisons.map { "\($0.arm)>\($0.baseline)" } == ["p-e2-relu>relu", "p-e2-relu>elu"])
        #expect(s.welchTests == 2 && s.pairedTests == 2)
        let x = Self.values["p-e2-relu"]!
        let welch = try welchTTest(x, Self.values["relu"]!, alternative: .less)
        let paired = try pairedTTest(x, Self.values["relu"]!, alternative: .less)
        let vsRelu = s.comparisons[0]
        #expect(vsRelu.welch!.p == welch.pValue && vsRelu.welch!.statistic == welch.statistic)
        #expect(vsRelu.paired!.p == paired.pValue && vsRelu.paired!.n == 4)
        #expect(vsRelu.welch!.p < 1e-4, "p-e2-relu is far below relu")
        #expect(s.comparisons[1].welch!.p > 0.05, "p-e2-relu is not below elu")
        let holm = try holmAdjusted(s.comparisons.map { $0.welch!.p })
        #expect(s.comparisons.map { $0.welch!.pHolm } == holm)
        #expect(vsRelu.meanDifference! < 0)
        let md = s.markdown()
        #expect(md.contains("| relu (baseline) | 4 | 1.34E-02 (") && md.contains("| p-e2-relu | relu |"))
        #expect(md.contains("Holm's adjustment over the 2 Welch tests"))
    }

    @Test("missing runs and arms with one run: reported, and no test where there is nothing to test")
    func partial() throws {
        let c = try makeConfig()
        let s = ExperimentSummary(config: c, results: Self.results(c, values: ["relu": [0.1, 0.2], "p-e2-relu": [0.05], "elu": []]))
        #expect(s.runsFinished == 3 && s.missing.count == 9 && s.missing.contains("elu run 1"))
        #expect(s.comparisons.allSatisfy { $0.welch == nil && $0.paired == nil && $0.note != nil })
        #expect(s.welchTests == 0)
        #expect(s.markdown().contains("9 of 12 runs have no result yet"))
        #expect(s.arms.first { $0.arm == "p-e2-relu" }!.sd == nil)
    }

    @Test("a reference forecast: every arm tested against its fixed MSE (one-sample t-test), Holm over the arms")
    func reference() throws {
        let base = try makeConfig(["sigmoid", "p-sig-ramp"], runs: 3, task: .forecast)
        let c = try ExperimentConfig(task: .forecast, arms: base.arms, runs: 3, seed: 1, baselines: nil, settings: base.settings,
                                     dataFingerprint: "00aa", dataDescription: "d", references: [Reference(name: "zero-return forecast", testMSE: 1.0)])
        #expect(c.fingerprint != base.fingerprint)
        let values = ["sigmoid": [1.02, 0.99, 1.01], "p-sig-ramp": [0.95, 0.96, 0.94]]
        let s = ExperimentSummary(config: c, results: Self.results(c, values: values))
        #expect(s.referenceComparisons.map(\.arm) == ["sigmoid", "p-sig-ramp"])
        let oneSample = try pairedTTest(values["p-sig-ramp"]!, [1, 1, 1], alternative: .less)
        #expect(s.referenceComparisons[1].test!.p == oneSample.pValue && s.referenceComparisons[1].test!.p < 0.01)
        #expect(s.referenceComparisons[0].test!.p > 0.3)
        #expect(s.referenceComparisons.map { $0.test!.pHolm } == (try holmAdjusted(s.referenceComparisons.map { $0.test!.p })))
        #expect(s.markdown().contains("| zero-return forecast (reference) | – | 1.00E+00 |") && s.markdown().contains("| p-sig-ramp | zero-return forecast | "))
        let dir = try Scratch()
        defer { dir.cleanup() }
        let folder = try ExperimentFolder.prepare(dir.file("e"), config: c)
        #expect(try ExperimentConfig.read(from: folder.configPath) == c)
        #expect(try String(contentsOfFile: folder.configPath, encoding: .utf8).contains("\"test_mse\" : 1"))
    }

    @Test("paired tests use the runs both arms finished (same seed)")
    func pairing() throws {
        let c = try makeConfig(["relu", "p-e2-relu"], runs: 4)
        var r = Self.results(c, values: ["relu": [0.30, 0.31, 0.29, 0.33], "p-e2-relu": [0.20, 0.22, 0.21, 0.25]])
        r[RunID(arm: "relu", run: 4)] = nil
        let s = ExperimentSummary(config: c, results: r)
        #expect(s.comparisons[0].paired!.n == 3 && s.comparisons[0].paired!.p < 0.01, "the arm is lower: H1 holds")
        let p = try pairedTTest([0.20, 0.22, 0.21], [0.30, 0.31, 0.29], alternative: .less)
        #expect(s.comparisons[0].paired!.p == p.pValue)
    }
}

@Suite("Experiment folders, results and merging")
struct FolderTests {
    @Test("a folder holds one experiment: the same one reopens, another is refused with both fingerprints")
    func prepare() throws {
        let dir = try Scratch()
        defer { dir.cleanup() }
        let c = try makeConfig()
        _ = try ExperimentFolder.prepare(dir.file("e"), config: c)
        _ = try ExperimentFolder.prepare(dir.file("e"), config: c)
        let other = try makeConfig(runs: 5)
        do {
            _ = try ExperimentFolder.prepare(dir.file("e"), config: other)
            Issue.record("another experiment was accepted")
        } catch {
            #expect(error.description.contains("holds another experiment") && error.description.contains(other.fingerprint))
        }
    }

    @Test("results: recorded once, read back equal, checked against the experiment and their place")
    func results() throws {
        let dir = try Scratch()
        defer { dir.cleanup() }
        let c = try makeConfig()
        let folder = try ExperimentFolder.prepare(dir.file("e"), config: c)
        let r = makeResult(c, arm: "elu", run: 2, mse: 0.01)
        try folder.record(r, config: c)
        #expect(throws: ExperimentError.self) { try folder.record(r, config: c) }
        #expect(try folder.results(c) == [RunID(arm: "elu", run: 2): r])
        // A result in another run's place, of another experiment, or with a bad value is refused, naming the file.
        try FileManager.default.createDirectory(atPath: folder.runPath(RunID(arm: "relu", run: 1)), withIntermediateDirectories: true)
        let text = try String(contentsOfFile: folder.resultPath(RunID(arm: "elu", run: 2)), encoding: .utf8)
        let relu1 = RunID(arm: "relu", run: 1), elu2 = RunID(arm: "elu", run: 2)
        for (place, bad, expected) in [
            (relu1, text, "fields 'arm', 'run' are 'elu', 2; expected 'relu', 1"),
            (relu1, text.replacingOccurrences(of: "\"run\" : 2", with: "\"run\" : 1").replacingOccurrences(of: "\"arm\" : \"elu\"", with: "\"arm\" : \"relu\""), "field 'seed' is 2"),
            (elu2, text.replacingOccurrences(of: c.fingerprint, with: "sha256:" + String(repeating: "0", count: 64)), "a result of another experiment"),
            (elu2, text.replacingOccurrences(of: "\"test_mse\" : 0.01", with: "\"test_mse\" : -1"), "field 'test_mse' is -1.0"),
            (elu2, text.replacingOccurrences(of: "\"epochs\" : 2", with: "\"epochs\" : 3"), "field 'epochs' is 3 with 2 curve entries"),
            (elu2, "{", "not a run result"),
        ] {
            try FileManager.default.removeItem(atPath: folder.runPath(relu1))
            try FileManager.default.createDirectory(atPath: folder.runPath(relu1), withIntermediateDirectories: true)
            try text.write(toFile: folder.resultPath(elu2), atomically: true, encoding: .utf8)
            try bad.write(toFile: folder.resultPath(place), atomically: true, encoding: .utf8)
            do {
                _ = try folder.results(c)
                Issue.record("accepted: \(expected)")
            } catch {
                #expect(error.description.contains(folder.resultPath(place)) && error.description.contains(expected), "\(error) / \(expected)")
            }
        }
    }

    @Test("record checks a result before writing it: non-finite or huge values and odd slot names are errors, not crashes")
    func recordChecks() throws {
        let dir = try Scratch()
        defer { dir.cleanup() }
        let c = try makeConfig()
        let folder = try ExperimentFolder.prepare(dir.file("e"), config: c)
        var r = makeResult(c, arm: "relu", run: 1, mse: 0.01)
        var bad: [(RunResult, String)] = []
        r.activations[0].alpha[0] = .nan; bad.append((r, "outside [-1e6, 1e6]"))
        r = makeResult(c, arm: "relu", run: 1, mse: 1e300); bad.append((r, "field 'test_mse'"))
        r = makeResult(c, arm: "relu", run: 1, mse: 0.01); r.activations[0].slot = "../x"; bad.append((r, "activations[0].slot"))
        r = makeResult(c, arm: "relu", run: 1, mse: 0.01); r.activations.append(r.activations[0]); bad.append((r, "a slot twice"))
        r = makeResult(c, arm: "relu", run: 1, mse: 0.01); r.activations[0].member = "gelu"; bad.append((r, "not an activation member"))
        r = makeResult(c, arm: "relu", run: 1, mse: 0.01); r.seed = 9; bad.append((r, "field 'seed' is 9"))
        for (result, expected) in bad {
            do {
                try folder.record(result, config: c)
                Issue.record("recorded: \(expected)")
            } catch {
                #expect(error.description.contains("not recorded") && error.description.contains(expected), "\(error) / \(expected)")
            }
            #expect(!folder.isFinished(RunID(arm: "relu", run: 1)))
        }
    }

    @Test("merge into one of the inputs keeps its own results; differing duplicates are reported as such")
    func mergeIntoInput() throws {
        let dir = try Scratch()
        defer { dir.cleanup() }
        let c = try makeConfig(runs: 1)
        let a = try ExperimentFolder.prepare(dir.file("a"), config: c)
        let b = try ExperimentFolder.prepare(dir.file("b"), config: c)
        try a.record(makeResult(c, arm: "relu", run: 1, mse: 0.5), config: c)
        try b.record(makeResult(c, arm: "relu", run: 1, mse: 0.6), config: c)
        try b.record(makeResult(c, arm: "elu", run: 1, mse: 0.4), config: c)
        let m = try mergeExperiments([dir.file("a"), dir.file("b")], into: dir.file("b"))
        #expect(m.results[RunID(arm: "relu", run: 1)]?.testMSE == 0.6, "--out's own result is kept")
        #expect(m.duplicates.count == 1 && m.duplicates[0].sameResult == false && m.duplicates[0].folders.first == dir.file("b"))
        #expect(try b.results(c)[RunID(arm: "relu", run: 1)]?.testMSE == 0.6)
        #expect(m.missing == [RunID(arm: "p-e2-relu", run: 1)])
    }

    @Test("merge: shards give the whole; duplicates and missing runs are reported; other experiments are refused")
    func merge() throws {
        let dir = try Scratch()
        defer { dir.cleanup() }
        let c = try makeConfig(runs: 3)
        let all = SummaryTests.results(c, values: ["relu": [0.3, 0.31, 0.32], "elu": [0.2, 0.21, 0.19], "p-e2-relu": [0.1, 0.12, 0.11]])
        for i in 1...2 {
            let f = try ExperimentFolder.prepare(dir.file("s\(i)"), config: c)
            for id in try Shard(parsing: "\(i)/2").select(c.plan) { try f.record(all[id]!, config: c) }
        }
        let m = try mergeExperiments([dir.file("s1"), dir.file("s2")], into: dir.file("merged"))
        #expect(m.results == all && m.missing.isEmpty && m.duplicates.isEmpty)
        let (merged, mc) = try ExperimentFolder.open(dir.file("merged"))
        #expect(try merged.results(mc) == all)
        for name in ["summary.md", "summary.json", "results.csv", "comparisons.csv", "plots/validation.svg", "plots/validation.png"] {
            #expect(FileManager.default.fileExists(atPath: dir.file("merged/" + name)), "\(name)")
        }
        let csv = try String(contentsOfFile: dir.file("merged/results.csv"), encoding: .utf8)
        #expect(csv.split(separator: "\n").count == 10)
        // The same shard twice: every run of it is a duplicate with the same result; the other shard's are missing.
        // The same shard twice counts once; the other shard's runs are missing.
        let twice = try mergeExperiments([dir.file("s1"), dir.file("s1")], into: dir.file("twice"))
        #expect(twice.duplicates.isEmpty && twice.results.count == 5)
        #expect(twice.missing.count == 4)
        // A shard of another experiment is refused and nothing is written.
        let other = try makeConfig(runs: 3, seed: 2)
        _ = try ExperimentFolder.prepare(dir.file("o"), config: other)
        do {
            _ = try mergeExperiments([dir.file("s1"), dir.file("o")], into: dir.file("bad"))
            Issue.record("merged two experiments")
        } catch {
            #expect(error.description.contains("is another experiment") && error.description.contains("only shards of one experiment merge"))
        }
        #expect(!FileManager.default.fileExists(atPath: dir.file("bad")))
    }
}
