// The kernels' one definition, included once per compiled variant (kernels_avx2.c, kernels_portable.c) with
// FLEXK_VARIANT (the name suffix) and FLEXK_FUSED (whether multiply-adds are fused) defined. Each kernel is a
// line-by-line translation of the Swift SIMD8<Float> code it replaced (git history: Sources/FlexRuntime/
// Kernels/GEMM.swift, VectorMath.swift, Activations/ActivationKernels.swift, FlexTraining/Adam.swift,
// Loss.swift): Swift's `c.addingProduct(a, b)` is MADD(a, b, c) here.
//
// Not a header of its own: no include guard on purpose.

// Only the explicit MADDs fuse: `a * b + c` written out stays two roundings, as in Swift (which never
// contracts), so both variants compute the same expressions and differ only where MADD fuses.
#pragma STDC FP_CONTRACT OFF

typedef float v8f __attribute__((vector_size(32)));
typedef int v8i __attribute__((vector_size(32)));
typedef unsigned v8u __attribute__((vector_size(32)));
typedef double v8d __attribute__((vector_size(64)));

#define INLINE static inline __attribute__((always_inline))

#if FLEXK_FUSED
#define MADD(a, b, c) __builtin_elementwise_fma((a), (b), (c))
#define SMADD(a, b, c) __builtin_fmaf((a), (b), (c))
#else
#define MADD(a, b, c) ((a) * (b) + (c))
#define SMADD(a, b, c) ((a) * (b) + (c))
#endif

INLINE v8f splat(float x) { return (v8f){x, x, x, x, x, x, x, x}; }
INLINE v8f zero8(void) { return splat(0); }
INLINE v8f ld8(const float *p) { v8f v; memcpy(&v, p, sizeof v); return v; }
INLINE void st8(float *p, v8f v) { memcpy(p, &v, sizeof v); }
/// Swift's `a.replacing(with: b, where: mask)`: b in the lanes where mask is set, a elsewhere.
INLINE v8f repl(v8f a, v8f b, v8i mask) { return (v8f)(((v8i)b & mask) | ((v8i)a & ~mask)); }
/// The 8 lanes' sum in lane order from −0, exactly as Swift's `SIMD.sum()` (so results, and the fingerprints of
/// models trained with them, are bit for bit those of the Swift kernels this replaced).
INLINE float sum8(v8f v) {
    float s = -0.0f;
    for (int l = 0; l < 8; l++) s += v[l];
    return s;
}
/// The first n (< 8) elements of p, zeros after.
INLINE v8f ld_partial(const float *p, long n) {
    v8f v = zero8();
    for (long l = 0; l < n; l++) v[l] = p[l];
    return v;
}
INLINE void st_partial(float *p, v8f v, long n) {
    for (long l = 0; l < n; l++) p[l] = v[l];
}

// MARK: Matrix products (GEMM.swift)
//
// Two kernels cover every product the layers need (their im2col formulation):
// - gemm_nn: C[M×N] (+)= A·B with B row-contiguous (vectorised along N; A read with arbitrary strides, so it
//   also serves Aᵀ·B): register tiles of 4 rows × 16 columns;
// - gemm_nt: C[M×N] (+)= A·Bᵀ with A and B row-contiguous along K (vectorised dot products along K): tiles of
//   2 rows × 4 columns of 8-lane partial sums.

INLINE void put8(float *p, v8f v, int accumulate) { st8(p, accumulate ? ld8(p) + v : v); }

