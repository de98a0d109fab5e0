import FlexData
import FlexRuntime
import Foundation
import Testing

/// `flexctl forecast` as a process: the README's main job on the shipped sample, the formats, the backtest,
/// and every bad input (one clear message, a non-zero exit, nothing on standard output, no output file).
@Suite("flexctl forecast", .serialized)
struct ForecastProcessTests {
    static let model = ForecastFixtures.model
    static var samples: [String] { ForecastFixtures.sampleFiles }

    /// The lines of a sample file (any line ending), the header being line 1.
    static func lines(_ path: String) throws -> [String] {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        return text.replacingOccurrences(of: "\r\n", with: "\n").replacingOccurrences(of: "\r", with: "\n")
            .split(separator: "\n", omittingEmptySubsequences: false).map(String.init).filter { !$0.isEmpty }
    }

    /// Copies the four sample files into `dir` (same names, LF line ends), with `edit` applied to the lines of
    /// the file at index `which` (0…3, the model's feature order). Returns the four paths.
    static func copySamples(to dir: TempDir, editing which: Int? = nil, _ edit: (inout [String]) -> Void = { _ in })
        throws -> [String] {
        var out: [String] = []
        for (k, name) in ForecastFixtures.paperFiles.enumerated() {
            var lines = try lines(ForecastFixtures.samples + "/" + name)
            if k == which { edit(&lines) }
            let path = dir.file(name)
            try (lines.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
            out.append(path)
        }
        return out
    }

    /// Runs a command that must fail: exit `status`, nothing on stdout, every fragment in stderr, and (when the
    /// arguments name `--output`/`--plot` files that do not exist yet) no such file afterwards.
    @discardableResult
    static func expectFailure(_ arguments: [String], status: Int32 = 1, _ fragments: [String],
                              sourceLocation: SourceLocation = #_sourceLocation) throws -> RunResult {
        let outputs = arguments.indices.filter { (arguments[$0] == "--output" || arguments[$0] == "--plot") && $0 + 1 < arguments.count }
            .map { arguments[$0 + 1] }.filter { !FileManager.default.fileExists(atPath: $0) }
        let r = try runFlexctl(["forecast"] + arguments)
        #expect(r.status == status, "exit \(r.status); stderr: \(r.stderr)", sourceLocation: sourceLocation)
        #expect(r.stdout.isEmpty, "stdout: \(r.stdout)", sourceLocation: sourceLocation)
        for f in fragments {
            #expect(r.stderr.contains(f), "stderr lacks \"\(f)\": \(r.stderr)", sourceLocation: sourceLocation)
        }
        for path in outputs {
            #expect(!FileManager.default.fileExists(atPath: path), "\(path) written", sourceLocation: sourceLocation)
        }
        return r
    }

    // MARK: The main job

    @Test("the README's command forecasts the shipped sample with the shipped model")
    func mainJob() throws {
        let r = try runFlexctl(["forecast", "--model", Self.model] + Self.samples)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.isEmpty, "\(r.stderr)")
        #expect(r.stdout.contains("277 common dates of the 4 series, 2018-10-24 to 2019-12-30"))
        #expect(r.stdout.contains("the next trading day after 2019-12-30"))
        #expect(r.stdout.contains("no holiday calendar"))
        #expect(!r.stdout.contains("feed the model's own predictions back"))
        for name in ForecastFixtures.features {
            #expect(r.stdout.contains("   1  2019-12-31  \(name)"), "\(r.stdout)")
            #expect(r.stdout.contains("last  2019-12-30  \(name)"))
        }
        // The last prices of the common last day: FTSE 100 closed at 7,587.05 on 2019-12-30.
        #expect(r.stdout.contains("7,587.05"))
    }

