// The one PNG reader of flexctl (the codec, the photo loader and the tests use it): samples exactly as stored.
//
// libpng's simplified API (png_image_*) colour-manages what it reads: it honours gAMA, sRGB, iCCP and cHRM
// and converts 16-bit data to linear light, so 16-bit files with a gAMA or sRGB chunk came out far too dark
// and 8-bit files with an unusual gamma were altered. A codec must see the samples the file holds (as PIL,
// ImageMagick and cwebp do), so decoding goes through libpng's classic API in a small C shim (CFlexPNG), which
// skips every ancillary chunk except tRNS and applies only lossless layout transforms.
import CFlexPNG
import FlexIO

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A PNG's samples as stored in the file: no gamma, colour-space or alpha processing. Palette images come as
/// RGB (RGBA with a tRNS chunk), gray of 1, 2 or 4 bits as 8-bit gray by bit replication (the PNG
/// specification's scaling: 1 → 255, 0b10 → 0xAA, ...), and a tRNS colour key as an alpha channel (0 for
/// the key, the maximum elsewhere).
public struct PNGSamples: Sendable, Equatable {
    public var width: Int
    public var height: Int
    /// 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA, interleaved, rows top to bottom.
    public var channels: Int
    /// 8 or 16.
    public var bitDepth: Int
    /// `width · height · channels` samples; 16-bit samples as big-endian byte pairs (as in the file).
    public var bytes: [UInt8]

    /// Sample `i` (0 ..< width · height · channels).
    public func sample(_ i: Int) -> Int {
        bitDepth == 16 ? Int(bytes[2 * i]) << 8 | Int(bytes[2 * i + 1]) : Int(bytes[i])
    }
}

/// A decoded PNG at 8 bits per sample.
public struct PNGImage: Sendable, Equatable {
    public var width: Int
    public var height: Int
    /// 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA, interleaved, rows top to bottom.
    public var channels: Int
    public var pixels: [UInt8]

    public init(width: Int, height: Int, channels: Int, pixels: [UInt8]) {
        self.width = width
        self.height = height
        self.channels = channels
        self.pixels = pixels
    }
}

/// The PNG signature.
public let pngSignature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]

/// Default size limits of the PNG reader: checked from the header, before any pixel memory is allocated.
public enum PNGLimits {
    /// The largest width or height accepted.
    public static let maximumSide = 1 << 16
    /// The largest number of pixels accepted (e.g. 8192 × 8192).
    public static let maximumPixels = 1 << 26
}

/// The message for an image over the size limits (shared with the PNM reader, so that both say the same).
public func imageSizeLimitMessage(width: Int, height: Int, maximumSide: Int, maximumPixels: Int) -> String? {
    let (pixels, overflow) = width.multipliedReportingOverflow(by: height)
    guard width < 1 || height < 1 || width > maximumSide || height > maximumSide || overflow || pixels > maximumPixels else {
        return nil
    }
    if width < 1 || height < 1 { return "the image is \(width)×\(height); width and height must be at least 1" }
    return "the image is \(width)×\(height)\(overflow ? "" : " (\(pixels) pixels)"); flexctl accepts at most \(maximumSide) pixels a side and \(maximumPixels) pixels in all"
}

/// Decodes PNG bytes to their samples as stored (see `PNGSamples`). `name` labels errors. The size is checked
/// against the limits before the pixel buffer is allocated; a damaged, truncated or non-PNG input throws.
public func decodePNGSamples(_ bytes: [UInt8], name: String, maximumSide: Int = PNGLimits.maximumSide,
                             maximumPixels: Int = PNGLimits.maximumPixels) throws(ImageReadError) -> PNGSamples {
    guard bytes.starts(with: pngSignature) else {
        throw ImageReadError(file: name, reason: "not a PNG file: bytes 0–7 should be the PNG signature 89 50 4e 47 0d 0a 1a 0a, found \(bytes.prefix(8).map { hexByte($0) }.joined(separator: " "))")
    }
    // The size from IHDR (always the first chunk) for a clear message; libpng enforces the side limit again.
    if bytes.count >= 24, bytes[12..<16].elementsEqual("IHDR".utf8) {
        func be32(_ o: Int) -> Int { bytes[o..<(o + 4)].reduce(0) { $0 << 8 | Int($1) } }
        let w = be32(16), h = be32(20)
        if w >= 1, h >= 1, let m = imageSizeLimitMessage(width: w, height: h, maximumSide: maximumSide, maximumPixels: maximumPixels) {
            throw ImageReadError(file: name, reason: m)
        }
    }
    var message = [CChar](repeating: 0, count: 512)
    let capacity = message.count
    func libpngMessage() -> String {
        let text = message.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        return text.isEmpty ? "unknown error" : text
    }
    var decoder: OpaquePointer?
    var header = flexpng_header()
    let begun = bytes.withUnsafeBufferPointer { data in
        flexpng_begin(data.baseAddress, data.count, UInt32(clamping: maximumSide), &decoder, &header, &message, capacity)
    }
    defer { flexpng_free(decoder) }
    guard begun != 0, decoder != nil else {
        throw ImageReadError(file: name, reason: "not a readable PNG (libpng: \(libpngMessage()))")
    }
    let width = Int(header.width), height = Int(header.height), channels = Int(header.channels)
    let bitDepth = Int(header.bit_depth)
    if let m = imageSizeLimitMessage(width: width, height: height, maximumSide: maximumSide, maximumPixels: maximumPixels) {
        throw ImageReadError(file: name, reason: m)
    }
    // What libpng will write must be exactly what we allocate: checked, with overflow-checked arithmetic.
    let (samples, o1) = (width * height).multipliedReportingOverflow(by: channels)
    let (total, o2) = samples.multipliedReportingOverflow(by: bitDepth / 8)
    guard (1...4).contains(channels), bitDepth == 8 || bitDepth == 16, !o1, !o2,
          header.row_bytes == width * channels * bitDepth / 8 else {
        throw ImageReadError(file: name, reason: "unsupported PNG layout (bit depth \(header.file_bit_depth), colour type \(header.file_color_type) decodes to \(channels) channels of \(bitDepth) bits, \(header.row_bytes) bytes a row)")
    }
    // deflate compresses at most about 1032:1, so IDAT chunks smaller than 1/1032 of the image's samples
    // cannot hold it: a tiny file declaring a large image is refused before its pixel buffer is allocated.
    let fileChannels = [0: 1, 2: 3, 3: 1, 4: 2, 6: 4][Int(header.file_color_type)] ?? 4
    let sampleBytes = (width * height * fileChannels * Int(header.file_bit_depth) + 7) / 8
    let idat = idatBytes(bytes)
    guard idat * 1032 + 1024 >= sampleBytes else {
        throw ImageReadError(file: name, reason: "corrupt or truncated PNG: a \(width)×\(height) image needs at least \(sampleBytes / 1032) bytes of compressed data, the IDAT chunks hold \(idat)")
    }
    var failed = false
    let pixels = [UInt8](unsafeUninitializedCapacity: total) { buffer, initialized in
        let ok = bytes.withUnsafeBufferPointer { data in
            flexpng_finish(decoder, data.baseAddress, data.count, buffer.baseAddress, total, &message, capacity)
        }
        failed = ok == 0
        initialized = failed ? 0 : total
    }
    if failed {
        throw ImageReadError(file: name, reason: "corrupt or truncated PNG (libpng: \(libpngMessage()))")
    }
    return PNGSamples(width: width, height: height, channels: channels, bitDepth: bitDepth, bytes: pixels)
}

