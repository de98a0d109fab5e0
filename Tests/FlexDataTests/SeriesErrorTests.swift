import FlexData
import FlexRuntime
import Foundation
import Testing

/// Every bad input: one error naming the file, the line (or byte) and what was expected versus found.
@Suite("series: bad files") struct SeriesErrorTests {
    static let fields = "expected 7 fields (Date, Price, Open, High, Low, Vol., Change %)"

    func read(_ name: String, column: String? = nil) -> (path: String, run: () throws -> Void) {
        let path = SeriesPaths.fixture(name)
        return (path, { _ = try SeriesFile.read(path: path, column: column) })
    }

    @Test func missingFile() {
        let (path, run) = read("absent.csv")
        expectSeriesError(file: path, position: "", "no such file", run)
    }

    @Test func directory() {
        let path = SeriesPaths.fixture("")
        expectSeriesError(file: path, position: "", "is a folder, expected a regular file") {
            _ = try SeriesFile.read(path: path)
        }
    }

    @Test func emptyFile() {
        let (path, run) = read("empty.csv")
        expectSeriesError(file: path, position: "", "the file is empty (0 bytes); expected a CSV file with a header line", run)
    }

    @Test func byteOrderMarkOnly() {
        let (path, run) = read("bom-only.csv")
        expectSeriesError(file: path, position: "",
                        "the file is empty (only a UTF-8 byte-order mark); expected a CSV file with a header line", run)
    }

    @Test func onlyEmptyLines() {
        expectSeriesError(file: "blank.csv", position: "",
                        "the file has only empty lines; expected a CSV file with a header line") {
            _ = try SeriesFile.parse(bytes: Array("\r\n\n\r".utf8), file: "blank.csv")
        }
    }

    @Test func headerOnly() {
        let (path, run) = read("header-only.csv")
        expectSeriesError(file: path, position: "line 1",
                        "the file has a header (Date, Price, Open, High, Low, Vol., Change %) but no data rows", run)
    }

    @Test func binaryFile() {
        let (path, run) = read("binary.csv")
        expectSeriesError(file: path, position: "byte 8",
                        "not a text file: found a NUL byte (0x00, binary data) on line 3; expected a CSV text file", run)
    }

    @Test func gzipFile() {
        let (path, run) = read("compressed.csv")
        expectSeriesError(file: path, position: "",
                        "is gzip-compressed; expected a CSV text file (decompress it first, e.g. with gunzip)", run)
    }

    @Test func utf16File() {
        let (path, run) = read("utf16.csv")
        expectSeriesError(file: path, position: "",
                        "is UTF-16 text (byte-order mark 0xFF 0xFE); expected UTF-8 (save it as UTF-8 CSV)", run)
    }

    @Test func latin1File() {
        let (path, run) = read("latin1.csv")
        expectSeriesError(file: path, position: "line 1",
                        "not UTF-8 text: invalid byte 0xE9 at byte 7; expected a UTF-8 CSV file", run)
    }

    @Test func semicolonSeparated() {
        let (path, run) = read("semicolon.csv")
        expectSeriesError(file: path, position: "line 1",
                        "the header is one field 'date;AAA;BBB'; expected comma-separated columns (this file seems to use ';')", run)
    }

    @Test func noHeader() {
        let (path, run) = read("no-header.csv")
        expectSeriesError(file: path, position: "line 1",
                        "expected a header line of column names, found the value '2020-01-02' in column 1 (add a header such as 'date,AAA,BBB')", run)
    }

    @Test func duplicateColumn() {
        let (path, run) = read("duplicate-column.csv")
        expectSeriesError(file: path, position: "line 1", "the header names column 'AAA' twice (columns 2 and 3)", run)
    }

    @Test func emptyColumnName() {
        expectSeriesError(file: "e.csv", position: "line 1",
                        "column 2 of the header has no name; expected a header line of column names") {
            _ = try SeriesFile.parse(bytes: Array("date,,B\n2020-01-02,1,2\n".utf8), file: "e.csv")
        }
    }

    @Test func unknownColumn() {
        let (path, run) = read("lf-oldest-first.csv", column: "Close")
        expectSeriesError(file: path, position: "",
                        "no column 'Close'; the columns of values are 'Price', 'Open', 'High', 'Low', 'Vol.', 'Change %'", run)
    }

    @Test func wrongFieldCount() {
        let (path, run) = read("wrong-field-count.csv")
        expectSeriesError(file: path, position: "line 3", "\(Self.fields), found 5", run)
    }

    @Test func missingValueInChosenColumn() {
        let (path, run) = read("missing-price.csv")
        expectSeriesError(file: path, position: "line 3",
                        "column 'Price': missing value '-'; every row needs a value in the column read", run)
    }

    @Test func malformedNumber() {
        let (path, run) = read("malformed-number.csv")
        expectSeriesError(file: path, position: "line 3",
                        "column 'Price': expected a number such as 7,542.44 or 0.25, found '1,00.50'", run)
    }

