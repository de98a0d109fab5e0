// The isolated HDF5 reader (see include/flexh5_snapshot.h).
//
// Record stream (native byte order: parent and child are the same program on the same machine):
//   stream  := "FH5S" u32(2) record* 'Z'
//   record  := 'G' str(path)                                  a group; the root first, parents before children
//            | 'D' str(path) type shape kind                  a dataset (its values follow later in a 'V')
//            | 'A' str(object path) str(name) type shape value an attribute
//            | 'V' str(path) kind bytes                       a dataset's values, after every 'G', 'D' and 'A'
//            | 'E' str(path) str(message)                     the file was refused; the last record
//   type    := u8(class: 1 float, 2 integer, 3 variable-length string, 4 fixed-length string, 5 other)
//              u32(size in bytes) u8(signed) str(description)
//   shape   := u8(rank) u64(dim)*rank                         rank 0: a scalar
//   kind    := u8(0)                                          no values (a type the reader does not read)
//            | u8(4 | 8 | 'i') u64(count)                     float32, float64 or int64 values
//   value   := u8(0) | u8(1) i64 | u8(2) f64 | u8(3) str       not read (not a scalar of a known type) / int / float / string
//   str     := u32(length) bytes
// One traversal checks every link, object, layout, filter, type and size against the limits and sends the
// structure and the attributes; datasets stay open. Only when the whole file has passed (and the values fit
// the output limit) are the datasets' values read and sent, so no value is read from a file that is refused.
#define _GNU_SOURCE
#include "flexh5_snapshot.h"

#if __has_include(<hdf5/serial/hdf5.h>)
#include <hdf5/serial/hdf5.h>
#else
#include <hdf5.h>
#endif

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

// MARK: Output

typedef struct {
    int fd;              // the pipe to the parent (or a test's file); -1 counts bytes without writing them
    uint8_t buf[65536];
    size_t used;
    uint64_t total;
    int failed;
} writer;

static void w_flush(writer *w) {
    if (w->fd < 0 || w->failed) { w->used = 0; return; }
    size_t done = 0;
    while (done < w->used) {
        ssize_t n = write(w->fd, w->buf + done, w->used - done);
        if (n < 0) {
            if (errno == EINTR) continue;
            w->failed = 1;
            break;
        }
        done += (size_t)n;
    }
    w->used = 0;
}

static void w_bytes(writer *w, const void *p, size_t n) {
    w->total += n;
    if (w->fd < 0) return;
    const uint8_t *b = p;
    while (n > 0) {
        size_t room = sizeof(w->buf) - w->used;
        size_t k = n < room ? n : room;
        memcpy(w->buf + w->used, b, k);
        w->used += k;
        b += k;
        n -= k;
        if (w->used == sizeof(w->buf)) w_flush(w);
    }
}
static void w_u8(writer *w, uint8_t v) { w_bytes(w, &v, 1); }
static void w_u32(writer *w, uint32_t v) { w_bytes(w, &v, 4); }
static void w_u64(writer *w, uint64_t v) { w_bytes(w, &v, 8); }
static void w_str(writer *w, const char *s, size_t n) { w_u32(w, (uint32_t)n); w_bytes(w, s, n); }
static void w_cstr(writer *w, const char *s) { w_str(w, s, strlen(s)); }

// MARK: Walk state

typedef struct {
    const flexh5_limits *lim;
    writer *w;
    // Datasets whose values are read after the traversal (kept open until then).
    struct pending { hid_t d; hid_t mem; uint64_t count; size_t esize; uint8_t elem; char *path; int half; } *pending;
    uint32_t pending_count;
    uint64_t value_bytes;
    uint32_t objects;
    uint64_t total_elements;
    haddr_t *seen;          // object addresses already visited (hard-link cycles and aliases)
    uint32_t seen_count;
    int failed;
    char err_path[1024];
    char err_msg[1024];
    hid_t dapl;             // dataset access: external and virtual file prefixes that lead nowhere
} walk;

static void take_hdf5_detail(char *out, size_t size);

__attribute__((format(printf, 3, 4)))
static void fail(walk *k, const char *path, const char *fmt, ...) {
    if (k->failed) return;
    k->failed = 1;
    snprintf(k->err_path, sizeof(k->err_path), "%s", path);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(k->err_msg, sizeof(k->err_msg), fmt, ap);
    va_end(ap);
}

/// Fails with HDF5's innermost error description appended.
static void fail_hdf5(walk *k, const char *path, const char *what) {
    char detail[512];
    take_hdf5_detail(detail, sizeof(detail));
    if (detail[0]) fail(k, path, "%s (HDF5: %s)", what, detail);
    else fail(k, path, "%s", what);
}

struct detail_box { char *out; size_t size; int found; };

static herr_t detail_cb(unsigned n, const H5E_error2_t *err, void *data) {
    (void)n;
    struct detail_box *b = data;
    if (!b->found && err && err->desc && err->desc[0]) {
        snprintf(b->out, b->size, "%s", err->desc);
        b->found = 1;
    }
    return 0;
}

