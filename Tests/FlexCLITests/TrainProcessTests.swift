import FlexRuntime
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Synthetic training data written by the tests: an IDX file of smooth 28×28 images and a numeric CSV of two
/// random-walk price series with dates.
enum SyntheticData {
    /// `count` images of soft blobs (uint8), as a raw IDX3 file.
    static func writeIDX(_ path: String, count: Int, seed: UInt64) throws {
        var rng = SplitMix64(seed: seed)
        var bytes: [UInt8] = [0, 0, 8, 3]
        for d in [count, 28, 28] { bytes += withUnsafeBytes(of: UInt32(d).bigEndian, Array.init) }
        for _ in 0..<count {
            let cx = rng.uniform(8, 20), cy = rng.uniform(8, 20), r = rng.uniform(3, 7)
            for y in 0..<28 { for x in 0..<28 {
                let d2 = (Float(x) - cx) * (Float(x) - cx) + (Float(y) - cy) * (Float(y) - cy)
                bytes.append(UInt8(max(0, min(255, 255 * Float.exp(-d2 / (2 * r * r))))))
            } }
        }
        try Data(bytes).write(to: URL(fileURLWithPath: path))
    }

    /// `rows` weekdays from 2015-01-05 of two positive random walks, oldest first.
    static func writeSeriesCSV(_ path: String, rows: Int, seed: UInt64) throws {
        var rng = SplitMix64(seed: seed)
        var a = 100.0, b = 50.0
        var lines = ["date,AAA,BBB"]
        var day = Day(year: 2015, month: 1, day: 5)
        for _ in 0..<rows {
            a *= 1 + Double(rng.uniform(-0.02, 0.02))
            b *= 1 + Double(rng.uniform(-0.02, 0.02)) + 0.3 * (a / 100 - 1) * 0.01
            lines.append("\(day),\(String(format: "%.4f", a)),\(String(format: "%.4f", b))")
            day = day.nextWeekday
        }
        try (lines.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
    }
}

/// A minimal calendar day for the synthetic CSV (ISO text, next weekday).
struct Day: CustomStringConvertible {
    var year: Int, month: Int, day: Int
    var description: String { String(format: "%04d-%02d-%02d", year, month, day) }
    var nextWeekday: Day {
        var d = self
        repeat { d = d.next } while d.weekday >= 6
        return d
    }
    private var next: Day {
        let lengths = [31, (year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)) ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
        if day < lengths[month - 1] { return Day(year: year, month: month, day: day + 1) }
        return month == 12 ? Day(year: year + 1, month: 1, day: 1) : Day(year: year, month: month + 1, day: 1)
    }
    /// 1 = Monday … 7 = Sunday (Zeller's congruence).
    private var weekday: Int {
        var m = month, y = year
        if m < 3 { m += 12; y -= 1 }
        let h = (day + 13 * (m + 1) / 5 + y + y / 4 - y / 100 + y / 400) % 7  // 0 = Saturday
        return (h + 5) % 7 + 1
    }
}

@Suite("flexctl train and export", .serialized)
struct TrainProcessTests {
    /// Polls every 5 ms until `path` exists, the process ends, or 5 minutes pass.
    static func waitForFile(_ path: String, while p: FlexctlProcess) {
        let deadline = Date().addingTimeInterval(300)
        while !FileManager.default.fileExists(atPath: path), p.process.isRunning, Date() < deadline { usleep(5_000) }
    }

    static func fingerprint(_ model: String) throws -> String {
        try Checkpoint.read(from: model).fingerprint
    }

