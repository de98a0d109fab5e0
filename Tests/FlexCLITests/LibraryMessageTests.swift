import Foundation
import Testing

/// CRC-32 (ISO-HDLC, as zlib and .flexz), written out here so the test does not reuse the codec's.
private func crc32(_ bytes: ArraySlice<UInt8>) -> UInt32 {
    var crc: UInt32 = 0xFFFF_FFFF
    for b in bytes {
        crc ^= UInt32(b)
        for _ in 0..<8 { crc = crc & 1 != 0 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
    }
    return ~crc
}

/// What the C libraries say never reaches the user raw: zlib's codes become words naming the file and the
/// place, libhdf5's error stack is never printed.
@Suite("library errors reach the user as one readable message", .serialized)
struct LibraryMessageTests {
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path
    static let cae2 = repo + "/models/cae2-p-e2-relu-fashion-mnist.h5"
    static let digit = repo + "/samples/images/fashion-mnist-t10k-0.png"

    static func expectOneErrorLine(_ r: RunResult, _ fragments: [String], sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(r.status == 1, "\(r.stderr)", sourceLocation: sourceLocation)
        #expect(r.stdout.isEmpty, sourceLocation: sourceLocation)
        let lines = r.stderr.split(separator: "\n")
        #expect(lines.count == 1 && lines[0].hasPrefix("Error: "), "\(r.stderr)", sourceLocation: sourceLocation)
        for f in fragments { #expect(r.stderr.contains(f), "missing '\(f)' in \(r.stderr)", sourceLocation: sourceLocation) }
        for raw in ["zlib:", "error 2", "HDF5-DIAG", "#000:", "H5F"] {
            #expect(!r.stderr.contains(raw), "raw library text '\(raw)' in \(r.stderr)", sourceLocation: sourceLocation)
        }
    }

    @Test("decompress: a .flexz whose zlib stream asks for a preset dictionary (CRC intact)")
    func flexzNeedsDictionary() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let c = try runFlexctl(["compress", "image", Self.digit, "--model", Self.cae2, "-o", dir.file("g.flexz")])
        try #require(c.status == 0, "\(c.stderr)")
        var b = [UInt8](try Data(contentsOf: URL(fileURLWithPath: dir.file("g.flexz"))))
        let h = Int(b[10]) | Int(b[11]) << 8
        // 78 20: a valid zlib header with FDICT set; inflate stops with Z_NEED_DICT, for which zlib has no text.
        b[h + 4] = 0x78
        b[h + 5] = 0x20
        let end = b.count - 4
        let crc = crc32(b[0..<end])
        for i in 0..<4 { b[end + i] = UInt8(crc >> (8 * UInt32(i)) & 0xFF) }
        try Data(b).write(to: URL(fileURLWithPath: dir.file("dict.flexz")))
        let r = try runFlexctl(["decompress", dir.file("dict.flexz"), "--model", Self.cae2, "-o", dir.file("o.png")])
        Self.expectOneErrorLine(r, [dir.file("dict.flexz") + ": payload (byte \(h + 4)): the compressed payload is corrupt",
                                    "preset dictionary"])
        #expect(!FileManager.default.fileExists(atPath: dir.file("o.png")))
    }

    @Test("train cae: a gzip IDX file with a corrupt deflate stream")
    func corruptGzipData() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        // A gzip header, then a deflate block of the reserved type 3.
        try Data([0x1F, 0x8B, 0x08, 0x00, 0, 0, 0, 0, 0x00, 0x03, 0xFF, 0xFF, 0xFF])
            .write(to: URL(fileURLWithPath: dir.file("train-images-idx3-ubyte.gz")))
        let r = try runFlexctl(["train", "cae", "--arch", "cae1", "--data", dir.file("train-images-idx3-ubyte.gz"),
                                "--out", dir.file("run"), "--no-progress"])
        Self.expectOneErrorLine(r, ["train-images-idx3-ubyte.gz", "compressed byte", "invalid block type"])
        #expect(!FileManager.default.fileExists(atPath: dir.file("run")))
    }

    @Test("inspect: damaged HDF5 files give the reader's message, never libhdf5's error stack",
          arguments: ["garbage after the signature", "truncated", "one byte of the superblock changed"])
    func damagedHDF5(kind: String) throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let original = [UInt8](try Data(contentsOf: URL(fileURLWithPath: Self.cae2)))
        var b: [UInt8]
        switch kind {
        case "garbage after the signature":
            var rng = SystemRandomNumberGenerator()
            b = Array(original.prefix(8)) + (0..<4000).map { _ in UInt8.random(in: 0...255, using: &rng) }
        case "truncated": b = Array(original.prefix(original.count / 3))
        default:
            b = original
            b[9] ^= 0x7F  // free-space version / superblock fields
        }
        try Data(b).write(to: URL(fileURLWithPath: dir.file("bad.h5")))
        for json in [false, true] {
            let r = try runFlexctl(["inspect", dir.file("bad.h5")] + (json ? ["--json"] : []))
            Self.expectOneErrorLine(r, [dir.file("bad.h5")])
        }
    }
}
