// Single-precision matrix products for the layers' im2col formulation.
//
// Two kernels cover every product the layers need:
// - `gemmNN`: C[M×N] (+)= A·B with B row-contiguous (vectorised along N; A read with arbitrary strides, so
//   it also serves Aᵀ·B);
// - `gemmNT`: C[M×N] (+)= A·Bᵀ with A and B row-contiguous along K (vectorised dot products along K).
// Callers pick the orientation that puts the long dimension where the kernel vectorises.

public typealias FloatPointer = UnsafePointer<Float>
public typealias MutableFloatPointer = UnsafeMutablePointer<Float>

@inline(__always) @usableFromInline
func load8(_ p: FloatPointer) -> SIMD8<Float> {
    UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self)
}

@inline(__always) @usableFromInline
func store8(_ v: SIMD8<Float>, _ p: MutableFloatPointer) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD8<Float>.self)
}

/// C[i, j] = (accumulate ? C[i, j] : 0) + Σ_k A(i, k) · B[k, j]
///
/// - A(i, k) is `a[i * aRowStride + k * aColStride]` (pass strides `(1, lda)` for a transposed A).
/// - B is row-major `[K, N]` with row stride `ldb`; C is row-major `[M, N]` with row stride `ldc`.
public func gemmNN(m: Int, n: Int, k: Int,
                   a: FloatPointer, aRowStride: Int, aColStride: Int,
                   b: FloatPointer, ldb: Int,
                   c: MutableFloatPointer, ldc: Int, accumulate: Bool) {
    var i = 0
    while i + 4 <= m {
        let a0 = a + i * aRowStride, a1 = a0 + aRowStride, a2 = a1 + aRowStride, a3 = a2 + aRowStride
        var j = 0
        while j + 16 <= n {
            var c00 = SIMD8<Float>(), c01 = SIMD8<Float>(), c10 = SIMD8<Float>(), c11 = SIMD8<Float>()
            var c20 = SIMD8<Float>(), c21 = SIMD8<Float>(), c30 = SIMD8<Float>(), c31 = SIMD8<Float>()
            var bp = b + j
            var ko = 0
            for _ in 0..<k {
                let b0 = load8(bp), b1 = load8(bp + 8)
                let x0 = SIMD8<Float>(repeating: a0[ko]), x1 = SIMD8<Float>(repeating: a1[ko])
                let x2 = SIMD8<Float>(repeating: a2[ko]), x3 = SIMD8<Float>(repeating: a3[ko])
                c00 = c00.addingProduct(x0, b0); c01 = c01.addingProduct(x0, b1)
                c10 = c10.addingProduct(x1, b0); c11 = c11.addingProduct(x1, b1)
                c20 = c20.addingProduct(x2, b0); c21 = c21.addingProduct(x2, b1)
                c30 = c30.addingProduct(x3, b0); c31 = c31.addingProduct(x3, b1)
                bp += ldb
                ko += aColStride
            }
            let cp = c + i * ldc + j
            if accumulate {
                store8(load8(cp) + c00, cp); store8(load8(cp + 8) + c01, cp + 8)
                store8(load8(cp + ldc) + c10, cp + ldc); store8(load8(cp + ldc + 8) + c11, cp + ldc + 8)
                store8(load8(cp + 2 * ldc) + c20, cp + 2 * ldc); store8(load8(cp + 2 * ldc + 8) + c21, cp + 2 * ldc + 8)
                store8(load8(cp + 3 * ldc) + c30, cp + 3 * ldc); store8(load8(cp + 3 * ldc + 8) + c31, cp + 3 * ldc + 8)
            } else {
                store8(c00, cp); store8(c01, cp + 8)
                store8(c10, cp + ldc); store8(c11, cp + ldc + 8)
                store8(c20, cp + 2 * ldc); store8(c21, cp + 2 * ldc + 8)
                store8(c30, cp + 3 * ldc); store8(c31, cp + 3 * ldc + 8)
            }
            j += 16
        }
        while j + 8 <= n {
            var c0 = SIMD8<Float>(), c1 = SIMD8<Float>(), c2 = SIMD8<Float>(), c3 = SIMD8<Float>()
            var bp = b + j
            var ko = 0
            for _ in 0..<k {
                let b0 = load8(bp)
                c0 = c0.addingProduct(SIMD8(repeating: a0[ko]), b0)
                c1 = c1.addingProduct(SIMD8(repeating: a1[ko]), b0)
                c2 = c2.addingProduct(SIMD8(repeating: a2[ko]), b0)
                c3 = c3.addingProduct(SIMD8(repeating: a3[ko]), b0)
                bp += ldb
                ko += aColStride
            }
            let cp = c + i * ldc + j
            if accumulate {
                store8(load8(cp) + c0, cp); store8(load8(cp + ldc) + c1, cp + ldc)
                store8(load8(cp + 2 * ldc) + c2, cp + 2 * ldc); store8(load8(cp + 3 * ldc) + c3, cp + 3 * ldc)
            } else {
                store8(c0, cp); store8(c1, cp + ldc); store8(c2, cp + 2 * ldc); store8(c3, cp + 3 * ldc)
            }
            j += 8
        }
        if j < n {
            // Fewer than 8 columns left: the same 4-row kernel on a partially filled vector.
            let rem = n - j
            var c0 = SIMD8<Float>(), c1 = SIMD8<Float>(), c2 = SIMD8<Float>(), c3 = SIMD8<Float>()
            var bp = b + j
            var ko = 0
            for _ in 0..<k {
                var b0 = SIMD8<Float>()
                for q in 0..<rem { b0[q] = bp[q] }
                c0 = c0.addingProduct(SIMD8(repeating: a0[ko]), b0)
                c1 = c1.addingProduct(SIMD8(repeating: a1[ko]), b0)
                c2 = c2.addingProduct(SIMD8(repeating: a2[ko]), b0)
                c3 = c3.addingProduct(SIMD8(repeating: a3[ko]), b0)
                bp += ldb
                ko += aColStride
            }
            let cp = c + i * ldc + j
            for q in 0..<rem {
                if accumulate {
                    cp[q] += c0[q]; cp[ldc + q] += c1[q]; cp[2 * ldc + q] += c2[q]; cp[3 * ldc + q] += c3[q]
                } else {
                    cp[q] = c0[q]; cp[ldc + q] = c1[q]; cp[2 * ldc + q] = c2[q]; cp[3 * ldc + q] = c3[q]
                }
            }
        }
        i += 4
    }
    // Remaining rows, one at a time.
    while i < m {
        let ar = a + i * aRowStride
        var j = 0
        while j + 8 <= n {
            var c0 = SIMD8<Float>()
            var bp = b + j
            for kk in 0..<k {
                c0 = c0.addingProduct(SIMD8(repeating: ar[kk * aColStride]), load8(bp))
                bp += ldb
            }
            let cp = c + i * ldc + j
            store8(accumulate ? load8(cp) + c0 : c0, cp)
            j += 8
        }
        while j < n {
            var s: Float = 0
            for kk in 0..<k { s = s.addingProduct(ar[kk * aColStride], b[kk * ldb + j]) }
            let cp = c + i * ldc + j
            cp.pointee = accumulate ? cp.pointee + s : s
            j += 1
        }
        i += 1
    }
}

