// A trained model as the checkpoint file holds it (docs/checkpoint-format.md). The reader is in
// CheckpointReader.swift; the writer lives in FlexTraining (CheckpointWriter.swift).

import FlexEntropy

// FoundationEssentials only for JSONEncoder (Codable activation functions).
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// A checkpoint: architecture, weights and per-neuron activation parameters in PyTorch's layouts, the input
/// specification, a fingerprint and optionally how the model was trained.
public struct Checkpoint: Sendable {
    /// The root attribute `format`.
    public static let formatName = "flexctl-checkpoint"
    /// The major format version this code reads and writes; readers refuse newer ones.
    public static let formatVersion = 1
    /// The minor format version this code writes (additions older readers may ignore).
    public static let formatMinorVersion = 0
    /// The flexctl version written into new checkpoints.
    public static let currentFlexctlVersion = FlexctlVersion.number

    public var formatVersion: Int
    public var formatMinorVersion: Int
    /// The flexctl that produced the file, e.g. `0.1.0`.
    public var flexctlVersion: String
    public var task: CheckpointTask
    public var architecture: [LayerSpec]
    public var input: InputSpec
    /// Every parameter by dotted name (`layers.0.weight`), in model order.
    public var parameters: [(name: String, tensor: Tensor)]
    /// `sha256:` + 64 lowercase hex digits over the parameters (see `fingerprint(of:)`).
    public var fingerprint: String
    public var provenance: Provenance?
    /// The learned codec's integer tables and medians (the group `/entropy_model`): required for the task
    /// `image-codec`, absent for every other task. Covered by the fingerprint.
    public var entropyTables: EntropyCodingTables?
    /// The learned codec's float density parameters (`/entropy_model/density`), kept so that training can
    /// fine-tune from the checkpoint: FlexEntropyModel's `EntropyBottleneck.parameterNames` in that order
    /// (`matrix0`…, `bias0`…, `factor0`…, `quantiles`) with its shapes; may be empty (coding needs only the
    /// tables). Covered by the fingerprint when present.
    public var entropyDensity: [(name: String, tensor: Tensor)]
    /// The float type of the datasets in the file this was read from (`float32` for a new checkpoint).
    public var storedType: StoredType
    /// The file this checkpoint was read from, if any (the writer refuses to replace it).
    public var sourcePath: String?

    /// A checkpoint of `model`'s current parameters; the fingerprint is over their float32 values (and over the
    /// entropy-coding tables and density of a codec).
    public init(model: Sequential, task: CheckpointTask, input: InputSpec, provenance: Provenance? = nil,
                entropyTables: EntropyCodingTables? = nil, entropyDensity: [(name: String, tensor: Tensor)] = []) {
        formatVersion = Self.formatVersion
        formatMinorVersion = Self.formatMinorVersion
        flexctlVersion = Self.currentFlexctlVersion
        self.task = task
        architecture = model.specs
        self.input = input
        parameters = model.namedParameters
        self.entropyTables = entropyTables
        self.entropyDensity = entropyDensity
        fingerprint = Self.fingerprint(of: parameters, entropyTables: entropyTables, entropyDensity: entropyDensity)
        self.provenance = provenance
        storedType = .float32
        sourcePath = nil
    }

    /// Memberwise (used by the reader).
    public init(formatVersion: Int, formatMinorVersion: Int, flexctlVersion: String, task: CheckpointTask,
                architecture: [LayerSpec], input: InputSpec, parameters: [(name: String, tensor: Tensor)],
                fingerprint: String, provenance: Provenance?, storedType: StoredType, sourcePath: String?,
                entropyTables: EntropyCodingTables? = nil, entropyDensity: [(name: String, tensor: Tensor)] = []) {
        self.formatVersion = formatVersion
        self.formatMinorVersion = formatMinorVersion
        self.flexctlVersion = flexctlVersion
        self.task = task
        self.architecture = architecture
        self.input = input
        self.parameters = parameters
        self.fingerprint = fingerprint
        self.provenance = provenance
        self.storedType = storedType
        self.sourcePath = sourcePath
        self.entropyTables = entropyTables
        self.entropyDensity = entropyDensity
    }

