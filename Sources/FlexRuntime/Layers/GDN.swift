/// Generalized divisive normalization (Ballé, Laparra, Simoncelli 2016) and its inverse, with CompressAI's
/// semantics (`compressai.layers.GDN(channels, inverse=..., beta_min=1e-6, gamma_init=0.1)`).
///
/// Per sample and pixel, over the channels of an NCHW input `[N, C, H, W]`:
///
///     GDN:  y_i = x_i / sqrt(β_i + Σ_j γ_ij x_j²)        IGDN:  y_i = x_i · sqrt(β_i + Σ_j γ_ij x_j²)
///
/// The stored parameters are *not* β and γ but CompressAI's non-negative reparametrisation of them
/// (`NonNegativeParametrizer`), so a checkpoint's `beta` `[C]` and `gamma` `[C, C]` are exactly CompressAI's
/// `state_dict` entries:
///
///     value = max(p, bound)² − pedestal,   pedestal = 2^-36,   bound = sqrt(minimum + pedestal)
///
/// with minimum = `betaMin` (1e-6) for β and 0 for γ. This keeps β ≥ 1e-6 and γ ≥ 0, hence the normaliser
/// β_i + Σ_j γ_ij x_j² ≥ 1e-6 > 0 for every input. `gamma[i, j]` is row i (output channel) of the matrix.
/// The backward pass (FlexTraining) mirrors CompressAI's `LowerBound` gradient; docs/training-math.md.
///
/// Computed per sample in blocks of `pixelBlock` pixels: squares S `[C, block]`, then the normaliser
/// β + γ·S with one matrix product, then the element-wise scaling.
public final class GDN: Layer, @unchecked Sendable {
    public var name: String
    public let channels: Int
    /// IGDN (multiply by the square root) instead of GDN (divide).
    public let inverse: Bool
    public var parameters: [Tensor]
    public var parameterNames: [String] { ["beta", "gamma"] }
    public var spec: LayerSpec { .gdn(channels: channels, inverse: inverse) }

    /// CompressAI's default `beta_min`: the smallest β the reparametrisation allows.
    public static let betaMin: Float = 1e-6
    /// CompressAI's default `gamma_init`: γ starts as `gammaInit · I`.
    public static let gammaInit: Float = 0.1
    /// `reparam_offset²` = (2^-18)².
    public static let pedestal: Float = 0x1p-36
    /// The lower bound on the stored β: sqrt(betaMin + pedestal), computed in double and rounded to float32
    /// as CompressAI's `LowerBound(bound)` buffer is.
    public static let betaBound = Float((1e-6 + 0x1p-36 as Double).squareRoot())
    /// The lower bound on the stored γ: sqrt(0 + pedestal) = 2^-18 exactly.
    public static let gammaBound: Float = 0x1p-18
    /// Pixels per block: S and the normaliser (2 · C · block floats) stay in L2 for C up to a few hundred.
    public static let pixelBlock = 256

    /// `beta` (stored) `[C]`.
    public var betaParameter: Tensor { parameters[0] }
    /// `gamma` (stored) `[C, C]`.
    public var gammaParameter: Tensor { parameters[1] }

    /// β = 1 and γ = 0.1 · I, stored as CompressAI's `NonNegativeParametrizer.init` does:
    /// p = sqrt(max(value + pedestal, pedestal)) in float32.
    public init(name: String = "gdn", channels: Int, inverse: Bool = false) {
        precondition(channels > 0, "GDN \(name): channels \(channels) must be positive (LayerSpec.validate reports this as an error)")
        self.name = name
        self.channels = channels
        self.inverse = inverse
        func stored(_ v: Float) -> Float { max(v + Self.pedestal, Self.pedestal).squareRoot() }
        var gamma = [Float](repeating: stored(0), count: channels * channels)
        for i in 0..<channels { gamma[i * channels + i] = stored(Self.gammaInit) }
        parameters = [
            Tensor(shape: [channels], repeating: stored(1)),
            Tensor(shape: [channels, channels], scalars: gamma),
        ]
    }

