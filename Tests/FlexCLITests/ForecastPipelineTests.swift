import FlexCLI
import FlexForecast
import FlexData
import FlexPlot
import FlexRuntime
import Foundation
import Testing

/// Paths of the shipped forecaster, its samples and the full index histories.
enum ForecastFixtures {
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path
    static let model = repo + "/models/lstm-p-sig-ramp-4-indices.h5"
    static let imageModel = repo + "/models/cae2-p-e2-relu-fashion-mnist.h5"
    static let samples = repo + "/samples/series"
    static let indices = URL(fileURLWithPath: repo + "/../shared/data/indices").standardized.path
    /// The model's four series, in its feature order.
    static let paperFiles = ["S&P_ASX All Australian 200 Historical Data.csv", "FTSE 100.csv",
                             "KOSPI Historical Data.csv", "RTSI Historical Data.csv"]
    static let features = ["S&P_ASX All Australian 200", "FTSE 100", "KOSPI", "RTSI"]
    static var sampleFiles: [String] { paperFiles.map { samples + "/" + $0 } }
    static var indexFiles: [String] { paperFiles.map { indices + "/" + $0 } }
    static var indicesAvailable: Bool { FileManager.default.fileExists(atPath: indices + "/FTSE 100.csv") }
    /// Every CSV file in ../shared/data/indices, sorted.
    static var allIndexFiles: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: indices)) ?? []).filter { $0.hasSuffix(".csv") }.sorted()
            .map { indices + "/" + $0 }
    }

    static func series(through last: FlexData.Day, from files: [String]) throws -> [PriceSeries] {
        try files.flatMap { try SeriesFile.read(path: $0) }.map { s in
            let n = (s.dates!.lastIndex { $0 <= last } ?? -1) + 1
            return PriceSeries(name: s.name, file: s.file, dates: Array(s.dates![..<n]), values: Array(s.values[..<n]))
        }
    }
}

/// The forecast pipeline against the trainer's: the same windows and predictions, bit for bit, and the
/// backtest against the numbers recorded for the shipped model.
@Suite(.serialized) struct ForecastPipelineTests {
    /// The trainer's dataset on the four full histories (as the shipped model was trained).
    static func trainerDataset() throws -> ForecastDataset {
        let series = try ForecastFixtures.indexFiles.flatMap { try SeriesFile.read(path: $0) }
        return try ForecastDataset.build(series: series, targets: ForecastFixtures.features, window: 30, horizon: 1)
    }

    @Test("forecasting from a training window reproduces the trainer's prediction bit for bit")
    func trainingWindowReproducesTheTrainersPrediction() throws {
        guard ForecastFixtures.indicesAvailable else { print("skipped: \(ForecastFixtures.indices) not found"); return }
        let model = try ForecastEngine.loadModel(ForecastFixtures.model, threads: 1)
        let session = model.session
        let d = try Self.trainerDataset()
        #expect(d.statistics.normalization == session.input.normalization)
        let per = 30 * 4
        for (split, indices) in [(d.train, [0, 700, d.train.count - 1]), (d.validation, [10]), (d.test, [d.test.count - 1])] {
            for i in indices {
                // Histories cut so that the last window ends on the sample's last input day.
                let lastInputDay = d.dates![split.targetRows[i] - 1]
                let series = try ForecastFixtures.series(through: lastInputDay, from: ForecastFixtures.indexFiles)
                let input = try ForecastInput.prepare(series: series, spec: session.input)
                #expect(input.dates!.last == lastInputDay)
                let window = Array(split.inputs[(i * per)..<((i + 1) * per)])
                #expect(input.lastWindow.inputs.map(\.bitPattern) == window.map(\.bitPattern), "sample \(i)")
                let trainer = try session.predict(Tensor(shape: [1, 30, 4], scalars: window))
                let expected = try session.denormalize(predictions: [trainer.scalars.map(Double.init)])[0]
                let f = try ForecastEngine.forecast(session: session, input: input, steps: 1)
                #expect(f.values[0] == expected, "sample \(i): \(f.values[0]) vs trainer \(expected)")
                #expect(f.lastDate == lastInputDay && f.dates[0] == lastInputDay.nextWeekday)
                // The price level is the last price times (1 + r).
                for j in 0..<4 {
                    #expect(f.levels[0][j] == input.aligned.values[input.aligned.count - 1][j] * (1 + expected[j]))
                }
            }
        }
    }

