// Per-feature normalisation statistics.

import FlexRuntime

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Per-feature mean and population standard deviation, fitted on rows; inputs are normalised as
/// z = (x − mean) / std.
///
///     mean_f = (1/n) Σ_t x_{t,f}
///     std_f  = sqrt( (1/n) Σ_t (x_{t,f} − mean_f)² )      (population, ddof 0)
///
/// A constant feature (all n values equal) gets std 1, so it normalises to 0 instead of dividing by zero.
/// The sums are compensated (Neumaier), so the statistics are within a few ulps of the exact values whatever
/// the number of rows.
public struct FeatureStatistics: Sendable, Equatable {
    public var mean: [Double]
    public var std: [Double]

    public init(mean: [Double], std: [Double]) {
        precondition(mean.count == std.count, "FeatureStatistics: \(mean.count) means but \(std.count) standard deviations")
        self.mean = mean
        self.std = std
    }

    /// Fits the statistics of `rows` (each row one value per feature; all rows the same length).
    /// No rows give no features.
    public static func fit(_ rows: ArraySlice<[Double]>) -> FeatureStatistics {
        guard let width = rows.first?.count else { return FeatureStatistics(mean: [], std: []) }
        precondition(rows.allSatisfy { $0.count == width }, "FeatureStatistics.fit: rows of different lengths")
        let n = Double(rows.count)
        var mean = [Double](repeating: 0, count: width), std = [Double](repeating: 1, count: width)
        for f in 0..<width {
            var sum = CompensatedSum()
            var lo = Double.infinity, hi = -Double.infinity
            for row in rows {
                sum.add(row[f])
                lo = min(lo, row[f])
                hi = max(hi, row[f])
            }
            let m = sum.value / n
            mean[f] = m
            guard lo != hi else { continue }
            var squares = CompensatedSum()
            for row in rows {
                let d = row[f] - m
                squares.add(d * d)
            }
            let s = (squares.value / n).squareRoot()
            std[f] = s > 0 ? s : 1
        }
        return FeatureStatistics(mean: mean, std: std)
    }

    /// Number of features.
    public var count: Int { mean.count }

    /// z_f = (x_f − mean_f) / std_f.
    public func normalize(_ row: [Double]) -> [Double] {
        precondition(row.count == mean.count, "normalize: the row has \(row.count) values, the statistics \(mean.count) features")
        return row.indices.map { (row[$0] - mean[$0]) / std[$0] }
    }

    /// x_f = z_f · std_f + mean_f (the inverse of `normalize`).
    public func denormalize(_ row: [Double]) -> [Double] {
        precondition(row.count == mean.count, "denormalize: the row has \(row.count) values, the statistics \(mean.count) features")
        return row.indices.map { row[$0] * std[$0] + mean[$0] }
    }

    /// The statistics as a checkpoint stores them.
    public var normalization: Normalization { Normalization(mean: mean, std: std) }
}

/// Neumaier's compensated summation: the rounding error of each addition is kept and added back at the end.
struct CompensatedSum {
    private var sum = 0.0
    private var compensation = 0.0

    mutating func add(_ x: Double) {
        let t = sum + x
        if abs(sum) >= abs(x) {
            compensation += (sum - t) + x
        } else {
            compensation += (x - t) + sum
        }
        sum = t
    }

    var value: Double { sum + compensation }
}
