@testable import FlexCodec
import FlexImageIO
import FlexRuntime
import Foundation
import Testing

/// Fixtures/make_pngs.py wrote one file per PNG/PNM flavour and the 8-bit pixels each must decode to.
enum Fixtures {
    static let folder = Bundle.module.resourceURL!.appendingPathComponent("Fixtures").path

    struct Expected: Decodable {
        var width: Int, height: Int, channels: Int
        var pixels: [Int]
        /// For 16-bit files: the samples stored in the file (after palette / low-bit / tRNS expansion).
        var stored: [Int]?
    }

    static let expected: [String: Expected] = {
        let data = try! Data(contentsOf: URL(fileURLWithPath: folder + "/expected.json"))
        return try! JSONDecoder().decode([String: Expected].self, from: data)
    }()

    static func bytes(_ name: String) throws -> [UInt8] {
        Array(try Data(contentsOf: URL(fileURLWithPath: folder + "/" + name)))
    }

    static var pngNames: [String] { expected.keys.sorted().filter { $0.hasSuffix(".png") } }
}

/// PNG chunk surgery for the tests: the chunks of a file, and a file rebuilt from chunks (CRCs recomputed).
enum PNGChunks {
    static func split(_ b: [UInt8]) -> [(type: String, data: [UInt8])] {
        var out: [(type: String, data: [UInt8])] = [], o = 8
        while o + 12 <= b.count {
            let n = b[o..<(o + 4)].reduce(0) { $0 << 8 | Int($1) }
            out.append((String(decoding: b[(o + 4)..<(o + 8)], as: UTF8.self), Array(b[(o + 8)..<(o + 8 + n)])))
            o += 12 + n
        }
        return out
    }

    static func chunk(_ type: String, _ data: [UInt8]) -> [UInt8] {
        let body = Array(type.utf8) + data
        let n = data.count, crc = Zlib.crc32(body[...])
        return [UInt8(n >> 24 & 0xFF), UInt8(n >> 16 & 0xFF), UInt8(n >> 8 & 0xFF), UInt8(n & 0xFF)] + body
            + [UInt8(crc >> 24), UInt8(crc >> 16 & 0xFF), UInt8(crc >> 8 & 0xFF), UInt8(crc & 0xFF)]
    }

    static func join(_ chunks: [(type: String, data: [UInt8])]) -> [UInt8] {
        pngSignature + chunks.flatMap { chunk($0.type, $0.data) }
    }

    /// Rewrites every chunk's CRC (chunks cut short by the end of the file are left as they are).
    static func fixingCRCs(_ b: [UInt8]) -> [UInt8] {
        var b = b, o = 8
        while o + 12 <= b.count {
            let n = b[o..<(o + 4)].reduce(0) { $0 << 8 | Int($1) }
            guard n <= b.count - o - 12 else { break }
            let crc = Zlib.crc32(b[(o + 4)..<(o + 8 + n)])
            b.replaceSubrange((o + 8 + n)..<(o + 12 + n), with: [UInt8(crc >> 24), UInt8(crc >> 16 & 0xFF), UInt8(crc >> 8 & 0xFF), UInt8(crc & 0xFF)])
            o += 12 + n
        }
        return b
    }

    static let colourTypes: Set<String> = ["gAMA", "sRGB", "iCCP", "cHRM"]
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