    @Test("flexctl forecast prints the trainer's prediction for a training window (numeric CSV, via JSON)")
    func processReproducesTheTrainersPrediction() throws {
        guard ForecastFixtures.indicesAvailable else { print("skipped: \(ForecastFixtures.indices) not found"); return }
        let session = try ForecastEngine.loadModel(ForecastFixtures.model, threads: 1).session
        let d = try Self.trainerDataset()
        let i = 1000
        let lastInputDay = d.dates![d.train.targetRows[i] - 1]
        let dir = try TempDir()
        defer { dir.cleanup() }
        // Each history as a plain numeric CSV (date, one column named after the series), oldest first, values
        // written as the shortest text that reads back as the same double.
        var files: [String] = []
        for (k, s) in try ForecastFixtures.series(through: lastInputDay, from: ForecastFixtures.indexFiles).enumerated() {
            var text = "date,\(s.name)\n"
            for (date, v) in zip(s.dates!, s.values) { text += "\(date),\(v)\n" }
            let path = dir.file("series-\(k).csv")
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            files.append(path)
        }
        let r = try runFlexctl(["forecast", "--model", ForecastFixtures.model, "--format", "json"] + files.reversed())
        #expect(r.status == 0, "\(r.stderr)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        #expect(json["last_date"] as? String == lastInputDay.description)
        let forecasts = try #require(json["forecasts"] as? [[String: Any]])
        let window = Array(d.train.inputs[(i * 120)..<((i + 1) * 120)])
        let trainer = try session.predict(Tensor(shape: [1, 30, 4], scalars: window))
        let expected = try session.denormalize(predictions: [trainer.scalars.map(Double.init)])[0]
        #expect(forecasts.count == 4)
        for (j, f) in forecasts.enumerated() {
            #expect(f["series"] as? String == ForecastFixtures.features[j])
            // JSON gives the return in percent (as the table does): the model's value × 100, rounded once.
            let value = try #require(f["change_percent"] as? Double)
            #expect(abs(value - expected[j] * 100) <= 1e-15 * abs(expected[j] * 100) + 1e-300, "\(value) vs \(expected[j] * 100)")
        }
    }

