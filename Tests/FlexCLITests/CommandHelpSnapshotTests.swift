import ArgumentParser
@testable import FlexCLI
import Testing

/// Help texts of the commands, snapshot-tested (rerun with FLEXCTL_UPDATE_SNAPSHOTS=1
/// after an intended change and review the diff).
@Suite("help text: train, experiment, export, compress, decompress, inspect, bench, forecast")
struct CommandHelpSnapshotTests {
    static let commands: [(String, any ParsableCommand.Type)] = [
        ("train-cae-help.txt", TrainCAECommand.self),
        ("train-forecast-help.txt", TrainForecastCommand.self),
        ("experiment-cae-help.txt", ExperimentCAECommand.self),
        ("experiment-forecast-help.txt", ExperimentForecastCommand.self),
        ("experiment-merge-help.txt", ExperimentMergeCommand.self),
        ("export-help.txt", ExportCommand.self),
        ("compress-image-help.txt", CompressImageCommand.self),
        ("decompress-help.txt", DecompressCommand.self),
        ("compress-help.txt", CompressCommand.self),
        ("inspect-help.txt", InspectCommand.self),
        ("bench-help.txt", BenchCommand.self),
        ("forecast-help.txt", ForecastCommand.self),
    ]

    @Test(arguments: commands.map(\.0))
    func helpMatchesTheSnapshot(_ name: String) throws {
        let type = try #require(Self.commands.first { $0.0 == name }?.1)
        try Snapshot.check(Flexctl.helpMessage(for: type, columns: 100) + "\n", named: name)
    }

    @Test func rootHelpListsTheCommands() {
        let help = Flexctl.helpMessage(for: Flexctl.self, columns: 100)
        for c in ["train", "export", "compress", "decompress", "inspect", "bench", "activation"] {
            #expect(help.contains(c), "root help does not list \(c)")
        }
    }
}
