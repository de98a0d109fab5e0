// See include/CFlexPNG.h. Every libpng call below runs under a setjmp set up in the same C function, and libpng's
// error callback copies the message and longjmps back there, so no longjmp ever crosses a Swift frame.
#include "CFlexPNG.h"

#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct flexpng_decoder {
    png_structp png;
    png_infop info;
    // The bytes of the current call (set again by each entry point) and how far libpng has read them.
    const unsigned char *data;
    size_t size;
    size_t offset;
    // Where the current call reports an error.
    char *message;
    size_t message_capacity;
    png_bytep *rows;
    uint32_t height;
};

static void set_message(char *message, size_t capacity, const char *text) {
    if (message != NULL && capacity > 0) snprintf(message, capacity, "%s", text);
}

static void on_error(png_structp png, png_const_charp text) {
    struct flexpng_decoder *d = (struct flexpng_decoder *)png_get_error_ptr(png);
    set_message(d->message, d->message_capacity, text != NULL && text[0] != 0 ? text : "unknown libpng error");
    png_longjmp(png, 1);
}

// Warnings (a bad ancillary chunk CRC, extra compressed data, ...) do not change the samples: stay silent rather
// than let libpng print to stderr.
static void on_warning(png_structp png, png_const_charp text) {
    (void)png;
    (void)text;
}

static void on_read(png_structp png, png_bytep out, size_t count) {
    struct flexpng_decoder *d = (struct flexpng_decoder *)png_get_io_ptr(png);
    if (count > d->size - d->offset) {
        char text[128];
        snprintf(text, sizeof text, "the file ends at byte %zu, before the end of the image (truncated)", d->size);
        // png_error calls on_error, which longjmps.
        png_error(png, text);
    }
    memcpy(out, d->data + d->offset, count);
    d->offset += count;
}

void flexpng_free(flexpng_decoder *d) {
    if (d == NULL) return;
    if (d->png != NULL) png_destroy_read_struct(&d->png, d->info != NULL ? &d->info : NULL, NULL);
    free(d->rows);
    free(d);
}

int flexpng_begin(const unsigned char *data, size_t size, uint32_t max_side, flexpng_decoder **decoder,
                  flexpng_header *header, char *message, size_t message_capacity) {
    *decoder = NULL;
    struct flexpng_decoder *d = calloc(1, sizeof *d);
    if (d == NULL) {
        set_message(message, message_capacity, "out of memory");
        return 0;
    }
    d->data = data;
    d->size = size;
    d->message = message;
    d->message_capacity = message_capacity;
    d->png = png_create_read_struct(PNG_LIBPNG_VER_STRING, d, on_error, on_warning);
    if (d->png == NULL) {
        set_message(message, message_capacity, "cannot create a libpng reader (out of memory or a libpng version mismatch)");
        flexpng_free(d);
        return 0;
    }
    d->info = png_create_info_struct(d->png);
    if (d->info == NULL) {
        set_message(message, message_capacity, "cannot create a libpng reader (out of memory)");
        flexpng_free(d);
        return 0;
    }
    // d is not modified after setjmp, so it is valid after a longjmp.
    if (setjmp(png_jmpbuf(d->png))) {
        flexpng_free(d);
        return 0;
    }
    png_set_read_fn(d->png, d, on_read);
    // Bounds on what a file can make libpng allocate: the side (row buffers grow with the width), the number
    // of ancillary chunks kept, and the size of any one chunk buffered in memory. Chunk CRCs keep libpng's
    // default: an error in a critical chunk, a warning (the chunk dropped) in an ancillary one.
    png_set_user_limits(d->png, max_side, max_side);
    png_set_chunk_cache_max(d->png, 128);
    png_set_chunk_malloc_max(d->png, 8u << 20);
    // Samples as stored: every chunk except IHDR, PLTE, tRNS, IDAT and IEND is skipped without being
    // interpreted, so gAMA, sRGB, iCCP and cHRM cannot change the samples and compressed text or profiles
    // are never inflated. (An unknown critical chunk is still an error, as the PNG specification requires.)
    png_set_keep_unknown_chunks(d->png, PNG_HANDLE_CHUNK_NEVER, NULL, -1);
    png_read_info(d->png, d->info);

    png_uint_32 width = 0, height = 0;
    int bit_depth = 0, color_type = 0, interlace = 0;
    png_get_IHDR(d->png, d->info, &width, &height, &bit_depth, &color_type, &interlace, NULL, NULL);
    if (color_type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(d->png);
    if (color_type == PNG_COLOR_TYPE_GRAY && bit_depth < 8) png_set_expand_gray_1_2_4_to_8(d->png);
    if (png_get_valid(d->png, d->info, PNG_INFO_tRNS)) png_set_tRNS_to_alpha(d->png);
    png_set_interlace_handling(d->png);
    png_read_update_info(d->png, d->info);

    header->width = width;
    header->height = height;
    header->channels = png_get_channels(d->png, d->info);
    header->bit_depth = png_get_bit_depth(d->png, d->info);
    header->row_bytes = png_get_rowbytes(d->png, d->info);
    header->file_bit_depth = (uint32_t)bit_depth;
    header->file_color_type = (uint32_t)color_type;
    d->height = height;
    *decoder = d;
    return 1;
}

int flexpng_finish(flexpng_decoder *d, const unsigned char *data, size_t size, unsigned char *pixels,
                   size_t capacity, char *message, size_t message_capacity) {
    d->data = data;
    d->size = size;
    d->message = message;
    d->message_capacity = message_capacity;
    size_t row_bytes = png_get_rowbytes(d->png, d->info);
    if (d->offset > size || row_bytes == 0 || d->height == 0 || capacity / row_bytes < d->height) {
        set_message(message, message_capacity, "internal error: the pixel buffer does not fit the image");
        return 0;
    }
    d->rows = malloc((size_t)d->height * sizeof(png_bytep));
    if (d->rows == NULL) {
        set_message(message, message_capacity, "out of memory");
        return 0;
    }
    for (uint32_t y = 0; y < d->height; y++) d->rows[y] = pixels + (size_t)y * row_bytes;
    if (setjmp(png_jmpbuf(d->png))) return 0;
    png_read_image(d->png, d->rows);
    png_read_end(d->png, NULL);
    return 1;
}
