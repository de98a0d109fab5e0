/// Which alternative a t-test's p-value is for, in SciPy's convention (`alternative=` of `ttest_ind`,
/// `ttest_rel`): `.less` is H1: mean(x) < mean(y) (H0: mean(x) ≥ mean(y)), `.greater` the reverse.
public enum Alternative: Sendable, Equatable {
    case twoSided, less, greater
}

public struct TTestResult: Sendable, Equatable {
    /// t = (mean difference) / (its standard error).
    public let statistic: Double
    /// Welch–Satterthwaite df for Welch's test (real), n − 1 for the paired test.
    public let degreesOfFreedom: Double
    public let pValue: Double
    public let alternative: Alternative
}

/// The p-value of a t statistic under `alternative`, each tail computed directly (StudentT.survival).
func pValue(statistic t: Double, degreesOfFreedom df: Double, alternative: Alternative) throws(StatisticsError) -> Double {
    let distribution = try StudentT(degreesOfFreedom: df)
    switch alternative {
    case .less: return try distribution.cdf(t)
    case .greater: return try distribution.survival(t)
    case .twoSided: return min(1, 2 * (try distribution.survival(abs(t))))
    }
}

/// Welch's two-sample t-test (Welch 1947), which does not assume equal variances:
/// t = (m₁ − m₂)/√(s₁²/n₁ + s₂²/n₂), df = (s₁²/n₁ + s₂²/n₂)² / [(s₁²/n₁)²/(n₁−1) + (s₂²/n₂)²/(n₂−1)].
/// Matches SciPy's `ttest_ind(x, y, equal_var=False, alternative=...)`.
/// - Throws: `.tooFewSamples` if a sample has fewer than 2 values; `.invalidArgument` for non-finite values;
///   `.zeroVariance` if both samples are constant — then the standard error is 0, t is 0/0 (equal means) or
///   ±∞ (different means) and the Welch df is 0/0, so there is no p-value (SciPy returns NaN there). One
///   constant sample is fine: the df is then the other sample's n − 1.
public func welchTTest(_ x: [Double], _ y: [Double], alternative: Alternative = .twoSided) throws(StatisticsError) -> TTestResult {
    try welchTTest(SampleSummary(x), SampleSummary(y), alternative: alternative)
}

/// Welch's test from summary statistics (mean, sample standard deviation, n), as in SciPy's
/// `ttest_ind_from_stats(..., equal_var=False)`: checks a paper's table without its raw runs.
public func welchTTest(_ x: SampleSummary, _ y: SampleSummary, alternative: Alternative = .twoSided) throws(StatisticsError) -> TTestResult {
    let vx = x.variance / Double(x.count), vy = y.variance / Double(y.count)
    let se2 = vx + vy
    guard se2 > 0 else {
        throw StatisticsError(
            .zeroVariance,
            "Welch's t-test: expected at least one sample with variance > 0, found both constant (means \(x.mean) and \(y.mean)); t and the df are undefined")
    }
    let t = (x.mean - y.mean) / se2.squareRoot()
    // Welch–Satterthwaite in terms of the shares wx + wy = 1, so that it is scale-free: squaring s²/n directly
    // underflows (or overflows) for data on a scale of 1e-80 (1e80), turning the df into 0/0.
    let wx = vx / se2, wy = vy / se2
    let df = 1 / (wx * wx / Double(x.count - 1) + wy * wy / Double(y.count - 1))
    return TTestResult(statistic: t, degreesOfFreedom: df, pValue: try pValue(statistic: t, degreesOfFreedom: df, alternative: alternative),
                       alternative: alternative)
}

/// The paired t-test on d = x − y: t = mean(d)/(sd(d)/√n), df = n − 1. Matches SciPy's
/// `ttest_rel(x, y, alternative=...)`. For arms run on the same seeds (same split, same shuffles).
/// - Throws: `.invalidArgument` if the lengths differ or a value is not finite; `.tooFewSamples` for fewer
///   than 2 pairs; `.zeroVariance` if all differences are equal (t is 0/0 or ±∞).
public func pairedTTest(_ x: [Double], _ y: [Double], alternative: Alternative = .twoSided) throws(StatisticsError) -> TTestResult {
    guard x.count == y.count else {
        throw StatisticsError(.invalidArgument, "paired t-test: expected samples of equal length, found \(x.count) and \(y.count)")
    }
    let differences = zip(x, y).map { $0 - $1 }
    let (mean, variance) = try meanAndVariance(differences)
    guard variance > 0 else {
        throw StatisticsError(
            .zeroVariance,
            "paired t-test: expected differences with variance > 0, found all \(differences.count) differences equal to \(differences[0])")
    }
    let n = Double(differences.count)
    let t = mean / (variance / n).squareRoot()
    let df = n - 1
    return TTestResult(statistic: t, degreesOfFreedom: df, pValue: try pValue(statistic: t, degreesOfFreedom: df, alternative: alternative),
                       alternative: alternative)
}

/// Holm's step-down adjustment (Holm 1979) for m comparisons: sort the p-values ascending,
/// p̃₍ᵢ₎ = min(1, max_{j ≤ i} (m − j + 1) p₍ⱼ₎) (1-based), returned in the input's order. Monotone in the sorted
/// order, never below the raw value, capped at 1; rejecting where p̃ ≤ α controls the family-wise error at α.
/// Ties keep their input order (a stable sort), which does not change the values. Matches
/// statsmodels' `multipletests(method='holm')`.
/// - Throws: `.invalidArgument` for a p-value that is NaN or outside [0, 1]. An empty list gives an empty list.
public func holmAdjusted(_ pValues: [Double]) throws(StatisticsError) -> [Double] {
    for (i, p) in pValues.enumerated() where !(p >= 0 && p <= 1) {
        throw StatisticsError(.invalidArgument, "Holm adjustment: expected p-values in [0, 1], found \(p) at index \(i)")
    }
    let m = pValues.count
    // Stable: ties ordered by index.
    let order = pValues.indices.sorted { (pValues[$0], $0) < (pValues[$1], $1) }
    var adjusted = [Double](repeating: 0, count: m)
    var running = 0.0
    for (rank, index) in order.enumerated() {
        running = max(running, min(1, Double(m - rank) * pValues[index]))
        adjusted[index] = running
    }
    return adjusted
}