    @Test("the backtest over the test split reproduces the model card's test MSE and naive baselines")
    func backtestReproducesTheModelCard() throws {
        guard ForecastFixtures.indicesAvailable else { print("skipped: \(ForecastFixtures.indices) not found"); return }
        let model = try ForecastEngine.loadModel(ForecastFixtures.model, threads: 1)
        let session = model.session
        let resolved = try ForecastEngine.resolveSeries(features: session.features, files: ForecastFixtures.allIndexFiles,
                                                        mappings: [])
        #expect(resolved.series.map(\.name) == ForecastFixtures.features)
        #expect(resolved.unused.count == ForecastFixtures.allIndexFiles.count - 4)
        let input = try ForecastInput.prepare(series: resolved.series, spec: session.input, samples: 2)
        let d = try Self.trainerDataset()
        let testStart = d.dates![d.test.targetRows[0]]
        #expect(testStart.description == "2018-01-15")

        // The split dates the report derives from the checkpoint's provenance are the trainer's.
        let context = ForecastReport.Context(model: model, input: input, series: resolved.series)
        let period = try #require(ForecastReport.trainingPeriod(context))
        #expect(period.testStartRow == d.test.targetRows[0])
        #expect(period.fittedEndRow == d.validation.targetRows.last)
        #expect(period.trainEndRow == d.train.targetRows.last)

        let e = try ForecastEngine.evaluate(session: session, input: input, from: testStart)
        #expect(e.backtest.count == d.test.count && e.targetRows == d.test.targetRows)
        let std = session.input.normalization.std
        func normalizedMSE(_ f: Backtest.Forecaster) -> Double {
            (0..<4).map { j in e.backtest.errors(f, target: j).mse / (std[j] * std[j]) }.reduce(0, +) / 4
        }
        // models/README.md: test MSE 0.544975; zero return 0.569392, training-mean 0.569694, last return 1.106352.
        let recorded = try #require(model.provenance?.testLoss)
        #expect(abs(normalizedMSE(.model) - recorded) <= 1e-5 * recorded, "\(normalizedMSE(.model)) vs \(recorded)")
        #expect(abs(normalizedMSE(.model) - 0.544975) < 5e-6)
        #expect(abs(normalizedMSE(.zero) - 0.569392) < 5e-7)
        #expect(abs(normalizedMSE(.trainingMean) - 0.569694) < 5e-7)
        #expect(abs(normalizedMSE(.last) - 1.106352) < 5e-7)

        // The whole history: every window the trainer made.
        let all = try ForecastEngine.evaluate(session: session, input: input)
        #expect(all.targetRows == d.train.targetRows + d.validation.targetRows + d.test.targetRows)
        #expect(all.backtest.count == 2271)
        #expect(all.backtest.pooled(.model).mse < all.backtest.pooled(.zero).mse)
    }

    @Test("series are matched to the model's features by name, case-insensitively, or with --map")
    func seriesMapping() throws {
        let features = ForecastFixtures.features
        let files = ForecastFixtures.sampleFiles
        let r = try ForecastEngine.resolveSeries(features: features, files: files.reversed(), mappings: [])
        #expect(r.series.map(\.name) == features && r.series.map(\.file) == files && r.unused.isEmpty)

        let dir = try TempDir()
        defer { dir.cleanup() }
        // A file under another name, mapped explicitly; a lower-case numeric column matched by name.
        let renamed = dir.file("asx.csv")
        try FileManager.default.copyItem(atPath: files[0], toPath: renamed)
        let numeric = dir.file("numeric.csv")
        let kospi = try SeriesFile.read(path: files[2])[0]
        try ("date,kospi,other\n" + zip(kospi.dates!, kospi.values).map { "\($0),\($1),1" }.joined(separator: "\n"))
            .write(toFile: numeric, atomically: true, encoding: .utf8)
        let m = try ForecastEngine.resolveSeries(
            features: features, files: [files[1], numeric, files[3]],
            mappings: [ForecastEngine.Mapping(name: "s&p_asx all australian 200", file: renamed)])
        #expect(m.series.map(\.name) == features)
        #expect(m.series[0].file == renamed && m.series[2].file == numeric && m.series[2].values == kospi.values)
        #expect(m.unused.map(\.name) == ["other"])

        // One numeric CSV with every series: mapping one of its columns still matches the others by name.
        let aligned = try AlignedSeries.align(files.map { try SeriesFile.read(path: $0)[0] })
        var text = "date," + aligned.names.joined(separator: ",") + "\n"
        for (date, row) in zip(aligned.dates!, aligned.values) {
            text += "\(date)," + row.map { "\($0)" }.joined(separator: ",") + "\n"
        }
        let wide = dir.file("wide.csv")
        try text.write(toFile: wide, atomically: true, encoding: .utf8)
        let w = try ForecastEngine.resolveSeries(features: features, files: [wide],
                                                 mappings: [ForecastEngine.Mapping(name: "RTSI", file: wide)])
        #expect(w.series.map(\.name) == features && w.series.allSatisfy { $0.file == wide } && w.unused.isEmpty)

        #expect(ForecastEngine.Mapping.parse("FTSE 100=a=b.csv") == ForecastEngine.Mapping(name: "FTSE 100", file: "a=b.csv"))
        #expect(ForecastEngine.Mapping.parse("=x.csv") == nil && ForecastEngine.Mapping.parse("FTSE") == nil)
        #expect(ForecastEngine.Mapping.parse("FTSE=") == nil)
    }

