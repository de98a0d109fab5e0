@testable import FlexCLI
import FlexTraining
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A run folder may come from anyone (issue 10): a crafted state.h5 is refused with one message instead of a
/// trap, a crafted run.json never makes resume show another file's content, and a start that fails before its
/// first state leaves no run folder behind.
@Suite("resume and export of crafted run folders; failed starts", .serialized)
struct ResumeSafetyTests {
    /// A finished 2-epoch forecaster run over 200 rows (window 10, batches of 32) in `dir/run`.
    static func makeRun(_ dir: TempDir) throws {
        try SyntheticData.writeSeriesCSV(dir.file("prices.csv"), rows: 200, seed: 5)
        let r = try runFlexctl(["train", "forecast", "--series", dir.file("prices.csv"), "--target", "all", "--window", "10",
                                "--hidden", "4", "--epochs", "2", "--out", dir.file("run"), "--no-progress"])
        try #require(r.status == 0, "\(r.stderr)")
    }

    @Test("crafted state.h5 fields: resume and export exit 1 with one message naming state.h5 and the field")
    func craftedStateFields() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        try Self.makeRun(dir)
        let statePath = dir.file("run/state.h5"), configPath = dir.file("run/run.json")
        let good = try TrainingState.read(from: statePath)
        let originalState = try Data(contentsOf: URL(fileURLWithPath: statePath))
        let originalConfig = try Data(contentsOf: URL(fileURLWithPath: configPath))
        let config = try #require(try JSONSerialization.jsonObject(with: originalConfig) as? [String: Any])
        let trainSize = try #require(config["train_size"] as? Int)
        let batches = (trainSize + 31) / 32
        let cases: [(String, (inout TrainingState) -> Void)] = [
            // These trapped in the loop ("Range requires lowerBound <= upperBound", "Double value cannot be
            // converted to Int") before the state was checked.
            ("field 'batchesCompleted' is \(batches + 5); expected 0...\(batches) (the run's batches per epoch)",
             { s in s.batchesCompleted = batches + 5; s.partialSteps = batches + 5 }),
            ("field 'batchesCompleted' is -1; expected 0 or more", { $0.batchesCompleted = -1 }),
            ("field 'elapsedSeconds' is 1e+300; expected a number of seconds in 0...1e9", { $0.elapsedSeconds = 1e300 }),
            ("field 'epochsCompleted' is 3; expected 0...2 (the run's epochs)", { s in
                s.epochsCompleted = 3; s.history.append(s.history[1]); s.history[2].epoch = 3
                s.epochsWithoutImprovement += 1 }),
            ("field 'optimizer.step' is 1; expected \(2 * batches) (one step per batch: 2 epochs of \(batches) batches and 0)",
             { $0.optimizer.state.step = 1 }),
            ("field 'optimizer.learningRate' is 1e+300; expected the run's 0.001 (run.json 'learning_rate')",
             { $0.optimizer.learningRate = 1e300 }),
        ]
        for (message, change) in cases {
            var crafted = good
            change(&crafted)
            try crafted.write(to: statePath)
            let resumed = try runFlexctl(["train", "forecast", "--resume", dir.file("run"), "--epochs", "4", "--no-progress"])
            #expect(resumed.status == 1, "\(message): \(resumed.stderr)")
            #expect(resumed.stderr == "Error: \(statePath): \(message)\n")
            #expect(resumed.stdout.isEmpty)
            // run.json keeps its epochs: --epochs is recorded only for a state that fits the run.
            #expect(try Data(contentsOf: URL(fileURLWithPath: configPath)) == originalConfig)
            let exported = try runFlexctl(["export", dir.file("run"), "--output", dir.file("m.h5")])
            #expect(exported.status == 1 && exported.stderr == "Error: \(statePath): \(message)\n", "\(exported.stderr)")
            #expect(!FileManager.default.fileExists(atPath: dir.file("m.h5")))
        }
        // The real state still exports.
        try originalState.write(to: URL(fileURLWithPath: statePath))
        #expect(try runFlexctl(["export", dir.file("run"), "--output", dir.file("m.h5")]).status == 0)
        // Extreme values inside the ranges (the largest loss, 10^9 − 1 s of training) are printed, logged and plotted.
        var extreme = good
        extreme.history[0].trainLoss = 1e100
        extreme.elapsedSeconds = 999_999_999
        try extreme.write(to: statePath)
        let more = try runFlexctl(["train", "forecast", "--resume", dir.file("run"), "--epochs", "3", "--no-progress"])
        #expect(more.status == 0 && more.stdout.contains("epoch 3/3"), "\(more.stdout)\(more.stderr)")
        #expect(more.stdout.contains("finished in 277777:46:"), "\(more.stdout)")
        #expect(try String(contentsOfFile: dir.file("run/log.csv"), encoding: .utf8).contains("1e+100"))
    }

    @Test("run.json naming another file: resume says it cannot be loaded, never what the file holds")
    func recordedDataIsNeverQuoted() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        try Self.makeRun(dir)
        let configPath = dir.file("run/run.json")
        let original = try Data(contentsOf: URL(fileURLWithPath: configPath))
        // A file whose every line the CSV reader would quote in its own messages.
        try "date,TOPSECRET-HEADER\n2020-01-02,TOPSECRET-VALUE\nTOPSECRET-LINE\n"
            .write(toFile: dir.file("secret.txt"), atomically: true, encoding: .utf8)
        try FileManager.default.createDirectory(atPath: dir.file("folder"), withIntermediateDirectories: false)
        let general = "(the content of files a run folder names is never shown; check the data, or start a new run)"
        let cases: [(String, String)] = [
            (dir.file("secret.txt"), "the data recorded in field 'data.series[0]' (\(dir.file("secret.txt"))) cannot be loaded: not series CSV files this run can use \(general)"),
            ("/etc/passwd", "the data recorded in field 'data.series[0]' (/etc/passwd) cannot be loaded: not series CSV files this run can use \(general)"),
            (dir.file("folder"), "the data recorded in field 'data.series[0]' (\(dir.file("folder"))) cannot be loaded: not a regular file"),
            (dir.file("gone.csv"), "the data recorded in field 'data.series[0]' (\(dir.file("gone.csv"))) cannot be loaded: No such file or directory"),
            ("../../../../etc/passwd", "field 'data.series[0]' is not an absolute path; a run records its data by absolute path"),
            ("/dev/zero", "the data recorded in field 'data.series[0]' (/dev/zero) cannot be loaded: not a regular file"),
            ("", "field 'data.series[0]' is not an absolute path; a run records its data by absolute path"),
        ]
        for (path, message) in cases {
            try original.write(to: URL(fileURLWithPath: configPath))
            try RunConfigTests.edit(configPath) { c in
                var d = c["data"] as! [String: Any]
                d["series"] = [path]
                c["data"] = d
            }
            let r = try runFlexctl(["train", "forecast", "--resume", dir.file("run"), "--epochs", "3", "--no-progress"])
            #expect(r.status == 1, "\(path): \(r.stderr)")
            #expect(r.stderr == "Error: \(configPath): \(message)\n", "\(r.stderr)")
            #expect(!r.stderr.contains("TOPSECRET") && !r.stderr.contains("root:"))
            #expect(!r.stdout.contains("TOPSECRET") && !r.stdout.contains("root:"))
        }
        // Split sizes that are not the data's (the state is checked against them).
        try original.write(to: URL(fileURLWithPath: configPath))
        let recorded = try #require(try JSONSerialization.jsonObject(with: original) as? [String: Any])
        let (train, validation, test) = (recorded["train_size"] as! Int, recorded["validation_size"] as! Int, recorded["test_size"] as! Int)
        try RunConfigTests.edit(configPath) { c in c["validation_size"] = 999 }
        let sizes = try runFlexctl(["train", "forecast", "--resume", dir.file("run"), "--epochs", "3", "--no-progress"])
        #expect(sizes.status == 1 && sizes.stderr.hasSuffix("Error: \(configPath): fields 'train_size', 'validation_size', 'test_size' are \(train), 999, \(test); the recorded data gives \(train), \(validation), \(test)\n"), "\(sizes.stderr)")
        // No series at all.
        try original.write(to: URL(fileURLWithPath: configPath))
        try RunConfigTests.edit(configPath) { c in
            var d = c["data"] as! [String: Any]
            d["series"] = [String]()
            c["data"] = d
        }
        let none = try runFlexctl(["train", "forecast", "--resume", dir.file("run"), "--no-progress"])
        #expect(none.status == 1 && none.stderr == "Error: \(configPath): field 'data.series' is missing or empty; a forecaster run records its series files\n", "\(none.stderr)")
        // Data that loads but differs: the existing refusal, still without content.
        try original.write(to: URL(fileURLWithPath: configPath))
        try SyntheticData.writeSeriesCSV(dir.file("prices.csv"), rows: 200, seed: 6)
        let changed = try runFlexctl(["train", "forecast", "--resume", dir.file("run"), "--epochs", "3", "--no-progress"])
        #expect(changed.status == 1 && changed.stderr.contains("the data changed since the run started"), "\(changed.stderr)")
    }

    @Test("a CAE run.json naming another file or a device: the same general message, no content")
    func recordedImageDataIsNeverQuoted() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        try SyntheticData.writeIDX(dir.file("images.idx"), count: 40, seed: 4)
        let r = try runFlexctl(["train", "cae", "--arch", "cae1", "--data", dir.file("images.idx"), "--epochs", "1",
                                "--out", dir.file("run"), "--no-progress"])
        try #require(r.status == 0, "\(r.stderr)")
        // Starts with the IDX magic so that the IDX reader gets far enough to quote what it found.
        try Data([0, 0, 8, 3] + Array("TOPSECRET-CONTENT".utf8)).write(to: URL(fileURLWithPath: dir.file("secret.idx")))
        let configPath = dir.file("run/run.json")
        let original = try Data(contentsOf: URL(fileURLWithPath: configPath))
        let general = "(the content of files a run folder names is never shown; check the data, or start a new run)"
        for (path, message) in [
            (dir.file("secret.idx"), "the data recorded in field 'data.path' (\(dir.file("secret.idx"))) cannot be loaded: not image data this run can use \(general)"),
            ("/dev/null", "the data recorded in field 'data.path' (/dev/null) cannot be loaded: not a regular file or a folder"),
            ("/etc", "the data recorded in field 'data.path' (/etc) cannot be loaded: not image data this run can use \(general)"),
        ] {
            try original.write(to: URL(fileURLWithPath: configPath))
            try RunConfigTests.edit(configPath) { c in
                var d = c["data"] as! [String: Any]
                d["path"] = path
                c["data"] = d
            }
            let resumed = try runFlexctl(["train", "cae", "--resume", dir.file("run"), "--epochs", "2", "--no-progress"])
            #expect(resumed.status == 1 && resumed.stderr == "Error: \(configPath): \(message)\n", "\(resumed.stderr)")
            #expect(!resumed.stderr.contains("TOPSECRET") && !resumed.stderr.contains("passwd"))
        }
    }

    @Test("a start that fails before its first state (state.h5 a folder; full disk, a 16 KiB tmpfs) removes only what it made")
    func failedStartLeavesNoRunFolder() throws {
        // Without root: a folder named state.h5 in the --out folder makes the initial state unwritable; run.json
        // goes, the folder and what it held stay.
        let plain = try TempDir()
        defer { plain.cleanup() }
        try SyntheticData.writeSeriesCSV(plain.file("prices.csv"), rows: 200, seed: 5)
        try FileManager.default.createDirectory(atPath: plain.file("out/state.h5"), withIntermediateDirectories: true)
        try Data("mine".utf8).write(to: URL(fileURLWithPath: plain.file("out/state.h5/mine.txt")))
        let blocked = try runFlexctl(["train", "forecast", "--series", plain.file("prices.csv"), "--target", "all",
                                      "--window", "10", "--hidden", "4", "--epochs", "1", "--no-progress", "--out", plain.file("out")])
        #expect(blocked.status == 1 && blocked.stderr.contains(plain.file("out/state.h5")), "\(blocked.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: plain.file("out")) == ["state.h5"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: plain.file("out/state.h5")) == ["mine.txt"])

        guard getuid() == 0 else {
            print("skipped: mounting a small tmpfs needs root; run the tests as root to check a full disk")
            return
        }
        let dir = try TempDir()
        defer { dir.cleanup() }
        try SyntheticData.writeSeriesCSV(dir.file("prices.csv"), rows: 200, seed: 5)
        let mount = dir.file("small")
        try FileManager.default.createDirectory(atPath: mount, withIntermediateDirectories: false)
        func tool(_ path: String, _ arguments: [String]) throws -> Int32 {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: path)
            p.arguments = arguments
            try p.run()
            p.waitUntilExit()
            return p.terminationStatus
        }
        // run.json (about 2 KB) fits, the state (about 29 KB) does not.
        try #require(try tool("/bin/mount", ["-t", "tmpfs", "-o", "size=16k", "tmpfs", mount]) == 0, "cannot mount a tmpfs")
        defer { _ = try? tool("/bin/umount", [mount]) }
        let args = ["train", "forecast", "--series", dir.file("prices.csv"), "--target", "all", "--window", "10",
                    "--hidden", "4", "--epochs", "2", "--no-progress"]
        // Folders the start made (two levels) are removed.
        let made = try runFlexctl(args + ["--out", mount + "/a/b/run"])
        #expect(made.status == 1 && made.stderr.contains("No space left on device"), "\(made.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: mount) == [])
        // A folder that existed keeps itself and its files; only run.json goes.
        try FileManager.default.createDirectory(atPath: mount + "/mine", withIntermediateDirectories: false)
        try Data("keep".utf8).write(to: URL(fileURLWithPath: mount + "/mine/keep.txt"))
        let existing = try runFlexctl(args + ["--out", mount + "/mine"])
        #expect(existing.status == 1 && existing.stderr.contains("No space left on device"), "\(existing.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: mount) == ["mine"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: mount + "/mine") == ["keep.txt"])
        #expect(try Data(contentsOf: URL(fileURLWithPath: mount + "/mine/keep.txt")) == Data("keep".utf8))
    }
}

/// The progress line and the final summary format durations and rates from numbers a crafted state reaches:
/// none of them may convert an infinite, NaN or huge Double to Int.
@Suite struct ProgressTextTests {
    @Test func durationsAndRatesOfAnySize() {
        #expect(duration(4.25) == "4.2 s" || duration(4.25) == "4.3 s")
        #expect(duration(3723) == "1:02:03")
        #expect(duration(999_999_999) == "277777:46:39")
        for bad in [1e300, 1e12, .infinity, -.infinity, .nan, -1] { #expect(duration(bad) == "?", "\(bad)") }
        #expect(rateText(12_345.6) == "12,345")
        for bad in [1e300, 1e15, .infinity, .nan, -1] { #expect(rateText(bad) == "?", "\(bad)") }
    }
}
