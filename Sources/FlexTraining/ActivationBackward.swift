import FlexRuntime

// Backward pass, feasibility projection and the trainable Activation layer.
// Layout and kink conventions: see ActivationKernels.swift / docs/activations.md.

extension ActivationFunction {
    /// Batched backward pass over x, dy (and dx) laid out `[batch, units, spatial]`:
    ///
    /// - `dx = dy · ∂o/∂z` (written, not accumulated; skipped when `dx` is nil);
    /// - `dAlpha[u * alphaWidth + k] += Σ_{n, s} dy · ∂o/∂α_k` (for one free weight, ∂o/∂α = f_1 − f_2);
    /// - `dBeta[u] += Σ_{n, s} dy · ∂o/∂β`.
    ///
    /// `dx` must not alias `x` or `dy`. `dAlpha`/`dBeta` may be nil to skip those gradients.
    public func backward(x: UnsafePointer<Float>, dy: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>?,
                         dAlpha: UnsafeMutablePointer<Float>?, dBeta: UnsafeMutablePointer<Float>?,
                         batch: Int, units: Int, spatial: Int,
                         alpha: UnsafePointer<Float>?, beta: UnsafePointer<Float>?) {
        let m = units * spatial
        let needF = alphaWidth > 0 && dAlpha != nil
        let needB = betaWidth > 0 && dBeta != nil
        guard batch > 0, m > 0, dx != nil || needF || needB else { return }
        let s = ActivationScratch(function: self, units: units, spatial: spatial, alpha: alpha, beta: beta)
        defer { s.deallocate() }
        let k = components.count
        let stride = s.stride
        let gradF: UnsafeMutablePointer<Float>? = needF ? .allocate(capacity: k * stride) : nil
        let gradB: UnsafeMutablePointer<Float>? = needB ? .allocate(capacity: stride) : nil
        defer { gradF?.deallocate(); gradB?.deallocate() }
        let aw = alphaWidth
        var start = 0
        while start < m {
            let len = min(stride, m - start)
            s.fill(start: start, count: len)
            gradF?.update(repeating: 0, count: k * stride)
            gradB?.update(repeating: 0, count: stride)
            for n in 0..<batch {
                let off = n * m + start
                for j in 0..<k {
                    activationBackwardPass(
                        components[j].kernel, x: x + off, dy: dy + off, dx: dx.map { $0 + off }, accumulateDx: j > 0,
                        weight: s.weightRow(j), beta: s.betaRow(j), count: len,
                        gradF: gradF.map { $0 + j * stride },
                        gradBeta: components[j].hasBeta ? gradB : nil)
                }
            }
            s.forEachRun(start: start, count: len) { u, from, to in
                @inline(__always) func sum(_ p: UnsafeMutablePointer<Float>) -> Float {
                    var acc: Float = 0
                    for i in from..<to { acc += p[i] }
                    return acc
                }
                if let gradF, let dAlpha {
                    if aw == 1 {
                        dAlpha[u] += sum(gradF) - sum(gradF + stride)
                    } else {
                        for j in 0..<k { dAlpha[u * aw + j] += sum(gradF + j * stride) }
                    }
                }
                if let gradB, let dBeta { dBeta[u] += sum(gradB) }
            }
            start += len
        }
    }

    /// Euclidean projection of `v` onto the probability simplex {w : w_k ≥ 0, Σ w_k = 1} (sort-based,
    /// Held/Wolfe/Crowder; Duchi et al. 2008): θ = (Σ_{i≤ρ} u_i − 1)/ρ over the sorted-descending u, w = max(v − θ, 0).
    public static func projectOntoSimplex(_ v: inout [Double]) {
        guard !v.isEmpty else { return }
        let u = v.sorted(by: >)
        var cumulative = 0.0, theta = 0.0
        for (i, ui) in u.enumerated() {
            cumulative += ui
            let t = (cumulative - 1) / Double(i + 1)
            if ui - t > 0 { theta = t }
        }
        for i in v.indices { v[i] = max(v[i] - theta, 0) }
    }

