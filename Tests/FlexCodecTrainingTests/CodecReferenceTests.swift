import FlexCodecTraining
import FlexEntropyModel
import FlexRuntime
import Foundation
import XCTest

/// The codec's rate–distortion loss and every parameter gradient against PyTorch in float64: CompressAI's
/// FactorizedPrior written in plain torch (Reference/codec_torch.py), values produced by
/// Reference/codec_reference.py into the committed Reference/codec_reference.json (parameters, input and
/// noise as well as the expected values, so this test needs no torch). N = 4, M = 3, GDN, batch 2, 16×16.
final class CodecReferenceTests: XCTestCase {
    struct Named: Decodable {
        let name: String
        let shape: [Int]
        let values: [Double]
        var tensor: Tensor { Tensor(shape: shape, scalars: values.map { Float($0) }) }
    }

    struct Case: Decodable {
        let lambda: Double
        let loss: Double
        let bits: Double
        let squaredError: Double
        let gradients: [Named]
    }

    struct Reference: Decodable {
        let channels: Int
        let latentChannels: Int
        let batch: Int
        let size: Int
        let input: Named
        let noise: Named
        let parameters: [Named]
        let cases: [Case]
        let auxiliaryLoss: Double
        let quantileGradient: Named
    }

    static let reference: Reference = {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("Reference/codec_reference.json").path
        guard let data = FileManager.default.contents(atPath: path) else { fatalError("cannot read \(path)") }
        do { return try JSONDecoder().decode(Reference.self, from: data) } catch { fatalError("\(path): \(error)") }
    }()

    func makeModel(_ r: Reference, parameters: [Named]? = nil) throws -> TrainableCodec {
        let arch = CodecArchitecture(channels: r.channels, latentChannels: r.latentChannels, nonlinearity: .gdn)
        let model = try TrainableCodec(architecture: arch, crop: r.size, seed: 0)
        try model.load((parameters ?? r.parameters).map { ($0.name, $0.tensor) })
        return model
    }

    /// Worst |flexctl − torch| / (1e-5 · max|torch| + 1e-4 · |torch|) over a tensor: ≤ 1 passes. float32
    /// forward and backward passes against float64 (GDN normalisers, 5×5 convolutions over up to 100 terms,
    /// the density in Double): the worst ratio observed is 0.055 (printed by the test).
    func ratio(_ a: [Float], _ b: [Double]) -> (Double, Int) {
        let scale = b.map(abs).max() ?? 0
        var worst = 0.0, at = 0
        for i in b.indices {
            let r = abs(Double(a[i]) - b[i]) / (1e-5 * scale + 1e-4 * abs(b[i]) + 1e-30)
            if r > worst { worst = r; at = i }
        }
        return (worst, at)
    }

    func testLossBitsAndGradientsMatchPyTorch() throws {
        let r = Self.reference
        let model = try makeModel(r)
        let names = model.namedParameters.map(\.name).filter { $0 != "entropy.quantiles" }
        for c in r.cases {
            let (e, g) = try model.lossAndGradients(r.input.tensor, lambda: c.lambda, noise: r.noise.tensor)
            XCTAssertEqual(e.loss(lambda: c.lambda), c.loss, accuracy: 1e-5 * abs(c.loss), "λ \(c.lambda): loss")
            XCTAssertEqual(e.bits, c.bits, accuracy: 1e-5 * abs(c.bits), "λ \(c.lambda): bits")
            XCTAssertEqual(e.squaredError, c.squaredError, accuracy: 1e-5 * abs(c.squaredError), "λ \(c.lambda): squared error")
            let flat = g.flattened
            XCTAssertEqual(flat.count, c.gradients.count)
            XCTAssertEqual(names, c.gradients.map(\.name))
            var worst = (0.0, "")
            for (t, ref) in zip(flat, c.gradients) {
                XCTAssertEqual(t.shape, ref.shape, ref.name)
                let (q, at) = ratio(t.scalars, ref.values)
                XCTAssertLessThanOrEqual(q, 1, "λ \(c.lambda): ∂L/∂\(ref.name)[\(at)] = \(t.scalars[at]), torch \(ref.values[at])")
                if q > worst.0 { worst = (q, ref.name) }
            }
            print("codec reference λ \(c.lambda): worst gradient ratio \(worst.0) at \(worst.1)")
        }
    }

    func testAuxiliaryLossMatchesPyTorch() throws {
        let r = Self.reference
        let model = try makeModel(r)
        let aux = model.bottleneck.auxiliaryLoss()
        XCTAssertEqual(aux.loss, r.auxiliaryLoss, accuracy: 1e-6 * abs(r.auxiliaryLoss))
        XCTAssertEqual(aux.quantileGradient.shape, r.quantileGradient.shape)
        let (q, at) = ratio(aux.quantileGradient.scalars, r.quantileGradient.values)
        XCTAssertLessThanOrEqual(q, 1, "∂aux/∂quantiles[\(at)]")
    }

    /// The comparison can fail: one conv weight of g_s moved by 1e-3 changes the loss and gradients beyond
    /// the tolerances above.
    func testMovedWeightIsDetected() throws {
        let r = Self.reference
        var parameters = r.parameters
        let k = try XCTUnwrap(parameters.firstIndex { $0.name == "synthesis.layers.2.weight" })
        var values = parameters[k].values
        values[5] += 1e-3
        parameters[k] = Named(name: parameters[k].name, shape: parameters[k].shape, values: values)
        let model = try makeModel(r, parameters: parameters)
        let c = r.cases[0]
        let (e, g) = try model.lossAndGradients(r.input.tensor, lambda: c.lambda, noise: r.noise.tensor)
        let moved = zip(g.flattened, c.gradients).contains { ratio($0.scalars, $1.values).0 > 1 }
        XCTAssertTrue(moved || abs(e.loss(lambda: c.lambda) - c.loss) > 1e-5 * abs(c.loss))
        XCTAssertTrue(moved, "no gradient moved beyond the tolerance")
    }

    func testExplicitNoiseOfTheWrongShapeIsRefused() throws {
        let r = Self.reference
        let model = try makeModel(r)
        XCTAssertThrowsError(try model.lossAndGradients(r.input.tensor, lambda: 0.01, noise: Tensor(shape: [2, 3, 2, 2])))
        XCTAssertThrowsError(try model.lossAndGradients(Tensor(shape: [2, 3, 15, 16]), lambda: 0.01, noise: r.noise.tensor))
    }
}
