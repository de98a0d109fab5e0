import Foundation
import PropertyBased
import Testing

import FlexRuntime
@testable import FlexTraining

/// Deterministic property runner: PropertyBased generators driven by a fixed Xoshiro seed.
private func check<T>(count: Int = 300, seed: UInt64, input: Generator<T, some Sequence>, _ body: (T) -> Void) {
    var rng = Xoshiro(seed: (seed, 0x9E37_79B9_7F4A_7C15, 0xD1B5_4A32_D192_ED03, 0x8CB9_2BA7_2F3D_8DD7))
    for _ in 0..<count { body(input.run(using: &rng)) }
}

private func feasibleParameters(_ f: ActivationFunction, units: Int, rng: inout SplitMix64) -> (alpha: [Float], beta: [Float]) {
    var alpha: [Float] = [], beta: [Float] = []
    for _ in 0..<units {
        switch f.alphaWidth {
        case 0: break
        case 1: alpha.append(rng.uniform(0, 1))
        default:
            let e = (0..<f.alphaWidth).map { _ in -log(1 - rng.uniform(0, 0.999)) }
            let s = e.reduce(0, +)
            alpha += e.map { $0 / s }
        }
        if f.betaWidth == 1 { beta.append(f.betaDomain.lower > 0 ? rng.uniform(0.05, 3) : rng.uniform(-1, 1)) }
    }
    return (alpha, beta)
}

@Suite struct ActivationBackwardTests {
    /// Batched Float backward vs the scalar Double API (sums in Double). Inputs include exact zeros, so the
    /// kink conventions must agree too. Tolerances: dx per element 2e-6·(1 + |z|) (few-ulp Float rounding of
    /// O(1) terms, as for the forward); dα, dβ relative to Σ|dy·term| at 1e-5 (Float accumulation of up to
    /// a few thousand terms, each with ~3e-7 relative error, plus summation rounding).
    @Test(arguments: ActivationFunction.memberNames)
    func backwardMatchesScalar(_ name: String) throws {
        let f = try ActivationFunction.member(name)
        var rng = SplitMix64(seed: 31)
        for (batch, units, spatial) in [(3, 5, 1), (2, 3, 7), (2, 2, 1500), (5, 4, 9)] {
            let count = batch * units * spatial
            var x = (0..<count).map { _ in rng.uniform(-6, 6) }
            for i in Swift.stride(from: 0, to: count, by: 5) { x[i] = 0 }
            let dy = (0..<count).map { _ in rng.uniform(-1, 1) }
            let (alpha, beta) = feasibleParameters(f, units: units, rng: &rng)
            var dx = [Float](repeating: .nan, count: count)
            var dA = [Float](repeating: 0, count: units * f.alphaWidth)
            var dB = [Float](repeating: 0, count: units * f.betaWidth)
            f.backward(x: x, dy: dy, dx: &dx, dAlpha: &dA, dBeta: &dB, batch: batch, units: units, spatial: spatial,
                       alpha: alpha, beta: beta)
            var refA = [Double](repeating: 0, count: dA.count), magA = refA
            var refB = [Double](repeating: 0, count: dB.count), magB = refB
            var worstDx = 0.0
            for n in 0..<batch {
                for u in 0..<units {
                    let a = alpha[(u * f.alphaWidth)..<((u + 1) * f.alphaWidth)].map(Double.init)
                    let b = beta[(u * f.betaWidth)..<((u + 1) * f.betaWidth)].map(Double.init)
                    for s in 0..<spatial {
                        let i = (n * units + u) * spatial + s
                        let p = f.evaluate(Double(x[i]), alpha: a, beta: b)
                        let g = Double(dy[i])
                        worstDx = max(worstDx, abs(Double(dx[i]) - g * p.dz) / (1 + abs(Double(x[i]))))
                        for k in 0..<f.alphaWidth { refA[u * f.alphaWidth + k] += g * p.dAlpha[k]; magA[u * f.alphaWidth + k] += abs(g * p.dAlpha[k]) }
                        if f.betaWidth == 1 { refB[u] += g * p.dBeta[0]; magB[u] += abs(g * p.dBeta[0]) }
                    }
                }
            }
            let shape = "[\(batch), \(units), \(spatial)]"
            #expect(worstDx < 2e-6, "\(name) \(shape): dx worst scaled error \(worstDx)")
            for i in dA.indices {
                #expect(abs(Double(dA[i]) - refA[i]) <= 1e-5 * (1 + magA[i]), "\(name) \(shape) dAlpha[\(i)]: \(dA[i]) vs \(refA[i])")
            }
            for i in dB.indices {
                #expect(abs(Double(dB[i]) - refB[i]) <= 1e-5 * (1 + magB[i]), "\(name) \(shape) dBeta[\(i)]: \(dB[i]) vs \(refB[i])")
            }
            // Without dx the parameter gradients are the same, and they accumulate (+=).
            var dA2 = dA, dB2 = dB
            f.backward(x: x, dy: dy, dx: nil, dAlpha: &dA2, dBeta: &dB2, batch: batch, units: units, spatial: spatial,
                       alpha: alpha, beta: beta)
            for i in dA.indices { #expect(abs(dA2[i] - 2 * dA[i]) <= 1e-6 * (1 + abs(dA[i]))) }
            for i in dB.indices { #expect(abs(dB2[i] - 2 * dB[i]) <= 1e-6 * (1 + abs(dB[i]))) }
        }
    }

    @Test func simplexProjectionProperties() {
        let gen = Gen.double(in: -3...3).array(of: 3...6)
        check(seed: 41, input: zip(gen, Gen.double(in: 0..<1).array(of: 6).array(of: 20))) { v, candidates in
            var p = v
            ActivationFunction.projectOntoSimplex(&p)
            #expect(p.allSatisfy { $0 >= 0 }, "projection of \(v) has a negative entry: \(p)")
            #expect(abs(p.reduce(0, +) - 1) < 1e-12, "projection of \(v) sums to \(p.reduce(0, +))")
            var q = p
            ActivationFunction.projectOntoSimplex(&q)
            #expect(zip(p, q).allSatisfy { abs($0 - $1) < 1e-12 }, "not idempotent: \(p) → \(q)")
            // Nearest point: no random feasible point is closer to v.
            func dist(_ a: [Double]) -> Double { zip(a, v).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) } }
            let dp = dist(p)
            for c in candidates {
                let e = c.prefix(v.count).map { -log(1 - 0.999 * $0) }
                let s = e.reduce(0, +)
                let feasible = e.map { $0 / s }
                #expect(dp <= dist(feasible) + 1e-12, "\(feasible) is closer to \(v) than the projection \(p)")
                // Mixing towards a feasible point never gets closer either (convexity check along a segment).
                let mid = zip(p, feasible).map { 0.9 * $0 + 0.1 * $1 }
                #expect(dp <= dist(mid) + 1e-12)
            }
        }
        var onSimplex = [0.2, 0.3, 0.5]
        ActivationFunction.projectOntoSimplex(&onSimplex)
        #expect(onSimplex == [0.2, 0.3, 0.5])
        var v = [2.0, 0.0, 0.0]
        ActivationFunction.projectOntoSimplex(&v)
        #expect(v == [1, 0, 0])
    }

