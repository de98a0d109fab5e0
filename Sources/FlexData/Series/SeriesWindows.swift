// Sliding windows over rows for a forecaster.

/// Sliding windows for a forecaster: sample i uses rows [t − window + 1, t] as input (oldest first) and row
/// t + horizon as target, t + horizon being `targetRows[i]`.
///
/// `inputs` is `[count, window, featureCount]` row-major (the forecaster's `[N, window, features]` input) and
/// `targets` is `[count, targetCount]`: input sample i, step s, feature f is `inputs[(i · window + s) · featureCount
/// + f]` = `rows[targetRows[i] − horizon − window + 1 + s][f]`; target j of sample i is
/// `targets[i · targetCount + j]` = `rows[targetRows[i]][targetIndices[j]]`.
public struct SeriesWindows: Sendable, Equatable {
    public var window: Int
    public var horizon: Int
    public var featureCount: Int
    public var targetCount: Int
    /// `[count, window, featureCount]` row-major.
    public var inputs: [Float]
    /// `[count, targetCount]` row-major.
    public var targets: [Float]
    /// The row (of the rows the windows were made from) of each sample's target.
    public var targetRows: [Int]

    public init(window: Int, horizon: Int, featureCount: Int, targetCount: Int, inputs: [Float], targets: [Float],
                targetRows: [Int]) {
        self.window = window
        self.horizon = horizon
        self.featureCount = featureCount
        self.targetCount = targetCount
        self.inputs = inputs
        self.targets = targets
        self.targetRows = targetRows
    }

    /// Number of samples.
    public var count: Int { targetRows.count }

    /// `[count, window, featureCount]`.
    public var inputShape: [Int] { [count, window, featureCount] }

    /// `[count, targetCount]`.
    public var targetShape: [Int] { [count, targetCount] }

    /// The windows whose target row lies in `targetRange` (clipped to the rows that have a full window before
    /// them: target rows from `window − 1 + horizon` to `rows.count − 1`). Inputs come from `rows` (already
    /// normalised) and may reach back before `targetRange.lowerBound`: the history before a split is known.
    ///
    /// Preconditions: `window` ≥ 1, `horizon` ≥ 0, every row as long as the first, target indices valid.
    public static func make(rows: [[Double]], window: Int, horizon: Int, targetIndices: [Int],
                            targetRange: Range<Int>) -> SeriesWindows {
        precondition(window >= 1, "SeriesWindows.make: window must be at least 1, found \(window)")
        precondition(horizon >= 0, "SeriesWindows.make: horizon must be at least 0, found \(horizon)")
        let features = rows.first?.count ?? 0
        precondition(rows.allSatisfy { $0.count == features }, "SeriesWindows.make: rows of different lengths")
        precondition(targetIndices.allSatisfy { (0..<features).contains($0) },
                     "SeriesWindows.make: target indices \(targetIndices) outside 0..<\(features)")
        let first = max(targetRange.lowerBound, window - 1 + horizon)
        let end = min(targetRange.upperBound, rows.count)
        let targetRows = first < end ? Array(first..<end) : []
        var inputs: [Float] = []
        inputs.reserveCapacity(targetRows.count * window * features)
        var targets: [Float] = []
        targets.reserveCapacity(targetRows.count * targetIndices.count)
        for r in targetRows {
            let t = r - horizon
            for row in rows[(t - window + 1)...t] {
                for v in row { inputs.append(Float(v)) }
            }
            for j in targetIndices { targets.append(Float(rows[r][j])) }
        }
        return SeriesWindows(window: window, horizon: horizon, featureCount: features, targetCount: targetIndices.count,
                             inputs: inputs, targets: targets, targetRows: targetRows)
    }
}
