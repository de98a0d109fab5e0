import FlexRuntime
import Foundation
import Testing

@Suite("flexctl compress image / decompress", .serialized)
struct CodecProcessTests {
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path
    static let cae2 = repo + "/models/cae2-p-e2-relu-fashion-mnist.h5"
    static let cae3 = repo + "/models/cae3-p-e2-id-photos.h5"
    static let lstm = repo + "/models/lstm-p-sig-ramp-4-indices.h5"
    static let digit = repo + "/samples/images/fashion-mnist-t10k-0.png"
    static let photo = repo + "/samples/images/chelsea-96.png"

    static func size(_ path: String) -> Int {
        ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int) ?? -1
    }

    @Test("the README's main job: compress a sample with a shipped model, --report, decompress by fingerprint lookup")
    func mainJob() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let c = try runFlexctl(["compress", "image", Self.digit, "--model", Self.cae2, "--output", dir.file("d.flexz"), "--report"])
        #expect(c.status == 0, "\(c.stderr)")
        for field in ["input", "output", "bits/pixel", "PSNR", "MSE", "time", "398 bytes"] { #expect(c.stdout.contains(field), "\(field)") }
        // Without --model: found in ./models by the fingerprint the file records.
        let d = try runFlexctl(["decompress", dir.file("d.flexz"), "--output", dir.file("d.png")], directory: Self.repo)
        #expect(d.status == 0, "\(d.stderr)")
        #expect(Self.size(dir.file("d.png")) > 0)
        // ... or in a folder named by FLEXCTL_MODEL_PATH.
        try FileManager.default.createDirectory(atPath: dir.file("m"), withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: Self.cae2, toPath: dir.file("m/any-name.h5"))
        let e = try runFlexctl(["decompress", dir.file("d.flexz"), "-o", dir.file("e.pgm")],
                               environment: ["FLEXCTL_MODEL_PATH": "/nonexistent:" + dir.file("m")], directory: dir.path)
        #expect(e.status == 0, "\(e.stderr)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: dir.file("e.pgm"))).starts(with: Array("P5\n28 28\n255\n".utf8)))
        // Not found anywhere: the message names the fingerprint and where it looked.
        let f = try runFlexctl(["decompress", dir.file("d.flexz"), "-o", dir.file("f.png")], directory: dir.path)
        #expect(f.status == 1 && f.stderr.contains("sha256:") && f.stderr.contains("FLEXCTL_MODEL_PATH"))
        #expect(!FileManager.default.fileExists(atPath: dir.file("f.png")))
    }

    @Test("stdin and stdout: compress image - | decompress - gives the same image as files do")
    func pipes() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        #expect(try runFlexctl(["compress", "image", Self.photo, "--model", Self.cae3, "-o", dir.file("p.flexz")]).status == 0)
        #expect(try runFlexctl(["decompress", dir.file("p.flexz"), "--model", Self.cae3, "-o", dir.file("p.png")]).status == 0)
        let shell = "'\(flexctlBinary()!.path)' compress image - --model '\(Self.cae3)' -o - < '\(Self.photo)' > '\(dir.file("s.flexz"))' && '\(flexctlBinary()!.path)' decompress - --model '\(Self.cae3)' -o - < '\(dir.file("s.flexz"))' > '\(dir.file("s.png"))'"
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-c", shell]
        try p.run()
        p.waitUntilExit()
        #expect(p.terminationStatus == 0)
        #expect(try Data(contentsOf: URL(fileURLWithPath: dir.file("s.flexz"))) == Data(contentsOf: URL(fileURLWithPath: dir.file("p.flexz"))))
        #expect(try Data(contentsOf: URL(fileURLWithPath: dir.file("s.png"))) == Data(contentsOf: URL(fileURLWithPath: dir.file("p.png"))))
    }

    /// A smooth 16-bit PNG with gAMA, cHRM and sRGB chunks (as ImageMagick and GIMP write them): --report's
    /// MSE and PSNR are the decoded image against the samples stored in the file (FlexCodecTests' fixture and
    /// the 8-bit values its script recorded). Reading it through libpng's simplified API, as flexctl once did,
    /// darkened it: the report then said 36.1 dB while the decoded image was 11.8 dB from the file.
    @Test("--report measures against the samples as stored, whatever the PNG's colour chunks say")
    func reportAgainstStoredSamples() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let fixtures = Self.repo + "/Tests/FlexCodecTests/Fixtures"
        let input = fixtures + "/srgb-rgb16-smooth.png"
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: fixtures + "/expected.json")))
        let stored = try #require(((json as? [String: Any])?["srgb-rgb16-smooth.png"] as? [String: Any])?["pixels"] as? [Int])
        let c = try runFlexctl(["compress", "image", input, "--model", Self.cae3, "-o", dir.file("x.flexz"), "--report"])
        #expect(c.status == 0, "\(c.stderr)")
        let d = try runFlexctl(["decompress", dir.file("x.flexz"), "--model", Self.cae3, "-o", dir.file("x.ppm")])
        #expect(d.status == 0, "\(d.stderr)")
        let ppm = [UInt8](try Data(contentsOf: URL(fileURLWithPath: dir.file("x.ppm"))))
        let header = Array("P6\n48 32\n255\n".utf8)
        #expect(ppm.starts(with: header) && ppm.count == header.count + stored.count)
        let decoded = ppm.dropFirst(header.count)
        let mse = zip(decoded, stored).reduce(0.0) { $0 + pow(Double($1.0) - Double($1.1), 2) } / Double(stored.count)
        let psnr = 10 * log10(255.0 * 255 / mse)
        // "PSNR        12.34 dB   MSE 3.210 (decoded vs input, 8-bit RGB)"
        let line = try #require(c.stdout.split(separator: "\n").first { $0.hasPrefix("PSNR") })
        let words = line.split(separator: " ")
        let reportedPSNR = try #require(Double(words[1])), reportedMSE = try #require(Double(words[4]))
        #expect(abs(reportedPSNR - psnr) < 0.006 && abs(reportedMSE - mse) < 0.0006, "reported \(line); against the stored samples PSNR \(psnr) dB, MSE \(mse)")
        #expect(psnr > 30, "the shipped photo model reconstructs this gradient at ~36.8 dB; \(psnr) dB")
    }

    @Test("a folder of images compresses into a folder and decompresses back")
    func folders() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        try FileManager.default.createDirectory(atPath: dir.file("in"), withIntermediateDirectories: true)
        for i in 0..<5 { try FileManager.default.copyItem(atPath: Self.digit, toPath: dir.file("in/img\(i).png")) }
        try Data("notes".utf8).write(to: URL(fileURLWithPath: dir.file("in/readme.txt")))
        let c = try runFlexctl(["compress", "image", dir.file("in"), "--model", Self.cae2, "-o", dir.file("z")])
        #expect(c.status == 0 && c.stdout.contains("compressed 5 of 5 images"), "\(c.stdout)\(c.stderr)")
        let d = try runFlexctl(["decompress", dir.file("z"), "--model", Self.cae2, "-o", dir.file("out")])
        #expect(d.status == 0 && d.stdout.contains("decompressed 5 of 5"), "\(d.stdout)\(d.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.file("out")).sorted() == (0..<5).map { "img\($0).png" })
        // One bad file in the folder: the others are written, the bad one is named, exit 1.
        try Data("not an image".utf8).write(to: URL(fileURLWithPath: dir.file("in/bad.png")))
        let bad = try runFlexctl(["compress", "image", dir.file("in"), "--model", Self.cae2, "-o", dir.file("z2")])
        #expect(bad.status == 1 && bad.stderr.contains("bad.png") && bad.stdout.contains("compressed 5 of 6"))
    }

    /// JPEG input (libjpeg-turbo): FlexCodecTests' fixtures, made with cjpeg, with djpeg's output beside them.
    @Test("JPEG input: compress photo.jpg, decompress it; folders pick .jpg/.jpeg; CMYK and .jpg outputs refused")
    func jpegInput() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let fixtures = Self.repo + "/Tests/FlexCodecTests/Fixtures"
        try FileManager.default.copyItem(atPath: fixtures + "/jpeg-rgb420.jpg", toPath: dir.file("photo.jpg"))
        let c = try runFlexctl(["compress", dir.file("photo.jpg"), "--model", Self.cae3, "-o", dir.file("x.flexz")])
        #expect(c.status == 0, "\(c.stderr)")
        let d = try runFlexctl(["decompress", dir.file("x.flexz"), "--model", Self.cae3, "-o", dir.file("x.ppm")])
        #expect(d.status == 0, "\(d.stderr)")
        // The reconstruction is measured against the samples djpeg decodes from the JPEG: the codec saw those.
        let header = Array("P6\n61 45\n255\n".utf8)
        let out = [UInt8](try Data(contentsOf: URL(fileURLWithPath: dir.file("x.ppm"))))
        let reference = [UInt8](try Data(contentsOf: URL(fileURLWithPath: fixtures + "/jpeg-rgb420.ppm")))
        #expect(out.starts(with: header) && reference.starts(with: header) && out.count == reference.count)
        let mse = zip(out.dropFirst(header.count), reference.dropFirst(header.count))
            .reduce(0.0) { $0 + pow(Double($1.0) - Double($1.1), 2) } / Double(reference.count - header.count)
        let psnr = 10 * log10(255 * 255 / mse)
        // CAE3 reconstructs photos at about 28 dB (docs/benchmarks.md); a JPEG read wrongly (channels, colour
        // conversion, rows) would be far off.
        #expect(psnr > 25, "PSNR \(psnr) dB")
        // Standard input: recognised by content, the same .flexz.
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-c", "'\(flexctlBinary()!.path)' compress - --model '\(Self.cae3)' -o - < '\(dir.file("photo.jpg"))' > '\(dir.file("s.flexz"))'"]
        try p.run()
        p.waitUntilExit()
        #expect(p.terminationStatus == 0)
        #expect(try Data(contentsOf: URL(fileURLWithPath: dir.file("s.flexz"))) == Data(contentsOf: URL(fileURLWithPath: dir.file("x.flexz"))))

        // A folder job takes .jpg and .jpeg in any case, next to PNG, and leaves other files alone.
        try FileManager.default.createDirectory(atPath: dir.file("in"), withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: fixtures + "/jpeg-rgb420.jpg", toPath: dir.file("in/a.jpg"))
        try FileManager.default.copyItem(atPath: fixtures + "/jpeg-rgb420-progressive.jpg", toPath: dir.file("in/b.JPEG"))
        try FileManager.default.copyItem(atPath: Self.photo, toPath: dir.file("in/c.png"))
        try Data("notes".utf8).write(to: URL(fileURLWithPath: dir.file("in/notes.txt")))
        let f = try runFlexctl(["compress", dir.file("in"), "--model", Self.cae3, "-o", dir.file("z")])
        #expect(f.status == 0 && f.stdout.contains("compressed 3 of 3"), "\(f.stdout)\(f.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.file("z")).sorted() == ["a.flexz", "b.flexz", "c.flexz"])

        // CMYK: refused with what was found and what is expected; nothing written.
        try FileManager.default.copyItem(atPath: fixtures + "/jpeg-cmyk.jpg", toPath: dir.file("cmyk.jpg"))
        let k = try runFlexctl(["compress", dir.file("cmyk.jpg"), "--model", Self.cae3, "-o", dir.file("k.flexz")])
        #expect(k.status == 1 && k.stderr.contains("cmyk.jpg: JPEG with 4 components (CMYK) is not supported; expected gray"), "\(k.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir.file("k.flexz")))
        // JPEG is read, never written.
        let o1 = try runFlexctl(["compress", dir.file("photo.jpg"), "--model", Self.cae3, "-o", dir.file("y.jpg")])
        #expect(o1.status == 64 && o1.stderr.contains("a .jpg name for a .flexz file"), "\(o1.stderr)")
        let o2 = try runFlexctl(["decompress", dir.file("x.flexz"), "--model", Self.cae3, "-o", dir.file("y.jpeg")])
        #expect(o2.status == 64 && o2.stderr.contains("flexctl reads JPEG but does not write it"), "\(o2.stderr)")
    }

    @Test("bad input: a clear message, non-zero exit, nothing written, the input never overwritten")
    func badInput() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        func check(_ args: [String], status: Int32 = 1, _ fragments: [String], sourceLocation: SourceLocation = #_sourceLocation) throws {
            let r = try runFlexctl(args)
            #expect(r.status == status, "\(args): \(r.stderr)", sourceLocation: sourceLocation)
            for f in fragments { #expect(r.stderr.contains(f), "\(args): missing '\(f)' in \(r.stderr)", sourceLocation: sourceLocation) }
            #expect(r.stdout.isEmpty, sourceLocation: sourceLocation)
        }
        try Data("hello".utf8).write(to: URL(fileURLWithPath: dir.file("text.png")))
        try check(["compress", "image", dir.file("text.png"), "--model", Self.cae2, "-o", dir.file("a.flexz")], ["text.png", "not an image"])
        try Data().write(to: URL(fileURLWithPath: dir.file("empty.png")))
        try check(["compress", "image", dir.file("empty.png"), "--model", Self.cae2, "-o", dir.file("a.flexz")], ["empty.png", "empty file"])
        let png = try Data(contentsOf: URL(fileURLWithPath: Self.photo))
        try png.prefix(300).write(to: URL(fileURLWithPath: dir.file("cut.png")))
        try check(["compress", "image", dir.file("cut.png"), "--model", Self.cae3, "-o", dir.file("a.flexz")], ["cut.png"])
        try check(["compress", "image", Self.digit, "--model", Self.lstm, "-o", dir.file("a.flexz")], ["not an image auto-encoder"])
        try check(["compress", "image", Self.digit, "--model", Self.cae2, "--bits", "0"], status: 64, ["--bits"])
        try check(["compress", "image", Self.digit, "--model", Self.cae2, "-o", "/nonexistent/dir/a.flexz"], ["/nonexistent/dir/a.flexz"])
        try check(["compress", "image", dir.file("nope.png"), "--model", Self.cae2, "-o", dir.file("a.flexz")], ["nope.png", "no such file"])
        #expect(!FileManager.default.fileExists(atPath: dir.file("a.flexz")))
        // The input is never overwritten.
        try FileManager.default.copyItem(atPath: Self.digit, toPath: dir.file("same.png"))
        try check(["compress", "image", dir.file("same.png"), "--model", Self.cae2, "-o", dir.file("same.png")], status: 64, [".flexz"])
        try FileManager.default.copyItem(atPath: Self.digit, toPath: dir.file("same.flexz"))
        try check(["compress", "image", dir.file("same.flexz"), "--model", Self.cae2, "-o", dir.file("same.flexz"), "--overwrite"], ["overwrite the input"])
        #expect(try Data(contentsOf: URL(fileURLWithPath: dir.file("same.png"))) == Data(contentsOf: URL(fileURLWithPath: Self.digit)))
        // .flexz problems, and a model with another fingerprint.
        try Data("xyz".utf8).write(to: URL(fileURLWithPath: dir.file("bad.flexz")))
        try check(["decompress", dir.file("bad.flexz"), "--model", Self.cae2, "-o", dir.file("o.png")], ["bad.flexz", "magic"])
        #expect(try runFlexctl(["compress", "image", Self.digit, "--model", Self.cae2, "-o", dir.file("g.flexz")]).status == 0)
        var g = try Data(contentsOf: URL(fileURLWithPath: dir.file("g.flexz")))
        g[g.count - 6] ^= 1
        try g.write(to: URL(fileURLWithPath: dir.file("crc.flexz")))
        try check(["decompress", dir.file("crc.flexz"), "--model", Self.cae2, "-o", dir.file("o.png")], ["crc.flexz", "CRC mismatch"])
        let fp2 = try Checkpoint.read(from: Self.cae2).fingerprint, fp3 = try Checkpoint.read(from: Self.cae3).fingerprint
        try check(["decompress", dir.file("g.flexz"), "--model", Self.cae3, "-o", dir.file("o.png")], [fp2, fp3])
        try check(["decompress", dir.file("g.flexz"), "--model", Self.cae2, "-o", dir.file("o.txt")], status: 64, [".png, .pgm or .ppm"])
        #expect(!FileManager.default.fileExists(atPath: dir.file("o.png")))
    }
}

