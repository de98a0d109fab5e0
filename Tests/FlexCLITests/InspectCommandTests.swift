import ArgumentParser
import FlexCLI
import FlexEntropy
import FlexRuntime
import FlexTraining
import Foundation
import Testing

/// A CAE1 + P-E2-ReLU trained for a few epochs of Adam steps on seeded synthetic images, with its provenance:
/// "a trained model", deterministic (fixed seeds, one thread).
func trainedCAECheckpoint() throws -> Checkpoint {
    let model = try Sequential(specs: Architecture.cae1(activation: .member("p-e2-relu")), inputShape: [1, 28, 28],
                               seed: 11)
    var rng = SplitMix64(seed: 12)
    func images(_ n: Int) -> Tensor {
        // Smooth blobs in [-1, 1]: a Gaussian bump at a random centre per image.
        var out: [Float] = []
        for _ in 0..<n {
            let cx = rng.uniform(8, 20), cy = rng.uniform(8, 20), r = rng.uniform(3, 6)
            for y in 0..<28 {
                for x in 0..<28 {
                    let d2 = (Float(x) - cx) * (Float(x) - cx) + (Float(y) - cy) * (Float(y) - cy)
                    out.append(2 * Float(exp(Double(-d2 / (2 * r * r)))) - 1)
                }
            }
        }
        return Tensor(shape: [n, 1, 28, 28], scalars: out)
    }
    let train = images(16), validation = images(8)
    let adam = Adam(learningRate: 0.01)
    let regularizer = LayerwiseRegularizer(delta1: 0.01, delta2: 0.001, delta3: 0.1, margin: 0.05)
    let trainer = Trainer(model: model, optimizer: adam, regularizer: regularizer, threads: 1)
    var trainLoss: [Double] = [], validationLoss: [Double] = []
    let epochs = 6
    for _ in 0..<epochs {
        var sum = 0.0
        for b in 0..<2 {
            let x = train.batchSlice(b * 8 ..< (b + 1) * 8)
            sum += Double(try trainer.step(input: x, target: x).loss)
        }
        trainLoss.append(sum / 2)
        validationLoss.append(Double(try meanSquaredError(prediction: model.forward(validation), target: validation).loss))
    }
    let provenance = Provenance(
        dataset: "synthetic-blobs", trainSize: 16, validationSize: 8, testSize: 8, seed: 11, epochs: epochs,
        optimizer: OptimizerSettings(learningRate: adam.learningRate, beta1: adam.beta1, beta2: adam.beta2,
                                     epsilon: adam.epsilon),
        regularizer: RegularizerSettings(delta1: regularizer.delta1, delta2: regularizer.delta2,
                                         delta3: regularizer.delta3, margin: regularizer.margin),
        trainLoss: trainLoss, validationLoss: validationLoss, testLoss: validationLoss.last,
        created: "2026-01-01T00:00:00Z")
    let input = ImageInputSpec(channels: 1, height: 28, width: 28, pixelScaling: .minusOneToOne,
                               encoderLayers: Architecture.encoderLayerCount["cae1"]!)
    return Checkpoint(model: model, task: .imageAutoencoder, input: .image(input), provenance: provenance)
}

/// A two-layer LSTM forecaster with flexible gates (untrained), without provenance.
func forecasterCheckpoint() throws -> Checkpoint {
    let specs = Architecture.lstmForecaster(features: 2, hidden: 4, layers: 2, targets: 1,
                                            gate: try .member("p-sig-ramp"), cell: try .member("tanh"))
    let model = try Sequential(specs: specs, inputShape: [5, 2], seed: 4)
    let input = SeriesInputSpec(features: ["close", "volume"], targets: ["close"], window: 5, horizon: 1,
                                transform: .returns, normalization: Normalization(mean: [0.001, 0.02], std: [0.01, 0.3]))
    return Checkpoint(model: model, task: .forecaster, input: .series(input))
}

