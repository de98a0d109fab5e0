import FlexData
import FlexRuntime
import Foundation
import Testing

/// `ForecastInput`: new data through the trainer's pipeline with the checkpoint's statistics.
@Suite struct BacktestForecastInputTests {
    /// Three dated random walks on weekdays, with a few days missing in one series (so alignment matters).
    static func series(rows: Int = 120) -> [PriceSeries] {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next() -> Double {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Double(state >> 11) / Double(1 << 53) - 0.5
        }
        var day = Day(year: 2019, month: 1, day: 1)
        var dates: [Day] = []
        for _ in 0..<rows {
            dates.append(day)
            day = day.nextWeekday
        }
        var out: [PriceSeries] = []
        for (k, name) in ["AAA", "BBB", "CCC"].enumerated() {
            var p = 100.0 * Double(k + 1)
            var d: [Day] = [], v: [Double] = []
            for (i, date) in dates.enumerated() {
                p *= 1 + 0.02 * next()
                if k == 1, i % 17 == 5 { continue }  // BBB's market is closed on some days
                d.append(date)
                v.append(p)
            }
            out.append(PriceSeries(name: name, file: "\(name).csv", dates: d, values: v))
        }
        return out
    }

    static func truncated(_ series: [PriceSeries], through last: Day) -> [PriceSeries] {
        series.map { s in
            let n = s.dates!.lastIndex { $0 <= last }! + 1
            return PriceSeries(name: s.name, file: s.file, dates: Array(s.dates![..<n]), values: Array(s.values[..<n]))
        }
    }

    @Test func lastWindowIsTheTrainersWindowBitForBit() throws {
        let all = Self.series()
        let d = try ForecastDataset.build(series: all, targets: ["AAA", "CCC"], window: 7, horizon: 1)
        let spec = d.inputSpec
        let per = 7 * 3
        for split in [d.train, d.validation, d.test] {
            for i in [0, split.count / 2, split.count - 1] {
                // The window's last row is the target row − horizon; keep the prices through that day only.
                let lastRow = split.targetRows[i] - 1
                let input = try ForecastInput.prepare(series: Self.truncated(all, through: d.dates![lastRow]), spec: spec)
                #expect(input.count == lastRow + 1)
                let w = input.lastWindow
                #expect(w.inputShape == [1, 7, 3])
                #expect(w.inputs.map(\.bitPattern) == split.inputs[(i * per)..<((i + 1) * per)].map(\.bitPattern))
            }
        }
    }

    @Test func backtestWindowsAreTheTrainersWindows() throws {
        let all = Self.series()
        let d = try ForecastDataset.build(series: all, targets: ["AAA", "CCC"], window: 7, horizon: 2)
        let input = try ForecastInput.prepare(series: all, spec: d.inputSpec, samples: 2)
        let w = input.backtestWindows()
        #expect(w.targetRows == d.train.targetRows + d.validation.targetRows + d.test.targetRows)
        #expect(w.inputs == d.train.inputs + d.validation.inputs + d.test.inputs)
        #expect(w.targets == d.train.targets + d.validation.targets + d.test.targets)
        #expect(input.firstPredictableRow == 7 - 1 + 2 && w.targetRows.first == input.firstPredictableRow)
        #expect(input.targetIndices == [0, 2])
        // From a later row on.
        let later = input.backtestWindows(firstTargetRow: 50)
        #expect(later.targetRows.first == 50 && later.count == input.count - 50)
    }

    /// The error `body` throws, nil if none.
    static func dataError(_ body: () throws(DataError) -> Void) -> DataError? {
        do {
            try body()
            return nil
        } catch {
            return error
        }
    }

    @Test func tooFewRowsSayHowManyAreNeededAndFound() throws {
        let all = Self.series()
        let spec = try ForecastDataset.build(series: all, targets: ["AAA"], window: 30, horizon: 1).inputSpec
        // One series alone is too short: that file is named, with its count and what is needed.
        var short = all
        short[2] = PriceSeries(name: "CCC", file: "CCC.csv", dates: Array(all[2].dates!.suffix(20)), values: Array(all[2].values.suffix(20)))
        expectSeriesError(file: "CCC.csv", position: "",
                          "too few rows: series 'CCC' has 20 rows; the model's window of 30 returns needs at least 31 rows of every series") {
            _ = try ForecastInput.prepare(series: short, spec: spec)
        }
        // Each series long enough, but too few common dates.
        var apart = all
        apart[0] = PriceSeries(name: "AAA", file: "AAA.csv", dates: Array(all[0].dates!.prefix(60)), values: Array(all[0].values.prefix(60)))
        apart[2] = PriceSeries(name: "CCC", file: "CCC.csv", dates: Array(all[2].dates!.suffix(70)), values: Array(all[2].values.suffix(70)))
        let e = try #require(Self.dataError { () throws(DataError) in _ = try ForecastInput.prepare(series: apart, spec: spec) })
        #expect(e.file == "AAA.csv, BBB.csv, CCC.csv")
        #expect(all[1].count == 113)
        let expected = "too few common dates: the model's window of 30 returns needs at least 31 dates on which "
            + "all 3 series have a value; the series have 'AAA' 60, 'BBB' 113, 'CCC' 70 rows but only 9 common dates, "
        let found: String = e.message
        #expect(found.hasPrefix(expected), "\(found)")
        // A backtest needs window + horizon − 1 + samples transformed rows.
        expectSeriesError(file: "CCC.csv", position: "",
                          "too few rows: series 'CCC' has 20 rows; 2 backtest windows of 30 returns (horizon 1) need at least 33 rows of every series") {
            _ = try ForecastInput.prepare(series: short, spec: spec, samples: 2)
        }
    }

    @Test func seriesMustBeTheModelsFeaturesInOrder() throws {
        let all = Self.series()
        let spec = try ForecastDataset.build(series: all, targets: ["AAA"], window: 5, horizon: 1).inputSpec
        expectSeriesError(file: "CCC.csv, BBB.csv, AAA.csv", position: "",
                          "the series [CCC, BBB, AAA] are not the model's features [AAA, BBB, CCC] in order") {
            _ = try ForecastInput.prepare(series: all.reversed(), spec: spec)
        }
    }
}
