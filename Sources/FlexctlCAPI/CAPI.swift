// The implementation of include/flexctl.h (Sources/CFlexctl): C-callable functions (@_cdecl) over the runtime,
// the codec and the forecasting engine. Every argument is checked before use and every Swift error becomes a
// status code plus a message, so nothing a caller passes can make a Swift error or trap cross the C boundary.
// The declarations here must match the header; Tests/FlexCAPITests compiles C programs against the header and
// calls these functions through it.

import FlexCodec
import FlexData
import FlexForecast
import FlexHDF5
import FlexRuntime

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The header's `flexctl_status` values.
enum Status: Int32 {
    case ok = 0
    case invalidArgument = 1
    case ioError = 2
    case invalidCheckpoint = 3
    case wrongTask = 4
    case invalidData = 5
    case modelMismatch = 6
    case tooLarge = 7
    case internalError = 8
    case outOfMemory = 9

    var name: StaticString {
        switch self {
        case .ok: "ok"
        case .invalidArgument: "invalid argument"
        case .ioError: "input/output error"
        case .invalidCheckpoint: "invalid checkpoint"
        case .wrongTask: "wrong task for this model"
        case .invalidData: "invalid data"
        case .modelMismatch: "model mismatch"
        case .tooLarge: "input too large"
        case .internalError: "internal error"
        case .outOfMemory: "out of memory"
        }
    }
}

/// A failed call: the status and the message handed to the caller.
struct Failure: Error {
    var status: Status
    var message: String
    init(_ status: Status, _ message: String) {
        self.status = status
        self.message = message
    }
}

/// Runs `body`, stores the message of a failure in `errorMessage` (NULL on success) and returns the status.
/// Errors that are not `Failure` become `fallback` (the status of the call's usual failure) with their text.
func run(_ errorMessage: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?, fallback: Status = .internalError,
         _ body: () throws -> Void) -> Int32 {
    errorMessage?.pointee = nil
    let failure: Failure
    do {
        try body()
        return Status.ok.rawValue
    } catch let f as Failure {
        failure = f
    } catch {
        failure = Failure(fallback, "\(error)")
    }
    errorMessage?.pointee = strdup(failure.message)
    return failure.status.rawValue
}

/// A copy of `values` in a buffer from the C library's malloc (freed by `flexctl_free`).
func mallocCopy<T>(_ values: [T]) throws(Failure) -> UnsafeMutablePointer<T> {
    let bytes = max(1, values.count * MemoryLayout<T>.stride)
    guard let raw = malloc(bytes) else {
        throw Failure(.outOfMemory, "cannot allocate \(bytes) bytes for the result")
    }
    let p = raw.bindMemory(to: T.self, capacity: max(1, values.count))
    values.withUnsafeBufferPointer { b in
        if let base = b.baseAddress { p.initialize(from: base, count: b.count) }
    }
    return p
}

/// A NUL-terminated copy of `text` from malloc.
func mallocString(_ text: String) throws(Failure) -> UnsafeMutablePointer<CChar> {
    guard let p = strdup(text) else { throw Failure(.outOfMemory, "cannot allocate \(text.utf8.count + 1) bytes") }
    return p
}

/// `a · b`, refused when it overflows.
func product(_ a: Int, _ b: Int, _ what: String) throws(Failure) -> Int {
    let (r, overflow) = a.multipliedReportingOverflow(by: b)
    guard !overflow else { throw Failure(.invalidArgument, "\(what): \(a) × \(b) overflows") }
    return r
}

/// A C size as a Swift Int (sizes above Int.max are refused).
func size(_ v: Int, _ name: String) throws(Failure) -> Int {
    guard v >= 0 else { throw Failure(.invalidArgument, "\(name): \(UInt(bitPattern: v)) is too large") }
    return v
}

func required<T>(_ p: T?, _ name: String) throws(Failure) -> T {
    guard let p else { throw Failure(.invalidArgument, "\(name) is NULL") }
    return p
}

// MARK: Model handles

