import FlexEntropyModel
import RealModule
import FlexRuntime
import Testing

/// The model of EntropyModelReference (numpy float64, Reference/entropy_model_reference.py).
func referenceModel() throws -> EntropyBottleneck {
    let r = EntropyModelReference.self
    let k = r.filters.count + 1
    let shapes = EntropyBottleneck.parameterShapes(channels: r.channels, filters: r.filters)
    let t = zip(shapes, r.parameters).map { Tensor(shape: $0, scalars: $1) }
    return try EntropyBottleneck(channels: r.channels, filters: r.filters, matrices: Array(t[0..<k]),
                                 biases: Array(t[k..<(2 * k)]), factors: Array(t[(2 * k)..<(3 * k - 1)]),
                                 quantiles: t[3 * k - 1])
}

func close(_ a: Double, _ b: Double, rel: Double, abs absTol: Double = 0) -> Bool {
    abs(a - b) <= rel * max(abs(a), abs(b)) + absTol
}

@Suite struct EntropyBottleneckReferenceTests {
    @Test func forwardMatchesNumpy() throws {
        let r = EntropyModelReference.self
        let model = try referenceModel()
        let y = Tensor(shape: r.latentShape, scalars: r.latents)
        let out = try model.rate(y)
        #expect(close(out.bits, r.bits, rel: 1e-12), "bits \(out.bits) vs numpy \(r.bits)")
        for i in 0..<y.count {
            let expected = Float(max(r.likelihoods[i], EntropyBottleneck.likelihoodBound))
            // float32 rounding of a value computed to ~1e-15 in Double: at most half an ulp apart, allow one.
            #expect(abs(out.likelihoods.scalars[i] - expected) <= expected.ulp,
                    "likelihood[\(i)] \(out.likelihoods.scalars[i]) vs numpy \(expected)")
        }
    }

    @Test func gradientsMatchNumpyComplexStep() throws {
        let r = EntropyModelReference.self
        let model = try referenceModel()
        let y = Tensor(shape: r.latentShape, scalars: r.latents)
        let (out, g) = try model.rateWithGradients(y)
        #expect(close(out.bits, r.bits, rel: 1e-12))
        // The Swift gradients are Double rounded to float32 (relative 6e-8); the tiny absolute term covers the
        // gradients of elements far below the bound (1e-12 and less).
        for i in 0..<y.count {
            #expect(close(Double(g.latents.scalars[i]), r.latentGradient[i], rel: 1e-6, abs: 1e-15),
                    "∂bits/∂y[\(i)] \(g.latents.scalars[i]) vs numpy \(r.latentGradient[i])")
        }
        #expect(g.density.count == r.parameterGradients.count)
        for (p, name) in model.parameterNames.dropLast().enumerated() {
            #expect(g.density[p].shape == model.parameters[p].shape)
            for i in 0..<g.density[p].count {
                #expect(close(Double(g.density[p].scalars[i]), r.parameterGradients[p][i], rel: 1e-6, abs: 1e-12),
                        "∂bits/∂\(name)[\(i)] \(g.density[p].scalars[i]) vs numpy \(r.parameterGradients[p][i])")
            }
        }
    }

    @Test func auxiliaryLossMatchesNumpy() throws {
        let r = EntropyModelReference.self
        let (loss, g) = try referenceModel().auxiliaryLoss()
        #expect(close(loss, r.auxiliaryLoss, rel: 1e-12), "aux loss \(loss) vs numpy \(r.auxiliaryLoss)")
        for i in 0..<g.count {
            #expect(close(Double(g.scalars[i]), r.quantileGradient[i], rel: 1e-6),
                    "∂aux/∂quantiles[\(i)] \(g.scalars[i]) vs numpy \(r.quantileGradient[i])")
        }
    }

    @Test func pmfExportMatchesNumpy() throws {
        let r = EntropyModelReference.self
        let pmfs = try referenceModel().channelPMFs()
        #expect(pmfs.count == r.pmfs.count)
        for (c, (got, want)) in zip(pmfs, r.pmfs).enumerated() {
            #expect(got.median == want.median && got.minimum == want.minimum && got.maximum == want.maximum,
                    "channel \(c): support \(got.minimum)...\(got.maximum) around \(got.median), numpy \(want.minimum)...\(want.maximum) around \(want.median)")
            #expect(got.pmf.count == want.pmf.count)
            for (i, (a, b)) in zip(got.pmf, want.pmf).enumerated() {
                #expect(close(a, b, rel: 1e-10, abs: 1e-300), "channel \(c) pmf[\(i)] \(a) vs numpy \(b)")
            }
            #expect(close(got.tailMass, want.tailMass, rel: 1e-8), "channel \(c) tail \(got.tailMass) vs numpy \(want.tailMass)")
        }
    }
}

