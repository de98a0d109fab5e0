import FlexData
import Foundation
import Testing

private func day(_ iso: String) -> Day { Day(iso: iso)! }

private func series(_ name: String, _ pairs: [(String, Double)], file: String? = nil) -> PriceSeries {
    PriceSeries(name: name, file: file ?? "\(name).csv", dates: pairs.map { day($0.0) }, values: pairs.map(\.1))
}

/// A dated series of `count` weekdays from 2015-01-05 with prices from `price(row)`.
private func synthetic(_ name: String, count: Int, price: (Int) -> Double) -> PriceSeries {
    var dates: [Day] = []
    var d = Day(year: 2015, month: 1, day: 5)
    for _ in 0..<count {
        dates.append(d)
        d = d.nextWeekday
    }
    return PriceSeries(name: name, file: "\(name).csv", dates: dates, values: (0..<count).map(price))
}

@Suite("series: alignment") struct SeriesAlignTests {
    @Test("inner join: only days on which every series has a value, in date order")
    func innerJoin() throws {
        let a = series("A", [("2020-01-02", 1), ("2020-01-03", 2), ("2020-01-06", 3), ("2020-01-07", 4), ("2020-01-08", 5)])
        let b = series("B", [("2019-12-31", 9), ("2020-01-03", 20), ("2020-01-04", 25), ("2020-01-07", 40), ("2020-01-08", 50)])
        let c = series("C", [("2020-01-03", 200), ("2020-01-06", 300), ("2020-01-07", 400), ("2020-01-08", 500), ("2020-01-09", 600)])
        let aligned = try AlignedSeries.align([a, b, c])
        #expect(aligned.names == ["A", "B", "C"])
        #expect(aligned.files == ["A.csv", "B.csv", "C.csv"])
        #expect(aligned.dates == [day("2020-01-03"), day("2020-01-07"), day("2020-01-08")])
        #expect(aligned.values == [[2, 20, 200], [4, 40, 400], [5, 50, 500]])
        #expect(aligned.droppedRows == ["A": 2, "B": 2, "C": 2])
        #expect(aligned.index(of: "B") == 1)
        #expect(aligned.index(of: "c") == 2)
        #expect(aligned.index(of: "D") == nil)
    }

    @Test("undated series align by row")
    func undated() throws {
        let series = try SeriesFile.read(path: SeriesPaths.fixture("numeric-nodate.csv"))
        let aligned = try AlignedSeries.align(series)
        #expect(aligned.dates == nil)
        #expect(aligned.values == [[1.5, 100], [1.25, 101], [2, 99.5]])
        #expect(aligned.droppedRows == ["AAA": 0, "BBB": 0])
    }

    @Test func duplicateNames() throws {
        let dated = SeriesPaths.fixture("numeric-dates.csv"), undated = SeriesPaths.fixture("numeric-nodate.csv")
        let all = try SeriesFile.read(path: dated) + SeriesFile.read(path: undated)
        expectSeriesError(file: undated, position: "",
                        "series name 'AAA' is also the name of a series from '\(dated)'; names must be unique (rename one of the files or columns)") {
            _ = try AlignedSeries.align(all)
        }
    }

    @Test func datedAndUndatedMixed() throws {
        let dated = SeriesPaths.fixture("numeric-dates.csv"), undated = SeriesPaths.fixture("numeric-nodate.csv")
        let mixed = try SeriesFile.read(path: dated, column: "AAA") + SeriesFile.read(path: undated, column: "BBB")
        expectSeriesError(file: undated, position: "",
                        "series 'BBB' has no dates but series 'AAA' from '\(dated)' has; series with and without dates cannot be aligned") {
            _ = try AlignedSeries.align(mixed)
        }
    }

    @Test func undatedOfDifferentLengths() {
        let a = PriceSeries(name: "A", file: "a.csv", dates: nil, values: [1, 2, 3])
        let b = PriceSeries(name: "B", file: "b.csv", dates: nil, values: [1, 2])
        expectSeriesError(file: "b.csv", position: "",
                        "series 'B' has 2 rows but 'A' from 'a.csv' has 3; series without dates are aligned by row and must have the same length") {
            _ = try AlignedSeries.align([a, b])
        }
    }

    @Test func noCommonDate() {
        let a = series("A", [("2020-01-02", 1), ("2020-01-03", 2)])
        let b = series("B", [("2020-01-06", 1), ("2020-01-07", 2)])
        expectSeriesError(file: "A.csv, B.csv", position: "",
                        "the series have no date in common ('A' 2020-01-02…2020-01-03, 'B' 2020-01-06…2020-01-07)") {
            _ = try AlignedSeries.align([a, b])
        }
    }

