import FlexData
import Foundation
import Testing

/// The 17 investing.com exports in ../shared/data/indices (skipped, with this note, where that folder is absent;
/// it is present on CI).
@Suite("series: the real investing.com files", .enabled(if: SeriesPaths.indicesAvailable,
                                                          "../shared/data/indices is missing: real-data tests skipped"))
struct SeriesRealDataTests {
    /// Each file with its number of data rows (lines after the header) and its first and last dates.
    static let files: [(String, Int, String, String)] = [
        ("BIST 100 Historical Data.csv", 2514, "2010-01-04", "2019-12-31"),
        ("CAC 40 Historical Data.csv", 2559, "2010-01-04", "2019-12-31"),
        ("FTSE 100.csv", 2525, "2010-01-04", "2019-12-31"),
        ("FTSE MIB.csv", 2552, "2010-01-04", "2019-12-30"),
        ("KOSPI Historical Data.csv", 2467, "2010-01-04", "2019-12-30"),
        ("MSCI Argentina Historical Data.csv", 1891, "2012-07-09", "2019-12-31"),
        ("MSCI Europe Historical Data.csv", 1953, "2012-07-09", "2020-01-01"),
        ("MSCI Indonesia Historical Data.csv", 1731, "2012-11-09", "2019-12-30"),
        ("MSCI Korea Historical Data.csv", 1839, "2012-07-09", "2019-12-30"),
        ("MSCI Mexico Historical Data.csv", 1860, "2012-11-12", "2019-12-31"),
        ("Nifty 50 Historical Data.csv", 2477, "2010-01-04", "2020-01-01"),
        ("RTSI Historical Data.csv", 2513, "2010-01-11", "2019-12-30"),
        ("S&P_ASX All Australian 200 Historical Data.csv", 2622, "2010-01-04", "2019-12-31"),
        ("S&P_TSX Composite Historical Data.csv", 2508, "2010-01-04", "2019-12-31"),
        ("Shanghai Composite Historical Data.csv", 2432, "2010-01-04", "2019-12-31"),
        ("South Africa 40 Futures Historical Data.csv", 2525, "2010-01-01", "2019-12-31"),
        ("Tadawul All Share Historical Data.csv", 2517, "2010-01-02", "2020-01-01"),
    ]

    @Test("the folder holds exactly these 17 files")
    func allFilesListed() throws {
        let found = try FileManager.default.contentsOfDirectory(atPath: SeriesPaths.indices).filter { $0.hasSuffix(".csv") }
        #expect(found.sorted() == Self.files.map(\.0).sorted())
    }

    @Test("every file parses: all rows, oldest first, strictly increasing dates, positive prices",
          arguments: files.map(\.0))
    func parses(_ file: String) throws {
        let (_, rows, first, last) = try #require(Self.files.first { $0.0 == file })
        let series = try SeriesFile.read(path: SeriesPaths.index(file))
        #expect(series.count == 1)
        let s = series[0]
        #expect(s.name == SeriesFile.seriesName(forFile: file))
        #expect(!s.name.hasSuffix("Historical Data"))
        #expect(s.values.count == rows)
        let dates = try #require(s.dates)
        #expect(dates.count == rows)
        #expect(dates.first == Day(iso: first))
        #expect(dates.last == Day(iso: last))
        #expect(zip(dates, dates.dropFirst()).allSatisfy { $0 < $1 })
        #expect(s.values.allSatisfy { $0 > 0 && $0.isFinite })
        // The other columns without missing values read too.
        for column in ["Open", "High", "Low", "Change %"] {
            let other = try SeriesFile.read(path: SeriesPaths.index(file), column: column)[0]
            #expect(other.values.count == rows)
            #expect(other.dates == s.dates)
        }
    }