// MARK: Finite differences

/// Central differences of a Double-valued function of one float32 coordinate. The denominator is the actual
/// distance between the two float32 points (x ± eps rounded), so float32 rounding of the perturbation does not
/// show up as error; the function itself is computed in Double.
func centralDifference(_ x: Float, eps: Float, _ f: (Float) throws -> Double) rethrows -> Double {
    let xp = x + eps, xm = x - eps
    return (try f(xp) - f(xm)) / (Double(xp) - Double(xm))
}

@Suite struct EntropyBottleneckFiniteDifferenceTests {
    /// Latents inside the bodies of the densities (every likelihood far above the bound, where the bound's
    /// pass-through gradient would differ from the true derivative of max(·, bound)).
    func bodyLatents(_ model: EntropyBottleneck, n: Int, width: Int, seed: UInt64, spread: Float) -> Tensor {
        var rng = SplitMix64(seed: seed)
        let med = model.medians
        var t = Tensor(shape: [n, model.channels, 1, width])
        for i in 0..<t.count { t.scalars[i] = med[(i / width) % model.channels] + rng.uniform(-spread, spread) }
        return t
    }

    func models() throws -> [(String, EntropyBottleneck)] {
        var rng = SplitMix64(seed: 42)
        var initialised = try EntropyBottleneck(channels: 2, rng: &rng)
        // Non-zero factors, so that ∂/∂a is exercised away from a = 0 as well.
        for k in 0..<initialised.factors.count {
            for i in 0..<initialised.factors[k].count { initialised.factors[k].scalars[i] = rng.uniform(-1, 1) }
        }
        var fresh = SplitMix64(seed: 43)
        return [("reference", try referenceModel()), ("initialised+factors", initialised),
                ("compressai-init", try EntropyBottleneck(channels: 2, rng: &fresh))]
    }

    @Test func rateGradientsMatchFiniteDifferences() throws {
        for (label, model) in try models() {
            let y = bodyLatents(model, n: 2, width: 3, seed: 5, spread: 4)
            let (out, g) = try model.rateWithGradients(y)
            #expect(out.likelihoods.scalars.allSatisfy { $0 > 1e-6 }, "\(label): latents should be in the body")
            func check(_ what: String, _ analytic: Float, _ numeric: Double) {
                #expect(close(Double(analytic), numeric, rel: 2e-4, abs: 2e-4),
                        "\(label) ∂bits/∂\(what): analytic \(analytic), numeric \(numeric)")
            }
            for i in 0..<y.count {
                let numeric = try centralDifference(y.scalars[i], eps: 1e-3) { v in
                    var yy = y; yy.scalars[i] = v; return try model.rate(yy).bits
                }
                check("y[\(i)]", g.latents.scalars[i], numeric)
            }
            for (p, name) in model.parameterNames.dropLast().enumerated() {
                for i in 0..<model.parameters[p].count {
                    let numeric = try centralDifference(model.parameters[p].scalars[i], eps: 1e-3) { v in
                        try perturbed(model, p, i, v).rate(y).bits
                    }
                    check("\(name)[\(i)]", g.density[p].scalars[i], numeric)
                }
            }
            // The rate does not depend on the quantiles.
            let q = try centralDifference(model.quantiles.scalars[1], eps: 0.25) { v in
                try perturbed(model, model.parameters.count - 1, 1, v).rate(y).bits
            }
            #expect(q == 0)
        }
    }

    @Test func likelihoodGradientMatchesFiniteDifferences() throws {
        // L = Σ w ⊙ likelihood with signed weights: the general backward, not only the rate's −1/(x ln 2).
        let model = try referenceModel()
        let y = bodyLatents(model, n: 1, width: 4, seed: 9, spread: 3)
        var rng = SplitMix64(seed: 10)
        let w = Tensor(shape: y.shape, scalars: (0..<y.count).map { _ in rng.uniform(-1, 1) })
        func loss(_ m: EntropyBottleneck, _ yy: Tensor) throws -> Double {
            let l = try m.rate(yy).likelihoods
            return zip(l.scalars, w.scalars).reduce(0) { $0 + Double($1.0) * Double($1.1) }
        }
        let g = try model.backward(y, likelihoodGradient: w)
        // Likelihoods come back as float32: the difference quotient over eps = 1e-2 carries ~1e-6 of rounding.
        for i in 0..<y.count {
            let numeric = try centralDifference(y.scalars[i], eps: 1e-2) { v in var yy = y; yy.scalars[i] = v; return try loss(model, yy) }
            #expect(close(Double(g.latents.scalars[i]), numeric, rel: 1e-3, abs: 1e-5), "∂L/∂y[\(i)] \(g.latents.scalars[i]) vs \(numeric)")
        }
        for (p, name) in model.parameterNames.dropLast().enumerated() {
            for i in 0..<model.parameters[p].count {
                let numeric = try centralDifference(model.parameters[p].scalars[i], eps: 1e-2) { v in
                    try loss(perturbed(model, p, i, v), y)
                }
                #expect(close(Double(g.density[p].scalars[i]), numeric, rel: 1e-3, abs: 1e-5),
                        "∂L/∂\(name)[\(i)] \(g.density[p].scalars[i]) vs \(numeric)")
            }
        }
    }

    @Test func auxiliaryGradientMatchesFiniteDifferences() throws {
        for (label, model) in try models() {
            let (_, g) = model.auxiliaryLoss()
            for i in 0..<model.quantiles.count {
                let numeric = centralDifference(model.quantiles.scalars[i], eps: 1e-3) { v in
                    var m = model; m.quantiles.scalars[i] = v; return m.auxiliaryLoss().loss
                }
                #expect(close(Double(g.scalars[i]), numeric, rel: 2e-4, abs: 1e-6),
                        "\(label) ∂aux/∂quantiles[\(i)]: analytic \(g.scalars[i]), numeric \(numeric)")
            }
        }
    }
}

