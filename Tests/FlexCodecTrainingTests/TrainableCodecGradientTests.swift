import FlexCodecTraining
import FlexEntropyModel
import FlexRuntime
import XCTest

/// The codec's rate–distortion gradient checked by central finite differences of the same loss (same noise),
/// for every kind of parameter: conv and transposed-conv weights and biases, GDN/IGDN, a flexible activation's
/// α and β, and the density's matrices, biases and factors.
final class TrainableCodecGradientTests: XCTestCase {
    func loss(_ model: TrainableCodec, _ x: Tensor, lambda: Double, noise: UInt64) throws -> Double {
        try model.lossAndGradients(x, lambda: lambda, noise: noise, threads: 1).0.loss(lambda: lambda)
    }

    /// Central differences per entry (first, middle and last of every tensor), for the two terms apart
    /// (steps are smaller for P-E2-ReLU, whose ReLU part has a kink at 0 that larger steps cross):
    /// - λ = 1e-8: the loss is the rate alone. The bits are summed in double from the density's double
    ///   evaluation, so differences are precise and the tolerance is tight (0.1% of the tensor's largest
    ///   gradient + 1% relative). This checks ∂R/∂ỹ flowing into g_a and the density's gradients, and their
    ///   1/(N·H·W) scale.
    /// - λ = 1: the distortion dominates. The float32 forward passes make the loss noisy at the 1e-7 level
    ///   (≈ 1e-2 in a difference quotient of a loss ≈ 2·10⁴), so the tolerance is 10% of the tensor's largest
    ///   gradient: loose for a layer, but enough to catch wrong wiring or a wrong λ·255²·2/V scale. The layers'
    ///   own gradients are checked tightly in FlexTrainingTests. GDN's γ is skipped here: its stored entries
    ///   start at the reparametrisation's lower bound, where a finite step sees a kink the gradient (as
    ///   CompressAI's LowerBound) does not.
    func checkGradients(_ nonlinearity: CodecNonlinearity, lambda: Double, step h: Float, relative: Double, ofLargest: Double,
                        file: StaticString = #filePath, line: UInt = #line) throws {
        let arch = CodecArchitecture(channels: 4, latentChannels: 3, nonlinearity: nonlinearity)
        let model = try TrainableCodec(architecture: arch, crop: 16, seed: 7)
        var rng = SplitMix64(seed: 3)
        let x = Tensor(shape: [2, 3, 16, 16], scalars: (0..<(2 * 3 * 256)).map { _ in rng.uniform(0, 1) })
        let noise: UInt64 = 11
        let (_, grads) = try model.lossAndGradients(x, lambda: lambda, noise: noise, threads: 1)
        let flat = grads.flattened
        let start = model.namedParameters
        XCTAssertEqual(start.count - 1, flat.count, "every tensor but the quantiles", file: file, line: line)
        var checked = 0
        for t in flat.indices where !(lambda >= 1 && start[t].name.hasSuffix(".gamma")) {
            let g = flat[t].scalars
            let largest = Double(g.map { abs($0) }.max()!)
            for i in Set([0, g.count / 2, g.count - 1]) {
                func loss(_ d: Float) throws -> Double {
                    var p = start
                    p[t].tensor.scalars[i] += d
                    try model.load(p)
                    return try model.lossAndGradients(x, lambda: lambda, noise: noise, threads: 1).0.loss(lambda: lambda)
                }
                let numeric = (try loss(h) - loss(-h)) / Double(2 * h)
                try model.load(start)
                XCTAssertEqual(Double(g[i]), numeric, accuracy: relative * abs(numeric) + ofLargest * largest + 1e-9,
                               "\(nonlinearity) λ=\(lambda) \(start[t].name)[\(i)]", file: file, line: line)
                checked += 1
            }
        }
        XCTAssertGreaterThan(checked, 40, file: file, line: line)
    }

    func testGDNCodecGradientsMatchFiniteDifferences() throws {
        try checkGradients(.gdn, lambda: 1e-8, step: 1e-2, relative: 1e-2, ofLargest: 1e-3)
        try checkGradients(.gdn, lambda: 1, step: 1e-2, relative: 0, ofLargest: 0.1)
    }

    func testFlexibleCodecGradientsMatchFiniteDifferences() throws {
        let f = CodecNonlinearity.activation(try .member("p-e2-relu"))
        // P-E2-ReLU's kink at 0 makes differences cross it for many small pre-activations: the rate path
        // only, with a looser tolerance. The composition of the distortion path is the GDN arm's (the same
        // code), and P-E2-ReLU's own backward is checked tightly in FlexTrainingTests.
        try checkGradients(f, lambda: 1e-8, step: 1e-3, relative: 5e-2, ofLargest: 2e-2)
    }

    /// Sharding the batch over threads gives the same loss and (up to float rounding) the same gradients.
    func testThreadedGradientsMatchSingleThreaded() throws {
        let model = try TrainableCodec(architecture: CodecArchitecture(channels: 4, latentChannels: 3, nonlinearity: .gdn), crop: 16, seed: 1)
        var rng = SplitMix64(seed: 5)
        let x = Tensor(shape: [4, 3, 16, 16], scalars: (0..<(4 * 3 * 256)).map { _ in rng.uniform(0, 1) })
        let (e1, g1) = try model.lossAndGradients(x, lambda: 0.01, noise: 9, threads: 1)
        let (e2, g2) = try model.lossAndGradients(x, lambda: 0.01, noise: 9, threads: 1)
        XCTAssertEqual(e1.loss(lambda: 0.01), e2.loss(lambda: 0.01))
        XCTAssertEqual(g1.flattened.map(\.scalars), g2.flattened.map(\.scalars), "same thread count: identical")
        let (e3, g3) = try model.lossAndGradients(x, lambda: 0.01, noise: 9, threads: 2)
        XCTAssertEqual(e3.pixels, e1.pixels)
        XCTAssertEqual(e3.values, e1.values)
        for (a, b) in zip(g1.flattened, g3.flattened) {
            for (u, v) in zip(a.scalars, b.scalars) { XCTAssertEqual(u, v, accuracy: 1e-4 * max(1, abs(u))) }
        }
    }
}
