// CIFAR-10 binary batches (data_batch_1.bin … data_batch_5.bin, test_batch.bin). See docs/data-formats.md, "Images".

/// Reader of CIFAR-10 binary batch files.
public enum CIFAR10File {
    /// Bytes per record: 1 label byte + 3072 pixel bytes.
    public static let recordSize = 3073
    /// Image size: 3 channels of 32×32.
    public static let channels = 3, height = 32, width = 32
    /// Largest batch file read, in bytes: 1 GiB (a CIFAR-10 batch is 30 MB).
    public static let maximumFileBytes = 1 << 30

    /// CIFAR-10 binary batches: records of 1 label byte (0–9) + 3072 bytes (1024 R, 1024 G, 1024 B, row-major
    /// 32×32), which is already NCHW. The file size must be a non-zero multiple of 3073 (the error names the size
    /// and the partial record); a label above 9 is an error naming the record (records count from 0). Several
    /// files concatenate, in the order given.
    public static func read(paths: [String]) throws(DataError) -> ImageSet {
        guard !paths.isEmpty else {
            throw DataError(file: "", message: "no CIFAR-10 batch files given")
        }
        let imageSize = recordSize - 1
        var files: [(path: String, bytes: [UInt8])] = []
        var total = 0
        for path in paths {
            let bytes = try readWholeImageFile(path, maxBytes: maximumFileBytes)
            if bytes.isEmpty {
                throw DataError(file: path, position: "byte 0",
                                message: "empty file, expected CIFAR-10 records of \(recordSize) bytes")
            }
            if bytes.count % recordSize != 0 {
                let full = bytes.count / recordSize
                throw DataError(file: path, position: "record \(full)", message:
                    "file size \(bytes.count) is not a multiple of \(recordSize) (1 label byte + 3072 pixel bytes): "
                    + "\(full) whole records, then a partial record \(full) of \(bytes.count - full * recordSize) bytes "
                    + "starting at byte \(full * recordSize)")
            }
            let records = bytes.count / recordSize
            for r in 0..<records where bytes[r * recordSize] > 9 {
                throw DataError(file: path, position: "record \(r)", message:
                    "label \(bytes[r * recordSize]) at byte \(r * recordSize) is not a CIFAR-10 class (0–9)")
            }
            files.append((path, bytes))
            total += records
        }
        var labels: [Int] = []
        labels.reserveCapacity(total)
        var pixels = [UInt8](repeating: 0, count: total * imageSize)
        pixels.withUnsafeMutableBufferPointer { dst in
            var n = 0
            for file in files {
                file.bytes.withUnsafeBufferPointer { src in
                    for r in 0..<(file.bytes.count / recordSize) {
                        labels.append(Int(src[r * recordSize]))
                        dst.baseAddress!.advanced(by: n * imageSize)
                            .update(from: src.baseAddress!.advanced(by: r * recordSize + 1), count: imageSize)
                        n += 1
                    }
                }
            }
        }
        let source = paths.count == 1 ? "CIFAR-10 (\(paths[0]))" : "CIFAR-10 (\(paths.joined(separator: ", ")))"
        return ImageSet(count: total, channels: channels, height: height, width: width, pixels: pixels,
                        labels: labels, source: source)
    }
}
