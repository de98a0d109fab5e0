import FlexRuntime
import Foundation
import Testing

/// Forward-pass tests of `LSTM`: parameter names, shapes and initialisation, shape errors, agreement with
/// an independent Double-precision reference cell, and the α = 1 reduction to the plain sigmoid/tanh LSTM.
@Suite struct LSTMTests {
    static func member(_ name: String) -> ActivationFunction {
        // swiftlint:disable:next force_try
        try! ActivationFunction.member(name)
    }

    static func makeLSTM(inputSize: Int, hiddenSize: Int, layers: Int, gate: String, cell: String,
                         seed: UInt64 = 1) -> LSTM {
        var rng = SplitMix64(seed: seed)
        return LSTM(name: "rnn", inputSize: inputSize, hiddenSize: hiddenSize, numLayers: layers,
                    gate: member(gate), cell: member(cell), rng: &rng)
    }

    static func random(_ shape: [Int], seed: UInt64, lo: Float = -1, hi: Float = 1) -> Tensor {
        var rng = SplitMix64(seed: seed)
        return Tensor(shape: shape, scalars: (0..<shape.reduce(1, *)).map { _ in rng.uniform(lo, hi) })
    }

    /// Sets every α/β of the layer to random values in the given ranges (per unit, per gate).
    static func randomizeFlexParameters(_ lstm: LSTM, alpha: ClosedRange<Float>, beta: ClosedRange<Float>, seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        for (i, name) in lstm.parameterNames.enumerated() where name.contains("_alpha_") || name.contains("_beta_") {
            let r = name.contains("_alpha_") ? alpha : beta
            for j in 0..<lstm.parameters[i].count {
                lstm.parameters[i].scalars[j] = rng.uniform(r.lowerBound, r.upperBound)
            }
        }
    }

    // MARK: Double-precision reference

    static func activation(_ member: String, _ z: Double, _ a: Double, _ b: Double) -> Double {
        let sig = 1 / (1 + Foundation.exp(-z))
        switch member {
        case "sigmoid": return sig
        case "tanh": return Foundation.tanh(z)
        case "p-sig-ramp": return a * sig + (1 - a) * min(max(b * z + 0.5, 0), 1)
        case "p-tanh-ramp": return a * Foundation.tanh(z) + (1 - a) * min(max(b * z, -1), 1)
        default: fatalError("no reference for \(member)")
        }
    }

    /// A naive batch-first LSTM in Double, written from the PyTorch equations, reading parameters by name.
    static func reference(_ lstm: LSTM, _ x: Tensor) -> [Double] {
        let n = x.shape[0], t = x.shape[1], h = lstm.hiddenSize
        func param(_ name: String) -> [Double] {
            lstm.parameters[lstm.parameterNames.firstIndex(of: name)!].scalars.map(Double.init)
        }
        var seq: [[[Double]]] = (0..<n).map { b in
            (0..<t).map { s in (0..<lstm.inputSize).map { Double(x[b, s, $0]) } }
        }
        for l in 0..<lstm.numLayers {
            let inSize = l == 0 ? lstm.inputSize : h
            let wih = param("weight_ih_l\(l)"), whh = param("weight_hh_l\(l)")
            let bih = param("bias_ih_l\(l)"), bhh = param("bias_hh_l\(l)")
            let names = ["i", "f", "g", "o", "c"]
            let fns = [lstm.gate, lstm.gate, lstm.cell, lstm.gate, lstm.cell]
            let alpha = names.indices.map { k in fns[k].alphaWidth > 0 ? param("\(names[k])_alpha_l\(l)") : [Double](repeating: 1, count: h) }
            let beta = names.indices.map { k in fns[k].betaWidth > 0 ? param("\(names[k])_beta_l\(l)") : [Double](repeating: 1, count: h) }
            var next = seq
            for b in 0..<n {
                var hs = [Double](repeating: 0, count: h), cs = [Double](repeating: 0, count: h)
                for s in 0..<t {
                    var pre = [Double](repeating: 0, count: 4 * h)
                    for r in 0..<(4 * h) {
                        var v = bih[r] + bhh[r]
                        for c in 0..<inSize { v += wih[r * inSize + c] * seq[b][s][c] }
                        for c in 0..<h { v += whh[r * h + c] * hs[c] }
                        pre[r] = v
                    }
                    var hNew = [Double](repeating: 0, count: h)
                    for u in 0..<h {
                        let gates = (0..<4).map { g in activation(fns[g].name, pre[g * h + u], alpha[g][u], beta[g][u]) }
                        cs[u] = gates[1] * cs[u] + gates[0] * gates[2]
                        hNew[u] = gates[3] * activation(fns[4].name, cs[u], alpha[4][u], beta[4][u])
                    }
                    hs = hNew
                    next[b][s] = hNew
                }
            }
            seq = next
        }
        return (0..<n).flatMap { seq[$0][t - 1] }
    }

    // MARK: Parameters

