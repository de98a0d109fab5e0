import FlexRuntime

/// Sums `[N, C, P]` over N and P into `out[C]` (bias gradients).
func accumulateChannelSums(_ src: FloatPointer, batch: Int, channels: Int, pixels: Int, into out: MutableFloatPointer) {
    for b in 0..<batch {
        for c in 0..<channels {
            let s = src + (b * channels + c) * pixels
            var acc: Float = 0
            for p in 0..<pixels { acc += s[p] }
            out[c] += acc
        }
    }
}

func checkGradOutput(_ g: Tensor, _ cache: LayerCache, _ label: String) {
    precondition(g.shape == cache.output?.shape,
                 "\(label): gradient of shape \(formatShape(g.shape)) for an output of shape \(formatShape(cache.output?.shape ?? []))")
}

extension Conv2d: TrainableLayer {
    /// Keeps the input (the backward pass re-unfolds it chunk by chunk, which is cheaper than storing columns).
    public func forward(_ input: Tensor, cache: inout LayerCache) throws(ShapeMismatch) -> Tensor {
        let y = try forward(input)
        cache.input = input
        cache.output = y
        return y
    }

    /// Per chunk of the batch, with columns = im2col(x) `[C·k·k, n·P]` and dY channel-major `[O, n·P]`:
    /// ∂L/∂W[O, C·k·k] += dY · columnsᵀ;  ∂L/∂b[o] += Σ dY[·, o, ·];  ∂L/∂x = col2im(Wᵀ · dY).
    public func backward(_ gradOutput: Tensor, cache: LayerCache, gradients: inout [Tensor],
                         needsInputGradient: Bool) -> Tensor? {
        checkGradOutput(gradOutput, cache, label)
        let x = cache.input!
        let n = x.shape[0]
        let g = ConvGeometry(channels: inputChannels, height: x.shape[2], width: x.shape[3],
                             kernel: kernelSize, stride: stride, padding: padding)
        let pixels = g.outputPixels, k = g.patchSize, o = outputChannels
        let inPer = x.count / max(1, n), outPer = o * pixels
        let maxChunk = maxBatchChunk(batch: n, floatsPerSample: k * pixels)
        var cols = uninitializedFloats(k * pixels * maxChunk)
        var dym = uninitializedFloats(outPer * maxChunk)
        var dx = needsInputGradient ? Tensor(shape: x.shape) : Tensor(shape: [0])
        gradOutput.scalars.withUnsafeBufferPointer { dy in
            gradients[1].scalars.withUnsafeMutableBufferPointer { db in
                accumulateChannelSums(dy.baseAddress!, batch: n, channels: o, pixels: pixels, into: db.baseAddress!)
            }
            x.scalars.withUnsafeBufferPointer { xb in
            weight.scalars.withUnsafeBufferPointer { w in
            gradients[0].scalars.withUnsafeMutableBufferPointer { dw in
            cols.withUnsafeMutableBufferPointer { cb in
            dym.withUnsafeMutableBufferPointer { d in
            dx.scalars.withUnsafeMutableBufferPointer { dxb in
                forEachBatchChunk(batch: n, floatsPerSample: k * pixels, chunkMultiple: samplesForFullVectors(pixels: pixels)) { first, count in
                    let np = count * pixels
                    toChannelMajor(dy.baseAddress! + first * outPer, batch: count, channels: o, pixels: pixels, d.baseAddress!)
                    im2col(xb.baseAddress! + first * inPer, batch: count, geometry: g, columns: cb.baseAddress!)
                    gemmNT(m: o, n: k, k: np, a: d.baseAddress!, lda: np, b: cb.baseAddress!, ldb: np,
                           c: dw.baseAddress!, ldc: k, accumulate: true)
                    guard needsInputGradient else { return }
                    // Reuse the column buffer for ∂L/∂columns.
                    gemmNN(m: k, n: np, k: o, a: w.baseAddress!, aRowStride: 1, aColStride: k,
                           b: d.baseAddress!, ldb: np, c: cb.baseAddress!, ldc: np, accumulate: false)
                    col2im(cb.baseAddress!, batch: count, geometry: g, image: dxb.baseAddress! + first * inPer)
                }
            } } } } } }
        }
        return needsInputGradient ? dx : nil
    }
}

extension ConvTranspose2d: TrainableLayer {
    public func forward(_ input: Tensor, cache: inout LayerCache) throws(ShapeMismatch) -> Tensor {
        let y = try forward(input)
        cache.input = input
        cache.output = y
        return y
    }

