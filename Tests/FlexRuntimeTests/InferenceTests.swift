import FlexRuntime
import Testing

/// A CAE2 checkpoint built in memory, with parameters moved off their initial values so that α/β differ
/// per unit (a fresh model has every α = 1).
private func cae2Checkpoint(seed: UInt64 = 7, scaling: PixelScaling = .minusOneToOne) throws -> (Sequential, Checkpoint) {
    let model = try Sequential(specs: Architecture.cae2(activation: .member("p-e2-relu")), inputShape: [1, 28, 28],
                               seed: seed)
    var rng = SplitMix64(seed: seed &+ 99)
    for layer in model.layers {
        guard let act = layer as? Activation else { continue }
        if let i = act.alphaIndex {
            act.parameters[i].scalars = act.parameters[i].scalars.map { _ in rng.uniform(0, 1) }
        }
        if let i = act.betaIndex {
            act.parameters[i].scalars = act.parameters[i].scalars.map { _ in rng.uniform(0.5, 1.5) }
        }
    }
    let spec = ImageInputSpec(channels: 1, height: 28, width: 28, pixelScaling: scaling,
                              encoderLayers: Architecture.encoderLayerCount["cae2"]!)
    return (model, Checkpoint(model: model, task: .imageAutoencoder, input: .image(spec)))
}

/// An LSTM forecaster over `features` predicting `targets`, as a checkpoint built in memory.
private func forecasterCheckpoint(features: [String], targets: [String], window: Int = 6, horizon: Int = 1,
                                  seed: UInt64 = 3) throws -> (Sequential, Checkpoint) {
    let specs = Architecture.lstmForecaster(features: features.count, hidden: 5, layers: 2, targets: targets.count,
                                            gate: try .member("p-sig-ramp"), cell: try .member("p-tanh-ramp"))
    let model = try Sequential(specs: specs, inputShape: [window, features.count], seed: seed)
    let stats = Normalization(mean: features.indices.map { 0.01 * Double($0 + 1) },
                              std: features.indices.map { 0.5 + Double($0) })
    let spec = SeriesInputSpec(features: features, targets: targets, window: window, horizon: horizon,
                               transform: .returns, normalization: stats)
    return (model, Checkpoint(model: model, task: .forecaster, input: .series(spec)))
}

private func noise(_ shape: [Int], seed: UInt64, range: ClosedRange<Float> = -1...1) -> Tensor {
    var rng = SplitMix64(seed: seed)
    return Tensor(shape: shape, scalars: (0..<shape.reduce(1, *)).map { _ in rng.uniform(range.lowerBound, range.upperBound) })
}

@Suite("inference: image codec session")
struct InferenceImageCodecTests {
    @Test("decode(encode(x)) equals the model's forward exactly; codes are the encoder's output")
    func encodeDecodeIsForward() throws {
        let (model, checkpoint) = try cae2Checkpoint()
        let session = try ImageCodecSession(checkpoint: checkpoint, threads: 2)
        let x = noise([5, 1, 28, 28], seed: 1)
        let codes = try session.encode(x)
        #expect(codes.shape == [5, 8, 2, 2])
        #expect(codes == (try model.forward(x, layers: 0..<6)))
        let y = try session.decode(codes)
        #expect(y == (try model.forward(x)))
        #expect(try session.reconstruct(x) == y)
    }

    @Test("the result does not depend on the thread count")
    func threadsDoNotChangeResults() throws {
        let (_, checkpoint) = try cae2Checkpoint()
        let x = noise([7, 1, 28, 28], seed: 2)
        let one = try ImageCodecSession(checkpoint: checkpoint, threads: 1)
        let three = try ImageCodecSession(checkpoint: checkpoint, threads: 3)
        #expect(try one.encode(x) == three.encode(x))
        #expect(try one.decode(one.encode(x)) == three.decode(three.encode(x)))
    }

