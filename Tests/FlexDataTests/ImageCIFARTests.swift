// CIFAR-10 binary batches and ImageSet operations (subset, channel conversion, tensors).
import FlexData
import Foundation
import Testing

/// A CIFAR-10 record's pixel: record r, channel c, row y, column x.
func cifarPixel(_ r: Int, _ c: Int, _ y: Int, _ x: Int) -> UInt8 {
    UInt8(truncatingIfNeeded: r * 7 + c * 3 + y * 32 + x)
}

/// CIFAR-10 records with the given labels (pixels from `cifarPixel`, record numbers starting at `first`).
func cifarBytes(labels: [UInt8], first: Int = 0) -> [UInt8] {
    var out: [UInt8] = []
    for (k, label) in labels.enumerated() {
        out.append(label)
        for c in 0..<3 { for y in 0..<32 { for x in 0..<32 { out.append(cifarPixel(first + k, c, y, x)) } } }
    }
    return out
}

@Suite("Images: CIFAR-10 and ImageSet")
struct ImageCIFARTests {
    @Test("three records: labels and planar RGB pixels")
    func threeRecords() throws {
        let path = try imageScratchFolder() + "/data_batch_1.bin"
        try writeBytes(cifarBytes(labels: [0, 9, 5]), to: path)
        let set = try CIFAR10File.read(paths: [path])
        #expect(set.count == 3 && set.channels == 3 && set.height == 32 && set.width == 32)
        #expect(set.labels == [0, 9, 5])
        var expected: [UInt8] = []
        for r in 0..<3 { for c in 0..<3 { for y in 0..<32 { for x in 0..<32 { expected.append(cifarPixel(r, c, y, x)) } } } }
        #expect(set.pixels == expected)
        #expect(set.source.contains(path))
    }

    @Test("several files concatenate in order")
    func concatenation() throws {
        let folder = try imageScratchFolder()
        try writeBytes(cifarBytes(labels: [1, 2]), to: folder + "/a.bin")
        try writeBytes(cifarBytes(labels: [3], first: 2), to: folder + "/b.bin")
        let set = try CIFAR10File.read(paths: [folder + "/a.bin", folder + "/b.bin"])
        #expect(set.count == 3 && set.labels == [1, 2, 3])
        #expect(set.pixels[2 * 3072 + 1024 + 33] == cifarPixel(2, 1, 1, 1))
    }

    @Test("a size that is not a multiple of 3073 names the size and the partial record")
    func badSize() throws {
        let path = try imageScratchFolder() + "/batch.bin"
        try writeBytes(cifarBytes(labels: [1, 2, 3]) + [UInt8](repeating: 0, count: 100), to: path)
        expectDataError(file: path, position: "record 3", ["9319", "3073", "partial record 3 of 100 bytes", "byte 9219"]) {
            () throws(DataError) in _ = try CIFAR10File.read(paths: [path])
        }
        try writeBytes([], to: path)
        expectDataError(file: path, position: "byte 0", ["empty"]) { () throws(DataError) in
            _ = try CIFAR10File.read(paths: [path])
        }
    }

    @Test("a label above 9 names the record")
    func badLabel() throws {
        let folder = try imageScratchFolder()
        try writeBytes(cifarBytes(labels: [1]), to: folder + "/good.bin")
        try writeBytes(cifarBytes(labels: [4, 10, 2]), to: folder + "/bad.bin")
        expectDataError(file: folder + "/bad.bin", position: "record 1", ["label 10", "byte 3073", "0–9"]) {
            () throws(DataError) in _ = try CIFAR10File.read(paths: [folder + "/good.bin", folder + "/bad.bin"])
        }
        expectDataError(file: folder + "/none.bin", position: "", ["no such file"]) { () throws(DataError) in
            _ = try CIFAR10File.read(paths: [folder + "/none.bin"])
        }
    }

    @Test("subset keeps order, repeats and labels")
    func subset() throws {
        let set = ImageSet(count: 3, channels: 1, height: 1, width: 2, pixels: [1, 2, 3, 4, 5, 6], labels: [7, 8, 9],
                           source: "test")
        let sub = set.subset([2, 0, 2])
        #expect(sub.count == 3 && sub.pixels == [5, 6, 1, 2, 5, 6] && sub.labels == [9, 7, 9])
        #expect(set.subset([]).count == 0)
    }

    @Test("channel conversion: gray → RGB replicates, RGB → gray is BT.601 luma")
    func conversion() throws {
        // Two 1×3 RGB images, planar.
        let rgb = ImageSet(count: 2, channels: 3, height: 1, width: 3,
                           pixels: [255, 0, 0, /* G */ 0, 255, 0, /* B */ 0, 0, 255,
                                    10, 128, 255, /* G */ 20, 128, 255, /* B */ 30, 128, 255],
                           labels: [1, 2], source: "test")
        let gray = try rgb.converted(toChannels: 1)
        // round(0.299·255) = 76, round(0.587·255) = 150, round(0.114·255) = 29, round(2.99 + 11.74 + 3.42) = 18.
        #expect(gray.pixels == [76, 150, 29, 18, 128, 255])
        #expect(gray.channels == 1 && gray.labels == [1, 2])
        // Every gray level survives gray → RGB → gray.
        let levels = ImageSet(count: 1, channels: 1, height: 16, width: 16, pixels: (0...255).map { UInt8($0) }, source: "t")
        let back = try levels.converted(toChannels: 3)
        #expect(back.pixels == levels.pixels + levels.pixels + levels.pixels)
        #expect(try back.converted(toChannels: 1) == levels)
        #expect(try rgb.converted(toChannels: 3) == rgb)
        expectDataError(file: "test", position: "", ["3-channel", "4 channels"]) { () throws(DataError) in
            _ = try rgb.converted(toChannels: 4)
        }
    }

    @Test("tensors scale pixels to [0, 1]")
    func tensors() throws {
        let set = ImageSet(count: 2, channels: 1, height: 1, width: 2, pixels: [0, 255, 51, 102], source: "t")
        let t = set.tensor(1..<2)
        #expect(t.shape == [1, 1, 1, 2])
        #expect(t.scalars == [0.2, 0.4])
        let u = set.tensor(indices: [1, 0])
        #expect(u.shape == [2, 1, 1, 2] && u.scalars == [0.2, 0.4, 0, 1])
    }
}
