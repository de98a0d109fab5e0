import Dispatch
import FlexRuntime

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// How a training run proceeds (fixed for the whole run, saved in its folder).
public struct TrainingOptions: Codable, Sendable, Equatable {
    /// Passes over the training set.
    public var epochs: Int
    /// Samples per optimiser step (the last batch of an epoch may be smaller).
    public var batchSize: Int
    /// Seeds the weight initialisation and the shuffling.
    public var seed: UInt64
    /// Stop after this many epochs without a lower validation loss, and restore the best weights (nil: never).
    public var patience: Int?
    /// Threads for the data-parallel forward/backward pass; the same seed and thread count give identical runs.
    public var threads: Int

    public init(epochs: Int, batchSize: Int, seed: UInt64, patience: Int? = nil, threads: Int = 1) {
        self.epochs = epochs
        self.batchSize = batchSize
        self.seed = seed
        self.patience = patience
        self.threads = threads
    }

    /// Checks every field, naming the option and the bad value.
    public func validate() throws(ConfigurationError) {
        guard epochs >= 1 else { throw ConfigurationError("epochs must be at least 1, found \(epochs)") }
        guard batchSize >= 1 else { throw ConfigurationError("batch size must be at least 1, found \(batchSize)") }
        if let p = patience, p < 1 { throw ConfigurationError("patience must be at least 1 epoch, found \(p)") }
        guard threads >= 1 else { throw ConfigurationError("threads must be at least 1, found \(threads)") }
    }
}

/// Mean, minimum and maximum of a set of parameter values.
public struct ValueSummary: Codable, Sendable, Equatable {
    public var mean: Double
    public var min: Double
    public var max: Double

    init?(_ values: [Float]) {
        guard !values.isEmpty else { return nil }
        var s = 0.0, lo = Double.infinity, hi = -Double.infinity
        for v in values { let d = Double(v); s += d; lo = Swift.min(lo, d); hi = Swift.max(hi, d) }
        mean = s / Double(values.count)
        min = lo
        max = hi
    }
}

/// One finished epoch.
public struct EpochRecord: Codable, Sendable, Equatable {
    /// 1-based.
    public var epoch: Int
    /// Mean training MSE over the epoch (each batch weighted by its size), before each step.
    public var trainLoss: Double
    /// Mean regulariser value over the epoch's steps.
    public var regularization: Double
    /// MSE on the validation set after the epoch (nil without one).
    public var validationLoss: Double?
    /// Wall time of the epoch (training and validation).
    public var seconds: Double
    /// Every stored α value of the model after the epoch (all slots, all units; first column for K ≥ 3).
    public var alpha: ValueSummary?
    /// Every β value of the model after the epoch.
    public var beta: ValueSummary?
}

/// Why a run stopped training.
public enum FinishReason: String, Codable, Sendable {
    /// All epochs done.
    case completed
    /// `patience` epochs without improvement of the validation loss.
    case earlyStopped = "early_stopped"
}

/// Everything needed to continue a run exactly where it stopped: the model's parameters, Adam's moments and
/// step count, the shuffling generator's state, the position inside the epoch and the history.
public struct TrainingState: Sendable {
    /// Finished epochs.
    public var epochsCompleted = 0
    /// Finished batches of the epoch in progress (0 between epochs).
    public var batchesCompleted = 0
    /// Sums over the finished batches of the epoch in progress (to complete its record after a resume).
    public var partialLossSum = 0.0
    public var partialRegularizationSum = 0.0
    public var partialSamples = 0
    public var partialSteps = 0
    public var partialSeconds = 0.0
    /// The shuffling generator's state before the permutation of the epoch in progress (or the next one).
    public var randomState: UInt64
    public var history: [EpochRecord] = []
    public var bestValidationLoss: Double?
    /// 1-based epoch of `bestValidationLoss`.
    public var bestEpoch: Int?
    public var epochsWithoutImprovement = 0
    public var finished: FinishReason?
    /// MSE on the test set of the final model (set when the run finishes and has a test set).
    public var testLoss: Double?
    /// Total training time over all sessions.
    public var elapsedSeconds = 0.0
    /// The model's parameters by dotted name, in model order.
    public var parameters: [(name: String, tensor: Tensor)]
    /// The parameters after the best validation epoch (nil without validation).
    public var bestParameters: [(name: String, tensor: Tensor)]?
    /// Adam's hyper-parameters, step count and moments.
    public var optimizer: Adam

    public init(parameters: [(name: String, tensor: Tensor)], optimizer: Adam, seed: UInt64) {
        self.parameters = parameters
        self.optimizer = optimizer
        self.randomState = seed
    }

    /// The parameters a finished run exports: the best validation epoch's when the run uses early stopping
    /// (`patience`) and has them, the last ones otherwise.
    public func finalParameters(patience: Int?) -> [(name: String, tensor: Tensor)] {
        if patience != nil, let best = bestParameters { return best }
        return parameters
    }
}

