import FlexRuntime
import FlexTraining
import Testing

/// Finite-difference checks of the LSTM's backward pass (BPTT through time and layers).
///
/// L = Σ w ⊙ LSTM(x; θ) with a fixed random w (so ∂L/∂y = w), L summed in Double from the float32
/// forward. Central differences with step ε = 1e-2: the truncation error is ε²/6·|L'''| ≈ 2e-5·|L'''|,
/// and float32 rounding of the outputs (≈ 1e-7 each, summed over ≤ 51 outputs) gives ≈ 1e-7 in L, i.e.
/// a few 1e-6 in the quotient; measured errors are ≤ 5e-6 absolute, ≤ 1e-4 relative. Hence an elementwise
/// tolerance of 3e-5 + 1e-3·|g| and, per tensor of ≤ 30 sampled entries, ‖g − g_fd‖ ≤ 1e-4 + 1e-2·‖g_fd‖
/// (a missing or mis-scaled term moves either by far more: scaling the cell-state carry by 0.9 fails
/// hundreds of entries). For the ramp members every α lies in
/// [0.3, 0.8] and every β in [0.1, 0.2], so the ramp ends are at |z| ≥ 2.5 (sig-ramp) and ≥ 5 (tanh-ramp);
/// the test asserts all recorded pre-activations stay ≥ 0.1 (> 10 ε·|x|) away from them.
@Suite struct LSTMGradientTests {
    struct Case: CustomTestStringConvertible, Sendable {
        var inputSize: Int, hiddenSize: Int, layers: Int, gate: String, cell: String
        var testDescription: String { "LSTM(\(inputSize)→\(hiddenSize), layers=\(layers), \(gate)/\(cell))" }
    }

    static let cases: [Case] = [
        Case(inputSize: 3, hiddenSize: 5, layers: 1, gate: "sigmoid", cell: "tanh"),
        Case(inputSize: 4, hiddenSize: 8, layers: 2, gate: "sigmoid", cell: "tanh"),
        Case(inputSize: 9, hiddenSize: 4, layers: 1, gate: "p-sig-ramp", cell: "p-tanh-ramp"),
        Case(inputSize: 3, hiddenSize: 17, layers: 2, gate: "p-sig-ramp", cell: "p-tanh-ramp"),
        Case(inputSize: 2, hiddenSize: 6, layers: 2, gate: "p-sig-ramp", cell: "tanh"),
    ]

    static func makeLSTM(_ c: Case, seed: UInt64) throws -> LSTM {
        var rng = SplitMix64(seed: seed)
        let lstm = LSTM(name: "rnn", inputSize: c.inputSize, hiddenSize: c.hiddenSize, numLayers: c.layers,
                        gate: try ActivationFunction.member(c.gate), cell: try ActivationFunction.member(c.cell), rng: &rng)
        for (i, name) in lstm.parameterNames.enumerated() where name.contains("_alpha_") || name.contains("_beta_") {
            let (lo, hi): (Float, Float) = name.contains("_alpha_") ? (0.3, 0.8) : (0.1, 0.2)
            for j in 0..<lstm.parameters[i].count { lstm.parameters[i].scalars[j] = rng.uniform(lo, hi) }
        }
        return lstm
    }

    static func random(_ shape: [Int], seed: UInt64, scale: Float) -> Tensor {
        var rng = SplitMix64(seed: seed)
        return Tensor(shape: shape, scalars: (0..<shape.reduce(1, *)).map { _ in rng.uniform(-scale, scale) })
    }

