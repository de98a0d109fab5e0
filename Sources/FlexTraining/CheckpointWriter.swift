// Writes checkpoints in the format of docs/checkpoint-format.md: atomically (a temporary file in the same
// folder, renamed into place), float32 or float16, optionally compressed; a learned codec's entropy model
// (integer tables and float32 medians, exactly) in `/entropy_model`.

import FlexEntropy
import FlexHDF5
import FlexIO
import FlexRuntime

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// How `Checkpoint.write(to:options:)` stores a checkpoint.
public struct CheckpointWriteOptions: Sendable {
    /// Float type of the weights' datasets. float16 rounds every value to nearest-even; the fingerprint written
    /// is over the rounded values, i.e. over what the file holds. A codec's entropy model is always exact:
    /// int32 tables, float32 medians and density.
    public var dtype: StoredType = .float32
    /// Chunked datasets with the shuffle filter and gzip (deflate level 4).
    public var compress = false
    /// Replace an existing file at the output path (never the checkpoint's own source file).
    public var overwrite = false
    /// Tests only: fail with an HDF5 error just before writing this dataset (dotted name), after the
    /// temporary file exists, to check that it is removed.
    var failBeforeWriting: String?

    public init(dtype: StoredType = .float32, compress: Bool = false, overwrite: Bool = false) {
        self.dtype = dtype
        self.compress = compress
        self.overwrite = overwrite
    }
}

extension Checkpoint {
    /// The parameters as `dtype` stores them, converted back to float32 (float16: rounded to nearest-even).
    public func parametersAsStored(_ dtype: StoredType) -> [(name: String, tensor: Tensor)] {
        guard dtype == .float16 else { return parameters }
        return parameters.map { ($0.name, Tensor(shape: $0.tensor.shape, scalars: $0.tensor.scalars.map(roundedToFloat16))) }
    }

    /// Writes the checkpoint atomically: everything goes to a temporary file in the destination's folder,
    /// which is renamed into place only when complete, and removed on any error. Refuses to replace an
    /// existing file unless `options.overwrite`, and never replaces the file this checkpoint was read from.
    /// Returns the fingerprint written (over the values as stored, so a float16 file has its own).
    /// Errors are `CheckpointError`s naming the output file.
    @discardableResult
    public func write(to path: String, options: CheckpointWriteOptions = .init()) throws -> String {
        func fail(_ p: String, _ message: String) -> CheckpointError { CheckpointError(file: path, path: p, message: message) }
        if let source = sourcePath, sameFile(source, path) {
            throw fail("", "refusing to overwrite the checkpoint's own source file; write to another path")
        }
        var st = stat()
        if stat(path, &st) == 0 {
            if (st.st_mode & S_IFMT) == S_IFDIR { throw fail("", "is a directory; give a file path for the checkpoint") }
            if !options.overwrite { throw fail("", "the file exists; refusing to overwrite it (choose another path, or allow overwriting)") }
        }
        // Check that the checkpoint is complete and consistent before touching the disk.
        do { _ = try makeModel() } catch { throw fail("", "not a consistent checkpoint: \(error.message)") }
        for (name, t) in parameters + entropyDensity {
            if let i = t.scalars.firstIndex(where: { !$0.isFinite }) {
                throw fail("", "refusing to write \(name): value \(i) is \(t.scalars[i]) (NaN or infinite)")
            }
        }
        try checkEntropyModel(fail)
        let stored = parametersAsStored(options.dtype)
        let fingerprint = Checkpoint.fingerprint(of: stored, entropyTables: entropyTables, entropyDensity: entropyDensity)

        // The file is built in memory and written by FlexIO's atomic writer: libhdf5 never writes to the disk
        // (its close path crashes after a failed write in 1.10.8), a full disk is one error, nothing is left
        // behind, and "never replace" is atomic (a hard link, which fails if the name appeared meanwhile).
        let bytes: [UInt8]
        do {
            let file = try HDF5File.createInMemory(name: path)
            try writeContents(file, stored: stored, fingerprint: fingerprint, options: options)
            bytes = try file.image()
            try file.close()
        } catch {
            throw fail(error.path, error.message + (error.detail.isEmpty ? "" : " (HDF5: \(error.detail))"))
        }
        do {
            try writeFileAtomically(path: path, bytes: bytes, mode: options.overwrite ? .replace : .createNew)
        } catch {
            throw fail("", error.isAlreadyExists ? "the file exists; refusing to overwrite it" : error.reason)
        }
        return fingerprint
    }