    /// Restores feasibility after an optimiser step, for `units` units stored as the layer stores them:
    /// a free weight is clipped to [0, 1]; K ≥ 3 weights are projected onto the simplex (nearest point in the
    /// Euclidean norm); β is clamped to `betaDomain` (ramp slopes and ELU scales ≥ `minimumScale`, PReLU free).
    /// Non-finite values are left as they are (`validate` reports them).
    public func project(alpha: UnsafeMutablePointer<Float>?, beta: UnsafeMutablePointer<Float>?, units: Int) {
        if let alpha, alphaWidth > 0 {
            if alphaWidth == 1 {
                for u in 0..<units where alpha[u].isFinite { alpha[u] = min(max(alpha[u], 0), 1) }
            } else {
                var row = [Double](repeating: 0, count: alphaWidth)
                for u in 0..<units {
                    let p = alpha + u * alphaWidth
                    var finite = true
                    for j in 0..<alphaWidth { row[j] = Double(p[j]); finite = finite && row[j].isFinite }
                    guard finite else { continue }
                    Self.projectOntoSimplex(&row)
                    for j in 0..<alphaWidth { p[j] = Float(row[j]) }
                }
            }
        }
        if let beta, betaWidth > 0 {
            let d = betaDomain
            let lo = Float(d.lower), hi = Float(d.upper)
            for u in 0..<units where beta[u].isFinite { beta[u] = min(max(beta[u], lo), hi) }
        }
    }

    /// `project` on arrays holding `units` units (`alpha.count == units * alphaWidth`).
    public func project(alpha: inout [Float], beta: inout [Float]) {
        let units = alphaWidth > 0 ? alpha.count / alphaWidth : (betaWidth > 0 ? beta.count / betaWidth : 0)
        precondition(alpha.count == units * alphaWidth && beta.count == units * betaWidth,
                     "\(name): α/β counts \(alpha.count)/\(beta.count) do not describe whole units")
        alpha.withUnsafeMutableBufferPointer { a in
            beta.withUnsafeMutableBufferPointer { b in
                project(alpha: a.baseAddress, beta: b.baseAddress, units: units)
            }
        }
    }
}

extension Activation: TrainableLayer {
    public func forward(_ input: Tensor, cache: inout LayerCache) throws(ShapeMismatch) -> Tensor {
        let y = try forward(input)
        cache.input = input
        return y
    }

    public func backward(_ gradOutput: Tensor, cache: LayerCache, gradients: inout [Tensor],
                         needsInputGradient: Bool) -> Tensor? {
        guard let input = cache.input else { preconditionFailure("\(label): backward without a cached input") }
        precondition(gradOutput.shape == input.shape,
                     "\(label): gradient shape \(formatShape(gradOutput.shape)) differs from input shape \(formatShape(input.shape))")
        let spatial = input.shape.dropFirst(2).reduce(1, *)
        let batch = input.shape[0]
        var ga: [Float] = [], gb: [Float] = []
        if let i = alphaIndex { swap(&ga, &gradients[i].scalars) }
        if let i = betaIndex { swap(&gb, &gradients[i].scalars) }
        defer {
            if let i = alphaIndex { swap(&ga, &gradients[i].scalars) }
            if let i = betaIndex { swap(&gb, &gradients[i].scalars) }
        }
        var dxTensor: Tensor? = needsInputGradient ? Tensor(shape: input.shape) : nil
        guard input.count > 0 else { return dxTensor }
        let f = function, u = units
        withParameterPointers { alpha, beta in
            input.scalars.withUnsafeBufferPointer { x in
                gradOutput.scalars.withUnsafeBufferPointer { dy in
                    ga.withUnsafeMutableBufferPointer { dA in
                        gb.withUnsafeMutableBufferPointer { dB in
                            func run(_ dx: UnsafeMutablePointer<Float>?) {
                                f.backward(x: x.baseAddress!, dy: dy.baseAddress!, dx: dx,
                                           dAlpha: dA.baseAddress, dBeta: dB.baseAddress,
                                           batch: batch, units: u, spatial: spatial, alpha: alpha, beta: beta)
                            }
                            if dxTensor != nil {
                                dxTensor!.scalars.withUnsafeMutableBufferPointer { run($0.baseAddress) }
                            } else {
                                run(nil)
                            }
                        }
                    }
                }
            }
        }
        return dxTensor
    }
}
