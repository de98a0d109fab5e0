import FlexRuntime

// Backpropagation through time for `LSTM` (see docs/lstm.md for the layouts).
//
// The training forward records an `LSTMTrace` (pre-activations, gates, cell and hidden states) into
// `LayerCache.saved`; the backward pass walks the layers top-down and the steps backwards, storing the
// gate pre-activation gradients dZ for all steps (`[4, T, N, H]`), then forms the weight gradients with
// one GEMM per gate over all T·N rows.

extension LSTM: TrainableLayer {
    public func forward(_ input: Tensor, cache: inout LayerCache) throws(ShapeMismatch) -> Tensor {
        let (output, trace) = try forwardRecording(input)
        cache.input = input
        cache.output = output
        cache.saved = trace.tensors
        return output
    }

    public func backward(_ gradOutput: Tensor, cache: LayerCache, gradients: inout [Tensor],
                         needsInputGradient: Bool) -> Tensor? {
        let trace = LSTMTrace(tensors: cache.saved, hiddenSize: hiddenSize)
        let n = trace.batch, t = trace.steps, h = hiddenSize, s = trace.blockSize, ts = t * s
        precondition(gradOutput.shape == [n, h],
                     "\(label): gradient of shape \(formatShape(gradOutput.shape)), expected \(formatShape([n, h]))")
        precondition(trace.layers.count == numLayers, "\(label): cache holds \(trace.layers.count) layers")
        precondition(gradients.count == parameters.count, "\(label): \(gradients.count) gradient tensors")
        let fns = functions

        // Scratch, allocated once per call.
        let dz = UnsafeMutablePointer<Float>.allocate(capacity: 4 * ts)
        defer { dz.deallocate() }
        // dh, dcNext, dcAct, dcTotal, dI, dF, dG, dO: eight [N, H] blocks.
        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: 8 * s)
        defer { scratch.deallocate() }
        let dh = scratch, dcNext = scratch + s, dcAct = scratch + 2 * s, dcT = scratch + 3 * s
        let dI = scratch + 4 * s, dF = scratch + 5 * s, dG = scratch + 6 * s, dO = scratch + 7 * s

        // ∂L/∂(input of the layer above) = ∂L/∂h of this layer for every step, time-major [T, N, H].
        var dAbove: [Float]? = nil
        var inputGradient: Tensor? = nil