/// Decodes PNG bytes to 8 bits per sample, keeping the file's channels (see `PNGSamples` for palette, low bit
/// depths and tRNS). 16-bit samples v become round(v · 255 / 65535) = round(v / 257). No gamma or colour
/// conversion at any bit depth: gAMA, sRGB, iCCP and cHRM chunks do not change the result.
public func decodePNG(_ bytes: [UInt8], name: String, maximumSide: Int = PNGLimits.maximumSide,
                      maximumPixels: Int = PNGLimits.maximumPixels) throws(ImageReadError) -> PNGImage {
    let s = try decodePNGSamples(bytes, name: name, maximumSide: maximumSide, maximumPixels: maximumPixels)
    var px = s.bytes
    if s.bitDepth == 16 {
        // In place: sample i's two bytes sit at 2i and 2i + 1 ≥ i, so each write lands on bytes already read.
        let n = px.count / 2
        px.withUnsafeMutableBufferPointer { p in
            for i in 0..<n {
                let v = UInt32(p[2 * i]) << 8 | UInt32(p[2 * i + 1])
                p[i] = UInt8((v * 255 + 32767) / 65535)
            }
        }
        px.removeLast(n)
    }
    return PNGImage(width: s.width, height: s.height, channels: s.channels, pixels: px)
}

/// Reads the PNG file at `path` (see `decodePNG`) as 8-bit `channels`: 4 (RGBA; opaque alpha added when the
/// file has none), 3 (RGB; alpha dropped) or 1 (gray files only; alpha dropped). Gray is replicated into
/// R = G = B. Errors are `ImageReadError`s naming `path`.
public func readPNG(path: String, channels: Int = 4) throws(ImageReadError) -> PNGImage {
    guard channels == 1 || channels == 3 || channels == 4 else {
        throw ImageReadError(file: path, reason: "unsupported channel count \(channels); expected 1 (gray), 3 (RGB) or 4 (RGBA)")
    }
    let image = try decodePNG(try readWholeFile(path), name: path)
    let c = image.channels, n = image.width * image.height
    if c == channels { return image }
    guard channels != 1 || c <= 2 else {
        throw ImageReadError(file: path, reason: "a colour PNG read as gray; read it as RGB (3 channels) or RGBA (4)")
    }
    var out = [UInt8](repeating: 255, count: n * channels)
    for i in 0..<n {
        let colour = c >= 3
        for k in 0..<min(channels, 3) { out[i * channels + k] = image.pixels[i * c + (colour ? k : 0)] }
        if channels == 4, c == 2 || c == 4 { out[i * 4 + 3] = image.pixels[i * c + c - 1] }
    }
    return PNGImage(width: image.width, height: image.height, channels: channels, pixels: out)
}

/// The largest PNG file `readPNG` reads, in bytes.
public let maximumPNGFileBytes = 512 << 20

/// The bytes of a regular file, through FlexIO (a FIFO, device or folder is refused before reading; at most
/// `maximumPNGFileBytes`).
private func readWholeFile(_ path: String) throws(ImageReadError) -> [UInt8] {
    do { return try readRegularFile(path, maxBytes: maximumPNGFileBytes) } catch {
        throw ImageReadError(file: path, reason: error.reason)
    }
}

/// The total length of the IDAT chunks present in `bytes` (a chunk cut short counts what is there).
private func idatBytes(_ bytes: [UInt8]) -> Int {
    var offset = 8, total = 0
    while offset + 8 <= bytes.count {
        let length = bytes[offset..<(offset + 4)].reduce(0) { $0 << 8 | Int($1) }
        if bytes[(offset + 4)..<(offset + 8)].elementsEqual("IDAT".utf8) {
            total += min(length, bytes.count - offset - 8)
        }
        offset += 12 + length
    }
    return total
}

private func hexByte(_ b: UInt8) -> String {
    let s = String(b, radix: 16)
    return s.count == 1 ? "0" + s : s
}
