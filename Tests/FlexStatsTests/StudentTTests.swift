import Testing
@testable import FlexStats

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

@Suite("Student's t") struct StudentTTests {
    /// SciPy's t.cdf / t.sf for df ∈ {1, 2.5, 5, 30, 1e3, 1e6}, t ∈ ±[0, 40], plus far tails (to 3e-300,
    /// mpmath's values where SciPy underflows).
    @Test func matchesSciPy() throws {
        var failures: [String] = []
        for c in StatsReference.studentT {
            let d = try StudentT(degreesOfFreedom: c.df)
            if let m = mismatch(try d.cdf(c.t), c.cdf, "cdf(\(c.t); \(c.df))") { failures.append(m) }
            if let m = mismatch(try d.survival(c.t), c.sf, "sf(\(c.t); \(c.df))") { failures.append(m) }
        }
        #expect(failures.isEmpty, "\(failures.count) mismatches, first: \(failures.prefix(5))")
    }

    /// df = 1 (Cauchy): cdf = ½ + atan(t)/π, and for t > 0 the tail is atan(1/t)/π (no cancellation).
    @Test(arguments: [0.0, 0.3, 1.0, 4.0, 1e3, 1e8, 1e200, 1e300]) func cauchy(t: Double) throws {
        let d = try StudentT(degreesOfFreedom: 1)
        #expect(mismatch(try d.cdf(t), 0.5 + atan(t) / Double.pi, 1e-13, "cdf(\(t))") == nil)
        #expect(mismatch(try d.cdf(-t), t == 0 ? 0.5 : atan(1 / t) / Double.pi, 1e-13, "cdf(−\(t))") == nil)
        #expect(mismatch(try d.survival(t), t == 0 ? 0.5 : atan(1 / t) / Double.pi, 1e-13, "sf(\(t))") == nil)
    }

    /// df = 2: cdf = ½ + t/(2√(2 + t²)); tail for t > 0 = ½(1 − t/√(2+t²)) = 1/(√(2+t²)(√(2+t²) + t)).
    @Test(arguments: [0.0, 0.5, 2.0, 30.0, 1e6, 1e100]) func twoDegrees(t: Double) throws {
        let d = try StudentT(degreesOfFreedom: 2)
        let root = (2 + t * t).squareRoot()
        #expect(mismatch(try d.cdf(t), 0.5 + t / (2 * root), 1e-13, "cdf(\(t))") == nil)
        #expect(mismatch(try d.survival(t), 1 / (root * (root + t)), 1e-13, "sf(\(t))") == nil)
    }

    /// ν = ∞ is the standard normal: sf(t) = ½ erfc(t/√2).
    @Test func normalLimit() throws {
        let d = try StudentT(degreesOfFreedom: .infinity)
        for t in [-3.0, 0.0, 1.0, 8.0, 30.0] {
            #expect(mismatch(try d.survival(t), 0.5 * erfc(t / 2.0.squareRoot()), 1e-15, "sf(\(t))") == nil)
        }
    }

    @Test func infiniteArgumentsAndSymmetry() throws {
        let d = try StudentT(degreesOfFreedom: 3.7)
        #expect(try d.cdf(.infinity) == 1)
        #expect(try d.cdf(-.infinity) == 0)
        #expect(try d.survival(.infinity) == 0)
        for t in [0.2, 1.9, 12.0] {
            #expect(try d.cdf(-t) == d.survival(t))
            #expect(abs(try d.cdf(t) + d.survival(t) - 1) <= 1e-15)
        }
    }

    @Test func invalidArgumentsThrow() throws {
        for df in [0.0, -1.0, .nan, -.infinity] {
            #expect(errorKind { () throws(StatisticsError) in try StudentT(degreesOfFreedom: df) } == .invalidArgument, "df \(df)")
        }
        let d = try StudentT(degreesOfFreedom: 4)
        #expect(errorKind { () throws(StatisticsError) in try d.cdf(.nan) } == .invalidArgument)
        #expect(errorKind { () throws(StatisticsError) in try d.survival(.nan) } == .invalidArgument)
    }
}