    @Test("--horizon 3 feeds predictions back and says so; dates are the next weekdays")
    func threeSteps() throws {
        let r = try runFlexctl(["forecast", "--model", Self.model, "--horizon", "3"] + Self.samples)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("the next 3 trading days after 2019-12-30"))
        #expect(r.stdout.contains("steps 2–3 feed the model's own predictions back as inputs"))
        for (step, date) in [(1, "2019-12-31"), (2, "2020-01-01"), (3, "2020-01-02")] {
            #expect(r.stdout.contains("   \(step)  \(date)  FTSE 100"), "\(r.stdout)")
        }
        // A Friday is followed by Monday: cut the history at Friday 2019-12-27.
        let dir = try TempDir()
        defer { dir.cleanup() }
        let files = try Self.copySamples(to: dir)
        for f in files {  // drop the rows after 2019-12-27 (lines 2… are newest first)
            var lines = try Self.lines(f)
            lines.removeAll { $0.contains("Dec 30, 2019") || $0.contains("Dec 31, 2019") }
            try (lines.joined(separator: "\n") + "\n").write(toFile: f, atomically: true, encoding: .utf8)
        }
        let friday = try runFlexctl(["forecast", "--model", Self.model, "--horizon", "2", "--format", "csv"] + files)
        #expect(friday.status == 0, "\(friday.stderr)")
        let dates = friday.stdout.split(separator: "\n").dropFirst().map { $0.split(separator: ",")[1] }
        #expect(Set(dates) == ["2019-12-30", "2019-12-31"], "\(friday.stdout)")
    }

    @Test("csv and json are machine-readable; --output writes the same text atomically and nothing to stdout")
    func formatsAndOutputFile() throws {
        let csv = try runFlexctl(["forecast", "--model", Self.model, "--format", "csv", "--horizon", "2"] + Self.samples)
        #expect(csv.status == 0)
        let lines = csv.stdout.split(separator: "\n")
        #expect(lines.first == "step,date,series,change_percent,price")
        #expect(lines.count == 1 + 2 * 4)
        #expect(lines[1].hasPrefix("1,2019-12-31,S&P_ASX All Australian 200,"))

        let json = try runFlexctl(["forecast", "--model", Self.model, "--format", "json"] + Self.samples)
        #expect(json.status == 0)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        #expect(object["last_date"] as? String == "2019-12-30")
        #expect(object["fed_back"] as? Bool == false)
        let forecasts = try #require(object["forecasts"] as? [[String: Any]])
        #expect(forecasts.count == 4 && forecasts[0]["date"] as? String == "2019-12-31")
        let r = try #require(forecasts[1]["change_percent"] as? Double), p = try #require(forecasts[1]["price"] as? Double)
        #expect(abs(p - 7587.05 * (1 + r / 100)) < 1e-9)
        #expect(object["kind"] as? String == "forecast" && object["schema_version"] as? Int == 1 && object["change"] as? String == "return")

        let dir = try TempDir()
        defer { dir.cleanup() }
        let out = dir.file("forecast.json")
        let written = try runFlexctl(["forecast", "--model", Self.model, "--format", "json", "--output", out] + Self.samples)
        #expect(written.status == 0 && written.stdout.isEmpty)
        #expect(try String(contentsOfFile: out, encoding: .utf8) == json.stdout)
        #expect(dir.contents() == ["forecast.json"])  // no temporary file left
    }

    @Test("--evaluate on the sample: metrics, naive forecasts, DM test, a verdict and a note on the data period")
    func evaluateSample() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let r = try runFlexctl(["forecast", "--model", Self.model, "--evaluate", "--plot", dir.file("p.svg"),
                                "--plot-target", "kospi"] + Self.samples)
        #expect(r.status == 0, "\(r.stderr)")
        for fragment in ["246 one-step-ahead forecasts, target days 2018-12-07 to 2019-12-30", "zero return",
                         "last return", "training mean", "Diebold–Mariano, model vs zero return", "HLN-corrected",
                         "verdict   The model", "all 4 series pooled (984 forecasts",
                         "an out-of-sample test"] {
            #expect(r.stdout.contains(fragment), "missing \"\(fragment)\": \(r.stdout)")
        }
        let svg = try String(contentsOfFile: dir.file("p.svg"), encoding: .utf8)
        #expect(svg.hasPrefix("<svg") || svg.hasPrefix("<?xml"))
        #expect(svg.contains("KOSPI: actual vs predicted"))

        let png = dir.file("p.png")
        let j = try runFlexctl(["forecast", "--model", Self.model, "--evaluate", "--format", "json", "--plot", png] + Self.samples)
        #expect(j.status == 0, "\(j.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(j.stdout.utf8)) as? [String: Any])
        #expect(object["count"] as? Int == 246)
        let pooled = try #require(object["pooled"] as? [String: Any])
        let dm = try #require(pooled["diebold_mariano"] as? [String: Any])
        #expect((dm["p_value"] as? Double).map { $0 > 0 && $0 < 1 } == true)
        #expect(dm["degrees_of_freedom"] as? Int == 245)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: png))
        #expect(Array(bytes.prefix(4)) == [0x89, 0x50, 0x4E, 0x47])

        let csv = try runFlexctl(["forecast", "--model", Self.model, "--evaluate", "--format", "csv"] + Self.samples)
        #expect(csv.status == 0)
        #expect(csv.stdout.split(separator: "\n").count == 1 + 5 * 4)
        #expect(csv.stdout.hasPrefix("series,forecaster,count,mse_percent_squared,mae_percent,"))
        #expect(csv.stdout.contains(",zero_return,"))
    }

    @Test("--evaluate runs on every index file the model can use (all of ../shared/data/indices given)")
    func evaluateAllIndexFiles() throws {
        guard ForecastFixtures.indicesAvailable else { print("skipped: \(ForecastFixtures.indices) not found"); return }
        let files = ForecastFixtures.allIndexFiles
        #expect(files.count == 17)
        let r = try runFlexctl(["forecast", "--model", Self.model, "--evaluate"] + files)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("note: 13 series not used by the model: BIST 100, CAC 40"))
        #expect(r.stdout.contains("2,302 common dates of the 4 series, 2010-01-11 to 2019-12-30"))
        #expect(r.stdout.contains("2,271 one-step-ahead forecasts, target days 2010-03-02 to 2019-12-30"))
        #expect(r.stdout.contains("score --from 2018-01-15 for an out-of-sample test"), "\(r.stdout)")
        #expect(r.stdout.contains("Caution: the model was fitted or early-stopped on 1,817 of these 2,271 days"))
        // The test period alone.
        let t = try runFlexctl(["forecast", "--model", Self.model, "--evaluate", "--from", "2018-01-15",
                                "--format", "json"] + ForecastFixtures.indexFiles)
        #expect(t.status == 0, "\(t.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(t.stdout.utf8)) as? [String: Any])
        #expect(object["count"] as? Int == 454 && object["first_date"] as? String == "2018-01-15")
        #expect((object["note"] as? String)?.contains("an out-of-sample test") == true)
        #expect(object["in_sample_days"] as? Int == 0)
    }

    // MARK: Bad input

    @Test("fewer rows than the window: how many are needed and found")
    func tooFewRows() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        var files: [String] = []
        for name in ForecastFixtures.paperFiles {  // header + the newest 20 rows of every series
            let lines = try Self.lines(ForecastFixtures.samples + "/" + name)
            let path = dir.file(name)
            try (lines.prefix(21).joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
            files.append(path)
        }
        try Self.expectFailure(["--model", Self.model, "--output", dir.file("out.txt")] + files, [
            "S&P_ASX All Australian 200 Historical Data.csv: too few rows: series 'S&P_ASX All Australian 200' has 20 rows; "
                + "the model's window of 30 returns needs at least 31 rows of every series"])
        // Long enough each, but too few common dates: FTSE's newest 40 rows, KOSPI's rows older than that.
        let apart = try Self.copySamples(to: dir, editing: 1) { $0 = Array($0.prefix(41)) }
        var kospi = try Self.lines(apart[2])
        kospi.removeSubrange(1..<30)
        try (kospi.joined(separator: "\n") + "\n").write(toFile: apart[2], atomically: true, encoding: .utf8)
        try Self.expectFailure(["--model", Self.model] + apart, [
            "too few common dates: the model's window of 30 returns needs at least 31 dates on which all 4 series have a value",
            "'FTSE 100' 40", "but only "])
        // Exactly 32 common dates (31 returns): enough to forecast, one short of a two-day backtest.
        let series = try Self.samples.map { try SeriesFile.read(path: $0)[0] }
        let common = try AlignedSeries.align(series).dates!
        let cutoff = common[common.count - 32]
        var edge: [String] = []
        for (k, s) in series.enumerated() {
            let keep = s.dates!.filter { $0 >= cutoff }.count   // the newest rows, lines 2…
            let lines = try Self.lines(Self.samples[k])
            let path = dir.file("edge-\(k).csv")
            try (lines.prefix(1 + keep).joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
            edge.append(path)
        }
        let ok = try runFlexctl(["forecast", "--model", Self.model] + edge.enumerated().map { "--map=\(ForecastFixtures.features[$0])=\($1)" })
        #expect(ok.status == 0, "32 common dates are enough to forecast: \(ok.stderr)")
        #expect(ok.stdout.contains("32 common dates"))
        try Self.expectFailure(["--model", Self.model, "--evaluate"] + edge.enumerated().map { "--map=\(ForecastFixtures.features[$0])=\($1)" }, [
            "2 backtest windows of 30 returns (horizon 1) need at least 33"])
    }

    @Test("a series the model needs is missing")
    func missingSeries() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        try Self.expectFailure(["--model", Self.model, "--output", dir.file("o.csv")] + Self.samples.dropLast(), [
            "the model needs series 'RTSI', which no file provides", "--map 'RTSI=FILE'"])
        // A numeric CSV with the wrong columns provides none of them.
        let numeric = dir.file("n.csv")
        try "date,AAA\n2019-01-02,1\n2019-01-03,2\n".write(toFile: numeric, atomically: true, encoding: .utf8)
        try Self.expectFailure(["--model", Self.model, numeric], [
            "the model needs series 'S&P_ASX All Australian 200', 'FTSE 100', 'KOSPI', 'RTSI'", "'AAA' (\(numeric))"])
        // --map to a name the model does not have is a command-line error.
        try Self.expectFailure(["--model", Self.model, "--map", "DAX=\(numeric)"] + Self.samples,
                               ["the model has no series 'DAX'"])
    }

    @Test("a malformed line: the file and the line number")
    func malformedLine() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let files = try Self.copySamples(to: dir, editing: 1) { lines in
            lines[9] = lines[9].replacingOccurrences(of: "\"7,", with: "\"7x")  // line 10, the price
        }
        try Self.expectFailure(["--model", Self.model, "--output", dir.file("o.txt")] + files, [
            "\(files[1]): line 10: column 'Price': expected a number"])
    }

    @Test("dates out of order or duplicated: the file, the line and both dates")
    func badDates() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let swapped = try Self.copySamples(to: dir, editing: 2) { $0.swapAt(9, 10) }
        try Self.expectFailure(["--model", Self.model] + swapped, [
            "\(swapped[2]): line 11: column 'Date': dates must strictly increase or strictly decrease"])
        let duplicated = try Self.copySamples(to: dir, editing: 3) { $0[10] = $0[9] }
        try Self.expectFailure(["--model", Self.model, "--evaluate"] + duplicated, [
            "\(duplicated[3]): line 11: date ", "appears twice (lines 10 and 11)"])
    }

    @Test("NaN or infinite values: the file, the line and the column")
    func nonFiniteValues() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        for (word, k) in [("nan", 0), ("inf", 3)] {
            let files = try Self.copySamples(to: dir, editing: k) { lines in
                var fields = lines[4].components(separatedBy: "\",\"")
                fields[1] = word
                lines[4] = fields.joined(separator: "\",\"")
            }
            try Self.expectFailure(["--model", Self.model] + files, [
                "\(files[k]): line 5: column 'Price': non-finite value"])
        }
    }

    @Test("a series with the wrong number of columns: the file, the line, expected and found")
    func wrongColumnCount() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let files = try Self.copySamples(to: dir, editing: 0) { lines in
            lines[6] = lines[6].components(separatedBy: "\",\"").dropLast().joined(separator: "\",\"") + "\""
        }
        try Self.expectFailure(["--model", Self.model] + files, [
            "\(files[0]): line 7: expected 7 fields (Date, Price, Open, High, Low, Vol., Change %), found 6"])
    }

    @Test("a checkpoint that is not a forecaster, or not a checkpoint")
    func notAForecaster() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        try Self.expectFailure(["--model", ForecastFixtures.imageModel, "--output", dir.file("o.txt")] + Self.samples, [
            "this checkpoint is an image auto-encoder (task 'image-autoencoder'), not a forecaster"])
        try Self.expectFailure(["--model", Self.samples[1]] + Self.samples, ["FTSE 100.csv", "HDF5"])
        try Self.expectFailure(["--model", dir.file("missing.h5")] + Self.samples, ["missing.h5"])
    }

    @Test("the same series in two files, a file given twice")
    func ambiguousSeries() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let copy = dir.file("FTSE 100.csv")
        try FileManager.default.copyItem(atPath: Self.samples[1], toPath: copy)
        try Self.expectFailure(["--model", Self.model, copy] + Self.samples, [
            "series 'FTSE 100' is in two files", "--map 'FTSE 100=FILE'"])
        try Self.expectFailure(["--model", Self.model, Self.samples[0]] + Self.samples, ["is given twice"])
        // --map settles it.
        let r = try runFlexctl(["forecast", "--model", Self.model, "--map", "FTSE 100=\(copy)", copy] + Self.samples)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("note: 1 series not used by the model: FTSE 100"))
    }

    @Test("command-line errors exit with 64 and print nothing on stdout")
    func usageErrors() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let m = ["--model", Self.model]
        try Self.expectFailure(m + ["--horizon", "0"] + Self.samples, status: 64, ["--horizon 0: expected 1...1000"])
        try Self.expectFailure(m + ["--horizon", "10000"] + Self.samples, status: 64, ["--horizon 10000: expected 1...1000"])
        // Two spellings of one file: the report must not replace the plot (compared as files, not strings).
        let same = dir.file("same.png")
        let sameSpellings = [dir.path + "/./same.png", dir.path + "//same.png", dir.path + "/sub/../same.png"]
        try FileManager.default.createDirectory(atPath: dir.file("sub"), withIntermediateDirectories: true)
        for spelling in sameSpellings {
            try Self.expectFailure(m + ["--evaluate", "--output", same, "--plot", spelling] + Self.samples, status: 64,
                                   ["name the same file"])
        }
        #expect(!FileManager.default.fileExists(atPath: same))
        let aliasFirstLine = try String(contentsOfFile: Self.samples[1], encoding: .utf8).prefix(40)
        // An existing input under another name (a symbolic link to it) is the same file too.
        let alias = dir.file("alias.csv")
        try FileManager.default.createSymbolicLink(atPath: alias, withDestinationPath: normalizedTestPath(Self.samples[1]))
        try Self.expectFailure(m + ["--output", alias] + Self.samples, status: 64, ["is one of the input files"])
        #expect(try String(contentsOfFile: Self.samples[1], encoding: .utf8).prefix(40) == aliasFirstLine)
        try Self.expectFailure(m + ["--format", "xml"] + Self.samples, status: 64, ["The value 'xml' is invalid for '--format <format>'"])
        try Self.expectFailure(m + ["--plot", dir.file("p.png")] + Self.samples, status: 64, ["--plot needs --evaluate"])
        try Self.expectFailure(m + ["--evaluate", "--plot", dir.file("p.gif")] + Self.samples, status: 64, ["use a .png or .svg"])
        try Self.expectFailure(m + ["--evaluate", "--horizon", "2"] + Self.samples, status: 64, ["leave out --horizon"])
        try Self.expectFailure(m + ["--evaluate", "--from", "2019-13-01"] + Self.samples, status: 64, ["--from '2019-13-01'"])
        try Self.expectFailure(m + ["--map", "FTSE 100"] + Self.samples, status: 64, ["expected NAME=FILE"])
        try Self.expectFailure(m, status: 64, ["give the series files"])
        try Self.expectFailure(m + ["--output", dir.file("no/such/folder/x.txt")] + Self.samples, status: 64,
                               ["cannot write there"])
        let firstLine = try String(contentsOfFile: Self.samples[1], encoding: .utf8).prefix(40)
        try Self.expectFailure(m + ["--output", Self.samples[1]] + Self.samples, status: 64, ["is one of the input files"])
        #expect(try String(contentsOfFile: Self.samples[1], encoding: .utf8).prefix(40) == firstLine)
        try Self.expectFailure(m + ["--evaluate", "--plot-target", "DAX", "--plot", dir.file("p.svg")] + Self.samples,
                               status: 64, ["--plot-target 'DAX'"])
        // --from leaving fewer than two days to score.
        try Self.expectFailure(m + ["--evaluate", "--from", "2019-12-30", "--plot", dir.file("p.svg")] + Self.samples,
                               ["target days from 2019-12-30 leave 1 backtest day; at least 2 are needed",
                                "2018-12-07 to 2019-12-30"])
    }

    @Test("a model that predicts some of its series: plain numeric CSV works, k > 1 steps are refused")
    func subsetModel() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        try SyntheticData.writeSeriesCSV(dir.file("prices.csv"), rows: 200, seed: 5)
        let t = try runFlexctl(["train", "forecast", "--series", dir.file("prices.csv"), "--target", "BBB",
                                "--window", "10", "--hidden", "4", "--epochs", "1", "--threads", "1",
                                "--out", dir.file("run")])
        #expect(t.status == 0, "\(t.stderr)")
        #expect(try runFlexctl(["export", dir.file("run"), "--output", dir.file("m.h5")]).status == 0)
        let one = try runFlexctl(["forecast", "--model", dir.file("m.h5"), dir.file("prices.csv")])
        #expect(one.status == 0, "\(one.stderr)")
        #expect(one.stdout.contains("predicts 1 of its 2 input series"))
        #expect(one.stdout.contains("  BBB  "))
        let e = try runFlexctl(["forecast", "--model", dir.file("m.h5"), "--evaluate", dir.file("prices.csv")])
        #expect(e.status == 0, "\(e.stderr)")
        #expect(e.stdout.contains("189 one-step-ahead forecasts"))
        try Self.expectFailure(["--model", dir.file("m.h5"), "--horizon", "2", dir.file("prices.csv")], [
            "--horizon 2: forecasts of more than one step feed each prediction back", "'AAA'"])
    }
}

/// `path` made absolute (a symbolic link's target must not depend on the link's folder).
private func normalizedTestPath(_ path: String) -> String {
    path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
}
