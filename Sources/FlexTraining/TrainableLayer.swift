import FlexRuntime

/// What a layer's forward pass keeps for its backward pass.
public struct LayerCache: Sendable {
    /// The layer's input.
    public var input: Tensor?
    /// The layer's output.
    public var output: Tensor?
    /// Layer-specific saved tensors (e.g. im2col columns, LSTM gate values).
    public var saved: [Tensor] = []
    /// Layer-specific indices (e.g. max-pool argmax positions).
    public var indices: [Int32] = []
    public init() {}
}

/// A layer with a backward pass.
///
/// `forward(_:cache:)` runs the forward pass and records what `backward` needs. `backward` adds
/// ∂L/∂θ to `gradients` (one tensor per parameter, shapes as `parameters`) and returns ∂L/∂x when
/// `needsInputGradient` (the first layer of a model skips it).
public protocol TrainableLayer: Layer {
    func forward(_ input: Tensor, cache: inout LayerCache) throws(ShapeMismatch) -> Tensor
    func backward(_ gradOutput: Tensor, cache: LayerCache, gradients: inout [Tensor],
                  needsInputGradient: Bool) -> Tensor?
}

extension Layer {
    /// Zero tensors shaped like the parameters, for gradient accumulation.
    public func zeroGradients() -> [Tensor] { parameters.map { Tensor(shape: $0.shape) } }
}
