import FlexImageIO
import FlexRuntime

/// An 8-bit image: interleaved channels (1 gray, 2 gray+alpha, 3 RGB, 4 RGBA), rows top to bottom.
public struct RasterImage: Sendable, Equatable {
    public var width: Int
    public var height: Int
    public var channels: Int
    public var pixels: [UInt8]

    public init(width: Int, height: Int, channels: Int, pixels: [UInt8]) {
        precondition(pixels.count == width * height * channels, "pixels do not match \(width)×\(height)×\(channels)")
        self.width = width
        self.height = height
        self.channels = channels
        self.pixels = pixels
    }

    public var hasAlpha: Bool { channels == 2 || channels == 4 }

    /// The image without its alpha channel (gray+alpha → gray, RGBA → RGB).
    public func droppingAlpha() -> RasterImage {
        guard hasAlpha else { return self }
        let c = channels - 1
        var out = [UInt8](repeating: 0, count: width * height * c)
        for i in 0..<(width * height) {
            for k in 0..<c { out[i * c + k] = pixels[i * channels + k] }
        }
        return RasterImage(width: width, height: height, channels: c, pixels: out)
    }

    /// Channel conversion without alpha: 1 → 3 replicates gray; 3 → 1 is ITU-R BT.601 luma,
    /// round(0.299 R + 0.587 G + 0.114 B).
    public func converted(toChannels target: Int) -> RasterImage {
        precondition(!hasAlpha && (target == 1 || target == 3))
        if target == channels { return self }
        let n = width * height
        if target == 3 {
            var out = [UInt8](repeating: 0, count: n * 3)
            for i in 0..<n { let g = pixels[i]; out[3 * i] = g; out[3 * i + 1] = g; out[3 * i + 2] = g }
            return RasterImage(width: width, height: height, channels: 3, pixels: out)
        }
        var out = [UInt8](repeating: 0, count: n)
        for i in 0..<n { out[i] = bt601Luma(pixels[3 * i], pixels[3 * i + 1], pixels[3 * i + 2]) }
        return RasterImage(width: width, height: height, channels: 1, pixels: out)
    }
}

/// The formats `ImageFile` reads and writes.
public enum ImageFormat: String, Sendable {
    case png, pgm, ppm
}

/// Reading and writing images: PNG (every bit depth, gray, gray+alpha, RGB, RGBA, palette with or without
/// transparency, interlaced; samples as stored, gAMA/sRGB/iCCP/cHRM ignored) through FlexImageIO's reader,
/// binary PGM (P5) and PPM (P6) with any maxval; JPEG (baseline or progressive, gray or colour) is read through
/// libjpeg-turbo, never written. Writing PNG goes through libpng's simplified API.
public enum ImageFile {
    /// The largest image accepted, in pixels (checked from the header, before any pixel memory is allocated).
    public static let maximumPixels = PNGLimits.maximumPixels  // 67,108,864 (e.g. 8192 × 8192)
    /// The largest width or height accepted.
    public static let maximumSide = PNGLimits.maximumSide

    /// Decodes PNG, JPEG, PGM or PPM bytes (recognised by their signature, not the file name) to 8 bits per
    /// channel, from the samples as stored: 16-bit PNG samples become round(v / 257); PNM samples with maxval M
    /// become round(v · 255 / M); JPEG samples are libjpeg-turbo's output after its colour conversion to RGB
    /// (gray stays gray), as `djpeg` writes them.
    public static func decode(_ bytes: [UInt8], name: String) throws(CodecError) -> RasterImage {
        if bytes.isEmpty { throw CodecError(file: name, "empty file (0 bytes); expected a PNG, JPEG, PGM or PPM image") }
        if bytes.starts(with: pngSignature) { return try decodePNG(bytes, name: name) }
        if bytes.starts(with: jpegSignature) { return try decodeJPEG(bytes, name: name) }
        if bytes.count >= 2, bytes[0] == UInt8(ascii: "P"), bytes[1] == UInt8(ascii: "5") || bytes[1] == UInt8(ascii: "6") {
            return try decodePNM(bytes, name: name)
        }
        if bytes.count >= 2, bytes[0] == UInt8(ascii: "P"), (UInt8(ascii: "1")...UInt8(ascii: "4")).contains(bytes[1]) {
            throw CodecError(file: name, "plain (ASCII) or bitmap PNM (P\(Character(UnicodeScalar(bytes[1])))) is not supported; use binary PGM (P5) or PPM (P6), or PNG")
        }
        throw CodecError(file: name, "not an image: expected a PNG, JPEG, binary PGM (P5) or PPM (P6) file (the first bytes are \(bytes.prefix(8).map { hex($0) }.joined(separator: " ")))")
    }

    static func checkSize(_ w: Int, _ h: Int, name: String) throws(CodecError) {
        if let m = imageSizeLimitMessage(width: w, height: h, maximumSide: maximumSide, maximumPixels: maximumPixels) {
            throw CodecError(file: name, m)
        }
    }

    /// PNG through FlexImageIO's reader: the samples as stored (no gamma or colour conversion at any bit depth),
    /// with the file's channels.
    static func decodePNG(_ bytes: [UInt8], name: String) throws(CodecError) -> RasterImage {
        let image: PNGImage
        do { image = try FlexImageIO.decodePNG(bytes, name: name, maximumSide: maximumSide, maximumPixels: maximumPixels) }
        catch { throw CodecError(file: name, error.reason) }
        return RasterImage(width: image.width, height: image.height, channels: image.channels, pixels: image.pixels)
    }

