import FlexRuntime
import FlexTraining
import Testing

@Suite struct RegularizerTests {
    // MARK: closed forms

    /// One α group, 2 units × 1 component, values [0, 1], default [0]; one unbounded β group of 2 values.
    @Test func handComputedTerms() throws {
        let alpha = try RegularizerGroup(name: "a", values: [0, 1], units: 2, width: 1, defaults: [0])
        let beta = try RegularizerGroup(name: "b", values: [5, 5], units: 2, width: 1, defaults: [5], bounds: nil)
        let reg = LayerwiseRegularizer(delta1: 1, delta2: 1, delta3: 1, margin: 0.25)
        let r = reg.evaluate([alpha, beta])
        // n = 4 values in all; m = 2 units per group.
        // mean: α mean 0.5 → (λ/m)·Σ(θ − mean)² = (1/2)(0.25 + 0.25) = 0.25; β has no spread.
        #expect(abs(r.terms.mean - 0.25) < 1e-12)
        // default: (1/n)·Σ(θ0 − θ)² = (0 + 1 + 0 + 0)/4.
        #expect(abs(r.terms.default - 0.25) < 1e-12)
        // boundary: upper threshold 1 − Δ = 0.75, so θ = 1 is 0.25 over: 0.25²/n; β unbounded adds nothing.
        #expect(abs(r.terms.boundary - 0.0625 / 4) < 1e-12)
        #expect(abs(r.loss - (r.terms.mean + r.terms.default + r.terms.boundary)) < 1e-15)
        // Gradients: 2·(1/2)(θ − 0.5) + 2/4·(θ − 0) + 2/4·(over − under).
        #expect(r.gradients.count == 2)
        #expect(r.gradients[0] == [-0.5, 0.5 + 0.5 + 0.125])
        #expect(r.gradients[1] == [0, 0])
    }

    @Test func meanTermIsPerComponentAndWeightedByLambdaOverUnits() throws {
        // 3 units × 2 components: component 0 = [1, 2, 3] (mean 2), component 1 = [0, 0, 3] (mean 1).
        let g = try RegularizerGroup(values: [1, 0, 2, 0, 3, 3], units: 3, width: 2, defaults: [0, 0], lambda: 0.5)
        let r = LayerwiseRegularizer(delta1: 2).evaluate([g])
        // δ1·λ/m · (1 + 0 + 1 + 1 + 1 + 4) = 2·0.5/3 · 8
        #expect(abs(r.loss - 8.0 / 3) < 1e-12)
        #expect(r.terms.default == 0 && r.terms.boundary == 0)
        let w = 2 * 2 * 0.5 / 3.0
        let expected = [-1, -1, 0, -1, 1, 2].map { Float(w * Double($0)) }
        #expect(r.gradients[0] == expected)
    }

    @Test func betaBoundsAreShiftedByTheMarginLikeAlphas() throws {
        // β domain [−2, 3], Δ = 0.5: penalties start above 2.5 and below −2.5.
        let g = try RegularizerGroup(values: [2.4, 2.75, -2.4, -3], units: 4, width: 1, defaults: [0],
                                     bounds: .init(lower: -2, upper: 3))
        let r = LayerwiseRegularizer(delta3: 4, margin: 0.5).evaluate([g])
        // (4/n)·(0.25² + 0.5²) with n = 4
        #expect(abs(r.loss - (0.0625 + 0.25)) < 1e-12)
        #expect(r.gradients[0] == [0, 0.5, 0, -1])  // 2·(4/4)·(over − under)
    }

    @Test func disabledAndEmpty() throws {
        let g = try RegularizerGroup(values: [3, -4], units: 2, width: 1, defaults: [0])
        let r = LayerwiseRegularizer().evaluate([g])
        #expect(r.loss == 0 && r.gradients == [[0, 0]])
        #expect(LayerwiseRegularizer().isDisabled)
        let e = LayerwiseRegularizer(delta1: 1, delta2: 1, delta3: 1).evaluate([])
        #expect(e.loss == 0 && e.gradients.isEmpty)
    }

