// The one JPEG reader of flexctl: baseline, extended and progressive JPEG (Huffman or arithmetic coding), gray
// or colour, decoded by libjpeg-turbo through a small C shim (CFlexJPEG) that keeps libjpeg's longjmp error
// path inside C and never lets libjpeg print. Every size is checked from the frame header before anything
// image-sized is allocated: the pixels, libjpeg's coefficient buffer (multi-scan files), and a floor on the
// data a Huffman-coded image needs; the number of scans is bounded while decoding.
import CFlexJPEG

/// A decoded JPEG: 8-bit samples after libjpeg-turbo's colour conversion (YCbCr → RGB, BT.601 full range as
/// JFIF defines it; gray as stored), its accurate integer IDCT and smooth chroma upsampling — the samples
/// `djpeg -pnm` writes. No gamma or ICC processing, and the EXIF orientation is not applied: rows come as
/// stored, top to bottom.
public struct JPEGImage: Sendable, Equatable {
    public var width: Int
    public var height: Int
    /// 1 gray, 3 RGB, interleaved.
    public var channels: Int
    public var pixels: [UInt8]
}

/// The JPEG signature: SOI (FF D8) followed by the first marker's FF.
public let jpegSignature: [UInt8] = [0xFF, 0xD8, 0xFF]

/// The JPEG reader's limits beyond the image size (which it shares with the PNG reader).
public enum JPEGLimits {
    /// The most scans decoded. A progressive file has about 10 (libjpeg's default script) and rarely more than
    /// 20; each scan is a pass over its components' blocks, so thousands of tiny scans over a large image would
    /// cost minutes of CPU. 500 is libjpeg-turbo's own TurboJPEG limit.
    public static let maximumScans = 500
    /// The whole-image coefficient buffer a progressive (or other multi-scan) file needs, per pixel of the
    /// largest image: 128 bytes per 8×8 block per component is 2 bytes per pixel per full-resolution component,
    /// 6 for 4:4:4 colour, plus padding to whole MCUs — 8 covers every layout.
    public static let coefficientBytesPerPixel = 8
}

/// Decodes JPEG bytes (see `JPEGImage`). `name` labels errors. Refused, before any image-sized allocation: a
/// size over the limits, CMYK/YCCK or any layout other than 1 (gray) or 3 (YCbCr or RGB) components, a
/// multi-scan file whose coefficient buffer would exceed `maximumCoefficientBytes`,
/// and a Huffman-coded file shorter than one bit per 8×8 block. While decoding: more than `maximumScans` scans,
/// and every libjpeg-turbo error or warning about damaged data (a truncated file, a corrupt Huffman code or
/// table, a bad progression).
///
/// `maximumCoefficientBytes` defaults to `coefficientBytesPerPixel · maximumPixels`.
public func decodeJPEG(_ bytes: [UInt8], name: String, maximumSide: Int = PNGLimits.maximumSide,
                       maximumPixels: Int = PNGLimits.maximumPixels, maximumCoefficientBytes: Int? = nil,
                       maximumScans: Int = JPEGLimits.maximumScans) throws(ImageReadError) -> JPEGImage {
    guard bytes.starts(with: jpegSignature) else {
        throw ImageReadError(file: name, reason: "not a JPEG file: bytes 0–2 should be ff d8 ff, found \(bytes.prefix(3).map { jpegHex($0) }.joined(separator: " "))")
    }
    let (perPixel, overflow) = maximumPixels.multipliedReportingOverflow(by: JPEGLimits.coefficientBytesPerPixel)
    let limits = flexjpeg_limits(
        max_side: UInt32(clamping: maximumSide), max_pixels: UInt64(clamping: maximumPixels),
        max_coefficient_bytes: UInt64(clamping: maximumCoefficientBytes ?? (overflow ? .max : perPixel)),
        max_scans: UInt32(clamping: maximumScans))
    var message = [CChar](repeating: 0, count: 256)
    let capacity = message.count
    var header = flexjpeg_header()
    // Both phases run inside one withUnsafeBufferPointer: libjpeg reads the bytes in place, so their address
    // must not change between flexjpeg_begin and flexjpeg_finish.
    let result: Result<JPEGImage, ImageReadError> = bytes.withUnsafeBufferPointer { data in
        var decoder: OpaquePointer?
        let begun = flexjpeg_begin(data.baseAddress, data.count, limits, &decoder, &header, &message, capacity)
        defer { flexjpeg_free(decoder) }
        guard begun == FLEXJPEG_OK, decoder != nil else {
            return .failure(ImageReadError(file: name, reason: jpegRefusal(begun, header, message, fileBytes: bytes.count,
                                                                          maximumSide: maximumSide, maximumPixels: maximumPixels, limits: limits)))
        }
        let width = Int(header.width), height = Int(header.height), channels = Int(header.channels)
        // flexjpeg_begin checked the size against the limits, so this cannot overflow.
        let total = width * height * channels
        var status = FLEXJPEG_OK
        let pixels = [UInt8](unsafeUninitializedCapacity: total) { buffer, initialized in
            status = flexjpeg_finish(decoder, buffer.baseAddress, total, &header, &message, capacity)
            initialized = status == FLEXJPEG_OK ? total : 0
        }
        guard status == FLEXJPEG_OK else {
            return .failure(ImageReadError(file: name, reason: jpegRefusal(status, header, message, fileBytes: bytes.count,
                                                                          maximumSide: maximumSide, maximumPixels: maximumPixels, limits: limits)))
        }
        return .success(JPEGImage(width: width, height: height, channels: channels, pixels: pixels))
    }
    return try result.get()
}

