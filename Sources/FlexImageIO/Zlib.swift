// The one home of zlib in flexctl: CRC-32, whole-buffer deflate/inflate (the `.flexz` container) and the
// streaming gzip inflater of the data loaders (IDX files may be gzip-compressed). Callers map `ZlibFailure`
// to their own error types, adding the file name.
import CZlib

/// zlib's deflate, inflate and CRC-32.
public enum Zlib {
    /// CRC-32 (ISO-HDLC, as in zlib, PNG and gzip) of `bytes`.
    public static func crc32(_ bytes: ArraySlice<UInt8>, initial: UInt32 = 0) -> UInt32 {
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
    public static func deflate(_ input: [UInt8], level: Int32 = 9) -> [UInt8] {
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
    public static func inflate(_ input: ArraySlice<UInt8>, expectedSize: Int) -> Result<[UInt8], ZlibFailure> {
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

/// A zlib or gzip stream that could not be inflated: what was wrong, and where in the compressed input (for
/// the streaming inflater; nil for whole-buffer inflation, whose messages say where).
public struct ZlibFailure: Error, Sendable, Equatable {
    public var message: String
    /// Offset in the compressed input at which the problem was found.
    public var compressedOffset: Int?
    public init(_ m: String, compressedOffset: Int? = nil) {
        message = m
        self.compressedOffset = compressedOffset
    }
}

/// Inflates gzip data (one or more concatenated members; windowBits 15 + 32) held in memory, on demand and
/// straight into the caller's buffers, so that a large decompressed file is never held twice.
public final class GzipInflater {
    /// The compressed bytes (owned).
    private let compressed: UnsafeMutableBufferPointer<UInt8>
    private let stream: UnsafeMutablePointer<z_stream>
    private var handedToZlib = 0
    /// True once the last member has ended exactly at the end of the input.
    public private(set) var ended = false
    /// Decompressed bytes delivered so far.
    public private(set) var produced = 0

    /// Takes ownership of `compressed` (deallocated with the inflater, or here if zlib cannot start).
    public convenience init(taking compressed: UnsafeMutableBufferPointer<UInt8>) throws(ZlibFailure) {
        let stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
        stream.initialize(to: z_stream())
        guard czlib_inflateInit2(stream, 15 + 32) == Z_OK else {
            stream.deallocate()
            compressed.deallocate()
            throw ZlibFailure("cannot initialise zlib")
        }
        self.init(compressed: compressed, stream: stream)
    }

    private init(compressed: UnsafeMutableBufferPointer<UInt8>, stream: UnsafeMutablePointer<z_stream>) {
        self.compressed = compressed
        self.stream = stream
    }

    deinit {
        inflateEnd(stream)
        stream.deallocate()
        compressed.deallocate()
    }

    /// The compressed size.
    public var compressedCount: Int { compressed.count }

    /// Where inflation is in the compressed input.
    public var compressedPosition: Int {
        guard let start = compressed.baseAddress, let next = stream.pointee.next_in else { return 0 }
        return next - start
    }

    /// Fills `buffer` completely unless the data ends first; returns the number of bytes written. A truncated
    /// or corrupt stream, or bytes after the last member that do not start another member, throw.
    public func inflate(into buffer: UnsafeMutableRawBufferPointer) throws(ZlibFailure) -> Int {
        var written = 0
        let chunk = 1 << 30
        while written < buffer.count && !ended {
            if stream.pointee.avail_in == 0 {
                let remaining = compressed.count - handedToZlib
                if remaining == 0 {
                    throw ZlibFailure("gzip data ends unexpectedly after \(produced + written) decompressed bytes (truncated .gz file)",
                                      compressedOffset: compressed.count)
                }
                stream.pointee.next_in = compressed.baseAddress! + handedToZlib
                stream.pointee.avail_in = uInt(min(remaining, chunk))
                handedToZlib += min(remaining, chunk)
            }
            let want = min(buffer.count - written, chunk)
            stream.pointee.next_out = (buffer.baseAddress! + written).assumingMemoryBound(to: Bytef.self)
            stream.pointee.avail_out = uInt(want)
            let rc = CZlib.inflate(stream, Z_NO_FLUSH)
            written += want - Int(stream.pointee.avail_out)
            switch rc {
            case Z_OK:
                continue
            case Z_STREAM_END:
                let at = compressedPosition
                if at == compressed.count {
                    ended = true
                } else if compressed.count - at >= 2 && compressed[at] == 0x1F && compressed[at + 1] == 0x8B {
                    inflateReset(stream)  // another gzip member follows
                } else {
                    produced += written
                    throw ZlibFailure("\(compressed.count - at) unexpected bytes after the end of the gzip data",
                                      compressedOffset: at)
                }
            case Z_BUF_ERROR where stream.pointee.avail_in == 0 && handedToZlib == compressed.count:
                throw ZlibFailure("gzip data ends unexpectedly after \(produced + written) decompressed bytes (truncated .gz file)",
                                  compressedOffset: compressed.count)
            default:
                throw ZlibFailure("corrupt gzip data after \(produced + written) decompressed bytes: "
                                    + String(cString: czlib_inflate_problem(stream, rc)),
                                  compressedOffset: compressedPosition)
            }
        }
        produced += written
        return written
    }
}
