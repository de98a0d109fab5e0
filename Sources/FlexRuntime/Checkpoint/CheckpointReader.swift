// The strict checkpoint reader: checks everything docs/checkpoint-format.md lists and reports every problem
// it finds in one CheckpointError, each naming the HDF5 path and what was expected versus found.

import FlexEntropy
import FlexHDF5

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension Checkpoint {
    /// Reads and checks a checkpoint; every problem found is collected into one `CheckpointError` (one line
    /// per problem: `FILE: PATH: expected …, found …`). Never prints HDF5's error stack.
    public static func read(from path: String) throws(CheckpointError) -> Checkpoint {
        var reader = CheckpointReader(file: path)
        let checkpoint = reader.read()
        guard reader.problems.isEmpty, let checkpoint else {
            throw CheckpointError(file: path, problems: reader.problems.isEmpty
                ? [.init(path: "", message: "cannot read the checkpoint")] : reader.problems)
        }
        return checkpoint
    }

    /// Reads and checks a checkpoint held in memory (an HDF5 file image); `name` labels the messages.
    public static func read(bytes: [UInt8], name: String, limits: HDF5Limits = .default) throws(CheckpointError) -> Checkpoint {
        var reader = CheckpointReader(file: name)
        reader.limits = limits
        let checkpoint = reader.read(bytes: bytes)
        guard reader.problems.isEmpty, let checkpoint else {
            throw CheckpointError(file: name, problems: reader.problems.isEmpty
                ? [.init(path: "", message: "cannot read the checkpoint")] : reader.problems)
        }
        return checkpoint
    }
}

/// The root attributes, in the documented order, with the type each must have.
let rootAttributes: [(name: String, type: String)] = [
    ("format", "string"), ("format_version", "int64 scalar"), ("format_minor_version", "int64 scalar"),
    ("flexctl_version", "string"), ("task", "string"), ("architecture", "string (JSON)"),
    ("input", "string (JSON)"), ("fingerprint", "string"),
]

/// Provenance attributes and their types.
let provenanceAttributes: [(name: String, type: String)] = [
    ("dataset", "string"), ("train_size", "int64 scalar"), ("validation_size", "int64 scalar"),
    ("test_size", "int64 scalar"), ("seed", "int64 scalar"), ("epochs", "int64 scalar"),
    ("optimizer", "string (JSON)"), ("regularizer", "string (JSON)"), ("test_loss", "float64 scalar"),
    ("created", "string"),
]

/// One layer's expected datasets (from the layer built from its spec).
struct ExpectedLayer {
    let layer: any Layer
    /// For α/β datasets: the function and whether it is α.
    let slots: [String: (function: ActivationFunction, isAlpha: Bool)]
}

struct CheckpointReader {
    let file: String
    var problems: [CheckpointError.Problem] = []
    var limits = HDF5Limits.default

    init(file: String) { self.file = file }

    mutating func add(_ path: String, _ message: String) {
        problems.append(.init(path: path, message: message))
    }

    // MARK: Entry

    mutating func read() -> Checkpoint? {
        guard checkFile() else { return nil }
        let (file, limits) = (self.file, self.limits)
        return snapshot { () throws(HDF5Error) in try HDF5Snapshot.read(file, limits: limits) }
    }

    mutating func read(bytes: [UInt8]) -> Checkpoint? {
        if bytes.isEmpty {
            add("", "not an HDF5 file: the file is empty (0 bytes)")
            return nil
        }
        let (file, limits) = (self.file, self.limits)
        return snapshot { () throws(HDF5Error) in try HDF5Snapshot.read(bytes: bytes, name: file, limits: limits) }
    }

    /// libhdf5 parses the file in an isolated child process (FlexHDF5's HDF5Snapshot): a damaged or crafted
    /// file can crash or hang only that child, and nothing outside the file is ever read.
    mutating func snapshot(_ take: () throws(HDF5Error) -> HDF5Snapshot) -> Checkpoint? {
        let snapshot: HDF5Snapshot
        do {
            snapshot = try take()
        } catch {
            var message = error.message
            if message.hasPrefix("not an HDF5 file: no HDF5 signature") {
                message += " (expected a flexctl checkpoint, see docs/checkpoint-format.md)"
            }
            add(error.path, message)
            return nil
        }
        return read(root: snapshot.root)
    }

    /// Existence and kind, with the messages of docs/checkpoint-format.md (the snapshot reader checks the rest:
    /// regular file, size, signature).
    mutating func checkFile() -> Bool {
        var st = stat()
        guard stat(file, &st) == 0 else {
            let e = errno
            add("", e == ENOENT ? "no such file" : "cannot access the file: \(String(cString: strerror(e)))")
            return false
        }
        if (st.st_mode & S_IFMT) == S_IFDIR {
            add("", "is a directory, not a checkpoint file")
            return false
        }
        if (st.st_mode & S_IFMT) == S_IFREG, st.st_size == 0 {
            add("", "not an HDF5 file: the file is empty (0 bytes)")
            return false
        }
        return true
    }

