import FlexHDF5
import FlexRuntime
@testable import FlexTraining
import Foundation
import Testing

@Suite("Checkpoint round trips") struct CheckpointRoundTripTests {
    static let models = ["cae1", "cae2", "cae3", "lstm"]

    static func checkpoint(_ name: String) throws -> Checkpoint {
        name == "lstm" ? try Fixture.lstm() : try Fixture.cae(name)
    }

    @Test("float32 round trip is exact", arguments: models, [false, true])
    func float32(_ name: String, compress: Bool) throws {
        let original = try Self.checkpoint(name)
        let path = try Fixture.written(original, options: .init(dtype: .float32, compress: compress))
        let read = try Checkpoint.read(from: path)
        #expect(read.formatVersion == 1 && read.formatMinorVersion == 0)
        #expect(read.flexctlVersion == Checkpoint.currentFlexctlVersion)
        #expect(read.task == original.task)
        #expect(read.architecture == original.architecture)
        #expect(read.input == original.input)
        #expect(read.provenance == original.provenance)
        #expect(read.storedType == .float32)
        #expect(read.sourcePath == path)
        #expect(read.parameters.map(\.name) == original.parameters.map(\.name))
        for (a, b) in zip(read.parameters, original.parameters) {
            #expect(a.tensor == b.tensor, "\(a.name) changed in the round trip")
        }
        #expect(read.fingerprint == original.fingerprint)
        #expect(Checkpoint.fingerprint(of: read.parameters) == read.fingerprint)

        // The rebuilt model computes exactly what the original computes.
        let model = try read.makeModel()
        let originalModel = try original.makeModel()
        let shape = [2] + read.input.perSampleShape
        var rng = SplitMix64(seed: 3)
        let x = Tensor(shape: shape, scalars: (0..<shape.reduce(1, *)).map { _ in rng.uniform(-1, 1) })
        #expect(try model.forward(x) == originalModel.forward(x))
    }

    @Test("float16 round trip: values rounded, fingerprint over the rounded values", arguments: models)
    func float16(_ name: String) throws {
        let original = try Self.checkpoint(name)
        let folder = try Fixture.folder()
        let path = folder + "/half.h5"
        let written = try original.write(to: path, options: .init(dtype: .float16, compress: true))
        let read = try Checkpoint.read(from: path)
        #expect(read.storedType == .float16)
        for (a, b) in zip(read.parameters, original.parameters) {
            #expect(a.tensor.shape == b.tensor.shape)
            #expect(a.tensor.scalars == b.tensor.scalars.map { Float(Float16($0)) }, "\(a.name): not the float16 rounding")
            let worst = zip(a.tensor.scalars, b.tensor.scalars).map { abs($0 - $1) / max(abs($1), 6.1e-5) }.max() ?? 0
            #expect(worst <= 1.001 / 2048, "\(a.name): relative error \(worst) beyond float16 rounding")
        }
        #expect(read.fingerprint == written)
        #expect(written == Checkpoint.fingerprint(of: original.parametersAsStored(.float16)))
        #expect(written != original.fingerprint)
        #expect(Checkpoint.fingerprint(of: read.parameters) == read.fingerprint)
        _ = try read.makeModel()
        // float16 halves the stored weights (compression aside): compare against an uncompressed float32 file.
        let path32 = folder + "/full.h5"
        try original.write(to: path32)
        let half = try Fixture.written(original, options: .init(dtype: .float16))
        let size = { (p: String) in (try FileManager.default.attributesOfItem(atPath: p)[.size] as? Int) ?? 0 }
        #expect(try size(half) < size(path32))
    }