INLINE void gemm_nn_body(long m, long n, long k, const float *a, long ars, long acs, const float *b, long ldb,
                         float *c, long ldc, int accumulate) {
    long i = 0;
    for (; i + 4 <= m; i += 4) {
        const float *a0 = a + i * ars, *a1 = a0 + ars, *a2 = a1 + ars, *a3 = a2 + ars;
        long j = 0;
        for (; j + 16 <= n; j += 16) {
            v8f c00 = zero8(), c01 = zero8(), c10 = zero8(), c11 = zero8();
            v8f c20 = zero8(), c21 = zero8(), c30 = zero8(), c31 = zero8();
            const float *bp = b + j;
            long ko = 0;
            for (long kk = 0; kk < k; kk++) {
                v8f b0 = ld8(bp), b1 = ld8(bp + 8);
                v8f x0 = splat(a0[ko]), x1 = splat(a1[ko]), x2 = splat(a2[ko]), x3 = splat(a3[ko]);
                c00 = MADD(x0, b0, c00); c01 = MADD(x0, b1, c01);
                c10 = MADD(x1, b0, c10); c11 = MADD(x1, b1, c11);
                c20 = MADD(x2, b0, c20); c21 = MADD(x2, b1, c21);
                c30 = MADD(x3, b0, c30); c31 = MADD(x3, b1, c31);
                bp += ldb;
                ko += acs;
            }
            float *cp = c + i * ldc + j;
            put8(cp, c00, accumulate); put8(cp + 8, c01, accumulate);
            put8(cp + ldc, c10, accumulate); put8(cp + ldc + 8, c11, accumulate);
            put8(cp + 2 * ldc, c20, accumulate); put8(cp + 2 * ldc + 8, c21, accumulate);
            put8(cp + 3 * ldc, c30, accumulate); put8(cp + 3 * ldc + 8, c31, accumulate);
        }
        for (; j + 8 <= n; j += 8) {
            v8f c0 = zero8(), c1 = zero8(), c2 = zero8(), c3 = zero8();
            const float *bp = b + j;
            long ko = 0;
            for (long kk = 0; kk < k; kk++) {
                v8f b0 = ld8(bp);
                c0 = MADD(splat(a0[ko]), b0, c0);
                c1 = MADD(splat(a1[ko]), b0, c1);
                c2 = MADD(splat(a2[ko]), b0, c2);
                c3 = MADD(splat(a3[ko]), b0, c3);
                bp += ldb;
                ko += acs;
            }
            float *cp = c + i * ldc + j;
            put8(cp, c0, accumulate); put8(cp + ldc, c1, accumulate);
            put8(cp + 2 * ldc, c2, accumulate); put8(cp + 3 * ldc, c3, accumulate);
        }
        if (j < n) {
            // Fewer than 8 columns left: the same 4-row kernel on a partially filled vector.
            long rem = n - j;
            v8f c0 = zero8(), c1 = zero8(), c2 = zero8(), c3 = zero8();
            const float *bp = b + j;
            long ko = 0;
            for (long kk = 0; kk < k; kk++) {
                v8f b0 = ld_partial(bp, rem);
                c0 = MADD(splat(a0[ko]), b0, c0);
                c1 = MADD(splat(a1[ko]), b0, c1);
                c2 = MADD(splat(a2[ko]), b0, c2);
                c3 = MADD(splat(a3[ko]), b0, c3);
                bp += ldb;
                ko += acs;
            }
            float *cp = c + i * ldc + j;
            for (long q = 0; q < rem; q++) {
                if (accumulate) {
                    cp[q] += c0[q]; cp[ldc + q] += c1[q]; cp[2 * ldc + q] += c2[q]; cp[3 * ldc + q] += c3[q];
                } else {
                    cp[q] = c0[q]; cp[ldc + q] = c1[q]; cp[2 * ldc + q] = c2[q]; cp[3 * ldc + q] = c3[q];
                }
            }
        }
    }
    // Remaining rows, one at a time.
    for (; i < m; i++) {
        const float *ar = a + i * ars;
        long j = 0;
        for (; j + 8 <= n; j += 8) {
            v8f c0 = zero8();
            const float *bp = b + j;
            for (long kk = 0; kk < k; kk++) {
                c0 = MADD(splat(ar[kk * acs]), ld8(bp), c0);
                bp += ldb;
            }
            put8(c + i * ldc + j, c0, accumulate);
        }
        for (; j < n; j++) {
            float s = 0;
            for (long kk = 0; kk < k; kk++) s = SMADD(ar[kk * acs], b[kk * ldb + j], s);
            float *cp = c + i * ldc + j;
            *cp = accumulate ? *cp + s : s;
        }
    }
}

/// gemm_nn_body on a packed panel of B: `nc` (a multiple of 16) columns stored as nc/16 strips of [k][16]
/// contiguous floats, so the 4×16 tile reads B sequentially from cache instead of one cache line per row of a
/// matrix whose rows are often a multiple of 4 KiB apart (which also maps them onto few cache sets). Each
/// element of C is the same chain of multiply-adds over k from 0, in the same order, as in gemm_nn_body (the
/// 4-row tiles and the one-row remainder alike), so the results are bit for bit those of the unpacked loop.
INLINE void gemm_nn_packed_body(long m, long nc, long k, const float *a, long ars, long acs, const float *pb,
                                float *c, long ldc, int accumulate) {
    const long strips = nc / 16;
    long i = 0;
    for (; i + 4 <= m; i += 4) {
        const float *a0 = a + i * ars, *a1 = a0 + ars, *a2 = a1 + ars, *a3 = a2 + ars;
        for (long s = 0; s < strips; s++) {
            v8f c00 = zero8(), c01 = zero8(), c10 = zero8(), c11 = zero8();
            v8f c20 = zero8(), c21 = zero8(), c30 = zero8(), c31 = zero8();
            const float *bp = pb + s * k * 16;
            long ko = 0;
            for (long kk = 0; kk < k; kk++) {
                v8f b0 = ld8(bp), b1 = ld8(bp + 8);
                v8f x0 = splat(a0[ko]), x1 = splat(a1[ko]), x2 = splat(a2[ko]), x3 = splat(a3[ko]);
                c00 = MADD(x0, b0, c00); c01 = MADD(x0, b1, c01);
                c10 = MADD(x1, b0, c10); c11 = MADD(x1, b1, c11);
                c20 = MADD(x2, b0, c20); c21 = MADD(x2, b1, c21);
                c30 = MADD(x3, b0, c30); c31 = MADD(x3, b1, c31);
                bp += 16;
                ko += acs;
            }
            float *cp = c + i * ldc + s * 16;
            put8(cp, c00, accumulate); put8(cp + 8, c01, accumulate);
            put8(cp + ldc, c10, accumulate); put8(cp + ldc + 8, c11, accumulate);
            put8(cp + 2 * ldc, c20, accumulate); put8(cp + 2 * ldc + 8, c21, accumulate);
            put8(cp + 3 * ldc, c30, accumulate); put8(cp + 3 * ldc + 8, c31, accumulate);
        }
    }
    for (; i < m; i++) {
        const float *ar = a + i * ars;
        for (long s = 0; s < strips; s++) {
            v8f c0 = zero8(), c1 = zero8();
            const float *bp = pb + s * k * 16;
            for (long kk = 0; kk < k; kk++) {
                v8f x = splat(ar[kk * acs]);
                c0 = MADD(x, ld8(bp), c0);
                c1 = MADD(x, ld8(bp + 8), c1);
                bp += 16;
            }
            put8(c + i * ldc + s * 16, c0, accumulate);
            put8(c + i * ldc + s * 16 + 8, c1, accumulate);
        }
    }
}

