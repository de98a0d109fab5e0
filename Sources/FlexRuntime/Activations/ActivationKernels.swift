// Batched, SIMD8-vectorised activation kernels.
//
// Layout: x, y, dy, dx are `[batch, units, spatial]` contiguous; α is `[units * alphaWidth]`, β
// `[units * betaWidth]`; unit u's parameters apply to the `spatial` elements of every sample's row u.
//
// Strategy: each sample's `units * spatial` elements are cut into blocks of at most `blockSize`
// elements. For a block, the per-unit parameters are broadcast once into per-element scratch rows (the
// component weights w_k and β, padded to a multiple of 8), and then every sample of the batch runs one tight
// vector loop per component over the block (y = w_0 f_0 + w_1 f_1 + ...). This treats `[N, F]` (spatial 1),
// small feature maps and large ones alike, keeps the component dispatch outside the inner loops, and keeps
// a block's streams in L1. The backward pass (FlexTraining) accumulates Σ_n dy·f_k and Σ_n dy·∂o/∂β per
// element of the block and reduces them per unit at the end of the block.

package typealias V8 = SIMD8<Float>

// MARK: Per-kernel vector math

/// One kernel on eight lanes: f(z; β) and (f, ∂f/∂z, ∂f/∂β). Must agree with `Component.Kernel.evaluate`.
package protocol VectorKernel {
    static func value(_ z: V8, _ b: V8) -> V8
    static func grad(_ z: V8, _ b: V8) -> (f: V8, dz: V8, db: V8)
}

package enum IdentityKernel: VectorKernel {
    @inline(__always) package static func value(_ z: V8, _ b: V8) -> V8 { z }
    @inline(__always) package static func grad(_ z: V8, _ b: V8) -> (f: V8, dz: V8, db: V8) { (z, V8(repeating: 1), V8()) }
}

package enum ReLUKernel: VectorKernel {
    @inline(__always) package static func value(_ z: V8, _ b: V8) -> V8 { VectorMath.max(z, V8()) }
    @inline(__always) package static func grad(_ z: V8, _ b: V8) -> (f: V8, dz: V8, db: V8) {
        (VectorMath.max(z, V8()), V8().replacing(with: 1, where: z .> 0), V8())
    }
}

package enum ELUKernel: VectorKernel {
    @inline(__always) package static func value(_ z: V8, _ b: V8) -> V8 {
        let em1 = VectorMath.expm1(VectorMath.min(z, V8()))
        return (b * em1).replacing(with: z, where: z .> 0)
    }
    @inline(__always) package static func grad(_ z: V8, _ b: V8) -> (f: V8, dz: V8, db: V8) {
        let (e, em1) = VectorMath.expAndExpm1(VectorMath.min(z, V8()))
        let pos = z .> 0
        return ((b * em1).replacing(with: z, where: pos), (b * e).replacing(with: 1, where: pos),
                em1.replacing(with: 0, where: pos))
    }
}

package enum NegatedELUKernel: VectorKernel {
    @inline(__always) package static func value(_ z: V8, _ b: V8) -> V8 {
        let em1 = VectorMath.expm1(-VectorMath.max(z, V8()))
        return (-b * em1).replacing(with: z, where: z .< 0)
    }
    @inline(__always) package static func grad(_ z: V8, _ b: V8) -> (f: V8, dz: V8, db: V8) {
        let (e, em1) = VectorMath.expAndExpm1(-VectorMath.max(z, V8()))
        let neg = z .< 0
        return ((-b * em1).replacing(with: z, where: neg), (b * e).replacing(with: 1, where: neg),
                (-em1).replacing(with: 0, where: neg))
    }
}

/// ELU(z; β) − ELU(−z; β) = z + sgn(z)·β(1 − e^−|z|); slope 1 + β e^−|z| everywhere (smooth at 0, where
/// autograd would sum the halves' subgradients to 2β instead).
package enum SymmetricELUKernel: VectorKernel {
    @inline(__always) package static func value(_ z: V8, _ b: V8) -> V8 {
        let em1 = VectorMath.expm1(-VectorMath.abs(z))          // ≤ 0
        let t = b * em1
        return z + t.replacing(with: -t, where: z .> 0)
    }
    @inline(__always) package static func grad(_ z: V8, _ b: V8) -> (f: V8, dz: V8, db: V8) {
        let (e, em1) = VectorMath.expAndExpm1(-VectorMath.abs(z))
        let pos = z .> 0
        let sem1 = em1.replacing(with: -em1, where: pos)   // ∂f/∂β = −em1 for z > 0, em1 for z < 0, 0 at 0
        let dz = 1 + b * e
        return (z + b * sem1, dz, sem1)
    }
}

