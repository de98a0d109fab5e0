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
    /// One workspace per thread plus a forecast's window and step output, reused by every call.
    private let buffers: SessionBuffers

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
        self.buffers = SessionBuffers(threads: threads, tensors: 2)
    }

    /// Reads the checkpoint at `path` (`Checkpoint.read(from:)`, which throws its `CheckpointError` report)
    /// and builds the session.
    public convenience init(path: String, threads: Int = Inference.defaultThreads) throws {
        try self.init(checkpoint: try Checkpoint.read(from: path), threads: threads)
    }

    // MARK: Prediction

    /// Normalised windows `[N, window, features]` → normalised one-step predictions `[N, targets]` (a new
    /// tensor; the session's intermediate buffers are reused).
    public func predict(_ windows: Tensor) throws -> Tensor {
        var predictions = Tensor.empty
        try predict(windows, into: &predictions)
        return predictions
    }

    /// `predict(_:)` writing into `predictions`, whose storage is reused when it already holds `[N, targets]`
    /// elements: with the same batch size, calls after the first allocate no tensor or scratch memory.
    public func predict(_ windows: Tensor, into predictions: inout Tensor) throws {
        try checkWindows(windows, what: "predict (windows)")
        try buffers.with { state in try model.forward(windows, into: &predictions, workspaces: state.workspaces) }
    }

    /// Batched k-step forecasts: normalised windows `[N, window, features]` → `[N, steps, targets]` (a new
    /// tensor).
    ///
    /// Step 1 is `predict(windows)`. For k > 1 each prediction is fed back as the next input step (the window
    /// slides by one), which needs the targets to be the features in the same order and a horizon of 1.
    public func forecast(windows: Tensor, steps: Int) throws -> Tensor {
        var forecasts = Tensor.empty
        try forecast(windows: windows, steps: steps, into: &forecasts)
        return forecasts
    }

    /// `forecast(windows:steps:)` writing into `forecasts` (storage reused as for `predict(_:into:)`; the
    /// sliding window and each step's predictions live in session buffers).
    public func forecast(windows: Tensor, steps: Int, into forecasts: inout Tensor) throws {
        guard steps >= 1 else { throw InferenceError("forecast: steps must be at least 1, found \(steps)") }
        if steps > 1 { try checkFeedback() }
        try checkWindows(windows, what: "predict (windows)")
        let n = windows.shape[0], nt = targets.count
        let f = features.count, w = window, per = w * f
        try buffers.with { state in
            let workspaces = state.workspaces
            forecasts.prepare(shape: [n, steps, nt], workspace: workspaces[0])
            guard n > 0 else { return }
            var current = Tensor.empty, y = Tensor.empty
            swap(&current, &state.tensors[0])
            swap(&y, &state.tensors[1])
            defer {
                swap(&current, &state.tensors[0])
                swap(&y, &state.tensors[1])
            }
            for s in 0..<steps {
                try model.forward(s == 0 ? windows : current, into: &y, workspaces: workspaces)
                y.scalars.withUnsafeBufferPointer { yb in
                    forecasts.scalars.withUnsafeMutableBufferPointer { out in
                        for i in 0..<n {
                            (out.baseAddress! + (i * steps + s) * nt).update(from: yb.baseAddress! + i * nt, count: nt)
                        }
                    }
                }
                guard s + 1 < steps else { break }
                if s == 0 {
                    current.prepare(shape: [n, w, f], workspace: workspaces[0])
                    current.scalars.withUnsafeMutableBufferPointer { $0.baseAddress!.update(from: windows.scalars, count: n * per) }
                }
                current.scalars.withUnsafeMutableBufferPointer { c in
                    y.scalars.withUnsafeBufferPointer { yb in
                        for i in 0..<n {
                            let base = c.baseAddress! + i * per
                            // Shift the window up by one step, then append the prediction as the newest step.
                            base.update(from: base + f, count: (w - 1) * f)
                            (base + (w - 1) * f).update(from: yb.baseAddress! + i * f, count: f)
                        }
                    }
                }
            }
        }
    }

    /// Scratch and tensor-storage (re)allocations the session's own buffers have made so far: it stops
    /// growing once every call shape has been seen (same batch sizes).
    public var bufferAllocations: Int { buffers.allocations }

    private func checkWindows(_ windows: Tensor, what: String) throws(ShapeMismatch) {
        let perSample = [window, features.count]
        guard windows.rank == 3, Array(windows.shape.dropFirst()) == perSample else {
            throw ShapeMismatch(layer: what, expected: batchedShapeText(perSample), found: windows.shape,
                                detail: "[batch, window, features] with features \(features.joined(separator: ", "))")
        }
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
