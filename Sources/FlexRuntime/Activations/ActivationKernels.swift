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
//
// The per-kernel vector math and the component passes over one block are C (Sources/CFlexKernels/
// kernels_body.h, "Activation kernels"), compiled for AVX2 + FMA and portably; they must agree with
// `Component.Kernel.evaluate` (ActivationScalar.swift), the double-precision reference the tests use.

import CFlexKernels

extension Component.Kernel {
    /// The C kernels' number for this kernel.
    package var cKernel: Int32 {
        let k: flexk_kernel
        switch self {
        case .identity: k = FLEXK_IDENTITY
        case .relu: k = FLEXK_RELU
        case .elu: k = FLEXK_ELU
        case .negatedELU: k = FLEXK_NEGATED_ELU
        case .symmetricELU: k = FLEXK_SYMMETRIC_ELU
        case .sigmoid: k = FLEXK_SIGMOID
        case .tanh: k = FLEXK_TANH
        case .sigmoidRamp: k = FLEXK_SIGMOID_RAMP
        case .tanhRamp: k = FLEXK_TANH_RAMP
        case .prelu: k = FLEXK_PRELU
        }
        return Int32(k.rawValue)
    }
}

/// y[i] (= or +=) w[i]·f(x[i]; β[i]) for i in 0..<count; `weight` nil means w = 1. `weight` and `beta` are
/// scratch rows padded to a multiple of 8 elements.
package func activationForwardPass(_ kernel: Component.Kernel, x: FloatPointer, y: MutableFloatPointer,
                                   weight: FloatPointer?, beta: FloatPointer, count: Int, accumulate: Bool) {
    flexk_activation_forward(kernel.cKernel, x, y, weight, beta, count, accumulate ? 1 : 0)
}

/// For i in 0..<count: dx[i] (= or +=) dy·w·f'(x), gradF[i] += dy·f(x), gradBeta[i] += dy·w·∂f/∂β.
/// `weight` nil means w = 1; `weight`, `beta`, `gradF`, `gradBeta` are scratch rows padded to a multiple of 8.
package func activationBackwardPass(_ kernel: Component.Kernel, x: FloatPointer, dy: FloatPointer,
                                    dx: MutableFloatPointer?, accumulateDx: Bool,
                                    weight: FloatPointer?, beta: FloatPointer, count: Int,
                                    gradF: MutableFloatPointer?, gradBeta: MutableFloatPointer?) {
    flexk_activation_backward(kernel.cKernel, x, dy, dx, accumulateDx ? 1 : 0, weight, beta, count, gradF, gradBeta)
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