static void take_hdf5_detail(char *out, size_t size) {
    struct detail_box b = { out, size, 0 };
    out[0] = 0;
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, detail_cb, &b);
    H5Eclear2(H5E_DEFAULT);
}

static void child_path(char *out, size_t size, const char *parent, const char *name) {
    if (strcmp(parent, "/") == 0) snprintf(out, size, "/%s", name);
    else snprintf(out, size, "%s/%s", parent, name);
}

/// a * b, or 0 with *overflow set.
static uint64_t mul_checked(uint64_t a, uint64_t b, int *overflow) {
    uint64_t r;
    if (__builtin_mul_overflow(a, b, &r)) { *overflow = 1; return 0; }
    return r;
}

// MARK: Names

typedef struct { char **names; uint32_t count; uint32_t cap; uint32_t max; uint32_t max_len; int too_many; int too_long; } name_list;

static int name_list_add(name_list *l, const char *name) {
    if (l->count >= l->max) { l->too_many = 1; return -1; }
    size_t n = strlen(name);
    if (n > l->max_len) { l->too_long = 1; return -1; }
    if (l->count == l->cap) {
        uint32_t cap = l->cap ? l->cap * 2 : 16;
        char **p = realloc(l->names, cap * sizeof(char *));
        if (!p) return -1;
        l->names = p;
        l->cap = cap;
    }
    l->names[l->count] = strdup(name);
    if (!l->names[l->count]) return -1;
    l->count++;
    return 0;
}

static void name_list_free(name_list *l) {
    for (uint32_t i = 0; i < l->count; i++) free(l->names[i]);
    free(l->names);
}

static herr_t link_name_cb(hid_t g, const char *name, const H5L_info_t *info, void *data) {
    (void)g; (void)info;
    return name_list_add(data, name) < 0 ? -1 : 0;
}

static herr_t attr_name_cb(hid_t o, const char *name, const H5A_info_t *info, void *data) {
    (void)o; (void)info;
    return name_list_add(data, name) < 0 ? -1 : 0;
}

// MARK: Types

enum { T_FLOAT = 1, T_INT = 2, T_VSTR = 3, T_FSTR = 4, T_OTHER = 5 };

typedef struct { int cls; size_t size; int is_signed; char desc[64]; } type_info;

/// Classifies a stored type. Floats count as floats only with IEEE 754 layouts of 16, 32 or 64 bits (either
/// byte order); a float of any other layout is "other" and is never converted.
static void classify(hid_t t, type_info *ti) {
    memset(ti, 0, sizeof(*ti));
    ti->size = H5Tget_size(t);
    switch (H5Tget_class(t)) {
    case H5T_FLOAT: {
        size_t spos = 0, epos = 0, esize = 0, mpos = 0, msize = 0;
        H5Tget_fields(t, &spos, &epos, &esize, &mpos, &msize);
        size_t ebias = H5Tget_ebias(t);
        H5T_order_t order = H5Tget_order(t);
        int ieee = (order == H5T_ORDER_LE || order == H5T_ORDER_BE) && H5Tget_offset(t) == 0
            && H5Tget_norm(t) == H5T_NORM_IMPLIED
            && ((ti->size == 2 && spos == 15 && epos == 10 && esize == 5 && mpos == 0 && msize == 10 && ebias == 15)
                || (ti->size == 4 && spos == 31 && epos == 23 && esize == 8 && mpos == 0 && msize == 23 && ebias == 127)
                || (ti->size == 8 && spos == 63 && epos == 52 && esize == 11 && mpos == 0 && msize == 52 && ebias == 1023));
        if (ieee) {
            ti->cls = T_FLOAT;
            snprintf(ti->desc, sizeof(ti->desc), "float%zu", ti->size * 8);
        } else {
            ti->cls = T_OTHER;
            snprintf(ti->desc, sizeof(ti->desc), "non-IEEE %zu-byte float", ti->size);
        }
        break;
    }
    case H5T_INTEGER:
        ti->is_signed = H5Tget_sign(t) == H5T_SGN_2;
        if (ti->size == 1 || ti->size == 2 || ti->size == 4 || ti->size == 8) {
            ti->cls = T_INT;
            snprintf(ti->desc, sizeof(ti->desc), "%s%zu", ti->is_signed ? "int" : "uint", ti->size * 8);
        } else {
            ti->cls = T_OTHER;
            snprintf(ti->desc, sizeof(ti->desc), "%zu-byte integer", ti->size);
        }
        break;
    case H5T_STRING:
        if (H5Tis_variable_str(t) > 0) { ti->cls = T_VSTR; snprintf(ti->desc, sizeof(ti->desc), "string"); }
        else { ti->cls = T_FSTR; snprintf(ti->desc, sizeof(ti->desc), "fixed-length string"); }
        break;
    case H5T_COMPOUND: ti->cls = T_OTHER; snprintf(ti->desc, sizeof(ti->desc), "compound"); break;
    case H5T_ENUM: ti->cls = T_OTHER; snprintf(ti->desc, sizeof(ti->desc), "enum"); break;
    case H5T_ARRAY: ti->cls = T_OTHER; snprintf(ti->desc, sizeof(ti->desc), "array type"); break;
    case H5T_VLEN: ti->cls = T_OTHER; snprintf(ti->desc, sizeof(ti->desc), "variable-length sequence"); break;
    case H5T_OPAQUE: ti->cls = T_OTHER; snprintf(ti->desc, sizeof(ti->desc), "opaque"); break;
    case H5T_BITFIELD: ti->cls = T_OTHER; snprintf(ti->desc, sizeof(ti->desc), "bitfield"); break;
    case H5T_REFERENCE: ti->cls = T_OTHER; snprintf(ti->desc, sizeof(ti->desc), "reference"); break;
    case H5T_TIME: ti->cls = T_OTHER; snprintf(ti->desc, sizeof(ti->desc), "time"); break;
    default: ti->cls = T_OTHER; snprintf(ti->desc, sizeof(ti->desc), "unknown type"); break;
    }
}

