import Foundation
import PropertyBased
import Testing

@testable import FlexRuntime

// MARK: Helpers

/// Runs `body` on `count` inputs drawn from a PropertyBased generator with a fixed Xoshiro seed, so every run
/// sees the same inputs (a deterministic stand-in for `propertyCheck`, whose seed is random per run).
func activationPropertyCheck<T>(count: Int = 200, seed: UInt64, input: Generator<T, some Sequence>,
                                _ body: (T) throws -> Void) rethrows {
    var rng = Xoshiro(seed: (seed, 0x9E37_79B9_7F4A_7C15, 0xD1B5_4A32_D192_ED03, 0x8CB9_2BA7_2F3D_8DD7))
    for _ in 0..<count { try body(input.run(using: &rng)) }
}

/// A feasible α for one unit of `f` built from uniforms u in [0, 1).
func feasibleAlpha(_ f: ActivationFunction, _ u: [Double]) -> [Double] {
    switch f.alphaWidth {
    case 0: return []
    case 1: return [u[0]]
    default:
        let e = (0..<f.alphaWidth).map { -log(1 - u[$0 % u.count] * 0.999) }  // Dirichlet(1) via exponentials
        let s = e.reduce(0, +)
        return e.map { $0 / s }
    }
}

/// A β in the member's domain from a uniform in [0, 1): [0.05, 3] for scales/slopes, [-1, 1] for PReLU.
func feasibleBeta(_ f: ActivationFunction, _ u: Double) -> [Double] {
    guard f.betaWidth == 1 else { return [] }
    return f.betaDomain.lower > 0 ? [0.05 + 2.95 * u] : [-1 + 2 * u]
}

let allMembers: [ActivationFunction] = ActivationFunction.memberNames.map { try! ActivationFunction.member($0) }

/// Distance from the nearest kink of the member at z (z = 0, ramp ends βz + 1/2 ∈ {0, 1}, βz = ±1).
func distanceToKink(_ f: ActivationFunction, _ z: Double, beta: [Double]) -> Double {
    var d = abs(z)
    for c in f.components {
        let b = c.hasBeta ? beta[0] : c.kernel.fixedBeta
        switch c.kernel {
        case .sigmoidRamp: d = min(d, abs(b * z + 0.5), abs(b * z - 0.5))
        case .tanhRamp: d = min(d, abs(b * z + 1), abs(b * z - 1))
        default: break
        }
    }
    return d
}

// MARK: Members and scalar API

@Suite struct ActivationMemberTests {
    @Test func memberTable() throws {
        let expected: [String: (Int, Int)] = [
            "identity": (0, 0), "relu": (0, 0), "elu": (0, 0), "prelu": (0, 1), "sigmoid": (0, 0), "tanh": (0, 0),
            "p-sig-ramp": (1, 1), "p-tanh-ramp": (1, 1), "p-e-relu": (3, 0), "p-e2-relu": (1, 1), "p-e2-id": (1, 1),
        ]
        #expect(ActivationFunction.memberNames.count == expected.count)
        for name in ActivationFunction.memberNames {
            let f = try ActivationFunction.member(name)
            #expect(f.name == name)
            #expect(f.alphaWidth == expected[name]!.0, "\(name) alphaWidth")
            #expect(f.betaWidth == expected[name]!.1, "\(name) betaWidth")
            #expect(f.defaultAlpha().count == f.alphaWidth)
            #expect(f.defaultBeta().count == f.betaWidth)
            try f.validate(alpha: f.defaultAlpha().map(Double.init), beta: f.defaultBeta().map(Double.init))
        }
        #expect(try ActivationFunction.member("p-sig-ramp").defaultAlpha() == [1])
        #expect(try ActivationFunction.member("p-sig-ramp").defaultBeta() == [0.1])
        #expect(try ActivationFunction.member("prelu").defaultBeta() == [0.25])
        #expect(try ActivationFunction.member("P-E2-ReLU").name == "p-e2-relu")
    }

