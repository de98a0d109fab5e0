// The C and Python examples (examples/) built and run against the shared library from this build, as a user
// would: a plain `cc` with the one header, and python3's ctypes. Their results are compared with the Swift
// libraries' own.

import FlexCodec
import FlexData
import FlexForecast
import FlexRuntime
import Foundation
import Testing

/// The build products folder (where the test bundle and libflexctl_c_shared.so are).
func productsFolder() -> String {
    var folders = [URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()]
    for bundle in Bundle.allBundles where bundle.bundleURL.pathExtension == "xctest" {
        folders.append(bundle.bundleURL.deletingLastPathComponent())
    }
    return (folders.first { FileManager.default.fileExists(atPath: $0.appendingPathComponent(sharedLibraryName).path) }
        ?? folders[0]).path
}

#if os(macOS)
let sharedLibraryName = "libflexctl_c_shared.dylib"
#else
let sharedLibraryName = "libflexctl_c_shared.so"
#endif

struct ProcessOutput {
    var status: Int32
    var stdout: String
    var stderr: String
}

/// Runs a program to completion (output through files: no pipe buffers to drain).
func runProgram(_ path: String, _ arguments: [String], directory: String? = nil) throws -> ProcessOutput {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("flexctl-capi-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    let out = dir.appendingPathComponent("out"), err = dir.appendingPathComponent("err")
    _ = FileManager.default.createFile(atPath: out.path, contents: nil)
    _ = FileManager.default.createFile(atPath: err.path, contents: nil)
    let p = Process()
    p.executableURL = URL(fileURLWithPath: path)
    p.arguments = arguments
    if let directory { p.currentDirectoryURL = URL(fileURLWithPath: directory) }
    p.standardOutput = try FileHandle(forWritingTo: out)
    p.standardError = try FileHandle(forWritingTo: err)
    try p.run()
    p.waitUntilExit()
    return ProcessOutput(status: p.terminationStatus, stdout: try String(contentsOf: out, encoding: .utf8),
                         stderr: try String(contentsOf: err, encoding: .utf8))
}

/// The first executable named `name` on PATH.
func which(_ name: String) -> String? {
    for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
        let path = "\(dir)/\(name)"
        if FileManager.default.isExecutableFile(atPath: path) { return path }
    }
    return nil
}

/// `target J: return R level L` lines of an example's output.
func forecastLines(_ text: String) -> [(Double, Double)] {
    text.split(separator: "\n").filter { $0.hasPrefix("target ") || $0.hasPrefix("forecast ") && $0.contains(" return ") }
        .compactMap { line in
            let words = line.split(separator: " ")
            guard let r = words.firstIndex(of: "return"), let l = words.firstIndex(of: "level"),
                  let rv = Double(words[r + 1]), let lv = Double(words[l + 1]) else { return nil }
            return (rv, lv)
        }
}

/// Compiles one C file against flexctl.h and the shared library (plus `extra` flags) into `dir`; nil (with the
/// compiler's messages recorded as an issue) if it does not compile.
func compileC(_ source: String, into dir: String, extra: [String] = []) throws -> String? {
    let products = productsFolder()
    let library = products + "/" + sharedLibraryName
    try #require(FileManager.default.fileExists(atPath: library), "\(library) not built (swift build builds it)")
    // Any C compiler: the system's cc, else the clang that ships with the Swift toolchain.
    let cc = try #require(which("cc") ?? which("clang") ?? which("gcc"), "no C compiler (cc, clang, gcc) on PATH")
    let exe = dir + "/" + URL(fileURLWithPath: source).deletingPathExtension().lastPathComponent
    let build = try runProgram(cc, ["-std=c11", "-Wall", "-Wextra", "-Werror", "-o", exe, source,
                                    "-I", repositoryRoot + "/Sources/CFlexctl/include",
                                    "-L", products, "-lflexctl_c_shared", "-Wl,-rpath," + products] + extra + ["-lm"])
    #expect(build.status == 0, "\(build.stderr)")
    return build.status == 0 ? exe : nil
}