static void emit_type(writer *w, const type_info *ti) {
    w_u8(w, (uint8_t)ti->cls);
    w_u32(w, (uint32_t)ti->size);
    w_u8(w, (uint8_t)ti->is_signed);
    w_cstr(w, ti->desc);
}

typedef struct { int rank; hsize_t dims[H5S_MAX_RANK]; uint64_t count; } shape_info;

/// Reads a dataspace's shape; fails on null or unknown spaces, ranks over the limit and element counts whose
/// product overflows.
static int read_shape(walk *k, const char *path, hid_t space, shape_info *s) {
    H5S_class_t cls = H5Sget_simple_extent_type(space);
    if (cls == H5S_NULL) { fail(k, path, "has a null dataspace (no shape); expected an array or a scalar"); return -1; }
    if (cls != H5S_SCALAR && cls != H5S_SIMPLE) { fail_hdf5(k, path, "cannot read the shape"); return -1; }
    int rank = H5Sget_simple_extent_ndims(space);
    if (rank < 0) { fail_hdf5(k, path, "cannot read the shape"); return -1; }
    if ((uint32_t)rank > k->lim->max_rank) {
        fail(k, path, "has %d dimensions; at most %u are allowed", rank, k->lim->max_rank);
        return -1;
    }
    s->rank = rank;
    if (rank > 0 && H5Sget_simple_extent_dims(space, s->dims, NULL) < 0) { fail_hdf5(k, path, "cannot read the shape"); return -1; }
    int overflow = 0;
    uint64_t n = 1;
    for (int i = 0; i < rank; i++) {
        // A dimension no larger than the per-dataset limit (zero-sized datasets could otherwise declare any).
        if (s->dims[i] > k->lim->max_dataset_elements) {
            fail(k, path, "has a dimension of %llu; at most %llu values are allowed", (unsigned long long)s->dims[i],
                 (unsigned long long)k->lim->max_dataset_elements);
            return -1;
        }
        n = mul_checked(n, s->dims[i], &overflow);
    }
    if (overflow) { fail(k, path, "declares more than 2^64 values"); return -1; }
    s->count = n;
    return 0;
}

static void emit_shape(writer *w, const shape_info *s) {
    w_u8(w, (uint8_t)s->rank);
    for (int i = 0; i < s->rank; i++) w_u64(w, s->dims[i]);
}

// MARK: Attributes

