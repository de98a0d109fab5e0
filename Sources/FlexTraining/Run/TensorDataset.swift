import FlexRuntime

/// Samples held in memory as float32: inputs of shape `inputShape` each, targets of `targetShape` each (an
/// auto-encoder's targets are its inputs and are not stored twice).
public struct TensorDataset: Sendable {
    /// Per-sample input shape, e.g. `[1, 28, 28]` or `[30, 4]`.
    public let inputShape: [Int]
    /// Per-sample target shape.
    public var targetShape: [Int] { targets == nil ? inputShape : storedTargetShape }
    public let count: Int
    /// `count × inputShape` values, row-major.
    public let inputs: [Float]
    /// `count × targetShape` values, or nil when the targets are the inputs.
    public let targets: [Float]?
    private let storedTargetShape: [Int]

    /// A supervised dataset. `inputs.count` must be `count · ∏ inputShape`, `targets.count` `count · ∏ targetShape`.
    public init(inputShape: [Int], inputs: [Float], targetShape: [Int], targets: [Float]) throws(ConfigurationError) {
        let si = inputShape.reduce(1, *), st = targetShape.reduce(1, *)
        guard si > 0, st > 0, inputs.count % si == 0 else {
            throw ConfigurationError("dataset: \(inputs.count) input values do not form samples of shape \(inputShape)")
        }
        let n = inputs.count / si
        guard targets.count == n * st else {
            throw ConfigurationError("dataset: \(n) samples of shape \(inputShape) need \(n * st) target values of shape \(targetShape), found \(targets.count)")
        }
        self.inputShape = inputShape
        self.count = n
        self.inputs = inputs
        self.targets = targets
        self.storedTargetShape = targetShape
    }

    /// An auto-encoder dataset: each sample's target is the sample itself.
    public init(autoencoderInputs inputs: [Float], shape: [Int]) throws(ConfigurationError) {
        let si = shape.reduce(1, *)
        guard si > 0, inputs.count % si == 0 else {
            throw ConfigurationError("dataset: \(inputs.count) values do not form samples of shape \(shape)")
        }
        self.inputShape = shape
        self.count = inputs.count / si
        self.inputs = inputs
        self.targets = nil
        self.storedTargetShape = shape
    }

    /// The samples at `indices` as a batch: `[n] + inputShape` and `[n] + targetShape`.
    public func batch<C: Collection<Int>>(_ indices: C) -> (input: Tensor, target: Tensor) {
        let input = gather(inputs, sampleSize: inputShape.reduce(1, *), shape: inputShape, indices)
        guard let targets else { return (input, input) }
        return (input, gather(targets, sampleSize: storedTargetShape.reduce(1, *), shape: storedTargetShape, indices))
    }

    private func gather<C: Collection<Int>>(_ source: [Float], sampleSize: Int, shape: [Int], _ indices: C) -> Tensor {
        let n = indices.count
        var out = [Float](repeating: 0, count: n * sampleSize)
        source.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                var k = 0
                for i in indices {
                    precondition(i >= 0 && i < count, "sample \(i) out of 0..<\(count)")
                    dst.baseAddress!.advanced(by: k * sampleSize)
                        .update(from: src.baseAddress!.advanced(by: i * sampleSize), count: sampleSize)
                    k += 1
                }
            }
        }
        return Tensor(shape: [n] + shape, scalars: out)
    }
}
