import FlexEntropy
@testable import FlexCodec
import FlexImageIO
import FlexRuntime
import Foundation
import Testing

/// Small random learned codecs (no trained model exists yet): CodecArchitecture transforms with seeded weights,
/// discretised-Laplace tables per channel.
enum LearnedModels {
    static let fingerprint = "sha256:" + String(repeating: "ab", count: 32)
    static let reluNL = try! CodecNonlinearity.named("relu")

    static func make(_ nonlinearity: CodecNonlinearity, channels: Int = 8, latent: Int = 8, seed: UInt64 = 1,
                     bandPixels: Int = LearnedCodec.defaultBandPixels, chunkFloats: Int = LearnedCodec.defaultChunkFloats) -> LearnedCodec {
        let (a, s) = transforms(nonlinearity, channels: channels, latent: latent, seed: seed)
        return try! LearnedCodec(analysis: a.layers, synthesis: s.layers, medians: medians(latent), tables: tables(latent),
                                 fingerprint: fingerprint, model: "random.h5", bandPixels: bandPixels, chunkFloats: chunkFloats)
    }

    static func transforms(_ nonlinearity: CodecNonlinearity, channels: Int, latent: Int, seed: UInt64) -> (Sequential, Sequential) {
        let arch = CodecArchitecture(channels: channels, latentChannels: latent, nonlinearity: nonlinearity)
        let a = try! Sequential(specs: arch.analysis, inputShape: [3, 32, 32], seed: seed)
        let s = try! Sequential(specs: arch.synthesis, inputShape: [latent, 2, 2], seed: seed + 1)
        // Random weights give latents within about ±1: spread them over several symbols (and the synthesis
        // back) so the coder sees more than three values.
        let last = a.layers[a.layers.count - 1]
        last.parameters = last.parameters.map { Tensor(shape: $0.shape, scalars: $0.scalars.map { $0 * 20 }) }
        let first = s.layers[0]
        first.parameters[0] = Tensor(shape: first.parameters[0].shape, scalars: first.parameters[0].scalars.map { $0 / 20 })
        return (a, s)
    }

    /// Non-integer medians, so the rounding of y − median is exercised.
    static func medians(_ m: Int) -> [Float] { (0..<m).map { Float($0) * 0.37 - 1.1 } }

    /// A discretised Laplace of scale 1 + c/4 over −24…24 with 1e-3 tail mass, per channel.
    static func tables(_ m: Int) -> [CDFTable] {
        (0..<m).map { c in
            let b = 1 + Double(c) / 4
            let pmf = (-24...24).map { exp(-abs(Double($0)) / b) }
            return try! CDFTable(quantizing: pmf, minSymbol: -24, tailMass: 1e-3)
        }
    }
}

@Suite("learned codec: .flexz version 2")
struct LearnedCodecTests {
    static let gdn = LearnedModels.make(.gdn)
    static let relu = LearnedModels.make(LearnedModels.reluNL)

    /// x = p/255, edge-padded to multiples of 16, through the layers' own whole-image forward passes.
    static func directLatents(_ image: RasterImage, _ nonlinearity: CodecNonlinearity) throws -> Tensor {
        let (a, _) = LearnedModels.transforms(nonlinearity, channels: 8, latent: 8, seed: 1)
        let ph = (image.height + 15) / 16 * 16, pw = (image.width + 15) / 16 * 16
        var x = [Float](repeating: 0, count: 3 * ph * pw)
        for c in 0..<3 {
            for y in 0..<ph {
                for xx in 0..<pw {
                    let p = (min(y, image.height - 1) * image.width + min(xx, image.width - 1)) * image.channels
                    x[(c * ph + y) * pw + xx] = Float(image.pixels[p + (image.channels == 1 ? 0 : c)]) / 255
                }
            }
        }
        return try a.forward(Tensor(shape: [1, 3, ph, pw], scalars: x), layers: 0..<a.layers.count)
    }

    @Test func containerRoundTrip() throws {
        let image = testImage(width: 50, height: 37, channels: 3)
        let encoded = try Self.gdn.encode(image, name: "in.png", threads: 2)
        let f = try FlexzLearnedFile.parse(encoded.bytes, name: "out.flexz")
        #expect(f == encoded.file)
        #expect(f.serialized() == encoded.bytes)
        #expect(f.width == 50 && f.height == 37 && f.imageChannels == 3 && !f.alphaDropped)
        #expect(f.latentChannels == 8 && f.latentHeight == 3 && f.latentWidth == 4 && f.bandCount == 1)
        #expect(f.bandOverlap == 2)
        #expect(try FlexzFormat.version(of: encoded.bytes, name: "out.flexz") == 2)
        let decoded = try Self.gdn.decompress(encoded.bytes, name: "out.flexz", threads: 2)
        #expect(decoded.width == 50 && decoded.height == 37 && decoded.channels == 3)
        #expect(encoded.bitsPerPixel > encoded.payloadBitsPerPixel && encoded.payloadBitsPerPixel > 0)
        // Version 1's parser names the version it met.
        #expect(throws: CodecError.self) { try FlexzFile.parse(encoded.bytes, name: "out.flexz") }
    }