    // MARK: Root

    mutating func read(root: HDF5SnapshotGroup) -> Checkpoint? {
        // Which attributes exist (unknown ones are reported unless a newer minor version may have added them).
        let attributeNames = (try? root.attributeNames()) ?? []

        if let format = stringAttribute(root, "format"), format != Checkpoint.formatName {
            add("/", "attribute 'format': expected \"\(Checkpoint.formatName)\", found \"\(format)\"; this is not a flexctl checkpoint")
            return nil
        }
        let version = intAttribute(root, "format_version")
        if let version {
            if version > Checkpoint.formatVersion {
                add("/", "unsupported format version \(version): this flexctl reads format version \(Checkpoint.formatVersion) (and older); use a newer flexctl")
                return nil
            }
            if version < 1 {
                add("/", "attribute 'format_version': expected \(Checkpoint.formatVersion), found \(version)")
            }
        }
        let minor = intAttribute(root, "format_minor_version")
        if let minor, minor < 0 { add("/", "attribute 'format_minor_version': expected a value >= 0, found \(minor)") }
        let strict = (minor ?? 0) <= Checkpoint.formatMinorVersion
        let flexctlVersion = stringAttribute(root, "flexctl_version")
        var task: CheckpointTask?
        if let t = stringAttribute(root, "task") {
            task = CheckpointTask(rawValue: t)
            if task == nil {
                add("/", "attribute 'task': expected one of \(CheckpointTask.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ", ")), found \"\(t)\"")
            }
        }
        let architecture = stringAttribute(root, "architecture").flatMap { parseArchitecture($0) }
        let input = stringAttribute(root, "input").flatMap { parseInput($0) }
        var fingerprint = stringAttribute(root, "fingerprint")
        if let f = fingerprint, !Checkpoint.isWellFormedFingerprint(f) {
            add("/", "attribute 'fingerprint': expected \"sha256:\" followed by 64 lowercase hex digits, found \"\(f)\"")
            fingerprint = nil
        }
        if strict {
            let known = Set(rootAttributes.map(\.name))
            for name in attributeNames where !known.contains(name) {
                add("/", "unexpected root attribute '\(name)' (format version \(Checkpoint.formatVersion).\(Checkpoint.formatMinorVersion) has \(rootAttributes.map(\.name).joined(separator: ", ")))")
            }
        }

        // The architecture against the input.
        var expected: [Int: ExpectedLayer] = [:]
        if let architecture {
            expected = buildLayers(architecture, input: input, task: task)
        }

        // Members of the root.
        let members = listMembers(root)
        if strict {
            for (name, kind) in members where name != "layers" && name != "provenance" && name != "entropy_model" {
                add(root.childPath(name), "unexpected \(kind.rawValue) at the root (a checkpoint has /layers, optionally /provenance, and /entropy_model for task image-codec)")
            }
        }

        // Layers.
        var parameters: [(name: String, tensor: Tensor)] = []
        var types: [HDF5StoredType] = []
        var parametersComplete = true
        if let architecture {
            if architecture.count != expected.count { parametersComplete = false }
            let result = readLayers(root, count: architecture.count, specs: architecture, expected: expected, strict: strict)
            parameters = result.parameters
            types = result.types
            if !result.complete { parametersComplete = false }
        } else {
            parametersComplete = false
        }

        // Provenance.
        var provenance: Provenance?
        if members.contains(where: { $0.name == "provenance" }) {
            provenance = readProvenance(root, strict: strict)
        }

        // The learned codec's entropy model: required for image-codec, refused for every other task.
        var entropy: (tables: EntropyCodingTables, density: [(name: String, tensor: Tensor)])?
        let hasEntropyModel = members.contains { $0.name == "entropy_model" }
        if hasEntropyModel {
            if let task, task != .imageCodec {
                add("/entropy_model", "unexpected \(members.first { $0.name == "entropy_model" }!.kind.rawValue): only task image-codec has an entropy model, this checkpoint's task is \(task.rawValue)")
            } else {
                var latentChannels: Int?
                if case let .codec(s)? = input { latentChannels = s.latentChannels }
                entropy = readEntropyModel(root, latentChannels: latentChannels, strict: strict)
            }
        } else if task == .imageCodec {
            add("/entropy_model", "missing group: task image-codec needs its entropy-coding tables (datasets medians, min_symbol, cdf_length, cdf)")
        }
        if hasEntropyModel || task == .imageCodec, entropy == nil { parametersComplete = false }

        // Fingerprint over the weights (and a codec's entropy model) as read (only when all of it was read).
        if parametersComplete, let fingerprint {
            let actual = Checkpoint.fingerprint(of: parameters, entropyTables: entropy?.tables,
                                                entropyDensity: entropy?.density ?? [])
            if actual != fingerprint {
                add("/", "fingerprint mismatch: the file says \(fingerprint), the weights\(entropy == nil ? "" : " and entropy model") hash to \(actual) (the weights were changed after the file was written, or the file is damaged)")
            }
        }

        guard problems.isEmpty, let version, let minor, let flexctlVersion, let task, let architecture, let input,
              let fingerprint else { return nil }
        let stored: StoredType = types.contains(.float(bits: 64)) ? .float64
            : (types.contains(.float(bits: 32)) || types.isEmpty ? .float32 : .float16)
        return Checkpoint(formatVersion: version, formatMinorVersion: minor, flexctlVersion: flexctlVersion, task: task,
                          architecture: architecture, input: input, parameters: parameters, fingerprint: fingerprint,
                          provenance: provenance, storedType: stored, sourcePath: file,
                          entropyTables: entropy?.tables, entropyDensity: entropy?.density ?? [])
    }

