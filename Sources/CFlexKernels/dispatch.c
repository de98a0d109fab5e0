// The one run-time choice between the compiled variants (kernels_avx2.c, kernels_portable.c).
#include "CFlexKernels.h"

#include <stdlib.h>
#include <string.h>

extern const flexk_table flexk_table_portable;
#if defined(__x86_64__)
extern const flexk_table flexk_table_avx2;
#endif

static int avx2_fma_supported(void) {
#if defined(__x86_64__)
    // Also checks that the OS saves the AVX registers (XGETBV), as libgcc's and compiler-rt's models do.
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
    return 0;
#endif
}

const flexk_table *flexk_table_for(flexk_path path) {
    switch (path) {
    case FLEXK_PATH_PORTABLE: return &flexk_table_portable;
    case FLEXK_PATH_AVX2_FMA:
#if defined(__x86_64__)
        return avx2_fma_supported() ? &flexk_table_avx2 : NULL;
#else
        return NULL;
#endif
    }
    return NULL;
}

static flexk_path active_path = FLEXK_PATH_PORTABLE;
static const flexk_table *active_table = &flexk_table_portable;

// Chosen before main (and before any Swift code runs), so every later call reads a constant pointer; no
// lock or once-flag in the kernels' call path.
__attribute__((constructor)) static void flexk_choose(void) {
    const char *requested = getenv("FLEXCTL_CPU");
    if (requested && strcmp(requested, "portable") == 0) return;
    if (avx2_fma_supported()) {
#if defined(__x86_64__)
        active_path = FLEXK_PATH_AVX2_FMA;
        active_table = &flexk_table_avx2;
#endif
    }
}

flexk_path flexk_active_path(void) { return active_path; }
const flexk_table *flexk_active(void) { return active_table; }

void flexk_gemm_nn(long m, long n, long k, const float *a, long a_row_stride, long a_col_stride,
                   const float *b, long ldb, float *c, long ldc, int accumulate) {
    active_table->gemm_nn(m, n, k, a, a_row_stride, a_col_stride, b, ldb, c, ldc, accumulate);
}
void flexk_gemm_nt(long m, long n, long k, const float *a, long lda, const float *b, long ldb, float *c, long ldc,
                   int accumulate) {
    active_table->gemm_nt(m, n, k, a, lda, b, ldb, c, ldc, accumulate);
}
void flexk_vector_math(int function, const float *x, float *y, long count) {
    active_table->vector_math(function, x, y, count);
}
void flexk_activation_forward(int kernel, const float *x, float *y, const float *weight, const float *beta,
                              long count, int accumulate) {
    active_table->activation_forward(kernel, x, y, weight, beta, count, accumulate);
}
void flexk_activation_backward(int kernel, const float *x, const float *dy, float *dx, int accumulate_dx,
                               const float *weight, const float *beta, long count, float *grad_f, float *grad_beta) {
    active_table->activation_backward(kernel, x, dy, dx, accumulate_dx, weight, beta, count, grad_f, grad_beta);
}
void flexk_adam_update(float *theta, float *m, float *v, const float *g, long count, float step_size,
                       const flexk_adam_coefficients *c) {
    active_table->adam_update(theta, m, v, g, count, step_size, c);
}
double flexk_mse(const float *prediction, const float *target, float *gradient, long count, float scale) {
    return active_table->mse(prediction, target, gradient, count, scale);
}
void flexk_add_scaled(float *acc, const float *x, float w, long count) {
    active_table->add_scaled(acc, x, w, count);
}
void flexk_col2im(const float *columns, long batch, long patch, long ohw, const int *table, float *image, long chw) {
    active_table->col2im(columns, batch, patch, ohw, table, image, chw);
}
void flexk_max_pool(const float *x, float *y, int *argmax, long planes, long h, long w, long oh, long ow, long k,
                    long s) {
    active_table->max_pool(x, y, argmax, planes, h, w, oh, ow, k, s);
}
