import FlexCodecTraining
import FlexRuntime
import FlexTraining
import Foundation
import Testing

/// The learned codec from the command line: quality levels found by the model search, --quality,
/// --target-bpp, --max-bytes, .flexz version 2 decoded by fingerprint, and the refusals. The models are tiny
/// untrained codecs made here (N = 4, M = 3): level 2 is level 1 with its last analysis layer scaled up and shifted, so its
/// latents are larger and its files bigger (the tables are the same).
@Suite("flexctl compress / decompress with the learned codec", .serialized)
struct LearnedCodecProcessTests {
    static let repo = CodecProcessTests.repo
    static let photo = repo + "/samples/images/chelsea-96.png"

    /// A folder with codec-q1.h5 and codec-q2.h5.
    static func ladder(_ dir: TempDir) throws -> String {
        let folder = dir.file("models")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let model = try TrainableCodec(architecture: CodecArchitecture(channels: 4, latentChannels: 3, nonlinearity: .gdn), crop: 16, seed: 1)
        _ = try model.checkpoint(lambda: 0.001).write(to: folder + "/codec-q1.h5")
        let last = model.analysis.layers[6]
        last.parameters[0].scalars = last.parameters[0].scalars.map { $0 * 60 }
        last.parameters[1].scalars = [40, -50, 30]  // beyond the tables: escapes
        _ = try model.checkpoint(lambda: 0.01).write(to: folder + "/codec-q2.h5")
        return folder
    }

    static func size(_ path: String) -> Int { CodecProcessTests.size(path) }

