// Reading price series from investing.com exports and plain numeric CSV files.

/// One price series, oldest first.
public struct PriceSeries: Sendable, Equatable {
    /// The series' name: the market for an investing.com export (`FTSE 100`), the column for a numeric CSV.
    public var name: String
    /// The file it was read from, as given.
    public var file: String
    /// One day per value, strictly increasing; nil for a numeric CSV without a date column.
    public var dates: [Day]?
    /// The values, oldest first.
    public var values: [Double]

    public init(name: String, file: String, dates: [Day]?, values: [Double]) {
        self.name = name
        self.file = file
        self.dates = dates
        self.values = values
    }

    public var count: Int { values.count }
}

/// Readers for series files. See docs/data-formats.md, "Series (CSV)".
public enum SeriesFile {
    /// The columns of an investing.com historical-data export, in order.
    public static let investingColumns = ["Date", "Price", "Open", "High", "Low", "Vol.", "Change %"]
    /// Largest CSV file read, in bytes: 256 MiB (decades of daily prices are a few hundred KB).
    public static let maximumFileBytes = 256 << 20
    /// Longest line (record) read, in bytes: 1 MiB. A longer line is refused while it is scanned, so a file that
    /// is one huge header, field or number fails at once instead of being parsed and quoted.
    public static let maximumLineBytes = 1 << 20
    /// Most columns in a file: 4,096 (a file has one series per column; models take a handful).
    public static let maximumColumns = 4_096
    /// Most data rows in a file: 10,000,000 (a century of daily prices is 36,525 rows).
    public static let maximumRows = 10_000_000
    /// Most fields in a file, the header's included: 16,777,216 (2^24; e.g. 4,096 columns × 4,095 rows, or 8
    /// columns of a century of daily prices many times over). Bounds the tokenizer's memory to about 400 MB.
    public static let maximumFields = 1 << 24

    /// Reads the series in the CSV file at `path`, oldest first.
    ///
    /// - An **investing.com export** (a header with both a `Date` and a `Price` column) gives one series: column
    ///   `column` (default `Price`), named `seriesName(forFile: path)`. Only the date and the chosen column are
    ///   interpreted; the other columns (volume with `-`, `K`/`M`/`B`, change in percent) are only counted.
    /// - Any other file is a **plain numeric CSV**: a header of column names, then one series per column
    ///   (named by the header) except a column named `date` (any letter case), which gives the dates. With
    ///   `column`, only that series is returned.
    ///
    /// Dates are ISO `2019-12-30` or investing.com's `Dec 30, 2019`. Rows come back oldest first: a file whose
    /// dates decrease (investing.com: newest first) is reversed; dates that neither strictly increase nor strictly
    /// decrease, and duplicate dates, are errors. Numbers follow `parseNumber(_:)`; an empty, malformed,
    /// non-finite or missing (`-`) value in a chosen column is an error naming the line and the column.
    /// The file may start with a UTF-8 byte-order mark and may end lines with CRLF, LF or bare CR.
    ///
    /// - Throws: `DataError` naming the file, the line and what was expected versus found.
    public static func read(path: String, column: String? = nil) throws(DataError) -> [PriceSeries] {
        let bytes = try CSVReader.readFile(path, maxBytes: maximumFileBytes)
        return try parse(bytes: bytes, file: path, column: column)
    }

