@testable import FlexCodec
import Foundation
import Testing

/// Fixtures/make_pngs.py wrote one file per PNG/PNM flavour and the 8-bit pixels each must decode to.
enum Fixtures {
    static let folder = Bundle.module.resourceURL!.appendingPathComponent("Fixtures").path

    struct Expected: Decodable {
        var width: Int, height: Int, channels: Int
        var pixels: [Int]
    }

    static let expected: [String: Expected] = {
        let data = try! Data(contentsOf: URL(fileURLWithPath: folder + "/expected.json"))
        return try! JSONDecoder().decode([String: Expected].self, from: data)
    }()

    static func bytes(_ name: String) throws -> [UInt8] {
        Array(try Data(contentsOf: URL(fileURLWithPath: folder + "/" + name)))
    }
}

@Suite("image files: every PNG flavour and binary PNM")
struct ImageFileTests {
    @Test(arguments: Fixtures.expected.keys.sorted())
    func decodesToTheExpectedPixels(_ name: String) throws {
        let e = try #require(Fixtures.expected[name])
        let image = try ImageFile.decode(try Fixtures.bytes(name), name: name)
        #expect(image.width == e.width && image.height == e.height && image.channels == e.channels)
        let mismatches = zip(image.pixels, e.pixels).enumerated().filter { Int($0.element.0) != $0.element.1 }
        #expect(mismatches.isEmpty, "\(name): \(mismatches.count) samples differ, first at \(mismatches.first.map { "\($0.offset): \($0.element.0) vs \($0.element.1)" } ?? "")")
    }

    @Test func writesAndReadsBackPNGAndPNM() throws {
        for channels in [1, 3] {
            let px = (0..<(5 * 4 * channels)).map { UInt8(($0 * 37) % 256) }
            let image = RasterImage(width: 5, height: 4, channels: channels, pixels: px)
            for format in [ImageFormat.png, channels == 1 ? .pgm : .ppm] {
                let bytes = try ImageFile.encode(image, format: format, name: "x")
                #expect(try ImageFile.decode(bytes, name: "x") == image)
            }
        }
        let rgb = RasterImage(width: 1, height: 1, channels: 3, pixels: [1, 2, 3])
        #expect { try ImageFile.encode(rgb, format: .pgm, name: "out.pgm") } throws: { "\($0)".contains("out.pgm") && "\($0)".contains("gray") }
    }

    @Test func badImagesGiveOneClearMessage() throws {
        func message(_ bytes: [UInt8]) -> String {
            do { _ = try ImageFile.decode(bytes, name: "in.png"); return "" } catch { return error.description }
        }
        #expect(message([]).contains("in.png: empty file"))
        #expect(message(Array("hello world".utf8)).contains("not an image"))
        let png = try Fixtures.bytes("rgb8.png")
        #expect(message(Array(png.prefix(40))).contains("in.png"))  // truncated
        #expect(message(Array(png.prefix(8))).contains("in.png"))   // signature only
        var corrupt = png
        corrupt[png.count - 20] ^= 0xFF  // inside IDAT/CRC
        #expect(!message(corrupt).isEmpty)
        #expect(message(Array("P2\n2 2\n255\n0 0 0 0".utf8)).contains("P5"))
        #expect(message(Array("P5\n2 2\n255\n\u{1}".utf8)).contains("truncated"))
        #expect(message(Array("P5\n2 x\n255\n".utf8)).contains("height"))
        #expect(message(Array("P5\n2 2\n0\n".utf8)).contains("maxval"))
        #expect(message(Array("P5\n2 1\n10\n\u{0}\u{b}".utf8)).contains("above the maxval"))
        // Absurd dimensions are refused from the header, before allocating.
        #expect(message(Array("P5\n100000 100000\n255\n".utf8)).contains("at most"))
        var huge = png
        huge.replaceSubrange(16..<24, with: [0, 1, 0, 0, 0, 1, 0, 0])  // 65536 × 65536 in IHDR
        let crc = Zlib.crc32(huge[12..<29])
        huge.replaceSubrange(29..<33, with: [UInt8(crc >> 24), UInt8(crc >> 16 & 0xFF), UInt8(crc >> 8 & 0xFF), UInt8(crc & 0xFF)])
        #expect(message(huge).contains("at most"), "\(message(huge))")
    }
}
