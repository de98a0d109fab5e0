import FlexImageIO

/// The `.flexz` container, format version 2: an image coded by a learned codec (`LearnedCodec`;
/// docs/flexz-format.md, "Format version 2"). Version 1 (the CAE tile codec) is `FlexzFile`; both start with
/// the same magic, and `FlexzFormat.version(of:name:)` tells them apart.
///
/// Layout, all integers little-endian:
///
///     offset  size  field
///     0       8     magic 89 'F' 'L' 'X' 'Z' 0D 0A 1A (as version 1)
///     8       2     format version (2)
///     10      2     header size (72)
///     12      32    model fingerprint: the SHA-256 of the checkpoint's weights
///     44      4     image width W, 48  4  image height H
///     52      1     image channels (1 gray or 3 RGB: what decompress writes; always coded as RGB)
///     53      1     flags (bit 0: the input's alpha channel was dropped; other bits 0)
///     54      2     reserved (0)
///     56      2     latent channels M
///     58      2     latent height h = ⌈H / 16⌉, 60  2  latent width w = ⌈W / 16⌉
///     62      2     band height b (latent rows, 1 … h), 64  2  band overlap (latent rows, ≤ 64)
///     66      2     band count ⌈h / b⌉
///     68      4     reserved (0)
///     72      …     per band: its stream size S (4 bytes), then S bytes of rANS stream coding the band's
///                   M × rows × w symbols, channel-major (channel, row, column), symbol of channel c with table c
///     end     4     CRC-32 of every byte before it
public struct FlexzLearnedFile: Sendable, Equatable {
    public static let formatVersion = 2
    public static let headerSize = 72
    /// Every side of the coded (padded) image is a multiple of this: the transforms' total stride.
    public static let latentStride = 16
    /// The largest band overlap a file may declare (latent rows; the shipped architecture needs 2).
    public static let maximumBandOverlap = 64
    /// The most latent values a file may declare (as version 1's code limit): checked before anything is
    /// allocated for them.
    public static let maximumLatentValues = FlexzFile.maximumCodeValues

    public var fingerprint: [UInt8]  // 32 bytes
    public var width: Int
    public var height: Int
    /// What decompress writes: 1 (gray, coded as RGB with equal channels) or 3.
    public var imageChannels: Int
    public var alphaDropped: Bool
    public var latentChannels: Int
    public var latentHeight: Int
    public var latentWidth: Int
    /// Latent rows per band (the last band may have fewer).
    public var bandHeight: Int
    /// Latent rows of context the encoder's analysis saw on each side of a band (their latents are discarded).
    public var bandOverlap: Int
    /// One rANS stream per band, top to bottom.
    public var bandStreams: [[UInt8]]

    public init(fingerprint: [UInt8], width: Int, height: Int, imageChannels: Int, alphaDropped: Bool,
                latentChannels: Int, latentHeight: Int, latentWidth: Int, bandHeight: Int, bandOverlap: Int,
                bandStreams: [[UInt8]]) {
        self.fingerprint = fingerprint
        self.width = width; self.height = height
        self.imageChannels = imageChannels; self.alphaDropped = alphaDropped
        self.latentChannels = latentChannels; self.latentHeight = latentHeight; self.latentWidth = latentWidth
        self.bandHeight = bandHeight; self.bandOverlap = bandOverlap
        self.bandStreams = bandStreams
    }

    public var bandCount: Int { bandStreams.count }

    /// The latent rows of band `i`.
    public func bandRows(_ i: Int) -> Range<Int> { bandRange(i, bandHeight: bandHeight, rows: latentHeight) }

    /// `sha256:<hex>` of the model this file needs.
    public var fingerprintText: String { "sha256:" + fingerprint.map(hex).joined() }

    /// The bytes of all band streams (the coded latents, without header, size fields and CRC).
    public var payloadBytes: Int { bandStreams.reduce(0) { $0 + $1.count } }

