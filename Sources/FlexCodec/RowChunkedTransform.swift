import Dispatch
import FlexRuntime
import Synchronization

/// Runs a stack of layers over one image `[1, C, H, W]` layer by layer, each layer's output computed in
/// chunks of output rows that threads share out.
///
/// Why: the layers' own forward passes unfold the whole image at once (im2col), which for a 768×512 image and
/// 128 channels is a 315 MB column matrix (plus an offset table as large); row chunks bound that scratch to
/// `chunkFloats` per thread, and give the threads independent work.
///
/// Exactness: a chunk is computed by the same layer kernels on a slice of the input that holds every input row
/// its outputs depend on (with the layer's zero padding written out explicitly), and those kernels compute each
/// output value by the same operations in the same order wherever it sits in the image (the matrix product
/// accumulates each element over k in order with fresh accumulators; col2im adds contributions in kernel
/// order; GDN and ReLU are per pixel). So the result equals the whole-image forward pass bit for bit, for any
/// chunking and any thread count (tested). The chunk layout depends on the shapes only, not on the threads.
///
/// Supported: `Conv2d`, `ConvTranspose2d`, and per-pixel layers (`GDN`, `Activation`); any other layer runs
/// whole (correct, without the memory bound).
struct RowChunkedTransform: Sendable {
    enum Step: Sendable {
        /// The layer and a copy with padding 0 (the slice carries the padding).
        case conv(Conv2d, unpadded: Conv2d)
        /// The layer and a copy with padding and output padding 0 (the cropping is done here).
        case transposed(ConvTranspose2d, unpadded: ConvTranspose2d)
        case pointwise(any Layer)
        case whole(any Layer)
    }

    let steps: [Step]
    /// Scratch floats per chunk (the column matrix).
    let chunkFloats: Int

    init(layers: [any Layer], chunkFloats: Int) {
        self.chunkFloats = chunkFloats
        var rng = SplitMix64(seed: 0)  // only for the copies' initial weights, replaced at once
        steps = layers.map { layer -> Step in
            if let c = layer as? Conv2d {
                let u = Conv2d(name: c.name, inputChannels: c.inputChannels, outputChannels: c.outputChannels,
                               kernelSize: c.kernelSize, stride: c.stride, padding: 0, rng: &rng)
                u.parameters = c.parameters
                return .conv(c, unpadded: u)
            }
            if let t = layer as? ConvTranspose2d {
                let u = ConvTranspose2d(name: t.name, inputChannels: t.inputChannels, outputChannels: t.outputChannels,
                                        kernelSize: t.kernelSize, stride: t.stride, padding: 0, outputPadding: 0, rng: &rng)
                u.parameters = t.parameters
                return .transposed(t, unpadded: u)
            }
            if layer is GDN || layer is Activation { return .pointwise(layer) }
            return .whole(layer)
        }
    }

    /// The rows of context on each side that an output row needs, in input pixels of the whole stack (its
    /// receptive field's half-height): each convolution adds max(p, k − 1 − p) rows of its input, times the
    /// total stride before it. Transposed convolutions upsample: see `synthesisHalo(latentStride:)`.
    static func analysisHalo(_ layers: [any Layer]) -> Int {
        var scale = 1, halo = 0
        for layer in layers {
            if let c = layer as? Conv2d {
                halo += max(c.padding, c.kernelSize - 1 - c.padding) * scale
                scale *= c.stride
            }
        }
        return halo
    }

    /// For a synthesis stack: how many latent rows of context an output row needs on each side. A transposed
    /// convolution's output row o depends on input rows ⌈(o + p − k + 1)/s⌉ … ⌊(o + p)/s⌋, so up to
    /// ⌈max(p, k − 1 − p)/s⌉ input rows away; in latent rows that is divided by the upsampling before it.
    static func synthesisHalo(_ layers: [any Layer]) -> Double {
        var scale = 1.0, halo = 0.0
        for layer in layers {
            if let t = layer as? ConvTranspose2d {
                let away = (max(t.padding, t.kernelSize - 1 - t.padding) + t.stride - 1) / t.stride
                halo += Double(away) / scale
                scale *= Double(t.stride)
            }
        }
        return halo
    }

