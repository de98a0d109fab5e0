import ArgumentParser
import FlexIO
import FlexRuntime
import Foundation

/// The `flexctl` root command. Each subcommand lives in its own file; to add one, append its type to
/// `subcommands` below (one line). Subcommands may be `ParsableCommand` or `AsyncParsableCommand`.
public struct Flexctl: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "flexctl",
        abstract: "Flexible activation functions (Jie, Gao, Vasnev, Tran 2020): inspect, train and evaluate models.",
        version: "0.1.0",
        subcommands: [
            ActivationCommand.self,
            BenchCommand.self,
            CompressCommand.self,
            DecompressCommand.self,
            ExportCommand.self,
            ForecastCommand.self,
            InspectCommand.self,
            TrainCommand.self,
        ]
    )

    public init() {}

    /// Runs the command line: parses it, runs the chosen subcommand (awaiting it if it is async) and exits
    /// with ArgumentParser's messages and exit codes on errors. `arguments` excludes the program name;
    /// `nil` reads the process's arguments.
    ///
    /// `main.swift` calls this rather than `await Flexctl.main()`: in top-level code Swift resolves that
    /// call to `ParsableCommand`'s synchronous `main()`, which refuses an async root command at run time.
    public static func main(arguments: [String]?) async {
        Allocator.keepFreedMemoryForReuse()
        // SIGINT, SIGTERM, SIGHUP: remove the temporary files being written, then die of the signal.
        installTempFileCleanupOnSignals()
        // A reader that goes away (`flexctl decompress x.flexz -o - | head -c 10`) must not kill the process
        // silently with SIGPIPE: with the signal ignored the write fails with EPIPE, and `writeStream` turns
        // that into one message and exit code 1.
        signal(SIGPIPE, SIG_IGN)
        // ArgumentParser prints help and version text with `print`, through C stdio, which flushes at exit and
        // drops a failure there silently: flush first and report it. (`fflush(nil)` flushes every stream; it
        // also avoids naming the global `stdout`, which Swift 6 refuses as shared mutable state.)
        atexit {
            if fflush(nil) != 0 { standardOutputFailed(errno == 0 ? EIO : errno, exitNow: true) }
        }
        do {
            var command = try await asyncParseAsRoot(arguments)
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            // Runtime errors (exit 1) often quote a file's content: print them terminal-safe. Usage errors,
            // help and version go through ArgumentParser as they are.
            guard exitCode(for: error) == .failure else { exit(withError: error) }
            let message = terminalSafe(message(for: error), keepNewlines: true)
            writeStream(STDERR_FILENO, Array("Error: \(message)\n".utf8))
            Foundation.exit(1)
        }
    }
}
