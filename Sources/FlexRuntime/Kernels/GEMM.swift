// Single-precision matrix products for the layers' im2col formulation.
//
// Two kernels cover every product the layers need:
// - `gemmNN`: C[M×N] (+)= A·B with B row-contiguous (vectorised along N; A read with arbitrary strides, so
//   it also serves Aᵀ·B);
// - `gemmNT`: C[M×N] (+)= A·Bᵀ with A and B row-contiguous along K (vectorised dot products along K).
// Callers pick the orientation that puts the long dimension where the kernel vectorises.
//
// The loops are C (Sources/CFlexKernels/kernels_body.h, `gemm_nn` and `gemm_nt`), compiled for AVX2 + FMA and
// portably and chosen at start-up; these functions are their Swift API.

import CFlexKernels

public typealias FloatPointer = UnsafePointer<Float>
public typealias MutableFloatPointer = UnsafeMutablePointer<Float>

/// C[i, j] = (accumulate ? C[i, j] : 0) + Σ_k A(i, k) · B[k, j]
///
/// - A(i, k) is `a[i * aRowStride + k * aColStride]` (pass strides `(1, lda)` for a transposed A).
/// - B is row-major `[K, N]` with row stride `ldb`; C is row-major `[M, N]` with row stride `ldc`.
public func gemmNN(m: Int, n: Int, k: Int,
                   a: FloatPointer, aRowStride: Int, aColStride: Int,
                   b: FloatPointer, ldb: Int,
                   c: MutableFloatPointer, ldc: Int, accumulate: Bool) {
    flexk_gemm_nn(m, n, k, a, aRowStride, aColStride, b, ldb, c, ldc, accumulate ? 1 : 0)
}

/// C[i, j] = (accumulate ? C[i, j] : 0) + Σ_k A[i, k] · B[j, k]   (A: `[M, K]`, B: `[N, K]`, both row-major)
public func gemmNT(m: Int, n: Int, k: Int,
                   a: FloatPointer, lda: Int,
                   b: FloatPointer, ldb: Int,
                   c: MutableFloatPointer, ldc: Int, accumulate: Bool) {
    flexk_gemm_nt(m, n, k, a, lda, b, ldb, c, ldc, accumulate ? 1 : 0)
}