    @Test("shapes: codeShape, inputShape, outputShape, encoder split; fingerprint carried over")
    func shapes() throws {
        let (_, checkpoint) = try cae2Checkpoint()
        let session = try ImageCodecSession(checkpoint: checkpoint)
        #expect(session.codeShape == [8, 2, 2])
        #expect(session.inputShape == [1, 28, 28])
        #expect(session.outputShape == [1, 28, 28])
        #expect(session.encoderLayers == 6)
        #expect(session.encoder.layers.count + session.decoder.layers.count == session.model.layers.count)
        #expect(session.decoder.layers.first?.name == "layers.6")
        #expect(session.fingerprint == checkpoint.fingerprint)
        #expect(session.threads >= 1)
    }

    @Test("a forecaster checkpoint is refused with a message naming both tasks")
    func wrongTaskRefused() throws {
        let (_, checkpoint) = try forecasterCheckpoint(features: ["a"], targets: ["a"])
        do {
            _ = try ImageCodecSession(checkpoint: checkpoint)
            Issue.record("expected an error")
        } catch let error as InferenceError {
            #expect(error.message.contains("image-autoencoder"))
            #expect(error.message.contains("'forecaster'"))
        }
    }

    @Test("an encoder split outside the model is refused")
    func badEncoderSplit() throws {
        var (_, checkpoint) = try cae2Checkpoint()
        for bad in [0, 12] {
            checkpoint.input = .image(ImageInputSpec(channels: 1, height: 28, width: 28, pixelScaling: .minusOneToOne,
                                                     encoderLayers: bad))
            #expect(throws: InferenceError.self) { _ = try ImageCodecSession(checkpoint: checkpoint) }
        }
    }

    @Test("shape errors name the call and the expected batched shape")
    func shapeErrors() throws {
        let (_, checkpoint) = try cae2Checkpoint()
        let session = try ImageCodecSession(checkpoint: checkpoint, threads: 2)
        #expect(throws: ShapeMismatch(layer: "encode (images)", expected: "[N, 1, 28, 28]", found: [2, 28, 28])) {
            _ = try session.encode(Tensor(shape: [2, 28, 28]))
        }
        #expect(throws: ShapeMismatch(layer: "decode (codes)", expected: "[N, 8, 2, 2]", found: [2, 8, 4])) {
            _ = try session.decode(Tensor(shape: [2, 8, 4]))
        }
        #expect(throws: ShapeMismatch(layer: "encode (images)", expected: "[N, 1, 28, 28]", found: [1, 1, 32, 32])) {
            _ = try session.encode(Tensor(shape: [1, 1, 32, 32]))
        }
    }

    @Test("pixels: p/127.5 − 1 or p/255 and back, rounded and clamped")
    func pixels() throws {
        let (_, checkpoint) = try cae2Checkpoint()
        let session = try ImageCodecSession(checkpoint: checkpoint)
        let pixels = (0..<784).map { UInt8($0 % 256) }
        let x = try session.modelInput(pixels: pixels, count: 1)
        #expect(x.shape == [1, 1, 28, 28])
        #expect(x.scalars[0] == -1 && x.scalars[255] == 1 && abs(x.scalars[51] - (51 / 127.5 - 1)) < 1e-7)
        #expect(session.pixels(x) == pixels)
        #expect(throws: InferenceError.self) { _ = try session.modelInput(pixels: pixels, count: 2) }
        let s = PixelScaling.zeroToOne
        #expect(s.modelValue(pixel: 255) == 1 && s.modelValue(pixel: 0) == 0)
        #expect(s.pixel(modelValue: 2) == 255 && s.pixel(modelValue: -1) == 0 && s.pixel(modelValue: .nan) == 0)
        #expect(PixelScaling.minusOneToOne.pixel(modelValue: 0) == 128)  // 127.5 rounds half away from zero
        #expect((0...255).allSatisfy { s.pixel(modelValue: s.modelValue(pixel: UInt8($0))) == UInt8($0) })
    }
}

@Suite("inference: forecast session")
struct InferenceForecastTests {
    let names = ["close", "volume", "spread"]

