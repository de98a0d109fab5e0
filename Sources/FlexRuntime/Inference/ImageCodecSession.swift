/// An image auto-encoder loaded once from a checkpoint, for batched encoding (images → codes) and decoding
/// (codes → images).
///
/// The encoder is the checkpoint's first `encoderLayers` layers, the decoder the rest; both share the one
/// loaded model's layers. Batches run through `Sequential.forward(_:threads:)`: the batch is split into
/// `threads` contiguous shards run concurrently, and the result equals the single-threaded pass exactly.
/// A session is immutable after `init` and may be used from several threads at once.
///
/// Images are NCHW tensors in model scale (see `pixelScaling`; `modelInput(pixels:count:)` converts 8-bit
/// pixels). See docs/runtime.md.
public final class ImageCodecSession: Sendable {
    /// The whole auto-encoder (encoder then decoder).
    public let model: Sequential
    /// The first `encoderLayers` layers of `model` (the same layer objects).
    public let encoder: Sequential
    /// The remaining layers of `model` (the same layer objects).
    public let decoder: Sequential
    /// The checkpoint's input specification.
    public let input: ImageInputSpec
    /// The checkpoint's fingerprint (`sha256:…`), to bind derived files (codes) to this model.
    public let fingerprint: String
    /// Worker threads per batch.
    public let threads: Int
    /// One workspace per thread, reused by every call (see docs/runtime.md, "Memory").
    private let buffers: SessionBuffers

    /// Per-sample image shape `[C, H, W]`.
    public var inputShape: [Int] { model.inputShape }
    /// Per-sample code shape, e.g. `[8, 2, 2]` for CAE2: the output of the encoder's last layer.
    public var codeShape: [Int] { encoder.outputShape }
    /// Per-sample decoded image shape (the model's output, normally equal to `inputShape`).
    public var outputShape: [Int] { model.outputShape }
    /// Number of leading layers that form the encoder.
    public var encoderLayers: Int { encoder.layers.count }
    /// How 8-bit pixels map to model inputs.
    public var pixelScaling: PixelScaling { input.pixelScaling }

    /// Builds the model from `checkpoint` (once). Refuses a checkpoint that is not an image auto-encoder, or
    /// whose encoder split is not inside the model.
    public init(checkpoint: Checkpoint, threads: Int = Inference.defaultThreads) throws {
        guard checkpoint.task == .imageAutoencoder else {
            throw InferenceError("ImageCodecSession needs an image-autoencoder checkpoint; this checkpoint's task is "
                + "'\(checkpoint.task.rawValue)' (use ForecastSession for forecasters)")
        }
        guard case let .image(spec) = checkpoint.input else {
            throw InferenceError("ImageCodecSession needs an image input specification; this image-autoencoder "
                + "checkpoint has a series input specification")
        }
        guard threads >= 1 else { throw InferenceError("threads must be at least 1, found \(threads)") }
        let model = try checkpoint.makeModel()
        let n = model.layers.count
        guard spec.encoderLayers >= 1, spec.encoderLayers < n else {
            throw InferenceError("input.encoder_layers must be in 1...\(n - 1) for a model with \(n) layers (the "
                + "encoder and the decoder each need at least one layer), found \(spec.encoderLayers)")
        }
        self.model = model
        self.encoder = try model.submodel(layers: 0 ..< spec.encoderLayers)
        self.decoder = try model.submodel(layers: spec.encoderLayers ..< n)
        self.input = spec
        self.fingerprint = checkpoint.fingerprint
        self.threads = threads
        self.buffers = SessionBuffers(threads: threads)
    }

    /// Reads the checkpoint at `path` (`Checkpoint.read(from:)`, which throws its `CheckpointError` report)
    /// and builds the session.
    public convenience init(path: String, threads: Int = Inference.defaultThreads) throws {
        try self.init(checkpoint: try Checkpoint.read(from: path), threads: threads)
    }

    /// Images `[N, C, H, W]` in model scale → codes `[N] + codeShape` (a new tensor; the session's
    /// intermediate buffers are reused).
    public func encode(_ images: Tensor) throws -> Tensor {
        var codes = Tensor.empty
        try encode(images, into: &codes)
        return codes
    }

    /// `encode(_:)` writing into `codes`, whose storage is reused when it already holds `[N] + codeShape`
    /// elements: with the same batch size, calls after the first allocate no tensor or scratch memory.
    public func encode(_ images: Tensor, into codes: inout Tensor) throws {
        try check(images, against: inputShape, what: "encode (images)")
        try run(encoder, images, into: &codes)
    }

    /// Codes `[N] + codeShape` → images `[N] + outputShape` in model scale (a new tensor).
    public func decode(_ codes: Tensor) throws -> Tensor {
        var images = Tensor.empty
        try decode(codes, into: &images)
        return images
    }

    /// `decode(_:)` writing into `images` (storage reused as for `encode(_:into:)`).
    public func decode(_ codes: Tensor, into images: inout Tensor) throws {
        try check(codes, against: codeShape, what: "decode (codes)")
        try run(decoder, codes, into: &images)
    }

    /// `decode(encode(images))`, in one pass over the whole model (a new tensor).
    public func reconstruct(_ images: Tensor) throws -> Tensor {
        var output = Tensor.empty
        try reconstruct(images, into: &output)
        return output
    }

    /// `reconstruct(_:)` writing into `output` (storage reused as for `encode(_:into:)`).
    public func reconstruct(_ images: Tensor, into output: inout Tensor) throws {
        try check(images, against: inputShape, what: "reconstruct (images)")
        try run(model, images, into: &output)
    }

    /// Scratch and tensor-storage (re)allocations the session's own workspaces have made so far: it stops
    /// growing once every call shape has been seen (same batch sizes).
    public var bufferAllocations: Int { buffers.allocations }

    private func run(_ part: Sequential, _ x: Tensor, into y: inout Tensor) throws {
        try buffers.with { state in try part.forward(x, into: &y, workspaces: state.workspaces) }
    }

    /// 8-bit pixels in NCHW order (`count` images of `inputShape`) → a model-scale tensor `[count, C, H, W]`.
    public func modelInput(pixels: [UInt8], count: Int) throws -> Tensor {
        let per = inputShape.reduce(1, *)
        guard count >= 0, pixels.count == count * per else {
            throw InferenceError("modelInput: \(count) images of \(formatShape(inputShape)) need \(count * per) pixels, "
                + "found \(pixels.count)")
        }
        let scaling = pixelScaling
        return Tensor(shape: [count] + inputShape, scalars: pixels.map { scaling.modelValue(pixel: $0) })
    }

    /// Model-scale images (any shape) → 8-bit pixels in the same order, rounded and clamped.
    public func pixels(_ images: Tensor) -> [UInt8] {
        let scaling = pixelScaling
        return images.scalars.map { scaling.pixel(modelValue: $0) }
    }

    private func check(_ t: Tensor, against perSample: [Int], what: String) throws(ShapeMismatch) {
        guard t.rank == perSample.count + 1, Array(t.shape.dropFirst()) == perSample else {
            throw ShapeMismatch(layer: what, expected: batchedShapeText(perSample), found: t.shape)
        }
    }
}