/// A small learned codec (N = 8, M = 2, GDN), untrained, with two hand-made tables and no density.
func codecCheckpoint() throws -> Checkpoint {
    let a = CodecArchitecture(channels: 8, latentChannels: 2, nonlinearity: .gdn)
    let model = try Sequential(specs: a.analysis + a.synthesis, inputShape: [3, 16, 16], seed: 2)
    let tables = EntropyCodingTables(medians: [0.5, -0.25], tables: [
        try CDFTable(minSymbol: -3, cdf: [0, 100, 30000, 60000, 65000, 65536]),
        try CDFTable(minSymbol: 2, cdf: [0, 65000, 65536]),
    ])
    return Checkpoint(model: model, task: .imageCodec, input: .codec(CodecInputSpec(a, lambda: 0.013)), entropyTables: tables)
}

@Suite("inspect: report")
struct InspectReportTests {
    @Test("a codec: task, latents, λ and the entropy model in text and JSON")
    func codec() throws {
        let checkpoint = try codecCheckpoint()
        let report = try InspectCommand.report(checkpoint, file: "codec.h5")
        let text = report.text()
        #expect(text.contains("\ntask           image-codec\n"))
        #expect(text.contains("\ninput          codec, 3-channel images padded to multiples of 16, pixels zero_to_one (x = p/255)\n"))
        #expect(text.contains("\nlatents        2 channels after the analysis, layers 0–6 ([2, 1, 1] per 16×16 block)\n"))
        #expect(text.contains("\nlambda         0.013 (rate–distortion weight in training)\n"))
        #expect(text.contains("\nentropy model  2 tables, 9 CDF entries (longest 6), symbols -3…2, 2–5 per table with the escape, medians -0.25…0.5, no density parameters\n"))
        #expect(text.contains("[2, 1, 1] latents"))
        let object = try #require(try JSONSerialization.jsonObject(with: Data(report.json().utf8)) as? [String: Any])
        #expect(object["task"] as? String == "image-codec")
        let input = try #require(object["input"] as? [String: Any])
        #expect(input["kind"] as? String == "codec")
        #expect(input["latent_channels"] as? Int == 2)
        #expect(input["analysis_layers"] as? Int == 7)
        #expect(input["lambda"] as? Double == 0.013)
        #expect(input["latent_shape"] as? [Int] == [2, 1, 1])
        #expect(input["channels"] == nil && input["code_shape"] == nil)
        let e = try #require(object["entropy_model"] as? [String: Any])
        #expect(e["channels"] as? Int == 2)
        #expect(e["total_table_entries"] as? Int == 9)
        #expect(e["max_cdf_length"] as? Int == 6)
        #expect(e["min_symbol"] as? Int == -3 && e["max_symbol"] as? Int == 2)
        #expect(e["density_parameters"] as? [String] == [])
        let tables = try #require(e["tables"] as? [[String: Any]])
        #expect(tables.count == 2)
        #expect(tables[0]["median"] as? Double == 0.5)
        #expect(tables[0]["min_symbol"] as? Int == -3 && tables[0]["max_symbol"] as? Int == 0)
        #expect(tables[0]["symbols"] as? Int == 5)
        #expect(tables[0]["escape_probability"] as? Double == 536.0 / 65536)
        #expect(tables[1]["min_symbol"] as? Int == 2 && tables[1]["max_symbol"] as? Int == 2)
        // Other tasks' documents have no entropy_model key.
        let cae = try InspectCommand.report(forecasterCheckpoint(), file: "f.h5").json()
        #expect(!cae.contains("entropy_model"))
    }

    @Test("text report of a trained CAE matches the snapshot")
    func textSnapshot() throws {
        let report = try InspectCommand.report(trainedCAECheckpoint(), file: "model.h5")
        try Snapshot.check(report.text(), named: "inspect-cae1.txt")
    }

