import RealModule

/// The regularised incomplete beta function I_x(a, b) = B(x; a, b) / B(a, b) and its complement
/// 1 − I_x(a, b) = I_{1−x}(b, a), each computed directly so that neither loses relative accuracy when it is tiny
/// (docs/statistics.md, "Incomplete beta").
///
/// Algorithm: the continued fraction of Numerical Recipes' `betacf` (Press et al. 2007, §6.4), evaluated with
/// the modified Lentz method, on the side where it converges quickly (x < (a+1)/(a+b+2)); the other side uses
/// the symmetry. The prefactor x^a (1−x)^b / (a·B(a, b)) is formed in log space; when a or b is ≥ 10 the
/// log-gamma differences are taken from Stirling's series so that large, nearly cancelling log-gamma values are
/// never subtracted (the idea of DiDonato & Morris 1992's `brcomp`/`algdiv`).
public enum IncompleteBeta {
    /// The continued fraction's cap. Near the switch point x ≈ (a+1)/(a+b+2) the number of terms grows roughly
    /// like (a+b)^⅓ (measured at x = a/(a+b): 118 for a = b = 10⁴, 518 at 10⁶, 2 276 at 10⁸, 54 000 at 10¹⁵), so
    /// the cap admits a, b up to about 10¹⁵; beyond it the function throws rather than return a value that has
    /// not converged.
    public static let maxIterations = 100_000

    /// I_x(a, b) for a, b > 0 (finite) and x ∈ [0, 1]. I_0 = 0 and I_1 = 1.
    /// - Throws: `.invalidArgument` for a NaN, a or b ≤ 0 or infinite, or x outside [0, 1];
    ///   `.noConvergence` if the continued fraction needs more than `maxIterations` terms.
    public static func regularized(x: Double, a: Double, b: Double) throws(StatisticsError) -> Double {
        try validate(x: x, a: a, b: b)
        return try evaluate(x: x, y: 1 - x, logX: log(x), logY: Double.log(onePlus: -x), a: a, b: b).lower
    }

    /// 1 − I_x(a, b) = I_{1−x}(b, a), accurate when it is tiny (x near 1). Same domain and errors as
    /// `regularized(x:a:b:)`.
    public static func complement(x: Double, a: Double, b: Double) throws(StatisticsError) -> Double {
        try validate(x: x, a: a, b: b)
        return try evaluate(x: x, y: 1 - x, logX: log(x), logY: Double.log(onePlus: -x), a: a, b: b).upper
    }

    static func validate(x: Double, a: Double, b: Double) throws(StatisticsError) {
        guard a > 0, a.isFinite, b > 0, b.isFinite else {
            throw StatisticsError(.invalidArgument, "incomplete beta: expected finite a > 0 and b > 0, found a = \(a), b = \(b)")
        }
        guard x >= 0, x <= 1 else {
            throw StatisticsError(.invalidArgument, "incomplete beta: expected x in [0, 1], found \(x)")
        }
    }

    /// log x for x in [0, 1]: through log1p(−(1 − x)) near 1, where 1 − x is exact and log(x) would lose its
    /// digits.
    static func log(_ x: Double) -> Double {
        x > 0.5 ? Double.log(onePlus: -(1 - x)) : Double.log(x)
    }

    /// (I_x(a, b), 1 − I_x(a, b)) for validated arguments. y = 1 − x, log x and log y are given by the caller
    /// so that they can be more accurate than x rounded to a double allows: the t distribution forms them from
    /// t²/ν (with x = ν/(ν+t²) rounded, a·log x would carry an error of a·ε — 5e-11 relative at ν = 10⁶).
    static func evaluate(x: Double, y: Double, logX: Double, logY: Double, a: Double, b: Double) throws(StatisticsError) -> (lower: Double, upper: Double) {
        if x == 0 { return (0, 1) }
        if y == 0 { return (1, 0) }
        if x < (a + 1) / (a + b + 2) {
            let lower = try direct(x: x, y: y, logX: logX, logY: logY, a: a, b: b)
            return (lower, 1 - lower)
        } else {
            let upper = try direct(x: y, y: x, logX: logY, logY: logX, a: b, b: a)
            return (1 - upper, upper)
        }
    }

    /// x^a y^b / (a B(a, b)) · cf(x; a, b), used only where the continued fraction converges quickly.
    static func direct(x: Double, y: Double, logX: Double, logY: Double, a: Double, b: Double) throws(StatisticsError) -> Double {
        let logFront = logPrefactor(x: x, y: y, logX: logX, logY: logY, a: a, b: b)
        // The result is front · cf with cf of modest size (1772 at a = b = 10⁶ near the switch point), so when front
        // underflows the result is far below 1e-300 and the fraction need not be evaluated.
        let front = Double.exp(logFront) / a
        if front == 0 { return 0 }
        return front * (try continuedFraction(x: x, a: a, b: b))
    }