/// What the loop reports while it runs.
public enum TrainingEvent: Sendable {
    /// After each optimiser step. `runningLoss` is the epoch's mean training loss so far.
    case batch(epoch: Int, batch: Int, batches: Int, runningLoss: Double, samplesPerSecond: Double)
    /// After each epoch (with its validation loss); `improved` when it is the best so far.
    case epoch(EpochRecord, improved: Bool)
    /// Early stopping triggered after `epoch`; the weights of `bestEpoch` are restored.
    case earlyStop(epoch: Int, bestEpoch: Int)
}

/// How `TrainingLoop.run()` ended.
public enum TrainingOutcome: Sendable, Equatable {
    case finished(FinishReason)
    /// `shouldStop` returned true; the state was saved at a batch boundary and the run can be resumed.
    case interrupted
}

/// The training loop: epochs of shuffled mini-batches through `Trainer.step`, validation after each epoch,
/// early stopping, and a saved state after every epoch (and when interrupted) so a run can be resumed
/// exactly — a resumed run computes bit for bit what an uninterrupted one would.
///
/// Shuffling: a `SplitMix64` seeded with `options.seed` draws one Fisher–Yates permutation of the training
/// set per epoch; batch b is samples `perm[b·B ..< min((b+1)·B, N)]`.
public final class TrainingLoop {
    public let trainer: Trainer
    public let options: TrainingOptions
    public let train: TensorDataset
    public let validation: TensorDataset?
    public let test: TensorDataset?
    public private(set) var state: TrainingState
    /// Receives progress (called on the loop's thread).
    public var onEvent: (TrainingEvent) -> Void = { _ in }
    /// Polled after every batch; returning true saves the state and ends `run()` with `.interrupted`.
    public var shouldStop: () -> Bool = { false }
    /// Persists the state (after each epoch, when interrupted, and when finished). Throwing ends the run.
    public var saveState: (TrainingState) throws -> Void = { _ in }

    /// A loop over `trainer`'s model. `state` continues a saved run (its parameters and optimiser are loaded
    /// into the trainer); nil starts from the model's current parameters.
    public init(trainer: Trainer, options: TrainingOptions, train: TensorDataset, validation: TensorDataset?,
                test: TensorDataset?, state: TrainingState? = nil) throws {
        try options.validate()
        let model = trainer.model
        for (what, d) in [("training", train), ("validation", validation), ("test", test)] {
            guard let d else { continue }
            guard d.inputShape == model.inputShape else {
                throw ConfigurationError("the \(what) samples have shape \(d.inputShape); the model takes \(model.inputShape)")
            }
            guard d.targetShape == model.outputShape else {
                throw ConfigurationError("the \(what) targets have shape \(d.targetShape); the model outputs \(model.outputShape)")
            }
        }
        guard train.count >= 1 else { throw ConfigurationError("the training set is empty") }
        self.trainer = trainer
        self.options = options
        self.train = train
        self.validation = validation?.count == 0 ? nil : validation
        self.test = test?.count == 0 ? nil : test
        if let state {
            // Every field is used below as a range bound, an index or a count: a state from a file must fit
            // this run exactly (the CLI reports the same check naming the state file first).
            if let problem = state.problem(model: model, options: options, trainCount: train.count) {
                throw ConfigurationError("the training state does not fit this run: \(problem)")
            }
            try Self.load(state.parameters, into: model)
            trainer.optimizer = state.optimizer
            self.state = state
        } else {
            self.state = TrainingState(parameters: model.namedParameters, optimizer: trainer.optimizer,
                                       seed: options.seed)
        }
        trainer.threads = options.threads
    }

    /// Batches per epoch.
    public var batchesPerEpoch: Int { (train.count + options.batchSize - 1) / options.batchSize }

