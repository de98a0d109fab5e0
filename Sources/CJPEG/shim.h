// libjpeg(-turbo) for flexctl. Its errors are reported by longjmp, which is unsafe from Swift: every libjpeg
// call goes through the C shim CFlexJPEG, which keeps each longjmp inside C. This target exists so that the
// library is found through pkg-config (libjpeg) and linked. Internal to flexctl; no stable API.
#include <stddef.h>
#include <stdio.h>
#include <jpeglib.h>
