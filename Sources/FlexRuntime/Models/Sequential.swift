import Dispatch
import Synchronization

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

extension Sequential {
    /// `forward` with the batch split into `threads` contiguous shards run concurrently; the result is
    /// identical to the single-threaded forward (each sample's computation does not depend on the split).
    public func forward(_ input: Tensor, threads: Int) throws(ShapeMismatch) -> Tensor {
        let n = input.shape.first ?? 0
        let shards = max(1, min(threads, n))
        if shards == 1 { return try forward(input) }
        guard Array(input.shape.dropFirst()) == inputShape else { return try forward(input) }  // throws the mismatch
        let bounds = (0...shards).map { $0 * n / shards }
        let per = outputShape.reduce(1, *)
        var out = [Float](repeating: 0, count: n * per)
        let failure = out.withUnsafeMutableBufferPointer { buffer -> ShapeMismatch? in
            let base = UncheckedPointer(buffer.baseAddress!)
            let errors = Mutex<[ShapeMismatch?]>(Array(repeating: nil, count: shards))
            DispatchQueue.concurrentPerform(iterations: shards) { s in
                do throws(ShapeMismatch) {
                    let y = try self.forward(input.batchSlice(bounds[s] ..< bounds[s + 1]))
                    y.scalars.withUnsafeBufferPointer { src in
                        (base.pointer + bounds[s] * per).update(from: src.baseAddress!, count: src.count)
                    }
                } catch {
                    errors.withLock { $0[s] = error }
                }
            }
            return errors.withLock { $0.compactMap { $0 }.first }
        }
        if let failure { throw failure }
        return Tensor(shape: [n] + outputShape, scalars: out)
    }
}

/// A pointer handed to concurrent workers that write disjoint ranges.
struct UncheckedPointer: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<Float>
    init(_ p: UnsafeMutablePointer<Float>) { pointer = p }
}
