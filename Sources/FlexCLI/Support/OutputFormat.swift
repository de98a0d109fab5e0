import ArgumentParser

/// How a command prints its result on standard output: `table` (aligned text for reading), `json` (one
/// document, docs/cli.md "JSON output") or `csv` (a header line, then one line per row).
public enum OutputFormat: String, ExpressibleByArgument, CaseIterable, Sendable {
    case table, json, csv
}

/// `--format table|json|csv` and its alias `--json`: the same two options in every command with output.
public struct OutputOptions: ParsableArguments {
    @Option(help: "Output format: table, json or csv (default: table).")
    public var format: OutputFormat?

    @Flag(help: "Same as --format json.")
    public var json = false

    public init() {}

    public func validate() throws {
        if json, let format, format != .json {
            throw ValidationError("--json and --format \(format.rawValue) ask for different formats; give one of them")
        }
    }

    /// The format asked for.
    public var resolved: OutputFormat { json ? .json : format ?? .table }
}
