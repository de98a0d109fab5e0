/*
 * A plain C program using the flexctl C API (docs/c-api.md):
 *   1. opens an image auto-encoder checkpoint and prints a few fields of its description (the JSON document
 *      `flexctl inspect --format json` prints);
 *   2. compresses the pixels of a PNG image (read with libpng) to .flexz bytes, writes them to a file, decompresses
 *      them and prints the PSNR of the round trip;
 *   3. opens the forecaster checkpoint, reads a numeric CSV of prices (a header, then `date,v1,v2,...` rows in the
 *      model's feature order) and prints the next trading day's forecast for every target.
 *
 * Build (from the repository root, after `swift build --product flexctl_c_shared`):
 *   cc -std=c11 -Wall -Wextra -o example examples/c/example.c -I Sources/CFlexctl/include \
 *      -L .build/debug -lflexctl_c_shared -Wl,-rpath,$PWD/.build/debug $(pkg-config --cflags --libs libpng) -lm
 * Run:
 *   ./example models/cae3-p-e2-id-photos.h5 samples/images/chelsea-96.png /tmp/chelsea.flexz \
 *             models/lstm-p-sig-ramp-4-indices.h5 examples/data/four-indices.csv
 */
#include <math.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flexctl.h"

/* Prints the failed call's status and message, frees the message, and returns 1 (the exit status). */
static int fail(const char *what, flexctl_status status, char *message) {
    fprintf(stderr, "%s: %s: %s\n", what, flexctl_status_name(status), message ? message : "(no message)");
    flexctl_free(message);
    return 1;
}

/* Reads a PNG as 8-bit gray or RGB (libpng's simplified API); returns NULL on failure. */
static unsigned char *read_png(const char *path, size_t *width, size_t *height, size_t *channels) {
    png_image image;
    memset(&image, 0, sizeof image);
    image.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_file(&image, path)) return NULL;
    int gray = (image.format & PNG_FORMAT_FLAG_COLOR) == 0;
    image.format = gray ? PNG_FORMAT_GRAY : PNG_FORMAT_RGB;
    unsigned char *pixels = malloc(PNG_IMAGE_SIZE(image));
    if (!pixels || !png_image_finish_read(&image, NULL, pixels, 0, NULL)) {
        free(pixels);
        png_image_free(&image);
        return NULL;
    }
    *width = image.width;
    *height = image.height;
    *channels = gray ? 1 : 3;
    return pixels;
}

/* The value of the first `"key"` in a JSON text, as written (a number, or a string with its quotes), copied into
 * `out`; "?" when absent. Enough for the top-level scalars of the description, whose keys are unique (a real
 * program would use a JSON parser). */
static const char *json_value(const char *json, const char *key, char *out, size_t size) {
    char quoted[64];
    snprintf(quoted, sizeof quoted, "\"%s\"", key);
    const char *p = strstr(json, quoted);
    snprintf(out, size, "?");
    if (!p) return out;
    p += strlen(quoted);
    while (*p == ' ' || *p == ':') p++;
    size_t n = strcspn(p, ",\n}");
    if (n >= size) n = size - 1;
    memcpy(out, p, n);
    out[n] = '\0';
    return out;
}

/* Reads the numeric CSV: skips the header line, then each row's date and `series` values. Returns the number
 * of rows (values in *out, row-major), or 0 on failure. */
static size_t read_prices(const char *path, size_t series, double **out) {
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    char line[4096];
    size_t rows = 0, capacity = 0;
    double *values = NULL;
    if (!fgets(line, sizeof line, f)) { fclose(f); return 0; }
    while (fgets(line, sizeof line, f)) {
        if (rows == capacity) {
            capacity = capacity ? capacity * 2 : 256;
            double *grown = realloc(values, capacity * series * sizeof *values);
            if (!grown) { free(values); fclose(f); return 0; }
            values = grown;
        }
        char *p = strchr(line, ',');  /* after the date */
        for (size_t j = 0; j < series; j++) {
            if (!p) { free(values); fclose(f); return 0; }
            char *end;
            values[rows * series + j] = strtod(p + 1, &end);
            if (end == p + 1) { free(values); fclose(f); return 0; }
            p = strchr(end, ',');
        }
        rows++;
    }
    fclose(f);
    *out = values;
    return rows;
}

