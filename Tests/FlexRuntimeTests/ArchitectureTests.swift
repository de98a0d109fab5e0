import FlexRuntime
import Testing

@Suite struct ArchitectureTests {
    @Test(arguments: ["cae1", "cae2", "cae3"])
    func caeMapsImageToSameShape(_ name: String) throws {
        let input = try #require(Architecture.inputShape(of: name))
        let model = try Sequential(specs: Architecture.named(name, activation: .member("p-e2-relu")), inputShape: input, seed: 1)
        #expect(model.outputShape == input)
        let y = try model.forward(Tensor(shape: [3] + input, repeating: 0.5))
        #expect(y.shape == [3] + input)
    }

    @Test func codeShapesMatchThePaper() throws {
        let act = try ActivationFunction.member("relu")
        let cae1 = try Sequential(specs: Architecture.cae1(activation: act), inputShape: [1, 28, 28])
        #expect(cae1.layerOutputShapes[Architecture.encoderLayerCount["cae1"]! - 1] == [16, 5, 5])
        let cae2 = try Sequential(specs: Architecture.cae2(activation: act), inputShape: [1, 28, 28])
        #expect(cae2.layerOutputShapes[Architecture.encoderLayerCount["cae2"]! - 1] == [8, 2, 2])
        let cae3 = try Sequential(specs: Architecture.cae3(activation: act), inputShape: [3, 32, 32])
        #expect(cae3.layerOutputShapes[Architecture.encoderLayerCount["cae3"]! - 1] == [48, 4, 4])
        // Parameter counts as torch.nn modules of the same shapes report (weights + biases + per-channel α/β).
        let convLayers: [any Layer] = cae2.layers.filter { $0 is Conv2d || $0 is ConvTranspose2d }
        let convCount: Int = convLayers.reduce(0) { $0 + $1.parameterCount }
        let expected: [Int] = [16 * 9 + 16, 8 * 16 * 9 + 8, 8 * 16 * 9 + 16, 16 * 8 * 25 + 8, 8 * 4 + 1]
        #expect(convCount == expected.reduce(0, +))
    }

    @Test func forecasterShapes() throws {
        let specs = Architecture.lstmForecaster(features: 4, hidden: 16, layers: 2, targets: 1,
                                                gate: try .member("p-sig-ramp"), cell: try .member("p-tanh-ramp"))
        let model = try Sequential(specs: specs, inputShape: [30, 4], seed: 2)
        #expect(model.outputShape == [1])
        let y = try model.forward(Tensor(shape: [5, 30, 4], repeating: 0.1))
        #expect(y.shape == [5, 1])
    }

    @Test func unknownArchitectureListsChoices() throws {
        let e = #expect(throws: ConfigurationError.self) { try Architecture.named("cae9", activation: .member("relu")) }
        #expect(e?.message == "unknown architecture 'cae9'; valid: cae1, cae2, cae3")
    }

    @Test func mismatchedSpecsAreRefusedAtConstruction() throws {
        let specs: [LayerSpec] = [
            .conv2d(inChannels: 1, outChannels: 4, kernel: 3, stride: 1, padding: 1),
            .conv2d(inChannels: 5, outChannels: 2, kernel: 3, stride: 1, padding: 1),
        ]
        let e = #expect(throws: ConfigurationError.self) { try Sequential(specs: specs, inputShape: [1, 8, 8]) }
        #expect(e?.message.contains("layers.1 (Conv2d): expected input of shape [N, 5, H, W], found [4, 8, 8]") == true)
    }

    @Test func sameSeedSameParameters() throws {
        let specs = try Architecture.cae3(activation: .member("p-e2-id"))
        let a = try Sequential(specs: specs, inputShape: [3, 32, 32], seed: 42)
        let b = try Sequential(specs: specs, inputShape: [3, 32, 32], seed: 42)
        let c = try Sequential(specs: specs, inputShape: [3, 32, 32], seed: 43)
        #expect(a.namedParameters.map(\.tensor) == b.namedParameters.map(\.tensor))
        #expect(a.namedParameters.map(\.tensor) != c.namedParameters.map(\.tensor))
    }
}
