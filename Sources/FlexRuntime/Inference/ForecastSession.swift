/// A forecaster loaded once from a checkpoint, for batched one-step predictions and k-step forecasts.
///
/// Everything the model sees and returns is normalised with the checkpoint's statistics (fitted on the
/// training split): an input value x of feature j enters as (x − mean_j) / std_j, and a prediction of target
/// t maps back as y · std_t + mean_t, with t's statistics those of the feature of the same name. Values are
/// in the checkpoint's `transform` space (e.g. returns); undoing the transform (prices from returns) is the
/// caller's business. A session is immutable after `init` and may be used from several threads at once.
/// See docs/runtime.md.
public final class ForecastSession: Sendable {
    /// The forecaster: `[N, window, features]` → `[N, targets]`.
    public let model: Sequential
    /// The checkpoint's input specification (features, targets, window, horizon, transform, statistics).
    public let input: SeriesInputSpec
    /// The checkpoint's fingerprint (`sha256:…`).
    public let fingerprint: String
    /// Worker threads per batch.
    public let threads: Int
    /// For each target, the index of the feature of the same name.
    public let targetFeatureIndices: [Int]

    /// Time steps per input window.
    public var window: Int { input.window }
    /// Input feature names, in the model's order.
    public var features: [String] { input.features }
    /// Predicted series, in the model's output order.
    public var targets: [String] { input.targets }
    /// Steps ahead of the last input step that a prediction refers to.
    public var horizon: Int { input.horizon }

    /// Builds the model from `checkpoint` (once). Refuses a checkpoint that is not a forecaster, or whose
    /// model, features, targets and statistics do not agree.
    public init(checkpoint: Checkpoint, threads: Int = Inference.defaultThreads) throws {
        guard checkpoint.task == .forecaster else {
            throw InferenceError("ForecastSession needs a forecaster checkpoint; this checkpoint's task is "
                + "'\(checkpoint.task.rawValue)' (use ImageCodecSession for image auto-encoders)")
        }
        guard case let .series(spec) = checkpoint.input else {
            throw InferenceError("ForecastSession needs a series input specification; this forecaster checkpoint "
                + "has an image input specification")
        }
        guard threads >= 1 else { throw InferenceError("threads must be at least 1, found \(threads)") }
        let f = spec.features.count
        guard spec.normalization.mean.count == f, spec.normalization.std.count == f else {
            throw InferenceError("input.normalization needs one mean and one std per feature (\(f)), found "
                + "\(spec.normalization.mean.count) means and \(spec.normalization.std.count) stds")
        }
        if let j = spec.normalization.std.firstIndex(where: { !($0 > 0 && $0.isFinite) }) {
            throw InferenceError("input.normalization.std of feature '\(spec.features[j])' must be positive and "
                + "finite, found \(spec.normalization.std[j])")
        }
        var indices: [Int] = []
        for t in spec.targets {
            guard let j = spec.features.firstIndex(of: t) else {
                throw InferenceError("target '\(t)' is not one of the features [\(spec.features.joined(separator: ", "))]")
            }
            indices.append(j)
        }
        let model = try checkpoint.makeModel()
        guard model.outputShape == [spec.targets.count] else {
            throw InferenceError("the model's output \(formatShape(model.outputShape)) does not match the "
                + "\(spec.targets.count) target\(spec.targets.count == 1 ? "" : "s") [\(spec.targets.joined(separator: ", "))]")
        }
        self.model = model
        self.input = spec
        self.fingerprint = checkpoint.fingerprint
        self.threads = threads
        self.targetFeatureIndices = indices
    }

    /// Reads the checkpoint at `path` (`Checkpoint.read(from:)`, which throws its `CheckpointError` report)
    /// and builds the session.
    public convenience init(path: String, threads: Int = Inference.defaultThreads) throws {
        try self.init(checkpoint: try Checkpoint.read(from: path), threads: threads)
    }

    // MARK: Prediction

    /// Normalised windows `[N, window, features]` → normalised one-step predictions `[N, targets]`.
    public func predict(_ windows: Tensor) throws -> Tensor {
        let perSample = [window, features.count]
        guard windows.rank == 3, Array(windows.shape.dropFirst()) == perSample else {
            throw ShapeMismatch(layer: "predict (windows)", expected: batchedShapeText(perSample), found: windows.shape,
                                detail: "[batch, window, features] with features \(features.joined(separator: ", "))")
        }
        return try model.forward(windows, threads: threads)
    }

