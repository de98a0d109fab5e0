import ArgumentParser
import FlexData
import FlexForecast
import FlexIO
import FlexPlot
import FlexRuntime

/// `flexctl forecast --model MODEL.h5 SERIES.csv... [--horizon K] [--evaluate] [--format table|json|csv]`:
/// the next K forecasts of a trained forecaster, or a rolling one-step-ahead backtest against naive forecasts.
public struct ForecastCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "forecast",
        abstract: "Forecast the next trading days with a trained forecaster, or backtest it (--evaluate).",
        discussion: """
        Reads the series files as the trainer does (investing.com exports or numeric CSV), picks the model's \
        series by name (an export is named after its file, a numeric CSV's columns by its header; --map NAME=FILE \
        chooses explicitly), aligns them on the dates common to all, and applies the trainer's pipeline: returns, \
        then normalisation with the statistics stored in the checkpoint. Prints the next K forecasts as returns \
        and as price levels; dates are the weekdays after the last common date (no holiday calendar). For K > 1 \
        each prediction is fed back as the next input.

        --evaluate backtests instead: one-step-ahead forecasts for every window of the history, with MSE, MAE and \
        directional accuracy next to the zero-return, last-return and training-mean forecasts, and a \
        Diebold-Mariano test (Harvey-Leybourne-Newbold correction) of the model against the zero-return \
        forecast. Score days after the model's training period (--from) for an honest test.

        Any problem with an input prints one message on standard error, exits with code 1 (64 for a bad \
        command line) and writes nothing: no standard output, no --output or --plot file. See docs/forecasting.md.
        """
    )

    @Option(help: ArgumentHelp("The forecaster checkpoint (HDF5).", valueName: "model.h5"), completion: .file())
    public var model: String

    @Argument(help: ArgumentHelp("Series files (CSV): investing.com exports or numeric CSV.", valueName: "series.csv"),
              completion: .file())
    public var series: [String] = []

    @Option(name: .customLong("map"),
            help: ArgumentHelp("Use FILE for the model's series NAME (repeatable).", valueName: "name=file"))
    public var mappings: [String] = []

    @Option(help: ArgumentHelp("Forecast K steps (trading days), \(OptionBounds.forecastSteps.text); K > 1 feeds predictions back.", valueName: "k"))
    public var horizon: Int?

    @Flag(help: "Backtest: rolling one-step-ahead forecasts over the history, against naive forecasts.")
    public var evaluate = false

    @Option(help: ArgumentHelp("With --evaluate: score only target days on or after this date.", valueName: "yyyy-mm-dd"))
    public var from: String?

    @Option(help: ArgumentHelp("The column to read from every series file, by name (exact, then ignoring case), e.g. Close for a CSV with Open, High, Low, Close, Adj Close, Volume (default: investing.com exports their Price column, other CSVs every column).", valueName: "name"))
    public var column: String?

    @OptionGroup public var outputFormat: OutputOptions

    @Option(name: [.short, .long], help: ArgumentHelp("Write the output to this file (atomically) instead of standard output.", valueName: "file"),
            completion: .file())
    public var output: String?

    @Option(help: ArgumentHelp("With --evaluate: plot actual vs predicted returns to this .png or .svg file.", valueName: "file"),
            completion: .file())
    public var plot: String?

    @Option(name: .customLong("plot-target"), help: ArgumentHelp("The series to plot (default: the first target).", valueName: "name"))
    public var plotTarget: String?

    @Option(help: "Worker threads for the model, \(OptionBounds.threads.text) (default: 1 for a forecast, the number of processors for --evaluate).")
    public var threads: Int?

    public init() {}

    public func validate() throws {
        if series.isEmpty && mappings.isEmpty {
            throw ValidationError("give the series files (CSV) the model reads, e.g. flexctl forecast --model "
                + "models/lstm-p-sig-ramp-4-indices.h5 samples/series/*.csv")
        }
        try OptionBounds.forecastSteps.check(horizon, "--horizon")
        if evaluate, let horizon, horizon != 1 {
            throw ValidationError("--evaluate scores one-step-ahead forecasts; leave out --horizon \(horizon)")
        }
        try OptionBounds.threads.check(threads, "--threads")
        for m in mappings where ForecastEngine.Mapping.parse(m) == nil {
            throw ValidationError("--map '\(m)': expected NAME=FILE, e.g. --map 'FTSE 100=data/ftse.csv'")
        }
        if !evaluate {
            for (name, given) in [("--from", from != nil), ("--plot", plot != nil), ("--plot-target", plotTarget != nil)] where given {
                throw ValidationError("\(name) needs --evaluate")
            }
        }
        if let from, Day(iso: from) == nil {
            throw ValidationError("--from '\(from)': expected a date yyyy-mm-dd, e.g. 2018-03-01")
        }
        if let plot {
            guard LinePlot.Format(path: plot) != nil else {
                throw ValidationError("--plot '\(plot)': unsupported file type; use a .png or .svg file name")
            }
            if let reason = reasonPathIsNotWritable(plot) {
                throw ValidationError("--plot '\(plot)': cannot write there (\(reason))")
            }
        }
        if let output, let reason = reasonPathIsNotWritable(output) {
            throw ValidationError("--output '\(output)': cannot write there (\(reason))")
        }
        let inputs = [model] + series + mappings.compactMap { ForecastEngine.Mapping.parse($0)?.file }
        for (name, path) in [("--output", output), ("--plot", plot)] {
            if let path, inputs.contains(where: { sameFile($0, path) }) {
                throw ValidationError("\(name) '\(path)' is one of the input files; choose another file name")
            }
        }
        if let output, let plot, sameFile(output, plot) {
            throw ValidationError(output == plot ? "--output and --plot name the same file '\(output)'"
                                      : "--output '\(output)' and --plot '\(plot)' name the same file")
        }
    }

    public func run() throws {
        let result = try execute()
        if let plotData = result.plot, let plot {
            do { try writeFileAtomically(path: plot, bytes: plotData) } catch { throw CLIError("--plot: \(error)") }
        }
        if let output {
            do { try writeFileAtomically(path: output, text: result.text) } catch { throw CLIError("--output: \(error)") }
        } else {
            writeStandardOutput(result.text)
        }
        for note in result.notes { writeError(note + "\n") }
    }

    /// Everything `run` writes, computed before anything is written.
    public struct Result {
        public var text: String
        /// The encoded plot file (PNG bytes or SVG text), if --plot was given.
        public var plot: [UInt8]?
        /// Lines for standard error (series the model does not use).
        public var notes: [String]
    }

    /// Does the work of `run` without writing anything.
    public func execute() throws -> Result {
        // A forecast is one window: a second thread would only cost its start-up. A backtest batches every window.
        let loaded = try ForecastEngine.loadModel(model, threads: threads ?? (evaluate ? OptionBounds.defaultThreads : 1))
        let session = loaded.session
        var plotIndex = 0
        if let plotTarget {
            guard let j = session.targets.firstIndex(of: plotTarget)
                    ?? session.targets.firstIndex(where: { $0.lowercased() == plotTarget.lowercased() }) else {
                throw CLIError.usage("--plot-target '\(plotTarget)': the model predicts \(ForecastEngine.quoted(session.targets))")
            }
            plotIndex = j
        }
        let steps = horizon ?? 1
        if steps > 1, let problem = session.feedbackProblem {
            throw CLIError("--horizon \(steps): \(problem.message)")
        }
        let maps = mappings.compactMap(ForecastEngine.Mapping.parse)
        let resolved = try ForecastEngine.resolveSeries(features: session.features, files: series, mappings: maps,
                                                       column: column)
        let input = try ForecastInput.prepare(series: resolved.series, spec: session.input, samples: evaluate ? 2 : 0)
        let context = ForecastReport.Context(model: loaded, input: input, series: resolved.series)
        var notes: [String] = []
        if !resolved.unused.isEmpty {
            let names = resolved.unused.map(\.name)
            notes.append("note: \(names.count) series not used by the model: \(MessageText.list(names, quote: false))")
        }
        if evaluate {
            let evaluation = try ForecastEngine.evaluate(session: session, input: input, from: from.flatMap { Day(iso: $0) })
            var plotData: [UInt8]?
            if let plot {
                let p = ForecastReport.plot(evaluation, target: plotIndex, context: context)
                switch LinePlot.Format(path: plot) {
                case .png: plotData = try p.pngData()
                default: plotData = Array(p.svg().utf8)
                }
            }
            return Result(text: ForecastReport.evaluation(evaluation, context: context, format: outputFormat.resolved), plot: plotData,
                          notes: notes)
        }
        let f = try ForecastEngine.forecast(session: session, input: input, steps: steps)
        return Result(text: ForecastReport.forecast(f, context: context, format: outputFormat.resolved), plot: nil, notes: notes)
    }
}
