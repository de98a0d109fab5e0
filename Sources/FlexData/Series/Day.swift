// Calendar days without Foundation: proleptic Gregorian dates as a day count since 1970-01-01.

/// A calendar day in the proleptic Gregorian calendar, stored as the number of days since 1970-01-01
/// (which is day 0; earlier days are negative). Comparable in time order; `description` is ISO 8601
/// (`2019-12-30`).
///
/// The conversions are H. Hinnant's `days_from_civil` / `civil_from_days` (exact integer arithmetic on
/// 400-year eras of 146,097 days), so no time zone or locale is involved.
public struct Day: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// Days since 1970-01-01 (= 0).
    public let daysSinceEpoch: Int

    /// The day `daysSinceEpoch` days after 1970-01-01.
    public init(daysSinceEpoch: Int) {
        self.daysSinceEpoch = daysSinceEpoch
    }

    /// The day `year-month-day`. Precondition: `month` in 1...12 and `day` in 1...(days in that month).
    public init(year: Int, month: Int, day: Int) {
        precondition(Day.isValid(year: year, month: month, day: day),
                     "Day(year: \(year), month: \(month), day: \(day)) is not a calendar day")
        // days_from_civil: March-based years put the leap day at the end of the year.
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400                                           // [0, 399]
        let doy = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1   // [0, 365]
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy                   // [0, 146096]
        daysSinceEpoch = era * 146_097 + doe - 719_468
    }

    /// Parses an ISO 8601 calendar date `yyyy-mm-dd` (exactly ten characters); nil if malformed or no such day.
    public init?(iso: String) {
        var text = iso
        let parsed = text.withUTF8 { Day.parseISO($0) }
        guard let parsed else { return nil }
        self = parsed
    }

    /// Parses a date as the series files write it: ISO `2019-12-30` or investing.com's `Dec 30, 2019`
    /// (also `Dec 3, 2019`; English month abbreviations, any letter case). Nil if malformed or no such day.
    public init?(text: some StringProtocol) {
        var s = String(text)
        guard let parsed = s.withUTF8({ Day.parse($0) }) else { return nil }
        self = parsed
    }

    /// (year, month, day) of this day.
    public var components: (year: Int, month: Int, day: Int) {
        // civil_from_days.
        let z = daysSinceEpoch + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (m <= 2 ? 1 : 0), m, d)
    }

    public var year: Int { components.year }
    public var month: Int { components.month }
    public var day: Int { components.day }

    /// ISO weekday: 1 = Monday … 7 = Sunday (1970-01-01 was a Thursday, 4).
    public var weekday: Int {
        let r = (daysSinceEpoch + 3) % 7
        return (r < 0 ? r + 7 : r) + 1
    }

    /// The day `days` days later (earlier if negative).
    public func adding(days: Int) -> Day { Day(daysSinceEpoch: daysSinceEpoch + days) }

    /// The first Monday–Friday day after this one (Friday, Saturday and Sunday all give the next Monday).
    public var nextWeekday: Day {
        switch weekday {
        case 5: adding(days: 3)
        case 6: adding(days: 2)
        default: adding(days: 1)
        }
    }

    /// Days from `other` to `self`.
    public func days(since other: Day) -> Int { daysSinceEpoch - other.daysSinceEpoch }

    public static func < (a: Day, b: Day) -> Bool { a.daysSinceEpoch < b.daysSinceEpoch }

    public var description: String {
        let (y, m, d) = components
        func pad(_ v: Int, _ width: Int) -> String {
            let s = String(v.magnitude)
            return String(repeating: "0", count: max(0, width - s.count)) + s
        }
        return (y < 0 ? "-" : "") + pad(y, 4) + "-" + pad(m, 2) + "-" + pad(d, 2)
    }

    /// Days in `month` of `year` (Gregorian leap years: divisible by 4, except centuries not divisible by 400).
    public static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: (year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)) ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    /// Whether `year-month-day` is a calendar day.
    public static func isValid(year: Int, month: Int, day: Int) -> Bool {
        (1...12).contains(month) && day >= 1 && day <= daysIn(month: month, year: year)
    }

    // MARK: Parsing bytes (used by the CSV reader)

    /// What a date field holds: a day, a well-formed date that does not exist (`Feb 30, 2019`), or not a date.
    enum Parsed {
        case day(Day)
        case noSuchDay
        case malformed
    }

    /// ISO `yyyy-mm-dd` or `Mmm d, yyyy` / `Mmm dd, yyyy`.
    static func parse(_ p: UnsafeBufferPointer<UInt8>) -> Day? {
        if case let .day(d) = classify(p) { return d }
        return nil
    }

    static func parseISO(_ p: UnsafeBufferPointer<UInt8>) -> Day? {
        guard p.count == 10, p[4] == UInt8(ascii: "-"), p[7] == UInt8(ascii: "-") else { return nil }
        if case let .day(d) = classify(p) { return d }
        return nil
    }

    static func classify(_ p: UnsafeBufferPointer<UInt8>) -> Parsed {
        @inline(__always) func digits(_ from: Int, _ count: Int) -> Int? {
            var v = 0
            for k in from..<(from + count) {
                let c = p[k] &- 48
                guard c < 10 else { return nil }
                v = v * 10 + Int(c)
            }
            return v
        }
        let n = p.count
        var year = 0, month = 0, day = 0
        if n == 10, p[4] == UInt8(ascii: "-"), p[7] == UInt8(ascii: "-") {
            guard let y = digits(0, 4), let m = digits(5, 2), let d = digits(8, 2) else { return .malformed }
            (year, month, day) = (y, m, d)
        } else if n == 11 || n == 12 {
            // "Dec 3, 2019" (11) or "Dec 30, 2019" (12).
            let dayDigits = n - 10
            guard p[3] == UInt8(ascii: " "), p[4 + dayDigits] == UInt8(ascii: ","),
                  p[5 + dayDigits] == UInt8(ascii: " "),
                  let d = digits(4, dayDigits), let y = digits(6 + dayDigits, 4) else { return .malformed }
            let key = (UInt32(p[0] | 0x20) << 16) | (UInt32(p[1] | 0x20) << 8) | UInt32(p[2] | 0x20)
            guard let m = monthKeys.firstIndex(of: key) else { return .malformed }
            (year, month, day) = (y, m + 1, d)
        } else {
            return .malformed
        }
        guard isValid(year: year, month: month, day: day) else { return .noSuchDay }
        return .day(Day(year: year, month: month, day: day))
    }

    /// "jan" … "dec" as three lowercase ASCII bytes packed into a UInt32.
    private static let monthKeys: [UInt32] = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct",
                                              "nov", "dec"].map { name in
        name.utf8.reduce(UInt32(0)) { ($0 << 8) | UInt32($1) }
    }
}
