// C helpers for flexctl's runtime. Internal: no stable API.
#pragma once

/// Keeps freed memory in the process for reuse (glibc only; a no-op elsewhere). Returns 1 if applied.
int flex_keep_freed_memory(long mmap_threshold, long trim_threshold);
