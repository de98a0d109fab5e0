import FlexImageIO

/// The `.flexz` container (docs/flexz-format.md): everything a decoder needs besides the model.
///
/// Layout, all integers little-endian:
///
///     offset  size  field
///     0       8     magic 89 'F' 'L' 'X' 'Z' 0D 0A 1A
///     8       2     format version (1)
///     10      2     header size H (bytes from offset 0 to the payload; 72 + 8 · code channels)
///     12      32    model fingerprint: the SHA-256 of the checkpoint's weights (its `sha256:` hex, as bytes)
///     44      4     image width (pixels)
///     48      4     image height
///     52      1     image channels (1 gray or 3 RGB: what decompress writes)
///     53      1     coded channels (the model's input channels)
///     54      1     bits per code value N (1–16)
///     55      1     flags (bit 0: the input's alpha channel was dropped; other bits 0)
///     56      2     tile width, 58  2  tile height (the model's input size)
///     60      2     tiles across, 62  2  tiles down
///     64      2     code channels C, 66  2  code height, 68  2  code width
///     70      2     reserved (0)
///     72      8·C   per code channel c: offset_c, scale_c (float32): value = offset_c + q · scale_c
///     H       4     payload size P (bytes)
///     H+4     P     payload: zlib stream of the quantised code, bit-packed MSB-first, N bits per value,
///                   in order tile (row-major over the grid), channel, row, column
///     H+4+P   4     CRC-32 of bytes 0 ..< H+4+P
public struct FlexzFile: Sendable, Equatable {
    public static let magic: [UInt8] = [0x89, 0x46, 0x4C, 0x58, 0x5A, 0x0D, 0x0A, 0x1A]
    public static let formatVersion = 1
    /// Limits checked before anything is allocated.
    public static let maximumCodeValues = 1 << 28

    public var fingerprint: [UInt8]  // 32 bytes
    public var width: Int
    public var height: Int
    public var imageChannels: Int
    public var codedChannels: Int
    public var bits: Int
    public var alphaDropped: Bool
    public var tileWidth: Int
    public var tileHeight: Int
    public var tilesAcross: Int
    public var tilesDown: Int
    public var codeChannels: Int
    public var codeHeight: Int
    public var codeWidth: Int
    public var offsets: [Float]
    public var scales: [Float]
    /// The quantised code values (each < 2^bits), tile by tile.
    public var codes: [UInt16]

    public var tileCount: Int { tilesAcross * tilesDown }
    public var valuesPerTile: Int { codeChannels * codeHeight * codeWidth }

    /// `sha256:<hex>` of the model this file needs.
    public var fingerprintText: String { "sha256:" + fingerprint.map(hex).joined() }

    // MARK: Writing

    public func serialized() -> [UInt8] {
        var out = FlexzFile.magic
        func u16(_ v: Int) { out += [UInt8(v & 0xFF), UInt8(v >> 8 & 0xFF)] }
        func u32(_ v: Int) { out += [UInt8(v & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v >> 16 & 0xFF), UInt8(v >> 24 & 0xFF)] }
        func f32(_ v: Float) { u32(Int(v.bitPattern)) }
        u16(FlexzFile.formatVersion)
        u16(72 + 8 * codeChannels)
        out += fingerprint
        u32(width); u32(height)
        out += [UInt8(imageChannels), UInt8(codedChannels), UInt8(bits), alphaDropped ? 1 : 0]
        u16(tileWidth); u16(tileHeight); u16(tilesAcross); u16(tilesDown)
        u16(codeChannels); u16(codeHeight); u16(codeWidth); u16(0)
        for c in 0..<codeChannels { f32(offsets[c]); f32(scales[c]) }
        let payload = Zlib.deflate(BitPacking.pack(codes, bits: bits))
        u32(payload.count)
        out += payload
        u32(Int(Zlib.crc32(out[...])))
        return out
    }

    // MARK: Reading