    @Test func float64StorageReadsBack() throws {
        let original = try Fixture.cae("cae1")
        let path = try Fixture.written(original, options: .init(dtype: .float64))
        let read = try Checkpoint.read(from: path)
        #expect(read.storedType == .float64)
        #expect(read.fingerprint == original.fingerprint)
        for (a, b) in zip(read.parameters, original.parameters) { #expect(a.tensor == b.tensor) }
    }

    @Test func customCombinationRoundTrips() throws {
        // Three components: α rows on the simplex, stored as [units, 3].
        let f = try ActivationFunction.combination(
            name: "relu-elu-id", baseline: .relu, components: [.relu, .elu, .identity], initialAlpha: [0.5, 0.25, 0.25])
        #expect(!f.isBuiltInMember)
        let model = try Sequential(specs: try Architecture.cae1(activation: f), inputShape: [1, 28, 28], seed: 1)
        Fixture.perturbActivations(model, seed: 5)
        let original = Checkpoint(model: model, task: .imageAutoencoder,
                                  input: .image(.init(channels: 1, height: 28, width: 28, pixelScaling: .minusOneToOne, encoderLayers: 3)))
        // The architecture stores the custom member as its object, built-ins by name.
        #expect(original.architectureJSON.contains(#""activation":{"alpha":[0.5,0.25,0.25],"baseline":"#))
        #expect(original.architectureJSON.contains(#""activation":"tanh""#))
        #expect(original.parameter("layers.1.alpha")?.shape == [16, 3])
        let path = try Fixture.written(original)
        let read = try Checkpoint.read(from: path)
        #expect(read.architecture == original.architecture)
        for (a, b) in zip(read.parameters, original.parameters) { #expect(a.tensor == b.tensor) }
    }

    @Test func architectureJSONMatchesTheDocumentedExample() throws {
        let c = try Fixture.cae("cae1")
        #expect(c.architectureJSON == """
            [{"kind":"Conv2d","in_channels":1,"out_channels":16,"kernel_size":3,"stride":3,"padding":1},\
            {"kind":"Activation","activation":"p-e2-relu","units":16},\
            {"kind":"MaxPool2d","kernel_size":2,"stride":2},\
            {"kind":"ConvTranspose2d","in_channels":16,"out_channels":8,"kernel_size":5,"stride":3,"padding":1,"output_padding":0},\
            {"kind":"Activation","activation":"p-e2-relu","units":8},\
            {"kind":"ConvTranspose2d","in_channels":8,"out_channels":1,"kernel_size":2,"stride":2,"padding":1,"output_padding":0},\
            {"kind":"Activation","activation":"tanh","units":1}]
            """)
        // LayerSpec's Codable reads it back (and writes what it reads).
        let specs = try JSONDecoder().decode([LayerSpec].self, from: Data(c.architectureJSON.utf8))
        #expect(specs == c.architecture)
        let again = try JSONDecoder().decode([LayerSpec].self, from: JSONEncoder().encode(specs))
        #expect(again == specs)
        let lstm = try Fixture.lstm()
        #expect(lstm.architectureJSON.contains(#"{"kind":"LSTM","input_size":4,"hidden_size":8,"num_layers":2,"gate":"p-sig-ramp","cell":"p-tanh-ramp"}"#))
        #expect(lstm.input.canonicalJSON.hasPrefix(#"{"kind":"series","features":["S&P/ASX 200","FTSE 100","KOSPI","RTSI"]"#))
    }

    @Test("h5dump reads a written file with readable names and strings",
          .enabled(if: Fixture.h5dump != nil, "h5dump (hdf5-tools) not installed"))
    func h5dump() throws {
        let path = try Fixture.written(try Fixture.lstm(), options: .init(compress: true))
        let all = try Fixture.run(Fixture.h5dump!, ["-A", path])
        #expect(all.status == 0, "h5dump -A: \(all.output)")
        for needle in ["\"flexctl-checkpoint\"", "\"forecaster\"", "H5T_CSET_UTF8", "STRSIZE H5T_VARIABLE",
                       "GROUP \"layers\"", "GROUP \"provenance\"", "ATTRIBUTE \"kind\"", "\"LSTM\"", "\"S&P/ASX 200\""] {
            #expect(all.output.contains(needle), "h5dump -A does not show \(needle)")
        }
        let layer = try Fixture.run(Fixture.h5dump!, ["-H", "-p", "-g", "/layers/0", path])
        #expect(layer.status == 0, "h5dump -g /layers/0: \(layer.output)")
        for needle in ["GROUP \"/layers/0\"", "DATASET \"weight_ih_l0\"", "DATASET \"i_alpha_l1\"", "DATASET \"c_beta_l1\"",
                       "H5T_IEEE_F32LE", "PREPROCESSING SHUFFLE", "COMPRESSION DEFLATE { LEVEL 4 }"] {
            #expect(layer.output.contains(needle), "h5dump -H -p -g /layers/0 does not show \(needle)")
        }
        #expect(!all.output.contains("HDF5-DIAG"))
    }

    @Test("h5py reads float16 as float16 and strings as str", .enabled(if: Fixture.h5py != nil, "python3 with h5py not installed"))
    func h5pyCrossCheck() throws {
        let original = try Fixture.cae("cae1")
        let path = try Fixture.written(original, options: .init(dtype: .float16))
        let script = """
            import h5py, json, sys
            f = h5py.File(sys.argv[1], "r")
            d = f["layers/0/weight"]
            print(d.dtype, type(f.attrs["format"]).__name__, type(f.attrs["architecture"]).__name__, f.attrs["format_version"])
            print(json.dumps([float(v) for v in d[...].reshape(-1)[:8]]))
            """
        let r = try Fixture.run(Fixture.h5py!, ["-c", script, path])
        #expect(r.status == 0, "\(r.output)")
        let lines = r.output.split(separator: "\n").map(String.init)
        #expect(lines.first == "float16 str str 1")
        let values = try JSONDecoder().decode([Float].self, from: Data(lines[1].utf8))
        let expected = original.parameter("layers.0.weight")!.scalars.prefix(8).map { Float(Float16($0)) }
        #expect(values == Array(expected))
    }

    @Test func makeModelLoadsEveryParameter() throws {
        let c = try Fixture.lstm()
        let model = try c.makeModel()
        #expect(model.namedParameters.map(\.name) == c.parameters.map(\.name))
        for (a, b) in zip(model.namedParameters, c.parameters) { #expect(a.tensor == b.tensor) }
        var broken = c
        broken.parameters.removeLast()
        #expect(throws: ConfigurationError.self) { try broken.makeModel() }
    }
}

@Suite("Checkpoint writer") struct CheckpointWriterTests {
    @Test func refusesToOverwriteAnExistingFile() throws {
        let c = try Fixture.cae("cae1")
        let path = try Fixture.written(c)
        let before = try Data(contentsOf: URL(fileURLWithPath: path))
        let error = try #require(throws: CheckpointError.self) { try c.write(to: path) }
        #expect(error.description == "\(path): the file exists; refusing to overwrite it (choose another path, or allow overwriting)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == before)
        // With overwrite it replaces the file.
        try c.write(to: path, options: .init(dtype: .float16, overwrite: true))
        #expect(try Checkpoint.read(from: path).storedType == .float16)
        #expect(Fixture.leftovers((path as NSString).deletingLastPathComponent).isEmpty)
    }

    @Test func refusesToOverwriteItsOwnSource() throws {
        let path = try Fixture.written(try Fixture.cae("cae1"))
        let read = try Checkpoint.read(from: path)
        let error = try #require(throws: CheckpointError.self) { try read.write(to: path, options: .init(overwrite: true)) }
        #expect(error.description.contains("refusing to overwrite the checkpoint's own source file"))
    }

    @Test func missingFolderLeavesNothingBehind() throws {
        let folder = try Fixture.folder()
        let path = folder + "/no/such/folder/model.h5"
        let error = try #require(throws: CheckpointError.self) { try Fixture.cae("cae1").write(to: path) }
        #expect(error.file == path)
        #expect(error.description.contains("folder '\(folder)/no/such/folder' does not exist"))
        #expect(!FileManager.default.fileExists(atPath: path))
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder).isEmpty)
    }

    @Test func failureMidWriteRemovesTheTemporaryFile() throws {
        let folder = try Fixture.folder()
        let path = folder + "/model.h5"
        var options = CheckpointWriteOptions(compress: true)
        options.failBeforeWriting = "layers.3.weight"
        let error = try #require(throws: CheckpointError.self) { try Fixture.cae("cae1").write(to: path, options: options) }
        #expect(error.description.contains("/layers/3/weight: injected failure"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder).isEmpty, "a temporary or partial file was left behind")
    }

    @Test func failureMidOverwriteKeepsTheOldFile() throws {
        let c = try Fixture.cae("cae1")
        let path = try Fixture.written(c)
        let before = try Data(contentsOf: URL(fileURLWithPath: path))
        var options = CheckpointWriteOptions(overwrite: true)
        options.failBeforeWriting = "layers.0.bias"
        #expect(throws: CheckpointError.self) { try c.write(to: path, options: options) }
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == before)
        #expect(Fixture.leftovers((path as NSString).deletingLastPathComponent).isEmpty)
    }

    @Test func refusesNonFiniteWeights() throws {
        var c = try Fixture.cae("cae1")
        c.parameters[0].tensor.scalars[5] = .nan
        let folder = try Fixture.folder()
        let error = try #require(throws: CheckpointError.self) { try c.write(to: folder + "/m.h5") }
        #expect(error.description.contains("refusing to write layers.0.weight: value 5 is nan"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder).isEmpty)
    }

    @Test func refusesADirectory() throws {
        let folder = try Fixture.folder()
        let error = try #require(throws: CheckpointError.self) { try Fixture.cae("cae1").write(to: folder, options: .init(overwrite: true)) }
        #expect(error.description == "\(folder): is a directory; give a file path for the checkpoint")
    }
}
