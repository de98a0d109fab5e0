// Hostile checkpoints (issue 10): crafted files from Hostile/make_hostile.py and a mutation fuzzer over the
// shipped checkpoints. Each must be refused with one clear message (or, for a harmless mutant, load), never
// read another file, crash, hang or allocate without bound.

import FlexHDF5
import FlexRuntime
import FlexTraining
import Foundation
import XCTest

final class HostileCheckpointTests: XCTestCase {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()
    static let hostile = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Hostile")

    /// Each crafted file and a fragment of the one message that must refuse it.
    static let cases: [(file: String, expected: String)] = [
        ("external-etc-passwd.h5", "/layers/1/alpha: keeps its data in other files (HDF5 external storage)"),
        ("external-relative.h5", "/layers/1/alpha: keeps its data in other files (HDF5 external storage)"),
        ("external-proc-environ.h5", "/layers/1/alpha: keeps its data in other files (HDF5 external storage)"),
        ("external-fifo.h5", "/layers/1/alpha: keeps its data in other files (HDF5 external storage)"),
        ("external-link.h5", "/layers/1: is an external link into another file"),
        ("soft-link.h5", "/layers/1: is a soft link"),
        ("virtual-dataset.h5", "/layers/1/alpha: is a virtual dataset"),
        ("hard-link-loop.h5", "/layers/0/loop: is a second link to an object already in the file"),
        ("named-datatype.h5", "/layers/0/type: is a named datatype"),
        ("provenance-2e40.h5", "/provenance/train_loss: has a dimension of 1099511627776"),
        ("provenance-2e32-squared.h5", "/provenance/train_loss: has a dimension of 4294967296"),
        ("provenance-2e26-unwritten.h5", "/provenance/train_loss: declares 67108864 values but stores none of them"),
        ("huge-chunk.h5", "/provenance/train_loss: has chunks of more than 67108864 values"),
        ("input-112000.h5", "'height' must be at most 2048, found 112000"),
        ("out-channels-2e40.h5", "the architecture has more than 134217728 parameters"),
        ("out-channels-2e62.h5", "outChannels must be at most 65536, found 4611686018427387904"),
        ("conv-compute-bomb.h5", "/layers/0: needs 1851494841 scratch values per sample (input [1, 2048, 2048])"),
        ("lstm-compute-bomb.h5", "/layers/0: needs 163840000 scratch values per sample (input [10000, 4])"),
        ("operations-bomb.h5", "multiply-adds per sample up to this layer; not allowed"),
        ("activations-bomb.h5", "the layers' outputs up to this one hold more than 134217728 values per sample"),
        ("control-characters.h5", "[31mPWNED\\nmodels/x.h5: all good\""),
        ("huge-string.h5", "(attribute 'flexctl_version'): is a string of more than 4194304 bytes"),
        ("many-attributes.h5", "/layers/0: has more than 64 attributes"),
        ("deep-groups.h5", "/provenance/g0/g1/g2/g3: is nested deeper than 4 groups"),
        ("compound-alpha.h5", "/layers/1/alpha:"),
        ("fletcher32-alpha.h5", "uses the HDF5 filter 3 ('fletcher32')"),
        ("non-ieee-float.h5", "found non-IEEE 4-byte float"),
        ("truncated.h5", "truncated file"),
    ]

    func testEveryCraftedCheckpointIsRefusedWithItsMessage() throws {
        // The FIFO an external-storage entry names: if it were ever opened, the read would block.
        let fifo = "/tmp/flexctl-hostile.fifo"
        unlink(fifo)
        XCTAssertEqual(mkfifo(fifo, 0o600), 0)
        defer { unlink(fifo) }
        let secrets = ["root:x:0:0", "PATH=", "HOME="]
        for (file, expected) in Self.cases {
            let path = Self.hostile.appendingPathComponent(file).path
            let start = MonotonicClock.seconds()
            do {
                _ = try Checkpoint.read(from: path)
                XCTFail("\(file): loaded, expected to be refused with \(expected)")
            } catch {
                let text = error.description
                XCTAssertTrue(text.contains(expected), "\(file): expected \"\(expected)\" in:\n\(text)")
                XCTAssertTrue(text.hasPrefix(path), "\(file): the message must name the file:\n\(text)")
                for s in secrets { XCTAssertFalse(text.contains(s), "\(file): another file's content leaked:\n\(text)") }
            }
            // A bound against unbounded work (a hang or a computation of minutes), not a speed test: the largest
            // file here (lstm-compute-bomb.h5) takes about 2.4 s in a debug build on an idle machine and was seen
            // at 6–8 s with the machine's 2 cores loaded 4×.
            XCTAssertLessThan(MonotonicClock.seconds(since: start), 20, "\(file) took too long")
        }
    }

