// Backward passes, whole-model gradients and Adam against PyTorch autograd (float64) from
// Reference/reference.json.
import Foundation
import FlexRuntime
import FlexTraining
import Testing

@Suite("KnownAnswer gradients") struct KnownAnswerGradientTests {
    @Test func referenceFileLoads() throws {
        let file = try KnownAnswer.file.get()
        #expect(file.cases.count == 36)
    }

    // MARK: Single layers: L = Σ w ⊙ y, ∂L/∂x and ∂L/∂θ

    @Test("Conv2d backward", arguments: KnownAnswer.names("conv2d"))
    func conv2d(_ name: String) throws { try checkBackward(KnownAnswer.case("conv2d", name)) }

    @Test("ConvTranspose2d backward", arguments: KnownAnswer.names("conv_transpose2d"))
    func convTranspose2d(_ name: String) throws { try checkBackward(KnownAnswer.case("conv_transpose2d", name)) }

    @Test("MaxPool2d backward", arguments: KnownAnswer.names("maxpool2d"))
    func maxPool2d(_ name: String) throws { try checkBackward(KnownAnswer.case("maxpool2d", name)) }

    @Test("Linear backward", arguments: KnownAnswer.names("linear"))
    func linear(_ name: String) throws { try checkBackward(KnownAnswer.case("linear", name)) }

    @Test("Activation backward (z, α, β)", arguments: KnownAnswer.names("activation"))
    func activation(_ name: String) throws { try checkBackward(KnownAnswer.case("activation", name)) }

    @Test("LSTM backward (BPTT)", arguments: KnownAnswer.names("lstm"))
    func lstm(_ name: String) throws {
        try checkBackward(KnownAnswer.case("lstm", name), tolerance: KnownAnswerTolerance.composite)
    }

    /// `backward` adds to `gradients` (the trainer accumulates over shards): a second call doubles them.
    @Test("backward accumulates into gradients", arguments: ["conv2d", "conv_transpose2d", "linear", "activation", "lstm"])
    func accumulates(_ kind: String) throws {
        for c in KnownAnswer.cases(kind) where !(c.params ?? [:]).isEmpty {
            let layer = try trainable(c)
            var cache = LayerCache()
            _ = try layer.forward(c.input!.tensor, cache: &cache)
            var g = layer.zeroGradients()
            _ = layer.backward(c.w!.tensor, cache: cache, gradients: &g, needsInputGradient: false)
            _ = layer.backward(c.w!.tensor, cache: cache, gradients: &g, needsInputGradient: false)
            for (i, p) in layer.parameterNames.enumerated() {
                let e = c.gradParams![p]!
                expectClose(g[i], RefTensor(shape: e.shape, data: e.data.map { 2 * $0 }),
                            tolerance: KnownAnswerTolerance.composite, "\(c.name) 2× ∂L/∂\(p)")
            }
        }
    }

