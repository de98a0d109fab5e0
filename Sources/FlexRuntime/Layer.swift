/// A layer of a model: parameters plus a batched forward pass.
///
/// Layers are reference types holding their parameters. `forward` does not mutate the layer, so one
/// layer may run forward passes on several threads at once (the trainer splits a mini-batch this way).
/// Backward passes live in FlexTraining (`TrainableLayer`), so the runtime never links training code.
public protocol Layer: AnyObject, Sendable {
    /// The layer's dotted path in its model, e.g. `layers.3`; used in error messages and checkpoints.
    var name: String { get set }
    /// The layer as data (kind and sizes), so a checkpoint can carry the architecture.
    var spec: LayerSpec { get }
    /// Names of the parameter tensors, in the order of `parameters` (e.g. `weight`, `bias`, `alpha`, `beta`).
    var parameterNames: [String] { get }
    /// The parameter tensors in PyTorch's layouts (see each layer's documentation).
    var parameters: [Tensor] { get set }
    /// The per-sample output shape for a per-sample input shape (no batch dimension), or a `ShapeMismatch`.
    func outputShape(forInput shape: [Int]) throws(ShapeMismatch) -> [Int]
    /// The batched forward pass; `input.shape[0]` is the batch size.
    func forward(_ input: Tensor) throws(ShapeMismatch) -> Tensor
    /// The same forward pass writing into `output`, whose storage is reused when its element count already
    /// matches (otherwise it is reallocated, e.g. when the batch size changes), with all scratch memory taken
    /// from `workspace`. The result equals `forward(_:)` exactly. The default falls back to
    /// `output = try forward(input)` (allocating).
    func forward(_ input: Tensor, into output: inout Tensor, workspace: Workspace) throws(ShapeMismatch)
}

extension Layer {
    public func forward(_ input: Tensor, into output: inout Tensor, workspace: Workspace) throws(ShapeMismatch) {
        output = try forward(input)
    }

    /// `forward(_:into:workspace:)` into a new tensor with a temporary workspace: how the layers with a
    /// buffered path implement `forward(_:)` (one implementation of each kernel).
    func forwardAllocating(_ input: Tensor) throws(ShapeMismatch) -> Tensor {
        var output = Tensor.empty
        try forward(input, into: &output, workspace: Workspace())
        return output
    }

    /// Total number of scalar parameters.
    public var parameterCount: Int { parameters.reduce(0) { $0 + $1.count } }

    /// `"layers.3 (Conv2d)"`: the label used in error messages.
    public var label: String { "\(name) (\(spec.kindName))" }

    /// Checks a batched input against `outputShape(forInput:)` and returns the batched output shape.
    public func checkedOutputShape(_ input: Tensor) throws(ShapeMismatch) -> [Int] {
        guard input.rank >= 1 else {
            throw ShapeMismatch(layer: label, expected: "[N, ...]", found: input.shape)
        }
        return [input.shape[0]] + (try outputShape(forInput: Array(input.shape.dropFirst())))
    }

    /// Replaces one parameter, checking its shape: the message names the dotted path and both shapes.
    public func setParameter(_ name: String, _ value: Tensor) throws(ConfigurationError) {
        guard let i = parameterNames.firstIndex(of: name) else {
            throw ConfigurationError("\(self.name).\(name): no such parameter; \(label) has \(parameterNames.joined(separator: ", "))")
        }
        guard parameters[i].shape == value.shape else {
            throw ConfigurationError("\(self.name).\(name): expected shape \(formatShape(parameters[i].shape)), found \(formatShape(value.shape))")
        }
        parameters[i] = value
    }
}