    // MARK: Attributes

    mutating func attribute(_ g: HDF5SnapshotGroup, _ name: String, type: String, required: Bool = true) -> HDF5AttributeValue? {
        do {
            let v = try g.attribute(name)
            if v == nil, required {
                add(g.path, "missing \(g.path == "/" ? "root " : "")attribute '\(name)' (\(type))")
            }
            return v
        } catch {
            add(g.path, "attribute '\(name)': cannot read it (HDF5: \(error.detail.isEmpty ? error.message : error.detail))")
            return nil
        }
    }

    mutating func stringAttribute(_ g: HDF5SnapshotGroup, _ name: String, required: Bool = true) -> String? {
        let type = g.path == "/" ? (rootAttributes.first { $0.name == name }?.type ?? "string") : "string"
        guard let v = attribute(g, name, type: type, required: required) else { return nil }
        guard case let .string(s) = v else {
            add(g.path, "attribute '\(name)': expected a string, found \(v.typeDescription)")
            return nil
        }
        return s
    }

    mutating func intAttribute(_ g: HDF5SnapshotGroup, _ name: String, required: Bool = true) -> Int? {
        guard let v = attribute(g, name, type: "int64 scalar", required: required) else { return nil }
        guard case let .int64(i) = v else {
            add(g.path, "attribute '\(name)': expected an int64 scalar, found \(v.typeDescription) \(v)")
            return nil
        }
        return Int(i)
    }

    mutating func doubleAttribute(_ g: HDF5SnapshotGroup, _ name: String, required: Bool = true) -> Double? {
        guard let v = attribute(g, name, type: "float64 scalar", required: required) else { return nil }
        switch v {
        case let .double(d): return d
        case let .int64(i): return Double(i)
        default:
            add(g.path, "attribute '\(name)': expected a float64 scalar, found \(v.typeDescription)")
            return nil
        }
    }

    mutating func listMembers(_ g: HDF5SnapshotGroup) -> [(name: String, kind: HDF5ObjectKind)] {
        do { return try g.members() } catch {
            add(g.path, "cannot list the members (HDF5: \(error.detail))")
            return []
        }
    }

    // MARK: JSON

    /// Decodes one layer per array element so one bad layer does not hide the others.
    struct LayerSlot: Decodable {
        let result: Result<LayerSpec, any Error>
        init(from decoder: any Decoder) throws {
            do { result = .success(try LayerSpec(from: decoder)) } catch { result = .failure(error) }
        }
    }

    mutating func parseArchitecture(_ text: String) -> [LayerSpec]? {
        let slots: [LayerSlot]
        do {
            slots = try JSONDecoder().decode([LayerSlot].self, from: Data(text.utf8))
        } catch {
            add("/", "attribute 'architecture': \(describeJSONError(error, expected: "a JSON array of layer objects"))")
            return nil
        }
        if slots.isEmpty { add("/", "attribute 'architecture': expected at least one layer, found an empty array") }
        var specs: [LayerSpec] = []
        var ok = !slots.isEmpty
        for (i, slot) in slots.enumerated() {
            switch slot.result {
            case let .success(s): specs.append(s)
            case let .failure(e):
                add("/", "attribute 'architecture': layer \(i): \(describeJSONError(e, expected: "a layer object", dropping: 1))")
                ok = false
            }
        }
        return ok ? specs : nil
    }

    mutating func parseInput(_ text: String) -> InputSpec? {
        do {
            let decoder = JSONDecoder()
            decoder.userInfo[SeriesInputSpec.collectingProblemsKey] = true
            return try decoder.decode(InputSpec.self, from: Data(text.utf8))
        } catch {
            add("/", "attribute 'input': \(describeJSONError(error, expected: "a JSON object"))")
            return nil
        }
    }

    // MARK: Architecture