    // MARK: Writing

    public func serialized() -> [UInt8] {
        var out = FlexzFile.magic
        func u16(_ v: Int) { out += [UInt8(v & 0xFF), UInt8(v >> 8 & 0xFF)] }
        func u32(_ v: Int) { out += [UInt8(v & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v >> 16 & 0xFF), UInt8(v >> 24 & 0xFF)] }
        u16(Self.formatVersion)
        u16(Self.headerSize)
        out += fingerprint
        u32(width); u32(height)
        out += [UInt8(imageChannels), alphaDropped ? 1 : 0]
        u16(0)
        u16(latentChannels); u16(latentHeight); u16(latentWidth)
        u16(bandHeight); u16(bandOverlap); u16(bandStreams.count)
        u32(0)
        for s in bandStreams {
            u32(s.count)
            out += s
        }
        u32(Int(Zlib.crc32(out[...])))
        return out
    }

    // MARK: Reading

    /// Parses and checks a version-2 file: every field's range and the sizes against each other, the band
    /// streams' sizes against the file, then the CRC. Errors name the file, the field with its byte offset, and
    /// what was expected. The streams themselves are checked when they are decoded (`LearnedCodec`).
    public static func parse(_ b: [UInt8], name: String) throws(CodecError) -> FlexzLearnedFile {
        func fail(_ m: String) -> CodecError { CodecError(file: name, m) }
        guard !b.isEmpty else { throw fail("empty file (0 bytes); expected a .flexz file") }
        guard b.count >= 8, Array(b[0..<8]) == FlexzFile.magic else {
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
            throw fail("format version \(version) (bytes 8–9); expected \(formatVersion) (a learned-codec file)")
        }
        guard u16(10) == headerSize else { throw fail("header size (bytes 10–11) = \(u16(10)); expected \(headerSize)") }
        try need(headerSize, "header")
        var f = FlexzLearnedFile(
            fingerprint: Array(b[12..<44]), width: u32(44), height: u32(48), imageChannels: Int(b[52]),
            alphaDropped: b[53] & 1 != 0, latentChannels: u16(56), latentHeight: u16(58), latentWidth: u16(60),
            bandHeight: u16(62), bandOverlap: u16(64), bandStreams: [])
        let bandCount = u16(66)
        guard f.width >= 1, f.height >= 1, f.width <= ImageFile.maximumSide, f.height <= ImageFile.maximumSide,
              f.width * f.height <= ImageFile.maximumPixels else {
            throw fail("image size \(f.width)×\(f.height) (bytes 44–51) is outside 1…\(ImageFile.maximumSide) a side / \(ImageFile.maximumPixels) pixels")
        }
        guard f.imageChannels == 1 || f.imageChannels == 3 else { throw fail("image channels (byte 52) = \(f.imageChannels); expected 1 or 3") }
        guard b[53] & 0xFE == 0 else { throw fail("flags (byte 53) = \(b[53]): only bit 0 is defined") }
        guard u16(54) == 0 else { throw fail("reserved bytes 54–55 must be 0, found \(u16(54))") }
        guard u32(68) == 0 else { throw fail("reserved bytes 68–71 must be 0, found \(u32(68))") }
        guard f.latentChannels >= 1 else { throw fail("latent channels (bytes 56–57) = 0; expected at least 1") }
        let s = latentStride
        let h = (f.height + s - 1) / s, w = (f.width + s - 1) / s
        guard f.latentHeight == h, f.latentWidth == w else {
            throw fail("latent grid (bytes 58–61) is \(f.latentHeight)×\(f.latentWidth); a \(f.width)×\(f.height) image needs ⌈H/\(s)⌉×⌈W/\(s)⌉ = \(h)×\(w)")
        }
        // M < 2^16 and h · w ≤ 2^26 / 256: the product fits easily, but is bounded before anything is allocated.
        let values = f.latentChannels * h * w
        guard values <= maximumLatentValues else {
            throw fail("the latents are \(f.latentChannels)×\(h)×\(w) = \(values) values (bytes 56–61), more than the limit of \(maximumLatentValues)")
        }
        guard f.bandHeight >= 1, f.bandHeight <= h else {
            throw fail("band height (bytes 62–63) = \(f.bandHeight) latent rows; expected 1…\(h) (the latent height)")
        }
        guard f.bandOverlap <= maximumBandOverlap else {
            throw fail("band overlap (bytes 64–65) = \(f.bandOverlap) latent rows; expected at most \(maximumBandOverlap)")
        }
        let expectedBands = (h + f.bandHeight - 1) / f.bandHeight
        guard bandCount == expectedBands else {
            throw fail("band count (bytes 66–67) = \(bandCount); \(h) latent rows in bands of \(f.bandHeight) make \(expectedBands)")
        }
        var o = headerSize
        f.bandStreams.reserveCapacity(bandCount)
        for i in 0..<bandCount {
            try need(o + 4, "size of band \(i)'s stream (byte \(o))")
            let size = u32(o)
            // rANS streams start with the 4-byte final state: anything shorter cannot be a stream.
            guard size >= 4 else { throw fail("band \(i)'s stream size (bytes \(o)–\(o + 3)) = \(size); a rANS stream has at least 4 bytes") }
            guard b.count - (o + 4) >= size + 4 else {
                throw fail("truncated: band \(i)'s stream (bytes \(o)–\(o + 3) give its size, \(size) bytes) and the CRC need \(o + 4 + size + 4) bytes; the file has \(b.count)")
            }
            f.bandStreams.append(Array(b[(o + 4)..<(o + 4 + size)]))
            o += 4 + size
        }
        guard b.count >= o + 4 else { throw fail("truncated: the file ends at byte \(b.count) inside the CRC (needs \(o + 4) bytes)") }
        guard b.count == o + 4 else { throw fail("\(b.count - o - 4) unexpected bytes after the CRC (byte \(o + 4))") }
        let stored = UInt32(u32(o)), actual = Zlib.crc32(b[0..<o])
        guard stored == actual else {
            throw fail("CRC mismatch: bytes \(o)–\(o + 3) say \(String(stored, radix: 16)), the file's contents give \(String(actual, radix: 16)) (the file is corrupt)")
        }
        return f
    }
}

