import FlexHDF5
import FlexRuntime
import FlexTraining
import Foundation
import Testing

@Suite("Checkpoint: GDN / IGDN layers") struct GDNCheckpointTests {
    /// Conv2d(3→8, k4, s2, p1), GDN(8), ConvTranspose2d(8→3, k4, s2, p1), IGDN(3) on 3×16×16, with stored β
    /// and γ moved off their initial values (some below their bounds) so a round trip cannot pass by accident.
    static func checkpoint() throws -> Checkpoint {
        let specs: [LayerSpec] = [
            .conv2d(inChannels: 3, outChannels: 8, kernel: 4, stride: 2, padding: 1),
            .gdn(channels: 8, inverse: false),
            .convTranspose2d(inChannels: 8, outChannels: 3, kernel: 4, stride: 2, padding: 1, outputPadding: 0),
            .gdn(channels: 3, inverse: true),
        ]
        let model = try Sequential(specs: specs, inputShape: [3, 16, 16], seed: 3)
        var rng = SplitMix64(seed: 17)
        for l in [1, 3] {
            for p in 0..<2 {
                model.layers[l].parameters[p].scalars = model.layers[l].parameters[p].scalars.map { _ in rng.uniform(-0.1, 1.2) }
            }
        }
        let input = InputSpec.image(ImageInputSpec(channels: 3, height: 16, width: 16, pixelScaling: .zeroToOne,
                                                   encoderLayers: 2))
        return Checkpoint(model: model, task: .imageAutoencoder, input: input)
    }

    @Test func roundTripIsExact() throws {
        let original = try Self.checkpoint()
        #expect(original.architectureJSON.contains(#"{"kind":"GDN","channels":8}"#), "\(original.architectureJSON)")
        #expect(original.architectureJSON.contains(#"{"kind":"IGDN","channels":3}"#))
        let path = try Fixture.written(original)
        let read = try Checkpoint.read(from: path)
        #expect(read.architecture == original.architecture)
        #expect(read.fingerprint == original.fingerprint)
        #expect(read.parameters.map(\.name) == original.parameters.map(\.name))
        #expect(read.parameters.map(\.name).contains("layers.1.gamma") && read.parameters.map(\.name).contains("layers.3.beta"))
        for (a, b) in zip(read.parameters, original.parameters) { #expect(a.tensor == b.tensor, "\(a.name)") }
        let x = Tensor(shape: [2, 3, 16, 16], scalars: (0..<1536).map { Float(($0 * 37) % 101) / 100 })
        #expect(try read.makeModel().forward(x) == original.makeModel().forward(x))
        // What `flexctl inspect` shows for the layers.
        let model = try read.makeModel()
        let description = CheckpointDescription(checkpoint: read, model: model, file: path,
                                                activations: model.activationStatistics(bins: CheckpointDescription.histogramBins))
        #expect(description.architecture.map(\.kind) == ["Conv2d", "GDN", "ConvTranspose2d", "IGDN"])
        #expect(description.architecture[1].summary == "GDN(8)" && description.architecture[1].parameters == 72)
        #expect(description.architecture[3].summary == "IGDN(3)" && description.architecture[3].parameters == 12)
        #expect(description.activations.isEmpty)
    }

    @Test func badGDNFieldsAreRefused() throws {
        let original = try Self.checkpoint()
        func error(_ edit: @escaping (String) -> String) throws -> CheckpointError? {
            try Fixture.readError(of: original) { try Fixture.editAttribute($0, "architecture", edit) }
        }
        let zero = try error { $0.replacingOccurrences(of: #""kind":"GDN","channels":8"#, with: #""kind":"GDN","channels":0"#) }
        expectProblem(zero, "/layers/1", "invalid GDN in the architecture: layers.1 (GDN): channels must be positive, found 0")
        let huge = try error { $0.replacingOccurrences(of: #""kind":"IGDN","channels":3"#, with: #""kind":"IGDN","channels":100000"#) }
        // C² + C parameters: the model-wide count is refused before anything is allocated.
        expectProblem(huge, "/layers/3", "the architecture has more than 134217728 parameters up to this layer; not allowed")
        let extra = try error { $0.replacingOccurrences(of: #""kind":"GDN","channels":8"#, with: #""kind":"GDN","channels":8,"inverse":true"#) }
        expectProblem(extra, "/", "attribute 'architecture': layer 1: unexpected field 'inverse' for GDN (fields: kind, channels)")
        let missing = try error { $0.replacingOccurrences(of: #""kind":"GDN","channels":8"#, with: #""kind":"GDN""#) }
        expectProblem(missing, "/", "attribute 'architecture': layer 1: missing field 'channels'")
        // A channel count that disagrees with the previous layer's output.
        let mismatch = try error { $0.replacingOccurrences(of: #""kind":"GDN","channels":8"#, with: #""kind":"GDN","channels":4"#) }
        expectProblem(mismatch, "/layers/1", "input shape does not match: GDN expects input [4, H, W], but /layers/0 (Conv2d) outputs [8, 8, 8]")
        // A dataset with the wrong shape.
        let shape = try Fixture.readError(of: original) { f in
            try Fixture.replaceDataset(f, "layers/1", "gamma", shape: [8, 4]) { Array($0.prefix(32)) }
        }
        expectProblem(shape, "/layers/1/gamma", "expected shape [8, 8], found [8, 4]")
    }
}