    /// The reparametrisation's forward map: max(p, bound)² − pedestal (float32, as CompressAI).
    @inline(__always)
    public static func value(stored p: Float, bound: Float) -> Float {
        let m = max(p, bound)
        return m * m - pedestal
    }

    /// Writes the effective β `[C]` then γ `[C, C]` (row-major) into `out` (C + C² floats).
    public func effectiveParameters(into out: MutableFloatPointer) {
        let c = channels
        betaParameter.scalars.withUnsafeBufferPointer { b in
            for i in 0..<c { out[i] = Self.value(stored: b[i], bound: Self.betaBound) }
        }
        gammaParameter.scalars.withUnsafeBufferPointer { g in
            for i in 0..<(c * c) { out[c + i] = Self.value(stored: g[i], bound: Self.gammaBound) }
        }
    }

    /// For one block of one sample: `squares[c, q] = x[c, q]²` and `norm[c, q] = β_c + Σ_j γ_cj x[j, q]²`,
    /// where `x[c, q]` is `x[c * pixelStride + q]` and both outputs are `[C, count]` row-major. `effective` is
    /// what `effectiveParameters(into:)` wrote. Shared by the forward and backward passes.
    public func normaliser(x: FloatPointer, pixelStride: Int, count: Int, effective: FloatPointer,
                           squares: MutableFloatPointer, norm: MutableFloatPointer) {
        let c = channels
        for ch in 0..<c {
            let src = x + ch * pixelStride, dst = squares + ch * count
            for q in 0..<count { dst[q] = src[q] * src[q] }
        }
        gemmNN(m: c, n: count, k: c, a: effective + c, aRowStride: c, aColStride: 1,
               b: squares, ldb: count, c: norm, ldc: count, accumulate: false)
        for ch in 0..<c {
            let beta = effective[ch], row = norm + ch * count
            for q in 0..<count { row[q] += beta }
        }
    }

    public func outputShape(forInput shape: [Int]) throws(ShapeMismatch) -> [Int] {
        guard shape.count == 3, shape[0] == channels else {
            throw ShapeMismatch(layer: label, expected: "[N, \(channels), H, W]", found: shape)
        }
        return shape
    }

    public func forward(_ input: Tensor) throws(ShapeMismatch) -> Tensor {
        try forwardAllocating(input)
    }

    public func forward(_ input: Tensor, into output: inout Tensor, workspace: Workspace) throws(ShapeMismatch) {
        guard input.rank == 4 else {
            throw ShapeMismatch(layer: label, expected: "[N, \(channels), H, W]", found: input.shape)
        }
        let shape = try checkedOutputShape(input)
        let n = input.shape[0], c = channels, pixels = input.shape[2] * input.shape[3]
        let block = min(Self.pixelBlock, max(pixels, 1))
        let effective = workspace.scratch(2, count: c + c * c)
        let squares = workspace.scratch(0, count: c * block)
        let norm = workspace.scratch(1, count: c * block)
        output.prepare(shape: shape, workspace: workspace)
        guard n > 0, pixels > 0 else { return }
        effectiveParameters(into: effective)
        let inverse = inverse
        input.scalars.withUnsafeBufferPointer { xb in
        output.scalars.withUnsafeMutableBufferPointer { yb in
            for s in 0..<n {
                for first in stride(from: 0, to: pixels, by: block) {
                    let count = min(block, pixels - first)
                    let offset = s * c * pixels + first
                    normaliser(x: xb.baseAddress! + offset, pixelStride: pixels, count: count,
                               effective: effective, squares: squares, norm: norm)
                    for ch in 0..<c {
                        let x = xb.baseAddress! + offset + ch * pixels, y = yb.baseAddress! + offset + ch * pixels
                        let nr = norm + ch * count
                        if inverse {
                            for q in 0..<count { y[q] = x[q] * nr[q].squareRoot() }
                        } else {
                            for q in 0..<count { y[q] = x[q] / nr[q].squareRoot() }
                        }
                    }
                }
            }
        } }
    }
}
