@testable import FlexCodec
import FlexRuntime
import Foundation
import Testing

enum Models {
    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("models").path
    static let cae2Path = folder + "/cae2-p-e2-relu-fashion-mnist.h5"
    static let cae3Path = folder + "/cae3-p-e2-id-photos.h5"
    static let lstmPath = folder + "/lstm-p-sig-ramp-4-indices.h5"
    static let cae2 = try! Checkpoint.read(from: cae2Path)
    static let cae3 = try! Checkpoint.read(from: cae3Path)
    static let gray = try! ImageCodec(checkpoint: cae2, file: cae2Path, threads: 1)
    static let rgb = try! ImageCodec(checkpoint: cae3, file: cae3Path, threads: 1)
}

/// A smooth test image: gradients plus a disc, any size and channel count.
func testImage(width: Int, height: Int, channels: Int) -> RasterImage {
    var px: [UInt8] = []
    for y in 0..<height {
        for x in 0..<width {
            let d = hypot(Double(x) - Double(width) / 2, Double(y) - Double(height) / 3)
            for c in 0..<channels {
                let v = d < Double(min(width, height)) / 4 ? 230.0 - Double(c) * 40 : Double(x * 3 + y * 2 + c * 50)
                px.append(UInt8(max(0, min(255, v.truncatingRemainder(dividingBy: 256)))))
            }
        }
    }
    return RasterImage(width: width, height: height, channels: channels, pixels: px)
}

@Suite("codec: compress and decompress")
struct CodecTests {
    static func roundTrip(_ codec: ImageCodec, _ image: RasterImage, bits: Int = 8, fingerprint: String) throws -> (RasterImage, FlexzFile, ImageCodec.Compressed) {
        let c = try codec.compress(image, bits: bits, fingerprint: fingerprint)
        let bytes = c.file.serialized()
        let parsed = try FlexzFile.parse(bytes, name: "x.flexz")
        #expect(parsed == c.file)
        return (try codec.decompress(parsed, name: "x.flexz"), parsed, c)
    }

    /// Every decoded fixture flavour goes through both models: same size out, gray stays gray, colour is
    /// kept by the RGB model and turned into luma by the gray one, alpha dropped with a note.
    @Test(arguments: Fixtures.expected.keys.sorted())
    func everyFlavourRoundTrips(_ name: String) throws {
        let image = try ImageFile.decode(try Fixtures.bytes(name), name: name)
        for (codec, checkpoint) in [(Models.gray, Models.cae2), (Models.rgb, Models.cae3)] {
            let (out, file, c) = try Self.roundTrip(codec, image, fingerprint: checkpoint.fingerprint)
            #expect(out.width == image.width && out.height == image.height)
            let visible = image.hasAlpha ? image.channels - 1 : image.channels
            let expectedChannels = codec.channels == 1 ? 1 : visible
            #expect(out.channels == expectedChannels, "\(name)")
            #expect(file.alphaDropped == image.hasAlpha)
            #expect(c.notes.contains { $0.contains("alpha") } == image.hasAlpha)
            #expect(file.fingerprintText == checkpoint.fingerprint)
        }
    }

    /// With 16 bits the quantisation error is negligible: a tile repeated over a grid decodes to the same
    /// pixels in every grid cell as the tile alone, and a crop (size not a multiple of the tile) matches.
    @Test func tilesAreCutAndStitchedExactly() throws {
        let tile = testImage(width: 28, height: 28, channels: 1)
        let (alone, _, _) = try Self.roundTrip(Models.gray, tile, bits: 16, fingerprint: Models.cae2.fingerprint)
        var big = [UInt8](repeating: 0, count: 84 * 56)
        for y in 0..<56 { for x in 0..<84 { big[y * 84 + x] = tile.pixels[(y % 28) * 28 + x % 28] } }
        let grid = RasterImage(width: 84, height: 56, channels: 1, pixels: big)
        let (out, file, _) = try Self.roundTrip(Models.gray, grid, bits: 16, fingerprint: Models.cae2.fingerprint)
        #expect(file.tilesAcross == 3 && file.tilesDown == 2)
        var worst = 0
        for y in 0..<56 { for x in 0..<84 { worst = max(worst, abs(Int(out.pixels[y * 84 + x]) - Int(alone.pixels[(y % 28) * 28 + x % 28]))) } }
        #expect(worst <= 1)
        // A 30×29 image: 2×2 tiles, edge pixels repeated; the decoded image is cropped back to 30×29.
        let odd = testImage(width: 30, height: 29, channels: 3)
        let (o, f, _) = try Self.roundTrip(Models.rgb, odd, fingerprint: Models.cae3.fingerprint)
        #expect(f.tilesAcross == 1 && f.tilesDown == 1 && o.width == 30 && o.height == 29 && o.channels == 3)
        let wide = testImage(width: 65, height: 33, channels: 3)
        let (w, g, _) = try Self.roundTrip(Models.rgb, wide, fingerprint: Models.cae3.fingerprint)
        #expect(g.tilesAcross == 3 && g.tilesDown == 2 && w.width == 65 && w.height == 33)
    }

    /// Quantisation: values lie within half a step of the code, every bit depth parses back, and more bits
    /// never make the reconstruction much worse; a constant code channel gets scale 0.
    @Test func quantisationAtEveryBitDepth() throws {
        let image = testImage(width: 56, height: 28, channels: 1)
        let reference = try Models.gray.compress(image, bits: 16, fingerprint: Models.cae2.fingerprint).reference
        var psnr: [Double] = []
        for bits in 1...16 {
            let (out, file, _) = try Self.roundTrip(Models.gray, image, bits: bits, fingerprint: Models.cae2.fingerprint)
            #expect(file.codes.allSatisfy { Int($0) < 1 << bits })
            psnr.append(imageDistortion(out, reference).psnr)
        }
        #expect(psnr[15] >= psnr[0])
        #expect(abs(psnr[15] - psnr[11]) < 0.05)
        #expect(BitPacking.unpack(BitPacking.pack([1, 2, 3, 4, 5], bits: 3), bits: 3, count: 5) == [1, 2, 3, 4, 5])
        #expect(BitPacking.unpack(BitPacking.pack([65535, 0, 4660], bits: 16), bits: 16, count: 3) == [65535, 0, 4660])
    }

    @Test func onlyAutoEncodersAreCodecs() throws {
        let lstm = try Checkpoint.read(from: Models.lstmPath)
        #expect { try ImageCodec(checkpoint: lstm, file: "f.h5") } throws: {
            "\($0)".contains("f.h5") && "\($0)".contains("not an image auto-encoder")
        }
    }

    @Test func decodingWithAnotherModelIsRefused() throws {
        let c = try Models.gray.compress(testImage(width: 28, height: 28, channels: 1), bits: 8, fingerprint: Models.cae2.fingerprint)
        #expect { try Models.rgb.decompress(c.file, name: "a.flexz") } throws: { "\($0)".contains("a.flexz") }
    }
}