    /// The file's symbols are exactly round(y − median) of the whole-image analysis, and the decoded image is
    /// exactly the whole-image synthesis of q + median, rounded and clamped — through the row-chunked, threaded
    /// runner with small chunks.
    @Test(arguments: [CodecNonlinearity.gdn, LearnedModels.reluNL])
    func decodingReproducesTheQuantisedLatents(_ nl: CodecNonlinearity) throws {
        let image = testImage(width: 45, height: 70, channels: 3)
        let codec = LearnedModels.make(nl, chunkFloats: 3000)
        let f = try FlexzLearnedFile.parse(try codec.compress(image, threads: 3), name: "a.flexz")
        let symbols = try codec.decodeSymbols(f, name: "a.flexz", threads: 2)
        let y = try Self.directLatents(image, nl)
        #expect(y.shape == [1, 8, 5, 3])
        let medians = LearnedModels.medians(8)
        let expected = (0..<y.count).map { quantizedSymbol(y.scalars[$0], median: medians[$0 / 15]) }
        #expect(symbols == expected)
        #expect(Set(symbols).count >= 5, "the test latents should use several symbols: \(Set(symbols).sorted())")
        let (_, s) = LearnedModels.transforms(nl, channels: 8, latent: 8, seed: 1)
        let yhat = Tensor(shape: [1, 8, 5, 3], scalars: (0..<symbols.count).map { Float(symbols[$0]) + medians[$0 / 15] })
        let xhat = try s.forward(yhat, layers: 0..<s.layers.count)
        var expectedPixels = [UInt8](repeating: 0, count: 45 * 70 * 3)
        for y in 0..<70 { for x in 0..<45 { for c in 0..<3 { expectedPixels[(y * 45 + x) * 3 + c] = pixelValue(xhat.scalars[(c * 80 + y) * 48 + x]) } } }
        #expect(try codec.decompress(f, name: "a.flexz", threads: 3).pixels == expectedPixels)
    }

    /// Files and decoded images are the same for 1, 2 and 3 threads and any chunking.
    @Test func resultsDoNotDependOnThreadsOrChunks() throws {
        let image = testImage(width: 70, height: 52, channels: 3)
        for nl in [CodecNonlinearity.gdn, LearnedModels.reluNL] {
            let reference = LearnedModels.make(nl)
            let bytes = try reference.compress(image, threads: 1)
            let decoded = try reference.decompress(bytes, name: "r.flexz", threads: 1)
            for (threads, chunk) in [(2, LearnedCodec.defaultChunkFloats), (3, 1), (2, 5000), (1, 700)] {
                let codec = LearnedModels.make(nl, chunkFloats: chunk)
                #expect(try codec.compress(image, threads: threads) == bytes, "\(nl), \(threads) threads, chunks of \(chunk)")
                #expect(try codec.decompress(bytes, name: "r.flexz", threads: threads) == decoded, "\(nl), \(threads) threads, chunks of \(chunk)")
            }
        }
    }

    /// Banded coding (bands of 2 latent rows, 32 pixels, with 2 rows of context) gives the whole-image
    /// latents and pixels exactly.
    @Test(arguments: [CodecNonlinearity.gdn, LearnedModels.reluNL])
    func bandsMatchTheWholeImage(_ nl: CodecNonlinearity) throws {
        let image = testImage(width: 83, height: 150, channels: 3)  // 10 × 6 latents
        let whole = LearnedModels.make(nl)
        let banded = LearnedModels.make(nl, bandPixels: 2 * 16 * 96)
        let wf = try FlexzLearnedFile.parse(try whole.compress(image, threads: 2), name: "w.flexz")
        let bf = try FlexzLearnedFile.parse(try banded.compress(image, threads: 2), name: "b.flexz")
        #expect(wf.bandCount == 1 && bf.bandCount == 5 && bf.bandHeight == 2)
        #expect(try whole.decodeSymbols(wf, name: "w", threads: 1) == banded.decodeSymbols(bf, name: "b", threads: 2))
        let a = try whole.decompress(wf, name: "w", threads: 2), b = try banded.decompress(bf, name: "b", threads: 2)
        let maxDiff = zip(a.pixels, b.pixels).map { abs(Int($0) - Int($1)) }.max() ?? 0
        let psnr = imageDistortion(a, b).psnr
        print("learned codec \(nl): banded vs whole-image reconstruction: PSNR \(psnr) dB, max |difference| \(maxDiff)")
        #expect(maxDiff == 0 && psnr == .infinity)
        // Either codec decodes the other's file to the same image (the band layout is in the file).
        #expect(try whole.decompress(bf, name: "b", threads: 1) == a)
    }

