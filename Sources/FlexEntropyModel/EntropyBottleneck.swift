import Dispatch
import FlexRuntime
import RealModule

/// The factorized entropy model ("entropy bottleneck") of Ballé, Minnen, Singh, Hwang, Johnston 2018, appendix
/// 6.1: one learned, non-parametric cumulative density per latent channel, behaving as CompressAI's
/// `EntropyBottleneck(channels, filters: (3, 3, 3, 3), init_scale: 10)`. The math, the stable evaluation and the
/// gradients are in docs/training-math.md ("Factorized entropy model"); the export in docs/entropy-model.md.
///
/// Parameters (CompressAI's layouts, float32; K = filters.count + 1 layers with widths e = (1, filters..., 1)):
/// `matrix{k}` Ĥ_k [C, e[k+1], e[k]], `bias{k}` [C, e[k+1]], `factor{k}` [C, e[k+1]] for k < K − 1, and
/// `quantiles` [C, 3] (the learned −tail, median, +tail points of each channel). All evaluation runs in Double.
public struct EntropyBottleneck: Sendable, Equatable {
    /// Likelihoods are clamped from below at this value (CompressAI's `likelihood_bound`).
    public static let likelihoodBound = 1e-9
    /// The mass left outside [quantiles[0], quantiles[2]] (CompressAI's `tail_mass`).
    public static let tailMass = 1e-9
    /// The cumulative logit the auxiliary loss asks for at the upper quantile: log(2/tail − 1), so that
    /// c(q₂) = 1 − tail/2 (and −target at q₀, 0 at the median).
    public static var quantileTarget: Double { Double.log(2 / tailMass - 1) }

    public let channels: Int
    /// The hidden widths (CompressAI's `filters`), e.g. (3, 3, 3, 3).
    public let filters: [Int]
    /// Ĥ_k, the pre-softplus matrices.
    public var matrices: [Tensor]
    public var biases: [Tensor]
    /// a_k, the pre-tanh factors (one fewer than the layers: the last layer has no nonlinearity).
    public var factors: [Tensor]
    /// [C, 3]: lower quantile, median, upper quantile of each channel. Learned only by `auxiliaryLoss`.
    public var quantiles: Tensor

    var layout: DensityLayout { DensityLayout(filters: filters) }

    /// CompressAI's initialisation: with s = initScale^(1/K), every Ĥ_k is log(expm1(1/s/e[k+1])) (so the
    /// untrained cumulative spans about ±initScale), biases U(−0.5, 0.5) drawn from `rng` layer by layer in
    /// row-major order, factors 0, quantiles (−initScale, 0, initScale).
    public init(channels: Int, filters: [Int] = [3, 3, 3, 3], initScale: Double = 10,
                rng: inout SplitMix64) throws(ConfigurationError) {
        guard channels > 0 else { throw ConfigurationError("EntropyBottleneck: expected channels > 0, found \(channels)") }
        guard filters.allSatisfy({ $0 > 0 && $0 <= 64 }) else {
            throw ConfigurationError("EntropyBottleneck: expected filter widths in 1...64, found \(filters)")
        }
        guard initScale.isFinite, initScale > 0 else {
            throw ConfigurationError("EntropyBottleneck: expected a positive finite init scale, found \(initScale)")
        }
        self.channels = channels
        self.filters = filters
        let widths = [1] + filters + [1]
        let k = widths.count - 1
        let scale = Double.pow(initScale, 1 / Double(k))
        var m = [Tensor](), b = [Tensor](), f = [Tensor]()
        for layer in 0..<k {
            let value = Float(Double.log(Double.expMinusOne(1 / scale / Double(widths[layer + 1]))))
            m.append(Tensor(shape: [channels, widths[layer + 1], widths[layer]], repeating: value))
            let n = channels * widths[layer + 1]
            b.append(Tensor(shape: [channels, widths[layer + 1]], scalars: (0..<n).map { _ in rng.uniform(-0.5, 0.5) }))
            if layer < k - 1 { f.append(Tensor(shape: [channels, widths[layer + 1]], repeating: 0)) }
        }
        matrices = m; biases = b; factors = f
        let q = Float(initScale)
        quantiles = Tensor(shape: [channels, 3], scalars: (0..<channels).flatMap { _ in [-q, 0, q] })
    }