    @Test("predict equals the model's forward; k = 1 forecast equals predict")
    func predictAndOneStep() throws {
        let (model, checkpoint) = try forecasterCheckpoint(features: names, targets: names)
        let session = try ForecastSession(checkpoint: checkpoint, threads: 2)
        let x = noise([4, 6, 3], seed: 5)
        let y = try session.predict(x)
        #expect(y == (try model.forward(x)))
        #expect(y.shape == [4, 3])
        let k1 = try session.forecast(windows: x, steps: 1)
        #expect(k1.scalars == y.scalars && k1.shape == [4, 1, 3])
        let rows = (0..<6).map { t in (0..<3).map { Double(x[0, t, $0]) } }
        let one = try session.forecast(window: rows, steps: 1)
        #expect(one == [(0..<3).map { Double(y[0, $0]) }])
    }

    @Test("k > 1 feeds each prediction back: recomputed step by step with the model")
    func feedback() throws {
        let (model, checkpoint) = try forecasterCheckpoint(features: names, targets: names)
        let session = try ForecastSession(checkpoint: checkpoint, threads: 2)
        let x = noise([3, 6, 3], seed: 6)
        let k = 4
        let batched = try session.forecast(windows: x, steps: k)
        #expect(batched.shape == [3, k, 3])
        for i in 0..<3 {
            var window = (0..<6).map { t in (0..<3).map { x[i, t, $0] } }
            let single = try session.forecast(window: window.map { $0.map(Double.init) }, steps: k)
            for s in 0..<k {
                let y = try model.forward(Tensor(shape: [1, 6, 3], scalars: window.flatMap { $0 }))
                #expect(single[s] == y.scalars.map(Double.init), "sample \(i) step \(s)")
                #expect(Array(batched.scalars[(i * k + s) * 3 ..< (i * k + s + 1) * 3]) == y.scalars)
                window = Array(window.dropFirst()) + [y.scalars]
            }
        }
    }

    @Test("k > 1 with targets that are not the features: the error names the missing features")
    func feedbackNeedsAllFeatures() throws {
        let (_, checkpoint) = try forecasterCheckpoint(features: names, targets: ["close"])
        let session = try ForecastSession(checkpoint: checkpoint)
        let rows = Array(repeating: [0.1, 0.2, 0.3], count: 6)
        #expect(try session.forecast(window: rows, steps: 1).count == 1)
        do {
            _ = try session.forecast(window: rows, steps: 2)
            Issue.record("expected an error")
        } catch let error as InferenceError {
            #expect(error.message.contains("'volume', 'spread'"))
            #expect(error.message.contains("[close, volume, spread]"))
        }
        let (_, reordered) = try forecasterCheckpoint(features: names, targets: ["volume", "close", "spread"])
        #expect(throws: InferenceError.self) { _ = try ForecastSession(checkpoint: reordered).forecast(window: rows, steps: 3) }
        #expect(try ForecastSession(checkpoint: reordered).feedbackProblem?.message.contains("order") == true)
        let (_, farAhead) = try forecasterCheckpoint(features: names, targets: names, horizon: 5)
        #expect(try ForecastSession(checkpoint: farAhead).feedbackProblem?.message.contains("horizon 1") == true)
    }