    @Test("text report: header, architecture total, every slot with statistics, provenance")
    func textContents() throws {
        let checkpoint = try trainedCAECheckpoint()
        let text = try InspectCommand.report(checkpoint, file: "model.h5").text()
        #expect(text.hasPrefix("file         model.h5\nformat       flexctl-checkpoint 1.0, written by flexctl 0.2.0"))
        #expect(text.contains("\ntask         image-autoencoder\n"))
        #expect(text.contains(checkpoint.fingerprint))
        #expect(text.contains("[16, 5, 5] code"))
        let model = try checkpoint.makeModel()
        #expect(text.contains("architecture (7 layers, \(model.parameterCount) parameters)"))
        for path in ["layers.1", "layers.4", "layers.6"] { #expect(text.contains("  \(path) ")) }
        #expect(text.contains("dataset          synthetic-blobs"))
        #expect(text.contains("train 16, validation 8, test 8"))
        #expect(text.contains("train loss       |"))
    }

    @Test("an LSTM's five nonlinearities per stacked layer are listed; series input and statistics shown")
    func lstmSlots() throws {
        let text = try InspectCommand.report(forecasterCheckpoint(), file: "f.h5").text()
        for l in 0..<2 { for n in ["i", "f", "g", "o", "c"] { #expect(text.contains("layers.0.\(n)_l\(l)")) } }
        #expect(text.contains("series, window 5 × 2 features, horizon 1, transform returns"))
        #expect(text.contains("volume"))
        #expect(text.contains("provenance: none recorded"))
    }

    @Test("--json: one object with the same content")
    func json() throws {
        let checkpoint = try trainedCAECheckpoint()
        let text = try InspectCommand.report(checkpoint, file: "model.h5").json()
        // The runtime's description, the document the C API's flexctl_model_describe returns.
        #expect(text == (try CheckpointDescription(checkpoint: checkpoint, file: "model.h5").json))
        let object = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        #expect(object["kind"] as? String == "checkpoint")
        #expect(object["schema_version"] as? Int == 1)
        #expect(object["file"] as? String == "model.h5")
        #expect(object["task"] as? String == "image-autoencoder")
        #expect(object["fingerprint"] as? String == checkpoint.fingerprint)
        #expect(object["format_version"] as? Int == 1)
        let layers = try #require(object["architecture"] as? [[String: Any]])
        #expect(layers.count == 7)
        #expect(layers[2]["output_shape"] as? [Int] == [16, 5, 5])
        #expect((layers[0]["spec"] as? [String: Any])?["kind"] as? String == "Conv2d")
        let total = layers.compactMap { $0["parameters"] as? Int }.reduce(0, +)
        #expect(object["total_parameters"] as? Int == total)
        let slots = try #require(object["activations"] as? [[String: Any]])
        #expect(slots.map { $0["slot"] as? String } == ["layers.1", "layers.4", "layers.6"])
        let alpha = try #require((slots[0]["alpha"] as? [[String: Any]])?.first)
        #expect((alpha["histogram"] as? [Int])?.reduce(0, +) == 16)
        #expect(alpha["histogram_range"] as? [Double] == [0, 1])
        let input = try #require(object["input"] as? [String: Any])
        #expect(input["code_shape"] as? [Int] == [16, 5, 5])
        #expect(object["input_shape"] as? [Int] == [1, 28, 28])
        #expect(object["output_shape"] as? [Int] == [1, 28, 28])
        let provenance = try #require(object["provenance"] as? [String: Any])
        #expect((provenance["train_loss"] as? [Double])?.count == 6)
        #expect((provenance["optimizer"] as? [String: Any])?["learning_rate"] as? Double == 0.01)
    }

    @Test("histogram bars: a fresh p-sig-ramp has every α = 1 (last bin) and one β (first bin of [min, max])")
    func bars() throws {
        let text = try InspectCommand.report(forecasterCheckpoint(), file: "f.h5").text()
        let gate = try #require(text.split(separator: "\n").first { $0.contains("layers.0.i_l0") })
        #expect(gate.hasSuffix("|         █|"))
        let beta = try #require(text.split(separator: "\n").first { $0.contains("beta") && $0.contains("0.100000") })
        #expect(beta.hasSuffix("|█         |"))
    }
}
