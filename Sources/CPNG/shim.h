// libpng for Swift: the simplified API (png_image_*) only, used for writing. libpng's setjmp/longjmp error path
// is unsafe from Swift: reading goes through the C shim CFlexPNG, which keeps every longjmp inside C.
// Internal to flexctl; no stable API.
#include <png.h>