    @Test("train cae end to end: run folder, per-epoch lines, test loss, export that the runtime loads")
    func trainCAEAndExport() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        try SyntheticData.writeIDX(dir.file("images.idx"), count: 300, seed: 1)
        let r = try runFlexctl(["train", "cae", "--arch", "cae1", "--data", dir.file("images.idx"), "--epochs", "2",
                                "--batch-size", "32", "--threads", "2", "--out", dir.file("run")])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("epoch 1/2  train "))
        #expect(r.stdout.contains("epoch 2/2  train "))
        #expect(r.stdout.contains("test loss (MSE)"))
        // Notes (data, model, run folder) on standard error, results on standard output; no progress bar when standard
        // error is not a terminal.
        #expect(r.stderr.contains("data: ") && r.stderr.contains("run folder: "), "\(r.stderr)")
        #expect(!r.stdout.contains("data: ") && !r.stdout.contains("run folder: "), "\(r.stdout)")
        #expect(!r.stderr.contains("\r") && !r.stderr.contains("[#"), "no progress bar when stderr is not a terminal: \(r.stderr)")
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.file("run")).sorted()
        #expect(files == ["log.csv", "loss.png", "loss.svg", "run.json", "state.h5"])
        let log = try String(contentsOfFile: dir.file("run/log.csv"), encoding: .utf8)
        #expect(log.split(separator: "\n").count == 3)

        let e = try runFlexctl(["export", dir.file("run"), "--output", dir.file("model.h5")])
        #expect(e.status == 0, "\(e.stderr)")
        let checkpoint = try Checkpoint.read(from: dir.file("model.h5"))
        #expect(checkpoint.task == .imageAutoencoder)
        guard case let .image(spec) = checkpoint.input else { Issue.record("not an image input"); return }
        #expect(spec.pixelScaling == .minusOneToOne && spec.encoderLayers == 3)
        let p = try #require(checkpoint.provenance)
        #expect(p.trainLoss.count == 2 && p.validationLoss.count == 2 && p.testLoss != nil)
        #expect(p.trainSize == 240 && p.validationSize == 30 && p.testSize == 30)
        #expect(e.stdout.contains(checkpoint.fingerprint))
        // The runtime session reconstructs images with it.
        let session = try ImageCodecSession(checkpoint: checkpoint)
        let y = try session.reconstruct(Tensor(shape: [2, 1, 28, 28], scalars: Array(repeating: 0, count: 2 * 784)))
        #expect(y.shape == [2, 1, 28, 28])
        // Another name of one of the run's files (a hard link) is refused, even with --overwrite.
        #expect(link(dir.file("run/state.h5"), dir.file("state-link.h5")) == 0)
        let onto = try runFlexctl(["export", dir.file("run"), "--output", dir.file("state-link.h5"), "--overwrite"])
        #expect(onto.status != 0 && onto.stderr.contains("that is one of the run's own files"), "\(onto.stderr)")
        let ontoDotted = try runFlexctl(["export", dir.file("run"), "--output", dir.path + "/run/.//log.csv", "--overwrite"])
        #expect(ontoDotted.status != 0 && ontoDotted.stderr.contains("that is one of the run's own files"), "\(ontoDotted.stderr)")
        // export never replaces a file unless asked; float16 works.
        let again = try runFlexctl(["export", dir.file("run"), "--output", dir.file("model.h5")])
        #expect(again.status == 1 && again.stderr.contains("exists"))
        let half = try runFlexctl(["export", dir.file("run"), "--output", dir.file("half.h5"), "--dtype", "float16"])
        #expect(half.status == 0)
        #expect(try Checkpoint.read(from: dir.file("half.h5")).storedType == .float16)
    }

    @Test("SIGINT saves the state and exits 130; --resume finishes bit-identical to an uninterrupted run")
    func interruptAndResume() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        try SyntheticData.writeIDX(dir.file("images.idx"), count: 1200, seed: 2)
        let common = ["--arch", "cae1", "--data", dir.file("images.idx"), "--epochs", "3", "--batch-size", "8",
                      "--threads", "2", "--seed", "5"]
        let full = try runFlexctl(["train", "cae"] + common + ["--out", dir.file("full")])
        #expect(full.status == 0, "\(full.stderr)")

        let p = try FlexctlProcess(["train", "cae"] + common + ["--out", dir.file("cut")])
        // Wait for the initial state (written before the first batch), then interrupt a little later.
        Self.waitForFile(dir.file("cut/state.h5"), while: p)
        usleep(150_000)
        kill(p.process.processIdentifier, SIGINT)
        let cut = try p.wait()
        #expect(cut.status == 130, "\(cut.stdout)\(cut.stderr)")
        #expect(cut.stderr.contains("interrupted: state saved to"))
        #expect(cut.stderr.contains("train cae --resume"))
        // No temporary files are left behind.
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.file("cut")).allSatisfy { !$0.hasPrefix(".") })

        let resumed = try runFlexctl(["train", "cae", "--resume", dir.file("cut")])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(resumed.stderr.contains("resuming"))
        #expect(try runFlexctl(["export", dir.file("full"), "-o", dir.file("full.h5")]).status == 0)
        #expect(try runFlexctl(["export", dir.file("cut"), "-o", dir.file("cut.h5")]).status == 0)
        #expect(try Self.fingerprint(dir.file("full.h5")) == Self.fingerprint(dir.file("cut.h5")))
        // The per-epoch losses agree too.
        let a = try String(contentsOfFile: dir.file("full/log.csv"), encoding: .utf8)
        let b = try String(contentsOfFile: dir.file("cut/log.csv"), encoding: .utf8)
        func losses(_ s: String) -> [String] { s.split(separator: "\n").map { $0.split(separator: ",").prefix(4).joined(separator: ",") } }
        #expect(losses(a) == losses(b))

        // A finished run has nothing left to do; --epochs extends it.
        let done = try runFlexctl(["train", "cae", "--resume", dir.file("cut")])
        #expect(done.status == 0 && done.stderr.contains("already finished") && done.stdout.isEmpty)
        let more = try runFlexctl(["train", "cae", "--resume", dir.file("cut"), "--epochs", "4"])
        #expect(more.status == 0 && more.stdout.contains("epoch 4/4"), "\(more.stdout)\(more.stderr)")
    }

    @Test("SIGTERM also saves the state (exit 143), and the run resumes to the end")
    func terminateAndResume() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        try SyntheticData.writeIDX(dir.file("images.idx"), count: 400, seed: 6)
        let p = try FlexctlProcess(["train", "cae", "--arch", "cae1", "--data", dir.file("images.idx"), "--epochs", "50",
                                    "--batch-size", "8", "--threads", "1", "--out", dir.file("run")])
        Self.waitForFile(dir.file("run/state.h5"), while: p)
        kill(p.process.processIdentifier, SIGTERM)
        let r = try p.wait()
        #expect(r.status == 143, "\(r.stdout)\(r.stderr)")
        #expect(r.stderr.contains("terminated: state saved to"))
        let resumed = try runFlexctl(["train", "cae", "--resume", dir.file("run"), "--epochs", "3"])
        #expect(resumed.status == 0 && resumed.stdout.contains("epoch 3/3"), "\(resumed.stdout)\(resumed.stderr)")
    }

    @Test("SIGKILL at any time leaves a resumable run: the initial state is saved before the first batch")
    func killedDuringTheFirstEpoch() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        try SyntheticData.writeIDX(dir.file("images.idx"), count: 400, seed: 7)
        let p = try FlexctlProcess(["train", "cae", "--arch", "cae1", "--data", dir.file("images.idx"), "--epochs", "2",
                                    "--batch-size", "4", "--threads", "1", "--out", dir.file("run")])
        Self.waitForFile(dir.file("run/state.h5"), while: p)
        kill(p.process.processIdentifier, SIGKILL)
        _ = try p.wait()
        let resumed = try runFlexctl(["train", "cae", "--resume", dir.file("run")])
        #expect(resumed.status == 0 && resumed.stdout.contains("epoch 2/2"), "\(resumed.stdout)\(resumed.stderr)")
        // export refuses to write over the run's own files.
        let e = try runFlexctl(["export", dir.file("run"), "--output", dir.file("run/state.h5"), "--overwrite"])
        #expect(e.status == 1 && e.stderr.contains("run's own files"))
        // --patience without a validation split is refused.
        let p2 = try runFlexctl(["train", "cae", "--data", dir.file("images.idx"), "--val-split", "0", "--patience", "3"])
        #expect(p2.status == 64 && p2.stderr.contains("--patience"))
    }

    @Test("train forecast on a numeric CSV; export records features, targets and normalisation")
    func trainForecast() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        try SyntheticData.writeSeriesCSV(dir.file("prices.csv"), rows: 400, seed: 3)
        let r = try runFlexctl(["train", "forecast", "--series", dir.file("prices.csv"), "--target", "all",
                                "--window", "10", "--hidden", "4", "--epochs", "3", "--out", dir.file("run")])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("test loss (MSE)"))
        #expect(try runFlexctl(["export", dir.file("run"), "--output", dir.file("m.h5")]).status == 0)
        let c = try Checkpoint.read(from: dir.file("m.h5"))
        #expect(c.task == .forecaster)
        guard case let .series(s) = c.input else { Issue.record("not a series input"); return }
        #expect(s.features == ["AAA", "BBB"] && s.targets == ["AAA", "BBB"] && s.window == 10 && s.horizon == 1)
        #expect(s.transform == .returns && s.normalization.std.allSatisfy { $0 > 0 })
        // Several series without --target: a clear message listing the choices.
        let noTarget = try runFlexctl(["train", "forecast", "--series", dir.file("prices.csv"), "--out", dir.file("r2")])
        #expect(noTarget.status == 64 && noTarget.stderr.contains("--target") && noTarget.stderr.contains("AAA"), "\(noTarget.stderr)")
        #expect(noTarget.stdout.isEmpty)
    }

    @Test("bad input: one clear message, exit code, no run folder")
    func badInput() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let missing = try runFlexctl(["train", "cae", "--data", dir.file("nope.idx"), "--out", dir.file("r")])
        #expect(missing.status == 1 && missing.stderr.contains("nope.idx"), "\(missing.stderr)")
        try Data([0, 0, 8, 3, 0, 0, 0, 5, 0, 0, 0, 28, 0, 0, 0, 28, 1, 2, 3]).write(to: URL(fileURLWithPath: dir.file("short.idx")))
        let short = try runFlexctl(["train", "cae", "--data", dir.file("short.idx"), "--out", dir.file("r")])
        #expect(short.status == 1 && short.stderr.contains("short.idx"), "\(short.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir.file("r/run.json")))
        let arch = try runFlexctl(["train", "cae", "--arch", "cae9", "--data", dir.file("short.idx")])
        #expect(arch.status == 64 && arch.stderr.contains("cae9") && arch.stderr.contains("cae1, cae2, cae3"))
        let act = try runFlexctl(["train", "cae", "--activation", "p-e3-relu", "--data", dir.file("short.idx")])
        #expect(act.status == 64 && act.stderr.contains("p-e3-relu"))
        let lr = try runFlexctl(["train", "cae", "--lr", "-1", "--data", dir.file("short.idx")])
        #expect(lr.status == 64 && lr.stderr.contains("--lr"))
        let notRun = try runFlexctl(["train", "cae", "--resume", dir.path])
        #expect(notRun.status == 1 && notRun.stderr.contains("run.json"))
        let mixed = try runFlexctl(["train", "cae", "--resume", dir.path, "--lr", "0.1"])
        #expect(mixed.status == 64 && mixed.stderr.contains("--lr"))
        let export = try runFlexctl(["export", dir.file("nowhere"), "--output", dir.file("m.h5")])
        #expect(export.status == 1 && export.stderr.contains("nowhere"))
        // A run folder that already holds a run is refused.
        try SyntheticData.writeIDX(dir.file("images.idx"), count: 40, seed: 4)
        #expect(try runFlexctl(["train", "cae", "--arch", "cae1", "--data", dir.file("images.idx"), "--epochs", "1",
                                "--out", dir.file("run")]).status == 0)
        let twice = try runFlexctl(["train", "cae", "--arch", "cae1", "--data", dir.file("images.idx"), "--out", dir.file("run")])
        #expect(twice.status == 1 && twice.stderr.contains("already holds a run"))
        // Changed data is refused on resume.
        try SyntheticData.writeIDX(dir.file("images.idx"), count: 40, seed: 5)
        let changed = try runFlexctl(["train", "cae", "--resume", dir.file("run"), "--epochs", "2"])
        #expect(changed.status == 1 && changed.stderr.contains("data changed"), "\(changed.stderr)")
    }
}