    /// The smallest distance of any recorded pre-activation (gates and cell) to a ramp end.
    static func kinkMargin(_ lstm: LSTM, _ x: Tensor) throws -> Float {
        let (_, trace) = try lstm.forwardRecording(x)
        var margin = Float.infinity
        let fns = lstm.functions
        for (l, buf) in trace.layers.enumerated() {
            for k in 0..<5 {
                let fn = fns[k]
                guard fn.name == "p-sig-ramp" || fn.name == "p-tanh-ramp" else { continue }
                let prefix = ["i", "f", "g", "o", "c"][k]
                let beta = lstm.parameters[lstm.parameterNames.firstIndex(of: "\(prefix)_beta_l\(l)")!].scalars
                let start = k < 4 ? trace.preactivationOffset(gate: k) : trace.cellOffset + trace.blockSize
                for e in 0..<(trace.steps * trace.blockSize) {
                    let z = buf[start + e], b = beta[e % lstm.hiddenSize]
                    let ends: [Float] = fn.name == "p-sig-ramp" ? [-0.5 / b, 0.5 / b] : [-1 / b, 1 / b]
                    for end in ends { margin = min(margin, abs(z - end)) }
                }
            }
        }
        return margin
    }

    @Test(arguments: cases)
    func finiteDifferences(_ c: Case) throws {
        let lstm = try Self.makeLSTM(c, seed: 17)
        let n = 3, t = 6
        let x = Self.random([n, t, c.inputSize], seed: 23, scale: 0.8)
        #expect(try Self.kinkMargin(lstm, x) > 0.1)

        var rng = SplitMix64(seed: 5)
        var cache = LayerCache()
        let y = try lstm.forward(x, cache: &cache)
        #expect(y.shape == [n, c.hiddenSize])
        let w = Tensor(shape: y.shape, scalars: (0..<y.count).map { _ in rng.uniform(-1, 1) })
        var grads = lstm.zeroGradients()
        let dx = try #require(lstm.backward(w, cache: cache, gradients: &grads, needsInputGradient: true))
        #expect(dx.shape == x.shape)

        let eps: Float = 1e-2
        func loss(_ input: Tensor) throws -> Double {
            let out = try lstm.forward(input)
            return zip(out.scalars, w.scalars).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
        }
        func indices(_ count: Int) -> [Int] {
            count <= 30 ? Array(0..<count) : (0..<30).map { _ in Int(rng.next() % UInt64(count)) }
        }
        func check(_ what: String, _ analytic: [Float], _ numeric: [Double]) {
            var diff = 0.0, norm = 0.0
            for (a, num) in zip(analytic, numeric) {
                let err = abs(Double(a) - num)
                #expect(err <= 3e-5 + 1e-3 * abs(num), "\(c.testDescription) ∂L/∂\(what): analytic \(a), numeric \(num)")
                diff += err * err
                norm += num * num
            }
            #expect(diff.squareRoot() <= 1e-4 + 1e-2 * norm.squareRoot(),
                    "\(c.testDescription) ∂L/∂\(what): ‖error‖ \(diff.squareRoot()), ‖numeric‖ \(norm.squareRoot())")
        }

        // Input.
        var ia: [Float] = [], inum: [Double] = []
        for i in indices(x.count) {
            var xp = x, xm = x
            xp.scalars[i] += eps
            xm.scalars[i] -= eps
            ia.append(dx.scalars[i])
            inum.append((try loss(xp) - loss(xm)) / Double(2 * eps))
        }
        check("input", ia, inum)

