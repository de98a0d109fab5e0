// SHA-256 through OpenSSL's libcrypto. flexctl needs one hash, for the model fingerprint; libcrypto is on every
// system that has OpenSSL, where swift-crypto 3.x would link all of Foundation (and ICU, 34 MB in static
// builds) into every program that embeds FlexRuntime. (Why SHA256_* and not EVP: Sources/CLibCrypto/shim.h.)

import CLibCrypto

/// An incremental SHA-256: `update` any number of times, then `finalize` once.
struct SHA256 {
    private var context = clibcrypto_sha256_context()

    init() {
        // SHA256_Init only fills in the initial state; it cannot fail.
        guard clibcrypto_sha256_init(&context) == 1 else { fatalError("libcrypto: SHA256_Init failed") }
    }

    mutating func update(bufferPointer bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return }
        guard clibcrypto_sha256_update(&context, base, bytes.count) == 1 else { fatalError("libcrypto: SHA256_Update failed") }
    }

    mutating func update(data: [UInt8]) {
        data.withUnsafeBytes { update(bufferPointer: $0) }
    }

    /// The 32-byte digest.
    mutating func finalize() -> [UInt8] {
        var digest = [UInt8](repeating: 0, count: 32)
        let ok = digest.withUnsafeMutableBufferPointer { clibcrypto_sha256_final($0.baseAddress, &context) }
        guard ok == 1 else { fatalError("libcrypto: SHA256_Final failed") }
        return digest
    }
}

/// The SHA-256 of `bytes` as 64 lowercase hex digits (a configuration's fingerprint: `flexctl experiment`).
public func sha256Hex(_ bytes: [UInt8]) -> String {
    var hasher = SHA256()
    hasher.update(data: bytes)
    return hexDigits(hasher.finalize())
}

/// Lowercase hex digits of `bytes`.
func hexDigits(_ bytes: [UInt8]) -> String {
    bytes.map { b -> String in
        let s = String(b, radix: 16)
        return b < 16 ? "0" + s : s
    }.joined()
}
