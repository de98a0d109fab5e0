// The learned image codec's checkpoints (task image-codec): the codec input specification, the integer
// entropy-coding tables in /entropy_model, the optional density, the fingerprint over them, and every way the
// reader refuses a bad or crafted entropy model.

import FlexEntropy
import FlexHDF5
import FlexRuntime
import FlexTraining
import Foundation
import Testing

extension Fixture {
    static let codecArchitecture = CodecArchitecture(channels: 8, latentChannels: 4, nonlinearity: .gdn)

    /// Four hand-made tables of different lengths and offsets (so the stored matrix has padding), one built by
    /// the quantiser.
    static func codecTables() throws -> EntropyCodingTables {
        EntropyCodingTables(
            medians: [0.25, -1.5, 0, 3.125],
            tables: [
                try CDFTable(minSymbol: -2, cdf: [0, 1000, 20000, 45000, 65000, 65536]),
                try CDFTable(minSymbol: 0, cdf: [0, 65535, 65536]),
                try CDFTable(quantizing: [1, 2, 4, 8, 16, 8, 4, 2, 1], minSymbol: -4, tailMass: 0.01),
                try CDFTable(minSymbol: 100, cdf: [0, 10, 20, 30, 65536]),
            ])
    }

    /// `EntropyBottleneck`'s parameters for filters (3, 3) and `channels`, in its `parameterNames` order.
    static func codecDensity(channels: Int = 4, seed: UInt64 = 5) -> [(name: String, tensor: Tensor)] {
        var rng = SplitMix64(seed: seed)
        return EntropyCodingTables.densityLayout(channels: channels, widths: [1, 3, 3, 1]).map { name, shape in
            let n = shape.reduce(1, *)
            let values: [Float] = name == "quantiles"
                ? (0..<channels).flatMap { _ in [-10, rng.uniform(-1, 1), 10] }
                : (0..<n).map { _ in rng.uniform(-1, 1) }
            return (name, Tensor(shape: shape, scalars: values))
        }
    }

    static func codec(density: Bool = true, seed: UInt64 = 3) throws -> Checkpoint {
        let a = codecArchitecture
        let input = CodecInputSpec(a, lambda: 0.0067)
        let model = try Sequential(specs: a.analysis + a.synthesis, inputShape: InputSpec.codec(input).perSampleShape,
                                   seed: seed)
        return Checkpoint(model: model, task: .imageCodec, input: .codec(input), entropyTables: try codecTables(),
                          entropyDensity: density ? codecDensity() : [])
    }

    /// Replaces /entropy_model's four datasets; `rows` are the CDF rows, padded with zeros to `width`.
    static func rewriteEntropyModel(_ file: HDF5File, medians: [Float], minSymbols: [Int32], lengths: [Int32],
                                    rows: [[Int32]], width: Int? = nil) throws {
        let g = try file.group("/entropy_model")
        for name in ["medians", "min_symbol", "cdf_length", "cdf"] where try g.contains(name) { try g.delete(name) }
        let w = width ?? rows.map(\.count).max()!
        try g.writeFloats("medians", shape: [medians.count], values: medians)
        try g.writeInt32s("min_symbol", shape: [minSymbols.count], values: minSymbols)
        try g.writeInt32s("cdf_length", shape: [lengths.count], values: lengths)
        try g.writeInt32s("cdf", shape: [rows.count, w], values: rows.flatMap { $0 + Array(repeating: 0, count: w - $0.count) })
    }

    /// The tables' stored form, to edit.
    static func storedRows() throws -> (medians: [Float], minSymbols: [Int32], lengths: [Int32], rows: [[Int32]]) {
        let e = try codecTables()
        return (e.medians, e.tables.map(\.minSymbol), e.tables.map { Int32($0.cdf.count) },
                e.tables.map { $0.cdf.map { Int32($0) } })
    }
}

@Suite("Codec checkpoints") struct CodecCheckpointTests {
    // MARK: Round trips