    /// A gray image is coded as RGB with equal channels, decodes as gray (the rounded mean of the decoded
    /// channels), and costs no more than its RGB copy.
    @Test func grayImages() throws {
        let gray = testImage(width: 40, height: 33, channels: 1)
        let rgb = gray.converted(toChannels: 3)
        let g = try Self.relu.encode(gray, name: "g.png", threads: 2), c = try Self.relu.encode(rgb, name: "c.png", threads: 2)
        #expect(g.file.imageChannels == 1 && g.notes.count == 1)
        #expect(g.bytes.count <= c.bytes.count)
        #expect(g.file.bandStreams == c.file.bandStreams)
        let dg = try Self.relu.decompress(g.bytes, name: "g.flexz"), dc = try Self.relu.decompress(c.bytes, name: "c.flexz")
        #expect(dg.channels == 1 && dg.width == 40 && dg.height == 33)
        for i in 0..<(40 * 33) {
            let mean = (Int(dc.pixels[3 * i]) + Int(dc.pixels[3 * i + 1]) + Int(dc.pixels[3 * i + 2]) + 1) / 3
            if Int(dg.pixels[i]) != mean { Issue.record("pixel \(i): \(dg.pixels[i]), expected \(mean)"); break }
        }
    }

    @Test func alphaIsDroppedAndFlagged() throws {
        let rgb = testImage(width: 20, height: 17, channels: 3)
        var rgba: [UInt8] = []
        for i in 0..<(20 * 17) { rgba += rgb.pixels[(3 * i)..<(3 * i + 3)] + [UInt8(i % 256)] }
        let e = try Self.gdn.encode(RasterImage(width: 20, height: 17, channels: 4, pixels: rgba), name: "a.png", threads: 1)
        #expect(e.file.alphaDropped && e.file.imageChannels == 3 && e.notes.contains { $0.contains("alpha") })
        #expect(e.file.bandStreams == (try Self.gdn.encode(rgb, name: "b.png", threads: 1)).file.bandStreams)
        #expect(try Self.gdn.decompress(e.bytes, name: "a.flexz").channels == 3)
    }

    @Test func badModels() {
        let (a, s) = LearnedModels.transforms(.gdn, channels: 8, latent: 8, seed: 1)
        func message(_ analysis: [any Layer], _ synthesis: [any Layer], medians: Int = 8, fingerprint: String = LearnedModels.fingerprint) -> String {
            do {
                _ = try LearnedCodec(analysis: analysis, synthesis: synthesis, medians: LearnedModels.medians(medians),
                                     tables: LearnedModels.tables(8), fingerprint: fingerprint, model: "m.h5")
                return ""
            } catch { return error.description }
        }
        #expect(message(a.layers, s.layers, medians: 7).hasPrefix("m.h5: the entropy model has 7 medians and 8 tables; the transforms have 8 latent channels"))
        #expect(message(a.layers, s.layers, fingerprint: "sha256:12").contains("fingerprint"))
        #expect(message(Array(a.layers.dropLast()), s.layers).contains("1/16 of the size"))
        #expect(message(a.layers, a.layers).contains("synthesis"))
        #expect(message(a.layers, s.layers) == "")
    }