/// An open checkpoint: immutable after `flexctl_model_open*`, so concurrent calls on one handle are safe (the
/// sessions lock their own scratch buffers).
final class ModelHandle: Sendable {
    enum Engine: Sendable {
        case codec(ImageCodec)
        case forecaster(ForecastEngine.Model)

        var model: Sequential {
            switch self {
            case let .codec(codec): codec.session.model
            case let .forecaster(m): m.session.model
            }
        }
    }

    let name: String
    let task: CheckpointTask
    let fingerprint: String
    let engine: Engine
    /// What `flexctl_model_describe` returns: the runtime's description of the checkpoint, the document
    /// `flexctl inspect --format json` prints. Made at open time (the statistics are one pass over α and β) so
    /// that the handle needs no lock and keeps no second copy of the weights.
    let checkpointDescription: CheckpointDescription

    init(checkpoint c: Checkpoint, name: String, threads: Int) throws {
        self.name = name
        task = c.task
        fingerprint = c.fingerprint
        let engine: Engine
        switch c.task {
        case .imageAutoencoder:
            do { engine = .codec(try ImageCodec(checkpoint: c, file: name, threads: threads)) } catch {
                throw Failure(.invalidCheckpoint, "\(error)")
            }
        case .imageCodec:
            throw Failure(.wrongTask, "\(name): the C API does not run learned image codecs (task image-codec) yet; "
                + "use flexctl compress/decompress")
        case .forecaster:
            do { engine = .forecaster(try ForecastEngine.model(checkpoint: c, path: name, threads: threads)) } catch {
                throw Failure(.invalidCheckpoint, "\(error)")
            }
        }
        self.engine = engine
        // The engine's model is `c.makeModel()`: describe it rather than building a second one.
        let model = engine.model
        checkpointDescription = CheckpointDescription(
            checkpoint: c, model: model, file: name,
            activations: model.activationStatistics(bins: CheckpointDescription.histogramBins))
    }

    func codec(for what: String) throws(Failure) -> ImageCodec {
        guard case let .codec(codec) = engine else {
            throw Failure(.wrongTask, "\(name): \(what) needs an image auto-encoder; this checkpoint is a "
                + "\(task.rawValue) (e.g. use models/cae2-p-e2-relu-fashion-mnist.h5)")
        }
        return codec
    }

    func forecaster() throws(Failure) -> ForecastEngine.Model {
        guard case let .forecaster(m) = engine else {
            throw Failure(.wrongTask, "\(name): forecasting needs a forecaster; this checkpoint is an "
                + "\(task.rawValue) (e.g. use models/lstm-p-sig-ramp-4-indices.h5)")
        }
        return m
    }
}

func handle(_ p: OpaquePointer?) throws(Failure) -> ModelHandle {
    guard let p else { throw Failure(.invalidArgument, "model is NULL") }
    return Unmanaged<ModelHandle>.fromOpaque(UnsafeRawPointer(p)).takeUnretainedValue()
}

/// Worker threads: 0 means one per processor.
func threadCount(_ threads: Int32) throws(Failure) -> Int {
    guard (0...1024).contains(threads) else {
        throw Failure(.invalidArgument, "threads: expected 0 (one per processor) to 1024, found \(threads)")
    }
    return threads == 0 ? min(Inference.defaultThreads, 256) : Int(threads)
}

func open(_ read: () throws -> Checkpoint, name: String, threads: Int32,
          _ out: UnsafeMutablePointer<OpaquePointer?>?, _ errorMessage: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?)
    -> Int32 {
    out?.pointee = nil
    return run(errorMessage, fallback: .invalidCheckpoint) {
        let out = try required(out, "out_model")
        let n = try threadCount(threads)
        let h = try ModelHandle(checkpoint: try read(), name: name, threads: n)
        out.pointee = OpaquePointer(Unmanaged.passRetained(h).toOpaque())
    }
}

// MARK: Functions

/// The version as a C string, made once (Swift initialises globals lazily and exactly once, thread-safely) and
/// never freed: `flexctl_version` returns a pointer valid for the life of the process.
nonisolated(unsafe) let versionCString: UnsafeMutablePointer<CChar>? = strdup(Checkpoint.currentFlexctlVersion)