    @Test func handMadeSeriesChecked() {
        expectSeriesError(file: "(no files)", position: "", "no series to align; give at least one series") {
            _ = try AlignedSeries.align([])
        }
        let unordered = series("A", [("2020-01-03", 1), ("2020-01-02", 2)])
        expectSeriesError(file: "A.csv", position: "date 2020-01-02",
                        "series 'A': dates must strictly increase (oldest first); 2020-01-02 (row 2) follows 2020-01-03") {
            _ = try AlignedSeries.align([unordered])
        }
        let nan = series("A", [("2020-01-02", 1), ("2020-01-03", .nan)])
        expectSeriesError(file: "A.csv", position: "date 2020-01-03", "series 'A': non-finite value nan") {
            _ = try AlignedSeries.align([nan])
        }
        let short = PriceSeries(name: "A", file: "A.csv", dates: [day("2020-01-02")], values: [1, 2])
        expectSeriesError(file: "A.csv", position: "", "series 'A' has 1 dates but 2 values") {
            _ = try AlignedSeries.align([short])
        }
    }
}

@Suite("series: transforms, statistics, windows") struct SeriesTransformTests {
    @Test("returns r_t = p_t / p_{t−1} − 1 and log returns ln(p_t / p_{t−1}); the first row is dropped")
    func returns() throws {
        let aligned = try AlignedSeries.align(try SeriesFile.read(path: SeriesPaths.fixture("lf-oldest-first.csv")))
        let p = [1000.50, 1010.25, 1005.00, 12345.67]
        let r = try aligned.transformed(.returns)
        #expect(r.values == [[p[1] / p[0] - 1], [p[2] / p[1] - 1], [p[3] / p[2] - 1]])
        #expect(r.dates == Array(aligned.dates!.dropFirst()))
        #expect(abs(r.values[0][0] - 0.009745127436281859) < 1e-15)   // 9.75 / 1000.5
        let l = try aligned.transformed(.logReturns)
        #expect(l.values.map { $0[0] } == [log(p[1] / p[0]), log(p[2] / p[1]), log(p[3] / p[2])])
        #expect(try aligned.transformed(.none).values == p.map { [$0] })
    }

    @Test("statistics: population mean and std (ddof 0); a constant feature gets std 1")
    func statistics() {
        let rows: [[Double]] = [[1, 5, -2], [2, 5, 0], [3, 5, 2], [6, 5, 4]]
        let s = FeatureStatistics.fit(rows[...])
        #expect(s.mean == [3, 5, 1])
        #expect(s.std[0] == (14.0 / 4).squareRoot())   // deviations −2, −1, 0, 3
        #expect(s.std[1] == 1)
        #expect(s.std[2] == 5.0.squareRoot())          // deviations −3, −1, 1, 3 → 20 / 4
        #expect(s.normalize([3, 5, 1]) == [0, 0, 0])
        #expect(s.normalize([6, 7, 1 + 5.0.squareRoot()]) == [3 / (14.0 / 4).squareRoot(), 2, 1])
        #expect(s.denormalize(s.normalize([1.5, 2, 3])) == [1.5, 2, 3])
        #expect(s.normalization.mean == s.mean && s.normalization.std == s.std)
        // Only the given slice.
        #expect(FeatureStatistics.fit(rows[0..<2]).mean == [1.5, 5, -1])
    }

    @Test("windows: shapes and a hand-checked window")
    func windows() {
        // Row r holds [r, 10 r]; window 3, horizon 2, target feature 1.
        let rows = (0..<10).map { [Double($0), Double(10 * $0)] }
        let w = SeriesWindows.make(rows: rows, window: 3, horizon: 2, targetIndices: [1], targetRange: 0..<10)
        // Target rows need 3 + 2 − 1 = 4 rows before them: 4 … 9.
        #expect(w.targetRows == [4, 5, 6, 7, 8, 9])
        #expect(w.count == 6)
        #expect(w.inputShape == [6, 3, 2])
        #expect(w.targetShape == [6, 1])
        #expect(w.inputs.count == 6 * 3 * 2)
        // Sample 0: inputs rows 0, 1, 2; target row 4, feature 1.
        #expect(Array(w.inputs[0..<6]) == [0, 0, 1, 10, 2, 20])
        #expect(w.targets[0] == 40)
        // Sample 5: rows 5, 6, 7 → target row 9.
        #expect(Array(w.inputs[30..<36]) == [5, 50, 6, 60, 7, 70])
        #expect(w.targets[5] == 90)
        // A later target range: inputs reach back before its lower bound.
        let later = SeriesWindows.make(rows: rows, window: 3, horizon: 2, targetIndices: [1, 0], targetRange: 8..<10)
        #expect(later.targetRows == [8, 9])
        #expect(Array(later.inputs[0..<6]) == [4, 40, 5, 50, 6, 60])
        #expect(later.targets == [80, 8, 90, 9])
        // Nothing usable.
        #expect(SeriesWindows.make(rows: rows, window: 3, horizon: 2, targetIndices: [0], targetRange: 0..<4).count == 0)
    }
}

@Suite("series: forecast dataset") struct ForecastDatasetTests {
    static func inputs(testPrices: Double = 1) -> [PriceSeries] {
        [synthetic("A", count: 101) { 100 + Double($0 % 7) + ($0 >= 80 ? testPrices * Double($0) : 0) },
         synthetic("B", count: 101) { 50 * (1 + 0.01 * sin(Double($0))) }]
    }

