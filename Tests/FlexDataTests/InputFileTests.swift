import FlexData
import Foundation
import Testing

/// Every loader reads only regular files of bounded size: a FIFO, a device or an oversized (sparse) file is
/// refused at once with one error naming it, never read, waited on or allocated for.
@Suite("data loaders: FIFOs, devices and oversized files as inputs")
struct InputFileTests {
    /// A sparse file of `size` bytes (no disk space used).
    func sparse(_ path: String, size: Int) throws {
        #expect(FileManager.default.createFile(atPath: path, contents: nil))
        #expect(truncate(path, off_t(size)) == 0)
    }

    @Test("CSV series: FIFO, /dev/zero, over 256 MiB")
    func series() throws {
        let folder = try imageScratchFolder()
        let fifo = folder + "/prices.csv"
        #expect(mkfifo(fifo, 0o600) == 0)
        expectSeriesError(file: fifo, position: "", "is a FIFO, expected a regular file") { _ = try SeriesFile.read(path: fifo) }
        expectSeriesError(file: "/dev/zero", position: "", "is a character device, expected a regular file") {
            _ = try SeriesFile.read(path: "/dev/zero")
        }
        try sparse(folder + "/big.csv", size: SeriesFile.maximumFileBytes + 1)
        expectSeriesError(file: folder + "/big.csv", position: "",
                          "is 268435457 bytes, more than the 268435456 bytes (256 MiB) accepted") {
            _ = try SeriesFile.read(path: folder + "/big.csv")
        }
    }

    @Test("IDX and CIFAR-10 files, and --data paths: FIFO, /dev/zero, over 1 GiB")
    func images() throws {
        let folder = try imageScratchFolder()
        #expect(mkfifo(folder + "/train-images-idx3-ubyte", 0o600) == 0)
        expectDataError(file: folder + "/train-images-idx3-ubyte", position: "", ["is a FIFO, expected a regular file"]) {
            () throws(DataError) in _ = try IDXFile.read(path: folder + "/train-images-idx3-ubyte")
        }
        // As a whole --data folder (the FIFO is the training file) and as a single --data file.
        expectDataError(file: folder + "/train-images-idx3-ubyte", position: "", ["is a FIFO"]) { () throws(DataError) in
            _ = try ImageData.load(path: folder)
        }
        expectDataError(file: folder + "/train-images-idx3-ubyte", position: "", ["is a FIFO"]) { () throws(DataError) in
            _ = try ImageData.load(path: folder + "/train-images-idx3-ubyte")
        }
        expectDataError(file: "/dev/zero", position: "", ["is a character device"]) { () throws(DataError) in
            _ = try ImageData.load(path: "/dev/zero")
        }
        expectDataError(file: "/dev/zero", position: "", ["is a character device"]) { () throws(DataError) in
            _ = try CIFAR10File.read(paths: ["/dev/zero"])
        }
        let big = folder + "/big.idx.gz"
        try sparse(big, size: IDXFile.maximumFileBytes + 1)
        expectDataError(file: big, position: "", ["is 1073741825 bytes, more than the 1073741824 bytes (1 GiB) accepted"]) {
            () throws(DataError) in _ = try IDXFile.read(path: big)
        }
        try sparse(folder + "/data_batch_1.bin", size: CIFAR10File.maximumFileBytes + 3073)
        expectDataError(file: folder + "/data_batch_1.bin", position: "", ["more than the 1073741824 bytes (1 GiB) accepted"]) {
            () throws(DataError) in _ = try CIFAR10File.read(paths: [folder + "/data_batch_1.bin"])
        }
    }

    @Test("a photo folder with a FIFO named *.png: that file is named, nothing hangs")
    func photos() throws {
        let folder = try imageScratchFolder()
        #expect(mkfifo(folder + "/a.png", 0o600) == 0)
        expectDataError(file: folder + "/a.png", position: "", ["is a FIFO, expected a regular file"]) { () throws(DataError) in
            _ = try PhotoPatchSampler(folder: folder, patchSize: 8, channels: 3)
        }
    }
}
