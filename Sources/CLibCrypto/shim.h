// OpenSSL's libcrypto for FlexRuntime: the EVP digest API, used for SHA-256 only (the model fingerprint).
// Internal to flexctl; no stable API.
#ifndef CLIBCRYPTO_SHIM_H
#define CLIBCRYPTO_SHIM_H
#include <openssl/evp.h>

// EVP_sha256() is a function in OpenSSL 1.1 and 3.x; wrapped so Swift sees one stable spelling.
static inline const EVP_MD *clibcrypto_sha256(void) { return EVP_sha256(); }
#endif
