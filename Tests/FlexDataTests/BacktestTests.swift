import FlexData
import FlexRuntime
import Foundation
import FlexStats
import Testing

/// Error measures, Student's t, the Diebold–Mariano test with the HLN correction, and the backtest assembly.
/// Reference numbers from SciPy 1.17 (`2 * scipy.stats.t.sf(|t|, df)`) and a direct NumPy implementation of the
/// formulas in docs/forecasting.md (the script is in the comments next to them).
@Suite struct BacktestTests {
    static func close(_ a: Double, _ b: Double, relative: Double = 1e-10) -> Bool {
        abs(a - b) <= relative * max(abs(a), abs(b), 1e-300)
    }

    @Test func studentTClosedForms() throws {
        // The Diebold–Mariano p-value's distribution (FlexStats): df = 1 (Cauchy): P(|T| ≥ t) = 1 − (2/π) atan|t|;
        // df = 2: 1 − |t|/sqrt(2 + t²).
        let t1 = try StudentT(degreesOfFreedom: 1), t2 = try StudentT(degreesOfFreedom: 2)
        let t7 = try StudentT(degreesOfFreedom: 7), t10 = try StudentT(degreesOfFreedom: 10)
        for t: Double in [0.0, 0.1, 0.5, 1, 2.5, 10, 300] {
            let cauchy: Double = 1 - 2 / Double.pi * atan(t)
            let root: Double = (2 + t * t).squareRoot()
            let two: Double = 2 / (root * (root + t))  // = 1 − t/sqrt(2 + t²), without cancellation
            #expect(Self.close(try t1.twoSidedPValue(t), cauchy, relative: 1e-12))
            #expect(Self.close(try t2.twoSidedPValue(-t), two, relative: 1e-12))
        }
        #expect(try t7.twoSidedPValue(0) == 1)
        #expect(try t7.twoSidedPValue(.infinity) == 0)
        #expect(throws: StatisticsError.self) { try t7.twoSidedPValue(.nan) }
        // The 97.5% quantile of t(10) is 2.228138851986…
        #expect(abs(try t10.twoSidedPValue(2.228138851986) - 0.05) < 1e-11)
        #expect(abs(try t10.cdf(-2.228138851986) - 0.025) < 1e-11)
        #expect(abs(try t10.cdf(2.228138851986) - 0.975) < 1e-11)
    }

    @Test func studentTMatchesSciPy() throws {
        // 2 * scipy.stats.t.sf(abs(t), df)
        let cases: [(Double, Double, Double)] = [
            (10, 2.0, 0.07338803477074037), (453, 3.002, 0.002830384392732131),
            (2270, 11.427, 1.9234300825301883e-29), (5, 0.3, 0.7762490422632745), (3, -1.5, 0.23058386524482294),
            (1000, -0.01, 0.9920232819321873), (30, 25.0, 1.2091822381287035e-21),
        ]
        for (df, t, p) in cases {
            let ours = try StudentT(degreesOfFreedom: df).twoSidedPValue(t)
            #expect(Self.close(ours, p, relative: 1e-9), "df \(df), t \(t): \(ours) vs SciPy \(p)")
        }
    }

    @Test func errorMeasuresAndDirection() {
        let actual: [Double] = [0.01, -0.02, 0, 0.03, -0.01]
        let predicted: [Double] = [0.005, 0.01, 0.02, 0, -0.002]
        let e = ForecastErrors.measure(actual: actual, predicted: predicted)
        #expect(e.count == 5)
        let errors: [Double] = [0.005, 0.03, 0.02, 0.03, 0.008]
        let sq: Double = errors.map { $0 * $0 }.reduce(0, +) / 5
        let ab: Double = errors.reduce(0, +) / 5
        #expect(Self.close(e.mse, sq, relative: 1e-12))
        #expect(Self.close(e.mae, ab, relative: 1e-12))
        // The day without a move (actual 0) is left out; the forecast of exactly 0 counts as a miss.
        #expect(e.directionDays == 4 && e.directionHits == 2)
        #expect(e.directionalAccuracy == 0.5)
        // A forecaster that always says 0 predicts no direction.
        let zero = ForecastErrors.measure(actual: actual, predicted: [0, 0, 0, 0, 0])
        #expect(!zero.predictsDirection && zero.directionalAccuracy == nil && zero.directionHits == 0)
        #expect(Self.close(zero.mse, actual.map { $0 * $0 }.reduce(0, +) / 5, relative: 1e-14))
    }

