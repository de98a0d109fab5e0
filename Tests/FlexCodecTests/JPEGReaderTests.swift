@testable import FlexCodec
import FlexImageIO
import FlexRuntime
import Foundation
import Testing

/// JPEG marker surgery for the tests: where a file's segments and scans are.
enum JPEGMarkers {
    struct Segment {
        /// The marker's second byte (C0 SOF0, C4 DHT, DA SOS, ...).
        var marker: UInt8
        /// Offset of the FF that starts the marker.
        var offset: Int
        /// Offset of the segment's payload (after the length field), and the payload's length.
        var payload: Int
        var length: Int
        /// For SOS: where the entropy-coded data after the header ends (the next marker's FF).
        var dataEnd: Int?
    }

    /// Every marker segment from SOI to EOI, with each scan's entropy-coded data skipped (FF 00 stuffing and
    /// RSTn markers belong to the data).
    static func segments(_ b: [UInt8]) -> [Segment] {
        var out: [Segment] = [], o = 2
        while o + 1 < b.count, b[o] == 0xFF {
            let m = b[o + 1]
            if m == 0xD9 { out.append(Segment(marker: m, offset: o, payload: o + 2, length: 0)); break }
            if m == 0xFF { o += 1; continue }
            guard o + 3 < b.count else { break }
            let n = Int(b[o + 2]) << 8 | Int(b[o + 3])
            var s = Segment(marker: m, offset: o, payload: o + 4, length: n - 2)
            o += 2 + n
            if m == 0xDA {
                while o + 1 < b.count, !(b[o] == 0xFF && b[o + 1] != 0 && !(0xD0...0xD7).contains(b[o + 1])) { o += 1 }
                s.dataEnd = o
            }
            out.append(s)
        }
        return out
    }

    /// The frame header (SOF0–SOF15 except DHT C4, JPG C8 and DAC CC).
    static func frame(_ b: [UInt8]) -> Segment {
        segments(b).first { (0xC0...0xCF).contains($0.marker) && ![0xC4, 0xC8, 0xCC].contains($0.marker) }!
    }

    /// The file with the frame header's width and height replaced.
    static func withSize(_ b: [UInt8], width: Int, height: Int) -> [UInt8] {
        var b = b
        let p = frame(b).payload
        b[p + 1] = UInt8(height >> 8 & 0xFF); b[p + 2] = UInt8(height & 0xFF)
        b[p + 3] = UInt8(width >> 8 & 0xFF); b[p + 4] = UInt8(width & 0xFF)
        return b
    }

    /// Offsets of every segment header field (marker, length) and of the payload bytes of SOF, DHT, DQT, SOS
    /// and DRI: what mutations of the structure should hit.
    static func fields(_ b: [UInt8]) -> [Int] {
        segments(b).flatMap { s -> [Int] in
            var f = [s.offset + 1, s.offset + 2, s.offset + 3]
            if [0xC0, 0xC1, 0xC2, 0xC4, 0xDB, 0xDA, 0xDD, 0xC9, 0xCA].contains(s.marker) {
                f += Array(s.payload..<min(s.payload + s.length, s.payload + 24))
            }
            return f
        }
    }
}

@Suite("JPEG reader (libjpeg-turbo)")
struct JPEGReaderTests {
    /// Each fixture (made by Fixtures/jpeg-tools/make_jpegs.sh with cjpeg) and djpeg's output for it.
    static let decodable: [(jpeg: String, expected: String)] = [
        ("jpeg-gray.jpg", "jpeg-gray.pgm"),
        ("jpeg-gray-progressive.jpg", "jpeg-gray-progressive.pgm"),
        ("jpeg-rgb420.jpg", "jpeg-rgb420.ppm"),
        ("jpeg-rgb420-progressive.jpg", "jpeg-rgb420-progressive.ppm"),
        ("jpeg-rgb444-restart.jpg", "jpeg-rgb444-restart.ppm"),
        ("jpeg-rgb422-arithmetic.jpg", "jpeg-rgb422-arithmetic.ppm"),
        ("jpeg-rgb-colourspace.jpg", "jpeg-rgb-colourspace.ppm"),
    ]

    static func decode(_ b: [UInt8], name: String = "photo.jpg") -> Result<RasterImage, CodecError> {
        Result { () throws(CodecError) in try ImageFile.decode(b, name: name) }
    }

    static func message(_ b: [UInt8], name: String = "photo.jpg") -> String? {
        if case .failure(let e) = decode(b, name: name) { return e.description }
        return nil
    }

