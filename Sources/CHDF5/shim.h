// HDF5 C library for FlexHDF5. Internal to flexctl; no stable API.
//
// Swift cannot import HDF5's type and property-list macros (they expand to H5open() plus a global `*_g`
// variable, and Swift 6 rejects the mutable globals), so each one is wrapped in a static inline function.
// Versioned API names (H5Gcreate, H5Dopen, ...) are macros too: Swift calls H5Gcreate2, H5Dopen2, etc.
#ifndef CHDF5_SHIM_H
#define CHDF5_SHIM_H

// Debian and Ubuntu keep the serial HDF5 headers in hdf5/serial/; other systems in the include root.
// pkg-config (hdf5-serial) gives the include and library folders; release builds link the static archive
// instead of libhdf5.so (scripts/build-release).
#if __has_include(<hdf5/serial/hdf5.h>)
#include <hdf5/serial/hdf5.h>
#else
#include <hdf5.h>
#endif
#include <string.h>

// Predefined datatypes.
static inline hid_t chdf5_native_float(void) { return H5T_NATIVE_FLOAT; }
static inline hid_t chdf5_native_double(void) { return H5T_NATIVE_DOUBLE; }
static inline hid_t chdf5_native_int64(void) { return H5T_NATIVE_INT64; }
static inline hid_t chdf5_native_int32(void) { return H5T_NATIVE_INT32; }
static inline hid_t chdf5_native_uint16(void) { return H5T_NATIVE_UINT16; }
static inline hid_t chdf5_ieee_f32le(void) { return H5T_IEEE_F32LE; }
static inline hid_t chdf5_ieee_f64le(void) { return H5T_IEEE_F64LE; }
static inline hid_t chdf5_std_i64le(void) { return H5T_STD_I64LE; }
static inline hid_t chdf5_std_i32le(void) { return H5T_STD_I32LE; }
static inline hid_t chdf5_c_s1(void) { return H5T_C_S1; }

// Property-list classes and defaults.
static inline hid_t chdf5_p_dataset_create(void) { return H5P_DATASET_CREATE; }
static inline hid_t chdf5_p_file_access(void) { return H5P_FILE_ACCESS; }
static inline hid_t chdf5_p_default(void) { return H5P_DEFAULT; }
static inline hid_t chdf5_s_all(void) { return H5S_ALL; }
static inline hid_t chdf5_e_default(void) { return H5E_DEFAULT; }

// File access flags.
static inline unsigned chdf5_acc_rdonly(void) { return H5F_ACC_RDONLY; }
static inline unsigned chdf5_acc_rdwr(void) { return H5F_ACC_RDWR; }
static inline unsigned chdf5_acc_trunc(void) { return H5F_ACC_TRUNC; }
static inline unsigned chdf5_acc_excl(void) { return H5F_ACC_EXCL; }

static inline size_t chdf5_variable(void) { return H5T_VARIABLE; }

/// IEEE 754 binary16, little-endian, built the way h5py builds its float16 type (HDF5 1.10 has no
/// H5T_IEEE_F16LE): sign bit 15, exponent bits 10–14 (bias 15), mantissa bits 0–9, 2 bytes.
/// The caller closes the returned type with H5Tclose.
static inline hid_t chdf5_ieee_f16le_create(void) {
    hid_t t = H5Tcopy(H5T_IEEE_F32LE);
    if (t < 0) return t;
    if (H5Tset_fields(t, 15, 10, 5, 0, 10) < 0 || H5Tset_size(t, 2) < 0 || H5Tset_precision(t, 16) < 0
        || H5Tset_ebias(t, 15) < 0) {
        H5Tclose(t);
        return -1;
    }
    return t;
}

/// Turns off HDF5's automatic printing of its error stack (for all threads' default stack).
static inline herr_t chdf5_silence_errors(void) { return H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }

struct chdf5_error_text { char text[512]; int found; };

static inline herr_t chdf5_walk_callback(unsigned n, const H5E_error2_t *err, void *data) {
    struct chdf5_error_text *out = (struct chdf5_error_text *)data;
    (void)n;
    // The stack is walked innermost first: keep the first description, the most specific one.
    if (!out->found && err && err->desc && err->desc[0]) {
        strncpy(out->text, err->desc, sizeof(out->text) - 1);
        out->text[sizeof(out->text) - 1] = 0;
        out->found = 1;
    }
    return 0;
}

/// The innermost description on the current thread's error stack (empty if none), then clears the stack.
static inline void chdf5_take_error(char *buffer, size_t size) {
    struct chdf5_error_text e;
    memset(&e, 0, sizeof(e));
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, chdf5_walk_callback, &e);
    H5Eclear2(H5E_DEFAULT);
    if (size > 0) {
        strncpy(buffer, e.text, size - 1);
        buffer[size - 1] = 0;
    }
}

/// Frees the strings H5Aread/H5Dread allocated for variable-length string data.
static inline herr_t chdf5_reclaim_strings(hid_t memtype, hid_t space, char **strings) {
    return H5Dvlen_reclaim(memtype, space, H5P_DEFAULT, strings);
}

/// File access properties for every file flexctl opens:
/// - strong close degree: H5Fclose closes every object still open in the file, nothing survives it;
/// - no HDF5 file locking (flock): flexctl writes checkpoints and states only to new temporary files that are
///   renamed into place, and never modifies a file it reads, so the lock protects nothing here — while its file
///   descriptor, inherited by a child process spawned at the same moment (HDF5 does not open with O_CLOEXEC),
///   would keep the lock and make the next open of the file fail with EAGAIN.
static inline hid_t chdf5_fapl_strong_close(void) {
    hid_t p = H5Pcreate(H5P_FILE_ACCESS);
    if (p < 0) return p;
    if (H5Pset_fclose_degree(p, H5F_CLOSE_STRONG) < 0) { H5Pclose(p); return -1; }
    if (H5Pset_file_locking(p, 0, 1) < 0) { H5Pclose(p); return -1; }
    return p;
}

/// File access properties for a file built in memory (the core driver without a backing store): libhdf5 never
/// writes to disk, so a full disk cannot reach its close path (which crashes in 1.10.8 after a failed write);
/// the finished image is taken with H5Fget_file_image and written by flexctl's own atomic writer.
static inline hid_t chdf5_fapl_memory(void) {
    hid_t p = H5Pcreate(H5P_FILE_ACCESS);
    if (p < 0) return p;
    if (H5Pset_fapl_core(p, 1 << 20, 0) < 0 || H5Pset_fclose_degree(p, H5F_CLOSE_STRONG) < 0) { H5Pclose(p); return -1; }
    return p;
}

static inline int chdf5_is_threadsafe(void) {
    hbool_t ts = 0;
    H5is_library_threadsafe(&ts);
    return ts ? 1 : 0;
}

#endif
