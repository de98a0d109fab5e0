import CPNG
import FlexIO

/// Pixel layouts `writePNG` accepts: 8 bits per channel, interleaved, rows top to bottom, no padding.
public enum PNGChannels: Int, Sendable {
    case gray = 1
    case rgb = 3
    case rgba = 4

    var libpngFormat: UInt32 {
        // PNG_FORMAT_GRAY = 0, PNG_FORMAT_FLAG_ALPHA = 1, PNG_FORMAT_FLAG_COLOR = 2.
        switch self {
        case .gray: 0
        case .rgb: 2
        case .rgba: 3
        }
    }
}

/// Encodes 8-bit pixels as PNG bytes with libpng's simplified API (`png_image_write_to_memory`).
///
/// `channels` is 1 (gray), 3 (RGB) or 4 (RGBA); `pixels.count` must be `width * height * channels`.
/// Errors carry `label` (a file name) in their message. `fast` trades a slightly larger file for speed
/// (libpng's `PNG_IMAGE_FLAG_FAST`: no filter search, faster zlib settings).
public func encodePNG(width: Int, height: Int, channels: Int, pixels: [UInt8],
                      label: String = "<memory>", fast: Bool = false) throws(FileWriteError) -> [UInt8] {
    guard let layout = PNGChannels(rawValue: channels) else {
        throw FileWriteError(path: label, reason: "unsupported channel count \(channels); expected 1 (gray), 3 (RGB) or 4 (RGBA)")
    }
    guard width > 0, height > 0, width <= 1 << 20, height <= 1 << 20 else {
        throw FileWriteError(path: label, reason: "invalid image size \(width)x\(height)")
    }
    guard pixels.count == width * height * channels else {
        throw FileWriteError(path: label,
                             reason: "expected \(width * height * channels) bytes for \(width)x\(height)x\(channels), found \(pixels.count)")
    }
    var image = png_image()
    image.version = UInt32(PNG_IMAGE_VERSION)
    image.width = UInt32(width)
    image.height = UInt32(height)
    image.format = layout.libpngFormat
    if fast { image.flags |= UInt32(PNG_IMAGE_FLAG_FAST) }
    let stride = Int32(width * channels)

    // One pass into a buffer that fits any image: the filtered rows (a filter byte each) stored uncompressed
    // cost 5 bytes per 16 KiB deflate block at worst, plus the zlib, chunk and header bytes. (libpng's sizing
    // call with a nil buffer runs the whole compression, so sizing first would encode the image twice.) Should
    // the estimate ever be short, libpng reports the size it needs and the second attempt uses that.
    let filtered = height * (1 + width * channels)
    var capacity = filtered + 5 * (filtered / 16384 + 1) + 12 * (filtered / 8192 + 1) + 1024
    for _ in 0..<2 {
        var out = [UInt8](repeating: 0, count: capacity)
        var size = capacity
        let ok = out.withUnsafeMutableBytes { dst in
            pixels.withUnsafeBytes { raw in
                png_image_write_to_memory(&image, dst.baseAddress, &size, 0, raw.baseAddress, stride, nil)
            }
        }
        if ok != 0 {
            png_image_free(&image)
            return withoutColourSpaceChunk(Array(out.prefix(size)))
        }
        // A failure with a larger size: only the buffer was too small (png.h, png_image_write_to_memory).
        guard size > capacity else { break }
        capacity = size
    }
    let message = libpngMessage(&image)
    png_image_free(&image)
    throw FileWriteError(path: label, reason: "libpng: \(message)")
}

/// The simplified API tags every 8-bit image with an sRGB chunk. flexctl's images are samples with no known
/// colour space (a decoded image is whatever the input held, which may have been linear or Adobe RGB), so the
/// chunk is dropped: an untagged PNG claims nothing, and no reader adjusts its samples. (Removing an ancillary
/// chunk leaves a valid PNG: every chunk carries its own CRC.)
func withoutColourSpaceChunk(_ png: [UInt8]) -> [UInt8] {
    var out = Array(png.prefix(8))
    var offset = 8
    while offset + 12 <= png.count {
        let length = png[offset..<(offset + 4)].reduce(0) { $0 << 8 | Int($1) }
        let end = min(png.count, offset + 12 + length)
        if !png[(offset + 4)..<(offset + 8)].elementsEqual("sRGB".utf8) { out += png[offset..<end] }
        offset = end
    }
    return out
}

/// Writes 8-bit gray (1), RGB (3) or RGBA (4) pixels to a PNG file, atomically (`writeFileAtomically`).
/// Errors are `FileWriteError`s naming `path`.
public func writePNG(path: String, width: Int, height: Int, channels: Int, pixels: [UInt8],
                     mode: WriteMode = .replace) throws(FileWriteError) {
    if let reason = reasonPathIsNotWritable(path) { throw FileWriteError(path: path, reason: reason) }
    let bytes = try encodePNG(width: width, height: height, channels: channels, pixels: pixels, label: path)
    try writeFileAtomically(path: path, bytes: bytes, mode: mode)
}

private func libpngMessage(_ image: inout png_image) -> String {
    let message = withUnsafeBytes(of: &image.message) { raw -> String in
        let bytes = raw.prefix { $0 != 0 }
        return String(decoding: bytes, as: UTF8.self)
    }
    return message.isEmpty ? "unknown error" : message
}