    /// The samples as stored, compared exactly (16-bit ones at 16 bits): colour metadata (gAMA 1.0, 0.5, 2.0,
    /// 0.45455, sRGB, iCCP, cHRM) changes nothing at any bit depth. libpng's simplified API, used before, gave
    /// other values for every file with such a chunk.
    @Test(arguments: Fixtures.pngNames)
    func samplesAsStored(_ name: String) throws {
        let e = try #require(Fixtures.expected[name])
        let s = try decodePNGSamples(try Fixtures.bytes(name), name: name)
        #expect(s.width == e.width && s.height == e.height && s.channels == e.channels)
        #expect(s.bitDepth == (e.stored == nil ? 8 : 16))
        let stored = e.stored ?? e.pixels
        let got = (0..<(s.width * s.height * s.channels)).map { s.sample($0) }
        let wrong = zip(got, stored).enumerated().filter { $0.element.0 != $0.element.1 }
        #expect(got.count == stored.count && wrong.isEmpty,
                "\(name): \(wrong.count) samples differ, first at \(wrong.first.map { "\($0.offset): \($0.element.0) vs \($0.element.1)" } ?? "")")
    }

    /// Metadata chunks added to or removed from any fixture leave the samples unchanged.
    @Test(arguments: Fixtures.pngNames)
    func colourChunksDoNotChangeSamples(_ name: String) throws {
        let bytes = try Fixtures.bytes(name)
        let chunks = PNGChunks.split(bytes)
        let reference = try decodePNGSamples(bytes, name: name)
        let plain = chunks.filter { !PNGChunks.colourTypes.contains($0.type) }
        #expect(try decodePNGSamples(PNGChunks.join(plain), name: name) == reference)
        // The iCCP chunk of a fixture (a valid profile header), and gamma values far from 1/2.2.
        typealias Chunk = (type: String, data: [UInt8])
        let iccp = try #require(PNGChunks.split(try Fixtures.bytes("iccp-rgb8.png")).first { $0.type == "iCCP" })
        func be32(_ values: [Int]) -> [UInt8] {
            values.flatMap { v -> [UInt8] in [UInt8(v >> 24 & 0xFF), UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)] }
        }
        func gama(_ g: Int) -> Chunk { ("gAMA", be32([g])) }
        let chrm: Chunk = ("cHRM", be32([31270, 32900, 64000, 33000, 21000, 71000, 15000, 6000]))
        let srgb: Chunk = ("sRGB", [0])
        let sets: [[Chunk]] = [[gama(100_000)], [gama(50_000)], [gama(200_000)], [gama(45455), srgb, chrm], [iccp], [gama(10_000), chrm]]
        for extra in sets {
            let tagged = PNGChunks.join([plain[0]] + extra + plain.dropFirst())
            #expect(try decodePNGSamples(tagged, name: name) == reference, "\(name) with \(extra.map { $0.type })")
        }
    }

    /// The 8-bit result (what the codec sees) of a 16-bit file is round(v / 257) of the stored samples.
    @Test func sixteenBitsBecomeEightByRounding() throws {
        for name in Fixtures.pngNames {
            let e = try #require(Fixtures.expected[name])
            guard let stored = e.stored else { continue }
            let image = try ImageFile.decode(try Fixtures.bytes(name), name: name)
            #expect(image.pixels.map(Int.init) == stored.map { ($0 * 2 + 257) / 514 }, "\(name)")
        }
    }

    /// Written PNGs carry no colour-space chunk (libpng's simplified writer adds sRGB), so no reader alters
    /// the samples: only IHDR, IDAT and IEND.
    @Test func writtenPNGsAreUntagged() throws {
        for channels in [1, 3] {
            let image = RasterImage(width: 3, height: 2, channels: channels, pixels: (0..<(6 * channels)).map { UInt8($0 * 13) })
            let bytes = try ImageFile.encode(image, format: .png, name: "x.png")
            #expect(Set(PNGChunks.split(bytes).map(\.type)) == ["IHDR", "IDAT", "IEND"])
            #expect(try ImageFile.decode(bytes, name: "x.png") == image)
        }
    }

    /// `encodePNG` writes in one pass into a buffer sized for the worst case: incompressible pixels (stored
    /// deflate blocks, the largest output) of several sizes and layouts, fast and default, must still come back.
    @Test func incompressiblePNGsRoundTrip() throws {
        var rng = SplitMix64(seed: 11)
        for (width, height, channels) in [(1, 1, 1), (7, 3, 3), (300, 200, 3), (257, 129, 4), (1000, 70, 1)] {
            let px = (0..<(width * height * channels)).map { _ in UInt8(truncatingIfNeeded: rng.next() >> 56) }
            for fast in [false, true] {
                let bytes = try encodePNG(width: width, height: height, channels: channels, pixels: px, fast: fast)
                #expect(bytes.count > px.count, "\(width)x\(height)x\(channels): random pixels do not compress")
                let image = try ImageFile.decode(bytes, name: "x.png")
                #expect(image == RasterImage(width: width, height: height, channels: channels, pixels: px), "\(width)x\(height)x\(channels) fast \(fast)")
            }
        }
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
        // Widths libpng itself refuses, and sizes whose product overflows 32 bits.
        for (w, h) in [(0x7FFF_FFFF, 1), (65537, 1), (1, 0x8000_0000), (0xFFFF_FFFF, 0xFFFF_FFFF), (65536, 65536)] {
            var ihdr = PNGChunks.split(png)
            let fields: [Int] = [w >> 24, w >> 16, w >> 8, w, h >> 24, h >> 16, h >> 8, h]
            ihdr[0].data.replaceSubrange(0..<8, with: fields.map { UInt8($0 & 0xFF) })
            let m = message(PNGChunks.join(ihdr))
            #expect(m.hasPrefix("in.png: ") && (m.contains("at most") || m.contains("IHDR")), "\(w)×\(h): \(m)")
        }
        // A large image declared by a tiny file is refused before its pixel buffer is allocated.
        var big = PNGChunks.split(png)
        big[0].data.replaceSubrange(0..<8, with: [0, 0, 0x20, 0, 0, 0, 0x20, 0])  // 8192 × 8192, within the limits
        #expect(message(PNGChunks.join(big)).contains("the IDAT chunks hold"), "\(message(PNGChunks.join(big)))")
        // Missing IEND, bad CRC in a critical chunk, unknown critical chunk: refused. A bad CRC in an ancillary
        // chunk only drops that chunk (libpng's default), and the samples are unchanged.
        let chunks = PNGChunks.split(png)
        #expect(message(PNGChunks.join(chunks.filter { $0.type != "IEND" })).contains("truncated"))
        var badIDAT = PNGChunks.join(chunks)
        badIDAT[badIDAT.count - 13] ^= 1  // last byte of IDAT's CRC
        #expect(message(badIDAT).contains("CRC"), "\(message(badIDAT))")
        #expect(message(PNGChunks.join([chunks[0], ("CRIT", [1, 2, 3])] + chunks.dropFirst())).contains("CRIT"))
        // Image data that inflates to less than the image (a complete zlib stream, rows missing) is an error,
        // never an image with made-up rows. Extra data after the last row is ignored (libpng's default, as in
        // other readers): every sample is there and exact.
        let seed = try ImageFuzzTests.PNGSeed(png)
        #expect(message(seed.rebuilt(raw: Array(seed.raw.dropLast(1)))).contains("in.png: corrupt or truncated PNG"), "\(message(seed.rebuilt(raw: Array(seed.raw.dropLast(1)))))")
        #expect(try ImageFile.decode(seed.rebuilt(raw: seed.raw + [0, 1, 2]), name: "in.png") == ImageFile.decode(png, name: "in.png"))
        #expect(try ImageFile.decode(seed.rebuilt(raw: seed.raw), name: "in.png") == ImageFile.decode(png, name: "in.png"))
        let text = Array("Comment\u{0}hello".utf8)
        var badText = PNGChunks.join([chunks[0], ("tEXt", text)] + chunks.dropFirst())
        badText[8 + 25 + 8 + text.count] ^= 1  // the tEXt chunk's CRC (after the signature, IHDR, its length and type)
        #expect(try ImageFile.decode(badText, name: "in.png") == ImageFile.decode(png, name: "in.png"))
    }
}
