@testable import FlexCodec
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

    /// Fuzzing: random files and mutations of a valid one (bytes flipped, inserted, deleted, truncated;
    /// half of the mutants get a correct CRC so they reach the deeper checks). Parsing never crashes and
    /// either succeeds or throws a `CodecError` naming the file.
    @Test func fuzzedFilesNeverCrash() throws {
        var rng = SplitMix64(seed: 2026)
        let v = Self.valid
        var parsed = 0, refused = 0
        for i in 0..<300_000 {
            var b: [UInt8]
            switch i % 4 {
            case 0:
                b = (0..<Int(rng.next() % 200)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
                if rng.next() % 2 == 0 { b = FlexzFile.magic + b }
            default:
                b = v
                for _ in 0..<(1 + Int(rng.next() % 4)) {
                    guard !b.isEmpty else { break }
                    let p = Int(rng.next() % UInt64(b.count))
                    switch rng.next() % 4 {
                    case 0: b[p] ^= UInt8(truncatingIfNeeded: rng.next() | 1)
                    case 1: b.insert(UInt8(truncatingIfNeeded: rng.next()), at: p)
                    case 2: b.remove(at: p)
                    default: b = Array(b.prefix(p))
                    }
                }
                if rng.next() % 2 == 0, b.count >= 8 { b = Self.withCRC(b) }
            }
            do {
                _ = try FlexzFile.parse(b, name: "fuzz.flexz")
                parsed += 1
            } catch {
                #expect(error.file == "fuzz.flexz" && !error.message.isEmpty)
                refused += 1
            }
        }
        #expect(parsed + refused == 300_000)
        #expect(refused > 250_000)
    }
}
