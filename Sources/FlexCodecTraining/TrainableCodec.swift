import Dispatch
import FlexEntropyModel
import FlexRuntime
import FlexTraining
import RealModule
import Synchronization

/// A trainable learned codec: the analysis transform g_a, the synthesis transform g_s (`CodecArchitecture`)
/// and the factorized entropy model, trained on the rate–distortion loss (Ballé et al. 2018, eq. 2 with
/// CompressAI's scaling)
///
///     L = λ · 255² · MSE(x, x̂) + R / (N · H · W),    x̂ = g_s(ỹ), ỹ = g_a(x) + u, u ~ U(−½, ½),
///
/// where R = −Σ log2 p(ỹ) is the entropy model's rate in bits of the whole batch (`EntropyBottleneck.rate`)
/// and the MSE is over all N·3·H·W values in [0, 1]. The gradient is exact for the noisy proxy: the noise is
/// additive, so ∂L/∂y = ∂L/∂ỹ = ∂L_D/∂ỹ (through g_s) + ∂L_R/∂ỹ (through the density).
public final class TrainableCodec: @unchecked Sendable {
    public let architecture: CodecArchitecture
    /// g_a over crops `[3, crop, crop]` (the layers accept any size divisible by 16 too).
    public let analysis: Sequential
    /// g_s over latents `[M, crop/16, crop/16]`.
    public let synthesis: Sequential
    public var bottleneck: EntropyBottleneck

    /// Builds a model with deterministic initial parameters from `seed` (analysis, synthesis and density each
    /// draw from their own stream).
    public init(architecture: CodecArchitecture, crop: Int, seed: UInt64) throws(ConfigurationError) {
        guard crop > 0, crop % CodecArchitecture.stride == 0 else {
            throw ConfigurationError("crop size \(crop) must be a positive multiple of \(CodecArchitecture.stride)")
        }
        self.architecture = architecture
        analysis = try Sequential(specs: architecture.analysis, inputShape: [architecture.imageChannels, crop, crop], seed: seed)
        let l = crop / CodecArchitecture.stride
        synthesis = try Sequential(specs: architecture.synthesis, inputShape: [architecture.latentChannels, l, l],
                                   seed: seed &+ 0x9E37_79B9_7F4A_7C15)
        var rng = SplitMix64(seed: seed &+ 0x3C6E_F372_FE94_F82B)
        bottleneck = try EntropyBottleneck(channels: architecture.latentChannels, rng: &rng)
    }

    /// The trainable tensors in the order the optimiser sees them: analysis layers, synthesis layers, then the
    /// density's matrices, biases and factors (the quantiles have their own optimiser, `auxiliaryLoss`).
    public var mainParameterCount: Int {
        analysis.layers.reduce(0) { $0 + $1.parameters.count } + synthesis.layers.reduce(0) { $0 + $1.parameters.count }
            + bottleneck.parameters.count - 1
    }

    /// All parameters by name: `analysis.layers.i.name`, `synthesis.layers.i.name`, `entropy.name`.
    public var namedParameters: [(name: String, tensor: Tensor)] {
        analysis.namedParameters.map { ("analysis.\($0.name)", $0.tensor) }
            + synthesis.namedParameters.map { ("synthesis.\($0.name)", $0.tensor) }
            + zip(bottleneck.parameterNames, bottleneck.parameters).map { ("entropy.\($0)", $1) }
    }

    /// Replaces every parameter from `namedParameters`-style pairs (names and shapes must match).
    public func load(_ parameters: [(name: String, tensor: Tensor)]) throws(ConfigurationError) {
        let current = namedParameters
        guard parameters.count == current.count else {
            throw ConfigurationError("expected \(current.count) parameter tensors, found \(parameters.count)")
        }
        for (c, p) in zip(current, parameters) where c.name != p.name || c.tensor.shape != p.tensor.shape {
            throw ConfigurationError("parameter \(p.name) \(formatShape(p.tensor.shape)): expected \(c.name) \(formatShape(c.tensor.shape))")
        }
        var k = 0
        for model in [analysis, synthesis] {
            for layer in model.layers {
                layer.parameters = parameters[k ..< k + layer.parameters.count].map(\.tensor)
                k += layer.parameters.count
            }
        }
        let rest = parameters[k...].map(\.tensor)
        let nm = bottleneck.matrices.count, nf = bottleneck.factors.count
        bottleneck = try EntropyBottleneck(
            channels: bottleneck.channels, filters: bottleneck.filters, matrices: Array(rest[0..<nm]),
            biases: Array(rest[nm ..< 2 * nm]), factors: Array(rest[2 * nm ..< 2 * nm + nf]), quantiles: rest[2 * nm + nf])
    }

