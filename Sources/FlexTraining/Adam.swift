import CFlexKernels
import FlexRuntime
import RealModule

/// The Adam optimiser with bias correction, following PyTorch's `torch.optim.Adam` (single-tensor CPU path,
/// `amsgrad=False`, `maximize=False`).
///
/// For each parameter tensor θ with gradient g, at step t = 1, 2, … (all element-wise):
///
///     g  ← g + w·θ                        (only when weightDecay w ≠ 0: PyTorch's coupled L2 form)
///     m  ← β1·m + (1 − β1)·g              (first moment; m₀ = 0)
///     v  ← β2·v + (1 − β2)·g²             (second moment; v₀ = 0)
///     m̂  = m / (1 − β1^t),   v̂ = v / (1 − β2^t)
///     θ  ← θ − η·s · m̂ / (√v̂ + ε)        (η = learningRate, s = the tensor's learning-rate multiplier, 1 by default)
///
/// Evaluated in PyTorch's order and precision: the bias corrections and the step size η·s/(1 − β1^t) in
/// `Double` (PyTorch computes them from Python floats), everything element-wise in float32 with the fused
/// multiply-adds of PyTorch's AVX2 CPU kernels: `g ← fma(w, θ, g)`, `m ← fma(1−β1, g − m, m)` (`lerp_`; for
/// β1 ≤ 0.5 `fma(−β1, g − m, g)`), `v ← fma((1−β2)·g, g, v·β2)`, `d = √v / √(1−β2^t) + ε`,
/// `θ ← θ + (−stepSize·m) / d`. This reproduces PyTorch bit for bit except where PyTorch's vectorised square
/// root (MKL) is not correctly rounded; see `Tests/FlexTrainingTests/Reference/adam_reference.py`.
///
/// The moments are created (zero) at the first `step`, shaped like the parameters. The whole optimiser —
/// hyper-parameters, step count and moments — is `Codable`, so a run resumed from a checkpoint continues
/// exactly (bit for bit) as if it had not stopped.
public struct Adam: Codable, Sendable, Equatable {
    /// η, the base learning rate (PyTorch default 1e-3).
    public var learningRate: Double
    /// β1, decay of the first moment (default 0.9).
    public var beta1: Double
    /// β2, decay of the second moment (default 0.999).
    public var beta2: Double
    /// ε, added to √v̂ (default 1e-8).
    public var epsilon: Double
    /// w, coupled L2 weight decay: g ← g + w·θ before the moments (default 0: none). Not AdamW.
    public var weightDecay: Double
    /// Optional per-tensor multipliers s of the learning rate, one per parameter tensor (nil: all 1).
    /// Use it e.g. to give the activation parameters α, β their own learning rate.
    public var learningRateMultipliers: [Double]?

    /// The optimiser's state: what PyTorch keeps in `optimizer.state`.
    public struct State: Codable, Sendable, Equatable {
        /// t, the number of steps taken (0 before the first step).
        public var step: Int = 0
        /// The shapes of the parameter tensors the moments belong to (empty before the first step).
        public var shapes: [[Int]] = []
        /// m, one array per parameter tensor (row-major, as the tensor).
        public var firstMoments: [[Float]] = []
        /// v, one array per parameter tensor.
        public var secondMoments: [[Float]] = []
        public init() {}
    }

    /// Step count and moments. Replace it only with a state taken from an `Adam` over the same parameters.
    public var state = State()

    public init(learningRate: Double = 1e-3, beta1: Double = 0.9, beta2: Double = 0.999, epsilon: Double = 1e-8,
                weightDecay: Double = 0, learningRateMultipliers: [Double]? = nil) {
        self.learningRate = learningRate
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.weightDecay = weightDecay
        self.learningRateMultipliers = learningRateMultipliers
    }

    /// Checks the hyper-parameters as PyTorch does (0 ≤ η, 0 ≤ ε, 0 ≤ β < 1, 0 ≤ w), the multipliers' count,
    /// and — once the state exists — that it belongs to tensors of these shapes (e.g. a checkpoint's optimiser
    /// state against the model it is loaded into). Call it before `step` where bad input is possible.
    public func validate(parameters: [Tensor]) throws(ConfigurationError) {
        guard learningRate >= 0, learningRate.isFinite else { throw ConfigurationError("Adam: invalid learning rate \(learningRate)") }
        guard epsilon >= 0, epsilon.isFinite else { throw ConfigurationError("Adam: invalid epsilon \(epsilon)") }
        guard (0..<1).contains(beta1) else { throw ConfigurationError("Adam: invalid beta1 \(beta1) (need 0 <= beta1 < 1)") }
        guard (0..<1).contains(beta2) else { throw ConfigurationError("Adam: invalid beta2 \(beta2) (need 0 <= beta2 < 1)") }
        guard weightDecay >= 0, weightDecay.isFinite else { throw ConfigurationError("Adam: invalid weight decay \(weightDecay)") }
        if let s = learningRateMultipliers, s.count != parameters.count {
            throw ConfigurationError("Adam: \(s.count) learning-rate multipliers for \(parameters.count) parameter tensors")
        }
        if state.step > 0 || !state.shapes.isEmpty {
            let shapes = parameters.map(\.shape)
            guard shapes == state.shapes else {
                throw ConfigurationError("Adam: state is for \(state.shapes.count) tensors of shapes \(state.shapes.map(formatShape)), parameters are \(shapes.count) tensors of shapes \(shapes.map(formatShape))")
            }
        }
    }

