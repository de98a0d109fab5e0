import FlexRuntime
import FlexTraining
import Testing

@Suite struct LossTests {
    @Test func handComputedValueAndGradient() throws {
        let p = Tensor(shape: [2, 2], scalars: [1, 2, 3, 4])
        let t = Tensor(shape: [2, 2], scalars: [0, 2, 5, 1])
        let (loss, grad) = try meanSquaredError(prediction: p, target: t)
        // Differences 1, 0, −2, 3: squares sum to 14, over n = 4 elements.
        #expect(loss == 3.5)
        #expect(grad.shape == [2, 2])
        #expect(grad.scalars == [0.5, 0, -1, 1.5])  // 2 (p − t) / 4
    }

    /// Central differences on the float32 loss. MSE is quadratic in each element, so the central difference
    /// is exact in exact arithmetic; the only error is the rounding of the two float32 losses (each within
    /// half an ulp, i.e. a relative 2⁻²⁴) divided by 2h, plus the rounding of the gradient itself. Inputs lie
    /// on a 2⁻¹⁰ grid so p ± h (h = 2⁻⁶) is exact.
    @Test(arguments: [1, 7, 8, 21, 64])
    func gradientMatchesFiniteDifferences(count: Int) throws {
        var rng = SplitMix64(seed: 0xA5A5 &+ UInt64(count))
        func gridValue() -> Float { (rng.uniform(-2, 2) * 1024).rounded() / 1024 }
        let p = Tensor(shape: [count], scalars: (0..<count).map { _ in gridValue() })
        let t = Tensor(shape: [count], scalars: (0..<count).map { _ in gridValue() })
        let (_, grad) = try meanSquaredError(prediction: p, target: t)
        let h: Float = 1.0 / 64
        for e in 0..<count {
            var plus = p, minus = p
            plus.scalars[e] += h
            minus.scalars[e] -= h
            let lp = try meanSquaredError(prediction: plus, target: t).loss
            let lm = try meanSquaredError(prediction: minus, target: t).loss
            let fd = (Double(lp) - Double(lm)) / (2 * Double(h))
            let tolerance = 2 * (Double(max(lp, lm)) * 0x1p-24) / (2 * Double(h)) + abs(fd) * 0x1p-23 + 1e-12
            #expect(abs(Double(grad.scalars[e]) - fd) <= tolerance, "element \(e): analytic \(grad.scalars[e]), numeric \(fd)")
        }
    }

    /// A float32 running sum would stop growing at 1e8 (its ulp there is 8) and lose the 1e5 small residuals.
    @Test func accumulatesInDouble() throws {
        let small = 100_000
        var p = [Float](repeating: 0.1, count: small + 1)
        p[0] = 10_000
        let t = [Float](repeating: 0, count: small + 1)
        let (loss, _) = try meanSquaredError(prediction: Tensor(shape: [small + 1], scalars: p),
                                             target: Tensor(shape: [small + 1], scalars: t))
        let d = Double(Float(0.1))
        let exact = (1e8 + Double(small) * d * d) / Double(small + 1)  // ≈ 1000.0 (float32 sum: ≈ 999.99)
        #expect(abs(Double(loss) - exact) <= exact * 0x1p-23)
    }

    @Test func shapeMismatchNamesBothShapes() {
        let p = Tensor(shape: [2, 3], repeating: 1)
        let t = Tensor(shape: [3, 2], repeating: 1)
        do {
            _ = try meanSquaredError(prediction: p, target: t)
            Issue.record("expected a ShapeMismatch")
        } catch {
            #expect(error.found == [2, 3])
            #expect(error.description.contains("[2, 3]"))
            #expect(error.description.contains("[3, 2]"))
            #expect(error.description.contains("MSELoss"))
        }
    }

    @Test func emptyTensorsGiveNaNLikePyTorch() throws {
        let e = Tensor(shape: [0, 3])
        let (loss, grad) = try meanSquaredError(prediction: e, target: e)
        #expect(loss.isNaN)
        #expect(grad.shape == [0, 3])
    }
}
