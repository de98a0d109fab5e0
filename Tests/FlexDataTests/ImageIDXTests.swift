// IDX reading: fixtures and real data against the Python reference, gzip/raw round trips, every bad input.
import FlexData
import Foundation
import Testing

@Suite("Images: IDX files")
struct ImageIDXTests {
    @Test("the 20-digit fixture matches the Python reference (sums, labels, a row)")
    func fixtureMatchesReference() throws {
        let ref = ImageFixtures.reference.mnist_20
        let set = try IDXFile.readImages(path: ImageFixtures.path("mnist-20-images-idx3-ubyte.gz"),
                                         labelsPath: ImageFixtures.path("mnist-20-labels-idx1-ubyte.gz"))
        #expect(set.count == 20 && set.channels == 1 && set.height == 28 && set.width == 28)
        #expect(set.pixels.count == 20 * 784)
        #expect(set.labels == ref.labels)
        #expect((0..<20).map { imageSum(set, $0) } == ref.sums)
        let row = Array(set.pixels[(5 * 784 + 14 * 28)..<(5 * 784 + 15 * 28)]).map(Int.init)
        #expect(row == ref.image_5_row_14)
        #expect(set.source.contains("mnist-20-images-idx3-ubyte.gz"))
    }

    @Test("the real MNIST subset matches the Python reference", .enabled(if: ImageFixtures.exists(ImageFixtures.mnistSubsetImages)))
    func mnistSubsetMatchesReference() throws {
        let ref = ImageFixtures.reference.mnist_subset
        let set = try IDXFile.readImages(path: ImageFixtures.mnistSubsetImages, labelsPath: ImageFixtures.mnistSubsetLabels)
        #expect([set.count, set.height, set.width] == ref.dimensions)
        #expect((0..<10).map { imageSum(set, $0) } == ref.first_sums)
        #expect(imageSum(set, 2500) == ref.image_2500_sum)
        #expect(set.pixels.reduce(0) { $0 + Int($1) } == ref.total_sum)
        #expect(Array(set.labels!.prefix(10)) == ref.first_labels)
        var histogram = [Int](repeating: 0, count: 10)
        for label in set.labels! { histogram[label] += 1 }
        #expect(histogram == ref.label_histogram)
    }

    @Test("Fashion-MNIST t10k matches the Python reference",
          .enabled(if: ImageFixtures.exists(ImageFixtures.fashionFolder + "/t10k-images-idx3-ubyte.gz")
              && ImageFixtures.reference.fashion_mnist != nil))
    func fashionMatchesReference() throws {
        let ref = try #require(ImageFixtures.reference.fashion_mnist)
        let set = try IDXFile.readImages(path: ImageFixtures.fashionFolder + "/t10k-images-idx3-ubyte.gz",
                                         labelsPath: ImageFixtures.fashionFolder + "/t10k-labels-idx1-ubyte.gz")
        #expect([set.count, set.height, set.width] == ref.t10k_dimensions)
        #expect(imageSum(set, 0) == ref.t10k_first_sum)
        #expect(imageSum(set, set.count - 1) == ref.t10k_last_sum)
        #expect(Array(set.labels!.prefix(10)) == ref.t10k_first_labels)
    }

    @Test("reading the full Fashion-MNIST train file (timing printed, not asserted)",
          .enabled(if: ImageFixtures.exists(ImageFixtures.fashionFolder + "/train-images-idx3-ubyte.gz")))
    func fashionTrainTiming() throws {
        let path = ImageFixtures.fashionFolder + "/train-images-idx3-ubyte.gz"
        let clock = ContinuousClock()
        var result: (dimensions: [Int], bytes: [UInt8]) = ([], [])
        let elapsed = try clock.measure { result = try IDXFile.read(path: path) }
        #expect(result.dimensions == [60000, 28, 28])
        #expect(result.bytes.count == 60000 * 784)
        print("IDXFile.read(\(path)): \(elapsed)")
    }