/// C[i, j] = (accumulate ? C[i, j] : 0) + Σ_k A[i, k] · B[j, k]   (A: `[M, K]`, B: `[N, K]`, both row-major)
public func gemmNT(m: Int, n: Int, k: Int,
                   a: FloatPointer, lda: Int,
                   b: FloatPointer, ldb: Int,
                   c: MutableFloatPointer, ldc: Int, accumulate: Bool) {
    let k8 = k & ~7
    @inline(__always) func tail(_ ar: FloatPointer, _ br: FloatPointer) -> Float {
        var s: Float = 0
        var kk = k8
        while kk < k { s = s.addingProduct(ar[kk], br[kk]); kk += 1 }
        return s
    }
    @inline(__always) func put(_ i: Int, _ j: Int, _ v: Float) {
        let cp = c + i * ldc + j
        cp.pointee = accumulate ? cp.pointee + v : v
    }
    var i = 0
    while i < m {
        let rows = min(2, m - i)
        let a0 = a + i * lda, a1 = a0 + (rows == 2 ? lda : 0)
        var j = 0
        while j < n {
            let cols = min(4, n - j)
            let b0 = b + j * ldb
            let b1 = b0 + (cols > 1 ? ldb : 0), b2 = b0 + (cols > 2 ? 2 * ldb : 0), b3 = b0 + (cols > 3 ? 3 * ldb : 0)
            var s00 = SIMD8<Float>(), s01 = SIMD8<Float>(), s02 = SIMD8<Float>(), s03 = SIMD8<Float>()
            var s10 = SIMD8<Float>(), s11 = SIMD8<Float>(), s12 = SIMD8<Float>(), s13 = SIMD8<Float>()
            var kk = 0
            while kk < k8 {
                let x0 = load8(a0 + kk), x1 = load8(a1 + kk)
                let y0 = load8(b0 + kk), y1 = load8(b1 + kk), y2 = load8(b2 + kk), y3 = load8(b3 + kk)
                s00 = s00.addingProduct(x0, y0); s01 = s01.addingProduct(x0, y1)
                s02 = s02.addingProduct(x0, y2); s03 = s03.addingProduct(x0, y3)
                s10 = s10.addingProduct(x1, y0); s11 = s11.addingProduct(x1, y1)
                s12 = s12.addingProduct(x1, y2); s13 = s13.addingProduct(x1, y3)
                kk += 8
            }
            let r0 = SIMD4<Float>(s00.sum() + tail(a0, b0), s01.sum() + tail(a0, b1), s02.sum() + tail(a0, b2), s03.sum() + tail(a0, b3))
            for q in 0..<cols { put(i, j + q, r0[q]) }
            if rows == 2 {
                let r1 = SIMD4<Float>(s10.sum() + tail(a1, b0), s11.sum() + tail(a1, b1), s12.sum() + tail(a1, b2), s13.sum() + tail(a1, b3))
                for q in 0..<cols { put(i + 1, j + q, r1[q]) }
            }
            j += 4
        }
        i += 2
    }
}
