import FlexRuntime
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `decompress` without `--model`: the search through ./models and FLEXCTL_MODEL_PATH.
@Suite("decompress: the model search skips what it cannot load, and says so", .serialized)
struct ModelSearchTests {
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path
    static let cae2 = repo + "/models/cae2-p-e2-relu-fashion-mnist.h5"
    static let digit = repo + "/samples/images/fashion-mnist-t10k-0.png"

    /// Runs flexctl, killing it after `seconds` (a search that opens a FIFO would block forever).
    static func run(_ arguments: [String], environment: [String: String] = [:], directory: String,
                    seconds: Double = 60) throws -> RunResult? {
        let p = try FlexctlProcess(arguments, environment: environment, directory: directory)
        let deadline = Date().addingTimeInterval(seconds)
        while p.process.isRunning, Date() < deadline { usleep(20_000) }
        if p.process.isRunning {
            kill(p.process.processIdentifier, SIGKILL)
            _ = try p.wait()
            return nil
        }
        return try p.wait()
    }

    /// A copy of the CAE2 checkpoint with one weight changed in place: the `fingerprint` attribute still names
    /// the original weights, which the reader recomputes and finds different.
    static func damagedCopy(to path: String) throws {
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: cae2)))
        let checkpoint = try Checkpoint.read(from: cae2)
        let weight = try #require(checkpoint.parameters.first { $0.name == "layers.3.weight" }).tensor
        let needle = Array(weight.scalars.prefix(4)).withUnsafeBytes { Array($0) }
        // Stored as plain float32 today; should a future format store it otherwise, a byte in the middle of the
        // file is damaged instead (still a candidate that fails to load).
        let at = (0...(bytes.count - needle.count)).first { bytes[$0..<($0 + needle.count)].elementsEqual(needle) }
            ?? bytes.count / 2
        bytes[at + 5] ^= 0x40
        try Data(bytes).write(to: URL(fileURLWithPath: path))
    }

    /// A .flexz file made with the CAE2 model.
    static func compressed(in dir: TempDir) throws -> String {
        let out = dir.file("d.flexz")
        let c = try runFlexctl(["compress", "image", digit, "--model", cae2, "-o", out])
        try #require(c.status == 0, "\(c.stderr)")
        return out
    }

    @Test("a FIFO, a folder and a damaged copy with the right fingerprint before the right model: skipped with notes, the model found")
    func skipsWhatItCannotLoad() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let flexz = try Self.compressed(in: dir)
        let m = dir.file("m")
        try FileManager.default.createDirectory(atPath: m + "/d.h5", withIntermediateDirectories: true)
        try Self.damagedCopy(to: m + "/a.h5")
        try FileManager.default.createSymbolicLink(atPath: m + "/b.h5", withDestinationPath: m + "/missing.h5")
        try Data("not a checkpoint\n".utf8).write(to: URL(fileURLWithPath: m + "/c.h5"))
        try #require(mkfifo(m + "/e.h5", 0o600) == 0)
        try FileManager.default.copyItem(atPath: Self.cae2, toPath: m + "/f.h5")
        let r = try #require(try Self.run(["decompress", flexz, "-o", dir.file("d.png")],
                                          environment: ["FLEXCTL_MODEL_PATH": m], directory: dir.path),
                             "decompress did not finish: the search blocked")
        #expect(r.status == 0, "\(r.stderr)")
        #expect(FileManager.default.fileExists(atPath: dir.file("d.png")))
        // One note per skipped file, in sorted order, each naming the file and the reason.
        let notes = r.stderr.split(separator: "\n").map(String.init)
        #expect(notes.count == 5, "\(r.stderr)")
        #expect(notes.first?.hasPrefix("note: skipping \(m)/a.h5: ") == true, "\(r.stderr)")
        #expect(notes.dropFirst(1).first == "note: skipping \(m)/b.h5: a broken symbolic link", "\(r.stderr)")
        #expect(notes.dropFirst(2).first?.hasPrefix("note: skipping \(m)/c.h5: ") == true, "\(r.stderr)")
        #expect(notes.dropFirst(3).first == "note: skipping \(m)/d.h5: is a folder", "\(r.stderr)")
        #expect(notes.dropFirst(4).first == "note: skipping \(m)/e.h5: is a FIFO", "\(r.stderr)")

        // Without the valid model: the same notes, then the not-found message with the count, exit 1, no output.
        try FileManager.default.removeItem(atPath: m + "/f.h5")
        let none = try #require(try Self.run(["decompress", flexz, "-o", dir.file("e.png")],
                                             environment: ["FLEXCTL_MODEL_PATH": m], directory: dir.path),
                                "decompress did not finish: the search blocked")
        #expect(none.status == 1, "\(none.stderr)")
        #expect(none.stderr.contains("note: skipping \(m)/e.h5: is a FIFO"), "\(none.stderr)")
        #expect(none.stderr.contains("no checkpoint with that fingerprint in \(m), models, "), "\(none.stderr)")
        #expect(none.stderr.contains("/share/flexctl/models (5 files skipped, see the notes above); give it with --model"),
                "\(none.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir.file("e.png")))
    }

    @Test("only damaged candidates: exit 1, the notes and the not-found message, no output")
    func onlyGarbage() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let flexz = try Self.compressed(in: dir)
        let models = dir.file("models")
        try FileManager.default.createDirectory(atPath: models, withIntermediateDirectories: true)
        try Self.damagedCopy(to: models + "/a.h5")
        try Data([0x89, 0x48, 0x44, 0x46, 0x0D, 0x0A, 0x1A, 0x0A] + [UInt8](repeating: 0xFF, count: 600))
            .write(to: URL(fileURLWithPath: models + "/b.h5"))
        let r = try #require(try Self.run(["decompress", flexz, "-o", dir.file("d.png")], directory: dir.path))
        #expect(r.status == 1)
        #expect(r.stdout.isEmpty)
        let lines = r.stderr.split(separator: "\n").map(String.init)
        #expect(lines.count == 3, "\(r.stderr)")
        #expect(lines.first?.hasPrefix("note: skipping models/a.h5: ") == true, "\(r.stderr)")
        #expect(lines.dropFirst().first?.hasPrefix("note: skipping models/b.h5: ") == true, "\(r.stderr)")
        #expect(lines.last?.hasPrefix("Error: \(flexz) needs the model sha256:") == true, "\(r.stderr)")
        // The folders searched: ./models, then the installed folder next to the binary (no FLEXCTL_MODEL_PATH here).
        #expect(lines.last?.contains("in models, /") == true, "\(r.stderr)")
        #expect(lines.last?.contains("/share/flexctl/models (2 files skipped, see the notes above); give it with --model") == true, "\(r.stderr)")
        // libhdf5's own error stack never reaches the user.
        #expect(!r.stderr.contains("HDF5-DIAG") && !r.stderr.contains("H5F"), "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir.file("d.png")))
    }

    @Test("a folder job with two models loads each candidate once and notes each skipped file once")
    func folderJobNotesOnce() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let cae3 = Self.repo + "/models/cae3-p-e2-id-photos.h5"
        try FileManager.default.createDirectory(atPath: dir.file("in"), withIntermediateDirectories: true)
        for (i, (model, image)) in [(Self.cae2, Self.digit), (cae3, Self.repo + "/samples/images/chelsea-96.png"),
                                    (Self.cae2, Self.digit)].enumerated() {
            let c = try runFlexctl(["compress", "image", image, "--model", model, "-o", dir.file("in/f\(i).flexz")])
            try #require(c.status == 0, "\(c.stderr)")
        }
        let models = dir.file("models")
        try FileManager.default.createDirectory(atPath: models, withIntermediateDirectories: true)
        try Data("junk".utf8).write(to: URL(fileURLWithPath: models + "/0-junk.h5"))
        try FileManager.default.copyItem(atPath: Self.cae2, toPath: models + "/1.h5")
        try FileManager.default.copyItem(atPath: cae3, toPath: models + "/2.h5")
        let r = try #require(try Self.run(["decompress", dir.file("in"), "-o", dir.file("out")], directory: dir.path))
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("decompressed 3 of 3 files"), "\(r.stdout)")
        #expect(r.stderr.components(separatedBy: "note: skipping models/0-junk.h5").count == 2, "\(r.stderr)")
    }
}