    /// The tiled runner equals the layers' own whole-image forward pass bit for bit, for other kernel, stride,
    /// padding and output-padding combinations too (output padding above the padding leaves bias-only rows and
    /// columns), any tile size and thread count.
    @Test func tiledLayersMatchTheWholeForwardPass() throws {
        let relu = try ActivationFunction.member("relu")
        let specs: [LayerSpec] = [
            .conv2d(inChannels: 3, outChannels: 5, kernel: 3, stride: 1, padding: 1),
            .activation(relu, units: 5),
            .conv2d(inChannels: 5, outChannels: 4, kernel: 4, stride: 2, padding: 0),
            .gdn(channels: 4, inverse: false),
            .convTranspose2d(inChannels: 4, outChannels: 3, kernel: 3, stride: 2, padding: 1, outputPadding: 1),
            .convTranspose2d(inChannels: 3, outChannels: 2, kernel: 2, stride: 2, padding: 0, outputPadding: 1),
            .conv2d(inChannels: 2, outChannels: 2, kernel: 5, stride: 3, padding: 2),
        ]
        let model = try Sequential(specs: specs, inputShape: [3, 23, 17], seed: 9)
        var rng = SplitMix64(seed: 10)
        let x = Tensor(shape: [1, 3, 23, 17], scalars: (0..<(3 * 23 * 17)).map { _ in rng.uniform(-1, 1) })
        let expected = try model.forward(x)
        for (chunk, threads) in [(1, 1), (1, 3), (40, 2), (300, 2), (1 << 20, 1)] {
            let y = try TiledTransform(layers: model.layers, chunkFloats: chunk).forward(x, threads: threads)
            #expect(y == expected, "chunks of \(chunk) floats, \(threads) threads")
        }
    }

    // MARK: Hostile files

    static let valid: [UInt8] = try! LearnedModels.make(.gdn, bandPixels: 2 * 16 * 48).compress(testImage(width: 40, height: 70, channels: 3), threads: 1)

    static func message(_ bytes: [UInt8], codec: LearnedCodec = gdn) -> String {
        do { _ = try codec.decompress(bytes, name: "in.flexz", threads: 2); return "" } catch { return error.description }
    }

    static func withCRC(_ b: [UInt8]) -> [UInt8] {
        var b = b
        guard b.count >= 4 else { return b }
        let end = b.count - 4
        let crc = Zlib.crc32(b[0..<end])
        for i in 0..<4 { b[end + i] = UInt8(crc >> (8 * UInt32(i)) & 0xFF) }
        return b
    }

    @Test func badFiles() throws {
        let v = Self.valid
        let f = try FlexzLearnedFile.parse(v, name: "in.flexz")
        #expect(f.bandCount == 3 && f.bandHeight == 2)
        #expect(Self.message([]) == "in.flexz: empty file (0 bytes); expected a .flexz file")
        #expect(Self.message(Array("PNG".utf8)).contains("magic"))
        for cut in [9, 40, 71, 74, 80, v.count - 5, v.count - 1] {
            #expect(Self.message(Array(v.prefix(cut))).contains("truncated"), "cut at \(cut): \(Self.message(Array(v.prefix(cut))))")
        }
        #expect(Self.message(v + [0]) == "in.flexz: 1 unexpected bytes after the CRC (byte \(v.count))")
        var crc = v; crc[60 + 20] ^= 1
        #expect(Self.message(crc).contains("CRC mismatch"))
        func patched(_ o: Int, _ value: Int, bytes: Int = 2) -> String {
            var b = v
            for i in 0..<bytes { b[o + i] = UInt8(value >> (8 * i) & 0xFF) }
            return Self.message(Self.withCRC(b))
        }
        #expect(patched(8, 3).contains("format version 3 (bytes 8–9); expected 2"))
        #expect(patched(10, 80) == "in.flexz: header size (bytes 10–11) = 80; expected 72")
        #expect(patched(44, 0, bytes: 4).contains("image size 0×70"))
        #expect(patched(52, 2, bytes: 1) == "in.flexz: image channels (byte 52) = 2; expected 1 or 3")
        #expect(patched(53, 2, bytes: 1).contains("flags (byte 53) = 2"))
        #expect(patched(54, 1).contains("reserved bytes 54–55"))
        #expect(patched(68, 1, bytes: 4).contains("reserved bytes 68–71"))
        #expect(patched(58, 4) == "in.flexz: latent grid (bytes 58–61) is 4×3; a 40×70 image needs ⌈H/16⌉×⌈W/16⌉ = 5×3")
        #expect(patched(56, 0) == "in.flexz: latent channels (bytes 56–57) = 0; expected at least 1")
        #expect(patched(56, 9) == "in.flexz: the file has 9 latent channels (bytes 56–57); this model has 8")
        #expect(patched(62, 6).contains("band height (bytes 62–63) = 6 latent rows; expected 1…5"))
        #expect(patched(64, 65).contains("band overlap (bytes 64–65) = 65"))
        #expect(patched(66, 2) == "in.flexz: band count (bytes 66–67) = 2; 5 latent rows in bands of 2 make 3")
        #expect(patched(72, 3, bytes: 4).contains("band 0's stream size (bytes 72–75) = 3"))
        #expect(patched(72, 0x7FFF_FFFF, bytes: 4).contains("truncated: band 0's stream"))
        #expect(patched(12, 0xCD, bytes: 1).contains("the file needs the model sha256:cdab"))
        // A corrupt stream with a correct CRC: the rANS decoder's check names the band.
        var stream = v; stream[80] ^= 0x5A
        let m = Self.message(Self.withCRC(stream))
        #expect(m.hasPrefix("in.flexz: band 0 (latent rows 0..<2): corrupt rANS stream") || m.isEmpty, "\(m)")
        #expect(throws: CodecError.self) { try FlexzFormat.version(of: Self.withCRC({ var b = v; b[8] = 7; return b }()), name: "x") }
    }

