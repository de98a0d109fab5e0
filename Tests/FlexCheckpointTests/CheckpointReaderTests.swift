import FlexHDF5
import FlexRuntime
import FlexTraining
import Foundation
import Testing

/// Expects `error` to hold a problem at `path` whose message equals `message` (or starts with it when
/// `prefix`); on failure, shows every problem found.
func expectProblem(_ error: CheckpointError?, _ path: String, _ message: String, prefix: Bool = false,
                   sourceLocation: SourceLocation = #_sourceLocation) {
    guard let error else {
        Issue.record("the file was accepted; expected \(path): \(message)", sourceLocation: sourceLocation)
        return
    }
    let found = error.problems.contains { $0.path == path && (prefix ? $0.message.hasPrefix(message) : $0.message == message) }
    #expect(found, "expected \(path): \(message)\nfound:\n\(error.description)", sourceLocation: sourceLocation)
}

@Suite("Checkpoint reader: bad files") struct CheckpointReaderTests {
    // MARK: The file itself

    @Test func missingFile() throws {
        let path = try Fixture.folder() + "/absent.h5"
        let error = try #require(throws: CheckpointError.self) { try Checkpoint.read(from: path) }
        #expect(error.description == "\(path): no such file")
    }

    @Test func zeroByteFile() throws {
        let path = try Fixture.folder() + "/empty.h5"
        _ = FileManager.default.createFile(atPath: path, contents: Data())
        let error = try #require(throws: CheckpointError.self) { try Checkpoint.read(from: path) }
        #expect(error.description == "\(path): not an HDF5 file: the file is empty (0 bytes)")
    }

    @Test func textFile() throws {
        let path = try Fixture.folder() + "/notes.h5"
        try "weights: 1 2 3\n".write(toFile: path, atomically: true, encoding: .utf8)
        let error = try #require(throws: CheckpointError.self) { try Checkpoint.read(from: path) }
        #expect(error.description == "\(path): not an HDF5 file: no HDF5 signature in its 15 bytes (expected a flexctl checkpoint, see docs/checkpoint-format.md)")
    }

    @Test func directory() throws {
        let path = try Fixture.folder()
        let error = try #require(throws: CheckpointError.self) { try Checkpoint.read(from: path) }
        #expect(error.description == "\(path): is a directory, not a checkpoint file")
    }

    @Test("truncated file", arguments: [0.5, 0.9, 0.99])
    func truncated(_ fraction: Double) throws {
        let path = try Fixture.written(try Fixture.cae("cae2"))
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        let kept = Int(Double(data.count) * fraction)
        try data.prefix(kept).write(to: URL(fileURLWithPath: path))
        let error = try #require(throws: CheckpointError.self) { try Checkpoint.read(from: path) }
        expectProblem(error, "", "truncated file: the file has \(kept) bytes, fewer than its HDF5 superblock records", prefix: true)
        #expect(error.problems.count == 1)
    }

    @Test func hdf5FileThatIsNotACheckpoint() throws {
        let path = try Fixture.folder() + "/other.h5"
        let f = try HDF5File.create(path)
        try f.root().writeFloats("data", shape: [2], values: [1, 2])
        try f.close()
        let error = try #require(throws: CheckpointError.self) { try Checkpoint.read(from: path) }
        for (name, type) in [("format", "string"), ("format_version", "int64 scalar"), ("task", "string"),
                             ("architecture", "string (JSON)"), ("input", "string (JSON)"), ("fingerprint", "string")] {
            expectProblem(error, "/", "missing root attribute '\(name)' (\(type))")
        }
        expectProblem(error, "/data", "unexpected dataset at the root (a checkpoint has /layers, optionally /provenance, and /entropy_model for task image-codec)")
    }

    // MARK: Root attributes