    /// `read(path:column:)` on bytes already in memory (`file` names them in errors).
    public static func parse(bytes: [UInt8], file: String, column: String? = nil) throws(DataError) -> [PriceSeries] {
        let start = try CSVReader.checkText(bytes, file: file)
        let table = try CSVReader.tokenize(bytes, start: start, file: file)
        guard table.recordCount > 0 else {
            throw DataError(file: file, message: "the file has only empty lines; expected a CSV file with a header line")
        }
        let header = try readHeader(table, file: file)
        let headerLine = table.recordLine[0]
        guard table.recordCount > 1 else {
            throw DataError(file: file, position: "line \(headerLine)",
                            message: "the file has a header (\(MessageText.list(header, quote: false))) but no data rows")
        }

        // The layout: which column holds dates, which columns become series and under which names.
        let dateColumn: Int?
        var chosen: [(column: Int, name: String)] = []
        if let d = header.firstIndex(of: "Date"), let price = header.firstIndex(of: "Price") {
            dateColumn = d
            let c: Int
            if let column {
                c = try lookUp(column, in: header, dateColumn: d, file: file)
            } else {
                c = price
            }
            chosen = [(c, seriesName(forFile: file))]
        } else {
            dateColumn = header.firstIndex { $0.lowercased() == "date" }
            if let column {
                chosen = [(try lookUp(column, in: header, dateColumn: dateColumn, file: file), "")]
                chosen[0].name = header[chosen[0].column]
            } else {
                chosen = header.indices.filter { $0 != dateColumn }.map { ($0, header[$0]) }
            }
            guard !chosen.isEmpty else {
                throw DataError(file: file, position: "line \(headerLine)",
                                message: "the header has only a date column (\(MessageText.quoted(header[dateColumn!]))); expected at least one column of values")
            }
        }

        let rows = table.recordCount - 1
        var dates: [Day] = []
        if dateColumn != nil { dates.reserveCapacity(rows) }
        var values = [[Double]](repeating: [], count: chosen.count)
        for s in values.indices { values[s].reserveCapacity(rows) }

        let fieldList = MessageText.list(header, quote: false)
        let result: DataError? = table.bytes.withUnsafeBufferPointer { p -> DataError? in
            for r in 1..<table.recordCount {
                let line = table.recordLine[r]
                let found = table.fieldCount(r)
                guard found == header.count else {
                    return DataError(file: file, position: "line \(line)",
                                     message: "expected \(header.count) fields (\(fieldList)), found \(found)")
                }
                if let dateColumn {
                    let f = table.field(r, dateColumn)
                    switch Day.classify(UnsafeBufferPointer(rebasing: p[f.start..<f.end])) {
                    case let .day(d): dates.append(d)
                    case .noSuchDay:
                        return DataError(file: file, position: "line \(line)",
                                         message: "column \(MessageText.quoted(header[dateColumn])): no such day \(table.quotedForMessage(f))")
                    case .malformed:
                        return DataError(file: file, position: "line \(line)",
                                         message: "column \(MessageText.quoted(header[dateColumn])): expected a date such as 'Dec 30, 2019' or '2019-12-30', found \(table.quotedForMessage(f))")
                    }
                }
                for (s, (c, _)) in chosen.enumerated() {
                    let f = table.field(r, c)
                    let field = UnsafeBufferPointer(rebasing: p[f.start..<f.end])
                    if !f.escapedQuote, let v = SeriesNumber.parse(field), v.isFinite {
                        values[s].append(v)
                        continue
                    }
                    return valueError(table, f, field, line: line, column: header[c], file: file)
                }
            }
            return nil
        }
        if let result { throw result }

        var reverse = false
        if let dateColumn {
            reverse = try checkOrder(dates, table: table, column: header[dateColumn], file: file)
        }
        if reverse {
            dates.reverse()
            for s in values.indices { values[s].reverse() }
        }
        return chosen.indices.map {
            PriceSeries(name: chosen[$0].name, file: file, dates: dateColumn == nil ? nil : dates, values: values[$0])
        }
    }

    /// The series name for a file: its base name without the extension and without investing.com's
    /// ` Historical Data` suffix. `S&P_ASX All Australian 200 Historical Data.csv` → `S&P_ASX All Australian 200`,
    /// `data/FTSE 100.csv` → `FTSE 100`.
    public static func seriesName(forFile path: String) -> String {
        var name = Substring(path)
        if let slash = name.lastIndex(of: "/") { name = name[name.index(after: slash)...] }
        if let dot = name.lastIndex(of: "."), dot != name.startIndex { name = name[..<dot] }
        for suffix in [" Historical Data", "_Historical_Data", " historical data"] where name.hasSuffix(suffix) {
            name = name.dropLast(suffix.count)
            break
        }
        while name.last == " " { name = name.dropLast() }
        return name.isEmpty ? String(path) : String(name)
    }

    /// Parses a number as investing.com writes it: `7,542.44` → 7542.44, `1.23K` → 1230, `4.5M` → 4.5e6,
    /// `2B` → 2e9, `-0.52%` → −0.52 (the percent sign is dropped: the value stays in percent, as the column
    /// `Change %` says). Also plain numbers (`0.5`, `-3`, `1e-5`). Thousands separators must group three
    /// digits; `-`, empty text and anything else give nil; `inf`/`nan` give non-finite values.
    /// Correctly rounded, locale-independent.
    public static func parseNumber(_ field: Substring) -> Double? {
        var s = String(field)
        return s.withUTF8 { SeriesNumber.parse($0) }
    }

    // MARK: Details

