/// The learned image codec's transforms (Ballé, Minnen, Singh, Hwang, Johnston 2018, "factorized prior"; as
/// CompressAI's `FactorizedPrior(N, M)`): four stride-2 5×5 convolutions down to M latent channels at 1/16 of
/// the resolution, and four stride-2 5×5 transposed convolutions back, with a nonlinearity between
/// consecutive convolutions (three in each half).
///
///     analysis:  Conv(C→N) σ Conv(N→N) σ Conv(N→N) σ Conv(N→M)
///     synthesis: ConvT(M→N) σ' ConvT(N→N) σ' ConvT(N→N) σ' ConvT(N→C)
///
/// With kernel 5, stride 2, padding 2 (and output padding 1 in the synthesis) every layer halves or doubles
/// the size exactly, so an image whose sides are multiples of 16 is reproduced at its own size; the codec pads
/// other sizes (replicating the border) and crops after decoding.
public enum CodecNonlinearity: Sendable, Equatable, CustomStringConvertible {
    /// GDN in the analysis, IGDN in the synthesis (the learned-compression baseline).
    case gdn
    /// A (flexible or fixed) activation with per-channel parameters in both halves.
    case activation(ActivationFunction)

    /// `gdn` or the activation's name (`relu`, `p-e2-relu`, ...).
    public var description: String {
        switch self {
        case .gdn: "gdn"
        case let .activation(f): f.name
        }
    }

    /// `gdn` or any activation member name.
    public static func named(_ name: String) throws(ConfigurationError) -> CodecNonlinearity {
        if name.lowercased() == "gdn" { return .gdn }
        do { return .activation(try .member(name)) } catch {
            throw ConfigurationError("unknown codec nonlinearity '\(name)'; valid: gdn, \(ActivationFunction.memberNames.joined(separator: ", "))")
        }
    }

    func spec(channels: Int, synthesis: Bool) -> LayerSpec {
        switch self {
        case .gdn: .gdn(channels: channels, inverse: synthesis)
        case let .activation(f): .activation(f, units: channels)
        }
    }
}

public struct CodecArchitecture: Sendable, Equatable {
    /// Image channels the transforms see (3: gray images are coded as RGB with equal channels).
    public var imageChannels: Int
    /// N, the hidden channels.
    public var channels: Int
    /// M, the latent channels.
    public var latentChannels: Int
    public var nonlinearity: CodecNonlinearity

    /// Every side is divided by this (2⁴).
    public static let stride = 16
    public static let kernel = 5

    public init(imageChannels: Int = 3, channels: Int, latentChannels: Int, nonlinearity: CodecNonlinearity) {
        self.imageChannels = imageChannels
        self.channels = channels
        self.latentChannels = latentChannels
        self.nonlinearity = nonlinearity
    }

    /// The analysis transform g_a: image `[C, H, W]` → latents `[M, H/16, W/16]`.
    public var analysis: [LayerSpec] {
        let n = channels, k = Self.kernel
        return [
            .conv2d(inChannels: imageChannels, outChannels: n, kernel: k, stride: 2, padding: k / 2),
            nonlinearity.spec(channels: n, synthesis: false),
            .conv2d(inChannels: n, outChannels: n, kernel: k, stride: 2, padding: k / 2),
            nonlinearity.spec(channels: n, synthesis: false),
            .conv2d(inChannels: n, outChannels: n, kernel: k, stride: 2, padding: k / 2),
            nonlinearity.spec(channels: n, synthesis: false),
            .conv2d(inChannels: n, outChannels: latentChannels, kernel: k, stride: 2, padding: k / 2),
        ]
    }

    /// The synthesis transform g_s: latents `[M, h, w]` → image `[C, 16h, 16w]` (values near [0, 1]; the
    /// decoder clamps and rounds).
    public var synthesis: [LayerSpec] {
        let n = channels, k = Self.kernel
        return [
            .convTranspose2d(inChannels: latentChannels, outChannels: n, kernel: k, stride: 2, padding: k / 2, outputPadding: 1),
            nonlinearity.spec(channels: n, synthesis: true),
            .convTranspose2d(inChannels: n, outChannels: n, kernel: k, stride: 2, padding: k / 2, outputPadding: 1),
            nonlinearity.spec(channels: n, synthesis: true),
            .convTranspose2d(inChannels: n, outChannels: n, kernel: k, stride: 2, padding: k / 2, outputPadding: 1),
            nonlinearity.spec(channels: n, synthesis: true),
            .convTranspose2d(inChannels: n, outChannels: imageChannels, kernel: k, stride: 2, padding: k / 2, outputPadding: 1),
        ]
    }
}