package enum SigmoidKernel: VectorKernel {
    @inline(__always) package static func value(_ z: V8, _ b: V8) -> V8 { VectorMath.sigmoid(z) }
    @inline(__always) package static func grad(_ z: V8, _ b: V8) -> (f: V8, dz: V8, db: V8) {
        let s = VectorMath.sigmoid(z)
        return (s, s * (1 - s), V8())
    }
}

package enum TanhKernel: VectorKernel {
    @inline(__always) package static func value(_ z: V8, _ b: V8) -> V8 { VectorMath.tanh(z) }
    @inline(__always) package static func grad(_ z: V8, _ b: V8) -> (f: V8, dz: V8, db: V8) {
        let t = VectorMath.tanh(z)
        return (t, 1 - t * t, V8())
    }
}

package enum SigmoidRampKernel: VectorKernel {
    @inline(__always) package static func value(_ z: V8, _ b: V8) -> V8 {
        VectorMath.clamp(b * z + 0.5, 0, 1)
    }
    @inline(__always) package static func grad(_ z: V8, _ b: V8) -> (f: V8, dz: V8, db: V8) {
        let u = b * z + 0.5
        let inside = (u .> 0) .& (u .< 1)
        return (VectorMath.clamp(u, 0, 1),
                V8().replacing(with: b, where: inside), V8().replacing(with: z, where: inside))
    }
}

package enum TanhRampKernel: VectorKernel {
    @inline(__always) package static func value(_ z: V8, _ b: V8) -> V8 {
        VectorMath.clamp(b * z, -1, 1)
    }
    @inline(__always) package static func grad(_ z: V8, _ b: V8) -> (f: V8, dz: V8, db: V8) {
        let u = b * z
        let inside = (u .> -1) .& (u .< 1)
        return (VectorMath.clamp(u, -1, 1),
                V8().replacing(with: b, where: inside), V8().replacing(with: z, where: inside))
    }
}

package enum PReLUKernel: VectorKernel {
    @inline(__always) package static func value(_ z: V8, _ b: V8) -> V8 { (b * z).replacing(with: z, where: z .> 0) }
    @inline(__always) package static func grad(_ z: V8, _ b: V8) -> (f: V8, dz: V8, db: V8) {
        let pos = z .> 0
        return ((b * z).replacing(with: z, where: pos), b.replacing(with: 1, where: pos), z.replacing(with: 0, where: pos))
    }
}

// MARK: Partial loads for tails

@inline(__always)
func loadPartial(_ p: FloatPointer, _ n: Int) -> V8 {
    var v = V8()
    for l in 0..<n { v[l] = p[l] }
    return v
}

@inline(__always)
func storePartial(_ v: V8, _ p: MutableFloatPointer, _ n: Int) {
    for l in 0..<n { p[l] = v[l] }
}

// MARK: Component passes over one block

@inline(__always)
private func forwardLoop<K: VectorKernel>(_: K.Type, x: FloatPointer, y: MutableFloatPointer,
                                          weight: FloatPointer?, beta: FloatPointer, count: Int, accumulate: Bool) {
    let full = count & ~7
    var i = 0
    if let w = weight {
        if accumulate {
            while i < full { store8(load8(y + i).addingProduct(load8(w + i), K.value(load8(x + i), load8(beta + i))), y + i); i += 8 }
        } else {
            while i < full { store8(load8(w + i) * K.value(load8(x + i), load8(beta + i)), y + i); i += 8 }
        }
    } else {
        if accumulate {
            while i < full { store8(load8(y + i) + K.value(load8(x + i), load8(beta + i)), y + i); i += 8 }
        } else {
            while i < full { store8(K.value(load8(x + i), load8(beta + i)), y + i); i += 8 }
        }
    }
    if i < count {
        let n = count - i
        // Scratch rows (weight, beta) are padded to a multiple of 8, so full loads are in bounds.
        var v = K.value(loadPartial(x + i, n), load8(beta + i))
        if let w = weight { v *= load8(w + i) }
        if accumulate { v += loadPartial(y + i, n) }
        storePartial(v, y + i, n)
    }
}

