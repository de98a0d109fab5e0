import FlexRuntime
import FlexTraining
import Foundation
import PropertyBased
import Testing

@Suite struct AdamTests {
    /// Tolerance for comparing a float32 parameter with an exactly computed value: two ulps of the result plus a
    /// relative 1e-5 of the step size (the step passes through a few float32 roundings of quantities of size η).
    static func close(_ actual: Float, _ expected: Double, step: Double) -> Bool {
        abs(Double(actual) - expected) <= 2 * Double(Float(expected).ulp) + 1e-5 * step
    }

    static let theta0: [Float] = [0.5, -1.25, 2, 0.125, -0.75, 1, 3, -2, 0.0625, 1.5, -0.375]  // 11: SIMD8 + tail 3
    static let g1: [Float] = [0.3, -2, 1e-3, 0, 5, -0.01, 1e-9, -1e-9, 7, -0.2, 0.04]
    static let g2: [Float] = [-0.1, -1, 2e-3, 0.5, -5, 0.03, 3e-9, 1e-9, 6, 0.2, -0.04]

    /// t = 1: m̂ = g and v̂ = g², so θ1 = θ0 − η·g/(|g| + ε): a step of η against the gradient's sign, except
    /// where |g| is comparable to ε (|g| = 1e-9 moves η/11, g = 0 does not move).
    @Test func firstStepClosedForm() {
        var adam = Adam(learningRate: 0.01)
        var params = [Tensor(shape: [11], scalars: Self.theta0)]
        adam.step(parameters: &params, gradients: [Tensor(shape: [11], scalars: Self.g1)])
        #expect(adam.state.step == 1)
        for e in 0..<11 {
            let g = Double(Self.g1[e])
            let expected = Double(Self.theta0[e]) - 0.01 * g / (abs(g) + 1e-8)
            #expect(Self.close(params[0].scalars[e], expected, step: 0.01), "element \(e): \(params[0].scalars[e]) vs \(expected)")
        }
        #expect(params[0].scalars[3] == Self.theta0[3])  // zero gradient: no move
        #expect(abs(Double(params[0].scalars[6] - Self.theta0[6]) + 0.01 / 11) < 1e-6)  // η·1e-9/(1e-9 + 1e-8)
    }

    /// t = 2 in closed form: m2 = β1(1−β1)g1 + (1−β1)g2, v2 = β2(1−β2)g1² + (1−β2)g2²,
    /// θ2 = θ1 − η·(m2/(1−β1²)) / (√(v2/(1−β2²)) + ε).
    @Test(arguments: [(0.9, 0.999, 1e-8), (0.5, 0.9, 1e-3)])
    func secondStepClosedForm(b1: Double, b2: Double, eps: Double) {
        let lr = 0.02
        var adam = Adam(learningRate: lr, beta1: b1, beta2: b2, epsilon: eps)
        var params = [Tensor(shape: [11], scalars: Self.theta0)]
        adam.step(parameters: &params, gradients: [Tensor(shape: [11], scalars: Self.g1)])
        adam.step(parameters: &params, gradients: [Tensor(shape: [11], scalars: Self.g2)])
        #expect(adam.state.step == 2)
        for e in 0..<11 {
            let a = Double(Self.g1[e]), b = Double(Self.g2[e])
            let theta1 = Double(Self.theta0[e]) - lr * a / (abs(a) + eps)
            let m2 = b1 * (1 - b1) * a + (1 - b1) * b
            let v2 = b2 * (1 - b2) * a * a + (1 - b2) * b * b
            let expected = theta1 - lr * (m2 / (1 - b1 * b1)) / ((v2 / (1 - b2 * b2)).squareRoot() + eps)
            #expect(Self.close(params[0].scalars[e], expected, step: lr), "element \(e): \(params[0].scalars[e]) vs \(expected)")
            // The moments themselves.
            #expect(abs(Double(adam.state.firstMoments[0][e]) - m2) <= 1e-6 * abs(m2) + 1e-30)
            #expect(abs(Double(adam.state.secondMoments[0][e]) - v2) <= 1e-6 * v2 + 1e-30)
        }
    }

