// New data for a trained forecaster: the trainer's pipeline with the checkpoint's statistics (flexctl forecast).

import FlexRuntime

/// Price series prepared for a trained forecaster exactly as `ForecastDataset.build` prepared its training data,
/// except that the normalisation statistics come from the checkpoint (fitted on the training split) instead of
/// being fitted again:
///
/// 1. `AlignedSeries.align`: rows on the days every series has a value (inner join on dates).
/// 2. `transformed(spec.transform)`: returns r_t = p_t / p_{t−1} − 1 (or log returns, or none); rows x_0 … x_{n−1}.
/// 3. z_t = (x_t − mean) / std with the checkpoint's mean and std (`FeatureStatistics.normalize`, the trainer's
///    own function), then `Float` when windows are cut (`SeriesWindows.make`, the trainer's own function).
///
/// So a window ending on the same day holds bit for bit the values the trainer fed the model. See
/// docs/forecasting.md.
public struct ForecastInput: Sendable {
    /// The checkpoint's input specification.
    public var spec: SeriesInputSpec
    /// The aligned prices, one feature per model feature, in the model's order.
    public var aligned: AlignedSeries
    /// The transformed rows x_t (e.g. returns), `values[row][feature]`; `dates[row]` is the later day of each pair.
    public var transformed: AlignedSeries
    /// The transformed rows normalised with the checkpoint's statistics.
    public var rows: [[Double]]
    /// For each target, its feature index.
    public var targetIndices: [Int]

    /// Rows the transform drops at the start (1 for the returns transforms, 0 for `none`).
    public static func transformShift(_ transform: SeriesTransform) -> Int { transform.droppedRows }

    /// Prepares `series` — one per model feature, named and ordered as `spec.features` — for the model.
    /// `samples` asks for that many windows with a target inside the data (for a backtest; 0 for a forecast,
    /// which needs only the last `window` transformed rows).
    ///
    /// - Throws: `DataError` when the names do not match the features, for every alignment or transform error,
    ///   and when there are too few rows: naming the file of a series that alone is too short, or else every file
    ///   with its row count and the number of common dates, always with the number of rows needed.
    public static func prepare(series: [PriceSeries], spec: SeriesInputSpec, samples: Int = 0) throws(DataError)
        -> ForecastInput {
        let files = fileList(series)
        guard series.map(\.name) == spec.features else {
            throw DataError(file: files, message: "the series [\(MessageText.list(series.map(\.name), quote: false))] are not "
                + "the model's features [\(MessageText.list(spec.features, quote: false))] in order")
        }
        let shift = transformShift(spec.transform)
        let neededRows = spec.window + shift + (samples > 0 ? spec.horizon - 1 + samples : 0)
        let what = samples > 0
            ? "\(samples) backtest window\(samples == 1 ? "" : "s") of \(spec.window) \(rowNoun(spec.transform)) (horizon \(spec.horizon))"
            : "the model's window of \(spec.window) \(rowNoun(spec.transform))"
        for s in series where s.count < neededRows {
            throw DataError(file: s.file, message: "too few rows: series \(MessageText.quoted(s.name)) has \(s.count) row\(s.count == 1 ? "" : "s"); \(what) need\(samples > 0 ? "" : "s") at least \(neededRows) rows of every series")
        }
        let aligned = try AlignedSeries.align(series)
        guard aligned.count >= neededRows else {
            let counts = MessageText.joined(series.prefix(10).map { "\(MessageText.quoted($0.name)) \($0.count)" },
                                            count: series.count)
            var range = ""
            if let d = aligned.dates, let first = d.first, let last = d.last { range = ", \(first) to \(last)" }
            throw DataError(file: files, message: "too few common dates: \(what) need\(samples > 0 ? "" : "s") at least \(neededRows) dates on which all \(series.count) series have a value; the series have \(counts) rows but only \(aligned.count) common date\(aligned.count == 1 ? "" : "s")\(range)")
        }
        let transformed = try aligned.transformed(spec.transform)
        let statistics = FeatureStatistics(mean: spec.normalization.mean, std: spec.normalization.std)
        guard statistics.count == spec.features.count else {
            throw DataError(file: files, message: "the model's normalisation has \(statistics.count) features, its input \(spec.features.count)")
        }
        var targetIndices: [Int] = []
        for t in spec.targets {
            guard let j = spec.features.firstIndex(of: t) else {
                throw DataError(file: files, message: "the model's target \(MessageText.quoted(t)) is not one of its features")
            }
            targetIndices.append(j)
        }
        return ForecastInput(spec: spec, aligned: aligned, transformed: transformed,
                             rows: transformed.values.map { statistics.normalize($0) }, targetIndices: targetIndices)
    }

    /// Number of transformed rows.
    public var count: Int { rows.count }

    /// Dates of the transformed rows (nil for undated series).
    public var dates: [Day]? { transformed.dates }

    /// The last `window` normalised rows as one model input `[1, window, features]` (Float, as the trainer).
    public var lastWindow: SeriesWindows {
        SeriesWindows.make(rows: rows, window: spec.window, horizon: 0, targetIndices: [],
                           targetRange: (rows.count - 1)..<rows.count)
    }

    /// Every window whose target row lies in the data and at or after `firstTargetRow`: sample i has inputs
    /// rows t − window + 1 … t and target row t + horizon (normalised targets; `targetRows` gives the rows).
    public func backtestWindows(firstTargetRow: Int = 0) -> SeriesWindows {
        SeriesWindows.make(rows: rows, window: spec.window, horizon: spec.horizon, targetIndices: targetIndices,
                           targetRange: firstTargetRow..<rows.count)
    }

    /// The first transformed row that a backtest window can predict.
    public var firstPredictableRow: Int { spec.window - 1 + spec.horizon }

    private static func rowNoun(_ transform: SeriesTransform) -> String {
        transform == .none ? "rows" : transform.pluralNoun
    }

    private static func fileList(_ series: [PriceSeries]) -> String {
        var unique: [String] = [], seen: Set<String> = []
        for s in series where seen.insert(s.file).inserted { unique.append(s.file) }
        return unique.isEmpty ? "(no files)" : unique.joined(separator: ", ")
    }
}
