// Forecast evaluation: error measures, naive baselines, the Diebold–Mariano test (with the Harvey–Leybourne–Newbold
// correction; its t distribution is FlexStats'). See docs/forecasting.md.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import FlexStats

/// Error measures of one forecaster on one series (or several pooled), in the units of the values given.
public struct ForecastErrors: Sendable, Equatable {
    /// Forecast–actual pairs.
    public var count: Int
    /// Mean squared error (1/n) Σ (ŷ − y)².
    public var mse: Double
    /// Mean absolute error (1/n) Σ |ŷ − y|.
    public var mae: Double
    /// Pairs with y ≠ 0 whose forecast has the same sign as y (a forecast of exactly 0 is a miss).
    public var directionHits: Int
    /// Pairs with y ≠ 0 (days without a move are left out of the directional accuracy).
    public var directionDays: Int
    /// False when every forecast is exactly 0: such a forecaster predicts no direction at all.
    public var predictsDirection: Bool

    public init(count: Int, mse: Double, mae: Double, directionHits: Int, directionDays: Int, predictsDirection: Bool) {
        self.count = count
        self.mse = mse
        self.mae = mae
        self.directionHits = directionHits
        self.directionDays = directionDays
        self.predictsDirection = predictsDirection
    }

    /// directionHits / directionDays, or nil when the forecaster predicts no direction or nothing moved.
    public var directionalAccuracy: Double? {
        guard predictsDirection, directionDays > 0 else { return nil }
        return Double(directionHits) / Double(directionDays)
    }

    /// The measures of `predicted` against `actual` (same length, at least one pair).
    public static func measure(actual: [Double], predicted: [Double]) -> ForecastErrors {
        precondition(actual.count == predicted.count && !actual.isEmpty,
                     "ForecastErrors.measure: \(actual.count) actual values, \(predicted.count) forecasts")
        var squares = CompensatedSum(), absolute = CompensatedSum()
        var hits = 0, days = 0, direction = false
        for (y, p) in zip(actual, predicted) {
            let e = p - y
            squares.add(e * e)
            absolute.add(abs(e))
            if p != 0 { direction = true }
            if y != 0 {
                days += 1
                if (p > 0 && y > 0) || (p < 0 && y < 0) { hits += 1 }
            }
        }
        let n = Double(actual.count)
        return ForecastErrors(count: actual.count, mse: squares.value / n, mae: absolute.value / n,
                              directionHits: hits, directionDays: days, predictsDirection: direction)
    }
}

/// The Diebold–Mariano test of equal predictive accuracy of two forecasts, with the small-sample correction of
/// Harvey, Leybourne and Newbold (1997) and a Student-t(n − 1) p-value.
///
/// With loss differentials d_t = L(a)_t − L(b)_t, t = 1 … n, mean d̄ and autocovariances
/// γ_k = (1/n) Σ_{t=k+1}^{n} (d_t − d̄)(d_{t−k} − d̄):
///
///     DM  = d̄ / sqrt((γ_0 + 2 Σ_{k=1}^{h−1} γ_k) / n)
///     DM* = DM · sqrt((n + 1 − 2h + h(h − 1)/n) / n)          (HLN)
///     p   = P(|T| ≥ |DM*|),  T ~ Student t with n − 1 degrees of freedom (two-sided)
///
/// DM < 0 means forecast a has the smaller loss.
public struct DieboldMarianoTest: Sendable, Equatable {
    /// n, the number of loss differentials.
    public var count: Int
    /// h, the forecast horizon (lags of the long-run variance: h − 1).
    public var horizon: Int
    /// d̄.
    public var meanDifferential: Double
    /// γ_0 + 2 Σ_{k=1}^{h−1} γ_k.
    public var longRunVariance: Double
    /// DM (uncorrected; asymptotically standard normal).
    public var statistic: Double
    /// DM* (HLN-corrected).
    public var correctedStatistic: Double
    /// n − 1.
    public var degreesOfFreedom: Int
    /// Two-sided p-value of DM* under t(n − 1).
    public var pValue: Double

    /// The test of losses `a` against losses `b` (same length). Nil when n < 2, h < 1 or h ≥ n, or when the
    /// long-run variance is not positive (e.g. identical losses).
    public static func test(lossA a: [Double], lossB b: [Double], horizon h: Int = 1) -> DieboldMarianoTest? {
        precondition(a.count == b.count, "DieboldMarianoTest: \(a.count) and \(b.count) losses")
        let n = a.count
        guard n >= 2, h >= 1, h < n else { return nil }
        let d = zip(a, b).map { $0 - $1 }
        var sum = CompensatedSum()
        for v in d { sum.add(v) }
        let mean = sum.value / Double(n)
        func gamma(_ k: Int) -> Double {
            var s = CompensatedSum()
            for t in k..<n { s.add((d[t] - mean) * (d[t - k] - mean)) }
            return s.value / Double(n)
        }
        var variance = gamma(0)
        for k in stride(from: 1, to: h, by: 1) { variance += 2 * gamma(k) }
        guard variance > 0, variance.isFinite, mean.isFinite else { return nil }
        let nd = Double(n), hd = Double(h)
        let dm = mean / (variance / nd).squareRoot()
        let factor = ((nd + 1 - 2 * hd + hd * (hd - 1) / nd) / nd).squareRoot()
        let corrected = dm * factor
        return DieboldMarianoTest(count: n, horizon: h, meanDifferential: mean, longRunVariance: variance,
                                  statistic: dm, correctedStatistic: corrected, degreesOfFreedom: n - 1,
                                  pValue: (try? StudentT(degreesOfFreedom: Double(n - 1)).twoSidedPValue(corrected)) ?? .nan)
    }
}