func perturbed(_ model: EntropyBottleneck, _ p: Int, _ i: Int, _ v: Float) throws -> EntropyBottleneck {
    var params = model.parameters
    params[p].scalars[i] = v
    let k = model.filters.count + 1
    return try EntropyBottleneck(channels: model.channels, filters: model.filters, matrices: Array(params[0..<k]),
                                 biases: Array(params[k..<(2 * k)]), factors: Array(params[(2 * k)..<(3 * k - 1)]),
                                 quantiles: params[3 * k - 1])
}

// MARK: Bound, stability, initialisation, export, errors

@Suite struct EntropyBottleneckBehaviourTests {
    @Test func lowerBoundGradientFollowsCompressAI() throws {
        // y = 37 in channel 0 of the reference model has likelihood ≈ 9e-22, below the bound.
        let model = try referenceModel()
        let y = Tensor(shape: [1, 3, 1, 1], scalars: [37, 0.3, 1.2])
        let out = try model.rate(y)
        #expect(out.likelihoods.scalars[0] == Float(EntropyBottleneck.likelihoodBound))
        // A positive incoming gradient (pushing the likelihood down) is stopped below the bound ...
        let up = try model.backward(y, likelihoodGradient: Tensor(shape: y.shape, repeating: 1))
        #expect(up.latents.scalars[0] == 0)
        #expect(up.latents.scalars[1] != 0 && up.latents.scalars[2] != 0)
        // ... a negative one passes, scaled by the local derivative of the (unbounded) likelihood.
        let down = try model.backward(y, likelihoodGradient: Tensor(shape: y.shape, repeating: -1))
        #expect(down.latents.scalars[0] != 0 && down.latents.scalars[0].isFinite)
        #expect(down.latents.scalars[1] == -up.latents.scalars[1])
    }

    @Test func extremeLatentsStayFinite() throws {
        var rng = SplitMix64(seed: 1)
        for model in [try referenceModel(), try EntropyBottleneck(channels: 3, rng: &rng)] {
            let big: [Float] = [1e4, -1e4, 1e8, -1e8, 1e30, -1e30, .greatestFiniteMagnitude, -.greatestFiniteMagnitude, 60, -60, 0.5, -0.5]
            let y = Tensor(shape: [1, 3, 4], scalars: big)
            let (out, g) = try model.rateWithGradients(y)
            #expect(out.bits.isFinite)
            #expect(out.likelihoods.scalars.allSatisfy { $0 >= 1e-9 && $0 <= 1 })
            #expect(g.latents.scalars.allSatisfy { $0.isFinite })
            #expect(g.density.allSatisfy { $0.scalars.allSatisfy { $0.isFinite } })
            // Each element costs at most −log2(1e-9) ≈ 29.9 bits.
            #expect(out.bits <= Double(y.count) * 29.9)
        }
    }

