// The one deallocator of the C API. Every buffer the Swift implementation hands out is allocated with the C
// library's malloc (never Swift's allocator), so it is freed here with free().
#include <stdlib.h>

#include "flexctl.h"

void flexctl_free(void *pointer) { free(pointer); }
