// Interoperability (issue 3): checkpoints written outside Swift load in flexctl and compute what an independent
// reference computes.
//
// Interop/write_checkpoints.py (Python, h5py's default file format; never run by CI) wrote
//   Interop/cae2-pe2relu.h5       CAE2, P-E2-ReLU in the act slots, per-channel α ∈ (0, 1), β > 0
//   Interop/lstm-psigramp.h5      LSTM(4→16, 2 layers, P-Sig-Ramp gates, P-Tanh-Ramp cell) + Linear(16→1)
//   Interop/interop-expected.json fixed inputs, float64 numpy reference outputs, the Python fingerprints
// See Interop/README.md. The files are read relative to this source file (#filePath), so the test target needs
// no resources; the target should `exclude: ["Interop"]` to keep SwiftPM from warning about unhandled files.
import Foundation
import FlexRuntime
import Testing

// MARK: - The expected-values file

/// A tensor in interop-expected.json: row-major, PyTorch layout.
struct InteropTensor: Decodable, Sendable {
    let shape: [Int]
    let data: [Double]
    /// Inputs are stored as exact float32 values, so this is bit-identical to what the reference used.
    var tensor: Tensor { Tensor(shape: shape, scalars: data.map { Float($0) }) }
}

struct InteropInputSpec: Decodable, Sendable {
    let kind: String
    // image
    let channels: Int?, height: Int?, width: Int?, pixelScaling: String?, encoderLayers: Int?
    // series
    let features: [String]?, targets: [String]?, window: Int?, horizon: Int?, transform: String?
    let normalization: Stats?
    struct Stats: Decodable, Sendable { let mean: [Double]; let std: [Double] }

    enum CodingKeys: String, CodingKey {
        case kind, channels, height, width, features, targets, window, horizon, transform, normalization
        case pixelScaling = "pixel_scaling", encoderLayers = "encoder_layers"
    }

    /// The specification as flexctl's type, built field by field (not through flexctl's own decoder).
    func inputSpec() throws -> InputSpec {
        switch kind {
        case "image":
            guard let scaling = PixelScaling(rawValue: pixelScaling ?? "") else {
                throw ConfigurationError("unknown pixel scaling \(pixelScaling ?? "nil")")
            }
            return .image(ImageInputSpec(channels: channels!, height: height!, width: width!, pixelScaling: scaling,
                                         encoderLayers: encoderLayers!))
        default:
            return .series(SeriesInputSpec(features: features!, targets: targets!, window: window!, horizon: horizon!,
                                           transform: SeriesTransform(rawValue: transform!)!,
                                           normalization: Normalization(mean: normalization!.mean, std: normalization!.std)))
        }
    }
}

struct InteropCase: Decodable, Sendable {
    let file: String
    let task: String
    let flexctlVersion: String
    let inputSpec: InteropInputSpec
    /// As Python computed it with hashlib over the values it wrote.
    let fingerprint: String
    let parameterNames: [String]
    let parameterCount: Int
    /// The `/provenance` group as written (the JSON-string attributes as nested objects); nil if absent.
    let provenance: Provenance?
    let input: InteropTensor
    let output: InteropTensor
    /// The output of the first `layers` layers (CAE: the code; forecaster: the LSTM's last hidden state).
    let intermediate: Intermediate
    struct Intermediate: Decodable, Sendable { let name: String; let layers: Int; let output: InteropTensor }

    enum CodingKeys: String, CodingKey {
        case file, task, fingerprint, input, output, intermediate
        case flexctlVersion = "flexctl_version", inputSpec = "input_spec", parameterNames = "parameter_names"
        case parameterCount = "parameter_count", provenance
    }
}

struct InteropExpected: Decodable, Sendable {
    struct Generator: Decodable, Sendable {
        let command: String, python: String, numpy: String, h5py: String, hdf5: String, torch: String
    }
    let generator: Generator
    let tolerance: Double
    let checkpoints: [InteropCase]
}

enum Interop {
    /// Tests/FlexCheckpointTests/Interop, found from this file's location.
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Interop")
    static func path(_ file: String) -> String { directory.appendingPathComponent(file).path }

