import Testing
@testable import FlexStats

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

@Suite("Incomplete beta") struct IncompleteBetaTests {
    /// SciPy's betainc/betaincc (cross-checked with mpmath) on a, b ∈ {1e-3 … 1e4}, x from 1e-300 to 1 − 1e-10
    /// and around a/(a+b), where the continued fraction is slowest.
    @Test func matchesSciPyGrid() throws {
        var failures: [String] = []
        for c in StatsReference.incompleteBeta {
            let lower = try IncompleteBeta.regularized(x: c.x, a: c.a, b: c.b)
            let upper = try IncompleteBeta.complement(x: c.x, a: c.a, b: c.b)
            if let m = mismatch(lower, c.lower, "I_\(c.x)(\(c.a), \(c.b))") { failures.append(m) }
            if let m = mismatch(upper, c.upper, "1 − I_\(c.x)(\(c.a), \(c.b))") { failures.append(m) }
        }
        #expect(StatsReference.incompleteBeta.count > 800)
        #expect(failures.isEmpty, "\(failures.count) mismatches, first: \(failures.prefix(5))")
    }

    /// a, b from 1e5 to 2e8 near the mean (SciPy): the prefactor's first-order terms must cancel analytically
    /// (left to floating point they cost (a+b)·ε ≈ 3e-8 at 3e8), and the continued fraction's rounding grows
    /// with a + b (worst 1.7e-11 here, against 2.7e-13 on the grid).
    @Test func matchesSciPyLargeShapes() throws {
        var failures: [String] = []
        for c in StatsReference.incompleteBetaLarge {
            let lower = try IncompleteBeta.regularized(x: c.x, a: c.a, b: c.b)
            let upper = try IncompleteBeta.complement(x: c.x, a: c.a, b: c.b)
            if let m = mismatch(lower, c.lower, "I_\(c.x)(\(c.a), \(c.b))") { failures.append(m) }
            if let m = mismatch(upper, c.upper, "1 − I_\(c.x)(\(c.a), \(c.b))") { failures.append(m) }
        }
        #expect(failures.isEmpty, "\(failures.count) mismatches, first: \(failures.prefix(5))")
    }

    /// Closed forms: I_x(1, 1) = x, I_x(a, 1) = x^a, I_x(1, b) = 1 − (1 − x)^b, I_x(½, ½) = (2/π) asin √x.
    @Test(arguments: [1e-12, 0.01, 0.3, 0.5, 0.77, 0.999]) func closedForms(x: Double) throws {
        #expect(mismatch(try IncompleteBeta.regularized(x: x, a: 1, b: 1), x, 1e-14, "I(1,1)") == nil)
        for a in [0.3, 2.0, 7.5] {
            #expect(mismatch(try IncompleteBeta.regularized(x: x, a: a, b: 1), pow(x, a), 1e-13, "I(\(a),1)") == nil)
            // The complement of I_x(1, b) is (1 − x)^b exactly.
            #expect(mismatch(try IncompleteBeta.complement(x: x, a: 1, b: a), pow(1 - x, a), 1e-13, "1 − I(1,\(a))") == nil)
        }
        #expect(mismatch(try IncompleteBeta.regularized(x: x, a: 0.5, b: 0.5), 2 / Double.pi * asin(x.squareRoot()), 1e-13, "I(½,½)") == nil)
    }