    /// PyTorch's coupled L2 weight decay: the first step uses g + w·θ.
    @Test func weightDecayFirstStep() {
        var adam = Adam(learningRate: 0.01, weightDecay: 0.5)
        var params = [Tensor(shape: [11], scalars: Self.theta0)]
        adam.step(parameters: &params, gradients: [Tensor(shape: [11], scalars: Self.g1)])
        for e in 0..<11 {
            let g = Double(Self.g1[e]) + 0.5 * Double(Self.theta0[e])
            let expected = Double(Self.theta0[e]) - 0.01 * g / (abs(g) + 1e-8)
            #expect(Self.close(params[0].scalars[e], expected, step: 0.01))
        }
    }

    @Test func learningRateMultipliersScaleEachTensor() {
        var adam = Adam(learningRate: 0.01, learningRateMultipliers: [2, 0])
        var params = [Tensor(shape: [2], scalars: [1, 1]), Tensor(shape: [2], scalars: [1, 1])]
        let grads = [Tensor(shape: [2], scalars: [1, -1]), Tensor(shape: [2], scalars: [1, -1])]
        adam.step(parameters: &params, gradients: grads)
        #expect(abs(params[0].scalars[0] - 0.98) < 1e-6 && abs(params[0].scalars[1] - 1.02) < 1e-6)
        #expect(params[1].scalars == [1, 1])
    }

    /// Agreement with `torch.optim.Adam` (values produced by Reference/adam_reference.py, see
    /// AdamReferenceValues.swift). Both run the same float32 operations in the same order with the same fused
    /// multiply-adds, and three of the four cases agree bit for bit. PyTorch's vectorised square root (MKL) is
    /// not correctly rounded (off by one ulp for about one input in six), so in the 12-step weight-decay case a few
    /// elements drift by 1–2 ulps. We allow 4 ulps of max(|θ|, 0.25) — at most 4.8e-7 here, where |θ| ≤ 1.5.
    @Test(arguments: AdamReference.all.map(\.0))
    func matchesPyTorch(caseName: String) throws {
        let ref = try #require(AdamReference.all.first { $0.0 == caseName }?.1)
        var adam = Adam(learningRate: ref.learningRate, beta1: ref.beta1, beta2: ref.beta2, epsilon: ref.epsilon,
                        weightDecay: ref.weightDecay, learningRateMultipliers: ref.learningRateMultipliers)
        var params = zip(ref.shapes, ref.initial).map { Tensor(shape: $0, scalars: $1) }
        for (t, grads) in ref.gradients.enumerated() {
            adam.step(parameters: &params, gradients: zip(ref.shapes, grads).map { Tensor(shape: $0, scalars: $1) })
            for (i, p) in params.enumerated() {
                for (e, value) in p.scalars.enumerated() {
                    let expected = ref.after[t][i][e]
                    let ulps = abs(value - expected) / max(abs(expected), 0.25).ulp
                    #expect(ulps <= 4, "\(caseName) step \(t + 1) tensor \(i)[\(e)]: \(value) vs PyTorch \(expected)")
                }
            }
        }
        #expect(adam.state.step == ref.gradients.count)
    }

    /// A checkpointed optimiser continues bit for bit: encode after 3 steps, decode, take a 4th step with both.
    @Test func codableRoundTripReproducesTheNextStep() throws {
        var adam = Adam(learningRate: 0.003, beta1: 0.85, weightDecay: 1e-4, learningRateMultipliers: [1, 0.1])
        var rng = SplitMix64(seed: 42)
        func randomTensor(_ shape: [Int]) -> Tensor {
            Tensor(shape: shape, scalars: (0..<shape.reduce(1, *)).map { _ in rng.uniform(-1, 1) })
        }
        var params = [randomTensor([3, 7]), randomTensor([5])]
        for _ in 0..<3 { adam.step(parameters: &params, gradients: [randomTensor([3, 7]), randomTensor([5])]) }

        let data = try JSONEncoder().encode(adam)
        var restored = try JSONDecoder().decode(Adam.self, from: data)
        #expect(restored == adam)

        let nextGrads = [randomTensor([3, 7]), randomTensor([5])]
        var paramsA = params, paramsB = params
        adam.step(parameters: &paramsA, gradients: nextGrads)
        restored.step(parameters: &paramsB, gradients: nextGrads)
        #expect(paramsA == paramsB)
        #expect(restored.state == adam.state)
        #expect(restored.state.step == 4)
        #expect(paramsA != params)
    }