    func trainable(_ c: RefCase, sourceLocation: SourceLocation = #_sourceLocation) throws -> any TrainableLayer {
        let layer = try c.makeLayer(sourceLocation: sourceLocation)
        return try #require(layer as? any TrainableLayer, "\(layer.label) is not a TrainableLayer",
                            sourceLocation: sourceLocation)
    }

    func checkBackward(_ c: RefCase, tolerance: Double = KnownAnswerTolerance.layer,
                       sourceLocation: SourceLocation = #_sourceLocation) throws {
        let layer = try trainable(c, sourceLocation: sourceLocation)
        var cache = LayerCache()
        let y = try layer.forward(c.input!.tensor, cache: &cache)
        expectClose(y, c.output!, tolerance: tolerance, "\(c.name) forward(_:cache:) output", sourceLocation: sourceLocation)
        var g = layer.zeroGradients()
        let dx = layer.backward(c.w!.tensor, cache: cache, gradients: &g, needsInputGradient: true)
        let gx = try #require(dx, "\(c.name): no input gradient although needsInputGradient", sourceLocation: sourceLocation)
        expectClose(gx, c.gradInput!, tolerance: tolerance, "\(c.name) ∂L/∂x", sourceLocation: sourceLocation)
        for (i, p) in layer.parameterNames.enumerated() {
            guard let e = c.gradParams?[p] else {
                Issue.record("\(c.name): reference has no gradient for \(p)", sourceLocation: sourceLocation)
                continue
            }
            expectClose(g[i], e, tolerance: tolerance, "\(c.name) ∂L/∂\(p)", sourceLocation: sourceLocation)
        }
    }

    // MARK: Whole CAEs: MSE loss and ∂loss/∂θ for every parameter

    @Test("CAE loss and gradients (P-E2-ReLU)", arguments: KnownAnswer.names("cae"))
    func cae(_ name: String) throws {
        let c = try KnownAnswer.case("cae", name)
        let model = try makeReferenceCAE(c)
        let (loss, grads) = try model.lossAndGradients(input: c.input!.tensor, target: c.target!.tensor)
        checkCAE(c, model: model, loss: loss, grads: grads, what: "")
    }

    /// The sharded (multi-threaded) path must give the same full-batch mean.
    @Test("CAE loss and gradients, 2 shards", arguments: KnownAnswer.names("cae"))
    func caeSharded(_ name: String) throws {
        let c = try KnownAnswer.case("cae", name)
        let model = try makeReferenceCAE(c)
        let (loss, grads) = try model.lossAndGradients(input: c.input!.tensor, target: c.target!.tensor, threads: 2)
        checkCAE(c, model: model, loss: loss, grads: grads, what: " (2 shards)")
    }

    func checkCAE(_ c: RefCase, model: Sequential, loss: Float, grads: [[Tensor]], what: String,
                  sourceLocation: SourceLocation = #_sourceLocation) {
        let refLoss = c.loss!
        #expect(abs(Double(loss) - refLoss) <= KnownAnswerTolerance.composite * abs(refLoss),
                "\(c.name)\(what) loss \(loss), expected \(refLoss)", sourceLocation: sourceLocation)
        for (l, layer) in model.layers.enumerated() {
            for (i, p) in layer.parameterNames.enumerated() {
                let key = "\(layer.name).\(p)"
                guard let e = c.gradParams?[key] else {
                    Issue.record("\(c.name): reference has no gradient for \(key)", sourceLocation: sourceLocation)
                    continue
                }
                expectClose(grads[l][i], e, tolerance: KnownAnswerTolerance.composite, "\(c.name)\(what) ∂loss/∂\(key)",
                            sourceLocation: sourceLocation)
            }
        }
    }

    // MARK: Adam

    @Test func adamTwoSteps() throws {
        let c = try #require(KnownAnswer.cases("adam").first)
        var adam = Adam(learningRate: c.lr!, beta1: c.beta1!, beta2: c.beta2!, epsilon: c.eps!, weightDecay: c.weightDecay!)
        var params = [c.initial!.tensor]
        var before = c.initial!
        for (step, (g, after)) in zip(c.gradients!, c.afterSteps!).enumerated() {
            adam.step(parameters: &params, gradients: [g.tensor])
            expectClose(params[0], after, "Adam parameters after step \(step + 1)")
            // The update itself (≈ lr) must match closely too, not only the parameter it is added to.
            let update = Tensor(shape: params[0].shape, scalars: zip(params[0].scalars, before.data).map { Float(Double($0) - $1) })
            let refUpdate = RefTensor(shape: after.shape, data: zip(after.data, before.data).map { $0 - $1 })
            expectClose(update, refUpdate, tolerance: KnownAnswerTolerance.adamUpdate, "Adam update at step \(step + 1)")
            before = after
        }
    }

    // MARK: The checks can fail

    /// A gradient computed for a different weighting (one element of w moved by 0.1) must not match.
    @Test("Perturbed output weighting breaks agreement", arguments: ["conv2d", "conv_transpose2d", "maxpool2d", "linear", "activation", "lstm"])
    func perturbed(_ kind: String) throws {
        for c in KnownAnswer.cases(kind) {
            let layer = try trainable(c)
            var cache = LayerCache()
            _ = try layer.forward(c.input!.tensor, cache: &cache)
            var w = c.w!.tensor
            w.scalars[w.count / 2] += 0.1
            var g = layer.zeroGradients()
            let dx = layer.backward(w, cache: cache, gradients: &g, needsInputGradient: true)!
            var anyFails = !compare(dx, c.gradInput!, tolerance: KnownAnswerTolerance.layer).passes
            for (i, p) in layer.parameterNames.enumerated() {
                anyFails = anyFails || !compare(g[i], c.gradParams![p]!, tolerance: KnownAnswerTolerance.layer).passes
            }
            #expect(anyFails, "\(c.name): gradients for a perturbed w still match the reference")
        }
    }

    @Test("Perturbed CAE target breaks agreement")
    func perturbedCAE() throws {
        let c = try KnownAnswer.case("cae", "cae1")
        let model = try makeReferenceCAE(c)
        var target = c.target!.tensor
        target.scalars[100] += 0.05
        let (_, grads) = try model.lossAndGradients(input: c.input!.tensor, target: target)
        let last = model.layers.count - 2  // the final ConvTranspose2d
        #expect(!compare(grads[last][1], c.gradParams!["layers.\(last).bias"]!, tolerance: KnownAnswerTolerance.composite).passes)
    }
}

