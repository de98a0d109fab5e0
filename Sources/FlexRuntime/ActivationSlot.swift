// The one definition of where a model keeps its flexible-activation parameters: which tensors are α and β,
// for which member, under which names and in which shapes. Layers build their parameters from it, the
// checkpoint reader checks α/β datasets with it, training projects and regularises through it, and the
// statistics of `inspect` walk it.

/// One set of per-unit flexible-activation parameters ("an activation slot"): an `Activation` layer has one,
/// an LSTM layer has five per stacked layer (nonlinearities i, f, g, o and the cell output c).
///
/// Names inside the layer (the checkpoint's dataset names, docs/checkpoint-format.md): `alpha`, `beta` for an
/// Activation layer; `{x}_alpha_l{l}`, `{x}_beta_l{l}` for nonlinearity x of stacked layer l of an LSTM.
/// Shapes: α `[units]` for one free weight, `[units, K]` for K ≥ 3 components (rows on the simplex); β `[units]`.
/// A member without α (or β) has no such tensor.
public struct ActivationSlot: Sendable, Equatable {
    /// The LSTM nonlinearity, nil for an Activation layer.
    public var nonlinearity: LSTMNonlinearity?
    /// The stacked layer of an LSTM (0 for an Activation layer).
    public var stackedLayer: Int
    public var function: ActivationFunction
    public var units: Int

    public init(nonlinearity: LSTMNonlinearity?, stackedLayer: Int, function: ActivationFunction, units: Int) {
        self.nonlinearity = nonlinearity
        self.stackedLayer = stackedLayer
        self.function = function
        self.units = units
    }

    /// The α tensor's name in its layer, nil when the member has no α.
    public var alphaName: String? {
        function.alphaWidth > 0 ? nonlinearity.map { "\($0.prefix)_alpha_l\(stackedLayer)" } ?? "alpha" : nil
    }

    /// The β tensor's name in its layer, nil when the member has no β.
    public var betaName: String? {
        function.betaWidth > 0 ? nonlinearity.map { "\($0.prefix)_beta_l\(stackedLayer)" } ?? "beta" : nil
    }

    /// α's shape: `[units]` for one free weight, `[units, K]` for K components.
    public var alphaShape: [Int] { function.alphaWidth == 1 ? [units] : [units, function.alphaWidth] }
    /// β's shape: `[units]`.
    public var betaShape: [Int] { function.betaWidth == 1 ? [units] : [units, function.betaWidth] }

    /// The member's initial α for every unit (nil when it has none).
    public func initialAlpha() -> Tensor? {
        alphaName == nil ? nil : Tensor(shape: alphaShape, scalars: Array((0..<units).map { _ in function.defaultAlpha() }.joined()))
    }

    /// The member's initial β for every unit (nil when it has none).
    public func initialBeta() -> Tensor? {
        betaName == nil ? nil : Tensor(shape: betaShape, scalars: Array((0..<units).map { _ in function.defaultBeta() }.joined()))
    }

    /// Column `c` of a stored α: α itself for one free weight (`[units]`), the c-th mixing weight of every unit
    /// for K ≥ 3 components (`[units, K]`).
    public func alphaColumn(_ c: Int, of alpha: Tensor) -> [Float] {
        let k = function.alphaWidth
        return k == 1 ? alpha.scalars : stride(from: c, to: alpha.count, by: k).map { alpha.scalars[$0] }
    }

    /// Dotted path for messages: the layer's name for an Activation layer, `lstm.i_l0` for an LSTM's.
    public func path(inLayer layer: String) -> String {
        nonlinearity.map { "\(layer).\($0.prefix)_l\(stackedLayer)" } ?? layer
    }
}

extension LayerSpec {
    /// The activation slots of a layer of this kind, in parameter order (an LSTM: per stacked layer, i, f, g,
    /// o, c); empty for layers without flexible activations.
    public var activationSlots: [ActivationSlot] {
        switch self {
        case let .activation(f, units):
            return [ActivationSlot(nonlinearity: nil, stackedLayer: 0, function: f, units: units)]
        case let .lstm(_, h, layers, gate, cell):
            return (0..<layers).flatMap { l in
                LSTMNonlinearity.allCases.map { k in
                    ActivationSlot(nonlinearity: k, stackedLayer: l, function: k.isGate ? gate : cell, units: h)
                }
            }
        default:
            return []
        }
    }
}

/// An activation slot of a layer instance: the slot with the indices of its tensors in the layer's
/// `parameters`.
public struct LayerActivationSlot: Sendable {
    public var slot: ActivationSlot
    /// Dotted path for messages, e.g. `layers.1` or `layers.0.i_l0`.
    public var name: String
    /// Index into the layer's `parameters` of α (nil if the function has none).
    public var alphaIndex: Int?
    /// Index into the layer's `parameters` of β (nil if the function has none).
    public var betaIndex: Int?

    public var function: ActivationFunction { slot.function }
    public var units: Int { slot.units }
}

extension Layer {
    /// The layer's activation slots with the indices of their tensors (empty for layers without any).
    public var activationSlots: [LayerActivationSlot] {
        let names = parameterNames
        return spec.activationSlots.map { s in
            LayerActivationSlot(slot: s, name: s.path(inLayer: name),
                                alphaIndex: s.alphaName.flatMap { names.firstIndex(of: $0) },
                                betaIndex: s.betaName.flatMap { names.firstIndex(of: $0) })
        }
    }
}

extension Sequential {
    /// Every activation slot of the model with the index of its layer.
    public var activationSlots: [(layer: Int, slot: LayerActivationSlot)] {
        layers.enumerated().flatMap { (i, layer) in layer.activationSlots.map { (i, $0) } }
    }
}