    /// One Adam step: updates `parameters` in place from `gradients` (∂loss/∂θ, same count and shapes).
    ///
    /// Precondition: `gradients` matches `parameters` tensor for tensor, and the state (if any) was made for
    /// tensors of these shapes; a violation stops with a message naming the tensor and both shapes.
    public mutating func step(parameters: inout [Tensor], gradients: [Tensor]) {
        precondition(parameters.count == gradients.count,
                     "Adam.step: \(parameters.count) parameter tensors but \(gradients.count) gradient tensors")
        for i in parameters.indices {
            precondition(parameters[i].shape == gradients[i].shape,
                         "Adam.step: parameter \(i) has shape \(formatShape(parameters[i].shape)), its gradient \(formatShape(gradients[i].shape))")
        }
        if let s = learningRateMultipliers {
            precondition(s.count == parameters.count,
                         "Adam.step: \(s.count) learning-rate multipliers for \(parameters.count) parameter tensors")
        }
        if state.step == 0 && state.shapes.isEmpty {
            state.shapes = parameters.map(\.shape)
            state.firstMoments = parameters.map { [Float](repeating: 0, count: $0.count) }
            state.secondMoments = state.firstMoments
        } else {
            for i in parameters.indices where i < state.shapes.count {
                precondition(state.shapes[i] == parameters[i].shape,
                             "Adam.step: state of tensor \(i) is for shape \(formatShape(state.shapes[i])), parameter has \(formatShape(parameters[i].shape))")
            }
            precondition(state.shapes.count == parameters.count,
                         "Adam.step: state is for \(state.shapes.count) tensors, given \(parameters.count)")
        }

        state.step += 1
        let t = Double(state.step)
        let bias1 = 1 - Double.pow(beta1, t)
        let bias2Sqrt = (1 - Double.pow(beta2, t)).squareRoot()
        let c = Coefficients(
            oneMinusBeta1: Float(1 - beta1), beta2: Float(beta2), oneMinusBeta2: Float(1 - beta2),
            bias2Sqrt: Float(bias2Sqrt), epsilon: Float(epsilon), weightDecay: Float(weightDecay))
        for i in parameters.indices {
            let stepSize = Float(learningRate * (learningRateMultipliers?[i] ?? 1) / bias1)
            parameters[i].scalars.withUnsafeMutableBufferPointer { theta in
                state.firstMoments[i].withUnsafeMutableBufferPointer { m in
                    state.secondMoments[i].withUnsafeMutableBufferPointer { v in
                        gradients[i].scalars.withUnsafeBufferPointer { g in
                            Adam.update(theta: theta.baseAddress, m: m.baseAddress, v: v.baseAddress,
                                        g: g.baseAddress, count: g.count, stepSize: stepSize, c)
                        }
                    }
                }
            }
        }
    }

    /// Forgets the step count and moments (the next step starts a fresh Adam run).
    public mutating func resetState() { state = State() }

    struct Coefficients {
        var oneMinusBeta1, beta2, oneMinusBeta2, bias2Sqrt, epsilon, weightDecay: Float
    }

    /// The element-wise update (C: `adam_update` in Sources/CFlexKernels/kernels_body.h, 8 lanes at a time, the
    /// tail with the same lane operations one element at a time). The moments use PyTorch's lerp:
    /// m + w·(g − m) for w < 0.5, else g + (w − 1)·(g − m), as one multiply-add.
    @inline(__always)
    static func update(theta: UnsafeMutablePointer<Float>?, m: UnsafeMutablePointer<Float>?,
                       v: UnsafeMutablePointer<Float>?, g: UnsafePointer<Float>?, count n: Int,
                       stepSize: Float, _ c: Coefficients) {
        guard n > 0, let theta, let m, let v, let g else { return }
        var coefficients = flexk_adam_coefficients(
            one_minus_beta1: c.oneMinusBeta1, beta2: c.beta2, one_minus_beta2: c.oneMinusBeta2,
            bias2_sqrt: c.bias2Sqrt, epsilon: c.epsilon, weight_decay: c.weightDecay)
        flexk_adam_update(theta, m, v, g, n, stepSize, &coefficients)
    }
}