    /// Trains until all epochs are done, early stopping triggers, or `shouldStop` returns true.
    public func run() throws -> TrainingOutcome {
        if let reason = state.finished { return .finished(reason) }
        let model = trainer.model
        let batches = batchesPerEpoch
        var sessionStart = MonotonicClock.seconds()
        while state.epochsCompleted < options.epochs {
            let epoch = state.epochsCompleted + 1
            var rng = SplitMix64(seed: state.randomState)
            let order = rng.permutation(train.count)
            let epochStart = MonotonicClock.seconds() - state.partialSeconds
            for b in state.batchesCompleted..<batches {
                let lo = b * options.batchSize, hi = min(lo + options.batchSize, train.count)
                let (x, y) = train.batch(order[lo..<hi])
                let r = try trainer.step(input: x, target: y)
                guard r.loss.isFinite else {
                    throw ConfigurationError("the training loss became \(r.loss) at epoch \(epoch), batch \(b + 1); lower the learning rate (--lr)")
                }
                state.partialLossSum += Double(r.loss) * Double(hi - lo)
                state.partialRegularizationSum += r.regularization
                state.partialSamples += hi - lo
                state.partialSteps += 1
                state.batchesCompleted = b + 1
                let elapsed = MonotonicClock.seconds() - epochStart
                onEvent(.batch(epoch: epoch, batch: b + 1, batches: batches,
                               runningLoss: state.partialLossSum / Double(state.partialSamples),
                               samplesPerSecond: Double(state.partialSamples) / max(elapsed, 1e-9)))
                if shouldStop(), b + 1 < batches {
                    state.partialSeconds = MonotonicClock.seconds() - epochStart
                    state.elapsedSeconds += MonotonicClock.seconds() - sessionStart
                    sessionStart = MonotonicClock.seconds()
                    state.parameters = model.namedParameters
                    state.optimizer = trainer.optimizer
                    try saveState(state)
                    return .interrupted
                }
            }
            // End of the epoch: validation, record, best weights, early stopping.
            let validationLoss = try validation.map { try evaluate($0) }
            let (alpha, beta) = activationSummaries()
            let record = EpochRecord(
                epoch: epoch, trainLoss: state.partialLossSum / Double(max(state.partialSamples, 1)),
                regularization: state.partialRegularizationSum / Double(max(state.partialSteps, 1)),
                validationLoss: validationLoss, seconds: MonotonicClock.seconds() - epochStart, alpha: alpha, beta: beta)
            state.history.append(record)
            state.epochsCompleted = epoch
            state.batchesCompleted = 0
            state.partialLossSum = 0
            state.partialRegularizationSum = 0
            state.partialSamples = 0
            state.partialSteps = 0
            state.partialSeconds = 0
            state.randomState = rng.state
            state.parameters = model.namedParameters
            state.optimizer = trainer.optimizer
            var improved = false
            if let v = validationLoss {
                if state.bestValidationLoss.map({ v < $0 }) ?? true {
                    improved = true
                    state.bestValidationLoss = v
                    state.bestEpoch = epoch
                    state.bestParameters = state.parameters
                    state.epochsWithoutImprovement = 0
                } else {
                    state.epochsWithoutImprovement += 1
                }
            }
            onEvent(.epoch(record, improved: improved))
            if let p = options.patience, state.epochsWithoutImprovement >= p, let best = state.bestEpoch {
                onEvent(.earlyStop(epoch: epoch, bestEpoch: best))
                state.finished = .earlyStopped
                break
            }
            if state.epochsCompleted < options.epochs {
                state.elapsedSeconds += MonotonicClock.seconds() - sessionStart
                sessionStart = MonotonicClock.seconds()
                try saveState(state)
                if shouldStop() { return .interrupted }
            }
        }
        if state.finished == nil { state.finished = .completed }
        // The final model: the best validation epoch's weights under early stopping.
        let final = state.finalParameters(patience: options.patience)
        try Self.load(final, into: model)
        state.testLoss = try test.map { try evaluate($0) }
        state.elapsedSeconds += MonotonicClock.seconds() - sessionStart
        try saveState(state)
        return .finished(state.finished!)
    }

    /// Mean squared error of the model on `data` (forward passes in chunks of 1,024 samples).
    public func evaluate(_ data: TensorDataset) throws -> Double {
        try Self.meanSquaredError(of: trainer.model, on: data, threads: options.threads)
    }

    /// Mean squared error over every element of every sample, accumulated in Double.
    public static func meanSquaredError(of model: Sequential, on data: TensorDataset, threads: Int) throws -> Double {
        var sum = 0.0, elements = 0
        var lo = 0
        while lo < data.count {
            let hi = min(lo + 1024, data.count)
            let (x, y) = data.batch(lo..<hi)
            let p = try model.forward(x, threads: threads)
            p.scalars.withUnsafeBufferPointer { a in
                y.scalars.withUnsafeBufferPointer { b in
                    var s = 0.0
                    for i in 0..<a.count { let d = Double(a[i]) - Double(b[i]); s += d * d }
                    sum += s
                }
            }
            elements += p.scalars.count
            lo = hi
        }
        return elements == 0 ? 0 : sum / Double(elements)
    }

    /// Copies named parameters into the model, checking names and shapes.
    public static func load(_ parameters: [(name: String, tensor: Tensor)], into model: Sequential) throws {
        let expected = model.namedParameters
        guard expected.count == parameters.count else {
            throw ConfigurationError("the saved state has \(parameters.count) parameter tensors; the model has \(expected.count)")
        }
        var k = 0
        for layer in model.layers {
            var ps = layer.parameters
            for j in ps.indices {
                let (name, t) = parameters[k]
                guard name == expected[k].name, t.shape == ps[j].shape else {
                    throw ConfigurationError("saved parameter \(name) \(t.shape) does not match the model's \(expected[k].name) \(ps[j].shape)")
                }
                ps[j] = t
                k += 1
            }
            layer.parameters = ps
        }
    }

    private func activationSummaries() -> (ValueSummary?, ValueSummary?) {
        var alpha: [Float] = [], beta: [Float] = []
        for (l, slot) in trainer.model.activationSlots {
            let layer = trainer.model.layers[l]
            if let i = slot.alphaIndex { alpha += slot.slot.alphaColumn(0, of: layer.parameters[i]) }
            if let i = slot.betaIndex { beta += layer.parameters[i].scalars }
        }
        return (ValueSummary(alpha), ValueSummary(beta))
    }
}