        // Every parameter tensor: weights, biases and each nonlinearity's α/β.
        let original = lstm.parameters
        var checked = Set<String>()
        for (p, name) in lstm.parameterNames.enumerated() {
            #expect(grads[p].shape == original[p].shape)
            var a: [Float] = [], num: [Double] = []
            for i in indices(original[p].count) {
                lstm.parameters[p].scalars[i] = original[p].scalars[i] + eps
                let lp = try loss(x)
                lstm.parameters[p].scalars[i] = original[p].scalars[i] - eps
                let lm = try loss(x)
                lstm.parameters[p] = original[p]
                a.append(grads[p].scalars[i])
                num.append((lp - lm) / Double(2 * eps))
            }
            check(name, a, num)
            // Gradients are not trivially zero.
            #expect(grads[p].scalars.contains { $0 != 0 }, "\(name) has an all-zero gradient")
            checked.insert(name)
        }
        let expectedFlex = (c.gate == "p-sig-ramp" ? 3 * 2 : 0) + (c.cell == "p-tanh-ramp" ? 2 * 2 : 0)
        #expect(checked.count == c.layers * (4 + expectedFlex))
    }

    @Test func gradientsAccumulateAndInputGradientIsOptional() throws {
        let lstm = try Self.makeLSTM(Self.cases[3], seed: 3)
        let x = Self.random([2, 5, 3], seed: 1, scale: 1)
        var cache = LayerCache()
        let y = try lstm.forward(x, cache: &cache)
        #expect(y == (try lstm.forward(x)))
        let w = Self.random(y.shape, seed: 2, scale: 1)
        var once = lstm.zeroGradients()
        let dx = lstm.backward(w, cache: cache, gradients: &once, needsInputGradient: true)
        var twice = lstm.zeroGradients()
        let none = lstm.backward(w, cache: cache, gradients: &twice, needsInputGradient: false)
        _ = lstm.backward(w, cache: cache, gradients: &twice, needsInputGradient: false)
        #expect(dx != nil && none == nil)
        for (a, b) in zip(once, twice) {
            for (u, v) in zip(a.scalars, b.scalars) { #expect(abs(2 * u - v) <= 1e-6 * max(1, abs(v))) }
        }
    }

    @Test func onlyLastStepGradientReachesEarlierStepsThroughRecurrence() throws {
        // With W_hh = 0 and a single layer, ∂L/∂x_t for t < T-1 flows only through the cell state.
        // With additionally the forget gate forced shut (f ≈ 0), earlier inputs get (almost) no gradient.
        let c = Case(inputSize: 2, hiddenSize: 3, layers: 1, gate: "sigmoid", cell: "tanh")
        let lstm = try Self.makeLSTM(c, seed: 9)
        let h = 3
        try lstm.setParameter("weight_hh_l0", Tensor(shape: [4 * h, h]))
        var bias = lstm.parameters[2]
        for u in h..<(2 * h) { bias.scalars[u] = -40 }   // forget-gate rows
        try lstm.setParameter("bias_ih_l0", bias)
        let x = Self.random([1, 4, 2], seed: 3, scale: 1)
        var cache = LayerCache()
        let y = try lstm.forward(x, cache: &cache)
        var grads = lstm.zeroGradients()
        let dx = try #require(lstm.backward(Tensor(shape: y.shape, repeating: 1), cache: cache, gradients: &grads,
                                            needsInputGradient: true))
        #expect(dx.scalars[0..<6].allSatisfy { abs($0) < 1e-12 })
        #expect(dx.scalars[6..<8].contains { abs($0) > 1e-3 })
    }

    @Test func projectionRestoresFeasibleAlphaBeta() throws {
        let lstm = try Self.makeLSTM(Self.cases[3], seed: 4)
        for (i, name) in lstm.parameterNames.enumerated() {
            for j in 0..<lstm.parameters[i].count {
                lstm.parameters[i].scalars[j] = name.contains("_alpha_") ? (j % 2 == 0 ? 1.7 : -0.4)
                    : name.contains("_beta_") ? -2 : 5
            }
        }
        lstm.projectParameters()
        for (i, name) in lstm.parameterNames.enumerated() {
            let v = lstm.parameters[i].scalars
            if name.contains("_alpha_") {
                #expect(v.enumerated().allSatisfy { $0.element == ($0.offset % 2 == 0 ? 1 : 0) }, "\(name)")
            } else if name.contains("_beta_") {
                let f = name.hasPrefix("g_") || name.hasPrefix("c_") ? lstm.cell : lstm.gate
                #expect(v.allSatisfy { $0 == Float(f.betaDomain.lower) && $0 > 0 }, "\(name)")
            } else {
                #expect(v.allSatisfy { $0 == 5 }, "\(name): weights are not projected")
            }
        }
    }
}