    @Test("the report places the checkpoint's splits in a partial history counted back from the last day")
    func trainingPeriodOfTheSamples() throws {
        let model = try ForecastEngine.loadModel(ForecastFixtures.model, threads: 1)
        let resolved = try ForecastEngine.resolveSeries(features: model.session.features,
                                                        files: ForecastFixtures.sampleFiles, mappings: [])
        let input = try ForecastInput.prepare(series: resolved.series, spec: model.session.input, samples: 2)
        let context = ForecastReport.Context(model: model, input: input, series: resolved.series)
        let period = try #require(ForecastReport.trainingPeriod(context))
        #expect(period.first.description == "2010-01-12" && period.last.description == "2019-12-30")
        // The samples' 276 return rows all lie in the last 454 (test) target days.
        #expect(input.count == 276)
        #expect(period.testStartRow == 276 - 454)
        let e = try ForecastEngine.evaluate(session: model.session, input: input)
        let text = ForecastReport.evaluation(e, context: context, format: .table)
        #expect(text.contains("the model's test split (the last 454 target days of its data, up to 2019-12-30) began before this history, so every day scored here comes after the days it was fitted and early-stopped on: an out-of-sample test"), "\(text)")
    }

    @Test("the backtest plot has a date axis and marks the model's splits")
    func backtestPlotSplits() throws {
        let model = try ForecastEngine.loadModel(ForecastFixtures.model, threads: 1)
        // The samples lie wholly in the model's test split: one span, over every scored day.
        let resolved = try ForecastEngine.resolveSeries(features: model.session.features,
                                                        files: ForecastFixtures.sampleFiles, mappings: [])
        let input = try ForecastInput.prepare(series: resolved.series, spec: model.session.input, samples: 2)
        let context = ForecastReport.Context(model: model, input: input, series: resolved.series)
        let e = try ForecastEngine.evaluate(session: model.session, input: input)
        let plot = ForecastReport.plot(e, target: 0, context: context)
        #expect(plot.xAxis == .date)
        let labels = plot.xTickLabelExtents().map(\.text)
        #expect(labels.contains("2019-06") || labels.contains("2019-07"), "\(labels)")
        #expect(plot.spans.map(\.label) == ["test"])
        let x = plot.series[0].x
        #expect(plot.spans.first.map { $0.from <= x.first! && $0.to >= x.last! } == true)
        #expect(plot.svg().contains(">test</text>"))
        // Without a context (or a checkpoint that cannot place its splits) nothing is marked.
        #expect(ForecastReport.plot(e, target: 0).spans.isEmpty)

        // The full histories cover all three splits: train, validation and test, in order and adjacent.
        guard ForecastFixtures.indicesAvailable else { return }
        let full = try ForecastEngine.resolveSeries(features: model.session.features,
                                                    files: ForecastFixtures.indexFiles, mappings: [])
        let fullInput = try ForecastInput.prepare(series: full.series, spec: model.session.input, samples: 2)
        let fullContext = ForecastReport.Context(model: model, input: fullInput, series: full.series)
        let fullE = try ForecastEngine.evaluate(session: model.session, input: fullInput)
        let spans = ForecastReport.plot(fullE, target: 0, context: fullContext).spans
        #expect(spans.map(\.label) == ["train", "validation", "test"])
        #expect(zip(spans, spans.dropFirst()).allSatisfy { $0.to == $1.from && $0.from < $0.to })
        let period = try #require(ForecastReport.trainingPeriod(fullContext))
        let testStart = try #require(period.testStartRow)
        let dates = try #require(fullInput.dates)
        // The test span starts between the last validation day and the first test day.
        #expect(spans[2].from > Double(dates[testStart - 1].daysSinceEpoch) && spans[2].from < Double(dates[testStart].daysSinceEpoch))
    }
}