    @Test func unknownMemberListsValidNames() {
        #expect {
            _ = try ActivationFunction.member("swish")
        } throws: { error in
            let m = (error as? ConfigurationError)?.message ?? ""
            return m.contains("swish") && m.contains("p-e2-relu") && m.contains("p-sig-ramp")
        }
    }

    @Test func knownValues() throws {
        let sr = try ActivationFunction.member("p-sig-ramp")
        // α σ(z) + (1 − α) clip(βz + 1/2, 0, 1)
        let p = sr.evaluate(2.0, alpha: [0.3], beta: [0.1])
        #expect(abs(p.value - (0.3 / (1 + exp(-2.0)) + 0.7 * 0.7)) < 1e-15)
        let e2 = try ActivationFunction.member("p-e2-relu")
        // z = −1: α·0 + (1−α)(β(e^−1 − 1) − 1)
        let q = e2.evaluate(-1.0, alpha: [0.25], beta: [2])
        #expect(abs(q.value - 0.75 * (2 * (exp(-1.0) - 1) - 1)) < 1e-15)
        let pe = try ActivationFunction.member("p-e-relu")
        let r = pe.evaluate(-0.5, alpha: [0.2, 0.3, 0.5], beta: [])
        #expect(abs(r.value - (0.3 * (exp(-0.5) - 1) + 0.5 * -0.5)) < 1e-15)
        let pr = try ActivationFunction.member("prelu")
        #expect(pr.evaluate(-2.0, alpha: [], beta: [0.25]).value == -0.5)
    }

    /// PyTorch's subgradients at the kinks.
    @Test func kinkConventions() throws {
        let relu = try ActivationFunction.member("relu")
        #expect(relu.evaluate(0.0, alpha: [], beta: []).dz == 0)
        let elu = try ActivationFunction.member("elu")
        #expect(elu.evaluate(0.0, alpha: [], beta: []).dz == 1)   // β e^0 with β = 1
        let e2 = try ActivationFunction.member("p-e2-id")
        let p = e2.evaluate(0.0, alpha: [0.25], beta: [1.5])
        #expect(p.dz == 0.25 + 0.75 * 2.5)                          // smooth at 0: slope 1 + β
        let pr = try ActivationFunction.member("prelu")
        #expect(pr.evaluate(0.0, alpha: [], beta: [0.3]).dz == 0.3)
        let sr = try ActivationFunction.member("p-sig-ramp")
        // Ramp ends at βz + 1/2 ∈ {0, 1}: derivative 0 at and beyond the ends (hardtanh convention).
        for z in [-5.0, 5.0, -10.0, 10.0] {
            let q = sr.evaluate(z, alpha: [0], beta: [0.1])
            #expect(q.dz == 0 && q.dBeta == [0], "z = \(z)")
        }
        #expect(sr.evaluate(4.0, alpha: [0], beta: [0.1]).dz == 0.1)
        let tr = try ActivationFunction.member("p-tanh-ramp")
        #expect(tr.evaluate(2.5, alpha: [0], beta: [0.4]).dz == 0)
        #expect(tr.evaluate(2.4, alpha: [0], beta: [0.4]).dz == 0.4)
    }

    /// Central differences in Double w.r.t. z, every stored α and β, for every member, away from kinks.
    @Test(arguments: ActivationFunction.memberNames)
    func finiteDifferences(_ name: String) throws {
        let f = try ActivationFunction.member(name)
        let h = 1e-6
        let gen = zip(Gen.double(in: -6...6), Gen.double(in: 0..<1).array(of: 3), Gen.double(in: 0..<1))
        var checked = 0
        activationPropertyCheck(count: 300, seed: 11, input: gen) { z, u, ub in
            let alpha = feasibleAlpha(f, u), beta = feasibleBeta(f, ub)
            guard distanceToKink(f, z, beta: beta) > 1e-3 else { return }
            checked += 1
            let p = f.evaluate(z, alpha: alpha, beta: beta)
            func close(_ a: Double, _ b: Double) -> Bool { abs(a - b) <= 1e-6 * (1 + abs(b)) }
            let dz = (f.evaluate(z + h, alpha: alpha, beta: beta).value - f.evaluate(z - h, alpha: alpha, beta: beta).value) / (2 * h)
            #expect(close(p.dz, dz), "\(name) ∂/∂z at z=\(z) α=\(alpha) β=\(beta): \(p.dz) vs \(dz)")
            for k in 0..<f.alphaWidth {
                var ap = alpha, am = alpha
                ap[k] += h; am[k] -= h
                let d = (f.evaluate(z, alpha: ap, beta: beta).value - f.evaluate(z, alpha: am, beta: beta).value) / (2 * h)
                #expect(close(p.dAlpha[k], d), "\(name) ∂/∂α[\(k)] at z=\(z): \(p.dAlpha[k]) vs \(d)")
            }
            if f.betaWidth == 1 {
                let d = (f.evaluate(z, alpha: alpha, beta: [beta[0] + h]).value - f.evaluate(z, alpha: alpha, beta: [beta[0] - h]).value) / (2 * h)
                #expect(close(p.dBeta[0], d), "\(name) ∂/∂β at z=\(z) β=\(beta): \(p.dBeta[0]) vs \(d)")
            }
        }
        #expect(checked > 250)
    }

    @Test func oneHotAlphaReducesToComponent() throws {
        for f in allMembers where f.alphaWidth > 0 {
            activationPropertyCheck(count: 100, seed: 12, input: zip(Gen.double(in: -8...8), Gen.double(in: 0..<1))) { z, ub in
                let beta = feasibleBeta(f, ub)
                for (k, c) in f.components.enumerated() {
                    let alpha: [Double] = f.alphaWidth == 1 ? [k == 0 ? 1 : 0] : (0..<f.alphaWidth).map { $0 == k ? 1 : 0 }
                    let single = try! ActivationFunction.combination(name: "single", baseline: c, components: [c])
                    let expected = single.evaluate(z, alpha: [], beta: c.hasBeta ? beta : [])
                    let got = f.evaluate(z, alpha: alpha, beta: beta)
                    #expect(got.value == expected.value, "\(f.name) one-hot \(k) at z=\(z)")
                    #expect(got.dz == expected.dz, "\(f.name) one-hot \(k) ∂z at z=\(z)")
                }
            }
        }
    }

    @Test func pE2IdIsOdd() throws {
        let f = try ActivationFunction.member("p-e2-id")
        activationPropertyCheck(count: 300, seed: 13, input: zip(Gen.double(in: -20...20), Gen.double(in: 0...1), Gen.double(in: 0..<1))) { z, a, ub in
            let beta = feasibleBeta(f, ub)
            let plus = f.evaluate(z, alpha: [a], beta: beta).value, minus = f.evaluate(-z, alpha: [a], beta: beta).value
            #expect(plus == -minus, "o(−z) = −o(z) at z=\(z) α=\(a) β=\(beta)")
        }
    }

    @Test func boundedMembersStayInRange() throws {
        let sr = try ActivationFunction.member("p-sig-ramp"), tr = try ActivationFunction.member("p-tanh-ramp")
        let gen = zip(Gen.double(in: -1e4...1e4), Gen.double(in: 0...1), Gen.double(in: 1e-3...50))
        activationPropertyCheck(count: 500, seed: 14, input: gen) { z, a, b in
            let s = sr.evaluate(z, alpha: [a], beta: [b]).value
            #expect(s >= 0 && s <= 1, "p-sig-ramp(\(z); α=\(a), β=\(b)) = \(s)")
            let t = tr.evaluate(z, alpha: [a], beta: [b]).value
            #expect(t >= -1 && t <= 1, "p-tanh-ramp(\(z); α=\(a), β=\(b)) = \(t)")
            let sf = sr.evaluate(Float(z), alpha: [Float(a)], beta: [Float(b)]).value
            #expect(sf >= 0 && sf <= 1)
        }
        // And the batched Float kernel.
        let xs: [Float] = (0..<4096).map { Float($0 - 2048) * 0.37 }
        var ys = [Float](repeating: 0, count: xs.count)
        let alpha: [Float] = [0.3], beta: [Float] = [5]
        sr.forward(xs, &ys, batch: 1, units: 1, spatial: xs.count, alpha: alpha, beta: beta)
        #expect(ys.allSatisfy { $0 >= 0 && $0 <= 1 })
        tr.forward(xs, &ys, batch: 1, units: 1, spatial: xs.count, alpha: alpha, beta: beta)
        #expect(ys.allSatisfy { $0 >= -1 && $0 <= 1 })
    }
}