    @Test("shape errors: window rows, row width, batched shape, steps")
    func shapeErrors() throws {
        let (_, checkpoint) = try forecasterCheckpoint(features: names, targets: names)
        let session = try ForecastSession(checkpoint: checkpoint)
        #expect(throws: InferenceError.self) { _ = try session.forecast(window: Array(repeating: [0, 0, 0], count: 5), steps: 1) }
        #expect(throws: InferenceError.self) {
            _ = try session.forecast(window: Array(repeating: [0, 0, 0], count: 5) + [[0, 0]], steps: 1)
        }
        #expect(throws: InferenceError.self) { _ = try session.forecast(window: Array(repeating: [0, 0, 0], count: 6), steps: 0) }
        #expect(throws: ShapeMismatch.self) { _ = try session.predict(Tensor(shape: [2, 6, 2])) }
        #expect(throws: ShapeMismatch.self) { _ = try session.predict(Tensor(shape: [2, 7, 3])) }
        #expect(throws: ShapeMismatch.self) { _ = try session.predict(Tensor(shape: [6, 3])) }
    }

    @Test("an image checkpoint is refused; a target outside the features is refused")
    func refused() throws {
        let (_, image) = try cae2Checkpoint()
        do {
            _ = try ForecastSession(checkpoint: image)
            Issue.record("expected an error")
        } catch let error as InferenceError {
            #expect(error.message.contains("forecaster"))
            #expect(error.message.contains("'image-autoencoder'"))
        }
        var (_, bad) = try forecasterCheckpoint(features: names, targets: ["close"])
        guard case var .series(spec) = bad.input else { return }
        spec.targets = ["price"]
        bad.input = .series(spec)
        #expect(throws: InferenceError("target 'price' is not one of the features [close, volume, spread]")) {
            _ = try ForecastSession(checkpoint: bad)
        }
    }

    @Test("normalize / denormalize with the checkpoint's statistics")
    func normalisation() throws {
        let (_, checkpoint) = try forecasterCheckpoint(features: names, targets: ["spread", "close"])
        let session = try ForecastSession(checkpoint: checkpoint)
        // mean = [0.01, 0.02, 0.03], std = [0.5, 1.5, 2.5]
        let raw = [[0.51, 1.52, 2.53], [0.01, 0.02, 0.03]]
        let z = try session.normalize(features: raw)
        #expect(z[1] == [0, 0, 0])
        #expect(zip(z[0], [1.0, 1.0, 1.0]).allSatisfy { abs($0 - $1) < 1e-12 })
        let back = try session.denormalize(features: z)
        #expect(zip(back.flatMap { $0 }, raw.flatMap { $0 }).allSatisfy { abs($0 - $1) < 1e-12 })
        #expect(try session.denormalize(predictions: [[1, 1]]) == [[2.53, 0.51]])
        #expect(throws: InferenceError.self) { _ = try session.normalize(features: [[1, 2]]) }
        #expect(throws: InferenceError.self) { _ = try session.denormalize(predictions: [[1, 2, 3]]) }
    }
}

@Suite("inference: activation statistics")
struct InferenceStatisticsTests {
    @Test("mean, population std, min, max and a histogram over the given range")
    func statistics() {
        let s = ParameterStatistics([0, 0.25, 0.5, 1], bins: 4, range: 0...1)
        #expect(s.count == 4 && s.mean == 0.4375 && s.min == 0 && s.max == 1)
        #expect(abs(s.std - (0.13671875 as Double).squareRoot()) < 1e-12)
        #expect(s.histogram == [1, 1, 1, 1])  // 1 falls in the last bin
        let constant = ParameterStatistics([2, 2, 2], bins: 5)
        #expect(constant.std == 0 && constant.histogram == [3, 0, 0, 0, 0])
    }

    @Test("every slot: Activation layers and five nonlinearities per stacked LSTM layer")
    func slots() throws {
        let (cae, _) = try cae2Checkpoint()
        let stats = cae.activationStatistics()
        #expect(stats.map(\.path) == ["layers.1", "layers.4", "layers.7", "layers.9", "layers.11"])
        #expect(stats[0].alpha.map(\.label) == ["alpha"] && stats[0].beta != nil && stats[0].units == 16)
        #expect(stats[4].member == "tanh" && stats[4].alpha.isEmpty && stats[4].beta == nil)
        let (lstm, _) = try forecasterCheckpoint(features: ["a", "b"], targets: ["a"])
        let l = lstm.activationStatistics()
        #expect(l.map(\.path) == ["i", "f", "g", "o", "c"].map { "layers.0.\($0)_l0" } + ["i", "f", "g", "o", "c"].map { "layers.0.\($0)_l1" })
        #expect(l[0].member == "p-sig-ramp" && l[2].member == "p-tanh-ramp" && l[0].alpha[0].statistics.mean == 1)
        let pe = try Sequential(specs: [.dense(inFeatures: 2, outFeatures: 3), .activation(.member("p-e-relu"), units: 3)],
                                inputShape: [2]).activationStatistics()
        #expect(pe[0].alpha.map(\.label) == ["alpha[1] relu", "alpha[2] elu", "alpha[3] \(try ActivationFunction.member("p-e-relu").components[2].name)"])
        #expect(pe[0].alpha[0].statistics.histogram.last == 3 && pe[0].alpha[1].statistics.histogram.first == 3)
    }
}
