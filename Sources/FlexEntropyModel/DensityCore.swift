import RealModule

/// Where each parameter of one channel's density lives in a flat block of `Double`s (docs/entropy-model.md).
///
/// The density of a channel is a chain of K = filters.count + 1 layers with widths e = (1, filters..., 1):
/// layer k maps e[k] values to e[k+1]. One block holds, for every layer, the matrix [e[k+1], e[k]] (row-major),
/// then every bias [e[k+1]], then every factor [e[k+1]] of the first K − 1 layers. The same layout serves the
/// transformed parameters (softplus(Ĥ), b, tanh(a)) that the evaluation reads and the gradient accumulators.
struct DensityLayout: Sendable {
    /// (1, filters..., 1).
    let widths: [Int]
    let matrixOffset: [Int]
    let biasOffset: [Int]
    let factorOffset: [Int]
    /// Doubles per channel.
    let blockSize: Int
    /// Doubles of tape per evaluated point: every layer's input, then tanh of every pre-activation but the last.
    let tapeSize: Int
    let tapeInputOffset: [Int]
    let tapeTanhOffset: [Int]
    let maxWidth: Int

    var layers: Int { widths.count - 1 }

    init(filters: [Int]) {
        widths = [1] + filters + [1]
        let k = widths.count - 1
        var offset = 0
        var m = [Int](), b = [Int](), f = [Int]()
        for i in 0..<k { m.append(offset); offset += widths[i + 1] * widths[i] }
        for i in 0..<k { b.append(offset); offset += widths[i + 1] }
        for i in 0..<(k - 1) { f.append(offset); offset += widths[i + 1] }
        matrixOffset = m; biasOffset = b; factorOffset = f; blockSize = offset
        var t = 0
        var ti = [Int](), tt = [Int]()
        for i in 0..<k { ti.append(t); t += widths[i] }
        for i in 0..<(k - 1) { tt.append(t); t += widths[i + 1] }
        tapeInputOffset = ti; tapeTanhOffset = tt; tapeSize = t
        maxWidth = widths.max() ?? 1
    }
}

/// The logistic function, evaluated so that no input produces NaN: for x → −∞, exp(−x) overflows to +∞ and
/// the quotient is 0; for x → +∞ it is 1.
@inline(__always)
func sigmoid(_ x: Double) -> Double { 1 / (1 + Double.exp(-x)) }

/// softplus(x) = log(1 + eˣ), written as max(x, 0) + log(1 + e^−|x|) so that no input overflows.
@inline(__always)
func softplus(_ x: Double) -> Double { max(x, 0) + Double.log(onePlus: Double.exp(-abs(x))) }

/// Two points evaluated together: the density is always needed at pairs (y − ½, y + ½), and running the two
/// chains in the lanes of one SIMD2 lets their multiply-adds and divisions overlap instead of waiting on one
/// serial chain of layers (the division in tanh was the largest single stall).
typealias Pair = SIMD2<Double>

/// tanh through one expm1 of a non-positive argument: tanh|x| = −e/(2 + e) with e = expm1(−2|x|) ∈ (−1, 0].
/// Accurate to a few ulps everywhere (no cancellation near 0, no overflow for large |x|) and about twice as fast
/// as glibc's tanh, which was over half of the evaluation time (docs/entropy-model.md, "Performance").
@inline(__always)
func fastTanh(_ x: Pair) -> Pair {
    let e = Pair(Double.expMinusOne(-2 * abs(x[0])), Double.expMinusOne(-2 * abs(x[1])))
    let t = -e / (2 + e)
    return t.replacing(with: -t, where: x .< 0)
}

/// One channel's cumulative logit f_K(…f_1(x)) at two points (its sigmoid is the cumulative c(x)).
///
/// `p` points at the channel's transformed block (softplus(Ĥ), b, tanh(a)); `scratch` holds 2·maxWidth
/// pairs. When `tape` is non-nil it receives what `backpropagateLogit` needs (layer inputs and tanh values,
/// `layout.tapeSize` pairs).
@inline(__always)
func cumulativeLogit(_ x: Pair, layout: DensityLayout, p: UnsafePointer<Double>,
                     scratch: UnsafeMutablePointer<Pair>, tape: UnsafeMutablePointer<Pair>?) -> Pair {
    let w = layout.widths
    var input = scratch, output = scratch + layout.maxWidth
    input[0] = x
    let k = w.count - 1
    for layer in 0..<k {
        let nIn = w[layer], nOut = w[layer + 1]
        if let tape { (tape + layout.tapeInputOffset[layer]).update(from: input, count: nIn) }
        let m = p + layout.matrixOffset[layer], b = p + layout.biasOffset[layer]
        for i in 0..<nOut {
            var z = Pair(repeating: b[i])
            for j in 0..<nIn { z += m[i * nIn + j] * input[j] }
            output[i] = z
        }
        if layer < k - 1 {
            // g(z) = z + tanh(a) ⊙ tanh(z): monotone because |tanh(a)| < 1.
            let t = p + layout.factorOffset[layer]
            for i in 0..<nOut {
                let th = fastTanh(output[i])
                if let tape { tape[layout.tapeTanhOffset[layer] + i] = th }
                output[i] += t[i] * th
            }
        }
        swap(&input, &output)
    }
    return input[0]
}

/// Backpropagates g = ∂L/∂(logit) (one value per lane) through one taped pair evaluation: adds ∂L/∂softplus(Ĥ),
/// ∂L/∂b and ∂L/∂tanh(a), summed over both lanes, into `grad` (same layout as `p`) and returns ∂L/∂x per lane.
/// `scratch` holds 2·maxWidth pairs.
@inline(__always)
func backpropagateLogit(_ g: Pair, layout: DensityLayout, p: UnsafePointer<Double>,
                        tape: UnsafePointer<Pair>, grad: UnsafeMutablePointer<Double>,
                        scratch: UnsafeMutablePointer<Pair>) -> Pair {
    let w = layout.widths
    let k = w.count - 1
    var gOut = scratch, gIn = scratch + layout.maxWidth
    gOut[0] = g
    var layer = k - 1
    while layer >= 0 {
        let nIn = w[layer], nOut = w[layer + 1]
        if layer < k - 1 {
            // out = z + t ⊙ tanh z: ∂out/∂z = 1 + t (1 − tanh² z), ∂out/∂t = tanh z.
            let t = p + layout.factorOffset[layer], th = tape + layout.tapeTanhOffset[layer]
            let gt = grad + layout.factorOffset[layer]
            for i in 0..<nOut {
                let go = gOut[i], h = th[i]
                gt[i] += (go * h).sum()
                gOut[i] = go * (1 + t[i] * (1 - h * h))
            }
        }
        let m = p + layout.matrixOffset[layer]
        let gm = grad + layout.matrixOffset[layer], gb = grad + layout.biasOffset[layer]
        let v = tape + layout.tapeInputOffset[layer]
        for j in 0..<nIn { gIn[j] = Pair() }
        for i in 0..<nOut {
            let gz = gOut[i]
            gb[i] += gz.sum()
            for j in 0..<nIn {
                gm[i * nIn + j] += (gz * v[j]).sum()
                gIn[j] += m[i * nIn + j] * gz
            }
        }
        swap(&gOut, &gIn)
        layer -= 1
    }
    return gOut[0]
}
