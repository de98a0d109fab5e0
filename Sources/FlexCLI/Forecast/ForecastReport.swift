import FlexData
import FlexForecast
import FlexPlot
import FlexRuntime

/// Renders `flexctl forecast` results as a table, CSV or JSON (see docs/forecasting.md, "Output").
public enum ForecastReport {
    /// What the header of the output says about the run.
    public struct Context: Sendable {
        public var model: ForecastEngine.Model
        public var input: ForecastInput
        /// The series as read (in feature order).
        public var series: [PriceSeries]

        public init(model: ForecastEngine.Model, input: ForecastInput, series: [PriceSeries]) {
            self.model = model
            self.input = input
            self.series = series
        }

        var files: [String] { series.map(\.file) }

        var spec: SeriesInputSpec { input.spec }

        var modelLine: String {
            let s = spec
            let targets = s.targets == s.features ? "predicts its \(s.features.count) input series"
                : "predicts \(s.targets.count) of its \(s.features.count) input series"
            return "\(model.path) (forecaster: \(targets); window \(s.window), horizon \(s.horizon), \(s.transform))"
        }

        /// `271 common dates of the 4 series, 2018-10-24 to 2019-12-30` (or rows when undated).
        var dataLine: String {
            let a = input.aligned
            if let d = a.dates, let first = d.first, let last = d.last {
                return "\(groupedInteger(a.count)) common dates of the \(a.names.count) series, \(first) to \(last)"
            }
            return "\(groupedInteger(a.count)) rows of the \(a.names.count) series (no dates)"
        }

        /// Series with rows after the last common date (those rows cannot be used: another series lacks them).
        var laterRowsLine: String? {
            guard let last = input.aligned.dates?.last else { return nil }
            var parts: [String] = []
            for s in series {
                guard let d = s.dates else { continue }
                let later = d.reversed().prefix { $0 > last }.count
                if later > 0 { parts.append("'\(s.name)' \(later) (to \(d[d.count - 1]))") }
            }
            guard !parts.isEmpty else { return nil }
            return "rows after \(last) are left out because not every series has them: " + parts.joined(separator: ", ")
        }
    }

    // MARK: Forecast

    public static func forecast(_ f: ForecastEngine.Forecast, context c: Context, format: OutputFormat) -> String {
        switch format {
        case .csv: forecastCSV(f)
        case .json: forecastJSON(f, context: c)
        case .table: forecastTable(f, context: c)
        }
    }

    /// What `change_percent` measures (CSV and JSON): the return, the log return, or (transform `none`) the
    /// relative change of the value, in percent — the table's `return %` column.
    static func changeName(_ transform: SeriesTransform) -> String {
        switch transform {
        case .logReturns: "log_return"
        case .none: "change"
        case .returns: "return"
        }
    }

    /// Step `s`'s change of target `j` as a fraction (for transform `none`, relative to the previous value).
    static func change(_ f: ForecastEngine.Forecast, step s: Int, target j: Int) -> Double {
        guard f.transform == .none else { return f.values[s][j] }
        let previous = s == 0 ? f.lastPrices[j] : f.values[s - 1][j]
        return f.values[s][j] / previous - 1
    }

    static func valueLabel(_ transform: SeriesTransform) -> String {
        switch transform {
        case .logReturns: "log return %"
        case .none: "change %"
        case .returns: "return %"
        }
    }

    static func dateText(_ d: Day?, step: Int) -> String { d?.description ?? "t+\(step)" }