    /// log(x^a y^b / B(a, b)).
    static func logPrefactor(x: Double, y: Double, logX: Double, logY: Double, a: Double, b: Double) -> Double {
        let small = min(a, b), large = max(a, b)
        if large < stirlingThreshold {
            // Arguments below 20: |logΓ| ≤ 13 for arguments in [1e-5, 20], so the difference loses a few ulps of 13.
            return a * logX + b * logY - (Double.logGamma(a) + Double.logGamma(b) - Double.logGamma(a + b))
        }
        if small < stirlingThreshold {
            // log B = logΓ(small) + [logΓ(large) − logΓ(small + large)], the bracket from Stirling's series.
            return a * logX + b * logY - (Double.logGamma(small) + logGammaRatio(large, small))
        }
        // Both large: log(x^a y^b / B) = a log(x/x0) + b log(y/y0) + ½ log(ab / (2π(a+b))) − Δω, with
        // x0 = a/(a+b), y0 = b/(a+b) and Δω = ω(a) + ω(b) − ω(a+b) (ω: Stirling's remainder). With
        // u = x/x0 − 1 and v = y/y0 − 1, a·u + b·v = (a+b)(x + y − 1) = 0, so the two logs are
        // a(log1p(u) − u) + b(log1p(v) − v): O(a·u²) terms where the value matters. Leaving a·u and b·v in
        // would not cancel in floating point — x0 and y0 round separately and a·ε is 10⁶ at a = 10²².
        let s = a + b
        let u = (x * s - a) / a, v = (y * s - b) / b
        let termA = abs(u) <= 0.5 ? a * (Double.log(onePlus: u) - u) : a * (logX - Double.log(a / s) - u)
        let termB = abs(v) <= 0.5 ? b * (Double.log(onePlus: v) - v) : b * (logY - Double.log(b / s) - v)
        let omega = stirlingRemainder(a) + stirlingRemainder(b) - stirlingRemainder(s)
        return termA + termB + 0.5 * Double.log(a * b / (2 * Double.pi * s)) - omega
    }

    /// Above this, log-gamma values are large enough that their differences are taken from Stirling's series;
    /// at 10 the series' truncation error (the x⁻¹⁵ term) is below 1e-17.
    static let stirlingThreshold = 10.0

    /// ω(z) = logΓ(z) − [(z − ½) log z − z + ½ log 2π], for z ≥ 10 (Abramowitz & Stegun 6.1.41).
    static func stirlingRemainder(_ z: Double) -> Double {
        let r = 1 / z, r2 = r * r
        // Bernoulli-number coefficients B_{2k} / (2k(2k−1)).
        return r * (1.0 / 12 + r2 * (-1.0 / 360 + r2 * (1.0 / 1260 + r2 * (-1.0 / 1680
            + r2 * (1.0 / 1188 + r2 * (-691.0 / 360360 + r2 * (1.0 / 156)))))))
    }

    /// logΓ(q) − logΓ(q + p) for q ≥ 10, p > 0, without subtracting two large log-gammas:
    /// = −(q − ½) log1p(p/q) − p log(q + p) + p + ω(q) − ω(q + p).
    static func logGammaRatio(_ q: Double, _ p: Double) -> Double {
        let s = q + p
        return -(q - 0.5) * Double.log(onePlus: p / q) - p * Double.log(s) + p
            + (stirlingRemainder(q) - stirlingRemainder(s))
    }

    /// The continued fraction for I_x(a, b)·a·B(a, b)/(x^a y^b) (Numerical Recipes' betacf), by the modified
    /// Lentz method: d and c never vanish (clamped to ±tiny) and the product stops when a step changes it by less
    /// than one rounding.
    static func continuedFraction(x: Double, a: Double, b: Double) throws(StatisticsError) -> Double {
        let tiny = Double.leastNormalMagnitude / Double.ulpOfOne
        let tolerance = Double.ulpOfOne
        let qab = a + b, qap = a + 1, qam = a - 1
        var c = 1.0
        var d = 1 - qab * x / qap
        if abs(d) < tiny { d = tiny }
        d = 1 / d
        var h = d
        for m in 1...maxIterations {
            let mm = Double(m), m2 = 2 * mm
            // Even step: d_{2m} = m(b − m)x / ((a + 2m − 1)(a + 2m)).
            var aa = mm * (b - mm) * x / ((qam + m2) * (a + m2))
            d = 1 + aa * d
            if abs(d) < tiny { d = tiny }
            c = 1 + aa / c
            if abs(c) < tiny { c = tiny }
            d = 1 / d
            h *= d * c
            // Odd step: d_{2m+1} = −(a + m)(a + b + m)x / ((a + 2m)(a + 2m + 1)).
            aa = -(a + mm) * (qab + mm) * x / ((a + m2) * (qap + m2))
            d = 1 + aa * d
            if abs(d) < tiny { d = tiny }
            c = 1 + aa / c
            if abs(c) < tiny { c = tiny }
            d = 1 / d
            let delta = d * c
            h *= delta
            if abs(delta - 1) <= tolerance { return h }
        }
        throw StatisticsError(
            .noConvergence,
            "incomplete beta: continued fraction for x = \(x), a = \(a), b = \(b) did not converge in \(maxIterations) iterations (expected |Δ − 1| ≤ \(tolerance), found more)")
    }
}
