// A multi-layer, batch-first LSTM with flexible gate activations (see docs/lstm.md).
//
// Internal layout: everything inside the recurrence is time-major and gate-major, so that
// - the input projection of a layer is one GEMM per gate over all N·T rows before the recurrence,
// - each step's recurrent product is one GEMM per gate `[N, H]·W_hh_gᵀ` (vectorised along H),
// - each gate's pre-activations for one step are one contiguous `[N, H]` block, which is what
//   `ActivationFunction.forward(…, batch: N, units: H, spatial: 1, …)` expects.

/// The five nonlinearities of an LSTM cell, in parameter order: input gate i, forget gate f,
/// candidate g, output gate o, cell output c (h = o ⊙ c_act(c)).
public enum LSTMNonlinearity: Int, CaseIterable, Sendable {
    case i = 0, f, g, o, c
    /// The parameter-name prefix: `i`, `f`, `g`, `o`, `c`.
    public var prefix: String { ["i", "f", "g", "o", "c"][rawValue] }
    /// True for the gates i, f and o, which use the LSTM's `gate` function; g (the cell input) and c (the cell
    /// output) use its `cell` function.
    public var isGate: Bool { self == .i || self == .f || self == .o }
}

/// What a recorded forward pass keeps for the backward pass (filled by `LSTM.forwardRecording`).
///
/// With N the batch, T the steps, H the hidden size and S = N·H, each layer's buffer `layers[l]` holds,
/// in order (all row-major, time-major):
/// - pre-activations `[4, T, N, H]` (gate order i, f, g, o; biases and both products included),
/// - activated gates `[4, T, N, H]`,
/// - cell states `[T + 1, N, H]` (slot 0 is the zero initial state),
/// - cell outputs c_act(c_t) `[T, N, H]`,
/// - hidden states `[T + 1, N, H]` (slot 0 is the zero initial state).
/// `input` is the layer-0 input transposed to time-major `[T, N, inputSize]`.
public struct LSTMTrace: Sendable {
    public var batch: Int
    public var steps: Int
    public var inputSize: Int
    public var hiddenSize: Int
    public var input: [Float]
    public var layers: [[Float]]

    public init(batch: Int, steps: Int, inputSize: Int, hiddenSize: Int, input: [Float], layers: [[Float]]) {
        self.batch = batch
        self.steps = steps
        self.inputSize = inputSize
        self.hiddenSize = hiddenSize
        self.input = input
        self.layers = layers
    }

    /// S = N·H, the size of one `[N, H]` block.
    @inlinable public var blockSize: Int { batch * hiddenSize }
    /// Offset of the pre-activations of gate `gate` at step 0 in a layer buffer.
    @inlinable public func preactivationOffset(gate: Int) -> Int { gate * steps * blockSize }
    /// Offset of the activated gate `gate` at step 0.
    @inlinable public func gateOffset(gate: Int) -> Int { (4 + gate) * steps * blockSize }
    /// Offset of the cell-state slot 0 (zero initial state); step t's state is slot t + 1.
    @inlinable public var cellOffset: Int { 8 * steps * blockSize }
    /// Offset of c_act(c_0); step t at `+ t·S`.
    @inlinable public var cellOutputOffset: Int { cellOffset + (steps + 1) * blockSize }
    /// Offset of the hidden-state slot 0 (zero initial state); step t's state is slot t + 1.
    @inlinable public var hiddenOffset: Int { cellOutputOffset + steps * blockSize }
    /// Elements of one layer buffer.
    @inlinable public var layerCount: Int { hiddenOffset + (steps + 1) * blockSize }

    /// The trace as tensors for `LayerCache.saved`: `[input [T, N, I], layer buffers [count]...]`.
    public var tensors: [Tensor] {
        [Tensor(shape: [steps, batch, inputSize], scalars: input)]
            + layers.map { Tensor(shape: [$0.count], scalars: $0) }
    }

    /// Rebuilds a trace from `tensors` (the inverse of `tensors`).
    public init(tensors: [Tensor], hiddenSize: Int) {
        precondition(!tensors.isEmpty && tensors[0].rank == 3, "LSTMTrace: malformed saved tensors")
        let s = tensors[0].shape
        self.init(batch: s[1], steps: s[0], inputSize: s[2], hiddenSize: hiddenSize,
                  input: tensors[0].scalars, layers: tensors.dropFirst().map(\.scalars))
        precondition(layers.allSatisfy { $0.count == layerCount }, "LSTMTrace: malformed saved tensors")
    }
}

