// Several series on common rows: date alignment (inner join) and the returns transforms.

import FlexRuntime

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Several series on common rows, oldest first: `values[row][feature]`, feature `f` being series `names[f]`.
public struct AlignedSeries: Sendable, Equatable {
    /// The series' names, one per feature, in the order given to `align`.
    public var names: [String]
    /// The file each series came from (for messages).
    public var files: [String]
    /// One day per row, strictly increasing; nil when the inputs had no dates.
    public var dates: [Day]?
    /// `values[row][feature]`.
    public var values: [[Double]]
    /// Per series name, how many of its rows `align` dropped (days on which another series has no value).
    public var droppedRows: [String: Int]

    public init(names: [String], files: [String], dates: [Day]?, values: [[Double]], droppedRows: [String: Int] = [:]) {
        self.names = names
        self.files = files
        self.dates = dates
        self.values = values
        self.droppedRows = droppedRows
    }

    /// Number of rows.
    public var count: Int { values.count }

    /// Puts `series` on common rows.
    ///
    /// **Alignment rule (inner join on dates):** a row is kept only for a day on which every series has a value;
    /// a day on which any market is closed (holiday, different trading calendar) is dropped for all series.
    /// The result is ordered by date, strictly increasing; `droppedRows[name]` counts each series' dropped rows.
    /// Series without dates must all have the same length and are aligned row by row (nothing dropped).
    ///
    /// - Throws: `DataError` for no series, a series with no rows, names used twice (naming both files), dated
    ///   and undated series mixed, undated series of different lengths, dates not strictly increasing or as many
    ///   as the values, a non-finite value, or no day common to all series.
    public static func align(_ series: [PriceSeries]) throws(DataError) -> AlignedSeries {
        guard let first = series.first else {
            throw DataError(file: "(no files)", message: "no series to align; give at least one series")
        }
        var seen: [String: String] = [:]
        for s in series {
            if let other = seen[s.name] {
                throw DataError(file: s.file, message: "series name \(MessageText.quoted(s.name)) is also the name of a series from '\(other)'; names must be unique (rename one of the files or columns)")
            }
            seen[s.name] = s.file
            guard !s.values.isEmpty else { throw DataError(file: s.file, message: "series \(MessageText.quoted(s.name)) has no rows") }
            if let row = s.values.firstIndex(where: { !$0.isFinite }) {
                let at = s.dates.map { "date \($0[row])" } ?? "row \(row + 1)"
                throw DataError(file: s.file, position: at, message: "series \(MessageText.quoted(s.name)): non-finite value \(s.values[row])")
            }
            if let dates = s.dates {
                guard dates.count == s.values.count else {
                    throw DataError(file: s.file, message: "series \(MessageText.quoted(s.name)) has \(dates.count) dates but \(s.values.count) values")
                }
                for k in dates.indices.dropFirst() where !(dates[k - 1] < dates[k]) {
                    throw DataError(file: s.file, position: "date \(dates[k])",
                                    message: "series \(MessageText.quoted(s.name)): dates must strictly increase (oldest first); \(dates[k]) (row \(k + 1)) follows \(dates[k - 1])")
                }
            }
            if (s.dates == nil) != (first.dates == nil) {
                let (dated, undated) = s.dates == nil ? (first, s) : (s, first)
                throw DataError(file: undated.file, message: "series \(MessageText.quoted(undated.name)) has no dates but series \(MessageText.quoted(dated.name)) from '\(dated.file)' has; series with and without dates cannot be aligned")
            }
        }
        let names = series.map(\.name), files = series.map(\.file)

        guard first.dates != nil else {
            for s in series where s.values.count != first.values.count {
                throw DataError(file: s.file, message: "series \(MessageText.quoted(s.name)) has \(s.values.count) rows but \(MessageText.quoted(first.name)) from '\(first.file)' has \(first.values.count); series without dates are aligned by row and must have the same length")
            }
            let values = (0..<first.values.count).map { r in series.map { $0.values[r] } }
            return AlignedSeries(names: names, files: files, dates: nil, values: values,
                                 droppedRows: Dictionary(uniqueKeysWithValues: names.map { ($0, 0) }))
        }

        // Inner join: a k-way merge of the sorted date lists.
        var cursor = [Int](repeating: 0, count: series.count)
        var dates: [Day] = []
        var values: [[Double]] = []
        let allDates = series.map { $0.dates! }
        merge: while true {
            // The latest of the current dates; advance every series to it.
            var target = allDates[0][cursor[0]]
            for k in 1..<series.count where target < allDates[k][cursor[k]] { target = allDates[k][cursor[k]] }
            var allThere = true
            for k in series.indices {
                while allDates[k][cursor[k]] < target {
                    cursor[k] += 1
                    if cursor[k] == allDates[k].count { break merge }
                }
                if allDates[k][cursor[k]] != target { allThere = false }
            }
            guard allThere else { continue }
            dates.append(target)
            values.append(series.indices.map { series[$0].values[cursor[$0]] })
            for k in series.indices {
                cursor[k] += 1
                if cursor[k] == allDates[k].count { break merge }
            }
        }
        guard !dates.isEmpty else {
            let ranges = series.prefix(10).map { "\(MessageText.quoted($0.name)) \($0.dates!.first!)…\($0.dates!.last!)" }
            throw DataError(file: Self.fileList(files),
                            message: "the series have no date in common (\(MessageText.joined(ranges, count: series.count)))")
        }
        let dropped = Dictionary(uniqueKeysWithValues: series.map { ($0.name, $0.values.count - dates.count) })
        return AlignedSeries(names: names, files: files, dates: dates, values: values, droppedRows: dropped)
    }