    @Test("splits by target row, in time order; windows of normalised returns")
    func splits() throws {
        let d = try ForecastDataset.build(series: Self.inputs(), targets: ["b"], window: 5, horizon: 1)
        // 101 prices → 100 returns; target rows 5 … 99: U = 95; test round(19) = 19; validation round(76 · 0.2) = 15.
        #expect(ForecastDataset.split(usable: 95, testFraction: 0.2, validationFraction: 0.2) == (61, 15, 19))
        #expect(d.features == ["A", "B"])
        #expect(d.targets == ["B"])
        #expect(d.targetIndices == [1])
        #expect(d.train.targetRows == Array(5..<66))
        #expect(d.validation.targetRows == Array(66..<81))
        #expect(d.test.targetRows == Array(81..<100))
        #expect(d.trainRange == 5..<66 && d.validationRange == 66..<81 && d.testRange == 81..<100)
        #expect(d.train.inputShape == [61, 5, 2])
        #expect(d.test.targetShape == [19, 1])
        #expect(d.dates?.count == 100)
        #expect(d.rows.count == 100)
        // Statistics of the returns on rows 0 … 65 (the last training target row) only.
        let returns = try AlignedSeries.align(Self.inputs()).transformed(.returns)
        let expected = FeatureStatistics.fit(returns.values[0..<66])
        #expect(d.statistics == expected)
        // A hand-checked sample: training sample 0 has inputs rows 0 … 4 and target row 5.
        for s in 0..<5 {
            for f in 0..<2 {
                #expect(d.train.inputs[s * 2 + f] == Float((returns.values[s][f] - expected.mean[f]) / expected.std[f]))
            }
        }
        #expect(d.train.targets[0] == Float((returns.values[5][1] - expected.mean[1]) / expected.std[1]))
        #expect(d.inputSpec.window == 5 && d.inputSpec.normalization.mean == expected.mean)
    }

    @Test("statistics come from the training rows only: changing test-period prices does not change them")
    func noLeak() throws {
        let a = try ForecastDataset.build(series: Self.inputs(testPrices: 1), targets: ["A"], window: 5, horizon: 1)
        let b = try ForecastDataset.build(series: Self.inputs(testPrices: 3), targets: ["A"], window: 5, horizon: 1)
        #expect(a.statistics == b.statistics)
        #expect(a.train.inputs == b.train.inputs && a.train.targets == b.train.targets)
        #expect(a.test.targets != b.test.targets)
    }

    @Test("no test or validation split")
    func zeroFractions() throws {
        let d = try ForecastDataset.build(series: Self.inputs(), targets: ["A", "B"], window: 3, horizon: 2,
                                          transform: .none, testFraction: 0, validationFraction: 0)
        #expect(d.train.count == 101 - 3 - 2 + 1)
        #expect(d.validation.count == 0 && d.test.count == 0)
        #expect(d.train.targetCount == 2)
    }

    @Test func badArguments() {
        let s = Self.inputs()
        let files = "A.csv, B.csv"
        expectSeriesError(file: files, position: "", "window must be at least 1 row, found 0") {
            _ = try ForecastDataset.build(series: s, targets: ["A"], window: 0, horizon: 1)
        }
        expectSeriesError(file: files, position: "", "horizon must be at least 1 row, found 0") {
            _ = try ForecastDataset.build(series: s, targets: ["A"], window: 5, horizon: 0)
        }
        expectSeriesError(file: files, position: "", "test fraction must be in [0, 1), found 1.0") {
            _ = try ForecastDataset.build(series: s, targets: ["A"], window: 5, horizon: 1, testFraction: 1)
        }
        expectSeriesError(file: files, position: "", "validation fraction must be in [0, 1), found -0.1") {
            _ = try ForecastDataset.build(series: s, targets: ["A"], window: 5, horizon: 1, validationFraction: -0.1)
        }
        expectSeriesError(file: files, position: "", "unknown target 'C'; the series are 'A', 'B'") {
            _ = try ForecastDataset.build(series: s, targets: ["C"], window: 5, horizon: 1)
        }
        expectSeriesError(file: files, position: "", "target 'A' is given twice") {
            _ = try ForecastDataset.build(series: s, targets: ["A", "a"], window: 5, horizon: 1)
        }
    }

    @Test("too few rows: says how many are needed and found")
    func tooFewRows() throws {
        let s = Self.inputs()
        expectSeriesError(file: "A.csv, B.csv", position: "",
                        "too few rows: window 91 + horizon 1 with at least 2 samples for training, validation (0.2) and test (0.2) need at least 102 aligned rows (10 usable target rows); the series have 101 common dates (100 after the returns transform)") {
            _ = try ForecastDataset.build(series: s, targets: ["A"], window: 91, horizon: 1)
        }
        // Exactly the minimum works: 10 usable target rows → 6 + 2 + 2 samples.
        let d = try ForecastDataset.build(series: s, targets: ["A"], window: 90, horizon: 1)
        #expect(d.train.count == 6 && d.validation.count == 2 && d.test.count == 2)
    }
}