/// The packed panel's size in floats (256 KiB: a quarter of a 1 MiB L2, leaving room for A's rows and C).
#define GEMM_NN_PANEL_FLOATS 65536L
/// B smaller than this (floats) stays in cache across the row tiles: no packing.
#define GEMM_NN_PACK_MIN_FLOATS 32768L

INLINE void gemm_nn_dispatch(long m, long n, long k, const float *a, long ars, long acs, const float *b, long ldb,
                             float *c, long ldc, int accumulate) {
    if (acs == 1) {
        if (accumulate) gemm_nn_body(m, n, k, a, ars, 1, b, ldb, c, ldc, 1);
        else gemm_nn_body(m, n, k, a, ars, 1, b, ldb, c, ldc, 0);
    } else {
        if (accumulate) gemm_nn_body(m, n, k, a, ars, acs, b, ldb, c, ldc, 1);
        else gemm_nn_body(m, n, k, a, ars, acs, b, ldb, c, ldc, 0);
    }
}

/// gemm_nn_body instantiated for the common cases — A row-contiguous (`acs` 1: convolutions, dense layers,
/// LSTM) and overwrite vs accumulate — so those loops are compiled with the constants folded in (what the
/// Swift version got from inlining into its callers).
///
/// A large B (the convolutions' column matrices: K = C·k·k up to thousands of rows, N = the pixels of a
/// chunk) would be streamed from memory once per 4-row tile of A; instead its columns are taken in panels of
/// GEMM_NN_PANEL_FLOATS floats, each packed once and then used by every row of A while it is in cache (the
/// outer loop of Goto's GEMM, without blocking K, which would change the order of the sums). The last n mod
/// 16 columns run the unpacked loop. If the panel cannot be allocated the unpacked loop does everything.
static void FLEXK_VARIANT(gemm_nn)(long m, long n, long k, const float *a, long ars, long acs,
                                   const float *b, long ldb, float *c, long ldc, int accumulate) {
    const long n16 = n & ~15L;
    float *pack = NULL;
    long nc = 0;
    // Packing pays when many row tiles reuse each strip and a strip's k rows are many cache lines: not for the
    // CAEs' products (K = 8…144 with 8–16 rows of A, where the copy cost more than it saved, cae2-train).
    if (m >= 16 && k >= 32 && n16 >= 32 && k * 16 <= GEMM_NN_PANEL_FLOATS && k * n >= GEMM_NN_PACK_MIN_FLOATS) {
        nc = (GEMM_NN_PANEL_FLOATS / k) & ~15L;
        if (nc > n16) nc = n16;
        pack = malloc((size_t)(nc * k) * sizeof(float));
    }
    if (!pack) {
        gemm_nn_dispatch(m, n, k, a, ars, acs, b, ldb, c, ldc, accumulate);
        return;
    }
    for (long j0 = 0; j0 < n16; j0 += nc) {
        const long w = n16 - j0 < nc ? n16 - j0 : nc;
        for (long kk = 0; kk < k; kk++) {
            const float *src = b + kk * ldb + j0;
            for (long s = 0; s < w / 16; s++) memcpy(pack + (s * k + kk) * 16, src + s * 16, 16 * sizeof(float));
        }
        if (acs == 1) {
            if (accumulate) gemm_nn_packed_body(m, w, k, a, ars, 1, pack, c + j0, ldc, 1);
            else gemm_nn_packed_body(m, w, k, a, ars, 1, pack, c + j0, ldc, 0);
        } else {
            if (accumulate) gemm_nn_packed_body(m, w, k, a, ars, acs, pack, c + j0, ldc, 1);
            else gemm_nn_packed_body(m, w, k, a, ars, acs, pack, c + j0, ldc, 0);
        }
    }
    free(pack);
    if (n16 < n) gemm_nn_dispatch(m, n - n16, k, a, ars, acs, b + n16, ldb, c + n16, ldc, accumulate);
}

/// gemm_nt's block of B in floats (256 KiB).
#define GEMM_NT_BLOCK_FLOATS 65536L

