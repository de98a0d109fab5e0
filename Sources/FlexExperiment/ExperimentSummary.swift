import FlexRuntime
import FlexStats

/// The summary of an experiment's finished runs: the test MSE per arm (mean, standard deviation, ...) and, for
/// each compared arm against each baseline, one-sided t-tests of H1: mean(arm) < mean(baseline) (lower MSE is
/// better; H0: arm ≥ baseline) — Welch's test always, the paired test on the runs both arms finished with the same
/// seed — each with Holm's adjustment over its family of comparisons (docs/experiment.md, docs/statistics.md).
public struct ExperimentSummary: Codable, Sendable, Equatable {
    public var experiment: String
    public var task: ExperimentTask
    public var runsPlanned: Int
    public var runsFinished: Int
    /// The runs without a result, e.g. `relu run 3`.
    public var missing: [String]
    public var arms: [ArmSummary]
    public var comparisons: [Comparison]
    /// How many Welch tests (and paired tests) were made: the size of each Holm family.
    public var welchTests: Int
    public var pairedTests: Int
    /// Each arm against each fixed reference forecast (`ExperimentConfig.references`): a one-sample t-test of the
    /// arm's runs against the reference's test MSE, Holm-adjusted over these tests. Empty without references.
    public var references: [Reference]
    public var referenceComparisons: [ReferenceComparison]
    public var alternative = "one-sided, H1: mean test MSE of the arm < that of the baseline"

    public init(config: ExperimentConfig, results: [RunID: RunResult]) {
        experiment = config.fingerprint
        task = config.task
        runsPlanned = config.plan.count
        runsFinished = config.plan.filter { results[$0] != nil }.count
        missing = config.plan.filter { results[$0] == nil }.map(\.description)
        let byArm = Dictionary(grouping: results.values, by: \.arm)
        func runs(_ arm: String) -> [RunResult] { (byArm[arm] ?? []).sorted { $0.run < $1.run } }
        arms = config.arms.map { arm in
            ArmSummary(arm: arm.name, flexible: arm.isFlexible(defaultCell: config.settings["cell"]),
                       baseline: !config.isCompared(arm), results: runs(arm.name))
        }
        var comparisons: [Comparison] = []
        for arm in config.arms where config.isCompared(arm) {
            for baseline in config.baselines {
                comparisons.append(Comparison(arm: arm.name, baseline: baseline, x: runs(arm.name), y: runs(baseline)))
            }
        }
        // Holm over each family: the Welch tests made, and the paired tests made.
        let welch = comparisons.indices.filter { comparisons[$0].welch != nil }
        let paired = comparisons.indices.filter { comparisons[$0].paired != nil }
        if let adjusted = try? holmAdjusted(welch.map { comparisons[$0].welch!.p }) {
            for (i, p) in zip(welch, adjusted) { comparisons[i].welch!.pHolm = p }
        }
        if let adjusted = try? holmAdjusted(paired.map { comparisons[$0].paired!.p }) {
            for (i, p) in zip(paired, adjusted) { comparisons[i].paired!.pHolm = p }
        }
        welchTests = welch.count
        pairedTests = paired.count
        self.comparisons = comparisons
        references = config.references
        var againstReference = config.references.flatMap { reference in
            config.arms.map { ReferenceComparison(arm: $0.name, reference: reference, x: runs($0.name)) }
        }
        let tested = againstReference.indices.filter { againstReference[$0].test != nil }
        if let adjusted = try? holmAdjusted(tested.map { againstReference[$0].test!.p }) {
            for (i, p) in zip(tested, adjusted) { againstReference[i].test!.pHolm = p }
        }
        referenceComparisons = againstReference
    }

