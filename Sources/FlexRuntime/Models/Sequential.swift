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
    /// Allocates its buffers on every call; `forward(_:into:workspaces:)` reuses them.
    public func forward(_ input: Tensor, threads: Int) throws(ShapeMismatch) -> Tensor {
        let shards = max(1, min(threads, input.shape.first ?? 0))
        var output = Tensor.empty
        try forward(input, into: &output, workspaces: (0..<shards).map { _ in Workspace() })
        return output
    }

    private func checkModelInput(_ input: Tensor) throws(ShapeMismatch) {
        guard input.rank == inputShape.count + 1, Array(input.shape.dropFirst()) == inputShape else {
            throw ShapeMismatch(layer: "model input", expected: "[N" + inputShape.map { ", \($0)" }.joined() + "]",
                                found: input.shape)
        }
    }

    /// `forward(_:)` writing the model's output into `output` (storage reused when its element count
    /// matches) with every intermediate buffer taken from `workspace`: each layer's output is kept in the
    /// workspace (a slot per layer object), activation layers run in place on the output of the layer before,
    /// and the last layer that is not such an activation writes straight into `output`. After a first call,
    /// calls with the same batch size allocate no tensor storage or scratch. Results equal `forward(_:)`
    /// exactly.
    public func forward(_ input: Tensor, into output: inout Tensor, workspace: Workspace) throws(ShapeMismatch) {
        try checkModelInput(input)
        try workspace.countingCopies(of: &output) { (output: inout Tensor) throws(ShapeMismatch) in
            try run(input, into: &output, workspace: workspace)
        }
    }

    private func run(_ input: Tensor, into output: inout Tensor, workspace: Workspace) throws(ShapeMismatch) {
        func inPlace(_ i: Int) -> Bool { i > 0 && layers[i] is Activation }
        let last = layers.indices.last { !inPlace($0) } ?? -1
        let fromInput = -1, fromOutput = -2
        var current = fromInput  // where the running value is: `input`, `output` or a workspace slot
        for (i, layer) in layers.enumerated() {
            if inPlace(i), let activation = layer as? Activation {
                if current == fromOutput {
                    try activation.forward(inPlace: &output, workspace: workspace)
                } else {
                    try workspace.withTensor(current) { (t: inout Tensor) throws(ShapeMismatch) in
                        try activation.forward(inPlace: &t, workspace: workspace)
                    }
                }
                continue
            }
            let x = current == fromInput ? input : workspace.tensor(current)
            if i == last {
                try layer.forward(x, into: &output, workspace: workspace)
                current = fromOutput
            } else {
                let slot = workspace.tensorSlot(for: layer)
                try workspace.withTensor(slot) { (t: inout Tensor) throws(ShapeMismatch) in
                    try layer.forward(x, into: &t, workspace: workspace)
                }
                current = slot
            }
        }
        if current == fromInput { output = input }  // no layers
    }

    /// The threaded `forward(_:into:workspace:)`: the batch is split into at most `workspaces.count`
    /// contiguous shards (at most one per sample) run concurrently, shard s with `workspaces[s]` (which
    /// also keeps the shard's input and output copies). The result is identical for any number of shards.
    /// `workspaces` must not be used by another thread meanwhile.
    public func forward(_ input: Tensor, into output: inout Tensor, workspaces: [Workspace]) throws(ShapeMismatch) {
        precondition(!workspaces.isEmpty, "forward(_:into:workspaces:) needs at least one workspace")
        let n = input.shape.first ?? 0
        let shards = max(1, min(workspaces.count, n))
        if shards == 1 { return try forward(input, into: &output, workspace: workspaces[0]) }
        try checkModelInput(input)
        let bounds = (0...shards).map { $0 * n / shards }
        let inPer = inputShape.reduce(1, *), outPer = outputShape.reduce(1, *)
        let shared = UncheckedSendable((workspaces, self))
        let failure = workspaces[0].countingCopies(of: &output) { output -> ShapeMismatch? in
            output.prepare(shape: [n] + outputShape, workspace: workspaces[0])
            return input.scalars.withUnsafeBufferPointer { xb in
                output.scalars.withUnsafeMutableBufferPointer { yb -> ShapeMismatch? in
                    let x = UncheckedPointer(UnsafeMutablePointer(mutating: xb.baseAddress!))
                    let y = UncheckedPointer(yb.baseAddress!)
                    let errors = Mutex<[ShapeMismatch?]>(Array(repeating: nil, count: shards))
                    DispatchQueue.concurrentPerform(iterations: shards) { s in
                        let (workspaces, model) = shared.value
                        let ws = workspaces[s], first = bounds[s], count = bounds[s + 1] - first
                        let inSlot = ws.tensorSlot(for: model, role: 1), outSlot = ws.tensorSlot(for: model, role: 2)
                        ws.withTensor(inSlot) { t in
                            t.prepare(shape: [count] + model.inputShape, workspace: ws)
                            t.scalars.withUnsafeMutableBufferPointer {
                                $0.baseAddress!.update(from: x.pointer + first * inPer, count: count * inPer)
                            }
                        }
                        let shardInput = ws.tensor(inSlot)
                        do throws(ShapeMismatch) {
                            try ws.withTensor(outSlot) { (t: inout Tensor) throws(ShapeMismatch) in
                                try model.forward(shardInput, into: &t, workspace: ws)
                                t.scalars.withUnsafeBufferPointer {
                                    (y.pointer + first * outPer).update(from: $0.baseAddress!, count: count * outPer)
                                }
                            }
                        } catch {
                            errors.withLock { $0[s] = error }
                        }
                    }
                    return errors.withLock { $0.compactMap { $0 }.first }
                }
            }
        }
        if let failure { throw failure }
    }
}

/// A value handed to concurrent workers that each use a disjoint part of it.
struct UncheckedSendable<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}

/// A pointer handed to concurrent workers that write disjoint ranges.
struct UncheckedPointer: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<Float>
    init(_ p: UnsafeMutablePointer<Float>) { pointer = p }
}