    @Test func projectRestoresFeasibility() throws {
        let pe = try ActivationFunction.member("p-e-relu")
        check(seed: 42, input: Gen.float(in: -2...2).array(of: 12)) { raw in
            var a = raw, b: [Float] = []
            pe.project(alpha: &a, beta: &b)
            #expect((try? pe.validate(alpha: a, beta: b, units: 4)) != nil, "\(raw) → \(a)")
            var again = a
            pe.project(alpha: &again, beta: &b)
            #expect(zip(a, again).allSatisfy { abs($0 - $1) <= 1e-7 }, "not idempotent in Float: \(a) → \(again)")
        }
        let e2 = try ActivationFunction.member("p-e2-relu")
        var a: [Float] = [-0.5, 0.3, 1.7], b: [Float] = [-1, 0, 2]
        e2.project(alpha: &a, beta: &b)
        #expect(a == [0, 0.3, 1])
        #expect(b == [Float(ActivationFunction.minimumScale), Float(ActivationFunction.minimumScale), 2])
        let sr = try ActivationFunction.member("p-sig-ramp")
        var c: [Float] = [0.5], d: [Float] = [-3]
        sr.project(alpha: &c, beta: &d)
        #expect(d == [Float(ActivationFunction.minimumScale)])
        let pr = try ActivationFunction.member("prelu")
        var none: [Float] = [], slope: [Float] = [-0.7]
        pr.project(alpha: &none, beta: &slope)
        #expect(slope == [-0.7])   // PReLU's slope is unconstrained, as in PyTorch
    }

    @Test func layerBackwardAndProjection() throws {
        let f = try ActivationFunction.member("p-e2-relu")
        let layer = Activation(name: "act", function: f, units: 3)
        try layer.setParameter("alpha", Tensor(shape: [3], scalars: [0.2, 0.5, 0.9]))
        try layer.setParameter("beta", Tensor(shape: [3], scalars: [0.5, 1, 2]))
        var rng = SplitMix64(seed: 9)
        let x = Tensor(shape: [2, 3, 2, 2], scalars: (0..<24).map { _ in rng.uniform(-2, 2) })
        let dy = Tensor(shape: x.shape, scalars: (0..<24).map { _ in rng.uniform(-1, 1) })
        var cache = LayerCache()
        let y = try layer.forward(x, cache: &cache)
        #expect(y == (try layer.forward(x)))
        var grads = layer.zeroGradients()
        let dx = layer.backward(dy, cache: cache, gradients: &grads, needsInputGradient: true)
        var refDx = [Float](repeating: 0, count: 24), refA = [Float](repeating: 0, count: 3), refB = refA
        f.backward(x: x.scalars, dy: dy.scalars, dx: &refDx, dAlpha: &refA, dBeta: &refB, batch: 2, units: 3, spatial: 4,
                   alpha: layer.parameters[0].scalars, beta: layer.parameters[1].scalars)
        #expect(dx?.scalars == refDx && dx?.shape == x.shape)
        #expect(grads[0].scalars == refA && grads[1].scalars == refB)
        var grads2 = layer.zeroGradients()
        #expect(layer.backward(dy, cache: cache, gradients: &grads2, needsInputGradient: false) == nil)
        #expect(grads2 == grads)

        layer.parameters[0].scalars = [-1, 0.5, 3]
        layer.parameters[1].scalars = [0, 1, 2]
        layer.projectParameters()
        #expect(layer.parameters[0].scalars == [0, 0.5, 1])
        #expect(layer.parameters[1].scalars == [Float(ActivationFunction.minimumScale), 1, 2])
    }
}
