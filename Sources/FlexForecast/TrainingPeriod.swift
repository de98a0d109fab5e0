import FlexData
import FlexRuntime

extension ForecastEngine {
    /// The model's data period and splits, as far as the checkpoint tells them and a history can place them.
    public struct TrainingPeriod: Sendable, Equatable {
        /// First and last day of the model's (transformed) data, from the provenance's dataset line.
        public var first: Day
        public var last: Day
        /// Rows of this history's transformed rows (negative: before the history) of the last training target
        /// day, the last day the model was fitted or early-stopped on (the last validation target day), and the
        /// first test target day; nil when the history cannot place them.
        public var trainEndRow: Int?
        public var fittedEndRow: Int?
        public var testStartRow: Int?
    }

    /// Reads the model's data period from its provenance (`… (N aligned days, A to B) …`) and places its
    /// chronological splits (sizes from the provenance) in `input`'s history: counted back from day B when the
    /// history has it, else forward from day A. This assumes the history has the trading days the model's data had
    /// (the same files, or parts of them); when it has both A and B, it must have exactly N days from A to B.
    public static func trainingPeriod(model: Model, input: ForecastInput) -> TrainingPeriod? {
        guard let dataset = model.dataset else { return nil }
        let dates = isoDates(in: dataset)
        guard dates.count >= 2 else { return nil }
        var period = TrainingPeriod(first: dates[0], last: dates[dates.count - 1])
        guard let p = model.provenance, let train = p.trainSize, let validation = p.validationSize,
              let test = p.testSize, let ours = input.dates, train > 0 else { return period }
        let w = input.spec.window, h = input.spec.horizon
        if let count = alignedDays(in: dataset), train + validation + test != count - w - h + 1 { return period }
        let start = ours.firstIndex(of: period.first), end = ours.firstIndex(of: period.last)
        if let start, let end, let count = alignedDays(in: dataset), end - start + 1 != count { return period }
        let testStart: Int
        if let end {
            testStart = end - test + 1
        } else if let start {
            testStart = start + w - 1 + h + train + validation
        } else {
            return period
        }
        period.testStartRow = testStart
        period.fittedEndRow = testStart - 1
        period.trainEndRow = testStart - 1 - validation
        return period
    }

    /// How many scored days of `e` the model was fitted or early-stopped on (nil when the checkpoint cannot place
    /// its splits in this history).
    public static func inSampleDays(_ e: Evaluation, model: Model, input: ForecastInput) -> Int? {
        guard let fittedEnd = trainingPeriod(model: model, input: input)?.fittedEndRow else { return nil }
        return e.targetRows.filter { $0 <= fittedEnd }.count
    }

    /// N in `(N aligned days, …` (digits with optional thousands commas).
    static func alignedDays(in text: String) -> Int? {
        guard let r = text.firstRange(of: " aligned days") else { return nil }
        let digits = text[..<r.lowerBound].reversed().prefix { $0.isNumber || $0 == "," }
        return Int(String(digits.reversed().filter { $0 != "," }))
    }

    /// ISO dates (yyyy-mm-dd) in a text, in order.
    static func isoDates(in text: String) -> [Day] {
        let u = Array(text.utf8)
        var out: [Day] = []
        var i = 0
        while i + 10 <= u.count {
            let s = String(decoding: u[i..<(i + 10)], as: UTF8.self)
            if let d = Day(iso: s), i == 0 || !(u[i - 1] >= 48 && u[i - 1] <= 57) {
                out.append(d)
                i += 10
            } else {
                i += 1
            }
        }
        return out
    }
}