    /// Validates each spec, builds its layer and walks the shapes from the input; returns the layers whose
    /// parameters can be checked (by index).
    mutating func buildLayers(_ specs: [LayerSpec], input: InputSpec?, task: CheckpointTask?) -> [Int: ExpectedLayer] {
        var out: [Int: ExpectedLayer] = [:]
        var rng = SplitMix64(seed: 0)
        var total = 0
        for (i, spec) in specs.enumerated() {
            // The model's size is bounded before any layer allocates its parameters.
            if let n = spec.parameterCount {
                total = total.addingReportingOverflow(n).overflow ? Int.max : total + n
            }
            if total > LayerSpec.maxModelParameters {
                add("/layers/\(i)", "the architecture has more than \(LayerSpec.maxModelParameters) parameters up to this layer; not allowed")
                return out
            }
            do {
                let layer = try spec.makeLayer(name: "layers.\(i)", rng: &rng)
                out[i] = ExpectedLayer(layer: layer, slots: Self.slots(spec))
            } catch {
                add("/layers/\(i)", "invalid \(spec.kindName) in the architecture: \(error.message)")
            }
        }
        guard let input else { return out }
        if let task {
            let kind = switch task {
            case .imageAutoencoder: "image"
            case .forecaster: "series"
            case .imageCodec: "codec"
            }
            if input.kindName != kind {
                add("/", "attribute 'input': task \(task.rawValue) needs an input of kind \(kind), found \(input.kindName)")
            }
        }
        checkInput(input, layerCount: specs.count)
        guard input.perSampleShape.allSatisfy({ $0 > 0 }), out.count == specs.count else { return out }
        // Each layer's input must be the previous layer's output.
        var shape = input.perSampleShape
        var shapes: [[Int]] = []
        var operations = 0, activations = 0
        for i in 0..<specs.count {
            do {
                let inputShape = shape
                shape = try out[i]!.layer.outputShape(forInput: shape)
                shapes.append(shape)
                let values = shape.reduce(1) { $0.multipliedReportingOverflow(by: max($1, 0)).overflow ? Int.max : $0 * max($1, 0) }
                if values > LayerSpec.maxActivationValues {
                    add("/layers/\(i)", "outputs \(formatShape(shape)) per sample, more than \(LayerSpec.maxActivationValues) values; not allowed")
                    return out
                }
                activations = activations.addingReportingOverflow(values).overflow ? Int.max : activations + values
                if activations > LayerSpec.maxTotalActivationValues {
                    add("/layers/\(i)", "the layers' outputs up to this one hold more than \(LayerSpec.maxTotalActivationValues) values per sample; not allowed")
                    return out
                }
                // Memory and work per sample, bounded before any session sizes a buffer or runs a batch.
                let cost = specs[i].cost(input: inputShape, output: shape)
                if cost.workspace > LayerSpec.maxWorkspaceValues {
                    add("/layers/\(i)", "needs \(cost.workspace == Int.max ? "more than 2^63" : String(cost.workspace)) scratch values per sample (input \(formatShape(inputShape))), more than \(LayerSpec.maxWorkspaceValues); not allowed")
                    return out
                }
                operations = operations.addingReportingOverflow(cost.operations).overflow ? Int.max : operations + cost.operations
                if operations > LayerSpec.maxSampleOperations {
                    add("/layers/\(i)", "the model needs more than \(LayerSpec.maxSampleOperations) multiply-adds per sample up to this layer; not allowed")
                    return out
                }
            } catch {
                let from = i == 0 ? "the model input (attribute 'input') is \(formatShape(shape))"
                    : "/layers/\(i - 1) (\(specs[i - 1].kindName)) outputs \(formatShape(shape))"
                var wanted = error.expected
                if wanted.hasPrefix("[N, ") { wanted = "[" + wanted.dropFirst(4) }
                add("/layers/\(i)", "input shape does not match: \(specs[i].kindName) expects input \(wanted), but \(from)\(error.detail.map { " (\($0))" } ?? "")")
                return out
            }
        }
        switch input {
        case .image:
            if shape != input.perSampleShape {
                add("/", "attribute 'architecture': an auto-encoder's output must have its input's shape \(formatShape(input.perSampleShape)), found \(formatShape(shape))")
            }
        case let .series(s):
            if shape != [s.targets.count] {
                add("/", "attribute 'architecture': a forecaster's output must be one value per target \(formatShape([s.targets.count])), found \(formatShape(shape))")
            }
        case let .codec(s):
            // Checked on the smallest image, stride × stride: the analysis must bring it to one latent position
            // of M channels (so the stride is the transforms' own), and the synthesis back to the image.
            if s.analysisLayers >= 1, s.analysisLayers < specs.count {
                let latent = shapes[s.analysisLayers - 1]
                if latent != [s.latentChannels, 1, 1] {
                    add("/", "attribute 'architecture': the analysis transform (layers 0–\(s.analysisLayers - 1)) must turn a \(s.stride)×\(s.stride) image into latents [latent_channels, 1, 1] = \(formatShape([s.latentChannels, 1, 1])), found \(formatShape(latent))")
                }
            }
            if shape != input.perSampleShape {
                add("/", "attribute 'architecture': a codec's synthesis must output the image \(formatShape(input.perSampleShape)) (image_channels × stride × stride), found \(formatShape(shape))")
            }
        }
        return out
    }

