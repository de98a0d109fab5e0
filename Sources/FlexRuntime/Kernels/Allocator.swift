import CFlexSupport

/// Process-wide allocator tuning for throughput.
///
/// Every layer call allocates its outputs and scratch buffers (hundreds of KiB to MiB for a mini-batch). With
/// glibc's defaults such blocks are served by fresh `mmap`s (or trimmed back to the kernel on free), so each
/// call page-faults and zero-fills its memory again; with two worker threads the page faults also contend on the
/// process's memory map. Measured with `flexctl bench` on the development machine (docs/benchmarks.md).
public enum Allocator {
    /// Keeps freed memory in the process (mmap threshold 256 MiB, trim threshold 1 GiB) so buffers are reused.
    /// Call once at start-up; the `flexctl` command does. Returns false where it does not apply (non-glibc).
    @discardableResult
    public static func keepFreedMemoryForReuse() -> Bool {
        flex_keep_freed_memory(256 << 20, 1 << 30) == 1
    }
}
