import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `flexctl experiment` end to end on small synthetic data: the runs, the summary files, resuming, shards and merge.
@Suite("flexctl experiment", .serialized)
struct ExperimentProcessTests {
    static func json(_ path: String) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as! [String: Any]
    }

    static func text(_ path: String) throws -> String { try String(contentsOfFile: path, encoding: .utf8) }

    /// results.csv without the columns that vary from one training to the next of the same run (seconds).
    static func outcomes(_ path: String) throws -> [[Substring]] {
        try text(path).split(separator: "\n").map { Array($0.split(separator: ",", omittingEmptySubsequences: false).prefix(7)) }
    }

    /// `experiment cae` on `data` with 2 arms × 2 runs of 2 epochs.
    static func caeArguments(_ data: String, out: String, extra: [String] = []) -> [String] {
        ["experiment", "cae", "--arch", "cae1", "--data", data, "--arms", "relu,p-e2-relu", "--runs", "2", "--epochs", "2",
         "--batch-size", "32", "--threads", "1", "--out", out] + extra
    }

    @Test("experiment cae: every run trained once, result.json per run, the summary with its tests, plots; a rerun redoes nothing")
    func wholeExperiment() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        try SyntheticData.writeIDX(dir.file("images.idx"), count: 200, seed: 3)
        let r = try runFlexctl(Self.caeArguments(dir.file("images.idx"), out: dir.file("e")))
        #expect(r.status == 0, "\(r.stderr)")
        // One line per finished run, in the plan's order (run-major), then the table.
        let lines = r.stdout.split(separator: "\n").filter { $0.hasPrefix("[") }
        #expect(lines.count == 4)
        #expect(lines.first?.hasPrefix("[1/4] relu run 1/2 (seed 1): test MSE ") == true, "\(lines)")
        #expect(lines.last?.hasPrefix("[4/4] p-e2-relu run 2/2 (seed 2): test MSE ") == true, "\(lines)")
        #expect(r.stdout.contains("| relu (baseline) | 2 | ") && r.stdout.contains("| p-e2-relu | relu | "))
        #expect(r.stderr.contains("4 runs; 0 finished, 4 to do"))
        for name in ["experiment.json", "summary.md", "summary.json", "results.csv", "comparisons.csv",
                     "plots/validation.png", "plots/test-mse.svg", "plots/alpha-layers-1.png", "plots/beta-layers-1.svg",
                     "runs/relu/run-1/run.json", "runs/relu/run-1/state.h5", "runs/p-e2-relu/run-2/result.json"] {
            #expect(FileManager.default.fileExists(atPath: dir.file("e/" + name)), "\(name)")
        }
        // The result of a run is its run folder's: test loss, seed, α/β of the flexible arm only.
        let result = try Self.json(dir.file("e/runs/p-e2-relu/run-2/result.json"))
        #expect(result["seed"] as? Int == 2 && result["epochs"] as? Int == 2 && result["arm"] as? String == "p-e2-relu")
        let activations = try #require(result["activations"] as? [[String: Any]])
        #expect(activations.map { $0["slot"] as? String } == ["layers.1", "layers.4", "layers.6"], "\(activations)")
        #expect((activations[0]["alpha"] as? [Double])?.count == 16 && (activations[2]["alpha"] as? [Double])?.isEmpty == true)
        let reluResult = try Self.json(dir.file("e/runs/relu/run-1/result.json"))
        #expect((reluResult["activations"] as? [[String: Any]])?.allSatisfy { ($0["alpha"] as? [Double])?.isEmpty == true } == true)
        let summary = try Self.json(dir.file("e/summary.json"))
        #expect(summary["runs_finished"] as? Int == 4 && summary["welch_tests"] as? Int == 1)
        let csv = try Self.text(dir.file("e/results.csv"))
        #expect(csv.split(separator: "\n").count == 5 && csv.hasPrefix("arm,run,seed,test_mse,"))

        // The same command again: everything is finished, nothing is trained, nothing changes.
        let before = try Self.text(dir.file("e/results.csv"))
        try before.write(toFile: dir.file("e/results-before.csv"), atomically: true, encoding: .utf8)
        let again = try runFlexctl(Self.caeArguments(dir.file("images.idx"), out: dir.file("e")))
        #expect(again.status == 0, "\(again.stderr)")
        #expect(again.stderr.contains("4 finished, 0 to do") && !again.stdout.contains("[1/"), "\(again.stdout)")
        #expect(try Self.text(dir.file("e/results.csv")) == before)

        // A run whose result.json was lost is recorded again from its finished state, without training.
        let lost = dir.file("e/runs/relu/run-2/result.json")
        let lostText = try Self.text(lost)
        try FileManager.default.removeItem(atPath: lost)
        let recover = try runFlexctl(Self.caeArguments(dir.file("images.idx"), out: dir.file("e")))
        #expect(recover.status == 0 && recover.stderr.contains("3 finished, 1 to do"), "\(recover.stderr)")
        #expect(try Self.json(lost)["test_mse"] as? Double == (try JSONSerialization.jsonObject(with: Data(lostText.utf8)) as! [String: Any])["test_mse"] as? Double)
        #expect(try Self.text(dir.file("e/results.csv")) == before)
        // A run folder killed before its first state (run.json, no state.h5) starts again.
        try FileManager.default.removeItem(atPath: dir.file("e/runs/p-e2-relu/run-2/result.json"))
        try FileManager.default.removeItem(atPath: dir.file("e/runs/p-e2-relu/run-2/state.h5"))
        let restart = try runFlexctl(Self.caeArguments(dir.file("images.idx"), out: dir.file("e")))
        #expect(restart.status == 0 && restart.stdout.contains("[1/1] p-e2-relu run 2/2 (seed 2)"), "\(restart.stderr)")
        #expect(try Self.outcomes(dir.file("e/results.csv")) == (try Self.outcomes(dir.file("e/results-before.csv"))), "the same seed trains the same run")
        // A run folder that is not this experiment's is never continued.
        try FileManager.default.removeItem(atPath: dir.file("e/runs/p-e2-relu/run-2/result.json"))
        try FileManager.default.removeItem(atPath: dir.file("e/runs/p-e2-relu/run-2/experiment-fingerprint"))
        let foreign = try runFlexctl(Self.caeArguments(dir.file("images.idx"), out: dir.file("e")))
        #expect(foreign.status == 1 && foreign.stderr.contains("does not belong to this experiment"), "\(foreign.stderr)")

        // Other options into the same folder: refused, naming both experiments.
        let other = try runFlexctl(Self.caeArguments(dir.file("images.idx"), out: dir.file("e"), extra: ["--lr", "0.002"]))
        #expect(other.status == 1 && other.stderr.contains("holds another experiment"), "\(other.stderr)")
        #expect(try Self.outcomes(dir.file("e/results.csv")) == (try Self.outcomes(dir.file("e/results-before.csv"))))
    }

    @Test("shards 1/2 and 2/2 on their own folders merge into the whole experiment's results")
    func shardsAndMerge() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        try SyntheticData.writeIDX(dir.file("images.idx"), count: 200, seed: 3)
        let whole = try runFlexctl(Self.caeArguments(dir.file("images.idx"), out: dir.file("whole")))
        #expect(whole.status == 0, "\(whole.stderr)")
        for i in 1...2 {
            let s = try runFlexctl(Self.caeArguments(dir.file("images.idx"), out: dir.file("s\(i)"), extra: ["--shard", "\(i)/2"]))
            #expect(s.status == 0, "\(s.stderr)")
            #expect(s.stderr.contains("shard \(i)/2: 2 runs"), "\(s.stderr)")
            #expect(s.stdout.split(separator: "\n").filter { $0.hasPrefix("[") }.count == 2)
        }
        // A merge of only one shard reports the missing runs.
        let half = try runFlexctl(["experiment", "merge", dir.file("s1"), "--out", dir.file("half")])
        #expect(half.status == 0 && half.stderr.contains("2 of 4 runs have no result in any folder"), "\(half.stderr)")
        let m = try runFlexctl(["experiment", "merge", dir.file("s1"), dir.file("s2"), "--out", dir.file("merged")])
        #expect(m.status == 0, "\(m.stderr)")
        #expect(m.stderr.contains("merged 4 runs") && !m.stderr.contains("no result"), "\(m.stderr)")
        // Same seeds, same thread count: the shards' runs are the whole experiment's, bit for bit.
        #expect(try Self.text(dir.file("merged/results.csv")).split(separator: "\n").map { $0.split(separator: ",").prefix(4) }
                == (try Self.text(dir.file("whole/results.csv"))).split(separator: "\n").map { $0.split(separator: ",").prefix(4) })
        #expect(try Self.text(dir.file("merged/comparisons.csv")) == (try Self.text(dir.file("whole/comparisons.csv"))))
        // Runs in several folders are reported, with whether their results agree (they do: same seeds).
        let dup = try runFlexctl(["experiment", "merge", dir.file("whole"), dir.file("s1"), dir.file("s2"), "--out", dir.file("dup")])
        #expect(dup.status == 0 && dup.stderr.contains("relu run 1 is in") && dup.stderr.contains("(the same result)"), "\(dup.stderr)")
        // A folder of another experiment (another seed) is refused.
        let other = try runFlexctl(Self.caeArguments(dir.file("images.idx"), out: dir.file("other"), extra: ["--seed", "5", "--runs", "1"]))
        #expect(other.status == 0, "\(other.stderr)")
        let bad = try runFlexctl(["experiment", "merge", dir.file("s1"), dir.file("other"), "--out", dir.file("bad")])
        #expect(bad.status == 1 && bad.stderr.contains("only shards of one experiment merge"), "\(bad.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir.file("bad")))
        // `experiment summary` prints the table (and JSON).
        let table = try runFlexctl(["experiment", "summary", dir.file("merged")])
        #expect(table.status == 0 && table.stdout.contains("| p-e2-relu | relu |"))
        let js = try runFlexctl(["experiment", "summary", dir.file("merged"), "--json"])
        #expect(js.status == 0 && js.stdout.contains("\"kind\" : \"experiment_summary\""), "\(js.stdout)")
    }

    @Test("SIGINT during a run saves it (exit 130); the same command resumes it and ends with the uninterrupted results")
    func interruptAndResume() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        try SyntheticData.writeIDX(dir.file("images.idx"), count: 1200, seed: 2)
        let args = ["experiment", "cae", "--arch", "cae1", "--data", dir.file("images.idx"), "--arms", "relu,p-e2-id",
                    "--runs", "1", "--epochs", "3", "--batch-size", "8", "--threads", "2"]
        let full = try runFlexctl(args + ["--out", dir.file("full")])
        #expect(full.status == 0, "\(full.stderr)")
        let p = try FlexctlProcess(args + ["--out", dir.file("cut")])
        TrainProcessTests.waitForFile(dir.file("cut/runs/relu/run-1/state.h5"), while: p)
        usleep(150_000)
        kill(p.process.processIdentifier, SIGINT)
        let cut = try p.wait()
        #expect(cut.status == 130, "\(cut.stdout)\(cut.stderr)")
        #expect(cut.stderr.contains("interrupted: state saved to") && cut.stderr.contains("run the same `flexctl experiment` command again"), "\(cut.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir.file("cut/runs/relu/run-1/result.json")))
        let resumed = try runFlexctl(args + ["--out", dir.file("cut")])
        #expect(resumed.status == 0 && resumed.stderr.contains("0 finished, 2 to do"), "\(resumed.stderr)")
        #expect(try Self.outcomes(dir.file("cut/results.csv")) == (try Self.outcomes(dir.file("full/results.csv"))))
    }

    @Test("experiment forecast: gate arms and a cell arm on two series")
    func forecast() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        try SyntheticData.writeSeriesCSV(dir.file("s.csv"), rows: 400, seed: 2)
        let r = try runFlexctl(["experiment", "forecast", "--series", dir.file("s.csv"), "--target", "AAA", "--window", "10",
                                "--hidden", "4", "--arms", "sigmoid,p-sig-ramp,p-sig-ramp+cell=p-tanh-ramp", "--runs", "2",
                                "--epochs", "2", "--threads", "1", "--out", dir.file("f")])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.split(separator: "\n").filter { $0.hasPrefix("[") }.count == 6)
        #expect(r.stdout.contains("| p-sig-ramp+cell=p-tanh-ramp | sigmoid | "), "\(r.stdout)")
        #expect(r.stdout.contains("| zero-return forecast (reference) | – | ") && r.stdout.contains("| sigmoid | "), "\(r.stdout)")
        let experiment = try Self.json(dir.file("f/experiment.json"))
        let references = try #require(experiment["references"] as? [[String: Any]])
        #expect(references.map { $0["name"] as? String } == ["training-mean forecast", "zero-return forecast"])
        #expect(references.allSatisfy { ($0["test_mse"] as? Double).map { $0 > 0.5 && $0 < 2 } == true }, "\(references)")
        #expect(r.stdout.contains("| training-mean forecast (reference) | – | "))
        let run = try Self.json(dir.file("f/runs/p-sig-ramp+cell=p-tanh-ramp/run-1/run.json"))
        #expect(run["cell"] as? String == "p-tanh-ramp" && run["activation"] as? String == "p-sig-ramp")
    }

    @Test("bad arms, shards and runs are usage errors (64) naming the option")
    func usage() throws {
        for (args, message) in [
            (["--arms", "relu"], "expected at least two arms"),
            (["--arms", "relu,bogus"], "arm 'bogus'"),
            (["--arms", "relu,elu+cell=tanh"], "unknown key 'cell'"),
            (["--arms", "relu,elu", "--shard", "3/2"], "--shard '3/2'"),
            (["--arms", "relu,elu", "--runs", "0"], "--runs 0"),
        ] {
            let r = try runFlexctl(["experiment", "cae", "--data", "/nonexistent", "--out", "/nonexistent/never"] + args)
            #expect(r.status == 64 && r.stderr.contains(message), "\(args): \(r.stderr)")
        }
        for (args, message) in [
            (["--arms", "relu,elu", "--baselines", "gelu"], "--baselines: 'gelu' is not one of the arms"),
            (["--arms", "relu,elu", "--baselines", "relu, elu"], "every arm is a baseline"),
            (["--arms", "relu,,elu"], "an empty item"),
            (["--arms", "relu,elu", "--runs", "3", "--seed", "18446744073709551614"], "beyond"),
        ] {
            let r = try runFlexctl(["experiment", "cae", "--data", "/nonexistent", "--out", "/nonexistent/never"] + args)
            #expect(r.status == 64 && r.stderr.contains(message), "\(args): \(r.stderr)")
        }
    }
}