    /// The forward pass of every step over `input` `[1, C, H, W]`, with `threads` threads.
    func forward(_ input: Tensor, threads: Int) throws(ShapeMismatch) -> Tensor {
        let workers = (0..<max(1, threads)).map { _ in Workspace() }
        var x = input
        for step in steps {
            switch step {
            case let .conv(layer, unpadded): x = try conv(x, layer, unpadded, workers)
            case let .transposed(layer, unpadded): x = try transposed(x, layer, unpadded, workers)
            case let .pointwise(layer): x = try pointwise(x, layer, workers)
            case let .whole(layer): x = try layer.forward(x)
            }
        }
        return x
    }

    // MARK: Steps

    private func checkImage(_ x: Tensor, _ layer: any Layer, channels: Int) throws(ShapeMismatch) {
        guard x.rank == 4, x.shape[0] == 1, x.shape[1] == channels else {
            throw ShapeMismatch(layer: layer.name, expected: "[1, \(channels), H, W]", found: x.shape)
        }
    }

    private func conv(_ x: Tensor, _ layer: Conv2d, _ unpadded: Conv2d, _ workers: [Workspace]) throws(ShapeMismatch) -> Tensor {
        try checkImage(x, layer, channels: layer.inputChannels)
        let outShape = try layer.outputShape(forInput: Array(x.shape.dropFirst()))
        let c = layer.inputChannels, h = x.shape[2], w = x.shape[3]
        let s = layer.stride, p = layer.padding, k = layer.kernelSize
        let o = layer.outputChannels, oh = outShape[1], ow = outShape[2]
        let rowsPerChunk = max(1, chunkFloats / max(1, ow * c * k * k))
        let sw = w + 2 * p
        var y = Tensor(shape: [1, o, oh, ow])
        try runChunks(rows: oh, rowsPerChunk: rowsPerChunk, x: x, y: &y, workers: workers) { (r0, r1, xp, yp, ws) throws(ShapeMismatch) in
            // The input rows output rows r0..<r1 read, padding included: r0·s − p ..< (r1 − 1)·s − p + k.
            let first = r0 * s - p, sh = (r1 - r0 - 1) * s + k
            let slice = Tensor(shape: [1, c, sh, sw]) { buffer in
                let d = buffer.baseAddress!
                d.initialize(repeating: 0, count: c * sh * sw)
                for ch in 0..<c {
                    for r in 0..<sh where first + r >= 0 && first + r < h {
                        (d + (ch * sh + r) * sw + p).update(from: xp + (ch * h + first + r) * w, count: w)
                    }
                }
            }
            var local = Tensor.empty
            try unpadded.forward(slice, into: &local, workspace: ws)
            local.scalars.withUnsafeBufferPointer { l in
                for ch in 0..<o {
                    (yp + (ch * oh + r0) * ow).update(from: l.baseAddress! + ch * (r1 - r0) * ow, count: (r1 - r0) * ow)
                }
            }
        }
        return y
    }

    private func transposed(_ x: Tensor, _ layer: ConvTranspose2d, _ unpadded: ConvTranspose2d, _ workers: [Workspace]) throws(ShapeMismatch) -> Tensor {
        try checkImage(x, layer, channels: layer.inputChannels)
        let outShape = try layer.outputShape(forInput: Array(x.shape.dropFirst()))
        let c = layer.inputChannels, h = x.shape[2], w = x.shape[3]
        let s = layer.stride, p = layer.padding, k = layer.kernelSize
        let o = layer.outputChannels, oh = outShape[1], ow = outShape[2]
        // Column matrix: (o·k·k) × (input rows · w); each input row gives s output rows.
        let inputRows = max(1, chunkFloats / max(1, w * o * k * k))
        let bias = layer.bias.scalars
        var y = Tensor(shape: [1, o, oh, ow])
        try runChunks(rows: oh, rowsPerChunk: inputRows * s, x: x, y: &y, workers: workers) { (o0, o1, xp, yp, ws) throws(ShapeMismatch) in
            // Output row r = i·s − p + u (u < k) for input row i: the inputs that reach rows o0..<o1.
            let i0 = max(0, ceilDiv(o0 + p - k + 1, s)), i1 = min(h, floorDiv(o1 - 1 + p, s) + 1)
            guard i0 < i1 else {
                for ch in 0..<o { (yp + (ch * oh + o0) * ow).update(repeating: bias[ch], count: (o1 - o0) * ow) }
                return
            }
            let slice = Tensor(shape: [1, c, i1 - i0, w]) { buffer in
                for ch in 0..<c {
                    (buffer.baseAddress! + ch * (i1 - i0) * w).initialize(from: xp + (ch * h + i0) * w, count: (i1 - i0) * w)
                }
            }
            var local = Tensor.empty
            try unpadded.forward(slice, into: &local, workspace: ws)
            // Local row j is output row i0·s − p + j, local column j is output column j − p. Output pixels the
            // slice does not reach get no contribution anywhere (every input that reaches rows o0..<o1 is in
            // the slice): the bias alone, as in the whole-image pass.
            let lh = local.shape[2], lw = local.shape[3], top = i0 * s - p
            local.scalars.withUnsafeBufferPointer { l in
                for ch in 0..<o {
                    for r in o0..<o1 {
                        let dst = yp + (ch * oh + r) * ow, lr = r - top
                        if lr < 0 || lr >= lh {
                            dst.update(repeating: bias[ch], count: ow)
                            continue
                        }
                        let src = l.baseAddress! + (ch * lh + lr) * lw
                        let n = max(0, min(ow, lw - p))
                        dst.update(from: src + p, count: n)
                        if n < ow { (dst + n).update(repeating: bias[ch], count: ow - n) }
                    }
                }
            }
        }
        return y
    }