    /// Parses and checks a `.flexz` file: every field's range, the sizes against each other and the CRC
    /// before inflating; errors name the field, its byte offset, and what was expected.
    ///
    /// `decodingPayload: false` stops after the CRC: the header (fingerprint, sizes, quantisation) without the
    /// codes, so a caller can check that it has the right model before the payload is inflated.
    public static func parse(_ b: [UInt8], name: String, decodingPayload: Bool = true) throws(CodecError) -> FlexzFile {
        func fail(_ m: String) -> CodecError { CodecError(file: name, m) }
        guard !b.isEmpty else { throw fail("empty file (0 bytes); expected a .flexz file") }
        guard b.count >= 8, Array(b[0..<8]) == magic else {
            throw fail("not a .flexz file: bytes 0–7 should be the magic 89 46 4c 58 5a 0d 0a 1a, found \(b.prefix(8).map(hex).joined(separator: " "))")
        }
        func need(_ end: Int, _ what: String) throws(CodecError) {
            guard b.count >= end else { throw fail("truncated: the file ends at byte \(b.count) inside the \(what) (needs at least \(end) bytes)") }
        }
        func u16(_ o: Int) -> Int { Int(b[o]) | Int(b[o + 1]) << 8 }
        func u32(_ o: Int) -> Int { Int(b[o]) | Int(b[o + 1]) << 8 | Int(b[o + 2]) << 16 | Int(b[o + 3]) << 24 }
        try need(12, "header")
        let version = u16(8)
        guard version == formatVersion else {
            throw fail("format version \(version) (bytes 8–9); this flexctl reads version \(formatVersion)")
        }
        let headerSize = u16(10)
        try need(72, "header")
        var f = FlexzFile(
            fingerprint: Array(b[12..<44]), width: u32(44), height: u32(48), imageChannels: Int(b[52]),
            codedChannels: Int(b[53]), bits: Int(b[54]), alphaDropped: b[55] & 1 != 0, tileWidth: u16(56),
            tileHeight: u16(58), tilesAcross: u16(60), tilesDown: u16(62), codeChannels: u16(64),
            codeHeight: u16(66), codeWidth: u16(68), offsets: [], scales: [], codes: [])
        guard b[55] & 0xFE == 0 else { throw fail("flags (byte 55) = \(b[55]): only bit 0 is defined") }
        guard u16(70) == 0 else { throw fail("reserved bytes 70–71 must be 0, found \(u16(70))") }
        guard f.width >= 1, f.height >= 1, f.width <= ImageFile.maximumSide, f.height <= ImageFile.maximumSide,
              f.width * f.height <= ImageFile.maximumPixels else {
            throw fail("image size \(f.width)×\(f.height) (bytes 44–51) is outside 1…\(ImageFile.maximumSide) a side / \(ImageFile.maximumPixels) pixels")
        }
        guard f.imageChannels == 1 || f.imageChannels == 3 else { throw fail("image channels (byte 52) = \(f.imageChannels); expected 1 or 3") }
        guard f.codedChannels == 1 || f.codedChannels == 3 else { throw fail("coded channels (byte 53) = \(f.codedChannels); expected 1 or 3") }
        guard (1...16).contains(f.bits) else { throw fail("bits per value (byte 54) = \(f.bits); expected 1…16") }
        guard f.tileWidth >= 1, f.tileHeight >= 1 else { throw fail("tile size (bytes 56–59) is \(f.tileWidth)×\(f.tileHeight); expected at least 1×1") }
        let across = (f.width + f.tileWidth - 1) / f.tileWidth, down = (f.height + f.tileHeight - 1) / f.tileHeight
        guard f.tilesAcross == across, f.tilesDown == down else {
            throw fail("tile grid (bytes 60–63) is \(f.tilesAcross)×\(f.tilesDown); a \(f.width)×\(f.height) image in \(f.tileWidth)×\(f.tileHeight) tiles needs \(across)×\(down)")
        }
        guard f.codeChannels >= 1, f.codeHeight >= 1, f.codeWidth >= 1 else {
            throw fail("code shape (bytes 64–69) is \(f.codeChannels)×\(f.codeHeight)×\(f.codeWidth); each must be at least 1")
        }
        // Each factor is below 2^16 but their product is not bounded: multiply with overflow checks.
        let (perTile, o1) = (f.codeChannels * f.codeHeight).multipliedReportingOverflow(by: f.codeWidth)
        let (count, o2) = f.tileCount.multipliedReportingOverflow(by: perTile)
        guard !o1, !o2, count <= maximumCodeValues else {
            throw fail("the code has \(f.tileCount) tiles of \(f.codeChannels)×\(f.codeHeight)×\(f.codeWidth) values (bytes 60–69), more than the limit of \(maximumCodeValues) values")
        }
        let expectedHeader = 72 + 8 * f.codeChannels
        guard headerSize == expectedHeader else {
            throw fail("header size (bytes 10–11) = \(headerSize); with \(f.codeChannels) code channels it must be \(expectedHeader)")
        }
        try need(headerSize + 4, "quantisation table")
        for c in 0..<f.codeChannels {
            let o = Float(bitPattern: UInt32(u32(72 + 8 * c))), s = Float(bitPattern: UInt32(u32(76 + 8 * c)))
            guard o.isFinite, s.isFinite, s >= 0 else {
                throw fail("quantisation of code channel \(c) (bytes \(72 + 8 * c)–\(79 + 8 * c)): offset \(o), scale \(s); expected finite values and scale ≥ 0")
            }
            f.offsets.append(o)
            f.scales.append(s)
        }
        let payloadSize = u32(headerSize)
        let end = headerSize + 4 + payloadSize
        guard b.count >= end + 4 else {
            throw fail("truncated: the payload size (bytes \(headerSize)–\(headerSize + 3)) is \(payloadSize) bytes, so the file needs \(end + 4) bytes; it has \(b.count)")
        }
        guard b.count == end + 4 else { throw fail("\(b.count - end - 4) unexpected bytes after the CRC (byte \(end + 4))") }
        let stored = UInt32(u32(end)), actual = Zlib.crc32(b[0..<end])
        guard stored == actual else {
            throw fail("CRC mismatch: bytes \(end)–\(end + 3) say \(String(stored, radix: 16)), the file's contents give \(String(actual, radix: 16)) (the file is corrupt)")
        }
        if !decodingPayload { return f }
        let packedSize = (count * f.bits + 7) / 8
        // deflate cannot expand data more than about 1032:1: a payload too small for the header's code is
        // refused before the output buffer is allocated.
        guard packedSize <= payloadSize * 1032 + 64 else {
            throw fail("payload (byte \(headerSize + 4)): \(payloadSize) compressed bytes cannot hold the \(packedSize) bytes of code the header implies")
        }
        switch Zlib.inflate(b[(headerSize + 4)..<end], expectedSize: packedSize) {
        case let .failure(e): throw fail("payload (byte \(headerSize + 4)): \(e.message)")
        case let .success(packed): f.codes = BitPacking.unpack(packed, bits: f.bits, count: count)
        }
        return f
    }
}

