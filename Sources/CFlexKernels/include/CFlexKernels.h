// The hot loops of FlexRuntime and FlexTraining, in C so that each can be compiled twice — for AVX2 + FMA and
// portably — and the right one chosen once at start-up, without compiler flags in Package.swift (which SwiftPM
// refuses in dependencies) and without requiring a particular CPU.
//
// Internal to flexctl; no stable API. Swift wrappers keep the kernels' Swift API (gemmNN, gemmNT, VectorMath,
// activationForwardPass/BackwardPass, Adam.update, meanSquaredError); the references each kernel implements
// are named in kernels_body.h and in those wrappers.
#ifndef CFLEXKERNELS_H
#define CFLEXKERNELS_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/// A compiled variant of the kernels.
typedef enum flexk_path {
    /// Plain C with 8-lane vector types; the compiler maps them to whatever the baseline target has (SSE2 on
    /// x86-64, NEON on arm64). Multiply-adds are fused only where the baseline has FMA (arm64).
    FLEXK_PATH_PORTABLE = 0,
    /// x86-64 with AVX2 and FMA (Haswell and later): 256-bit vectors, fused multiply-adds.
    FLEXK_PATH_AVX2_FMA = 1,
} flexk_path;

/// The activation kernels (FlexRuntime's `Component.Kernel`), in its declaration order.
typedef enum flexk_kernel {
    FLEXK_IDENTITY = 0,
    FLEXK_RELU = 1,
    FLEXK_ELU = 2,
    FLEXK_NEGATED_ELU = 3,
    FLEXK_SYMMETRIC_ELU = 4,
    FLEXK_SIGMOID = 5,
    FLEXK_TANH = 6,
    FLEXK_SIGMOID_RAMP = 7,
    FLEXK_TANH_RAMP = 8,
    FLEXK_PRELU = 9,
} flexk_kernel;

/// The elementary functions of `flexk_vector_math`.
typedef enum flexk_function {
    FLEXK_EXP = 0,
    FLEXK_EXPM1 = 1,
    FLEXK_SIGMOID_FN = 2,
    FLEXK_TANH_FN = 3,
} flexk_function;

/// Adam's per-step coefficients (FlexTraining's `Adam.Coefficients`).
typedef struct flexk_adam_coefficients {
    float one_minus_beta1, beta2, one_minus_beta2, bias2_sqrt, epsilon, weight_decay;
} flexk_adam_coefficients;

/// One compiled variant: every kernel of this header.
typedef struct flexk_table {
    void (*gemm_nn)(long m, long n, long k, const float *a, long a_row_stride, long a_col_stride,
                    const float *b, long ldb, float *c, long ldc, int accumulate);
    void (*gemm_nt)(long m, long n, long k, const float *a, long lda, const float *b, long ldb,
                    float *c, long ldc, int accumulate);
    void (*vector_math)(int function, const float *x, float *y, long count);
    void (*activation_forward)(int kernel, const float *x, float *y, const float *weight, const float *beta,
                               long count, int accumulate);
    void (*activation_backward)(int kernel, const float *x, const float *dy, float *dx, int accumulate_dx,
                                const float *weight, const float *beta, long count, float *grad_f,
                                float *grad_beta);
    void (*adam_update)(float *theta, float *m, float *v, const float *g, long count, float step_size,
                        const flexk_adam_coefficients *c);
    double (*mse)(const float *prediction, const float *target, float *gradient, long count, float scale);
    void (*add_scaled)(float *acc, const float *x, float w, long count);
    void (*col2im)(const float *columns, long batch, long patch, long ohw, const int *table, float *image, long chw);
    void (*max_pool)(const float *x, float *y, int *argmax, long planes, long h, long w, long oh, long ow, long k,
                     long s);
} flexk_table;

/// The variant `path`, or NULL when this machine cannot run it (AVX2 + FMA on a CPU without them, or on a
/// non-x86-64 build).
const flexk_table *flexk_table_for(flexk_path path);

/// The variant in use: the fastest this CPU supports, unless the environment variable FLEXCTL_CPU is
/// `portable` (read once, at start-up; any other value means the automatic choice).
flexk_path flexk_active_path(void);

/// The variant in use (never NULL).
const flexk_table *flexk_active(void);

// The kernels of the variant in use (one indirect call each; callers are Swift wrappers).
void flexk_gemm_nn(long m, long n, long k, const float *a, long a_row_stride, long a_col_stride,
                   const float *b, long ldb, float *c, long ldc, int accumulate);
void flexk_gemm_nt(long m, long n, long k, const float *a, long lda, const float *b, long ldb, float *c, long ldc,
                   int accumulate);
void flexk_vector_math(int function, const float *x, float *y, long count);
void flexk_activation_forward(int kernel, const float *x, float *y, const float *weight, const float *beta,
                              long count, int accumulate);
void flexk_activation_backward(int kernel, const float *x, const float *dy, float *dx, int accumulate_dx,
                               const float *weight, const float *beta, long count, float *grad_f, float *grad_beta);
void flexk_adam_update(float *theta, float *m, float *v, const float *g, long count, float step_size,
                       const flexk_adam_coefficients *c);
double flexk_mse(const float *prediction, const float *target, float *gradient, long count, float scale);
void flexk_add_scaled(float *acc, const float *x, float w, long count);
void flexk_col2im(const float *columns, long batch, long patch, long ohw, const int *table, float *image, long chw);
void flexk_max_pool(const float *x, float *y, int *argmax, long planes, long h, long w, long oh, long ow, long k,
                    long s);

#ifdef __cplusplus
}
#endif

#endif