// MARK: Principles, validation, coding

@Suite struct ActivationPrincipleTests {
    func message(_ body: () throws -> Void) -> String? {
        do { try body() } catch { return (error as? ConfigurationError)?.message ?? "not a ConfigurationError: \(error)" }
        return nil
    }

    @Test func rangeViolationRefused() {
        let m = message { _ = try ActivationFunction.combination(name: "bad", baseline: .sigmoid, components: [.sigmoid, .tanh]) }
        #expect(m != nil)
        #expect(m?.contains("component 'tanh'") == true, "\(m ?? "")")
        #expect(m?.contains("range [-1, 1]") == true, "\(m ?? "")")
        #expect(m?.contains("baseline 'sigmoid'") == true && m?.contains("[0, 1]") == true, "\(m ?? "")")
        #expect(m?.contains("Principle 2") == true)
        // Unbounded components are refused under a bounded baseline too.
        let m2 = message { _ = try ActivationFunction.combination(name: "bad", baseline: .tanh, components: [.tanh, .relu]) }
        #expect(m2?.contains("component 'relu'") == true && m2?.contains("[0, ∞)") == true, "\(m2 ?? "")")
    }

    @Test func boundedComponentUnderUnboundedBaselineRefused() {
        for bounded in [Component.sigmoid, .tanh] {
            let m = message { _ = try ActivationFunction.combination(name: "bad", baseline: .relu, components: [.relu, bounded]) }
            #expect(m?.contains("component '\(bounded.name)' has the bounded range") == true, "\(m ?? "")")
            #expect(m?.contains("baseline 'relu' has the unbounded range [0, ∞)") == true && m?.contains("Principle 2") == true,
                    "\(m ?? "")")
        }
        // The paper's own members pass: −ELU(−z) is bounded above but unbounded below.
        #expect(throws: Never.self) { try ActivationFunction.member("p-e-relu") }
    }

    @Test func domainViolationRefused() {
        let positive = Component(name: "log", domain: Interval(0, .infinity), range: .real, hasBeta: false, kernel: .identity)
        let m = message { _ = try ActivationFunction.combination(name: "bad", baseline: .relu, components: [.relu, positive]) }
        #expect(m?.contains("component 'log'") == true && m?.contains("domain [0, ∞)") == true, "\(m ?? "")")
        #expect(m?.contains("Principle 1") == true && m?.contains("(-∞, ∞)") == true, "\(m ?? "")")
    }

    @Test func misdeclaredRangeRefused() {
        let liar = Component(name: "narrow-tanh", domain: .real, range: Interval(0, 1), hasBeta: false, kernel: .tanh)
        let m = message { _ = try ActivationFunction.combination(name: "bad", baseline: .sigmoid, components: [.sigmoid, liar]) }
        #expect(m?.contains("narrow-tanh") == true && m?.contains("[-1, 1]") == true, "\(m ?? "")")
    }

    @Test func admissibleCombinations() throws {
        // The ReLU family uses an unbounded baseline: any unbounded component qualifies.
        let f = try ActivationFunction.combination(name: "relu-id-elu", baseline: .relu, components: [.relu, .identity, .elu])
        #expect(f.alphaWidth == 3 && f.betaWidth == 0)
        #expect(f.defaultAlpha() == [1, 0, 0])
        let g = try ActivationFunction.combination(name: "sig2", baseline: .sigmoid, components: [.sigmoid, .sigmoidRamp])
        #expect(g.alphaWidth == 1 && g.betaWidth == 1)
        let single = try ActivationFunction.combination(name: "just-tanh", baseline: .tanh, components: [.tanh])
        #expect(single.alphaWidth == 0)
    }

    @Test func validateMessages() throws {
        let e2 = try ActivationFunction.member("p-e2-relu")
        #expect(message { try e2.validate(alpha: [1.2], beta: [1]) }?.contains("[0, 1]") == true)
        #expect(message { try e2.validate(alpha: [0.5], beta: [0]) }?.contains("β must lie in [0.001, ∞)") == true)
        #expect(message { try e2.validate(alpha: [0.5, 0.5], beta: [1]) }?.contains("expected 1 α value per unit, found 2") == true)
        #expect(message { try e2.validate(alpha: [.nan], beta: [1]) }?.contains("finite") == true)
        let pe = try ActivationFunction.member("p-e-relu")
        try pe.validate(alpha: [0.2, 0.3, 0.50005], beta: [])                   // within the 1e-4 tolerance
        #expect(message { try pe.validate(alpha: [0.2, 0.3, 0.6], beta: []) }?.contains("Σα = 1.1") == true)
        #expect(message { try pe.validate(alpha: [1.1, -0.1, 0], beta: []) }?.contains("α[1] (elu) = -0.1 is negative") == true)
        #expect(message { try pe.validate(alpha: [Float](repeating: 1 / 3, count: 6) + [1, 1, 1], beta: [], units: 3) }?
            .hasPrefix("unit 2:") == true)
        let pr = try ActivationFunction.member("prelu")
        try pr.validate(alpha: [], beta: [-0.5])  // PReLU's slope is unconstrained
    }

    @Test func codableRoundTrip() throws {
        let custom = try ActivationFunction.combination(name: "relu-id-elu", baseline: .relu, components: [.relu, .identity, .elu],
                                                        initialAlpha: [0.5, 0.25, 0.25])
        for f in allMembers + [custom] {
            let data = try JSONEncoder().encode(f)
            let back = try JSONDecoder().decode(ActivationFunction.self, from: data)
            #expect(back == f, "\(f.name): \(String(decoding: data, as: UTF8.self))")
        }
        let bare = try JSONDecoder().decode(ActivationFunction.self, from: Data("\"p-e2-relu\"".utf8))
        #expect(bare == (try ActivationFunction.member("p-e2-relu")))
        let spec = LayerSpec.activation(try ActivationFunction.member("p-sig-ramp"), units: 16)
        #expect(try JSONDecoder().decode(LayerSpec.self, from: JSONEncoder().encode(spec)) == spec)
        // A stored combination that violates a principle is refused when read back.
        let json = String(decoding: try JSONEncoder().encode(try ActivationFunction.member("p-sig-ramp")), as: UTF8.self)
            .replacingOccurrences(of: "\"sig-ramp\"", with: "\"tanh-ramp\"")
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(ActivationFunction.self, from: Data(json.utf8)) }
    }
}

