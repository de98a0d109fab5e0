import Foundation
import Testing

/// The built `flexctl` executable: `$FLEXCTL_BIN`, or next to the test bundle in the build products folder.
func flexctlBinary() -> URL? {
    let fm = FileManager.default
    if let explicit = ProcessInfo.processInfo.environment["FLEXCTL_BIN"] { return URL(fileURLWithPath: explicit) }
    // Linux: the tests run inside <products>/<package>PackageTests.xctest; macOS: a bundle in <products>.
    var folders = [URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()]
    for bundle in Bundle.allBundles where bundle.bundleURL.pathExtension == "xctest" {
        folders.append(bundle.bundleURL.deletingLastPathComponent())
    }
    folders.append(Bundle.main.bundleURL)
    return folders.map { $0.appendingPathComponent("flexctl") }.first { fm.isExecutableFile(atPath: $0.path) }
}

/// A finished `flexctl` process.
struct RunResult {
    var status: Int32
    var stdout: String
    var stderr: String
}

/// A running `flexctl` whose output goes to files (no pipe buffers to drain while it runs).
final class FlexctlProcess {
    let process = Process()
    private let dir: TempDir
    private let out: FileHandle
    private let err: FileHandle

    init(_ arguments: [String], environment extra: [String: String] = [:], directory: String? = nil) throws {
        let binary = try #require(flexctlBinary(), "flexctl binary not found next to the tests; set FLEXCTL_BIN")
        dir = try TempDir()
        _ = FileManager.default.createFile(atPath: dir.file("out"), contents: nil)
        _ = FileManager.default.createFile(atPath: dir.file("err"), contents: nil)
        out = try #require(FileHandle(forWritingAtPath: dir.file("out")))
        err = try #require(FileHandle(forWritingAtPath: dir.file("err")))
        process.executableURL = binary
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        for (k, v) in extra { env[k] = v }
        process.environment = env
        if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
        process.standardOutput = out
        process.standardError = err
        try process.run()
    }

    /// Standard output so far.
    var stdoutSoFar: String {
        String(decoding: (try? Data(contentsOf: URL(fileURLWithPath: dir.file("out")))) ?? Data(), as: UTF8.self)
    }

    func wait() throws -> RunResult {
        process.waitUntilExit()
        try out.close()
        try err.close()
        defer { dir.cleanup() }
        return RunResult(
            status: process.terminationStatus,
            stdout: String(decoding: try Data(contentsOf: URL(fileURLWithPath: dir.file("out"))), as: UTF8.self),
            stderr: String(decoding: try Data(contentsOf: URL(fileURLWithPath: dir.file("err"))), as: UTF8.self))
    }
}

/// Runs `flexctl ARGS` to completion.
func runFlexctl(_ arguments: [String], environment: [String: String] = [:], directory: String? = nil) throws -> RunResult {
    try FlexctlProcess(arguments, environment: environment, directory: directory).wait()
}