    mutating func checkInput(_ input: InputSpec, layerCount: Int) {
        switch input {
        case let .image(s):
            for (name, v) in [("channels", s.channels), ("height", s.height), ("width", s.width)] where v <= 0 {
                add("/", "attribute 'input': '\(name)' must be positive, found \(v)")
            }
            if s.channels > InputSpec.maxImageChannels {
                add("/", "attribute 'input': 'channels' must be at most \(InputSpec.maxImageChannels), found \(s.channels)")
            }
            for (name, v) in [("height", s.height), ("width", s.width)] where v > InputSpec.maxImageSide {
                add("/", "attribute 'input': '\(name)' must be at most \(InputSpec.maxImageSide), found \(v)")
            }
            if s.encoderLayers < 1 || s.encoderLayers >= layerCount {
                add("/", "attribute 'input': 'encoder_layers' must be in 1...\(max(1, layerCount - 1)) for \(layerCount) layers, found \(s.encoderLayers)")
            }
        case let .codec(s):
            if s.imageChannels < 1 || s.imageChannels > InputSpec.maxImageChannels {
                add("/", "attribute 'input': 'image_channels' must be in 1...\(InputSpec.maxImageChannels), found \(s.imageChannels)")
            }
            if s.latentChannels < 1 || s.latentChannels > EntropyCodingTables.maxChannels {
                add("/", "attribute 'input': 'latent_channels' must be in 1...\(EntropyCodingTables.maxChannels), found \(s.latentChannels)")
            }
            if s.analysisLayers < 1 || s.analysisLayers >= layerCount {
                add("/", "attribute 'input': 'analysis_layers' must be in 1...\(max(1, layerCount - 1)) for \(layerCount) layers, found \(s.analysisLayers)")
            }
            if s.stride < 1 || s.stride > InputSpec.maxCodecStride {
                add("/", "attribute 'input': 'stride' must be in 1...\(InputSpec.maxCodecStride), found \(s.stride)")
            }
            if s.pixelScaling != .zeroToOne {
                add("/", "attribute 'input': 'pixel_scaling' must be \"zero_to_one\" for a codec (its decoder rounds 255·x̂), found \"\(s.pixelScaling.rawValue)\"")
            }
            if !(s.lambda.isFinite && s.lambda > 0) {
                add("/", "attribute 'input': 'lambda' must be positive and finite, found \(s.lambda)")
            }
        case let .series(s):
            if s.features.isEmpty { add("/", "attribute 'input': 'features' must name at least one series, found none") }
            if s.targets.isEmpty { add("/", "attribute 'input': 'targets' must name at least one series, found none") }
            for t in s.targets where !s.features.contains(t) {
                add("/", "attribute 'input': target \"\(t)\" is not one of the features \(s.features)")
            }
            if s.window <= 0 { add("/", "attribute 'input': 'window' must be positive, found \(s.window)") }
            if s.horizon <= 0 { add("/", "attribute 'input': 'horizon' must be positive, found \(s.horizon)") }
            if s.window > InputSpec.maxWindow { add("/", "attribute 'input': 'window' must be at most \(InputSpec.maxWindow), found \(s.window)") }
            if s.horizon > InputSpec.maxHorizon { add("/", "attribute 'input': 'horizon' must be at most \(InputSpec.maxHorizon), found \(s.horizon)") }
            if s.features.count > InputSpec.maxFeatures {
                add("/", "attribute 'input': at most \(InputSpec.maxFeatures) features are allowed, found \(s.features.count)")
            }
            if let long = (s.features + s.targets).first(where: { $0.utf8.count > InputSpec.maxNameBytes }) {
                add("/", "attribute 'input': series names must be at most \(InputSpec.maxNameBytes) bytes, found one of \(long.utf8.count)")
            }
            if let name = s.unknownTransform {
                add("/", "attribute 'input': 'transform' must be one of \(SeriesTransform.names), found \"\(name)\"")
            }
            let n = s.features.count
            if s.normalization.mean.count != n || s.normalization.std.count != n {
                add("/", "attribute 'input': 'normalization' needs \(n) means and \(n) stds (one per feature), found \(s.normalization.mean.count) and \(s.normalization.std.count)")
            }
            if let bad = s.normalization.mean.first(where: { !$0.isFinite }) {
                add("/", "attribute 'input': normalization means must be finite, found \(bad)")
            }
            if let bad = s.normalization.std.first(where: { !($0.isFinite && $0 > 0) }) {
                add("/", "attribute 'input': normalization stds must be positive and finite, found \(bad)")
            }
        }
    }

