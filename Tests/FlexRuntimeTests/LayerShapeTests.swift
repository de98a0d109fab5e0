import FlexRuntime
import Testing

/// Output shapes follow PyTorch's formulas:
/// Conv2d ⌊(H + 2p − k)/s⌋ + 1; ConvTranspose2d (H − 1)s − 2p + k + op; MaxPool2d ⌊(H − k)/s⌋ + 1.
@Suite struct LayerShapeTests {
    @Test(arguments: [
        // (in, k, s, p, expected) — expected values from torch.nn.Conv2d on these sizes.
        (28, 3, 3, 1, 10), (5, 3, 2, 1, 3), (32, 4, 2, 1, 16), (16, 4, 2, 1, 8), (8, 4, 2, 1, 4), (7, 3, 1, 0, 5), (6, 3, 2, 0, 2),
    ])
    func conv2dOutput(_ c: (Int, Int, Int, Int, Int)) throws {
        var rng = SplitMix64(seed: 0)
        let layer = Conv2d(inputChannels: 2, outputChannels: 3, kernelSize: c.1, stride: c.2, padding: c.3, rng: &rng)
        #expect(try layer.outputShape(forInput: [2, c.0, c.0]) == [3, c.4, c.4])
        let y = try layer.forward(Tensor(shape: [4, 2, c.0, c.0], repeating: 1))
        #expect(y.shape == [4, 3, c.4, c.4])
    }

    @Test(arguments: [
        (5, 5, 3, 1, 0, 15), (15, 2, 2, 1, 0, 28), (2, 3, 2, 0, 0, 5), (4, 4, 2, 1, 0, 8), (3, 3, 2, 1, 1, 6), (1, 1, 1, 0, 0, 1),
    ])
    func convTransposeOutput(_ c: (Int, Int, Int, Int, Int, Int)) throws {
        var rng = SplitMix64(seed: 0)
        let layer = ConvTranspose2d(inputChannels: 2, outputChannels: 3, kernelSize: c.1, stride: c.2, padding: c.3,
                                    outputPadding: c.4, rng: &rng)
        #expect(try layer.outputShape(forInput: [2, c.0, c.0]) == [3, c.5, c.5])
        let y = try layer.forward(Tensor(shape: [2, 2, c.0, c.0], repeating: 1))
        #expect(y.shape == [2, 3, c.5, c.5])
    }

    @Test(arguments: [(10, 2, 2, 5), (3, 2, 1, 2), (7, 3, 2, 3), (5, 5, 1, 1)])
    func maxPoolOutput(_ c: (Int, Int, Int, Int)) throws {
        let layer = MaxPool2d(kernelSize: c.1, stride: c.2)
        #expect(try layer.outputShape(forInput: [4, c.0, c.0]) == [4, c.3, c.3])
    }

    @Test func shapeMismatchNamesLayerAndShapes() throws {
        var rng = SplitMix64(seed: 0)
        let layer = Conv2d(name: "layers.3", inputChannels: 16, outputChannels: 8, kernelSize: 3, stride: 2, padding: 1, rng: &rng)
        let error = #expect(throws: ShapeMismatch.self) { try layer.forward(Tensor(shape: [2, 8, 5, 5])) }
        #expect(error?.description == "layers.3 (Conv2d): expected input of shape [N, 16, H, W], found [2, 8, 5, 5]")
        let dense = Dense(name: "layers.1", inputFeatures: 16, outputFeatures: 1, rng: &rng)
        let e2 = #expect(throws: ShapeMismatch.self) { try dense.forward(Tensor(shape: [3, 15])) }
        #expect(e2?.description == "layers.1 (Linear): expected input of shape [N, 16], found [3, 15]")
        let pool = MaxPool2d(name: "layers.2", kernelSize: 3, stride: 1)
        #expect(throws: ShapeMismatch.self) { try pool.forward(Tensor(shape: [1, 1, 2, 2])) }
    }

    @Test func maxPoolPicksWindowMaximum() throws {
        // 1×1×4×4 counting input: each 2×2 window's max is its bottom-right element.
        let x = Tensor(shape: [1, 1, 4, 4], scalars: (0..<16).map(Float.init))
        let y = try MaxPool2d(kernelSize: 2, stride: 2).forward(x)
        #expect(y.scalars == [5, 7, 13, 15])
        let y1 = try MaxPool2d(kernelSize: 2, stride: 1).forward(x)
        #expect(y1.scalars == [5, 6, 7, 9, 10, 11, 13, 14, 15])
    }