/// A rolling one-step-ahead backtest: a model's forecasts next to the naive forecasts it must beat, on every
/// target and pooled over the targets, with Diebold–Mariano tests of the model against the zero forecast.
/// Values are in the units given (`flexctl forecast --evaluate`: returns).
public struct Backtest: Sendable {
    /// The forecasters compared, in report order.
    public enum Forecaster: String, Sendable, CaseIterable {
        case model
        /// ŷ = 0 (for returns: tomorrow's price is today's, the random walk).
        case zero = "zero return"
        /// ŷ = the last observed value of the target at the forecast origin.
        case last = "last return"
        /// ŷ = the target's mean over the model's training split (the checkpoint's normalisation mean).
        case trainingMean = "training mean"
    }

    /// Target names.
    public var targets: [String]
    /// Forecast origins (days) scored.
    public var count: Int
    /// `errors[target][forecaster]`, forecasters in `Forecaster.allCases` order.
    public var errors: [[ForecastErrors]]
    /// Every target's pairs together (`pooled[forecaster]`).
    public var pooled: [ForecastErrors]
    /// Per target: DM test of the model's squared errors against the zero forecast's.
    public var dieboldMariano: [DieboldMarianoTest?]
    /// The same on the per-day mean over the targets of the squared-error differentials.
    public var pooledDieboldMariano: DieboldMarianoTest?

    /// `actual`, `model` and `last` are `[day][target]`; `trainingMean` one value per target; `horizon` is the
    /// forecast horizon for the DM test's variance.
    public init(targets: [String], actual: [[Double]], model: [[Double]], last: [[Double]], trainingMean: [Double],
                horizon: Int = 1) {
        let n = actual.count, nt = targets.count
        precondition(n > 0 && model.count == n && last.count == n && trainingMean.count == nt,
                     "Backtest: \(n) days of actual values, \(model.count) of model forecasts, \(last.count) of last values, \(trainingMean.count) means for \(nt) targets")
        self.targets = targets
        count = n
        func column(_ rows: [[Double]], _ j: Int) -> [Double] { rows.map { $0[j] } }
        func forecasts(_ f: Forecaster, _ j: Int) -> [Double] {
            switch f {
            case .model: column(model, j)
            case .zero: [Double](repeating: 0, count: n)
            case .last: column(last, j)
            case .trainingMean: [Double](repeating: trainingMean[j], count: n)
            }
        }
        var errors: [[ForecastErrors]] = []
        var dm: [DieboldMarianoTest?] = []
        var allActual: [Double] = []
        var allForecasts = [[Double]](repeating: [], count: Forecaster.allCases.count)
        var pooledModel = [Double](repeating: 0, count: n), pooledZero = [Double](repeating: 0, count: n)
        for j in 0..<nt {
            let y = column(actual, j)
            allActual += y
            var row: [ForecastErrors] = []
            for (k, f) in Forecaster.allCases.enumerated() {
                let p = forecasts(f, j)
                allForecasts[k] += p
                row.append(ForecastErrors.measure(actual: y, predicted: p))
            }
            errors.append(row)
            let m = column(model, j)
            let lossModel = zip(m, y).map { ($0 - $1) * ($0 - $1) }
            let lossZero = y.map { $0 * $0 }
            for t in 0..<n {
                pooledModel[t] += lossModel[t] / Double(nt)
                pooledZero[t] += lossZero[t] / Double(nt)
            }
            dm.append(DieboldMarianoTest.test(lossA: lossModel, lossB: lossZero, horizon: horizon))
        }
        self.errors = errors
        pooled = allForecasts.map { ForecastErrors.measure(actual: allActual, predicted: $0) }
        dieboldMariano = dm
        pooledDieboldMariano = DieboldMarianoTest.test(lossA: pooledModel, lossB: pooledZero, horizon: horizon)
    }

    /// The errors of forecaster `f` on target `j`.
    public func errors(_ f: Forecaster, target j: Int) -> ForecastErrors {
        errors[j][Forecaster.allCases.firstIndex(of: f)!]
    }

    /// The pooled errors of forecaster `f`.
    public func pooled(_ f: Forecaster) -> ForecastErrors {
        pooled[Forecaster.allCases.firstIndex(of: f)!]
    }
}