static void FLEXK_VARIANT(gemm_nt)(long m, long n, long k, const float *a, long lda, const float *b, long ldb,
                                   float *c, long ldc, int accumulate) {
    const long k8 = k & ~7L;
#define TAIL(ar, br) ({ float s_ = 0; for (long kk_ = k8; kk_ < k; kk_++) s_ = SMADD((ar)[kk_], (br)[kk_], s_); s_; })
#define PUT(ii, jj, v) do { float *cp_ = c + (ii) * ldc + (jj); *cp_ = accumulate ? *cp_ + (v) : (v); } while (0)
    // Blocks of B's rows (≈ GEMM_NT_BLOCK_FLOATS floats, a multiple of 4 rows) stay in cache while every pair of
    // A's rows passes over them; without the blocking all of B (e.g. a convolution's C·k·k × pixels column
    // matrix, megabytes) is streamed from memory once per pair. Each element's computation is unchanged.
    // With long rows (K of thousands: the CAEs' weight gradients over a whole batch chunk) a block would hold
    // fewer than 16 rows and the pairs of A, themselves no longer cache-resident, would be re-read per block:
    // no blocking there (cae2-train was 5% slower with it).
    long jb = (GEMM_NT_BLOCK_FLOATS / (k > 0 ? k : 1)) & ~3L;
    if (jb < 16) jb = n > 0 ? n : 1;
    for (long j0 = 0; j0 < n; j0 += jb) {
    const long jend = n - j0 < jb ? n : j0 + jb;
    for (long i = 0; i < m; i += 2) {
        const long rows = m - i < 2 ? m - i : 2;
        const float *a0 = a + i * lda, *a1 = a0 + (rows == 2 ? lda : 0);
        for (long j = j0; j < jend; j += 4) {
            const long cols = n - j < 4 ? n - j : 4;
            const float *b0 = b + j * ldb;
            const float *b1 = b0 + (cols > 1 ? ldb : 0), *b2 = b0 + (cols > 2 ? 2 * ldb : 0),
                        *b3 = b0 + (cols > 3 ? 3 * ldb : 0);
            v8f s00 = zero8(), s01 = zero8(), s02 = zero8(), s03 = zero8();
            v8f s10 = zero8(), s11 = zero8(), s12 = zero8(), s13 = zero8();
            for (long kk = 0; kk < k8; kk += 8) {
                v8f x0 = ld8(a0 + kk), x1 = ld8(a1 + kk);
                v8f y0 = ld8(b0 + kk), y1 = ld8(b1 + kk), y2 = ld8(b2 + kk), y3 = ld8(b3 + kk);
                s00 = MADD(x0, y0, s00); s01 = MADD(x0, y1, s01);
                s02 = MADD(x0, y2, s02); s03 = MADD(x0, y3, s03);
                s10 = MADD(x1, y0, s10); s11 = MADD(x1, y1, s11);
                s12 = MADD(x1, y2, s12); s13 = MADD(x1, y3, s13);
            }
            float r0[4] = {sum8(s00) + TAIL(a0, b0), sum8(s01) + TAIL(a0, b1), sum8(s02) + TAIL(a0, b2),
                           sum8(s03) + TAIL(a0, b3)};
            for (long q = 0; q < cols; q++) PUT(i, j + q, r0[q]);
            if (rows == 2) {
                float r1[4] = {sum8(s10) + TAIL(a1, b0), sum8(s11) + TAIL(a1, b1), sum8(s12) + TAIL(a1, b2),
                               sum8(s13) + TAIL(a1, b3)};
                for (long q = 0; q < cols; q++) PUT(i + 1, j + q, r1[q]);
            }
        }
    }
    }
#undef TAIL
#undef PUT
}

// MARK: Elementary functions on 8 lanes (VectorMath.swift)
//
// exp: Cody–Waite range reduction x = n·ln2 + r, |r| ≤ ln2/2, then e^r = 1 + r + r²·P(r) with the Cephes
// `expf` minimax polynomial (degree 5), then scaling by 2^n through the exponent bits. The same reduction
// gives expm1 without cancellation near 0: expm1(x) = 2^n·(e^r − 1) + (2^n − 1), where e^r − 1 = r + r²·P(r)
// is computed directly. Inputs are clamped to [-87.3, 88.3] so that 2^n stays a normal float: below the
// clamp exp returns e^-87.3 ≈ 1.2e-38 (instead of a subnormal or 0) and above it e^88.3 ≈ 2.2e38 (instead of
// +inf). Accuracy (measured on both variants by ActivationKernelTests in Tests/FlexRuntimeTests/
// ActivationTests.swift and KernelPathTests): exp's max relative error under 1 ulp on [-87, 88]; the tests
// assert 1.5e-7 (exp, expm1, sigmoid) and 2.5e-7 (tanh). The reduction r = x − n·ln2hi is exact with or
// without fusion (ln2hi has 9 significant bits and |n| ≤ 128). NaN inputs are not propagated faithfully
// (compare-and-blend clamping), which the activation kernels never feed.

#define LOG2E 1.4426950408889634f
#define LN2HI 0.693359375f
#define LN2LO -2.121944400546905827679e-4f
#define ROUNDING_MAGIC 12582912.0f  // 1.5·2^23

// Lane-wise min/max/clamp through compares and blends (the exact semantics of the Swift code).
INLINE v8f vmin(v8f a, v8f b) { return repl(a, b, b < a); }
INLINE v8f vmax(v8f a, v8f b) { return repl(a, b, b > a); }
INLINE v8f vclamp(v8f x, float lo, float hi) {
    v8f l = repl(x, splat(lo), x < splat(lo));
    return repl(l, splat(hi), l > splat(hi));
}

