@testable import FlexData
import Foundation
import FlexRuntime
import Testing

/// Hostile CSV files: sizes that used to take minutes (quadratic work over columns, huge lines) and content that
/// used to be echoed at length in messages. Each input is built here, small enough to keep the tests fast but
/// large enough that the old quadratic code or a missing limit shows.
@Suite("series: limits and quoted content") struct SeriesLimitTests {
    /// Seconds spent in `body`.
    func seconds(_ body: () throws -> Void) rethrows -> Double {
        let start = MonotonicClock.seconds()
        try body()
        return MonotonicClock.seconds(since: start)
    }

    /// A plain numeric CSV with `columns` value columns and `rows` rows.
    func wideCSV(columns: Int, rows: Int) -> [UInt8] {
        var text = "date," + (1...columns).map { "c\($0)" }.joined(separator: ",") + "\n"
        for r in 0..<rows {
            text += "2020-01-0\(r + 1)," + (1...columns).map { String($0 % 97 + r) }.joined(separator: ",") + "\n"
        }
        return Array(text.utf8)
    }

    @Test("4,096 columns (the limit) are read in linear time; the duplicate check is not a search per column")
    func wideFileAtTheLimit() throws {
        let bytes = wideCSV(columns: SeriesFile.maximumColumns - 1, rows: 3)
        var series: [PriceSeries] = []
        // The old duplicate check (a search of all earlier names per column) took about 1 s here in a debug
        // build; the Dictionary makes it a few milliseconds. Generous bound for a loaded machine.
        let t = try seconds { series = try SeriesFile.parse(bytes: bytes, file: "wide.csv") }
        #expect(series.count == SeriesFile.maximumColumns - 1)
        #expect(series[4094].name == "c4095")
        #expect(series[4094].values == [Double(4095 % 97), Double(4095 % 97 + 1), Double(4095 % 97 + 2)])
        #expect(t < 5, "\(t) s for 4,095 columns")
    }

    @Test("more columns than the limit: one error naming line 1, the count and the limit")
    func tooManyColumns() {
        let header = (1...(SeriesFile.maximumColumns + 1)).map { "c\($0)" }.joined(separator: ",")
        expectSeriesError(file: "wide.csv", position: "line 1", "the header has 4097 columns; at most 4096 are read") {
            _ = try SeriesFile.parse(bytes: Array((header + "\n" + header.replacingOccurrences(of: "c", with: "")).utf8),
                                     file: "wide.csv")
        }
    }

    @Test("a duplicate column name among thousands is still found, naming both columns")
    func duplicateAmongMany() {
        var names = (1...3000).map { "c\($0)" }
        names[2999] = "c17"
        let text = names.joined(separator: ",") + "\n" + (1...3000).map(String.init).joined(separator: ",") + "\n"
        expectSeriesError(file: "dup.csv", position: "line 1", "the header names column 'c17' twice (columns 17 and 3000)") {
            _ = try SeriesFile.parse(bytes: Array(text.utf8), file: "dup.csv")
        }
    }

    @Test("a line over 1 MiB is refused while scanning, and the message quotes none of it")
    func longLines() {
        let limit = SeriesFile.maximumLineBytes
        #expect(limit == 1 << 20)
        let message = "the line is longer than 1048576 bytes (the limit for one line, or one record with quoted line breaks); expected a CSV file of short lines"
        // A file of one letter repeated, no line break: used to take minutes and print the whole file.
        let noNewline = [UInt8](repeating: UInt8(ascii: "A"), count: 3 * limit)
        let t = seconds {
            expectSeriesError(file: "nonl.csv", position: "line 1", message) {
                _ = try SeriesFile.parse(bytes: noNewline, file: "nonl.csv")
            }
        }
        #expect(t < 5, "\(t) s")
        // A huge number on line 2.
        let number = Array("Date,Price\n2020-01-02,".utf8) + [UInt8](repeating: UInt8(ascii: "9"), count: limit + 10) + [10]
        expectSeriesError(file: "long.csv", position: "line 2", message) {
            _ = try SeriesFile.parse(bytes: number, file: "long.csv")
        }
        // A quoted field that never ends within the limit (line breaks inside quotes do not reset it).
        let quoted = Array("a,b\n1,\"".utf8) + Array(String(repeating: "x\n", count: limit / 2 + 1).utf8) + Array("\"\n".utf8)
        expectSeriesError(file: "q.csv", position: "line 2", message) {
            _ = try SeriesFile.parse(bytes: quoted, file: "q.csv")
        }
        // Spaces only.
        let spaces = Array("a,b\n1,".utf8) + [UInt8](repeating: UInt8(ascii: " "), count: limit + 1)
        expectSeriesError(file: "s.csv", position: "line 2", message) {
            _ = try SeriesFile.parse(bytes: spaces, file: "s.csv")
        }
    }

    @Test("a line of exactly 1 MiB is still read")
    func lineAtTheLimit() throws {
        let limit = SeriesFile.maximumLineBytes
        let name = String(repeating: "n", count: limit - 2)   // "a," + name = limit bytes
        let text = "a," + name + "\r\n1,2\n"
        let series = try SeriesFile.parse(bytes: Array(text.utf8), file: "edge.csv")
        #expect(series.map(\.values) == [[1], [2]])
        #expect(series[1].name.utf8.count == limit - 2)
    }

    @Test("a header without data rows quotes at most 60 characters of each name")
    func headerWithoutRowsIsShort() {
        let name = String(repeating: "A", count: 100_000)
        let shown = String(repeating: "A", count: 60) + "…"
        expectSeriesError(file: "h.csv", position: "line 1", "the file has a header (\(shown)) but no data rows") {
            _ = try SeriesFile.parse(bytes: Array(name.utf8), file: "h.csv")
        }
    }

