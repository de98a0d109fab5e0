// libpng, simplified API only (png_image_*): libpng's setjmp/longjmp error path is unsafe from Swift.
// Internal to flexctl; no stable API.
#include <png.h>