    @Test func validateRejectsBadHyperParametersAndForeignState() throws {
        var adam = Adam()
        var params = [Tensor(shape: [2, 3], repeating: 1)]
        try adam.validate(parameters: params)
        adam.step(parameters: &params, gradients: [Tensor(shape: [2, 3], repeating: 1)])
        try adam.validate(parameters: params)
        #expect(throws: ConfigurationError.self) { try adam.validate(parameters: [Tensor(shape: [3, 2])]) }
        #expect(throws: ConfigurationError.self) { try adam.validate(parameters: params + params) }
        #expect(throws: ConfigurationError.self) { try Adam(beta1: 1).validate(parameters: []) }
        #expect(throws: ConfigurationError.self) { try Adam(learningRate: -1).validate(parameters: []) }
        #expect(throws: ConfigurationError.self) { try Adam(learningRateMultipliers: [1, 2]).validate(parameters: params) }
        adam.resetState()
        try adam.validate(parameters: [Tensor(shape: [3, 2])])
    }

    @Test func mismatchedGradientShapeStops() async {
        await #expect(processExitsWith: .failure) {
            var adam = Adam()
            var params = [Tensor(shape: [2, 3])]
            adam.step(parameters: &params, gradients: [Tensor(shape: [3, 2])])
        }
    }

    /// On a random convex quadratic f(θ) = ½ (θ − c)ᵀ A (θ − c), A = BᵀB + μI (d ≤ 20), Adam decreases the loss:
    /// a small first step does (its direction −sign(g) is a descent direction), and 400 steps with η = 0.05 bring
    /// f below a hundredth of its start (over all 4096 seeds the worst ratio is 0.0015). Each case is built from
    /// SplitMix64(seed) with the seed drawn from the fixed range 0...4095, so every possible case is fixed and a
    /// reported failing seed reproduces exactly. (PropertyBased's `.fixedSeed` trait is meant for reproducing a
    /// failure only: it records an issue whenever the test passes, so it cannot be committed.)
    @Test func decreasesARandomConvexQuadratic() async {
        await propertyCheck(count: 60, input: Gen.uint64(in: 0...4095)) { seed in
            var rng = SplitMix64(seed: 0xF1E7_AC71_0000 &+ seed)
            let d = 1 + Int(rng.next() % 20)
            let b = (0..<(d * d)).map { _ in Double(rng.uniform(-1, 1)) }
            let mu = Double(rng.uniform(0.1, 1))
            var a = [Double](repeating: 0, count: d * d)
            for r in 0..<d { for c in 0..<d {
                var s = r == c ? mu : 0
                for k in 0..<d { s += b[k * d + r] * b[k * d + c] }
                a[r * d + c] = s
            } }
            let center = (0..<d).map { _ in Double(rng.uniform(-2, 2)) }
            var theta = Tensor(shape: [d], scalars: (0..<d).map { _ in rng.uniform(-2, 2) })
            func lossAndGradient(_ x: Tensor) -> (Double, Tensor) {
                let diff = (0..<d).map { Double(x.scalars[$0]) - center[$0] }
                var f = 0.0
                var g = [Float](repeating: 0, count: d)
                for r in 0..<d {
                    var s = 0.0
                    for c in 0..<d { s += a[r * d + c] * diff[c] }
                    g[r] = Float(s)
                    f += 0.5 * diff[r] * s
                }
                return (f, Tensor(shape: [d], scalars: g))
            }
            var adam = Adam(learningRate: 0.05)
            let (f0, _) = lossAndGradient(theta)
            var params = [theta]
            for t in 0..<400 {
                let (_, g) = lossAndGradient(params[0])
                adam.step(parameters: &params, gradients: [g])
                if t == 0 {
                    // Small first step for the descent check on a copy.
                    var small = Adam(learningRate: 1e-4)
                    var p = [theta]
                    small.step(parameters: &p, gradients: [g])
                    #expect(lossAndGradient(p[0]).0 < f0, "seed \(seed): first step did not decrease f")
                }
            }
            theta = params[0]
            let fN = lossAndGradient(theta).0
            #expect(fN < 0.01 * f0 || fN < 1e-6, "seed \(seed), d = \(d): f went from \(f0) to \(fN)")
        }
    }
}