    private func pointwise(_ x: Tensor, _ layer: any Layer, _ workers: [Workspace]) throws(ShapeMismatch) -> Tensor {
        guard x.rank == 4, x.shape[0] == 1 else {
            throw ShapeMismatch(layer: layer.name, expected: "[1, C, H, W]", found: x.shape)
        }
        let c = x.shape[1], h = x.shape[2], w = x.shape[3]
        _ = try layer.outputShape(forInput: [c, h, w])
        var y = Tensor(shape: x.shape)
        try runChunks(rows: h, rowsPerChunk: max(1, chunkFloats / max(1, c * w)), x: x, y: &y, workers: workers) { (r0, r1, xp, yp, ws) throws(ShapeMismatch) in
            let n = (r1 - r0) * w
            let slice = Tensor(shape: [1, c, r1 - r0, w]) { buffer in
                for ch in 0..<c { (buffer.baseAddress! + ch * n).initialize(from: xp + (ch * h + r0) * w, count: n) }
            }
            var local = Tensor.empty
            try layer.forward(slice, into: &local, workspace: ws)
            local.scalars.withUnsafeBufferPointer { l in
                for ch in 0..<c { (yp + (ch * h + r0) * w).update(from: l.baseAddress! + ch * n, count: n) }
            }
        }
        return y
    }

    /// Calls `body(r0, r1, input, output, workspace)` for the chunks `r0..<r1` of `rows` output rows, shared
    /// out among the workers (each with its own workspace); chunks write disjoint rows of `y`.
    private func runChunks(
        rows: Int, rowsPerChunk: Int, x: Tensor, y: inout Tensor, workers: [Workspace],
        _ body: @escaping @Sendable (Int, Int, UnsafePointer<Float>, UnsafeMutablePointer<Float>, Workspace) throws(ShapeMismatch) -> Void
    ) throws(ShapeMismatch) {
        let chunks = (rows + rowsPerChunk - 1) / rowsPerChunk
        guard chunks > 0 else { return }
        let failure: ShapeMismatch? = x.scalars.withUnsafeBufferPointer { xb in
            y.scalars.withUnsafeMutableBufferPointer { yb -> ShapeMismatch? in
                let shared = Unchecked((xb.baseAddress!, yb.baseAddress!, workers))
                let next = Atomic<Int>(0)
                let errors = Mutex<ShapeMismatch?>(nil)
                let threads = min(workers.count, chunks)
                DispatchQueue.concurrentPerform(iterations: threads) { t in
                    let (xp, yp, workers) = shared.value
                    while true {
                        let i = next.wrappingAdd(1, ordering: .relaxed).oldValue
                        guard i < chunks else { return }
                        let r0 = i * rowsPerChunk, r1 = min(rows, r0 + rowsPerChunk)
                        do throws(ShapeMismatch) { try body(r0, r1, xp, yp, workers[t]) } catch {
                            errors.withLock { if $0 == nil { $0 = error } }
                            return
                        }
                    }
                }
                return errors.withLock { $0 }
            }
        }
        if let failure { throw failure }
    }
}

/// A value handed to concurrent workers that use disjoint parts of it.
struct Unchecked<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}

func floorDiv(_ a: Int, _ b: Int) -> Int { a >= 0 ? a / b : -((-a + b - 1) / b) }
func ceilDiv(_ a: Int, _ b: Int) -> Int { -floorDiv(-a, b) }