    /// The same through the command line: exit 1, one message on stderr, nothing on stdout.
    func testInspectRefusesCraftedCheckpoints() throws {
        let flexctl = try Self.flexctlBinary()
        for (file, expected) in Self.cases.prefix(8) {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: flexctl)
            p.arguments = ["inspect", Self.hostile.appendingPathComponent(file).path]
            let out = Pipe(), err = Pipe()
            p.standardOutput = out
            p.standardError = err
            try p.run()
            let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
            p.waitUntilExit()
            XCTAssertEqual(p.terminationStatus, 1, file)
            XCTAssertTrue(o.isEmpty, "\(file): stdout not empty")
            XCTAssertTrue(String(decoding: e, as: UTF8.self).contains(expected), "\(file): \(String(decoding: e, as: UTF8.self))")
        }
    }

    /// Strings from a crafted file never reach the terminal raw: no escape sequence, no faked line.
    func testInspectPrintsFileStringsTerminalSafe() throws {
        let flexctl = try Self.flexctlBinary()
        let p = Process()
        p.executableURL = URL(fileURLWithPath: flexctl)
        p.arguments = ["inspect", Self.hostile.appendingPathComponent("control-characters.h5").path]
        let err = Pipe()
        p.standardError = err
        p.standardOutput = Pipe()
        try p.run()
        let e = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 1)
        XCTAssertFalse(e.contains("\u{1B}"), e)
        XCTAssertEqual(e.split(separator: "\n").count, 1, e)
        XCTAssertTrue(e.contains("\\u001B[2J"), e)
    }

    static func flexctlBinary() throws -> String {
        // Linux: the tests run inside <products>/<package>PackageTests.xctest, beside the flexctl executable.
        if let explicit = ProcessInfo.processInfo.environment["FLEXCTL_BIN"] { return explicit }
        let folder = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        let path = folder.appendingPathComponent("flexctl").path
        guard FileManager.default.isExecutableFile(atPath: path) else { throw XCTSkip("flexctl not built at \(path)") }
        return path
    }

    /// A shipped checkpoint still loads, and the isolated reader returns exactly what it holds.
    func testShippedCheckpointsLoad() throws {
        for name in ["cae2-p-e2-relu-fashion-mnist.h5", "cae3-p-e2-id-photos.h5", "lstm-p-sig-ramp-4-indices.h5"] {
            let path = Self.repository.appendingPathComponent("models/\(name)").path
            let c = try Checkpoint.read(from: path)
            XCTAssertEqual(Checkpoint.fingerprint(of: c.parameters), c.fingerprint, name)
            let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
            let fromMemory = try Checkpoint.read(bytes: [UInt8](bytes), name: name)
            XCTAssertEqual(fromMemory.fingerprint, c.fingerprint, name)
        }
    }

    /// FIFOs, devices and folders are refused at once, never opened for a blocking read.
    func testNonRegularFilesAreRefused() throws {
        let dir = NSTemporaryDirectory() + "flexhostile-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let fifo = dir + "/model.h5"
        XCTAssertEqual(mkfifo(fifo, 0o600), 0)
        for (path, expected) in [(fifo, "is a FIFO"), ("/dev/zero", "is a character device"), (dir, "is a directory")] {
            let start = MonotonicClock.seconds()
            XCTAssertThrowsError(try Checkpoint.read(from: path)) { error in
                XCTAssertTrue("\(error)".contains(expected), "\(path): \(error)")
            }
            XCTAssertLessThan(MonotonicClock.seconds(since: start), 2, path)
        }
    }

    /// A full disk: writing a checkpoint fails with one message naming the file, leaves nothing behind and
    /// does not crash (libhdf5 1.10.8 segfaulted in its close path after a failed write; the file is now built
    /// in memory and written by FlexIO).
    func testFullDiskIsOneErrorAndLeavesNothing() throws {
        guard getuid() == 0 else { throw XCTSkip("mounting a small tmpfs needs root; run the tests as root to check a full disk") }
        let dir = NSTemporaryDirectory() + "flexfull-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        func sh(_ command: String) -> Int32 {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/bin/sh")
            p.arguments = ["-c", command]
            try? p.run()
            p.waitUntilExit()
            return p.terminationStatus
        }
        guard sh("mount -t tmpfs -o size=64k tmpfs '\(dir)'") == 0 else { throw XCTSkip("cannot mount a tmpfs here") }
        defer { _ = sh("umount '\(dir)'") }
        _ = sh("head -c 1048576 /dev/zero > '\(dir)/filler' 2>/dev/null")
        let checkpoint = try Checkpoint.read(from: Self.repository.appendingPathComponent("models/cae3-p-e2-id-photos.h5").path)
        for overwrite in [false, true] {
            let path = dir + "/model-\(overwrite).h5"
            XCTAssertThrowsError(try checkpoint.write(to: path, options: .init(overwrite: overwrite))) { error in
                XCTAssertTrue("\(error)".contains("No space left on device"), "\(error)")
                XCTAssertTrue("\(error)".hasPrefix(path), "\(error)")
            }
            XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir), ["filler"])
        }
    }

    // MARK: Mutation fuzzing

    /// Mutants of real checkpoints (bit flips, byte sets, interesting values, range insertions, deletions,
    /// duplications, truncations): each loads or is refused with a `CheckpointError`; a crash or a hang of
    /// libhdf5 stays in its child process. `FLEXCTL_FUZZ_CASES` raises the count (nightly: 20000).
    func testMutatedCheckpointsNeverCrashOrHang() throws {
        let cases = ProcessInfo.processInfo.environment["FLEXCTL_FUZZ_CASES"].flatMap(Int.init) ?? 1500
        let seeds = try ["cae2-p-e2-relu-fashion-mnist.h5", "lstm-p-sig-ramp-4-indices.h5"].map { name in
            [UInt8](try Data(contentsOf: Self.repository.appendingPathComponent("models/\(name)")))
        }
        var limits = HDF5Limits.default
        limits.timeoutSeconds = 3
        limits.memoryBytes = 1 << 30
        var rng = SplitMix64(seed: 0x10_f022)
        var loaded = 0, refused = 0, childCrashed = 0, childTimedOut = 0
        let start = MonotonicClock.seconds()
        for i in 0..<cases {
            var bytes = seeds[i % seeds.count]
            Self.mutate(&bytes, rng: &rng)
            do {
                _ = try Checkpoint.read(bytes: bytes, name: "mutant-\(i).h5", limits: limits)
                loaded += 1
            } catch {
                refused += 1
                let text = error.description
                XCTAssertTrue(text.hasPrefix("mutant-\(i).h5"), "mutant \(i): \(text)")
                if text.contains("the HDF5 library crashed") { childCrashed += 1 }
                if text.contains("did not finish reading") { childTimedOut += 1 }
            }
        }
        let seconds = MonotonicClock.seconds(since: start)
        // The largest resident size any child reached (the children's address space is capped at 1 GiB here).
        var usage = rusage()
        getrusage(RUSAGE_CHILDREN.rawValue, &usage)
        let childMaxMiB = usage.ru_maxrss / 1024
        var own = rusage()
        getrusage(RUSAGE_SELF.rawValue, &own)
        print("checkpoint fuzz: \(cases) mutants in \(String(format: "%.1f", seconds)) s: \(loaded) loaded, \(refused) refused (libhdf5 crashed in the child on \(childCrashed), timed out on \(childTimedOut)); largest child \(childMaxMiB) MiB resident, this process \(own.ru_maxrss / 1024) MiB")
        XCTAssertEqual(loaded + refused, cases)
        XCTAssertLessThanOrEqual(childMaxMiB, 1024 + 64)
    }

    static func mutate(_ b: inout [UInt8], rng: inout SplitMix64) {
        func below(_ n: Int) -> Int { n <= 0 ? 0 : Int(rng.next() % UInt64(n)) }
        let interesting: [[UInt8]] = [[0], [0xFF], [0x7F, 0xFF, 0xFF, 0xFF], [0xFF, 0xFF, 0xFF, 0xFF], [0, 0, 0, 0x80],
                                      [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF], [1, 0, 0, 0, 0, 0, 0, 0]]
        for _ in 0..<(1 + below(6)) {
            guard !b.isEmpty else { return }
            switch below(7) {
            case 0: b[below(b.count)] ^= UInt8(1) << UInt8(below(8))
            case 1: b[below(b.count)] = UInt8(truncatingIfNeeded: rng.next())
            case 2:
                let v = interesting[below(interesting.count)]
                let at = below(b.count)
                for (k, x) in v.enumerated() where at + k < b.count { b[at + k] = x }
            case 3:
                let at = below(b.count), n = 1 + below(64)
                b.insert(contentsOf: (0..<n).map { _ in UInt8(truncatingIfNeeded: rng.next()) }, at: at)
            case 4:
                let at = below(b.count), n = min(1 + below(64), b.count - at)
                b.removeSubrange(at..<(at + n))
            case 5:
                let from = below(b.count), n = min(1 + below(256), b.count - from), to = below(b.count)
                b.insert(contentsOf: Array(b[from..<(from + n)]), at: to)
            default:
                b.removeSubrange(below(b.count)...)
            }
        }
    }
}
