import FlexCodecTraining
import FlexImageIO
import FlexRuntime
import FlexTraining
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// The codec run's state file and resume: a run stopped and resumed takes exactly the steps an uninterrupted
/// run takes (crops and noise depend only on the seed and the step), and a crafted state is refused.
final class CodecTrainingRunTests: XCTestCase {
    var folder = ""

    override func setUpWithError() throws {
        folder = NSTemporaryDirectoryPath() + "/flexctl-codec-run-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        mkdir(folder, 0o700)
        mkdir(folder + "/photos", 0o700)
        // Three small synthetic photos (smooth gradients with a little texture), one of them gray.
        var rng = SplitMix64(seed: 42)
        for (i, (w, h, c)) in [(40, 36, 3), (48, 32, 3), (36, 36, 1)].enumerated() {
            var pixels = [UInt8](repeating: 0, count: w * h * c)
            for y in 0..<h {
                for x in 0..<w {
                    for k in 0..<c {
                        let v = Float(x * 3 + y * 2 + k * 40) + rng.uniform(0, 20)
                        pixels[(y * w + x) * c + k] = UInt8(min(255, max(0, v)))
                    }
                }
            }
            try writePNG(path: folder + "/photos/p\(i).png", width: w, height: h, channels: c, pixels: pixels)
        }
    }

    override func tearDownWithError() throws {
        for f in ["photos/p0.png", "photos/p1.png", "photos/p2.png", "a.h5", "b.h5", "bad.h5"] { unlink(folder + "/" + f) }
        rmdir(folder + "/photos")
        rmdir(folder)
    }

    func makeRun(steps: Int) throws -> CodecTrainingRun {
        let options = CodecTrainingOptions(lambda: 0.01, crop: 16, batch: 3, steps: steps, learningRate: 1e-3,
                                           decayFactor: 0.5, decayAt: 0.5, seed: 5)
        let state = CodecRunState(options: options, channels: 4, latentChannels: 3, nonlinearity: "gdn",
                                  trainFolders: [folder + "/photos"], testFolders: [folder + "/photos"], threads: 2)
        let photos = try PhotoCrops(folders: [folder + "/photos"], minimumSide: 16)
        return try CodecTrainingRun(state: state, parameters: nil, optimizers: nil, train: photos, test: photos)
    }

    func testResumedRunEqualsUninterruptedRun() throws {
        let straight = try makeRun(steps: 6)
        XCTAssertTrue(try straight.run(statePath: folder + "/a.h5", testEvery: 3, saveEvery: 0, shouldStop: { false }, onEvent: { _ in }))

        let first = try makeRun(steps: 6)
        var taken = 0
        let done = try first.run(statePath: folder + "/b.h5", testEvery: 3, saveEvery: 1e9,
                                 shouldStop: { taken += 1; return taken > 4 }, onEvent: { _ in })
        XCTAssertFalse(done)
        XCTAssertEqual(first.state.stepsDone, 4)
        let (state, parameters, optimizers) = try CodecTrainingRun.read(from: folder + "/b.h5")
        XCTAssertEqual(state.stepsDone, 4)
        let photos = try PhotoCrops(folders: [folder + "/photos"], minimumSide: 16)
        let resumed = try CodecTrainingRun(state: state, parameters: parameters, optimizers: optimizers, train: photos, test: photos)
        XCTAssertTrue(try resumed.run(statePath: folder + "/b.h5", testEvery: 3, saveEvery: 1e9, shouldStop: { false }, onEvent: { _ in }))

        let a = straight.trainer.model.namedParameters, b = resumed.trainer.model.namedParameters
        XCTAssertEqual(a.map(\.name), b.map(\.name))
        for (x, y) in zip(a, b) { XCTAssertEqual(x.tensor.scalars, y.tensor.scalars, x.name) }
        XCTAssertEqual(straight.trainer.optimizer.state, resumed.trainer.optimizer.state)
        XCTAssertEqual(straight.state.tests.map(\.bitsPerPixel), resumed.state.tests.map(\.bitsPerPixel))
        XCTAssertEqual(straight.state.tests.count, 2)
    }

    func testStateFromAnotherFormatIsRefused() throws {
        try writePNG(path: folder + "/bad.h5", width: 2, height: 2, channels: 1, pixels: [0, 1, 2, 3])
        XCTAssertThrowsError(try CodecTrainingRun.read(from: folder + "/bad.h5")) { error in
            XCTAssertTrue("\(error)".contains("bad.h5"), "\(error)")
        }
    }

    func testCheckpointExportKeepsTheTransformsAndTables() throws {
        let run = try makeRun(steps: 2)
        _ = try run.run(statePath: folder + "/a.h5", testEvery: 0, saveEvery: 1e9, shouldStop: { false }, onEvent: { _ in })
        let checkpoint = try run.trainer.model.checkpoint(lambda: 0.01)
        XCTAssertEqual(checkpoint.task, .imageCodec)
        XCTAssertEqual(checkpoint.entropyTables?.tables.count, 3)
        XCTAssertEqual(checkpoint.entropyTables?.medians, run.trainer.model.bottleneck.medians)
        let model = run.trainer.model
        let expected = (model.analysis.layers + model.synthesis.layers).flatMap(\.parameters)
        XCTAssertEqual(checkpoint.parameters.map(\.tensor.scalars), expected.map(\.scalars))
        // --init-from a checkpoint: the same parameters, names and order as the model's own.
        let back = try TrainableCodec.parameters(of: checkpoint, for: model.architecture, file: "c.h5")
        XCTAssertEqual(back.map(\.name), model.namedParameters.map(\.name))
        XCTAssertEqual(back.map(\.tensor.scalars), model.namedParameters.map(\.tensor.scalars))
        let other = CodecArchitecture(channels: 4, latentChannels: 3, nonlinearity: .activation(try .member("relu")))
        XCTAssertThrowsError(try TrainableCodec.parameters(of: checkpoint, for: other, file: "c.h5"))
    }
}

private func NSTemporaryDirectoryPath() -> String {
    if let t = getenv("TMPDIR") { return String(cString: t) }
    return "/tmp"
}