    /// A model from given parameters (e.g. read from a checkpoint): every shape is checked against
    /// `channels` and `filters`, and every value must be finite.
    public init(channels: Int, filters: [Int], matrices: [Tensor], biases: [Tensor], factors: [Tensor],
                quantiles: Tensor) throws(ConfigurationError) {
        guard channels > 0, filters.allSatisfy({ $0 > 0 && $0 <= 64 }) else {
            throw ConfigurationError("EntropyBottleneck: expected channels > 0 and filter widths in 1...64, found \(channels) and \(filters)")
        }
        self.channels = channels
        self.filters = filters
        self.matrices = matrices; self.biases = biases; self.factors = factors; self.quantiles = quantiles
        let expected = Self.parameterShapes(channels: channels, filters: filters)
        let found = parameters
        guard found.count == expected.count else {
            throw ConfigurationError("EntropyBottleneck: expected \(expected.count) parameter tensors (\(filters.count + 1) matrices, biases, \(filters.count) factors, quantiles), found \(found.count)")
        }
        for (i, name) in parameterNames.enumerated() {
            guard found[i].shape == expected[i] else {
                throw ConfigurationError("EntropyBottleneck: \(name) expected shape \(expected[i]), found \(found[i].shape)")
            }
            guard found[i].scalars.allSatisfy({ $0.isFinite }) else {
                throw ConfigurationError("EntropyBottleneck: \(name) expected finite values, found a NaN or infinity")
            }
        }
    }

    /// The shapes of `parameters` for a channel count and hidden widths.
    public static func parameterShapes(channels c: Int, filters: [Int]) -> [[Int]] {
        let w = [1] + filters + [1]
        let k = w.count - 1
        return (0..<k).map { [c, w[$0 + 1], w[$0]] } + (0..<k).map { [c, w[$0 + 1]] }
            + (0..<(k - 1)).map { [c, w[$0 + 1]] } + [[c, 3]]
    }

    /// matrix0…, bias0…, factor0…, quantiles (CompressAI's names without the leading underscore).
    public var parameterNames: [String] {
        let k = filters.count + 1
        return (0..<k).map { "matrix\($0)" } + (0..<k).map { "bias\($0)" } + (0..<(k - 1)).map { "factor\($0)" }
            + ["quantiles"]
    }

    /// All parameters in `parameterNames` order. The density parameters (all but the last) are trained by the
    /// rate; `quantiles` only by `auxiliaryLoss`.
    public var parameters: [Tensor] { matrices + biases + factors + [quantiles] }

    /// The medians (quantiles[:, 1]), around which latents are rounded at inference.
    public var medians: [Float] { (0..<channels).map { quantiles.scalars[$0 * 3 + 1] } }

    // MARK: Transformed parameters

    /// Per channel, softplus(Ĥ), b and tanh(a) in `layout` order, in Double.
    func transformedBlocks() -> [Double] {
        let l = layout
        var out = [Double](repeating: 0, count: channels * l.blockSize)
        for c in 0..<channels {
            let base = c * l.blockSize
            for k in 0..<l.layers {
                let n = l.widths[k + 1] * l.widths[k]
                for i in 0..<n { out[base + l.matrixOffset[k] + i] = softplus(Double(matrices[k].scalars[c * n + i])) }
                let nb = l.widths[k + 1]
                for i in 0..<nb { out[base + l.biasOffset[k] + i] = Double(biases[k].scalars[c * nb + i]) }
                if k < l.layers - 1 {
                    for i in 0..<nb { out[base + l.factorOffset[k] + i] = Double.tanh(Double(factors[k].scalars[c * nb + i])) }
                }
            }
        }
        return out
    }