@Suite("flexctl outputs: never replaced silently, failures reported", .serialized)
struct OutputSafetyTests {
    static func sh(_ command: String) throws -> RunResult {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-c", command + " 2> '\(dir.file("err"))'"]
        try p.run()
        p.waitUntilExit()
        let err = (try? String(contentsOfFile: dir.file("err"), encoding: .utf8)) ?? ""
        return RunResult(status: p.terminationStatus, stdout: "", stderr: err)
    }

    @Test("a full standard output (/dev/full) is an error message and exit 1, not a crash")
    func fullStandardOutput() throws {
        let bin = try #require(flexctlBinary()).path
        for args in ["inspect '\(CodecProcessTests.cae2)'",
                     "compress image '\(CodecProcessTests.digit)' --model '\(CodecProcessTests.cae2)' -o -"] {
            let r = try Self.sh("'\(bin)' \(args) > /dev/full")
            #expect(r.status == 1, "\(args): \(r.stderr)")
            #expect(r.stderr.contains("cannot write to standard output"), "\(args): \(r.stderr)")
        }
    }

    @Test("existing outputs are refused without --overwrite (the default decompress name never replaces the original)")
    func existingOutputs() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        try FileManager.default.copyItem(atPath: CodecProcessTests.digit, toPath: dir.file("keep.png"))
        let original = try Data(contentsOf: URL(fileURLWithPath: dir.file("keep.png")))
        #expect(try runFlexctl(["compress", "image", dir.file("keep.png"), "--model", CodecProcessTests.cae2]).status == 0)
        let again = try runFlexctl(["compress", "image", dir.file("keep.png"), "--model", CodecProcessTests.cae2])
        #expect(again.status == 1 && again.stderr.contains("keep.flexz") && again.stderr.contains("--overwrite"))
        let d = try runFlexctl(["decompress", dir.file("keep.flexz"), "--model", CodecProcessTests.cae2])
        #expect(d.status == 1 && d.stderr.contains("keep.png") && d.stderr.contains("exists"))
        #expect(try Data(contentsOf: URL(fileURLWithPath: dir.file("keep.png"))) == original)
        #expect(try runFlexctl(["decompress", dir.file("keep.flexz"), "--model", CodecProcessTests.cae2, "-o", dir.file("keep.png"), "--overwrite"]).status == 0)
        // A .flexz is not written under an image's name.
        let wrongName = try runFlexctl(["compress", "image", CodecProcessTests.digit, "--model", CodecProcessTests.cae2, "-o", dir.file("x.png")])
        #expect(wrongName.status == 64 && wrongName.stderr.contains(".flexz"))
    }

    @Test("folder jobs refuse name collisions, existing outputs and '-' as the output folder")
    func folderCollisions() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        try FileManager.default.createDirectory(atPath: dir.file("in"), withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: CodecProcessTests.digit, toPath: dir.file("in/a.png"))
        try Data("P5\n28 28\n255\n".utf8 + [UInt8](repeating: 7, count: 784)).write(to: URL(fileURLWithPath: dir.file("in/a.pgm")))
        let r = try runFlexctl(["compress", "image", dir.file("in"), "--model", CodecProcessTests.cae2, "-o", dir.file("z")])
        #expect(r.status == 1 && r.stderr.contains("a.flexz") && r.stderr.contains("a.pgm") && r.stderr.contains("a.png"), "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir.file("z/a.flexz")))
        try FileManager.default.removeItem(atPath: dir.file("in/a.pgm"))
        let dash = try runFlexctl(["compress", "image", dir.file("in"), "--model", CodecProcessTests.cae2, "-o", "-"])
        #expect(dash.status == 64 && dash.stderr.contains("output folder"))
        let none = try runFlexctl(["decompress", dir.file("in"), "--model", CodecProcessTests.cae2])
        #expect(none.status == 64 && none.stderr.contains("give an output folder with --output"))
        #expect(try runFlexctl(["compress", "image", dir.file("in"), "--model", CodecProcessTests.cae2, "-o", dir.file("in")]).status == 0)
        // Decompressing into the folder of the originals would replace a.png: refused.
        let back = try runFlexctl(["decompress", dir.file("in"), "--model", CodecProcessTests.cae2, "-o", dir.file("in")])
        #expect(back.status == 1 && back.stderr.contains("a.png") && back.stderr.contains("exists"))
    }
}
