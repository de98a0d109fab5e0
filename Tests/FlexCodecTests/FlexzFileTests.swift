@testable import FlexCodec
import FlexImageIO
import FlexRuntime
import Testing

@Suite("flexz container: every bad file gives one clear error")
struct FlexzFileTests {
    static let valid: [UInt8] = {
        let c = try! Models.gray.compress(testImage(width: 60, height: 30, channels: 1), bits: 6, fingerprint: Models.cae2.fingerprint)
        return c.file.serialized()
    }()

    static func message(_ bytes: [UInt8]) -> String {
        do { _ = try FlexzFile.parse(bytes, name: "in.flexz"); return "" } catch { return error.description }
    }

    /// Rewrites the CRC so that a change reaches the checks behind it.
    static func withCRC(_ b: [UInt8]) -> [UInt8] {
        var b = b
        let end = b.count - 4
        let crc = Zlib.crc32(b[0..<end])
        for i in 0..<4 { b[end + i] = UInt8(crc >> (8 * UInt32(i)) & 0xFF) }
        return b
    }

    /// A file with the valid header and another zlib payload (sizes and CRC made consistent).
    static func withPayload(_ raw: [UInt8]) -> [UInt8] { withCompressedPayload(Zlib.deflate(raw)) }

    /// A file with the valid header and `payload` as its compressed bytes (sizes and CRC made consistent).
    static func withCompressedPayload(_ payload: [UInt8]) -> [UInt8] {
        let headerSize = Int(valid[10]) | Int(valid[11]) << 8
        var b = Array(valid[0..<headerSize])
        let n = payload.count
        b += [UInt8(n & 0xFF), UInt8(n >> 8 & 0xFF), UInt8(n >> 16 & 0xFF), UInt8(n >> 24)]
        b += payload + [0, 0, 0, 0]
        return withCRC(b)
    }

    @Test func validFileParses() throws {
        let f = try FlexzFile.parse(Self.valid, name: "in.flexz")
        #expect(f.width == 60 && f.height == 30 && f.bits == 6 && f.tilesAcross == 3 && f.tilesDown == 2)
    }

    @Test func badFiles() throws {
        let v = Self.valid
        #expect(Self.message([]).contains("in.flexz: empty file"))
        #expect(Self.message(Array("PNG image".utf8)).contains("magic"))
        var magic = v; magic[1] = 0x47
        #expect(Self.message(magic).contains("magic"))
        for cut in [4, 11, 40, 100, v.count - 10, v.count - 1] {
            #expect(Self.message(Array(v.prefix(cut))).contains("truncated") || Self.message(Array(v.prefix(cut))).contains("magic"), "cut at \(cut): \(Self.message(Array(v.prefix(cut))))")
        }
        var version = v; version[8] = 2
        #expect(Self.message(Self.withCRC(version)).contains("format version 2"))
        var crc = v; crc[80] ^= 1
        #expect(Self.message(crc).contains("CRC mismatch"))
        var payload = v; payload[payload.count - 8] ^= 0x55
        #expect(Self.message(payload).contains("CRC mismatch"))
        #expect(Self.message(v + [0]).contains("unexpected bytes after the CRC"))
        var bits = v; bits[54] = 17
        #expect(Self.message(Self.withCRC(bits)).contains("bits per value (byte 54) = 17"))
        var grid = v; grid[60] = 9
        #expect(Self.message(Self.withCRC(grid)).contains("tile grid"))
        var size = v; size[44] = 0; size[45] = 0
        #expect(Self.message(Self.withCRC(size)).contains("image size"))
        var channels = v; channels[52] = 2
        #expect(Self.message(Self.withCRC(channels)).contains("image channels (byte 52)"))
        var scale = v; scale[76 + 3] = 0xFF  // scale of channel 0 → negative / NaN
        #expect(Self.message(Self.withCRC(scale)).contains("quantisation of code channel 0"))
        // Payloads that inflate to the wrong size, or are not zlib at all.
        let packed = (3 * 2 * 32 * 6 + 7) / 8
        #expect(Self.message(Self.withPayload([UInt8](repeating: 1, count: packed - 1))).contains("inflates to \(packed - 1) bytes"))
        #expect(Self.message(Self.withPayload([UInt8](repeating: 1, count: packed + 5))).contains("more than"))
        var garbage = Self.withPayload([UInt8](repeating: 1, count: packed))
        let h = Int(v[10]) | Int(v[11]) << 8
        garbage[h + 4] = 0x00  // a broken zlib header
        #expect(Self.message(Self.withCRC(garbage)).contains("payload"))
    }