    /// The paper's kind of table, in Markdown: test MSE mean (sd) per arm, then the comparisons with raw and
    /// Holm-adjusted p-values.
    public func markdown() -> String {
        var lines = ["| arm | runs | test MSE mean (sd) | median | min | max | epochs (mean) | seconds (mean) |",
                     "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
        for a in arms {
            let name = a.arm + (a.baseline ? " (baseline)" : "")
            lines.append("| \(name) | \(a.runs) | \(sci(a.mean)) (\(sci(a.sd))) | \(sci(a.median)) | \(sci(a.min)) | \(sci(a.max)) | \(fixed(a.meanEpochs, 1)) | \(fixed(a.meanSeconds, 1)) |")
        }
        for r in references { lines.append("| \(r.name) (reference) | – | \(sci(r.testMSE)) | | | | | |") }
        lines += ["", "One-sided tests, H1: the arm's mean test MSE is lower than the baseline's. Holm's adjustment over the \(welchTests) Welch test\(welchTests == 1 ? "" : "s") and, separately, the \(pairedTests) paired test\(pairedTests == 1 ? "" : "s") (same seeds).", "",
                  "| arm | baseline | difference of means | Welch t (df) | p | p (Holm) | paired n | paired t | p | p (Holm) |",
                  "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
        for c in comparisons {
            let w = c.welch.map { "\(fixed($0.statistic, 2)) (\(fixed($0.degreesOfFreedom, 1))) | \(sci($0.p)) | \(sci($0.pHolm))" } ?? "– | – | –"
            let p = c.paired.map { "\($0.n) | \(fixed($0.statistic, 2)) | \(sci($0.p)) | \(sci($0.pHolm))" } ?? "– | – | – | –"
            lines.append("| \(c.arm) | \(c.baseline) | \(sci(c.meanDifference)) | \(w) | \(p) |")
        }
        if !references.isEmpty {
            let n = referenceComparisons.filter { $0.test != nil }.count
            lines += ["", "Against the fixed forecasts (the same for every seed): one-sided one-sample t-tests, H1: the arm's mean test MSE is lower than the forecast's; Holm's adjustment over the \(n) test\(n == 1 ? "" : "s").", "",
                      "| arm | forecast | difference of means | t (df) | p | p (Holm) |", "| --- | --- | ---: | ---: | ---: | ---: |"]
            for c in referenceComparisons {
                let t = c.test.map { "\(fixed($0.statistic, 2)) (\(fixed($0.degreesOfFreedom, 0))) | \(sci($0.p)) | \(sci($0.pHolm))" } ?? "– | – | –"
                lines.append("| \(c.arm) | \(c.reference) | \(sci(c.meanDifference)) | \(t) |")
            }
        }
        let notes = comparisons.compactMap { c in c.note.map { "- \(c.arm) vs \(c.baseline): \($0)" } }
            + referenceComparisons.compactMap { c in c.note.map { "- \(c.arm) vs the \(c.reference): \($0)" } }
        if !notes.isEmpty { lines += [""] + notes }
        if !missing.isEmpty {
            lines += ["", "\(missing.count) of \(runsPlanned) runs have no result yet: \(missing.prefix(12).joined(separator: ", "))\(missing.count > 12 ? ", …" : "")."]
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// `results.csv`: one line per finished run. (Arm names need no quoting: a member name and `+key=number`.)
    public static func resultsCSV(_ results: [RunResult]) -> String {
        var lines = ["arm,run,seed,test_mse,epochs,best_epoch,stop,seconds,threads"]
        for r in results.sorted(by: { RunID(arm: $0.arm, run: $0.run) < RunID(arm: $1.arm, run: $1.run) }) {
            lines.append([r.arm, String(r.run), String(r.seed), "\(r.testMSE)", String(r.epochs),
                          r.bestEpoch.map(String.init) ?? "", r.stop, "\(r.seconds)", String(r.threads)].joined(separator: ","))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// `comparisons.csv`: one line per comparison.
    public func comparisonsCSV() -> String {
        var lines = ["arm,baseline,mean_difference,welch_t,welch_df,welch_p,welch_p_holm,paired_n,paired_t,paired_df,paired_p,paired_p_holm"]
        func num(_ v: Double?) -> String { v.map { "\($0)" } ?? "" }
        for c in comparisons {
            lines.append([c.arm, c.baseline, num(c.meanDifference), num(c.welch?.statistic),
                          num(c.welch?.degreesOfFreedom), num(c.welch?.p), num(c.welch?.pHolm),
                          c.paired.map { String($0.n) } ?? "", num(c.paired?.statistic), num(c.paired?.degreesOfFreedom),
                          num(c.paired?.p), num(c.paired?.pHolm)].joined(separator: ","))
        }
        return lines.joined(separator: "\n") + "\n"
    }
}

/// The test MSE of one arm's finished runs.
public struct ArmSummary: Codable, Sendable, Equatable {
    public var arm: String
    public var flexible: Bool
    public var baseline: Bool
    public var runs: Int
    public var mean: Double?
    /// The sample standard deviation (n − 1), nil below 2 runs.
    public var sd: Double?
    public var min: Double?
    public var median: Double?
    public var max: Double?
    public var meanEpochs: Double?
    public var meanSeconds: Double?

    init(arm: String, flexible: Bool, baseline: Bool, results: [RunResult]) {
        self.arm = arm
        self.flexible = flexible
        self.baseline = baseline
        runs = results.count
        let values = results.map(\.testMSE).sorted()
        guard !values.isEmpty else { return }
        let n = Double(values.count)
        mean = values.reduce(0, +) / n
        if let s = try? SampleSummary(values), values.count >= 2 { sd = s.standardDeviation }
        min = values.first
        max = values.last
        median = values.count % 2 == 1 ? values[values.count / 2] : (values[values.count / 2 - 1] + values[values.count / 2]) / 2
        meanEpochs = results.map { Double($0.epochs) }.reduce(0, +) / n
        meanSeconds = results.map(\.seconds).reduce(0, +) / n
    }
}

/// One arm against one baseline.
public struct Comparison: Codable, Sendable, Equatable {
    public var arm: String
    public var baseline: String
    /// mean(arm) − mean(baseline): negative when the arm's test MSE is lower.
    public var meanDifference: Double?
    public var welch: TestOutcome?
    public var paired: TestOutcome?
    /// Why a test is missing (too few runs, no variance).
    public var note: String?

    init(arm: String, baseline: String, x: [RunResult], y: [RunResult]) {
        self.arm = arm
        self.baseline = baseline
        let xs = x.map(\.testMSE), ys = y.map(\.testMSE)
        if !xs.isEmpty, !ys.isEmpty {
            meanDifference = xs.reduce(0, +) / Double(xs.count) - ys.reduce(0, +) / Double(ys.count)
        }
        var notes: [String] = []
        do {
            welch = TestOutcome(try welchTTest(xs, ys, alternative: .less), n: Swift.min(xs.count, ys.count))
        } catch {
            notes.append("no Welch test: \(error.message)")
        }
        // Pairs: the runs both arms finished (run k of every arm has the same seed).
        let yByRun = Dictionary(uniqueKeysWithValues: y.map { ($0.run, $0.testMSE) })
        let pairs = x.compactMap { r in yByRun[r.run].map { (r.testMSE, $0) } }
        do {
            paired = TestOutcome(try pairedTTest(pairs.map(\.0), pairs.map(\.1), alternative: .less), n: pairs.count)
        } catch {
            notes.append("no paired test: \(error.message)")
        }
        note = notes.isEmpty ? nil : notes.joined(separator: "; ")
    }
}

/// One arm against the fixed reference forecast.
public struct ReferenceComparison: Codable, Sendable, Equatable {
    public var arm: String
    /// The reference forecast's name.
    public var reference: String
    /// mean(arm) − the reference's test MSE.
    public var meanDifference: Double?
    /// The one-sample t-test of the arm's runs against the reference's MSE (the paired test against a constant).
    public var test: TestOutcome?
    public var note: String?

    init(arm: String, reference: Reference, x: [RunResult]) {
        self.arm = arm
        self.reference = reference.name
        let xs = x.map(\.testMSE)
        if !xs.isEmpty { meanDifference = xs.reduce(0, +) / Double(xs.count) - reference.testMSE }
        do {
            test = TestOutcome(try pairedTTest(xs, Array(repeating: reference.testMSE, count: xs.count), alternative: .less), n: xs.count)
        } catch {
            note = "no test: \(error.message)"
        }
    }
}

/// A t-test's statistic, degrees of freedom, one-sided p-value and its Holm adjustment.
public struct TestOutcome: Codable, Sendable, Equatable {
    public var statistic: Double
    public var degreesOfFreedom: Double
    public var p: Double
    public var pHolm: Double
    /// Runs per arm (Welch: the smaller sample) or pairs (paired).
    public var n: Int

    init(_ t: TTestResult, n: Int) {
        statistic = t.statistic
        degreesOfFreedom = t.degreesOfFreedom
        p = t.pValue
        pHolm = t.pValue
        self.n = n
    }
}

/// `1.23E-02`, the paper's style; `–` for none.
func sci(_ v: Double?) -> String {
    guard let v, v.isFinite else { return "–" }
    return cFormat("%.2E", v)
}

/// `v` with `digits` decimals; `–` for none.
func fixed(_ v: Double?, _ digits: Int) -> String {
    guard let v, v.isFinite else { return "–" }
    return cFormat("%.*f", Int32(digits), v)
}
