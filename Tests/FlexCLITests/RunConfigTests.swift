import Foundation
import Testing

/// A run folder may come from anyone: resume and export hold its run.json to the command line's ranges and
/// to the layers its architecture gives, before building anything.
@Suite("run.json from a file: options in range, layers as the architecture gives", .serialized)
struct RunConfigTests {
    /// Edits the JSON object at `path` in place.
    static func edit(_ path: String, _ change: (inout [String: Any]) -> Void) throws {
        var object = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any])
        change(&object)
        try JSONSerialization.data(withJSONObject: object).write(to: URL(fileURLWithPath: path))
    }

    @Test("crafted fields: resume and export refuse them with one message naming the field, exit 1, nothing written")
    func craftedRunConfig() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        try SyntheticData.writeSeriesCSV(dir.file("prices.csv"), rows: 200, seed: 5)
        let r = try runFlexctl(["train", "forecast", "--series", dir.file("prices.csv"), "--target", "all", "--window", "10",
                                "--hidden", "4", "--epochs", "1", "--out", dir.file("run"), "--no-progress"])
        try #require(r.status == 0, "\(r.stderr)")
        let config = dir.file("run/run.json")
        let original = try Data(contentsOf: URL(fileURLWithPath: config))
        let cases: [(String, (inout [String: Any]) -> Void)] = [
            ("field 'training.threads' is 999999999999; expected 1...256", { c in
                var t = c["training"] as! [String: Any]
                t["threads"] = 999_999_999_999
                c["training"] = t
            }),
            ("field 'learning_rate' is 5; expected a number in (0, 1]", { c in c["learning_rate"] = 5 }),
            ("field 'hidden' is 100000; expected 1...1024", { c in c["hidden"] = 100_000 }),
            ("field 'layers' does not match the architecture its options give (LSTM(2, 5, layers=1, gate=p-sig-ramp, cell=tanh), Linear(5, 2))",
             { c in c["hidden"] = 5 }),
            ("field 'input.window' is 100000 but 'data.window' is 10", { c in
                var i = c["input"] as! [String: Any]
                i["window"] = 100_000
                c["input"] = i
            }),
        ]
        for (message, change) in cases {
            try original.write(to: URL(fileURLWithPath: config))
            try Self.edit(config, change)
            let resumed = try runFlexctl(["train", "forecast", "--resume", dir.file("run"), "--epochs", "2", "--no-progress"])
            #expect(resumed.status == 1, "\(message): \(resumed.stderr)")
            #expect(resumed.stderr == "Error: \(config): \(message)\n", "\(resumed.stderr)")
            #expect(resumed.stdout.isEmpty)
            let exported = try runFlexctl(["export", dir.file("run"), "--output", dir.file("m.h5")])
            #expect(exported.status == 1 && exported.stderr == "Error: \(config): \(message)\n", "\(exported.stderr)")
            #expect(!FileManager.default.fileExists(atPath: dir.file("m.h5")))
        }
        // The untouched description still exports.
        try original.write(to: URL(fileURLWithPath: config))
        let good = try runFlexctl(["export", dir.file("run"), "--output", dir.file("m.h5")])
        #expect(good.status == 0, "\(good.stderr)")
    }
}
