import Testing
@testable import FlexStats

@Suite("t-tests") struct TTestTests {
    @Test func welchMatchesReference() throws {
        for c in StatsReference.welch {
            let (x, y) = try #require(StatsReference.samples[c.sample])
            let r = try welchTTest(x, y, alternative: alternative(c.alternative))
            let what = "\(c.sample) \(c.alternative)"
            #expect(mismatch(r.statistic, c.t, "t, \(what)") == nil)
            #expect(mismatch(r.degreesOfFreedom, c.df, "df, \(what)") == nil)
            #expect(mismatch(r.pValue, c.p, "p, \(what)") == nil)
        }
    }

    @Test func pairedMatchesReference() throws {
        #expect(StatsReference.paired.count >= 9)
        for c in StatsReference.paired {
            let (x, y) = try #require(StatsReference.samples[c.sample])
            let r = try pairedTTest(x, y, alternative: alternative(c.alternative))
            let what = "\(c.sample) \(c.alternative)"
            #expect(mismatch(r.statistic, c.t, "t, \(what)") == nil)
            #expect(r.degreesOfFreedom == c.df)
            #expect(mismatch(r.pValue, c.p, "p, \(what)") == nil)
        }
    }

    @Test func summaryStatisticsMatchSciPy() throws {
        for c in StatsReference.fromSummary {
            let r = try welchTTest(
                SampleSummary(mean: c.m1, standardDeviation: c.s1, count: c.n1),
                SampleSummary(mean: c.m2, standardDeviation: c.s2, count: c.n2), alternative: alternative(c.alternative))
            let what = "\(c.name) n \(c.n1) \(c.alternative)"
            #expect(mismatch(r.statistic, c.t, "t, \(what)") == nil)
            #expect(mismatch(r.degreesOfFreedom, c.df, "df, \(what)") == nil)
            #expect(mismatch(r.pValue, c.p, "p, \(what)") == nil)
        }
    }

    /// The paper's CIFAR10 row as a reader would check it: P-E2-Id 1.01E-2 (2.4E-4) vs ELU 1.27E-2 (1.6E-4),
    /// 10 runs each, H0: P-E2-Id ≥ ELU. The paper reports p = 3.6E-9; Welch's test on these summaries gives
    /// 3.1E-15 (SciPy agrees): the claim's direction holds with a far smaller p-value, so the paper's value
    /// must come from other numbers (unrounded data, fewer runs — n = 6 gives 3.0E-9 — or another test).
    /// docs/statistics.md discusses this.
    @Test func paperStyleClaim() throws {
        let flexible = try SampleSummary(mean: 1.01e-2, standardDeviation: 2.4e-4, count: 10)
        let elu = try SampleSummary(mean: 1.27e-2, standardDeviation: 1.6e-4, count: 10)
        let r = try welchTTest(flexible, elu, alternative: .less)
        #expect(r.pValue < 3.6e-9)
        #expect(r.pValue > 1e-16 && r.pValue < 1e-14, "found \(r.pValue)")
        #expect(r.statistic < -28 && r.statistic > -29)
        // The reverse hypothesis is near-certain, and computed as 1 − (tiny), not as a tiny tail.
        #expect(try welchTTest(flexible, elu, alternative: .greater).pValue > 0.999_999)
    }

    /// Welch's df lies between min(n₁, n₂) − 1 and n₁ + n₂ − 2; with one constant sample it is the other's n − 1.
    @Test func welchDegreesOfFreedomBounds() throws {
        let x = [1.0, 2.0, 4.0, 8.0, 3.0], y = [2.0, 2.5, 2.25, 2.75, 2.1, 2.2, 2.3]
        let df = try welchTTest(x, y).degreesOfFreedom
        #expect(df >= 4 && df <= 10)
        #expect(abs(try welchTTest([5, 5, 5], y).degreesOfFreedom - 6) <= 1e-12)
    }

    /// t and df do not depend on the data's scale, even where s⁴ would underflow or overflow.
    @Test(arguments: [1e-150, 1e-80, 1e80, 1e150]) func scaleInvariance(scale: Double) throws {
        let (x, y) = try #require(StatsReference.samples["closeMeans"])
        let plain = try welchTTest(x, y)
        let scaled = try welchTTest(x.map { $0 * scale }, y.map { $0 * scale })
        #expect(mismatch(scaled.statistic, plain.statistic, 1e-13, "t") == nil)
        #expect(mismatch(scaled.degreesOfFreedom, plain.degreesOfFreedom, 1e-13, "df") == nil)
        #expect(mismatch(scaled.pValue, plain.pValue, 1e-12, "p") == nil)
    }