    /// The rows transformed between consecutive rows, for every feature:
    ///
    /// - `returns`: r_t = p_t / p_{t−1} − 1
    /// - `log_returns`: r_t = ln(p_t / p_{t−1})
    /// - `none`: the values unchanged (all rows kept).
    ///
    /// The returns transforms drop the first row: row t of the result pairs rows t and t + 1 of `self` and carries
    /// the later date. They need every price to be positive.
    ///
    /// - Throws: `DataError` for fewer than two rows, a non-positive price, or a non-finite result (naming the
    ///   series, its file and the date or row).
    public func transformed(_ transform: SeriesTransform) throws(DataError) -> AlignedSeries {
        if transform == .none { return self }
        guard values.count >= 2 else {
            throw DataError(file: fileList, message: "the \(transform) transform needs at least 2 rows, found \(values.count)")
        }
        for (r, row) in values.enumerated() {
            if let f = row.firstIndex(where: { !($0 > 0) }) {
                throw DataError(file: files[f], position: dates.map { "date \($0[r])" } ?? "row \(r + 1)",
                                message: "series \(MessageText.quoted(names[f])): the \(transform) transform needs positive prices, found \(row[f])")
            }
        }
        let logarithmic = transform == .logReturns
        var out: [[Double]] = []
        out.reserveCapacity(values.count - 1)
        for r in 1..<values.count {
            let previous = values[r - 1], current = values[r]
            let row = current.indices.map { f in
                logarithmic ? log(current[f] / previous[f]) : current[f] / previous[f] - 1
            }
            // Extreme but positive prices (1e-320 next to 7,000) give infinite returns: refuse them here, so
            // neither training nor forecasting ever sees a non-finite input.
            if let f = row.firstIndex(where: { !$0.isFinite }) {
                throw DataError(file: files[f], position: dates.map { "date \($0[r])" } ?? "row \(r + 1)",
                                message: "series \(MessageText.quoted(names[f])): the \(transform) from \(previous[f]) to \(current[f]) is \(row[f]); check the prices around this date")
            }
            out.append(row)
        }
        return AlignedSeries(names: names, files: files, dates: dates.map { Array($0.dropFirst()) }, values: out,
                             droppedRows: droppedRows)
    }

    /// The feature index of series `name`: exact match first, then case-insensitive.
    public func index(of name: String) -> Int? {
        names.firstIndex(of: name) ?? names.firstIndex { $0.lowercased() == name.lowercased() }
    }

    /// The input files, for messages not about one file.
    var fileList: String { Self.fileList(files) }

    /// `files` without repeats (one wide file gives thousands of series), comma-separated.
    static func fileList(_ files: [String]) -> String {
        var unique: [String] = [], seen: Set<String> = []
        for f in files where seen.insert(f).inserted { unique.append(f) }
        return unique.isEmpty ? "(no files)" : unique.joined(separator: ", ")
    }
}
