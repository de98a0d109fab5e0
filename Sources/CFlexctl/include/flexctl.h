/*
 * flexctl.h — the C interface of the flexctl runtime: open a checkpoint (HDF5), describe it, compress and
 * decompress 8-bit images with an image auto-encoder (.flexz), forecast with an LSTM forecaster.
 *
 * Conventions (docs/c-api.md has the details):
 *
 * - Every function that can fail returns a flexctl_status (FLEXCTL_OK = 0) and takes a last argument
 *   `char **error_message`. When it is not NULL, a failing call stores there a newly allocated UTF-8 message
 *   (names the input and what was expected and found) and a successful call stores NULL. Free the message with
 *   flexctl_free. Pass NULL when you only want the status.
 * - Ownership: every buffer the library returns through an out-parameter (JSON text, .flexz bytes, pixels,
 *   forecasts, error messages) is allocated with malloc and owned by the caller, who frees it with flexctl_free
 *   (or free(); both are the C library's). The library never keeps or frees a pointer the caller passes in;
 *   input buffers only need to live during the call. On failure, out-parameters are set to NULL / 0.
 * - Models: flexctl_model_open* returns a handle that is immutable once open; every function taking a
 *   `const flexctl_model *` may be called on the same handle from several threads at once (each call uses
 *   its own or the model's internally locked scratch buffers). flexctl_model_close must not race with other
 *   calls on that handle. Handles are independent of each other.
 * - Bad input (NULL pointers, zero or overflowing sizes, a file that is not a checkpoint, a damaged .flexz)
 *   returns a status; it never aborts the process.
 * - Opening a checkpoint parses the HDF5 file in a short-lived child process (fork), so that a crafted file
 *   cannot crash the host: the host must allow fork (docs/c-api.md, "Threads").
 */
#ifndef FLEXCTL_H
#define FLEXCTL_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The version of this interface: bumped when a declaration in this header changes incompatibly. */
#define FLEXCTL_API_VERSION 1

/* Schema version of the JSON written by flexctl_model_describe (its `schema_version`; the same as every flexctl
 * JSON document's). */
#define FLEXCTL_DESCRIBE_SCHEMA_VERSION 1

/* The .flexz quantisation the flexctl CLI uses by default (bits per code value, 1...16). */
#define FLEXCTL_DEFAULT_BITS 8

typedef enum flexctl_status {
    FLEXCTL_OK = 0,
    /* A NULL pointer where one is required, a zero or out-of-range size, sizes whose product overflows. */
    FLEXCTL_INVALID_ARGUMENT = 1,
    /* The checkpoint path does not exist, cannot be looked up, or is a folder (a file that exists but cannot be
     * read is reported by the checkpoint reader as FLEXCTL_INVALID_CHECKPOINT, with the reason). */
    FLEXCTL_IO_ERROR = 2,
    /* The bytes are not a valid flexctl checkpoint (the message lists every problem found). */
    FLEXCTL_INVALID_CHECKPOINT = 3,
    /* The model cannot do this: compress/decompress need an image auto-encoder, forecast a forecaster. */
    FLEXCTL_WRONG_TASK = 4,
    /* The data are invalid: a damaged or truncated .flexz, series the model's pipeline refuses. */
    FLEXCTL_INVALID_DATA = 5,
    /* The .flexz file was made with another model (its fingerprint or shapes differ). */
    FLEXCTL_MODEL_MISMATCH = 6,
    /* An input beyond the library's limits (image side or pixel count, file size). */
    FLEXCTL_TOO_LARGE = 7,
    /* Any other failure inside the library (reported, never an abort). */
    FLEXCTL_INTERNAL_ERROR = 8,
    /* A result buffer could not be allocated. */
    FLEXCTL_OUT_OF_MEMORY = 9
} flexctl_status;

/* How flexctl_forecast reads its values. */
typedef enum flexctl_series_kind {
    /* Prices (levels): the model's transform (returns, log returns or none) is applied, as the trainer did. */
    FLEXCTL_SERIES_PRICES = 0,
    /* Values already in the model's transform space (e.g. daily returns as fractions). No price levels. */
    FLEXCTL_SERIES_TRANSFORMED = 1
} flexctl_series_kind;