    /// Both samples constant: the standard error is 0 and no p-value exists, whether the means differ or not.
    @Test func bothConstantThrows() {
        #expect(errorKind { () throws(StatisticsError) in try welchTTest([1, 1, 1], [2, 2]) } == .zeroVariance)
        #expect(errorKind { () throws(StatisticsError) in try welchTTest([3, 3], [3, 3, 3]) } == .zeroVariance)
        #expect(errorKind { () throws(StatisticsError) in try pairedTTest([1, 2, 3], [0, 1, 2]) } == .zeroVariance)
        #expect(errorKind { () throws(StatisticsError) in try pairedTTest([1, 2, 3], [1, 2, 3]) } == .zeroVariance)
    }

    @Test func badInputsThrow() {
        #expect(errorKind { () throws(StatisticsError) in try welchTTest([1], [2, 3]) } == .tooFewSamples)
        #expect(errorKind { () throws(StatisticsError) in try welchTTest([], []) } == .tooFewSamples)
        #expect(errorKind { () throws(StatisticsError) in try welchTTest([1, .nan], [2, 3]) } == .invalidArgument)
        #expect(errorKind { () throws(StatisticsError) in try pairedTTest([1, 2], [1, 2, 3]) } == .invalidArgument)
        #expect(errorKind { () throws(StatisticsError) in try pairedTTest([1], [2]) } == .tooFewSamples)
        #expect(errorKind { () throws(StatisticsError) in try SampleSummary(mean: 1, standardDeviation: -1, count: 5) } == .invalidArgument)
        #expect(errorKind { () throws(StatisticsError) in try SampleSummary(mean: .infinity, standardDeviation: 1, count: 5) } == .invalidArgument)
        #expect(errorKind { () throws(StatisticsError) in try SampleSummary(mean: 1, standardDeviation: 1, count: 1) } == .tooFewSamples)
    }

    @Test func errorMessagesSayExpectedAndFound() {
        do {
            _ = try welchTTest([1, 1], [2, 2])
            Issue.record("expected a throw")
        } catch {
            #expect(error.message.contains("expected") && error.message.contains("found"))
        }
    }
}

@Suite("Holm") struct HolmTests {
    @Test func matchesDefinition() throws {
        for c in StatsReference.holm {
            let adjusted = try holmAdjusted(c.raw)
            #expect(adjusted.count == c.adjusted.count)
            for (i, (a, e)) in zip(adjusted, c.adjusted).enumerated() {
                #expect(mismatch(a, e, 1e-15, "list \(c.raw) index \(i)") == nil)
            }
        }
    }

    /// Monotone in the order of the raw p-values, never below the raw value, at most 1, order kept.
    @Test func properties() throws {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        for _ in 0..<200 {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            let m = Int(state >> 60) + 1
            var p: [Double] = []
            for _ in 0..<m {
                state = state &* 6364136223846793005 &+ 1442695040888963407
                p.append(Double(state >> 11) / Double(1 << 53) * (state & 1 == 0 ? 1 : 0.01))
            }
            let q = try holmAdjusted(p)
            for i in p.indices {
                #expect(q[i] >= p[i] && q[i] <= 1)
                for j in p.indices where p[i] < p[j] { #expect(q[i] <= q[j]) }
            }
        }
    }

    @Test func edgeCasesAndErrors() throws {
        #expect(try holmAdjusted([]) == [])
        #expect(try holmAdjusted([0.04]) == [0.04])
        for bad in [[0.1, -0.01], [1.5], [.nan, 0.2]] {
            #expect(errorKind { () throws(StatisticsError) in try holmAdjusted(bad) } == .invalidArgument, "\(bad)")
        }
    }
}

@Suite("Sample mean and variance") struct SampleStatisticsTests {
    @Test func exactSmallCases() throws {
        let (m, v) = try meanAndVariance([2, 4, 4, 4, 5, 5, 7, 9])
        #expect(m == 5)
        #expect(abs(v - 32.0 / 7) <= 1e-15 * 32 / 7)
        let pair = try meanAndVariance([1, 3])
        #expect(pair.mean == 2 && pair.variance == 2)
    }

    /// A large offset against a small spread (where Σx² − n·m² loses every digit): 1e9 + {4, 7, 13, 16} has
    /// variance exactly 30 and every value is exact in double.
    @Test func largeOffset() throws {
        let (m, v) = try meanAndVariance([1e9 + 4, 1e9 + 7, 1e9 + 13, 1e9 + 16])
        #expect(m == 1e9 + 10)
        #expect(abs(v - 30) <= 1e-12 * 30)
        let constant = try meanAndVariance([1e300, 1e300, 1e300])
        #expect(constant.variance == 0)
    }

    @Test func errors() {
        #expect(errorKind { () throws(StatisticsError) in try meanAndVariance([]) } == .tooFewSamples)
        #expect(errorKind { () throws(StatisticsError) in try meanAndVariance([1]) } == .tooFewSamples)
        #expect(errorKind { () throws(StatisticsError) in try meanAndVariance([1, .infinity]) } == .invalidArgument)
        #expect(errorKind { () throws(StatisticsError) in try meanAndVariance([1.7e308, 1.7e308]) } == .invalidArgument)
    }
}
