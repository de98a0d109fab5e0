// Reading an untrusted HDF5 file in an isolated child process. Internal to flexctl; no stable API.
//
// libhdf5 1.10 can crash, hang or allocate without bound on damaged or crafted files, and it follows
// references out of the file (external storage, external links, virtual datasets). So flexctl never lets
// libhdf5 parse an untrusted file in its own process: `flexh5_snapshot` forks a child that opens the file's
// bytes from memory (the core driver: libhdf5 never sees the path), checks the structure against the limits
// below before reading any data, reads everything the format allows and streams it back through a pipe as a
// plain, bounded record stream (see snapshot.c). A crash, a hang or an allocation over the limit in the child
// becomes an error in the parent.
#ifndef FLEXH5_SNAPSHOT_H
#define FLEXH5_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint32_t max_depth;              // groups nested below the root
    uint32_t max_objects;            // groups + datasets in the file
    uint32_t max_members;            // links in one group
    uint32_t max_attributes;         // attributes on one object
    uint32_t max_name_bytes;         // a link or attribute name
    uint32_t max_rank;               // dimensions of a dataset
    uint64_t max_dataset_elements;   // values in one dataset (and in one chunk)
    uint64_t max_total_elements;     // values in all datasets together
    uint64_t max_string_bytes;       // one string attribute
    uint64_t max_output_bytes;       // the whole record stream
    uint64_t memory_bytes;           // address space the child may add to its own
    uint32_t timeout_ms;             // wall-clock time for the whole child
} flexh5_limits;

/// Outcome kinds of `flexh5_snapshot`.
enum {
    FLEXH5_OK = 0,            // *out holds the record stream (malloc'd; free it)
    FLEXH5_CRASHED = 1,       // the child died of signal `*detail`
    FLEXH5_TIMED_OUT = 2,     // the child exceeded timeout_ms and was killed
    FLEXH5_EXITED = 3,        // the child exited with status `*detail` without a complete stream
    FLEXH5_TOO_LARGE = 4,     // the stream exceeded max_output_bytes
    FLEXH5_SYSTEM = 5,        // fork/pipe/poll failed; errno in `*detail`
};

/// Forks a child that walks the HDF5 file image `image` (`size` bytes) and streams its records back.
/// The caller must hold the process's HDF5 lock (the child inherits libhdf5's state).
int flexh5_snapshot(const void *image, size_t size, const flexh5_limits *limits, uint8_t **out, size_t *out_size,
                    int *detail);

/// The same walk in the calling process, writing the records to `fd` (for tests of the walk itself).
int flexh5_snapshot_walk_to_fd(const void *image, size_t size, const flexh5_limits *limits, int fd);

#endif