    @Test("quality levels, reports and decoding by fingerprint")
    func qualityLevels() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let env = ["FLEXCTL_MODEL_PATH": try Self.ladder(dir)]
        let q1 = try runFlexctl(["compress", Self.photo, "--quality", "1", "-o", dir.file("q1.flexz"), "--json"], environment: env, directory: dir.path)
        #expect(q1.status == 0, "\(q1.stderr)")
        #expect(q1.stdout.contains("\"codec\"") && q1.stdout.contains("\"learned\"") && q1.stdout.contains("\"quality\""), "\(q1.stdout)")
        let q2 = try runFlexctl(["compress", Self.photo, "--quality", "2", "-o", dir.file("q2.flexz")], environment: env, directory: dir.path)
        #expect(q2.status == 0, "\(q2.stderr)")
        #expect(Self.size(dir.file("q1.flexz")) < Self.size(dir.file("q2.flexz")))
        // The default is the second highest level: 1 of 2.
        let d = try runFlexctl(["compress", Self.photo, "-o", dir.file("d.flexz")], environment: env, directory: dir.path)
        #expect(d.status == 0)
        #expect(try Data(contentsOf: URL(fileURLWithPath: dir.file("d.flexz"))) == Data(contentsOf: URL(fileURLWithPath: dir.file("q1.flexz"))))
        // Decoded without --model: the level is found by the fingerprint the file records.
        let x = try runFlexctl(["decompress", dir.file("q2.flexz"), "-o", dir.file("q2.png"), "--report"], environment: env, directory: dir.path)
        #expect(x.status == 0, "\(x.stderr)")
        #expect(x.stdout.contains("codec-q2.h5"), "\(x.stdout)")
        #expect(Self.size(dir.file("q2.png")) > 0)
        // A level that does not exist.
        let bad = try runFlexctl(["compress", Self.photo, "--quality", "3", "-o", dir.file("q3.flexz")], environment: env, directory: dir.path)
        #expect(bad.status == 1 && bad.stderr.contains("1…2"), "\(bad.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir.file("q3.flexz")))
    }

    @Test("--max-bytes and --target-bpp pick the highest level that fits")
    func sizeTargets() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let env = ["FLEXCTL_MODEL_PATH": try Self.ladder(dir)]
        for q in ["1", "2"] {
            #expect(try runFlexctl(["compress", Self.photo, "--quality", q, "-o", dir.file("q\(q).flexz")], environment: env).status == 0)
        }
        let s1 = Self.size(dir.file("q1.flexz")), s2 = Self.size(dir.file("q2.flexz"))
        try #require(s1 + 8 < s2, "the levels must differ in size for this test to mean anything")
        let between = try runFlexctl(["compress", Self.photo, "--max-bytes", String((s1 + s2) / 2), "-o", dir.file("m.flexz")], environment: env)
        #expect(between.status == 0, "\(between.stderr)")
        #expect(Self.size(dir.file("m.flexz")) == s1)
        let all = try runFlexctl(["compress", Self.photo, "--max-bytes", String(s2), "-o", dir.file("a.flexz")], environment: env)
        #expect(all.status == 0 && Self.size(dir.file("a.flexz")) == s2)
        let none = try runFlexctl(["compress", Self.photo, "--max-bytes", String(s1 - 1), "-o", dir.file("n.flexz")], environment: env)
        #expect(none.status == 1 && none.stderr.contains("does not fit") && none.stderr.contains("\(s1) bytes"), "\(none.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir.file("n.flexz")))
        let pixels = 96.0 * 96.0
        let bpp = try runFlexctl(["compress", Self.photo, "--target-bpp", String(Double(s1 * 8) / pixels + 1e-6), "-o", dir.file("t.flexz")], environment: env)
        #expect(bpp.status == 0 && Self.size(dir.file("t.flexz")) == s1, "\(bpp.stderr)")
        let tiny = try runFlexctl(["compress", Self.photo, "--target-bpp", "0.0001", "-o", dir.file("u.flexz")], environment: env)
        #expect(tiny.status == 0 && tiny.stderr.contains("lowest") && Self.size(dir.file("u.flexz")) == s1, "\(tiny.stderr)")
    }

    @Test("options that do not go together are usage errors; versions and models are matched")
    func refusals() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let folder = try Self.ladder(dir)
        let env = ["FLEXCTL_MODEL_PATH": folder]
        for args in [["--quality", "1", "--max-bytes", "100"], ["--model", folder + "/codec-q1.h5", "--quality", "1"], ["--bits", "6"],
                     ["--target-bpp", "-1"], ["--quality", "0"]] {
            let r = try runFlexctl(["compress", Self.photo, "-o", dir.file("x.flexz")] + args, environment: env)
            #expect(r.status == 64, "\(args): \(r.stderr)")
        }
        // --bits with a learned --model names the model.
        let b = try runFlexctl(["compress", Self.photo, "--model", folder + "/codec-q1.h5", "--bits", "6", "-o", dir.file("x.flexz")])
        #expect(b.status == 1 && b.stderr.contains("learned codec"), "\(b.stderr)")
        // A version 2 file with an auto-encoder as --model.
        #expect(try runFlexctl(["compress", Self.photo, "--model", folder + "/codec-q1.h5", "-o", dir.file("v2.flexz")]).status == 0)
        let wrong = try runFlexctl(["decompress", dir.file("v2.flexz"), "--model", CodecProcessTests.cae3, "-o", dir.file("v2.png")])
        #expect(wrong.status == 1 && wrong.stderr.contains("sha256:"), "\(wrong.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir.file("v2.png")))
        // No levels anywhere.
        try FileManager.default.createDirectory(atPath: dir.file("elsewhere"), withIntermediateDirectories: true)
        let none = try runFlexctl(["compress", Self.photo, "-o", dir.file("y.flexz")], environment: ["FLEXCTL_MODEL_PATH": dir.file("empty")],
                                  directory: dir.file("elsewhere"))
        #expect(none.status == 1 && none.stderr.contains("codec-q1.h5"), "\(none.stderr)")
    }

    @Test("a gray photo costs no more than the same photo as RGB, and decodes as gray")
    func grayPhoto() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let env = ["FLEXCTL_MODEL_PATH": try Self.ladder(dir)]
        let gray = CodecProcessTests.repo + "/samples/images/fashion-mnist-t10k-0.png"
        // The same pixels as RGB: decode the gray sample, replicate, write a PPM.
        let g = try runFlexctl(["compress", gray, "--quality", "2", "-o", dir.file("g.flexz")], environment: env)
        #expect(g.status == 0, "\(g.stderr)")
        let pgm = try runFlexctl(["decompress", dir.file("g.flexz"), "-o", dir.file("g.pgm")], environment: env)
        #expect(pgm.status == 0)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: dir.file("g.pgm")))
        #expect(bytes.starts(with: Array("P5\n28 28\n255\n".utf8)))
        let pixels = Array(bytes.suffix(28 * 28))
        var ppm = Array("P6\n28 28\n255\n".utf8)
        for p in pixels { ppm += [p, p, p] }
        try Data(ppm).write(to: URL(fileURLWithPath: dir.file("rgb.ppm")))
        var gp = Array("P5\n28 28\n255\n".utf8)
        gp += pixels
        try Data(gp).write(to: URL(fileURLWithPath: dir.file("gray.pgm")))
        #expect(try runFlexctl(["compress", dir.file("gray.pgm"), "--quality", "2", "-o", dir.file("a.flexz")], environment: env).status == 0)
        #expect(try runFlexctl(["compress", dir.file("rgb.ppm"), "--quality", "2", "-o", dir.file("b.flexz")], environment: env).status == 0)
        #expect(Self.size(dir.file("a.flexz")) <= Self.size(dir.file("b.flexz")))
    }
}
