// IDX files (the MNIST / Fashion-MNIST format), gzip-compressed or raw. See docs/data-formats.md, "Images".
//
// Layout: 2 zero bytes, a type byte (0x08 = unsigned byte), a rank byte, `rank` big-endian UInt32 dimensions,
// then the data, row-major, with nothing after it.

/// Reader of IDX files (unsigned byte data only).
public enum IDXFile {
    /// Largest number of data elements accepted (checked before allocating).
    public static let maximumElements = 1 << 31
    /// Largest IDX file read, in bytes on disk (compressed size for gzip): 1 GiB.
    public static let maximumFileBytes = 1 << 30

    /// Reads an IDX file, gzip-compressed or raw (detected by the gzip magic 1f 8b, not by the file name).
    /// Only unsigned byte data (type 0x08). Validates the magic (two zero bytes, type, rank 1–4), the dimensions,
    /// and that the data length matches exactly: truncated or trailing bytes are errors naming the byte offset
    /// (in the decompressed content for gzip) and the expected and found sizes. Refuses more than 2^31 elements
    /// before allocating.
    public static func read(path: String) throws(DataError) -> (dimensions: [Int], bytes: [UInt8]) {
        let reader = try ImageByteReader(path: path, maxBytes: maximumFileBytes)
        let content = reader.isGzip ? "decompressed content" : "file"
        let header = try reader.read(count: 4)
        if header.isEmpty {
            throw DataError(file: path, position: "byte 0",
                            message: "empty \(content), expected an IDX header (00 00 08 RANK)")
        }
        if header.count < 4 {
            throw DataError(file: path, position: "byte \(header.count)",
                            message: "\(content) ends inside the IDX header: expected 4 magic bytes, found \(header.count)")
        }
        guard header[0] == 0, header[1] == 0 else {
            throw DataError(file: path, position: "byte 0", message:
                "not an IDX file: expected magic 00 00 TYPE RANK, found \(hex(header))"
                + (reader.isGzip ? " (after gzip decompression)" : ""))
        }
        guard header[2] == 0x08 else {
            throw DataError(file: path, position: "byte 2", message:
                "IDX data type \(hex([header[2]]))\(typeName(header[2])) is not supported; only unsigned bytes (08)")
        }
        let rank = Int(header[3])
        guard (1...4).contains(rank) else {
            throw DataError(file: path, position: "byte 3", message: "IDX rank \(rank) is not supported; expected 1 to 4")
        }
        let dimensionBytes = try reader.read(count: 4 * rank)
        guard dimensionBytes.count == 4 * rank else {
            throw DataError(file: path, position: "byte \(4 + dimensionBytes.count)", message:
                "\(content) ends inside the IDX header: expected \(4 * rank) dimension bytes for rank \(rank), found \(dimensionBytes.count)")
        }
        var dimensions: [Int] = []
        var elements = 1
        for d in 0..<rank {
            let b = dimensionBytes[(4 * d)..<(4 * d + 4)].map(Int.init)
            let value = b[0] << 24 | b[1] << 16 | b[2] << 8 | b[3]
            dimensions.append(value)
            elements = elements.multipliedReportingOverflow(by: value).overflow ? Int.max : elements * value
        }
        let headerSize = 4 + 4 * rank
        let shape = dimensions.map(String.init).joined(separator: "×")
        guard elements <= maximumElements else {
            throw DataError(file: path, position: "byte 4", message:
                "dimensions \(shape) give \(elements == Int.max ? "more than 2^63" : String(elements)) elements, more than the \(maximumElements) (2^31) accepted")
        }

        // The data, straight into one preallocated buffer.
        var failure: DataError?
        let bytes = [UInt8](unsafeUninitializedCapacity: elements) { buffer, initialized in
            do throws(DataError) {
                initialized = try reader.read(into: UnsafeMutableRawBufferPointer(buffer))
            } catch {
                failure = error
                initialized = 0
            }
        }
        if let failure { throw failure }
        if bytes.count < elements {
            throw DataError(file: path, position: "byte \(headerSize + bytes.count)", message:
                "\(content) truncated: dimensions \(shape) need \(elements) data bytes after the \(headerSize)-byte header "
                + "(\(headerSize + elements) bytes in all), found \(bytes.count) (\(headerSize + bytes.count) bytes in all)")
        }
        let extra = try reader.countRemaining()
        if extra > 0 {
            throw DataError(file: path, position: "byte \(headerSize + elements)", message:
                "\(extra) trailing bytes after the data: dimensions \(shape) need \(headerSize + elements) bytes in all "
                + "(\(headerSize)-byte header + \(elements) data bytes), found \(headerSize + elements + extra)")
        }
        return (dimensions, bytes)
    }

    /// Reads images from an idx3 file [N, H, W] and, when `labelsPath` is given, their labels from an idx1 file [N]
    /// (the counts must match). The set has 1 channel.
    public static func readImages(path: String, labelsPath: String? = nil) throws(DataError) -> ImageSet {
        let (dimensions, pixels) = try read(path: path)
        guard dimensions.count == 3 else {
            throw DataError(file: path, position: "byte 3", message:
                "expected an image file of rank 3 [N, H, W], found rank \(dimensions.count) (\(dimensions.map(String.init).joined(separator: "×")))")
        }
        let (count, height, width) = (dimensions[0], dimensions[1], dimensions[2])
        guard height > 0, width > 0 else {
            throw DataError(file: path, position: "byte 8", message: "images of \(height)×\(width) pixels: height and width must be positive")
        }
        var labels: [Int]?
        if let labelsPath {
            let (labelDimensions, labelBytes) = try read(path: labelsPath)
            guard labelDimensions.count == 1 else {
                throw DataError(file: labelsPath, position: "byte 3", message:
                    "expected a label file of rank 1 [N], found rank \(labelDimensions.count)")
            }
            guard labelDimensions[0] == count else {
                throw DataError(file: labelsPath, position: "byte 4", message:
                    "\(labelDimensions[0]) labels, but the images file \(path) has \(count) images")
            }
            labels = labelBytes.map(Int.init)
        }
        return ImageSet(count: count, channels: 1, height: height, width: width, pixels: pixels, labels: labels,
                        source: "IDX images (\(path))")
    }

    private static func hex(_ bytes: [UInt8]) -> String {
        bytes.map { b in
            let s = String(b, radix: 16)
            return s.count == 1 ? "0" + s : s
        }.joined(separator: " ")
    }

    private static func typeName(_ type: UInt8) -> String {
        switch type {
        case 0x09: " (signed byte)"
        case 0x0B: " (int16)"
        case 0x0C: " (int32)"
        case 0x0D: " (float32)"
        case 0x0E: " (float64)"
        default: " (unknown)"
        }
    }
}
