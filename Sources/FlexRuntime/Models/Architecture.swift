/// The architectures flexctl trains by name: `train cae --arch` and run.json's `architecture` store the raw
/// value.
public enum ArchitectureName: String, Sendable, Codable, CaseIterable, CustomStringConvertible {
    case cae1, cae2, cae3
    /// The LSTM forecaster (`Architecture.lstmForecaster`), sized by its options rather than by its name.
    case lstm

    public var description: String { rawValue }

    /// The convolutional autoencoders.
    public static let autoencoders: [ArchitectureName] = [.cae1, .cae2, .cae3]

    /// Per-sample input shape of a CAE (nil for the LSTM, whose input follows its data).
    public var imageInputShape: [Int]? {
        switch self {
        case .cae1, .cae2: [1, 28, 28]
        case .cae3: [3, 32, 32]
        case .lstm: nil
        }
    }

    /// Number of leading layers that form a CAE's encoder (the code is their output); nil for the LSTM.
    public var encoderLayers: Int? {
        switch self {
        case .cae1: 3
        case .cae2, .cae3: 6
        case .lstm: nil
        }
    }

    /// How a CAE's pixels are scaled: CAE3 ends in a sigmoid ([0, 1]), CAE1 and CAE2 in a tanh ([−1, 1]).
    public var pixelScaling: PixelScaling? {
        switch self {
        case .cae1, .cae2: .minusOneToOne
        case .cae3: .zeroToOne
        case .lstm: nil
        }
    }
}

/// The paper's architectures as data (lists of layer specs), with any activation member in the "act" slots.
public enum Architecture {
    /// CAE1 (1×28×28): Conv2d(1→16, k3, s3, p1), act, MaxPool(2, 2) → code 16×5×5 →
    /// ConvT(16→8, k5, s3, p1), act, ConvT(8→1, k2, s2, p1), tanh.
    public static func cae1(activation act: ActivationFunction) throws(ConfigurationError) -> [LayerSpec] {
        [
            .conv2d(inChannels: 1, outChannels: 16, kernel: 3, stride: 3, padding: 1),
            .activation(act, units: 16),
            .maxPool2d(kernel: 2, stride: 2),
            .convTranspose2d(inChannels: 16, outChannels: 8, kernel: 5, stride: 3, padding: 1, outputPadding: 0),
            .activation(act, units: 8),
            .convTranspose2d(inChannels: 8, outChannels: 1, kernel: 2, stride: 2, padding: 1, outputPadding: 0),
            .activation(try .member("tanh"), units: 1),
        ]
    }

    /// CAE2 (1×28×28): Conv2d(1→16, k3, s3, p1), act, MaxPool(2, 2), Conv2d(16→8, k3, s2, p1), act,
    /// MaxPool(2, 1) → code 8×2×2 → ConvT(8→16, k3, s2), act, ConvT(16→8, k5, s3, p1), act,
    /// ConvT(8→1, k2, s2, p1), tanh.
    public static func cae2(activation act: ActivationFunction) throws(ConfigurationError) -> [LayerSpec] {
        [
            .conv2d(inChannels: 1, outChannels: 16, kernel: 3, stride: 3, padding: 1),
            .activation(act, units: 16),
            .maxPool2d(kernel: 2, stride: 2),
            .conv2d(inChannels: 16, outChannels: 8, kernel: 3, stride: 2, padding: 1),
            .activation(act, units: 8),
            .maxPool2d(kernel: 2, stride: 1),
            .convTranspose2d(inChannels: 8, outChannels: 16, kernel: 3, stride: 2, padding: 0, outputPadding: 0),
            .activation(act, units: 16),
            .convTranspose2d(inChannels: 16, outChannels: 8, kernel: 5, stride: 3, padding: 1, outputPadding: 0),
            .activation(act, units: 8),
            .convTranspose2d(inChannels: 8, outChannels: 1, kernel: 2, stride: 2, padding: 1, outputPadding: 0),
            .activation(try .member("tanh"), units: 1),
        ]
    }

    /// CAE3 (3×32×32): Conv2d(3→12, k4, s2, p1), act, Conv2d(12→24, k4, s2, p1), act,
    /// Conv2d(24→48, k4, s2, p1), act → code 48×4×4 → ConvT(48→24, k4, s2, p1), act,
    /// ConvT(24→12, k4, s2, p1), act, ConvT(12→3, k4, s2, p1), sigmoid.
    public static func cae3(activation act: ActivationFunction) throws(ConfigurationError) -> [LayerSpec] {
        [
            .conv2d(inChannels: 3, outChannels: 12, kernel: 4, stride: 2, padding: 1),
            .activation(act, units: 12),
            .conv2d(inChannels: 12, outChannels: 24, kernel: 4, stride: 2, padding: 1),
            .activation(act, units: 24),
            .conv2d(inChannels: 24, outChannels: 48, kernel: 4, stride: 2, padding: 1),
            .activation(act, units: 48),
            .convTranspose2d(inChannels: 48, outChannels: 24, kernel: 4, stride: 2, padding: 1, outputPadding: 0),
            .activation(act, units: 24),
            .convTranspose2d(inChannels: 24, outChannels: 12, kernel: 4, stride: 2, padding: 1, outputPadding: 0),
            .activation(act, units: 12),
            .convTranspose2d(inChannels: 12, outChannels: 3, kernel: 4, stride: 2, padding: 1, outputPadding: 0),
            .activation(try .member("sigmoid"), units: 3),
        ]
    }

    /// Number of leading layers that form the encoder (the code is their output).
    public static let encoderLayerCount: [String: Int] = Dictionary(
        uniqueKeysWithValues: ArchitectureName.autoencoders.map { ($0.rawValue, $0.encoderLayers!) })

    /// The LSTM forecaster: LSTM(features → hidden, `layers` deep) over a window, then Dense(hidden → targets).
    /// Input `[N, window, features]`, output `[N, targets]`.
    public static func lstmForecaster(features: Int, hidden: Int = 16, layers: Int = 1, targets: Int = 1,
                                      gate: ActivationFunction, cell: ActivationFunction) -> [LayerSpec] {
        [
            .lstm(inputSize: features, hiddenSize: hidden, numLayers: layers, gate: gate, cell: cell),
            .dense(inFeatures: hidden, outFeatures: targets),
        ]
    }

    /// Names accepted by `named(_:activation:)`.
    public static let caeNames = ArchitectureName.autoencoders.map(\.rawValue)

    /// Per-sample input shape of a CAE by name.
    public static func inputShape(of name: String) -> [Int]? { ArchitectureName(rawValue: name)?.imageInputShape }

    /// A CAE by name (`cae1`, `cae2`, `cae3`); an unknown name lists the valid ones.
    public static func named(_ name: String, activation: ActivationFunction) throws(ConfigurationError) -> [LayerSpec] {
        switch ArchitectureName(rawValue: name.lowercased()) {
        case .cae1: return try cae1(activation: activation)
        case .cae2: return try cae2(activation: activation)
        case .cae3: return try cae3(activation: activation)
        case .lstm, nil: throw ConfigurationError("unknown architecture '\(name)'; valid: \(caeNames.joined(separator: ", "))")
        }
    }
}
