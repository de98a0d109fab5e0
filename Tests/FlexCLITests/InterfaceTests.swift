@testable import FlexCLI
import Foundation
import Testing
import FlexRuntime

/// Every key of a JSON value (recursively), with the path where it was found.
private func keys(_ value: Any, path: String = "") -> [(String, String)] {
    if let o = value as? [String: Any] {
        return o.flatMap { k, v in [(k, path)] + keys(v, path: path + "." + k) }
    }
    if let a = value as? [Any] { return a.flatMap { keys($0, path: path + "[]") } }
    return []
}

/// A JSON document as every command prints it: an object with `kind` and `schema_version` 1, every key
/// snake_case (lower-case letters, digits, `_`; no spaces, no camelCase).
private func expectDocument(_ text: String, kind: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> [String: Any] {
    let object = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any],
                              sourceLocation: sourceLocation)
    #expect(object["kind"] as? String == kind, sourceLocation: sourceLocation)
    #expect(object["schema_version"] as? Int == 1, sourceLocation: sourceLocation)
    for (k, path) in keys(object) where path.hasSuffix(".spec") == false {
        let snake = !k.isEmpty && k.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "_" }
        #expect(snake, "key '\(k)' at \(path) is not snake_case", sourceLocation: sourceLocation)
    }
    return object
}

@Suite("one interface: formats, JSON documents, exit codes, streams", .serialized)
struct InterfaceTests {
    static let repo = CodecProcessTests.repo
    static let cae2 = CodecProcessTests.cae2
    static let digit = CodecProcessTests.digit

    @Test("--json is --format json; --json with another --format is a usage error (64)")
    func jsonAlias() throws {
        let a = try runFlexctl(["inspect", Self.cae2, "--json"])
        let b = try runFlexctl(["inspect", Self.cae2, "--format", "json"])
        #expect(a.status == 0 && a.stdout == b.stdout)
        let object = try expectDocument(a.stdout, kind: "checkpoint")
        #expect(object["task"] as? String == "image-autoencoder")
        #expect((object["provenance"] as? [String: Any])?["train_size"] is Int)
        let clash = try runFlexctl(["inspect", Self.cae2, "--json", "--format", "csv"])
        #expect(clash.status == 64 && clash.stdout.isEmpty && clash.stderr.contains("--json and --format csv"), "\(clash.stderr)")
        let csv = try runFlexctl(["inspect", Self.cae2, "--format", "csv"])
        #expect(csv.status == 0 && csv.stdout.hasPrefix("slot,layer,member,units,parameter,count,mean,std,min,max,"))
        #expect(csv.stdout.contains("\nlayers.1,1,p-e2-relu,16,alpha,16,"), "\(csv.stdout)")
    }

