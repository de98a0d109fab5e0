/// 2-D max pooling with PyTorch's semantics (`torch.nn.MaxPool2d(kernel, stride)`, no padding, floor mode).
///
/// y[n, c, i, j] = max_{u, v < k} x[n, c, i·s + u, j·s + v];  input `[N, C, H, W]`, output
/// `[N, C, ⌊(H − k)/s⌋ + 1, ⌊(W − k)/s⌋ + 1]`. Ties go to the first maximum in row-major window order
/// (as PyTorch's CPU kernel), which is where the backward pass sends the gradient.

import CFlexKernels

public final class MaxPool2d: Layer, @unchecked Sendable {
    public var name: String
    public let kernelSize: Int, stride: Int
    public var parameters: [Tensor] = []
    public var parameterNames: [String] { [] }
    public var spec: LayerSpec { .maxPool2d(kernel: kernelSize, stride: stride) }

    public init(name: String = "maxPool2d", kernelSize: Int, stride: Int) {
        precondition(kernelSize > 0 && stride > 0,
                     "MaxPool2d \(name): kernel \(kernelSize) and stride \(stride) must be positive (LayerSpec.validate reports this as an error)")
        self.name = name
        self.kernelSize = kernelSize
        self.stride = stride
    }

    public func outputShape(forInput shape: [Int]) throws(ShapeMismatch) -> [Int] {
        guard shape.count == 3 else { throw ShapeMismatch(layer: label, expected: "[N, C, H, W]", found: shape) }
        guard shape[1] >= kernelSize, shape[2] >= kernelSize else {
            throw ShapeMismatch(layer: label, expected: "[N, C, H, W] with H, W >= \(kernelSize)", found: shape)
        }
        return [shape[0], (shape[1] - kernelSize) / stride + 1, (shape[2] - kernelSize) / stride + 1]
    }

    public func forward(_ input: Tensor) throws(ShapeMismatch) -> Tensor {
        try forward(input, argmax: nil)
    }

    /// The forward pass; `argmax` (when given) receives, per output element, the flat index of the chosen input.
    public func forward(_ input: Tensor, argmax: UnsafeMutablePointer<[Int32]>?) throws(ShapeMismatch) -> Tensor {
        var output = Tensor.empty
        try forward(input, into: &output, argmax: argmax, workspace: nil)
        return output
    }

    public func forward(_ input: Tensor, into output: inout Tensor, workspace: Workspace) throws(ShapeMismatch) {
        try forward(input, into: &output, argmax: nil, workspace: workspace)
    }

    private func forward(_ input: Tensor, into output: inout Tensor, argmax: UnsafeMutablePointer<[Int32]>?,
                         workspace: Workspace?) throws(ShapeMismatch) {
        guard input.rank == 4 else { throw ShapeMismatch(layer: label, expected: "[N, C, H, W]", found: input.shape) }
        let outShape: [Int]
        do { outShape = try checkedOutputShape(input) } catch {
            throw ShapeMismatch(layer: label, expected: error.expected, found: input.shape)
        }
        let planes = input.shape[0] * input.shape[1]
        let h = input.shape[2], w = input.shape[3], oh = outShape[2], ow = outShape[3]
        let k = kernelSize, s = stride
        var idx = argmax != nil ? [Int32](repeating: 0, count: planes * oh * ow) : []
        output.prepare(shape: outShape, workspace: workspace)
        output.scalars.withUnsafeMutableBufferPointer { y in
            input.scalars.withUnsafeBufferPointer { x in
                idx.withUnsafeMutableBufferPointer { ib in
                    // C (`max_pool` in Sources/CFlexKernels/kernels_body.h): `!(v <= best)` also picks NaN.
                    flexk_max_pool(x.baseAddress, y.baseAddress, ib.isEmpty ? nil : ib.baseAddress, planes, h, w,
                                   oh, ow, k, s)
                }
            }
        }
        if let argmax { argmax.pointee = idx }
    }
}
