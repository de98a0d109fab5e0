// SHA-256 through OpenSSL's libcrypto (EVP digest API). flexctl needs one hash, for the model fingerprint;
// libcrypto is on every system that has OpenSSL, where swift-crypto 3.x would link all of Foundation (and ICU,
// 34 MB in static builds) into every program that embeds FlexRuntime.

import CLibCrypto

/// An incremental SHA-256: `update` any number of times, then `finalize` once.
final class SHA256 {
    private let context: OpaquePointer

    init() {
        // Allocation or initialisation fails only when memory is exhausted (or OpenSSL is broken), which
        // flexctl treats like any other allocation failure.
        guard let ctx = EVP_MD_CTX_new() else { fatalError("libcrypto: EVP_MD_CTX_new failed (out of memory)") }
        guard EVP_DigestInit_ex(ctx, clibcrypto_sha256(), nil) == 1 else {
            EVP_MD_CTX_free(ctx)
            fatalError("libcrypto: EVP_DigestInit_ex(SHA-256) failed")
        }
        context = ctx
    }

    deinit { EVP_MD_CTX_free(context) }

    func update(bufferPointer bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return }
        guard EVP_DigestUpdate(context, base, bytes.count) == 1 else { fatalError("libcrypto: EVP_DigestUpdate failed") }
    }

    func update(data: [UInt8]) {
        data.withUnsafeBytes { update(bufferPointer: $0) }
    }

    /// The 32-byte digest.
    func finalize() -> [UInt8] {
        var digest = [UInt8](repeating: 0, count: 32)
        var length: UInt32 = 0
        let ok = digest.withUnsafeMutableBufferPointer { EVP_DigestFinal_ex(context, $0.baseAddress, &length) }
        guard ok == 1, length == 32 else { fatalError("libcrypto: EVP_DigestFinal_ex failed") }
        return digest
    }
}
