import ArgumentParser
import Dispatch
import Foundation
import FlexData
import FlexRuntime
import FlexTraining

/// `flexctl bench`: throughput and latency of the numerical core on one fixed seed.
///
/// Workloads (the issue's reference points, PyTorch 2.15 CPU on the same 2 cores, in parentheses):
/// - `cae2-train`: CAE2 + P-E2-ReLU training step (forward, backward, Adam, projection), batch 128 (1,786 img/s);
/// - `cae2-infer`: CAE2 + P-E2-ReLU forward pass, batch 128, with one `Workspace` per thread reused from
///   batch to batch as the inference sessions do (3,537 img/s);
/// - `lstm-train`: LSTM(4→16, window 30) + P-Sig-Ramp gates and a Dense head, training step, batch 50 (300 seq/s);
/// - `load`: `Checkpoint.read(from:)` + `makeModel()` of a CAE2 + P-E2-ReLU checkpoint written to a temporary
///   folder first (target: under 5 ms per load); reported as loads/s, one load per "batch".
/// - `idx-load`: `IDXFile.readImages` of Fashion-MNIST's 60,000 training images (gzip), one read per "batch";
/// - `cae2-epoch`: one epoch of `flexctl train cae --arch cae2 --activation p-e2-relu` on Fashion-MNIST's
///   60,000 training images (batch 128, shuffled, regulariser on, no validation), one epoch per "batch"
///   (PyTorch: 33.6 s per epoch; target under 3 s).
/// The last two need Fashion-MNIST (`--fashion-mnist`; Debian's dataset-fashion-mnist) and are skipped with a
/// note without it. Other inputs are seeded uniform noise: throughput does not depend on the pixel values.
public struct BenchCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure training and inference throughput (images/s, sequences/s) and per-batch latency.")

    public enum Workload: String, ExpressibleByArgument, CaseIterable, Sendable {
        case cae2Train = "cae2-train", cae2Infer = "cae2-infer", lstmTrain = "lstm-train", load
        case idxLoad = "idx-load", cae2Epoch = "cae2-epoch"
    }

    @Option(help: "Workloads to run (\(Workload.allCases.map(\.rawValue).joined(separator: ", "))); default: all.")
    public var workload: [Workload] = []

    @Option(help: "Seconds to measure each workload (after warm-up), \(OptionBounds.benchSeconds.text).")
    public var seconds: Double = 3

    @Option(help: "Worker threads, \(OptionBounds.threads.text) (default: the number of cores).")
    public var threads: Int = OptionBounds.defaultThreads

    @Option(help: "Seed for parameters and inputs.")
    public var seed: UInt64 = 1

    @Option(name: .customLong("fashion-mnist"), help: "Fashion-MNIST folder for idx-load and cae2-epoch.")
    public var fashionMNIST: String = "/usr/share/datasets/fashion-mnist"

    @Flag(help: "Print JSON instead of a table.")
    public var json = false

    public init() {}

    public func validate() throws {
        try OptionBounds.benchSeconds.check(seconds, "--seconds")
        try OptionBounds.threads.check(threads, "--threads")
    }

    public struct Result: Codable, Sendable {
        public var workload: String
        public var unit: String
        public var batch: Int
        public var threads: Int
        public var batches: Int
        public var throughput: Double
        public var meanMilliseconds: Double
        public var p50Milliseconds: Double
        public var p95Milliseconds: Double
    }

    public func run() throws {
        let chosen = workload.isEmpty ? Workload.allCases : workload
        var results: [Result] = []
        for w in chosen {
            if [.idxLoad, .cae2Epoch].contains(w), !FileManager.default.fileExists(atPath: fashionMNIST + "/train-images-idx3-ubyte.gz") {
                writeError(("note: skipping \(w.rawValue): no Fashion-MNIST at \(fashionMNIST) (apt-get install dataset-fashion-mnist, or --fashion-mnist DIR)\n"))
                continue
            }
            results.append(try measure(w))
            if !json { printRow(results.last!, header: results.count == 1) }
        }
        if json {
            let enc = JSONEncoder()
            enc.outputFormatting = [.prettyPrinted, .sortedKeys]
            writeOutput(String(decoding: try enc.encode(results), as: UTF8.self) + "\n")
        }
    }

    func measure(_ w: Workload) throws -> Result {
        var rng = SplitMix64(seed: seed &+ 1000)
        func noise(_ shape: [Int]) -> Tensor {
            Tensor(shape: shape, scalars: (0..<shape.reduce(1, *)).map { _ in rng.uniform(-1, 1) })
        }
        switch w {
        case .cae2Train, .cae2Infer:
            let model = try Sequential(specs: Architecture.cae2(activation: .member("p-e2-relu")),
                                       inputShape: [1, 28, 28], seed: seed)
            let batch = 128
            let x = noise([batch, 1, 28, 28])
            if w == .cae2Infer {
                let workspaces = (0..<threads).map { _ in Workspace() }
                var y = Tensor.empty
                return try time(w, unit: "img/s", batch: batch) {
                    try model.forward(x, into: &y, workspaces: workspaces)
                }
            }
            let trainer = Trainer(model: model, threads: threads)
            return try time(w, unit: "img/s", batch: batch) { _ = try trainer.step(input: x, target: x) }
        case .lstmTrain:
            let specs = Architecture.lstmForecaster(features: 4, hidden: 16, layers: 1, targets: 1,
                                                    gate: try .member("p-sig-ramp"), cell: try .member("tanh"))
            let model = try Sequential(specs: specs, inputShape: [30, 4], seed: seed)
            let batch = 50
            let x = noise([batch, 30, 4]), y = noise([batch, 1])
            let trainer = Trainer(model: model, threads: threads)
            return try time(w, unit: "seq/s", batch: batch) { _ = try trainer.step(input: x, target: y) }
        case .load:
            let model = try Sequential(specs: Architecture.cae2(activation: .member("p-e2-relu")),
                                       inputShape: [1, 28, 28], seed: seed)
            let input = ImageInputSpec(channels: 1, height: 28, width: 28, pixelScaling: .minusOneToOne,
                                       encoderLayers: ArchitectureName.cae2.encoderLayers!)
            let folder = FileManager.default.temporaryDirectory
                .appendingPathComponent("flexctl-bench-\(UUID().uuidString)").path
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: folder) }
            let path = folder + "/cae2.h5"
            try Checkpoint(model: model, task: .imageAutoencoder, input: .image(input)).write(to: path)
            return try time(w, unit: "loads/s", batch: 1, threads: 1) {
                _ = try Checkpoint.read(from: path).makeModel()
            }
        case .idxLoad:
            let path = fashionMNIST + "/train-images-idx3-ubyte.gz"
            let n = try IDXFile.readImages(path: path).count
            return try time(w, unit: "img/s", batch: n, threads: 1, warmUp: 1, minimumBatches: 3) {
                _ = try IDXFile.readImages(path: path)
            }
        case .cae2Epoch:
            let data = try TrainingData.images(DataConfig(path: fashionMNIST, validationFraction: 0, testFraction: 0),
                                               arch: ArchitectureName.cae2.rawValue, seed: seed)
            let model = try Sequential(specs: Architecture.cae2(activation: .member("p-e2-relu")),
                                       inputShape: [1, 28, 28], seed: seed)
            let r = TrainingDefaults.regularizer
            let trainer = Trainer(model: model, optimizer: Adam(learningRate: TrainingDefaults.learningRate),
                                  regularizer: LayerwiseRegularizer(delta1: r.delta1, delta2: r.delta2, delta3: r.delta3, margin: r.margin))
            var epoch: UInt64 = 0
            return try time(w, unit: "img/s", batch: data.train.count, warmUp: 1, minimumBatches: 2) {
                epoch += 1
                let loop = try TrainingLoop(trainer: trainer, options: TrainingOptions(epochs: 1, batchSize: 128, seed: seed &+ epoch, threads: threads),
                                            train: data.train, validation: nil, test: nil)
                _ = try loop.run()
            }
        }
    }

    func time(_ w: Workload, unit: String, batch: Int, threads: Int? = nil, warmUp: Int = 3, minimumBatches: Int = 5,
              _ body: () throws -> Void) throws -> Result {
        for _ in 0..<warmUp { try body() }
        var samples: [Double] = []
        let start = MonotonicClock.nanoseconds()
        var now = start
        while Double(now - start) / 1e9 < seconds || samples.count < minimumBatches {
            let t0 = MonotonicClock.nanoseconds()
            try body()
            now = MonotonicClock.nanoseconds()
            samples.append(Double(now - t0) / 1e6)
        }
        let total = samples.reduce(0, +)
        let sorted = samples.sorted()
        func pct(_ p: Double) -> Double { sorted[min(sorted.count - 1, Int(p * Double(sorted.count - 1) + 0.5))] }
        return Result(workload: w.rawValue, unit: unit, batch: batch, threads: threads ?? self.threads,
                      batches: samples.count,
                      throughput: Double(batch * samples.count) / (total / 1000),
                      meanMilliseconds: total / Double(samples.count), p50Milliseconds: pct(0.5),
                      p95Milliseconds: pct(0.95))
    }

    func printRow(_ r: Result, header: Bool) {
        if header {
            writeOutput("workload     batch  threads  batches   throughput      mean ms/batch  p50 ms  p95 ms\n")
        }
        func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s + " " : s + String(repeating: " ", count: n - s.count) }
        writeOutput(pad(r.workload, 13) + pad(String(r.batch), 7) + pad(String(r.threads), 9) + pad(String(r.batches), 10)
                    + pad(String(format: "%.0f %@", r.throughput, r.unit), 16)
                    + pad(String(format: "%.3f", r.meanMilliseconds), 15)
                    + pad(String(format: "%.3f", r.p50Milliseconds), 8) + String(format: "%.3f", r.p95Milliseconds) + "\n")
    }
}
