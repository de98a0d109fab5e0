// See include/CFlexJPEG.h. Every libjpeg call below runs under a setjmp set up in the same C function, and the
// error manager's error_exit (and emit_message, for warnings that mean damaged pixels) copies the message and
// longjmps back there, so no longjmp ever crosses a Swift frame and libjpeg never writes to stderr.
#include "CFlexJPEG.h"

#include <limits.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <jerror.h>

// Added to the coefficient bound for libjpeg's own memory limit: its per-row buffers (upsampling context
// rows, colour tables) are allocated before the coefficient buffer and count against the same limit. At the
// widest image (65,536 pixels) they take a few MiB.
#define FLEXJPEG_MEMORY_MARGIN ((uint64_t)64 << 20)

struct flexjpeg_error {
    // First member: libjpeg hands the error manager back as cinfo->err, and it is cast to this struct.
    struct jpeg_error_mgr pub;
    jmp_buf jump;
    // Where the current call reports libjpeg's message.
    char *message;
    size_t message_capacity;
    flexjpeg_status status;
    uint32_t max_scans;
};

struct flexjpeg_decoder {
    struct jpeg_decompress_struct cinfo;
    struct flexjpeg_error err;
    struct jpeg_progress_mgr progress;
    int created;
};

static void set_message(char *message, size_t capacity, const char *text) {
    if (message != NULL && capacity > 0) snprintf(message, capacity, "%s", text);
}

// libjpeg's text for the current message code and parameters.
static void record(j_common_ptr cinfo) {
    struct flexjpeg_error *e = (struct flexjpeg_error *)cinfo->err;
    char text[JMSG_LENGTH_MAX];
    text[0] = 0;
    (*cinfo->err->format_message)(cinfo, text);
    set_message(e->message, e->message_capacity, text[0] != 0 ? text : "unknown libjpeg error");
}

static void on_error_exit(j_common_ptr cinfo) {
    struct flexjpeg_error *e = (struct flexjpeg_error *)cinfo->err;
    record(cinfo);
    e->status = FLEXJPEG_LIBJPEG_ERROR;
    longjmp(e->jump, 1);
}

// libjpeg's default prints to stderr; a library must not. (Only the default error_exit and emit_message call
// it, and both are replaced; this keeps any other caller silent too.)
static void on_output_message(j_common_ptr cinfo) { record(cinfo); }

// msg_level -1 is a warning; 0 and above are trace messages (ignored). libjpeg warns and goes on, filling what
// it could not decode with zeros, for corrupt or truncated entropy-coded data, a bad progression or a missing
// EOI: for a codec that is a damaged input, so those warnings stop decoding like errors (TurboJPEG's
// TJPARAM_STOPONWARNING). Warnings that leave every sample intact are tolerated: an unknown JFIF revision,
// scan parameters a sequential file should not have (ignored by libjpeg, written by some encoders), and
// stray bytes before EOI, after all image data (common in camera files).
static void on_emit_message(j_common_ptr cinfo, int msg_level) {
    if (msg_level >= 0) return;
    struct jpeg_error_mgr *err = cinfo->err;
    int code = err->msg_code;
    if (code == JWRN_JFIF_MAJOR || code == JWRN_NOT_SEQUENTIAL ||
        (code == JWRN_EXTRANEOUS_DATA && err->msg_parm.i[1] == 0xD9)) {
        err->num_warnings++;
        return;
    }
    on_error_exit(cinfo);
}

// Called by libjpeg before each unit of input (an iMCU row or a new scan) while it absorbs a multi-scan file,
// and once per jpeg_read_scanlines call: stops a file with too many scans before it costs a pass per scan.
static void on_progress(j_common_ptr cinfo) {
    if (!cinfo->is_decompressor) return;
    struct flexjpeg_error *e = (struct flexjpeg_error *)cinfo->err;
    j_decompress_ptr d = (j_decompress_ptr)cinfo;
    if (d->input_scan_number > 0 && (uint32_t)d->input_scan_number > e->max_scans) {
        char text[96];
        snprintf(text, sizeof text, "more than %u scans", e->max_scans);
        set_message(e->message, e->message_capacity, text);
        e->status = FLEXJPEG_TOO_MANY_SCANS;
        longjmp(e->jump, 1);
    }
}