int main(int argc, char **argv) {
    if (argc != 6) {
        fprintf(stderr, "usage: %s CAE.h5 IMAGE.png OUT.flexz FORECASTER.h5 PRICES.csv\n", argv[0]);
        return 2;
    }
    printf("flexctl %s (C API %d)\n", flexctl_version(), FLEXCTL_API_VERSION);
    char *error = NULL;

    /* 1. Open and describe the image model. */
    flexctl_model *cae = NULL;
    flexctl_status s = flexctl_model_open(argv[1], 0, &cae, &error);
    if (s != FLEXCTL_OK) return fail("open", s, error);
    char *json = NULL;
    s = flexctl_model_describe(cae, &json, &error);
    if (s != FLEXCTL_OK) return fail("describe", s, error);
    char version[32], task[64], fingerprint[96], parameters[32];
    json_value(json, "schema_version", version, sizeof version);
    printf("describe: %zu bytes of JSON, schema_version %s, task %s, %s parameters, fingerprint %s\n", strlen(json),
           version, json_value(json, "task", task, sizeof task),
           json_value(json, "total_parameters", parameters, sizeof parameters),
           json_value(json, "fingerprint", fingerprint, sizeof fingerprint));
    flexctl_free(json);
    if (atoi(version) != FLEXCTL_DESCRIBE_SCHEMA_VERSION) {
        fprintf(stderr, "describe: schema_version %s, expected %d\n", version, FLEXCTL_DESCRIBE_SCHEMA_VERSION);
        return 1;
    }

    /* 2. Compress and decompress the image's pixels. */
    size_t width, height, channels;
    unsigned char *pixels = read_png(argv[2], &width, &height, &channels);
    if (!pixels) { fprintf(stderr, "%s: cannot read the PNG\n", argv[2]); return 1; }
    uint8_t *flexz = NULL;
    size_t flexz_size = 0;
    s = flexctl_compress(cae, pixels, width, height, channels, width * channels, FLEXCTL_DEFAULT_BITS, &flexz,
                         &flexz_size, &error);
    if (s != FLEXCTL_OK) return fail("compress", s, error);
    FILE *out = fopen(argv[3], "wb");
    if (!out || fwrite(flexz, 1, flexz_size, out) != flexz_size || fclose(out) != 0) {
        fprintf(stderr, "%s: cannot write\n", argv[3]);
        return 1;
    }
    uint8_t *decoded = NULL;
    size_t dw, dh, dc;
    s = flexctl_decompress(cae, flexz, flexz_size, &decoded, &dw, &dh, &dc, &error);
    if (s != FLEXCTL_OK) return fail("decompress", s, error);
    if (dw != width || dh != height || dc != channels) {
        fprintf(stderr, "decompress: got %zux%zux%zu, expected %zux%zux%zu\n", dw, dh, dc, width, height, channels);
        return 1;
    }
    double se = 0;
    size_t n = width * height * channels;
    for (size_t i = 0; i < n; i++) se += ((double)pixels[i] - decoded[i]) * ((double)pixels[i] - decoded[i]);
    double mse = se / (double)n;
    printf("image: %zux%zu, %zu channel(s), %zu bytes -> %zu bytes .flexz, PSNR %.2f dB\n", width, height, channels,
           n, flexz_size, mse > 0 ? 10 * log10(255.0 * 255.0 / mse) : INFINITY);
    flexctl_free(decoded);
    flexctl_free(flexz);
    free(pixels);
    flexctl_model_close(cae);

    /* 3. Forecast the next trading day from the prices. */
    flexctl_model *lstm = NULL;
    s = flexctl_model_open(argv[4], 1, &lstm, &error);
    if (s != FLEXCTL_OK) return fail("open", s, error);
    size_t features, targets, window, horizon;
    s = flexctl_model_series_info(lstm, &features, &targets, &window, &horizon, &error);
    if (s != FLEXCTL_OK) return fail("series info", s, error);
    double *prices = NULL;
    size_t rows = read_prices(argv[5], features, &prices);
    if (rows == 0) { fprintf(stderr, "%s: cannot read %zu series\n", argv[5], features); return 1; }
    double *values = NULL, *levels = NULL;
    size_t count = 0;
    s = flexctl_forecast(lstm, prices, rows, features, FLEXCTL_SERIES_PRICES, 1, &values, &levels, &count, &error);
    if (s != FLEXCTL_OK) return fail("forecast", s, error);
    printf("forecast: %zu rows of %zu series, window %zu, horizon %zu\n", rows, features, window, horizon);
    for (size_t j = 0; j < count; j++) {
        printf("target %zu: return %.17g level %.17g\n", j, values[j], levels[j]);
    }
    flexctl_free(values);
    flexctl_free(levels);
    free(prices);
    flexctl_model_close(lstm);
    return 0;
}
