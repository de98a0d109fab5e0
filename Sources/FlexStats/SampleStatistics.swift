/// Mean and unbiased variance of a sample, and the summary (mean, standard deviation, count) the t-tests use.
public struct SampleSummary: Sendable, Equatable {
    public let mean: Double
    /// The sample standard deviation (denominator n − 1).
    public let standardDeviation: Double
    public let count: Int

    /// A summary from reported statistics (e.g. a paper's table: mean and standard deviation over n runs).
    /// - Throws: `.tooFewSamples` if count < 2; `.invalidArgument` if mean or standard deviation is not finite
    ///   or the standard deviation is negative.
    public init(mean: Double, standardDeviation: Double, count: Int) throws(StatisticsError) {
        guard count >= 2 else {
            throw StatisticsError(.tooFewSamples, "sample summary: expected at least 2 observations, found \(count)")
        }
        guard mean.isFinite, standardDeviation.isFinite, standardDeviation >= 0 else {
            throw StatisticsError(
                .invalidArgument,
                "sample summary: expected a finite mean and a finite standard deviation ≥ 0, found mean \(mean), standard deviation \(standardDeviation)")
        }
        self.mean = mean
        self.standardDeviation = standardDeviation
        self.count = count
    }

    /// The summary of a sample (two-pass mean and variance, `meanAndVariance`).
    public init(_ sample: [Double]) throws(StatisticsError) {
        let (mean, variance) = try meanAndVariance(sample)
        try self.init(mean: mean, standardDeviation: variance.squareRoot(), count: sample.count)
    }

    public var variance: Double { standardDeviation * standardDeviation }
}

/// The sample mean and the unbiased sample variance (denominator n − 1), by the corrected two-pass algorithm
/// (Chan, Golub & LeVeque 1983): mean first, then Σ(x − m)² − (Σ(x − m))²/n, where the second term removes
/// the first pass's rounding error. More accurate than a one-pass sum of squares, which cancels
/// catastrophically when the mean is large against the spread (e.g. test MSEs 1.01e-2 ± 2.4e-4).
/// - Throws: `.tooFewSamples` for fewer than 2 values; `.invalidArgument` for a NaN or infinity.
public func meanAndVariance(_ sample: [Double]) throws(StatisticsError) -> (mean: Double, variance: Double) {
    guard sample.count >= 2 else {
        throw StatisticsError(.tooFewSamples, "variance: expected at least 2 observations, found \(sample.count)")
    }
    var sum = 0.0
    for (i, value) in sample.enumerated() {
        guard value.isFinite else {
            throw StatisticsError(.invalidArgument, "variance: expected finite values, found \(value) at index \(i)")
        }
        sum += value
    }
    let n = Double(sample.count)
    let mean = sum / n
    guard mean.isFinite else {
        throw StatisticsError(.invalidArgument, "variance: expected values whose sum is finite, found an overflow")
    }
    var squares = 0.0, deviations = 0.0
    for value in sample {
        let d = value - mean
        squares += d * d
        deviations += d
    }
    let variance = max(0, (squares - deviations * deviations / n) / (n - 1))
    return (mean + deviations / n, variance)
}