    @Test("bench codec-train: the codec's training step at the sizes asked for; sizes out of range are usage errors")
    func benchCodecTrain() throws {
        let r = try runFlexctl(["bench", "--workload", "codec-train", "--channels", "4", "--latent-channels", "3",
                                "--crop", "16", "--batch-size", "2", "--threads", "1", "--seconds", "0.01", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let b = try expectDocument(r.stdout, kind: "bench")
        let row = try #require((b["results"] as? [[String: Any]])?.first)
        #expect(row["workload"] as? String == "codec-train" && row["batch"] as? Int == 2 && row["unit"] as? String == "img/s")
        for (args, message) in [(["--crop", "100"], "crop 100: expected a multiple of 16 in 16...1024"),
                                (["--batch-size", "0"], "batch 0: expected 1...1024"),
                                (["--channels", "2000"], "--channels 2000: expected 1...1024"),
                                (["--latent-channels", "0"], "--latent-channels 0: expected 1...1024"),
                                (["--batch-size", "1024", "--crop", "1024"], "pixels per step, expected at most 16777216")] {
            let bad = try runFlexctl(["bench", "--workload", "codec-train"] + args)
            #expect(bad.status == 64 && bad.stdout.isEmpty && bad.stderr.contains(message), "\(args): \(bad.stderr)")
        }
    }

    @Test("every JSON document: kind, schema_version, snake_case keys (activation, bench, compress, decompress, forecast)")
    func documents() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let act = try runFlexctl(["activation", "p-e-relu", "--json", "--step", "2"])
        _ = try expectDocument(act.stdout, kind: "activation_table")

        let bench = try runFlexctl(["bench", "--workload", "load", "--seconds", "0.01", "--json"])
        #expect(bench.status == 0, "\(bench.stderr)")
        let b = try expectDocument(bench.stdout, kind: "bench")
        let row = try #require((b["results"] as? [[String: Any]])?.first)
        #expect(row["workload"] as? String == "load" && row["mean_ms"] is Double && row["p95_ms"] is Double)

        let c = try runFlexctl(["compress", Self.digit, "--model", Self.cae2, "-o", dir.file("d.flexz"), "--json"])
        #expect(c.status == 0, "\(c.stderr)")
        let cr = try expectDocument(c.stdout, kind: "compress_report")
        #expect(cr["output_bytes"] as? Int == CodecProcessTests.size(dir.file("d.flexz")))
        #expect(cr["bits_per_pixel"] is Double && cr["psnr_db"] is Double && cr["total_ms"] is Double)

        let d = try runFlexctl(["decompress", dir.file("d.flexz"), "--model", Self.cae2, "-o", dir.file("d.png"), "--format", "json"])
        #expect(d.status == 0, "\(d.stderr)")
        let dr = try expectDocument(d.stdout, kind: "decompress_report")
        #expect(dr["width"] as? Int == 28 && dr["channels"] as? String == "gray")

        let f = try runFlexctl(["forecast", "--model", ForecastFixtures.model, "--json"] + ForecastFixtures.sampleFiles)
        #expect(f.status == 0, "\(f.stderr)")
        _ = try expectDocument(f.stdout, kind: "forecast")
        let e = try runFlexctl(["forecast", "--model", ForecastFixtures.model, "--evaluate", "--json"] + ForecastFixtures.sampleFiles)
        #expect(e.status == 0, "\(e.stderr)")
        let ev = try expectDocument(e.stdout, kind: "backtest")
        let pooled = try #require((ev["pooled"] as? [String: Any])?["errors"] as? [[String: Any]])
        #expect(pooled.map { $0["forecaster"] as? String } == ["model", "zero_return", "last_return", "training_mean"])
        // Percent, as the table shows: the table's MSE (%²) for the model is the JSON's.
        let t = try runFlexctl(["forecast", "--model", ForecastFixtures.model, "--evaluate"] + ForecastFixtures.sampleFiles)
        let mse = try #require(pooled[0]["mse_percent_squared"] as? Double)
        #expect(t.stdout.contains(NumberText.fixed(mse, 4)), "\(mse) not in the table")
    }

    @Test("compress takes the file directly like decompress; `compress image` keeps working")
    func compressSymmetry() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let direct = try runFlexctl(["compress", Self.digit, "--model", Self.cae2, "-o", dir.file("a.flexz")])
        #expect(direct.status == 0, "\(direct.stderr)")
        let sub = try runFlexctl(["compress", "image", Self.digit, "--model", Self.cae2, "-o", dir.file("b.flexz")])
        #expect(sub.status == 0, "\(sub.stderr)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: dir.file("a.flexz"))) == Data(contentsOf: URL(fileURLWithPath: dir.file("b.flexz"))))
        let back = try runFlexctl(["decompress", dir.file("a.flexz"), "--model", Self.cae2, "-o", dir.file("a.png")])
        #expect(back.status == 0, "\(back.stderr)")
    }