/// N-bit values packed MSB-first into bytes (the last byte padded with zero bits).
enum BitPacking {
    static func pack(_ values: [UInt16], bits: Int) -> [UInt8] {
        if bits == 8 { return values.map { UInt8($0) } }
        var out = [UInt8](repeating: 0, count: (values.count * bits + 7) / 8)
        var acc: UInt32 = 0, n = 0, k = 0
        for v in values {
            acc = acc << UInt32(bits) | UInt32(v)
            n += bits
            while n >= 8 {
                n -= 8
                out[k] = UInt8(truncatingIfNeeded: acc >> UInt32(n))
                k += 1
            }
            acc &= (1 << UInt32(n)) - 1
        }
        if n > 0 { out[k] = UInt8(truncatingIfNeeded: acc << UInt32(8 - n)) }
        return out
    }

    static func unpack(_ bytes: [UInt8], bits: Int, count: Int) -> [UInt16] {
        if bits == 8 { return bytes.prefix(count).map { UInt16($0) } }
        var out = [UInt16](repeating: 0, count: count)
        var acc: UInt32 = 0, n = 0, k = 0
        let mask = UInt32(1) << UInt32(bits) - 1
        for i in 0..<count {
            while n < bits {
                acc = acc << 8 | UInt32(bytes[k])
                k += 1
                n += 8
            }
            n -= bits
            out[i] = UInt16(acc >> UInt32(n) & mask)
            acc &= (1 << UInt32(n)) - 1
        }
        return out
    }
}
