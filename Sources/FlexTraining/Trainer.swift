import FlexRuntime

extension Layer {
    /// Restores feasibility after an optimiser step, in place: α clipped to [0, 1] (one free weight) or
    /// projected onto the simplex (K weights), β clamped to its domain (see `ActivationFunction.project`), in
    /// every activation slot of the layer (`LayerSpec.activationSlots`).
    public func projectParameters() {
        for slot in activationSlots {
            var a: [Float] = [], b: [Float] = []
            if let i = slot.alphaIndex { swap(&a, &parameters[i].scalars) }
            if let i = slot.betaIndex { swap(&b, &parameters[i].scalars) }
            if !a.isEmpty || !b.isEmpty { slot.function.project(alpha: &a, beta: &b) }
            if let i = slot.alphaIndex { swap(&a, &parameters[i].scalars) }
            if let i = slot.betaIndex { swap(&b, &parameters[i].scalars) }
        }
    }
}

extension Sequential {
    /// Restores α/β feasibility in every slot (after an optimiser step): α clipped to [0, 1] or projected
    /// onto the simplex, β clamped to its domain.
    public func projectActivationParameters() {
        for layer in layers { layer.projectParameters() }
    }
}

/// Mini-batch training of a `Sequential` model: MSE loss, the layer-wise regulariser (eq. 7) on α and β,
/// Adam, then projection of α/β back onto their feasible sets.
///
/// Regulariser groups (see `regularizerGroups()`): each activation slot contributes its α (as component weights,
/// default the member's initial α, bounds [0, 1]) and, when `regularizeBeta`, its β (default the initial β).
/// Every slot is its own layer j in the towards-mean term, with λ_j = 1.
public final class Trainer {
    public let model: Sequential
    public var optimizer: Adam
    public var regularizer: LayerwiseRegularizer
    public var regularizeBeta: Bool
    /// Threads for the data-parallel forward/backward pass (same count ⇒ identical results).
    public var threads: Int

    public init(model: Sequential, optimizer: Adam = Adam(), regularizer: LayerwiseRegularizer = .init(),
                regularizeBeta: Bool = true, threads: Int = 1) {
        self.model = model
        self.optimizer = optimizer
        self.regularizer = regularizer
        self.regularizeBeta = regularizeBeta
        self.threads = max(1, threads)
    }

    /// One regulariser group and where its values come from.
    public struct RegularizedParameter: Sendable {
        public var layer: Int
        public var parameter: Int
        /// True when the group holds a free weight α expanded to its two components (α, 1 − α).
        public var expandsFreeWeight: Bool
        public var group: RegularizerGroup
    }

    /// The regulariser's groups with the (layer, parameter) each one reads.
    ///
    /// α enters eq. 7 as the component weights α_ijk: a member with one free weight α has the two components
    /// (α, 1 − α), so its group is expanded to width 2 — the towards-mean and towards-default terms then count
    /// both components, and the boundary term keeps α away from both ends (α > 1 − Δ and 1 − α > 1 − Δ, i.e.
    /// α < Δ). Members with K ≥ 3 components store all K weights already. β enters the towards-mean and
    /// towards-default terms; it has no boundary term (its domains are one-sided and the projection keeps it
    /// feasible).
    public func regularizerGroups() throws(ConfigurationError) -> [RegularizedParameter] {
        var out: [RegularizedParameter] = []
        for (l, slot) in model.activationSlots {
            let layer = model.layers[l]
            let f = slot.function
            if let i = slot.alphaIndex {
                let stored = layer.parameters[i].scalars
                if f.alphaWidth == 1 {
                    let a0 = f.defaultAlpha()[0]
                    out.append(RegularizedParameter(layer: l, parameter: i, expandsFreeWeight: true, group: try RegularizerGroup(
                        name: "\(slot.name).alpha", values: stored.flatMap { [$0, 1 - $0] }, units: slot.units,
                        width: 2, defaults: [a0, 1 - a0], bounds: .unitInterval)))
                } else {
                    out.append(RegularizedParameter(layer: l, parameter: i, expandsFreeWeight: false, group: try RegularizerGroup(
                        name: "\(slot.name).alpha", values: stored, units: slot.units,
                        width: f.alphaWidth, defaults: f.defaultAlpha(), bounds: .unitInterval)))
                }
            }
            if regularizeBeta, let i = slot.betaIndex {
                out.append(RegularizedParameter(layer: l, parameter: i, expandsFreeWeight: false, group: try RegularizerGroup(
                    name: "\(slot.name).beta", values: layer.parameters[i].scalars, units: slot.units,
                    width: f.betaWidth, defaults: f.defaultBeta(), bounds: nil)))
            }
        }
        return out
    }

    /// The regulariser's value and its gradient with respect to every layer's parameters (zeros elsewhere),
    /// added into `gradients` (shaped as `model.zeroGradients()`).
    public func addRegularizer(to gradients: inout [[Tensor]]) throws(ConfigurationError) -> Double {
        guard !regularizer.isDisabled else { return 0 }
        let entries = try regularizerGroups()
        let r = regularizer.evaluate(entries.map(\.group))
        for (g, entry) in zip(r.gradients, entries) {
            gradients[entry.layer][entry.parameter].scalars.withUnsafeMutableBufferPointer { d in
                if entry.expandsFreeWeight {
                    // ∂R/∂α = ∂R/∂(α) − ∂R/∂(1 − α)
                    for u in 0..<d.count { d[u] += g[2 * u] - g[2 * u + 1] }
                } else {
                    for i in 0..<g.count { d[i] += g[i] }
                }
            }
        }
        return r.loss
    }

    /// The outcome of one optimiser step.
    public struct StepResult: Sendable {
        /// The batch's mean squared error before the step.
        public var loss: Float
        /// The regulariser's value before the step (0 when disabled).
        public var regularization: Double
    }

    /// One step on a mini-batch: gradients of MSE + regulariser, Adam update, α/β projection.
    public func step(input: Tensor, target: Tensor) throws -> StepResult {
        var (loss, grads) = try model.lossAndGradients(input: input, target: target, threads: threads)
        let reg = try addRegularizer(to: &grads)
        // Move the parameters out of the layers so Adam updates them in place (no copy-on-write).
        var flat: [Tensor] = []
        var counts: [Int] = []
        for layer in model.layers {
            counts.append(layer.parameters.count)
            flat += layer.parameters
            layer.parameters = []
        }
        optimizer.step(parameters: &flat, gradients: Array(grads.joined()))
        var k = 0
        for (layer, c) in zip(model.layers, counts) {
            layer.parameters = Array(flat[k ..< k + c])
            k += c
        }
        model.projectActivationParameters()
        return StepResult(loss: loss, regularization: reg)
    }
}