    /// Gradients w.r.t. the transformed parameters (softplus(Ĥ), b, tanh(a)) → w.r.t. Ĥ, b, a:
    /// d softplus(Ĥ)/dĤ = sigmoid(Ĥ), d tanh(a)/da = 1 − tanh²(a). Returns tensors in the order
    /// matrices, biases, factors.
    func parameterGradients(fromTransformed g: [Double]) -> [Tensor] {
        let l = layout
        var gm = [Tensor](), gb = [Tensor](), gf = [Tensor]()
        for k in 0..<l.layers {
            let n = l.widths[k + 1] * l.widths[k], nb = l.widths[k + 1]
            var tm = Tensor(shape: matrices[k].shape), tb = Tensor(shape: biases[k].shape)
            for c in 0..<channels {
                let base = c * l.blockSize
                for i in 0..<n {
                    tm.scalars[c * n + i] = Float(g[base + l.matrixOffset[k] + i] * sigmoid(Double(matrices[k].scalars[c * n + i])))
                }
                for i in 0..<nb { tb.scalars[c * nb + i] = Float(g[base + l.biasOffset[k] + i]) }
            }
            gm.append(tm); gb.append(tb)
            if k < l.layers - 1 {
                var tf = Tensor(shape: factors[k].shape)
                for c in 0..<channels {
                    for i in 0..<nb {
                        let t = Double.tanh(Double(factors[k].scalars[c * nb + i]))
                        tf.scalars[c * nb + i] = Float(g[c * l.blockSize + l.factorOffset[k] + i] * (1 - t * t))
                    }
                }
                gf.append(tf)
            }
        }
        return gm + gb + gf
    }

    func checkLatents(_ y: Tensor, _ what: String = "latents") throws(ShapeMismatch) {
        guard y.shape.count >= 2, y.shape[1] == channels else {
            throw ShapeMismatch(layer: "EntropyBottleneck", expected: "[N, \(channels), ...] (\(what))", found: y.shape)
        }
    }

    // MARK: Quantisation

    /// Training-time quantisation proxy: y + u with u ~ U(−0.5, 0.5) drawn from `rng` in element order.
    public static func addingNoise(_ y: Tensor, rng: inout SplitMix64) -> Tensor {
        var out = y
        for i in 0..<out.count { out.scalars[i] += rng.uniform(-0.5, 0.5) }
        return out
    }

    /// Inference-time quantisation: round(y − median) + median per channel (the values the coder reproduces);
    /// `symbols` are the integers round(y − median) themselves. Rounding is half away from zero (C's `round`);
    /// CompressAI's `torch.round` rounds half to even, which differs only at exact .5 ties.
    public func quantize(_ y: Tensor) throws(ShapeMismatch) -> (values: Tensor, symbols: [Int32]) {
        try checkLatents(y)
        let inner = y.shape.dropFirst(2).reduce(1, *)
        let med = medians
        var values = y
        var symbols = [Int32](repeating: 0, count: y.count)
        for i in 0..<y.count {
            let m = med[(i / inner) % channels]
            let q = (y.scalars[i] - m).rounded(.toNearestOrAwayFromZero)
            // Clamped so that hostile or diverged latents cannot trap the Int32 conversion; such values are
            // far outside every table and take the coder's escape path anyway.
            let s = Int32(max(-1e9, min(1e9, q.isNaN ? 0 : q)))
            symbols[i] = s
            values.scalars[i] = Float(s) + m
        }
        return (values, symbols)
    }
}

// MARK: Forward and backward

/// What `EntropyBottleneck.rate` computed.
public struct RateResult: Sendable {
    /// −Σ log2 max(likelihood, bound) over all elements, in bits.
    public var bits: Double
    /// Per element, max(likelihood, 1e-9) rounded to float32: in [1e-9, 1] (CompressAI also returns the
    /// bounded values).
    public var likelihoods: Tensor
}