    @Test("baseline, progressive, restart markers, 4:2:0/4:2:2/4:4:4, arithmetic, RGB: exactly djpeg's samples",
          arguments: decodable)
    func matchesDjpeg(_ fixture: (jpeg: String, expected: String)) throws {
        let image = try ImageFile.decode(try Fixtures.bytes(fixture.jpeg), name: fixture.jpeg)
        let expected = try ImageFile.decode(try Fixtures.bytes(fixture.expected), name: fixture.expected)
        #expect(image.width == 61 && image.height == 45)
        #expect(image.channels == (fixture.expected.hasSuffix(".pgm") ? 1 : 3))
        #expect(image == expected)
        // A JPEG decoding that went wrong (wrong colour conversion, channels swapped) would still be an image:
        // the fixtures differ from a flat field, and colour ones have chroma.
        if image.channels == 3 {
            let chroma = stride(from: 0, to: image.pixels.count, by: 3).filter { image.pixels[$0] != image.pixels[$0 + 2] }.count
            #expect(chroma > image.width * image.height / 2)
        }
    }

    @Test("the fixtures are what they claim: progressive, restart markers, arithmetic coding, RGB colour space")
    func fixturesHaveTheirFeatures() throws {
        func markers(_ name: String) throws -> Set<UInt8> { Set(JPEGMarkers.segments(try Fixtures.bytes(name)).map(\.marker)) }
        #expect(try markers("jpeg-rgb420-progressive.jpg").contains(0xC2))
        #expect(try markers("jpeg-gray-progressive.jpg").contains(0xC2))
        #expect(try markers("jpeg-rgb420.jpg").contains(0xC0))
        #expect(try markers("jpeg-rgb444-restart.jpg").contains(0xDD))
        #expect(try markers("jpeg-rgb422-arithmetic.jpg").contains(0xC9))
        let restart = try Fixtures.bytes("jpeg-rgb444-restart.jpg")
        #expect(zip(restart, restart.dropFirst()).filter { $0 == 0xFF && (0xD0...0xD7).contains($1) }.count > 10)
        // The RGB fixture is stored as RGB (Adobe transform 0), not YCbCr.
        #expect(try markers("jpeg-rgb-colourspace.jpg").contains(0xEE))
    }

