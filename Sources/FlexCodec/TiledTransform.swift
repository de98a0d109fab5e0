import Dispatch
import FlexRuntime
import Synchronization

/// Runs a stack of layers over one image `[1, C, H, W]` layer by layer, each layer's output computed in tiles
/// (of output rows, or rows × columns) that threads share out.
///
/// Why: the layers' own forward passes unfold the whole image at once (im2col), which for a 768×512 image and
/// 128 channels is a 315 MB column matrix (plus an offset table as large); tiles bound that scratch to
/// `chunkFloats` per thread, keep a convolution's column matrix in cache, and give the threads independent work.
///
/// Exactness: a tile is computed by the same layer kernels on the part of the input that holds every input
/// value its outputs depend on (with the layer's zero padding written out explicitly), and those kernels
/// compute each output value by the same operations in the same order wherever it sits in the image (the
/// matrix product accumulates each element over k in order with fresh accumulators; col2im adds contributions
/// in kernel order; GDN is per pixel; the activation kernels run the same lane operations on partial vectors).
/// So the result equals the whole-image forward pass bit for bit, for any tiling and any thread count (tested).
/// The tiling depends on the shapes and `chunkFloats` only, not on the threads.
///
/// Supported: `Conv2d`, `ConvTranspose2d`, and per-pixel layers (`GDN`, `Activation`); any other layer runs
/// whole (correct, without the memory bound).
struct TiledTransform: Sendable {
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
    /// Input rows per chunk of a transposed convolution, at least.
    static let minimumTransposedRows = 8
    /// A convolution tile's column matrix, at most (512 KiB): the matrix product reads it once per 4 output
    /// channels, so it should stay in L2.
    static let convolutionFloats = 1 << 17

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
            case let .pointwise(layer): try pointwise(&x, layer, workers)
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

    /// Conv2d in tiles of output rows × columns: the tile's input window (padding written out as zeros) through
    /// the unpadded copy. Tiles span whole rows when a row's column matrix fits `convolutionFloats`, else one row
    /// and as many columns as fit (so the matrix product's right-hand side stays in cache).
    private func conv(_ x: Tensor, _ layer: Conv2d, _ unpadded: Conv2d, _ workers: [Workspace]) throws(ShapeMismatch) -> Tensor {
        try checkImage(x, layer, channels: layer.inputChannels)
        let outShape = try layer.outputShape(forInput: Array(x.shape.dropFirst()))
        let c = layer.inputChannels, h = x.shape[2], w = x.shape[3]
        let s = layer.stride, p = layer.padding, k = layer.kernelSize
        let o = layer.outputChannels, oh = outShape[1], ow = outShape[2]
        let budget = min(chunkFloats, Self.convolutionFloats), patch = c * k * k
        let tiles = TileGrid(rows: oh, columns: ow,
                             tileRows: max(1, budget / max(1, ow * patch)),
                             tileColumns: ow * patch <= budget ? ow : min(ow, max(8, budget / max(1, patch))))
        var y = Tensor(shape: [1, o, oh, ow])
        try runChunks(count: tiles.count, x: x, y: &y, workers: workers) { (i, xp, yp, ws) throws(ShapeMismatch) in
            let (rows, cols) = tiles[i]
            // The input window outputs rows × cols read, padding included: r·s − p ..< (r_end − 1)·s − p + k.
            let top = rows.lowerBound * s - p, left = cols.lowerBound * s - p
            let sh = (rows.count - 1) * s + k, sw = (cols.count - 1) * s + k
            let x0 = max(0, left), x1 = min(w, left + sw)
            let slice = Tensor(shape: [1, c, sh, sw]) { buffer in
                let d = buffer.baseAddress!
                d.initialize(repeating: 0, count: c * sh * sw)
                guard x0 < x1 else { return }
                for ch in 0..<c {
                    for r in 0..<sh where top + r >= 0 && top + r < h {
                        (d + (ch * sh + r) * sw + x0 - left).update(from: xp + (ch * h + top + r) * w + x0, count: x1 - x0)
                    }
                }
            }
            var local = Tensor.empty
            try unpadded.forward(slice, into: &local, workspace: ws)
            local.scalars.withUnsafeBufferPointer { l in
                for ch in 0..<o {
                    for (j, r) in rows.enumerated() {
                        (yp + (ch * oh + r) * ow + cols.lowerBound).update(from: l.baseAddress! + (ch * rows.count + j) * cols.count, count: cols.count)
                    }
                }
            }
        }
        return y
    }

