// The kernels for x86-64 with AVX2 + FMA: kernels_body.h compiled with those features enabled (function by
// function, so the rest of the program keeps the baseline target), selected at run time by dispatch.c.
#if defined(__x86_64__)
#include "kernels_prelude.h"

#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#define FLEXK_VARIANT(name) name##_avx2
#define FLEXK_FUSED 1
#include "kernels_body.h"
#pragma clang attribute pop

const flexk_table flexk_table_avx2 = FLEXK_TABLE(avx2);
#endif
