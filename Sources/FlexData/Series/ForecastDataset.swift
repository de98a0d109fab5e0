// The forecaster's data pipeline: prices → aligned → transformed → normalised → windows, split in time.

import FlexRuntime

/// The whole data pipeline of the LSTM forecaster (training, and `flexctl forecast`):
///
/// 1. `AlignedSeries.align(series)`: rows on the days every market traded (inner join on dates).
/// 2. `transformed(transform)`: `returns` r_t = p_t / p_{t−1} − 1, `log_returns` ln(p_t / p_{t−1}), or `none`.
///    Call the result's rows x_0 … x_{n−1}.
/// 3. Split by target row, in time order. A sample with target row r has inputs x_{r−h−w+1} … x_{r−h}
///    (w = window, h = horizon), so the usable target rows are r = w − 1 + h … n − 1, U = n − w − h + 1 of them:
///
///        test       = round(U · testFraction)           the last target rows
///        validation = round((U − test) · validationFraction)   the target rows just before the test rows
///        train      = U − test − validation             the first target rows
///
///    (`round` to nearest, halves away from zero.) Inputs may reach back into the previous split: that history
///    is known when the later targets are predicted.
/// 4. Statistics (`FeatureStatistics.fit`) on rows x_0 … x_{lastTrainTargetRow} only: nothing from validation
///    or test targets leaks into the normalisation. Every row is normalised with them; inputs and targets are
///    both normalised (targets with their own feature's statistics).
public struct ForecastDataset: Sendable {
    /// Every series, in input order: the model's input features.
    public var features: [String]
    /// The predicted series (each one of `features`).
    public var targets: [String]
    /// Indices of `targets` in `features`.
    public var targetIndices: [Int]
    public var window: Int
    public var horizon: Int
    public var transform: SeriesTransform
    /// Fitted on the transformed rows up to the last training target row.
    public var statistics: FeatureStatistics
    public var train: SeriesWindows
    public var validation: SeriesWindows
    public var test: SeriesWindows
    /// Dates of the transformed rows (nil for undated series); `dates[train.targetRows[i]]` is the day sample i
    /// of the training split predicts.
    public var dates: [Day]?
    /// The transformed rows, normalised with `statistics` (`rows[r][f]`); windows index into these.
    public var rows: [[Double]]
    /// The aligned prices (before the transform), for reporting and for turning predicted returns into prices.
    public var aligned: AlignedSeries

    /// The fewest samples each split with a non-zero fraction (and training always) must get.
    public static let minimumSamplesPerSplit = 2

