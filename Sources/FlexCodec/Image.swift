import CPNG
import FlexPlot
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

/// Reading and writing images: PNG through libpng's simplified API (every bit depth, gray, gray+alpha, RGB,
/// RGBA, palette with or without transparency, interlaced), binary PGM (P5) and PPM (P6) with any maxval.
public enum ImageFile {
    /// The largest image accepted, in pixels (checked from the header, before any pixel memory is allocated).
    public static let maximumPixels = 1 << 26  // 67,108,864 (e.g. 8192 × 8192)
    /// The largest width or height accepted.
    public static let maximumSide = 1 << 16

    /// Decodes PNG, PGM or PPM bytes (recognised by their signature, not the file name) to 8 bits per channel.
    /// 16-bit samples become round(v / 257); PNM samples with maxval M become round(v · 255 / M).
    public static func decode(_ bytes: [UInt8], name: String) throws(CodecError) -> RasterImage {
        if bytes.isEmpty { throw CodecError(file: name, "empty file (0 bytes); expected a PNG, PGM or PPM image") }
        if bytes.starts(with: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) { return try decodePNG(bytes, name: name) }
        if bytes.count >= 2, bytes[0] == UInt8(ascii: "P"), bytes[1] == UInt8(ascii: "5") || bytes[1] == UInt8(ascii: "6") {
            return try decodePNM(bytes, name: name)
        }
        if bytes.count >= 2, bytes[0] == UInt8(ascii: "P"), (UInt8(ascii: "1")...UInt8(ascii: "4")).contains(bytes[1]) {
            throw CodecError(file: name, "plain (ASCII) or bitmap PNM (P\(Character(UnicodeScalar(bytes[1])))) is not supported; use binary PGM (P5) or PPM (P6), or PNG")
        }
        throw CodecError(file: name, "not an image: expected a PNG, binary PGM (P5) or PPM (P6) file (the first bytes are \(bytes.prefix(8).map { hex($0) }.joined(separator: " ")))")
    }

    static func checkSize(_ w: Int, _ h: Int, name: String) throws(CodecError) {
        guard w >= 1, h >= 1 else { throw CodecError(file: name, "the image is \(w)×\(h); width and height must be at least 1") }
        guard w <= maximumSide, h <= maximumSide, w * h <= maximumPixels else {
            throw CodecError(file: name, "the image is \(w)×\(h) (\(w * h) pixels); flexctl accepts at most \(maximumSide) pixels a side and \(maximumPixels) pixels in all")
        }
    }

    static func decodePNG(_ bytes: [UInt8], name: String) throws(CodecError) -> RasterImage {
        var image = png_image()
        image.version = UInt32(PNG_IMAGE_VERSION)
        let begun = bytes.withUnsafeBytes { png_image_begin_read_from_memory(&image, $0.baseAddress, $0.count) }
        guard begun != 0 else {
            let m = pngMessage(&image)
            png_image_free(&image)
            throw CodecError(file: name, "not a readable PNG (libpng: \(m))")
        }
        let w = Int(image.width), h = Int(image.height)
        do { try checkSize(w, h, name: name) } catch { png_image_free(&image); throw error }
        // Keep the file's channels; drop the colour map (palette → RGB or RGBA).
        let color = image.format & UInt32(PNG_FORMAT_FLAG_COLOR) != 0
        let alpha = image.format & UInt32(PNG_FORMAT_FLAG_ALPHA) != 0
        let channels = (color ? 3 : 1) + (alpha ? 1 : 0)
        let sixteen = image.format & UInt32(PNG_FORMAT_FLAG_LINEAR) != 0
        var format = UInt32(0)
        if color { format |= UInt32(PNG_FORMAT_FLAG_COLOR) }
        if alpha { format |= UInt32(PNG_FORMAT_FLAG_ALPHA) }
        if sixteen {
            // 16-bit files: read the samples as they are (libpng treats 16-bit data without gAMA as linear,
            // so no gamma conversion happens) and scale to 8 bits ourselves.
            image.format = format | UInt32(PNG_FORMAT_FLAG_LINEAR)
            var wide = [UInt16](repeating: 0, count: w * h * channels)
            let ok = wide.withUnsafeMutableBytes { png_image_finish_read(&image, nil, $0.baseAddress, 0, nil) }
            guard ok != 0 else {
                let m = pngMessage(&image)
                png_image_free(&image)
                throw CodecError(file: name, "corrupt or truncated PNG (libpng: \(m))")
            }
            png_image_free(&image)
            if alpha {
                // The simplified API premultiplies 16-bit linear colour by alpha: divide it out (a pixel with
                // alpha 0 has lost its colour and stays black; the codec drops alpha anyway).
                for p in stride(from: 0, to: wide.count, by: channels) {
                    let a = UInt32(wide[p + channels - 1])
                    for k in 0..<(channels - 1) {
                        wide[p + k] = a == 0 ? 0 : UInt16(min(65535, (UInt32(wide[p + k]) * 65535 + a / 2) / a))
                    }
                }
            }
            var px = [UInt8](repeating: 0, count: wide.count)
            for i in 0..<wide.count { px[i] = UInt8((UInt32(wide[i]) * 255 + 32767) / 65535) }
            return RasterImage(width: w, height: h, channels: channels, pixels: px)
        }
        image.format = format
        var px = [UInt8](repeating: 0, count: w * h * channels)
        let ok = px.withUnsafeMutableBytes { png_image_finish_read(&image, nil, $0.baseAddress, 0, nil) }
        guard ok != 0 else {
            let m = pngMessage(&image)
            png_image_free(&image)
            throw CodecError(file: name, "corrupt or truncated PNG (libpng: \(m))")
        }
        png_image_free(&image)
        return RasterImage(width: w, height: h, channels: channels, pixels: px)
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
        let name = path.split(separator: "/").last.map(String.init) ?? path
        guard let dot = name.lastIndex(of: ".") else { return nil }
        return ImageFormat(rawValue: name[name.index(after: dot)...].lowercased())
    }
}

private func pngMessage(_ image: inout png_image) -> String {
    let m = withUnsafeBytes(of: &image.message) { raw in String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self) }
    return m.isEmpty ? "unknown error" : m
}

func hex(_ b: UInt8) -> String {
    let s = String(b, radix: 16)
    return s.count == 1 ? "0" + s : s
}