    @Test("CMYK and YCCK are refused, saying what was found and what is expected")
    func fourComponentsRefused() throws {
        #expect(Self.message(try Fixtures.bytes("jpeg-cmyk.jpg")) ==
            "photo.jpg: JPEG with 4 components (CMYK) is not supported; expected gray (1 component) or colour (3 components, YCbCr or RGB)")
        #expect(Self.message(try Fixtures.bytes("jpeg-ycck.jpg"))?.contains("JPEG with 4 components (YCCK) is not supported") == true)
        // Two components (no colour space): the third component dropped from the frame header and the scan
        // header, with their lengths kept consistent. (The scan comes after the frame: edit it first.)
        var b = try Fixtures.bytes("jpeg-rgb420.jpg")
        let f = JPEGMarkers.frame(b)
        let sos = try #require(JPEGMarkers.segments(b).first { $0.marker == 0xDA })
        b[sos.payload] = 2
        b[sos.offset + 3] -= 2
        b.removeSubrange((sos.payload + 5)..<(sos.payload + 7))
        b[f.payload + 5] = 2
        b[f.offset + 3] -= 3
        b.removeSubrange((f.payload + 12)..<(f.payload + 15))
        #expect(Self.message(b)?.contains("JPEG with 2 components is not supported; expected gray") == true)
    }

    @Test("every truncation of a baseline and a progressive file is an error, never a partial image")
    func truncated() throws {
        for name in ["jpeg-rgb420.jpg", "jpeg-rgb420-progressive.jpg", "jpeg-gray.jpg"] {
            let b = try Fixtures.bytes(name)
            for n in 0..<b.count {
                guard let m = Self.message(Array(b.prefix(n)), name: name) else {
                    Issue.record("\(name) cut to \(n) of \(b.count) bytes decoded")
                    continue
                }
                #expect(m.hasPrefix(name + ": "))
            }
            // The whole file still decodes (the loop above did not pass for a broken fixture).
            #expect((try? Self.decode(b).get()) != nil)
        }
        let cut = try Fixtures.bytes("jpeg-rgb420.jpg").dropLast(100)
        #expect(Self.message(Array(cut)) == "photo.jpg: corrupt, truncated or unsupported JPEG (libjpeg-turbo: Premature end of JPEG file)")
    }

    @Test("sizes over the limits are refused from the frame header, with the size and the limits")
    func sizeLimits() throws {
        let b = try Fixtures.bytes("jpeg-rgb420.jpg")
        // Over libjpeg's own 65,500 limit: still reported as flexctl's size refusal.
        #expect(Self.message(JPEGMarkers.withSize(b, width: 65535, height: 65535)) ==
            "photo.jpg: the image is 65535×65535 (4294836225 pixels); flexctl accepts at most 65536 pixels a side and 67108864 pixels in all")
        // Within libjpeg's limit, over flexctl's pixel count.
        #expect(Self.message(JPEGMarkers.withSize(b, width: 8192, height: 8193))?.contains("the image is 8192×8193 (67117056 pixels); flexctl accepts") == true)
        #expect(Self.message(JPEGMarkers.withSize(b, width: 61, height: 0)) ==
            "photo.jpg: the image is 61×0; width and height must be at least 1")
    }

    /// A 1.3–1.5 KB file whose header says 8000 × 8000: within the limits, but one bit per 8×8 block alone would
    /// take 125 KB (gray) to 188 KB (4:2:0 colour), so it is refused before libjpeg allocates its buffers or the
    /// caller its 64–192 MB of pixels.
    @Test("a small Huffman-coded file declaring a large image is refused before any image-sized allocation")
    func tinyFileLargeHeader() throws {
        let clock = ContinuousClock()
        for name in ["jpeg-rgb420.jpg", "jpeg-rgb420-progressive.jpg", "jpeg-gray.jpg"] {
            let b = JPEGMarkers.withSize(try Fixtures.bytes(name), width: 8000, height: 8000)
            var m: String?
            let t = clock.measure { m = Self.message(b) }
            #expect(m?.contains("corrupt or truncated JPEG: a 8000×8000 image has") == true, "\(m ?? "decoded")")
            #expect(m?.contains("the file has \(b.count) bytes") == true)
            #expect(t < .milliseconds(500), "\(name): \(t)")
        }
    }

    @Test("a multi-scan file whose coefficient buffer exceeds the bound is refused; single-scan files need none")
    func coefficientMemoryBound() throws {
        // 61×45 at 4:2:0: 8×6 luma blocks and 4×3 per chroma component, 72 blocks of 128 bytes.
        let progressive = try Fixtures.bytes("jpeg-rgb420-progressive.jpg")
        #expect(throws: ImageReadError(file: "p.jpg", reason: "the 61×45 progressive JPEG needs 9216 bytes of coefficient memory; flexctl allows at most 9000")) {
            try decodeJPEG(progressive, name: "p.jpg", maximumCoefficientBytes: 9000)
        }
        #expect((try? decodeJPEG(progressive, name: "p.jpg", maximumCoefficientBytes: 9216)) != nil)
        // A baseline file decodes row by row: no coefficient buffer, so even a bound of 0 lets it through.
        #expect((try? decodeJPEG(try Fixtures.bytes("jpeg-rgb420.jpg"), name: "b.jpg", maximumCoefficientBytes: 0)) != nil)
    }

    @Test("damaged Huffman tables are errors naming libjpeg-turbo's reason")
    func corruptHuffmanTable() throws {
        let b = try Fixtures.bytes("jpeg-rgb420.jpg")
        let dht = try #require(JPEGMarkers.segments(b).first { $0.marker == 0xC4 })
        // Code counts for lengths 1–16 that add up to more than 256 symbols.
        var tooMany = b
        for k in 1...16 { tooMany[dht.payload + k] = 0x20 }
        #expect(Self.message(tooMany)?.contains("libjpeg-turbo: Bogus Huffman table definition") == true)
        // Three codes moved from the longest length to length 1: as many symbols as before, but more codes than
        // the code space has (found when libjpeg builds its decoding tables, at the start of the scan).
        var oversubscribed = b
        let longest = try #require((1...16).last { b[dht.payload + $0] >= 3 })
        oversubscribed[dht.payload + longest] -= 3
        oversubscribed[dht.payload + 1] += 3
        #expect(Self.message(oversubscribed)?.contains("libjpeg-turbo: Bogus Huffman table definition") == true)
        // The table class/slot byte naming slot 7 (libjpeg has 4).
        var slot = b
        slot[dht.payload] = 0x07
        #expect(Self.message(slot)?.contains("libjpeg-turbo: Bogus DHT index 7") == true)
    }

    @Test("12-bit samples and lossless JPEG are refused by name")
    func unsupportedProcesses() throws {
        var b = try Fixtures.bytes("jpeg-gray.jpg")
        let f = JPEGMarkers.frame(b)
        b[f.payload] = 12
        #expect(Self.message(b)?.contains("Unsupported JPEG data precision 12") == true)
        var lossless = try Fixtures.bytes("jpeg-gray.jpg")
        lossless[f.offset + 1] = 0xC3
        #expect(Self.message(lossless)?.contains("libjpeg-turbo: Unsupported JPEG process: SOF type 0xc3") == true)
    }

    /// Each scan of a progressive file is a pass over its component's blocks; a file with thousands of cheap
    /// scans over a large image would cost minutes. The fixture's last scan (AC 1–63, first pass, Al = 0) can be
    /// repeated without libjpeg seeing a bad progression, so the file stays valid apart from its scan count.
    @Test("a progressive file with thousands of scans is refused quickly; a few hundred repeats still decode")
    func scanLimit() throws {
        let b = try Fixtures.bytes("jpeg-flat-1024-al0.jpg")
        let scans = JPEGMarkers.segments(b).filter { $0.marker == 0xDA }
        let last = try #require(scans.last)
        #expect(scans.count == 2 && b.suffix(2) == [0xFF, 0xD9])
        let scan = Array(b[last.offset..<last.dataEnd!])
        func repeated(_ n: Int) -> [UInt8] {
            Array(b[..<(b.count - 2)]) + Array([[UInt8]](repeating: scan, count: n).joined()) + [0xFF, 0xD9]
        }
        // 2 + 400 scans: under the limit, a flat 1024×1024 gray image.
        let ok = try ImageFile.decode(repeated(400), name: "ok.jpg")
        #expect(ok.width == 1024 && ok.height == 1024 && ok.channels == 1)
        #expect(Set(ok.pixels).count == 1)
        // 20,000 scans: without the limit this takes seconds (about 0.1 ms a scan here); with it, a few hundredths.
        let hostile = repeated(20000)
        let clock = ContinuousClock()
        var m: String?
        let t = clock.measure { m = Self.message(hostile) }
        #expect(m == "photo.jpg: progressive JPEG with more than 500 scans (stopped at scan 501); expected at most 500 (typical files have about 10)")
        #expect(t < .seconds(1), "took \(t)")
    }

    @Test("stray bytes before EOI are tolerated (all data decoded); stray bytes between scans are an error")
    func extraneousBytes() throws {
        let b = try Fixtures.bytes("jpeg-rgb420.jpg")
        let reference = try ImageFile.decode(b, name: "a.jpg")
        let padded = Array(b.dropLast(2)) + [0x00, 0x17] + [0xFF, 0xD9]
        #expect(try ImageFile.decode(padded, name: "a.jpg") == reference)
        let p = try Fixtures.bytes("jpeg-rgb420-progressive.jpg")
        let second = JPEGMarkers.segments(p).filter { $0.marker == 0xDA }[1]
        let between = Array(p[..<second.offset]) + [0x00, 0x17] + Array(p[second.offset...])
        #expect(Self.message(between)?.contains("extraneous bytes before marker 0xda") == true)
    }

    /// The EXIF orientation tag is not applied (documented): an APP1 Exif segment saying "rotate 90°" changes
    /// nothing. APPn segments are skipped unread.
    @Test("EXIF (orientation 6) and an ICC profile are ignored: same size, same samples")
    func exifAndICCIgnored() throws {
        let b = try Fixtures.bytes("jpeg-rgb420.jpg")
        let tiff: [UInt8] = [0x4D, 0x4D, 0, 0x2A, 0, 0, 0, 8, 0, 1, 0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, 6, 0, 0, 0, 0, 0, 0, 0, 0]
        let exif: [UInt8] = Array("Exif".utf8) + [0, 0] + tiff
        let icc: [UInt8] = Array("ICC_PROFILE".utf8) + [0, 1, 1] + [UInt8](repeating: 0xAB, count: 200)
        func segment(_ marker: UInt8, _ payload: [UInt8]) -> [UInt8] {
            [0xFF, marker, UInt8((payload.count + 2) >> 8), UInt8((payload.count + 2) & 0xFF)] + payload
        }
        let tagged = [0xFF, 0xD8] + segment(0xE1, exif) + segment(0xE2, icc) + Array(b.dropFirst(2))
        #expect(try ImageFile.decode(tagged, name: "t.jpg") == ImageFile.decode(b, name: "t.jpg"))
    }

    @Test("decode goes by content: a JPEG named .png is read as JPEG, a PNG named .jpg as PNG")
    func byContent() throws {
        let jpeg = try Fixtures.bytes("jpeg-gray.jpg"), png = try Fixtures.bytes("gray8.png")
        #expect(try ImageFile.decode(jpeg, name: "x.png").width == 61)
        #expect(try ImageFile.decode(png, name: "x.jpg") == ImageFile.decode(png, name: "x.png"))
        #expect(ImageFile.isReadable(path: "a/B.JPG") && ImageFile.isReadable(path: "c.jpeg") && !ImageFile.isReadable(path: "c.jfif.txt"))
        #expect(ImageFile.format(forPath: "x.jpg") == nil)  // read, never written
        #expect(Self.message([0xFF, 0xD8])?.contains("not an image: expected a PNG, JPEG, binary PGM (P5) or PPM (P6) file") == true)
    }
}
