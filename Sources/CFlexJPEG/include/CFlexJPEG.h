// JPEG decoding with libjpeg-turbo, for flexctl. Internal: no stable API.
//
// libjpeg reports errors by longjmp from its error manager, which must never cross Swift frames: every libjpeg
// call happens inside the functions below, each of which sets its own jump target and returns a status instead.
// libjpeg never prints: errors and warnings are recorded in the caller's message buffer, and a warning that
// means damaged pixels (corrupt or truncated entropy-coded data, a bad progression) stops decoding like an
// error. Decoding is two-phase so that the caller sees the image's size before it allocates the pixel buffer:
// flexjpeg_begin reads the markers up to the first scan and checks the limits, flexjpeg_finish decodes the
// pixels into the caller's buffer, flexjpeg_free releases the decoder (after either).
#pragma once
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// What a decoder may be asked to do; all checked by flexjpeg_begin before any image-sized allocation.
typedef struct flexjpeg_limits {
    /// The largest width or height.
    uint32_t max_side;
    /// The largest width · height.
    uint64_t max_pixels;
    /// The largest whole-image coefficient buffer (bytes), which progressive and other multi-scan files need:
    /// 128 bytes per 8×8 block of each component (after subsampling, padded to whole MCUs). It is also given
    /// to libjpeg as its memory limit (plus a margin for its small per-row buffers).
    uint64_t max_coefficient_bytes;
    /// The most scans (SOS markers) decoded; each scan of a progressive file passes over the whole image, so a
    /// small file with thousands of scans would cost minutes of CPU (libjpeg-turbo's TurboJPEG API has the same
    /// guard, with 500).
    uint32_t max_scans;
} flexjpeg_limits;

/// The file's colour space as libjpeg sees it (from the component count, JFIF/Adobe markers and component IDs).
typedef enum flexjpeg_color_space {
    FLEXJPEG_UNKNOWN = 0,
    FLEXJPEG_GRAYSCALE = 1,
    FLEXJPEG_YCBCR = 2,
    FLEXJPEG_RGB = 3,
    FLEXJPEG_CMYK = 4,
    FLEXJPEG_YCCK = 5,
} flexjpeg_color_space;

typedef enum flexjpeg_status {
    FLEXJPEG_OK = 0,
    /// libjpeg-turbo stopped with an error or a warning about damaged data: the message says which.
    FLEXJPEG_LIBJPEG_ERROR = 1,
    /// Width or height is 0, or above max_side, or width · height above max_pixels.
    FLEXJPEG_TOO_LARGE = 2,
    /// Neither gray (1 component) nor colour (3 components, YCbCr or RGB): CMYK, YCCK, 2 or 4+ components.
    FLEXJPEG_UNSUPPORTED_COLOR = 3,
    /// A multi-scan file whose coefficient buffer would exceed max_coefficient_bytes.
    FLEXJPEG_TOO_MUCH_MEMORY = 4,
    /// A Huffman-coded file too short to hold its image: every 8×8 block of every component costs at least one
    /// bit (its DC code), so fewer than blocks / 8 bytes of data mean a truncated or forged header.
    FLEXJPEG_TOO_SHORT = 5,
    /// More than max_scans scans.
    FLEXJPEG_TOO_MANY_SCANS = 6,
    /// The caller's buffer does not fit the image, or malloc failed.
    FLEXJPEG_BAD_CALL = 7,
} flexjpeg_status;

/// The facts flexjpeg_begin found, filled in as far as the header was read (also on refusals, for messages).
typedef struct flexjpeg_header {
    uint32_t width;
    uint32_t height;
    /// Components in the file (1–4 for the colour spaces above; libjpeg accepts up to 10).
    uint32_t components;
    /// A flexjpeg_color_space.
    uint32_t color_space;
    /// 1 for SOF2/SOF10 (progressive), 1 for arithmetic coding, 1 when libjpeg needs the whole-image
    /// coefficient buffer (progressive, or components in separate scans).
    uint32_t progressive;
    uint32_t arithmetic;
    uint32_t multiple_scans;
    /// The coefficient buffer a multi-scan file needs (0 for single-scan files), in bytes.
    uint64_t coefficient_bytes;
    /// 8×8 blocks over all components (each costs at least one bit of Huffman-coded data).
    uint64_t blocks;
    /// Output samples per pixel after libjpeg's colour conversion: 1 (gray) or 3 (RGB).
    uint32_t channels;
    /// Scans (SOS markers) seen so far.
    uint32_t scans;
} flexjpeg_header;

typedef struct flexjpeg_decoder flexjpeg_decoder;

/// Reads the JPEG in data[0 ..< size] up to its first scan and checks it against the limits: size, colour
/// space (gray or YCbCr/RGB), coefficient memory, and for Huffman coding that the file is long enough to hold
/// the image. APPn and COM markers (EXIF, ICC, ...) are skipped unread. The bytes must stay valid and unchanged
/// until flexjpeg_free: the decoder reads them in place. Returns FLEXJPEG_OK and sets *decoder, or another
/// status with *decoder NULL (header filled in as far as it was read; for FLEXJPEG_LIBJPEG_ERROR, libjpeg's
/// message in message, NUL-terminated, truncated to message_capacity).
flexjpeg_status flexjpeg_begin(const unsigned char *data, size_t size, flexjpeg_limits limits,
                               flexjpeg_decoder **decoder, flexjpeg_header *header, char *message,
                               size_t message_capacity);

/// Decodes the image into pixels[0 ..< capacity] (at least width · height · channels bytes): 8-bit samples
/// after libjpeg's colour conversion to RGB (or gray as stored), libjpeg's default accurate integer IDCT and
/// smooth chroma upsampling (as djpeg), no gamma or ICC processing, rows top to bottom, no padding. Reads up to
/// EOI. header->scans is updated. Returns FLEXJPEG_OK, or another status (with a message for
/// FLEXJPEG_LIBJPEG_ERROR); the decoder must be freed either way and cannot be used again.
flexjpeg_status flexjpeg_finish(flexjpeg_decoder *decoder, unsigned char *pixels, size_t capacity,
                                flexjpeg_header *header, char *message, size_t message_capacity);

/// Releases the decoder (NULL is allowed).
void flexjpeg_free(flexjpeg_decoder *decoder);

#ifdef __cplusplus
}
#endif
