// Forward passes against PyTorch (float64) values from Reference/reference.json.
import Foundation
import FlexRuntime
import Testing

/// The test target copies Reference/ as a resource.
func referenceURL() throws -> URL {
    guard let dir = Bundle.module.url(forResource: "Reference", withExtension: nil) else {
        throw ConfigurationError("the Reference resource folder is missing from the test bundle")
    }
    return dir.appendingPathComponent("reference.json")
}

@Suite("KnownAnswer forward") struct KnownAnswerForwardTests {
    @Test func referenceFileLoads() throws {
        let file = try KnownAnswer.file.get()
        let kinds = Dictionary(grouping: file.cases, by: \.kind).mapValues(\.count)
        #expect(kinds["conv2d"] == 7)
        #expect(kinds["conv_transpose2d"] == 6)
        #expect(kinds["maxpool2d"] == 2)
        #expect(kinds["linear"] == 2)
        #expect(kinds["activation"] == ActivationFunction.memberNames.count)
        #expect(kinds["lstm"] == 4)
        #expect(kinds["cae"] == 3)
        #expect(kinds["adam"] == 1)
        #expect(Set(KnownAnswer.cases("activation").map { $0.spec!.member! }) == Set(ActivationFunction.memberNames))
    }

    // MARK: Single layers

    @Test("Conv2d", arguments: KnownAnswer.names("conv2d"))
    func conv2d(_ name: String) throws { try checkForward(KnownAnswer.case("conv2d", name)) }

    @Test("ConvTranspose2d", arguments: KnownAnswer.names("conv_transpose2d"))
    func convTranspose2d(_ name: String) throws { try checkForward(KnownAnswer.case("conv_transpose2d", name)) }

    @Test("MaxPool2d", arguments: KnownAnswer.names("maxpool2d"))
    func maxPool2d(_ name: String) throws { try checkForward(KnownAnswer.case("maxpool2d", name)) }

    @Test("Linear", arguments: KnownAnswer.names("linear"))
    func linear(_ name: String) throws { try checkForward(KnownAnswer.case("linear", name)) }

    @Test("Activation members", arguments: KnownAnswer.names("activation"))
    func activation(_ name: String) throws { try checkForward(KnownAnswer.case("activation", name)) }

    /// The Activation layer on [N, F] inputs is per feature: the reference's [N, U, S] case, with the spatial
    /// axis moved into the batch ([N·S, U]), must give the same values.
    @Test("Activation members on [N, F] inputs", arguments: KnownAnswer.names("activation"))
    func activationDense(_ name: String) throws {
        let c = try KnownAnswer.case("activation", name)
        let layer = try c.makeLayer()
        let x = c.input!, y = c.output!
        let (n, u, s) = (x.shape[0], x.shape[1], x.shape[2])
        // [N, U, S] → [N·S, U]
        func toDense(_ t: RefTensor) -> RefTensor {
            var d = [Double](repeating: 0, count: t.data.count)
            for b in 0..<n { for k in 0..<u { for p in 0..<s { d[(b * s + p) * u + k] = t.data[(b * u + k) * s + p] } } }
            return RefTensor(shape: [n * s, u], data: d)
        }
        let out = try layer.forward(toDense(x).tensor)
        expectClose(out, toDense(y), "\(name) [N, F] output")
    }

    @Test("LSTM", arguments: KnownAnswer.names("lstm"))
    func lstm(_ name: String) throws {
        try checkForward(KnownAnswer.case("lstm", name), tolerance: KnownAnswerTolerance.composite)
    }

    func checkForward(_ c: RefCase, tolerance: Double = KnownAnswerTolerance.layer,
                      sourceLocation: SourceLocation = #_sourceLocation) throws {
        let layer = try c.makeLayer(sourceLocation: sourceLocation)
        let y = try layer.forward(c.input!.tensor)
        expectClose(y, c.output!, tolerance: tolerance, "\(c.name) output", sourceLocation: sourceLocation)
    }

    // MARK: Whole CAEs

    @Test("CAE forward (P-E2-ReLU)", arguments: KnownAnswer.names("cae"))
    func cae(_ name: String) throws {
        let c = try KnownAnswer.case("cae", name)
        let model = try makeReferenceCAE(c)
        let y = try model.forward(c.input!.tensor)
        expectClose(y, c.output!, tolerance: KnownAnswerTolerance.composite, "\(name) output")
    }

    // MARK: The checks can fail