/// The reason for a status other than FLEXJPEG_OK: what was expected and what the file has.
private func jpegRefusal(_ status: flexjpeg_status, _ h: flexjpeg_header, _ message: [CChar], fileBytes: Int,
                         maximumSide: Int, maximumPixels: Int, limits: flexjpeg_limits) -> String {
    let text = message.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    let libjpeg = text.isEmpty ? "unknown error" : text
    let w = Int(h.width), ht = Int(h.height)
    switch status {
    case FLEXJPEG_TOO_LARGE:
        return imageSizeLimitMessage(width: w, height: ht, maximumSide: maximumSide, maximumPixels: maximumPixels)
            ?? "the image is \(w)×\(ht); libjpeg-turbo refused its size (\(libjpeg))"
    case FLEXJPEG_UNSUPPORTED_COLOR:
        let found: String
        switch (Int(h.components), h.color_space) {
        case (4, UInt32(FLEXJPEG_CMYK.rawValue)): found = "4 components (CMYK)"
        case (4, UInt32(FLEXJPEG_YCCK.rawValue)): found = "4 components (YCCK)"
        case (let n, _): found = "\(n) component\(n == 1 ? "" : "s")\(n == 1 || n == 3 ? " in an unexpected colour space" : "")"
        }
        return "JPEG with \(found) is not supported; expected gray (1 component) or colour (3 components, YCbCr or RGB)"
    case FLEXJPEG_TOO_MUCH_MEMORY:
        return "the \(w)×\(ht) \(h.progressive != 0 ? "progressive" : "multi-scan") JPEG needs \(h.coefficient_bytes) bytes of coefficient memory; flexctl allows at most \(limits.max_coefficient_bytes)"
    case FLEXJPEG_TOO_SHORT:
        return "corrupt or truncated JPEG: a \(w)×\(ht) image has \(h.blocks) 8×8 blocks, which need at least \((h.blocks + 7) / 8) bytes of Huffman-coded data; the file has \(fileBytes) bytes"
    case FLEXJPEG_TOO_MANY_SCANS:
        return "progressive JPEG with more than \(limits.max_scans) scans (stopped at scan \(h.scans)); expected at most \(limits.max_scans) (typical files have about 10)"
    case FLEXJPEG_LIBJPEG_ERROR:
        return "corrupt, truncated or unsupported JPEG (libjpeg-turbo: \(libjpeg))"
    default:
        return "cannot decode the JPEG (\(libjpeg))"
    }
}

private func jpegHex(_ b: UInt8) -> String {
    let s = String(b, radix: 16)
    return s.count == 1 ? "0" + s : s
}