/// One layer's parameters gathered into a single buffer in the orientations the kernels want.
/// (Shared by the forward and backward passes; not needed by users.)
public struct LSTMPackedLayer: Sendable {
    public let inputSize: Int
    public let hiddenSize: Int
    public var storage: [Float]
    /// W_ihᵀ `[in, 4H]`, W_hhᵀ `[H, 4H]`, W_ih `[4H, in]`, W_hh `[4H, H]`, b_ih + b_hh `[4H]`.
    public let weightIHT, weightHHT, weightIH, weightHH, bias: Int
    /// Offsets of α, β per nonlinearity (i, f, g, o, c), nil when the function has none.
    public let alpha: [Int?], beta: [Int?]

    /// Floats of `storage`.
    public let count: Int

    public init(_ lstm: LSTM, layer l: Int) {
        self.init(layoutOf: lstm, layer: l)
        let layout = self
        storage = [Float](unsafeUninitializedCapacity: layout.count) { buf, n in
            layout.pack(lstm, layer: l, into: buf.baseAddress!)
            n = layout.count
        }
    }

    /// The offsets only, with an empty `storage`: pack into memory of your own with `pack(_:layer:into:)`.
    public init(layoutOf lstm: LSTM, layer l: Int) {
        let h = lstm.hiddenSize, g4 = 4 * h
        let inSize = l == 0 ? lstm.inputSize : h
        let idx = lstm.parameterIndices(layer: l)
        let p = lstm.parameters
        inputSize = inSize
        hiddenSize = h
        var off = 0
        func take(_ n: Int) -> Int { defer { off += n }; return off }
        weightIHT = take(inSize * g4)
        weightHHT = take(h * g4)
        weightIH = take(inSize * g4)
        weightHH = take(h * g4)
        bias = take(g4)
        var a: [Int?] = [], b: [Int?] = []
        for k in 0..<5 {
            a.append(idx.alpha[k].map { take(p[$0].count) })
            b.append(idx.beta[k].map { take(p[$0].count) })
        }
        alpha = a
        beta = b
        count = off
        storage = []
    }

    /// Writes layer `l`'s parameters of `lstm` in this layout to `s` (`count` floats).
    public func pack(_ lstm: LSTM, layer l: Int, into s: MutableFloatPointer) {
        let h = hiddenSize, g4 = 4 * h, inSize = inputSize
        let idx = lstm.parameterIndices(layer: l)
        let p = lstm.parameters
        precondition(p[idx.weightIH].count == g4 * inSize && p[idx.weightHH].count == g4 * h
                        && p[idx.biasIH].count == g4 && p[idx.biasHH].count == g4,
                     "\(lstm.label): parameter shapes of layer \(l) do not match the spec")
        p[idx.weightIH].scalars.withUnsafeBufferPointer { wih in
        p[idx.weightHH].scalars.withUnsafeBufferPointer { whh in
        p[idx.biasIH].scalars.withUnsafeBufferPointer { bih in
        p[idx.biasHH].scalars.withUnsafeBufferPointer { bhh in
            for r in 0..<g4 {
                for c in 0..<inSize {
                    s[weightIHT + c * g4 + r] = wih[r * inSize + c]
                    s[weightIH + r * inSize + c] = wih[r * inSize + c]
                }
                for c in 0..<h {
                    s[weightHHT + c * g4 + r] = whh[r * h + c]
                    s[weightHH + r * h + c] = whh[r * h + c]
                }
                s[bias + r] = bih[r] + bhh[r]
            }
        } } } }
        for k in 0..<5 {
            if let o = alpha[k], let i = idx.alpha[k] {
                p[i].scalars.withUnsafeBufferPointer { (s + o).update(from: $0.baseAddress!, count: $0.count) }
            }
            if let o = beta[k], let i = idx.beta[k] {
                p[i].scalars.withUnsafeBufferPointer { (s + o).update(from: $0.baseAddress!, count: $0.count) }
            }
        }
    }
}

