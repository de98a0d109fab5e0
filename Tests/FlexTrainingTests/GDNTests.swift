import FlexRuntime
import FlexTraining
import Testing

/// GDN / IGDN: numpy float64 reference (GDNReferenceValues.swift), finite differences (above and at the lower
/// bound of the reparametrisation), CompressAI's initial values, and the layer inside a Sequential.
@Suite("GDN") struct GDNTests {
    /// Element e of E passes when |a − e| ≤ tol · (|e| + max|E|) (docs/reference-tests.md, "Tolerances").
    static func mismatch(_ found: [Float], _ expected: [Double], tolerance: Double = 1e-5) -> String? {
        guard found.count == expected.count else { return "count \(found.count), expected \(expected.count)" }
        let scale = expected.map(abs).max() ?? 0
        for (i, (a, e)) in zip(found, expected).enumerated() where abs(Double(a) - e) > tolerance * (abs(e) + scale) {
            return "element \(i): found \(a), expected \(e) (max|E| \(scale))"
        }
        return nil
    }

    static func referenceLayer(inverse: Bool) throws -> GDN {
        let layer = GDN(name: "gdn", channels: GDNReference.shape[1], inverse: inverse)
        try layer.setParameter("beta", Tensor(shape: [4], scalars: GDNReference.betaStored))
        try layer.setParameter("gamma", Tensor(shape: [4, 4], scalars: GDNReference.gammaStored))
        return layer
    }

    @Test(arguments: [false, true]) func matchesNumpyReference(inverse: Bool) throws {
        let layer = try Self.referenceLayer(inverse: inverse)
        let x = Tensor(shape: GDNReference.shape, scalars: GDNReference.x)
        let w = Tensor(shape: GDNReference.shape, scalars: GDNReference.weighting)
        var cache = LayerCache()
        let y = try layer.forward(x, cache: &cache)
        var grads = layer.zeroGradients()
        let dx = try #require(layer.backward(w, cache: cache, gradients: &grads, needsInputGradient: true))
        let R = GDNReference.self
        let expected = inverse
            ? (y: R.igdnOutput, dx: R.igdnInputGradient, beta: R.igdnBetaGradient, gamma: R.igdnGammaGradient)
            : (y: R.gdnOutput, dx: R.gdnInputGradient, beta: R.gdnBetaGradient, gamma: R.gdnGammaGradient)
        #expect(Self.mismatch(y.scalars, expected.y) == nil, "\(layer.label) y: \(Self.mismatch(y.scalars, expected.y)!)")
        #expect(Self.mismatch(dx.scalars, expected.dx) == nil, "∂L/∂x: \(Self.mismatch(dx.scalars, expected.dx) ?? "")")
        #expect(Self.mismatch(grads[0].scalars, expected.beta) == nil, "∂L/∂beta: \(Self.mismatch(grads[0].scalars, expected.beta) ?? "")")
        #expect(Self.mismatch(grads[1].scalars, expected.gamma) == nil, "∂L/∂gamma: \(Self.mismatch(grads[1].scalars, expected.gamma) ?? "")")
        // The buffered path gives the same values as the allocating one, bit for bit.
        var buffered = Tensor.empty
        try layer.forward(x, into: &buffered, workspace: Workspace())
        #expect(buffered == y)
        // Gradients accumulate: a second backward into the same tensors doubles them.
        _ = layer.backward(w, cache: cache, gradients: &grads, needsInputGradient: false)
        #expect(Self.mismatch(grads[1].scalars, expected.gamma.map { 2 * $0 }, tolerance: 3e-5) == nil)
        // The comparison can fail: one stored γ entry above its bound moved by 1e-2 changes the output.
        layer.parameters[1].scalars[1] += 1e-2
        #expect(Self.mismatch(try layer.forward(x).scalars, expected.y) != nil)
    }

    /// Stored values well above the bounds: the map is smooth there, so central differences apply directly.
    @Test(arguments: [false, true]) func finiteDifferencesAboveTheBounds(inverse: Bool) throws {
        let layer = GDN(name: "gdn", channels: 5, inverse: inverse)
        var rng = SplitMix64(seed: inverse ? 31 : 29)
        layer.parameters[0].scalars = (0..<5).map { _ in rng.uniform(0.5, 1.5) }
        layer.parameters[1].scalars = (0..<25).map { _ in rng.uniform(0.1, 0.6) }
        try checkLayerGradients(layer, input: randomTensor([2, 5, 3, 4], seed: 3, scale: 1.5), eps: 1e-2,
                                tolerance: 2e-3, samplesPerTensor: 40)
    }