/// Gradients of a scalar loss through the entropy model.
public struct EntropyBottleneckGradients: Sendable {
    /// ∂L/∂y (flows back into the analysis transform).
    public var latents: Tensor
    /// ∂L/∂(matrix0…, bias0…, factor0…), in `parameterNames` order without `quantiles` (the rate does not
    /// depend on them).
    public var density: [Tensor]
}

extension EntropyBottleneck {
    /// Likelihoods of the (noisy or quantised) latents `y` [N, C, ...] and the rate in bits.
    public func rate(_ y: Tensor) throws(ShapeMismatch) -> RateResult {
        let r = try evaluate(y, likelihoodGradient: nil, rateGradient: false)
        return RateResult(bits: r.bits, likelihoods: r.likelihoods)
    }

    /// The rate and its gradients: ∂bits/∂y and ∂bits/∂(density parameters).
    public func rateWithGradients(_ y: Tensor) throws(ShapeMismatch) -> (RateResult, EntropyBottleneckGradients) {
        let r = try evaluate(y, likelihoodGradient: nil, rateGradient: true)
        return (RateResult(bits: r.bits, likelihoods: r.likelihoods),
                EntropyBottleneckGradients(latents: r.dy!, density: parameterGradients(fromTransformed: r.dParams!)))
    }

    /// Backward from an arbitrary ∂L/∂(bounded likelihood) `gradient` (same shape as `y`), for losses other
    /// than the plain rate. The bound's gradient follows CompressAI's `LowerBound`: it passes where the
    /// likelihood is ≥ the bound or where the incoming gradient is negative (pushing the likelihood up).
    public func backward(_ y: Tensor, likelihoodGradient gradient: Tensor) throws(ShapeMismatch) -> EntropyBottleneckGradients {
        try checkLatents(y)
        guard gradient.shape == y.shape else {
            throw ShapeMismatch(layer: "EntropyBottleneck", expected: "\(y.shape) (likelihood gradient, as the latents)", found: gradient.shape)
        }
        let r = try evaluate(y, likelihoodGradient: gradient, rateGradient: false)
        return EntropyBottleneckGradients(latents: r.dy!, density: parameterGradients(fromTransformed: r.dParams!))
    }

