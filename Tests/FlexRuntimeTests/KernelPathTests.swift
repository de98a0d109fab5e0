// The compiled variants of the C kernels (CFlexKernels): the dispatcher's choice, and every kernel of every
// variant this machine can run against double-precision references and against each other. The rest of the
// suite exercises only the variant in use; run it with FLEXCTL_CPU=portable to cover the portable one
// end to end (scripts/test does both).

import CFlexKernels
import FlexRuntime
import RealModule
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The variants available here: always the portable one, plus AVX2 + FMA on a CPU that has them.
private let variants: [(name: String, table: flexk_table)] = {
    var v = [("portable", flexk_table_for(FLEXK_PATH_PORTABLE)!.pointee)]
    if let t = flexk_table_for(FLEXK_PATH_AVX2_FMA) { v.append(("avx2+fma", t.pointee)) }
    return v
}()

/// Deterministic values in [-scale, scale) (a 64-bit LCG; no dependence on the test order).
private func pseudoRandom(_ count: Int, seed: UInt64, scale: Float = 1) -> [Float] {
    var s = seed &* 6364136223846793005 &+ 1442695040888963407
    return (0..<count).map { _ in
        s = s &* 6364136223846793005 &+ 1442695040888963407
        return (Float(s >> 40) / Float(1 << 24) * 2 - 1) * scale
    }
}

@Suite struct KernelPathTests {
    @Test func dispatcherHonoursTheCPUAndTheOverride() {
        let forced = getenv("FLEXCTL_CPU").map { String(cString: $0) } == "portable"
        let avx2 = flexk_table_for(FLEXK_PATH_AVX2_FMA) != nil
        let expected = !forced && avx2 ? FLEXK_PATH_AVX2_FMA : FLEXK_PATH_PORTABLE
        #expect(flexk_active_path() == expected)
        #expect(flexk_active() == flexk_table_for(expected))
        #if !arch(x86_64)
        #expect(!avx2, "AVX2 + FMA reported on a non-x86-64 build")
        #endif
    }

