import FlexRuntime

extension GDN: TrainableLayer {
    /// Keeps the input and output; the backward pass recomputes the normaliser block by block (one matrix
    /// product) instead of storing a second activation-sized tensor.
    public func forward(_ input: Tensor, cache: inout LayerCache) throws(ShapeMismatch) -> Tensor {
        let y = try forward(input)
        cache.input = input
        cache.output = y
        return y
    }

    /// With n_i = β_i + Σ_j γ_ij x_j² and y_i = x_i · n_i^e (e = −½ for GDN, +½ for IGDN), per pixel:
    ///
    ///     q_i = ∂L/∂n_i = e · g_i · y_i / n_i                  (g = ∂L/∂y)
    ///     ∂L/∂x_k = g_k · n_k^e + 2 x_k · Σ_i γ_ik q_i          (the second term: γᵀq, one matrix product)
    ///     ∂L/∂β_i += Σ_pixels q_i,   ∂L/∂γ_ij += Σ_pixels q_i x_j²   (Q · Sᵀ, one matrix product)
    ///
    /// and then through the reparametrisation v = max(p, bound)² − pedestal to the stored p (CompressAI's
    /// `LowerBound` backward): ∂L/∂p = 2·max(p, bound)·∂L/∂v where p ≥ bound or that gradient is negative
    /// (descent would raise p towards the feasible region), else 0. The gate uses the gradient of this call,
    /// so a mini-batch split into shards gates per shard (it only matters for stored values below the bound).
    public func backward(_ gradOutput: Tensor, cache: LayerCache, gradients: inout [Tensor],
                         needsInputGradient: Bool) -> Tensor? {
        checkGradOutput(gradOutput, cache, label)
        let x = cache.input!
        let n = x.shape[0], c = channels, pixels = x.shape[2] * x.shape[3]
        let block = min(GDN.pixelBlock, max(pixels, 1))
        let exponent: Float = inverse ? 0.5 : -0.5
        var effective = uninitializedFloats(c + c * c)
        var squares = uninitializedFloats(c * block)
        var norm = uninitializedFloats(c * block)
        var q = uninitializedFloats(c * block)
        // ∂L/∂β and ∂L/∂γ of the effective values, before the reparametrisation.
        var dValue = [Float](repeating: 0, count: c + c * c)
        var dx = needsInputGradient ? Tensor(shape: x.shape) : Tensor(shape: [0])
        let inverse = inverse
        effective.withUnsafeMutableBufferPointer { eff in
        squares.withUnsafeMutableBufferPointer { sb in
        norm.withUnsafeMutableBufferPointer { nb in
        q.withUnsafeMutableBufferPointer { qb in
        dValue.withUnsafeMutableBufferPointer { dv in
        x.scalars.withUnsafeBufferPointer { xb in
        gradOutput.scalars.withUnsafeBufferPointer { gb in
        dx.scalars.withUnsafeMutableBufferPointer { dxb in
            effectiveParameters(into: eff.baseAddress!)
            guard pixels > 0 else { return }
            for s in 0..<n {
                for first in stride(from: 0, to: pixels, by: block) {
                    let count = min(block, pixels - first)
                    let offset = s * c * pixels + first
                    normaliser(x: xb.baseAddress! + offset, pixelStride: pixels, count: count,
                               effective: eff.baseAddress!, squares: sb.baseAddress!, norm: nb.baseAddress!)
                    for ch in 0..<c {
                        let xr = xb.baseAddress! + offset + ch * pixels, gr = gb.baseAddress! + offset + ch * pixels
                        let nr = nb.baseAddress! + ch * count, qr = qb.baseAddress! + ch * count
                        var betaSum: Float = 0
                        for i in 0..<count {
                            let root = nr[i].squareRoot()
                            let scale = inverse ? root : 1 / root  // n^e
                            let y = xr[i] * scale
                            let qi = exponent * gr[i] * y / nr[i]
                            qr[i] = qi
                            betaSum += qi
                            nr[i] = gr[i] * scale  // the normaliser row is no longer needed: keep g·n^e
                        }
                        dv[ch] += betaSum
                    }
                    gemmNT(m: c, n: c, k: count, a: qb.baseAddress!, lda: count, b: sb.baseAddress!, ldb: count,
                           c: dv.baseAddress! + c, ldc: c, accumulate: true)
                    guard needsInputGradient else { continue }
                    // γᵀ q into the squares buffer (S is no longer needed).
                    gemmNN(m: c, n: count, k: c, a: eff.baseAddress! + c, aRowStride: 1, aColStride: c,
                           b: qb.baseAddress!, ldb: count, c: sb.baseAddress!, ldc: count, accumulate: false)
                    for ch in 0..<c {
                        let xr = xb.baseAddress! + offset + ch * pixels, dr = dxb.baseAddress! + offset + ch * pixels
                        let direct = nb.baseAddress! + ch * count, t = sb.baseAddress! + ch * count
                        for i in 0..<count { dr[i] = direct[i] + 2 * xr[i] * t[i] }
                    }
                }
            }
        } } } } } } } }
        func reparametrised(_ p: Float, _ bound: Float, _ dv: Float) -> Float {
            let g = 2 * max(p, bound) * dv
            return p >= bound || g < 0 ? g : 0
        }
        gradients[0].scalars.withUnsafeMutableBufferPointer { db in
            betaParameter.scalars.withUnsafeBufferPointer { p in
                for i in 0..<c { db[i] += reparametrised(p[i], GDN.betaBound, dValue[i]) }
            }
        }
        gradients[1].scalars.withUnsafeMutableBufferPointer { dg in
            gammaParameter.scalars.withUnsafeBufferPointer { p in
                for i in 0..<(c * c) { dg[i] += reparametrised(p[i], GDN.gammaBound, dValue[c + i]) }
            }
        }
        return needsInputGradient ? dx : nil
    }
}
