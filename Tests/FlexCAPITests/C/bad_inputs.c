/*
 * Bad inputs through the C ABI (compiled and run by ExampleProcessTests): every call must return its status, set
 * its out-parameters to NULL/0, and give a message; the process must not abort. Prints one line per check and
 * exits 1 if any check failed.
 *
 * usage: bad_inputs CAE.h5 FORECASTER.h5 NOT_A_CHECKPOINT
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flexctl.h"

static int failures = 0;

/* Checks a status and that the message is present (and mentions `part` when given); frees the message. */
static void expect(const char *what, flexctl_status got, flexctl_status want, char *message, const char *part) {
    int ok = got == want && message != NULL && (part == NULL || strstr(message, part) != NULL);
    printf("%s %s: %s (%s)\n", ok ? "ok" : "FAIL", what, flexctl_status_name(got), message ? message : "no message");
    if (!ok) failures++;
    flexctl_free(message);
}

/* Makes the call before reading the message it stored (C leaves the order of argument evaluation open). */
#define EXPECT(what, call, want, part)                 \
    do {                                               \
        flexctl_status status_ = (call);               \
        expect((what), status_, (want), msg, (part));  \
        msg = NULL;                                    \
    } while (0)

static void check(const char *what, int condition) {
    printf("%s %s\n", condition ? "ok" : "FAIL", what);
    if (!condition) failures++;
}

