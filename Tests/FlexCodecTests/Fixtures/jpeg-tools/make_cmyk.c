// Writes a small 4-component JPEG (CMYK or, with "ycck", YCCK) with libjpeg's compression API, for the reader's
// refusal tests: cjpeg cannot write either. Built and run by make_jpegs.sh; not part of the package.
//   cc make_cmyk.c -ljpeg -o make_cmyk && ./make_cmyk cmyk > jpeg-cmyk.jpg
#include <stdio.h>
#include <string.h>
#include <jpeglib.h>

int main(int argc, char **argv) {
    int ycck = argc > 1 && strcmp(argv[1], "ycck") == 0;
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr err;
    c.err = jpeg_std_error(&err);
    jpeg_create_compress(&c);
    jpeg_stdio_dest(&c, stdout);
    c.image_width = 24;
    c.image_height = 16;
    c.input_components = 4;
    c.in_color_space = JCS_CMYK;
    jpeg_set_defaults(&c);
    // Adobe APP14 marks the colour transform (0 CMYK, 2 YCCK): how decoders tell the two apart.
    jpeg_set_colorspace(&c, ycck ? JCS_YCCK : JCS_CMYK);
    jpeg_set_quality(&c, 90, TRUE);
    jpeg_start_compress(&c, TRUE);
    unsigned char row[24 * 4];
    while (c.next_scanline < c.image_height) {
        for (int x = 0; x < 24; x++) {
            row[4 * x] = (unsigned char)(x * 10);
            row[4 * x + 1] = (unsigned char)(c.next_scanline * 15);
            row[4 * x + 2] = 128;
            row[4 * x + 3] = (unsigned char)((x + c.next_scanline) * 5);
        }
        JSAMPROW p = row;
        jpeg_write_scanlines(&c, &p, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    return 0;
}
