import FlexData
import FlexRuntime

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The forecasting engine behind `flexctl forecast` and the C API: loading a forecaster, finding its series among
/// the files, the k-step forecast and the rolling backtest. Reading arguments and rendering belong to the callers.
/// Errors are `ForecastError`, or the readers' own (`DataError`, `CheckpointError`). See docs/forecasting.md.
public enum ForecastEngine {
    // MARK: Model

    /// A forecaster loaded from a checkpoint, with the checkpoint's description of its training data.
    public struct Model: Sendable {
        public var path: String
        public var session: ForecastSession
        /// The provenance's dataset line (names the data and its date range), if recorded.
        public var dataset: String?
        public var provenance: Provenance?
    }

    /// Reads the checkpoint at `path` (the strict reader, whose `CheckpointError` report is thrown for a file it
    /// refuses) and builds its forecast session.
    public static func loadModel(_ path: String, threads: Int = Inference.defaultThreads) throws -> Model {
        try model(checkpoint: try Checkpoint.read(from: path), path: path, threads: threads)
    }

    /// Builds the forecast session of a checkpoint already read (`path` names it in messages). A checkpoint of
    /// another task is refused with a message naming both tasks.
    public static func model(checkpoint: Checkpoint, path: String, threads: Int = Inference.defaultThreads)
        throws(ForecastError) -> Model {
        guard checkpoint.task == .forecaster else {
            throw ForecastError(.unsuitableModel, "\(path): this checkpoint is an \(taskDescription(checkpoint.task)) "
                + "(task '\(checkpoint.task.rawValue)'), not a forecaster; forecasting needs a checkpoint with task "
                + "'forecaster' (e.g. models/lstm-p-sig-ramp-4-indices.h5)")
        }
        do {
            let session = try ForecastSession(checkpoint: checkpoint, threads: threads)
            return Model(path: path, session: session, dataset: checkpoint.provenance?.dataset,
                         provenance: checkpoint.provenance)
        } catch {
            throw ForecastError(.unsuitableModel, "\(path): \(error)")
        }
    }

    static func taskDescription(_ task: CheckpointTask) -> String {
        switch task {
        case .imageAutoencoder: "image auto-encoder"
        case .forecaster: "forecaster"
        case .imageCodec: "image codec"
        }
    }

    // MARK: Series

    /// An explicit `--map NAME=FILE`.
    public struct Mapping: Sendable, Equatable {
        public var name: String
        public var file: String
        public init(name: String, file: String) {
            self.name = name
            self.file = file
        }

        /// Parses `NAME=FILE` (split at the first `=`; both parts non-empty).
        public static func parse(_ text: String) -> Mapping? {
            guard let eq = text.firstIndex(of: "="), eq != text.startIndex, text.index(after: eq) != text.endIndex
            else { return nil }
            return Mapping(name: String(text[..<eq]), file: String(text[text.index(after: eq)...]))
        }
    }

    /// The series for the model: one per feature, in the model's order, each renamed to its feature name.
    public struct ResolvedSeries: Sendable {
        public var series: [PriceSeries]
        /// Series read from the files that the model does not use.
        public var unused: [PriceSeries]
    }

