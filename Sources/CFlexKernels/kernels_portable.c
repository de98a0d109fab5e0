// The portable kernels: kernels_body.h for the baseline target. arm64 has fused multiply-add in its baseline
// (and NEON), so its build fuses like the AVX2 one; baseline x86-64 (SSE2) has no FMA and a software fmaf
// would be many times slower than the separate multiply and add it uses instead (results then differ from
// the AVX2 path by rounding, see KernelPathTests).
#include "kernels_prelude.h"

// The 8-lane helpers pass v8f by value; without AVX that would be a different calling convention than with it,
// which clang warns about. All of them are always_inline static functions, so no call with either convention
// is ever emitted.
#pragma clang diagnostic ignored "-Wpsabi"

#define FLEXK_VARIANT(name) name##_portable
#if defined(__aarch64__) || defined(__FMA__)
#define FLEXK_FUSED 1
#else
#define FLEXK_FUSED 0
#endif
#include "kernels_body.h"

const flexk_table flexk_table_portable = FLEXK_TABLE(portable);
