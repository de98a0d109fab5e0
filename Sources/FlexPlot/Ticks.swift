#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

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

    /// Ticks for data in `[min, max]`, aiming for about `target` intervals.
    /// A flat range (min == max) is widened around its value; non-finite input gives the range 0...1.
    public init(min dataMin: Double, max dataMax: Double, target: Int = 5) {
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
        let step = AxisTicks.niceStep((hi - lo) / intervals)
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