@_cdecl("flexctl_version")
public func flexctl_version() -> UnsafePointer<CChar> {
    let fallback: StaticString = "unknown"
    return UnsafePointer(versionCString) ?? UnsafeRawPointer(fallback.utf8Start).assumingMemoryBound(to: CChar.self)
}

@_cdecl("flexctl_status_name")
public func flexctl_status_name(_ status: Int32) -> UnsafePointer<CChar> {
    let s: StaticString = Status(rawValue: status)?.name ?? "unknown status"
    return UnsafeRawPointer(s.utf8Start).assumingMemoryBound(to: CChar.self)
}

@_cdecl("flexctl_model_open")
public func flexctl_model_open(_ path: UnsafePointer<CChar>?, _ threads: Int32,
                               _ out: UnsafeMutablePointer<OpaquePointer?>?,
                               _ errorMessage: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    guard let path else {
        out?.pointee = nil
        return run(errorMessage) { throw Failure(.invalidArgument, "path is NULL") }
    }
    let name = String(cString: path)
    return open({ () throws -> Checkpoint in
        // Files that cannot be read are I/O errors; everything the strict reader reports about a readable file
        // makes an invalid checkpoint.
        var st = stat()
        if name.isEmpty { throw Failure(.invalidArgument, "path is empty") }
        guard stat(name, &st) == 0 else {
            let e = errno
            throw Failure(.ioError, "\(name): " + (e == ENOENT ? "no such file" : String(cString: strerror(e))))
        }
        if (st.st_mode & S_IFMT) == S_IFDIR { throw Failure(.ioError, "\(name): is a directory, not a checkpoint file") }
        do { return try Checkpoint.read(from: name) } catch { throw Failure(.invalidCheckpoint, "\(error)") }
    }, name: name, threads: threads, out, errorMessage)
}

@_cdecl("flexctl_model_open_memory")
public func flexctl_model_open_memory(_ bytes: UnsafeRawPointer?, _ count: Int, _ name: UnsafePointer<CChar>?,
                                      _ threads: Int32, _ out: UnsafeMutablePointer<OpaquePointer?>?,
                                      _ errorMessage: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    let label = name.map { String(cString: $0) } ?? "<memory>"
    return open({ () throws -> Checkpoint in
        let bytes = try required(bytes, "bytes")
        let n = try size(count, "size")
        guard n > 0 else { throw Failure(.invalidArgument, "size is 0: a checkpoint has at least an HDF5 header") }
        guard n <= HDF5Limits.default.maxFileBytes else {
            throw Failure(.tooLarge, "\(label): \(n) bytes; checkpoints are limited to \(HDF5Limits.default.maxFileBytes) bytes")
        }
        let copy = [UInt8](UnsafeRawBufferPointer(start: bytes, count: n))
        do { return try Checkpoint.read(bytes: copy, name: label) } catch { throw Failure(.invalidCheckpoint, "\(error)") }
    }, name: label, threads: threads, out, errorMessage)
}

@_cdecl("flexctl_model_close")
public func flexctl_model_close(_ model: OpaquePointer?) {
    guard let model else { return }
    Unmanaged<ModelHandle>.fromOpaque(UnsafeRawPointer(model)).release()
}

@_cdecl("flexctl_model_describe")
public func flexctl_model_describe(_ model: OpaquePointer?, _ out: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?,
                                   _ errorMessage: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    out?.pointee = nil
    return run(errorMessage) {
        let out = try required(out, "out_json")
        let h = try handle(model)
        out.pointee = try mallocString(h.checkpointDescription.json)
    }
}

@_cdecl("flexctl_model_series_info")
public func flexctl_model_series_info(_ model: OpaquePointer?, _ features: UnsafeMutablePointer<Int>?,
                                      _ targets: UnsafeMutablePointer<Int>?, _ window: UnsafeMutablePointer<Int>?,
                                      _ horizon: UnsafeMutablePointer<Int>?,
                                      _ errorMessage: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    for p in [features, targets, window, horizon] { p?.pointee = 0 }
    return run(errorMessage) {
        let s = try handle(model).forecaster().session
        features?.pointee = s.features.count
        targets?.pointee = s.targets.count
        window?.pointee = s.window
        horizon?.pointee = s.horizon
    }
}

