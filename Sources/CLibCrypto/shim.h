// OpenSSL's libcrypto for FlexRuntime: SHA-256 only (the model fingerprint). Internal to flexctl; no stable API.
//
// The one-shot-context SHA256_* functions, not the EVP API: EVP's first use initialises OpenSSL 3's provider
// machinery and reads its configuration file, about 1 ms added to every `flexctl inspect` or `compress`; the
// SHA256_* functions are the same implementation without that. They are deprecated (not removed) in OpenSSL 3,
// hence the wrappers compiled with the deprecation warnings suppressed.
#ifndef CLIBCRYPTO_SHIM_H
#define CLIBCRYPTO_SHIM_H
#define OPENSSL_SUPPRESS_DEPRECATED 1
#include <openssl/sha.h>

typedef SHA256_CTX clibcrypto_sha256_context;

static inline int clibcrypto_sha256_init(clibcrypto_sha256_context *c) { return SHA256_Init(c); }
static inline int clibcrypto_sha256_update(clibcrypto_sha256_context *c, const void *data, size_t length) {
    return SHA256_Update(c, data, length);
}
/// Writes the 32-byte digest to `digest`.
static inline int clibcrypto_sha256_final(unsigned char *digest, clibcrypto_sha256_context *c) {
    return SHA256_Final(digest, c);
}
#endif
