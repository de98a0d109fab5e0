import FlexRuntime
import FlexTraining
import Testing

@Suite struct TrainerTests {
    /// A toy auto-encoder on 8×8 images: Conv2d(1→4, k3, s2, p1), act, ConvT(4→1, k4, s2, p1), tanh.
    static func toyCAE(_ member: String, seed: UInt64) throws -> Sequential {
        let act = try ActivationFunction.member(member)
        return try Sequential(specs: [
            .conv2d(inChannels: 1, outChannels: 4, kernel: 3, stride: 2, padding: 1),
            .activation(act, units: 4),
            .convTranspose2d(inChannels: 4, outChannels: 1, kernel: 4, stride: 2, padding: 1, outputPadding: 0),
            .activation(try .member("tanh"), units: 1),
        ], inputShape: [1, 8, 8], seed: seed)
    }

    /// Smooth random images: sums of two seeded sinusoids, in [-0.8, 0.8].
    static func images(_ n: Int, seed: UInt64) -> Tensor {
        var rng = SplitMix64(seed: seed)
        var data: [Float] = []
        for _ in 0..<n {
            let (a, b, c, d) = (rng.uniform(0.3, 1.2), rng.uniform(0.3, 1.2), rng.uniform(0, 6), rng.uniform(0, 6))
            for y in 0..<8 { for x in 0..<8 {
                data.append(0.4 * Float.sin(a * Float(x) + c) + 0.4 * Float.cos(b * Float(y) + d))
            } }
        }
        return Tensor(shape: [n, 1, 8, 8], scalars: data)
    }