    /// What one forward/backward pass over a batch measured.
    public struct Evaluation: Sendable {
        /// Σ (x̂ − x)² over the batch (x in [0, 1]).
        public var squaredError: Double
        /// Σ −log2 p(ỹ) over the batch.
        public var bits: Double
        /// Image values (N·3·H·W) and pixels (N·H·W) in the batch.
        public var values: Int
        public var pixels: Int

        public var mse: Double { squaredError / Double(max(values, 1)) }
        public var bitsPerPixel: Double { bits / Double(max(pixels, 1)) }
        /// PSNR in dB for 8-bit pixels (peak 1 in [0, 1] units).
        public var psnr: Double { -10 * Double.log10(max(mse, 1e-20)) }
        /// λ·255²·MSE + bpp.
        public func loss(lambda: Double) -> Double { lambda * 255 * 255 * mse + bitsPerPixel }

        static func + (a: Evaluation, b: Evaluation) -> Evaluation {
            Evaluation(squaredError: a.squaredError + b.squaredError, bits: a.bits + b.bits,
                       values: a.values + b.values, pixels: a.pixels + b.pixels)
        }
        static let zero = Evaluation(squaredError: 0, bits: 0, values: 0, pixels: 0)
    }

    /// Gradients of the loss: per layer of g_a and g_s (as `layers[i].parameters`) and the density's
    /// parameters without the quantiles.
    public struct Gradients: Sendable {
        public var analysis: [[Tensor]]
        public var synthesis: [[Tensor]]
        public var density: [Tensor]

        /// Every tensor in optimiser order.
        public var flattened: [Tensor] { Array(analysis.joined()) + Array(synthesis.joined()) + density }

        mutating func add(_ o: Gradients) {
            for l in analysis.indices { for p in analysis[l].indices { addScaled(&analysis[l][p], o.analysis[l][p], 1) } }
            for l in synthesis.indices { for p in synthesis[l].indices { addScaled(&synthesis[l][p], o.synthesis[l][p], 1) } }
            for p in density.indices { addScaled(&density[p], o.density[p], 1) }
        }
    }

    /// Forward and backward over one batch `x` `[n, 3, H, W]` (values in [0, 1]) with the loss normalised by
    /// `totalValues` and `totalPixels` (the whole batch's, so that shards' gradients add up to the batch's).
    /// `noise` is this shard's uniform noise, shaped as its latents.
    func lossAndGradients(_ x: Tensor, lambda: Double, totalValues: Int, totalPixels: Int,
                          noise: Tensor) throws(ShapeMismatch) -> (Evaluation, Gradients) {
        let ga = analysis.trainableLayers, gs = synthesis.trainableLayers
        var ca = [LayerCache](repeating: LayerCache(), count: ga.count)
        var cs = [LayerCache](repeating: LayerCache(), count: gs.count)
        var h = x
        for (i, layer) in ga.enumerated() { h = try layer.forward(h, cache: &ca[i]) }
        guard noise.shape == h.shape else {
            throw ShapeMismatch(layer: "quantisation noise", expected: formatShape(h.shape), found: noise.shape)
        }
        var noisy = h
        addScaled(&noisy, noise, 1)
        let (rate, rateGrad) = try bottleneck.rateWithGradients(noisy)
        var xhat = noisy
        for (i, layer) in gs.enumerated() { xhat = try layer.forward(xhat, cache: &cs[i]) }
        guard xhat.shape == x.shape else {
            throw ShapeMismatch(layer: "codec output", expected: formatShape(x.shape), found: xhat.shape)
        }
        // ∂(λ·255²·Σe²/V)/∂x̂ = 2·λ·255²·e/V.
        let scale = Float(2 * lambda * 255 * 255 / Double(totalValues))
        var sq = 0.0
        var dy = Tensor(shape: x.shape)
        x.scalars.withUnsafeBufferPointer { xs in
            xhat.scalars.withUnsafeBufferPointer { ys in
                dy.scalars.withUnsafeMutableBufferPointer { d in
                    var acc = 0.0
                    for i in 0..<xs.count {
                        let e = ys[i] - xs[i]
                        acc += Double(e * e)
                        d[i] = scale * e
                    }
                    sq = acc
                }
            }
        }
        var gradients = Gradients(analysis: analysis.zeroGradients(), synthesis: synthesis.zeroGradients(), density: [])
        var g = dy
        for i in stride(from: gs.count - 1, through: 0, by: -1) {
            g = gs[i].backward(g, cache: cs[i], gradients: &gradients.synthesis[i], needsInputGradient: true)!
            cs[i] = LayerCache()
        }
        // The rate's share: (1/P)·∂R/∂ỹ.
        let rateScale = Float(1 / Double(totalPixels))
        addScaled(&g, rateGrad.latents, rateScale)
        for i in stride(from: ga.count - 1, through: 0, by: -1) {
            if let dx = ga[i].backward(g, cache: ca[i], gradients: &gradients.analysis[i], needsInputGradient: i > 0) { g = dx }
            ca[i] = LayerCache()
        }
        gradients.density = rateGrad.density.map { t in Tensor(shape: t.shape, scalars: t.scalars.map { $0 * rateScale }) }
        let n = x.shape[0]
        return (Evaluation(squaredError: sq, bits: rate.bits, values: x.count, pixels: n * x.shape[2] * x.shape[3]), gradients)
    }