    /// Reads `files` (every file given is read and checked) and the `--map` files, and picks one series per
    /// model feature: an explicit mapping first (a file with one series, or the column of that name), else the
    /// series of that name among the files and the other columns of mapped files (exact, then ignoring letter
    /// case; an investing.com export is named after its file, a numeric CSV's columns by its header). A file both
    /// mapped and listed is read once.
    ///
    /// - Throws: the reader's `DataError` (file, line, what was wrong); `ForecastError` for a mapping to an
    ///   unknown feature, a feature mapped twice, two files providing the same feature, or a feature no file
    ///   provides (listing what the files hold and how to fix it).
    public static func resolveSeries(features: [String], files: [String], mappings: [Mapping], column: String? = nil) throws -> ResolvedSeries {
        // Exact name first, then any letter case (the first such feature); dictionaries, since a file may hold
        // thousands of series and a search of the features for each would be quadratic.
        var exact: [String: Int] = [:], folded: [String: Int] = [:]
        for (j, f) in features.enumerated() {
            if exact[f] == nil { exact[f] = j }
            if folded[f.lowercased()] == nil { folded[f.lowercased()] = j }
        }
        func feature(named name: String) -> Int? {
            exact[name] ?? folded[name.lowercased()]
        }
        var chosen = [PriceSeries?](repeating: nil, count: features.count)
        var mappedFiles: [String] = []
        var taken: Set<String> = []  // "file\0series" of the mapped series
        var leftovers: [PriceSeries] = []  // the other series of mapped files: matched by name like the rest
        for m in mappings {
            guard let j = feature(named: m.name) else {
                throw ForecastError(.mapping, "--map '\(m.name)=\(m.file)': the model has no series \(MessageText.quoted(m.name)); its series are "
                    + quoted(features))
            }
            if let already = chosen[j] {
                throw ForecastError(.mapping, "--map: series \(MessageText.quoted(features[j])) is mapped twice ('\(already.file)' and '\(m.file)')")
            }
            let read = try SeriesFile.read(path: m.file, column: column)
            let k: Int
            if read.count == 1 {
                k = 0
            } else if let named = read.firstIndex(where: { $0.name == features[j] })
                        ?? read.firstIndex(where: { $0.name.lowercased() == features[j].lowercased() }) {
                k = named
            } else {
                throw ForecastError(.mapping, "\(m.file): --map '\(m.name)=\(m.file)': the file has \(read.count) series "
                    + "(\(quoted(read.map(\.name)))) and none is named \(MessageText.quoted(features[j])); map a file with one column "
                    + "of values or with a column named \(MessageText.quoted(features[j]))")
            }
            var s = read[k]
            taken.insert(m.file + "\u{0}" + s.name)
            s.name = features[j]
            chosen[j] = s
            if !mappedFiles.contains(m.file) {
                mappedFiles.append(m.file)
                leftovers += read.enumerated().filter { $0.offset != k }.map(\.element)
            }
        }
        let explicit = chosen.map { $0 != nil }
        var unused: [PriceSeries] = []
        var seenFiles: Set<String> = []
        var candidates = leftovers.filter { !taken.contains($0.file + "\u{0}" + $0.name) }
        for file in files where !mappedFiles.contains(file) {
            guard seenFiles.insert(file).inserted else {
                throw ForecastError(.series, "\(file): the file is given twice")
            }
            candidates += try SeriesFile.read(path: file, column: column)
        }
        for var s in candidates {
            guard let j = feature(named: s.name), !explicit[j] else {
                unused.append(s)
                continue
            }
            if let other = chosen[j] {
                throw ForecastError(.series, "series \(MessageText.quoted(features[j])) is in two files: '\(other.file)' and '\(s.file)'; "
                    + "give only one of them, or choose with --map '\(features[j])=FILE'")
            }
            s.name = features[j]
            chosen[j] = s
        }
        let missing = features.indices.filter { chosen[$0] == nil }
        if !missing.isEmpty {
            let names = missing.map { features[$0] }
            let found = unused.isEmpty ? "the files hold no other series"
                : "the files hold " + unused.prefix(10).map { "\(MessageText.quoted($0.name)) (\($0.file))" }.joined(separator: ", ")
                    + (unused.count > 10 ? ", … (\(unused.count) in all)" : "")
            throw ForecastError(.series, "the model needs series \(quoted(names)), which no file provides (it reads "
                + "\(quoted(features))); \(found). Give an investing.com export named after the series (e.g. "
                + "'\(names[0]) Historical Data.csv'), a numeric CSV with a column '\(names[0])', or "
                + "--map '\(names[0])=FILE'")
        }
        return ResolvedSeries(series: chosen.map { $0! }, unused: unused)
    }

    // MARK: Forecast

    /// The next `steps` forecasts after the data's last row.
    public struct Forecast: Sendable {
        public var targets: [String]
        /// The last row's date (the last date common to all series), nil for undated series.
        public var lastDate: Day?
        /// Per target, the last price (aligned value before the transform); NaN when only transformed values
        /// were given.
        public var lastPrices: [Double]
        /// Per target, the last transformed value (e.g. the last observed return).
        public var lastValues: [Double]
        /// Per step, the forecast date (weekdays after `lastDate`, no holiday calendar), nil if undated.
        public var dates: [Day?]
        /// `values[step][target]`: the forecast in the transform's units (returns), denormalised.
        public var values: [[Double]]
        /// `levels[step][target]`: the implied price level, nil when it cannot be derived (horizon > 1).
        public var levels: [[Double?]]
        /// Steps after the first feed the model's own predictions back as inputs.
        public var fedBack: Bool
        public var transform: SeriesTransform
        public var horizon: Int
    }

    /// Forecasts `steps` steps from the last window of `input` (k > 1 feeds predictions back).
    public static func forecast(session: ForecastSession, input: ForecastInput, steps: Int) throws -> Forecast {
        guard steps >= 1 else { throw ForecastError(.request, "steps must be at least 1, found \(steps)") }
        if steps > 1, let problem = session.feedbackProblem {
            throw ForecastError(.request, "\(steps) steps: \(problem.message)")
        }
        let w = input.lastWindow
        try checkFinite(w.inputs, what: "the last \(input.spec.window) days")
        let x = Tensor(shape: w.inputShape, scalars: w.inputs)
        let y = try session.forecast(windows: x, steps: steps)
        let nt = session.targets.count
        let normalized = (0..<steps).map { s in (0..<nt).map { Double(y.scalars[s * nt + $0]) } }
        let values = try session.denormalize(predictions: normalized)
        let idx = input.targetIndices
        let lastPrices = idx.map { input.aligned.values[input.aligned.count - 1][$0] }
        let lastValues = idx.map { input.transformed.values[input.count - 1][$0] }
        let transform = input.spec.transform, h = input.spec.horizon
        var levels: [[Double?]] = []
        var current = lastPrices.map { Optional($0) }
        for s in 0..<steps {
            var row: [Double?] = []
            for j in 0..<nt {
                let v = values[s][j]
                let level: Double?
                switch transform {
                case .none: level = v
                case .logReturns: level = h == 1 ? current[j].map { $0 * exp(v) } : nil
                case .returns: level = h == 1 ? current[j].map { $0 * (1 + v) } : nil
                }
                row.append(level)
            }
            levels.append(row)
            current = row
        }
        let lastDate = input.dates?.last
        var dates: [Day?] = []
        if var d = lastDate {
            for _ in 1..<h { d = d.nextWeekday }
            for _ in 0..<steps {
                d = d.nextWeekday
                dates.append(d)
            }
        } else {
            dates = Array(repeating: nil, count: steps)
        }
        return Forecast(targets: session.targets, lastDate: lastDate, lastPrices: lastPrices, lastValues: lastValues,
                        dates: dates, values: values, levels: levels, fedBack: steps > 1, transform: transform,
                        horizon: h)
    }

