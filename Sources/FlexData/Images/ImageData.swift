// What `flexctl train cae --data PATH` accepts, resolved to a train set and an optional test set.
// See docs/data-formats.md, "Images".

/// What `flexctl train cae --data PATH` accepts, resolved to a train set and an optional held-out test set.
public struct ImageData: Sendable {
    public var train: ImageSet
    public var test: ImageSet?
    /// For provenance, e.g. "Fashion-MNIST (/usr/share/datasets/fashion-mnist): 60000 train, 10000 test".
    public var description: String

    public init(train: ImageSet, test: ImageSet?, description: String) {
        self.train = train
        self.test = test
        self.description = description
    }

    /// What `load(path:)` accepts, for messages and help texts.
    public static let acceptedInputs = """
        a folder with train-images-idx3-ubyte[.gz] (and t10k-images-idx3-ubyte[.gz] as the test set) or with \
        one other *-images-idx3-ubyte[.gz] file; \
        an IDX images file (gzip or raw); \
        a CIFAR-10 folder (data_batch_1.bin … data_batch_5.bin, test_batch.bin) or one CIFAR-10 .bin file; \
        a folder of PNG photos (sampled as patches)
        """

    /// PATH is one of:
    /// - a folder with train-images-idx3-ubyte[.gz] (and t10k-images-idx3-ubyte[.gz] as the test set, if present),
    ///   with labels from train-/t10k-labels-idx1-ubyte[.gz] when present;
    /// - an IDX images file (no test set);
    /// - a CIFAR-10 folder (data_batch_1..5.bin train, test_batch.bin test) or a single CIFAR-10 .bin file;
    /// - a folder of PNG files → PhotoPatchSampler: `patches` train patches (seed) and patches/5 test patches
    ///   (seed+1), `patchSize`² RGB.
    /// Anything else: error naming the path and listing what is accepted.
    public static func load(path: String, patches: Int = 20_000, patchSize: Int = 32, seed: UInt64 = 0)
        throws(DataError) -> ImageData
    {
        switch imagePathKind(path) {
        case .missing:
            throw DataError(file: path, message: "no such file or folder; expected \(acceptedInputs)")
        case .file:
            return try loadFile(path)
        case .folder:
            return try loadFolder(path, patches: patches, patchSize: patchSize, seed: seed)
        }
    }

    private static func loadFile(_ path: String) throws(DataError) -> ImageData {
        if path.lowercased().hasSuffix(".bin") {
            let set = try CIFAR10File.read(paths: [path])
            return ImageData(train: set, test: nil, description: "CIFAR-10 (\(path)): \(set.count) train")
        }
        // IDX (raw starts with 00 00, gzip with 1f 8b); a gzip file that is not IDX fails in the IDX reader.
        let start = try imageFileStart(path, count: 2)
        guard start == [0x1F, 0x8B] || start == [0, 0] else {
            throw DataError(file: path, message:
                "not a recognised image data file (neither IDX nor gzip, and not named *.bin); expected \(acceptedInputs)")
        }
        let set = try IDXFile.readImages(path: path)
        return ImageData(train: set, test: nil, description: "IDX images (\(path)): \(set.count) train")
    }