    /// Batched k-step forecasts: normalised windows `[N, window, features]` → `[N, steps, targets]`.
    ///
    /// Step 1 is `predict(windows)`. For k > 1 each prediction is fed back as the next input step (the window
    /// slides by one), which needs the targets to be the features in the same order and a horizon of 1.
    public func forecast(windows: Tensor, steps: Int) throws -> Tensor {
        guard steps >= 1 else { throw InferenceError("forecast: steps must be at least 1, found \(steps)") }
        if steps > 1 { try checkFeedback() }
        let n = windows.shape.first ?? 0
        let f = features.count, w = window, per = w * f
        var current = windows
        var out = [Float](repeating: 0, count: n * steps * targets.count)
        for s in 0..<steps {
            let y = try predict(current)  // checks the shape on the first step
            for i in 0..<n {
                for t in 0..<targets.count { out[(i * steps + s) * targets.count + t] = y.scalars[i * targets.count + t] }
            }
            guard s + 1 < steps else { break }
            var next = [Float](repeating: 0, count: n * per)
            for i in 0..<n {
                let base = i * per
                // Shift the window up by one step, then append the prediction as the newest step.
                for k in 0 ..< (w - 1) * f { next[base + k] = current.scalars[base + f + k] }
                for k in 0..<f { next[base + (w - 1) * f + k] = y.scalars[i * f + k] }
            }
            current = Tensor(shape: [n, w, f], scalars: next)
        }
        return Tensor(shape: [n, steps, targets.count], scalars: out)
    }

    /// k-step forecast from one normalised window (`window` rows of `features.count` values, oldest first)
    /// → `steps` rows of normalised target values. `steps` = 1 is `predict`; see `forecast(windows:steps:)`.
    public func forecast(window rows: [[Double]], steps: Int) throws -> [[Double]] {
        let y = try forecast(windows: try windowTensor(rows), steps: steps)
        let t = targets.count
        return (0..<steps).map { s in (0..<t).map { Double(y.scalars[s * t + $0]) } }
    }

    /// Why k > 1 steps cannot be fed back, as an error (nil when they can).
    public var feedbackProblem: InferenceError? {
        if targets != features {
            let missing = features.filter { !targets.contains($0) }
            let what = missing.isEmpty
                ? "the targets [\(targets.joined(separator: ", "))] are not in the features' order"
                : "the model does not predict feature\(missing.count == 1 ? "" : "s") \(missing.map { "'\($0)'" }.joined(separator: ", "))"
            return InferenceError("forecasts of more than one step feed each prediction back as the next input, "
                + "so the targets must be the features in order [\(features.joined(separator: ", "))]; \(what)")
        }
        if horizon != 1 {
            return InferenceError("forecasts of more than one step feed each prediction back as the next input "
                + "step, which needs horizon 1; this model predicts \(horizon) steps ahead")
        }
        return nil
    }

    private func checkFeedback() throws(InferenceError) {
        if let feedbackProblem { throw feedbackProblem }
    }

    private func windowTensor(_ rows: [[Double]]) throws -> Tensor {
        let f = features.count
        guard rows.count == window else {
            throw InferenceError("forecast: the window needs \(window) rows (time steps, oldest first), found \(rows.count)")
        }
        if let i = rows.firstIndex(where: { $0.count != f }) {
            throw InferenceError("forecast: row \(i) of the window has \(rows[i].count) values; each row needs "
                + "\(f) (\(features.joined(separator: ", ")))")
        }
        return Tensor(shape: [1, window, f], scalars: rows.flatMap { $0.map(Float.init) })
    }

    // MARK: Normalisation

    /// Rows of raw feature values (each row `features.count` values, in feature order) → normalised rows.
    public func normalize(features rows: [[Double]]) throws -> [[Double]] {
        let m = input.normalization.mean, s = input.normalization.std
        return try rows.enumerated().map { (i, row) in
            guard row.count == m.count else {
                throw InferenceError("normalize: row \(i) has \(row.count) values; each row needs \(m.count) "
                    + "(\(features.joined(separator: ", ")))")
            }
            return row.indices.map { (row[$0] - m[$0]) / s[$0] }
        }
    }

    /// Rows of normalised feature values → raw values (the inverse of `normalize(features:)`).
    public func denormalize(features rows: [[Double]]) throws -> [[Double]] {
        let m = input.normalization.mean, s = input.normalization.std
        return try rows.enumerated().map { (i, row) in
            guard row.count == m.count else {
                throw InferenceError("denormalize: row \(i) has \(row.count) values; each row needs \(m.count) "
                    + "(\(features.joined(separator: ", ")))")
            }
            return row.indices.map { row[$0] * s[$0] + m[$0] }
        }
    }

    /// Rows of normalised predictions (each `targets.count` values) → raw values, with each target's
    /// feature statistics.
    public func denormalize(predictions rows: [[Double]]) throws -> [[Double]] {
        let m = input.normalization.mean, s = input.normalization.std
        return try rows.enumerated().map { (i, row) in
            guard row.count == targetFeatureIndices.count else {
                throw InferenceError("denormalize: row \(i) has \(row.count) values; each row needs "
                    + "\(targetFeatureIndices.count) (\(targets.joined(separator: ", ")))")
            }
            return zip(row, targetFeatureIndices).map { v, j in v * s[j] + m[j] }
        }
    }
}