static int walk_attribute(walk *k, hid_t obj, const char *path, const char *name) {
    char where[1400];
    snprintf(where, sizeof(where), "%s (attribute '%s')", path, name);
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    if (a < 0) { fail_hdf5(k, where, "cannot open the attribute"); return -1; }
    hid_t t = H5Aget_type(a), space = H5Aget_space(a);
    int rc = -1;
    type_info ti;
    shape_info s;
    char *sv = NULL;
    if (t < 0 || space < 0) { fail_hdf5(k, where, "cannot read the attribute's type or shape"); goto done; }
    classify(t, &ti);
    if (read_shape(k, where, space, &s) < 0) goto done;
    // Only scalars (or one-element arrays) of integer, float or string type are values the format uses;
    // anything else is described (type and shape) but never read.
    int scalar = s.count == 1 && s.rank <= 1;
    if (ti.cls == T_FSTR && (uint64_t)ti.size > k->lim->max_string_bytes) {
        fail(k, where, "is a %zu-byte string; at most %llu bytes are allowed", ti.size,
             (unsigned long long)k->lim->max_string_bytes);
        goto done;
    }
    // The value is read completely before its record is sent: a failure never leaves half a record.
    uint8_t kind = 0;
    int64_t iv = 0;
    double dv = 0;
    size_t sn = 0;
    if (scalar && ti.cls == T_INT) {
        if (H5Aread(a, H5T_NATIVE_INT64, &iv) < 0) { fail_hdf5(k, where, "cannot read the attribute"); goto done; }
        kind = 1;
    } else if (scalar && ti.cls == T_FLOAT) {
        if (H5Aread(a, H5T_NATIVE_DOUBLE, &dv) < 0) { fail_hdf5(k, where, "cannot read the attribute"); goto done; }
        kind = 2;
    } else if (scalar && ti.cls == T_VSTR) {
        hid_t m = H5Tcopy(H5T_C_S1);
        H5Tset_size(m, H5T_VARIABLE);
        H5Tset_cset(m, H5Tget_cset(t));
        char *p = NULL;
        if (H5Aread(a, m, &p) < 0) { H5Tclose(m); fail_hdf5(k, where, "cannot read the string attribute"); goto done; }
        size_t n = p ? strnlen(p, (size_t)k->lim->max_string_bytes + 1) : 0;
        if (n <= k->lim->max_string_bytes) {
            sv = malloc(n + 1);
            if (sv) { memcpy(sv, p ? p : "", n); sn = n; }
        }
        H5Dvlen_reclaim(m, space, H5P_DEFAULT, &p);
        H5Tclose(m);
        if (n > k->lim->max_string_bytes) {
            fail(k, where, "is a string of more than %llu bytes", (unsigned long long)k->lim->max_string_bytes);
            goto done;
        }
        if (!sv) { fail(k, where, "out of memory"); goto done; }
        kind = 3;
    } else if (scalar && ti.cls == T_FSTR) {
        hid_t m = H5Tcopy(H5T_C_S1);
        H5Tset_size(m, ti.size);
        H5Tset_cset(m, H5Tget_cset(t));
        H5Tset_strpad(m, H5T_STR_NULLPAD);
        sv = calloc(1, ti.size + 1);
        if (!sv || H5Aread(a, m, sv) < 0) {
            H5Tclose(m);
            fail_hdf5(k, where, "cannot read the string attribute");
            goto done;
        }
        H5Tclose(m);
        sn = strnlen(sv, ti.size);
        if (H5Tget_strpad(t) == H5T_STR_SPACEPAD) while (sn > 0 && sv[sn - 1] == ' ') sn--;
        kind = 3;
    }
    w_u8(k->w, 'A');
    w_cstr(k->w, path);
    w_cstr(k->w, name);
    emit_type(k->w, &ti);
    emit_shape(k->w, &s);
    w_u8(k->w, kind);
    if (kind == 1) w_bytes(k->w, &iv, 8);
    else if (kind == 2) w_bytes(k->w, &dv, 8);
    else if (kind == 3) w_str(k->w, sv, sn);
    free(sv);
    sv = NULL;
    rc = 0;
done:
    free(sv);
    if (t >= 0) H5Tclose(t);
    if (space >= 0) H5Sclose(space);
    H5Aclose(a);
    return rc;
}

static int walk_attributes(walk *k, hid_t obj, const char *path) {
    name_list names = { .max = k->lim->max_attributes, .max_len = k->lim->max_name_bytes };
    hsize_t idx = 0;
    herr_t r = H5Aiterate2(obj, H5_INDEX_NAME, H5_ITER_INC, &idx, attr_name_cb, &names);
    int rc = 0;
    if (names.too_many) {
        fail(k, path, "has more than %u attributes", k->lim->max_attributes);
        rc = -1;
    } else if (names.too_long) {
        fail(k, path, "has an attribute name longer than %u bytes", k->lim->max_name_bytes);
        rc = -1;
    } else if (r < 0) {
        fail_hdf5(k, path, "cannot list the attributes");
        rc = -1;
    }
    for (uint32_t i = 0; rc == 0 && i < names.count; i++) rc = walk_attribute(k, obj, path, names.names[i]);
    name_list_free(&names);
    return rc;
}

// MARK: Datasets

