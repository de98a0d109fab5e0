import FlexRuntime
import Foundation
import Testing

/// The checkpoints written by h5py for the interop tests (Tests/FlexCheckpointTests/Interop), with the
/// values an independent numpy reference computed from them (interop-expected.json).
private enum Interop {
    static var folder: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../FlexCheckpointTests/Interop").standardized
    }

    static func path(_ name: String) -> String { folder.appendingPathComponent(name).path }

    /// The expected-values entry for `file`.
    static func expected(_ file: String) throws -> [String: Any] {
        let data = try Data(contentsOf: folder.appendingPathComponent("interop-expected.json"))
        let root = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let all = try #require(root["checkpoints"] as? [[String: Any]])
        return try #require(all.first { $0["file"] as? String == file })
    }

    static func tensor(_ object: Any?) throws -> Tensor {
        let o = try #require(object as? [String: Any])
        let shape = try #require(o["shape"] as? [Int])
        let data = try #require(o["data"] as? [Double])
        return Tensor(shape: shape, scalars: data.map(Float.init))
    }
}

private func maxDifference(_ a: Tensor, _ b: Tensor) -> Float {
    zip(a.scalars, b.scalars).map { abs($0 - $1) }.max() ?? 0
}

@Suite("inference: sessions on checkpoints read from disk (h5py-written interop files)")
struct InferenceFileTests {
    @Test("CAE2: encode gives the reference code, decode(encode) the reference output, to 1e-5")
    func imageCodec() throws {
        let expected = try Interop.expected("cae2-pe2relu.h5")
        let session = try ImageCodecSession(path: Interop.path("cae2-pe2relu.h5"), threads: 2)
        #expect(session.codeShape == [8, 2, 2])
        #expect(session.fingerprint == expected["fingerprint"] as? String)
        let x = try Interop.tensor(expected["input"])
        let code = try Interop.tensor((expected["intermediate"] as? [String: Any])?["output"])
        let codes = try session.encode(x)
        #expect(codes.shape == code.shape)
        #expect(maxDifference(codes, code) < 1e-5)
        let y = try session.decode(codes)
        #expect(maxDifference(y, try Interop.tensor(expected["output"])) < 1e-5)
        // encode∘decode is the model's forward pass, exactly.
        #expect(y == (try Checkpoint.read(from: Interop.path("cae2-pe2relu.h5")).makeModel().forward(x)))
        #expect(throws: InferenceError.self) { _ = try ForecastSession(path: Interop.path("cae2-pe2relu.h5")) }
    }

    @Test("LSTM forecaster: predict gives the reference output; k > 1 names the features it does not predict")
    func forecaster() throws {
        let expected = try Interop.expected("lstm-psigramp.h5")
        let session = try ForecastSession(path: Interop.path("lstm-psigramp.h5"), threads: 2)
        let x = try Interop.tensor(expected["input"])
        let y = try session.predict(x)
        #expect(maxDifference(y, try Interop.tensor(expected["output"])) < 1e-5)
        let rows = (0..<30).map { t in (0..<4).map { Double(x[0, t, $0]) } }
        #expect(try session.forecast(window: rows, steps: 1) == [[Double(y[0, 0])]])
        do {
            _ = try session.forecast(window: rows, steps: 3)
            Issue.record("expected an error")
        } catch let error as InferenceError {
            #expect(error.message.contains("'FTSE 100', 'KOSPI', 'RTSI'"))
        }
        #expect(throws: InferenceError.self) { _ = try ImageCodecSession(path: Interop.path("lstm-psigramp.h5")) }
    }

    @Test("a file the reader refuses: the reader's CheckpointError comes through unchanged")
    func badFile() throws {
        #expect(throws: CheckpointError.self) { _ = try ImageCodecSession(path: Interop.path("missing.h5")) }
        #expect(throws: CheckpointError.self) { _ = try ForecastSession(path: Interop.path("README.md")) }
    }
}