/// y[i] (= or +=) w[i]·f(x[i]; β[i]) for i in 0..<count; `weight` nil means w = 1. `weight` and `beta` are
/// scratch rows padded to a multiple of 8 elements.
package func activationForwardPass(_ kernel: Component.Kernel, x: FloatPointer, y: MutableFloatPointer,
                                   weight: FloatPointer?, beta: FloatPointer, count: Int, accumulate: Bool) {
    switch kernel {
    case .identity: forwardLoop(IdentityKernel.self, x: x, y: y, weight: weight, beta: beta, count: count, accumulate: accumulate)
    case .relu: forwardLoop(ReLUKernel.self, x: x, y: y, weight: weight, beta: beta, count: count, accumulate: accumulate)
    case .elu: forwardLoop(ELUKernel.self, x: x, y: y, weight: weight, beta: beta, count: count, accumulate: accumulate)
    case .negatedELU: forwardLoop(NegatedELUKernel.self, x: x, y: y, weight: weight, beta: beta, count: count, accumulate: accumulate)
    case .symmetricELU: forwardLoop(SymmetricELUKernel.self, x: x, y: y, weight: weight, beta: beta, count: count, accumulate: accumulate)
    case .sigmoid: forwardLoop(SigmoidKernel.self, x: x, y: y, weight: weight, beta: beta, count: count, accumulate: accumulate)
    case .tanh: forwardLoop(TanhKernel.self, x: x, y: y, weight: weight, beta: beta, count: count, accumulate: accumulate)
    case .sigmoidRamp: forwardLoop(SigmoidRampKernel.self, x: x, y: y, weight: weight, beta: beta, count: count, accumulate: accumulate)
    case .tanhRamp: forwardLoop(TanhRampKernel.self, x: x, y: y, weight: weight, beta: beta, count: count, accumulate: accumulate)
    case .prelu: forwardLoop(PReLUKernel.self, x: x, y: y, weight: weight, beta: beta, count: count, accumulate: accumulate)
    }
}

@inline(__always)
private func backwardLoop<K: VectorKernel>(_: K.Type, x: FloatPointer, dy: FloatPointer,
                                           dx: MutableFloatPointer?, accumulateDx: Bool,
                                           weight: FloatPointer?, beta: FloatPointer, count: Int,
                                           gradF: MutableFloatPointer?, gradBeta: MutableFloatPointer?) {
    @inline(__always) func chunk(_ i: Int, _ z: V8, _ g: V8) -> V8 {
        let b = load8(beta + i)
        let (f, dz, db) = K.grad(z, b)
        let w = weight.map { load8($0 + i) } ?? V8(repeating: 1)
        if let gf = gradF { store8(load8(gf + i).addingProduct(g, f), gf + i) }
        if let gb = gradBeta { store8(load8(gb + i).addingProduct(g * w, db), gb + i) }
        return g * w * dz
    }
    let full = count & ~7
    var i = 0
    if let dx {
        if accumulateDx {
            while i < full { store8(load8(dx + i) + chunk(i, load8(x + i), load8(dy + i)), dx + i); i += 8 }
        } else {
            while i < full { store8(chunk(i, load8(x + i), load8(dy + i)), dx + i); i += 8 }
        }
    } else {
        while i < full { _ = chunk(i, load8(x + i), load8(dy + i)); i += 8 }
    }
    if i < count {
        let n = count - i
        // dy is zero in the padding lanes, so the accumulators' padding lanes only ever receive 0.
        let d = chunk(i, loadPartial(x + i, n), loadPartial(dy + i, n))
        if let dx { storePartial(accumulateDx ? d + loadPartial(dx + i, n) : d, dx + i, n) }
    }
}

