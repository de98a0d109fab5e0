// Declarations shared by the compiled variants; included before any target attribute is pushed, so the
// system headers keep the baseline target.
#ifndef CFLEXKERNELS_PRELUDE_H
#define CFLEXKERNELS_PRELUDE_H
#include "CFlexKernels.h"
#include <stdlib.h>
#include <string.h>

#define FLEXK_TABLE(suffix) { \
    .gemm_nn = gemm_nn_##suffix, .gemm_nt = gemm_nt_##suffix, .vector_math = vector_math_##suffix, \
    .activation_forward = activation_forward_##suffix, .activation_backward = activation_backward_##suffix, \
    .adam_update = adam_update_##suffix, .mse = mse_##suffix, .add_scaled = add_scaled_##suffix, \
    .col2im = col2im_##suffix, .max_pool = max_pool_##suffix }
#endif
