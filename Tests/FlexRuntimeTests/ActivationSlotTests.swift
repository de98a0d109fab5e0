import FlexRuntime
import Testing

/// The one definition of where α and β live (`LayerSpec.activationSlots`): the names and shapes the
/// checkpoint format documents, and the layers' own parameters built from it.
@Suite struct ActivationSlotTests {
    static func member(_ name: String) -> ActivationFunction {
        // swiftlint:disable:next force_try
        try! ActivationFunction.member(name)
    }

    @Test func lstmHasFiveSlotsPerStackedLayerWithTheDocumentedNames() throws {
        let spec = LayerSpec.lstm(inputSize: 3, hiddenSize: 4, numLayers: 2, gate: Self.member("p-sig-ramp"),
                                  cell: Self.member("p-e-relu"))
        let slots = spec.activationSlots
        #expect(slots.count == 10)
        #expect(slots.map { "\($0.nonlinearity!.prefix)\($0.stackedLayer)" }
            == ["i0", "f0", "g0", "o0", "c0", "i1", "f1", "g1", "o1", "c1"])
        // Gates i, f, o take the gate member; g and c the cell member.
        #expect(slots.map(\.function.name) == Array(repeating: ["p-sig-ramp", "p-sig-ramp", "p-e-relu", "p-sig-ramp", "p-e-relu"], count: 2).flatMap { $0 })
        #expect(slots[0].alphaName == "i_alpha_l0" && slots[0].betaName == "i_beta_l0" && slots[0].alphaShape == [4])
        // p-e-relu: three simplex weights, no β.
        #expect(slots[7].alphaName == "g_alpha_l1" && slots[7].betaName == nil && slots[7].alphaShape == [4, 3])

        // The layer's α/β parameters are exactly the slots' tensors, in order, with the initial values.
        var rng = SplitMix64(seed: 1)
        let layer = try spec.makeLayer(name: "rnn", rng: &rng)
        let expected = slots.flatMap { [$0.alphaName, $0.betaName].compactMap { $0 } }
        #expect(layer.parameterNames.filter { $0.contains("_alpha_") || $0.contains("_beta_") } == expected)
        for bound in layer.activationSlots {
            let a = try #require(bound.alphaIndex)
            #expect(layer.parameters[a] == bound.slot.initialAlpha())
            #expect(bound.betaIndex.map { layer.parameters[$0] } == bound.slot.initialBeta())
            #expect(bound.name == "rnn.\(bound.slot.nonlinearity!.prefix)_l\(bound.slot.stackedLayer)")
        }
    }

    @Test func activationLayerHasOneSlotNamedAlphaBeta() throws {
        for (name, names) in [("p-sig-ramp", ["alpha", "beta"]), ("p-e-relu", ["alpha"]), ("prelu", ["beta"]), ("tanh", [])] {
            let spec = LayerSpec.activation(Self.member(name), units: 6)
            let slot = try #require(spec.activationSlots.first)
            #expect(spec.activationSlots.count == 1 && slot.nonlinearity == nil)
            #expect([slot.alphaName, slot.betaName].compactMap { $0 } == names)
            var rng = SplitMix64(seed: 2)
            let layer = try spec.makeLayer(name: "layers.1", rng: &rng)
            #expect(layer.parameterNames == names)
            #expect(layer.activationSlots.first?.name == "layers.1")
        }
        #expect(LayerSpec.dense(inFeatures: 2, outFeatures: 3).activationSlots.isEmpty)
    }
}