    static func forecastTable(_ f: ForecastEngine.Forecast, context c: Context) -> String {
        var out: [String] = []
        out.append("model     \(c.modelLine)")
        out.append("data      \(c.dataLine)")
        if let later = c.laterRowsLine { out.append("          " + later) }
        let steps = f.values.count
        let stepWord = steps == 1 ? "1 step" : "\(steps) steps"
        if let last = f.lastDate {
            let days = f.horizon == 1 ? (steps == 1 ? "the next trading day" : "the next \(steps) trading days")
                : "\(stepWord) of \(f.horizon) trading days"
            out.append("forecast  \(days) after \(last); dates are weekdays (no holiday calendar: a holiday gets a forecast too)")
        } else {
            out.append("forecast  \(stepWord) after the last row (the series have no dates)")
        }
        if f.fedBack {
            out.append("          " + (steps == 2 ? "step 2 feeds" : "steps 2–\(steps) feed") + " the model's own predictions back as inputs: forecasts built on forecasts, less reliable with every step")
        }
        if f.horizon > 1, f.transform != .none {
            out.append("          the model predicts the \(f.transform == .returns ? "return" : "log return") of the day \(f.horizon) trading days ahead alone; price levels need the days in between and are not shown")
        }
        out.append("")
        var rows = [["step", "date", "series", valueLabel(f.transform), f.transform == .none ? "value" : "price"]]
        for (j, name) in f.targets.enumerated() {
            rows.append(["last", f.lastDate?.description ?? "t", name, percent(f.lastValues[j]), price(f.lastPrices[j])])
        }
        for s in 0..<steps {
            rows.append([])
            for (j, name) in f.targets.enumerated() {
                rows.append([String(s + 1), dateText(f.dates[s], step: s + 1), name, percent(change(f, step: s, target: j)),
                             f.levels[s][j].map(price) ?? "—"])
            }
        }
        out += TextTable.render(rows, right: [0, 3, 4])
        return out.joined(separator: "\n") + "\n"
    }

