/// A model as an ordered list of layers built from `LayerSpec`s, named `layers.0`, `layers.1`, ...
///
/// The shapes are checked once at construction: each layer's expected input is the previous layer's output,
/// starting from the per-sample `inputShape` (e.g. `[1, 28, 28]` for CAE1/CAE2, `[30, 4]` for a forecaster).
public final class Sequential: @unchecked Sendable {
    public let specs: [LayerSpec]
    /// Per-sample input shape (no batch dimension).
    public let inputShape: [Int]
    /// Per-sample output shape of every layer, in order.
    public let layerOutputShapes: [[Int]]
    public var layers: [any Layer]

    /// Builds the layers with deterministic initial parameters from `seed`.
    public init(specs: [LayerSpec], inputShape: [Int], seed: UInt64 = 0) throws(ConfigurationError) {
        var rng = SplitMix64(seed: seed)
        var layers: [any Layer] = []
        var shapes: [[Int]] = []
        var shape = inputShape
        for (i, spec) in specs.enumerated() {
            let layer = try spec.makeLayer(name: "layers.\(i)", rng: &rng)
            do {
                shape = try layer.outputShape(forInput: shape)
            } catch {
                throw ConfigurationError("model does not fit together: \(error.description)")
            }
            layers.append(layer)
            shapes.append(shape)
        }
        self.specs = specs
        self.inputShape = inputShape
        self.layers = layers
        self.layerOutputShapes = shapes
    }

    /// Per-sample output shape of the whole model.
    public var outputShape: [Int] { layerOutputShapes.last ?? inputShape }

    /// Total number of scalar parameters.
    public var parameterCount: Int { layers.reduce(0) { $0 + $1.parameterCount } }

    /// Runs the layers in order over a batch `[N] + inputShape`.
    public func forward(_ input: Tensor) throws(ShapeMismatch) -> Tensor {
        guard Array(input.shape.dropFirst()) == inputShape else {
            throw ShapeMismatch(layer: "model input", expected: "[N" + inputShape.map { ", \($0)" }.joined() + "]",
                                found: input.shape)
        }
        var x = input
        for layer in layers { x = try layer.forward(x) }
        return x
    }

    /// Runs layers `range` only (e.g. the encoder half of an auto-encoder).
    public func forward(_ input: Tensor, layers range: Range<Int>) throws(ShapeMismatch) -> Tensor {
        var x = input
        for layer in layers[range] { x = try layer.forward(x) }
        return x
    }

    /// All parameters by dotted path (`layers.0.weight`), in layer order.
    public var namedParameters: [(name: String, tensor: Tensor)] {
        layers.flatMap { layer in zip(layer.parameterNames, layer.parameters).map { ("\(layer.name).\($0)", $1) } }
    }
}
