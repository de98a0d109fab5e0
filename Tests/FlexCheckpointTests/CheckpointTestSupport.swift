import FlexHDF5
import FlexRuntime
import FlexTraining
import Foundation

/// Models and files for the checkpoint tests.
enum Fixture {
    /// This process's scratch folder, removed when the test process exits.
    static let scratch: String = {
        let path = NSTemporaryDirectory() + "flexckpt-\(getpid())"
        atexit { try? FileManager.default.removeItem(atPath: NSTemporaryDirectory() + "flexckpt-\(getpid())") }
        return path
    }()

    /// A fresh empty folder in the scratch folder.
    static func folder() throws -> String {
        let path = scratch + "/\(UInt64.random(in: 0 ... .max))"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// Gives every activation slot non-default, feasible α (free weight in (0, 1) or a random simplex row)
    /// and β (inside the domain), so a round trip cannot pass by accident.
    static func perturbActivations(_ model: Sequential, seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        for (l, slot) in model.activationSlots {
            let layer = model.layers[l]
            let f = slot.function
            if let i = slot.alphaIndex {
                var a = layer.parameters[i]
                if f.alphaWidth == 1 {
                    a.scalars = a.scalars.map { _ in rng.uniform(0.05, 0.95) }
                } else {
                    for u in 0..<slot.units {
                        let raw = (0..<f.alphaWidth).map { _ in rng.uniform(0.1, 1) }
                        let s = raw.reduce(0, +)
                        for k in 0..<f.alphaWidth { a.scalars[u * f.alphaWidth + k] = raw[k] / s }
                    }
                }
                layer.parameters[i] = a
            }
            if let i = slot.betaIndex {
                var b = layer.parameters[i]
                b.scalars = b.scalars.map { _ in rng.uniform(0.2, 1.8) }
                layer.parameters[i] = b
            }
        }
    }

    static func cae(_ name: String, activation: String = "p-e2-relu", seed: UInt64 = 7) throws -> Checkpoint {
        let specs = try Architecture.named(name, activation: try .member(activation))
        let shape = Architecture.inputShape(of: name)!
        let model = try Sequential(specs: specs, inputShape: shape, seed: seed)
        perturbActivations(model, seed: seed &+ 1)
        let input = InputSpec.image(ImageInputSpec(
            channels: shape[0], height: shape[1], width: shape[2],
            pixelScaling: name == "cae3" ? .zeroToOne : .minusOneToOne,
            encoderLayers: Architecture.encoderLayerCount[name]!))
        return Checkpoint(model: model, task: .imageAutoencoder, input: input)
    }

    static let seriesInput = SeriesInputSpec(
        features: ["S&P/ASX 200", "FTSE 100", "KOSPI", "RTSI"], targets: ["S&P/ASX 200"], window: 30, horizon: 1,
        transform: .returns,
        normalization: Normalization(mean: [0.0003, 0.0002, 0.0004, 0.0001], std: [0.011, 0.012, 0.013, 0.02]))

    static let provenance = Provenance(
        dataset: "stock-indices", trainSize: 2000, validationSize: 400, testSize: 400, seed: 42, epochs: 3,
        optimizer: OptimizerSettings(learningRate: 0.001, beta1: 0.9, beta2: 0.999, epsilon: 1e-8),
        regularizer: RegularizerSettings(delta1: 0.01, delta2: 0.001, delta3: 0.0001, margin: 0.1),
        trainLoss: [0.9, 0.5, 0.25], validationLoss: [1.0, 0.6, 0.3125], testLoss: 0.3,
        created: "2026-05-01T12:00:00Z")

    /// The LSTM forecaster: 2 layers, P-Sig-Ramp gates, P-Tanh-Ramp cell, hidden 8, then Linear(8 → 1).
    static func lstm(seed: UInt64 = 11, provenance: Provenance? = Fixture.provenance) throws -> Checkpoint {
        let specs = Architecture.lstmForecaster(features: 4, hidden: 8, layers: 2, targets: 1,
                                                gate: try .member("p-sig-ramp"), cell: try .member("p-tanh-ramp"))
        let model = try Sequential(specs: specs, inputShape: [30, 4], seed: seed)
        perturbActivations(model, seed: seed &+ 1)
        return Checkpoint(model: model, task: .forecaster, input: .series(seriesInput), provenance: provenance)
    }

    /// Writes `checkpoint` into a new folder; returns the file's path.
    static func written(_ checkpoint: Checkpoint, name: String = "model.h5",
                        options: CheckpointWriteOptions = .init()) throws -> String {
        let path = try folder() + "/" + name
        try checkpoint.write(to: path, options: options)
        return path
    }

    /// Writes a good CAE1 checkpoint, lets `alter` change the file through FlexHDF5, and returns the reader's
    /// error (nil if the altered file still reads).
    static func readError(of checkpoint: Checkpoint? = nil, alter: (HDF5File) throws -> Void) throws -> CheckpointError? {
        let path = try written(checkpoint ?? cae("cae1"))
        do {
            let file = try HDF5File.open(path, writable: true)
            try alter(file)
            try file.close()
        }
        do {
            _ = try Checkpoint.read(from: path)
            return nil
        } catch {
            return error
        }
    }

    /// Replaces a root string attribute's JSON text through `edit`.
    static func editAttribute(_ file: HDF5File, _ name: String, _ edit: (String) -> String) throws {
        let root = try file.root()
        guard case let .string(s)? = try root.attribute(name) else { fatalError("no string attribute \(name)") }
        try root.setAttribute(name, .string(edit(s)))
    }

    /// Replaces a dataset's values (same shape, float32).
    static func replaceDataset(_ file: HDF5File, _ group: String, _ name: String,
                               shape: [Int]? = nil, _ edit: ([Float]) -> [Float]) throws {
        let g = try file.group(group)
        let old = try g.readFloats(name)
        let values = edit(old.values)
        try g.delete(name)
        try g.writeFloats(name, shape: shape ?? old.shape, values: values)
    }

    /// Temporary files the writer may have left in `folder`.
    static func leftovers(_ folder: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).filter { $0.hasSuffix(".tmp") }
    }

    /// Runs a program; returns its exit status and standard output + error.
    static func run(_ tool: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: tool)
        p.arguments = arguments
        let out = Pipe()
        p.standardOutput = out
        p.standardError = out
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    /// A program on the PATH (or in /usr/bin), if installed.
    static func which(_ name: String) -> String? {
        let dirs = (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map(String.init) + ["/usr/bin"]
        return dirs.map { "\($0)/\(name)" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    static let h5dump = which("h5dump")

    /// Whether python3 with h5py is available (for an optional cross-check).
    static let h5py: String? = {
        guard let py = which("python3"), let r = try? run(py, ["-c", "import h5py"]), r.status == 0 else { return nil }
        return py
    }()
}