    /// SHA-256 over the canonical weights: for each parameter in order, the UTF-8 bytes of its dotted name,
    /// a zero byte, the rank and each dimension as little-endian uint64, then the values as little-endian
    /// IEEE float32. Returns `sha256:` + 64 lowercase hex digits.
    ///
    /// A codec's entropy model follows the weights, only when present (so the fingerprints of checkpoints
    /// without one are unchanged): the bytes `entropy_model` and a zero byte, M as uint64, then per channel the
    /// median's float32 bits, `min_symbol` as int32, the CDF length as uint64 and the CDF entries as uint32
    /// (all little-endian); then, if there are density parameters, `entropy_model/density` and a zero byte and
    /// each density tensor exactly as a weight (its name without a prefix). The name bytes cannot be confused
    /// with a weight's: every weight's name starts with `layers.`. A `.flexz` file that records the fingerprint
    /// is thus bound to the exact tables its symbols were coded with.
    public static func fingerprint(of parameters: [(name: String, tensor: Tensor)],
                                   entropyTables: EntropyCodingTables? = nil,
                                   entropyDensity: [(name: String, tensor: Tensor)] = []) -> String {
        var hasher = SHA256()
        func u64(_ v: Int) {
            withUnsafeBytes(of: UInt64(v).littleEndian) { hasher.update(bufferPointer: $0) }
        }
        func u32(_ v: UInt32) {
            withUnsafeBytes(of: v.littleEndian) { hasher.update(bufferPointer: $0) }
        }
        func tensors(_ list: [(name: String, tensor: Tensor)]) {
            for (name, tensor) in list {
                hasher.update(data: Array(name.utf8) + [0])
                u64(tensor.rank)
                for d in tensor.shape { u64(d) }
                #if _endian(little)
                tensor.scalars.withUnsafeBytes { hasher.update(bufferPointer: $0) }
                #else
                let le = tensor.scalars.map { $0.bitPattern.littleEndian }
                le.withUnsafeBytes { hasher.update(bufferPointer: $0) }
                #endif
            }
        }
        tensors(parameters)
        if let e = entropyTables {
            hasher.update(data: Array("entropy_model".utf8) + [0])
            u64(e.tables.count)
            for (c, table) in e.tables.enumerated() {
                u32(c < e.medians.count ? e.medians[c].bitPattern : Float.nan.bitPattern)
                u32(UInt32(bitPattern: table.minSymbol))
                u64(table.cdf.count)
                #if _endian(little)
                table.cdf.withUnsafeBytes { hasher.update(bufferPointer: $0) }
                #else
                let le = table.cdf.map(\.littleEndian)
                le.withUnsafeBytes { hasher.update(bufferPointer: $0) }
                #endif
            }
            if !entropyDensity.isEmpty {
                hasher.update(data: Array("entropy_model/density".utf8) + [0])
                tensors(entropyDensity)
            }
        }
        let digest = hasher.finalize()
        let hex = hexDigits(digest)
        return "sha256:" + hex
    }

    /// Whether `s` has the fingerprint's form: `sha256:` + 64 lowercase hex digits.
    public static func isWellFormedFingerprint(_ s: String) -> Bool {
        guard s.hasPrefix("sha256:") else { return false }
        let hex = s.dropFirst(7)
        return hex.count == 64 && hex.allSatisfy { ("0"..."9").contains($0) || ("a"..."f").contains($0) }
    }

    /// Builds the model from the architecture and input shape and loads every parameter.
    public func makeModel() throws(ConfigurationError) -> Sequential {
        let model = try Sequential(specs: architecture, inputShape: input.perSampleShape)
        var loaded = Set<String>()
        for (name, tensor) in parameters {
            guard let (index, parameter) = Self.splitParameterName(name), index < model.layers.count else {
                throw ConfigurationError("\(name): not a parameter of this \(model.layers.count)-layer model")
            }
            try model.layers[index].setParameter(parameter, tensor)
            loaded.insert(name)
        }
        let missing = model.namedParameters.map(\.name).filter { !loaded.contains($0) }
        guard missing.isEmpty else {
            throw ConfigurationError("checkpoint has no values for \(missing.joined(separator: ", "))")
        }
        return model
    }

    /// `layers.3.weight_ih_l0` → (3, `weight_ih_l0`).
    static func splitParameterName(_ name: String) -> (Int, String)? {
        let parts = name.split(separator: ".", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0] == "layers", let i = Int(parts[1]), i >= 0 else { return nil }
        return (i, String(parts[2]))
    }

    /// The architecture JSON as stored in the file (fields in the documented order).
    public var architectureJSON: String { JSONText.array(architecture.map(\.canonicalJSON)) }

    /// The parameter tensor with dotted name `name`.
    public func parameter(_ name: String) -> Tensor? { parameters.first { $0.name == name }?.tensor }
}

extension ActivationFunction {
    /// Whether this is exactly a built-in member (then JSON stores just its name).
    public var isBuiltInMember: Bool { (try? ActivationFunction.member(name)) == self }

    /// Its JSON: the member name for a built-in, else the object `Codable` encodes (keys sorted).
    var canonicalJSON: String {
        if isBuiltInMember { return JSONText.string(name) }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        guard let data = try? encoder.encode(self) else { return JSONText.string(name) }
        return String(decoding: data, as: UTF8.self)
    }
}

extension LayerSpec {
    /// The layer's JSON object as stored in the checkpoint, `kind` first, then the documented fields.
    public var canonicalJSON: String {
        var fields: [(String, String)] = [("kind", JSONText.string(kindName))]
        for (key, value) in zip(Self.jsonFields[kindName]!, integerFields) {
            if let value { fields.append((key, String(value))) }
        }
        switch self {
        case let .activation(f, _):
            fields.insert(("activation", f.canonicalJSON), at: 1)
        case let .lstm(_, _, _, g, c):
            fields.append(("gate", g.canonicalJSON))
            fields.append(("cell", c.canonicalJSON))
        default: break
        }
        return JSONText.object(fields)
    }
}
