import FlexCLI
import FlexRuntime
import FlexTraining
import Foundation
import Testing

/// Runs `flexctl ARGS`, capturing both streams.
private func flexctl(_ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
    let r = try runFlexctl(arguments)
    return (r.status, r.stdout, r.stderr)
}

/// The reader's report for `path` (which must be refused).
private func readerReport(_ path: String) throws -> String {
    do {
        _ = try Checkpoint.read(from: path)
    } catch {
        return error.description
    }
    Issue.record("the reader accepted \(path)")
    return ""
}

@Suite("inspect: files and the binary", .serialized)
struct InspectProcessTests {
    @Test("a checkpoint written by the writer: the binary prints the same text as the report; --json parses")
    func writtenCheckpoint() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let path = dir.file("cae1.h5")
        let checkpoint = try trainedCAECheckpoint()
        try checkpoint.write(to: path)
        let read = try Checkpoint.read(from: path)
        #expect(read.fingerprint == checkpoint.fingerprint)
        #expect(read.provenance == checkpoint.provenance)
        let r = try flexctl(["inspect", path])
        #expect(r.status == 0)
        #expect(r.stderr.isEmpty)
        #expect(r.stdout == (try InspectCommand.report(read, file: path).text()))
        // The snapshot (made from the in-memory checkpoint) also holds for the file read back.
        try Snapshot.check(try InspectCommand.report(read, file: "model.h5").text(), named: "inspect-cae1.txt")
        let j = try flexctl(["inspect", path, "--json"])
        #expect(j.status == 0)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(j.stdout.utf8)) as? [String: Any])
        #expect(object["fingerprint"] as? String == checkpoint.fingerprint)
        #expect(object["file"] as? String == path)
    }

    @Test("bad files: exit 1, the reader's full report on stderr, nothing on stdout",
          arguments: ["not-hdf5", "truncated", "missing"])
    func badFile(_ kind: String) throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let path = dir.file("\(kind).h5")
        switch kind {
        case "not-hdf5":
            try Data("this is not a checkpoint\n".utf8).write(to: URL(fileURLWithPath: path))
        case "truncated":
            try trainedCAECheckpoint().write(to: path)
            let data = try Data(contentsOf: URL(fileURLWithPath: path))
            try data.prefix(data.count / 2).write(to: URL(fileURLWithPath: path))
        default:
            break
        }
        let report = try readerReport(path)
        #expect(!report.isEmpty)
        for json in [false, true] {
            let r = try flexctl(["inspect", path] + (json ? ["--json"] : []))
            #expect(r.status == 1)
            #expect(r.stdout.isEmpty)
            #expect(r.stderr.contains(report), "stderr: \(r.stderr)")
            #expect(r.stderr.hasPrefix("Error: "))
        }
    }

    @Test("sessions on a checkpoint read from disk: encode∘decode is the model's forward; wrong task refused")
    func sessionsFromDisk() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let checkpoint = try trainedCAECheckpoint()
        try checkpoint.write(to: dir.file("cae1.h5"))
        try forecasterCheckpoint().write(to: dir.file("lstm.h5"))
        let session = try ImageCodecSession(path: dir.file("cae1.h5"), threads: 2)
        #expect(session.codeShape == [16, 5, 5])
        var rng = SplitMix64(seed: 3)
        let x = Tensor(shape: [3, 1, 28, 28], scalars: (0..<3 * 784).map { _ in rng.uniform(-1, 1) })
        #expect(try session.decode(session.encode(x)) == checkpoint.makeModel().forward(x))
        #expect(throws: InferenceError.self) { _ = try ImageCodecSession(path: dir.file("lstm.h5")) }
        let forecaster = try ForecastSession(path: dir.file("lstm.h5"))
        #expect(try forecaster.forecast(window: Array(repeating: [0.1, -0.2], count: 5), steps: 1).count == 1)
        #expect(throws: InferenceError.self) { _ = try ForecastSession(path: dir.file("cae1.h5")) }
        #expect(throws: CheckpointError.self) { _ = try ImageCodecSession(path: dir.file("missing.h5")) }
    }
}
