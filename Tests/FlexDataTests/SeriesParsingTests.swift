import FlexData
import Foundation
import Testing

@Suite("series: days") struct SeriesDayTests {
    @Test func epochAndKnownDays() {
        #expect(Day(year: 1970, month: 1, day: 1).daysSinceEpoch == 0)
        #expect(Day(year: 1969, month: 12, day: 31).daysSinceEpoch == -1)
        #expect(Day(year: 2000, month: 3, day: 1).daysSinceEpoch == 11_017)
        #expect(Day(year: 2019, month: 12, day: 30).daysSinceEpoch == 18_260)
        #expect(Day(year: 2019, month: 12, day: 30).description == "2019-12-30")
        #expect(Day(year: 812, month: 7, day: 4).description == "0812-07-04")
    }

    @Test func roundTripOverManyYears() {
        // Every day from 1600 to 2400 converts to (year, month, day) and back, one day apart each.
        var previous = Day(year: 1599, month: 12, day: 31)
        for d in Day(year: 1600, month: 1, day: 1).daysSinceEpoch...Day(year: 2400, month: 12, day: 31).daysSinceEpoch {
            let day = Day(daysSinceEpoch: d)
            let (y, m, dd) = day.components
            #expect(Day.isValid(year: y, month: m, day: dd))
            #expect(Day(year: y, month: m, day: dd) == day)
            #expect(day.days(since: previous) == 1)
            previous = day
        }
    }

    @Test func weekdaysAndNextWeekday() {
        let monday = Day(year: 2019, month: 12, day: 30)
        #expect(monday.weekday == 1)
        #expect(Day(year: 1970, month: 1, day: 1).weekday == 4)   // a Thursday
        #expect(Day(year: 1969, month: 12, day: 28).weekday == 7) // a Sunday, before the epoch
        let friday = Day(year: 2019, month: 12, day: 27)
        #expect(friday.weekday == 5)
        #expect(friday.nextWeekday == monday)
        #expect(friday.adding(days: 1).nextWeekday == monday)  // Saturday
        #expect(friday.adding(days: 2).nextWeekday == monday)  // Sunday
        #expect(monday.nextWeekday == Day(year: 2019, month: 12, day: 31))
    }

    @Test func parsing() {
        #expect(Day(iso: "2019-12-30") == Day(year: 2019, month: 12, day: 30))
        #expect(Day(iso: "2020-02-29") == Day(year: 2020, month: 2, day: 29))
        #expect(Day(iso: "2019-02-29") == nil)
        #expect(Day(iso: "1900-02-29") == nil)
        #expect(Day(iso: "2000-02-29") != nil)
        #expect(Day(iso: "2019-13-01") == nil)
        #expect(Day(iso: "2019-12-3") == nil)
        #expect(Day(iso: "Dec 30, 2019") == nil)
        #expect(Day(text: "Dec 30, 2019") == Day(year: 2019, month: 12, day: 30))
        #expect(Day(text: "Jan 4, 2010") == Day(year: 2010, month: 1, day: 4))
        #expect(Day(text: "SEP 01, 2015") == Day(year: 2015, month: 9, day: 1))
        #expect(Day(text: "Dec 32, 2019") == nil)
        #expect(Day(text: "Dex 30, 2019") == nil)
        #expect(Day(text: "Dec 30 2019") == nil)
        #expect(Day(text: "2019-12-30") == Day(year: 2019, month: 12, day: 30))
    }
}

@Suite("series: numbers and names") struct SeriesNumberTests {
    @Test("investing.com numbers", arguments: [
        ("7,542.44", 7542.44), ("12,345,678.5", 12_345_678.5), ("51,885", 51885), ("0.25", 0.25), ("-3", -3),
        ("+2.5", 2.5), (".5", 0.5), ("5.", 5), ("1e-5", 1e-5), ("2.5E+3", 2500),
        ("1.23K", 1230), ("4.5M", 4_500_000), ("2B", 2_000_000_000), ("2.23B", 2_230_000_000), ("6.32K", 6320),
        ("1.5T", 1.5e12), ("-0.52%", -0.52), ("0.00%", 0), ("1128.41%", 1128.41),
        ("0.1", 0.1),
    ])
    func number(_ text: String, _ expected: Double) {
        #expect(SeriesFile.parseNumber(Substring(text)) == expected, "\(text)")
    }