    @Test func dieboldMarianoMatchesTheFormula() throws {
        // a_t = ((37 t) mod 11)/10, b_t = ((53 t) mod 7)/5, t = 1…20; NumPy:
        //   d = a − b; m = d.mean(); g(k) = ((d[k:] − m)(d[:n−k] − m)).sum()/n; v = g(0) + 2 Σ_{k<h} g(k)
        //   s = m/sqrt(v/n); c = s·sqrt((n + 1 − 2h + h(h − 1)/n)/n); p = 2·t.sf(|c|, n − 1)
        let a = (1...20).map { Double((37 * $0) % 11) / 10 }
        let b = (1...20).map { Double((53 * $0) % 7) / 5 }
        let h1 = try #require(DieboldMarianoTest.test(lossA: a, lossB: b, horizon: 1))
        #expect(h1.count == 20 && h1.degreesOfFreedom == 19 && h1.horizon == 1)
        #expect(Self.close(h1.meanDifferential, -0.11499999999999999, relative: 1e-13))
        #expect(Self.close(h1.longRunVariance, 0.203275, relative: 1e-12))
        #expect(Self.close(h1.statistic, -1.1406984549805144, relative: 1e-12))
        #expect(Self.close(h1.correctedStatistic, -1.11181532501364, relative: 1e-12))
        #expect(Self.close(h1.pValue, 0.28008850744940716, relative: 1e-9))
        let h3 = try #require(DieboldMarianoTest.test(lossA: a, lossB: b, horizon: 3))
        #expect(Self.close(h3.longRunVariance, 0.0949075, relative: 1e-12))
        #expect(Self.close(h3.statistic, -1.66940831144389, relative: 1e-12))
        #expect(Self.close(h3.correctedStatistic, -1.4601359335326367, relative: 1e-12))
        #expect(Self.close(h3.pValue, 0.16059112999297068, relative: 1e-9))
        // Swapping the forecasts flips the sign and keeps p.
        let swapped = try #require(DieboldMarianoTest.test(lossA: b, lossB: a, horizon: 1))
        #expect(swapped.correctedStatistic == -h1.correctedStatistic && swapped.pValue == h1.pValue)
    }

    @Test func dieboldMarianoRefusesDegenerateInput() {
        #expect(DieboldMarianoTest.test(lossA: [1, 2, 3], lossB: [1, 2, 3]) == nil)  // no differential at all
        #expect(DieboldMarianoTest.test(lossA: [2, 3, 4], lossB: [1, 2, 3]) == nil)  // constant differential
        #expect(DieboldMarianoTest.test(lossA: [1], lossB: [2]) == nil)              // n < 2
        #expect(DieboldMarianoTest.test(lossA: [1, 2, 5], lossB: [0, 0, 0], horizon: 3) == nil)  // h ≥ n
    }

    @Test func backtestComparesTheModelWithTheNaiveForecasts() throws {
        // Two targets, 6 days; the "model" is the actual value plus a small error on target 0 and a poor guess on 1.
        let actual: [[Double]] = [[0.01, -0.02], [-0.005, 0.01], [0.02, 0.0], [-0.01, 0.015], [0.004, -0.01], [0.0, 0.02]]
        let model = actual.enumerated().map { i, r in [r[0] + (i % 2 == 0 ? 0.001 : -0.002), -r[1] * 0.5 + 0.001] }
        let last: [[Double]] = [[0.002, 0.003]] + actual.dropLast()
        let mean = [0.0004, -0.0001]
        let b = Backtest(targets: ["A", "B"], actual: actual, model: model, last: last, trainingMean: mean)
        #expect(b.count == 6 && b.targets == ["A", "B"])
        for j in 0..<2 {
            let y = actual.map { $0[j] }
            #expect(b.errors(.model, target: j) == ForecastErrors.measure(actual: y, predicted: model.map { $0[j] }))
            #expect(b.errors(.zero, target: j) == ForecastErrors.measure(actual: y, predicted: [Double](repeating: 0, count: 6)))
            #expect(b.errors(.last, target: j) == ForecastErrors.measure(actual: y, predicted: last.map { $0[j] }))
            #expect(b.errors(.trainingMean, target: j) == ForecastErrors.measure(actual: y, predicted: [Double](repeating: mean[j], count: 6)))
            let dm = try #require(b.dieboldMariano[j])
            let expected = try #require(DieboldMarianoTest.test(
                lossA: zip(model, actual).map { ($0[j] - $1[j]) * ($0[j] - $1[j]) }, lossB: y.map { $0 * $0 }))
            #expect(dm == expected)
        }
        // Pooled: every pair of both targets together.
        let allY = actual.map { $0[0] } + actual.map { $0[1] }
        #expect(b.pooled(.model) == ForecastErrors.measure(actual: allY, predicted: model.map { $0[0] } + model.map { $0[1] }))
        #expect(b.pooled(.zero).directionalAccuracy == nil)
        #expect(b.errors(.model, target: 0).mse < b.errors(.zero, target: 0).mse)
        #expect(b.errors(.model, target: 1).mse > b.errors(.zero, target: 1).mse)
        // The pooled DM test is on the daily mean of the two targets' squared-error differentials.
        var daily: [Double] = []
        for t in 0..<6 {
            var sum = 0.0
            for j in 0..<2 {
                let e: Double = model[t][j] - actual[t][j]
                let y: Double = actual[t][j]
                sum += e * e - y * y
            }
            daily.append(sum / 2)
        }
        let pooled = try #require(b.pooledDieboldMariano)
        let meanDaily: Double = daily.reduce(0, +) / 6
        #expect(Self.close(pooled.meanDifferential, meanDaily, relative: 1e-12))
    }
}
