import Foundation
import FlexRuntime
import Testing

private func run(_ arguments: [String], environment extra: [String: String] = [:]) throws -> RunResult {
    try runFlexctl(arguments, environment: extra)
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
        #expect(r.stdout.hasPrefix("z,o,do_dz,do_dalpha,do_dbeta\n"))
        #expect(r.stdout.contains("\n0,0.5,"))
        #expect(dir.contents() == ["p.svg"])
    }

    @Test("--help on the command line matches the snapshot; --version prints the version and the commit")
    func helpAndVersion() throws {
        let help = try run(["activation", "--help"], environment: ["COLUMNS": "80"])
        #expect(help.status == 0)
        try Snapshot.check(help.stdout, named: "activation-help.txt")
        let version = try run(["--version"])
        #expect(version.stdout == FlexctlVersion.description + "\n")
        #expect(version.stdout.hasPrefix(FlexctlVersion.number + " (commit "))
    }
}