    static let cae = "cae2-pe2relu.h5"
    static let lstm = "lstm-psigramp.h5"
    static let files = [cae, lstm]

    /// The issue's bound: outputs agree to 1e-5 of the tensor's largest magnitude.
    static let tolerance = 1e-5

    static let expected: Result<InteropExpected, any Error> = Result {
        let data = try Data(contentsOf: directory.appendingPathComponent("interop-expected.json"))
        return try JSONDecoder().decode(InteropExpected.self, from: data)
    }

    static func `case`(_ file: String) throws -> InteropCase {
        guard let c = try expected.get().checkpoints.first(where: { $0.file == file }) else {
            throw ConfigurationError("interop-expected.json has no entry for \(file)")
        }
        return c
    }

    /// The architecture the script wrote, built with flexctl's own constructors.
    static func architecture(_ file: String) throws -> [LayerSpec] {
        switch file {
        case cae: return try Architecture.cae2(activation: .member("p-e2-relu"))
        case lstm:
            return Architecture.lstmForecaster(features: 4, hidden: 16, layers: 2, targets: 1,
                                               gate: try .member("p-sig-ramp"), cell: try .member("p-tanh-ramp"))
        default: throw ConfigurationError("unknown interop file \(file)")
        }
    }

    /// `h5dump` on the PATH (Debian's hdf5-tools), if installed.
    static let h5dump: String? = {
        let dirs = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":")
        return (dirs.map { "\($0)/h5dump" } + ["/usr/bin/h5dump"]).first { FileManager.default.isExecutableFile(atPath: $0) }
    }()
}

/// The largest deviation of `y` from `ref`, relative to the reference's largest magnitude.
struct Mismatch: CustomStringConvertible {
    var relative: Double
    var index: [Int]
    var got: Float
    var expected: Double
    var scale: Double

    init(_ y: Tensor, _ ref: InteropTensor) {
        precondition(y.shape == ref.shape)
        scale = ref.data.map(abs).max() ?? 0
        var worst = 0, worstDiff = -1.0
        for (k, (a, b)) in zip(y.scalars, ref.data).enumerated() {
            let d = a.isFinite ? abs(Double(a) - b) : .infinity
            if d > worstDiff { worst = k; worstDiff = d }
        }
        relative = worstDiff / max(scale, .leastNormalMagnitude)
        got = y.scalars[worst]
        expected = ref.data[worst]
        var rest = worst
        index = Array(ref.shape.reversed().map { d in defer { rest /= d }; return rest % d }.reversed())
    }

    var description: String {
        "worst element \(index): flexctl \(got), reference \(expected), |Δ| = \(abs(Double(got) - expected)), "
            + "\(String(format: "%.2e", relative)) of max |reference| = \(scale)"
    }
}

// MARK: - Tests

