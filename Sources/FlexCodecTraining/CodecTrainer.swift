import FlexEntropyModel
import FlexRuntime
import FlexTraining

/// How a codec is trained: `flexctl train codec` options, recorded in the run folder.
public struct CodecTrainingOptions: Codable, Sendable, Equatable {
    /// λ in λ·255²·MSE + bpp (CompressAI's `lmbda`: 0.0018 … 0.0483 for its qualities 1 … 8).
    public var lambda: Double
    /// Square crop side (a multiple of 16).
    public var crop: Int
    /// Crops per step.
    public var batch: Int
    /// Optimiser steps in all.
    public var steps: Int
    /// Adam's learning rate for the transforms and the density.
    public var learningRate: Double
    /// The rate is multiplied by this factor at `decayAt`·steps (a single step decay; 1 disables it).
    public var decayFactor: Double
    public var decayAt: Double
    /// Adam's learning rate for the quantiles' auxiliary loss (CompressAI: 1e-3).
    public var auxiliaryLearningRate: Double
    /// Gradients are scaled down to this global L2 norm when above it (CompressAI's `clip_max_norm`, 1.0);
    /// 0 disables clipping.
    public var clipNorm: Double
    public var seed: UInt64

    public init(lambda: Double, crop: Int = 128, batch: Int = 8, steps: Int, learningRate: Double = 1e-4,
                decayFactor: Double = 0.1, decayAt: Double = 0.9, auxiliaryLearningRate: Double = 1e-3,
                clipNorm: Double = 1, seed: UInt64 = 0) {
        self.lambda = lambda
        self.crop = crop
        self.batch = batch
        self.steps = steps
        self.learningRate = learningRate
        self.decayFactor = decayFactor
        self.decayAt = decayAt
        self.auxiliaryLearningRate = auxiliaryLearningRate
        self.clipNorm = clipNorm
        self.seed = seed
    }

    /// Ranges every option must be in, as one message naming the first option outside its range.
    public func validate() throws(ConfigurationError) {
        func check(_ ok: Bool, _ m: @autoclosure () -> String) throws(ConfigurationError) {
            if !ok { throw ConfigurationError(m()) }
        }
        try check(lambda.isFinite && lambda > 0 && lambda <= 100, "lambda \(lambda): expected a number in (0, 100]")
        try check(crop >= 16 && crop <= 1024 && crop % 16 == 0, "crop \(crop): expected a multiple of 16 in 16...1024")
        try check(batch >= 1 && batch <= 1024, "batch \(batch): expected 1...1024")
        try check(steps >= 1 && steps <= 100_000_000, "steps \(steps): expected 1...100000000")
        try check(learningRate.isFinite && learningRate > 0 && learningRate <= 1, "learning rate \(learningRate): expected (0, 1]")
        try check(decayFactor.isFinite && decayFactor > 0 && decayFactor <= 1, "decay factor \(decayFactor): expected (0, 1]")
        try check(decayAt.isFinite && decayAt >= 0 && decayAt <= 1, "decay point \(decayAt): expected [0, 1]")
        try check(auxiliaryLearningRate.isFinite && auxiliaryLearningRate > 0 && auxiliaryLearningRate <= 1,
                  "auxiliary learning rate \(auxiliaryLearningRate): expected (0, 1]")
        try check(clipNorm.isFinite && clipNorm >= 0, "clip norm \(clipNorm): expected >= 0")
    }

    /// The learning rate for (0-based) step `step`.
    public func learningRate(atStep step: Int) -> Double {
        Double(step) >= decayAt * Double(steps) ? learningRate * decayFactor : learningRate
    }
}

/// One optimiser step of a codec: the rate–distortion loss's gradients (`TrainableCodec.lossAndGradients`),
/// clipping to a global norm, Adam on the transforms and the density, a second Adam on the quantiles'
/// auxiliary loss, and projection of any activation parameters back onto their feasible sets.
public final class CodecTrainer {
    public let model: TrainableCodec
    public var optimizer: Adam
    public var auxiliaryOptimizer: Adam
    public var options: CodecTrainingOptions
    public var threads: Int

    public init(model: TrainableCodec, options: CodecTrainingOptions, threads: Int) {
        self.model = model
        self.options = options
        self.threads = max(1, threads)
        optimizer = Adam(learningRate: options.learningRate)
        auxiliaryOptimizer = Adam(learningRate: options.auxiliaryLearningRate)
    }

    public struct StepResult: Sendable {
        public var evaluation: TrainableCodec.Evaluation
        /// The auxiliary (quantile) loss before the step.
        public var auxiliaryLoss: Double
        /// The gradient's global L2 norm before clipping.
        public var gradientNorm: Double
    }

    /// One step on `batch` (`[n, 3, P, P]`, values in [0, 1]); `noise` seeds the quantisation noise and
    /// `step` (0-based) picks the learning rate.
    public func step(batch: Tensor, noise: UInt64, step: Int) throws -> StepResult {
        let (evaluation, gradients) = try model.lossAndGradients(batch, lambda: options.lambda, noise: noise, threads: threads)
        var grads = gradients.flattened
        var sumSquares = 0.0
        for g in grads { for v in g.scalars { sumSquares += Double(v) * Double(v) } }
        let norm = sumSquares.squareRoot()
        guard norm.isFinite else {
            throw ConfigurationError("the gradient is not finite at step \(step + 1) (loss \(evaluation.loss(lambda: options.lambda))); lower the learning rate")
        }
        if options.clipNorm > 0, norm > options.clipNorm {
            // torch.nn.utils.clip_grad_norm_: scale by max_norm / (norm + 1e-6).
            let s = Float(options.clipNorm / (norm + 1e-6))
            for i in grads.indices { grads[i].scalars.withUnsafeMutableBufferPointer { for j in $0.indices { $0[j] *= s } } }
        }
        // Parameters moved out of their owners so Adam updates them in place.
        var flat: [Tensor] = []
        var counts: [Int] = []
        for model in [model.analysis, model.synthesis] {
            for layer in model.layers {
                counts.append(layer.parameters.count)
                flat += layer.parameters
                layer.parameters = []
            }
        }
        var b = model.bottleneck
        let nm = b.matrices.count, nf = b.factors.count
        flat += b.matrices + b.biases + b.factors
        optimizer.learningRate = options.learningRate(atStep: step)
        optimizer.step(parameters: &flat, gradients: grads)
        var k = 0, li = 0
        for model in [model.analysis, model.synthesis] {
            for layer in model.layers {
                layer.parameters = Array(flat[k ..< k + counts[li]])
                k += counts[li]
                li += 1
            }
        }
        b.matrices = Array(flat[k ..< k + nm]); k += nm
        b.biases = Array(flat[k ..< k + nm]); k += nm
        b.factors = Array(flat[k ..< k + nf])
        // The quantiles follow the updated density (CompressAI steps both optimisers after one backward; the
        // auxiliary loss does not depend on the main loss, so the order only shifts it by one step).
        let aux = b.auxiliaryLoss()
        var q = [b.quantiles]
        auxiliaryOptimizer.step(parameters: &q, gradients: [aux.quantileGradient])
        b.quantiles = q[0]
        model.bottleneck = b
        model.analysis.projectActivationParameters()
        model.synthesis.projectActivationParameters()
        return StepResult(evaluation: evaluation, auxiliaryLoss: aux.loss, gradientNorm: norm)
    }
}