    /// Seeded property: for every member in the ReLU family and several seeds, 300 Adam steps lower the
    /// training loss to less than half its initial value, and α/β stay feasible throughout.
    @Test(arguments: ["p-e2-relu", "p-e2-id", "p-e-relu", "relu"])
    func adamLowersLossOnToyCAE(_ member: String) throws {
        for seed: UInt64 in [1, 2, 3] {
            let model = try Self.toyCAE(member, seed: seed)
            let x = Self.images(32, seed: seed &+ 100)
            let trainer = Trainer(model: model, optimizer: Adam(learningRate: 1e-2),
                                  regularizer: LayerwiseRegularizer(delta1: 1e-3, delta2: 1e-3, delta3: 1e-3, margin: 0.05))
            let initial = try model.lossAndGradients(input: x, target: x).loss
            for _ in 0..<300 { _ = try trainer.step(input: x, target: x) }
            let final = try model.lossAndGradients(input: x, target: x).loss
            #expect(final < 0.5 * initial, "\(member) seed \(seed): loss \(initial) → \(final)")
            for (l, slot) in model.activationSlots {
                if let i = slot.alphaIndex {
                    let alpha = model.layers[l].parameters[i].scalars.map(Double.init)
                    let w = slot.function.alphaWidth
                    for u in 0..<slot.units {
                        let beta = slot.betaIndex.map { [Double(model.layers[l].parameters[$0].scalars[u])] } ?? []
                        #expect(throws: Never.self) {
                            try slot.function.validate(alpha: Array(alpha[u * w ..< (u + 1) * w]), beta: beta)
                        }
                    }
                }
            }
        }
    }

    @Test func sameSeedAndThreadsGiveIdenticalRuns() throws {
        func run(threads: Int) throws -> [Tensor] {
            let model = try Self.toyCAE("p-e2-relu", seed: 7)
            let trainer = Trainer(model: model, optimizer: Adam(learningRate: 5e-3),
                                  regularizer: LayerwiseRegularizer(delta1: 0.1, delta2: 0.1), threads: threads)
            let x = Self.images(16, seed: 8)
            for _ in 0..<5 { _ = try trainer.step(input: x, target: x) }
            return model.namedParameters.map(\.tensor)
        }
        #expect(try run(threads: 2) == run(threads: 2))
        #expect(try run(threads: 1) == run(threads: 1))
    }

    @Test func projectionKeepsAlphaFeasibleUnderHugeSteps() throws {
        let model = try Self.toyCAE("p-e-relu", seed: 3)
        let trainer = Trainer(model: model, optimizer: Adam(learningRate: 5))
        let x = Self.images(8, seed: 4)
        for _ in 0..<5 { _ = try trainer.step(input: x, target: x) }
        let (l, slot) = try #require(model.activationSlots.first)
        let alpha = model.layers[l].parameters[try #require(slot.alphaIndex)].scalars
        for u in 0..<slot.units {
            let row = alpha[u * 3 ..< u * 3 + 3]
            #expect(row.allSatisfy { $0 >= 0 && $0 <= 1 })
            #expect(abs(row.reduce(0, +) - 1) < 1e-5)
        }
    }

    @Test func regulariserIsReportedAndPullsTowardsTheDefault() throws {
        let model = try Self.toyCAE("p-e2-id", seed: 5)
        let slot = try #require(model.activationSlots.first)
        let i = try #require(slot.slot.alphaIndex)
        // Move α away from its default (0.5) and let only the towards-default term act (zero-gradient data).
        model.layers[slot.layer].parameters[i].scalars = [0.9, 0.1, 0.8, 0.2]
        let trainer = Trainer(model: model, optimizer: Adam(learningRate: 1e-2),
                              regularizer: LayerwiseRegularizer(delta2: 10))
        let x = Tensor(shape: [4, 1, 8, 8])
        let first = try trainer.step(input: x, target: try model.forward(x)).regularization
        #expect(first > 0)
        for _ in 0..<100 { _ = try trainer.step(input: x, target: try model.forward(x)) }
        let alpha = model.layers[slot.layer].parameters[i].scalars
        for a in alpha { #expect(abs(a - 0.5) < 0.1, "α \(alpha) should approach the default 0.5") }
        #expect(try trainer.step(input: x, target: try model.forward(x)).regularization < first)
    }
}

/// The regulariser as the trainer applies it (free weights expanded to (α, 1 − α)), checked by finite
/// differences in every α and β of a model with a free-weight member, a simplex member and an LSTM.
@Suite struct TrainerRegularizerGradientTests {
    @Test(arguments: ["p-e2-id", "p-e-relu", "p-sig-ramp"])
    func gradientMatchesFiniteDifferences(_ member: String) throws {
        let f = try ActivationFunction.member(member)
        let model = try Sequential(specs: [
            .dense(inFeatures: 3, outFeatures: 5), .activation(f, units: 5),
            .dense(inFeatures: 5, outFeatures: 4), .activation(f, units: 4),
        ], inputShape: [3], seed: 2)
        // Spread α over (0, 1) so values sit past both boundary thresholds (Δ = 0.2) and inside; β around 1.
        var rng = SplitMix64(seed: 9)
        for (l, slot) in model.activationSlots {
            if let i = slot.alphaIndex {
                var a = model.layers[l].parameters[i].scalars.map { _ in rng.uniform(0.03, 0.97) }
                var b = [Float](repeating: 1, count: slot.units * f.betaWidth)
                f.project(alpha: &a, beta: &b)  // simplex rows for p-e-relu
                model.layers[l].parameters[i].scalars = a
            }
            if let i = slot.betaIndex {
                model.layers[l].parameters[i].scalars = model.layers[l].parameters[i].scalars.map { _ in rng.uniform(0.5, 1.5) }
            }
        }
        let trainer = Trainer(model: model, regularizer: LayerwiseRegularizer(delta1: 0.7, delta2: 1.3, delta3: 2.1, margin: 0.2))
        var grads = model.zeroGradients()
        let r0 = try trainer.addRegularizer(to: &grads)
        #expect(r0 > 0)
        func value() throws -> Double { var g = model.zeroGradients(); return try trainer.addRegularizer(to: &g) }
        let eps: Float = 1e-3
        var checked = 0
        for (l, slot) in model.activationSlots {
            for i in [slot.alphaIndex, slot.betaIndex].compactMap({ $0 }) {
                let original = model.layers[l].parameters[i].scalars
                for k in original.indices {
                    // Skip values within eps of a boundary threshold (the term's second derivative jumps there).
                    let v = original[k]
                    if slot.alphaIndex == i, [0.2, 0.8].contains(where: { abs(v - $0) < 2 * eps }) { continue }
                    model.layers[l].parameters[i].scalars[k] = v + eps
                    let rp = try value()
                    model.layers[l].parameters[i].scalars[k] = v - eps
                    let rm = try value()
                    model.layers[l].parameters[i].scalars = original
                    let numeric = (rp - rm) / Double(2 * eps)
                    let analytic = Double(grads[l][i].scalars[k])
                    #expect(abs(numeric - analytic) <= 1e-3 * max(1, abs(numeric)),
                            "\(member) layer \(l) param \(i)[\(k)]: analytic \(analytic), numeric \(numeric)")
                    checked += 1
                }
            }
        }
        #expect(checked > 10)
    }

    @Test func freeWeightBoundaryActsAtBothEnds() throws {
        let f = try ActivationFunction.member("p-e2-relu")
        let model = try Sequential(specs: [.dense(inFeatures: 1, outFeatures: 2), .activation(f, units: 2)], inputShape: [1])
        let trainer = Trainer(model: model, regularizer: LayerwiseRegularizer(delta3: 1, margin: 0.1))
        func r(_ alpha: [Float]) throws -> Double {
            model.layers[1].parameters[0].scalars = alpha
            var g = model.zeroGradients()
            return try trainer.addRegularizer(to: &g)
        }
        #expect(try r([0.5, 0.5]) == 0)
        #expect(try r([0.02, 0.5]) > 0, "α near 0 must be penalised (its 1 − α component is near 1)")
        #expect(try r([0.98, 0.5]) > 0)
        #expect(abs(try r([0.02, 0.5]) - r([0.98, 0.5])) < 1e-12, "symmetric in α ↔ 1 − α")
    }
}