    @Test func parameterNamesAndShapesPlain() {
        let lstm = Self.makeLSTM(inputSize: 3, hiddenSize: 5, layers: 2, gate: "sigmoid", cell: "tanh")
        #expect(lstm.parameterNames == ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0",
                                        "weight_ih_l1", "weight_hh_l1", "bias_ih_l1", "bias_hh_l1"])
        #expect(lstm.parameters.map(\.shape) == [[20, 3], [20, 5], [20], [20], [20, 5], [20, 5], [20], [20]])
        #expect(lstm.parameterCount == 4 * 5 * (3 + 5 + 2) + 4 * 5 * (5 + 5 + 2))
    }

    @Test func parameterNamesAndShapesFlexible() {
        let lstm = Self.makeLSTM(inputSize: 4, hiddenSize: 6, layers: 2, gate: "p-sig-ramp", cell: "p-tanh-ramp")
        var expected: [String] = []
        for l in 0..<2 {
            expected += ["weight_ih_l\(l)", "weight_hh_l\(l)", "bias_ih_l\(l)", "bias_hh_l\(l)"]
            for g in ["i", "f", "g", "o", "c"] { expected += ["\(g)_alpha_l\(l)", "\(g)_beta_l\(l)"] }
        }
        #expect(lstm.parameterNames == expected)
        let gate = lstm.gate, cell = lstm.cell
        for (name, p) in zip(lstm.parameterNames, lstm.parameters) where name.contains("_alpha_") || name.contains("_beta_") {
            #expect(p.shape == [6], "\(name)")
            let f = name.hasPrefix("g_") || name.hasPrefix("c_") ? cell : gate
            let unit = name.contains("_alpha_") ? f.defaultAlpha() : f.defaultBeta()
            #expect(p.scalars == Array((0..<6).map { _ in unit }.joined()), "\(name) starts at the default")
        }
        #expect(lstm.spec == .lstm(inputSize: 4, hiddenSize: 6, numLayers: 2, gate: gate, cell: cell))
    }

    @Test func initialisationIsPyTorchUniformAndDeterministic() {
        let h = 7
        let a = Self.makeLSTM(inputSize: 3, hiddenSize: h, layers: 2, gate: "sigmoid", cell: "tanh", seed: 42)
        let b = Self.makeLSTM(inputSize: 3, hiddenSize: h, layers: 2, gate: "sigmoid", cell: "tanh", seed: 42)
        let c = Self.makeLSTM(inputSize: 3, hiddenSize: h, layers: 2, gate: "sigmoid", cell: "tanh", seed: 43)
        #expect(a.parameters == b.parameters)
        #expect(a.parameters != c.parameters)
        let bound = 1 / Float(h).squareRoot()
        let all = a.parameters.flatMap(\.scalars)
        #expect(all.allSatisfy { abs($0) <= bound })
        // Spread over the whole interval, not e.g. U(0, bound).
        #expect(all.min()! < -0.8 * bound && all.max()! > 0.8 * bound)
        // Drawn in parameter order from the generator: the first value is the first draw.
        var rng = SplitMix64(seed: 42)
        #expect(a.parameters[0].scalars[0] == rng.uniform(-bound, bound))
    }

    @Test func makeLayerBuildsLSTM() throws {
        var rng = SplitMix64(seed: 3)
        let spec = LayerSpec.lstm(inputSize: 4, hiddenSize: 16, numLayers: 1, gate: Self.member("p-sig-ramp"),
                                  cell: Self.member("tanh"))
        let layer = try spec.makeLayer(name: "layers.0", rng: &rng)
        let lstm = try #require(layer as? LSTM)
        #expect(lstm.spec == spec)
        // tanh has no α/β: only i, f, o carry them.
        #expect(lstm.parameterNames == ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0",
                                        "i_alpha_l0", "i_beta_l0", "f_alpha_l0", "f_beta_l0", "o_alpha_l0", "o_beta_l0"])
    }

    // MARK: Shapes

    @Test func outputShape() throws {
        let lstm = Self.makeLSTM(inputSize: 4, hiddenSize: 16, layers: 2, gate: "sigmoid", cell: "tanh")
        #expect(try lstm.outputShape(forInput: [30, 4]) == [16])
        #expect(try lstm.checkedOutputShape(Tensor(shape: [5, 30, 4])) == [5, 16])
        let y = try lstm.forward(Self.random([5, 30, 4], seed: 1))
        #expect(y.shape == [5, 16])
        #expect(try lstm.forward(Tensor(shape: [1, 1, 4], repeating: 0.5)).shape == [1, 16])
        #expect(try lstm.forward(Tensor(shape: [0, 3, 4])).shape == [0, 16])
    }

    @Test(arguments: [[2, 30, 3], [2, 30], [30, 4, 1, 1], [2, 0, 4], [4]])
    func shapeMismatch(_ shape: [Int]) throws {
        let lstm = Self.makeLSTM(inputSize: 4, hiddenSize: 16, layers: 1, gate: "sigmoid", cell: "tanh")
        let error = try #require(throws: ShapeMismatch.self) { try lstm.forward(Tensor(shape: shape)) }
        #expect(error.layer == "rnn (LSTM)")
        #expect(error.expected == "[N, T, 4]")
        #expect(error.found == shape)
        #expect(throws: ShapeMismatch.self) { try lstm.outputShape(forInput: Array(shape.dropFirst())) }
    }

    // MARK: Values

    @Test(arguments: [
        (3, 5, 1, "sigmoid", "tanh"), (4, 8, 2, "sigmoid", "tanh"), (2, 17, 2, "sigmoid", "tanh"),
        (3, 5, 1, "p-sig-ramp", "p-tanh-ramp"), (4, 16, 2, "p-sig-ramp", "p-tanh-ramp"),
        (9, 3, 3, "p-sig-ramp", "tanh"), (5, 4, 1, "sigmoid", "p-tanh-ramp"),
    ])
    func matchesDoubleReference(_ c: (Int, Int, Int, String, String)) throws {
        let lstm = Self.makeLSTM(inputSize: c.0, hiddenSize: c.1, layers: c.2, gate: c.3, cell: c.4, seed: 11)
        // Non-default α, β so a mix-up between gates or units shows.
        Self.randomizeFlexParameters(lstm, alpha: 0.1...0.9, beta: 0.2...1.5, seed: 5)
        let x = Self.random([3, 7, c.0], seed: 9, lo: -2, hi: 2)
        let y = try lstm.forward(x)
        let ref = Self.reference(lstm, x)
        #expect(y.shape == [3, c.1])
        let maxErr = zip(y.scalars, ref).map { abs(Double($0) - $1) }.max()!
        // float32 through 7 steps and up to 3 layers with |h| < 1: a few ulps of the O(1) pre-activations.
        #expect(maxErr < 2e-5, "max |float - double reference| = \(maxErr)")
    }

    @Test func samplesAreIndependent() throws {
        let lstm = Self.makeLSTM(inputSize: 3, hiddenSize: 8, layers: 2, gate: "p-sig-ramp", cell: "p-tanh-ramp")
        let x = Self.random([4, 6, 3], seed: 2)
        let y = try lstm.forward(x)
        for b in 0..<4 {
            let xb = Tensor(shape: [1, 6, 3], scalars: Array(x.scalars[(b * 18)..<((b + 1) * 18)]))
            let yb = try lstm.forward(xb)
            for j in 0..<8 { #expect(abs(yb.scalars[j] - y[b, j]) < 1e-6) }
        }
    }

    @Test(arguments: [1, 2])
    func alphaOneEqualsPlainLSTM(_ layers: Int) throws {
        let flex = Self.makeLSTM(inputSize: 4, hiddenSize: 16, layers: layers, gate: "p-sig-ramp", cell: "p-tanh-ramp", seed: 8)
        let plain = Self.makeLSTM(inputSize: 4, hiddenSize: 16, layers: layers, gate: "sigmoid", cell: "tanh", seed: 99)
        // Same weights; α = 1 everywhere (pure sigmoid/tanh components); β arbitrary.
        for name in plain.parameterNames {
            try plain.setParameter(name, flex.parameters[flex.parameterNames.firstIndex(of: name)!])
        }
        Self.randomizeFlexParameters(flex, alpha: 1...1, beta: 0.3...2, seed: 4)
        let x = Self.random([5, 12, 4], seed: 6, lo: -3, hi: 3)
        let a = try flex.forward(x), b = try plain.forward(x)
        let maxErr = zip(a.scalars, b.scalars).map { abs($0 - $1) }.max()!
        #expect(maxErr <= 1e-6, "max |p-sig-ramp/p-tanh-ramp(α=1) - sigmoid/tanh| = \(maxErr)")
        // And with α ≠ 1 the outputs differ (the flexible parameters are used at all).
        Self.randomizeFlexParameters(flex, alpha: 0.2...0.5, beta: 0.3...2, seed: 4)
        let c = try flex.forward(x)
        #expect(zip(c.scalars, b.scalars).map { abs($0 - $1) }.max()! > 1e-3)
    }

    @Test func recordingMatchesForwardAndTraceLayout() throws {
        let lstm = Self.makeLSTM(inputSize: 3, hiddenSize: 5, layers: 2, gate: "p-sig-ramp", cell: "p-tanh-ramp")
        let x = Self.random([2, 4, 3], seed: 12)
        let (y, trace) = try lstm.forwardRecording(x)
        #expect(y == (try lstm.forward(x)))
        #expect(trace.layers.count == 2 && trace.layers.allSatisfy { $0.count == trace.layerCount })
        // The top layer's last hidden slot is the output.
        let top = trace.layers[1], s = trace.blockSize
        #expect(Array(top[(trace.hiddenOffset + 4 * s)..<(trace.hiddenOffset + 5 * s)]) == y.scalars)
        // Initial states are zero.
        #expect(top[trace.cellOffset..<(trace.cellOffset + s)].allSatisfy { $0 == 0 })
        // Round trip through tensors.
        let back = LSTMTrace(tensors: trace.tensors, hiddenSize: 5)
        #expect(back.layers == trace.layers && back.input == trace.input && back.steps == 4 && back.batch == 2)
    }
}