/// For i in 0..<count: dx[i] (= or +=) dy·w·f'(x), gradF[i] += dy·f(x), gradBeta[i] += dy·w·∂f/∂β.
/// `weight` nil means w = 1; `weight`, `beta`, `gradF`, `gradBeta` are scratch rows padded to a multiple of 8.
package func activationBackwardPass(_ kernel: Component.Kernel, x: FloatPointer, dy: FloatPointer,
                                    dx: MutableFloatPointer?, accumulateDx: Bool,
                                    weight: FloatPointer?, beta: FloatPointer, count: Int,
                                    gradF: MutableFloatPointer?, gradBeta: MutableFloatPointer?) {
    switch kernel {
    case .identity: backwardLoop(IdentityKernel.self, x: x, dy: dy, dx: dx, accumulateDx: accumulateDx, weight: weight, beta: beta, count: count, gradF: gradF, gradBeta: gradBeta)
    case .relu: backwardLoop(ReLUKernel.self, x: x, dy: dy, dx: dx, accumulateDx: accumulateDx, weight: weight, beta: beta, count: count, gradF: gradF, gradBeta: gradBeta)
    case .elu: backwardLoop(ELUKernel.self, x: x, dy: dy, dx: dx, accumulateDx: accumulateDx, weight: weight, beta: beta, count: count, gradF: gradF, gradBeta: gradBeta)
    case .negatedELU: backwardLoop(NegatedELUKernel.self, x: x, dy: dy, dx: dx, accumulateDx: accumulateDx, weight: weight, beta: beta, count: count, gradF: gradF, gradBeta: gradBeta)
    case .symmetricELU: backwardLoop(SymmetricELUKernel.self, x: x, dy: dy, dx: dx, accumulateDx: accumulateDx, weight: weight, beta: beta, count: count, gradF: gradF, gradBeta: gradBeta)
    case .sigmoid: backwardLoop(SigmoidKernel.self, x: x, dy: dy, dx: dx, accumulateDx: accumulateDx, weight: weight, beta: beta, count: count, gradF: gradF, gradBeta: gradBeta)
    case .tanh: backwardLoop(TanhKernel.self, x: x, dy: dy, dx: dx, accumulateDx: accumulateDx, weight: weight, beta: beta, count: count, gradF: gradF, gradBeta: gradBeta)
    case .sigmoidRamp: backwardLoop(SigmoidRampKernel.self, x: x, dy: dy, dx: dx, accumulateDx: accumulateDx, weight: weight, beta: beta, count: count, gradF: gradF, gradBeta: gradBeta)
    case .tanhRamp: backwardLoop(TanhRampKernel.self, x: x, dy: dy, dx: dx, accumulateDx: accumulateDx, weight: weight, beta: beta, count: count, gradF: gradF, gradBeta: gradBeta)
    case .prelu: backwardLoop(PReLUKernel.self, x: x, dy: dy, dx: dx, accumulateDx: accumulateDx, weight: weight, beta: beta, count: count, gradF: gradF, gradBeta: gradBeta)
    }
}

// MARK: Parameter broadcasting scratch

