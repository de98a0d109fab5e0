/// A fully connected layer with PyTorch's semantics (`torch.nn.Linear`).
///
/// y[n, o] = bias[o] + Σ_i weight[o, i] · x[n, i];  input `[N, inputFeatures]`, output `[N, outputFeatures]`;
/// `weight`: `[outputFeatures, inputFeatures]`, `bias`: `[outputFeatures]`.
public final class Dense: Layer, @unchecked Sendable {
    public var name: String
    public let inputFeatures: Int, outputFeatures: Int
    public var parameters: [Tensor]
    public var parameterNames: [String] { ["weight", "bias"] }
    public var spec: LayerSpec { .dense(inFeatures: inputFeatures, outFeatures: outputFeatures) }
    /// `[out, in]`.
    public var weight: Tensor { parameters[0] }
    /// `[out]`.
    public var bias: Tensor { parameters[1] }

    /// Weights and biases from U(−1/√in, 1/√in) (PyTorch's default).
    public init(name: String = "dense", inputFeatures: Int, outputFeatures: Int, rng: inout SplitMix64) {
        precondition(inputFeatures > 0 && outputFeatures > 0,
                     "Linear \(name): features \(inputFeatures)→\(outputFeatures) must be positive (LayerSpec.validate reports this as an error)")
        self.name = name
        self.inputFeatures = inputFeatures
        self.outputFeatures = outputFeatures
        parameters = [
            Tensor(shape: [outputFeatures, inputFeatures],
                   scalars: uniformInit(count: outputFeatures * inputFeatures, fanIn: inputFeatures, rng: &rng)),
            Tensor(shape: [outputFeatures], scalars: uniformInit(count: outputFeatures, fanIn: inputFeatures, rng: &rng)),
        ]
    }

    public func outputShape(forInput shape: [Int]) throws(ShapeMismatch) -> [Int] {
        guard shape == [inputFeatures] else {
            throw ShapeMismatch(layer: label, expected: "[N, \(inputFeatures)]", found: shape)
        }
        return [outputFeatures]
    }

    public func forward(_ input: Tensor) throws(ShapeMismatch) -> Tensor {
        try forwardAllocating(input)
    }

    public func forward(_ input: Tensor, into output: inout Tensor, workspace: Workspace) throws(ShapeMismatch) {
        guard input.rank == 2, input.shape[1] == inputFeatures else {
            throw ShapeMismatch(layer: label, expected: "[N, \(inputFeatures)]", found: input.shape)
        }
        let n = input.shape[0]
        output.prepare(shape: [n, outputFeatures], workspace: workspace)
        guard n > 0 else { return }
        output.scalars.withUnsafeMutableBufferPointer { y in
            let yp = y.baseAddress!
            bias.scalars.withUnsafeBufferPointer { b in
                for i in 0..<n { (yp + i * outputFeatures).update(from: b.baseAddress!, count: outputFeatures) }
            }
            input.scalars.withUnsafeBufferPointer { x in
                weight.scalars.withUnsafeBufferPointer { w in
                    // y[N, O] += x[N, I] · Wᵀ: A = x, B(i, o) = W[o, i] is not row-contiguous, so use the NT kernel.
                    gemmNT(m: n, n: outputFeatures, k: inputFeatures, a: x.baseAddress!, lda: inputFeatures,
                           b: w.baseAddress!, ldb: inputFeatures, c: yp, ldc: outputFeatures, accumulate: true)
                }
            }
        }
    }
}
