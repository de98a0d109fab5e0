#include "CFlexSupport.h"
#if defined(__GLIBC__) || defined(__linux__)
#include <malloc.h>
#endif

int flex_keep_freed_memory(long mmap_threshold, long trim_threshold) {
#if defined(__GLIBC__)
    int a = mallopt(M_MMAP_THRESHOLD, (int)mmap_threshold);
    int b = mallopt(M_TRIM_THRESHOLD, (int)trim_threshold);
    return a == 1 && b == 1;
#else
    (void)mmap_threshold; (void)trim_threshold;
    return 0;
#endif
}