/// 2^n and e^x − 1 scaled down by 2^n: e^x = scale·(1 + pm1).
INLINE void exp_parts(v8f x, v8f *scale, v8f *pm1) {
    v8f xc = vclamp(x, -87.3f, 88.3f);
    // Round x·log2e to the nearest integer with the 1.5·2^23 trick: the integer lands in the low mantissa
    // bits of t, so 2^n's exponent bits come from t's bit pattern (no float→int conversion).
    v8f t = MADD(xc, splat(LOG2E), splat(ROUNDING_MAGIC));
    v8f n = t - ROUNDING_MAGIC;
    v8f r = MADD(n, splat(-LN2HI), xc);
    r = MADD(n, splat(-LN2LO), r);
    v8f p = MADD(splat(1.9875691500e-4f), r, splat(1.3981999507e-3f));
    p = MADD(p, r, splat(8.3334519073e-3f));
    p = MADD(p, r, splat(4.1665795894e-2f));
    p = MADD(p, r, splat(1.6666665459e-1f));
    p = MADD(p, r, splat(5.0000001201e-1f));
    *pm1 = MADD(r * r, p, r);
    v8i bits = ((v8i)t - 0x4B400000 + 127) << 23;
    *scale = (v8f)bits;
}

INLINE v8f vexp(v8f x) { v8f s, pm1; exp_parts(x, &s, &pm1); return MADD(s, pm1, s); }
/// e^x − 1, accurate near 0.
INLINE v8f vexpm1(v8f x) { v8f s, pm1; exp_parts(x, &s, &pm1); return MADD(s, pm1, s - 1); }
/// (e^x, e^x − 1) from one range reduction.
INLINE void vexp_and_expm1(v8f x, v8f *e, v8f *em1) {
    v8f s, pm1;
    exp_parts(x, &s, &pm1);
    v8f sp = s * pm1;
    *e = s + sp;
    *em1 = (s - 1) + sp;
}
/// |x| by clearing the sign bits.
INLINE v8f vabs(v8f x) { return (v8f)((v8u)x & 0x7FFFFFFFu); }
/// The logistic function 1/(1 + e^−x), computed from e^−|x| so neither tail overflows.
INLINE v8f vsigmoid(v8f x) {
    v8f e = vexp(-vabs(x));
    v8f d = 1 / (1 + e);
    return repl(d, e * d, x < 0);
}
/// tanh x = −expm1(−2|x|) / (2 + expm1(−2|x|)) with the sign of x; accurate near 0.
INLINE v8f vtanh(v8f x) {
    v8f m = vexpm1(-2 * vabs(x));
    v8f t = -m / (2 + m);
    return repl(t, -t, x < 0);
}

static void FLEXK_VARIANT(vector_math)(int function, const float *x, float *y, long count) {
    for (long i = 0; i < count; i += 8) {
        long n = count - i < 8 ? count - i : 8;
        v8f v = n == 8 ? ld8(x + i) : ld_partial(x + i, n), r;
        switch (function) {
        case FLEXK_EXP: r = vexp(v); break;
        case FLEXK_EXPM1: r = vexpm1(v); break;
        case FLEXK_SIGMOID_FN: r = vsigmoid(v); break;
        default: r = vtanh(v); break;
        }
        if (n == 8) st8(y + i, r); else st_partial(y + i, r, n);
    }
}

// MARK: Activation kernels (ActivationKernels.swift)
//
// One kernel on eight lanes: f(z; β) and (f, ∂f/∂z, ∂f/∂β). Must agree with `Component.Kernel.evaluate`
// (ActivationScalar.swift, the double-precision reference the tests compare against). `kernel` is a constant
// at every call site below (the passes are specialised per kernel by inlining), so the switches fold away.

INLINE v8f kvalue(int kernel, v8f z, v8f b) {
    switch (kernel) {
    case FLEXK_IDENTITY: return z;
    case FLEXK_RELU: return vmax(z, zero8());
    case FLEXK_ELU: return repl(b * vexpm1(vmin(z, zero8())), z, z > 0);
    case FLEXK_NEGATED_ELU: return repl(-b * vexpm1(-vmax(z, zero8())), z, z < 0);
    case FLEXK_SYMMETRIC_ELU: {
        // ELU(z; β) − ELU(−z; β) = z + sgn(z)·β(1 − e^−|z|).
        v8f t = b * vexpm1(-vabs(z));  // ≤ 0
        return z + repl(t, -t, z > 0);
    }
    case FLEXK_SIGMOID: return vsigmoid(z);
    case FLEXK_TANH: return vtanh(z);
    case FLEXK_SIGMOID_RAMP: return vclamp(b * z + 0.5f, 0, 1);
    case FLEXK_TANH_RAMP: return vclamp(b * z, -1, 1);
    default: return repl(b * z, z, z > 0);  // PReLU
    }
}