/// Per-block scratch: component weights and β broadcast from units to elements (padded to multiples of 8).
package struct ActivationScratch {
    package static let blockSize = 1024
    package let function: ActivationFunction
    package let units: Int, spatial: Int
    /// Elements per sample (`units * spatial`) and the row length of the scratch (≤ blockSize, multiple of 8).
    package let perSample: Int, stride: Int
    /// `components.count` weight rows (nil for a single component).
    package let weights: MutableFloatPointer?
    /// One β row per component (the shared β row or a row of the kernel's fixed β).
    package let betas: MutableFloatPointer
    private let alpha: FloatPointer?, beta: FloatPointer?
    /// Whether `weights` and `betas` were allocated here (and so are released by `deallocate`).
    private let ownsStorage: Bool

    /// Floats the rows need when given as `storage`: 2·K rows of `stride` (weights and β).
    package static func storageCount(function: ActivationFunction, units: Int, spatial: Int) -> Int {
        2 * function.components.count * min(blockSize, (units * spatial + 7) & ~7)
    }

    /// `storage` (at least `storageCount` floats) holds the rows instead of fresh allocations when given.
    package init(function: ActivationFunction, units: Int, spatial: Int, alpha: FloatPointer?, beta: FloatPointer?,
                 storage: MutableFloatPointer? = nil) {
        precondition(function.alphaWidth == 0 || alpha != nil, "\(function.name): α pointer required (alphaWidth \(function.alphaWidth))")
        precondition(function.betaWidth == 0 || beta != nil, "\(function.name): β pointer required (betaWidth \(function.betaWidth))")
        self.function = function
        self.units = units
        self.spatial = spatial
        self.alpha = alpha
        self.beta = beta
        perSample = units * spatial
        stride = min(Self.blockSize, (perSample + 7) & ~7)
        let k = function.components.count
        ownsStorage = storage == nil
        if let storage {
            weights = function.alphaWidth == 0 ? nil : storage + k * stride
            betas = storage
        } else {
            weights = function.alphaWidth == 0 ? nil : .allocate(capacity: k * stride)
            betas = .allocate(capacity: k * stride)
        }
        for (j, c) in function.components.enumerated() where !c.hasBeta {
            (betas + j * stride).initialize(repeating: c.kernel.usesBeta ? Float(c.kernel.fixedBeta) : Float(1), count: stride)
        }
        if let weights { weights.initialize(repeating: 0, count: k * stride) }
    }

    package func deallocate() {
        guard ownsStorage else { return }
        weights?.deallocate()
        betas.deallocate()
    }

    /// Calls `body(unit, from, to)` for each run of elements [from, to) of the block that share a unit.
    @inline(__always)
    package func forEachRun(start: Int, count: Int, _ body: (Int, Int, Int) -> Void) {
        var i = 0
        while i < count {
            let e = start + i
            let u = e / spatial
            let end = min(count, (u + 1) * spatial - start)
            body(u, i, end)
            i = end
        }
    }

    /// Broadcasts the parameters of the elements [start, start + count) of a sample into the rows;
    /// padding lanes get weight 0 and β 1.
    package func fill(start: Int, count: Int) {
        let k = function.components.count
        let aw = function.alphaWidth
        forEachRun(start: start, count: count) { u, from, to in
            if let weights, let alpha {
                for j in 0..<k {
                    let w: Float = aw == 1 ? (j == 0 ? alpha[u] : 1 - alpha[u]) : alpha[u * aw + j]
                    (weights + j * stride + from).update(repeating: w, count: to - from)
                }
            }
            if let beta {
                for (j, c) in function.components.enumerated() where c.hasBeta {
                    (betas + j * stride + from).update(repeating: beta[u], count: to - from)
                }
            }
        }
        let padEnd = (count + 7) & ~7
        if padEnd > count {
            for j in 0..<k {
                if let weights { (weights + j * stride + count).update(repeating: 0, count: padEnd - count) }
                if function.components[j].hasBeta { (betas + j * stride + count).update(repeating: 1, count: padEnd - count) }
            }
        }
    }

    package func weightRow(_ j: Int) -> FloatPointer? { weights.map { FloatPointer($0 + j * stride) } }
    package func betaRow(_ j: Int) -> FloatPointer { FloatPointer(betas + j * stride) }
}

extension ActivationFunction {
    /// Floats of scratch `forward(…, scratch:)` needs for this layout.
    public func forwardScratchCount(units: Int, spatial: Int) -> Int {
        let rows = ActivationScratch.storageCount(function: self, units: units, spatial: spatial)
        return rows + min(ActivationScratch.blockSize, (units * spatial + 7) & ~7)
    }

    /// y = o(x) for x, y laid out `[batch, units, spatial]`; α is `[units * alphaWidth]`, β `[units * betaWidth]`.
    /// x and y may be the same buffer (in-place). `scratch` (at least `forwardScratchCount(units:spatial:)`
    /// floats) replaces the small per-call allocations when given.
    public func forward(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>,
                        batch: Int, units: Int, spatial: Int,
                        alpha: UnsafePointer<Float>?, beta: UnsafePointer<Float>?,
                        scratch: UnsafeMutablePointer<Float>? = nil) {
        let m = units * spatial
        guard batch > 0, m > 0 else { return }
        let s = ActivationScratch(function: self, units: units, spatial: spatial, alpha: alpha, beta: beta,
                                  storage: scratch)
        defer { s.deallocate() }
        let inPlace = x == UnsafePointer(y)
        let k = components.count
        // In place with several components, each block is evaluated into a local buffer first.
        let ownTmp = inPlace && k > 1 && scratch == nil
        let tmp: MutableFloatPointer? = inPlace && k > 1
            ? (scratch.map { $0 + ActivationScratch.storageCount(function: self, units: units, spatial: spatial) }
               ?? .allocate(capacity: s.stride))
            : nil
        defer { if ownTmp { tmp?.deallocate() } }
        var start = 0
        while start < m {
            let len = min(s.stride, m - start)
            s.fill(start: start, count: len)
            for n in 0..<batch {
                let xp = x + n * m + start
                let yp = tmp ?? (y + n * m + start)
                for j in 0..<k {
                    activationForwardPass(components[j].kernel, x: xp, y: yp, weight: s.weightRow(j), beta: s.betaRow(j),
                                          count: len, accumulate: j > 0)
                }
                if let tmp { (y + n * m + start).update(from: tmp, count: len) }
            }
            start += len
        }
    }
}
