import CFlexKernels
import FlexRuntime

/// Mean squared error over all elements, as PyTorch's `nn.MSELoss(reduction: 'mean')`.
///
///     loss = (1/n) Σ_e (p_e − t_e)²,      ∂loss/∂p_e = 2 (p_e − t_e) / n,      n = prediction.count
///
/// - The sum of squares is accumulated in `Double` (8 lanes at a time), so the loss of a large batch does
///   not lose the small residuals to float32 rounding; the result is rounded to `Float` once at the end.
/// - The gradient has the prediction's shape and is ∂loss/∂prediction (the gradient with respect to the
///   target is its negation). It is computed in float32 as `(2/n) · (p − t)`, with `2/n` rounded once.
/// - For empty tensors (n = 0) the loss is NaN and the gradient empty, as in PyTorch.
///
/// - Throws: `ShapeMismatch` (layer `MSELoss`) naming both shapes when prediction and target differ in shape.
public func meanSquaredError(prediction: Tensor, target: Tensor) throws(ShapeMismatch)
    -> (loss: Float, gradient: Tensor)
{
    guard prediction.shape == target.shape else {
        throw ShapeMismatch(
            layer: "MSELoss", expected: "the target's shape \(formatShape(target.shape))",
            found: prediction.shape,
            detail: "prediction \(formatShape(prediction.shape)) and target \(formatShape(target.shape)) must have the same shape")
    }
    let n = prediction.count
    guard n > 0 else { return (.nan, Tensor(shape: prediction.shape)) }
    let scale = Float(2.0 / Double(n))
    var sum = 0.0
    let gradient = Tensor(shape: prediction.shape) { g in
        prediction.scalars.withUnsafeBufferPointer { pb in
            target.scalars.withUnsafeBufferPointer { tb in
                let p = pb.baseAddress!, t = tb.baseAddress!, out = g.baseAddress!
                sum = flexk_mse(p, t, out, n, scale)  // C: `mse` in Sources/CFlexKernels/kernels_body.h
            }
        }
    }
    return (Float(sum / Double(n)), gradient)
}