    static func forecastCSV(_ f: ForecastEngine.Forecast) -> String {
        var lines = ["step,date,series,change_percent,price"]
        for s in 0..<f.values.count {
            for (j, name) in f.targets.enumerated() {
                lines.append("\(s + 1),\(dateText(f.dates[s], step: s + 1)),\(csvField(name)),"
                    + "\(NumberText.exact(change(f, step: s, target: j) * 100)),\(f.levels[s][j].map(NumberText.exact) ?? "")")
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// `forecast`'s JSON document (kind `forecast`).
    struct ForecastJSON: Encodable {
        var model: String
        var fingerprint: String
        var features: [String]
        var targets: [String]
        var files: [String]
        var window: Int
        var horizon: Int
        var transform: String
        /// What `change_percent` is: `return`, `log_return` or `change`.
        var change: String
        var commonRows: Int
        var lastDate: Nullable<String>
        var steps: Int
        var fedBack: Bool
        var dateRule: String
        var last: [Value]
        var forecasts: [Value]

        struct Value: Encodable {
            var step: Int?
            var date: Nullable<String>
            var series: String
            var changePercent: JSONNumber
            /// The price level (the value itself for transform `none`); null when the horizon skips days.
            var price: Nullable<JSONNumber>
        }
    }

    static func forecastJSON(_ f: ForecastEngine.Forecast, context c: Context) -> String {
        let s = c.spec
        let last = f.targets.indices.map { j in
            ForecastJSON.Value(step: nil, date: Nullable(f.lastDate?.description), series: f.targets[j],
                               changePercent: JSONNumber(f.lastValues[j] * 100), price: Nullable(JSONNumber(f.lastPrices[j])))
        }
        var rows: [ForecastJSON.Value] = []
        for st in 0..<f.values.count {
            for (j, name) in f.targets.enumerated() {
                rows.append(.init(step: st + 1, date: Nullable(f.dates[st]?.description), series: name,
                                  changePercent: JSONNumber(change(f, step: st, target: j) * 100),
                                  price: Nullable(JSONNumber.optional(f.levels[st][j]))))
            }
        }
        return JSONOutput.document(kind: "forecast", ForecastJSON(
            model: c.model.path, fingerprint: c.model.session.fingerprint, features: s.features, targets: s.targets,
            files: c.files, window: s.window, horizon: s.horizon, transform: s.transform.rawValue, change: changeName(s.transform),
            commonRows: c.input.aligned.count, lastDate: Nullable(f.lastDate?.description), steps: f.values.count,
            fedBack: f.fedBack, dateRule: "weekdays after the last common date; no holiday calendar", last: last,
            forecasts: rows))
    }

    // MARK: Backtest

    /// Significance level of the verdict.
    public static let significance = 0.05

    public static func evaluation(_ e: ForecastEngine.Evaluation, context c: Context, format: OutputFormat) -> String {
        switch format {
        case .csv: evaluationCSV(e)
        case .json: evaluationJSON(e, context: c)
        case .table: evaluationTable(e, context: c)
        }
    }

    /// A forecaster's name in CSV and JSON: `model`, `zero_return`, `last_return`, `training_mean`.
    static func machineName(_ f: Backtest.Forecaster) -> String {
        String(f.rawValue.map { $0 == " " ? "_" : $0 })
    }

    /// The verdict in plain words: does the model beat the zero forecast (pooled MSE, DM test at 5%)?
    public static func verdict(_ b: Backtest) -> String {
        let m = b.pooled(.model).mse, z = b.pooled(.zero).mse
        let change = percentChange(m, z)
        let series = b.targets.count == 1 ? "" : " (all \(b.targets.count) series pooled)"
        guard let dm = b.pooledDieboldMariano else {
            return m < z
                ? "The model's MSE is \(change) lower than the zero-return forecast's\(series), but the Diebold–Mariano test cannot be computed (constant loss differential)."
                : "The model does not beat the zero-return forecast on this history\(series): its MSE is \(change) higher."
        }
        let p = pText(dm.pValue)
        if m < z, dm.pValue < significance {
            return "The model beats the zero-return forecast on this history\(series): MSE \(change) lower, DM* = \(fixed(dm.correctedStatistic, 2)), p = \(p)."
        }
        if m < z {
            return "The model does not beat the zero-return forecast significantly on this history\(series): MSE \(change) lower, but DM p = \(p) (≥ \(significance))."
        }
        let worse = dm.pValue < significance ? "; the zero-return forecast is significantly better" : ""
        return "The model does not beat the zero-return forecast on this history\(series): its MSE is \(change) higher (DM p = \(p))\(worse)."
    }

    /// How the model's pooled MSE compares with every naive forecast, in words.
    static func naiveComparison(_ b: Backtest) -> String {
        let m = b.pooled(.model).mse
        let naive: [Backtest.Forecaster] = [.zero, .last, .trainingMean]
        let beaten = naive.filter { m < b.pooled($0).mse }.map(\.rawValue)
        let notBeaten = naive.filter { m >= b.pooled($0).mse }.map(\.rawValue)
        if notBeaten.isEmpty { return "Its MSE is lower than every naive forecast's (\(beaten.joined(separator: ", ")))." }
        if beaten.isEmpty { return "Its MSE is not lower than any naive forecast's (\(notBeaten.joined(separator: ", ")))." }
        return "Its MSE is lower than \(beaten.joined(separator: ", ")) but not lower than \(notBeaten.joined(separator: ", "))."
    }

    public typealias TrainingPeriod = ForecastEngine.TrainingPeriod

    /// The model's data period and splits placed in this history (`ForecastEngine.trainingPeriod`).
    public static func trainingPeriod(_ c: Context) -> TrainingPeriod? {
        ForecastEngine.trainingPeriod(model: c.model, input: c.input)
    }

    /// How many scored days the model was fitted or early-stopped on (`ForecastEngine.inSampleDays`).
    public static func inSampleDays(_ e: ForecastEngine.Evaluation, context c: Context) -> Int? {
        ForecastEngine.inSampleDays(e, model: c.model, input: c.input)
    }

    /// A note on whether the scored days may overlap the model's own training data.
    static func overlapNote(_ e: ForecastEngine.Evaluation, context c: Context) -> String? {
        guard let scored = e.dates, let s0 = scored.first, let s1 = scored.last, let ours = c.input.dates else { return nil }
        guard let period = trainingPeriod(c) else {
            return "note: the checkpoint does not say which days the model was trained on; if these days include them, the scores flatter the model"
        }
        if s1 < period.first || period.last < s0 {
            return "note: these days lie outside the model's data (\(period.first) to \(period.last), per its checkpoint): an out-of-sample test"
        }
        guard let fittedEnd = period.fittedEndRow, let trainEnd = period.trainEndRow else {
            return "note: these days overlap the model's data (\(period.first) to \(period.last), per its checkpoint), of which the earlier part trained it: only days after its training split are out-of-sample; use --from to score those alone"
        }
        if fittedEnd < 0, let test = c.model.provenance?.testSize {
            return "note: per its checkpoint, the model's test split (the last \(groupedInteger(test)) target days of its data, up to \(period.last)) began before this history, so every day scored here comes after the days it was fitted and early-stopped on: an out-of-sample test"
        }
        func day(_ row: Int) -> String { ours[min(row, ours.count - 1)].description }
        var splits = "per its checkpoint, the model was fitted on target days "
            + (trainEnd >= 0 ? "up to \(day(trainEnd))" : "before this history")
        if fittedEnd != trainEnd {
            splits += ", early-stopped on days " + (fittedEnd >= 0 ? "up to \(day(fittedEnd))" : "before this history")
        }
        if let t = period.testStartRow {
            splits += t >= 0 ? ", and tested on \(day(t)) to \(period.last)"
                : ", and tested on days up to \(period.last) starting before this history"
        }
        if e.targetRows[0] > fittedEnd {
            return "note: \(splits): every day scored here comes after the days it was fitted and early-stopped on, an out-of-sample test"
        }
        let next = period.testStartRow.flatMap { $0 >= 0 && $0 < ours.count ? " score --from \(ours[$0]) for an out-of-sample test" : nil } ?? ""
        return "note: \(splits). Scores on days up to \(day(fittedEnd)) flatter the model;\(next)"
    }

    static func evaluationTable(_ e: ForecastEngine.Evaluation, context c: Context) -> String {
        let b = e.backtest
        var out: [String] = []
        out.append("model     \(c.modelLine)")
        out.append("data      \(c.dataLine)")
        if let later = c.laterRowsLine { out.append("          " + later) }
        var days = "\(groupedInteger(b.count)) one-step-ahead forecasts"
        if let d = e.dates, let first = d.first, let last = d.last { days += ", target days \(first) to \(last)" }
        days += " (each from the \(c.spec.window) \(c.spec.transform == .none ? "rows" : "returns") before it"
            + (c.spec.horizon > 1 ? ", \(c.spec.horizon) days ahead" : "") + ")"
        out.append("backtest  \(days)")
        let unit = c.spec.transform == .none ? "value units ×100" : "percentage points"
        out.append("units     errors of daily \(c.spec.transform.pluralNoun) in \(unit): MSE in %², MAE in %")
        out.append("          direction: share of days with a move whose sign the forecast got right (days without a move are left out; a forecast of 0 is a miss)")
        out.append("")
        func block(title: String, errors: [ForecastErrors], dm: DieboldMarianoTest?) {
            out.append(title)
            var rows = [["forecaster", "MSE (%²)", "MAE (%)", "direction", "MSE vs zero"]]
            let zero = errors[Backtest.Forecaster.allCases.firstIndex(of: .zero)!].mse
            for (k, f) in Backtest.Forecaster.allCases.enumerated() {
                let er = errors[k]
                rows.append([f.rawValue, fixed(er.mse * 1e4, 4), fixed(er.mae * 100, 4),
                             er.directionalAccuracy.map { fixed($0 * 100, 1) + "%" } ?? "—",
                             f == .zero ? "" : percentChange(er.mse, zero, signed: true)])
            }
            out += TextTable.render(rows, right: [1, 2, 3, 4]).map { "  " + $0 }
            if let dm {
                out.append("  Diebold–Mariano, model vs zero return (squared errors): DM* = \(fixed(dm.correctedStatistic, 3)), "
                    + "p = \(pText(dm.pValue)) (HLN-corrected, t with \(groupedInteger(dm.degreesOfFreedom)) df; DM < 0: the model's errors are smaller)")
            } else {
                out.append("  Diebold–Mariano: not computable (the loss differential is constant)")
            }
            out.append("")
        }
        for (j, name) in b.targets.enumerated() {
            block(title: name, errors: b.errors[j], dm: b.dieboldMariano[j])
        }
        if b.targets.count > 1 {
            block(title: "all \(b.targets.count) series pooled (\(groupedInteger(b.pooled(.model).count)) forecasts; DM on the daily mean over the series)",
                  errors: b.pooled, dm: b.pooledDieboldMariano)
        }
        out.append("verdict   " + verdict(b))
        if let inSample = inSampleDays(e, context: c), inSample > 0 {
            out.append("          Caution: the model was fitted or early-stopped on \(groupedInteger(inSample)) of these "
                + "\(groupedInteger(b.count)) days, so this flatters it (see the note below).")
        }
        out.append("          " + naiveComparison(b))
        if b.targets.count > 1 {
            let better = b.targets.indices.filter { j in
                guard let dm = b.dieboldMariano[j] else { return false }
                return dm.meanDifferential < 0 && dm.pValue < significance
            }.map { b.targets[$0] }
            out.append("          Per series, significantly better than zero return (p < \(significance)): "
                + (better.isEmpty ? "none." : better.joined(separator: ", ") + "."))
        }
        if let note = overlapNote(e, context: c) { out.append(note) }
        return out.joined(separator: "\n") + "\n"
    }

    static func evaluationCSV(_ e: ForecastEngine.Evaluation) -> String {
        let b = e.backtest
        var lines = ["series,forecaster,count,mse_percent_squared,mae_percent,direction_hits,direction_days,"
            + "directional_accuracy_percent,mse_vs_zero_percent,dm_statistic,dm_p_value"]
        func add(_ series: String, _ errors: [ForecastErrors], _ dm: DieboldMarianoTest?) {
            for e in errorsJSON(errors) {
                let dmFields = e.forecaster == "model"
                    ? "\(dm.map { NumberText.exact($0.correctedStatistic) } ?? ""),\(dm.map { NumberText.exact($0.pValue) } ?? "")"
                    : ","
                func n(_ v: JSONNumber?) -> String { v.map { NumberText.exact($0.value) } ?? "" }
                lines.append("\(csvField(series)),\(e.forecaster),\(e.count),\(n(e.msePercentSquared)),\(n(e.maePercent)),"
                    + "\(e.directionHits),\(e.directionDays),\(n(e.directionalAccuracyPercent.value)),\(n(e.mseVsZeroPercent.value)),\(dmFields)")
            }
        }
        for (j, name) in b.targets.enumerated() { add(name, b.errors[j], b.dieboldMariano[j]) }
        if b.targets.count > 1 { add("all", b.pooled, b.pooledDieboldMariano) }
        return lines.joined(separator: "\n") + "\n"
    }

    /// `forecast --evaluate`'s JSON document (kind `backtest`). Errors are in the table's units: MSE in %²,
    /// MAE in %, directional accuracy in %.
    struct EvaluationJSON: Encodable {
        var model: String
        var fingerprint: String
        var files: [String]
        var transform: String
        var window: Int
        var horizon: Int
        var count: Int
        var firstDate: Nullable<String>
        var lastDate: Nullable<String>
        var targets: [Target]
        var pooled: Pooled
        var verdict: String
        var inSampleDays: Nullable<Int>
        var note: Nullable<String>

        struct Target: Encodable {
            var series: String
            var errors: [Errors]
            var dieboldMariano: Nullable<DM>
        }

        struct Pooled: Encodable {
            var errors: [Errors]
            var dieboldMariano: Nullable<DM>
        }
    }

    /// One forecaster's errors.
    struct Errors: Encodable {
        var forecaster: String
        var count: Int
        var msePercentSquared: JSONNumber
        var maePercent: JSONNumber
        var directionHits: Int
        var directionDays: Int
        var directionalAccuracyPercent: Nullable<JSONNumber>
        /// The MSE relative to the zero-return forecast's, in percent (−3.1: 3.1% lower); null for zero return.
        var mseVsZeroPercent: Nullable<JSONNumber>
    }

    /// The Diebold–Mariano test of the model against the zero-return forecast (squared errors).
    struct DM: Encodable {
        /// The HLN-corrected statistic (DM*), compared with a t distribution.
        var statistic: JSONNumber
        var uncorrectedStatistic: JSONNumber
        var pValue: JSONNumber
        var degreesOfFreedom: Int
        /// Mean of the model's squared error minus the zero forecast's, in %² (negative: the model's are smaller).
        var meanLossDifferentialPercentSquared: JSONNumber
        var horizon: Int

        init(_ dm: DieboldMarianoTest) {
            statistic = JSONNumber(dm.correctedStatistic)
            uncorrectedStatistic = JSONNumber(dm.statistic)
            pValue = JSONNumber(dm.pValue)
            degreesOfFreedom = dm.degreesOfFreedom
            meanLossDifferentialPercentSquared = JSONNumber(dm.meanDifferential * 1e4)
            horizon = dm.horizon
        }
    }

    static func errorsJSON(_ errors: [ForecastErrors]) -> [Errors] {
        let zero = errors[Backtest.Forecaster.allCases.firstIndex(of: .zero)!].mse
        return Backtest.Forecaster.allCases.enumerated().map { k, f in
            let er = errors[k]
            return Errors(forecaster: machineName(f), count: er.count, msePercentSquared: JSONNumber(er.mse * 1e4),
                          maePercent: JSONNumber(er.mae * 100), directionHits: er.directionHits,
                          directionDays: er.directionDays,
                          directionalAccuracyPercent: Nullable(er.directionalAccuracy.map { JSONNumber($0 * 100) }),
                          mseVsZeroPercent: Nullable(f == .zero || zero == 0 ? nil : JSONNumber((er.mse / zero - 1) * 100)))
        }
    }

    static func evaluationJSON(_ e: ForecastEngine.Evaluation, context c: Context) -> String {
        let b = e.backtest
        return JSONOutput.document(kind: "backtest", EvaluationJSON(
            model: c.model.path, fingerprint: c.model.session.fingerprint, files: c.files, transform: c.spec.transform.rawValue,
            window: c.spec.window, horizon: c.spec.horizon, count: b.count,
            firstDate: Nullable(e.dates?.first?.description), lastDate: Nullable(e.dates?.last?.description),
            targets: b.targets.enumerated().map { j, name in
                .init(series: name, errors: errorsJSON(b.errors[j]), dieboldMariano: Nullable(b.dieboldMariano[j].map(DM.init)))
            },
            pooled: .init(errors: errorsJSON(b.pooled), dieboldMariano: Nullable(b.pooledDieboldMariano.map(DM.init))),
            verdict: verdict(b), inSampleDays: Nullable(inSampleDays(e, context: c)), note: Nullable(overlapNote(e, context: c))))
    }

    // MARK: Plot

    /// Actual vs predicted values of target `j` (in %), against the date (calendar ticks) or the row index. With
    /// a `context` whose checkpoint places the model's train/validation/test splits in this history, the parts
    /// of the scored days that fall in each split are shaded and labelled.
    public static func plot(_ e: ForecastEngine.Evaluation, target j: Int, context: Context? = nil) -> LinePlot {
        let name = e.backtest.targets[j]
        let x: [Double] = e.dates.map { $0.map { Double($0.daysSinceEpoch) } } ?? e.targetRows.map(Double.init)
        var plot = LinePlot(title: "\(name): actual vs predicted one-step-ahead returns",
                            xLabel: e.dates == nil ? "row" : "date", yLabel: "return (%)", width: 1000, height: 500)
        plot.xAxis = e.dates == nil ? .integer : .date
        if let context { plot.spans = splitSpans(e, x: x, context: context) }
        plot.add(PlotSeries(name: "actual", x: x, y: e.actual.map { $0[j] * 100 }, color: RGBColor.palette[0], lineWidth: 1))
        plot.add(PlotSeries(name: "model", x: x, y: e.predicted.map { $0[j] * 100 }, color: RGBColor.palette[1], lineWidth: 1.5))
        return plot
    }

    /// The model's splits (from `trainingPeriod`) over the scored days, as plot spans in the plot's x units;
    /// splits the scored days do not reach are left out, and none when the checkpoint cannot place them.
    static func splitSpans(_ e: ForecastEngine.Evaluation, x: [Double], context c: Context) -> [PlotSpan] {
        guard let period = trainingPeriod(c), let trainEnd = period.trainEndRow, let fittedEnd = period.fittedEndRow,
              let testStart = period.testStartRow, !x.isEmpty else { return [] }
        // Rows of the history: the last scored row of the model's test split is its last data day, if present.
        let testEnd = c.input.dates?.firstIndex(of: period.last) ?? Int.max
        let splits: [(String, ClosedRange<Int>)] = [
            ("train", Int.min...trainEnd), ("validation", (trainEnd + 1)...max(trainEnd + 1, fittedEnd)),
            ("test", testStart...max(testStart, testEnd)),
        ]
        var spans: [PlotSpan] = []
        for (k, (label, rows)) in splits.enumerated() where !(label == "validation" && fittedEnd == trainEnd) {
            let inside = e.targetRows.indices.filter { rows.contains(e.targetRows[$0]) }
            guard let a = inside.first, let b = inside.last else { continue }
            // Half a step beyond the first and last scored day, so adjacent spans meet between two days.
            let before = a > 0 ? (x[a - 1] + x[a]) / 2 : x[a], after = b + 1 < x.count ? (x[b] + x[b + 1]) / 2 : x[b]
            spans.append(PlotSpan(label: label, from: before, to: after, color: PlotSpan.splitColors[k]))
        }
        return spans
    }

    // MARK: Numbers

    static func fixed(_ v: Double, _ digits: Int) -> String { NumberText.fixed(v, digits) }

    /// A fraction as a signed percentage with four decimals: 0.001234 → `+0.1234`.
    static func percent(_ v: Double) -> String {
        guard v.isFinite else { return NumberText.exact(v) }
        let s = cFormat("%+.4f", v * 100)
        return s == "-0.0000" ? "+0.0000" : s
    }

    /// A price with two decimals and thousands separators (`7,542.44`); six significant digits below 1.
    static func price(_ v: Double) -> String {
        guard v.isFinite else { return NumberText.exact(v) }
        if abs(v) < 1 { return cFormat("%.6g", v) }
        let s = cFormat("%.2f", abs(v))
        let dot = s.firstIndex(of: ".")!
        let digits = Array(s[..<dot])
        var grouped = ""
        for (i, ch) in digits.enumerated() {
            if i > 0, (digits.count - i) % 3 == 0 { grouped.append(",") }
            grouped.append(ch)
        }
        return (v < 0 ? "-" : "") + grouped + s[dot...]
    }

    /// `a` relative to `b`: `3.1%` (unsigned) or `-3.1%` / `+3.1%` (signed).
    static func percentChange(_ a: Double, _ b: Double, signed: Bool = false) -> String {
        guard b != 0 else { return "—" }
        let r = (a / b - 1) * 100
        return signed ? cFormat("%+.2f%%", r) : cFormat("%.2f%%", abs(r))
    }

    static func pText(_ p: Double) -> String {
        guard p.isFinite else { return NumberText.exact(p) }
        return p < 0.0001 ? cFormat("%.1e", p) : cFormat("%.4f", p)
    }
}
