import ArgumentParser

/// flexctl's one error type for problems a command finds itself (ArgumentParser's own parse errors aside).
///
/// - `usage`: the command line asks for something impossible (a missing `--target` with several series, a
///   folder input with a file name as its output); printed as `Error: message` with the command's usage line,
///   exit code 64, like ArgumentParser's `ValidationError`.
/// - `failure`: the command ran into a problem with its inputs or outputs (a file that is not a checkpoint, a
///   full disk); printed as `Error: message`, exit code 1.
///
/// Nothing is printed on standard output in either case (docs/cli.md, "Exit codes").
public struct CLIError: Error, CustomStringConvertible, Sendable {
    public enum Kind: Sendable { case usage, failure }

    public var kind: Kind
    public var message: String

    /// A failure (exit 1).
    public init(_ message: String) {
        kind = .failure
        self.message = message
    }

    /// A command-line error found after parsing (exit 64).
    public static func usage(_ message: String) -> CLIError {
        var e = CLIError(message)
        e.kind = .usage
        return e
    }

    public var description: String { message }
}

/// The name the forecasting engine (Sources/FlexCLI/Forecast, about to move into its own library with its own
/// errors) throws under; it is `CLIError`, a failure.
public typealias CommandFailure = CLIError
