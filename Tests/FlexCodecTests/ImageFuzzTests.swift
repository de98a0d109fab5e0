@testable import FlexCodec
import FlexImageIO
import FlexRuntime
import Foundation
import Testing

/// Mutation fuzzing of the image readers (`ImageFile.decode`: PNG through libpng, JPEG through libjpeg-turbo,
/// binary PGM/PPM), seeded from every fixture. Each mutant must decode within the size limits or throw a
/// `CodecError` that names the file and says something; a crash or a trap ends the whole test process, so surviving is the main assertion.
@Suite("image readers: mutation fuzzing")
struct ImageFuzzTests {
    /// Offsets of every chunk's length and type and of IHDR's fields (width, height, depth, colour type, ...).
    static func pngFields(_ b: [UInt8]) -> [Int] {
        var fields = [16, 20, 24, 25, 26, 27, 28], o = 8
        while o + 12 <= b.count {
            fields += [o, o + 4]
            o += 12 + b[o..<(o + 4)].reduce(0) { $0 << 8 | Int($1) }
        }
        return fields
    }

    /// Decodes one mutant: true if it decoded. Records an issue for a result outside the limits or an error
    /// that does not name the file.
    static func check(_ b: [UInt8], name: String) -> Bool {
        do {
            let image = try ImageFile.decode(b, name: name)
            let (w, h, c) = (image.width, image.height, image.channels)
            if !(w >= 1 && h >= 1 && w <= ImageFile.maximumSide && h <= ImageFile.maximumSide
                 && w * h <= ImageFile.maximumPixels && (1...4).contains(c) && image.pixels.count == w * h * c) {
                Issue.record("\(name): decoded to \(w)×\(h)×\(c) with \(image.pixels.count) samples")
            }
            return true
        } catch {
            if error.file != name || error.message.isEmpty || error.description != "\(name): \(error.message)" {
                Issue.record("\(name): unclear error \(error)")
            }
            return false
        }
    }

    /// A seed file taken apart: its chunks and its image data inflated (filter bytes and samples).
    struct PNGSeed {
        var bytes: [UInt8]
        var chunks: [(type: String, data: [UInt8])]
        var raw: [UInt8]

        init(_ bytes: [UInt8]) throws {
            self.bytes = bytes
            chunks = PNGChunks.split(bytes)
            let ihdr = chunks[0].data
            let w = ihdr[0..<4].reduce(0) { $0 << 8 | Int($1) }, h = ihdr[4..<8].reduce(0) { $0 << 8 | Int($1) }
            let bits = Int(ihdr[8]) * ([0: 1, 2: 3, 3: 1, 4: 2, 6: 4][Int(ihdr[9])] ?? 1)
            // Adam7 passes (or the whole image): one filter byte per row plus the row's packed samples.
            let passes = ihdr[12] == 1
                ? [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]
                : [(0, 0, 1, 1)]
            let size = passes.reduce(0) { total, p in
                let pw = (w - p.0 + p.2 - 1) / p.2, ph = (h - p.1 + p.3 - 1) / p.3
                return pw > 0 && ph > 0 ? total + ph * (1 + (pw * bits + 7) / 8) : total
            }
            let idat = chunks.filter { $0.type == "IDAT" }.flatMap(\.data)
            raw = try Zlib.inflate(idat[...], expectedSize: size).get()
        }

        /// The file rebuilt with `raw` as its image data, in one IDAT chunk or split in several.
        func rebuilt(raw: [UInt8], ihdr: [UInt8]? = nil, splitAt: Int? = nil) -> [UInt8] {
            let z = Zlib.deflate(raw, level: 1)
            var idat: [(type: String, data: [UInt8])] = [("IDAT", z)]
            if let k = splitAt { idat = [("IDAT", Array(z.prefix(k))), ("IDAT", Array(z.dropFirst(k)))] }
            let before = chunks.prefix { $0.type != "IDAT" }, after = chunks.drop { $0.type != "IEND" }
            var head = Array(before)
            if let ihdr { head[0].data = ihdr }
            return PNGChunks.join(head + idat + after)
        }
    }