    @Test("a mistyped subcommand: exit 64, did you mean, nothing on standard output")
    func didYouMean() throws {
        for (args, expected) in [(["compres", "x.png"], "'compres' is not a subcommand of 'flexctl'; did you mean 'compress'?"),
                                 (["decompres", "x.flexz"], "did you mean 'decompress'?"),
                                 (["inspcet", "m.h5"], "did you mean 'inspect'?"),
                                 (["train", "forcast"], "'forcast' is not a subcommand of 'flexctl train'; did you mean 'forecast'?"),
                                 (["train", "cea"], "did you mean 'cae'?"),
                                 (["compress", "imag", "x.png"], "'imag' is not a subcommand of 'flexctl compress' nor an existing file; did you mean 'image'?"),
                                 (["frobnicate"], "'frobnicate' is not a subcommand of 'flexctl'; valid: activation, bench, ")] {
            let r = try runFlexctl(args)
            #expect(r.status == 64 && r.stdout.isEmpty, "\(args): \(r.status) \(r.stderr)")
            #expect(r.stderr.hasPrefix("Error: '") && r.stderr.contains(expected), "\(args): \(r.stderr)")
            #expect(r.stderr.contains("Usage: flexctl"), "\(r.stderr)")
        }
        #expect(closestName(to: "forcast", among: ["cae", "forecast"]) == "forecast")
        #expect(closestName(to: "bench", among: ["activation", "bench"]) == "bench")
        #expect(closestName(to: "xyz", among: ["activation", "bench", "inspect"]) == nil)
        #expect(editDistance("compres", "compress") == 1 && editDistance("inspcet", "inspect") == 1)
        // `help` and the real names still work.
        #expect(try runFlexctl(["help", "train"]).status == 0)
    }