@_cdecl("flexctl_compress")
public func flexctl_compress(_ model: OpaquePointer?, _ pixels: UnsafePointer<UInt8>?, _ width: Int, _ height: Int,
                             _ channels: Int, _ stride: Int, _ bits: Int32,
                             _ outBytes: UnsafeMutablePointer<UnsafeMutablePointer<UInt8>?>?,
                             _ outSize: UnsafeMutablePointer<Int>?,
                             _ errorMessage: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    outBytes?.pointee = nil
    outSize?.pointee = 0
    return run(errorMessage) {
        let outBytes = try required(outBytes, "out_bytes"), outSize = try required(outSize, "out_size")
        let h = try handle(model)
        let codec = try h.codec(for: "compress")
        let pixels = try required(pixels, "pixels")
        let w = try size(width, "width"), ht = try size(height, "height")
        let c = try size(channels, "channels"), st = try size(stride, "stride")
        guard w > 0, ht > 0 else { throw Failure(.invalidArgument, "image size \(w)×\(ht): width and height must be at least 1") }
        guard c == 1 || c == 3 else { throw Failure(.invalidArgument, "channels: expected 1 (gray) or 3 (RGB), found \(c)") }
        guard (1...16).contains(bits) else { throw Failure(.invalidArgument, "bits: expected 1...16, found \(bits)") }
        let row = try product(w, c, "width × channels")
        guard st >= row else { throw Failure(.invalidArgument, "stride \(st) is less than width × channels = \(row)") }
        guard w <= ImageFile.maximumSide, ht <= ImageFile.maximumSide else {
            throw Failure(.tooLarge, "image size \(w)×\(ht): each side is limited to \(ImageFile.maximumSide) pixels")
        }
        let count = try product(w, ht, "width × height")
        guard count <= ImageFile.maximumPixels else {
            throw Failure(.tooLarge, "image size \(w)×\(ht) = \(count) pixels; the limit is \(ImageFile.maximumPixels)")
        }
        // The last row needs only `row` bytes; the buffer spans (height − 1) · stride + row bytes.
        guard !(try product(ht - 1, st, "(height − 1) × stride")).addingReportingOverflow(row).overflow else {
            throw Failure(.invalidArgument, "(height − 1) × stride + width × channels overflows")
        }
        var packed = [UInt8](repeating: 0, count: row * ht)
        packed.withUnsafeMutableBufferPointer { dst in
            for y in 0..<ht { (dst.baseAddress! + y * row).update(from: pixels + y * st, count: row) }
        }
        let image = RasterImage(width: w, height: ht, channels: c, pixels: packed)
        let compressed: ImageCodec.Compressed
        do { compressed = try codec.compress(image, bits: Int(bits), fingerprint: h.fingerprint) } catch {
            throw Failure(.internalError, "\(h.name): \(error)")
        }
        let bytes = compressed.file.serialized()
        outBytes.pointee = try mallocCopy(bytes)
        outSize.pointee = bytes.count
    }
}