    @Test("missing root attribute", arguments: ["format", "format_version", "format_minor_version", "flexctl_version",
                                                "task", "architecture", "input", "fingerprint"])
    func missingRootAttribute(_ name: String) throws {
        let error = try Fixture.readError { try $0.root().deleteAttribute(name) }
        let type = ["format_version": "int64 scalar", "format_minor_version": "int64 scalar",
                    "architecture": "string (JSON)", "input": "string (JSON)"][name] ?? "string"
        expectProblem(error, "/", "missing root attribute '\(name)' (\(type))")
        #expect(error?.problems.count == 1, "\(error?.description ?? "")")
    }

    @Test func wrongAttributeTypes() throws {
        let error = try Fixture.readError { f in
            let root = try f.root()
            try root.setAttribute("format_version", .string("1"))
            try root.setAttribute("task", .int64(2))
            try root.setAttribute("format_minor_version", .double(0))
        }
        expectProblem(error, "/", "attribute 'format_version': expected an int64 scalar, found string \"1\"")
        expectProblem(error, "/", "attribute 'task': expected a string, found int64")
        expectProblem(error, "/", "attribute 'format_minor_version': expected an int64 scalar, found float64 0.0")
    }

    @Test func wrongFormatName() throws {
        let error = try Fixture.readError { try $0.root().setAttribute("format", .string("keras")) }
        #expect(error?.problems == [.init(path: "/", message: "attribute 'format': expected \"flexctl-checkpoint\", found \"keras\"; this is not a flexctl checkpoint")])
    }

    @Test func newerFormatVersionIsRefused() throws {
        let error = try Fixture.readError { try $0.root().setAttribute("format_version", .int64(2)) }
        #expect(error?.problems == [.init(path: "/", message: "unsupported format version 2: this flexctl reads format version 1 (and older); use a newer flexctl")])
    }

    @Test func newerMinorVersionMayAddAttributesAndMembers() throws {
        let path = try Fixture.written(try Fixture.cae("cae1"))
        let f = try HDF5File.open(path, writable: true)
        try f.root().setAttribute("format_minor_version", .int64(3))
        try f.root().setAttribute("license", .string("CC-BY"))
        try f.root().createGroup("extras").setAttribute("note", .string("from a newer flexctl"))
        try f.close()
        let c = try Checkpoint.read(from: path)
        #expect(c.formatMinorVersion == 3)
    }

    @Test func unexpectedRootAttributeAndMember() throws {
        let error = try Fixture.readError { f in
            try f.root().setAttribute("license", .string("CC-BY"))
            _ = try f.root().createGroup("extras")
        }
        expectProblem(error, "/", "unexpected root attribute 'license' (format version 1.0 has format, format_version, format_minor_version, flexctl_version, task, architecture, input, fingerprint)")
        expectProblem(error, "/extras", "unexpected group at the root (a checkpoint has /layers, optionally /provenance, and /entropy_model for task image-codec)")
    }

    @Test func unknownTask() throws {
        let error = try Fixture.readError { try $0.root().setAttribute("task", .string("classifier")) }
        expectProblem(error, "/", "attribute 'task': expected one of \"image-autoencoder\", \"forecaster\", \"image-codec\", found \"classifier\"")
    }

    @Test func malformedFingerprint() throws {
        let error = try Fixture.readError { try $0.root().setAttribute("fingerprint", .string("md5:1234")) }
        expectProblem(error, "/", "attribute 'fingerprint': expected \"sha256:\" followed by 64 lowercase hex digits, found \"md5:1234\"")
    }

    // MARK: Architecture and input JSON

    @Test func unknownLayerKind() throws {
        let error = try Fixture.readError { try Fixture.editAttribute($0, "architecture") { $0.replacingOccurrences(of: "MaxPool2d", with: "AvgPool2d") } }
        expectProblem(error, "/", "attribute 'architecture': layer 2: field 'kind': unknown layer kind 'AvgPool2d'; valid kinds: Conv2d, ConvTranspose2d, MaxPool2d, Linear, Activation, LSTM, GDN, IGDN")
    }

    @Test func unknownActivationMember() throws {
        let error = try Fixture.readError { try Fixture.editAttribute($0, "architecture") { $0.replacingOccurrences(of: "p-e2-relu", with: "p-e3-relu") } }
        let valid = ActivationFunction.memberNames.joined(separator: ", ")
        expectProblem(error, "/", "attribute 'architecture': layer 1: field 'activation': unknown activation 'p-e3-relu'; valid names: \(valid)")
        expectProblem(error, "/", "attribute 'architecture': layer 4: field 'activation': unknown activation 'p-e3-relu'; valid names: \(valid)")
    }