    /// The α/β datasets of a layer and their functions (from `LayerSpec.activationSlots`).
    static func slots(_ spec: LayerSpec) -> [String: (function: ActivationFunction, isAlpha: Bool)] {
        var out: [String: (function: ActivationFunction, isAlpha: Bool)] = [:]
        for slot in spec.activationSlots {
            if let name = slot.alphaName { out[name] = (slot.function, true) }
            if let name = slot.betaName { out[name] = (slot.function, false) }
        }
        return out
    }

    // MARK: Layers

    mutating func readLayers(_ root: HDF5SnapshotGroup, count: Int, specs: [LayerSpec], expected: [Int: ExpectedLayer], strict: Bool)
        -> (parameters: [(name: String, tensor: Tensor)], types: [HDF5StoredType], complete: Bool) {
        var parameters: [(name: String, tensor: Tensor)] = []
        var types: [HDF5StoredType] = []
        var complete = true
        let layersGroup: HDF5SnapshotGroup
        do {
            guard try root.contains("layers") else {
                add("/layers", "missing group (expected \(count) layer group\(count == 1 ? "" : "s") /layers/0 … /layers/\(count - 1))")
                return ([], [], false)
            }
            layersGroup = try root.group("layers")
        } catch {
            add("/layers", "cannot open the group (expected a group; HDF5: \(error.detail))")
            return ([], [], false)
        }
        let members = listMembers(layersGroup)
        for (name, kind) in members {
            if let i = Int(name), i >= 0, i < count, String(i) == name {
                if kind != .group { add("/layers/\(name)", "expected a group for layer \(i) (\(specs[i].kindName)), found a \(kind.rawValue)") }
            } else if strict {
                add("/layers/\(name)", "unexpected \(kind.rawValue): the architecture has \(count) layer\(count == 1 ? "" : "s") (/layers/0 … /layers/\(count - 1))")
            }
        }
        for i in 0..<count {
            let path = "/layers/\(i)"
            let spec = specs[i]
            guard let member = members.first(where: { $0.name == String(i) }) else {
                add(path, "missing layer group (\(spec.summary))")
                complete = false
                continue
            }
            guard member.kind == .group, let g = try? layersGroup.group(String(i)) else { complete = false; continue }
            if let kind = stringAttribute(g, "kind"), kind != spec.kindName {
                add(path, "attribute 'kind': expected \"\(spec.kindName)\" (as in the architecture), found \"\(kind)\"")
            }
            if strict, let names = try? g.attributeNames() {
                for n in names where n != "kind" { add(path, "unexpected attribute '\(n)' (a layer group has only 'kind')") }
            }
            guard let exp = expected[i] else { complete = false; continue }
            let layer = exp.layer
            let expectedNames = layer.parameterNames
            let present = listMembers(g)
            for (name, kind) in present where !expectedNames.contains(name) {
                let has = expectedNames.isEmpty ? "no datasets" : expectedNames.joined(separator: ", ")
                add(g.childPath(name), "unexpected \(kind.rawValue): \(spec.kindName)\(layerDetail(spec)) has \(has)")
            }
            for (name, template) in zip(expectedNames, layer.parameters) {
                let dpath = g.childPath(name)
                guard let m = present.first(where: { $0.name == name }) else {
                    add(dpath, "missing dataset (expected float32 \(formatShape(template.shape)))")
                    complete = false
                    continue
                }
                guard m.kind == .dataset else {
                    add(dpath, "expected a float dataset \(formatShape(template.shape)), found a \(m.kind.rawValue)")
                    complete = false
                    continue
                }
                guard let tensor = readParameter(g, name, path: dpath, shape: template.shape, types: &types) else {
                    complete = false
                    continue
                }
                if let slot = exp.slots[name] {
                    if slot.isAlpha {
                        checkAlpha(tensor, function: slot.function, path: dpath)
                    } else {
                        checkBeta(tensor, function: slot.function, path: dpath)
                    }
                }
                parameters.append(("layers.\(i).\(name)", tensor))
            }
        }
        return (parameters, types, complete)
    }

    func layerDetail(_ spec: LayerSpec) -> String {
        switch spec {
        case let .activation(f, _): " (\(f.name))"
        case let .lstm(_, _, _, g, c): " (gate \(g.name), cell \(c.name))"
        default: ""
        }
    }