    /// zlib's failures reach the user as words naming the payload, never as a bare code ("zlib: error 2").
    @Test func corruptPayloadMessages() throws {
        let h = Int(Self.valid[10]) | Int(Self.valid[11]) << 8
        let packed = [UInt8](repeating: 7, count: (3 * 2 * 32 * 6 + 7) / 8)
        let good = Zlib.deflate(packed)
        let prefix = "in.flexz: payload (byte \(h + 4)): the compressed payload is corrupt after 0 decompressed bytes: "
        // A zlib header with FDICT set (78 20 passes the header check): zlib returns Z_NEED_DICT, without a message.
        let dictionary = Self.message(Self.withCompressedPayload([0x78, 0x20, 0, 0, 0, 1] + good.dropFirst(2)))
        #expect(dictionary == prefix + "the stream asks for a preset dictionary, which this format never uses")
        // A deflate block of the reserved type 3.
        #expect(Self.message(Self.withCompressedPayload([0x78, 0x9C, 0xFF, 0xFF, 0xFF, 0xFF])) == prefix + "invalid block type")
        // A header that fails its check bits.
        #expect(Self.message(Self.withCompressedPayload([0x78, 0x9D] + good.dropFirst(2))) == prefix + "the zlib header is invalid")
        // The Adler-32 after the data no longer matches it.
        var adler = good
        adler[adler.count - 1] ^= 0x01
        let checksum = Self.message(Self.withCompressedPayload(adler))
        #expect(checksum == "in.flexz: payload (byte \(h + 4)): the compressed payload is corrupt after \(packed.count) decompressed bytes: "
            + "the checksum of the decompressed data does not match the stored one")
        for m in [dictionary, checksum] {
            #expect(!m.contains("zlib:") && !m.contains("error 2"), "\(m)")
        }
    }

    /// The header alone (for finding and checking the model) never inflates the payload: a payload that
    /// would fail (or take long) to inflate is only touched by the full parse.
    @Test func headerOnlyParsingDoesNotInflate() throws {
        let bad = Self.withCompressedPayload([0x78, 0x9C, 0xFF, 0xFF, 0xFF, 0xFF])
        let header = try FlexzFile.parse(bad, name: "in.flexz", decodingPayload: false)
        #expect(header.codes.isEmpty)
        #expect(header.fingerprint == Array(Self.valid[12..<44]))
        #expect(throws: CodecError.self) { try FlexzFile.parse(bad, name: "in.flexz") }
    }

    /// Sizes whose product overflows 64 bits are refused (they used to trap): 4096×4096 pixels in 1×1 tiles,
    /// each with a 65535×65535×65535 code.
    @Test func codeSizeOverflowIsRefused() {
        var b = Self.valid
        func u16(_ o: Int, _ v: Int) { b[o] = UInt8(v & 0xFF); b[o + 1] = UInt8(v >> 8) }
        u16(44, 4096); u16(46, 0); u16(48, 4096); u16(50, 0)
        u16(56, 1); u16(58, 1); u16(60, 4096); u16(62, 4096)
        u16(64, 0xFFFF); u16(66, 0xFFFF); u16(68, 0xFFFF)
        #expect(Self.message(Self.withCRC(b)).contains("more than the limit"), "\(Self.message(Self.withCRC(b)))")
    }

    /// Offsets of the header's fields (version, header size, sizes, counts, tile grid, code shape, payload size).
    static let fields = [8, 10, 44, 46, 48, 50, 52, 53, 54, 55, 56, 58, 60, 62, 64, 66, 68, 70, 72, 76, 80, 84]

    /// Fuzzing: random files and mutations of a valid one (bits flipped, bytes set, interesting values such as
    /// 0, 0xFFFF and 0x7FFFFFFF written into the header's fields, ranges inserted, deleted and duplicated,
    /// truncation; half of the mutants get a correct CRC so they reach the deeper checks). Parsing never
    /// crashes and either succeeds or throws a `CodecError` naming the file; files that parse are decoded with
    /// the small gray model, which gives an image of the declared size or one error.
    @Test func fuzzedFilesNeverCrash() throws {
        var rng = SplitMix64(seed: 2026)
        var m = Mutator(seed: 2027)
        let v = Self.valid
        let cases = fuzzCases(100_000)
        var parsed = 0, refused = 0, decoded = 0
        let slowest = slowestCase(cases) { i in
            var b: [UInt8]
            switch i % 4 {
            case 0:
                b = (0..<Int(rng.next() % 200)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
                if rng.next() % 2 == 0 { b = FlexzFile.magic + b }
            default:
                b = v
                m.mutate(&b, endian: .little, fields: Self.fields)
                if rng.next() % 2 == 0, b.count >= 8 { b = Self.withCRC(b) }
            }
            let f: FlexzFile
            do throws(CodecError) {
                f = try FlexzFile.parse(b, name: "fuzz.flexz")
                parsed += 1
            } catch {
                if error.file != "fuzz.flexz" || error.message.isEmpty { Issue.record("unclear error: \(error)") }
                refused += 1
                return
            }
            // Decoding runs the model (slow in a debug build): a few dozen of the parsed mutants.
            guard decoded < 20 + cases / 10_000 else { return }
            decoded += 1
            do {
                let image = try Models.gray.decompress(f, name: "fuzz.flexz")
                if image.width != f.width || image.height != f.height || image.channels != f.imageChannels {
                    Issue.record("decoded \(image.width)×\(image.height)×\(image.channels) from a \(f.width)×\(f.height)×\(f.imageChannels) file")
                }
            } catch let error as CodecError {
                if error.file != "fuzz.flexz" || error.message.isEmpty { Issue.record("unclear error: \(error)") }
            } catch {
                Issue.record("not a CodecError: \(error)")
            }
        }
        #expect(parsed + refused == cases)
        #expect(refused > cases * 5 / 6 && parsed > cases / 100, "parsed \(parsed), refused \(refused)")
        #expect(decoded > 0)
        #expect(slowest < 2, "slowest case took \(slowest) s")
    }
}
