#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// What an axis's values are, which decides where its ticks go and how they read.
public enum AxisKind: Sendable, Equatable {
    /// Real numbers: steps of 1, 2, 2.5 or 5 times a power of ten.
    case numeric
    /// Counts such as epochs: integer steps only (1, 2, 5, 10, 20, 25, 50, ...), integer labels.
    case integer
    /// Calendar days, as days since 1970-01-01 (`CivilDate.daysSinceEpoch`): ticks on the first of a month
    /// or a year (or on days for short ranges), labelled `2019`, `2019-06` or `2019-06-15`.
    case date
}

/// "Nice" axis ticks: steps of 1, 2, 2.5 or 5 times a power of ten, covering a data range.
public struct AxisTicks: Sendable, Equatable {
    /// Axis lower end (a multiple of `step`, ≤ the data minimum).
    public var lower: Double
    /// Axis upper end (a multiple of `step`, ≥ the data maximum).
    public var upper: Double
    /// Distance between ticks.
    public var step: Double
    /// Tick positions from `lower` to `upper` inclusive.
    public var values: [Double]
    /// Tick labels, formatted with as many decimals as `step` needs.
    public var labels: [String]

    /// Ticks of `kind` for data in `[min, max]`, aiming for about `target` intervals.
    public init(min dataMin: Double, max dataMax: Double, target: Int = 5, kind: AxisKind) {
        switch kind {
        case .numeric: self.init(min: dataMin, max: dataMax, target: target)
        case .integer: self.init(min: dataMin, max: dataMax, target: target, integer: true)
        case .date: self = AxisTicks.dates(min: dataMin, max: dataMax, target: target)
        }
    }

    init(lower: Double, upper: Double, step: Double, values: [Double], labels: [String]) {
        self.lower = lower
        self.upper = upper
        self.step = step
        self.values = values
        self.labels = labels
    }

    /// Ticks for data in `[min, max]`, aiming for about `target` intervals.
    /// A flat range (min == max) is widened around its value; non-finite input gives the range 0...1.
    /// `integer`: steps are whole numbers of at least 1 (no 2.5 or 0.5 between two epochs).
    public init(min dataMin: Double, max dataMax: Double, target: Int = 5, integer: Bool = false) {
        var lo = dataMin, hi = dataMax
        if !lo.isFinite || !hi.isFinite { lo = 0; hi = 1 }
        if lo > hi { swap(&lo, &hi) }
        // Data from a file can reach ±1.7e308, where hi − lo and the ticks overflow to infinity: the axis is
        // capped at ±1e300 (values beyond it are drawn at the edge).
        lo = Swift.min(Swift.max(lo, -1e300), 1e300)
        hi = Swift.min(Swift.max(hi, -1e300), 1e300)
        if hi - lo < Swift.max(abs(lo), abs(hi)) * 1e-12 || hi == lo {
            let pad = lo == 0 ? 1 : abs(lo) * 0.1
            lo -= pad
            hi += pad
        }
        let intervals = Double(Swift.max(2, target))
        var step = AxisTicks.niceStep((hi - lo) / intervals)
        if integer {
            // 2.5 is the only nice step between 1 and 10 that is not whole; 2 keeps the spacing close.
            step = Swift.max(1, step == 2.5 ? 2 : step)
        }
        let first = (lo / step).rounded(.down)
        let last = (hi / step).rounded(.up)
        self.step = step
        self.lower = first * step
        self.upper = last * step
        let count = Int(last - first) + 1
        let decimals = AxisTicks.decimals(for: step)
        let useExponent = Swift.max(abs(lower), abs(upper)) >= 1e7 || decimals > 6
        var values: [Double] = []
        var labels: [String] = []
        for i in 0..<count {
            var v = (first + Double(i)) * step
            if abs(v) < step * 1e-9 { v = 0 }
            values.append(v)
            labels.append(AxisTicks.format(v, decimals: decimals, exponent: useExponent))
        }
        self.values = values
        self.labels = labels
    }

    /// The nice number (1, 2, 2.5, 5 × 10^k) nearest above `raw`.
    static func niceStep(_ raw: Double) -> Double {
        guard raw > 0, raw.isFinite else { return 1 }
        let exponent = (log10(raw)).rounded(.down)
        let magnitude = pow(10, exponent)
        let fraction = raw / magnitude
        let nice: Double
        if fraction <= 1 { nice = 1 } else if fraction <= 2 { nice = 2 } else if fraction <= 2.5 { nice = 2.5 }
        else if fraction <= 5 { nice = 5 } else { nice = 10 }
        return nice * magnitude
    }

    static func decimals(for step: Double) -> Int {
        var d = 0
        var s = step
        while d < 12, abs(s - s.rounded()) > 1e-9 * Swift.max(1, abs(s)) {
            s *= 10
            d += 1
        }
        return d
    }

