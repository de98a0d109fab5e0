import ArgumentParser
import Dispatch
import FlexCodecTraining
import FlexData
import FlexRuntime
import FlexTraining

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// `flexctl bench`: throughput and latency of the numerical core on one fixed seed.
///
/// Workloads (the reference points, PyTorch 2.15 CPU on the same 2 cores, in parentheses):
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
/// - `codec-train`: one training step of the learned codec (`CodecTrainer.step`: forward, rate–distortion loss
///   λ·255²·MSE + bpp, backward, gradient clipping, Adam on the transforms and the density, the quantiles' Adam),
///   GDN, `--channels` N (64), `--latent-channels` M (96), `--batch-size` crops (8) of `--crop` pixels (128);
///   PyTorch's side is `benchmarks/codec_train_step.py`, which runs both and prints them side by side.
/// `idx-load` and `cae2-epoch` need Fashion-MNIST (`--fashion-mnist`; Debian's dataset-fashion-mnist) and are skipped with a
/// note without it. Other inputs are seeded uniform noise: throughput does not depend on the pixel values.
public struct BenchCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure training and inference throughput (images/s, sequences/s) and per-batch latency.")

    public enum Workload: String, ExpressibleByArgument, CaseIterable, Sendable {
        case cae2Train = "cae2-train", cae2Infer = "cae2-infer", lstmTrain = "lstm-train", load
        case idxLoad = "idx-load", cae2Epoch = "cae2-epoch", codecTrain = "codec-train"
    }

    @Option(help: "Workloads to run (\(Workload.allCases.map(\.rawValue).joined(separator: ", "))); default: all.")
    public var workload: [Workload] = []

    @Option(help: "Seconds to measure each workload (after warm-up), \(OptionBounds.benchSeconds.text).")
    public var seconds: Double = 3

    @Option(help: "Worker threads, \(OptionBounds.threads.text) (default: the number of cores).")
    public var threads: Int?

    /// The threads used: `--threads`, else the processors.
    var threadCount: Int { threads ?? OptionBounds.defaultThreads }

    @Option(help: "Seed for parameters and inputs.")
    public var seed: UInt64 = 1

    @Option(name: .customLong("fashion-mnist"), help: "Fashion-MNIST folder for idx-load and cae2-epoch.")
    public var fashionMNIST: String = "/usr/share/datasets/fashion-mnist"

    @Option(name: .customLong("channels"), help: "codec-train: hidden channels N, \(OptionBounds.codecChannels.text).")
    public var codecChannels: Int = 64

    @Option(name: .customLong("latent-channels"), help: "codec-train: latent channels M, \(OptionBounds.codecChannels.text).")
    public var codecLatentChannels: Int = 96

    @Option(name: .customLong("batch-size"), help: "codec-train: crops per step (1...1024).")
    public var codecBatch: Int = 8

    @Option(name: .customLong("crop"), help: "codec-train: square crop side, a multiple of 16 in 16...1024.")
    public var codecCrop: Int = 128

    @OptionGroup public var output: OutputOptions

    public init() {}

    public func validate() throws {
        try OptionBounds.benchSeconds.check(seconds, "--seconds")
        try OptionBounds.threads.check(threads, "--threads")
        try OptionBounds.codecChannels.check(codecChannels, "--channels")
        try OptionBounds.codecChannels.check(codecLatentChannels, "--latent-channels")
        do { try codecOptions.validate() } catch { throw ValidationError("--crop/--batch-size: \(error.message)") }
        // Each option alone is bounded, but the batch's pixels size every activation of the step (about 100
        // floats per pixel at N = 64): refuse what cannot be allocated instead of aborting on it.
        guard codecBatch * codecCrop * codecCrop <= Self.maximumCodecPixels else {
            throw ValidationError("--batch-size \(codecBatch) × --crop \(codecCrop)²: \(codecBatch * codecCrop * codecCrop) pixels per step, expected at most \(Self.maximumCodecPixels)")
        }
    }

    /// codec-train's pixels per step at most: 16 crops of 1024² (train codec's default batch of 8 at 128² is 131,072).
    static let maximumCodecPixels = 16 << 20

    /// codec-train's training options: `flexctl train codec`'s defaults (λ = 0.0067) with the bench's sizes.
    var codecOptions: CodecTrainingOptions {
        CodecTrainingOptions(lambda: 0.0067, crop: codecCrop, batch: codecBatch, steps: 1_000_000, seed: seed)
    }

    /// One workload's measurement (JSON: one object of `results`; docs/cli.md).
    public struct Result: Encodable, Sendable {
        public var workload: String
        /// What `throughput` counts per second: `img/s`, `seq/s`, `loads/s`.
        public var unit: String
        /// Samples per timed batch.
        public var batch: Int
        public var threads: Int
        /// Timed batches.
        public var batches: Int
        /// Samples per second over the timed batches.
        public var throughput: Double
        public var meanMs: Double
        public var p50Ms: Double
        public var p95Ms: Double

        private enum CodingKeys: String, CodingKey {
            case workload, unit, batch, threads, batches, throughput, meanMs, p50Ms, p95Ms
        }

        /// Numbers through `JSONNumber`: a clock that did not advance gives an infinite throughput, `null` in JSON.
        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(workload, forKey: .workload)
            try c.encode(unit, forKey: .unit)
            try c.encode(batch, forKey: .batch)
            try c.encode(threads, forKey: .threads)
            try c.encode(batches, forKey: .batches)
            try c.encode(JSONNumber(throughput), forKey: .throughput)
            try c.encode(JSONNumber(meanMs), forKey: .meanMs)
            try c.encode(JSONNumber(p50Ms), forKey: .p50Ms)
            try c.encode(JSONNumber(p95Ms), forKey: .p95Ms)
        }
    }

    /// `bench`'s JSON document.
    struct BenchJSON: Encodable {
        var seed: UInt64
        var seconds: JSONNumber
        var results: [Result]
    }

    public func run() throws {
        let chosen = workload.isEmpty ? Workload.allCases : workload
        let format = output.resolved
        var results: [Result] = []
        // The table is printed row by row as workloads finish (each takes seconds), the header at once.
        if format == .table { writeOutput(Self.tableLine(Self.tableHeader) + "\n") }
        if format == .csv { writeOutput(Self.csvHeader + "\n") }
        for w in chosen {
            if [.idxLoad, .cae2Epoch].contains(w), FileKind(path: fashionMNIST + "/train-images-idx3-ubyte.gz") != .regular {
                writeError(("note: skipping \(w.rawValue): no Fashion-MNIST at \(fashionMNIST) (apt-get install dataset-fashion-mnist, or --fashion-mnist DIR)\n"))
                continue
            }
            // Progress on standard error: a workload runs its warm-up and at least `seconds` before its row.
            writeError("bench: \(w.rawValue) (warm-up, then \(NumberText.short(seconds)) s)…\n")
            let r = try measure(w)
            results.append(r)
            switch format {
            case .table: writeOutput(Self.tableLine(Self.row(r)) + "\n")
            case .csv: writeOutput(Self.csvRow(r) + "\n")
            case .json: break
            }
        }
        if format == .json {
            writeOutput(JSONOutput.document(kind: "bench", BenchJSON(seed: seed, seconds: JSONNumber(seconds), results: results)))
        }
    }

    static let tableHeader = ["workload", "batch", "threads", "batches", "throughput", "unit", "mean ms", "p50 ms", "p95 ms"]
    /// Fixed widths, so rows printed one at a time line up.
    static let tableWidths = [11, 6, 7, 7, 12, 7, 10, 9, 9]
    static let tableRight: Set<Int> = [1, 2, 3, 4, 6, 7, 8]

    static func tableLine(_ cells: [String]) -> String {
        TextTable.line(cells, widths: tableWidths, right: tableRight)
    }

    static func row(_ r: Result) -> [String] {
        [r.workload, String(r.batch), String(r.threads), String(r.batches), r.throughput.isFinite && r.throughput < 1e15 ? groupedInteger(Int(r.throughput.rounded())) : NumberText.exact(r.throughput),
         r.unit, NumberText.fixed(r.meanMs, 3), NumberText.fixed(r.p50Ms, 3), NumberText.fixed(r.p95Ms, 3)]
    }

    static let csvHeader = "workload,unit,batch,threads,batches,throughput,mean_ms,p50_ms,p95_ms"

    static func csvRow(_ r: Result) -> String {
        [r.workload, r.unit, String(r.batch), String(r.threads), String(r.batches), NumberText.exact(r.throughput),
         NumberText.exact(r.meanMs), NumberText.exact(r.p50Ms), NumberText.exact(r.p95Ms)].joined(separator: ",")
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
                let workspaces = (0..<threadCount).map { _ in Workspace() }
                var y = Tensor.empty
                return try time(w, unit: "img/s", batch: batch) {
                    try model.forward(x, into: &y, workspaces: workspaces)
                }
            }
            let trainer = Trainer(model: model, threads: threadCount)
            return try time(w, unit: "img/s", batch: batch) { _ = try trainer.step(input: x, target: x) }
        case .lstmTrain:
            let specs = Architecture.lstmForecaster(features: 4, hidden: 16, layers: 1, targets: 1,
                                                    gate: try .member("p-sig-ramp"), cell: try .member("tanh"))
            let model = try Sequential(specs: specs, inputShape: [30, 4], seed: seed)
            let batch = 50
            let x = noise([batch, 30, 4]), y = noise([batch, 1])
            let trainer = Trainer(model: model, threads: threadCount)
            return try time(w, unit: "seq/s", batch: batch) { _ = try trainer.step(input: x, target: y) }
        case .load:
            let model = try Sequential(specs: Architecture.cae2(activation: .member("p-e2-relu")),
                                       inputShape: [1, 28, 28], seed: seed)
            let input = ImageInputSpec(channels: 1, height: 28, width: 28, pixelScaling: .minusOneToOne,
                                       encoderLayers: ArchitectureName.cae2.encoderLayers!)
            var template = Array((temporaryDirectory() + "/flexctl-bench-XXXXXX").utf8CString)
            guard let made = mkdtemp(&template) else {
                throw CLIError("cannot create a temporary folder in \(temporaryDirectory()): \(systemMessage(errno))")
            }
            let folder = String(cString: made)
            let path = folder + "/cae2.h5"
            defer {
                unlink(path)
                rmdir(folder)
            }
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
                let loop = try TrainingLoop(trainer: trainer, options: TrainingOptions(epochs: 1, batchSize: 128, seed: seed &+ epoch, threads: threadCount),
                                            train: data.train, validation: nil, test: nil)
                _ = try loop.run()
            }
        case .codecTrain:
            let arch = CodecArchitecture(channels: codecChannels, latentChannels: codecLatentChannels, nonlinearity: .gdn)
            let options = codecOptions
            let model = try TrainableCodec(architecture: arch, crop: options.crop, seed: seed)
            let trainer = CodecTrainer(model: model, options: options, threads: threadCount)
            // Crops as PhotoCrops gives them: values in [0, 1].
            let x = Tensor(shape: [options.batch, arch.imageChannels, options.crop, options.crop],
                           scalars: (0..<options.batch * arch.imageChannels * options.crop * options.crop).map { _ in rng.uniform(0, 1) })
            var step = 0
            return try time(w, unit: "img/s", batch: options.batch) {
                _ = try trainer.step(batch: x, noise: seed &+ UInt64(step), step: step)
                step += 1
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
        return Result(workload: w.rawValue, unit: unit, batch: batch, threads: threads ?? threadCount,
                      batches: samples.count,
                      throughput: Double(batch * samples.count) / (total / 1000),
                      meanMs: total / Double(samples.count), p50Ms: pct(0.5), p95Ms: pct(0.95))
    }
}