    @Test func invalidGroupsAreRejected() {
        #expect(throws: ConfigurationError.self) { try RegularizerGroup(values: [1, 2, 3], units: 2, width: 2, defaults: [0, 0]) }
        #expect(throws: ConfigurationError.self) { try RegularizerGroup(values: [1, 2], units: 2, width: 1, defaults: [0, 0]) }
        #expect(throws: ConfigurationError.self) { try RegularizerGroup(values: [], units: 0, width: 1, defaults: [0]) }
        #expect(throws: ConfigurationError.self) {
            try RegularizerGroup(values: [1], units: 1, width: 1, defaults: [0], bounds: .init(lower: 1, upper: 0))
        }
        #expect(throws: ConfigurationError.self) { try RegularizerGroup(values: [1], units: 1, width: 1, defaults: [0], lambda: -1) }
    }

    // MARK: finite differences, one term at a time

    enum Term: String, CaseIterable, Sendable { case mean, `default`, boundary }

    static let margin = 0.125

    /// Three layers: a K = 3 simplex-style α (5 units), a one-weight α (4 units) and a β with bounds [−1, 2]
    /// (3 units). The values sit on a 2⁻¹² grid so θ ± h (h = 2⁻¹⁰) is exact in float32, and several sit just
    /// past the thresholds (1 − Δ, −Δ; β: 2 − Δ, −1 − Δ), 0.03 or more from every kink.
    static func groups() throws -> [RegularizerGroup] {
        let d = Float(margin)
        func q(_ x: Float) -> Float { (x * 4096).rounded() / 4096 }
        let alpha3: [Float] = [
            q(1 - d + 0.03), q(-d - 0.03), 0.25,
            0.5, q(1 - d - 0.05), q(-d + 0.04),
            q(1 - d + 0.2), 0.125, q(-d - 0.3),
            -0.5, 1.25, 0.375,
            0.0625, 0.8125, 0.1875,
        ]
        let alpha1: [Float] = [q(1 - d + 0.05), q(-d - 0.06), 0.5, 0.3125]
        let beta: [Float] = [q(2 - d + 0.04), q(-1 - d - 0.05), 0.75]
        return [
            try RegularizerGroup(name: "alpha3", values: alpha3, units: 5, width: 3, defaults: [1, 0, 0]),
            try RegularizerGroup(name: "alpha1", values: alpha1, units: 4, width: 1, defaults: [1], lambda: 0.5),
            try RegularizerGroup(name: "beta", values: beta, units: 3, width: 1, defaults: [1],
                                 bounds: .init(lower: -1, upper: 2), lambda: 2),
        ]
    }

    /// Each term is piecewise quadratic and the points are away from the kinks, so the central difference is
    /// exact up to double rounding (~1e-16 / h); the analytic gradient is rounded to float32 once (relative
    /// 2⁻²⁴). Hence the tolerance 1e-9 + 2⁻²²·|g|.
    @Test(arguments: Term.allCases)
    func gradientMatchesFiniteDifferences(term: Term) throws {
        let reg = switch term {
        case .mean: LayerwiseRegularizer(delta1: 0.7, margin: Self.margin)
        case .default: LayerwiseRegularizer(delta2: 1.3, margin: Self.margin)
        case .boundary: LayerwiseRegularizer(delta3: 2.1, margin: Self.margin)
        }
        let groups = try Self.groups()
        let base = reg.evaluate(groups)
        let value = switch term {
        case .mean: base.terms.mean
        case .default: base.terms.default
        case .boundary: base.terms.boundary
        }
        #expect(value > 0)
        #expect(abs(base.loss - value) < 1e-15)

        let h: Float = 0x1p-10
        var checked = 0, nonzero = 0
        for (j, g) in groups.enumerated() {
            for e in g.values.indices {
                func perturbed(_ delta: Float) throws -> Double {
                    var v = g.values
                    v[e] += delta
                    var gs = groups
                    gs[j] = try RegularizerGroup(name: g.name, values: v, units: g.units, width: g.width,
                                                 defaults: g.defaults, bounds: g.bounds, lambda: g.lambda)
                    return reg.evaluate(gs).loss
                }
                let fd = (try perturbed(h) - perturbed(-h)) / (2 * Double(h))
                let analytic = Double(base.gradients[j][e])
                #expect(abs(analytic - fd) <= 1e-9 + 0x1p-22 * abs(fd),
                        "\(term) \(g.name)[\(e)] = \(g.values[e]): analytic \(analytic), numeric \(fd)")
                checked += 1
                if analytic != 0 { nonzero += 1 }
            }
        }
        #expect(checked == 22)
        if term == .boundary {
            // Exactly the 10 values placed past a threshold have a boundary gradient.
            #expect(nonzero == 10)
        } else {
            #expect(nonzero > 15)
        }
    }

    /// The three terms are independent: the full regulariser is the sum of the single-term ones, gradients too.
    @Test func termsAdd() throws {
        let groups = try Self.groups()
        let all = LayerwiseRegularizer(delta1: 0.7, delta2: 1.3, delta3: 2.1, margin: Self.margin).evaluate(groups)
        let parts = [
            LayerwiseRegularizer(delta1: 0.7, margin: Self.margin).evaluate(groups),
            LayerwiseRegularizer(delta2: 1.3, margin: Self.margin).evaluate(groups),
            LayerwiseRegularizer(delta3: 2.1, margin: Self.margin).evaluate(groups),
        ]
        #expect(abs(all.terms.mean - parts[0].loss) < 1e-15)
        #expect(abs(all.terms.default - parts[1].loss) < 1e-15)
        #expect(abs(all.terms.boundary - parts[2].loss) < 1e-15)
        for j in groups.indices {
            for e in groups[j].values.indices {
                let sum = parts.reduce(0.0) { $0 + Double($1.gradients[j][e]) }
                #expect(abs(Double(all.gradients[j][e]) - sum) <= 1e-6 * max(1, abs(sum)))
            }
        }
    }
}