@_cdecl("flexctl_decompress")
public func flexctl_decompress(_ model: OpaquePointer?, _ bytes: UnsafePointer<UInt8>?, _ count: Int,
                               _ outPixels: UnsafeMutablePointer<UnsafeMutablePointer<UInt8>?>?,
                               _ outWidth: UnsafeMutablePointer<Int>?, _ outHeight: UnsafeMutablePointer<Int>?,
                               _ outChannels: UnsafeMutablePointer<Int>?,
                               _ errorMessage: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    outPixels?.pointee = nil
    for p in [outWidth, outHeight, outChannels] { p?.pointee = 0 }
    return run(errorMessage) {
        let outPixels = try required(outPixels, "out_pixels"), outWidth = try required(outWidth, "out_width")
        let outHeight = try required(outHeight, "out_height"), outChannels = try required(outChannels, "out_channels")
        let h = try handle(model)
        let codec = try h.codec(for: "decompress")
        let bytes = try required(bytes, "bytes")
        let n = try size(count, "size")
        guard n > 0 else { throw Failure(.invalidArgument, "size is 0: a .flexz file has at least a header") }
        guard n <= FlexzFile.maximumFileBytes else {
            throw Failure(.tooLarge, ".flexz data of \(n) bytes; the limit is \(FlexzFile.maximumFileBytes) bytes")
        }
        let data = [UInt8](UnsafeBufferPointer(start: bytes, count: n))
        let name = "<.flexz data>"
        // The header first: a file of another model is refused before its payload is inflated.
        let header: FlexzFile
        do { header = try FlexzFile.parse(data, name: name, decodingPayload: false) } catch {
            throw Failure(.invalidData, "\(error)")
        }
        guard header.fingerprintText == h.fingerprint else {
            throw Failure(.modelMismatch, "\(name) was compressed with the model \(header.fingerprintText); "
                + "\(h.name) is \(h.fingerprint)")
        }
        let file: FlexzFile
        do { file = try FlexzFile.parse(data, name: name) } catch { throw Failure(.invalidData, "\(error)") }
        let image: RasterImage
        do { image = try codec.decompress(file, name: name) } catch { throw Failure(.modelMismatch, "\(error)") }
        outPixels.pointee = try mallocCopy(image.pixels)
        outWidth.pointee = image.width
        outHeight.pointee = image.height
        outChannels.pointee = image.channels
    }
}

@_cdecl("flexctl_forecast")
public func flexctl_forecast(_ model: OpaquePointer?, _ values: UnsafePointer<Double>?, _ rows: Int, _ series: Int,
                             _ kind: Int32, _ steps: Int,
                             _ outValues: UnsafeMutablePointer<UnsafeMutablePointer<Double>?>?,
                             _ outLevels: UnsafeMutablePointer<UnsafeMutablePointer<Double>?>?,
                             _ outTargets: UnsafeMutablePointer<Int>?,
                             _ errorMessage: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    outValues?.pointee = nil
    outLevels?.pointee = nil
    outTargets?.pointee = 0
    return run(errorMessage, fallback: .invalidData) {
        let outValues = try required(outValues, "out_values"), outTargets = try required(outTargets, "out_targets")
        let m = try handle(model).forecaster()
        let values = try required(values, "values")
        let r = try size(rows, "rows"), f = try size(series, "series"), k = try size(steps, "steps")
        let session = m.session
        guard f == session.features.count else {
            throw Failure(.invalidArgument, "series: the model reads \(session.features.count) series "
                + "(\(ForecastEngine.quoted(session.features))), found \(f)")
        }
        guard r > 0 else { throw Failure(.invalidArgument, "rows is 0") }
        guard (1...ForecastEngine.maximumSteps).contains(k) else {
            throw Failure(.invalidArgument, "steps: expected 1...\(ForecastEngine.maximumSteps), found \(k)")
        }
        let total = try product(r, f, "rows × series")
        guard total <= 1 << 28 else { throw Failure(.tooLarge, "rows × series = \(total) values; the limit is \(1 << 28)") }
        let seriesKind: ForecastEngine.SeriesKind
        switch kind {
        case 0: seriesKind = .prices
        case 1: seriesKind = .transformed
        default: throw Failure(.invalidArgument, "kind: expected FLEXCTL_SERIES_PRICES (0) or FLEXCTL_SERIES_TRANSFORMED (1), found \(kind)")
        }
        let columns = (0..<f).map { j in (0..<r).map { values[$0 * f + j] } }
        let forecast = try ForecastEngine.forecast(session: session, columns: columns, kind: seriesKind, steps: k)
        let flat = forecast.values.flatMap { $0 }
        let levels = forecast.levels.flatMap { $0.map { $0 ?? .nan } }
        let v = try mallocCopy(flat)
        if let outLevels {
            do { outLevels.pointee = try mallocCopy(levels) } catch {
                free(v)
                throw error
            }
        }
        outValues.pointee = v
        outTargets.pointee = forecast.targets.count
    }
}