    /// Every forward case must stop matching when one parameter (or, without parameters, one input) moves by
    /// 1e-2: otherwise the comparison would not be testing anything.
    @Test("Perturbed parameters break agreement", arguments: ["conv2d", "conv_transpose2d", "maxpool2d", "linear", "activation", "lstm"])
    func perturbed(_ kind: String) throws {
        for c in KnownAnswer.cases(kind) {
            let layer = try c.makeLayer()
            var x = c.input!.tensor
            if let p = layer.parameterNames.first {
                var t = layer.parameters[0]
                t.scalars[0] += 1e-2
                try layer.setParameter(p, t)
            } else {
                // Without parameters: move the largest input of the first row/plane up by 1e-2.
                let i = x.scalars.indices.max { x.scalars[$0] < x.scalars[$1] }!
                x.scalars[i] += 1e-2
            }
            let y = try layer.forward(x)
            let cmp = compare(y, c.output!, tolerance: KnownAnswerTolerance.layer)
            #expect(!cmp.passes, "\(c.name): a perturbed layer still matches the reference (\(cmp))")
        }
    }

    @Test("Perturbed CAE parameters break agreement", arguments: KnownAnswer.names("cae"))
    func perturbedCAE(_ name: String) throws {
        let c = try KnownAnswer.case("cae", name)
        let model = try makeReferenceCAE(c)
        // Move one α of the last flexible activation: only a deep-in-the-decoder parameter.
        let last = model.layers.lastIndex { $0.parameterNames.contains("alpha") }!
        var a = model.layers[last].parameters[0]
        a.scalars[0] += 1e-2
        try model.layers[last].setParameter(model.layers[last].parameterNames[0], a)
        let cmp = compare(try model.forward(c.input!.tensor), c.output!, tolerance: KnownAnswerTolerance.composite)
        #expect(!cmp.passes, "\(name): perturbed model still matches (\(cmp))")
    }

    @Test func comparisonReportsWorstIndex() {
        let e = RefTensor(shape: [2, 3], data: [1, -2, 3, 0.5, 0, -1])
        var a = e.tensor
        #expect(compare(a, e, tolerance: 1e-5).passes)
        a.scalars[4] = 1e-3  // element [1, 1]
        let c = compare(a, e, tolerance: 1e-5)
        #expect(!c.passes)
        #expect(c.worstIndex == [1, 1])
        #expect(c.failing == 1)
        #expect(!compare(Tensor(shape: [3, 2], scalars: e.data.map(Float.init)), e, tolerance: 1).passes)
    }
}

/// A CAE built through `Architecture` + `Sequential` with the reference's parameters; checks that the
/// architecture matches the reference's layer list and that every parameter is set.
func makeReferenceCAE(_ c: RefCase, sourceLocation: SourceLocation = #_sourceLocation) throws -> Sequential {
    let act = try ActivationFunction.member("p-e2-relu")
    let specs: [LayerSpec]
    switch c.name {
    case "cae1": specs = try Architecture.cae1(activation: act)
    case "cae2": specs = try Architecture.cae2(activation: act)
    case "cae3": specs = try Architecture.cae3(activation: act)
    default: throw ConfigurationError("unknown CAE \(c.name)")
    }
    // The architecture must be the paper's, as the reference script spells it.
    let arch = c.architecture!
    try #require(specs.count == arch.count, "\(c.name): \(specs.count) layers, reference has \(arch.count)",
                 sourceLocation: sourceLocation)
    for (i, (spec, r)) in zip(specs, arch).enumerated() {
        let expected: LayerSpec
        switch r.kind! {
        case "conv2d":
            expected = .conv2d(inChannels: r.inChannels!, outChannels: r.outChannels!, kernel: r.kernel!, stride: r.stride!,
                               padding: r.padding!)
        case "conv_transpose2d":
            expected = .convTranspose2d(inChannels: r.inChannels!, outChannels: r.outChannels!, kernel: r.kernel!,
                                        stride: r.stride!, padding: r.padding!, outputPadding: 0)
        case "maxpool2d": expected = .maxPool2d(kernel: r.kernel!, stride: r.stride!)
        default: expected = .activation(try ActivationFunction.member(r.member!), units: r.units!)
        }
        #expect(spec == expected, "\(c.name) layers.\(i): \(spec.summary), paper has \(expected.summary)",
                sourceLocation: sourceLocation)
    }
    let model = try Sequential(specs: specs, inputShape: c.perSampleInputShape, seed: 1)
    let params = c.params!
    #expect(Set(model.namedParameters.map(\.name)) == Set(params.keys),
            "\(c.name): model parameters \(model.namedParameters.map(\.name)) != reference \(params.keys.sorted())",
            sourceLocation: sourceLocation)
    for layer in model.layers {
        for p in layer.parameterNames {
            if let v = params["\(layer.name).\(p)"] { try layer.setParameter(p, v.tensor) }
        }
    }
    return model
}