/* An open checkpoint. Opaque. */
typedef struct flexctl_model flexctl_model;

/* The library's version (e.g. "0.1.0"); a string that lives as long as the process, never freed. */
const char *flexctl_version(void);

/* A short English name of a status ("ok", "invalid argument", ...); a static string, never freed. */
const char *flexctl_status_name(flexctl_status status);

/* Frees a buffer returned by the library (NULL is ignored). */
void flexctl_free(void *pointer);

/* Opens the checkpoint at `path` (UTF-8) with the strict reader. `threads` is the number of worker threads
 * the model may use per call (0: one per processor). On success *out_model holds the handle. */
flexctl_status flexctl_model_open(const char *path, int threads, flexctl_model **out_model, char **error_message);

/* Opens a checkpoint held in memory (the bytes of an HDF5 file); `name` (may be NULL) labels messages. */
flexctl_status flexctl_model_open_memory(const void *bytes, size_t size, const char *name, int threads,
                                         flexctl_model **out_model, char **error_message);

/* Closes a handle (NULL is ignored). */
void flexctl_model_close(flexctl_model *model);

/* The checkpoint as JSON: the document `flexctl inspect --format json` prints (kind "checkpoint", schema in
 * docs/cli.md "JSON output"; snake_case keys): schema_version, file (the path or the open_memory name), task,
 * fingerprint, format and flexctl versions, input (the input specification; for an image model also its
 * code_shape), input_shape, output_shape, architecture, total_parameters, activations (per activation slot,
 * with alpha/beta statistics) and provenance. */
flexctl_status flexctl_model_describe(const flexctl_model *model, char **out_json, char **error_message);

/* A forecaster's sizes: input features (series), predicted targets, window (rows per input), horizon. */
flexctl_status flexctl_model_series_info(const flexctl_model *model, size_t *out_features, size_t *out_targets,
                                         size_t *out_window, size_t *out_horizon, char **error_message);

/* Compresses an 8-bit image with an image auto-encoder to the bytes of a .flexz file.
 * `pixels`: `height` rows of `stride` bytes each, a row holding `width` pixels of `channels` (1: gray,
 * 3: RGB interleaved) bytes; stride >= width * channels. `bits`: 1...16 (FLEXCTL_DEFAULT_BITS).
 * *out_bytes (free with flexctl_free) holds *out_size bytes. */
flexctl_status flexctl_compress(const flexctl_model *model, const uint8_t *pixels, size_t width, size_t height,
                                size_t channels, size_t stride, int bits, uint8_t **out_bytes, size_t *out_size,
                                char **error_message);

/* Decompresses the bytes of a .flexz file made with this model. *out_pixels (free with flexctl_free) holds
 * *out_height rows of *out_width * *out_channels bytes (no padding; channels 1 or 3). */
flexctl_status flexctl_decompress(const flexctl_model *model, const uint8_t *bytes, size_t size,
                                  uint8_t **out_pixels, size_t *out_width, size_t *out_height,
                                  size_t *out_channels, char **error_message);

/* Forecasts `steps` steps (1...1000) after the last row of `values` with a forecaster and the checkpoint's
 * pipeline (transform, normalisation with the training statistics). `values` holds `rows` rows of `series`
 * values, row-major, oldest first, one column per model feature in the model's order (see
 * flexctl_model_describe, input.features); `series` must equal the model's feature count. Steps after the first
 * feed predictions back (the model must predict its features, horizon 1).
 * Outputs (each `steps * targets` doubles, row-major [step][target], free with flexctl_free):
 *   *out_values: forecasts in the transform's units (e.g. returns as fractions);
 *   *out_levels (may be NULL if not wanted): implied price levels, NaN where they cannot be derived
 *   (FLEXCTL_SERIES_TRANSFORMED input, or horizon > 1).
 * *out_targets receives the number of targets. */
flexctl_status flexctl_forecast(const flexctl_model *model, const double *values, size_t rows, size_t series,
                                flexctl_series_kind kind, size_t steps, double **out_values, double **out_levels,
                                size_t *out_targets, char **error_message);

#ifdef __cplusplus
}
#endif

#endif /* FLEXCTL_H */