    @Test("correctly rounded like the standard library", arguments: [
        "7542.44", "0.0052", "2197.67", "9007199254740993", "1.7976931348623157e308", "4.9e-324", "0.1e-22",
        "123.456e-20", "98765432109876543210.5", "123456789012345678901234567890", "0.000000000000000000000000123", "-0.52",
    ])
    func rounding(_ text: String) {
        #expect(SeriesFile.parseNumber(Substring(text)) == Double(text), "\(text)")
    }

    @Test("not numbers", arguments: ["", "-", "+", ".", "abc", "1,23", "12,34.5", "1234,567", ",123", "1.2.3", "1e", "1e5K",
                                     "1.5k", "1.5X", " 1", "1 ", "1%%", "1,000,00", "--1", "0x10", "1_000"])
    func notNumbers(_ text: String) {
        #expect(SeriesFile.parseNumber(Substring(text)) == nil, "\(text)")
    }

    @Test func nonFiniteSpellings() {
        #expect(SeriesFile.parseNumber("inf") == .infinity)
        #expect(SeriesFile.parseNumber("-Infinity") == -.infinity)
        #expect(SeriesFile.parseNumber("NaN")?.isNaN == true)
        #expect(SeriesFile.parseNumber("1e999") == .infinity)
    }

    @Test func seriesNames() {
        #expect(SeriesFile.seriesName(forFile: "S&P_ASX All Australian 200 Historical Data.csv") == "S&P_ASX All Australian 200")
        #expect(SeriesFile.seriesName(forFile: "../shared/data/indices/FTSE 100.csv") == "FTSE 100")
        #expect(SeriesFile.seriesName(forFile: "/data/KOSPI Historical Data.CSV") == "KOSPI")
        #expect(SeriesFile.seriesName(forFile: "prices") == "prices")
        #expect(SeriesFile.seriesName(forFile: "dir.v2/prices") == "prices")
    }
}