INLINE void kgrad(int kernel, v8f z, v8f b, v8f *f, v8f *dz, v8f *db) {
    switch (kernel) {
    case FLEXK_IDENTITY: *f = z; *dz = splat(1); *db = zero8(); return;
    case FLEXK_RELU: *f = vmax(z, zero8()); *dz = repl(zero8(), splat(1), z > 0); *db = zero8(); return;
    case FLEXK_ELU: {
        v8f e, em1;
        vexp_and_expm1(vmin(z, zero8()), &e, &em1);
        v8i pos = z > 0;
        *f = repl(b * em1, z, pos); *dz = repl(b * e, splat(1), pos); *db = repl(em1, zero8(), pos);
        return;
    }
    case FLEXK_NEGATED_ELU: {
        v8f e, em1;
        vexp_and_expm1(-vmax(z, zero8()), &e, &em1);
        v8i neg = z < 0;
        *f = repl(-b * em1, z, neg); *dz = repl(b * e, splat(1), neg); *db = repl(-em1, zero8(), neg);
        return;
    }
    case FLEXK_SYMMETRIC_ELU: {
        // Slope 1 + β e^−|z| everywhere (smooth at 0, where autograd would sum the halves' subgradients to
        // 2β instead).
        v8f e, em1;
        vexp_and_expm1(-vabs(z), &e, &em1);
        v8f sem1 = repl(em1, -em1, z > 0);  // ∂f/∂β = −em1 for z > 0, em1 for z < 0, 0 at 0
        *f = z + b * sem1; *dz = 1 + b * e; *db = sem1;
        return;
    }
    case FLEXK_SIGMOID: {
        v8f s = vsigmoid(z);
        *f = s; *dz = s * (1 - s); *db = zero8();
        return;
    }
    case FLEXK_TANH: {
        v8f t = vtanh(z);
        *f = t; *dz = 1 - t * t; *db = zero8();
        return;
    }
    case FLEXK_SIGMOID_RAMP: {
        v8f u = b * z + 0.5f;
        v8i inside = (u > 0) & (u < 1);
        *f = vclamp(u, 0, 1); *dz = repl(zero8(), b, inside); *db = repl(zero8(), z, inside);
        return;
    }
    case FLEXK_TANH_RAMP: {
        v8f u = b * z;
        v8i inside = (u > -1) & (u < 1);
        *f = vclamp(u, -1, 1); *dz = repl(zero8(), b, inside); *db = repl(zero8(), z, inside);
        return;
    }
    default: {  // PReLU
        v8i pos = z > 0;
        *f = repl(b * z, z, pos); *dz = repl(b, splat(1), pos); *db = repl(z, zero8(), pos);
        return;
    }
    }
}

/// y[i] (= or +=) w[i]·f(x[i]; β[i]); `weight` NULL means w = 1. `weight` and `beta` are scratch rows padded
/// to a multiple of 8 elements.
INLINE void forward_loop(int kernel, const float *x, float *y, const float *weight, const float *beta, long count,
                         int accumulate) {
    const long full = count & ~7L;
    long i = 0;
    if (weight) {
        if (accumulate) {
            for (; i < full; i += 8) st8(y + i, MADD(ld8(weight + i), kvalue(kernel, ld8(x + i), ld8(beta + i)), ld8(y + i)));
        } else {
            for (; i < full; i += 8) st8(y + i, ld8(weight + i) * kvalue(kernel, ld8(x + i), ld8(beta + i)));
        }
    } else {
        if (accumulate) {
            for (; i < full; i += 8) st8(y + i, ld8(y + i) + kvalue(kernel, ld8(x + i), ld8(beta + i)));
        } else {
            for (; i < full; i += 8) st8(y + i, kvalue(kernel, ld8(x + i), ld8(beta + i)));
        }
    }
    if (i < count) {
        long n = count - i;
        // Scratch rows (weight, beta) are padded to a multiple of 8, so full loads are in bounds.
        v8f v = kvalue(kernel, ld_partial(x + i, n), ld8(beta + i));
        if (weight) v *= ld8(weight + i);
        if (accumulate) v += ld_partial(y + i, n);
        st_partial(y + i, v, n);
    }
}

static void FLEXK_VARIANT(activation_forward)(int kernel, const float *x, float *y, const float *weight,
                                              const float *beta, long count, int accumulate) {
    switch (kernel) {
    case FLEXK_IDENTITY: forward_loop(FLEXK_IDENTITY, x, y, weight, beta, count, accumulate); break;
    case FLEXK_RELU: forward_loop(FLEXK_RELU, x, y, weight, beta, count, accumulate); break;
    case FLEXK_ELU: forward_loop(FLEXK_ELU, x, y, weight, beta, count, accumulate); break;
    case FLEXK_NEGATED_ELU: forward_loop(FLEXK_NEGATED_ELU, x, y, weight, beta, count, accumulate); break;
    case FLEXK_SYMMETRIC_ELU: forward_loop(FLEXK_SYMMETRIC_ELU, x, y, weight, beta, count, accumulate); break;
    case FLEXK_SIGMOID: forward_loop(FLEXK_SIGMOID, x, y, weight, beta, count, accumulate); break;
    case FLEXK_TANH: forward_loop(FLEXK_TANH, x, y, weight, beta, count, accumulate); break;
    case FLEXK_SIGMOID_RAMP: forward_loop(FLEXK_SIGMOID_RAMP, x, y, weight, beta, count, accumulate); break;
    case FLEXK_TANH_RAMP: forward_loop(FLEXK_TANH_RAMP, x, y, weight, beta, count, accumulate); break;
    default: forward_loop(FLEXK_PRELU, x, y, weight, beta, count, accumulate); break;
    }
}

