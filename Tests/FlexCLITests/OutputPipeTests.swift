import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// How a `flexctl` run whose standard output had no reader ended.
struct ClosedPipeResult {
    /// The exit code, or nil if a signal ended the process.
    var status: Int32?
    /// The signal that ended the process, or nil.
    var signal: Int32?
    var stderr: String
}

/// Runs `flexctl ARGS` with standard output a pipe whose read end is already closed (as for `| head` once
/// `head` has exited), and SIGPIPE at its default action in the child, whatever the test runner's disposition:
/// ignored signals are inherited across exec, so without resetting it the test could pass without flexctl
/// ignoring SIGPIPE itself.
func runFlexctlIntoClosedPipe(_ arguments: [String], directory: String? = nil) throws -> ClosedPipeResult {
    let binary = try #require(flexctlBinary(), "flexctl binary not found next to the tests; set FLEXCTL_BIN")
    let dir = try TempDir()
    defer { dir.cleanup() }
    var fds: [Int32] = [0, 0]
    try #require(pipe(&fds) == 0)
    close(fds[0])
    defer { close(fds[1]) }
    let errFD = open(dir.file("err"), O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    try #require(errFD >= 0)
    defer { close(errFD) }

    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_adddup2(&actions, fds[1], 1)
    posix_spawn_file_actions_adddup2(&actions, errFD, 2)
    var attributes = posix_spawnattr_t()
    posix_spawnattr_init(&attributes)
    defer { posix_spawnattr_destroy(&attributes) }
    var defaults = sigset_t()
    sigemptyset(&defaults)
    sigaddset(&defaults, SIGPIPE)
    posix_spawnattr_setsigdefault(&attributes, &defaults)
    posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF))

    // The child runs in `directory` through `sh -c 'cd DIR && exec flexctl ARGS'` (posix_spawn has no
    // working-directory action in glibc 2.36's public API); `exec` keeps the signal dispositions set above.
    func quoted(_ s: String) -> String { "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'" }
    let script = (directory.map { "cd \(quoted($0)) && " } ?? "") + "exec " + ([binary.path] + arguments).map(quoted).joined(separator: " ")
    let argv = ["/bin/sh", "-c", script]
    var cArgs: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
    defer { for p in cArgs { free(p) } }
    var pid: pid_t = 0
    let rc = posix_spawn(&pid, "/bin/sh", &actions, &attributes, &cArgs, environ)
    try #require(rc == 0, "posix_spawn failed: \(rc)")
    var status: Int32 = 0
    while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
    let stderr = String(decoding: try Data(contentsOf: URL(fileURLWithPath: dir.file("err"))), as: UTF8.self)
    // WIFEXITED / WEXITSTATUS / WTERMSIG, which Swift does not import (they are macros).
    let termSignal = status & 0x7F
    return termSignal == 0
        ? ClosedPipeResult(status: (status >> 8) & 0xFF, signal: nil, stderr: stderr)
        : ClosedPipeResult(status: nil, signal: termSignal, stderr: stderr)
}

@Suite("standard output closed by its reader (`flexctl ... | head`)", .serialized)
struct OutputPipeTests {
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path
    static let cae2 = repo + "/models/cae2-p-e2-relu-fashion-mnist.h5"
    static let lstm = repo + "/models/lstm-p-sig-ramp-4-indices.h5"
    static let digit = repo + "/samples/images/fashion-mnist-t10k-0.png"

    static func expectBrokenPipeMessage(_ r: ClosedPipeResult, _ what: String) {
        #expect(r.signal == nil, "\(what): killed by signal \(r.signal ?? 0) instead of exiting with a message")
        #expect(r.status == 1, "\(what): exit \(r.status.map(String.init) ?? "-")")
        let lines = r.stderr.split(separator: "\n")
        #expect(lines == ["Error: standard output was closed before everything was written (broken pipe)"],
                "\(what): \(r.stderr)")
    }

    @Test("every command that writes to standard output: one message on stderr and exit 1, not death by SIGPIPE",
          arguments: [
              ["activation", "relu"],
              ["activation", "p-sig-ramp", "--format", "json"],
              ["inspect", "--json", cae2],
              ["inspect", cae2],
              ["forecast", "--model", lstm, repo + "/samples/series"],
              ["--version"],
              ["train", "cae", "--help"],
          ])
    func commandsWritingText(args: [String]) throws {
        var args = args
        if args.first == "forecast" {
            // The sample series files, one argument each.
            let folder = args.removeLast()
            args += try FileManager.default.contentsOfDirectory(atPath: folder).sorted().map { folder + "/" + $0 }
        }
        Self.expectBrokenPipeMessage(try runFlexctlIntoClosedPipe(args), args.joined(separator: " "))
    }

    @Test("compress image -o - and decompress -o - into a closed pipe")
    func codecToClosedPipe() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        Self.expectBrokenPipeMessage(
            try runFlexctlIntoClosedPipe(["compress", "image", Self.digit, "--model", Self.cae2, "-o", "-"]), "compress -o -")
        #expect(try runFlexctl(["compress", "image", Self.digit, "--model", Self.cae2, "-o", dir.file("d.flexz")]).status == 0)
        Self.expectBrokenPipeMessage(
            try runFlexctlIntoClosedPipe(["decompress", dir.file("d.flexz"), "--model", Self.cae2, "-o", "-"]), "decompress -o -")
        // The model search writes nothing to standard output before the image: the same with ./models.
        Self.expectBrokenPipeMessage(
            try runFlexctlIntoClosedPipe(["decompress", dir.file("d.flexz"), "-o", "-"], directory: Self.repo),
            "decompress -o - (model found by fingerprint)")
    }

    @Test("bench --json into a closed pipe")
    func benchToClosedPipe() throws {
        var r = try runFlexctlIntoClosedPipe(["bench", "--workload", "load", "--seconds", "0.01", "--json"])
        // bench names each workload on standard error before measuring it: progress, not part of the failure.
        #expect(r.stderr.hasPrefix("bench: load "), "\(r.stderr)")
        r.stderr = r.stderr.split(separator: "\n").filter { !$0.hasPrefix("bench: ") }.map { $0 + "\n" }.joined()
        Self.expectBrokenPipeMessage(r, "bench --json")
    }

    @Test("the same run with a reader exits 0: the test's harness itself is sound")
    func controlWithReader() throws {
        let r = try runFlexctl(["activation", "relu"])
        #expect(r.status == 0 && r.stdout.hasPrefix("member: relu"))
    }
}
