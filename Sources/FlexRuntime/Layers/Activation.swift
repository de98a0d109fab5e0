/// A flexible activation layer with per-unit parameters.
///
/// Input `[N, units, ...]`: unit u's α and β apply to every element of `input[n, u, ...]` (per channel for
/// NCHW, per feature for `[N, F]`). Parameters (only those the member has, in this order):
/// - `alpha`: `[units]` for one free weight, `[units, K]` for K ≥ 3 components (rows on the simplex);
/// - `beta`: `[units]`.
public final class Activation: Layer, @unchecked Sendable {
    public var name: String
    public let function: ActivationFunction
    public let units: Int
    public var parameters: [Tensor]

    public init(name: String, function: ActivationFunction, units: Int) {
        precondition(units > 0, "\(name) (Activation): units must be positive, found \(units)")
        self.name = name
        self.function = function
        self.units = units
        let slot = ActivationSlot(nonlinearity: nil, stackedLayer: 0, function: function, units: units)
        parameters = [slot.initialAlpha(), slot.initialBeta()].compactMap { $0 }
        parameterNames = [slot.alphaName, slot.betaName].compactMap { $0 }
    }

    public var spec: LayerSpec { .activation(function, units: units) }

    /// `alpha` and/or `beta`, as `ActivationSlot` names them.
    public let parameterNames: [String]

    /// Index of `alpha` in `parameters`, if the member has α.
    public var alphaIndex: Int? { function.alphaWidth > 0 ? 0 : nil }
    /// Index of `beta` in `parameters`, if the member has β.
    public var betaIndex: Int? { function.betaWidth > 0 ? (function.alphaWidth > 0 ? 1 : 0) : nil }

    public func outputShape(forInput shape: [Int]) throws(ShapeMismatch) -> [Int] {
        guard let first = shape.first, first == units else {
            throw ShapeMismatch(layer: label, expected: "[\(units), ...] per sample", found: shape,
                                detail: shape.isEmpty ? "an activation needs a unit dimension" : "unit dimension must be \(units)")
        }
        return shape
    }

    /// Checks a batched input `[N, units, ...]`; returns the spatial size (product of the trailing dims).
    public func checkInput(_ input: Tensor) throws(ShapeMismatch) -> Int {
        guard input.rank >= 2, input.shape[1] == units else {
            throw ShapeMismatch(layer: label, expected: "[N, \(units), ...]", found: input.shape,
                                detail: input.rank < 2 ? "an activation needs a batch and a unit dimension" : "unit dimension must be \(units)")
        }
        return input.shape.dropFirst(2).reduce(1, *)
    }

    public func forward(_ input: Tensor) throws(ShapeMismatch) -> Tensor {
        guard input.count > 0 else {
            _ = try checkInput(input)
            return input
        }
        return try forwardAllocating(input)
    }

    public func forward(_ input: Tensor, into output: inout Tensor, workspace: Workspace) throws(ShapeMismatch) {
        let spatial = try checkInput(input)
        output.prepare(shape: input.shape, workspace: workspace)
        guard input.count > 0 else { return }
        input.scalars.withUnsafeBufferPointer { x in
            output.scalars.withUnsafeMutableBufferPointer { y in
                run(x.baseAddress!, y.baseAddress!, batch: input.shape[0], spatial: spatial, workspace: workspace)
            }
        }
    }

    /// The forward pass overwriting `tensor` with the activated values (the kernels run in place).
    public func forward(inPlace tensor: inout Tensor, workspace: Workspace) throws(ShapeMismatch) {
        let spatial = try checkInput(tensor)
        let batch = tensor.shape[0]
        guard tensor.count > 0 else { return }
        tensor.scalars.withUnsafeMutableBufferPointer { y in
            run(y.baseAddress!, y.baseAddress!, batch: batch, spatial: spatial, workspace: workspace)
        }
    }

    private func run(_ x: FloatPointer, _ y: MutableFloatPointer, batch: Int, spatial: Int, workspace: Workspace) {
        let f = function, u = units
        let scratch = workspace.scratch(2, count: f.forwardScratchCount(units: u, spatial: spatial))
        withParameterPointers { alpha, beta in
            f.forward(x, y, batch: batch, units: u, spatial: spatial, alpha: alpha, beta: beta, scratch: scratch)
        }
    }

    /// Calls `body` with pointers to α (`[units * alphaWidth]`) and β (`[units * betaWidth]`), nil when absent.
    public func withParameterPointers<R>(_ body: (UnsafePointer<Float>?, UnsafePointer<Float>?) throws -> R) rethrows -> R {
        func withOptional(_ i: Int?, _ inner: (UnsafePointer<Float>?) throws -> R) rethrows -> R {
            guard let i else { return try inner(nil) }
            return try parameters[i].scalars.withUnsafeBufferPointer { try inner($0.baseAddress) }
        }
        return try withOptional(alphaIndex) { a in try withOptional(betaIndex) { b in try body(a, b) } }
    }
}