    @Test func malformedArchitectureJSON() throws {
        let error = try Fixture.readError { try $0.root().setAttribute("architecture", .string(#"[{"kind": "Conv2d", "#)) }
        expectProblem(error, "/", "attribute 'architecture': malformed JSON (expected a JSON array of layer objects): ", prefix: true)
    }

    @Test func architectureNotAnArray() throws {
        let error = try Fixture.readError { try $0.root().setAttribute("architecture", .string(#"{"kind": "Conv2d"}"#)) }
        expectProblem(error, "/", "attribute 'architecture': expected a JSON array of layer objects", prefix: true)
    }

    @Test func missingAndExtraLayerFields() throws {
        let error = try Fixture.readError { f in
            try Fixture.editAttribute(f, "architecture") {
                $0.replacingOccurrences(of: #""kernel_size":3,"stride":3,"padding":1}"#, with: #""kernel_size":3,"padding":1}"#)
                    .replacingOccurrences(of: #""kind":"MaxPool2d","#, with: #""kind":"MaxPool2d","dilation":1,"#)
                    .replacingOccurrences(of: #""units":8"#, with: #""units":"8""#)
            }
        }
        expectProblem(error, "/", "attribute 'architecture': layer 0: missing field 'stride'")
        expectProblem(error, "/", "attribute 'architecture': layer 2: unexpected field 'dilation' for MaxPool2d (fields: kind, kernel_size, stride)")
        expectProblem(error, "/", "attribute 'architecture': layer 4: field 'units': expected an integer", prefix: true)
    }

    @Test func badInputSpecification() throws {
        let error = try Fixture.readError { try Fixture.editAttribute($0, "input") { $0.replacingOccurrences(of: #""kind":"image""#, with: #""kind":"video""#) } }
        expectProblem(error, "/", "attribute 'input': field 'kind': unknown input kind 'video'; valid: image, series, codec")
        let error2 = try Fixture.readError(of: try Fixture.lstm()) { f in
            try Fixture.editAttribute(f, "input") {
                $0.replacingOccurrences(of: #""transform":"returns""#, with: #""transform":"diff""#)
                    .replacingOccurrences(of: #""targets":["S&P/ASX 200"]"#, with: #""targets":["DAX"]"#)
                    .replacingOccurrences(of: #""std":[0.011,"#, with: #""std":[0,"#)
            }
        }
        expectProblem(error2, "/", "attribute 'input': 'transform' must be one of returns, log_returns, none, found \"diff\"")
        expectProblem(error2, "/", "attribute 'input': target \"DAX\" is not one of the features [\"S&P/ASX 200\", \"FTSE 100\", \"KOSPI\", \"RTSI\"]")
        expectProblem(error2, "/", "attribute 'input': normalization stds must be positive and finite, found 0.0")
    }

    @Test func taskAndInputDisagree() throws {
        let error = try Fixture.readError { try $0.root().setAttribute("task", .string("forecaster")) }
        expectProblem(error, "/", "attribute 'input': task forecaster needs an input of kind series, found image")
    }

    @Test func layerInputChannelsDoNotMatchThePreviousOutput() throws {
        let error = try Fixture.readError { f in
            try Fixture.editAttribute(f, "architecture") {
                $0.replacingOccurrences(of: #""kind":"ConvTranspose2d","in_channels":16"#, with: #""kind":"ConvTranspose2d","in_channels":12"#)
            }
        }
        expectProblem(error, "/layers/3", "input shape does not match: ConvTranspose2d expects input [12, H, W], but /layers/2 (MaxPool2d) outputs [16, 5, 5]")
        expectProblem(error, "/layers/3/weight", "expected shape [12, 8, 5, 5], found [16, 8, 5, 5]")
    }

    @Test func inputShapeDoesNotFitTheFirstLayer() throws {
        let error = try Fixture.readError { try Fixture.editAttribute($0, "input") { $0.replacingOccurrences(of: #""channels":1"#, with: #""channels":3"#) } }
        expectProblem(error, "/layers/0", "input shape does not match: Conv2d expects input [1, H, W], but the model input (attribute 'input') is [3, 28, 28]")
    }

    // MARK: Layer groups and datasets

    @Test func missingDataset() throws {
        let error = try Fixture.readError { try $0.group("/layers/0").delete("bias") }
        #expect(error?.problems == [.init(path: "/layers/0/bias", message: "missing dataset (expected float32 [16])")])
    }

    @Test func extraDatasets() throws {
        let error = try Fixture.readError { f in
            try f.group("/layers/2").writeFloats("weight", shape: [1], values: [0])
            try f.group("/layers/1").writeFloats("gamma", shape: [16], values: Array(repeating: 0, count: 16))
        }
        expectProblem(error, "/layers/2/weight", "unexpected dataset: MaxPool2d has no datasets")
        expectProblem(error, "/layers/1/gamma", "unexpected dataset: Activation (p-e2-relu) has alpha, beta")
    }

    @Test func missingAndExtraLayerGroups() throws {
        let error = try Fixture.readError { f in
            try f.group("/layers").delete("2")
            _ = try f.group("/layers").createGroup("7")
        }
        expectProblem(error, "/layers/2", "missing layer group (MaxPool2d(kernel=2, stride=2))")
        expectProblem(error, "/layers/7", "unexpected group: the architecture has 7 layers (/layers/0 … /layers/6)")
        let noLayers = try Fixture.readError { try $0.root().delete("layers") }
        expectProblem(noLayers, "/layers", "missing group (expected 7 layer groups /layers/0 … /layers/6)")
    }

    @Test func layerKindAttribute() throws {
        let error = try Fixture.readError { f in
            try f.group("/layers/0").setAttribute("kind", .string("Linear"))
            try f.group("/layers/3").deleteAttribute("kind")
        }
        expectProblem(error, "/layers/0", "attribute 'kind': expected \"Conv2d\" (as in the architecture), found \"Linear\"")
        expectProblem(error, "/layers/3", "missing attribute 'kind' (string)")
    }

    @Test func wrongRank() throws {
        let error = try Fixture.readError { try Fixture.replaceDataset($0, "/layers/0", "bias", shape: [16, 1]) { $0 } }
        #expect(error?.problems == [.init(path: "/layers/0/bias", message: "wrong rank: expected rank 1 [16], found rank 2 [16, 1]")])
    }

    @Test func wrongShape() throws {
        let error = try Fixture.readError { f in
            try Fixture.replaceDataset(f, "/layers/3", "weight", shape: [16, 8, 3, 3]) { Array($0.prefix(16 * 8 * 9)) }
        }
        #expect(error?.problems == [.init(path: "/layers/3/weight", message: "expected shape [16, 8, 5, 5], found [16, 8, 3, 3]")])
        #expect(error?.description == "\(error?.file ?? ""): /layers/3/weight: expected shape [16, 8, 5, 5], found [16, 8, 3, 3]")
    }

    @Test func wrongDtype() throws {
        let error = try Fixture.readError { f in
            let g = try f.group("/layers/0")
            try g.delete("bias")
            try g.writeInt64s("bias", shape: [16], values: Array(repeating: 1, count: 16))
        }
        #expect(error?.problems == [.init(path: "/layers/0/bias", message: "wrong dtype: expected float32 (or float16, float64), found int64")])
    }

    @Test func nanAndInfinity() throws {
        let error = try Fixture.readError { f in
            try Fixture.replaceDataset(f, "/layers/0", "weight") { var v = $0; v[5] = .nan; return v }
            try Fixture.replaceDataset(f, "/layers/3", "bias") { var v = $0; v[2] = .infinity; v[6] = -.infinity; return v }
        }
        expectProblem(error, "/layers/0/weight", "1 of 144 values is NaN or infinite (first at [0, 0, 1, 2]: nan)")
        expectProblem(error, "/layers/3/bias", "2 of 8 values are NaN or infinite (first at [2]: inf)")
        #expect(error?.problems.count == 2, "a file with NaN must not also report a fingerprint mismatch: \(error?.description ?? "")")
    }

    // MARK: Activation parameters

    @Test func alphaOutsideTheUnitInterval() throws {
        let error = try Fixture.readError { f in
            try Fixture.replaceDataset(f, "/layers/1", "alpha") { var v = $0; v[3] = 1.5; v[9] = -0.25; return v }
        }
        expectProblem(error, "/layers/1/alpha", "α must lie in [0, 1] (p-e2-relu: weight α on relu, 1 − α on elu-odd); 2 of 16 units outside (first: unit 3, α = 1.5)")
    }

    @Test func alphaWithinToleranceIsAccepted() throws {
        let path = try Fixture.written(try Fixture.cae("cae1"))
        let f = try HDF5File.open(path, writable: true)
        try Fixture.replaceDataset(f, "/layers/1", "alpha") { var v = $0; v[0] = 1.00005; v[1] = -0.00005; return v }
        try f.close()
        let error = try #require(throws: CheckpointError.self) { try Checkpoint.read(from: path) }
        // Only the fingerprint (the values changed), not α.
        #expect(error.problems.count == 1 && error.problems[0].message.hasPrefix("fingerprint mismatch"), "\(error)")
    }

    @Test func alphaRowsNotOnTheSimplex() throws {
        let c = try Fixture.cae("cae1", activation: "p-e-relu")
        #expect(c.parameter("layers.1.alpha")?.shape == [16, 3])
        let error = try Fixture.readError(of: c) { f in
            try Fixture.replaceDataset(f, "/layers/1", "alpha") { v in
                var v = v
                v[6 ..< 9] = [0.5, 0.3, 0.1]        // unit 2 sums to 0.9
                v[12 ..< 15] = [0.5, 0.3, 0.20005]  // unit 4 sums to 1.00005: within 1e-4
                v[15 ..< 18] = [1.2, -0.2, 0]       // unit 5: sums to 1 but leaves [0, 1]
                return v
            }
        }
        expectProblem(error, "/layers/1/alpha", "α rows must sum to 1 within 0.0001 (p-e-relu); 1 of 16 units do not (first: unit 2, Σα = 0.9", prefix: true)
        expectProblem(error, "/layers/1/alpha", "α must lie in [0, 1] (rows on the simplex of p-e-relu's 3 components); 1 of 16 units outside (first: unit 5, α = [1.2, -0.2, 0.0])")
    }

    @Test func betaOutsideItsDomain() throws {
        let error = try Fixture.readError { f in
            try Fixture.replaceDataset(f, "/layers/4", "beta") { var v = $0; v[0] = -0.5; return v }
        }
        expectProblem(error, "/layers/4/beta", "β must lie in [0.001, ∞) for p-e2-relu; 1 of 8 units outside (first: unit 0, β = -0.5)")
    }

    @Test func lstmGateParameters() throws {
        let error = try Fixture.readError(of: try Fixture.lstm()) { f in
            try Fixture.replaceDataset(f, "/layers/0", "i_beta_l1") { var v = $0; v[7] = 0; return v }
            try Fixture.replaceDataset(f, "/layers/0", "c_alpha_l0") { var v = $0; v[1] = 2; return v }
            try f.group("/layers/0").delete("weight_hh_l1")
        }
        expectProblem(error, "/layers/0/i_beta_l1", "β must lie in [0.001, ∞) for p-sig-ramp; 1 of 8 units outside (first: unit 7, β = 0.0)")
        expectProblem(error, "/layers/0/c_alpha_l0", "α must lie in [0, 1] (p-tanh-ramp: weight α on tanh, 1 − α on hardtanh-ramp); 1 of 8 units outside (first: unit 1, α = 2.0)")
        expectProblem(error, "/layers/0/weight_hh_l1", "missing dataset (expected float32 [32, 8])")
    }

    // MARK: Fingerprint

    @Test func fingerprintMismatch() throws {
        let c = try Fixture.cae("cae1")
        let error = try Fixture.readError(of: c) { f in
            try Fixture.replaceDataset(f, "/layers/5", "weight") { var v = $0; v[0] += 0.5; return v }
        }
        expectProblem(error, "/", "fingerprint mismatch: the file says \(c.fingerprint), the weights hash to sha256:", prefix: true)
        #expect(error?.problems.count == 1)
    }

    // MARK: Provenance

    @Test func badProvenance() throws {
        let error = try Fixture.readError(of: try Fixture.lstm()) { f in
            let g = try f.group("/provenance")
            try g.setAttribute("train_size", .string("2000"))
            try g.setAttribute("optimizer", .string(#"{"name":"adam"}"#))
            try g.delete("validation_loss")
        }
        expectProblem(error, "/provenance", "attribute 'train_size': expected an int64 scalar, found string \"2000\"")
        expectProblem(error, "/provenance", "attribute 'optimizer': missing field '", prefix: true)
        expectProblem(error, "/provenance/validation_loss", "missing dataset (expected float64 [epochs], possibly empty)")
    }

    // MARK: Everything at once

    @Test func severalProblemsInOneReport() throws {
        let error = try #require(try Fixture.readError { f in
            try f.root().deleteAttribute("flexctl_version")
            try f.group("/layers/0").setAttribute("kind", .string("Conv1d"))
            try Fixture.replaceDataset(f, "/layers/0", "weight") { var v = $0; v[0] = .nan; return v }
            try Fixture.replaceDataset(f, "/layers/1", "beta") { var v = $0; v[2] = -1; return v }
            try f.group("/layers/3").delete("bias")
            try f.group("/layers/6").writeFloats("alpha", shape: [1], values: [1])
        })
        let lines = error.description.split(separator: "\n").map(String.init)
        #expect(error.problems.count == 6, "\(error)")
        #expect(lines.count == 6)
        #expect(lines.allSatisfy { $0.hasPrefix(error.file + ": /") })
        expectProblem(error, "/", "missing root attribute 'flexctl_version' (string)")
        expectProblem(error, "/layers/0", "attribute 'kind': expected \"Conv2d\" (as in the architecture), found \"Conv1d\"")
        expectProblem(error, "/layers/0/weight", "1 of 144 values is NaN or infinite", prefix: true)
        expectProblem(error, "/layers/1/beta", "β must lie in [0.001, ∞) for p-e2-relu", prefix: true)
        expectProblem(error, "/layers/3/bias", "missing dataset (expected float32 [8])")
        expectProblem(error, "/layers/6/alpha", "unexpected dataset: Activation (tanh) has no datasets")
    }

    // MARK: HDF5's error stack stays silent

    @Test func hdf5ErrorStackIsNeverPrinted() throws {
        let folder = try Fixture.folder()
        let log = folder + "/stderr.txt"
        let truncated = try Fixture.written(try Fixture.cae("cae1"))
        let data = try Data(contentsOf: URL(fileURLWithPath: truncated))
        try data.prefix(data.count / 2).write(to: URL(fileURLWithPath: truncated))
        let text = folder + "/t.h5"
        try "hello".write(toFile: text, atomically: true, encoding: .utf8)
        let damaged = try Fixture.written(try Fixture.cae("cae1"))
        let f = try HDF5File.open(damaged, writable: true)
        try f.group("/layers/0").delete("weight")
        try f.close()

        fflush(nil)
        let saved = dup(2)
        let fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        dup2(fd, 2)
        for p in [truncated, text, damaged, folder + "/missing.h5"] { _ = try? Checkpoint.read(from: p) }
        _ = try? HDF5File.open(text)
        _ = try? HDF5File.open(truncated).root().group("nothing")
        fflush(nil)
        dup2(saved, 2)
        close(fd)
        close(saved)
        let printed = try String(contentsOfFile: log, encoding: .utf8)
        #expect(!printed.contains("HDF5-DIAG"), "HDF5 printed its error stack:\n\(printed)")
    }
}
