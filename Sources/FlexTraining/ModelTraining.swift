import CFlexKernels
import Dispatch
import FlexRuntime
import Synchronization

extension Sequential {
    /// The layers as `TrainableLayer`s (every runtime layer kind has a backward pass in FlexTraining).
    public var trainableLayers: [any TrainableLayer] {
        layers.map { layer in
            guard let t = layer as? any TrainableLayer else {
                preconditionFailure("\(layer.label) has no backward pass")
            }
            return t
        }
    }

    /// Zero gradients shaped like every layer's parameters.
    public func zeroGradients() -> [[Tensor]] { layers.map { $0.zeroGradients() } }

    /// One forward and backward pass over a batch with the MSE loss against `target`.
    ///
    /// Returns the mean loss over all elements and ∂L/∂θ for every layer's parameters (same order and shapes
    /// as `layers[i].parameters`). The first layer's input gradient is not computed.
    public func lossAndGradients(input: Tensor, target: Tensor) throws(ShapeMismatch) -> (loss: Float, gradients: [[Tensor]]) {
        let trainable = trainableLayers
        var caches = [LayerCache](repeating: LayerCache(), count: trainable.count)
        guard Array(input.shape.dropFirst()) == inputShape else {
            throw ShapeMismatch(layer: "model input", expected: "[N" + inputShape.map { ", \($0)" }.joined() + "]",
                                found: input.shape)
        }
        var x = input
        for (i, layer) in trainable.enumerated() { x = try layer.forward(x, cache: &caches[i]) }
        let (loss, dy) = try meanSquaredError(prediction: x, target: target)
        var grads = zeroGradients()
        var g = dy
        for i in stride(from: trainable.count - 1, through: 0, by: -1) {
            let dx = trainable[i].backward(g, cache: caches[i], gradients: &grads[i], needsInputGradient: i > 0)
            caches[i] = LayerCache()  // release memory early
            if let dx { g = dx }
        }
        return (loss, grads)
    }

    /// `lossAndGradients` with the batch split into `threads` contiguous shards computed concurrently.
    ///
    /// Shard s of size n_s contributes (n_s / N) of its mean loss and gradients, summed in shard order, so
    /// the result is the full-batch mean and the same for the same thread count on every run.
    public func lossAndGradients(input: Tensor, target: Tensor, threads: Int) throws(ShapeMismatch)
        -> (loss: Float, gradients: [[Tensor]])
    {
        let n = input.shape.first ?? 0
        let shards = max(1, min(threads, n))
        if shards == 1 { return try lossAndGradients(input: input, target: target) }
        guard target.shape.first == n else {
            throw ShapeMismatch(layer: "loss", expected: "target with batch \(n)", found: target.shape)
        }
        let bounds = (0...shards).map { $0 * n / shards }
        let results = ShardResults(count: shards)
        DispatchQueue.concurrentPerform(iterations: shards) { s in
            let r = bounds[s] ..< bounds[s + 1]
            results.set(s, Result { () throws(ShapeMismatch) in
                try self.lossAndGradients(input: input.batchSlice(r), target: target.batchSlice(r))
            })
        }
        var total: Float = 0
        var grads: [[Tensor]] = []
        for s in 0..<shards {
            let weight = Float(bounds[s + 1] - bounds[s]) / Float(n)
            switch results.get(s) {
            case .failure(let e): throw e
            case .success(let (loss, g)):
                total += weight * loss
                if s == 0 {
                    grads = g.map { $0.map { scaled($0, weight) } }
                } else {
                    for l in grads.indices { for p in grads[l].indices { addScaled(&grads[l][p], g[l][p], weight) } }
                }
            }
        }
        return (total, grads)
    }
}

private func scaled(_ t: Tensor, _ w: Float) -> Tensor {
    Tensor(shape: t.shape, scalars: t.scalars.map { $0 * w })
}

/// acc += w · t, element by element (same shapes), one multiply-add per element (CFlexKernels). Shared by the
/// sharded loss gradients here and the codec trainer (FlexCodecTraining).
public func addScaled(_ acc: inout Tensor, _ t: Tensor, _ w: Float) {
    acc.scalars.withUnsafeMutableBufferPointer { a in
        t.scalars.withUnsafeBufferPointer { b in
            precondition(a.count == b.count, "addScaled: \(a.count) vs \(b.count) elements")
            guard let ap = a.baseAddress, let bp = b.baseAddress else { return }
            flexk_add_scaled(ap, bp, w, a.count)  // a += w·b, one multiply-add per element (CFlexKernels)
        }
    }
}

/// Per-shard results written from concurrent workers (each slot written by exactly one worker).
private final class ShardResults: Sendable {
    typealias Slot = Result<(Float, [[Tensor]]), ShapeMismatch>?
    private let slots: Mutex<[Slot]>
    init(count: Int) { slots = Mutex(Array(repeating: nil, count: count)) }
    func set(_ i: Int, _ r: Result<(Float, [[Tensor]]), ShapeMismatch>) { slots.withLock { $0[i] = r } }
    func get(_ i: Int) -> Result<(Float, [[Tensor]]), ShapeMismatch> { slots.withLock { $0[i]! } }
}