    @Test func emptyValue() {
        let (path, run) = read("empty-value.csv")
        expectSeriesError(file: path, position: "line 3", "column 'AAA': empty value; expected a number", run)
    }

    @Test func nonFiniteValue() {
        let (path, run) = read("nonfinite.csv")
        expectSeriesError(file: path, position: "line 4", "column 'BBB': non-finite value 'inf'; expected a finite number", run)
    }

    @Test func overflowingValue() {
        expectSeriesError(file: "o.csv", position: "line 2", "column 'A': non-finite value '1e999'; expected a finite number") {
            _ = try SeriesFile.parse(bytes: Array("A\n1e999\n".utf8), file: "o.csv")
        }
    }

    @Test func dateInAValueColumn() {
        expectSeriesError(file: "t.csv", position: "line 2",
                        "column 'time': expected a number such as 7,542.44 or 0.25, found '2020-01-02' (a date: name the date column 'date')") {
            _ = try SeriesFile.parse(bytes: Array("time,A\n2020-01-02,1\n".utf8), file: "t.csv")
        }
    }

    @Test func noSuchDay() {
        let (path, run) = read("no-such-day.csv")
        expectSeriesError(file: path, position: "line 3", "column 'Date': no such day 'Feb 29, 2019'", run)
    }

    @Test func malformedDate() {
        let (path, run) = read("malformed-date.csv")
        expectSeriesError(file: path, position: "line 3",
                        "column 'date': expected a date such as 'Dec 30, 2019' or '2019-12-30', found '02/01/2020'", run)
    }

    @Test func duplicateDate() {
        let (path, run) = read("duplicate-date.csv")
        expectSeriesError(file: path, position: "line 4",
                        "date 2020-01-03 appears twice (lines 3 and 4); each date may appear once", run)
    }

    @Test func duplicateDateFarApart() {
        let text = "date,A\n2020-01-02,1\n2020-01-03,2\n2020-01-06,3\n2020-01-03,4\n"
        expectSeriesError(file: "d.csv", position: "line 5", "date 2020-01-03 appears twice (lines 3 and 5); each date may appear once") {
            _ = try SeriesFile.parse(bytes: Array(text.utf8), file: "d.csv")
        }
    }

    @Test func unorderedDates() {
        let (path, run) = read("unordered-dates.csv")
        expectSeriesError(file: path, position: "line 4",
                        "column 'Date': dates must strictly increase or strictly decrease; this file's dates decrease (newest first) from 2020-01-07 on line 2 to 2020-01-02 on line 5, but 2020-01-06 on line 4 is after 2020-01-03 on line 3", run)
    }

    @Test func unclosedQuote() {
        let (path, run) = read("unclosed-quote.csv")
        expectSeriesError(file: path, position: "line 3", "field 2: the quote opened here is never closed", run)
    }

    @Test func textAfterClosingQuote() {
        let (path, run) = read("text-after-quote.csv")
        expectSeriesError(file: path, position: "line 3",
                        "field 2: unexpected character '0' after the closing quote; expected a comma or the end of the line", run)
    }

    @Test func quoteInsideUnquotedField() {
        let (path, run) = read("stray-quote.csv")
        expectSeriesError(file: path, position: "line 3",
                        "field 2: a quote inside an unquoted field; quote the whole field (\"...\") and double any quote in it", run)
    }

    @Test func nonPositivePriceForReturns() throws {
        let path = SeriesPaths.fixture("zero-price.csv")
        let aligned = try AlignedSeries.align(try SeriesFile.read(path: path))
        expectSeriesError(file: path, position: "date 2020-01-03",
                        "series 'AAA': the returns transform needs positive prices, found 0.0") {
            _ = try aligned.transformed(.returns)
        }
        expectSeriesError(file: path, position: "date 2020-01-03",
                        "series 'AAA': the log_returns transform needs positive prices, found 0.0") {
            _ = try aligned.transformed(.logReturns)
        }
        #expect(try aligned.transformed(.none) == aligned)
    }

    /// Transforms are an enum now (an unknown name cannot reach the pipeline); what checkpoints store and
    /// `--transform` takes are its raw values, which must stay as they were.
    @Test func transformNamesAreTheStoredOnes() throws {
        #expect(SeriesTransform.allCases.map(\.rawValue) == ["returns", "log_returns", "none"])
        #expect(SeriesTransform.names == "returns, log_returns, none")
        let json = #"{"features":["A"],"targets":["A"],"window":3,"horizon":1,"transform":"diff","normalization":{"mean":[0],"std":[1]}}"#
        #expect {
            _ = try JSONDecoder().decode(SeriesInputSpec.self, from: Data(json.utf8))
        } throws: { error in
            "\(error)".contains("must be one of returns, log_returns, none, found \"diff\"")
        }
        let good = try JSONDecoder().decode(SeriesInputSpec.self, from: Data(json.replacingOccurrences(of: "diff", with: "log_returns").utf8))
        #expect(good.transform == .logReturns)
        #expect(String(decoding: try JSONEncoder().encode(good), as: UTF8.self).contains(#""transform":"log_returns""#))
    }
}