// MARK: Vector math and batched forward

@Suite struct ActivationKernelTests {
    @Test func vectorExpAccuracy() {
        var maxRel = 0.0, maxAbsM1 = 0.0, maxRelM1 = 0.0
        var xs: [Float] = []
        let n = 400_000
        for i in 0..<n { xs.append(-87 + 175 * Float(i) / Float(n - 1)) }
        for i in 0..<20_000 { xs.append(Float(i - 10_000) * 1e-4) }  // around 0 for expm1
        var i = 0
        while i + 8 <= xs.count {
            let v = SIMD8<Float>((0..<8).map { xs[i + $0] })
            let e = VectorMath.exp(v), m = VectorMath.expm1(v)
            for l in 0..<8 {
                let x = Double(v[l])
                let ref = Foundation.exp(x)
                maxRel = max(maxRel, abs(Double(e[l]) - ref) / ref)
                let refm1 = Foundation.expm1(x)
                if x <= 1 { maxAbsM1 = max(maxAbsM1, abs(Double(m[l]) - refm1)) }
                if abs(x) >= 1e-3 { maxRelM1 = max(maxRelM1, abs(Double(m[l]) - refm1) / abs(refm1)) }
            }
            i += 8
        }
        print("vector exp: max relative error \(maxRel); expm1: max abs error (x ≤ 1) \(maxAbsM1), max rel error (|x| ≥ 1e-3) \(maxRelM1)")
        #expect(maxRel < 1.5e-7, "exp max relative error \(maxRel)")
        #expect(maxAbsM1 < 1.5e-7, "expm1 max absolute error on [-87, 1]: \(maxAbsM1)")
        #expect(maxRelM1 < 1.5e-7, "expm1 max relative error \(maxRelM1)")
    }

