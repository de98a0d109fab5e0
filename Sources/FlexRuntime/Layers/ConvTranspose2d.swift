/// A 2-D transposed convolution with PyTorch's semantics (`torch.nn.ConvTranspose2d`, square kernel).
///
/// It is the adjoint of a Conv2d with the same kernel, stride and padding:
/// y[n, o, i·s − p + u, j·s − p + v] += weight[c, o, u, v] · x[n, c, i, j], then + bias[o].
///
/// - input `[N, inputChannels, H, W]`, output `[N, outputChannels, OH, OW]` with
///   `OH = (H − 1)·s − 2p + k + outputPadding` (likewise OW);
/// - `weight`: IOHW `[inputChannels, outputChannels, k, k]`; `bias`: `[outputChannels]`.
///
/// Computed as one matrix product `Wᵀ[O·k·k, C] · X[C, N·H·W]` followed by col2im.
public final class ConvTranspose2d: Layer, @unchecked Sendable {
    public var name: String
    public let inputChannels: Int, outputChannels: Int, kernelSize: Int, stride: Int, padding: Int, outputPadding: Int
    public var parameters: [Tensor]
    public var parameterNames: [String] { ["weight", "bias"] }
    public var spec: LayerSpec {
        .convTranspose2d(inChannels: inputChannels, outChannels: outputChannels, kernel: kernelSize,
                         stride: stride, padding: padding, outputPadding: outputPadding)
    }
    /// IOHW `[in, out, k, k]`.
    public var weight: Tensor { parameters[0] }
    /// `[out]`.
    public var bias: Tensor { parameters[1] }

    /// Weights and biases from U(−1/√fanIn, 1/√fanIn) with PyTorch's fanIn for this layout: out·k·k.
    public init(name: String = "convTranspose2d", inputChannels: Int, outputChannels: Int, kernelSize: Int,
                stride: Int = 1, padding: Int = 0, outputPadding: Int = 0, rng: inout SplitMix64) {
        precondition(inputChannels > 0 && outputChannels > 0 && kernelSize > 0 && stride > 0 && padding >= 0,
                     "ConvTranspose2d \(name): channels \(inputChannels)→\(outputChannels), kernel \(kernelSize), stride \(stride) must be positive and padding \(padding) >= 0 (LayerSpec.validate reports this as an error)")
        precondition(outputPadding >= 0 && outputPadding < stride,
                     "ConvTranspose2d \(name): output padding \(outputPadding) must be in 0..<stride (\(stride)), as in PyTorch")
        self.name = name
        self.inputChannels = inputChannels; self.outputChannels = outputChannels
        self.kernelSize = kernelSize; self.stride = stride; self.padding = padding; self.outputPadding = outputPadding
        let fanIn = outputChannels * kernelSize * kernelSize
        parameters = [
            Tensor(shape: [inputChannels, outputChannels, kernelSize, kernelSize],
                   scalars: uniformInit(count: inputChannels * fanIn, fanIn: fanIn, rng: &rng)),
            Tensor(shape: [outputChannels], scalars: uniformInit(count: outputChannels, fanIn: fanIn, rng: &rng)),
        ]
    }

    /// The geometry of the equivalent convolution: it slides over the *output* image and yields the input grid.
    public func geometry(forInput shape: [Int]) throws(ShapeMismatch) -> ConvGeometry {
        let expected = "[N, \(inputChannels), H, W]"
        guard shape.count == 3, shape[0] == inputChannels else {
            throw ShapeMismatch(layer: label, expected: expected, found: shape)
        }
        let oh = (shape[1] - 1) * stride - 2 * padding + kernelSize + outputPadding
        let ow = (shape[2] - 1) * stride - 2 * padding + kernelSize + outputPadding
        guard shape[1] > 0, shape[2] > 0, oh > 0, ow > 0 else {
            throw ShapeMismatch(layer: label, expected: expected, found: shape,
                                detail: "the output would be \(oh)x\(ow)")
        }
        return ConvGeometry(channels: outputChannels, height: oh, width: ow,
                            kernel: kernelSize, stride: stride, padding: padding)
    }

    public func outputShape(forInput shape: [Int]) throws(ShapeMismatch) -> [Int] {
        let g = try geometry(forInput: shape)
        return [outputChannels, g.height, g.width]
    }

    public func forward(_ input: Tensor) throws(ShapeMismatch) -> Tensor {
        try forwardAllocating(input)
    }

    public func forward(_ input: Tensor, into output: inout Tensor, workspace: Workspace) throws(ShapeMismatch) {
        guard input.rank == 4 else {
            throw ShapeMismatch(layer: label, expected: "[N, \(inputChannels), H, W]", found: input.shape)
        }
        let g: ConvGeometry
        do { g = try geometry(forInput: Array(input.shape.dropFirst())) } catch {
            throw ShapeMismatch(layer: label, expected: error.expected, found: input.shape, detail: error.detail)
        }
        let n = input.shape[0]
        let pixels = input.shape[2] * input.shape[3]
        let rows = g.patchSize  // out·k·k
        let inPer = inputChannels * pixels, hw = g.height * g.width, outPer = outputChannels * hw
        let maxChunk = maxBatchChunk(batch: n, floatsPerSample: rows * pixels)
        let cb = workspace.scratch(0, count: rows * pixels * maxChunk)
        let xb = workspace.scratch(1, count: inPer * maxChunk)
        output.prepare(shape: [n, outputChannels, g.height, g.width], workspace: workspace)
        guard n > 0 else { return }
        input.scalars.withUnsafeBufferPointer { x in
        weight.scalars.withUnsafeBufferPointer { w in
        bias.scalars.withUnsafeBufferPointer { b in
        output.scalars.withUnsafeMutableBufferPointer { y in
            forEachBatchChunk(batch: n, floatsPerSample: rows * pixels, chunkMultiple: samplesForFullVectors(pixels: pixels)) { first, count in
                let cols = count * pixels
                toChannelMajor(x.baseAddress! + first * inPer, batch: count, channels: inputChannels, pixels: pixels, xb)
                // A = Wᵀ: A(r, c) = W[c, r] → row stride 1, column stride rows.
                gemmNN(m: rows, n: cols, k: inputChannels, a: w.baseAddress!, aRowStride: 1, aColStride: rows,
                       b: xb, ldb: cols, c: cb, ldc: cols, accumulate: false)
                let yChunk = y.baseAddress! + first * outPer
                for i in 0..<count {
                    for o in 0..<outputChannels {
                        (yChunk + (i * outputChannels + o) * hw).update(repeating: b[o], count: hw)
                    }
                }
                col2im(cb, batch: count, geometry: g, image: yChunk)
            }
        } } } }
    }
}