@Suite("series: reading files (every quirk)") struct SeriesReadTests {
    @Test("BOM, unquoted header, bare CR line ends, newest first → reversed")
    func ftseHead() throws {
        let path = SeriesPaths.fixture("FTSE 100.csv")
        let series = try SeriesFile.read(path: path)
        #expect(series.count == 1)
        let s = series[0]
        #expect(s.name == "FTSE 100")
        #expect(s.file == path)
        #expect(s.values.count == 60)
        let dates = try #require(s.dates)
        #expect(dates.first == Day(year: 2019, month: 10, day: 7))
        #expect(dates.last == Day(year: 2019, month: 12, day: 31))
        #expect(zip(dates, dates.dropFirst()).allSatisfy { $0 < $1 })
        #expect(s.values.first == 7197.88)
        #expect(s.values.last == 7542.44)
        // Other columns on request; the volume column has M suffixes.
        let volume = try SeriesFile.read(path: path, column: "Vol.")[0]
        #expect(volume.values.last == 212.14e6)
        let open = try SeriesFile.read(path: path, column: "open")[0]   // case-insensitive fallback
        #expect(open.values.last == 7587.05)
        #expect(open.name == "FTSE 100")
    }

    @Test("BOM, quoted header, CRLF line ends")
    func kospiHead() throws {
        let s = try SeriesFile.read(path: SeriesPaths.fixture("KOSPI Historical Data.csv"))[0]
        #expect(s.name == "KOSPI")
        #expect(s.values.count == 60)
        #expect(s.dates?.first == Day(year: 2019, month: 10, day: 4))
        #expect(s.dates?.last == Day(year: 2019, month: 12, day: 30))
        #expect(s.values.first == 2020.69)
        #expect(s.values.last == 2197.67)
        let change = try SeriesFile.read(path: SeriesPaths.fixture("KOSPI Historical Data.csv"), column: "Change %")[0]
        #expect(change.values.last == -0.30)
    }

    @Test("LF line ends, no BOM, oldest first (kept), K/M/B volumes, '-' in another column ignored")
    func handMade() throws {
        let path = SeriesPaths.fixture("lf-oldest-first.csv")
        let s = try SeriesFile.read(path: path)[0]
        #expect(s.name == "lf-oldest-first")
        #expect(s.dates == [Day(year: 2020, month: 1, day: 2), Day(year: 2020, month: 1, day: 3),
                            Day(year: 2020, month: 1, day: 6), Day(year: 2020, month: 1, day: 7)])
        #expect(s.values == [1000.50, 1010.25, 1005.00, 12345.67])
        #expect(try SeriesFile.read(path: path, column: "Change %")[0].values == [0.10, 0.97, -0.52, 1128.41])
        // The volume column itself has a '-' on line 5: reading it is an error there.
        expectSeriesError(file: path, position: "line 5",
                        "column 'Vol.': missing value '-'; every row needs a value in the column read") {
            _ = try SeriesFile.read(path: path, column: "Vol.")
        }
    }

    @Test("the same file with LF, CRLF and bare CR line ends, with and without BOM, gives the same series")
    func lineEndings() throws {
        let path = SeriesPaths.fixture("lf-oldest-first.csv")
        let lf = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        #expect(!lf.contains(UInt8(ascii: "\r")))
        let reference = try SeriesFile.parse(bytes: lf, file: "x.csv")
        func replacing(_ ending: [UInt8]) -> [UInt8] {
            lf.flatMap { $0 == UInt8(ascii: "\n") ? ending : [$0] }
        }
        let bom: [UInt8] = [0xEF, 0xBB, 0xBF]
        for variant in [replacing([13, 10]), replacing([13]), bom + lf, bom + replacing([13]),
                        Array(lf.dropLast()), lf + [10, 10, 13, 10]] {
            #expect(try SeriesFile.parse(bytes: variant, file: "x.csv") == reference)
        }
    }

    @Test("plain numeric CSV with an ISO date column: one series per column")
    func numericWithDates() throws {
        let path = SeriesPaths.fixture("numeric-dates.csv")
        let series = try SeriesFile.read(path: path)
        #expect(series.map(\.name) == ["AAA", "BBB"])
        #expect(series[0].values == [1.5, 1.25, 2, 2.5])
        #expect(series[1].values == [100, 101, 99.5, 98])
        #expect(series[0].dates == [Day(iso: "2020-01-02")!, Day(iso: "2020-01-03")!, Day(iso: "2020-01-06")!,
                                    Day(iso: "2020-01-07")!])
        #expect(series[1].dates == series[0].dates)
        let only = try SeriesFile.read(path: path, column: "BBB")
        #expect(only.map(\.name) == ["BBB"])
        expectSeriesError(file: path, position: "", "column 'date' holds the dates; choose a column of values") {
            _ = try SeriesFile.read(path: path, column: "date")
        }
    }

    @Test("plain numeric CSV without a date column (CRLF)")
    func numericWithoutDates() throws {
        let series = try SeriesFile.read(path: SeriesPaths.fixture("numeric-nodate.csv"))
        #expect(series.map(\.name) == ["AAA", "BBB"])
        #expect(series.allSatisfy { $0.dates == nil })
        #expect(series[0].values == [1.5, 1.25, 2])
        #expect(series[1].values == [100, 101, 99.5])
    }

    @Test("quoted header names with commas, escaped quotes and spaces around fields")
    func quoting() throws {
        let text = "date , \"Index, \"\"A\"\"\" ,B\n 2020-01-03 ,\"1,234.5\", 2 \n2020-01-02,  7 ,3\n"
        let series = try SeriesFile.parse(bytes: Array(text.utf8), file: "q.csv")
        #expect(series.map(\.name) == ["Index, \"A\"", "B"])
        #expect(series[0].values == [7, 1234.5])
        #expect(series[1].values == [3, 2])
        #expect(series[0].dates == [Day(iso: "2020-01-02")!, Day(iso: "2020-01-03")!])
    }

    @Test("parsing a 2,500-line file takes milliseconds")
    func speed() throws {
        let text = (0..<2500).map { i in
            let d = Day(year: 2010, month: 1, day: 1).adding(days: 2500 - i)
            return "\"\(["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"][d.month - 1]) \(d.day < 10 ? "0" : "")\(d.day), \(d.year)\",\"7,5\(i % 10)2.44\",\"7,587.05\",\"7,587.41\",\"7,532.38\",212.14M,-0.59%"
        }
        let bytes = Array(("\u{FEFF}Date,Price,Open,High,Low,Vol.,Change %\r\n" + text.joined(separator: "\r\n")).utf8)
        let clock = ContinuousClock()
        var best = Duration.seconds(1000)
        for _ in 0..<5 {
            let start = clock.now
            let s = try SeriesFile.parse(bytes: bytes, file: "speed.csv")
            best = min(best, clock.now - start)
            #expect(s[0].values.count == 2500)
        }
        // A few ms in release builds; the bound leaves room for debug builds on a busy machine.
        #expect(best < .milliseconds(100), "best of 5: \(best)")
        print("series: parsed 2,500 lines in \(best) (best of 5)")
    }
}