    @Test func vectorSigmoidTanh() {
        var maxS = 0.0, maxT = 0.0
        for i in 0..<10_000 {
            let v = SIMD8<Float>((0..<8).map { Float(i * 8 + $0 - 40_000) * 5e-4 })
            let s = VectorMath.sigmoid(v), t = VectorMath.tanh(v)
            for l in 0..<8 {
                let x = Double(v[l])
                maxS = max(maxS, abs(Double(s[l]) - 1 / (1 + Foundation.exp(-x))))
                maxT = max(maxT, abs(Double(t[l]) - Foundation.tanh(x)))
            }
        }
        print("vector sigmoid max abs error \(maxS), tanh \(maxT)")
        #expect(maxS < 1.5e-7, "sigmoid max abs error \(maxS)")
        #expect(maxT < 2.5e-7, "tanh max abs error \(maxT)")
    }

    /// The batched Float forward against the scalar Double reference, per unit parameters, across block
    /// boundaries (spatial 1500 > 1024) and tails (spatial not a multiple of 8). Tolerance: the Float path
    /// rounds each term to a few ulp (≤ 2.5e-7 relative for exp, 6e-8 per multiply-add) and the weights sum to
    /// 1, so |y − o| ≤ ~5e-7·(1 + |z|); we allow 2e-6·(1 + |z|).
    @Test(arguments: ActivationFunction.memberNames)
    func batchedForwardMatchesScalar(_ name: String) throws {
        let f = try ActivationFunction.member(name)
        var rng = SplitMix64(seed: 21)
        for (batch, units, spatial) in [(3, 5, 1), (2, 3, 7), (2, 4, 9), (1, 2, 1500), (4, 17, 3)] {
            let count = batch * units * spatial
            var x = (0..<count).map { _ in rng.uniform(-6, 6) }
            x[0] = 0
            let us = (0..<units).map { _ in (0..<3).map { _ in Double(rng.uniform(0, 1)) } }
            let alpha = us.flatMap { feasibleAlpha(f, $0) }.map(Float.init)
            let beta = (0..<units).flatMap { _ in feasibleBeta(f, Double(rng.uniform(0, 1))) }.map(Float.init)
            var y = [Float](repeating: .nan, count: count)
            f.forward(x, &y, batch: batch, units: units, spatial: spatial, alpha: alpha, beta: beta)
            var worst = 0.0
            for n in 0..<batch {
                for u in 0..<units {
                    let a = alpha[(u * f.alphaWidth)..<((u + 1) * f.alphaWidth)].map(Double.init)
                    let b = beta[(u * f.betaWidth)..<((u + 1) * f.betaWidth)].map(Double.init)
                    for s in 0..<spatial {
                        let i = (n * units + u) * spatial + s
                        let ref = f.evaluate(Double(x[i]), alpha: a, beta: b).value
                        worst = max(worst, abs(Double(y[i]) - ref) / (1 + abs(Double(x[i]))))
                    }
                }
            }
            #expect(worst < 2e-6, "\(name) [\(batch), \(units), \(spatial)]: worst scaled error \(worst)")
            // In place gives the same result.
            var z = x
            z.withUnsafeMutableBufferPointer { p in
                f.forward(p.baseAddress!, p.baseAddress!, batch: batch, units: units, spatial: spatial, alpha: alpha, beta: beta)
            }
            #expect(z == y, "\(name): in-place forward differs")
        }
    }
}