    /// gemm_nn and gemm_nt against a double-precision product, on shapes that reach every tile and tail
    /// (rows not a multiple of 4 or 2, columns not a multiple of 16, 8 or 4, K not a multiple of 8), with
    /// A transposed and not, accumulating and not.
    /// (17, 167, 450) takes gemm_nn's packed path (B of 75,150 floats in panels of 144 and 16 columns, then 7
    /// unpacked; 4 row tiles and one remaining row), (5, 70, 2048) gemm_nt's blocks of 32 rows of B and (5, 37, 4000)
    /// its unblocked loop (blocks of 16 rows would be too few).
    @Test(arguments: [(1, 1, 1), (4, 16, 8), (7, 21, 13), (9, 37, 33), (2, 5, 70), (17, 167, 450), (5, 37, 4000), (5, 70, 2048)])
    func gemmAgainstDoubleReference(_ shape: (Int, Int, Int)) {
        let (m, n, k) = shape
        let a = pseudoRandom(m * k, seed: 1), b = pseudoRandom(k * n, seed: 2), bt = pseudoRandom(n * k, seed: 3)
        let c0 = pseudoRandom(m * n, seed: 4)
        for (name, t) in variants {
            for transposedA in [false, true] {
                for accumulate in [false, true] {
                    // A(i, kk): row-major [m, k], or stored transposed as [k, m].
                    let aStore = transposedA ? (0..<(k * m)).map { a[($0 % m) * k + $0 / m] } : a
                    let (rs, cs) = transposedA ? (1, m) : (k, 1)
                    var c = c0
                    aStore.withUnsafeBufferPointer { ap in
                        b.withUnsafeBufferPointer { bp in
                            c.withUnsafeMutableBufferPointer { cp in
                                t.gemm_nn(m, n, k, ap.baseAddress, rs, cs, bp.baseAddress, n, cp.baseAddress, n, accumulate ? 1 : 0)
                            }
                        }
                    }
                    for i in 0..<m {
                        for j in 0..<n {
                            var ref = accumulate ? Double(c0[i * n + j]) : 0
                            for kk in 0..<k { ref += Double(a[i * k + kk]) * Double(b[kk * n + j]) }
                            #expect(abs(Double(c[i * n + j]) - ref) <= 1e-6 * Double(k + 1),
                                    "\(name) gemm_nn \(shape) transposedA \(transposedA) accumulate \(accumulate) at (\(i), \(j))")
                        }
                    }
                }
            }
            for accumulate in [false, true] {
                var c = c0
                a.withUnsafeBufferPointer { ap in
                    bt.withUnsafeBufferPointer { bp in
                        c.withUnsafeMutableBufferPointer { cp in
                            t.gemm_nt(m, n, k, ap.baseAddress, k, bp.baseAddress, k, cp.baseAddress, n, accumulate ? 1 : 0)
                        }
                    }
                }
                for i in 0..<m {
                    for j in 0..<n {
                        var ref = accumulate ? Double(c0[i * n + j]) : 0
                        for kk in 0..<k { ref += Double(a[i * k + kk]) * Double(bt[j * k + kk]) }
                        #expect(abs(Double(c[i * n + j]) - ref) <= 1e-6 * Double(k + 1),
                                "\(name) gemm_nt \(shape) accumulate \(accumulate) at (\(i), \(j))")
                    }
                }
            }
        }
    }

    /// The cache-blocked paths (gemm_nn packs panels of a large B; gemm_nt takes B's rows in blocks) give bit for
    /// bit the products computed in pieces too narrow to be blocked (16 columns of gemm_nn per call, plus the
    /// last n mod 16; 4 rows of gemm_nt's B per call), in every variant, with A transposed and not,
    /// accumulating and not: blocking must not change the order of any sum (trained models' fingerprints
    /// depend on it).
    @Test(arguments: [(17, 167, 450), (18, 1024, 64), (16, 64, 4096), (5, 37, 4000), (5, 70, 2048)])
    func blockedGemmIsBitIdenticalToUnblocked(_ shape: (Int, Int, Int)) {
        let (m, n, k) = shape
        let a = pseudoRandom(m * k, seed: 5), b = pseudoRandom(k * n, seed: 6), bt = pseudoRandom(n * k, seed: 7)
        let c0 = pseudoRandom(m * n, seed: 8)
        for (name, t) in variants {
            for transposedA in [false, true] {
                let aStore = transposedA ? (0..<(k * m)).map { a[($0 % m) * k + $0 / m] } : a
                let (rs, cs) = transposedA ? (1, m) : (k, 1)
                for accumulate in [false, true] {
                    var whole = c0, pieces = c0
                    aStore.withUnsafeBufferPointer { ap in
                        b.withUnsafeBufferPointer { bp in
                            whole.withUnsafeMutableBufferPointer { cp in
                                t.gemm_nn(m, n, k, ap.baseAddress, rs, cs, bp.baseAddress, n, cp.baseAddress, n, accumulate ? 1 : 0)
                            }
                            pieces.withUnsafeMutableBufferPointer { cp in
                                var j = 0
                                while j < n {
                                    let w = n - j >= 16 ? 16 : n - j
                                    t.gemm_nn(m, w, k, ap.baseAddress, rs, cs, bp.baseAddress! + j, n, cp.baseAddress! + j, n, accumulate ? 1 : 0)
                                    j += w
                                }
                            }
                        }
                    }
                    let same = zip(whole, pieces).allSatisfy { $0.bitPattern == $1.bitPattern }
                    #expect(same, "\(name) gemm_nn \(shape) transposedA \(transposedA) accumulate \(accumulate)")
                }
            }
            for accumulate in [false, true] {
                var whole = c0, pieces = c0
                a.withUnsafeBufferPointer { ap in
                    bt.withUnsafeBufferPointer { bp in
                        whole.withUnsafeMutableBufferPointer { cp in
                            t.gemm_nt(m, n, k, ap.baseAddress, k, bp.baseAddress, k, cp.baseAddress, n, accumulate ? 1 : 0)
                        }
                        pieces.withUnsafeMutableBufferPointer { cp in
                            for j in stride(from: 0, to: n, by: 4) {
                                t.gemm_nt(m, min(4, n - j), k, ap.baseAddress, k, bp.baseAddress! + j * k, k,
                                          cp.baseAddress! + j, n, accumulate ? 1 : 0)
                            }
                        }
                    }
                }
                let same = zip(whole, pieces).allSatisfy { $0.bitPattern == $1.bitPattern }
                #expect(same, "\(name) gemm_nt \(shape) accumulate \(accumulate)")
            }
        }
    }

    /// exp, expm1, sigmoid and tanh of each variant within the accuracy the file header of VectorMath states
    /// (the same bounds as ActivationKernelTests, which checks the variant in use on a finer grid).
    @Test func vectorMathAccuracyOfEachVariant() {
        let n = 100_003  // not a multiple of 8: the partial tail too
        let wide: [Float] = (0..<n).map { (i: Int) -> Float in -87 + 175 * Float(i) / Float(n - 1) }
        let nearZero: [Float] = (0..<4001).map { (i: Int) -> Float in Float(i - 2000) * 5e-4 }
        let xs = wide + nearZero
        for (name, t) in variants {
            var e = [Float](repeating: 0, count: xs.count), m = e, s = e, th = e
            t.vector_math(Int32(FLEXK_EXP.rawValue), xs, &e, xs.count)
            t.vector_math(Int32(FLEXK_EXPM1.rawValue), xs, &m, xs.count)
            t.vector_math(Int32(FLEXK_SIGMOID_FN.rawValue), xs, &s, xs.count)
            t.vector_math(Int32(FLEXK_TANH_FN.rawValue), xs, &th, xs.count)
            var maxRel = 0.0, maxAbsM1 = 0.0, maxS = 0.0, maxT = 0.0
            for (i, xf) in xs.enumerated() {
                let x = Double(xf)
                maxRel = max(maxRel, abs(Double(e[i]) - Double.exp(x)) / Double.exp(x))
                if x <= 1 { maxAbsM1 = max(maxAbsM1, abs(Double(m[i]) - Double.expMinusOne(x))) }
                if abs(x) <= 20 {
                    let sigmoid: Double = 1 / (1 + Double.exp(-x))
                    maxS = max(maxS, abs(Double(s[i]) - sigmoid))
                    maxT = max(maxT, abs(Double(th[i]) - Double.tanh(x)))
                }
            }
            #expect(maxRel < 1.5e-7, "\(name): exp max relative error \(maxRel)")
            #expect(maxAbsM1 < 1.5e-7, "\(name): expm1 max absolute error \(maxAbsM1)")
            #expect(maxS < 1.5e-7, "\(name): sigmoid max absolute error \(maxS)")
            #expect(maxT < 2.5e-7, "\(name): tanh max absolute error \(maxT)")
        }
    }

    /// Each activation kernel's forward and backward pass, in each variant, against the double-precision
    /// scalar reference (`Component.Kernel.evaluate`), with and without weights, accumulating and not, on a
    /// count with a partial tail. The points avoid the kinks (|z| ≥ 1e-3, ramps' corners), where the
    /// one-sided choice of a derivative is a convention both sides share but float rounding may cross.
    @Test(arguments: Component.Kernel.allCases)
    func activationPassesAgainstScalarReference(_ kernel: Component.Kernel) {
        let count = 53
        let x = pseudoRandom(count, seed: 11, scale: 4).map { abs($0) < 1e-3 ? 0.5 : $0 }
        let beta = pseudoRandom(56, seed: 12).map { 0.2 + abs($0) }  // padded to 56, as the scratch rows are
        let weight = pseudoRandom(56, seed: 13)
        let dy = pseudoRandom(count, seed: 14)
        let y0 = pseudoRandom(count, seed: 15)
        func nearKink(_ i: Int) -> Bool {
            let u = Double(beta[i]) * Double(x[i])
            switch kernel {
            case .sigmoidRamp: return abs(u + 0.5) < 1e-4 || abs(u - 0.5) < 1e-4
            case .tanhRamp: return abs(abs(u) - 1) < 1e-4
            default: return false
            }
        }
        for (name, t) in variants {
            for useWeight in [false, true] {
                for accumulate in [false, true] {
                    var y = y0, dx = y0
                    var gradF = [Float](repeating: 0.25, count: 56), gradBeta = gradF
                    weight.withUnsafeBufferPointer { wp in
                        let w = useWeight ? wp.baseAddress : nil
                        t.activation_forward(kernel.cKernel, x, &y, w, beta, count, accumulate ? 1 : 0)
                        t.activation_backward(kernel.cKernel, x, dy, &dx, accumulate ? 1 : 0, w, beta, count,
                                              &gradF, &gradBeta)
                    }
                    for i in 0..<count where !nearKink(i) {
                        let r = kernel.evaluate(Double(x[i]), beta: Double(beta[i]))
                        let w = useWeight ? Double(weight[i]) : 1
                        let g = Double(dy[i])
                        let expectY = (accumulate ? Double(y0[i]) : 0) + w * r.f
                        let expectDx = (accumulate ? Double(y0[i]) : 0) + g * w * r.dz
                        let tol = 2e-6 * (1 + abs(r.f) + abs(r.dz))
                        let what = "\(name) \(kernel) weight \(useWeight) accumulate \(accumulate) at x = \(x[i])"
                        #expect(abs(Double(y[i]) - expectY) <= tol, "\(what): y \(y[i]) vs \(expectY)")
                        #expect(abs(Double(dx[i]) - expectDx) <= tol, "\(what): dx \(dx[i]) vs \(expectDx)")
                        #expect(abs(Double(gradF[i]) - (0.25 + g * r.f)) <= tol, "\(what): gradF")
                        #expect(abs(Double(gradBeta[i]) - (0.25 + g * w * r.db)) <= tol, "\(what): gradBeta")
                    }
                    // The padding lanes of the accumulators receive nothing (dy is zero there).
                    #expect(gradF[count...].allSatisfy { $0 == 0.25 } && gradBeta[count...].allSatisfy { $0 == 0.25 },
                            "\(name) \(kernel): padding lanes of the gradient rows changed")
                }
            }
        }
    }

    /// Adam, MSE and the scaled accumulation: the variants agree with each other to rounding (they differ
    /// only where AVX2 fuses a multiply-add that baseline x86-64 cannot) and MSE's sum with a double reference.
    @Test func trainingKernelsAgreeAcrossVariants() {
        let n = 1003
        let g = pseudoRandom(n, seed: 21), theta0 = pseudoRandom(n, seed: 22)
        let m0 = pseudoRandom(n, seed: 23, scale: 0.1), v0 = pseudoRandom(n, seed: 24).map { $0 * $0 * 0.01 }
        var results: [(theta: [Float], m: [Float], v: [Float], mse: Double, grad: [Float], acc: [Float])] = []
        for (_, t) in variants {
            for decay: Float in [0, 0.01] {
                var c = flexk_adam_coefficients(one_minus_beta1: 0.1, beta2: 0.999, one_minus_beta2: 0.001,
                                                bias2_sqrt: 0.05, epsilon: 1e-8, weight_decay: decay)
                var theta = theta0, m = m0, v = v0
                t.adam_update(&theta, &m, &v, g, n, 1e-3, &c)
                // The first element by hand (PyTorch's update; lerp with weight 0.1 < 0.5 is m + 0.1·(g − m)).
                let g0 = Double(g[0]) + Double(decay) * Double(theta0[0])
                let mRef = Double(m0[0]) + 0.1 * (g0 - Double(m0[0]))
                let vRef = Double(v0[0]) * 0.999 + 0.001 * g0 * g0
                let thRef = Double(theta0[0]) - 1e-3 * mRef / (vRef.squareRoot() / 0.05 + 1e-8)
                #expect(abs(Double(m[0]) - mRef) < 1e-7 && abs(Double(v[0]) - vRef) < 1e-9)
                #expect(abs(Double(theta[0]) - thRef) < 1e-6, "Adam θ \(theta[0]) vs \(thRef)")
                if decay != 0 { results.append((theta, m, v, 0, [], [])) }
            }
            let p = pseudoRandom(n, seed: 25), target = pseudoRandom(n, seed: 26)
            var grad = [Float](repeating: 0, count: n)
            let sum = t.mse(p, target, &grad, n, 2 / Float(n))
            let ref = zip(p, target).reduce(0.0) { $0 + (Double($1.0) - Double($1.1)) * (Double($1.0) - Double($1.1)) }
            #expect(abs(sum - ref) <= 1e-12 * ref)
            #expect(grad[n - 1] == 2 / Float(n) * (p[n - 1] - target[n - 1]))
            var acc = theta0
            t.add_scaled(&acc, g, 0.37, n)
            #expect(abs(Double(acc[n - 1]) - (Double(theta0[n - 1]) + 0.37 * Double(g[n - 1]))) < 1e-7)
            results[results.count - 1].mse = sum
            results[results.count - 1].grad = grad
            results[results.count - 1].acc = acc
        }
        guard results.count == 2 else { return }  // one variant on this machine: nothing to compare
        let (a, b) = (results[0], results[1])
        func close(_ x: [Float], _ y: [Float], _ tol: Float) -> Bool { zip(x, y).allSatisfy { abs($0 - $1) <= tol * (1 + abs($0)) } }
        #expect(close(a.theta, b.theta, 1e-6) && close(a.m, b.m, 1e-6) && close(a.v, b.v, 1e-6), "Adam differs across variants")
        #expect(a.mse == b.mse && a.grad == b.grad, "MSE has no multiply-add: variants must agree exactly")
        #expect(close(a.acc, b.acc, 1e-6))
    }

    /// col2im and max_pool (no multiply-adds: every variant must give exactly the reference's result): scatter
    /// with padding entries (−1) and repeated targets; pooling with ties (first wins), NaN (propagated) and
    /// −∞, with and without argmax.
    @Test func scatterAndPoolingMatchTheReference() {
        let batch = 3, patch = 5, ohw = 7, chw = 11
        let columns = pseudoRandom(patch * batch * ohw, seed: 31)
        let table: [Int32] = (0..<(patch * ohw)).map { i in i % 4 == 3 ? -1 : Int32((i * 7) % chw) }
        var expected = [Float](repeating: 0.5, count: batch * chw)
        for r in 0..<patch { for b in 0..<batch { for p in 0..<ohw where table[r * ohw + p] >= 0 {
            expected[b * chw + Int(table[r * ohw + p])] += columns[r * batch * ohw + b * ohw + p]
        } } }
        var x = pseudoRandom(2 * 5 * 6, seed: 32)  // 2 planes of 5×6
        x[1] = x[0]; x[7] = x[0]                   // ties in the first window
        x[30 + 9] = .nan                           // a NaN in the second plane, last in its window
        x[30 + 0] = -.infinity; x[30 + 1] = -.infinity; x[30 + 6] = -.infinity; x[30 + 7] = -.infinity
        let (planes, h, w, k, st) = (2, 5, 6, 2, 2)
        let oh = (h - k) / st + 1, ow = (w - k) / st + 1
        var pooled: [Float] = [], where_: [Int32] = []
        for plane in 0..<planes { for i in 0..<oh { for j in 0..<ow {
            var best = -Float.infinity, at = (i * st) * w + j * st
            for u in 0..<k { for v in 0..<k {
                let idx = (i * st + u) * w + j * st + v, val = x[plane * h * w + idx]
                if !(val <= best) { best = val; at = idx }
            } }
            pooled.append(best); where_.append(Int32(plane * h * w + at))
        } } }
        for (name, t) in variants {
            var image = [Float](repeating: 0.5, count: batch * chw)
            t.col2im(columns, batch, patch, ohw, table, &image, chw)
            #expect(image == expected, "\(name): col2im")
            var y = [Float](repeating: 0, count: planes * oh * ow), arg = [Int32](repeating: -9, count: planes * oh * ow)
            t.max_pool(x, &y, &arg, planes, h, w, oh, ow, k, st)
            #expect(zip(y, pooled).allSatisfy { $0.bitPattern == $1.bitPattern }, "\(name): max_pool values \(y) vs \(pooled)")
            #expect(arg == where_, "\(name): max_pool argmax")
            #expect(y[oh * ow] == -.infinity && y[oh * ow + 1].isNaN, "\(name): −∞ window and NaN window")
            var y2 = [Float](repeating: 0, count: planes * oh * ow)
            t.max_pool(x, &y2, nil, planes, h, w, oh, ow, k, st)
            #expect(zip(y2, pooled).allSatisfy { $0.bitPattern == $1.bitPattern })
        }
    }
}