    /// Builds the dataset; see the type's documentation for every step and formula.
    ///
    /// - Throws: `DataError` for window < 1, horizon < 1, a fraction outside [0, 1), an
    ///   unknown or repeated target (listing the available names), any alignment or transform error, or too few
    ///   rows for the window, the horizon and `minimumSamplesPerSplit` samples per split (saying how many rows
    ///   are needed and how many were found).
    public static func build(series: [PriceSeries], targets: [String], window: Int, horizon: Int,
                             transform: SeriesTransform = .returns, testFraction: Double = 0.2,
                             validationFraction: Double = 0.2) throws(DataError) -> ForecastDataset {
        let context = fileList(series)
        guard window >= 1 else { throw DataError(file: context, message: "window must be at least 1 row, found \(window)") }
        guard horizon >= 1 else { throw DataError(file: context, message: "horizon must be at least 1 row, found \(horizon)") }
        for (name, f) in [("test fraction", testFraction), ("validation fraction", validationFraction)] {
            guard f >= 0, f < 1 else {
                throw DataError(file: context, message: "\(name) must be in [0, 1), found \(f)")
            }
        }
        guard !targets.isEmpty else {
            throw DataError(file: context, message: "no target; choose at least one of \(quotedList(series.map(\.name)))")
        }

        let aligned = try AlignedSeries.align(series)
        var targetIndices: [Int] = []
        for t in targets {
            guard let i = aligned.index(of: t) else {
                throw DataError(file: context, message: "unknown target \(MessageText.quoted(t)); the series are \(quotedList(aligned.names))")
            }
            guard !targetIndices.contains(i) else {
                throw DataError(file: context, message: "target \(MessageText.quoted(aligned.names[i])) is given twice")
            }
            targetIndices.append(i)
        }

        // Enough rows?
        let shift = transform.droppedRows
        let n = aligned.count - shift
        let usable = n - window - horizon + 1
        let splits = split(usable: usable, testFraction: testFraction, validationFraction: validationFraction)
        if usable < 1 || !enough(splits, testFraction: testFraction, validationFraction: validationFraction) {
            var needed = 1
            while !enough(split(usable: needed, testFraction: testFraction, validationFraction: validationFraction),
                          testFraction: testFraction, validationFraction: validationFraction) {
                needed += 1
            }
            let neededRows = needed + window + horizon - 1 + shift
            let what = aligned.dates == nil ? "rows" : "common dates"
            throw DataError(file: context, message: "too few rows: window \(window) + horizon \(horizon) with at least \(minimumSamplesPerSplit) samples for training\(validationFraction > 0 ? ", validation (\(validationFraction))" : "")\(testFraction > 0 ? " and test (\(testFraction))" : "") need at least \(neededRows) aligned rows (\(needed) usable target rows); the series have \(aligned.count) \(what)\(shift == 1 ? " (\(n) after the \(transform) transform)" : "")")
        }

        let transformed = try aligned.transformed(transform)
        let firstTarget = window - 1 + horizon
        let trainEnd = firstTarget + splits.train
        let validationEnd = trainEnd + splits.validation
        let statistics = FeatureStatistics.fit(transformed.values[0..<trainEnd])
        let rows = transformed.values.map { statistics.normalize($0) }
        func windows(_ range: Range<Int>) -> SeriesWindows {
            SeriesWindows.make(rows: rows, window: window, horizon: horizon, targetIndices: targetIndices, targetRange: range)
        }
        return ForecastDataset(
            features: aligned.names, targets: targetIndices.map { aligned.names[$0] }, targetIndices: targetIndices,
            window: window, horizon: horizon, transform: transform, statistics: statistics,
            train: windows(firstTarget..<trainEnd), validation: windows(trainEnd..<validationEnd),
            test: windows(validationEnd..<n), dates: transformed.dates, rows: rows, aligned: aligned)
    }

    /// The sizes of the three splits of `usable` target rows (see the type's documentation).
    public static func split(usable: Int, testFraction: Double, validationFraction: Double)
        -> (train: Int, validation: Int, test: Int) {
        guard usable > 0 else { return (0, 0, 0) }
        let test = Int((Double(usable) * testFraction).rounded())
        let validation = Int((Double(usable - test) * validationFraction).rounded())
        return (usable - test - validation, validation, test)
    }

    /// The input specification a checkpoint of a model trained on this dataset stores.
    public var inputSpec: SeriesInputSpec {
        SeriesInputSpec(features: features, targets: targets, window: window, horizon: horizon, transform: transform,
                        normalization: statistics.normalization)
    }

    /// Target rows of the training, validation and test samples.
    public var trainRange: Range<Int> { range(train) }
    public var validationRange: Range<Int> { range(validation) }
    public var testRange: Range<Int> { range(test) }

    private func range(_ w: SeriesWindows) -> Range<Int> {
        guard let first = w.targetRows.first, let last = w.targetRows.last else { return 0..<0 }
        return first..<(last + 1)
    }

    private static func enough(_ s: (train: Int, validation: Int, test: Int), testFraction: Double,
                               validationFraction: Double) -> Bool {
        let k = minimumSamplesPerSplit
        return s.train >= k && (validationFraction == 0 || s.validation >= k) && (testFraction == 0 || s.test >= k)
    }

    private static func fileList(_ series: [PriceSeries]) -> String {
        var unique: [String] = []
        for s in series where !unique.contains(s.file) { unique.append(s.file) }
        return unique.isEmpty ? "(no files)" : unique.joined(separator: ", ")
    }

    private static func quotedList(_ names: [String]) -> String {
        MessageText.list(names)
    }
}