int main(int argc, char **argv) {
    if (argc != 4) return 2;
    char *msg = NULL;
    flexctl_model *m = (flexctl_model *)1;  /* must be overwritten with NULL on failure */

    EXPECT("open NULL path", flexctl_model_open(NULL, 1, &m, &msg), FLEXCTL_INVALID_ARGUMENT, "NULL");
    check("open NULL path sets the model to NULL", m == NULL);
    EXPECT("open missing file", flexctl_model_open("/nonexistent/model.h5", 1, &m, &msg), FLEXCTL_IO_ERROR, "no such file");
    EXPECT("open not a checkpoint", flexctl_model_open(argv[3], 1, &m, &msg), FLEXCTL_INVALID_CHECKPOINT, "HDF5");
    EXPECT("open negative threads", flexctl_model_open(argv[1], -3, &m, &msg), FLEXCTL_INVALID_ARGUMENT, "threads");
    const char junk[] = "definitely not HDF5";
    EXPECT("open memory NULL", flexctl_model_open_memory(NULL, 10, "x", 1, &m, &msg), FLEXCTL_INVALID_ARGUMENT, "NULL");
    EXPECT("open memory size 0", flexctl_model_open_memory(junk, 0, "x", 1, &m, &msg), FLEXCTL_INVALID_ARGUMENT, "size is 0");
    EXPECT("open memory SIZE_MAX", flexctl_model_open_memory(junk, SIZE_MAX, "x", 1, &m, &msg), FLEXCTL_INVALID_ARGUMENT, "too large");
    EXPECT("open memory junk", flexctl_model_open_memory(junk, sizeof junk, "junk", 1, &m, &msg), FLEXCTL_INVALID_CHECKPOINT, "junk");
    check("a NULL message pointer is allowed", flexctl_model_open(NULL, 1, &m, NULL) == FLEXCTL_INVALID_ARGUMENT);
    flexctl_model_close(NULL);

    flexctl_model *cae = NULL, *lstm = NULL;
    check("open the CAE", flexctl_model_open(argv[1], 1, &cae, NULL) == FLEXCTL_OK && cae != NULL);
    check("open the forecaster", flexctl_model_open(argv[2], 1, &lstm, NULL) == FLEXCTL_OK && lstm != NULL);
    if (!cae || !lstm) return 1;

    char *json = (char *)1;
    EXPECT("describe NULL model", flexctl_model_describe(NULL, &json, &msg), FLEXCTL_INVALID_ARGUMENT, "NULL");
    check("describe failure sets the JSON to NULL", json == NULL);

    uint8_t px[64 * 64 * 3];
    memset(px, 100, sizeof px);
    uint8_t *bytes = (uint8_t *)1;
    size_t size = 7;
    EXPECT("compress NULL pixels", flexctl_compress(cae, NULL, 8, 8, 1, 8, 8, &bytes, &size, &msg), FLEXCTL_INVALID_ARGUMENT, "pixels");
    check("compress failure sets outputs to NULL/0", bytes == NULL && size == 0);
    EXPECT("compress width 0", flexctl_compress(cae, px, 0, 8, 1, 8, 8, &bytes, &size, &msg), FLEXCTL_INVALID_ARGUMENT, NULL);
    EXPECT("compress SIZE_MAX height", flexctl_compress(cae, px, 8, SIZE_MAX, 1, 8, 8, &bytes, &size, &msg), FLEXCTL_INVALID_ARGUMENT, "too large");
    EXPECT("compress overflowing stride", flexctl_compress(cae, px, 8, 60000, 1, SIZE_MAX / 4, 8, &bytes, &size,
           &msg), FLEXCTL_INVALID_ARGUMENT, "overflows");
    EXPECT("compress 4 channels", flexctl_compress(cae, px, 8, 8, 4, 32, 8, &bytes, &size, &msg), FLEXCTL_INVALID_ARGUMENT, "channels");
    EXPECT("compress with a forecaster", flexctl_compress(lstm, px, 8, 8, 1, 8, 8, &bytes, &size, &msg), FLEXCTL_WRONG_TASK, NULL);

    check("compress 64x64 gray", flexctl_compress(cae, px, 64, 64, 1, 64, 8, &bytes, &size, NULL) == FLEXCTL_OK);
    uint8_t *pixels = (uint8_t *)1;
    size_t w = 1, h = 1, c = 1;
    EXPECT("decompress size 0", flexctl_decompress(cae, bytes, 0, &pixels, &w, &h, &c, &msg), FLEXCTL_INVALID_ARGUMENT, NULL);
    check("decompress failure sets outputs to NULL/0", pixels == NULL && w == 0 && h == 0 && c == 0);
    EXPECT("decompress SIZE_MAX", flexctl_decompress(cae, bytes, SIZE_MAX, &pixels, &w, &h, &c, &msg), FLEXCTL_INVALID_ARGUMENT, NULL);
    for (size_t cut = 1; cut < size; cut += size / 7 + 1) {
        char what[64];
        snprintf(what, sizeof what, "decompress truncated to %zu of %zu bytes", cut, size);
        EXPECT(what, flexctl_decompress(cae, bytes, cut, &pixels, &w, &h, &c, &msg), FLEXCTL_INVALID_DATA, NULL);
    }
    EXPECT("decompress with a forecaster", flexctl_decompress(lstm, bytes, size, &pixels, &w, &h, &c, &msg), FLEXCTL_WRONG_TASK, NULL);
    check("decompress the whole file", flexctl_decompress(cae, bytes, size, &pixels, &w, &h, &c, NULL) == FLEXCTL_OK
          && w == 64 && h == 64 && c == 1);
    flexctl_free(pixels);
    flexctl_free(bytes);

    double prices[40 * 4];
    for (int i = 0; i < 40 * 4; i++) prices[i] = 1000 + i;
    double *values = (double *)1, *levels = (double *)1;
    size_t targets = 9;
    EXPECT("forecast NULL values", flexctl_forecast(lstm, NULL, 40, 4, FLEXCTL_SERIES_PRICES, 1, &values, &levels,
           &targets, &msg), FLEXCTL_INVALID_ARGUMENT, "NULL");
    check("forecast failure sets outputs to NULL/0", values == NULL && levels == NULL && targets == 0);
    EXPECT("forecast 0 rows", flexctl_forecast(lstm, prices, 0, 4, FLEXCTL_SERIES_PRICES, 1, &values, &levels,
           &targets, &msg), FLEXCTL_INVALID_ARGUMENT, "rows");
    EXPECT("forecast SIZE_MAX rows", flexctl_forecast(lstm, prices, SIZE_MAX, 4, FLEXCTL_SERIES_PRICES, 1, &values,
           &levels, &targets, &msg), FLEXCTL_INVALID_ARGUMENT, NULL);
    EXPECT("forecast 3 series", flexctl_forecast(lstm, prices, 40, 3, FLEXCTL_SERIES_PRICES, 1, &values, &levels,
           &targets, &msg), FLEXCTL_INVALID_ARGUMENT, "series");
    EXPECT("forecast 5 rows", flexctl_forecast(lstm, prices, 5, 4, FLEXCTL_SERIES_PRICES, 1, &values, &levels,
           &targets, &msg), FLEXCTL_INVALID_DATA, "too few");
    prices[4 * 39 + 1] = NAN;
    EXPECT("forecast NaN", flexctl_forecast(lstm, prices, 40, 4, FLEXCTL_SERIES_PRICES, 1, &values, &levels,
           &targets, &msg), FLEXCTL_INVALID_DATA, "finite");
    prices[4 * 39 + 1] = 1000;
    EXPECT("forecast with an image model", flexctl_forecast(cae, prices, 40, 4, FLEXCTL_SERIES_PRICES, 1, &values,
           &levels, &targets, &msg), FLEXCTL_WRONG_TASK, NULL);
    check("forecast 40 rows", flexctl_forecast(lstm, prices, 40, 4, FLEXCTL_SERIES_PRICES, 2, &values, NULL,
          &targets, NULL) == FLEXCTL_OK && targets == 4 && isfinite(values[0]) && isfinite(values[7]));
    flexctl_free(values);

    flexctl_model_close(cae);
    flexctl_model_close(lstm);
    printf("%d failure(s)\n", failures);
    return failures == 0 ? 0 : 1;
}