    /// Every stored β and γ below its bound: the output does not depend on them (perturbing p changes nothing),
    /// and the analytic gradient must be CompressAI's: the one-sided derivative with respect to the clamped
    /// value m = bound, 2m·∂L/∂v, where it is negative, else 0. Both cases must occur.
    @Test(arguments: [false, true]) func lowerBoundGradientPassesOnlyNegativeGradients(inverse: Bool) throws {
        let c = 3
        let layer = GDN(name: "gdn", channels: c, inverse: inverse)
        var rng = SplitMix64(seed: 5)
        layer.parameters[0].scalars = (0..<c).map { _ in rng.uniform(-0.5, -0.02) }
        layer.parameters[1].scalars = (0..<(c * c)).map { _ in rng.uniform(-0.5, -0.02) }
        // Large inputs so γ near its (tiny) bound still moves the normaliser measurably.
        let x = randomTensor([2, c, 2, 3], seed: 9, scale: 100)
        let w = randomTensor([2, c, 2, 3], seed: 10)
        var cache = LayerCache()
        _ = try layer.forward(x, cache: &cache)
        var grads = layer.zeroGradients()
        _ = layer.backward(w, cache: cache, gradients: &grads, needsInputGradient: false)

        func loss() throws -> Double {
            let y = try layer.forward(x)
            return zip(y.scalars, w.scalars).reduce(0) { $0 + Double($1.0) * Double($1.1) }
        }
        let base = try loss()
        var passed = 0, blocked = 0
        for (p, bound) in [(0, GDN.betaBound), (1, GDN.gammaBound)] {
            let original = layer.parameters[p]
            for i in 0..<original.count {
                layer.parameters[p].scalars[i] = original.scalars[i] + 1e-2
                let moved = try loss()
                // Second-order one-sided difference at m = bound, stepping into the feasible region.
                let h = bound * 1e-2
                layer.parameters[p].scalars[i] = bound + h
                let l1 = try loss()
                layer.parameters[p].scalars[i] = bound + 2 * h
                let l2 = try loss()
                layer.parameters[p] = original
                #expect(moved == base, "\(layer.label) \(layer.parameterNames[p])[\(i)] below its bound changed the output")
                let gm = (-3 * base + 4 * l1 - l2) / (2 * Double(h))
                let analytic = Double(grads[p].scalars[i])
                if gm < 0 {
                    passed += 1
                    #expect(abs(analytic - gm) <= 1e-2 * abs(gm),
                            "\(layer.parameterNames[p])[\(i)]: analytic \(analytic), one-sided \(gm) (should pass)")
                } else {
                    blocked += 1
                    #expect(analytic == 0, "\(layer.parameterNames[p])[\(i)]: analytic \(analytic), one-sided \(gm) (should be blocked)")
                }
            }
        }
        #expect(passed > 0 && blocked > 0, "passed \(passed), blocked \(blocked): the test must see both branches")
    }

    /// CompressAI's initial values: stored β = sqrt(1 + 2^-36) = 1, stored γ = sqrt(0.1·I + 2^-36), so
    /// effective β = 1 and γ = 0.1·I (to float32 rounding); GDN of a one-hot pixel is x / sqrt(1 + 0.1·x²).
    @Test func initialValuesAreCompressAIs() throws {
        let layer = GDN(name: "gdn", channels: 3)
        #expect(layer.parameters[0].scalars == [1, 1, 1])
        #expect(layer.parameters[1][0, 0] == Float(0.1).squareRoot())
        #expect(layer.parameters[1][0, 1] == 0x1p-18)
        var x = Tensor(shape: [1, 3, 1, 1])
        x.scalars = [2, 0, 0]
        let y = try layer.forward(x)
        #expect(abs(y.scalars[0] - 2 / (1 + 0.1 * 4 as Float).squareRoot()) < 1e-6)
        let inverse = GDN(name: "igdn", channels: 3, inverse: true)
        let z = try inverse.forward(y).scalars[0]
        #expect(abs(z - y.scalars[0] * (1 + 0.1 * y.scalars[0] * y.scalars[0]).squareRoot()) < 1e-6)
        #expect(GDN.betaBound == Float((1e-6 + 0x1p-36 as Double).squareRoot()))
    }

    @Test func insideSequentialWithConvolutions() throws {
        let specs: [LayerSpec] = [
            .conv2d(inChannels: 3, outChannels: 8, kernel: 5, stride: 2, padding: 2),
            .gdn(channels: 8, inverse: false),
            .convTranspose2d(inChannels: 8, outChannels: 3, kernel: 5, stride: 2, padding: 2, outputPadding: 1),
            .gdn(channels: 3, inverse: true),
        ]
        let model = try Sequential(specs: specs, inputShape: [3, 12, 10], seed: 1)
        #expect(model.layerOutputShapes == [[8, 6, 5], [8, 6, 5], [3, 12, 10], [3, 12, 10]])
        #expect(model.layers.map(\.spec.kindName) == ["Conv2d", "GDN", "ConvTranspose2d", "IGDN"])
        #expect(model.layers[1].parameterNames == ["beta", "gamma"])
        #expect(specs[1].summary == "GDN(8)" && specs[3].summary == "IGDN(3)")
        let x = randomTensor([2, 3, 12, 10], seed: 4)
        #expect(try model.forward(x).shape == [2, 3, 12, 10])
        // Whole-model gradients reach GDN's parameters (the layer is a TrainableLayer).
        let (_, grads) = try model.lossAndGradients(input: x, target: x)
        #expect(grads[1][1].scalars.contains { $0 != 0 } && grads[3][0].scalars.contains { $0 != 0 })
        // A channel count that does not match the previous layer is refused with both shapes.
        let bad = specs.enumerated().map { $0.offset == 1 ? LayerSpec.gdn(channels: 7, inverse: false) : $0.element }
        #expect(throws: ConfigurationError.self) { try Sequential(specs: bad, inputShape: [3, 12, 10]) }
        do {
            _ = try Sequential(specs: bad, inputShape: [3, 12, 10])
        } catch {
            #expect(error.description.contains("[N, 7, H, W]") && error.description.contains("[8, 6, 5]"), "\(error.description)")
        }
    }

    @Test func sizesAreValidated() {
        var rng = SplitMix64(seed: 0)
        for (c, message) in [(0, "channels must be positive, found 0"), (-3, "channels must be positive, found -3"),
                             (70_000, "channels must be at most 65536, found 70000"),
                             (9000, "more than 67108864 parameters")] {
            do {
                _ = try LayerSpec.gdn(channels: c, inverse: false).makeLayer(name: "layers.1", rng: &rng)
                Issue.record("GDN(\(c)) was accepted")
            } catch {
                #expect(error.description.contains("layers.1 (GDN): " + message), "\(error.description)")
            }
        }
    }
}
