// Checks of a training state against itself and against the run that adopts it. A run folder may come from
// anyone (docs/security.md): every number of state.h5 reaches ranges, array indices, Int conversions and
// Adam's preconditions in the loop, so each field is held to exactly what a real run writes before anything
// uses it. A real state always passes: the loop writes one optimiser step per batch, one history record per
// epoch, and partial sums only for the batches of the epoch in progress.

import FlexRuntime

extension TrainingState {
    /// Largest number of seconds a state may record (about 31 years): far beyond any run, far below the
    /// magnitudes whose conversion to `Int` (durations, ETA) would trap.
    public static let maximumSeconds = 1e9
    /// Largest loss or loss sum a state may record.
    public static let maximumLoss = 1e100

    /// The first field of the state that is impossible on its own (any run), as
    /// `field 'NAME' is FOUND; expected EXPECTED`, or nil.
    public func ownProblem() -> String? {
        func field(_ name: String, _ found: String, _ expected: String) -> String {
            "field '\(name)' is \(found); expected \(expected)"
        }
        func seconds(_ name: String, _ v: Double) -> String? {
            (0...Self.maximumSeconds).contains(v) ? nil : field(name, "\(v)", "a number of seconds in 0...1e9")
        }
        /// A loss: in 0...1e100 (a Float model's MSE stays below 1e78, and the loss plot's axis must not
        /// overflow); nan or +inf only where a real run can record them (documented in training.md).
        func loss(_ name: String, _ v: Double, nonFiniteAllowed: Bool) -> String? {
            if (0...Self.maximumLoss).contains(v) { return nil }
            if nonFiniteAllowed, v.isNaN || v == .infinity { return nil }
            return field(name, "\(v)", nonFiniteAllowed ? "a number in 0...1e100, nan or inf" : "a number in 0...1e100")
        }
        guard epochsCompleted >= 0 else { return field("epochsCompleted", "\(epochsCompleted)", "0 or more") }
        guard batchesCompleted >= 0 else { return field("batchesCompleted", "\(batchesCompleted)", "0 or more") }
        guard partialSamples >= 0 else { return field("partialSamples", "\(partialSamples)", "0 or more") }
        guard partialSteps == batchesCompleted else {
            return "fields 'batchesCompleted' (\(batchesCompleted)) and 'partialSteps' (\(partialSteps)) disagree; expected one step per completed batch"
        }
        if let p = loss("partialLossSum", partialLossSum, nonFiniteAllowed: false) { return p }
        if let p = loss("partialRegularizationSum", partialRegularizationSum, nonFiniteAllowed: false) { return p }
        if batchesCompleted == 0 {
            for (name, v) in [("partialLossSum", partialLossSum), ("partialRegularizationSum", partialRegularizationSum),
                              ("partialSeconds", partialSeconds), ("partialSamples", Double(partialSamples))] where v != 0 {
                return field(name, "\(v)", "0 between epochs ('batchesCompleted' is 0)")
            }
        }
        if let p = seconds("partialSeconds", partialSeconds) { return p }
        if let p = seconds("elapsedSeconds", elapsedSeconds) { return p }
        guard history.count == epochsCompleted else {
            return field("history", "\(history.count) records", "one per completed epoch (\(epochsCompleted), 'epochsCompleted')")
        }
        for (i, r) in history.enumerated() {
            let at = "history[\(i)]"
            guard r.epoch == i + 1 else { return field("\(at).epoch", "\(r.epoch)", "\(i + 1)") }
            if let p = loss("\(at).trainLoss", r.trainLoss, nonFiniteAllowed: false) { return p }
            if let p = loss("\(at).regularization", r.regularization, nonFiniteAllowed: false) { return p }
            if let v = r.validationLoss, let p = loss("\(at).validationLoss", v, nonFiniteAllowed: true) { return p }
            if let p = seconds("\(at).seconds", r.seconds) { return p }
            for (name, s) in [("alpha", r.alpha), ("beta", r.beta)] {
                guard let s else { continue }
                guard s.mean.isFinite, s.min.isFinite, s.max.isFinite, s.min <= s.max else {
                    return field("\(at).\(name)", "mean \(s.mean), min \(s.min), max \(s.max)", "finite numbers with min <= max")
                }
            }
        }
        switch (bestEpoch, bestValidationLoss) {
        case (nil, nil):
            guard epochsWithoutImprovement == 0 else {
                return field("epochsWithoutImprovement", "\(epochsWithoutImprovement)", "0 without a best epoch")
            }
        case let (epoch?, loss?):
            guard epoch >= 1, epoch <= epochsCompleted else {
                return field("bestEpoch", "\(epoch)", "a completed epoch, 1...\(epochsCompleted)")
            }
            let recorded = history[epoch - 1].validationLoss
            guard let recorded, recorded == loss || (recorded.isNaN && loss.isNaN) else {
                return field("bestValidationLoss", "\(loss)", "the validation loss of epoch \(epoch) ('bestEpoch'), \(recorded.map { "\($0)" } ?? "none")")
            }
            guard epochsWithoutImprovement == epochsCompleted - epoch else {
                return field("epochsWithoutImprovement", "\(epochsWithoutImprovement)", "\(epochsCompleted - epoch) (epochs after 'bestEpoch' \(epoch))")
            }
        default:
            return field("bestEpoch", bestEpoch.map(String.init) ?? "missing",
                         "present exactly when 'bestValidationLoss' is (\(bestValidationLoss.map { "\($0)" } ?? "missing"))")
        }
        if let t = testLoss, let p = loss("testLoss", t, nonFiniteAllowed: true) { return p }
        if finished == nil, testLoss != nil { return field("testLoss", "\(testLoss!)", "none before the run finished") }
        var names = Set<String>()
        for (name, _) in parameters where !names.insert(name).inserted {
            return field("parameterNames", "'\(shown(name))' twice", "each parameter once")
        }
        if let best = bestParameters {
            guard best.count == parameters.count else {
                return "the best parameters (group 'best') are \(best.count) tensors; expected one per parameter (\(parameters.count))"
            }
            for (k, (b, p)) in zip(best, parameters).enumerated() where b.name != p.name || b.tensor.shape != p.tensor.shape {
                return "best parameter \(k) is \(shown(b.name)) \(formatShape(b.tensor.shape)); expected \(p.name) \(formatShape(p.tensor.shape)) as in 'parameterNames'"
            }
            guard bestEpoch != nil else { return field("hasBestParameters", "true", "false without a best epoch") }
        }
        // Adam: PyTorch's ranges, one multiplier per tensor, and moments exactly for the parameters.
        let adam = optimizer
        do { try adam.validate(parameters: parameters.map(\.tensor)) } catch { return "optimizer: \(error.message)" }
        guard adam.learningRate > 0 else { return field("optimizer.learningRate", "\(adam.learningRate)", "a positive number") }
        if let s = adam.learningRateMultipliers, let bad = s.firstIndex(where: { !($0.isFinite && $0 >= 0) }) {
            return field("optimizer.learningRateMultipliers[\(bad)]", "\(s[bad])", "a finite non-negative number")
        }
        let state = adam.state
        guard state.step >= 0 else { return field("optimizer.step", "\(state.step)", "0 or more") }
        if state.step == 0 {
            guard state.shapes.isEmpty else { return field("optimizer.shapes", "\(state.shapes.count) shapes", "none before the first step") }
        } else {
            if let p = shapesProblem(state.shapes) { return p }
        }
        guard state.firstMoments.count == state.shapes.count, state.secondMoments.count == state.shapes.count else {
            return "Adam moments: \(state.firstMoments.count) and \(state.secondMoments.count) tensors; expected \(state.shapes.count)"
        }
        for i in state.shapes.indices {
            let count = parameters[i].tensor.scalars.count
            guard state.firstMoments[i].count == count, state.secondMoments[i].count == count else {
                return "Adam moments \(i): \(state.firstMoments[i].count) and \(state.secondMoments[i].count) values; expected \(count)"
            }
            guard state.firstMoments[i].allSatisfy(\.isFinite) else { return "dataset '/adam_m/\(i)': expected finite values, found nan or inf" }
            guard state.secondMoments[i].allSatisfy({ $0.isFinite && $0 >= 0 }) else {
                return "dataset '/adam_v/\(i)': expected finite non-negative values, found a negative, nan or inf"
            }
        }
        return nil
    }

