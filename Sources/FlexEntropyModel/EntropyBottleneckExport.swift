import FlexRuntime
import RealModule

// MARK: Auxiliary loss (the quantiles)

extension EntropyBottleneck {
    /// CompressAI's `EntropyBottleneck.loss()`: Σ_c Σ_j |logit_c(q_cj) − target_j| with target
    /// (−t, 0, t), t = log(2/tailMass − 1), so that the learned q₀, q₂ hold mass tail/2 outside each and q₁
    /// is the median. The density parameters are treated as constants (CompressAI's stop_gradient): the
    /// gradient is w.r.t. `quantiles` only, with ∂|r|/∂r = sign(r) (0 at 0, as torch.abs).
    public func auxiliaryLoss() -> (loss: Double, quantileGradient: Tensor) {
        let l = layout
        let blocks = transformedBlocks()
        let t = Self.quantileTarget
        let targets = [-t, 0, t]
        var loss = 0.0
        var grad = Tensor(shape: quantiles.shape)
        var unused = [Double](repeating: 0, count: l.blockSize)
        var scratch = [Pair](repeating: Pair(), count: 2 * l.maxWidth)
        var tape = [Pair](repeating: Pair(), count: l.tapeSize)
        blocks.withUnsafeBufferPointer { bp in
            for c in 0..<channels {
                let p = bp.baseAddress! + c * l.blockSize
                for j in 0..<3 {
                    let x = Double(quantiles.scalars[c * 3 + j])
                    let logit = scratch.withUnsafeMutableBufferPointer { s in
                        tape.withUnsafeMutableBufferPointer {
                            cumulativeLogit(Pair(x, x), layout: l, p: p, scratch: s.baseAddress!, tape: $0.baseAddress!)[0]
                        }
                    }
                    let r = logit - targets[j]
                    loss += abs(r)
                    let g: Double = r > 0 ? 1 : (r < 0 ? -1 : 0)
                    let dx = scratch.withUnsafeMutableBufferPointer { s in
                        tape.withUnsafeBufferPointer { tp in
                            unused.withUnsafeMutableBufferPointer {
                                // Lane 1 repeats lane 0 with a zero gradient: it adds nothing.
                                backpropagateLogit(Pair(g, 0), layout: l, p: p, tape: tp.baseAddress!,
                                                   grad: $0.baseAddress!, scratch: s.baseAddress!)[0]
                            }
                        }
                    }
                    grad.scalars[c * 3 + j] = Float(dx)
                }
            }
        }
        return (loss, grad)
    }
}

// MARK: Export for the coder

/// One channel's discrete distribution for the entropy coder. Symbols are the integers q = round(y − median)
/// in [minimum, maximum] (reproducing y as median + q); anything outside goes through the coder's escape,
/// whose probability is `tailMass`.
public struct ChannelPMF: Sendable, Equatable {
    /// The channel's median (quantiles[c, 1]), the centre of the rounding.
    public var median: Float
    /// The lowest symbol, −ceil(median − q₀) clamped to ≤ 0.
    public var minimum: Int
    /// The highest symbol, ceil(q₂ − median) clamped to ≥ 0.
    public var maximum: Int
    /// pmf[i] = c(median + minimum + i + ½) − c(median + minimum + i − ½), evaluated like the likelihoods
    /// (sign trick, no lower bound); maximum − minimum + 1 values.
    public var pmf: [Double]
    /// The mass outside the support: c(median + minimum − ½) + 1 − c(median + maximum + ½).
    public var tailMass: Double
}

extension EntropyBottleneck {
    /// The largest support `channelPMFs` accepts by default. A 16-bit CDF table gives every symbol (and the
    /// escape) at least one of its 65536 counts, so a longer support cannot be coded; half of that leaves
    /// counts for the probabilities themselves. A trained model's support is a few dozen symbols.
    public static let maximumSupport = 1 << 15

    /// CompressAI's `update()` without the quantisation to integers (the coder's table builder does that):
    /// per channel the support from the learned quantiles around the median, the PMF over it and the tail mass.
    ///
    /// Unlike CompressAI, each channel's upper tail is taken at its own last symbol (CompressAI takes it at the
    /// longest channel's, which over- or under-counts the tail of shorter channels), so that
    /// Σ pmf + tailMass = 1 up to rounding.
    /// - Throws: `ConfigurationError` if a quantile is NaN or infinite, or a channel's support would exceed
    ///   `maximumSupport` symbols (a diverged or hostile parameter set must not allocate without bound).
    public func channelPMFs(maximumSupport: Int = EntropyBottleneck.maximumSupport) throws(ConfigurationError) -> [ChannelPMF] {
        let l = layout
        let blocks = transformedBlocks()
        var out = [ChannelPMF]()
        out.reserveCapacity(channels)
        var scratch = [Pair](repeating: Pair(), count: 2 * l.maxWidth)
        func logits(_ x: Double, _ c: Int) -> Pair {
            blocks.withUnsafeBufferPointer { bp in
                scratch.withUnsafeMutableBufferPointer {
                    cumulativeLogit(Pair(x - 0.5, x + 0.5), layout: l, p: bp.baseAddress! + c * l.blockSize,
                                    scratch: $0.baseAddress!, tape: nil)
                }
            }
        }
        for c in 0..<channels {
            let q0 = Double(quantiles.scalars[c * 3]), median = quantiles.scalars[c * 3 + 1]
            let q2 = Double(quantiles.scalars[c * 3 + 2])
            let m = Double(median)
            guard q0.isFinite, m.isFinite, q2.isFinite else {
                throw ConfigurationError("EntropyBottleneck: channel \(c) expected finite quantiles, found (\(q0), \(m), \(q2))")
            }
            let below = max(0, (m - q0).rounded(.up)), above = max(0, (q2 - m).rounded(.up))
            guard below + above + 1 <= Double(maximumSupport) else {
                throw ConfigurationError("EntropyBottleneck: channel \(c) expected a support of at most \(maximumSupport) symbols, found \(below + above + 1) (quantiles \(q0), \(m), \(q2))")
            }
            let minimum = -Int(below), maximum = Int(above)
            var pmf = [Double]()
            pmf.reserveCapacity(maximum - minimum + 1)
            var firstLo = 0.0, lastHi = 0.0
            for q in minimum...maximum {
                let x = m + Double(q)
                let both = logits(x, c)
                let lo = both[0], hi = both[1]
                if q == minimum { firstLo = lo }
                if q == maximum { lastHi = hi }
                let s: Double = lo + hi > 0 ? -1 : 1
                pmf.append(abs(sigmoid(s * hi) - sigmoid(s * lo)))
            }
            out.append(ChannelPMF(median: median, minimum: minimum, maximum: maximum, pmf: pmf,
                                  tailMass: sigmoid(firstLo) + sigmoid(-lastHi)))
        }
        return out
    }

    /// The export step for the coder: `build` turns one channel's PMF into whatever the coder stores (the
    /// 16-bit CDF tables of the FlexEntropy target's table builder), called once per channel in order. The
    /// model does not depend on the coder; the caller passes its builder here.
    public func exportTables<Table>(maximumSupport: Int = EntropyBottleneck.maximumSupport,
                                    _ build: (_ channel: Int, _ pmf: ChannelPMF) throws -> Table) throws -> [Table] {
        try channelPMFs(maximumSupport: maximumSupport).enumerated().map { try build($0.offset, $0.element) }
    }
}