        for l in (0..<numLayers).reversed() {
            let packed = LSTMPackedLayer(self, layer: l)
            let inSize = packed.inputSize
            let idx = parameterIndices(layer: l)
            let needDX = l > 0 || needsInputGradient
            var dX = needDX ? [Float](repeating: 0, count: t * n * inSize) : []
            // Local gradient accumulators: dW_ih [4H, in], dW_hh [4H, H], db [4H], then α/β per nonlinearity.
            var gOff = 0
            func take(_ c: Int) -> Int { defer { gOff += c }; return gOff }
            let gWih = take(4 * h * inSize), gWhh = take(4 * h * h), gB = take(4 * h)
            let gAlpha = idx.alpha.map { $0.map { take(parameters[$0].count) } }
            let gBeta = idx.beta.map { $0.map { take(parameters[$0].count) } }
            var grads = [Float](repeating: 0, count: gOff)

            let hasAbove = dAbove != nil
            let aboveArray = dAbove ?? gradOutput.scalars
            aboveArray.withUnsafeBufferPointer { aboveBuf in
            trace.layers[l].withUnsafeBufferPointer { recBuf in
            packed.storage.withUnsafeBufferPointer { pBuf in
            grads.withUnsafeMutableBufferPointer { gBuf in
            dX.withUnsafeMutableBufferPointer { dXBuf in
                let rec = recBuf.baseAddress!, p = pBuf.baseAddress!, gp = gBuf.baseAddress!
                let above = aboveBuf.baseAddress!
                let z = rec, act = rec + trace.gateOffset(gate: 0)
                let cells = rec + trace.cellOffset, cellOut = rec + trace.cellOutputOffset
                let hidden = rec + trace.hiddenOffset
                let alpha = packed.alpha.map { $0.map { p + $0 } }
                let beta = packed.beta.map { $0.map { p + $0 } }
                let dAlpha = gAlpha.map { $0.map { gp + $0 } }
                let dBeta = gBeta.map { $0.map { gp + $0 } }
                let whh = p + packed.weightHH, wih = p + packed.weightIH

                let dys = [dI, dF, dG, dO]
                dh.initialize(repeating: 0, count: s)
                dcNext.initialize(repeating: 0, count: s)
                for step in stride(from: t - 1, through: 0, by: -1) {
                    let off = step * s
                    // dh = recurrent part (already in dh) + gradient from above.
                    if hasAbove {
                        let src = above + off
                        for e in 0..<s { dh[e] += src[e] }
                    } else if step == t - 1 {
                        for e in 0..<s { dh[e] += above[e] }
                    }
                    let ia = act + off, fa = act + ts + off, ga = act + 2 * ts + off, oa = act + 3 * ts + off
                    let co = cellOut + off
                    // h = o ⊙ c_act(c)
                    for e in 0..<s {
                        dcAct[e] = dh[e] * oa[e]
                        dO[e] = dh[e] * co[e]
                    }
                    fns[4].backward(x: cells + (step + 1) * s, dy: dcAct, dx: dcT, dAlpha: dAlpha[4], dBeta: dBeta[4],
                                    batch: n, units: h, spatial: 1, alpha: alpha[4], beta: beta[4])
                    // c_t = f ⊙ c_{t-1} + i ⊙ g
                    let cPrev = cells + step * s
                    for e in 0..<s {
                        let dc = dcT[e] + dcNext[e]
                        dI[e] = dc * ga[e]
                        dG[e] = dc * ia[e]
                        dF[e] = dc * cPrev[e]
                        dcNext[e] = dc * fa[e]
                    }
                    for g in 0..<4 {
                        fns[g].backward(x: z + g * ts + off, dy: dys[g], dx: dz + g * ts + off,
                                        dAlpha: dAlpha[g], dBeta: dBeta[g],
                                        batch: n, units: h, spatial: 1, alpha: alpha[g], beta: beta[g])
                    }
                    // dh_{t-1} = Σ_g dZ_g · W_hh,g
                    if step > 0 {
                        for g in 0..<4 {
                            gemmNN(m: n, n: h, k: h, a: dz + g * ts + off, aRowStride: h, aColStride: 1,
                                   b: whh + g * h * h, ldb: h, c: dh, ldc: h, accumulate: g > 0)
                        }
                    }
                }

                // Weight and bias gradients over all T·N rows at once.
                for g in 0..<4 {
                    let dzg = UnsafePointer(dz + g * ts)
                    // db_g[j] = Σ_rows dZ_g[row, j]
                    let db = gp + gB + g * h
                    for r in 0..<(t * n) {
                        let row = dzg + r * h
                        for j in 0..<h { db[j] += row[j] }
                    }
                    // dW_hh,g [H, H] += dZ_gᵀ · H_prev (H_prev = hidden slots 0..T-1)
                    gemmNN(m: h, n: h, k: t * n, a: dzg, aRowStride: 1, aColStride: h,
                           b: hidden, ldb: h, c: gp + gWhh + g * h * h, ldc: h, accumulate: true)
                    if needDX {
                        // dX [T·N, in] += dZ_g · W_ih,g
                        gemmNN(m: t * n, n: inSize, k: h, a: dzg, aRowStride: h, aColStride: 1,
                               b: wih + g * h * inSize, ldb: inSize, c: dXBuf.baseAddress!, ldc: inSize,
                               accumulate: true)
                    }
                }
            }
            }
            }
            }
            }

            // dW_ih [4H, in] += Σ_g dZ_gᵀ · X (X: this layer's time-major input).
            let (inputBuffer, inputOffset) = l == 0 ? (trace.input, 0) : (trace.layers[l - 1], trace.hiddenOffset + s)
            inputBuffer.withUnsafeBufferPointer { xb in
                grads.withUnsafeMutableBufferPointer { gb in
                    accumulateInputWeightGradient(dw: gb.baseAddress! + gWih, x: xb.baseAddress! + inputOffset,
                                                  inSize: inSize, rows: t * n, dz: dz)
                }
            }

            // Add the local accumulators into `gradients`.
            func add(_ pi: Int, _ off: Int) {
                let c = gradients[pi].count
                grads.withUnsafeBufferPointer { src in
                    gradients[pi].scalars.withUnsafeMutableBufferPointer { dst in
                        for j in 0..<c { dst[j] += src[off + j] }
                    }
                }
            }
            add(idx.weightIH, gWih)
            add(idx.weightHH, gWhh)
            add(idx.biasIH, gB)
            add(idx.biasHH, gB)
            for k in 0..<5 {
                if let pi = idx.alpha[k], let o = gAlpha[k] { add(pi, o) }
                if let pi = idx.beta[k], let o = gBeta[k] { add(pi, o) }
            }

            if l > 0 {
                dAbove = dX
            } else if needsInputGradient {
                // Time-major [T, N, in] back to batch-first [N, T, in].
                inputGradient = Tensor(shape: [n, t, inSize]) { out in
                    dX.withUnsafeBufferPointer { src in
                        for b in 0..<n {
                            for st in 0..<t {
                                (out.baseAddress! + (b * t + st) * inSize)
                                    .update(from: src.baseAddress! + (st * n + b) * inSize, count: inSize)
                            }
                        }
                    }
                }
            }
        }
        return inputGradient
    }

    /// dW_ih [4H, in] += Σ_g dZ_gᵀ · X, choosing the GEMM orientation that vectorises along the longer of H, in.
    private func accumulateInputWeightGradient(dw: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, inSize: Int,
                                               rows: Int, dz: UnsafeMutablePointer<Float>) {
        let h = hiddenSize, ts = rows * h
        do {
            do {
                if inSize >= h {
                    for g in 0..<4 {
                        gemmNN(m: h, n: inSize, k: rows, a: dz + g * ts, aRowStride: 1, aColStride: h,
                               b: x, ldb: inSize, c: dw + g * h * inSize, ldc: inSize, accumulate: true)
                    }
                } else {
                    // tmp [in, H] = Xᵀ · dZ_g (vectorised along H), then transpose-add.
                    let tmp = UnsafeMutablePointer<Float>.allocate(capacity: inSize * h)
                    defer { tmp.deallocate() }
                    for g in 0..<4 {
                        gemmNN(m: inSize, n: h, k: rows, a: x, aRowStride: 1, aColStride: inSize,
                               b: dz + g * ts, ldb: h, c: tmp, ldc: h, accumulate: false)
                        let dwg = dw + g * h * inSize
                        for i in 0..<inSize {
                            for j in 0..<h { dwg[j * inSize + i] += tmp[i * h + j] }
                        }
                    }
                }
            }
        }
    }
}