    /// Reads one parameter: float type, rank, shape, finite values.
    mutating func readParameter(_ g: HDF5SnapshotGroup, _ name: String, path: String, shape: [Int],
                                types: inout [HDF5StoredType]) -> Tensor? {
        let info: (shape: [Int], type: HDF5StoredType)
        do { info = try g.datasetInfo(name) } catch {
            add(path, "cannot open the dataset (HDF5: \(error.detail.isEmpty ? error.message : error.detail))")
            return nil
        }
        var ok = true
        switch info.type {
        case .float(bits: 16), .float(bits: 32), .float(bits: 64): break
        default:
            add(path, "wrong dtype: expected float32 (or float16, float64), found \(info.type)")
            ok = false
        }
        if info.shape.count != shape.count {
            add(path, "wrong rank: expected rank \(shape.count) \(formatShape(shape)), found rank \(info.shape.count) \(formatShape(info.shape))")
            ok = false
        } else if info.shape != shape {
            add(path, "expected shape \(formatShape(shape)), found \(formatShape(info.shape))")
            ok = false
        }
        guard ok else { return nil }
        let array: HDF5FloatArray
        do { array = try g.readFloats(name) } catch {
            add(path, "cannot read the values (the file may be truncated or damaged; HDF5: \(error.detail.isEmpty ? error.message : error.detail))")
            return nil
        }
        types.append(array.storedType)
        if !allFinite(array.values) {
            let bad = array.values.indices.filter { !array.values[$0].isFinite }
            let first = bad[0]
            add(path, "\(bad.count) of \(array.values.count) values \(bad.count == 1 ? "is" : "are") NaN or infinite (first at \(formatIndex(first, shape)): \(array.values[first]))")
            return nil
        }
        return Tensor(shape: shape, scalars: array.values)
    }

    func allFinite(_ v: [Float]) -> Bool {
        v.withUnsafeBufferPointer { p in
            var ok = true
            for x in p where !x.isFinite { ok = false; break }
            return ok
        }
    }

    /// α: one free weight per unit in [0, 1], or K weights per unit on the simplex; tolerance
    /// `ActivationFunction.simplexTolerance`.
    mutating func checkAlpha(_ t: Tensor, function f: ActivationFunction, path: String) {
        let tol = ActivationFunction.simplexTolerance
        let units = t.shape.first ?? 0
        let k = f.alphaWidth
        if k <= 1 {
            let bad = t.scalars.indices.filter { Double(t.scalars[$0]) < -tol || Double(t.scalars[$0]) > 1 + tol }
            if let first = bad.first {
                add(path, "α must lie in [0, 1] (\(f.name): weight α on \(f.components[0].name), 1 − α on \(f.components[1].name)); \(bad.count) of \(units) unit\(units == 1 ? "" : "s") outside (first: unit \(first), α = \(t.scalars[first]))")
            }
            return
        }
        var negative: [Int] = [], badSum: [(Int, Double)] = []
        for u in 0..<units {
            let row = t.scalars[(u * k)..<((u + 1) * k)].map(Double.init)
            if row.contains(where: { $0 < -tol || $0 > 1 + tol }) { negative.append(u) }
            let s = row.reduce(0, +)
            if abs(s - 1) > tol { badSum.append((u, s)) }
        }
        if let u = negative.first {
            let row = Array(t.scalars[(u * k)..<((u + 1) * k)])
            add(path, "α must lie in [0, 1] (rows on the simplex of \(f.name)'s \(k) components); \(negative.count) of \(units) units outside (first: unit \(u), α = \(row))")
        }
        if let (u, s) = badSum.first {
            add(path, "α rows must sum to 1 within \(tol) (\(f.name)); \(badSum.count) of \(units) units do not (first: unit \(u), Σα = \(s))")
        }
    }

    /// β within the member's domain.
    mutating func checkBeta(_ t: Tensor, function f: ActivationFunction, path: String) {
        let d = f.betaDomain
        let bad = t.scalars.indices.filter { !d.contains(Double(t.scalars[$0])) }
        if let first = bad.first {
            add(path, "β must lie in \(d) for \(f.name); \(bad.count) of \(t.scalars.count) unit\(t.scalars.count == 1 ? "" : "s") outside (first: unit \(first), β = \(t.scalars[first]))")
        }
    }

    // MARK: Provenance