    /// The uniform noise U(−½, ½) for a batch of `n` images of `height`×`width`, drawn in element order
    /// from `seed` for the whole batch (so it does not depend on how the batch is split over threads).
    public func noise(batch n: Int, height: Int, width: Int, seed: UInt64) -> Tensor {
        let s = CodecArchitecture.stride
        let shape = [n, architecture.latentChannels, height / s, width / s]
        var rng = SplitMix64(seed: seed)
        return EntropyBottleneck.addingNoise(Tensor(shape: shape), rng: &rng)
    }

    /// Forward and backward over a whole batch `x` `[n, 3, H, W]` in one pass (no sharding) with the caller's
    /// quantisation noise `noise` (shaped as the latents, `[n, M, H/16, W/16]`): the entry point for checks
    /// against another implementation that draws its own noise (Tests/FlexCodecTrainingTests/Reference).
    public func lossAndGradients(_ x: Tensor, lambda: Double, noise: Tensor) throws(ShapeMismatch) -> (Evaluation, Gradients) {
        try checkInput(x)
        return try lossAndGradients(x, lambda: lambda, totalValues: x.count, totalPixels: x.shape[0] * x.shape[2] * x.shape[3],
                                    noise: noise)
    }

    private func checkInput(_ x: Tensor) throws(ShapeMismatch) {
        guard x.rank == 4, x.shape[1] == architecture.imageChannels, x.shape[2] % CodecArchitecture.stride == 0,
              x.shape[3] % CodecArchitecture.stride == 0 else {
            throw ShapeMismatch(layer: "codec input", expected: "[N, \(architecture.imageChannels), H, W] with H, W multiples of 16", found: x.shape)
        }
    }

    /// `lossAndGradients` over a whole batch split into `threads` contiguous shards computed concurrently; the
    /// shards' gradients are added in shard order (the same result for the same thread count; other thread
    /// counts differ only by float rounding). `noise` seeds the quantisation noise (`noise(batch:...)`).
    public func lossAndGradients(_ x: Tensor, lambda: Double, noise seed: UInt64, threads: Int) throws(ShapeMismatch)
        -> (Evaluation, Gradients) {
        try checkInput(x)
        let n = x.shape[0]
        let values = x.count, pixels = n * x.shape[2] * x.shape[3]
        let noise = self.noise(batch: n, height: x.shape[2], width: x.shape[3], seed: seed)
        let shards = max(1, min(threads, n))
        if shards == 1 {
            return try lossAndGradients(x, lambda: lambda, totalValues: values, totalPixels: pixels, noise: noise)
        }
        let bounds = (0...shards).map { $0 * n / shards }
        let results = Mutex<[Result<(Evaluation, Gradients), ShapeMismatch>?]>(Array(repeating: nil, count: shards))
        DispatchQueue.concurrentPerform(iterations: shards) { s in
            let r = Result { () throws(ShapeMismatch) in
                try self.lossAndGradients(x.batchSlice(bounds[s] ..< bounds[s + 1]), lambda: lambda,
                                          totalValues: values, totalPixels: pixels, noise: noise.batchSlice(bounds[s] ..< bounds[s + 1]))
            }
            results.withLock { $0[s] = r }
        }
        var total: (Evaluation, Gradients)?
        for s in 0..<shards {
            let r = results.withLock { $0[s]! }
            let (e, g) = try r.get()
            if total == nil { total = (e, g) } else { total!.0 = total!.0 + e; total!.1.add(g) }
        }
        return total!
    }

    /// Codes a batch as the codec does (rounding around the medians), measuring the squared error against
    /// `x` and the entropy model's ideal rate of the rounded latents. Works on any size divisible by 16.
    public func evaluate(_ x: Tensor) throws(ShapeMismatch) -> Evaluation {
        var h = x
        for layer in analysis.layers { h = try layer.forward(h) }
        let q = try bottleneck.quantize(h).values
        let rate = try bottleneck.rate(q)
        var xhat = q
        for layer in synthesis.layers { xhat = try layer.forward(xhat) }
        var sq = 0.0
        for i in 0..<x.count {
            // As the decoder writes pixels: clamped to [0, 1] and rounded to 8 bits.
            let p = (min(max(xhat.scalars[i], 0), 1) * 255).rounded() / 255
            let e = Double(p - x.scalars[i])
            sq += e * e
        }
        return Evaluation(squaredError: sq, bits: rate.bits, values: x.count, pixels: x.shape[0] * x.shape[2] * x.shape[3])
    }
}
