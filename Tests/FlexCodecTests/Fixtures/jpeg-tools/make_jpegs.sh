#!/usr/bin/env bash
# Makes the JPEG fixtures of FlexCodecTests (JPEGReaderTests) and the expected decodings, with libjpeg-turbo's
# own tools (Debian libjpeg-turbo-progs: cjpeg, djpeg) from the 96×96 sample photo. The tests need none of
# these tools: the files below are committed. Run from this folder:
#
#   ./make_jpegs.sh
#
# Written with libjpeg-turbo 2.1.5. Every jpeg-*.jpg that decodes has its djpeg -pnm output next to it as
# jpeg-*.ppm (colour) or jpeg-*.pgm (gray): the reader must give exactly those samples.
set -euo pipefail
cd "$(dirname "$0")"
out=..
src=../../../../samples/images/chelsea-96.png
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# A 61×45 crop: odd sizes leave partial 8×8 blocks and partial 16×16 MCUs at the right and bottom edges.
./png_to_pnm.py "$src" 17 23 61 45 "$tmp/crop.ppm"
./png_to_pnm.py "$src" 17 23 61 45 "$tmp/crop.pgm" --gray

make() {  # NAME INPUT cjpeg-options...
    local name="$1" input="$2"
    shift 2
    cjpeg "$@" -outfile "$out/$name.jpg" "$input"
}
make jpeg-gray "$tmp/crop.pgm" -quality 90
make jpeg-gray-progressive "$tmp/crop.pgm" -quality 90 -progressive
make jpeg-rgb420 "$tmp/crop.ppm" -quality 85
make jpeg-rgb420-progressive "$tmp/crop.ppm" -quality 85 -progressive
make jpeg-rgb444-restart "$tmp/crop.ppm" -quality 85 -sample 1x1 -restart 3B -optimize
make jpeg-rgb422-arithmetic "$tmp/crop.ppm" -quality 85 -sample 2x1 -arithmetic
make jpeg-rgb-colourspace "$tmp/crop.ppm" -quality 85 -rgb
for name in jpeg-gray jpeg-gray-progressive; do djpeg -pnm -outfile "$out/$name.pgm" "$out/$name.jpg"; done
for name in jpeg-rgb420 jpeg-rgb420-progressive jpeg-rgb444-restart jpeg-rgb422-arithmetic jpeg-rgb-colourspace; do
    djpeg -pnm -outfile "$out/$name.ppm" "$out/$name.jpg"
done

# A flat 1024×1024 gray progressive file whose scans all have Al = 0 (no successive approximation): a scan
# like its last one (AC 1–63 of component 0, first pass) can be repeated any number of times without libjpeg
# warning about the progression, so the tests build a file with thousands of scans from it.
python3 -c 'import sys; sys.stdout.buffer.write(b"P5\n1024 1024\n255\n" + bytes([128]) * (1024 * 1024))' > "$tmp/flat.pgm"
printf '0: 0 0 0 0;\n0: 1 63 0 0;\n' > "$tmp/scans.txt"
make jpeg-flat-1024-al0 "$tmp/flat.pgm" -quality 75 -progressive -scans "$tmp/scans.txt" -optimize

# Four components: refused by the reader (cjpeg writes neither).
cc -O1 -o "$tmp/make_cmyk" make_cmyk.c -ljpeg
"$tmp/make_cmyk" cmyk > "$out/jpeg-cmyk.jpg"
"$tmp/make_cmyk" ycck > "$out/jpeg-ycck.jpg"
ls -l "$out"/jpeg-*