INLINE v8f backward_chunk(int kernel, long i, v8f z, v8f g, const float *weight, const float *beta,
                          float *grad_f, float *grad_beta) {
    v8f f, dz, db;
    kgrad(kernel, z, ld8(beta + i), &f, &dz, &db);
    v8f w = weight ? ld8(weight + i) : splat(1);
    if (grad_f) st8(grad_f + i, MADD(g, f, ld8(grad_f + i)));
    if (grad_beta) st8(grad_beta + i, MADD(g * w, db, ld8(grad_beta + i)));
    return g * w * dz;
}

/// dx[i] (= or +=) dy·w·f'(x), grad_f[i] += dy·f(x), grad_beta[i] += dy·w·∂f/∂β. `weight` NULL means w = 1;
/// `weight`, `beta`, `grad_f`, `grad_beta` are scratch rows padded to a multiple of 8.
INLINE void backward_loop(int kernel, const float *x, const float *dy, float *dx, int accumulate_dx,
                          const float *weight, const float *beta, long count, float *grad_f, float *grad_beta) {
    const long full = count & ~7L;
    long i = 0;
    if (dx) {
        if (accumulate_dx) {
            for (; i < full; i += 8)
                st8(dx + i, ld8(dx + i) + backward_chunk(kernel, i, ld8(x + i), ld8(dy + i), weight, beta, grad_f, grad_beta));
        } else {
            for (; i < full; i += 8)
                st8(dx + i, backward_chunk(kernel, i, ld8(x + i), ld8(dy + i), weight, beta, grad_f, grad_beta));
        }
    } else {
        for (; i < full; i += 8) (void)backward_chunk(kernel, i, ld8(x + i), ld8(dy + i), weight, beta, grad_f, grad_beta);
    }
    if (i < count) {
        long n = count - i;
        // dy is zero in the padding lanes, so the accumulators' padding lanes only ever receive 0.
        v8f d = backward_chunk(kernel, i, ld_partial(x + i, n), ld_partial(dy + i, n), weight, beta, grad_f, grad_beta);
        if (dx) st_partial(dx + i, accumulate_dx ? d + ld_partial(dx + i, n) : d, n);
    }
}

static void FLEXK_VARIANT(activation_backward)(int kernel, const float *x, const float *dy, float *dx,
                                               int accumulate_dx, const float *weight, const float *beta,
                                               long count, float *grad_f, float *grad_beta) {
#define B(K) backward_loop(K, x, dy, dx, accumulate_dx, weight, beta, count, grad_f, grad_beta); break
    switch (kernel) {
    case FLEXK_IDENTITY: B(FLEXK_IDENTITY);
    case FLEXK_RELU: B(FLEXK_RELU);
    case FLEXK_ELU: B(FLEXK_ELU);
    case FLEXK_NEGATED_ELU: B(FLEXK_NEGATED_ELU);
    case FLEXK_SYMMETRIC_ELU: B(FLEXK_SYMMETRIC_ELU);
    case FLEXK_SIGMOID: B(FLEXK_SIGMOID);
    case FLEXK_TANH: B(FLEXK_TANH);
    case FLEXK_SIGMOID_RAMP: B(FLEXK_SIGMOID_RAMP);
    case FLEXK_TANH_RAMP: B(FLEXK_TANH_RAMP);
    default: B(FLEXK_PRELU);
    }
#undef B
}

// MARK: Adam (Adam.swift)
//
// PyTorch's `torch.optim.Adam` (and AdamW-free L2 weight decay) element-wise update, 8 lanes at a time; the
// tail runs the same lane operations one element at a time. The moments use PyTorch's lerp:
// m + w·(g − m) for w < 0.5, else g + (w − 1)·(g − m), as one multiply-add.

static void FLEXK_VARIANT(adam_update)(float *theta, float *m, float *v, const float *g, long n, float step_size,
                                       const flexk_adam_coefficients *c) {
    const int small_weight = __builtin_fabsf(c->one_minus_beta1) < 0.5f;
    const float lerp = small_weight ? c->one_minus_beta1 : c->one_minus_beta1 - 1;
    const v8f w1 = splat(lerp), b2 = splat(c->beta2), w2 = splat(c->one_minus_beta2);
    const v8f bc2 = splat(c->bias2_sqrt), eps = splat(c->epsilon), wd = splat(c->weight_decay);
    const v8f neg_step = splat(-step_size);
    const int decay = c->weight_decay != 0;
    long i = 0;
    for (; i + 8 <= n; i += 8) {
        v8f gi = ld8(g + i), th = ld8(theta + i);
        if (decay) gi = MADD(wd, th, gi);                       // g + w·θ
        v8f mi = ld8(m + i);
        mi = MADD(w1, gi - mi, small_weight ? mi : gi);         // lerp(m, g, 1 − β1)
        v8f vi = ld8(v + i) * b2;
        vi = MADD(w2 * gi, gi, vi);                             // v·β2 + ((1 − β2)·g)·g
        v8f denom = __builtin_elementwise_sqrt(vi) / bc2 + eps; // √v / √(1 − β2^t) + ε
        th = th + (neg_step * mi) / denom;                      // θ − (stepSize·m) / denom
        st8(theta + i, th);
        st8(m + i, mi);
        st8(v + i, vi);
    }
    for (; i < n; i++) {
        float gi = g[i];
        if (decay) gi = SMADD(c->weight_decay, theta[i], gi);
        float mi = SMADD(lerp, gi - m[i], small_weight ? m[i] : gi);
        float vi = SMADD(c->one_minus_beta2 * gi, gi, v[i] * c->beta2);
        float denom = __builtin_elementwise_sqrt(vi) / c->bias2_sqrt + c->epsilon;
        theta[i] = theta[i] + (-step_size * mi) / denom;
        m[i] = mi;
        v[i] = vi;
    }
}