    /// Three kinds of mutants in turn: bytes anywhere (CRCs fixed three times in four), the image data inflated,
    /// mutated (filter types, samples, lengths) and compressed again, and IHDR's fields changed (size, bit
    /// depth, colour type, interlacing, methods) with or without image data to match.
    @Test func mutatedPNGsDecodeOrGiveOneError() throws {
        let seeds = try Fixtures.pngNames.map { try PNGSeed(try Fixtures.bytes($0)) }
        var m = Mutator(seed: 0x504E_4701)
        var decoded = 0, refused = 0
        let cases = fuzzCases(6000)
        let slowest = slowestCase(cases) { i in
            let seed = seeds[(i / 3) % seeds.count]
            var b: [UInt8]
            switch i % 3 {
            case 0:
                b = seed.bytes
                m.mutate(&b, endian: .big, fields: Self.pngFields(b))
                if !m.oneIn(4) { b = PNGChunks.fixingCRCs(b) }
            case 1:
                var raw = seed.raw
                m.mutate(&raw, endian: .big, maxRounds: 3)
                b = seed.rebuilt(raw: raw, splitAt: m.oneIn(4) ? m.below(40) : nil)
            default:
                var ihdr = seed.chunks[0].data
                switch m.below(5) {
                case 0: ihdr[8] = [0, 1, 2, 3, 4, 5, 8, 16, 32, 255][m.below(10)]
                case 1: ihdr[9] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 255][m.below(10)]
                case 2: ihdr[10 + m.below(3)] = [0, 1, 2, 255][m.below(4)]
                case 3: ihdr[3] = ihdr[3] &+ [1, 255, 2, 254, 128][m.below(5)]
                default: ihdr[7] = ihdr[7] &+ [1, 255, 2, 254, 128][m.below(5)]
                }
                var raw = seed.raw
                if m.oneIn(2) { m.mutate(&raw, endian: .big, maxRounds: 2) }
                b = seed.rebuilt(raw: raw, ihdr: ihdr)
            }
            if Self.check(b, name: "fuzz.png") { decoded += 1 } else { refused += 1 }
        }
        #expect(decoded + refused == cases)
        // The mutants reach both outcomes (a mutator that only broke signatures would test nothing).
        #expect(decoded > cases / 20 && refused > cases / 5, "decoded \(decoded), refused \(refused)")
        #expect(slowest < 2, "slowest case took \(slowest) s")
    }

    /// Every JPEG fixture (baseline, progressive, restart markers, arithmetic, gray, 4:2:0/4:2:2/4:4:4, RGB,
    /// CMYK) mutated two ways in turn: structure mutations (bytes anywhere, half of them on segment lengths and
    /// on SOF, DHT, DQT, SOS and DRI fields: sizes, component counts, sampling factors, table slots, spectral
    /// selection), and 1–8 random bit flips in the entropy-coded data only, which libjpeg must either decode or
    /// report as corrupt.
    @Test func mutatedJPEGsDecodeOrGiveOneError() throws {
        let names = JPEGReaderTests.decodable.map(\.jpeg) + ["jpeg-cmyk.jpg"]
        let seeds = try names.map { try Fixtures.bytes($0) }
        let fields = seeds.map { JPEGMarkers.fields($0) }
        let data = seeds.map { b in
            JPEGMarkers.segments(b).compactMap { s in s.dataEnd.map { (s.payload + s.length)..<$0 } }
        }
        var m = Mutator(seed: 0x4A50_4547)
        var decoded = 0, refused = 0
        let cases = fuzzCases(4000)
        let slowest = slowestCase(cases) { i in
            let k = (i / 2) % seeds.count
            var b = seeds[k]
            if i % 2 == 0 {
                m.mutate(&b, endian: .big, fields: fields[k])
            } else {
                for _ in 0..<(1 + m.below(8)) {
                    let scan = data[k][m.below(data[k].count)]
                    guard !scan.isEmpty else { continue }
                    b[scan.lowerBound + m.below(scan.count)] ^= 1 << UInt8(m.below(8))
                }
            }
            if Self.check(b, name: "fuzz.jpg") { decoded += 1 } else { refused += 1 }
        }
        #expect(decoded + refused == cases)
        #expect(decoded > cases / 20 && refused > cases / 5, "decoded \(decoded), refused \(refused)")
        #expect(slowest < 2, "slowest case took \(slowest) s")
    }

    /// Header numbers replaced by extreme decimal texts, plus byte mutations anywhere.
    @Test func mutatedPNMsDecodeOrGiveOneError() throws {
        let seeds = try ["gray.pgm", "gray10.pgm", "rgb.ppm"].map { try Fixtures.bytes($0) }
        let numbers = ["0", "1", "255", "256", "65535", "65536", "65537", "1073741824", "4294967296",
                       "9223372036854775807", "99999999999999999999999999", "-1", "+1", "0x10", "", "#", "1e3"]
        var m = Mutator(seed: 0x504E_4D01)
        var decoded = 0, refused = 0
        let cases = fuzzCases(5000)
        let slowest = slowestCase(cases) { i in
            var b = seeds[i % seeds.count]
            if m.oneIn(2) {
                // Replace one of the header's tokens (magic, width, height, maxval).
                let header = Self.headerTokens(b)
                let t = header[m.below(header.count)]
                b.replaceSubrange(t, with: Array(numbers[m.below(numbers.count)].utf8))
            }
            if !m.oneIn(3) { m.mutate(&b, endian: .big, fields: Array(0..<min(20, b.count))) }
            if Self.check(b, name: "fuzz.pgm") { decoded += 1 } else { refused += 1 }
        }
        #expect(decoded > cases / 20 && refused > cases / 5, "decoded \(decoded), refused \(refused)")
        #expect(slowest < 2, "slowest case took \(slowest) s")
    }

    /// The byte ranges of the first four whitespace-separated tokens (comments skipped).
    static func headerTokens(_ b: [UInt8]) -> [Range<Int>] {
        var tokens: [Range<Int>] = [], i = 0
        while tokens.count < 4, i < b.count {
            if b[i] == UInt8(ascii: "#") {
                while i < b.count, b[i] != 10 { i += 1 }
            } else if [9, 10, 13, 32].contains(b[i]) {
                i += 1
            } else {
                let start = i
                while i < b.count, ![9, 10, 13, 32].contains(b[i]) { i += 1 }
                tokens.append(start..<i)
            }
        }
        return tokens
    }

    /// Random bytes behind each signature: the readers' first checks.
    @Test func randomBytesBehindSignatures() {
        var m = Mutator(seed: 0x5241_4E44)
        let prefixes: [[UInt8]] = [pngSignature, pngSignature + [0, 0, 0, 13] + Array("IHDR".utf8), Array("P5".utf8), Array("P6 ".utf8), [],
                                   jpegSignature, jpegSignature + [0xC0, 0, 17, 8]]
        let cases = fuzzCases(5000)
        let slowest = slowestCase(cases) { i in
            var b = prefixes[i % prefixes.count] + (0..<m.below(200)).map { _ in m.byte() }
            if m.oneIn(2) { b = PNGChunks.fixingCRCs(b) }
            _ = Self.check(b, name: "random.img")
        }
        #expect(slowest < 2, "slowest case took \(slowest) s")
    }
}