    @Test("round trip is exact", arguments: [StoredType.float32, .float16, .float64], [false, true])
    func roundTrip(_ dtype: StoredType, density: Bool) throws {
        let original = try Fixture.codec(density: density)
        let path = try Fixture.written(original, options: .init(dtype: dtype, compress: density))
        let read = try Checkpoint.read(from: path)
        #expect(read.task == .imageCodec)
        #expect(read.input == original.input)
        #expect(read.architecture == original.architecture)
        #expect(read.storedType == dtype)
        // Tables and medians are exact whatever the weights' dtype; so is the density (always float32).
        #expect(read.entropyTables == original.entropyTables)
        #expect(read.entropyDensity.map(\.name) == original.entropyDensity.map(\.name))
        for (a, b) in zip(read.entropyDensity, original.entropyDensity) { #expect(a.tensor == b.tensor, "\(a.name)") }
        let stored = original.parametersAsStored(dtype)
        for (a, b) in zip(read.parameters, stored) { #expect(a.tensor == b.tensor, "\(a.name)") }
        #expect(read.fingerprint == Checkpoint.fingerprint(of: read.parameters, entropyTables: read.entropyTables,
                                                           entropyDensity: read.entropyDensity))
        if dtype == .float32 { #expect(read.fingerprint == original.fingerprint) }
        // The model builds from the codec input's shape (the smallest image).
        let model = try read.makeModel()
        #expect(model.inputShape == [3, 16, 16] && model.outputShape == [3, 16, 16])
        #expect(model.layerOutputShapes[6] == [4, 1, 1])
    }

    @Test func inputSpecificationJSON() throws {
        let c = try Fixture.codec()
        let json = c.input.canonicalJSON
        #expect(json == #"{"kind":"codec","image_channels":3,"latent_channels":4,"analysis_layers":7,"stride":16,"pixel_scaling":"zero_to_one","lambda":0.0067}"#)
        #expect(try JSONDecoder().decode(InputSpec.self, from: Data(json.utf8)) == c.input)
        // Strict: an extra field or a missing one is refused.
        let extra = json.replacingOccurrences(of: #""stride":16"#, with: #""stride":16,"height":32"#)
        #expect(throws: (any Error).self) { try JSONDecoder().decode(InputSpec.self, from: Data(extra.utf8)) }
        let missing = json.replacingOccurrences(of: #","lambda":0.0067"#, with: "")
        #expect(throws: (any Error).self) { try JSONDecoder().decode(InputSpec.self, from: Data(missing.utf8)) }
    }

    @Test("h5py sees int32 tables, float32 medians and density", .enabled(if: Fixture.h5py != nil, "python3 with h5py not installed"))
    func h5pyTypes() throws {
        let path = try Fixture.written(try Fixture.codec(), options: .init(dtype: .float16))
        let script = """
            import h5py, sys
            f = h5py.File(sys.argv[1], "r")
            e = f["entropy_model"]
            print(e["medians"].dtype, e["min_symbol"].dtype, e["cdf_length"].dtype, e["cdf"].dtype, e["cdf"].shape,
                  e["density/quantiles"].dtype, f["layers/0/weight"].dtype)
            print(e["cdf"][2][:4].tolist(), e["cdf"][1].tolist(), e["cdf_length"][...].tolist(), e["min_symbol"][...].tolist())
            """
        let r = try Fixture.run(Fixture.h5py!, ["-c", script, path])
        #expect(r.status == 0, "\(r.output)")
        let lines = r.output.split(separator: "\n").map(String.init)
        #expect(lines.first == "float32 int32 int32 int32 (4, 11) float32 float16")
        let t2 = try Fixture.codecTables().tables[2]
        #expect(lines.dropFirst().first == "\(t2.cdf.prefix(4).map(Int.init)) [0, 65535, 65536, 0, 0, 0, 0, 0, 0, 0, 0] [6, 3, 11, 5] [-2, 0, -4, 100]")
    }

    /// The fingerprint as docs/checkpoint-format.md defines it, computed by Python's hashlib from the file
    /// (an independent implementation of the documented byte layout).
    @Test("fingerprint follows the documented layout", .enabled(if: Fixture.h5py != nil, "python3 with h5py not installed"))
    func fingerprintReference() throws {
        let c = try Fixture.codec()
        let path = try Fixture.written(c)
        let script = """
            import h5py, hashlib, struct, sys, numpy as np
            f = h5py.File(sys.argv[1], "r")
            h = hashlib.sha256()
            def tensor(name, d):
                a = np.asarray(d[...], dtype="<f4")
                h.update(name.encode() + b"\\0" + struct.pack("<Q", a.ndim) + b"".join(struct.pack("<Q", n) for n in a.shape))
                h.update(a.tobytes())
            for name in sys.argv[2].split(","):
                _, i, p = name.split(".", 2)
                tensor(name, f["layers"][i][p])
            e = f["entropy_model"]
            m = e["medians"].shape[0]
            h.update(b"entropy_model\\0" + struct.pack("<Q", m))
            for c in range(m):
                n = int(e["cdf_length"][c])
                h.update(np.asarray(e["medians"][c], dtype="<f4").tobytes() + struct.pack("<i", int(e["min_symbol"][c])) + struct.pack("<Q", n))
                h.update(np.asarray(e["cdf"][c][:n], dtype="<u4").tobytes())
            h.update(b"entropy_model/density\\0")
            for name in sys.argv[3].split(","):
                tensor(name, e["density"][name])
            print("sha256:" + h.hexdigest(), f.attrs["fingerprint"])
            """
        let r = try Fixture.run(Fixture.h5py!, ["-c", script, path, c.parameters.map(\.name).joined(separator: ","),
                                                c.entropyDensity.map(\.name).joined(separator: ",")])
        #expect(r.status == 0, "\(r.output)")
        #expect(r.output == "\(c.fingerprint) \(c.fingerprint)\n")
    }

    @Test func fingerprintCoversTablesMediansAndDensity() throws {
        let c = try Fixture.codec()
        let base = c.fingerprint
        // Without an entropy model the fingerprint is the weights' alone (old checkpoints keep theirs).
        #expect(Checkpoint.fingerprint(of: c.parameters, entropyTables: nil, entropyDensity: c.entropyDensity)
                == Checkpoint.fingerprint(of: c.parameters))
        var tables = try Fixture.codecTables()
        tables.tables[3] = try CDFTable(minSymbol: 100, cdf: [0, 10, 21, 30, 65536])
        #expect(Checkpoint.fingerprint(of: c.parameters, entropyTables: tables, entropyDensity: c.entropyDensity) != base)
        tables = try Fixture.codecTables()
        tables.tables[3] = try CDFTable(minSymbol: 101, cdf: [0, 10, 20, 30, 65536])
        #expect(Checkpoint.fingerprint(of: c.parameters, entropyTables: tables, entropyDensity: c.entropyDensity) != base)
        tables = try Fixture.codecTables()
        tables.medians[0] = Float(0.25).nextUp
        #expect(Checkpoint.fingerprint(of: c.parameters, entropyTables: tables, entropyDensity: c.entropyDensity) != base)
        var density = c.entropyDensity
        density[0].tensor.scalars[0] += 1
        #expect(Checkpoint.fingerprint(of: c.parameters, entropyTables: c.entropyTables, entropyDensity: density) != base)
        #expect(Checkpoint.fingerprint(of: c.parameters, entropyTables: c.entropyTables) != base)
    }

    // MARK: Tables refused

    @Test func wrongNumberOfTables() throws {
        var s = try Fixture.storedRows()
        s.medians.append(0); s.minSymbols.append(0); s.lengths.append(3); s.rows.append([0, 1, 65536])
        let error = try Fixture.readError(of: try Fixture.codec()) {
            try Fixture.rewriteEntropyModel($0, medians: s.medians, minSymbols: s.minSymbols, lengths: s.lengths, rows: s.rows)
        }
        expectProblem(error, "/entropy_model", "expected one table per latent channel, latent_channels = 4 (attribute 'input'), found 5 channels")
    }

    @Test func datasetsDisagreeOnTheChannels() throws {
        let s = try Fixture.storedRows()
        let error = try Fixture.readError(of: try Fixture.codec()) {
            try Fixture.rewriteEntropyModel($0, medians: s.medians, minSymbols: Array(s.minSymbols.prefix(3)),
                                            lengths: s.lengths, rows: s.rows)
        }
        expectProblem(error, "/entropy_model/min_symbol", "expected shape [4] (one per latent channel), found [3]")
    }

    @Test func nonMonotoneCDF() throws {
        var s = try Fixture.storedRows()
        s.rows[0][3] = 15000  // 20000 then 15000
        let error = try Fixture.readError(of: try Fixture.codec()) {
            try Fixture.rewriteEntropyModel($0, medians: s.medians, minSymbols: s.minSymbols, lengths: s.lengths, rows: s.rows)
        }
        expectProblem(error, "/entropy_model/cdf", "row 0: CDF entries 2 and 3 are 20000 and 15000; expected strictly increasing (every frequency ≥ 1)")
        #expect(error?.problems.count == 1)
    }

    @Test func cdfNotEndingAtTotal() throws {
        var s = try Fixture.storedRows()
        s.rows[3][4] = 65535
        let error = try Fixture.readError(of: try Fixture.codec()) {
            try Fixture.rewriteEntropyModel($0, medians: s.medians, minSymbols: s.minSymbols, lengths: s.lengths, rows: s.rows)
        }
        expectProblem(error, "/entropy_model/cdf", "row 3: CDF ends at 65535; expected 65536")
    }

    @Test func cdfNotStartingAtZeroAndEntryOutOfRange() throws {
        var s = try Fixture.storedRows()
        s.rows[1][0] = 5
        s.rows[3][2] = 70000
        let error = try Fixture.readError(of: try Fixture.codec()) {
            try Fixture.rewriteEntropyModel($0, medians: s.medians, minSymbols: s.minSymbols, lengths: s.lengths, rows: s.rows)
        }
        expectProblem(error, "/entropy_model/cdf", "row 1: CDF starts at 5; expected 0")
        expectProblem(error, "/entropy_model/cdf", "row 3: entry 2 is 70000; expected 0...65536")
    }

    @Test func lengthOverTheStoredWidth() throws {
        var s = try Fixture.storedRows()
        s.lengths[1] = 12
        let error = try Fixture.readError(of: try Fixture.codec()) {
            try Fixture.rewriteEntropyModel($0, medians: s.medians, minSymbols: s.minSymbols, lengths: s.lengths, rows: s.rows)
        }
        expectProblem(error, "/entropy_model/cdf_length", "channel 1: expected a table length in 3...11 (L, the width of /entropy_model/cdf), found 12")
    }

    @Test func tableLongerThanTheCoderAllows() throws {
        // 65,537 entries are the most (65,536 symbols with the escape); one more is refused from the shape alone.
        let s = try Fixture.storedRows()
        let error = try Fixture.readError(of: try Fixture.codec()) {
            try Fixture.rewriteEntropyModel($0, medians: s.medians, minSymbols: s.minSymbols, lengths: s.lengths,
                                            rows: s.rows, width: CDFTable.maxSymbolCount + 2)
        }
        expectProblem(error, "/entropy_model/cdf", "expected L (the longest table) in 3...65537 (at most 65536 symbols with the escape), found [4, 65538]")
    }

    @Test func tooShortTable() throws {
        var s = try Fixture.storedRows()
        s.lengths[2] = 2
        let error = try Fixture.readError(of: try Fixture.codec()) {
            try Fixture.rewriteEntropyModel($0, medians: s.medians, minSymbols: s.minSymbols, lengths: s.lengths, rows: s.rows)
        }
        expectProblem(error, "/entropy_model/cdf_length", "channel 2: expected a table length in 3...11 (L, the width of /entropy_model/cdf), found 2")
    }

    @Test func nonZeroPadding() throws {
        var s = try Fixture.storedRows()
        s.rows[1] += [0, 0, 7]
        let error = try Fixture.readError(of: try Fixture.codec()) {
            try Fixture.rewriteEntropyModel($0, medians: s.medians, minSymbols: s.minSymbols, lengths: s.lengths, rows: s.rows)
        }
        expectProblem(error, "/entropy_model/cdf", "row 1: padding entry 5 (after cdf_length[1] = 3 entries) is 7; expected 0")
    }

    @Test func manyBadRowsAreSummarised() throws {
        var s = try Fixture.storedRows()
        for c in 0..<4 { s.rows[c][0] = 1 }
        let error = try Fixture.readError(of: try Fixture.codec()) {
            try Fixture.rewriteEntropyModel($0, medians: s.medians, minSymbols: s.minSymbols, lengths: s.lengths, rows: s.rows)
        }
        expectProblem(error, "/entropy_model/cdf", "row 2: CDF starts at 1; expected 0")
        expectProblem(error, "/entropy_model", "4 of 4 tables are invalid (the first 3 are reported)")
        #expect(error?.problems.count == 4)
    }

    @Test func mediansMustBeFiniteFloat32() throws {
        var s = try Fixture.storedRows()
        s.medians[2] = .nan
        var error = try Fixture.readError(of: try Fixture.codec()) {
            try Fixture.rewriteEntropyModel($0, medians: s.medians, minSymbols: s.minSymbols, lengths: s.lengths, rows: s.rows)
        }
        expectProblem(error, "/entropy_model/medians", "1 of 4 values is NaN or infinite (first at [2]: nan)")
        error = try Fixture.readError(of: try Fixture.codec()) {
            let g = try $0.group("/entropy_model")
            try g.delete("medians")
            try g.writeDoubles("medians", shape: [4], values: [0.25, -1.5, 0, 3.125])
        }
        expectProblem(error, "/entropy_model/medians", "wrong dtype: expected float32 (stored exactly, the symbols are offsets from it), found float64")
    }

    @Test func floatTablesAreRefused() throws {
        let error = try Fixture.readError(of: try Fixture.codec()) {
            let g = try $0.group("/entropy_model")
            try g.delete("cdf_length")
            try g.writeFloats("cdf_length", shape: [4], values: [6, 3, 11, 5])
        }
        expectProblem(error, "/entropy_model/cdf_length", "wrong dtype: expected int32 (or another integer type), found float32")
    }

    @Test func int64TablesFromNumpyAreAccepted() throws {
        // h5py writes numpy's default int64: any integer type whose values fit is read.
        let s = try Fixture.storedRows()
        let error = try Fixture.readError(of: try Fixture.codec()) {
            let g = try $0.group("/entropy_model")
            try g.delete("min_symbol")
            try g.writeInt64s("min_symbol", shape: [4], values: s.minSymbols.map(Int64.init))
        }
        #expect(error == nil, "\(error?.description ?? "")")
        let big = try Fixture.readError(of: try Fixture.codec()) {
            let g = try $0.group("/entropy_model")
            try g.delete("min_symbol")
            try g.writeInt64s("min_symbol", shape: [4], values: [-2, 0, -4, 1 << 40])
        }
        expectProblem(big, "/entropy_model/min_symbol", "channel 3: expected an int32, found 1099511627776")
    }

    @Test func validButDifferentTableBreaksTheFingerprint() throws {
        var s = try Fixture.storedRows()
        s.rows[3] = [0, 10, 21, 30, 65536]
        let error = try Fixture.readError(of: try Fixture.codec()) {
            try Fixture.rewriteEntropyModel($0, medians: s.medians, minSymbols: s.minSymbols, lengths: s.lengths, rows: s.rows)
        }
        expectProblem(error, "/", "fingerprint mismatch: the file says", prefix: true)
        #expect(error?.problems.count == 1)
    }

    @Test func missingDatasetAndUnexpectedMember() throws {
        let error = try Fixture.readError(of: try Fixture.codec()) {
            let g = try $0.group("/entropy_model")
            try g.delete("cdf_length")
            try g.writeFloats("extra", shape: [1], values: [0])
        }
        expectProblem(error, "/entropy_model/cdf_length", "missing dataset (expected int32 [M = 4])")
        expectProblem(error, "/entropy_model/extra", "unexpected dataset (the entropy model holds medians, min_symbol, cdf_length, cdf and optionally the group density)")
    }

    // MARK: The group against the task

    @Test func missingGroupForImageCodec() throws {
        let error = try Fixture.readError(of: try Fixture.codec()) { try $0.root().delete("entropy_model") }
        expectProblem(error, "/entropy_model", "missing group: task image-codec needs its entropy-coding tables (datasets medians, min_symbol, cdf_length, cdf)")
        #expect(error?.problems.count == 1)
    }

    @Test func groupForAnotherTask() throws {
        let error = try Fixture.readError(of: try Fixture.cae("cae1")) {
            let g = try $0.root().createGroup("entropy_model")
            try g.writeFloats("medians", shape: [1], values: [0])
        }
        expectProblem(error, "/entropy_model", "unexpected group: only task image-codec has an entropy model, this checkpoint's task is image-autoencoder")
        #expect(error?.problems.count == 1)
    }

    @Test func entropyModelAsADataset() throws {
        let error = try Fixture.readError(of: try Fixture.codec()) {
            let root = try $0.root()
            try root.delete("entropy_model")
            try root.writeFloats("entropy_model", shape: [1], values: [0])
        }
        expectProblem(error, "/entropy_model", "expected a group holding the datasets medians, min_symbol, cdf_length and cdf, found a dataset")
    }

    @Test func taskAndInputKindMustAgree() throws {
        let error = try Fixture.readError(of: try Fixture.codec()) {
            try $0.root().setAttribute("task", .string("image-autoencoder"))
        }
        expectProblem(error, "/", "attribute 'input': task image-autoencoder needs an input of kind image, found codec")
        expectProblem(error, "/entropy_model", "unexpected group: only task image-codec has an entropy model, this checkpoint's task is image-autoencoder")
    }

    // MARK: The input against the architecture

    @Test func latentChannelsDisagreeWithTheArchitecture() throws {
        // The tables agree with the input (5), the analysis outputs 4 channels.
        let c = try Fixture.codec(density: false)
        var s = try Fixture.storedRows()
        s.medians.append(0); s.minSymbols.append(0); s.lengths.append(3); s.rows.append([0, 1, 65536])
        let error = try Fixture.readError(of: c) {
            try Fixture.editAttribute($0, "input") { $0.replacingOccurrences(of: #""latent_channels":4"#, with: #""latent_channels":5"#) }
            try Fixture.rewriteEntropyModel($0, medians: s.medians, minSymbols: s.minSymbols, lengths: s.lengths, rows: s.rows)
        }
        expectProblem(error, "/", "attribute 'architecture': the analysis transform (layers 0–6) must turn a 16×16 image into latents [latent_channels, 1, 1] = [5, 1, 1], found [4, 1, 1]")
    }

    @Test func analysisLayersDisagreeWithTheArchitecture() throws {
        let error = try Fixture.readError(of: try Fixture.codec()) {
            try Fixture.editAttribute($0, "input") { $0.replacingOccurrences(of: #""analysis_layers":7"#, with: #""analysis_layers":5"#) }
        }
        expectProblem(error, "/", "attribute 'architecture': the analysis transform (layers 0–4) must turn a 16×16 image into latents [latent_channels, 1, 1] = [4, 1, 1], found [8, 2, 2]")
    }

    @Test func strideDisagreesWithTheArchitecture() throws {
        let error = try Fixture.readError(of: try Fixture.codec()) {
            try Fixture.editAttribute($0, "input") { $0.replacingOccurrences(of: #""stride":16"#, with: #""stride":32"#) }
        }
        expectProblem(error, "/", "attribute 'architecture': the analysis transform (layers 0–6) must turn a 32×32 image into latents [latent_channels, 1, 1] = [4, 1, 1], found [4, 2, 2]")
    }

    @Test func imageChannelsDisagreeWithTheArchitecture() throws {
        let error = try Fixture.readError(of: try Fixture.codec()) {
            try Fixture.editAttribute($0, "input") { $0.replacingOccurrences(of: #""image_channels":3"#, with: #""image_channels":1"#) }
        }
        expectProblem(error, "/layers/0", "input shape does not match: Conv2d expects input [3, H, W], but the model input (attribute 'input') is [1, 16, 16]")
    }

    @Test("bad codec input fields", arguments: [
        (#""lambda":0.0067"#, #""lambda":0"#, "attribute 'input': 'lambda' must be positive and finite, found 0.0"),
        (#""lambda":0.0067"#, #""lambda":-1"#, "attribute 'input': 'lambda' must be positive and finite, found -1.0"),
        (#""pixel_scaling":"zero_to_one""#, #""pixel_scaling":"minus_one_to_one""#,
         "attribute 'input': 'pixel_scaling' must be \"zero_to_one\" for a codec (its decoder rounds 255·x̂), found \"minus_one_to_one\""),
        (#""stride":16"#, #""stride":0"#, "attribute 'input': 'stride' must be in 1...256, found 0"),
        (#""analysis_layers":7"#, #""analysis_layers":14"#, "attribute 'input': 'analysis_layers' must be in 1...13 for 14 layers, found 14"),
        (#""latent_channels":4"#, #""latent_channels":2000"#, "attribute 'input': 'latent_channels' must be in 1...1024, found 2000"),
        (#""stride":16"#, #""stride":16,"height":16"#,
         "attribute 'input': unexpected field 'height' for codec input (fields: kind, image_channels, latent_channels, analysis_layers, stride, pixel_scaling, lambda)"),
    ])
    func badInput(_ old: String, _ new: String, _ message: String) throws {
        let error = try Fixture.readError(of: try Fixture.codec()) {
            try Fixture.editAttribute($0, "input") { $0.replacingOccurrences(of: old, with: new) }
        }
        expectProblem(error, "/", message)
    }

    // MARK: Density

    @Test func densityWithAWrongShape() throws {
        let error = try Fixture.readError(of: try Fixture.codec()) {
            try Fixture.replaceDataset($0, "/entropy_model/density", "bias1", shape: [4, 2]) { Array($0.prefix(8)) }
        }
        expectProblem(error, "/entropy_model/density/bias1", "expected shape [4, 3], found [4, 2]")
    }

    @Test func densityWithAMissingAndAnExtraDataset() throws {
        let error = try Fixture.readError(of: try Fixture.codec()) {
            let g = try $0.group("/entropy_model/density")
            try g.delete("factor1")
            try g.writeFloats("factor7", shape: [1], values: [0])
        }
        expectProblem(error, "/entropy_model/density/factor1", "missing dataset (expected float32 [4, 3])")
        expectProblem(error, "/entropy_model/density/factor7", "unexpected dataset: a density of 3 layers has the datasets matrix0, matrix1, matrix2, bias0, bias1, bias2, factor0, factor1, quantiles")
    }

    @Test func densityMatricesMustChain() throws {
        let error = try Fixture.readError(of: try Fixture.codec()) {
            try Fixture.replaceDataset($0, "/entropy_model/density", "matrix1", shape: [4, 3, 2]) { Array($0.prefix(24)) }
        }
        expectProblem(error, "/entropy_model/density/matrix1", "expected shape [4, w in 1...64, 3] (channels, outputs, inputs of density layer 1), found [4, 3, 2]")
    }

    @Test func densityWithNaN() throws {
        let error = try Fixture.readError(of: try Fixture.codec()) {
            try Fixture.replaceDataset($0, "/entropy_model/density", "quantiles") { v in var v = v; v[4] = .infinity; return v }
        }
        expectProblem(error, "/entropy_model/density/quantiles", "1 of 12 values is NaN or infinite (first at [1, 1]: inf)")
    }

    // MARK: Writer

    @Test func writerRefusesInconsistentEntropyModels() throws {
        let folder = try Fixture.folder()
        var c = try Fixture.codec()
        c.entropyTables = nil
        var error = try #require(throws: CheckpointError.self) { try c.write(to: folder + "/a.h5") }
        #expect(error.problems == [.init(path: "/entropy_model", message: "task image-codec needs its entropy-coding tables (entropyTables is nil)")])

        var cae = try Fixture.cae("cae1")
        cae.entropyTables = try Fixture.codecTables()
        error = try #require(throws: CheckpointError.self) { try cae.write(to: folder + "/b.h5") }
        #expect(error.problems == [.init(path: "/entropy_model", message: "only task image-codec has an entropy model, this checkpoint's task is image-autoencoder")])

        c = try Fixture.codec()
        c.entropyTables!.medians.removeLast()
        error = try #require(throws: CheckpointError.self) { try c.write(to: folder + "/c.h5") }
        #expect(error.problems == [.init(path: "/entropy_model/medians", message: "expected one median per table (4), found 3")])

        c = try Fixture.codec()
        c.entropyTables!.tables.removeLast()
        c.entropyTables!.medians.removeLast()
        error = try #require(throws: CheckpointError.self) { try c.write(to: folder + "/d.h5") }
        #expect(error.problems == [.init(path: "/entropy_model", message: "expected one table per latent channel (latent_channels = 4), found 3")])

        c = try Fixture.codec()
        c.entropyDensity.remove(at: 1)
        error = try #require(throws: CheckpointError.self) { try c.write(to: folder + "/e.h5") }
        #expect(error.problems.first?.path == "/entropy_model/density")

        c = try Fixture.codec()
        c.entropyTables!.medians[1] = .nan
        error = try #require(throws: CheckpointError.self) { try c.write(to: folder + "/f.h5") }
        #expect(error.problems == [.init(path: "/entropy_model/medians", message: "refusing to write median 1: nan (NaN or infinite)")])
        #expect(Fixture.leftovers(folder).isEmpty)
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder).isEmpty)
    }

    // MARK: Hostile

    /// A codec file built in memory with `build` writing its /entropy_model datasets; the reader's error.
    static func hostile(latentChannels: Int = 4, _ build: (HDF5Group) throws -> Void) throws -> CheckpointError? {
        let c = try Fixture.codec(density: false)
        let path = try Fixture.written(c)
        let file = try HDF5File.open(path, writable: true)
        let root = try file.root()
        try root.delete("entropy_model")
        if latentChannels != 4 {
            try Fixture.editAttribute(file, "input") { $0.replacingOccurrences(of: #""latent_channels":4"#, with: #""latent_channels":\#(latentChannels)"#) }
        }
        try build(try root.createGroup("entropy_model"))
        try file.close()
        do { _ = try Checkpoint.read(from: path); return nil } catch { return error }
    }

    @Test func hostileTooManyStoredEntries() throws {
        // 1024 × 4097 entries (16 MiB of int32), over the 2^22 bound: refused from the shape, nothing built.
        let m = 1024, l = 4097
        let error = try Self.hostile(latentChannels: m) { g in
            try g.writeFloats("medians", shape: [m], values: [Float](repeating: 0, count: m))
            try g.writeInt32s("min_symbol", shape: [m], values: [Int32](repeating: 0, count: m))
            try g.writeInt32s("cdf_length", shape: [m], values: [Int32](repeating: Int32(l), count: m))
            try g.writeInt32s("cdf", shape: [m, l], values: [Int32](repeating: 0, count: m * l))
        }
        expectProblem(error, "/entropy_model/cdf", "[1024, 4097] holds 4195328 entries; at most 4194304 are allowed")
    }

    @Test func hostileHugeAndNegativeValues() throws {
        let error = try Self.hostile { g in
            try g.writeFloats("medians", shape: [4], values: [0, 0, 0, 0])
            try g.writeInt64s("min_symbol", shape: [4], values: [0, Int64(Int32.max), .min, 0])
            try g.writeInt64s("cdf_length", shape: [4], values: [-1, 4, 4, .max])
            try g.writeInt64s("cdf", shape: [4, 4], values: [0, 1, 2, 65536, 0, 1, 2, 65536, 0, -1, 2, 65536, 0, 1, 2, 65536])
        }
        expectProblem(error, "/entropy_model/cdf_length", "channel 0: expected a table length in 3...4 (L, the width of /entropy_model/cdf), found -1")
        // Int32.max + 2 in-range symbols overflows Int32: CDFTable refuses it.
        expectProblem(error, "/entropy_model/cdf", "row 1: symbols 2147483647 + 2 - 1 overflow Int32; expected the range to end at most at 2147483647")
        expectProblem(error, "/entropy_model/min_symbol", "channel 2: expected an int32, found -9223372036854775808")
        expectProblem(error, "/entropy_model", "4 of 4 tables are invalid (the first 3 are reported)")
    }

    @Test func hostileWrongRanksAndEmptyDatasets() throws {
        var error = try Self.hostile { g in
            try g.writeFloats("medians", shape: [2, 2], values: [0, 0, 0, 0])
            try g.writeInt32s("min_symbol", shape: [4], values: [0, 0, 0, 0])
            try g.writeInt32s("cdf_length", shape: [4], values: [3, 3, 3, 3])
            try g.writeInt32s("cdf", shape: [12], values: [Int32](repeating: 0, count: 12))
        }
        expectProblem(error, "/entropy_model/medians", "wrong rank: expected rank 1 [M = 4], found rank 2 [2, 2]")
        expectProblem(error, "/entropy_model/cdf", "wrong rank: expected rank 2 [4, L], found rank 1 [12]")
        error = try Self.hostile { g in
            try g.writeFloats("medians", shape: [0], values: [])
            try g.writeInt32s("min_symbol", shape: [0], values: [])
            try g.writeInt32s("cdf_length", shape: [0], values: [])
            try g.writeInt32s("cdf", shape: [0, 3], values: [])
        }
        expectProblem(error, "/entropy_model", "expected one table per latent channel, latent_channels = 4 (attribute 'input'), found 0 channels")
    }

    @Test func hostileDensityDepth() throws {
        let error = try Self.hostile { g in
            let s = try Fixture.storedRows()
            try g.writeFloats("medians", shape: [4], values: s.medians)
            try g.writeInt32s("min_symbol", shape: [4], values: s.minSymbols)
            try g.writeInt32s("cdf_length", shape: [4], values: s.lengths)
            try g.writeInt32s("cdf", shape: [4, 11], values: s.rows.flatMap { $0 + Array(repeating: 0, count: 11 - $0.count) })
            let d = try g.createGroup("density")
            for k in 0...16 { try d.writeFloats("matrix\(k)", shape: [4, 1, 1], values: [0, 0, 0, 0]) }
        }
        expectProblem(error, "/entropy_model/density", "expected at most 16 density layers (matrix0 … matrix15), found more")
    }
}