@Suite("Checkpoint interoperability (h5py-written files)") struct InteropTests {
    @Test func expectedFileLoads() throws {
        let e = try Interop.expected.get()
        #expect(e.checkpoints.map(\.file) == Interop.files)
        #expect(e.tolerance == Interop.tolerance)
        #expect(e.generator.command.contains("write_checkpoints.py"))
        for c in e.checkpoints {
            #expect(c.parameterNames.count > 0)
            #expect(c.fingerprint.hasPrefix("sha256:") && c.fingerprint.count == 7 + 64)
        }
    }

    /// Reads the file and checks everything the script wrote: format, task, input specification, architecture,
    /// parameter names and count, stored type, provenance presence.
    @Test("reads with the right metadata", arguments: Interop.files)
    func metadata(_ file: String) throws {
        let c = try Interop.case(file)
        let checkpoint = try Checkpoint.read(from: Interop.path(file))
        #expect(checkpoint.formatVersion == 1)
        #expect(checkpoint.formatMinorVersion == 0)
        #expect(checkpoint.flexctlVersion == c.flexctlVersion)
        #expect(checkpoint.task.rawValue == c.task)
        #expect(checkpoint.storedType == .float32)
        #expect(checkpoint.architecture == (try Interop.architecture(file)))
        #expect(checkpoint.parameters.map(\.name) == c.parameterNames)
        #expect(checkpoint.parameters.reduce(0) { $0 + $1.tensor.count } == c.parameterCount)
        #expect(checkpoint.provenance == c.provenance)
        #expect(checkpoint.input == (try c.inputSpec.inputSpec()))
        #expect(checkpoint.input.perSampleShape == Array(c.input.shape.dropFirst()))
    }

    /// The fingerprint stored by Python (hashlib over names, dims and float32 values) is the one flexctl computes.
    @Test("fingerprint equals Python's", arguments: Interop.files)
    func fingerprint(_ file: String) throws {
        let c = try Interop.case(file)
        let checkpoint = try Checkpoint.read(from: Interop.path(file))
        #expect(checkpoint.fingerprint == c.fingerprint)
        #expect(Checkpoint.fingerprint(of: checkpoint.parameters) == c.fingerprint)
    }

    /// makeModel() + forward on the fixed inputs against the float64 numpy reference, to 1e-5 of the largest
    /// magnitude: the whole model and its first layers (the CAE's encoder code, the LSTM's hidden state).
    @Test("forward matches the reference", arguments: Interop.files)
    func forward(_ file: String) throws {
        let c = try Interop.case(file)
        let checkpoint = try Checkpoint.read(from: Interop.path(file))
        let model = try checkpoint.makeModel()
        #expect(model.inputShape == checkpoint.input.perSampleShape)
        // every parameter arrives in the model bit for bit
        let loaded = model.namedParameters
        #expect(loaded.map(\.name) == checkpoint.parameters.map(\.name))
        for (a, b) in zip(loaded, checkpoint.parameters) {
            #expect(a.tensor == b.tensor, "\(a.name) differs between the checkpoint and the built model")
        }

        let x = c.input.tensor
        let y = try model.forward(x)
        try #require(y.shape == c.output.shape, "output shape \(y.shape), expected \(c.output.shape)")
        let whole = Mismatch(y, c.output)
        print("interop \(file) output \(formatShape(y.shape)): \(whole)")
        #expect(whole.relative <= Interop.tolerance, "\(file) output: \(whole)")

        let k = c.intermediate.layers
        let mid = try model.forward(x, layers: 0..<k)
        try #require(mid.shape == c.intermediate.output.shape,
                     "\(c.intermediate.name) shape \(mid.shape), expected \(c.intermediate.output.shape)")
        let part = Mismatch(mid, c.intermediate.output)
        print("interop \(file) \(c.intermediate.name) \(formatShape(mid.shape)): \(part)")
        #expect(part.relative <= Interop.tolerance, "\(file) \(c.intermediate.name): \(part)")
    }

    /// Sanity: HDF5's own tool reads the Python-written files and shows readable names and UTF-8 strings.
    @Test("h5dump -H reads the h5py-written files", .enabled(if: Interop.h5dump != nil, "h5dump (hdf5-tools) not installed"),
          arguments: Interop.files)
    func h5dump(_ file: String) throws {
        let header = try run(Interop.h5dump!, ["-H", Interop.path(file)])
        #expect(header.status == 0, "h5dump -H exited with \(header.status): \(header.error)")
        for needle in ["GROUP \"layers\"", "ATTRIBUTE \"fingerprint\"", "ATTRIBUTE \"architecture\"", "H5T_CSET_UTF8",
                       "H5T_IEEE_F32LE", "ATTRIBUTE \"kind\""] {
            #expect(header.output.contains(needle), "h5dump -H \(file) does not show \(needle)")
        }
        let names = file == Interop.cae ? ["GROUP \"11\"", "DATASET \"alpha\""] : ["DATASET \"weight_ih_l1\"", "DATASET \"c_beta_l1\"", "GROUP \"provenance\""]
        for needle in names { #expect(header.output.contains(needle), "h5dump -H \(file) does not show \(needle)") }
        let format = try run(Interop.h5dump!, ["-a", "/format", Interop.path(file)])
        #expect(format.status == 0)
        #expect(format.output.contains("\"flexctl-checkpoint\""))
    }

    private func run(_ tool: String, _ arguments: [String]) throws -> (status: Int32, output: String, error: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: tool)
        p.arguments = arguments
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
    }
}