    @Test("the paper's four series align on common dates only, strictly increasing")
    func paperAlignment() throws {
        let series = try SeriesPaths.paperFiles.flatMap { try SeriesFile.read(path: SeriesPaths.index($0)) }
        let aligned = try AlignedSeries.align(series)
        #expect(aligned.names == ["S&P_ASX All Australian 200", "FTSE 100", "KOSPI", "RTSI"])
        let dates = try #require(aligned.dates)
        #expect(dates.count == aligned.values.count)
        #expect(zip(dates, dates.dropFirst()).allSatisfy { $0 < $1 })
        // Every kept day is a day of every series, with that series' value; no common day is missing.
        let byDay = series.map { s in Dictionary(uniqueKeysWithValues: zip(s.dates!, s.values)) }
        for (r, d) in dates.enumerated() {
            for f in 0..<4 { #expect(byDay[f][d] == aligned.values[r][f]) }
        }
        let common = byDay.dropFirst().reduce(Set(byDay[0].keys)) { $0.intersection($1.keys) }
        #expect(common.count == dates.count)
        for s in series { #expect(aligned.droppedRows[s.name] == s.values.count - dates.count) }
    }

    @Test("the paper's configuration: window 30, horizon 1, 80/20 split, 20% of train for validation")
    func paperDataset() throws {
        let series = try SeriesPaths.paperFiles.flatMap { try SeriesFile.read(path: SeriesPaths.index($0)) }
        let d = try ForecastDataset.build(series: series, targets: ["S&P_ASX All Australian 200"], window: 30, horizon: 1)
        // 2,302 common dates → 2,301 returns → 2,271 usable targets: 454 test, 363 validation, 1,454 train.
        #expect(d.rows.count == 2301)
        #expect((d.train.count, d.validation.count, d.test.count) == (1454, 363, 454))
        #expect(d.train.inputs.count == 1454 * 30 * 4)
        #expect(d.test.targetRows.last == 2300)
        #expect(d.dates?.last == Day(iso: "2019-12-30"))
        // Normalised training inputs have mean ≈ 0 and std ≈ 1 per feature.
        let trainRows = d.rows[0...d.train.targetRows.last!]
        let refit = FeatureStatistics.fit(trainRows)
        for f in 0..<4 {
            #expect(abs(refit.mean[f]) < 1e-12)
            #expect(abs(refit.std[f] - 1) < 1e-12)
        }
    }

    @Test("parsing the largest file takes a few milliseconds")
    func speed() throws {
        let path = SeriesPaths.index("S&P_ASX All Australian 200 Historical Data.csv")
        let clock = ContinuousClock()
        var best = Duration.seconds(1000)
        for _ in 0..<5 {
            let start = clock.now
            _ = try SeriesFile.read(path: path)
            best = min(best, clock.now - start)
        }
        #expect(best < .milliseconds(100), "best of 5: \(best)")
        print("series: read \(path) (2,622 rows) in \(best) (best of 5)")
    }
}

/// Tests/FlexDataTests/Reference/series_reference.py (Python csv + datetime + statistics) wrote
/// Fixtures/series/series_reference.json from the same four files; the Swift pipeline must agree to 1e-12.
@Suite("series: against the Python reference", .enabled(if: SeriesPaths.indicesAvailable,
                                                          "../shared/data/indices is missing: reference test skipped"))
struct SeriesReferenceTests {
    @Test func againstPython() throws {
        let json = try Data(contentsOf: URL(fileURLWithPath: SeriesPaths.fixture("series_reference.json")))
        let ref = try #require(try JSONSerialization.jsonObject(with: json) as? [String: Any])
        let files = try #require(ref["files"] as? [String])
        #expect(files == SeriesPaths.paperFiles)
        let series = try files.flatMap { try SeriesFile.read(path: SeriesPaths.index($0)) }
        #expect(series.map(\.name) == ref["names"] as? [String])
        #expect(series.map(\.values.count) == ref["rows_per_file"] as? [Int])

        let aligned = try AlignedSeries.align(series)
        #expect(aligned.values.count == ref["aligned_rows"] as? Int)
        #expect(aligned.droppedRows == ref["dropped_rows"] as? [String: Int])
        #expect(aligned.dates?.first?.description == ref["first_date"] as? String)
        #expect(aligned.dates?.last?.description == ref["last_date"] as? String)
        #expect(aligned.values.first == ref["first_prices"] as? [Double])
        #expect(aligned.values.last == ref["last_prices"] as? [Double])

        let returns = try aligned.transformed(.returns)
        let n = returns.values.count
        #expect(n == ref["return_rows"] as? Int)
        func check(_ entries: Any?, rows: Range<Int>) throws {
            let list = try #require(entries as? [[String: Any]])
            #expect(list.count == rows.count)
            for (entry, r) in zip(list, rows) {
                #expect(returns.dates?[r].description == entry["date"] as? String)
                let values = try #require(entry["values"] as? [Double])
                for f in 0..<4 {
                    #expect(seriesIsClose(returns.values[r][f], values[f], relative: 1e-12), "row \(r) feature \(f)")
                }
            }
        }
        try check(ref["first_returns"], rows: 0..<3)
        try check(ref["last_returns"], rows: (n - 3)..<n)

        let k = try #require(ref["statistics_rows"] as? Int)
        #expect(k == Int(0.8 * Double(n)))
        let stats = FeatureStatistics.fit(returns.values[0..<k])
        let mean = try #require(ref["mean"] as? [Double]), std = try #require(ref["std"] as? [Double])
        for f in 0..<4 {
            #expect(seriesIsClose(stats.mean[f], mean[f], relative: 1e-12), "mean \(f): \(stats.mean[f]) vs \(mean[f])")
            #expect(seriesIsClose(stats.std[f], std[f], relative: 1e-12), "std \(f): \(stats.std[f]) vs \(std[f])")
        }
    }
}
