import RealModule

/// Student's t distribution with ν > 0 degrees of freedom, ν real (Welch's df are fractional) or +∞ (the
/// standard normal).
///
/// Tails are computed directly: sf(t) = ½ I_{ν/(ν+t²)}(ν/2, ½) for t > 0, never as 1 − cdf(t), so a p-value
/// of 1e-13 or 1e-300 keeps full relative accuracy. x = ν/(ν+t²) and 1 − x = t²/(ν+t²) are formed separately
/// (neither is obtained by subtracting from 1).
public struct StudentT: Sendable, Equatable {
    public let degreesOfFreedom: Double

    /// - Throws: `.invalidArgument` if ν is NaN or ≤ 0. ν = +∞ is the standard normal.
    public init(degreesOfFreedom: Double) throws(StatisticsError) {
        guard degreesOfFreedom > 0 else {
            throw StatisticsError(.invalidArgument, "Student's t: expected degrees of freedom > 0, found \(degreesOfFreedom)")
        }
        self.degreesOfFreedom = degreesOfFreedom
    }

    /// P(|T| ≥ |t|), computed from the tail (accurate for small p-values): 1 at t = 0, 0 at ±∞.
    /// - Throws: as `cdf`.
    public func twoSidedPValue(_ t: Double) throws(StatisticsError) -> Double {
        guard !t.isNaN else { throw StatisticsError(.invalidArgument, "Student's t: expected a number, found NaN") }
        if t == 0 { return 1 }
        return min(1, 2 * (try upperTail(abs(t))))
    }

    /// P(T ≤ t). ±∞ give 0 and 1. - Throws: `.invalidArgument` for NaN; `.noConvergence` (see IncompleteBeta).
    public func cdf(_ t: Double) throws(StatisticsError) -> Double {
        guard !t.isNaN else { throw StatisticsError(.invalidArgument, "Student's t: expected a number, found NaN") }
        return try survival(-t)
    }

    /// P(T > t) = cdf(−t), accurate in the upper tail. - Throws: as `cdf`.
    public func survival(_ t: Double) throws(StatisticsError) -> Double {
        guard !t.isNaN else { throw StatisticsError(.invalidArgument, "Student's t: expected a number, found NaN") }
        if t == 0 { return 0.5 }
        let tail = try upperTail(abs(t))
        // For t < 0, P(T > t) = 1 − P(T > |t|) ≥ ½: the subtraction loses nothing relative to the result.
        return t > 0 ? tail : 1 - tail
    }

    /// P(T > s) for s > 0.
    func upperTail(_ s: Double) throws(StatisticsError) -> Double {
        if s == .infinity { return 0 }
        let nu = degreesOfFreedom
        if nu == .infinity { return 0.5 * Double.erfc(s / 2.0.squareRoot()) }
        // x = ν/(ν+s²), y = s²/(ν+s²) and their logs, from r² = s²/ν (one rounding when s² does not overflow)
        // rather than from x: the tail is x^{ν/2}·(...), so x's own rounding would cost (ν/2)·ε relative.
        // With r ≥ 1 they come from q = 1/r² instead, so that nothing overflows.
        let r = s / nu.squareRoot()
        let x: Double, y: Double, logX: Double, logY: Double
        if r >= 1 {
            let q = s * s < .infinity ? nu / (s * s) : (1 / r) * (1 / r)
            if q < 1e-300 {
                // s/√ν > 1e150: x would be subnormal or 0. The tail's leading term,
                // ½ I_x(ν/2, ½) ≈ x^{ν/2} / (ν B(ν/2, ½)), has relative error O(x) < 1e-300 here; log x is
                // log ν − 2 log s. The result is above 1e-300 only for ν < 2 (x^{ν/2} < 1e-150ν), where the
                // log-gammas are small and do not cancel badly; for larger ν it underflows to 0, as it should.
                let logXLead = Double.log(nu) - 2 * Double.log(s)
                let logB = Double.logGamma(nu / 2) + Double.logGamma(0.5) - Double.logGamma(nu / 2 + 0.5)
                return Double.exp(nu / 2 * logXLead - logB) / nu
            }
            x = q / (1 + q)
            y = 1 / (1 + q)
            logY = -Double.log(onePlus: q)
            logX = Double.log(q) + logY
        } else {
            let r2 = s * s / nu
            x = 1 / (1 + r2)
            y = r2 / (1 + r2)
            logX = -Double.log(onePlus: r2)
            logY = r2 > 0 ? Double.log(r2) + logX : -.infinity
        }
        return 0.5 * (try IncompleteBeta.evaluate(x: x, y: y, logX: logX, logY: logY, a: nu / 2, b: 0.5).lower)
    }
}
