// zlib for flexctl. No stable API: internal to flexctl.
// deflateInit2 / inflateInit2 are macros; these inline functions make them callable from Swift.
#ifndef FLEXCTL_CZLIB_SHIM_H
#define FLEXCTL_CZLIB_SHIM_H
#include <zlib.h>

static inline int czlib_deflateInit2(z_streamp strm, int level, int method, int windowBits, int memLevel, int strategy) {
    return deflateInit2_(strm, level, method, windowBits, memLevel, strategy, ZLIB_VERSION, (int)sizeof(z_stream));
}

static inline int czlib_inflateInit2(z_streamp strm, int windowBits) {
    return inflateInit2_(strm, windowBits, ZLIB_VERSION, (int)sizeof(z_stream));
}
#endif