    private static func loadFolder(_ path: String, patches: Int, patchSize: Int, seed: UInt64)
        throws(DataError) -> ImageData
    {
        let names = try imageFolderEntries(path)
        let present = Set(names.filter { imagePathKind(imageJoin(path, $0)) == .file })
        func find(_ base: String) -> String? {
            if present.contains(base) { return imageJoin(path, base) }
            if present.contains(base + ".gz") { return imageJoin(path, base + ".gz") }
            return nil
        }

        // IDX folder (MNIST / Fashion-MNIST layout).
        if let trainImages = find("train-images-idx3-ubyte") {
            let lower = path.lowercased()
            let name = lower.contains("fashion") ? "Fashion-MNIST" : lower.contains("mnist") ? "MNIST" : "IDX"
            var train = try IDXFile.readImages(path: trainImages, labelsPath: find("train-labels-idx1-ubyte"))
            train.source = "\(name) train (\(trainImages))"
            var test: ImageSet?
            if let testImages = find("t10k-images-idx3-ubyte") {
                var set = try IDXFile.readImages(path: testImages, labelsPath: find("t10k-labels-idx1-ubyte"))
                set.source = "\(name) test (\(testImages))"
                try checkSameShape(train, set, file: testImages)
                test = set
            }
            return ImageData(train: train, test: test,
                             description: "\(name) (\(path)): \(train.count) train" + (test.map { ", \($0.count) test" } ?? ""))
        }

        // A folder with exactly one other IDX images file (e.g. the MNIST subset's mnist-5k-images-idx3-ubyte.gz),
        // with its labels file if present; no test set.
        let idx = present.filter { $0.hasSuffix("-images-idx3-ubyte") || $0.hasSuffix("-images-idx3-ubyte.gz") }.sorted()
        if idx.count == 1 {
            let file = imageJoin(path, idx[0])
            let base = idx[0].hasSuffix(".gz") ? String(idx[0].dropLast(3)) : idx[0]
            let prefix = String(base.dropLast("-images-idx3-ubyte".count))
            let labels = [prefix + "-labels-idx1-ubyte", prefix + "-labels-idx1-ubyte.gz"].first(where: present.contains)
            let set = try IDXFile.readImages(path: file, labelsPath: labels.map { imageJoin(path, $0) })
            return ImageData(train: set, test: nil, description: "IDX images (\(file)): \(set.count) train")
        }

        // CIFAR-10 folder.
        let batches = (1...5).map { "data_batch_\($0).bin" }.filter(present.contains)
        if !batches.isEmpty || present.contains("test_batch.bin") {
            guard !batches.isEmpty else {
                throw DataError(file: path, message: "CIFAR-10 folder has test_batch.bin but no data_batch_1..5.bin training batches")
            }
            var train = try CIFAR10File.read(paths: batches.map { imageJoin(path, $0) })
            train.source = "CIFAR-10 train (\(path): \(batches.joined(separator: ", ")))"
            var test: ImageSet?
            if present.contains("test_batch.bin") {
                var set = try CIFAR10File.read(paths: [imageJoin(path, "test_batch.bin")])
                set.source = "CIFAR-10 test (\(imageJoin(path, "test_batch.bin")))"
                test = set
            }
            return ImageData(train: train, test: test,
                             description: "CIFAR-10 (\(path)): \(train.count) train" + (test.map { ", \($0.count) test" } ?? ""))
        }

        // Folder of PNG photos.
        if present.contains(where: { !$0.hasPrefix(".") && $0.lowercased().hasSuffix(".png") }) {
            guard patches > 0 else {
                throw DataError(file: path, message: "the number of patches must be positive, not \(patches)")
            }
            let sampler = try PhotoPatchSampler(folder: path, patchSize: patchSize, channels: 3)
            let testCount = max(1, patches / 5)
            let train = sampler.sample(count: patches, seed: seed, part: .train)
            let test = sampler.sample(count: testCount, seed: seed &+ 1, part: .test)
            return ImageData(train: train, test: test, description:
                "\(sampler.photoNames.count) PNG photos (\(path)): \(patches) train patches (top \(100 - Int((sampler.testFraction * 100).rounded()))% of rows, seed \(seed)), "
                + "\(testCount) test patches (bottom \(Int((sampler.testFraction * 100).rounded()))%, seed \(seed &+ 1)), \(patchSize)×\(patchSize) RGB")
        }

        throw DataError(file: path, message: "folder holds no recognised image data; expected \(acceptedInputs)")
    }

    private static func checkSameShape(_ train: ImageSet, _ test: ImageSet, file: String) throws(DataError) {
        guard train.channels == test.channels, train.height == test.height, train.width == test.width else {
            throw DataError(file: file, message:
                "test images are \(test.channels)×\(test.height)×\(test.width) but train images are \(train.channels)×\(train.height)×\(train.width)")
        }
    }
}
