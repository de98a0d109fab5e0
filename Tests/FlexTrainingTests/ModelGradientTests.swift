import FlexRuntime
import FlexTraining
import Testing

/// End-to-end checks of `Sequential.lossAndGradients` (MSE through every layer of a CAE) by finite differences.
@Suite struct ModelGradientTests {
    /// Central differences of the whole-model loss: the outputs are float32 (rounding ≈ 1e-7 relative each) but
    /// the MSE is summed in Double, so the loss carries ≈ 1e-8 of noise and eps = 1e-3 gives difference
    /// quotients accurate to ≈ 1e-5; 2e-2 relative plus 2e-4 absolute is a safe bound. The members' ReLU parts
    /// and the max-pools are piecewise linear: a small eps keeps perturbations from crossing their kinks
    /// (the known-answer tests check these gradients exactly against PyTorch).
    @Test(arguments: ["p-e2-relu", "p-e2-id", "p-e-relu", "elu"])
    func cae2LossGradient(_ member: String) throws {
        let model = try Sequential(specs: Architecture.cae2(activation: .member(member)), inputShape: [1, 28, 28], seed: 5)
        let x = randomTensor([2, 1, 28, 28], seed: 11)
        let target = randomTensor([2, 1, 28, 28], seed: 12, scale: 0.5)
        let (_, grads) = try model.lossAndGradients(input: x, target: target)
        var rng = SplitMix64(seed: 3)
        let eps: Float = 1e-3
        for (l, layer) in model.layers.enumerated() {
            for p in layer.parameters.indices {
                for _ in 0..<4 {
                    let i = Int(rng.next() % UInt64(layer.parameters[p].count))
                    let original = layer.parameters[p].scalars[i]
                    layer.parameters[p].scalars[i] = original + eps
                    let lp = try model.lossAndGradients(input: x, target: target).loss
                    layer.parameters[p].scalars[i] = original - eps
                    let lm = try model.lossAndGradients(input: x, target: target).loss
                    layer.parameters[p].scalars[i] = original
                    let numeric = (lp - lm) / (2 * eps)
                    let analytic = grads[l][p].scalars[i]
                    #expect(abs(numeric - analytic) <= 2e-4 + 2e-2 * abs(numeric),
                            "\(layer.name).\(layer.parameterNames[p])[\(i)]: analytic \(analytic), numeric \(numeric)")
                }
            }
        }
    }

    /// The forecaster end to end (LSTM with P-Sig-Ramp gates → Dense → MSE), every parameter tensor sampled.
    /// α = 0.5 so both gate components carry weight; β = 0.05 puts the ramp ends at |z| = 10, which no
    /// pre-activation can reach: weights and biases are within 1/√6 < 0.41 (±eps), inputs within 1 and |h| < 1,
    /// so |z| ≤ 0.41·(6 + 6 + 2) < 6 in either layer — the loss is smooth in every parameter.
    @Test func lstmForecasterLossGradient() throws {
        let specs = Architecture.lstmForecaster(features: 4, hidden: 6, layers: 2, targets: 2,
                                                gate: try .member("p-sig-ramp"), cell: try .member("tanh"))
        let model = try Sequential(specs: specs, inputShape: [7, 4], seed: 4)
        for (l, slot) in model.activationSlots {
            if let i = slot.alphaIndex {
                model.layers[l].parameters[i].scalars = model.layers[l].parameters[i].scalars.map { _ in 0.5 }
            }
            if let i = slot.betaIndex {
                model.layers[l].parameters[i].scalars = model.layers[l].parameters[i].scalars.map { _ in 0.05 }
            }
        }
        let x = randomTensor([3, 7, 4], seed: 21)
        let target = randomTensor([3, 2], seed: 22, scale: 0.5)
        let (_, grads) = try model.lossAndGradients(input: x, target: target)
        var rng = SplitMix64(seed: 5)
        let eps: Float = 1e-3
        for (l, layer) in model.layers.enumerated() {
            for p in layer.parameters.indices {
                for _ in 0..<3 {
                    let i = Int(rng.next() % UInt64(layer.parameters[p].count))
                    let original = layer.parameters[p].scalars[i]
                    layer.parameters[p].scalars[i] = original + eps
                    let lp = try model.lossAndGradients(input: x, target: target).loss
                    layer.parameters[p].scalars[i] = original - eps
                    let lm = try model.lossAndGradients(input: x, target: target).loss
                    layer.parameters[p].scalars[i] = original
                    let numeric = (lp - lm) / (2 * eps)
                    let analytic = grads[l][p].scalars[i]
                    #expect(abs(numeric - analytic) <= 2e-4 + 2e-2 * abs(numeric),
                            "\(layer.name).\(layer.parameterNames[p])[\(i)]: analytic \(analytic), numeric \(numeric)")
                }
            }
        }
    }

    @Test func threadedGradientsEqualSingleThreaded() throws {
        let model = try Sequential(specs: Architecture.cae1(activation: .member("p-e2-relu")), inputShape: [1, 28, 28], seed: 9)
        let x = randomTensor([7, 1, 28, 28], seed: 1)
        let (l1, g1) = try model.lossAndGradients(input: x, target: x)
        let (l2, g2) = try model.lossAndGradients(input: x, target: x, threads: 2)
        let (l3, g3) = try model.lossAndGradients(input: x, target: x, threads: 2)
        #expect(abs(l1 - l2) <= 1e-6 * max(1, abs(l1)))
        #expect(l2 == l3 && g2 == g3, "same thread count must give bit-identical results")
        for (a, b) in zip(g1.joined(), g2.joined()) {
            for (u, v) in zip(a.scalars, b.scalars) { #expect(abs(u - v) <= 1e-5 * max(1, abs(u))) }
        }
    }
}
