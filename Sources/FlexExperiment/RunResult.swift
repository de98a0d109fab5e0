import FlexRuntime

/// What one finished run of an experiment recorded (`result.json` in its run folder): enough to summarise, plot
/// and merge the experiment without the run's weights.
public struct RunResult: Codable, Sendable, Equatable {
    /// The experiment's fingerprint: a result belongs to exactly one experiment.
    public var experiment: String
    public var arm: String
    /// 1-based.
    public var run: Int
    public var seed: UInt64
    /// The test MSE of the final weights (the best validation epoch's with early stopping).
    public var testMSE: Double
    /// Epochs trained, and the epoch whose weights were kept (nil without early stopping).
    public var epochs: Int
    public var bestEpoch: Int?
    /// `completed` or `early_stopped`.
    public var stop: String
    public var seconds: Double
    public var threads: Int
    /// Per epoch: training and validation loss.
    public var curve: [EpochLoss]
    /// Every activation slot's final α (the first mixing weight per unit) and β, by slot.
    public var activations: [SlotValues]

    public init(experiment: String, arm: String, run: Int, seed: UInt64, testMSE: Double, epochs: Int,
                bestEpoch: Int?, stop: String, seconds: Double, threads: Int, curve: [EpochLoss],
                activations: [SlotValues]) {
        self.experiment = experiment
        self.arm = arm
        self.run = run
        self.seed = seed
        self.testMSE = testMSE
        self.epochs = epochs
        self.bestEpoch = bestEpoch
        self.stop = stop
        self.seconds = seconds
        self.threads = threads
        self.curve = curve
        self.activations = activations
    }

    /// `test_mse` in the file: the snake_case conversions map `testMse` (not `testMSE`) to and from it.
    enum CodingKeys: String, CodingKey {
        case experiment, arm, run, seed, epochs, bestEpoch, stop, seconds, threads, curve, activations
        case testMSE = "testMse"
    }

    public static let fileName = "result.json"
    /// Largest result.json read (a run's α/β are at most a few thousand values).
    public static let maximumFileBytes = 64 << 20

    /// Reads and checks a result against the experiment it should belong to and the run it should be.
    /// `fingerprint` is `config.fingerprint` (computed once by the caller for many results).
    public static func read(from path: String, config: ExperimentConfig, fingerprint: String, expected: RunID) throws(ExperimentError) -> RunResult {
        let r: RunResult = try ExperimentJSON.read(path, maximumBytes: maximumFileBytes, what: "a run result")
        if let problem = r.problem(config: config, fingerprint: fingerprint, expected: expected) { throw ExperimentError(file: path, problem) }
        return r
    }

    /// Largest test MSE, loss and time accepted: far above any real value, and small enough that sums, squares
    /// and means over every run of an experiment stay finite.
    static let maximumValue = 1e100
    /// Most activation slots per model, and α or β values per slot.
    static let maximumSlots = 256
    static let maximumUnits = 1 << 20

    /// The first inconsistency with the experiment, for messages.
    func problem(config: ExperimentConfig, fingerprint: String, expected: RunID) -> String? {
        guard experiment == fingerprint else {
            return "field 'experiment' is \(experiment); this experiment is \(fingerprint) (a result of another experiment)"
        }
        guard arm == expected.arm, run == expected.run else {
            return "fields 'arm', 'run' are '\(arm)', \(run); expected '\(expected.arm)', \(expected.run) (its place in the folder)"
        }
        guard seed == config.seed(ofRun: run) else {
            return "field 'seed' is \(seed); run \(run) of this experiment trains with seed \(config.seed(ofRun: run))"
        }
        func bounded(_ v: Double) -> Bool { v.isFinite && v >= 0 && v <= RunResult.maximumValue }
        guard bounded(testMSE) else { return "field 'test_mse' is \(testMSE); expected a number in [0, 1e100]" }
        guard (1...1_000_000).contains(epochs), curve.count == epochs else {
            return "field 'epochs' is \(epochs) with \(curve.count) curve entries; expected 1...1000000 epochs, one entry each"
        }
        if let bestEpoch, !(1...epochs).contains(bestEpoch) { return "field 'best_epoch' is \(bestEpoch); expected 1...\(epochs)" }
        guard ["completed", "early_stopped"].contains(stop) else { return "field 'stop' is '\(stop)'; expected completed or early_stopped" }
        guard bounded(seconds), (1...4096).contains(threads) else {
            return "field 'seconds' or 'threads' is out of range (expected [0, 1e100] and 1...4096)"
        }
        for (i, e) in curve.enumerated() {
            guard e.epoch == i + 1, bounded(e.trainLoss), e.validationLoss.map(bounded) ?? true else {
                return "field 'curve[\(i)]' is not epoch \(i + 1) with losses in [0, 1e100]"
            }
        }
        guard activations.count <= RunResult.maximumSlots, Set(activations.map(\.slot)).count == activations.count else {
            return "field 'activations' has more than \(RunResult.maximumSlots) slots or a slot twice"
        }
        for (i, s) in activations.enumerated() {
            // Slot names become file names of plots: letters, digits, `.` and `_` only (`layers.0.i_l0`).
            guard !s.slot.isEmpty, s.slot.count <= 64,
                  s.slot.unicodeScalars.allSatisfy({ ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "." || $0 == "_" }) else {
                return "field 'activations[\(i)].slot' is '\(s.slot.prefix(64))'; expected 1–64 of a–z, 0–9, '.', '_'"
            }
            guard ActivationFunction.memberNames.contains(s.member) else {
                return "field 'activations[\(i)].member' is not an activation member"
            }
            guard s.alpha.count <= RunResult.maximumUnits, s.beta.count <= RunResult.maximumUnits,
                  s.alpha.allSatisfy({ $0.isFinite && abs($0) <= 1e6 }), s.beta.allSatisfy({ $0.isFinite && abs($0) <= 1e6 }) else {
                return "field 'activations[\(i)]' has more than \(RunResult.maximumUnits) values or one outside [-1e6, 1e6]"
            }
        }
        return nil
    }
}

extension RunResult {
    /// Whether two results of one run agree in everything but the wall time and thread count.
    func sameOutcome(as other: RunResult) -> Bool {
        var a = self, b = other
        a.seconds = 0; b.seconds = 0
        a.threads = 1; b.threads = 1
        return a == b
    }
}

/// One epoch's losses.
public struct EpochLoss: Codable, Sendable, Equatable {
    public var epoch: Int
    public var trainLoss: Double
    public var validationLoss: Double?

    public init(epoch: Int, trainLoss: Double, validationLoss: Double?) {
        self.epoch = epoch
        self.trainLoss = trainLoss
        self.validationLoss = validationLoss
    }
}

/// The final α and β of one activation slot (`layers.1`, `layers.0.i_l0` for an LSTM's input gate).
public struct SlotValues: Codable, Sendable, Equatable {
    public var slot: String
    public var member: String
    /// The first mixing weight of each unit (empty when the member has none).
    public var alpha: [Double]
    /// β of each unit (empty when the member has none).
    public var beta: [Double]

    public init(slot: String, member: String, alpha: [Double], beta: [Double]) {
        self.slot = slot
        self.member = member
        self.alpha = alpha
        self.beta = beta
    }
}