static int walk_dataset(walk *k, hid_t d, const char *path, int *kept) {
    int rc = -1;
    hid_t dcpl = H5Dget_create_plist(d), t = H5Dget_type(d), space = H5Dget_space(d);
    if (dcpl < 0 || t < 0 || space < 0) { fail_hdf5(k, path, "cannot read the dataset's properties"); goto done; }

    // Storage: only data inside this file, through the writer's filters.
    H5D_layout_t layout = H5Pget_layout(dcpl);
    if (layout == H5D_VIRTUAL) { fail(k, path, "is a virtual dataset (its data would be read from other files); not allowed"); goto done; }
    if (layout != H5D_COMPACT && layout != H5D_CONTIGUOUS && layout != H5D_CHUNKED) {
        fail(k, path, "has an unknown storage layout (%d)", (int)layout);
        goto done;
    }
    int external = H5Pget_external_count(dcpl);
    if (external != 0) {
        fail(k, path, "keeps its data in %s (HDF5 external storage); not allowed: a checkpoint holds its data itself",
             external > 0 ? "other files" : "an unreadable external-storage list");
        goto done;
    }
    int nfilters = H5Pget_nfilters(dcpl);
    if (nfilters < 0 || nfilters > 2) { fail(k, path, "has %d filters; at most shuffle and deflate are allowed", nfilters); goto done; }
    for (int i = 0; i < nfilters; i++) {
        unsigned flags = 0, config = 0;
        size_t nelmts = 0;
        char fname[64] = "";
        H5Z_filter_t f = H5Pget_filter2(dcpl, (unsigned)i, &flags, &nelmts, NULL, sizeof(fname), fname, &config);
        if (f != H5Z_FILTER_DEFLATE && f != H5Z_FILTER_SHUFFLE) {
            fail(k, path, "uses the HDF5 filter %d ('%s'); only shuffle and deflate (gzip) are allowed", (int)f, fname);
            goto done;
        }
    }
    shape_info s;
    if (read_shape(k, path, space, &s) < 0) goto done;
    if (s.count > k->lim->max_dataset_elements) {
        fail(k, path, "declares %llu values; at most %llu are allowed in one dataset", (unsigned long long)s.count,
             (unsigned long long)k->lim->max_dataset_elements);
        goto done;
    }
    if (layout == H5D_CHUNKED) {
        hsize_t chunk[H5S_MAX_RANK];
        int crank = H5Pget_chunk(dcpl, H5S_MAX_RANK, chunk);
        if (crank != s.rank) { fail(k, path, "has chunks of rank %d for a dataset of rank %d", crank, s.rank); goto done; }
        int overflow = 0;
        uint64_t n = 1;
        for (int i = 0; i < crank; i++) n = mul_checked(n, chunk[i], &overflow);
        if (overflow || n > k->lim->max_dataset_elements) {
            fail(k, path, "has chunks of more than %llu values", (unsigned long long)k->lim->max_dataset_elements);
            goto done;
        }
    }
    type_info ti;
    classify(t, &ti);
    {
        if (__builtin_add_overflow(k->total_elements, s.count, &k->total_elements)
            || k->total_elements > k->lim->max_total_elements) {
            fail(k, path, "brings the file's values to more than %llu; not allowed",
                 (unsigned long long)k->lim->max_total_elements);
            goto done;
        }
    }
    // Values must have been written: an unallocated dataset would be read as fill values, so a tiny file could
    // declare gigabytes.
    if (s.count > 0 && layout == H5D_CHUNKED) {
        // Chunked data: every chunk the shape needs must be stored (H5Dget_space_status reports compressed
        // chunks as partly allocated, so count them).
        hsize_t chunk[H5S_MAX_RANK], needed = 1, stored = 0;
        H5Pget_chunk(dcpl, H5S_MAX_RANK, chunk);
        for (int i = 0; i < s.rank; i++) needed *= chunk[i] ? (s.dims[i] + chunk[i] - 1) / chunk[i] : 0;
        if (H5Dget_num_chunks(d, space, &stored) < 0) { fail_hdf5(k, path, "cannot count the dataset's chunks"); goto done; }
        if (stored < needed) {
            fail(k, path, "declares %llu values but stores %s of them", (unsigned long long)s.count, stored == 0 ? "none" : "only some");
            goto done;
        }
    } else if (s.count > 0) {
        H5D_space_status_t status;
        if (H5Dget_space_status(d, &status) < 0) { fail_hdf5(k, path, "cannot read the dataset's storage status"); goto done; }
        if (status != H5D_SPACE_STATUS_ALLOCATED) {
            fail(k, path, "declares %llu values but stores %s of them", (unsigned long long)s.count,
                 status == H5D_SPACE_STATUS_NOT_ALLOCATED ? "none" : "only some");
            goto done;
        }
        if (nfilters == 0 && layout != H5D_COMPACT) {
            int overflow = 0;
            uint64_t bytes = mul_checked(s.count, ti.size, &overflow);
            hsize_t stored = H5Dget_storage_size(d);
            if (overflow || stored < bytes) {
                fail(k, path, "declares %llu values of %zu bytes but stores %llu bytes", (unsigned long long)s.count,
                     ti.size, (unsigned long long)stored);
                goto done;
            }
        }
    }

    uint8_t elem = 0;
    hid_t mem = -1;
    int half = 0;
    if (ti.cls == T_FLOAT) { elem = ti.size <= 4 ? 4 : 8; mem = ti.size <= 4 ? H5T_NATIVE_FLOAT : H5T_NATIVE_DOUBLE; }
    if (ti.cls == T_FLOAT && ti.size == 2) {
        // float16 is read as its own bits in the native byte order (a copy, or a byte swap) and widened by
        // half_to_float: libhdf5 converts float16 to float32 bit by bit in software, which took about a tenth
        // of a small codec's decompression. If the type cannot be made, libhdf5 converts after all.
        hid_t bits = H5Tcopy(t);
        if (bits >= 0 && H5Tset_order(bits, H5Tget_order(H5T_NATIVE_FLOAT)) >= 0) { mem = bits; half = 1; }
        else if (bits >= 0) H5Tclose(bits);
    }
    else if (ti.cls == T_INT) { elem = 'i'; mem = H5T_NATIVE_INT64; }
    size_t esize = elem == 4 ? 4 : 8;
    if (elem != 0) {
        struct pending *grown = realloc(k->pending, (k->pending_count + 1) * sizeof(*grown));
        if (grown) k->pending = grown;
        char *pcopy = grown ? strdup(path) : NULL;
        if (!pcopy) { fail(k, path, "out of memory"); goto done; }
        k->pending[k->pending_count++] = (struct pending){ d, mem, s.count, esize, elem, pcopy, half };
        k->value_bytes += s.count * esize;   // at most max_total_elements × 8: no overflow
        *kept = 1;
    }
    // The whole record at once (its values follow in a 'V' record after the traversal).
    w_u8(k->w, 'D');
    w_cstr(k->w, path);
    emit_type(k->w, &ti);
    emit_shape(k->w, &s);
    w_u8(k->w, elem);
    if (elem != 0) w_u64(k->w, s.count);
    rc = 0;
done:
    if (dcpl >= 0) H5Pclose(dcpl);
    if (t >= 0) H5Tclose(t);
    if (space >= 0) H5Sclose(space);
    return rc;
}