    /// ConvTranspose2d in tiles of output rows × columns: the input rows and columns that reach the tile through
    /// the copy without padding, cropped. A tile of R input rows' worth of output rows reads about
    /// R + (k − 1)/s input rows (those reaching its edges are multiplied again by the next tile), so tiles have
    /// at least `minimumTransposedRows` input rows (1.25 times the work) and 8 input columns.
    private func transposed(_ x: Tensor, _ layer: ConvTranspose2d, _ unpadded: ConvTranspose2d, _ workers: [Workspace]) throws(ShapeMismatch) -> Tensor {
        try checkImage(x, layer, channels: layer.inputChannels)
        let outShape = try layer.outputShape(forInput: Array(x.shape.dropFirst()))
        let c = layer.inputChannels, h = x.shape[2], w = x.shape[3]
        let s = layer.stride, p = layer.padding, k = layer.kernelSize
        let o = layer.outputChannels, oh = outShape[1], ow = outShape[2]
        // Column matrix: (o·k·k) × (input rows · input columns).
        let okk = o * k * k
        // Measured (N = 128, 768×512): 8 input rows and a 2^20-float column matrix beat 4 rows (the repeated
        // edge rows) and 8× larger tiles (the column matrix falls out of cache before col2im reads it).
        let inputRows = max(Self.minimumTransposedRows, chunkFloats / max(1, w * okk))
        let inputColumns = min(w, max(8, chunkFloats / max(1, inputRows * okk)))
        let tiles = TileGrid(rows: oh, columns: ow, tileRows: inputRows * s,
                             tileColumns: inputColumns >= w ? ow : inputColumns * s)
        let bias = layer.bias.scalars
        var y = Tensor(shape: [1, o, oh, ow])
        try runChunks(count: tiles.count, x: x, y: &y, workers: workers) { (t, xp, yp, ws) throws(ShapeMismatch) in
            let (rows, cols) = tiles[t]
            // Output index r = i·s − p + u (u < k) for input index i: the inputs that reach rows and cols.
            let i0 = max(0, ceilDiv(rows.lowerBound + p - k + 1, s)), i1 = min(h, floorDiv(rows.upperBound - 1 + p, s) + 1)
            let j0 = max(0, ceilDiv(cols.lowerBound + p - k + 1, s)), j1 = min(w, floorDiv(cols.upperBound - 1 + p, s) + 1)
            guard i0 < i1, j0 < j1 else {
                for ch in 0..<o { for r in rows { (yp + (ch * oh + r) * ow + cols.lowerBound).update(repeating: bias[ch], count: cols.count) } }
                return
            }
            let sh = i1 - i0, sw = j1 - j0
            let slice = Tensor(shape: [1, c, sh, sw]) { buffer in
                for ch in 0..<c {
                    for r in 0..<sh {
                        (buffer.baseAddress! + (ch * sh + r) * sw).initialize(from: xp + (ch * h + i0 + r) * w + j0, count: sw)
                    }
                }
            }
            var local = Tensor.empty
            try unpadded.forward(slice, into: &local, workspace: ws)
            // Local (ly, lx) is output (i0·s − p + ly, j0·s − p + lx). Output pixels the slice does not reach get
            // no contribution anywhere (every input reaching the tile is in the slice): the bias alone, as in
            // the whole-image pass.
            let lh = local.shape[2], lw = local.shape[3], top = i0 * s - p, left = j0 * s - p
            // Per row: the columns the slice reaches are one run [q0, q1), copied; the rest take the bias.
            let q0 = min(cols.upperBound, max(cols.lowerBound, left)), q1 = max(q0, min(cols.upperBound, left + lw))
            local.scalars.withUnsafeBufferPointer { l in
                for ch in 0..<o {
                    let b = bias[ch]
                    for r in rows {
                        let dst = yp + (ch * oh + r) * ow, lr = r - top
                        guard lr >= 0 && lr < lh else {
                            (dst + cols.lowerBound).update(repeating: b, count: cols.count)
                            continue
                        }
                        (dst + cols.lowerBound).update(repeating: b, count: q0 - cols.lowerBound)
                        (dst + q0).update(from: l.baseAddress! + (ch * lh + lr) * lw + q0 - left, count: q1 - q0)
                        (dst + q1).update(repeating: b, count: cols.upperBound - q1)
                    }
                }
            }
        }
        return y
    }