    /// Offsets of the header's fields and the first band's size.
    static let fields = [8, 10, 44, 46, 48, 50, 52, 53, 54, 56, 58, 60, 62, 64, 66, 68, 72, 76]

    /// Mutants of a valid three-band file (bit flips, bytes set, interesting values in the header fields and
    /// stream sizes, ranges inserted, deleted and duplicated, truncation; half with a corrected CRC so they reach
    /// the stream decoder and the synthesis) and random files: parsing and decoding never crash, and each file
    /// either decodes to an image of its declared size or gives one `CodecError` naming the file.
    @Test func fuzzedFilesNeverCrash() throws {
        var rng = SplitMix64(seed: 11)
        var mutator = Mutator(seed: 12)
        let v = Self.valid
        let cases = fuzzCases(20_000)
        var decoded = 0, refused = 0, streamErrors = 0
        let slowest = slowestCase(cases) { i in
            var b: [UInt8]
            if i % 8 == 0 {
                b = (0..<Int(rng.next() % 200)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
                if rng.next() % 2 == 0 { b = FlexzFile.magic + [2, 0, 72, 0] + b }
            } else {
                b = v
                mutator.mutate(&b, endian: .little, fields: Self.fields)
                if rng.next() % 2 == 0 { b = Self.withCRC(b) }
            }
            do throws(CodecError) {
                let f = try FlexzLearnedFile.parse(b, name: "fuzz.flexz")
                let image = try Self.gdn.decompress(f, name: "fuzz.flexz", threads: 2)
                if image.width != f.width || image.height != f.height || image.channels != f.imageChannels {
                    Issue.record("decoded \(image.width)×\(image.height)×\(image.channels) from a \(f.width)×\(f.height)×\(f.imageChannels) file")
                }
                decoded += 1
            } catch {
                if error.file != "fuzz.flexz" || error.message.isEmpty { Issue.record("unclear error: \(error)") }
                if error.message.contains("rANS") { streamErrors += 1 }
                refused += 1
            }
        }
        print("learned .flexz fuzz: \(cases) cases, \(decoded) decoded, \(refused) refused (\(streamErrors) by the stream decoder), slowest \(slowest) s")
        #expect(decoded + refused == cases)
        // Most mutants with a correct CRC reach the rANS decoder, which refuses nearly all changed streams.
        #expect(decoded > 0 && streamErrors > cases / 100 && refused > cases / 2, "decoded \(decoded), refused \(refused), \(streamErrors) by the stream decoder")
        #expect(slowest < 2)
    }

    // MARK: Speed (release builds; FLEXCTL_CODEC_BENCH=N,M)

    /// Times compress and decompress of a 768×512 image with a random N/M model on 2 threads. Run with
    /// `FLEXCTL_CODEC_BENCH=128,192 swift test -c release --filter learnedCodecSpeed`.
    @Test func learnedCodecSpeed() throws {
        guard let spec = ProcessInfo.processInfo.environment["FLEXCTL_CODEC_BENCH"] else { return }
        let parts = spec.split(separator: ",").compactMap { Int($0) }
        let n = parts.first ?? 128, m = parts.count > 1 ? parts[1] : 192
        let width = parts.count > 3 ? parts[2] : 768, height = parts.count > 3 ? parts[3] : 512
        for nl in [CodecNonlinearity.gdn, LearnedModels.reluNL] {
            let codec = LearnedModels.make(nl, channels: n, latent: m)
            let image = testImage(width: width, height: height, channels: 3)
            var bytes: [UInt8] = []
            var t = MonotonicClock.nanoseconds()
            bytes = try codec.compress(image, threads: 2)
            let c = Double(MonotonicClock.nanoseconds() - t) / 1e9
            t = MonotonicClock.nanoseconds()
            _ = try codec.decompress(bytes, name: "b.flexz", threads: 2)
            let d = Double(MonotonicClock.nanoseconds() - t) / 1e9
            print("learned codec N=\(n) M=\(m) \(nl) \(width)×\(height), 2 threads: compress \(c) s, decompress \(d) s, \(bytes.count) bytes")
        }
    }
}