    @Test func likelihoodsAreProbabilitiesAndRateIsTheirCost() throws {
        var rng = SplitMix64(seed: 3)
        let model = try EntropyBottleneck(channels: 4, rng: &rng)
        var y = Tensor(shape: [2, 4, 3, 5])
        for i in 0..<y.count { y.scalars[i] = rng.uniform(-30, 30) }
        let out = try model.rate(y)
        #expect(out.likelihoods.scalars.allSatisfy { $0 > 0 && $0 <= 1 })
        let expected = out.likelihoods.scalars.reduce(0.0) { $0 - Double.log2(Double($1)) }
        #expect(close(out.bits, expected, rel: 1e-6))
        // Integers around the median partition the line: their likelihoods over a wide range sum to ≈ 1.
        let med = model.medians[1]
        let grid = Tensor(shape: [1, 4, 401], scalars: (0..<4).flatMap { _ in (-200...200).map { med + Float($0) } })
        let l = try model.rate(grid).likelihoods.scalars[401..<802].reduce(0.0) { $0 + Double($1) }
        #expect(abs(l - 1) < 1e-5, "Σ likelihoods over integers = \(l)")
    }

    @Test func initialisationIsCompressAIs() throws {
        var a = SplitMix64(seed: 77), b = SplitMix64(seed: 77)
        let m1 = try EntropyBottleneck(channels: 5, rng: &a)
        let m2 = try EntropyBottleneck(channels: 5, rng: &b)
        #expect(m1 == m2)
        #expect(m1.parameterNames == ["matrix0", "matrix1", "matrix2", "matrix3", "matrix4", "bias0", "bias1", "bias2",
                                      "bias3", "bias4", "factor0", "factor1", "factor2", "factor3", "quantiles"])
        let scale = Double.pow(10, 1.0 / 5)
        for (k, m) in m1.matrices.enumerated() {
            let width = k == 4 ? 1.0 : 3.0
            let expected = Float(Double.log(Double.expMinusOne(1 / scale / width)))
            #expect(m.scalars.allSatisfy { $0 == expected }, "matrix\(k)")
        }
        #expect(m1.matrices.map(\.shape) == [[5, 3, 1], [5, 3, 3], [5, 3, 3], [5, 3, 3], [5, 1, 3]])
        let biases = m1.biases.flatMap(\.scalars)
        #expect(biases.allSatisfy { $0 >= -0.5 && $0 < 0.5 })
        #expect(Set(biases).count == biases.count)
        #expect(m1.factors.allSatisfy { $0.scalars.allSatisfy { $0 == 0 } })
        #expect(m1.quantiles.scalars == (0..<5).flatMap { _ in [Float(-10), 0, 10] })
        // The point of init_scale: with zero factors each g_k is the identity and every row of softplus(Ĥ_k)
        // sums to 1/s, so the untrained logit is x/initScale + const — a logistic of scale 10, whose mass over a
        // unit interval peaks at σ(0.05) − σ(−0.05) ≈ 0.025.
        let pmfs = try m1.channelPMFs()
        #expect(pmfs.allSatisfy { $0.minimum == -10 && $0.maximum == 10 && $0.pmf.count == 21 })
        for p in pmfs {
            let peak = p.pmf.max()!
            #expect(peak <= 0.0249980 && peak > 0.0249, "peak \(peak)")
        }
    }

    @Test func pmfSumsToOneMinusTail() throws {
        var rng = SplitMix64(seed: 8)
        for model in [try referenceModel(), try EntropyBottleneck(channels: 6, rng: &rng)] {
            for (c, p) in try model.channelPMFs().enumerated() {
                let s = p.pmf.reduce(0, +)
                #expect(abs(s - (1 - p.tailMass)) < 1e-12, "channel \(c): Σ pmf \(s), tail \(p.tailMass)")
                #expect(p.pmf.allSatisfy { $0 >= 0 && $0 <= 1 })
                #expect(p.pmf.count == p.maximum - p.minimum + 1 && p.minimum <= 0 && p.maximum >= 0)
            }
        }
        // A trained model's quantiles sit at the tails: with them the tail mass is tiny.
        var model = try referenceModel()
        for _ in 0..<3000 {
            let (_, g) = model.auxiliaryLoss()
            for i in 0..<g.count { model.quantiles.scalars[i] -= 0.05 * g.scalars[i] }
        }
        let (loss, _) = model.auxiliaryLoss()
        for p in try model.channelPMFs() { #expect(p.tailMass < 1e-6, "tail \(p.tailMass), aux loss \(loss)") }
    }

    @Test func exportPassesEveryChannelToTheBuilder() throws {
        let model = try referenceModel()
        let tables = try model.exportTables { channel, pmf in (channel, pmf.pmf.count) }
        #expect(tables.map(\.0) == [0, 1, 2])
        #expect(tables.map(\.1) == EntropyModelReference.pmfs.map(\.pmf.count))
    }

    @Test func hostileQuantilesAreRejected() throws {
        var model = try referenceModel()
        model.quantiles.scalars[2] = 1e30
        #expect(throws: ConfigurationError.self) { try model.channelPMFs() }
        do {
            _ = try model.channelPMFs()
        } catch {
            #expect(error.description.contains("at most 32768 symbols"), "\(error)")
        }
        model.quantiles.scalars[2] = .nan
        #expect(throws: ConfigurationError.self) { try model.channelPMFs() }
        var small = try referenceModel()
        #expect(throws: ConfigurationError.self) { try small.channelPMFs(maximumSupport: 20) }
        small.quantiles.scalars[0] = 5  // q₀ above the median: the support starts at the median
        #expect(try small.channelPMFs()[0].minimum == 0)
    }

    @Test func badShapesAreTypedErrors() throws {
        let model = try referenceModel()
        #expect(throws: ShapeMismatch.self) { try model.rate(Tensor(shape: [2, 4, 3], repeating: 0)) }
        #expect(throws: ShapeMismatch.self) { try model.rate(Tensor(shape: [3], repeating: 0)) }
        let y = Tensor(shape: [1, 3, 2], repeating: 0)
        #expect(throws: ShapeMismatch.self) { try model.backward(y, likelihoodGradient: Tensor(shape: [1, 3, 3], repeating: 0)) }
        var params = model.parameters
        params[0] = Tensor(shape: [3, 3], repeating: 0)
        #expect(throws: ConfigurationError.self) {
            try EntropyBottleneck(channels: 3, filters: [3, 3, 3, 3], matrices: Array(params[0..<5]), biases: Array(params[5..<10]),
                                  factors: Array(params[10..<14]), quantiles: params[14])
        }
        var rng = SplitMix64(seed: 0)
        #expect(throws: ConfigurationError.self) { try EntropyBottleneck(channels: 0, rng: &rng) }
        #expect(throws: ConfigurationError.self) { try EntropyBottleneck(channels: 2, initScale: .nan, rng: &rng) }
    }

    @Test func quantizationRoundsAroundTheMedians() throws {
        let model = try referenceModel()  // medians 0.375, −0.625, 1.25
        let y = Tensor(shape: [1, 3, 2], scalars: [0.375, 2.0, -0.625, -3.2, 1.25, 1e20])
        let (values, symbols) = try model.quantize(y)
        #expect(symbols == [0, 2, 0, -3, 0, 1_000_000_000])
        #expect(values.scalars[1] == 2.375 && values.scalars[3] == -3.625)
        var rng = SplitMix64(seed: 2)
        let noisy = EntropyBottleneck.addingNoise(Tensor(shape: [1000], repeating: 0), rng: &rng)
        #expect(noisy.scalars.allSatisfy { $0 >= -0.5 && $0 < 0.5 })
        #expect(abs(noisy.scalars.reduce(0, +) / 1000) < 0.05)
    }

    @Test func threadedAndSerialPathsAgree() throws {
        // Large inputs spread channels over threads, small ones do not; per-channel sums make them identical.
        var rng = SplitMix64(seed: 4)
        let model = try EntropyBottleneck(channels: 8, rng: &rng)
        var y = Tensor(shape: [2, 8, 16, 16])
        for i in 0..<y.count { y.scalars[i] = rng.uniform(-12, 12) }
        let (whole, g) = try model.rateWithGradients(y)
        var bits = 0.0
        for n in 0..<2 {
            for c in 0..<8 {
                let start = (n * 8 + c) * 256
                var one = Tensor(shape: [1, 8, 1, 1])
                for k in 0..<8 where k != c { one.scalars[k] = model.medians[k] }
                for i in 0..<256 {
                    one.scalars[c] = y.scalars[start + i]
                    let (r, gi) = try model.rateWithGradients(one)
                    #expect(r.likelihoods.scalars[c] == whole.likelihoods.scalars[start + i])
                    #expect(gi.latents.scalars[c] == g.latents.scalars[start + i])
                    bits += -Double.log2(Double(r.likelihoods.scalars[c]))
                }
            }
        }
        #expect(close(bits, whole.bits, rel: 1e-6))
    }
}