// MARK: Loss and gradient accumulation (Loss.swift, ModelTraining.swift)

/// gradient = scale·(p − t) in float32; returns Σ (p − t)² accumulated in double, 8 lanes at a time (so a large
/// batch's small residuals are not lost to float32 rounding).
static double FLEXK_VARIANT(mse)(const float *p, const float *t, float *out, long n, float scale) {
    v8d acc = {0, 0, 0, 0, 0, 0, 0, 0};
    const v8f s8 = splat(scale);
    long i = 0;
    for (; i + 8 <= n; i += 8) {
        v8f d = ld8(p + i) - ld8(t + i);
        v8d dd = __builtin_convertvector(d, v8d);
        acc += dd * dd;
        st8(out + i, s8 * d);
    }
    double tail = 0;
    for (; i < n; i++) {
        float d = p[i] - t[i];
        tail += (double)d * (double)d;
        out[i] = scale * d;
    }
    double sum = -0.0;  // in lane order, as Swift's SIMD.sum()
    for (int l = 0; l < 8; l++) sum += acc[l];
    return sum + tail;
}

/// acc[i] += w·x[i] (one multiply-add per element).
static void FLEXK_VARIANT(add_scaled)(float *acc, const float *x, float w, long n) {
    const v8f w8 = splat(w);
    long i = 0;
    for (; i + 8 <= n; i += 8) st8(acc + i, MADD(w8, ld8(x + i), ld8(acc + i)));
    for (; i < n; i++) acc[i] = SMADD(w, x[i], acc[i]);
}

// MARK: Scatter and pooling loops (Im2Col.swift `col2im`, MaxPool2d.swift)
//
// Scalar loops, here rather than in Swift so that they too get the AVX2 code generation that
// `-target-cpu haswell` gave them before (they are a third of a CAE forward pass, `perf record`).

/// The adjoint of im2col: image[b][table[r·ohw + p]] += columns[r·(batch·ohw) + b·ohw + p] wherever the table
/// entry is not −1 (the window hangs over the padding there); rows in order, so sums keep their order.
static void FLEXK_VARIANT(col2im)(const float *columns, long batch, long patch, long ohw, const int *table,
                                  float *image, long chw) {
    const long ld = batch * ohw;
    for (long r = 0; r < patch; r++) {
        const int *t = table + r * ohw;
        const float *row = columns + r * ld;
        for (long b = 0; b < batch; b++) {
            float *dst = image + b * chw;
            const float *src = row + b * ohw;
            for (long p = 0; p < ohw; p++) {
                const long o = t[p];
                if (o >= 0) dst[o] += src[p];
            }
        }
    }
}

/// Max pooling without padding over `planes` planes of h×w: y[plane][i][j] = max over the k×k window at
/// (i·s, j·s); `argmax` (NULL for none) receives the flat input index of the chosen element. Ties keep the first
/// element in row-major order. A NaN is chosen when met, but a later element of the window replaces it (PyTorch
/// keeps it): the behaviour of the Swift loop this replaced, kept as is (PyTorch's rule, two compares, cost 30% of the throughput of
/// cae2-infer, docs/benchmarks.md).
INLINE void max_pool_body(const float *x, float *y, int *argmax, long planes, long h, long w, long oh, long ow,
                          long k, long s) {
    for (long plane = 0; plane < planes; plane++) {
        const float *xp = x + plane * h * w;
        for (long i = 0; i < oh; i++) {
            for (long j = 0; j < ow; j++) {
                float best = -__builtin_inff();
                long at = (i * s) * w + j * s;
                for (long u = 0; u < k; u++) {
                    const long row = (i * s + u) * w + j * s;
                    for (long v = 0; v < k; v++) {
                        const float val = xp[row + v];
                        // `!(val <= best)` also picks NaN (as the Swift loop this replaced; one compare, which
                        // the compiler turns into a compare-and-move).
                        if (!(val <= best)) { best = val; at = row + v; }
                    }
                }
                const long o = (plane * oh + i) * ow + j;
                y[o] = best;
                if (argmax) argmax[o] = (int)(plane * h * w + at);
            }
        }
    }
}

/// max_pool_body with the common 2×2 window compiled with its size folded in.
static void FLEXK_VARIANT(max_pool)(const float *x, float *y, int *argmax, long planes, long h, long w, long oh,
                                    long ow, long k, long s) {
    if (k == 2 && s == 2) max_pool_body(x, y, argmax, planes, h, w, oh, ow, 2, 2);
    else max_pool_body(x, y, argmax, planes, h, w, oh, ow, k, s);
}

#undef INLINE
#undef MADD
#undef SMADD
