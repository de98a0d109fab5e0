// The C API's functions called directly (they are plain Swift functions too): every bad input returns its
// status and a message, and the results equal the Swift libraries' own.

import FlexCodec
import FlexData
import FlexForecast
import FlexRuntime
import FlexctlCAPI
import Foundation
import Testing

/// The repository root (this file is Tests/FlexCAPITests/CAPITests.swift).
let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().path
let caeModel = repositoryRoot + "/models/cae2-p-e2-relu-fashion-mnist.h5"
let rgbModel = repositoryRoot + "/models/cae3-p-e2-id-photos.h5"
let lstmModel = repositoryRoot + "/models/lstm-p-sig-ramp-4-indices.h5"
let pricesCSV = repositoryRoot + "/examples/data/four-indices.csv"
/// In the shipped forecaster's feature order.
let sampleSeries = ["S&P_ASX All Australian 200 Historical Data.csv", "FTSE 100.csv", "KOSPI Historical Data.csv",
                    "RTSI Historical Data.csv"].map { repositoryRoot + "/samples/series/" + $0 }

/// A status and the message of one call (the message freed).
struct Outcome {
    var status: Int32
    var message: String?
}

func call(_ body: (UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> Int32) -> Outcome {
    var message: UnsafeMutablePointer<CChar>?
    let status = body(&message)
    defer { free(message) }
    return Outcome(status: status, message: message.map { String(cString: $0) })
}

/// Opens a model (the test fails if it cannot).
func openModel(_ path: String, threads: Int32 = 1) throws -> OpaquePointer {
    var model: OpaquePointer?
    let r = call { flexctl_model_open(path, threads, &model, $0) }
    #expect(r.status == 0, "\(r.message ?? "")")
    return try #require(model)
}

/// Expects `status` and a message containing every part.
func expectFailure(_ r: Outcome, _ status: Int32, _ parts: [String], sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(r.status == status, "status \(r.status), message \(r.message ?? "nil")", sourceLocation: sourceLocation)
    for p in parts {
        #expect(r.message?.contains(p) == true, "\(r.message ?? "nil") lacks \(p)", sourceLocation: sourceLocation)
    }
}

/// The prices of examples/data/four-indices.csv, row-major (rows × 4).
func examplePrices() throws -> (values: [Double], rows: Int, header: [String]) {
    let lines = try String(contentsOfFile: pricesCSV, encoding: .utf8).split(separator: "\n")
    let header = lines[0].split(separator: ",").dropFirst().map(String.init)
    var values: [Double] = []
    for line in lines.dropFirst() { values += try line.split(separator: ",").dropFirst().map { try #require(Double($0)) } }
    return (values, lines.count - 1, header)
}

@Suite("C API: bad inputs return statuses and messages")
struct CAPIBadInputTests {
    @Test("opening: NULL, missing, a folder, not a checkpoint, empty and huge memory, bad threads")
    func opening() throws {
        var model: OpaquePointer?
        expectFailure(call { flexctl_model_open(nil, 1, &model, $0) }, 1, ["path is NULL"])
        expectFailure(call { flexctl_model_open(caeModel, 1, nil, $0) }, 1, ["out_model is NULL"])
        expectFailure(call { flexctl_model_open("/nonexistent/m.h5", 1, &model, $0) }, 2, ["/nonexistent/m.h5", "no such file"])
        expectFailure(call { flexctl_model_open(repositoryRoot + "/models", 1, &model, $0) }, 2, ["is a directory"])
        expectFailure(call { flexctl_model_open(repositoryRoot + "/samples/images/mnist-digit-7.png", 1, &model, $0) }, 3,
                      ["mnist-digit-7.png", "not an HDF5 file"])
        expectFailure(call { flexctl_model_open(caeModel, -1, &model, $0) }, 1, ["threads"])
        expectFailure(call { flexctl_model_open(caeModel, 5000, &model, $0) }, 1, ["threads"])
        #expect(model == nil)
        let junk: [UInt8] = Array("not a checkpoint at all".utf8)
        expectFailure(call { flexctl_model_open_memory(nil, 10, "x", 1, &model, $0) }, 1, ["bytes is NULL"])
        expectFailure(call { flexctl_model_open_memory(junk, 0, "x", 1, &model, $0) }, 1, ["size is 0"])
        expectFailure(call { flexctl_model_open_memory(junk, Int(bitPattern: UInt.max), "x", 1, &model, $0) }, 1, ["too large"])
        expectFailure(call { flexctl_model_open_memory(junk, Int.max, "x", 1, &model, $0) }, 7, ["limited"])
        expectFailure(call { flexctl_model_open_memory(junk, junk.count, "junk.bin", 1, &model, $0) }, 3, ["junk.bin", "HDF5"])
        // A truncated checkpoint in memory.
        let bytes = try Array(Data(contentsOf: URL(fileURLWithPath: caeModel)))
        expectFailure(call { flexctl_model_open_memory(bytes, bytes.count / 2, nil, 1, &model, $0) }, 3, ["<memory>"])
        #expect(model == nil)
        // The same bytes whole open; NULL message pointers are allowed.
        #expect(flexctl_model_open_memory(bytes, bytes.count, nil, 1, &model, nil) == 0)
        flexctl_model_close(model)
        flexctl_model_close(nil)
    }

    @Test("describe and series info: NULL arguments, the wrong task")
    func describeErrors() throws {
        let cae = try openModel(caeModel)
        defer { flexctl_model_close(cae) }
        var json: UnsafeMutablePointer<CChar>?
        expectFailure(call { flexctl_model_describe(nil, &json, $0) }, 1, ["model is NULL"])
        expectFailure(call { flexctl_model_describe(cae, nil, $0) }, 1, ["out_json is NULL"])
        var n = 7
        expectFailure(call { flexctl_model_series_info(cae, &n, nil, nil, nil, $0) }, 4, ["needs a forecaster"])
        #expect(n == 0)
    }

    @Test("compress: NULL, zero and huge sizes, channels, stride, bits, overflow, the wrong task")
    func compressErrors() throws {
        let cae = try openModel(caeModel), lstm = try openModel(lstmModel)
        defer { flexctl_model_close(cae); flexctl_model_close(lstm) }
        let px = [UInt8](repeating: 128, count: 64 * 64 * 3)
        var out: UnsafeMutablePointer<UInt8>?
        var size = 0
        func compress(_ m: OpaquePointer?, _ p: [UInt8]?, _ w: Int, _ h: Int, _ c: Int, _ s: Int, _ bits: Int32) -> Outcome {
            call { e in
                if let p { return flexctl_compress(m, p, w, h, c, s, bits, &out, &size, e) }
                return flexctl_compress(m, nil, w, h, c, s, bits, &out, &size, e)
            }
        }
        expectFailure(compress(nil, px, 8, 8, 1, 8, 8), 1, ["model is NULL"])
        expectFailure(compress(cae, nil, 8, 8, 1, 8, 8), 1, ["pixels is NULL"])
        expectFailure(compress(cae, px, 0, 8, 1, 8, 8), 1, ["width and height must be at least 1"])
        expectFailure(compress(cae, px, 8, 0, 1, 8, 8), 1, ["at least 1"])
        expectFailure(compress(cae, px, 8, 8, 2, 16, 8), 1, ["channels: expected 1 (gray) or 3 (RGB), found 2"])
        expectFailure(compress(cae, px, 8, 8, 3, 23, 8), 1, ["stride 23 is less than width × channels = 24"])
        expectFailure(compress(cae, px, 8, 8, 1, 8, 0), 1, ["bits: expected 1...16, found 0"])
        expectFailure(compress(cae, px, 8, 8, 1, 8, 17), 1, ["found 17"])
        expectFailure(compress(cae, px, Int.max / 2, 8, 3, Int.max, 8), 1, ["overflows"])
        expectFailure(compress(cae, px, 100_000, 8, 1, 100_000, 8), 7, ["limited to"])
        expectFailure(compress(cae, px, 8, -1, 1, 8, 8), 1, ["height", "too large"])
        expectFailure(compress(lstm, px, 8, 8, 1, 8, 8), 4, ["compress needs an image auto-encoder"])
        expectFailure(call { flexctl_compress(cae, px, 8, 8, 1, 8, 8, nil, &size, $0) }, 1, ["out_bytes is NULL"])
        #expect(out == nil && size == 0)
    }

    @Test("decompress: NULL, empty, truncated, damaged, another model's file, the wrong task")
    func decompressErrors() throws {
        let cae = try openModel(caeModel), rgb = try openModel(rgbModel), lstm = try openModel(lstmModel)
        defer { flexctl_model_close(cae); flexctl_model_close(rgb); flexctl_model_close(lstm) }
        let px = (0..<(30 * 20)).map { UInt8($0 % 251) }
        var flexz: UnsafeMutablePointer<UInt8>?
        var n = 0
        #expect(flexctl_compress(cae, px, 30, 20, 1, 30, 8, &flexz, &n, nil) == 0)
        let file = Array(UnsafeBufferPointer(start: try #require(flexz), count: n))
        free(flexz)
        var out: UnsafeMutablePointer<UInt8>?
        var w = 0, h = 0, c = 0
        func decompress(_ m: OpaquePointer?, _ bytes: [UInt8], count: Int? = nil) -> Outcome {
            call { flexctl_decompress(m, bytes, count ?? bytes.count, &out, &w, &h, &c, $0) }
        }
        expectFailure(call { flexctl_decompress(cae, nil, 10, &out, &w, &h, &c, $0) }, 1, ["bytes is NULL"])
        expectFailure(decompress(cae, file, count: 0), 1, ["size is 0"])
        expectFailure(decompress(cae, file, count: Int(bitPattern: UInt.max - 3)), 1, ["too large"])
        expectFailure(decompress(cae, file, count: Int.max), 7, ["limit"])
        for cut in [1, 8, 20, file.count / 2, file.count - 1] {
            expectFailure(decompress(cae, Array(file.prefix(cut))), 5, ["<.flexz data>"])
        }
        var damaged = file
        damaged[damaged.count - 5] ^= 0xFF
        expectFailure(decompress(cae, damaged), 5, [])
        expectFailure(decompress(cae, Array("PNG? no.".utf8)), 5, [])
        expectFailure(decompress(rgb, file), 6, ["was compressed with the model"])
        expectFailure(decompress(lstm, file), 4, ["decompress needs an image auto-encoder"])
        expectFailure(call { flexctl_decompress(cae, file, file.count, &out, nil, &h, &c, $0) }, 1, ["out_width is NULL"])
        #expect(out == nil && w == 0 && h == 0 && c == 0)
    }

    @Test("forecast: NULL, zero and huge sizes, series count, too few rows, NaN, steps, kind, the wrong task")
    func forecastErrors() throws {
        let cae = try openModel(caeModel), lstm = try openModel(lstmModel)
        defer { flexctl_model_close(cae); flexctl_model_close(lstm) }
        let (prices, rows, _) = try examplePrices()
        var values: UnsafeMutablePointer<Double>?, levels: UnsafeMutablePointer<Double>?
        var targets = 0
        func forecast(_ m: OpaquePointer?, _ v: [Double], rows: Int, series: Int = 4, kind: Int32 = 0, steps: Int = 1) -> Outcome {
            call { flexctl_forecast(m, v, rows, series, kind, steps, &values, &levels, &targets, $0) }
        }
        expectFailure(call { flexctl_forecast(lstm, nil, rows, 4, 0, 1, &values, &levels, &targets, $0) }, 1, ["values is NULL"])
        expectFailure(forecast(lstm, prices, rows: 0), 1, ["rows is 0"])
        expectFailure(forecast(lstm, prices, rows: rows, series: 3), 1, ["the model reads 4 series", "found 3"])
        expectFailure(forecast(lstm, prices, rows: Int.max / 2), 1, ["overflows"])
        expectFailure(forecast(lstm, prices, rows: Int.max / 8), 7, ["limit"])
        expectFailure(forecast(lstm, prices, rows: -5), 1, ["rows", "too large"])
        expectFailure(forecast(lstm, prices, rows: rows, steps: 0), 1, ["steps: expected 1...1000, found 0"])
        expectFailure(forecast(lstm, prices, rows: rows, steps: 1001), 1, ["found 1001"])
        expectFailure(forecast(lstm, prices, rows: rows, kind: 2), 1, ["kind"])
        expectFailure(forecast(lstm, Array(prices.prefix(4 * 5)), rows: 5), 5, ["too few rows"])
        expectFailure(forecast(lstm, Array(prices.prefix(4 * 5)), rows: 5, kind: 1), 5, ["too few rows"])
        var bad = prices
        bad[4 * 100 + 2] = .nan
        expectFailure(forecast(lstm, bad, rows: rows), 5, ["'KOSPI', row 100", "finite"])
        bad[4 * 100 + 2] = -3
        expectFailure(forecast(lstm, bad, rows: rows), 5, [])
        expectFailure(forecast(cae, prices, rows: rows), 4, ["forecasting needs a forecaster"])
        expectFailure(call { flexctl_forecast(lstm, prices, rows, 4, 0, 1, nil, &levels, &targets, $0) }, 1, ["out_values is NULL"])
        #expect(values == nil && levels == nil && targets == 0)
    }

    @Test("status names and the version are static strings")
    func names() {
        #expect(String(cString: flexctl_status_name(0)) == "ok")
        #expect(String(cString: flexctl_status_name(5)) == "invalid data")
        #expect(String(cString: flexctl_status_name(99)) == "unknown status")
        #expect(String(cString: flexctl_version()) == Checkpoint.currentFlexctlVersion)
    }
}

@Suite("C API: results equal the Swift libraries'")
struct CAPIResultTests {
    @Test("describe: the runtime's checkpoint description (inspect's document), byte for byte; its fields")
    func describe() throws {
        for (path, task) in [(caeModel, "image-autoencoder"), (lstmModel, "forecaster")] {
            let m = try openModel(path)
            defer { flexctl_model_close(m) }
            var json: UnsafeMutablePointer<CChar>?
            #expect(flexctl_model_describe(m, &json, nil) == 0)
            let text = String(cString: try #require(json))
            free(json)
            let checkpoint = try Checkpoint.read(from: path)
            // The same document `flexctl inspect --format json` prints (InspectCommandTests checks that side).
            #expect(text == (try CheckpointDescription(checkpoint: checkpoint, file: path).json))
            let object = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
            let model = try checkpoint.makeModel()
            #expect(object["kind"] as? String == "checkpoint")
            #expect(object["schema_version"] as? Int == JSONOutput.schemaVersion)
            #expect(object["file"] as? String == path)
            #expect(object["task"] as? String == task)
            #expect(object["fingerprint"] as? String == checkpoint.fingerprint)
            #expect(object["format_version"] as? Int == checkpoint.formatVersion)
            #expect(object["flexctl_version"] as? String == checkpoint.flexctlVersion)
            #expect(object["total_parameters"] as? Int == model.parameterCount)
            #expect(object["input_shape"] as? [Int] == model.inputShape)
            #expect(object["output_shape"] as? [Int] == model.outputShape)
            let slots = try #require(object["activations"] as? [[String: Any]])
            let statistics = model.activationStatistics(bins: 10)
            #expect(slots.map { $0["member"] as? String ?? "?" } == statistics.map(\.member))
            #expect(slots.map { $0["slot"] as? String ?? "?" } == statistics.map(\.path))
            #expect(slots.map { $0["units"] as? Int ?? -1 } == statistics.map(\.units))
            #expect(!slots.isEmpty)
            let input = try #require(object["input"] as? [String: Any])
            if task == "forecaster" {
                #expect(input["kind"] as? String == "series")
                #expect(input["code_shape"] == nil)
                guard case let .series(spec) = checkpoint.input else { Issue.record("not a series spec"); return }
                #expect(input["features"] as? [String] == spec.features)
                #expect(input["targets"] as? [String] == spec.targets)
                #expect(input["window"] as? Int == spec.window)
                #expect(input["horizon"] as? Int == spec.horizon)
                #expect(input["transform"] as? String == spec.transform.rawValue)
                var f = 0, t = 0, w = 0, h = 0
                #expect(flexctl_model_series_info(m, &f, &t, &w, &h, nil) == 0)
                let info: [Int] = [f, t, w, h]
                let want: [Int] = [spec.features.count, spec.targets.count, spec.window, spec.horizon]
                #expect(info == want)
            } else {
                #expect(input["kind"] as? String == "image")
                let session = try ImageCodecSession(checkpoint: checkpoint, threads: 1)
                #expect(input["code_shape"] as? [Int] == session.codeShape)
                #expect([input["channels"], input["height"], input["width"]].map { $0 as? Int } == session.inputShape)
                #expect(input["pixel_scaling"] as? String == session.input.pixelScaling.rawValue)
                #expect(input["features"] == nil)
            }
        }
    }

    @Test("describe from memory: `file` is the name given to flexctl_model_open_memory, else <memory>")
    func describeFromMemory() throws {
        let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: lstmModel)))
        for (name, expected) in [("my model", "my model"), (nil, "<memory>")] as [(String?, String)] {
            var model: OpaquePointer?
            let r = bytes.withUnsafeBytes { b in
                call { message in
                    if let name {
                        name.withCString { flexctl_model_open_memory(b.baseAddress, b.count, $0, 1, &model, message) }
                    } else {
                        flexctl_model_open_memory(b.baseAddress, b.count, nil, 1, &model, message)
                    }
                }
            }
            #expect(r.status == 0, "\(r.message ?? "")")
            let m = try #require(model)
            defer { flexctl_model_close(m) }
            var json: UnsafeMutablePointer<CChar>?
            #expect(flexctl_model_describe(m, &json, nil) == 0)
            let text = String(cString: try #require(json))
            free(json)
            let checkpoint = try Checkpoint.read(from: lstmModel)
            #expect(text == (try CheckpointDescription(checkpoint: checkpoint, file: expected).json))
        }
    }

    @Test("flexctl.h's FLEXCTL_DESCRIBE_SCHEMA_VERSION is the documents' schema version")
    func schemaVersionMacro() throws {
        let header = try String(contentsOfFile: repositoryRoot + "/Sources/CFlexctl/include/flexctl.h", encoding: .utf8)
        let line = try #require(header.split(separator: "\n").first { $0.hasPrefix("#define FLEXCTL_DESCRIBE_SCHEMA_VERSION ") })
        #expect(Int(line.split(separator: " ").last ?? "") == JSONOutput.schemaVersion, "\(line)")
    }

    @Test("compress gives the bytes ImageCodec gives; decompress the image it gives (gray and RGB, with stride)")
    func codecRoundTrip() throws {
        for (path, channels) in [(caeModel, 1), (rgbModel, 3)] {
            let m = try openModel(path)
            defer { flexctl_model_close(m) }
            let width = 45, height = 31, stride = width * channels + 7
            var padded = [UInt8](repeating: 0xEE, count: stride * height)
            var packed: [UInt8] = []
            for y in 0..<height {
                for x in 0..<(width * channels) {
                    let v = UInt8((x * 7 + y * 13 + (x * y) % 17) % 256)
                    padded[y * stride + x] = v
                    packed.append(v)
                }
            }
            var out: UnsafeMutablePointer<UInt8>?
            var n = 0
            let r = call { flexctl_compress(m, padded, width, height, channels, stride, 6, &out, &n, $0) }
            #expect(r.status == 0, "\(r.message ?? "")")
            let bytes = Array(UnsafeBufferPointer(start: try #require(out), count: n))
            free(out)
            let checkpoint = try Checkpoint.read(from: path)
            let codec = try ImageCodec(checkpoint: checkpoint, file: path, threads: 1)
            let image = RasterImage(width: width, height: height, channels: channels, pixels: packed)
            let expected = try codec.compress(image, bits: 6, fingerprint: checkpoint.fingerprint).file
            #expect(bytes == expected.serialized())
            var pixels: UnsafeMutablePointer<UInt8>?
            var w = 0, h = 0, c = 0
            #expect(flexctl_decompress(m, bytes, bytes.count, &pixels, &w, &h, &c, nil) == 0)
            let decoded = Array(UnsafeBufferPointer(start: try #require(pixels), count: w * h * c))
            free(pixels)
            let reference = try codec.decompress(expected, name: "x")
            let size: [Int] = [w, h, c]
            let want: [Int] = [width, height, channels]
            #expect(size == want)
            #expect(decoded == reference.pixels)
        }
    }

    @Test("forecast from prices equals the engine on the sample files; from returns, the same values")
    func forecast() throws {
        let m = try openModel(lstmModel)
        defer { flexctl_model_close(m) }
        let (prices, rows, header) = try examplePrices()
        let model = try ForecastEngine.loadModel(lstmModel, threads: 1)
        let session = model.session
        #expect(header == session.features)
        let resolved = try ForecastEngine.resolveSeries(features: session.features, files: sampleSeries, mappings: [])
        let input = try ForecastInput.prepare(series: resolved.series, spec: session.input)
        for steps in [1, 3] {
            let expected = try ForecastEngine.forecast(session: session, input: input, steps: steps)
            var values: UnsafeMutablePointer<Double>?, levels: UnsafeMutablePointer<Double>?
            var targets = 0
            let r = call { flexctl_forecast(m, prices, rows, 4, 0, steps, &values, &levels, &targets, $0) }
            #expect(r.status == 0, "\(r.message ?? "")")
            #expect(targets == session.targets.count)
            let v = Array(UnsafeBufferPointer(start: try #require(values), count: steps * targets))
            let l = Array(UnsafeBufferPointer(start: try #require(levels), count: steps * targets))
            free(values)
            free(levels)
            let expectedValues = expected.values.flatMap { $0 }
            let expectedLevels = expected.levels.flatMap { $0.map { $0 ?? .nan } }
            #expect(v == expectedValues)
            #expect(l == expectedLevels)
            // The same rows as returns (the transform applied here): the same forecasts, no levels.
            var returns: [Double] = []
            for i in 1..<rows { for j in 0..<4 { returns.append(prices[i * 4 + j] / prices[(i - 1) * 4 + j] - 1) } }
            let r2 = call { flexctl_forecast(m, returns, rows - 1, 4, 1, steps, &values, &levels, &targets, $0) }
            #expect(r2.status == 0, "\(r2.message ?? "")")
            let v2 = Array(UnsafeBufferPointer(start: try #require(values), count: steps * targets))
            let l2 = Array(UnsafeBufferPointer(start: try #require(levels), count: steps * targets))
            free(values)
            free(levels)
            for (a, b) in zip(v2, v) { #expect(abs(a - b) <= 1e-12 * max(1, abs(b)), "\(a) vs \(b)") }
            let allNaN = l2.allSatisfy { $0.isNaN }
            #expect(allNaN)
        }
    }

    @Test("examples/data/four-indices.csv is the samples' common dates (examples/data/make-four-indices.py)")
    func exampleData() throws {
        let (prices, rows, header) = try examplePrices()
        let series = try sampleSeries.flatMap { try SeriesFile.read(path: $0) }
        var renamed = series
        for j in renamed.indices { renamed[j].name = header[j] }
        let aligned = try AlignedSeries.align(renamed)
        #expect(aligned.count == rows)
        #expect(aligned.values.flatMap { $0 } == prices)
    }
}

/// Handles shared by the threads of a test: the C API documents them as safe to use concurrently.
struct SharedHandles: @unchecked Sendable {
    let cae: OpaquePointer, lstm: OpaquePointer
}

/// Counts the threads whose results matched.
final class MatchCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    func add() { lock.lock(); count += 1; lock.unlock() }
    var value: Int { lock.lock(); defer { lock.unlock() }; return count }
}

@Suite("C API: one handle from several threads")
struct CAPIThreadTests {
    /// One compress + decompress + 2-step forecast; the outputs as byte and value arrays.
    static func work(_ h: SharedHandles, pixels px: [UInt8], prices: [Double], rows: Int)
        -> (flexz: [UInt8], pixels: [UInt8], forecast: [Double])? {
        var out: UnsafeMutablePointer<UInt8>?, n = 0
        guard flexctl_compress(h.cae, px, 57, 41, 1, 57, 8, &out, &n, nil) == 0, let out else { return nil }
        let flexz = Array(UnsafeBufferPointer(start: out, count: n))
        free(out)
        var pixels: UnsafeMutablePointer<UInt8>?, w = 0, ht = 0, c = 0
        guard flexctl_decompress(h.cae, flexz, n, &pixels, &w, &ht, &c, nil) == 0, let pixels else { return nil }
        let decoded = Array(UnsafeBufferPointer(start: pixels, count: w * ht * c))
        free(pixels)
        var values: UnsafeMutablePointer<Double>?, t = 0
        guard flexctl_forecast(h.lstm, prices, rows, 4, 0, 2, &values, nil, &t, nil) == 0, let values else { return nil }
        let v = Array(UnsafeBufferPointer(start: values, count: 2 * t))
        free(values)
        return (flexz, decoded, v)
    }

    @Test("concurrent compress, decompress and forecast calls on shared handles give the single-thread results")
    func concurrentCalls() throws {
        let h = SharedHandles(cae: try openModel(caeModel, threads: 2), lstm: try openModel(lstmModel, threads: 2))
        defer { flexctl_model_close(h.cae); flexctl_model_close(h.lstm) }
        let px = (0..<(57 * 41)).map { UInt8(($0 * 31) % 256) }
        let (prices, rows, _) = try examplePrices()
        let reference = try #require(Self.work(h, pixels: px, prices: prices, rows: rows))
        let runs = 8
        let matched = MatchCounter()
        DispatchQueue.concurrentPerform(iterations: runs) { _ in
            for _ in 0..<3 {
                guard let r = Self.work(h, pixels: px, prices: prices, rows: rows) else { return }
                if r.flexz != reference.flexz || r.pixels != reference.pixels || r.forecast != reference.forecast { return }
            }
            matched.add()
        }
        #expect(matched.value == runs)
    }
}
