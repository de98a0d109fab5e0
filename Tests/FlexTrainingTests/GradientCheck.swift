import FlexRuntime
import FlexTraining
import Testing

/// Finite-difference check of a layer's backward pass.
///
/// L(x, θ) = Σ w ⊙ layer(x; θ) with a fixed random weighting w, so ∂L/∂y = w. Each checked coordinate is
/// perturbed by ±eps and (L(+) − L(−)) / 2eps is compared with the analytic gradient. L is summed in Double.
/// For layers linear in the checked variable (conv, dense) the central difference is exact up to float32
/// rounding of the outputs (≈1e-7 relative each): with eps = 0.05 the difference quotient is accurate to ~1e-4,
/// hence the default tolerance `1e-3 · max(1, |g|)`.
func checkLayerGradients(_ layer: some TrainableLayer, input: Tensor, eps: Float = 0.05,
                         tolerance: Float = 1e-3, samplesPerTensor: Int = 24, seed: UInt64 = 7,
                         checkInput: Bool = true, sourceLocation: SourceLocation = #_sourceLocation) throws {
    var rng = SplitMix64(seed: seed)
    var cache = LayerCache()
    let y = try layer.forward(input, cache: &cache)
    let w = Tensor(shape: y.shape, scalars: (0..<y.count).map { _ in rng.uniform(-1, 1) })
    var grads = layer.zeroGradients()
    let dx = layer.backward(w, cache: cache, gradients: &grads, needsInputGradient: checkInput)

    func loss(_ x: Tensor) throws -> Double {
        let out = try layer.forward(x)
        var s = 0.0
        for i in 0..<out.count { s += Double(out.scalars[i]) * Double(w.scalars[i]) }
        return s
    }
    func indices(_ count: Int) -> [Int] {
        count <= samplesPerTensor ? Array(0..<count) : (0..<samplesPerTensor).map { _ in Int(rng.next() % UInt64(count)) }
    }
    func compare(_ what: String, _ analytic: Float, _ numeric: Double) {
        let err = abs(Double(analytic) - numeric)
        #expect(err <= Double(tolerance) * max(1, abs(numeric)),
                "\(layer.label) ∂L/∂\(what): analytic \(analytic), numeric \(numeric)", sourceLocation: sourceLocation)
    }
    if checkInput {
        let dx = try #require(dx, sourceLocation: sourceLocation)
        #expect(dx.shape == input.shape, sourceLocation: sourceLocation)
        for i in indices(input.count) {
            var xp = input, xm = input
            xp.scalars[i] += eps; xm.scalars[i] -= eps
            compare("x[\(i)]", dx.scalars[i], (try loss(xp) - loss(xm)) / Double(2 * eps))
        }
    }
    let original = layer.parameters
    for (p, name) in layer.parameterNames.enumerated() {
        #expect(grads[p].shape == original[p].shape, sourceLocation: sourceLocation)
        for i in indices(original[p].count) {
            layer.parameters[p].scalars[i] = original[p].scalars[i] + eps
            let lp = try loss(input)
            layer.parameters[p].scalars[i] = original[p].scalars[i] - eps
            let lm = try loss(input)
            layer.parameters[p] = original[p]
            compare("\(name)[\(i)]", grads[p].scalars[i], (lp - lm) / Double(2 * eps))
        }
    }
}

/// A tensor of uniform values in [-1, 1) from a seed.
func randomTensor(_ shape: [Int], seed: UInt64, scale: Float = 1) -> Tensor {
    var rng = SplitMix64(seed: seed)
    return Tensor(shape: shape, scalars: (0..<shape.reduce(1, *)).map { _ in rng.uniform(-scale, scale) })
}
