// What the build recorded about itself. The release build script (scripts/build-release) passes the commit
// with `-Xcc -DFLEXCTL_COMMIT='"…"'`; other builds (`swift build`, a package that depends on flexctl) leave it
// undefined, and the version text then says the commit was not recorded rather than guessing.
#include "CFlexSupport.h"

const char *flex_build_commit(void) {
#ifdef FLEXCTL_COMMIT
    return FLEXCTL_COMMIT;
#else
    return "";
#endif
}