    /// The header's column names (trimmed, unescaped), checked: none empty, none twice, not a data row.
    static func readHeader(_ table: CSVTable, file: String) throws(DataError) -> [String] {
        let line = table.recordLine[0]
        let count = table.fieldCount(0)
        guard count <= maximumColumns else {
            throw DataError(file: file, position: "line \(line)",
                            message: "the header has \(count) columns; at most \(maximumColumns) are read")
        }
        var names: [String] = []
        names.reserveCapacity(count)
        // Name → column, for the duplicate check (a search per column would be quadratic in wide files).
        var seen: [String: Int] = [:]
        seen.reserveCapacity(count)
        for c in 0..<count {
            let f = table.field(0, c)
            let name = table.text(f)
            if name.isEmpty {
                throw DataError(file: file, position: "line \(line)",
                                message: "column \(c + 1) of the header has no name; expected a header line of column names")
            }
            if let first = seen.updateValue(c, forKey: name) {
                throw DataError(file: file, position: "line \(line)",
                                message: "the header names column \(MessageText.quoted(name)) twice (columns \(first + 1) and \(c + 1))")
            }
            if !f.quoted, parseNumber(Substring(name)) != nil || Day(text: name) != nil {
                throw DataError(file: file, position: "line \(line)",
                                message: "expected a header line of column names, found the value \(MessageText.quoted(name)) in column \(c + 1) (add a header such as 'date,AAA,BBB')")
            }
            names.append(name)
        }
        if count == 1, let separator = names[0].unicodeScalars.first(where: { $0 == ";" || $0 == "\t" || $0 == "|" }) {
            throw DataError(file: file, position: "line \(line)",
                            message: "the header is one field \(MessageText.quoted(names[0])); expected comma-separated columns (this file seems to use \(separator == "\t" ? "tabs" : "'\(separator)'"))")
        }
        return names
    }

    /// The index of column `name` (exact, then case-insensitive), which must not be the date column.
    static func lookUp(_ name: String, in header: [String], dateColumn: Int?, file: String) throws(DataError) -> Int {
        let index = header.firstIndex(of: name) ?? header.firstIndex { $0.lowercased() == name.lowercased() }
        guard let index else {
            let available = header.indices.filter { $0 != dateColumn }.map { header[$0] }
            throw DataError(file: file, message: "no column \(MessageText.quoted(name)); the columns of values are \(MessageText.list(available))")
        }
        if index == dateColumn {
            throw DataError(file: file, message: "column \(MessageText.quoted(header[index])) holds the dates; choose a column of values")
        }
        return index
    }

    /// The error for a field that is not a finite number.
    static func valueError(_ table: CSVTable, _ f: CSVField, _ field: UnsafeBufferPointer<UInt8>, line: Int,
                           column: String, file: String) -> DataError {
        let position = "line \(line)"
        let text = table.quotedForMessage(f)
        let column = MessageText.quoted(column)
        if field.isEmpty {
            return DataError(file: file, position: position, message: "column \(column): empty value; expected a number")
        }
        if field.count == 1, field[0] == UInt8(ascii: "-") {
            return DataError(file: file, position: position,
                             message: "column \(column): missing value '-'; every row needs a value in the column read")
        }
        if !f.escapedQuote, let v = SeriesNumber.parse(field), !v.isFinite {
            return DataError(file: file, position: position,
                             message: "column \(column): non-finite value \(text); expected a finite number")
        }
        var hint = ""
        if Day.parse(field) != nil {
            hint = " (a date: name the date column 'date')"
        }
        return DataError(file: file, position: position,
                         message: "column \(column): expected a number such as 7,542.44 or 0.25, found \(text)\(hint)")
    }

    /// Checks that `dates` (in file order) strictly increase or strictly decrease; returns true if they decrease.
    /// The direction is that from the first to the last date.
    static func checkOrder(_ dates: [Day], table: CSVTable, column: String, file: String) throws(DataError) -> Bool {
        guard dates.count > 1 else { return false }
        let decreasing = dates[dates.count - 1] < dates[0]
        for k in 1..<dates.count {
            let a = dates[k - 1], b = dates[k]
            if decreasing ? b < a : a < b { continue }
            let line = table.recordLine[k + 1], previousLine = table.recordLine[k]
            if let earlier = dates[0..<k].firstIndex(of: b) {
                throw DataError(file: file, position: "line \(line)",
                                message: "date \(b) appears twice (lines \(table.recordLine[earlier + 1]) and \(line)); each date may appear once")
            }
            let direction = decreasing ? "decrease (newest first)" : "increase (oldest first)"
            let relation = b < a ? "before" : "after"
            throw DataError(file: file, position: "line \(line)",
                            message: "column \(MessageText.quoted(column)): dates must strictly increase or strictly decrease; this file's dates \(direction) from \(dates[0]) on line \(table.recordLine[1]) to \(dates[dates.count - 1]) on line \(table.recordLine[dates.count]), but \(b) on line \(line) is \(relation) \(a) on line \(previousLine)")
        }
        return decreasing
    }
}
