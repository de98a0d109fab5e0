import CZlib

/// zlib's deflate, inflate and CRC-32 for the `.flexz` container.
enum Zlib {
    /// CRC-32 (ISO-HDLC, as in zlib, PNG and gzip) of `bytes`.
    static func crc32(_ bytes: ArraySlice<UInt8>, initial: UInt32 = 0) -> UInt32 {
        bytes.withUnsafeBytes { raw in
            guard let base = raw.baseAddress, raw.count > 0 else { return initial }
            var crc = UInt(initial)
            var p = base.assumingMemoryBound(to: UInt8.self)
            var left = raw.count
            while left > 0 {
                let n = min(left, Int(UInt32.max))
                crc = CZlib.crc32(crc, p, uInt(n))
                p += n
                left -= n
            }
            return UInt32(truncatingIfNeeded: crc)
        }
    }

    /// A zlib stream (RFC 1950) of `input` at `level` (0–9).
    static func deflate(_ input: [UInt8], level: Int32 = 9) -> [UInt8] {
        var bound = Int(compressBound(uLong(input.count)))
        var out = [UInt8](repeating: 0, count: bound)
        let rc = out.withUnsafeMutableBufferPointer { dst in
            input.withUnsafeBufferPointer { src in
                var n = uLongf(bound)
                let r = compress2(dst.baseAddress, &n, src.baseAddress, uLong(input.count), level)
                bound = Int(n)
                return r
            }
        }
        precondition(rc == Z_OK, "compress2 failed: \(rc)")
        return Array(out.prefix(bound))
    }

    /// Inflates a zlib stream that must decompress to exactly `expectedSize` bytes; anything else (a corrupt
    /// or truncated stream, more or less data, trailing bytes) is an error message.
    static func inflate(_ input: ArraySlice<UInt8>, expectedSize: Int) -> Result<[UInt8], ZlibFailure> {
        var out = [UInt8](repeating: 0, count: expectedSize + 1)  // one spare byte detects "too much"
        var stream = z_stream()
        guard czlib_inflateInit2(&stream, 15) == Z_OK else { return .failure(.init("cannot initialise zlib")) }
        defer { inflateEnd(&stream) }
        let rc: Int32 = input.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                stream.next_in = UnsafeMutablePointer(mutating: src.baseAddress)
                stream.avail_in = uInt(src.count)
                stream.next_out = dst.baseAddress
                stream.avail_out = uInt(dst.count)
                return CZlib.inflate(&stream, Z_FINISH)
            }
        }
        let produced = Int(stream.total_out)
        switch rc {
        case Z_STREAM_END:
            if produced != expectedSize {
                return .failure(.init("the payload inflates to \(produced) bytes; the header implies \(expectedSize)"))
            }
            if stream.avail_in != 0 {
                return .failure(.init("\(stream.avail_in) bytes follow the end of the compressed payload"))
            }
            out.removeLast()
            return .success(out)
        case Z_BUF_ERROR where produced > expectedSize, Z_OK where produced > expectedSize:
            return .failure(.init("the payload inflates to more than the \(expectedSize) bytes the header implies"))
        case Z_BUF_ERROR:
            return .failure(.init("the compressed payload is truncated (inflated \(produced) of \(expectedSize) bytes)"))
        default:
            return .failure(.init("the compressed payload is corrupt after \(produced) decompressed bytes: "
                + String(cString: czlib_inflate_problem(&stream, rc))))
        }
    }
}

struct ZlibFailure: Error {
    var message: String
    init(_ m: String) { message = m }
}
