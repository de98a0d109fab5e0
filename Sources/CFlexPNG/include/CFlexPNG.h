// PNG decoding with libpng's classic API, for flexctl. Internal: no stable API.
//
// libpng reports errors by longjmp, which must never cross Swift frames: every libpng call happens inside the
// functions below, each of which sets its own jump target and returns a status instead. Decoding is two-phase
// so that the caller sees the image's size before it allocates the pixel buffer: flexpng_begin reads the
// chunks up to the image data and reports the layout, flexpng_finish decodes the pixels into the caller's
// buffer, flexpng_free releases the decoder (after either).
#pragma once
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// The layout flexpng_finish delivers: samples as stored in the file (no gamma, colour or alpha processing),
/// palette expanded to RGB (RGBA with a tRNS chunk), gray of 1, 2 or 4 bits expanded to 8 by bit replication,
/// a tRNS colour key turned into an alpha channel; 16-bit samples big-endian, rows top to bottom, no padding.
typedef struct flexpng_header {
    uint32_t width;
    uint32_t height;
    /// 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA.
    uint32_t channels;
    /// 8 or 16.
    uint32_t bit_depth;
    /// Bytes per row of the output (width · channels · bit_depth / 8).
    size_t row_bytes;
    /// The file's own bit depth (1, 2, 4, 8, 16) and colour type (0, 2, 3, 4, 6), for messages.
    uint32_t file_bit_depth;
    uint32_t file_color_type;
} flexpng_header;

typedef struct flexpng_decoder flexpng_decoder;

/// Reads the signature and the chunks before the image data of the PNG in data[0 ..< size]. The decoder keeps
/// no pointer to the bytes, only how far it has read: each call is given the same bytes again. Widths or heights above max_side are refused by libpng itself.
/// Ancillary chunks other than tRNS (gAMA, sRGB, iCCP, cHRM, text, ...) are skipped unread: they never change
/// the samples. Returns 1 and sets *decoder and *header, or 0 with a message (NUL-terminated, truncated to
/// message_capacity) and *decoder NULL.
int flexpng_begin(const unsigned char *data, size_t size, uint32_t max_side, flexpng_decoder **decoder,
                  flexpng_header *header, char *message, size_t message_capacity);

/// Decodes the pixels into pixels[0 ..< capacity] (at least header.row_bytes · header.height bytes) and reads
/// the chunks up to IEND. data and size must be the ones given to flexpng_begin. Returns 1, or 0 with a
/// message; the decoder must be freed either way and cannot be used again.
int flexpng_finish(flexpng_decoder *decoder, const unsigned char *data, size_t size, unsigned char *pixels,
                   size_t capacity, char *message, size_t message_capacity);

/// Releases the decoder (NULL is allowed).
void flexpng_free(flexpng_decoder *decoder);

#ifdef __cplusplus
}
#endif
