import FlexData
import FlexRuntime
import Foundation
import Testing

/// The checkpoints in models/: each loads with the strict reader into its inference session, and each
/// reproduces the test loss the trainer recorded in its provenance when evaluated here, through the runtime
/// only, on the same held-out data (Fashion-MNIST's test set, photo patches from the bottom rows, the last 20%
/// of the index windows). This checks that the trainer's data pipeline and the runtime's agree.
@Suite struct ShippedModelTests {
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path
    static let models = repo + "/models"
    static let shared = repo + "/../shared/data"
    static let fashionMNIST = "/usr/share/datasets/fashion-mnist"

    static func model(_ name: String) throws -> Checkpoint {
        try Checkpoint.read(from: models + "/" + name)
    }

    static func exists(_ path: String) -> Bool { FileManager.default.fileExists(atPath: path) }

    /// Mean squared error in model units over every pixel of every image.
    static func reconstructionMSE(_ session: ImageCodecSession, _ images: ImageSet) throws -> Double {
        var sum = 0.0, n = 0
        var lo = 0
        while lo < images.count {
            let hi = min(lo + 1000, images.count)
            let px = Array(images.pixels[lo * images.imageSize ..< hi * images.imageSize])
            let x = try session.modelInput(pixels: px, count: hi - lo)
            let y = try session.reconstruct(x)
            for i in 0..<x.scalars.count { let d = Double(y.scalars[i]) - Double(x.scalars[i]); sum += d * d }
            n += x.scalars.count
            lo = hi
        }
        return sum / Double(n)
    }

    @Test func cae2FashionMNISTReproducesItsTestLoss() throws {
        let c = try Self.model("cae2-p-e2-relu-fashion-mnist.h5")
        #expect(c.task == .imageAutoencoder)
        #expect(c.architecture == (try Architecture.cae2(activation: .member("p-e2-relu"))))
        let session = try ImageCodecSession(checkpoint: c)
        let recorded = try #require(c.provenance?.testLoss)
        guard Self.exists(Self.fashionMNIST) else {
            Issue.record("Fashion-MNIST is not installed (scripts/install-deps installs dataset-fashion-mnist)")
            return
        }
        let test = try IDXFile.readImages(path: Self.fashionMNIST + "/t10k-images-idx3-ubyte.gz")
        let mse = try Self.reconstructionMSE(session, test)
        #expect(abs(mse - recorded) <= 1e-5 * recorded, "runtime \(mse) vs trainer \(recorded)")
    }

    @Test func cae3PhotosReproducesItsTestLoss() throws {
        let c = try Self.model("cae3-p-e2-id-photos.h5")
        let session = try ImageCodecSession(checkpoint: c)
        guard case let .image(spec) = c.input else { Issue.record("not an image model"); return }
        #expect(spec.pixelScaling == .zeroToOne && spec.channels == 3)
        let recorded = try #require(c.provenance?.testLoss)
        guard Self.exists(Self.shared + "/photos") else { return }
        // The trainer's test patches: 20000 / 5 patches from the bottom 20% of each photo, seed + 1.
        let data = try ImageData.load(path: Self.shared + "/photos", patches: 20_000, patchSize: 32, seed: 1)
        let mse = try Self.reconstructionMSE(session, try #require(data.test))
        #expect(abs(mse - recorded) <= 1e-5 * recorded, "runtime \(mse) vs trainer \(recorded)")
    }

    static let paperIndices = ["S&P_ASX All Australian 200 Historical Data.csv", "FTSE 100.csv",
                               "KOSPI Historical Data.csv", "RTSI Historical Data.csv"]

    @Test func lstmForecasterReproducesItsTestLoss() throws {
        let c = try Self.model("lstm-p-sig-ramp-4-indices.h5")
        let session = try ForecastSession(checkpoint: c)
        #expect(session.features == ["S&P_ASX All Australian 200", "FTSE 100", "KOSPI", "RTSI"])
        #expect(session.targets == session.features && session.window == 30 && session.horizon == 1)
        let recorded = try #require(c.provenance?.testLoss)
        guard Self.exists(Self.shared + "/indices") else { return }
        let series = try Self.paperIndices.flatMap { try SeriesFile.read(path: Self.shared + "/indices/" + $0) }
        let d = try ForecastDataset.build(series: series, targets: session.targets, window: 30, horizon: 1)
        // The statistics the checkpoint carries are the ones the pipeline fits on the training part.
        #expect(d.statistics.mean == session.input.normalization.mean)
        #expect(d.statistics.std == session.input.normalization.std)
        let x = Tensor(shape: [d.test.count, 30, 4], scalars: d.test.inputs)
        let y = try session.predict(x)
        var sum = 0.0
        for i in 0..<y.scalars.count { let e = Double(y.scalars[i]) - Double(d.test.targets[i]); sum += e * e }
        let mse = sum / Double(y.scalars.count)
        #expect(abs(mse - recorded) <= 1e-5 * recorded, "runtime \(mse) vs trainer \(recorded)")
    }

    @Test func modelsFolderHoldsOnlyDocumentedCheckpoints() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.models).filter { $0.hasSuffix(".h5") }.sorted()
        let card = try String(contentsOfFile: Self.models + "/README.md", encoding: .utf8)
        #expect(!files.isEmpty)
        for f in files {
            #expect(card.contains(f), "models/README.md has no card for \(f)")
            let c = try Checkpoint.read(from: Self.models + "/" + f)
            #expect(card.contains(c.fingerprint), "the card of \(f) does not give its fingerprint")
        }
    }
}