    static func format(_ v: Double, decimals: Int, exponent: Bool) -> String {
        if exponent { return formatC("%.3g", v) }
        return formatC("%.\(decimals)f", v)
    }
}

extension AxisTicks {
    /// Calendar ticks for days since 1970-01-01 in `[min, max]`: the axis spans exactly the data (dates are not
    /// widened to a tick), ticks fall on the first of a month or a year, or on days for ranges of a few weeks.
    static func dates(min dataMin: Double, max dataMax: Double, target: Int) -> AxisTicks {
        var lo = dataMin, hi = dataMax
        if !lo.isFinite || !hi.isFinite { lo = 0; hi = 1 }
        if lo > hi { swap(&lo, &hi) }
        // Beyond ±1e7 days (27,000 years) the calendar arithmetic means nothing: numeric ticks instead.
        guard lo > -1e7, hi < 1e7 else { return AxisTicks(min: lo, max: hi, target: target) }
        if hi - lo < 1 { lo -= 1; hi += 1 }
        let intervals = Double(Swift.max(2, target))
        let spanDays = (hi - lo) / intervals
        // Steps in months (≥ 1) or days; a year step of k means 12·k months.
        let monthSteps = [1, 2, 3, 6, 12, 24, 60, 120, 240, 600, 1200, 2400, 6000, 12000]
        let daySteps = [1, 2, 7, 14]
        var values: [Double] = [], labels: [String] = []
        let first = CivilDate(daysSinceEpoch: Int(lo.rounded(.up)))
        if spanDays < 20, let days = daySteps.first(where: { Double($0) >= spanDays }) ?? daySteps.last {
            var d = Int(lo.rounded(.up))
            while Double(d) <= hi {
                values.append(Double(d))
                labels.append(CivilDate(daysSinceEpoch: d).description)
                d += days
            }
            return AxisTicks(lower: lo, upper: hi, step: Double(days), values: values, labels: labels)
        }
        let months = monthSteps.first { Double($0) * 30.44 >= spanDays } ?? monthSteps.last!
        // The first tick: the first month boundary on or after `lo` whose index is a multiple of the step.
        var index = first.year * 12 + (first.month - 1)
        if first.day != 1 || Double(CivilDate(year: first.year, month: first.month, day: 1).daysSinceEpoch) < lo {
            index += 1
        }
        index = Int((Double(index) / Double(months)).rounded(.up)) * months
        while true {
            let year = Int((Double(index) / 12).rounded(.down)), month = index - year * 12 + 1
            let day = CivilDate(year: year, month: month, day: 1).daysSinceEpoch
            if Double(day) > hi { break }
            values.append(Double(day))
            labels.append(months % 12 == 0 ? String(year) : CivilDate.twoDigits(year: year, month: month))
            index += months
        }
        return AxisTicks(lower: lo, upper: hi, step: Double(months) * 30.44, values: values, labels: labels)
    }
}

/// A proleptic Gregorian calendar date and its day number since 1970-01-01 (Howard Hinnant's
/// `days_from_civil` / `civil_from_days`), so that the plotter needs no date library.
public struct CivilDate: Sendable, Equatable, CustomStringConvertible {
    public var year: Int
    public var month: Int
    public var day: Int

    public init(year: Int, month: Int, day: Int) {
        self.year = year
        self.month = month
        self.day = day
    }

    public init(daysSinceEpoch z0: Int) {
        let z = z0 + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        day = doy - (153 * mp + 2) / 5 + 1
        month = mp < 10 ? mp + 3 : mp - 9
        year = yoe + era * 400 + (month <= 2 ? 1 : 0)
    }

    /// Days since 1970-01-01 (negative before).
    public var daysSinceEpoch: Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    /// `2019-06-15`.
    public var description: String {
        CivilDate.twoDigits(year: year, month: month) + "-" + (day < 10 ? "0" : "") + String(day)
    }

    /// `2019-06`.
    static func twoDigits(year: Int, month: Int) -> String {
        let y = String(abs(year))
        return (year < 0 ? "-" : "") + String(repeating: "0", count: Swift.max(0, 4 - y.count)) + y + "-"
            + (month < 10 ? "0" : "") + String(month)
    }
}

/// printf-style formatting of one Double (no Foundation needed).
func formatC(_ format: String, _ value: Double) -> String {
    var buffer = [CChar](repeating: 0, count: 64)
    _ = withVaList([value]) { args in
        buffer.withUnsafeMutableBufferPointer { vsnprintf($0.baseAddress!, 64, format, args) }
    }
    let s = buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    // "-0.00" reads badly on an axis.
    if s.hasPrefix("-"), s.dropFirst().allSatisfy({ $0 == "0" || $0 == "." }) { return String(s.dropFirst()) }
    return s
}