/// `torch.nn.LSTM(inputSize, hiddenSize, numLayers, batch_first=True)` returning the top layer's last
/// hidden state `[N, hiddenSize]` for an input `[N, T, inputSize]`, zero initial states, with flexible
/// nonlinearities: gates i, f, o use `gate`, the candidate g and the cell output use `cell`, each of the
/// five with its own per-unit α/β.
///
/// Parameters per layer l, in order: `weight_ih_l{l}` `[4H, in_l]`, `weight_hh_l{l}` `[4H, H]`,
/// `bias_ih_l{l}` `[4H]`, `bias_hh_l{l}` `[4H]` (rows in gate order i, f, g, o, as PyTorch), then for
/// each of i, f, g, o, c: `{x}_alpha_l{l}` and `{x}_beta_l{l}` (`[H]` for width 1, `[H, K]` for width K;
/// only those the function has).
public final class LSTM: Layer, @unchecked Sendable {
    public var name: String
    public let inputSize: Int
    public let hiddenSize: Int
    public let numLayers: Int
    public let gate: ActivationFunction
    public let cell: ActivationFunction
    public let parameterNames: [String]
    public var parameters: [Tensor]

    /// Indices into `parameters` of one layer's tensors.
    public struct ParameterIndices: Sendable, Equatable {
        public var weightIH: Int, weightHH: Int, biasIH: Int, biasHH: Int
        /// Per nonlinearity (i, f, g, o, c); nil when the function has no α (β).
        public var alpha: [Int?], beta: [Int?]
    }

    private let indices: [ParameterIndices]

    public var spec: LayerSpec {
        .lstm(inputSize: inputSize, hiddenSize: hiddenSize, numLayers: numLayers, gate: gate, cell: cell)
    }

    /// The function of each nonlinearity i, f, g, o, c.
    public var functions: [ActivationFunction] { LSTMNonlinearity.allCases.map { $0.isGate ? gate : cell } }

    public init(name: String = "lstm", inputSize: Int, hiddenSize: Int, numLayers: Int,
                gate: ActivationFunction, cell: ActivationFunction, rng: inout SplitMix64) {
        precondition(inputSize > 0 && hiddenSize > 0 && numLayers > 0,
                     "LSTM \(name): inputSize \(inputSize), hiddenSize \(hiddenSize) and numLayers \(numLayers) must be positive (LayerSpec.validate reports this as an error)")
        self.name = name
        self.inputSize = inputSize
        self.hiddenSize = hiddenSize
        self.numLayers = numLayers
        self.gate = gate
        self.cell = cell
        let h = hiddenSize
        var names: [String] = [], params: [Tensor] = [], idx: [ParameterIndices] = []
        // α/β per (stacked layer, nonlinearity), from the one definition of the slots.
        let slots = LayerSpec.lstm(inputSize: inputSize, hiddenSize: hiddenSize, numLayers: numLayers, gate: gate,
                                   cell: cell).activationSlots
        for l in 0..<numLayers {
            let inSize = l == 0 ? inputSize : h
            let base = params.count
            names += ["weight_ih_l\(l)", "weight_hh_l\(l)", "bias_ih_l\(l)", "bias_hh_l\(l)"]
            // PyTorch draws every LSTM tensor from U(-1/sqrt(H), 1/sqrt(H)), in this order.
            params.append(Tensor(shape: [4 * h, inSize], scalars: uniformInit(count: 4 * h * inSize, fanIn: h, rng: &rng)))
            params.append(Tensor(shape: [4 * h, h], scalars: uniformInit(count: 4 * h * h, fanIn: h, rng: &rng)))
            params.append(Tensor(shape: [4 * h], scalars: uniformInit(count: 4 * h, fanIn: h, rng: &rng)))
            params.append(Tensor(shape: [4 * h], scalars: uniformInit(count: 4 * h, fanIn: h, rng: &rng)))
            var a: [Int?] = [], b: [Int?] = []
            for slot in slots where slot.stackedLayer == l {
                if let name = slot.alphaName, let t = slot.initialAlpha() {
                    a.append(params.count)
                    names.append(name)
                    params.append(t)
                } else { a.append(nil) }
                if let name = slot.betaName, let t = slot.initialBeta() {
                    b.append(params.count)
                    names.append(name)
                    params.append(t)
                } else { b.append(nil) }
            }
            idx.append(ParameterIndices(weightIH: base, weightHH: base + 1, biasIH: base + 2, biasHH: base + 3,
                                        alpha: a, beta: b))
        }
        parameterNames = names
        parameters = params
        indices = idx
    }

    /// Indices into `parameters` of layer `l`'s tensors.
    public func parameterIndices(layer l: Int) -> ParameterIndices { indices[l] }