func temporaryFolder() throws -> String {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("flexctl-capi-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    return dir
}

@Suite("C API examples", .serialized)
struct CAPIExampleTests {
    @Test("bad inputs through the C ABI (Tests/FlexCAPITests/C/bad_inputs.c): statuses, messages, outputs cleared")
    func badInputsInC() throws {
        let dir = try temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        guard let exe = try compileC(repositoryRoot + "/Tests/FlexCAPITests/C/bad_inputs.c", into: dir) else { return }
        let run = try runProgram(exe, [caeModel, lstmModel, repositoryRoot + "/samples/images/mnist-digit-7.png"])
        #expect(run.status == 0, "\(run.stdout)\n\(run.stderr)")
        #expect(run.stdout.contains("\n0 failure(s)"), "\(run.stdout)")
        #expect(!run.stdout.contains("FAIL"), "\(run.stdout)")
        // Enough checks ran (the program did not stop early).
        #expect(run.stdout.split(separator: "\n").filter { $0.hasPrefix("ok ") }.count >= 40, "\(run.stdout)")
    }

    /// The engine's next-day forecast on the shipped samples.
    func expectedForecast() throws -> ForecastEngine.Forecast {
        let model = try ForecastEngine.loadModel(lstmModel, threads: 1)
        let resolved = try ForecastEngine.resolveSeries(features: model.session.features, files: sampleSeries, mappings: [])
        let input = try ForecastInput.prepare(series: resolved.series, spec: model.session.input)
        return try ForecastEngine.forecast(session: model.session, input: input, steps: 1)
    }

    @Test("examples/c/example.c: compiled with cc against flexctl.h and the shared library, run")
    func cExample() throws {
        let dir = try temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // libpng's flags from pkg-config when it is there (the example reads the sample PNG with libpng).
        var png = ["-lpng16"]
        if let pc = which("pkg-config") {
            let r = try runProgram(pc, ["--cflags", "--libs", "libpng"])
            if r.status == 0 { png = r.stdout.split(whereSeparator: \.isWhitespace).map(String.init) }
        }
        guard let exe = try compileC(repositoryRoot + "/examples/c/example.c", into: dir, extra: png) else { return }
        let flexz = dir + "/chelsea.flexz"
        let run = try runProgram(exe, [rgbModel, repositoryRoot + "/samples/images/chelsea-96.png", flexz, lstmModel,
                                       pricesCSV])
        #expect(run.status == 0, "\(run.stdout)\n\(run.stderr)")
        let checkpoint = try Checkpoint.read(from: rgbModel)
        let description = try CheckpointDescription(checkpoint: checkpoint, file: rgbModel)
        #expect(run.stdout.contains("describe: \(description.json.utf8.count) bytes of JSON, schema_version 1, "
            + "task \"image-autoencoder\", \(description.totalParameters) parameters, "
            + "fingerprint \"\(checkpoint.fingerprint)\""), "\(run.stdout)")
        #expect(run.stdout.contains("image: 96x96, 3 channel(s)"), "\(run.stdout)")
        // The .flexz the C program wrote is the one the codec makes from the same PNG.
        let codec = try ImageCodec(checkpoint: checkpoint, file: rgbModel, threads: 1)
        let image = try ImageFile.decode(Array(try Data(contentsOf: URL(fileURLWithPath: repositoryRoot + "/samples/images/chelsea-96.png"))), name: "chelsea")
        let expected = try codec.compress(image, bits: 8, fingerprint: checkpoint.fingerprint).file.serialized()
        #expect(Array(try Data(contentsOf: URL(fileURLWithPath: flexz))) == expected)
        // Its forecast is the engine's on the sample files, to the last bit (printed with 17 digits).
        let f = try expectedForecast()
        let lines = forecastLines(run.stdout)
        #expect(lines.count == f.targets.count, "\(run.stdout)")
        for (j, (r, l)) in lines.enumerated() where j < f.targets.count {
            #expect(r == f.values[0][j])
            #expect(l == f.levels[0][j])
        }
    }

    @Test("examples/python/example.py: ctypes against the shared library (when python3 is installed)")
    func pythonExample() throws {
        guard let python = which("python3") else { return }
        let library = productsFolder() + "/" + sharedLibraryName
        try #require(FileManager.default.fileExists(atPath: library), "\(library) not built")
        let run = try runProgram(python, [repositoryRoot + "/examples/python/example.py", library], directory: repositoryRoot)
        #expect(run.status == 0, "\(run.stdout)\n\(run.stderr)")
        #expect(run.stdout.contains("describe: task image-autoencoder, input [1, 28, 28], code [8, 2, 2]"), "\(run.stdout)")
        #expect(run.stdout.contains("truncated .flexz refused: invalid data"), "\(run.stdout)")
        let f = try expectedForecast()
        let lines = forecastLines(run.stdout)
        #expect(lines.count == f.targets.count, "\(run.stdout)")
        for (j, (r, l)) in lines.enumerated() where j < f.targets.count {
            #expect(r == f.values[0][j])
            #expect(l == f.levels[0][j])
        }
    }
}