    /// How `shapes` (Adam's, from the file) differ from the parameters' shapes, or nil when they are equal.
    func shapesProblem(_ shapes: [[Int]]) -> String? {
        guard shapes.count == parameters.count else {
            return "field 'optimizer.shapes' holds \(shapes.count) shapes; expected one per parameter tensor (\(parameters.count)), or none before the first step"
        }
        for (i, (name, t)) in parameters.enumerated() where shapes[i] != t.shape {
            return "field 'optimizer.shapes[\(i)]' is \(formatShape(shapes[i])); expected the shape of parameter \(shown(name)), \(formatShape(t.shape))"
        }
        return nil
    }

    /// The first field of the state that does not fit a run of `model` with `options` over `trainCount`
    /// training samples (after `ownProblem()`), or nil. `options.epochs` is the run's epoch count; a state
    /// may have completed all of them.
    public func problem(model: Sequential, options: TrainingOptions, trainCount: Int) -> String? {
        func field(_ name: String, _ found: String, _ expected: String) -> String {
            "field '\(name)' is \(found); expected \(expected)"
        }
        guard trainCount >= 1, options.batchSize >= 1 else { return "the run has no training samples" }
        let batches = trainCount / options.batchSize + (trainCount % options.batchSize == 0 ? 0 : 1)
        // The position first: a crafted position is reported as such, not as the sums that disagree with it.
        guard (0...options.epochs).contains(epochsCompleted) else {
            return field("epochsCompleted", "\(epochsCompleted)", "0...\(options.epochs) (the run's epochs)")
        }
        guard (0...batches).contains(batchesCompleted) else {
            return field("batchesCompleted", "\(batchesCompleted)", "0...\(batches) (the run's batches per epoch)")
        }
        if let p = ownProblem() { return p }
        guard epochsCompleted < options.epochs || batchesCompleted == 0 else {
            return field("batchesCompleted", "\(batchesCompleted)", "0 once all \(options.epochs) epochs are completed")
        }
        // The samples of the first `batchesCompleted` batches; batchesCompleted ≤ batches keeps this in range.
        let samples = min(batchesCompleted.multipliedReportingOverflow(by: options.batchSize).partialValue, trainCount)
        guard partialSamples == samples else {
            return field("partialSamples", "\(partialSamples)", "\(samples) (the samples of \(batchesCompleted) batches of \(options.batchSize))")
        }
        let (perEpochs, o1) = epochsCompleted.multipliedReportingOverflow(by: batches)
        let (steps, o2) = perEpochs.addingReportingOverflow(batchesCompleted)
        guard !o1, !o2, optimizer.state.step == steps else {
            return field("optimizer.step", "\(optimizer.state.step)", "\(steps) (one step per batch: \(epochsCompleted) epochs of \(batches) batches and \(batchesCompleted))")
        }
        let expected = model.namedParameters
        guard expected.count == parameters.count else {
            return field("parameterNames", "\(parameters.count) names", "the model's \(expected.count) parameters")
        }
        for (k, e) in expected.enumerated() {
            let (name, t) = parameters[k]
            guard name == e.name, t.shape == e.tensor.shape else {
                return "parameter \(k) is \(shown(name)) \(formatShape(t.shape)); expected the model's \(e.name) \(formatShape(e.tensor.shape))"
            }
        }
        return nil
    }
}

/// A name from the state file for a message: control characters (escape sequences) as `?`, at most 100
/// characters.
func shown(_ name: String) -> String {
    String(name.unicodeScalars.prefix(100).map { $0.value < 32 || (0x7F...0x9F).contains($0.value) ? "?" : Character($0) })
        + (name.unicodeScalars.count > 100 ? "…" : "")
}
