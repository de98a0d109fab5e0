// zlib for flexctl. No stable API: internal to flexctl.
// deflateInit2 / inflateInit2 are macros; these inline functions make them callable from Swift.
#ifndef FLEXCTL_CZLIB_SHIM_H
#define FLEXCTL_CZLIB_SHIM_H
#include <string.h>
#include <zlib.h>

static inline int czlib_deflateInit2(z_streamp strm, int level, int method, int windowBits, int memLevel, int strategy) {
    return deflateInit2_(strm, level, method, windowBits, memLevel, strategy, ZLIB_VERSION, (int)sizeof(z_stream));
}

static inline int czlib_inflateInit2(z_streamp strm, int windowBits) {
    return inflateInit2_(strm, windowBits, ZLIB_VERSION, (int)sizeof(z_stream));
}

/// What went wrong in an inflate() call that returned `rc`, as words for an error message, never a bare code:
/// zlib's own text when it set one (`strm->msg`, e.g. "invalid block type"; the checksum messages are
/// reworded because "incorrect data check" alone means little), otherwise a description of the code, for which
/// zlib leaves `msg` unset (Z_NEED_DICT, Z_MEM_ERROR, ...). Shared by the .flexz reader and the gzip loader.
static inline const char *czlib_inflate_problem(const z_stream *strm, int rc) {
    const char *m = strm->msg;
    if (m != NULL) {
        if (strcmp(m, "incorrect data check") == 0) return "the checksum of the decompressed data does not match the stored one";
        if (strcmp(m, "incorrect length check") == 0) return "the decompressed length does not match the stored one";
        if (strcmp(m, "incorrect header check") == 0) return "the zlib header is invalid";
        if (strcmp(m, "header crc mismatch") == 0) return "the gzip header's checksum does not match";
        return m;
    }
    switch (rc) {
    case Z_NEED_DICT: return "the stream asks for a preset dictionary, which this format never uses";
    case Z_DATA_ERROR: return "the compressed data is invalid";
    case Z_MEM_ERROR: return "out of memory while decompressing";
    case Z_BUF_ERROR: return "the compressed data ends too early";
    case Z_STREAM_ERROR: return "the decompressor was given an inconsistent state";
    default: return "the decompressor stopped unexpectedly";
    }
}
#endif