    @Test("a folder input with a file name as --output is a usage error: nothing made")
    func folderOutputNamesAFile() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        try FileManager.default.createDirectory(atPath: dir.file("in"), withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: Self.digit, toPath: dir.file("in/a.png"))
        let c = try runFlexctl(["compress", dir.file("in"), "--model", Self.cae2, "-o", dir.file("q.flexz")])
        #expect(c.status == 64 && c.stderr.contains("'\(dir.file("q.flexz"))' is a file name"), "\(c.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir.file("q.flexz")))
        // An existing folder of that name is a folder.
        try FileManager.default.createDirectory(atPath: dir.file("out.flexz"), withIntermediateDirectories: true)
        let ok = try runFlexctl(["compress", dir.file("in"), "--model", Self.cae2, "-o", dir.file("out.flexz")])
        #expect(ok.status == 0 && FileManager.default.fileExists(atPath: dir.file("out.flexz/a.flexz")), "\(ok.stderr)")
        try FileManager.default.createDirectory(atPath: dir.file("z"), withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: dir.file("out.flexz/a.flexz"), toPath: dir.file("z/a.flexz"))
        let d = try runFlexctl(["decompress", dir.file("z"), "--model", Self.cae2, "-o", dir.file("p.png")])
        #expect(d.status == 64 && d.stderr.contains("is a file name"), "\(d.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir.file("p.png")))
    }

    @Test("model search order: FLEXCTL_MODEL_PATH, ./models, the installed models folder")
    func modelSearchOrder() throws {
        #expect(ModelSearch.folders(modelPath: "/a::b", executable: "/usr/local/bin/flexctl")
                == ["/a", "b", "models", "/usr/local/share/flexctl/models"])
        #expect(ModelSearch.folders(modelPath: nil, executable: nil) == ["models"])
        #expect(ModelSearch.installedModelsFolder(executable: "/opt/x/bin/flexctl") == "/opt/x/share/flexctl/models")
        #expect(ModelSearch.installedModelsFolder(executable: "/flexctl") == "/share/flexctl/models")
    }

    @Test("an installed flexctl finds the installed models from any folder")
    func installedModels() throws {
        let binary = try #require(flexctlBinary())
        let dir = try TempDir()
        defer { dir.cleanup() }
        let prefix = dir.file("prefix")
        try FileManager.default.createDirectory(atPath: prefix + "/bin", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: prefix + "/share/flexctl/models", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: binary.path, toPath: prefix + "/bin/flexctl")
        try FileManager.default.copyItem(atPath: Self.cae2, toPath: prefix + "/share/flexctl/models/m.h5")
        let c = try runFlexctl(["compress", Self.digit, "--model", Self.cae2, "-o", dir.file("d.flexz")])
        #expect(c.status == 0, "\(c.stderr)")
        let p = Process()
        p.executableURL = URL(fileURLWithPath: prefix + "/bin/flexctl")
        p.arguments = ["decompress", dir.file("d.flexz"), "-o", dir.file("d.png")]
        p.currentDirectoryURL = URL(fileURLWithPath: dir.path)  // no ./models here
        var env = ProcessInfo.processInfo.environment
        env["FLEXCTL_MODEL_PATH"] = nil
        p.environment = env
        try p.run()
        p.waitUntilExit()
        #expect(p.terminationStatus == 0)
        #expect(FileManager.default.fileExists(atPath: dir.file("d.png")))
    }

    @Test("--column picks one column of a Yahoo-style CSV; an unknown column names the columns found")
    func column() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        var lines = ["Date,Open,High,Low,Close,Adj Close,Volume"]
        var price = 100.0
        for i in 0..<200 {
            let day = Calendar(identifier: .gregorian).date(byAdding: .day, value: i, to: Date(timeIntervalSince1970: 1_577_836_800))!
            let text = ISO8601DateFormatter().string(from: day).prefix(10)
            price *= 1 + 0.01 * sin(Double(i) * 0.7)
            lines.append("\(text),\(price),\(price + 1),\(price - 1),\(price),\(price),\(1000 + i)")
        }
        try (lines.joined(separator: "\n") + "\n").write(toFile: dir.file("AAPL.csv"), atomically: true, encoding: .utf8)
        // Without --column: six series, so --target is required (a usage error naming them).
        let six = try runFlexctl(["train", "forecast", "--series", dir.file("AAPL.csv"), "--epochs", "1", "--out", dir.file("r0"), "--no-progress"])
        #expect(six.status == 64 && six.stderr.contains("'Adj Close'"), "\(six.stderr)")
        let r = try runFlexctl(["train", "forecast", "--series", dir.file("AAPL.csv"), "--column", "close", "--window", "5",
                                "--hidden", "2", "--epochs", "1", "--out", dir.file("run"), "--no-progress"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("returns of Close ("), "\(r.stderr)")
        let config = try String(contentsOfFile: dir.file("run/run.json"), encoding: .utf8)
        #expect(config.contains("\"column\" : \"close\""), "\(config)")
        let bad = try runFlexctl(["train", "forecast", "--series", dir.file("AAPL.csv"), "--column", "Price", "--out", dir.file("r2")])
        #expect(bad.status == 1 && bad.stderr.contains("no column 'Price'") && bad.stderr.contains("'Adj Close'"), "\(bad.stderr)")
        // forecast reads the same column.
        #expect(try runFlexctl(["export", dir.file("run"), "-o", dir.file("m.h5")]).status == 0)
        let f = try runFlexctl(["forecast", "--model", dir.file("m.h5"), "--column", "Close", dir.file("AAPL.csv"), "--format", "csv"])
        #expect(f.status == 0 && f.stdout.hasPrefix("step,date,series,change_percent,price\n1,"), "\(f.stderr)")
        let unknownTarget = try runFlexctl(["train", "forecast", "--series", dir.file("AAPL.csv"), "--target", "Closed", "--out", dir.file("r3")])
        #expect(unknownTarget.status == 64 && unknownTarget.stderr.contains("--target 'Closed': no such series"), "\(unknownTarget.stderr)")
    }

    @Test("run.json: snake_case keys; a version-1 run folder (camelCase) still resumes and exports")
    func legacyRunJSON() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        try SyntheticData.writeSeriesCSV(dir.file("prices.csv"), rows: 200, seed: 5)
        let r = try runFlexctl(["train", "forecast", "--series", dir.file("prices.csv"), "--target", "all", "--window", "10",
                                "--hidden", "4", "--epochs", "1", "--out", dir.file("run"), "--no-progress"])
        try #require(r.status == 0, "\(r.stderr)")
        let path = dir.file("run/run.json")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any])
        #expect(object["format_version"] as? Int == 2 && object["learning_rate"] is Double)
        #expect((object["training"] as? [String: Any])?["batch_size"] as? Int == 32)
        // The same run as flexctl wrote it before: camelCase keys of RunConfig, DataConfig and TrainingOptions,
        // format version 1 (the runtime's input and layers were snake_case already).
        func camel(_ s: String) -> String {
            let parts = s.split(separator: "_")
            return String(parts[0]) + parts.dropFirst().map { $0.prefix(1).uppercased() + $0.dropFirst() }.joined()
        }
        func legacy(_ o: [String: Any], recurse: Set<String>) -> [String: Any] {
            var out: [String: Any] = [:]
            for (k, v) in o {
                out[camel(k)] = recurse.contains(k) ? legacy(v as! [String: Any], recurse: []) : v
            }
            return out
        }
        var old = legacy(object, recurse: ["data", "training"])
        old["formatVersion"] = 1
        try JSONSerialization.data(withJSONObject: old).write(to: URL(fileURLWithPath: path))
        #expect(try String(contentsOfFile: path, encoding: .utf8).contains("\"learningRate\""))
        let resumed = try runFlexctl(["train", "forecast", "--resume", dir.file("run"), "--epochs", "2", "--no-progress"])
        #expect(resumed.status == 0 && resumed.stdout.contains("epoch 2/2"), "\(resumed.stderr)")
        // Resuming with --epochs rewrote run.json in the current format.
        #expect(try String(contentsOfFile: path, encoding: .utf8).contains("\"learning_rate\""))
        let exported = try runFlexctl(["export", dir.file("run"), "-o", dir.file("m.h5")])
        #expect(exported.status == 0, "\(exported.stderr)")
    }

    @Test("bench: the header and a progress note at once, one row per workload")
    func benchStreams() throws {
        let r = try runFlexctl(["bench", "--workload", "load", "--seconds", "0.01"])
        #expect(r.status == 0, "\(r.stderr)")
        let lines = r.stdout.split(separator: "\n")
        #expect(lines.count == 2 && lines[0].hasPrefix("workload") && lines[1].hasPrefix("load "), "\(r.stdout)")
        #expect(r.stderr.hasPrefix("bench: load (warm-up, then 0.01 s)"), "\(r.stderr)")
        let csv = try runFlexctl(["bench", "--workload", "load", "--seconds", "0.01", "--format", "csv"])
        #expect(csv.stdout.hasPrefix("workload,unit,batch,threads,batches,throughput,mean_ms,p50_ms,p95_ms\nload,loads/s,1,1,"))
    }
}

