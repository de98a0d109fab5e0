// Shared helpers of the image loader tests: fixtures, scratch folders, IDX/CIFAR writers, gzip.
import CZlib
import FlexData
import Foundation
import Testing

enum ImageFixtures {
    /// Tests/FlexDataTests/Fixtures/images (the copy in the test bundle, else the source folder).
    static let folder: String = {
        if let url = Bundle.module.url(forResource: "Fixtures", withExtension: nil) {
            let path = url.appendingPathComponent("images").path
            if FileManager.default.fileExists(atPath: path) { return path }
        }
        return URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("Fixtures/images").path
    }()

    static func path(_ name: String) -> String { folder + "/" + name }

    /// Fixtures/images/images_reference.json, written by Reference/images_reference.py.
    static let reference: Reference = {
        let data = FileManager.default.contents(atPath: path("images_reference.json"))!
        return try! JSONDecoder().decode(Reference.self, from: data)
    }()

    struct Reference: Decodable {
        struct MNISTSubset: Decodable {
            let dimensions: [Int]
            let first_sums: [Int]
            let first_labels: [Int]
            let label_histogram: [Int]
            let total_sum: Int
            let image_2500_sum: Int
        }
        struct MNIST20: Decodable {
            let sums: [Int]
            let labels: [Int]
            let image_5_row_14: [Int]
        }
        struct Fashion: Decodable {
            let t10k_dimensions: [Int]
            let t10k_first_sum: Int
            let t10k_last_sum: Int
            let t10k_first_labels: [Int]
            let train_dimensions: [Int]
        }
        struct PNG: Decodable {
            let width: Int, height: Int, channels: Int
            let first_row: [Int]
            let last_row: [Int]
        }
        let mnist_subset: MNISTSubset
        let mnist_20: MNIST20
        let fashion_mnist: Fashion?
        let pngs: [String: PNG]
    }

    /// The real data sets (not in the repository; tests using them are skipped when absent).
    static let mnistSubsetImages = "/work/shared/data/mnist-subset/mnist-5k-images-idx3-ubyte.gz"
    static let mnistSubsetLabels = "/work/shared/data/mnist-subset/mnist-5k-labels-idx1-ubyte.gz"
    static let fashionFolder = "/usr/share/datasets/fashion-mnist"
    static let photosFolder = "/work/shared/data/photos"

    static func exists(_ path: String) -> Bool { FileManager.default.fileExists(atPath: path) }

    /// The fixture PNGs' pixels, as Reference/images_reference.py defines them (RGBA for rgba, etc.).
    static func grayPixel(_ x: Int, _ y: Int) -> UInt8 { UInt8((x * 3 + y) % 100 + (y < 40 ? 0 : 150)) }
    static func rgbPixel(_ x: Int, _ y: Int) -> [UInt8] {
        [UInt8((x * 7) % 256), UInt8((y * 8) % 256), UInt8((x + y) * 4 % 256)]
    }
    static func rgbaPixel(_ x: Int, _ y: Int) -> [UInt8] {
        [UInt8((x * 8) % 256), UInt8((y * 5) % 256), 200, UInt8((x * y) % 256)]
    }
}

/// This process's scratch folder for the image tests, removed when the test process exits.
let imageScratchRoot: String = {
    let path = NSTemporaryDirectory() + "flexdata-images-\(getpid())"
    atexit { try? FileManager.default.removeItem(atPath: NSTemporaryDirectory() + "flexdata-images-\(getpid())") }
    return path
}()

/// A fresh empty folder under the temporary directory, removed at process exit.
func imageScratchFolder() throws -> String {
    let path = imageScratchRoot + "/\(UInt64.random(in: 0 ... .max))"
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

func writeBytes(_ bytes: [UInt8], to path: String) throws {
    try Data(bytes).write(to: URL(fileURLWithPath: path))
}

/// An IDX file's bytes: magic 00 00 type rank, big-endian dimensions, data.
func idxBytes(dimensions: [Int], data: [UInt8], type: UInt8 = 0x08, rank: Int? = nil) -> [UInt8] {
    var out: [UInt8] = [0, 0, type, UInt8(rank ?? dimensions.count)]
    for d in dimensions {
        out += [UInt8(truncatingIfNeeded: d >> 24), UInt8(truncatingIfNeeded: d >> 16),
                UInt8(truncatingIfNeeded: d >> 8), UInt8(truncatingIfNeeded: d)]
    }
    return out + data
}

/// gzip-compressed bytes (zlib deflate, windowBits 15 + 16).
func gzipBytes(_ input: [UInt8]) -> [UInt8] {
    var stream = z_stream()
    precondition(czlib_deflateInit2(&stream, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) == Z_OK)
    defer { deflateEnd(&stream) }
    var source = input
    var out = [UInt8](repeating: 0, count: Int(deflateBound(&stream, uLong(input.count))) + 64)
    let produced = source.withUnsafeMutableBufferPointer { src in
        out.withUnsafeMutableBufferPointer { dst in
            stream.next_in = src.baseAddress
            stream.avail_in = uInt(src.count)
            stream.next_out = dst.baseAddress
            stream.avail_out = uInt(dst.count)
            precondition(deflate(&stream, Z_FINISH) == Z_STREAM_END)
            return dst.count - Int(stream.avail_out)
        }
    }
    return Array(out.prefix(produced))
}

/// Sum of the pixels of image `index`.
func imageSum(_ set: ImageSet, _ index: Int) -> Int {
    set.pixels[(index * set.imageSize)..<((index + 1) * set.imageSize)].reduce(0) { $0 + Int($1) }
}

/// Expects `body` to throw a `DataError` naming `file` at `position` with a message containing every fragment.
func expectDataError(file: String, position: String, _ fragments: [String] = [],
                     sourceLocation: SourceLocation = #_sourceLocation,
                     _ body: () throws(DataError) -> Void) {
    do {
        try body()
        Issue.record("expected a DataError for \(file) at '\(position)'", sourceLocation: sourceLocation)
    } catch {
        #expect(error.file == file, "\(error)", sourceLocation: sourceLocation)
        #expect(error.position == position, "\(error)", sourceLocation: sourceLocation)
        #expect(error.description.contains(file), sourceLocation: sourceLocation)
        if !position.isEmpty {
            #expect(error.description.contains(position), sourceLocation: sourceLocation)
        }
        for fragment in fragments {
            #expect(error.message.contains(fragment), "'\(fragment)' not in: \(error)", sourceLocation: sourceLocation)
        }
    }
}