    /// JPEG through FlexImageIO's reader (libjpeg-turbo): gray or RGB, under the same size limits as PNG. The
    /// EXIF orientation is not applied.
    static func decodeJPEG(_ bytes: [UInt8], name: String) throws(CodecError) -> RasterImage {
        let image: JPEGImage
        do { image = try FlexImageIO.decodeJPEG(bytes, name: name, maximumSide: maximumSide, maximumPixels: maximumPixels) }
        catch { throw CodecError(file: name, error.reason) }
        return RasterImage(width: image.width, height: image.height, channels: image.channels, pixels: image.pixels)
    }

    static func decodePNM(_ bytes: [UInt8], name: String) throws(CodecError) -> RasterImage {
        let channels = bytes[1] == UInt8(ascii: "5") ? 1 : 3
        var pos = 2
        func fail(_ m: String) -> CodecError { CodecError(file: name, "PNM header, byte \(pos): \(m)") }
        func skipSpace() {
            while pos < bytes.count {
                if bytes[pos] == UInt8(ascii: "#") {
                    while pos < bytes.count, bytes[pos] != 10, bytes[pos] != 13 { pos += 1 }
                } else if [9, 10, 11, 12, 13, 32].contains(bytes[pos]) {
                    pos += 1
                } else { break }
            }
        }
        func number(_ what: String) throws(CodecError) -> Int {
            skipSpace()
            var v = 0, digits = 0
            while pos < bytes.count, bytes[pos] >= 48, bytes[pos] <= 57 {
                v = v * 10 + Int(bytes[pos] - 48)
                digits += 1
                pos += 1
                if v > 1 << 30 { throw fail("\(what) is too large") }
            }
            guard digits > 0 else { throw fail("expected the \(what) (a decimal number)") }
            return v
        }
        let w = try number("width"), h = try number("height"), maxval = try number("maxval")
        guard maxval >= 1, maxval <= 65535 else { throw fail("maxval \(maxval) must be in 1...65535") }
        guard pos < bytes.count, [9, 10, 11, 12, 13, 32].contains(bytes[pos]) else {
            throw fail("expected one whitespace byte after maxval")
        }
        pos += 1
        try checkSize(w, h, name: name)
        let bytesPerSample = maxval < 256 ? 1 : 2
        let needed = w * h * channels * bytesPerSample
        guard bytes.count - pos >= needed else {
            throw CodecError(file: name, "truncated \(channels == 1 ? "PGM" : "PPM"): \(w)×\(h) needs \(needed) bytes of samples after the header, found \(bytes.count - pos)")
        }
        var px = [UInt8](repeating: 0, count: w * h * channels)
        for i in 0..<px.count {
            let v = bytesPerSample == 1 ? Int(bytes[pos + i]) : Int(bytes[pos + 2 * i]) << 8 | Int(bytes[pos + 2 * i + 1])
            guard v <= maxval else {
                throw CodecError(file: name, "sample \(i) is \(v), above the maxval \(maxval)")
            }
            px[i] = maxval == 255 ? UInt8(v) : UInt8((v * 255 + maxval / 2) / maxval)
        }
        return RasterImage(width: w, height: h, channels: channels, pixels: px)
    }

    /// Encodes an 8-bit gray or RGB image (`format` png, pgm or ppm; PGM needs gray, PPM RGB).
    public static func encode(_ image: RasterImage, format: ImageFormat, name: String) throws(CodecError) -> [UInt8] {
        switch format {
        case .png:
            do { return try encodePNG(width: image.width, height: image.height, channels: image.channels, pixels: image.pixels, label: name, fast: true) }
            catch { throw CodecError(file: name, error.reason) }
        case .pgm, .ppm:
            let c = format == .pgm ? 1 : 3
            guard image.channels == c else {
                throw CodecError(file: name, "a .\(format.rawValue) file holds \(c == 1 ? "gray" : "RGB") images; this image has \(image.channels) channel\(image.channels == 1 ? "" : "s") (use .png)")
            }
            return Array("P\(c == 1 ? 5 : 6)\n\(image.width) \(image.height)\n255\n".utf8) + image.pixels
        }
    }

    /// The output format for a file name's extension (.png, .pgm, .ppm; anything else: nil).
    public static func format(forPath path: String) -> ImageFormat? {
        extensionOf(path).flatMap(ImageFormat.init(rawValue:))
    }

    /// The extensions of the files `decode` reads (lowercase): the formats `encode` writes, and JPEG, which is
    /// read only. Folder jobs pick their inputs by these; `decode` itself goes by content.
    public static let readableExtensions: Set<String> = ["png", "pgm", "ppm", "jpg", "jpeg"]

    /// Whether a file name has one of `readableExtensions` (in any case).
    public static func isReadable(path: String) -> Bool {
        extensionOf(path).map(readableExtensions.contains) ?? false
    }

    /// The lowercase extension after the last dot of the file name, if any.
    private static func extensionOf(_ path: String) -> String? {
        let name = path.split(separator: "/").last.map(String.init) ?? path
        guard let dot = name.lastIndex(of: ".") else { return nil }
        return name[name.index(after: dot)...].lowercased()
    }
}

func hex(_ b: UInt8) -> String {
    let s = String(b, radix: 16)
    return s.count == 1 ? "0" + s : s
}