    // MARK: Backtest

    /// A rolling one-step-ahead backtest over a history.
    public struct Evaluation: Sendable {
        public var backtest: Backtest
        /// The transformed row of each scored target day.
        public var targetRows: [Int]
        /// Dates of the scored target days (nil if undated).
        public var dates: [Day]?
        /// `actual[day][target]`, `predicted[day][target]` (the model), in the transform's units.
        public var actual: [[Double]]
        public var predicted: [[Double]]
    }

    /// Samples per forward pass in a backtest (bounds the LSTM's per-call buffers, about 42 KB per sample).
    public static let backtestBatch = 256

    /// One-step-ahead predictions (one model step, `horizon` days) for every window of `input` whose target day is
    /// on or after `from` (all if nil), scored against the naive forecasts.
    public static func evaluate(session: ForecastSession, input: ForecastInput, from: Day? = nil) throws -> Evaluation {
        var firstRow = 0
        if let from {
            guard let dates = input.dates else {
                throw ForecastError(.request, "scoring from \(from) needs dated series; the series have no dates")
            }
            firstRow = dates.firstIndex { $0 >= from } ?? dates.count
        }
        let windows = input.backtestWindows(firstTargetRow: firstRow)
        guard windows.count >= 2 else {
            var range = ""
            if let d = input.dates {
                range = "; the history's predictable target days are \(d[input.firstPredictableRow]) to \(d[d.count - 1])"
            }
            let days = "\(windows.count) backtest day\(windows.count == 1 ? "" : "s")"
            throw ForecastError(.request, (from.map { "target days from \($0) leave \(days)" } ?? "the history leaves \(days)")
                + "; at least 2 are needed\(range)")
        }
        try checkFinite(windows.inputs, what: "the backtest's windows")
        let n = windows.count, nt = session.targets.count, per = windows.window * windows.featureCount
        var normalized = [Double](repeating: 0, count: n * nt)
        var y = Tensor.empty
        var lo = 0
        while lo < n {
            let hi = min(lo + backtestBatch, n)
            let x = Tensor(shape: [hi - lo, windows.window, windows.featureCount],
                           scalars: Array(windows.inputs[(lo * per)..<(hi * per)]))
            try session.predict(x, into: &y)
            for k in 0..<((hi - lo) * nt) { normalized[lo * nt + k] = Double(y.scalars[k]) }
            lo = hi
        }
        let mean = input.spec.normalization.mean
        let idx = input.targetIndices, h = input.spec.horizon
        // The session's statistics map predictions back (each target with its feature's mean and std).
        let predicted = try session.denormalize(predictions: (0..<n).map { i in Array(normalized[(i * nt)..<((i + 1) * nt)]) })
        var actual: [[Double]] = [], last: [[Double]] = []
        actual.reserveCapacity(n)
        last.reserveCapacity(n)
        for r in windows.targetRows {
            actual.append(idx.map { input.transformed.values[r][$0] })
            last.append(idx.map { input.transformed.values[r - h][$0] })
        }
        let backtest = Backtest(targets: session.targets, actual: actual, model: predicted, last: last,
                                trainingMean: idx.map { mean[$0] }, horizon: h)
        return Evaluation(backtest: backtest, targetRows: windows.targetRows,
                          dates: input.dates.map { d in windows.targetRows.map { d[$0] } },
                          actual: actual, predicted: predicted)
    }

    /// Refuses model inputs that are not finite float32 numbers: prices that jump by huge factors (1e150 to
    /// 1e-150) give returns no float32 holds, and the forecasts would be NaN with nothing said.
    public static func checkFinite(_ inputs: [Float], what: String) throws(ForecastError) {
        guard let bad = inputs.firstIndex(where: { !$0.isFinite }) else { return }
        throw ForecastError(.request, "\(what) give model inputs that are not finite numbers (value \(bad) after the transform and "
            + "the checkpoint's normalisation is \(inputs[bad])): the prices change by factors too large for float32")
    }

    /// Names quoted and joined for messages (`'a', 'b' and 'c'`).
    public static func quoted(_ names: [String]) -> String {
        MessageText.list(names)
    }
}