    @Test("raw and gzip files round trip for ranks 1 to 4", arguments: [[7], [3, 5], [4, 3, 2], [2, 3, 4, 5], [0, 28, 28]])
    func roundTrip(dimensions: [Int]) throws {
        let folder = try imageScratchFolder()
        let count = dimensions.reduce(1, *)
        let data = (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
        let file = idxBytes(dimensions: dimensions, data: data)
        try writeBytes(file, to: folder + "/raw.idx")
        try writeBytes(gzipBytes(file), to: folder + "/packed.idx")  // detected by content, not name
        try writeBytes(gzipBytes(file), to: folder + "/packed.gz")
        for name in ["raw.idx", "packed.idx", "packed.gz"] {
            let (dims, bytes) = try IDXFile.read(path: folder + "/" + name)
            #expect(dims == dimensions, "\(name)")
            #expect(bytes == data, "\(name)")
        }
    }

    @Test("concatenated gzip members read as one stream")
    func multiMemberGzip() throws {
        let folder = try imageScratchFolder()
        let data = (0..<(3 * 4 * 5)).map { UInt8($0) }
        let file = idxBytes(dimensions: [3, 4, 5], data: data)
        try writeBytes(gzipBytes(Array(file[..<30])) + gzipBytes(Array(file[30...])), to: folder + "/two.gz")
        let (dims, bytes) = try IDXFile.read(path: folder + "/two.gz")
        #expect(dims == [3, 4, 5] && bytes == data)
    }

    @Test("images with labels from raw files; labels are Ints")
    func imagesWithLabels() throws {
        let folder = try imageScratchFolder()
        let pixels = (0..<(3 * 2 * 2)).map { UInt8($0 * 20) }
        try writeBytes(idxBytes(dimensions: [3, 2, 2], data: pixels), to: folder + "/images")
        try writeBytes(idxBytes(dimensions: [3], data: [9, 0, 4]), to: folder + "/labels")
        let set = try IDXFile.readImages(path: folder + "/images", labelsPath: folder + "/labels")
        #expect(set == ImageSet(count: 3, channels: 1, height: 2, width: 2, pixels: pixels, labels: [9, 0, 4],
                                source: set.source))
        let unlabelled = try IDXFile.readImages(path: folder + "/images")
        #expect(unlabelled.labels == nil)
    }

    // MARK: Bad inputs

    /// A bad IDX content, the position the error must name, and message fragments.
    struct BadCase: CustomTestStringConvertible, Sendable {
        let name: String
        let bytes: [UInt8]
        let position: String
        let fragments: [String]
        var testDescription: String { name }
    }

    static let badCases: [BadCase] = {
        let good = idxBytes(dimensions: [2, 3, 4], data: [UInt8](repeating: 7, count: 24))  // 16-byte header
        return [
            BadCase(name: "bad magic", bytes: [1, 0] + good.dropFirst(2), position: "byte 0", fragments: ["magic", "01 00 08 03"]),
            BadCase(name: "text file", bytes: Array("hello, world\n".utf8), position: "byte 0", fragments: ["not an IDX file"]),
            BadCase(name: "float data", bytes: idxBytes(dimensions: [2], data: [0, 0, 0, 0, 0, 0, 0, 0], type: 0x0D),
                    position: "byte 2", fragments: ["0d", "float32", "only unsigned bytes"]),
            BadCase(name: "rank 0", bytes: [0, 0, 8, 0], position: "byte 3", fragments: ["rank 0"]),
            BadCase(name: "rank 5", bytes: idxBytes(dimensions: [1, 1, 1, 1, 1], data: [1]), position: "byte 3", fragments: ["rank 5"]),
            BadCase(name: "zero-byte file", bytes: [], position: "byte 0", fragments: ["empty"]),
            BadCase(name: "header cut in the magic", bytes: [0, 0, 8], position: "byte 3", fragments: ["header"]),
            BadCase(name: "header cut in the dimensions", bytes: Array(good.prefix(10)), position: "byte 10",
                    fragments: ["header", "12 dimension bytes", "found 6"]),
            BadCase(name: "truncated data", bytes: Array(good.dropLast(5)), position: "byte 35",
                    fragments: ["truncated", "2×3×4", "24 data bytes", "40 bytes in all", "found 19"]),
            BadCase(name: "trailing bytes", bytes: good + [1, 2, 3], position: "byte 40",
                    fragments: ["3 trailing bytes", "40 bytes in all", "found 43"]),
            BadCase(name: "absurd size", bytes: idxBytes(dimensions: [65536, 65536, 2], data: []), position: "byte 4",
                    fragments: ["65536×65536×2", "8589934592", "2^31"]),
            BadCase(name: "overflowing size", bytes: idxBytes(dimensions: [0xFFFF_FFFF, 0xFFFF_FFFF, 0xFFFF_FFFF], data: []),
                    position: "byte 4", fragments: ["more than 2^63"]),
        ]
    }()

    @Test("bad raw IDX files are reported with file and position", arguments: badCases)
    func badRaw(_ bad: BadCase) throws {
        let path = try imageScratchFolder() + "/bad.idx"
        try writeBytes(bad.bytes, to: path)
        expectDataError(file: path, position: bad.position, bad.fragments) { () throws(DataError) in
            _ = try IDXFile.read(path: path)
        }
    }

    @Test("bad gzip-compressed IDX content is reported at the same decompressed position",
          arguments: badCases.filter { $0.name != "zero-byte file" })
    func badGzip(_ bad: BadCase) throws {
        let path = try imageScratchFolder() + "/bad.idx.gz"
        try writeBytes(gzipBytes(bad.bytes), to: path)
        expectDataError(file: path, position: bad.position, bad.fragments) { () throws(DataError) in
            _ = try IDXFile.read(path: path)
        }
    }

    @Test("a gzip file with empty content")
    func emptyGzip() throws {
        let path = try imageScratchFolder() + "/empty.gz"
        try writeBytes(gzipBytes([]), to: path)
        expectDataError(file: path, position: "byte 0", ["empty decompressed content"]) { () throws(DataError) in
            _ = try IDXFile.read(path: path)
        }
    }

    @Test("corrupt gzip data names the compressed byte")
    func corruptGzip() throws {
        let folder = try imageScratchFolder()
        let content = idxBytes(dimensions: [50, 28, 28], data: (0..<(50 * 784)).map { UInt8(truncatingIfNeeded: $0 * $0 >> 3) })
        var packed = gzipBytes(content)
        for i in stride(from: 40, to: packed.count - 8, by: 97) { packed[i] ^= 0x5A }
        try writeBytes(packed, to: folder + "/corrupt.gz")
        do {
            _ = try IDXFile.read(path: folder + "/corrupt.gz")
            Issue.record("corrupt gzip was accepted")
        } catch {
            #expect(error.file == folder + "/corrupt.gz")
            #expect(error.position.hasPrefix("compressed byte "), "\(error)")
            #expect(error.message.contains("corrupt gzip data"), "\(error)")
        }

        // A broken CRC at the very end is still corruption.
        var badCRC = gzipBytes(content)
        badCRC[badCRC.count - 6] ^= 0xFF
        try writeBytes(badCRC, to: folder + "/crc.gz")
        expectDataError(file: folder + "/crc.gz", position: "compressed byte \(badCRC.count - 4)",
                        ["corrupt gzip data after \(content.count) decompressed bytes: the checksum of the decompressed data does not match the stored one"]) {
            () throws(DataError) in _ = try IDXFile.read(path: folder + "/crc.gz")
        }
    }

    @Test("zlib's failures are words, never a bare code")
    func gzipMessagesAreWords() throws {
        let folder = try imageScratchFolder()
        // A gzip header (deflate, no flags, OS 3) followed by a deflate block of the reserved type 3.
        let header: [UInt8] = [0x1F, 0x8B, 0x08, 0x00, 0, 0, 0, 0, 0x00, 0x03]
        try writeBytes(header + [0xFF, 0xFF, 0xFF, 0xFF], to: folder + "/block.gz")
        expectDataError(file: folder + "/block.gz", position: "compressed byte 11",
                        ["corrupt gzip data after 0 decompressed bytes: invalid block type"]) {
            () throws(DataError) in _ = try IDXFile.read(path: folder + "/block.gz")
        }
        // A gzip header whose FHCRC flag promises a header checksum that does not match.
        try writeBytes([0x1F, 0x8B, 0x08, 0x02, 0, 0, 0, 0, 0x00, 0x03, 0x00, 0x00] + [0x03, 0x00], to: folder + "/hcrc.gz")
        expectDataError(file: folder + "/hcrc.gz", position: "compressed byte 12",
                        ["corrupt gzip data after 0 decompressed bytes: the gzip header's checksum does not match"]) {
            () throws(DataError) in _ = try IDXFile.read(path: folder + "/hcrc.gz")
        }
        // The length stored at the end (ISIZE) disagrees with the data (the CRC-32 still matches).
        let content = idxBytes(dimensions: [2, 28, 28], data: (0..<(2 * 784)).map { UInt8(truncatingIfNeeded: $0) })
        var length = gzipBytes(content)
        length[length.count - 4] ^= 0x01
        try writeBytes(length, to: folder + "/isize.gz")
        expectDataError(file: folder + "/isize.gz", position: "compressed byte \(length.count)",
                        ["the decompressed length does not match the stored one"]) {
            () throws(DataError) in _ = try IDXFile.read(path: folder + "/isize.gz")
        }
        for name in ["block.gz", "hcrc.gz", "isize.gz"] {
            do { _ = try IDXFile.read(path: folder + "/" + name) } catch {
                #expect(!error.description.contains("zlib:") && !error.description.contains("error "), "\(error)")
            }
        }
    }

    @Test("a truncated .gz file and garbage after the gzip data")
    func truncatedGzip() throws {
        let folder = try imageScratchFolder()
        let content = idxBytes(dimensions: [20, 28, 28], data: (0..<(20 * 784)).map { UInt8(truncatingIfNeeded: $0 * 7) })
        let packed = gzipBytes(content)
        try writeBytes(Array(packed.prefix(packed.count / 2)), to: folder + "/cut.gz")
        expectDataError(file: folder + "/cut.gz", position: "compressed byte \(packed.count / 2)", ["truncated .gz file"]) {
            () throws(DataError) in _ = try IDXFile.read(path: folder + "/cut.gz")
        }
        try writeBytes([0x1F, 0x8B], to: folder + "/magic-only.gz")
        expectDataError(file: folder + "/magic-only.gz", position: "compressed byte 2", ["truncated .gz file"]) {
            () throws(DataError) in _ = try IDXFile.read(path: folder + "/magic-only.gz")
        }
        try writeBytes(packed + [0x42, 0x42, 0x42], to: folder + "/garbage.gz")
        expectDataError(file: folder + "/garbage.gz", position: "compressed byte \(packed.count)", ["3 unexpected bytes"]) {
            () throws(DataError) in _ = try IDXFile.read(path: folder + "/garbage.gz")
        }
    }

    @Test("labels count mismatch names the labels file")
    func labelCountMismatch() throws {
        let folder = try imageScratchFolder()
        try writeBytes(gzipBytes(idxBytes(dimensions: [3, 2, 2], data: [UInt8](repeating: 1, count: 12))), to: folder + "/images.gz")
        try writeBytes(gzipBytes(idxBytes(dimensions: [4], data: [1, 2, 3, 4])), to: folder + "/labels.gz")
        expectDataError(file: folder + "/labels.gz", position: "byte 4", ["4 labels", "has 3 images", folder + "/images.gz"]) {
            () throws(DataError) in _ = try IDXFile.readImages(path: folder + "/images.gz", labelsPath: folder + "/labels.gz")
        }
        try writeBytes(idxBytes(dimensions: [3, 1], data: [1, 2, 3]), to: folder + "/labels2")
        expectDataError(file: folder + "/labels2", position: "byte 3", ["rank 1"]) { () throws(DataError) in
            _ = try IDXFile.readImages(path: folder + "/images.gz", labelsPath: folder + "/labels2")
        }
    }

    @Test("an images file must have rank 3; missing files and folders are reported")
    func wrongRankAndMissing() throws {
        let folder = try imageScratchFolder()
        try writeBytes(idxBytes(dimensions: [3], data: [1, 2, 3]), to: folder + "/labels")
        expectDataError(file: folder + "/labels", position: "byte 3", ["rank 3", "found rank 1"]) { () throws(DataError) in
            _ = try IDXFile.readImages(path: folder + "/labels")
        }
        expectDataError(file: folder + "/missing.gz", position: "", ["no such file"]) { () throws(DataError) in
            _ = try IDXFile.read(path: folder + "/missing.gz")
        }
        expectDataError(file: folder, position: "", ["is a folder, expected a regular file"]) { () throws(DataError) in
            _ = try IDXFile.read(path: folder)
        }
    }
}