@Suite("number formatting, tables, progress lines")
struct TextFormattingTests {
    @Test("cFormat is printf: fixed, scientific, widths, signs; long results are not cut")
    func cFormatting() {
        #expect(cFormat("%.2f", 3.14159) == "3.14")
        #expect(cFormat("%+.4f", -0.00001) == "-0.0000")
        #expect(cFormat("%.5e", 123456789.0) == "1.23457e+08")
        #expect(cFormat("%3d%%", Int32(7)) == "  7%")
        #expect(cFormat("%ld:%02ld", 61, 5) == "61:05")
        #expect(cFormat("%.100f", 1.0).count == 102)
        #expect(NumberText.fixed(-0.0001, 2) == "0.00" && NumberText.fixed(2.345, 1) == "2.3")
        #expect(NumberText.short(1.2999999999999998) == "1.3")
        #expect(csvField("a\r\nb") == "\"a\r\nb\"" && csvField("say \"x\"") == "\"say \"\"x\"\"\"")
    }

    @Test("TextTable: header, rule, alignment, no trailing spaces")
    func table() {
        let lines = TextTable.render([["name", "n"], ["a", "10"], [], ["bbb", "2"]], right: [1], indent: "  ")
        #expect(lines == ["  name   n", "  ----  --", "  a     10", "", "  bbb    2"])
    }

    @Test("progress lines fit the terminal: bar shrinks, then the tail's last parts go")
    func progress() {
        for columns in [20, 40, 60, 80, 120, 200] {
            let line = progressLine(head: "epoch 3/20", fraction: 0.5, tail: ["50% 10/20", "loss 0.123456", "12,345 img/s", "ETA 1:02"],
                                    columns: columns)
            #expect(line.count <= max(20, columns - 1), "\(columns): \(line)")
            #expect(line.hasPrefix("epoch 3/20"))
        }
        let wide = progressLine(head: "epoch 1/1", fraction: 0.5, tail: ["ETA 1 s"], columns: 200)
        #expect(wide.contains("[###############...............]"))
        let narrow = progressLine(head: "epoch 1/1", fraction: 1, tail: ["50% 1/2", "loss 1.0", "ETA 3 s"], columns: 40)
        #expect(narrow.contains("[#") && !narrow.contains("ETA"), "\(narrow)")
    }
}