static uint32_t color_space(J_COLOR_SPACE space) {
    switch (space) {
    case JCS_GRAYSCALE: return FLEXJPEG_GRAYSCALE;
    case JCS_YCbCr: return FLEXJPEG_YCBCR;
    case JCS_RGB: return FLEXJPEG_RGB;
    case JCS_CMYK: return FLEXJPEG_CMYK;
    case JCS_YCCK: return FLEXJPEG_YCCK;
    default: return FLEXJPEG_UNKNOWN;
    }
}

// What get_sof (size, components) and the first SOS (scan count) have told libjpeg so far.
static void header_basics(const struct jpeg_decompress_struct *c, flexjpeg_header *h) {
    h->width = c->image_width;
    h->height = c->image_height;
    h->components = c->num_components > 0 ? (uint32_t)c->num_components : 0;
    h->progressive = c->progressive_mode ? 1 : 0;
    h->arithmetic = c->arith_code ? 1 : 0;
    h->scans = c->input_scan_number > 0 ? (uint32_t)c->input_scan_number : 0;
}

void flexjpeg_free(flexjpeg_decoder *d) {
    if (d == NULL) return;
    if (d->created) jpeg_destroy_decompress(&d->cinfo);
    free(d);
}

flexjpeg_status flexjpeg_begin(const unsigned char *data, size_t size, flexjpeg_limits limits,
                               flexjpeg_decoder **decoder, flexjpeg_header *header, char *message,
                               size_t message_capacity) {
    *decoder = NULL;
    memset(header, 0, sizeof *header);
    set_message(message, message_capacity, "");
    if (data == NULL || size == 0 || size > ULONG_MAX) {
        set_message(message, message_capacity, "no data");
        return FLEXJPEG_BAD_CALL;
    }
    struct flexjpeg_decoder *d = calloc(1, sizeof *d);
    if (d == NULL) {
        set_message(message, message_capacity, "out of memory");
        return FLEXJPEG_BAD_CALL;
    }
    d->cinfo.err = jpeg_std_error(&d->err.pub);
    d->err.pub.error_exit = on_error_exit;
    d->err.pub.emit_message = on_emit_message;
    d->err.pub.output_message = on_output_message;
    d->err.message = message;
    d->err.message_capacity = message_capacity;
    d->err.max_scans = limits.max_scans;
    // d is not modified after setjmp, so it is valid after a longjmp.
    if (setjmp(d->err.jump)) {
        flexjpeg_status status = d->err.status;
        if (d->created) {
            header_basics(&d->cinfo, header);
            // libjpeg's own size checks (a side above 65,500 pixels, or 0) come from get_sof, before ours:
            // report them as the size refusal they are, with the size from the frame header.
            int code = d->err.pub.msg_code;
            if (status == FLEXJPEG_LIBJPEG_ERROR && (code == JERR_IMAGE_TOO_BIG || code == JERR_EMPTY_IMAGE))
                status = FLEXJPEG_TOO_LARGE;
        }
        flexjpeg_free(d);
        return status;
    }
    jpeg_create_decompress(&d->cinfo);
    d->created = 1;
    uint64_t memory = limits.max_coefficient_bytes + FLEXJPEG_MEMORY_MARGIN;
    // Over this, libjpeg asks for a backing store (temporary files), which this build does not have: an error,
    // never a temporary file. Set after jpeg_create_decompress, which reads the JPEGMEM environment variable.
    d->cinfo.mem->max_memory_to_use = memory > (uint64_t)LONG_MAX ? LONG_MAX : (long)memory;
    d->progress.progress_monitor = on_progress;
    d->cinfo.progress = &d->progress;
    jpeg_mem_src(&d->cinfo, data, (unsigned long)size);
    // APPn and COM markers are skipped without being saved (no jpeg_save_markers): EXIF, ICC and XMP are
    // never parsed or buffered. APP0 (JFIF) and APP14 (Adobe) are read by libjpeg for the colour space.
    jpeg_read_header(&d->cinfo, TRUE);

    struct jpeg_decompress_struct *c = &d->cinfo;
    header_basics(c, header);
    header->color_space = color_space(c->jpeg_color_space);
    header->multiple_scans = jpeg_has_multiple_scans(c) ? 1 : 0;
    uint64_t blocks = 0, coefficients = 0;
    for (int i = 0; i < c->num_components; i++) {
        const jpeg_component_info *k = &c->comp_info[i];
        blocks += (uint64_t)k->width_in_blocks * k->height_in_blocks;
        // As libjpeg's coefficient controller requests it (jdcoefct.c): rounded up to whole MCUs.
        uint64_t across = ((uint64_t)k->width_in_blocks + k->h_samp_factor - 1) / k->h_samp_factor * k->h_samp_factor;
        uint64_t down = ((uint64_t)k->height_in_blocks + k->v_samp_factor - 1) / k->v_samp_factor * k->v_samp_factor;
        coefficients += across * down * sizeof(JBLOCK);
    }
    header->blocks = blocks;
    header->coefficient_bytes = header->multiple_scans ? coefficients : 0;

    flexjpeg_status status = FLEXJPEG_OK;
    uint64_t w = c->image_width, h = c->image_height;
    int gray = c->num_components == 1 && c->jpeg_color_space == JCS_GRAYSCALE;
    int colour = c->num_components == 3 && (c->jpeg_color_space == JCS_YCbCr || c->jpeg_color_space == JCS_RGB);
    if (w < 1 || h < 1 || w > limits.max_side || h > limits.max_side || w * h > limits.max_pixels) {
        status = FLEXJPEG_TOO_LARGE;
    } else if (!gray && !colour) {
        status = FLEXJPEG_UNSUPPORTED_COLOR;
    } else if (header->coefficient_bytes > limits.max_coefficient_bytes) {
        status = FLEXJPEG_TOO_MUCH_MEMORY;
    } else if (!c->arith_code && (uint64_t)size < (blocks + 7) / 8) {
        // Arithmetic coding can spend far less than a bit on a block, so it has no such floor: its files are
        // bounded by the memory limit alone.
        status = FLEXJPEG_TOO_SHORT;
    }
    if (status != FLEXJPEG_OK) {
        flexjpeg_free(d);
        return status;
    }
    c->out_color_space = gray ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_calc_output_dimensions(c);
    header->channels = (uint32_t)c->output_components;
    if (c->output_width != c->image_width || c->output_height != c->image_height ||
        (c->output_components != 1 && c->output_components != 3)) {
        set_message(message, message_capacity, "internal error: unexpected output layout");
        flexjpeg_free(d);
        return FLEXJPEG_BAD_CALL;
    }
    *decoder = d;
    return FLEXJPEG_OK;
}

