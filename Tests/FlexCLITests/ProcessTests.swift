import Foundation
import Testing

/// The built `flexctl` executable: `$FLEXCTL_BIN`, or next to the test bundle in the build products folder.
private func flexctlBinary() -> URL? {
    let fm = FileManager.default
    if let explicit = ProcessInfo.processInfo.environment["FLEXCTL_BIN"] { return URL(fileURLWithPath: explicit) }
    var folders: [URL] = []
    // Linux: the tests run inside <products>/<package>PackageTests.xctest; macOS: a bundle in <products>.
    folders.append(URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent())
    for bundle in Bundle.allBundles where bundle.bundleURL.pathExtension == "xctest" {
        folders.append(bundle.bundleURL.deletingLastPathComponent())
    }
    folders.append(Bundle.main.bundleURL)
    for folder in folders {
        let candidate = folder.appendingPathComponent("flexctl")
        if fm.isExecutableFile(atPath: candidate.path) { return candidate }
    }
    return nil
}

private struct RunResult {
    var status: Int32
    var stdout: String
    var stderr: String
}

private func run(_ arguments: [String], environment extra: [String: String] = [:]) throws -> RunResult {
    let binary = try #require(flexctlBinary(), "flexctl binary not found next to the tests; set FLEXCTL_BIN")
    let process = Process()
    process.executableURL = binary
    process.arguments = arguments
    var env = ProcessInfo.processInfo.environment
    for (k, v) in extra { env[k] = v }
    process.environment = env
    // Capture into files: no pipe buffers to drain while the child runs.
    let dir = try TempDir()
    defer { dir.cleanup() }
    _ = FileManager.default.createFile(atPath: dir.file("out"), contents: nil)
    _ = FileManager.default.createFile(atPath: dir.file("err"), contents: nil)
    let out = try #require(FileHandle(forWritingAtPath: dir.file("out")))
    let err = try #require(FileHandle(forWritingAtPath: dir.file("err")))
    process.standardOutput = out
    process.standardError = err
    try process.run()
    process.waitUntilExit()
    try out.close()
    try err.close()
    let outData = try Data(contentsOf: URL(fileURLWithPath: dir.file("out")))
    let errData = try Data(contentsOf: URL(fileURLWithPath: dir.file("err")))
    return RunResult(status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
                     stderr: String(decoding: errData, as: UTF8.self))
}

@Suite("flexctl process", .serialized)
struct ProcessTests {
    @Test("an unknown member: exit 64, the message on stderr, nothing on stdout")
    func unknownMember() throws {
        let r = try run(["activation", "p-sig-rmap"])
        #expect(r.status == 64)
        #expect(r.stdout.isEmpty)
        #expect(r.stderr.contains("Error: unknown activation 'p-sig-rmap'"))
        #expect(r.stderr.contains("p-sig-ramp, p-tanh-ramp, p-e-relu"))
    }

    @Test("a bad plot path: exit 64, no output, no file")
    func badPlotPath() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let r = try run(["activation", "relu", "--plot", dir.file("missing/p.png")])
        #expect(r.status == 64)
        #expect(r.stdout.isEmpty)
        #expect(r.stderr.contains("does not exist"))
        #expect(dir.contents().isEmpty)
    }

    @Test("success: CSV on stdout, exit 0, and the plot file")
    func success() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let r = try run(["activation", "p-sig-ramp", "--from", "-1", "--to", "1", "--format", "csv",
                         "--plot", dir.file("p.svg")])
        #expect(r.status == 0)
        #expect(r.stderr.isEmpty)
        #expect(r.stdout.hasPrefix("z,o(z),dO/dz,dO/dalpha,dO/dbeta\n"))
        #expect(r.stdout.contains("\n0,0.5,"))
        #expect(dir.contents() == ["p.svg"])
    }

    @Test("--help on the command line matches the snapshot; --version prints 0.1.0")
    func helpAndVersion() throws {
        let help = try run(["activation", "--help"], environment: ["COLUMNS": "80"])
        #expect(help.status == 0)
        try Snapshot.check(help.stdout, named: "activation-help.txt")
        let version = try run(["--version"])
        #expect(version.stdout == "0.1.0\n")
    }
}
