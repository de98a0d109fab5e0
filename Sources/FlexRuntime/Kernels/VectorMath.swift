// Vectorised elementary functions on SIMD8<Float> for the activation kernels (and anyone else who needs
// exp/sigmoid/tanh on eight lanes at once, e.g. LSTM gates).
//
// exp: Cody–Waite range reduction x = n·ln2 + r, |r| ≤ ln2/2, then e^r = 1 + r + r²·P(r) with the Cephes
// `expf` minimax polynomial (degree 5), then scaling by 2^n through the exponent bits. The same reduction
// gives expm1 without cancellation near 0: expm1(x) = 2^n·(e^r − 1) + (2^n − 1), where e^r − 1 = r + r²·P(r)
// is computed directly. Inputs are clamped to [-87.3, 88.3] so that 2^n stays a normal float: below the
// clamp exp returns e^-87.3 ≈ 1.2e-38 (instead of a subnormal or 0) and above it e^88.3 ≈ 2.2e38 (instead
// of +inf). Measured accuracy (ActivationKernelTests.vectorExpAccuracy in Tests/FlexRuntimeTests/ActivationTests.swift, against Foundation's
// double-precision exp): max relative error 8.2e-8 (under 1 ulp) on [-87, 88]; expm1's max absolute error
// 1.04e-7 on [-87, 1] and max relative error 1.12e-7 for |x| ≥ 1e-3. sigmoid: max absolute error 8.8e-8,
// tanh 1.5e-7 on [-20, 20]. The tests assert 1.5e-7 (exp, expm1, sigmoid) and 2.5e-7 (tanh).
// NaN inputs are not propagated faithfully (min/max clamping), which the activation kernels never feed.

public enum VectorMath {
    public typealias V = SIMD8<Float>

    @usableFromInline static let log2e: Float = 1.442_695_040_888_963_4
    @usableFromInline static let ln2hi: Float = 0.693_359_375
    @usableFromInline static let ln2lo: Float = -2.121_944_400_546_905_827_679e-4
    @usableFromInline static let lowerClamp: Float = -87.3
    @usableFromInline static let upperClamp: Float = 88.3
    @usableFromInline static let roundingMagic: Float = 12_582_912  // 1.5·2^23

    // Lane-wise min/max/clamp through compares and blends (the generic `pointwiseMin`/`clamped` of the
    // standard library are not inlined into vector code).
    @inlinable @inline(__always)
    public static func min(_ a: V, _ b: V) -> V { a.replacing(with: b, where: b .< a) }
    @inlinable @inline(__always)
    public static func max(_ a: V, _ b: V) -> V { a.replacing(with: b, where: b .> a) }
    @inlinable @inline(__always)
    public static func clamp(_ x: V, _ lo: Float, _ hi: Float) -> V {
        let l = x.replacing(with: lo, where: x .< lo)
        return l.replacing(with: hi, where: l .> hi)
    }

    /// 2^n and e^x − 1 scaled down by 2^n: returns `(scale, pm1)` with e^x = scale·(1 + pm1).
    @inlinable @inline(__always)
    public static func expParts(_ x: V) -> (scale: V, pm1: V) {
        let xc = clamp(x, lowerClamp, upperClamp)
        // Round x·log2e to the nearest integer with the 1.5·2^23 trick: the integer lands in the low
        // mantissa bits of t, so 2^n's exponent bits come from t's bit pattern (no float→int conversion).
        let t = V(repeating: roundingMagic).addingProduct(xc, V(repeating: log2e))
        let n = t - roundingMagic
        var r = xc.addingProduct(n, V(repeating: -ln2hi))
        r = r.addingProduct(n, V(repeating: -ln2lo))
        var p = V(repeating: 1.398_199_950_7e-3).addingProduct(V(repeating: 1.987_569_150_0e-4), r)
        p = V(repeating: 8.333_451_907_3e-3).addingProduct(p, r)
        p = V(repeating: 4.166_579_589_4e-2).addingProduct(p, r)
        p = V(repeating: 1.666_666_545_9e-1).addingProduct(p, r)
        p = V(repeating: 5.000_000_120_1e-1).addingProduct(p, r)
        let pm1 = r.addingProduct(r * r, p)
        let bits = (unsafeBitCast(t, to: SIMD8<Int32>.self) &- 0x4B40_0000 &+ 127) &<< 23
        let scale = unsafeBitCast(bits, to: V.self)
        return (scale, pm1)
    }

    /// e^x on eight lanes (see the file header for accuracy and clamping).
    @inlinable @inline(__always)
    public static func exp(_ x: V) -> V {
        let (s, pm1) = expParts(x)
        return s.addingProduct(s, pm1)
    }

    /// e^x − 1 on eight lanes, accurate near 0.
    @inlinable @inline(__always)
    public static func expm1(_ x: V) -> V {
        let (s, pm1) = expParts(x)
        return (s - 1).addingProduct(s, pm1)
    }

    /// (e^x, e^x − 1) from one range reduction.
    @inlinable @inline(__always)
    public static func expAndExpm1(_ x: V) -> (exp: V, expm1: V) {
        let (s, pm1) = expParts(x)
        let sp = s * pm1
        return (s + sp, (s - 1) + sp)
    }

    /// |x| by clearing the sign bits.
    @inlinable @inline(__always)
    public static func abs(_ x: V) -> V {
        unsafeBitCast(unsafeBitCast(x, to: SIMD8<UInt32>.self) & 0x7FFF_FFFF, to: V.self)
    }

    /// The logistic function 1/(1 + e^−x), computed from e^−|x| so neither tail overflows.
    @inlinable @inline(__always)
    public static func sigmoid(_ x: V) -> V {
        let e = exp(-abs(x))
        let d = 1 / (1 + e)
        return d.replacing(with: e * d, where: x .< 0)
    }

    /// tanh x = −expm1(−2|x|) / (2 + expm1(−2|x|)) with the sign of x; accurate near 0.
    @inlinable @inline(__always)
    public static func tanh(_ x: V) -> V {
        let m = expm1(-2 * abs(x))
        let t = -m / (2 + m)
        return t.replacing(with: -t, where: x .< 0)
    }
}