/// IEEE binary16 bits → the float32 of the same value (exact: every half is a float), as the hardware
/// conversion: infinities keep their sign, NaNs their payload (shifted into the float's mantissa) and are quiet.
static float half_to_float(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, exp = (h >> 10) & 0x1fu, man = h & 0x3ffu, bits;
    if (exp == 0x1f) bits = sign | 0x7f800000u | (man << 13) | (man ? 0x400000u : 0);
    else if (exp != 0) bits = sign | ((exp + 112) << 23) | (man << 13);
    else if (man == 0) bits = sign;
    else {
        // Subnormal: man · 2^−24. Shift the leading one up to bit 10; each shift lowers the exponent by one.
        uint32_t e = 113;
        while (!(man & 0x400u)) { man <<= 1; e--; }
        bits = sign | (e << 23) | ((man & 0x3ffu) << 13);
    }
    float f;
    memcpy(&f, &bits, sizeof(f));
    return f;
}

/// Reads `count` float16 values of `d` as their bits (`mem`: the stored type in native byte order) and widens
/// them into the float32 buffer `out`.
static int read_half(hid_t d, hid_t mem, uint64_t count, float *out) {
    uint16_t *bits = malloc((size_t)count * sizeof(uint16_t));
    if (!bits) return -1;
    int rc = H5Dread(d, mem, H5S_ALL, H5S_ALL, H5P_DEFAULT, bits) < 0 ? -1 : 0;
    if (rc == 0) for (uint64_t i = 0; i < count; i++) out[i] = half_to_float(bits[i]);
    free(bits);
    return rc;
}

// MARK: Groups

static int seen_before(walk *k, haddr_t addr) {
    for (uint32_t i = 0; i < k->seen_count; i++) if (k->seen[i] == addr) return 1;
    return 0;
}

static int walk_group(walk *k, hid_t g, const char *path, uint32_t depth) {
    w_u8(k->w, 'G');
    w_cstr(k->w, path);
    if (walk_attributes(k, g, path) < 0) return -1;

    name_list names = { .max = k->lim->max_members, .max_len = k->lim->max_name_bytes };
    hsize_t idx = 0;
    herr_t r = H5Literate(g, H5_INDEX_NAME, H5_ITER_INC, &idx, link_name_cb, &names);
    int rc = 0;
    if (names.too_many) { fail(k, path, "has more than %u members", k->lim->max_members); rc = -1; }
    else if (names.too_long) { fail(k, path, "has a member name longer than %u bytes", k->lim->max_name_bytes); rc = -1; }
    else if (r < 0) { fail_hdf5(k, path, "cannot list the members"); rc = -1; }

    for (uint32_t i = 0; rc == 0 && i < names.count; i++) {
        const char *name = names.names[i];
        char cpath[2048];
        child_path(cpath, sizeof(cpath), path, name);
        if (strlen(path) + strlen(name) + 2 > sizeof(cpath)) { fail(k, path, "has a path too long"); rc = -1; break; }
        // The link itself first: only hard links inside the file. Soft links could alias or loop; external
        // links point into other files. Neither is followed.
        H5L_info_t li;
        if (H5Lget_info(g, name, &li, H5P_DEFAULT) < 0) { fail_hdf5(k, cpath, "cannot read the link"); rc = -1; break; }
        if (li.type != H5L_TYPE_HARD) {
            fail(k, cpath, "is %s; only plain members are allowed (links are never followed)",
                 li.type == H5L_TYPE_SOFT ? "a soft link" : li.type == H5L_TYPE_EXTERNAL ? "an external link into another file"
                 : "a user-defined link");
            rc = -1;
            break;
        }
        if (seen_before(k, li.u.address)) {
            fail(k, cpath, "is a second link to an object already in the file; not allowed");
            rc = -1;
            break;
        }
        if (++k->objects > k->lim->max_objects) {
            fail(k, cpath, "the file has more than %u groups and datasets", k->lim->max_objects);
            rc = -1;
            break;
        }
        haddr_t *grown = realloc(k->seen, (k->seen_count + 1) * sizeof(haddr_t));
        if (!grown) { fail(k, cpath, "out of memory"); rc = -1; break; }
        k->seen = grown;
        k->seen[k->seen_count++] = li.u.address;

        H5O_info_t oi;
        if (H5Oget_info_by_name2(g, name, &oi, H5O_INFO_BASIC, H5P_DEFAULT) < 0) {
            fail_hdf5(k, cpath, "cannot read the object");
            rc = -1;
            break;
        }
        if (oi.type == H5O_TYPE_GROUP) {
            if (depth + 1 > k->lim->max_depth) {
                fail(k, cpath, "is nested deeper than %u groups", k->lim->max_depth);
                rc = -1;
                break;
            }
            hid_t c = H5Gopen2(g, name, H5P_DEFAULT);
            if (c < 0) { fail_hdf5(k, cpath, "cannot open the group"); rc = -1; break; }
            rc = walk_group(k, c, cpath, depth + 1);
            H5Gclose(c);
        } else if (oi.type == H5O_TYPE_DATASET) {
            hid_t d = H5Dopen2(g, name, k->dapl);
            if (d < 0) { fail_hdf5(k, cpath, "cannot open the dataset"); rc = -1; break; }
            int kept = 0;
            rc = walk_dataset(k, d, cpath, &kept);
            if (rc == 0) rc = walk_attributes(k, d, cpath);
            if (!kept) H5Dclose(d);
        } else {
            fail(k, cpath, "is %s; a checkpoint holds only groups and datasets",
                 oi.type == H5O_TYPE_NAMED_DATATYPE ? "a named datatype" : "an object of unknown type");
            rc = -1;
        }
    }
    name_list_free(&names);
    return rc;
}