    /// What the reader requires of the entropy model, checked before touching the disk (the tables themselves
    /// are valid by construction: `CDFTable` validates in every initialiser).
    private func checkEntropyModel(_ fail: (String, String) -> CheckpointError) throws {
        guard let e = entropyTables else {
            if task == .imageCodec { throw fail("/entropy_model", "task image-codec needs its entropy-coding tables (entropyTables is nil)") }
            if !entropyDensity.isEmpty { throw fail("/entropy_model/density", "density parameters without entropy-coding tables") }
            return
        }
        guard task == .imageCodec else {
            throw fail("/entropy_model", "only task image-codec has an entropy model, this checkpoint's task is \(task.rawValue)")
        }
        if case let .codec(s) = input, s.latentChannels != e.tables.count {
            throw fail("/entropy_model", "expected one table per latent channel (latent_channels = \(s.latentChannels)), found \(e.tables.count)")
        }
        guard e.medians.count == e.tables.count else {
            throw fail("/entropy_model/medians", "expected one median per table (\(e.tables.count)), found \(e.medians.count)")
        }
        guard (1...EntropyCodingTables.maxChannels).contains(e.tables.count) else {
            throw fail("/entropy_model", "expected 1...\(EntropyCodingTables.maxChannels) tables, found \(e.tables.count)")
        }
        guard e.tables.count * e.maxCDFLength <= EntropyCodingTables.maxStoredEntries else {
            throw fail("/entropy_model/cdf", "[\(e.tables.count), \(e.maxCDFLength)] would hold more than \(EntropyCodingTables.maxStoredEntries) entries")
        }
        if let c = e.medians.firstIndex(where: { !$0.isFinite }) {
            throw fail("/entropy_model/medians", "refusing to write median \(c): \(e.medians[c]) (NaN or infinite)")
        }
        if let problem = EntropyCodingTables.densityProblem(entropyDensity, channels: e.tables.count) {
            throw fail("/entropy_model/density", problem)
        }
    }

    private func writeContents(_ file: HDF5File, stored: [(name: String, tensor: Tensor)], fingerprint: String,
                               options: CheckpointWriteOptions) throws(HDF5Error) {
        let root = try file.root()
        try root.setAttribute("format", .string(Checkpoint.formatName))
        try root.setAttribute("format_version", .int64(Int64(Checkpoint.formatVersion)))
        try root.setAttribute("format_minor_version", .int64(Int64(Checkpoint.formatMinorVersion)))
        try root.setAttribute("flexctl_version", .string(flexctlVersion))
        try root.setAttribute("task", .string(task.rawValue))
        try root.setAttribute("architecture", .string(architectureJSON))
        try root.setAttribute("input", .string(input.canonicalJSON))
        try root.setAttribute("fingerprint", .string(fingerprint))

        let storage: HDF5FloatStorage = switch options.dtype {
        case .float16: .float16
        case .float32: .float32
        case .float64: .float64
        }
        let layers = try root.createGroup("layers")
        var groups: [HDF5Group] = []
        for (i, spec) in architecture.enumerated() {
            let g = try layers.createGroup(String(i))
            try g.setAttribute("kind", .string(spec.kindName))
            groups.append(g)
        }
        for (name, tensor) in stored {
            // "layers.<i>.<name>" (checked by makeModel before writing).
            let parts = name.split(separator: ".", maxSplits: 2)
            let i = Int(parts[1])!
            // The original values: the wrapper rounds to float16 itself, identically to parametersAsStored.
            if options.failBeforeWriting == name {
                throw HDF5Error(file: file.path, path: groups[i].childPath(String(parts[2])), message: "injected failure")
            }
            let values = options.dtype == .float16 ? (parameter(name)?.scalars ?? tensor.scalars) : tensor.scalars
            try groups[i].writeFloats(String(parts[2]), shape: tensor.shape, values: values, storage: storage,
                                      compress: options.compress)
        }
        if let p = provenance {
            let g = try root.createGroup("provenance")
            if let v = p.dataset { try g.setAttribute("dataset", .string(v)) }
            if let v = p.trainSize { try g.setAttribute("train_size", .int64(Int64(v))) }
            if let v = p.validationSize { try g.setAttribute("validation_size", .int64(Int64(v))) }
            if let v = p.testSize { try g.setAttribute("test_size", .int64(Int64(v))) }
            if let v = p.seed { try g.setAttribute("seed", .int64(Int64(v))) }
            if let v = p.epochs { try g.setAttribute("epochs", .int64(Int64(v))) }
            if let v = p.optimizer { try g.setAttribute("optimizer", .string(v.canonicalJSON)) }
            if let v = p.regularizer { try g.setAttribute("regularizer", .string(v.canonicalJSON)) }
            if let v = p.testLoss { try g.setAttribute("test_loss", .double(v)) }
            if let v = p.created { try g.setAttribute("created", .string(v)) }
            try g.writeDoubles("train_loss", shape: [p.trainLoss.count], values: p.trainLoss, compress: options.compress)
            try g.writeDoubles("validation_loss", shape: [p.validationLoss.count], values: p.validationLoss,
                               compress: options.compress)
        }
        if let e = entropyTables {
            // Tables as int32 rows padded with zeros to the longest (the reader takes cdf_length[c] entries of
            // row c); medians and density as float32 whatever the weights' dtype, so coding is bit-exact.
            let g = try root.createGroup("entropy_model")
            let m = e.tables.count, width = e.maxCDFLength
            try g.writeFloats("medians", shape: [m], values: e.medians)
            try g.writeInt32s("min_symbol", shape: [m], values: e.tables.map(\.minSymbol))
            try g.writeInt32s("cdf_length", shape: [m], values: e.tables.map { Int32($0.cdf.count) })
            var cdf = [Int32](repeating: 0, count: m * width)
            for (c, t) in e.tables.enumerated() {
                for (j, v) in t.cdf.enumerated() { cdf[c * width + j] = Int32(v) }
            }
            try g.writeInt32s("cdf", shape: [m, width], values: cdf)
            if !entropyDensity.isEmpty {
                let d = try g.createGroup("density")
                for (name, t) in entropyDensity {
                    try d.writeFloats(name, shape: t.shape, values: t.scalars, compress: options.compress)
                }
            }
        }
    }
}