    mutating func readProvenance(_ root: HDF5SnapshotGroup, strict: Bool) -> Provenance? {
        let g: HDF5SnapshotGroup
        do { g = try root.group("provenance") } catch {
            add("/provenance", "expected a group (HDF5: \(error.detail))")
            return nil
        }
        let before = problems.count
        var p = Provenance()
        p.dataset = stringAttribute(g, "dataset", required: false)
        p.trainSize = intAttribute(g, "train_size", required: false)
        p.validationSize = intAttribute(g, "validation_size", required: false)
        p.testSize = intAttribute(g, "test_size", required: false)
        p.seed = intAttribute(g, "seed", required: false)
        p.epochs = intAttribute(g, "epochs", required: false)
        if let s = stringAttribute(g, "optimizer", required: false) {
            do { p.optimizer = try JSONDecoder().decode(OptimizerSettings.self, from: Data(s.utf8)) } catch {
                add("/provenance", "attribute 'optimizer': \(describeJSONError(error, expected: "{\"name\", \"learning_rate\", \"beta1\", \"beta2\", \"epsilon\"}"))")
            }
        }
        if let s = stringAttribute(g, "regularizer", required: false) {
            do { p.regularizer = try JSONDecoder().decode(RegularizerSettings.self, from: Data(s.utf8)) } catch {
                add("/provenance", "attribute 'regularizer': \(describeJSONError(error, expected: "{\"delta1\", \"delta2\", \"delta3\", \"margin\"}"))")
            }
        }
        p.testLoss = doubleAttribute(g, "test_loss", required: false)
        p.created = stringAttribute(g, "created", required: false)
        if strict, let names = try? g.attributeNames() {
            let known = Set(provenanceAttributes.map(\.name))
            for n in names where !known.contains(n) {
                add("/provenance", "unexpected attribute '\(n)' (provenance attributes: \(provenanceAttributes.map(\.name).joined(separator: ", ")))")
            }
        }
        let members = listMembers(g)
        for (name, kind) in members where name != "train_loss" && name != "validation_loss" {
            if strict { add(g.childPath(name), "unexpected \(kind.rawValue) (provenance datasets: train_loss, validation_loss)") }
        }
        for name in ["train_loss", "validation_loss"] {
            let path = g.childPath(name)
            guard members.contains(where: { $0.name == name && $0.kind == .dataset }) else {
                add(path, "missing dataset (expected float64 [epochs], possibly empty)")
                continue
            }
            do {
                let r = try g.readDoubles(name)
                guard r.shape.count == 1 else {
                    add(path, "wrong rank: expected rank 1 [epochs], found rank \(r.shape.count) \(formatShape(r.shape))")
                    continue
                }
                if name == "train_loss" { p.trainLoss = r.values } else { p.validationLoss = r.values }
            } catch {
                add(path, error.detail.isEmpty ? error.message : "cannot read it (HDF5: \(error.detail))")
            }
        }
        return problems.count == before ? p : nil
    }
}

// MARK: Formatting

/// `[2, 0, 1]` for a flat index into `shape`.
func formatIndex(_ flat: Int, _ shape: [Int]) -> String {
    guard !shape.isEmpty else { return "[]" }
    var rest = flat
    var idx = [Int](repeating: 0, count: shape.count)
    for d in stride(from: shape.count - 1, through: 0, by: -1) {
        let n = max(shape[d], 1)
        idx[d] = rest % n
        rest /= n
    }
    return formatShape(idx)
}

/// A JSON decoding error as one readable phrase; `dropping` leading coding-path components are left out
/// (the caller already named them).
func describeJSONError(_ error: any Error, expected: String, dropping: Int = 0) -> String {
    func where_(_ path: [any CodingKey]) -> String {
        let parts = path.dropFirst(dropping).map { k in k.intValue.map { "[\($0)]" } ?? ".\(k.stringValue)" }
        var s = parts.joined()
        if s.hasPrefix(".") { s.removeFirst() }
        return s.isEmpty ? "" : "field '\(s)': "
    }
    func typeName(_ t: Any.Type) -> String {
        switch t {
        case is Int.Type, is Int64.Type: "an integer"
        case is Double.Type, is Float.Type: "a number"
        case is String.Type: "a string"
        case is [Any].Type, is [LayerSpec].Type, is [String].Type, is [Double].Type: "an array"
        default: "\(t)".hasPrefix("Array") ? "an array" : (("\(t)".hasPrefix("Dictionary") || "\(t)".hasPrefix("KeyedDecodingContainer")) ? "an object" : "\(t)")
        }
    }
    if let e = error as? StrictJSONError { return "\(where_(e.codingPath))\(e.message)" }
    guard let e = error as? DecodingError else { return "malformed JSON: \(error)" }
    switch e {
    case let .keyNotFound(key, ctx):
        return "\(where_(ctx.codingPath))missing field '\(key.stringValue)'"
    case let .valueNotFound(type, ctx):
        return "\(where_(ctx.codingPath))expected \(typeName(type)), found null"
    case let .typeMismatch(type, ctx):
        let path = where_(ctx.codingPath)
        return "\(path)expected \(path.isEmpty && dropping == 0 ? expected : typeName(type))\(ctx.debugDescription.isEmpty ? "" : " (\(ctx.debugDescription))")"
    case let .dataCorrupted(ctx):
        if ctx.codingPath.count <= dropping {
            return "malformed JSON (expected \(expected)): \(ctx.debugDescription)"
        }
        return "\(where_(ctx.codingPath))\(ctx.debugDescription)"
    @unknown default:
        return "malformed JSON: \(e)"
    }
}
