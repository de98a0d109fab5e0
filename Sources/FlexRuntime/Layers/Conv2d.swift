/// A 2-D convolution with PyTorch's semantics (`torch.nn.Conv2d`, square kernel, zero padding).
///
/// y[n, o, i, j] = bias[o] + Σ_{c, u, v} weight[o, c, u, v] · x[n, c, i·s − p + u, j·s − p + v]
///
/// - input `[N, inputChannels, H, W]`, output `[N, outputChannels, OH, OW]` with
///   `OH = ⌊(H + 2p − k) / s⌋ + 1` (likewise OW);
/// - `weight`: OIHW `[outputChannels, inputChannels, k, k]`; `bias`: `[outputChannels]`.
///
/// Computed as im2col + one matrix product per batch: `W[O, C·k·k] · columns[C·k·k, N·OH·OW]`.
public final class Conv2d: Layer, @unchecked Sendable {
    public var name: String
    public let inputChannels: Int, outputChannels: Int, kernelSize: Int, stride: Int, padding: Int
    public var parameters: [Tensor]
    public var parameterNames: [String] { ["weight", "bias"] }
    public var spec: LayerSpec {
        .conv2d(inChannels: inputChannels, outChannels: outputChannels, kernel: kernelSize, stride: stride, padding: padding)
    }
    /// OIHW `[out, in, k, k]`.
    public var weight: Tensor { parameters[0] }
    /// `[out]`.
    public var bias: Tensor { parameters[1] }

    /// Weights and biases drawn from U(−1/√fanIn, 1/√fanIn), fanIn = in·k·k (PyTorch's default).
    public init(name: String = "conv2d", inputChannels: Int, outputChannels: Int, kernelSize: Int,
                stride: Int = 1, padding: Int = 0, rng: inout SplitMix64) {
        precondition(inputChannels > 0 && outputChannels > 0 && kernelSize > 0 && stride > 0 && padding >= 0,
                     "Conv2d \(name): channels \(inputChannels)→\(outputChannels), kernel \(kernelSize), stride \(stride) must be positive and padding \(padding) >= 0 (LayerSpec.validate reports this as an error)")
        self.name = name
        self.inputChannels = inputChannels; self.outputChannels = outputChannels
        self.kernelSize = kernelSize; self.stride = stride; self.padding = padding
        let fanIn = inputChannels * kernelSize * kernelSize
        parameters = [
            Tensor(shape: [outputChannels, inputChannels, kernelSize, kernelSize],
                   scalars: uniformInit(count: outputChannels * fanIn, fanIn: fanIn, rng: &rng)),
            Tensor(shape: [outputChannels], scalars: uniformInit(count: outputChannels, fanIn: fanIn, rng: &rng)),
        ]
    }

    public func geometry(forInput shape: [Int]) throws(ShapeMismatch) -> ConvGeometry {
        let expected = "[N, \(inputChannels), H, W]"
        guard shape.count == 3, shape[0] == inputChannels else {
            throw ShapeMismatch(layer: label, expected: expected, found: shape)
        }
        let g = ConvGeometry(channels: inputChannels, height: shape[1], width: shape[2],
                             kernel: kernelSize, stride: stride, padding: padding)
        guard g.height + 2 * padding >= kernelSize, g.width + 2 * padding >= kernelSize else {
            throw ShapeMismatch(layer: label, expected: expected, found: shape,
                                detail: "the padded input is smaller than the \(kernelSize)x\(kernelSize) kernel")
        }
        return g
    }

    public func outputShape(forInput shape: [Int]) throws(ShapeMismatch) -> [Int] {
        let g = try geometry(forInput: shape)
        return [outputChannels, g.outputHeight, g.outputWidth]
    }

    public func forward(_ input: Tensor) throws(ShapeMismatch) -> Tensor {
        try forwardAllocating(input)
    }

    public func forward(_ input: Tensor, into output: inout Tensor, workspace: Workspace) throws(ShapeMismatch) {
        let outShape = try batchedShape(input)
        let n = input.shape[0]
        let g = try geometry(forInput: Array(input.shape.dropFirst()))
        let pixels = g.outputPixels, k = g.patchSize
        let inPer = input.shape.dropFirst().reduce(1, *), outPer = outputChannels * pixels
        // The batch is processed in chunks so the column matrix stays in cache.
        let maxChunk = maxBatchChunk(batch: n, floatsPerSample: k * pixels)
        let cb = workspace.scratch(0, count: k * pixels * maxChunk)
        let yb = workspace.scratch(1, count: outPer * maxChunk)
        output.prepare(shape: outShape, workspace: workspace)
        guard n > 0 else { return }
        input.scalars.withUnsafeBufferPointer { x in
        weight.scalars.withUnsafeBufferPointer { w in
        bias.scalars.withUnsafeBufferPointer { b in
        output.scalars.withUnsafeMutableBufferPointer { out in
            forEachBatchChunk(batch: n, floatsPerSample: k * pixels, chunkMultiple: samplesForFullVectors(pixels: pixels)) { first, count in
                let cols = count * pixels
                im2col(x.baseAddress! + first * inPer, batch: count, geometry: g, columns: cb)
                gemmNN(m: outputChannels, n: cols, k: k, a: w.baseAddress!, aRowStride: k, aColStride: 1,
                       b: cb, ldb: cols, c: yb, ldc: cols, accumulate: false)
                fromChannelMajor(yb, batch: count, channels: outputChannels, pixels: pixels,
                                 bias: b.baseAddress!, out.baseAddress! + first * outPer)
            }
        } } } }
    }

    private func batchedShape(_ input: Tensor) throws(ShapeMismatch) -> [Int] {
        guard input.rank == 4 else {
            throw ShapeMismatch(layer: label, expected: "[N, \(inputChannels), H, W]", found: input.shape)
        }
        do { return try checkedOutputShape(input) } catch {
            throw ShapeMismatch(layer: label, expected: "[N, \(inputChannels), H, W]", found: input.shape, detail: error.detail)
        }
    }
}