    /// Per chunk, with columns = im2col(dY) (`[O·k·k, n·H·W]`, the convolution geometry over the output image)
    /// and X channel-major `[C, n·H·W]`:
    /// ∂L/∂W[C, O·k·k] += X · columnsᵀ;  ∂L/∂b[o] += Σ dY[·, o, ·];  ∂L/∂X = W · columns.
    public func backward(_ gradOutput: Tensor, cache: LayerCache, gradients: inout [Tensor],
                         needsInputGradient: Bool) -> Tensor? {
        checkGradOutput(gradOutput, cache, label)
        let x = cache.input!
        let n = x.shape[0], pixels = x.shape[2] * x.shape[3], c = inputChannels
        let g = ConvGeometry(channels: outputChannels, height: gradOutput.shape[2], width: gradOutput.shape[3],
                             kernel: kernelSize, stride: stride, padding: padding)
        let rows = g.patchSize
        let inPer = c * pixels, outPer = outputChannels * g.height * g.width
        let maxChunk = maxBatchChunk(batch: n, floatsPerSample: rows * pixels)
        var cols = uninitializedFloats(rows * pixels * maxChunk)
        var xm = uninitializedFloats(inPer * maxChunk)
        var dxm = uninitializedFloats(needsInputGradient ? inPer * maxChunk : 0)
        var dx = needsInputGradient ? Tensor(shape: x.shape) : Tensor(shape: [0])
        gradOutput.scalars.withUnsafeBufferPointer { dy in
            gradients[1].scalars.withUnsafeMutableBufferPointer { db in
                accumulateChannelSums(dy.baseAddress!, batch: n, channels: outputChannels,
                                      pixels: g.height * g.width, into: db.baseAddress!)
            }
            x.scalars.withUnsafeBufferPointer { xb in
            weight.scalars.withUnsafeBufferPointer { w in
            gradients[0].scalars.withUnsafeMutableBufferPointer { dw in
            cols.withUnsafeMutableBufferPointer { cb in
            xm.withUnsafeMutableBufferPointer { xmb in
            dxm.withUnsafeMutableBufferPointer { dxmb in
            dx.scalars.withUnsafeMutableBufferPointer { dxb in
                forEachBatchChunk(batch: n, floatsPerSample: rows * pixels, chunkMultiple: samplesForFullVectors(pixels: pixels)) { first, count in
                    let np = count * pixels
                    im2col(dy.baseAddress! + first * outPer, batch: count, geometry: g, columns: cb.baseAddress!)
                    toChannelMajor(xb.baseAddress! + first * inPer, batch: count, channels: c, pixels: pixels, xmb.baseAddress!)
                    gemmNT(m: c, n: rows, k: np, a: xmb.baseAddress!, lda: np, b: cb.baseAddress!, ldb: np,
                           c: dw.baseAddress!, ldc: rows, accumulate: true)
                    guard needsInputGradient else { return }
                    gemmNN(m: c, n: np, k: rows, a: w.baseAddress!, aRowStride: rows, aColStride: 1,
                           b: cb.baseAddress!, ldb: np, c: dxmb.baseAddress!, ldc: np, accumulate: false)
                    fromChannelMajor(dxmb.baseAddress!, batch: count, channels: c, pixels: pixels, bias: nil,
                                     dxb.baseAddress! + first * inPer)
                }
            } } } } } } }
        }
        return needsInputGradient ? dx : nil
    }
}

extension MaxPool2d: TrainableLayer {
    public func forward(_ input: Tensor, cache: inout LayerCache) throws(ShapeMismatch) -> Tensor {
        var idx: [Int32] = []
        let y = try forward(input, argmax: &idx)
        cache.input = input  // shares storage; only its shape is used
        cache.output = y
        cache.indices = idx
        return y
    }

    /// Routes each output gradient to the input element that won the max.
    public func backward(_ gradOutput: Tensor, cache: LayerCache, gradients: inout [Tensor],
                         needsInputGradient: Bool) -> Tensor? {
        checkGradOutput(gradOutput, cache, label)
        guard needsInputGradient else { return nil }
        var dx = Tensor(shape: cache.input!.shape)
        dx.scalars.withUnsafeMutableBufferPointer { d in
            gradOutput.scalars.withUnsafeBufferPointer { dy in
                cache.indices.withUnsafeBufferPointer { idx in
                    for o in 0..<idx.count { d[Int(idx[o])] += dy[o] }
                }
            }
        }
        return dx
    }
}

extension Dense: TrainableLayer {
    public func forward(_ input: Tensor, cache: inout LayerCache) throws(ShapeMismatch) -> Tensor {
        let y = try forward(input)
        cache.input = input
        cache.output = y
        return y
    }

    /// ∂L/∂W[O, I] += dYᵀ · X;  ∂L/∂b += Σ_n dY[n, ·];  ∂L/∂X[N, I] = dY · W.
    public func backward(_ gradOutput: Tensor, cache: LayerCache, gradients: inout [Tensor],
                         needsInputGradient: Bool) -> Tensor? {
        checkGradOutput(gradOutput, cache, label)
        let x = cache.input!
        let n = x.shape[0], o = outputFeatures, i = inputFeatures
        gradOutput.scalars.withUnsafeBufferPointer { dy in
            x.scalars.withUnsafeBufferPointer { xb in
                gradients[0].scalars.withUnsafeMutableBufferPointer { dw in
                    gemmNN(m: o, n: i, k: n, a: dy.baseAddress!, aRowStride: 1, aColStride: o,
                           b: xb.baseAddress!, ldb: i, c: dw.baseAddress!, ldc: i, accumulate: true)
                }
            }
            gradients[1].scalars.withUnsafeMutableBufferPointer { db in
                for r in 0..<n { for c in 0..<o { db[c] += dy[r * o + c] } }
            }
        }
        guard needsInputGradient else { return nil }
        return Tensor(shape: x.shape) { dx in
            gradOutput.scalars.withUnsafeBufferPointer { dy in
                weight.scalars.withUnsafeBufferPointer { w in
                    gemmNN(m: n, n: i, k: o, a: dy.baseAddress!, aRowStride: o, aColStride: 1,
                           b: w.baseAddress!, ldb: i, c: dx.baseAddress!, ldc: i, accumulate: false)
                }
            }
        }
    }
}