flexjpeg_status flexjpeg_finish(flexjpeg_decoder *d, unsigned char *pixels, size_t capacity,
                                flexjpeg_header *header, char *message, size_t message_capacity) {
    d->err.message = message;
    d->err.message_capacity = message_capacity;
    set_message(message, message_capacity, "");
    struct jpeg_decompress_struct *c = &d->cinfo;
    size_t row_bytes = (size_t)c->output_width * (size_t)c->output_components;
    if (pixels == NULL || row_bytes == 0 || c->output_height == 0 || capacity / row_bytes < c->output_height) {
        set_message(message, message_capacity, "internal error: the pixel buffer does not fit the image");
        return FLEXJPEG_BAD_CALL;
    }
    if (setjmp(d->err.jump)) {
        header->scans = c->input_scan_number > 0 ? (uint32_t)c->input_scan_number : 0;
        return d->err.status;
    }
    // For a multi-scan file this absorbs every scan into the coefficient buffer (under the scan limit).
    jpeg_start_decompress(c);
    JSAMPROW rows[16];
    while (c->output_scanline < c->output_height) {
        JDIMENSION n = c->output_height - c->output_scanline;
        if (n > 16) n = 16;
        for (JDIMENSION k = 0; k < n; k++) rows[k] = pixels + (size_t)(c->output_scanline + k) * row_bytes;
        // 0 rows would mean a suspended data source, which a memory source never is: guard against a loop.
        if (jpeg_read_scanlines(c, rows, n) == 0) {
            set_message(message, message_capacity, "libjpeg returned no rows");
            return FLEXJPEG_LIBJPEG_ERROR;
        }
    }
    // Reads to EOI: data after the last row (another scan of a sequential file, a truncated end) is an error.
    jpeg_finish_decompress(c);
    header->scans = c->input_scan_number > 0 ? (uint32_t)c->input_scan_number : 0;
    return FLEXJPEG_OK;
}