/// Which `.flexz` format a file is: telling version 1 (`FlexzFile`) and version 2 (`FlexzLearnedFile`) apart
/// before parsing either.
public enum FlexzFormat {
    /// The format version in bytes 8–9 after checking the magic: 1 or 2, or an error naming the file.
    public static func version(of b: [UInt8], name: String) throws(CodecError) -> Int {
        guard !b.isEmpty else { throw CodecError(file: name, "empty file (0 bytes); expected a .flexz file") }
        guard b.count >= 8, Array(b[0..<8]) == FlexzFile.magic else {
            throw CodecError(file: name, "not a .flexz file: bytes 0–7 should be the magic 89 46 4c 58 5a 0d 0a 1a, found \(b.prefix(8).map(hex).joined(separator: " "))")
        }
        guard b.count >= 10 else { throw CodecError(file: name, "truncated: the file ends at byte \(b.count) inside the header (needs at least 10 bytes for the version)") }
        let v = Int(b[8]) | Int(b[9]) << 8
        guard v == FlexzFile.formatVersion || v == FlexzLearnedFile.formatVersion else {
            throw CodecError(file: name, "format version \(v) (bytes 8–9); this flexctl reads versions 1 and 2")
        }
        return v
    }
}

/// Rows `[i·b, min((i+1)·b, rows))`: band i of height b.
func bandRange(_ i: Int, bandHeight b: Int, rows: Int) -> Range<Int> {
    (i * b)..<min(rows, (i + 1) * b)
}