    @Test func convMatchesDirectSum() throws {
        // A direct (naive) evaluation of the PyTorch definition on a random case.
        var rng = SplitMix64(seed: 9)
        let layer = Conv2d(inputChannels: 3, outputChannels: 4, kernelSize: 3, stride: 2, padding: 1, rng: &rng)
        let x = Tensor(shape: [2, 3, 7, 6], scalars: (0..<252).map { _ in rng.uniform(-1, 1) })
        let y = try layer.forward(x)
        #expect(y.shape == [2, 4, 4, 3])
        for n in 0..<2 { for o in 0..<4 { for i in 0..<4 { for j in 0..<3 {
            var s = Double(layer.bias.scalars[o])
            for c in 0..<3 { for u in 0..<3 { for v in 0..<3 {
                let yy = i * 2 - 1 + u, xx = j * 2 - 1 + v
                if yy >= 0, yy < 7, xx >= 0, xx < 6 { s += Double(layer.weight[o, c, u, v]) * Double(x[n, c, yy, xx]) }
            } } }
            #expect(abs(Double(y[n, o, i, j]) - s) < 1e-5)
        } } } }
    }

    @Test func convTransposeMatchesDirectScatter() throws {
        var rng = SplitMix64(seed: 10)
        let layer = ConvTranspose2d(inputChannels: 3, outputChannels: 2, kernelSize: 3, stride: 2, padding: 1,
                                    outputPadding: 1, rng: &rng)
        let x = Tensor(shape: [2, 3, 3, 4], scalars: (0..<72).map { _ in rng.uniform(-1, 1) })
        let y = try layer.forward(x)
        #expect(y.shape == [2, 2, 6, 8])
        var ref = [Double](repeating: 0, count: y.count)
        for n in 0..<2 { for o in 0..<2 { for p in 0..<48 { ref[(n * 2 + o) * 48 + p] = Double(layer.bias.scalars[o]) } } }
        for n in 0..<2 { for c in 0..<3 { for i in 0..<3 { for j in 0..<4 { for o in 0..<2 { for u in 0..<3 { for v in 0..<3 {
            let yy = i * 2 - 1 + u, xx = j * 2 - 1 + v
            if yy >= 0, yy < 6, xx >= 0, xx < 8 {
                ref[((n * 2 + o) * 6 + yy) * 8 + xx] += Double(layer.weight[c, o, u, v]) * Double(x[n, c, i, j])
            }
        } } } } } } }
        for i in 0..<y.count { #expect(abs(Double(y.scalars[i]) - ref[i]) < 1e-5) }
    }
}

@Suite struct LayerSpecValidationTests {
    @Test func pytorchValidSettingsAreAccepted() throws {
        // PyTorch accepts padding larger than half the kernel for Conv2d (e.g. k1 p1).
        var rng = SplitMix64(seed: 0)
        let layer = try LayerSpec.conv2d(inChannels: 1, outChannels: 2, kernel: 1, stride: 1, padding: 1)
            .makeLayer(name: "layers.0", rng: &rng)
        #expect(try layer.outputShape(forInput: [1, 4, 4]) == [2, 6, 6])
    }

    @Test func invalidSettingsNameTheField() throws {
        var rng = SplitMix64(seed: 0)
        let cases: [(LayerSpec, String)] = [
            (.conv2d(inChannels: 1, outChannels: 2, kernel: 3, stride: 0, padding: 1), "layers.0 (Conv2d): stride must be positive, found 0"),
            (.conv2d(inChannels: 1, outChannels: 2, kernel: 3, stride: 1, padding: -1), "layers.0 (Conv2d): padding must be >= 0, found -1"),
            (.convTranspose2d(inChannels: 1, outChannels: 1, kernel: 3, stride: 2, padding: 0, outputPadding: 2),
             "layers.0 (ConvTranspose2d): output padding must be in 0..<stride (2), found 2"),
            (.maxPool2d(kernel: 0, stride: 1), "layers.0 (MaxPool2d): kernel must be positive, found 0"),
            (.dense(inFeatures: 0, outFeatures: 1), "layers.0 (Linear): inFeatures must be positive, found 0"),
        ]
        for (spec, message) in cases {
            let e = #expect(throws: ConfigurationError.self) { _ = try spec.makeLayer(name: "layers.0", rng: &rng) }
            #expect(e?.message == message)
        }
    }
}
