import FlexCodec
import FlexRuntime
import Foundation
import Testing

/// The shipped learned codec's quality levels (models/codec-q*.h5): each loads as a learned codec, and on the
/// repository's sample photo files get larger and reconstructions better from one level to the next; every
/// level decodes its own file exactly as the encoder's reference decode (a round trip through the bytes).
@Suite struct ShippedCodecTests {
    static let models = ShippedModelTests.models
    static let photo = ShippedModelTests.repo + "/samples/images/chelsea-96.png"

    static func levels() throws -> [String] {
        let files = try FileManager.default.contentsOfDirectory(atPath: models)
        return (1...16).map { "codec-q\($0).h5" }.filter { files.contains($0) }
    }

    static func psnr(_ a: RasterImage, _ b: RasterImage) -> Double {
        var se = 0.0
        for (x, y) in zip(a.pixels, b.pixels) { let d = Double(x) - Double(y); se += d * d }
        return 10 * log10(255 * 255 / max(se / Double(a.pixels.count), 1e-12))
    }

    @Test func qualityLevelsAreOrderedAndRoundTrip() throws {
        let levels = try Self.levels()
        #expect(levels.count >= 4, "the issue asks for at least 4 quality levels; found \(levels)")
        let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: Self.photo)))
        let image = try ImageFile.decode(bytes, name: Self.photo)
        var last: (size: Int, psnr: Double)?
        for name in levels {
            let checkpoint = try Checkpoint.read(from: Self.models + "/" + name)
            let codec = try LearnedCodec(checkpoint: checkpoint, file: name)
            let e = try codec.encode(image, name: Self.photo, threads: 2)
            let decoded = try codec.decompress(e.bytes, name: name, threads: 1)
            #expect(decoded.width == image.width && decoded.height == image.height && decoded.channels == 3)
            let p = Self.psnr(decoded, e.reference)
            if let last {
                #expect(e.bytes.count > last.size, "\(name): \(e.bytes.count) bytes, the level below \(last.size)")
                #expect(p > last.psnr, "\(name): \(p) dB, the level below \(last.psnr) dB")
            }
            last = (e.bytes.count, p)
        }
    }
}