    /// In place: a chunk reads and writes its own rows only (copied into the slice first), so no second
    /// image-sized buffer is needed.
    private func pointwise(_ x: inout Tensor, _ layer: any Layer, _ workers: [Workspace]) throws(ShapeMismatch) {
        guard x.rank == 4, x.shape[0] == 1 else {
            throw ShapeMismatch(layer: layer.name, expected: "[1, C, H, W]", found: x.shape)
        }
        let c = x.shape[1], h = x.shape[2], w = x.shape[3]
        _ = try layer.outputShape(forInput: [c, h, w])
        try runChunks(rows: h, rowsPerChunk: max(1, chunkFloats / max(1, c * w)), y: &x, workers: workers) { (r0, r1, xp, ws) throws(ShapeMismatch) in
            let n = (r1 - r0) * w
            let slice = Tensor(shape: [1, c, r1 - r0, w]) { buffer in
                for ch in 0..<c { (buffer.baseAddress! + ch * n).initialize(from: xp + (ch * h + r0) * w, count: n) }
            }
            var local = Tensor.empty
            try layer.forward(slice, into: &local, workspace: ws)
            local.scalars.withUnsafeBufferPointer { l in
                for ch in 0..<c { (xp + (ch * h + r0) * w).update(from: l.baseAddress! + ch * n, count: n) }
            }
        }
    }

    /// Row chunks of a step that works in place on `y`: `body(r0, r1, y, workspace)`.
    private func runChunks(
        rows: Int, rowsPerChunk: Int, y: inout Tensor, workers: [Workspace],
        _ body: @escaping @Sendable (Int, Int, UnsafeMutablePointer<Float>, Workspace) throws(ShapeMismatch) -> Void
    ) throws(ShapeMismatch) {
        try runChunks(count: (rows + rowsPerChunk - 1) / rowsPerChunk, y: &y, workers: workers) { (i, yp, ws) throws(ShapeMismatch) in
            try body(i * rowsPerChunk, min(rows, (i + 1) * rowsPerChunk), yp, ws)
        }
    }

    /// Chunks of a step that reads `x` and writes a new `y`: `body(chunk, x, y, workspace)`.
    private func runChunks(
        count: Int, x: Tensor, y: inout Tensor, workers: [Workspace],
        _ body: @escaping @Sendable (Int, UnsafePointer<Float>, UnsafeMutablePointer<Float>, Workspace) throws(ShapeMismatch) -> Void
    ) throws(ShapeMismatch) {
        try x.scalars.withUnsafeBufferPointer { (xb) throws(ShapeMismatch) in
            let xp = Unchecked(xb.baseAddress!)
            try runChunks(count: count, y: &y, workers: workers) { (i, yp, ws) throws(ShapeMismatch) in
                try body(i, xp.value, yp, ws)
            }
        }
    }

    /// Calls `body(chunk, y, workspace)` for chunks 0..<count, shared out among the workers (each with its own
    /// workspace); chunks write disjoint parts of `y`.
    private func runChunks(
        count chunks: Int, y: inout Tensor, workers: [Workspace],
        _ body: @escaping @Sendable (Int, UnsafeMutablePointer<Float>, Workspace) throws(ShapeMismatch) -> Void
    ) throws(ShapeMismatch) {
        guard chunks > 0 else { return }
        let failure: ShapeMismatch? = y.scalars.withUnsafeMutableBufferPointer { yb -> ShapeMismatch? in
            let shared = Unchecked((yb.baseAddress!, workers))
            let next = Atomic<Int>(0)
            let errors = Mutex<ShapeMismatch?>(nil)
            DispatchQueue.concurrentPerform(iterations: min(workers.count, chunks)) { t in
                let (yp, workers) = shared.value
                while true {
                    let i = next.wrappingAdd(1, ordering: .relaxed).oldValue
                    guard i < chunks else { return }
                    do throws(ShapeMismatch) { try body(i, yp, workers[t]) } catch {
                        errors.withLock { if $0 == nil { $0 = error } }
                        return
                    }
                }
            }
            return errors.withLock { $0 }
        }
        if let failure { throw failure }
    }
}

/// A grid of tiles over rows × columns, row-major.
struct TileGrid: Sendable {
    let rows: Int, columns: Int, tileRows: Int, tileColumns: Int
    var across: Int { (columns + tileColumns - 1) / tileColumns }
    var count: Int { (rows + tileRows - 1) / tileRows * across }
    subscript(i: Int) -> (rows: Range<Int>, columns: Range<Int>) {
        let r = i / across * tileRows, c = i % across * tileColumns
        return (r..<min(rows, r + tileRows), c..<min(columns, c + tileColumns))
    }
}

/// A value handed to concurrent workers that use disjoint parts of it.
struct Unchecked<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}

func floorDiv(_ a: Int, _ b: Int) -> Int { a >= 0 ? a / b : -((-a + b - 1) / b) }
func ceilDiv(_ a: Int, _ b: Int) -> Int { -floorDiv(-a, b) }