// MARK: The layer

@Suite struct ActivationLayerTests {
    @Test func parametersPerMember() throws {
        let e = Activation(name: "a", function: try .member("p-e-relu"), units: 4)
        #expect(e.parameterNames == ["alpha"])
        #expect(e.parameters.map(\.shape) == [[4, 3]])
        #expect(e.parameters[0].scalars == [Float]([1, 0, 0, 1, 0, 0, 1, 0, 0, 1, 0, 0]))
        let s = Activation(name: "a", function: try .member("p-sig-ramp"), units: 5)
        #expect(s.parameterNames == ["alpha", "beta"])
        #expect(s.parameters.map(\.shape) == [[5], [5]])
        #expect(s.parameters[1].scalars == [Float](repeating: 0.1, count: 5))
        let p = Activation(name: "a", function: try .member("prelu"), units: 2)
        #expect(p.parameterNames == ["beta"] && p.parameters[0].scalars == [0.25, 0.25])
        let r = Activation(name: "a", function: try .member("relu"), units: 2)
        #expect(r.parameterNames.isEmpty && r.parameters.isEmpty)
        #expect(s.spec == .activation(try .member("p-sig-ramp"), units: 5))
        var rng = SplitMix64(seed: 1)
        let built = try s.spec.makeLayer(name: "x", rng: &rng)
        #expect(built is Activation && built.parameterNames == ["alpha", "beta"])
    }