    /// The one evaluation loop. Channels are independent, so they are spread over threads; each channel sums its
    /// bits and gradients on its own and the channels are then added in order, so results do not depend on
    /// the thread count.
    func evaluate(_ y: Tensor, likelihoodGradient: Tensor?, rateGradient: Bool)
        throws(ShapeMismatch) -> (bits: Double, likelihoods: Tensor, dy: Tensor?, dParams: [Double]?) {
        try checkLatents(y)
        let l = layout
        let c = channels
        let n = y.shape[0]
        let inner = y.shape.dropFirst(2).reduce(1, *)
        let blocks = transformedBlocks()
        let wantsGrad = rateGradient || likelihoodGradient != nil
        var lik = [Float](repeating: 0, count: y.count)
        var dy = [Float](repeating: 0, count: wantsGrad ? y.count : 0)
        var dParams = [Double](repeating: 0, count: wantsGrad ? c * l.blockSize : 0)
        var channelBits = [Double](repeating: 0, count: c)
        let upstream = likelihoodGradient?.scalars ?? []
        let bound = Self.likelihoodBound
        let ln2 = Double.log(2.0)
        y.scalars.withUnsafeBufferPointer { ys in
        blocks.withUnsafeBufferPointer { bp in
        upstream.withUnsafeBufferPointer { up in
        lik.withUnsafeMutableBufferPointer { ls in
        dy.withUnsafeMutableBufferPointer { dys in
        dParams.withUnsafeMutableBufferPointer { gp in
        channelBits.withUnsafeMutableBufferPointer { cb in
            // Every channel writes only its own elements, gradient block and bit count.
            // (An empty array may still have a base address: `upstream` is nil unless a gradient was given.)
            let ptrs = ChannelPointers(y: ys.baseAddress!, blocks: bp.baseAddress!,
                                       upstream: likelihoodGradient == nil ? nil : up.baseAddress,
                                       likelihoods: ls.baseAddress!, dy: dys.baseAddress, grads: gp.baseAddress,
                                       bits: cb.baseAddress!)
            let work = { @Sendable (ch: Int) in
                let scratch = UnsafeMutablePointer<Pair>.allocate(capacity: 2 * l.maxWidth + l.tapeSize)
                defer { scratch.deallocate() }
                let tape = scratch + 2 * l.maxWidth
                let p = UnsafePointer(ptrs.blocks + ch * l.blockSize)
                let g = wantsGrad ? ptrs.grads! + ch * l.blockSize : nil
                let yb = ptrs.y, lb = ptrs.likelihoods
                var bits = 0.0
                for b in 0..<n {
                    let base = (b * c + ch) * inner
                    for i in base..<(base + inner) {
                        let v = Double(yb[i])
                        let logits = cumulativeLogit(Pair(v - 0.5, v + 0.5), layout: l, p: p, scratch: scratch,
                                                     tape: wantsGrad ? tape : nil)
                        let lo = logits[0], hi = logits[1]
                        // The sign trick: evaluate in the tail where the sigmoids are far from 1, so that their
                        // difference does not cancel (c(y+½) − c(y−½) = σ(−lo) − σ(−hi) when lo + hi > 0).
                        let s: Double = lo + hi > 0 ? -1 : 1
                        let sh = sigmoid(s * hi), sl = sigmoid(s * lo)
                        let d = sh - sl
                        let likelihood = abs(d)
                        let bounded = max(likelihood, bound)
                        lb[i] = Float(bounded)
                        bits -= Double.log2(bounded)
                        guard let g else { continue }
                        var gl: Double
                        if let u = ptrs.upstream { gl = Double(u[i]) } else { gl = -1 / (ln2 * bounded) }
                        // CompressAI's LowerBound: the gradient passes if x ≥ bound or if it pushes x upwards.
                        if !(likelihood >= bound || gl < 0) { gl = 0 }
                        // ∂|d|/∂d = sign(d) (0 at 0, as torch.abs).
                        let gd = d > 0 ? gl : (d < 0 ? -gl : 0)
                        // ∂d/∂hi = s σ'(s·hi), ∂d/∂lo = −s σ'(s·lo), σ' = σ(1 − σ).
                        let gHi = gd * s * sh * (1 - sh), gLo = -gd * s * sl * (1 - sl)
                        let dx = backpropagateLogit(Pair(gLo, gHi), layout: l, p: p, tape: tape, grad: g, scratch: scratch)
                        ptrs.dy![i] = Float(dx[0] + dx[1])
                    }
                }
                ptrs.bits[ch] = bits
            }
            if n * inner * c >= 4096 {
                DispatchQueue.concurrentPerform(iterations: c, execute: work)
            } else {
                for ch in 0..<c { work(ch) }
            }
        }}}}}}}
        let bits = channelBits.reduce(0, +)
        return (bits, Tensor(shape: y.shape, scalars: lik), wantsGrad ? Tensor(shape: y.shape, scalars: dy) : nil,
                wantsGrad ? dParams : nil)
    }
}

/// The raw buffers of one `evaluate` call, shared by the channel workers (each writes disjoint elements).
struct ChannelPointers: @unchecked Sendable {
    let y: UnsafePointer<Float>
    let blocks: UnsafePointer<Double>
    let upstream: UnsafePointer<Float>?
    let likelihoods: UnsafeMutablePointer<Float>
    let dy: UnsafeMutablePointer<Float>?
    let grads: UnsafeMutablePointer<Double>?
    let bits: UnsafeMutablePointer<Double>
}
