import FlexData
import FlexRuntime

extension ForecastEngine {
    /// What the values given to `forecast(session:columns:kind:steps:)` are.
    public enum SeriesKind: Sendable, Equatable {
        /// Prices (levels): the model's transform is applied as the trainer applied it.
        case prices
        /// Values already in the model's transform space (e.g. returns); no price levels can be derived.
        case transformed
    }

    /// The largest number of forecast steps (each step feeds the previous prediction back).
    public static let maximumSteps = 1000

    /// Forecasts `steps` steps after the last row of in-memory series: `columns[j]` holds feature j's values in
    /// the model's feature order, oldest first, all of the same length (undated rows).
    ///
    /// Prices go through the same pipeline as files (`ForecastInput.prepare`: transform, the checkpoint's
    /// normalisation), so the result equals `flexctl forecast` on a numeric CSV of these columns. Transformed
    /// values skip the transform: the last `window` rows are normalised with the session's statistics; their
    /// forecast has no price levels (nil) and no last prices (NaN).
    ///
    /// - Throws: `ForecastError(.request)` for bad shapes or steps, non-finite values or inputs; `DataError` from
    ///   the price pipeline (too few rows, non-positive prices for returns); `InferenceError` from the session.
    public static func forecast(session: ForecastSession, columns: [[Double]], kind: SeriesKind, steps: Int) throws
        -> Forecast {
        let features = session.features
        guard columns.count == features.count else {
            throw ForecastError(.request, "the model reads \(features.count) series (\(quoted(features))); "
                + "found \(columns.count)")
        }
        guard (1...maximumSteps).contains(steps) else {
            throw ForecastError(.request, "steps must be in 1...\(maximumSteps), found \(steps)")
        }
        let rows = columns.first?.count ?? 0
        if let j = columns.firstIndex(where: { $0.count != rows }) {
            throw ForecastError(.request, "series \(MessageText.quoted(features[j])) has \(columns[j].count) values; "
                + "the first series has \(rows): every series needs one value per row")
        }
        for (j, c) in columns.enumerated() {
            if let i = c.firstIndex(where: { !$0.isFinite }) {
                throw ForecastError(.request, "series \(MessageText.quoted(features[j])), row \(i): expected a finite "
                    + "number, found \(c[i])")
            }
        }
        // A model without a transform reads the values themselves: prices and transformed values are the same.
        if kind == .prices || session.input.transform == .none {
            let series = features.indices.map { j in
                PriceSeries(name: features[j], file: "column \(j + 1) of the values", dates: nil, values: columns[j])
            }
            let input = try ForecastInput.prepare(series: series, spec: session.input)
            return try forecast(session: session, input: input, steps: steps)
        }
        if steps > 1, let problem = session.feedbackProblem {
            throw ForecastError(.request, "\(steps) steps: \(problem.message)")
        }
        let w = session.window
        guard rows >= w else {
            throw ForecastError(.request, "too few rows: the model's window needs the last \(w) values of every "
                + "series, found \(rows)")
        }
        let window = (rows - w..<rows).map { r in columns.map { $0[r] } }
        let normalized = try session.normalize(features: window)
        try checkFinite(normalized.flatMap { $0.map(Float.init) }, what: "the last \(w) rows")
        let values = try session.denormalize(predictions: try session.forecast(window: normalized, steps: steps))
        let nt = session.targets.count
        return Forecast(targets: session.targets, lastDate: nil,
                        lastPrices: Array(repeating: .nan, count: nt),
                        lastValues: session.targetFeatureIndices.map { columns[$0][rows - 1] },
                        dates: Array(repeating: nil, count: steps), values: values,
                        levels: Array(repeating: Array(repeating: nil, count: nt), count: steps),
                        fedBack: steps > 1, transform: session.input.transform, horizon: session.horizon)
    }
}