// MARK: Entry points

/// One walk over an open file. Returns 0 when the walk completed (with or without an 'E' record).
static void walk_file(hid_t f, walk *k) {
    hid_t root = H5Gopen2(f, "/", H5P_DEFAULT);
    if (root < 0) { fail_hdf5(k, "/", "cannot open the root group"); return; }
    H5O_info_t oi;
    if (H5Oget_info2(root, &oi, H5O_INFO_BASIC) >= 0) {
        k->seen = malloc(sizeof(haddr_t));
        if (k->seen) { k->seen[0] = oi.addr; k->seen_count = 1; }
    }
    walk_group(k, root, "/", 0);
    H5Gclose(root);
}

int flexh5_snapshot_walk_to_fd(const void *image, size_t size, const flexh5_limits *limits, int fd) {
    writer *w = calloc(1, sizeof(writer));
    if (!w) return -1;
    w->fd = fd;
    w_bytes(w, "FH5S", 4);
    w_u32(w, 2);

    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    walk k;
    memset(&k, 0, sizeof(k));
    k.lim = limits;

    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    hid_t f = -1;
    if (fapl < 0 || H5Pset_fapl_core(fapl, 1 << 20, 0) < 0 || H5Pset_file_image(fapl, (void *)image, size) < 0
        || H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG) < 0) {
        fail_hdf5(&k, "", "cannot set up the HDF5 reader");
    } else {
        f = H5Fopen("checkpoint", H5F_ACC_RDONLY, fapl);
        if (f < 0) {
            char detail[512];
            take_hdf5_detail(detail, sizeof(detail));
            if (strstr(detail, "truncated"))
                fail(&k, "", "truncated file: the file has %zu bytes, fewer than its HDF5 superblock records (HDF5: %s); copy it again", size, detail);
            else fail(&k, "", "damaged HDF5 file (%zu bytes): cannot open it (HDF5: %s)", size, detail[0] ? detail : "no detail");
        }
    }
    // External storage and virtual datasets are refused before any read; these prefixes make sure that even a
    // path the checks missed could not reach a file ("/dev/null/" is not a folder).
    k.dapl = H5Pcreate(H5P_DATASET_ACCESS);
    if (k.dapl >= 0) {
        H5Pset_efile_prefix(k.dapl, "/dev/null/");
        H5Pset_virtual_prefix(k.dapl, "/dev/null/");
    }
    if (f >= 0) {
        k.w = w;
        walk_file(f, &k);
        if (!k.failed && w->total + k.value_bytes + 64 > limits->max_output_bytes) {
            fail(&k, "", "holds more than %llu bytes of values and attributes; not allowed",
                 (unsigned long long)limits->max_output_bytes);
        }
        // The values, only once the whole file has passed.
        for (uint32_t i = 0; i < k.pending_count; i++) {
            struct pending *p = &k.pending[i];
            if (!k.failed) {
                size_t bytes = (size_t)p->count * p->esize;
                void *buf = bytes ? malloc(bytes) : NULL;
                if (bytes && !buf) fail(&k, p->path, "out of memory for %llu values", (unsigned long long)p->count);
                else if (bytes && !p->half && H5Dread(p->d, p->mem, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0)
                    fail_hdf5(&k, p->path, "cannot read the values (the file is damaged)");
                else if (bytes && p->half && read_half(p->d, p->mem, p->count, buf) < 0)
                    fail_hdf5(&k, p->path, "cannot read the values (the file is damaged)");
                else {
                    w_u8(w, 'V');
                    w_cstr(w, p->path);
                    w_u8(w, p->elem);
                    w_u64(w, p->count);
                    w_bytes(w, buf, bytes);
                }
                free(buf);
            }
            H5Dclose(p->d);
            if (p->half) H5Tclose(p->mem);
            free(p->path);
        }
        free(k.pending);
        H5Fclose(f);
    }
    if (k.failed) {
        w_u8(w, 'E');
        w_cstr(w, k.err_path);
        w_cstr(w, k.err_msg);
    }
    w_u8(w, 'Z');
    w_flush(w);
    int failed = w->failed;
    free(w);
    free(k.seen);
    if (fapl >= 0) H5Pclose(fapl);
    if (k.dapl >= 0) H5Pclose(k.dapl);
    return failed ? -1 : 0;
}