    public func outputShape(forInput shape: [Int]) throws(ShapeMismatch) -> [Int] {
        guard shape.count == 2, shape[1] == inputSize else {
            throw ShapeMismatch(layer: label, expected: "[T, \(inputSize)]", found: shape,
                                detail: "per-sample shape; the batched input is [N, T, \(inputSize)]")
        }
        guard shape[0] > 0 else {
            throw ShapeMismatch(layer: label, expected: "[T, \(inputSize)]", found: shape,
                                detail: "the sequence must have at least one step")
        }
        return [hiddenSize]
    }

    /// Checks a batched input `[N, T, inputSize]`.
    public func checkInput(_ input: Tensor) throws(ShapeMismatch) {
        let expected = "[N, T, \(inputSize)]"
        guard input.rank == 3, input.shape[2] == inputSize else {
            throw ShapeMismatch(layer: label, expected: expected, found: input.shape)
        }
        guard input.shape[1] > 0 else {
            throw ShapeMismatch(layer: label, expected: expected, found: input.shape,
                                detail: "the sequence must have at least one step")
        }
    }

    public func forward(_ input: Tensor) throws(ShapeMismatch) -> Tensor {
        try forwardAllocating(input)
    }

    /// The inference pass: no trace is kept. Scratch slots of `workspace`: 0 the time-major input, 1 the
    /// packed weights of the current layer, 2 and 3 the per-step buffers of the current and the previous
    /// stacked layer (each `LSTMTrace.layerCount` floats, overwritten layer after layer), 4 the activation
    /// kernels' parameter rows.
    public func forward(_ input: Tensor, into output: inout Tensor, workspace: Workspace) throws(ShapeMismatch) {
        try checkInput(input)
        let n = input.shape[0], t = input.shape[1], h = hiddenSize
        let shape = LSTMTrace(batch: n, steps: t, inputSize: inputSize, hiddenSize: h, input: [], layers: [])
        let xtm = workspace.scratch(0, count: t * n * inputSize)
        input.scalars.withUnsafeBufferPointer { timeMajor($0.baseAddress!, batch: n, steps: t, into: xtm) }
        let rowsScratch = workspace.scratch(4, count: activationScratchCount)
        var below = FloatPointer(xtm)
        var top = FloatPointer(xtm)
        for l in 0..<numLayers {
            let layout = LSTMPackedLayer(layoutOf: self, layer: l)
            let packed = workspace.scratch(1, count: layout.count)
            layout.pack(self, layer: l, into: packed)
            let record = workspace.scratch(2 + l % 2, count: shape.layerCount)
            runLayer(layout, weights: packed, input: below, trace: shape, record: record, activationScratch: rowsScratch)
            below = FloatPointer(record + shape.hiddenOffset + shape.blockSize)
            top = FloatPointer(record)
        }
        output.prepare(shape: [n, h], workspace: workspace)
        guard n > 0 else { return }
        output.scalars.withUnsafeMutableBufferPointer {
            $0.baseAddress!.update(from: top + shape.hiddenOffset + t * shape.blockSize, count: shape.blockSize)
        }
    }

    /// Floats of activation scratch one `[N, H]` block needs (the largest of the five functions).
    private var activationScratchCount: Int {
        functions.map { $0.forwardScratchCount(units: hiddenSize, spatial: 1) }.max() ?? 0
    }

    /// `[N, T, in]` → time-major `[T, N, in]`.
    private func timeMajor(_ x: FloatPointer, batch n: Int, steps t: Int, into dst: MutableFloatPointer) {
        for b in 0..<n {
            for s in 0..<t {
                (dst + (s * n + b) * inputSize).update(from: x + (b * t + s) * inputSize, count: inputSize)
            }
        }
    }