    /// [N, C, H, W] with a different α and β per channel: each channel follows its own parameters.
    @Test func perChannelBroadcasting() throws {
        let f = try ActivationFunction.member("p-e2-relu")
        let layer = Activation(name: "enc.1", function: f, units: 3)
        try layer.setParameter("alpha", Tensor(shape: [3], scalars: [1, 0.5, 0]))
        try layer.setParameter("beta", Tensor(shape: [3], scalars: [1, 2, 0.5]))
        var rng = SplitMix64(seed: 5)
        let x = Tensor(shape: [2, 3, 4, 5], scalars: (0..<120).map { _ in rng.uniform(-3, 3) })
        let y = try layer.forward(x)
        #expect(y.shape == x.shape)
        let alphas = [1.0, 0.5, 0], betas = [1.0, 2, 0.5]
        for n in 0..<2 { for c in 0..<3 { for h in 0..<4 { for w in 0..<5 {
            let ref = f.evaluate(Double(x[n, c, h, w]), alpha: [alphas[c]], beta: [betas[c]]).value
            #expect(abs(Double(y[n, c, h, w]) - ref) < 2e-6 * (1 + abs(ref)), "n=\(n) c=\(c) h=\(h) w=\(w)")
        } } } }
        // Channel 0 (α = 1) is exactly ReLU.
        #expect(y[1, 0, 2, 3] == max(x[1, 0, 2, 3], 0))
        // [N, F] inputs: per feature.
        let dense = Activation(name: "fc.act", function: f, units: 3)
        try dense.setParameter("alpha", Tensor(shape: [3], scalars: [1, 0.5, 0]))
        let y2 = try dense.forward(Tensor(shape: [2, 3], scalars: [-1, -1, -1, 2, 2, 2]))
        #expect(y2[0, 0] == 0 && y2[1, 0] == 2 && y2[0, 2] < -1)
    }

    @Test func shapeErrors() throws {
        let layer = Activation(name: "enc.3", function: try .member("p-e2-relu"), units: 16)
        #expect {
            _ = try layer.forward(Tensor(shape: [2, 8, 4, 4]))
        } throws: { error in
            guard let e = error as? ShapeMismatch else { return false }
            return e.layer == "enc.3 (Activation)" && e.expected == "[N, 16, ...]" && e.found == [2, 8, 4, 4]
                && e.description.contains("found [2, 8, 4, 4]")
        }
        #expect(throws: ShapeMismatch.self) { _ = try layer.forward(Tensor(shape: [16])) }
        #expect(throws: ShapeMismatch.self) { _ = try layer.outputShape(forInput: [15, 3]) }
        #expect(try layer.outputShape(forInput: [16, 3, 3]) == [16, 3, 3])
        #expect(try layer.forward(Tensor(shape: [0, 16, 2])).shape == [0, 16, 2])
    }
}