/// Current virtual size of this process in bytes (0 if unknown).
static uint64_t current_address_space(void) {
    FILE *f = fopen("/proc/self/statm", "re");
    if (!f) return 0;
    unsigned long long pages = 0;
    int n = fscanf(f, "%llu", &pages);
    fclose(f);
    return n == 1 ? pages * (uint64_t)sysconf(_SC_PAGESIZE) : 0;
}

static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int flexh5_snapshot(const void *image, size_t size, const flexh5_limits *limits, uint8_t **out, size_t *out_size,
                    int *detail) {
    *out = NULL;
    *out_size = 0;
    *detail = 0;
    uint64_t base = current_address_space();
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) { *detail = errno; return FLEXH5_SYSTEM; }
    pid_t pid = fork();
    if (pid < 0) {
        *detail = errno;
        close(fds[0]);
        close(fds[1]);
        return FLEXH5_SYSTEM;
    }
    if (pid == 0) {
        // The child: default dispositions for crash signals (no backtracer, no core file), the parent's
        // interrupt handlers undone (they clean up the parent's temporary files), bounded memory and CPU time,
        // no file may be created or grown.
        close(fds[0]);
        int crash[] = { SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGTRAP, SIGSYS, SIGINT, SIGTERM, SIGHUP, SIGPIPE, SIGXCPU };
        for (size_t i = 0; i < sizeof(crash) / sizeof(crash[0]); i++) signal(crash[i], SIG_DFL);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        struct rlimit rl;
        rl.rlim_cur = rl.rlim_max = 0;
        setrlimit(RLIMIT_CORE, &rl);
        setrlimit(RLIMIT_FSIZE, &rl);
        if (base > 0 && limits->memory_bytes > 0) {
            rl.rlim_cur = rl.rlim_max = base + limits->memory_bytes;
            setrlimit(RLIMIT_AS, &rl);
        }
        unsigned secs = limits->timeout_ms / 1000 + 1;
        rl.rlim_cur = secs;
        rl.rlim_max = secs + 1;
        setrlimit(RLIMIT_CPU, &rl);
        int rc = flexh5_snapshot_walk_to_fd(image, size, limits, fds[1]);
        _exit(rc == 0 ? 0 : 3);
    }
    close(fds[1]);

    // The parent: read the stream with a deadline and a size cap.
    size_t cap = 1 << 16, used = 0;
    uint8_t *buf = malloc(cap);
    int result = FLEXH5_OK;
    int64_t deadline = now_ms() + limits->timeout_ms;
    for (;;) {
        if (!buf) { result = FLEXH5_SYSTEM; *detail = ENOMEM; break; }
        int64_t left = deadline - now_ms();
        if (left <= 0) { result = FLEXH5_TIMED_OUT; break; }
        struct pollfd p = { fds[0], POLLIN, 0 };
        int pr = poll(&p, 1, (int)(left > 1000000 ? 1000000 : left));
        if (pr < 0) {
            if (errno == EINTR) continue;
            result = FLEXH5_SYSTEM;
            *detail = errno;
            break;
        }
        if (pr == 0) { result = FLEXH5_TIMED_OUT; break; }
        if (used == cap) {
            if (cap >= limits->max_output_bytes) { result = FLEXH5_TOO_LARGE; break; }
            size_t ncap = cap * 2 > limits->max_output_bytes ? (size_t)limits->max_output_bytes : cap * 2;
            uint8_t *g = realloc(buf, ncap);
            if (!g) { result = FLEXH5_SYSTEM; *detail = ENOMEM; break; }
            buf = g;
            cap = ncap;
        }
        ssize_t n = read(fds[0], buf + used, cap - used);
        if (n < 0) {
            if (errno == EINTR || errno == EAGAIN) continue;
            result = FLEXH5_SYSTEM;
            *detail = errno;
            break;
        }
        if (n == 0) break;
        used += (size_t)n;
    }
    close(fds[0]);
    if (result != FLEXH5_OK) kill(pid, SIGKILL);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
    if (result == FLEXH5_OK) {
        if (WIFSIGNALED(status)) {
            result = WTERMSIG(status) == SIGXCPU || WTERMSIG(status) == SIGKILL ? FLEXH5_TIMED_OUT : FLEXH5_CRASHED;
            *detail = WTERMSIG(status);
        } else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            result = FLEXH5_EXITED;
            *detail = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        }
    }
    if (result != FLEXH5_OK) {
        free(buf);
        return result;
    }
    *out = buf;
    *out_size = used;
    return FLEXH5_OK;
}