    @Test("fields and column names from another file are quoted short, control characters escaped")
    func foreignContentIsShort() {
        // /etc/passwd read as a series: the header and the first row are single long fields.
        let passwd = "root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin-with-a-long-shell-path\n"
        expectSeriesError(file: "/etc/passwd", position: "line 2",
                          "column 'root:x:0:0:root:/root:/bin/bash': expected a number such as 7,542.44 or 0.25, found 'daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin-with-a-long-…'") {
            _ = try SeriesFile.parse(bytes: Array(passwd.utf8), file: "/etc/passwd")
        }
        // A long column name and a long value, with an escape sequence and a quoted line break.
        let longName = "\u{1B}[2J" + String(repeating: "k", count: 200)
        let text = "date,\"\(longName)\"\n2020-01-02,\"12\nx\(String(repeating: "y", count: 300))\"\n"
        let shownName = "'\\u{1B}[2J" + String(repeating: "k", count: 56) + "…'"
        expectSeriesError(file: "c.csv", position: "line 2",
                          "column \(shownName): expected a number such as 7,542.44 or 0.25, found '12\\nx\(String(repeating: "y", count: 56))…'") {
            _ = try SeriesFile.parse(bytes: Array(text.utf8), file: "c.csv")
        }
        // Doubled quotes are shown once and never cut in half.
        let escaped = "a\n\"" + String(repeating: "\"\"", count: 100) + "\"\n"
        expectSeriesError(file: "e.csv", position: "line 2",
                          "column 'a': expected a number such as 7,542.44 or 0.25, found '\(String(repeating: "\"", count: 60))…'") {
            _ = try SeriesFile.parse(bytes: Array(escaped.utf8), file: "e.csv")
        }
        // Unknown column: the request and the list of columns are short too.
        let many = (1...20).map { "col\($0)" }.joined(separator: ",") + "\n" + (1...20).map(String.init).joined(separator: ",")
        expectSeriesError(file: "m.csv", position: "",
                          "no column '\(String(repeating: "z", count: 60))…'; the columns of values are 'col1', 'col2', 'col3', 'col4', 'col5', 'col6', 'col7', 'col8', 'col9', 'col10', … (20 in all)") {
            _ = try SeriesFile.parse(bytes: Array(many.utf8), file: "m.csv", column: String(repeating: "z", count: 500))
        }
    }

    @Test("a message about many series lists ten of them, then how many there are")
    func manySeriesListed() {
        // Twelve series, each on its own day: no common date.
        let series = (0..<12).map { k in
            PriceSeries(name: "s\(k)", file: "f.csv", dates: [Day(year: 2020, month: 1, day: k + 1)], values: [1])
        }
        let ranges = (0..<10).map { "'s\($0)' 2020-01-\(String(format: "%02d", $0 + 1))…2020-01-\(String(format: "%02d", $0 + 1))" }
        // The file is named once, not once per series.
        expectSeriesError(file: "f.csv", position: "",
                          "the series have no date in common (\(ranges.joined(separator: ", ")), … (12 in all))") {
            _ = try AlignedSeries.align(series)
        }
    }

    @Test("MessageText: short text unchanged, long text cut at 60 characters, controls escaped")
    func messageText() {
        #expect(MessageText.quoted("FTSE 100") == "'FTSE 100'")
        #expect(MessageText.quoted(String(repeating: "é", count: 60)) == "'" + String(repeating: "é", count: 60) + "'")
        #expect(MessageText.quoted(String(repeating: "é", count: 61)) == "'" + String(repeating: "é", count: 60) + "…'")
        #expect(MessageText.shortened("a\tb\rc\u{7F}\u{0}") == "a\\tb\\rc\\u{7F}\\u{0}")
        #expect(MessageText.list(["a", "b"], quote: false) == "a, b")
    }

    @Test("too many fields in all: refused while tokenizing, at the first field beyond the limit")
    func fieldLimit() throws {
        #expect(SeriesFile.maximumFields == 1 << 24)
        // A small limit: 6 fields pass (with a trailing line break and empty lines), a seventh is refused.
        let six = Array("a,b\n1,2\n3,4\n\n".utf8)
        #expect(try CSVReader.tokenize(six, start: 0, file: "f.csv", maximumFields: 6).fields.count == 6)
        do {
            _ = try CSVReader.tokenize(six + Array("5,6\n".utf8), start: 0, file: "f.csv", maximumFields: 6)
            Issue.record("no error for 8 fields with a limit of 6")
        } catch {
            #expect(error == DataError(file: "f.csv", position: "line 5",
                                       message: "the file has more than 6 fields (rows × columns); at most 6 are read"))
        }
    }

    @Test("too many rows: refused while tokenizing, naming the first line beyond the limit")
    func rowLimit() throws {
        #expect(SeriesFile.maximumRows == 10_000_000)
        // The same check with a small limit (10 million rows would make a slow test): header + 3 rows pass,
        // a fourth row (line 6, after an empty line) is refused before its fields are stored.
        let text = "a\n1\n2\n3\n\n4\n"
        let bytes = Array(text.utf8)
        let table = try CSVReader.tokenize(Array("a\n1\n2\n3\n".utf8), start: 0, file: "r.csv", maximumRecords: 4)
        #expect(table.recordCount == 4)
        do {
            _ = try CSVReader.tokenize(bytes, start: 0, file: "r.csv", maximumRecords: 4)
            Issue.record("no error for 4 data rows with a limit of 3")
        } catch {
            #expect(error == DataError(file: "r.csv", position: "line 6", message: "the file has more than 3 data rows; at most 3 are read"))
        }
    }
}