    /// I_x(a, b) + I_{1−x}(b, a) = 1 and the complement is the mirrored value, on both sides of the switch point.
    /// x is dyadic so that 1 − x is exact and the mirrored call sees exactly the same pair (x, 1 − x).
    @Test func symmetry() throws {
        for (a, b) in [(0.5, 3.0), (20.0, 20.0), (2.0, 150.0), (1e3, 0.5)] {
            for x in [0x1p-10, 0.125, 0.5, 0.875, 1 - 0x1p-10] {
                let lower = try IncompleteBeta.regularized(x: x, a: a, b: b)
                let mirrored = try IncompleteBeta.regularized(x: 1 - x, a: b, b: a)
                #expect(abs(lower + mirrored - 1) <= 1e-14, "a \(a) b \(b) x \(x)")
                // Identical code paths except exactly at the switch point (a = b, x = ½), where one side is 1 − (the
                // other), each with the prefactor's rounding (exp of a log of size ~30: a few 1e-15).
                let complement = try IncompleteBeta.complement(x: x, a: a, b: b)
                #expect(abs(complement - mirrored) <= 1e-14 * mirrored, "a \(a) b \(b) x \(x): \(complement) vs \(mirrored)")
            }
        }
    }

    /// I_½(a, a) = ½ by symmetry, for large a: the prefactor's Stirling form must not leave a·ε-sized errors
    /// (an uncancelled a·u term costs ~1e-8 at a = 10⁸). What remains is the continued fraction's own rounding
    /// near the mean, which grows with a (measured 5e-15, 1.3e-13, 6.7e-12, 9e-11 at 10⁴, 10⁶, 10⁸, 10¹²;
    /// docs/statistics.md, "Accuracy").
    @Test(arguments: [(10.0, 1e-14), (1e4, 1e-13), (1e6, 1e-12), (1e8, 5e-11), (1e12, 5e-10)])
    func halfAtTheMean(a: Double, bound: Double) throws {
        #expect(abs(try IncompleteBeta.regularized(x: 0.5, a: a, b: a) - 0.5) <= bound)
        #expect(abs(try IncompleteBeta.complement(x: 0.5, a: a, b: a) - 0.5) <= bound)
    }

    @Test func endpoints() throws {
        #expect(try IncompleteBeta.regularized(x: 0, a: 2, b: 3) == 0)
        #expect(try IncompleteBeta.regularized(x: 1, a: 2, b: 3) == 1)
        #expect(try IncompleteBeta.complement(x: 0, a: 2, b: 3) == 1)
        #expect(try IncompleteBeta.complement(x: 1, a: 2, b: 3) == 0)
    }

    @Test func invalidArgumentsThrow() {
        let bad: [(Double, Double, Double)] = [
            (0.5, 0, 1), (0.5, -1, 1), (0.5, 1, 0), (0.5, 1, -2), (-0.1, 1, 1), (1.1, 1, 1),
            (.nan, 1, 1), (0.5, .nan, 1), (0.5, 1, .nan), (0.5, .infinity, 1), (.infinity, 1, 1),
        ]
        for (x, a, b) in bad {
            #expect(errorKind { () throws(StatisticsError) in try IncompleteBeta.regularized(x: x, a: a, b: b) } == .invalidArgument,
                    "x \(x) a \(a) b \(b)")
            #expect(errorKind { () throws(StatisticsError) in try IncompleteBeta.complement(x: x, a: a, b: b) } == .invalidArgument)
        }
    }

    /// At a = b = 1e20 near x = ½ the continued fraction would need millions of terms (54 000 at 1e15): the cap
    /// turns that into an error (quickly) instead of a value that has not converged.
    @Test func iterationCapThrows() {
        #expect(errorKind { () throws(StatisticsError) in try IncompleteBeta.regularized(x: 0.5, a: 1e20, b: 1e20) } == .noConvergence)
        #expect(errorKind { () throws(StatisticsError) in try IncompleteBeta.complement(x: 0.4, a: 1e22, b: 1.5e22) } == .noConvergence)
    }

    /// Stirling's remainder against logΓ directly at moderate arguments, where logΓ itself is accurate.
    @Test func stirlingRemainder() {
        for z in [10.0, 12.5, 40.0, 300.0] {
            let direct = Double(lgamma(z)) - ((z - 0.5) * log(z) - z + 0.5 * log(2 * Double.pi))
            #expect(abs(IncompleteBeta.stirlingRemainder(z) - direct) <= 1e-14 * lgamma(z), "z \(z)")
        }
    }
}