    /// The forward pass, also returning everything the backward pass needs (see `LSTMTrace`).
    public func forwardRecording(_ input: Tensor) throws(ShapeMismatch) -> (output: Tensor, trace: LSTMTrace) {
        try checkInput(input)
        let n = input.shape[0], t = input.shape[1], inSize = inputSize, h = hiddenSize
        // Layer-0 input, time-major [T, N, in].
        let xtm = [Float](unsafeUninitializedCapacity: t * n * inSize) { buf, count in
            input.scalars.withUnsafeBufferPointer { timeMajor($0.baseAddress!, batch: n, steps: t, into: buf.baseAddress!) }
            count = t * n * inSize
        }
        var trace = LSTMTrace(batch: n, steps: t, inputSize: inSize, hiddenSize: h, input: xtm, layers: [])
        trace.layers.reserveCapacity(numLayers)
        for l in 0..<numLayers {
            let packed = LSTMPackedLayer(self, layer: l)
            let record = [Float](unsafeUninitializedCapacity: trace.layerCount) { buf, count in
                packed.storage.withUnsafeBufferPointer { p in
                    if l == 0 {
                        xtm.withUnsafeBufferPointer { x in
                            runLayer(packed, weights: p.baseAddress!, input: x.baseAddress!, trace: trace,
                                     record: buf.baseAddress!, activationScratch: nil)
                        }
                    } else {
                        trace.layers[l - 1].withUnsafeBufferPointer { below in
                            runLayer(packed, weights: p.baseAddress!, input: below.baseAddress! + trace.hiddenOffset + trace.blockSize,
                                     trace: trace, record: buf.baseAddress!, activationScratch: nil)
                        }
                    }
                }
                count = trace.layerCount
            }
            trace.layers.append(record)
        }
        let top = trace.layers[numLayers - 1]
        let start = trace.hiddenOffset + t * trace.blockSize
        let output = Tensor(shape: [n, h], scalars: Array(top[start..<(start + trace.blockSize)]))
        return (output, trace)
    }

    /// Runs one layer over the whole sequence; `input` is time-major `[T, N, in]`, `p` the packed parameters
    /// in `packed`'s layout. Writes the layer buffer (`trace.layerCount` floats, see `LSTMTrace`) to `base`.
    private func runLayer(_ packed: LSTMPackedLayer, weights p: FloatPointer, input x: UnsafePointer<Float>,
                          trace: LSTMTrace, record base: MutableFloatPointer, activationScratch: MutableFloatPointer?) {
        let n = trace.batch, t = trace.steps, h = hiddenSize, inSize = packed.inputSize
        let s = trace.blockSize, g4 = 4 * h, ts = t * s
        let fns = functions
        let z = base, act = base + trace.gateOffset(gate: 0)
        let cells = base + trace.cellOffset, cellOut = base + trace.cellOutputOffset
        let hidden = base + trace.hiddenOffset
        cells.initialize(repeating: 0, count: s)
        hidden.initialize(repeating: 0, count: s)
        let wihT = p + packed.weightIHT, whhT = p + packed.weightHHT, bias = p + packed.bias
        let alpha = packed.alpha.map { $0.map { p + $0 } }
        let beta = packed.beta.map { $0.map { p + $0 } }
        // Input projection for all steps, plus both biases: Z_g[T·N, H] = X·W_ih,gᵀ + b_g.
        for g in 0..<4 {
            let zg = z + g * ts
            gemmNN(m: t * n, n: h, k: inSize, a: x, aRowStride: inSize, aColStride: 1,
                   b: wihT + g * h, ldb: g4, c: zg, ldc: h, accumulate: false)
            let bg = bias + g * h
            for r in 0..<(t * n) {
                let row = zg + r * h
                for j in 0..<h { row[j] += bg[j] }
            }
        }
        for step in 0..<t {
            let off = step * s
            if step > 0 {
                let hPrev = UnsafePointer(hidden + step * s)
                for g in 0..<4 {
                    gemmNN(m: n, n: h, k: h, a: hPrev, aRowStride: h, aColStride: 1,
                           b: whhT + g * h, ldb: g4, c: z + g * ts + off, ldc: h, accumulate: true)
                }
            }
            for g in 0..<4 {
                fns[g].forward(z + g * ts + off, act + g * ts + off, batch: n, units: h, spatial: 1,
                               alpha: alpha[g], beta: beta[g], scratch: activationScratch)
            }
            let ig = act + off, fg = act + ts + off, gg = act + 2 * ts + off, og = act + 3 * ts + off
            let cPrev = cells + step * s, cNew = cells + (step + 1) * s
            for e in 0..<s { cNew[e] = fg[e] * cPrev[e] + ig[e] * gg[e] }
            let co = cellOut + off
            fns[4].forward(cNew, co, batch: n, units: h, spatial: 1, alpha: alpha[4], beta: beta[4],
                           scratch: activationScratch)
            let hNew = hidden + (step + 1) * s
            for e in 0..<s { hNew[e] = og[e] * co[e] }
        }
    }
}
