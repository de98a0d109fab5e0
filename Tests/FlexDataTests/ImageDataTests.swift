// ImageData.load: every accepted kind of PATH, and the errors for anything else.
import FlexData
import Foundation
import Testing

@Suite("Images: ImageData.load")
struct ImageDataTests {
    @Test("the Fashion-MNIST folder: 60000 train and 10000 test images of 1×28×28 with labels",
          .enabled(if: ImageFixtures.exists(ImageFixtures.fashionFolder + "/train-images-idx3-ubyte.gz")))
    func fashionMNIST() throws {
        let data = try ImageData.load(path: ImageFixtures.fashionFolder)
        #expect(data.train.count == 60000)
        #expect(data.train.channels == 1 && data.train.height == 28 && data.train.width == 28)
        let test = try #require(data.test)
        #expect(test.count == 10000 && test.channels == 1 && test.height == 28 && test.width == 28)
        #expect(data.train.labels?.count == 60000 && test.labels?.count == 10000)
        #expect(data.description == "Fashion-MNIST (/usr/share/datasets/fashion-mnist): 60000 train, 10000 test")
        #expect(data.train.source.hasPrefix("Fashion-MNIST train ("))
        if let ref = ImageFixtures.reference.fashion_mnist {
            #expect(imageSum(test, 0) == ref.t10k_first_sum)
        }
    }

    @Test("an IDX images file (gzip): train only")
    func idxFile() throws {
        let data = try ImageData.load(path: ImageFixtures.path("mnist-20-images-idx3-ubyte.gz"))
        #expect(data.train.count == 20 && data.test == nil)
        #expect(data.description.contains("20 train"))
    }

    @Test("an IDX folder with raw files, labels and a test set")
    func idxFolder() throws {
        let folder = try imageScratchFolder()
        try writeBytes(idxBytes(dimensions: [4, 3, 3], data: [UInt8](repeating: 1, count: 36)), to: folder + "/train-images-idx3-ubyte")
        try writeBytes(idxBytes(dimensions: [4], data: [0, 1, 2, 3]), to: folder + "/train-labels-idx1-ubyte")
        try writeBytes(gzipBytes(idxBytes(dimensions: [2, 3, 3], data: [UInt8](repeating: 2, count: 18))),
                       to: folder + "/t10k-images-idx3-ubyte.gz")
        let data = try ImageData.load(path: folder)
        #expect(data.train.count == 4 && data.train.labels == [0, 1, 2, 3])
        #expect(data.test?.count == 2 && data.test?.labels == nil)
        #expect(data.description == "IDX (\(folder)): 4 train, 2 test")

        // Test images of another size are an error.
        try writeBytes(gzipBytes(idxBytes(dimensions: [2, 2, 2], data: [UInt8](repeating: 2, count: 8))),
                       to: folder + "/t10k-images-idx3-ubyte.gz")
        expectDataError(file: folder + "/t10k-images-idx3-ubyte.gz", position: "", ["1×2×2", "1×3×3"]) {
            () throws(DataError) in _ = try ImageData.load(path: folder)
        }
    }

    @Test("a CIFAR-10 folder and a single CIFAR-10 file")
    func cifar() throws {
        let folder = try imageScratchFolder()
        try writeBytes(cifarBytes(labels: [1, 2]), to: folder + "/data_batch_1.bin")
        try writeBytes(cifarBytes(labels: [3], first: 2), to: folder + "/data_batch_2.bin")
        try writeBytes(cifarBytes(labels: [4]), to: folder + "/test_batch.bin")
        try writeBytes(Array("readme".utf8), to: folder + "/batches.meta.txt")
        let data = try ImageData.load(path: folder)
        #expect(data.train.count == 3 && data.train.labels == [1, 2, 3] && data.train.channels == 3)
        #expect(data.test?.count == 1 && data.test?.labels == [4])
        #expect(data.description == "CIFAR-10 (\(folder)): 3 train, 1 test")
        let single = try ImageData.load(path: folder + "/data_batch_2.bin")
        #expect(single.train.count == 1 && single.test == nil)
    }

    @Test("a folder of PNG photos: seeded train patches and patches/5 test patches")
    func photos() throws {
        let folder = try photoFolder(["gray-40x50.png", "rgba-30x44.png"])
        let data = try ImageData.load(path: folder, patches: 50, patchSize: 8, seed: 9)
        #expect(data.train.count == 50 && data.train.channels == 3 && data.train.height == 8)
        let test = try #require(data.test)
        #expect(test.count == 10)
        let sampler = try PhotoPatchSampler(folder: folder, patchSize: 8)
        #expect(data.train.pixels == sampler.sample(count: 50, seed: 9, part: .train).pixels)
        #expect(test.pixels == sampler.sample(count: 10, seed: 10, part: .test).pixels)
        #expect(data.description.contains("2 PNG photos") && data.description.contains("seed 9"))
    }

    @Test("anything else is an error naming the path and listing what is accepted")
    func errors() throws {
        let folder = try imageScratchFolder()
        expectDataError(file: folder + "/missing", position: "", ["no such file or folder", "CIFAR-10", "PNG"]) {
            () throws(DataError) in _ = try ImageData.load(path: folder + "/missing")
        }
        try writeBytes(Array("hello".utf8), to: folder + "/notes.txt")
        expectDataError(file: folder, position: "", ["no recognised image data", "train-images-idx3-ubyte"]) {
            () throws(DataError) in _ = try ImageData.load(path: folder)
        }
        expectDataError(file: folder + "/notes.txt", position: "", ["not a recognised image data file", "IDX"]) {
            () throws(DataError) in _ = try ImageData.load(path: folder + "/notes.txt")
        }
        // Errors of the underlying readers come through unchanged.
        try writeBytes(idxBytes(dimensions: [2, 2, 2], data: [1, 2, 3]), to: folder + "/cut.idx")
        expectDataError(file: folder + "/cut.idx", position: "byte 19", ["truncated"]) { () throws(DataError) in
            _ = try ImageData.load(path: folder + "/cut.idx")
        }
    }
}
