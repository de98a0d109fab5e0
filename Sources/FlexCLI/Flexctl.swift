import ArgumentParser
import FlexIO
import FlexRuntime

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The `flexctl` root command. Each subcommand lives in its own file; to add one, append its type to
/// `subcommands` below (one line). Subcommands may be `ParsableCommand` or `AsyncParsableCommand`.
public struct Flexctl: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "flexctl",
        abstract: "Flexible activation functions (Jie, Gao, Vasnev, Tran 2020): inspect, train and evaluate models.",
        version: FlexctlVersion.description,
        subcommands: [
            ActivationCommand.self,
            BenchCommand.self,
            CompressCommand.self,
            DecompressCommand.self,
            ExperimentCommand.self,
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
        let args = arguments ?? Array(CommandLine.arguments.dropFirst())
        if let (message, command) = unknownSubcommand(args) { usageError(message, command: command) }
        var parsed: ParsableCommand = Flexctl()
        do {
            var command = try await asyncParseAsRoot(args)
            parsed = command
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch let error as CLIError where error.kind == .usage {
            usageError(error.message, command: type(of: parsed))
        } catch {
            // Runtime errors (exit 1) often quote a file's content: print them terminal-safe. Usage errors,
            // help and version go through ArgumentParser as they are.
            guard exitCode(for: error) == .failure else { exit(withError: error) }
            let message = terminalSafe(message(for: error), keepNewlines: true)
            writeStream(STDERR_FILENO, Array("Error: \(message)\n".utf8))
            exitProcess(1)
        }
    }

    /// Prints a command-line error found after parsing as ArgumentParser prints its own (message, the
    /// command's usage, where to find help) on standard error and exits with code 64.
    static func usageError(_ message: String, command: ParsableCommand.Type) -> Never {
        let path = commandPath(command)
        let usage = usageString(for: command)
        writeStream(STDERR_FILENO, Array(("Error: " + terminalSafe(message, keepNewlines: true) + "\n"
            + "Usage: \(usage)\n  See '\(path.joined(separator: " ")) --help' for more information.\n").utf8))
        exitProcess(ExitCode.validationFailure.rawValue)
    }

    /// `["flexctl", "train", "forecast"]` for `TrainForecastCommand`.
    static func commandPath(_ command: ParsableCommand.Type) -> [String] {
        func find(_ node: ParsableCommand.Type, _ path: [String]) -> [String]? {
            let here = path + [node._commandName]
            if ObjectIdentifier(node) == ObjectIdentifier(command) { return here }
            for sub in node.configuration.subcommands {
                if let p = find(sub, here) { return p }
            }
            return nil
        }
        return find(Flexctl.self, []) ?? ["flexctl"]
    }

    /// A word where a subcommand belongs that names none (`flexctl compres x.png`, `flexctl train forcast`):
    /// the message — with "did you mean" when a subcommand's name is close — and the command it was given to.
    /// Commands with a default subcommand (`compress`) take other words as their default's arguments, unless the
    /// word names no file and is close to a subcommand's name.
    static func unknownSubcommand(_ args: [String]) -> (String, ParsableCommand.Type)? {
        var command: ParsableCommand.Type = Flexctl.self
        for word in args {
            let subs = command.configuration.subcommands
            guard !word.hasPrefix("-"), !subs.isEmpty else { return nil }
            if let next = subs.first(where: { $0._commandName == word }) {
                command = next
                continue
            }
            if command.configuration.defaultSubcommand != nil {
                // Other words are the default subcommand's arguments (`compress photo.png`), unless the word is
                // no file and close to a subcommand's name: `compress imag photo.png` is a typo, not an input.
                let names = subs.map { $0._commandName }
                if !pathExists(word), let near = closestName(to: word, among: names) {
                    let path = commandPath(command).joined(separator: " ")
                    return ("'\(word)' is not a subcommand of '\(path)' nor an existing file; did you mean '\(near)'?", command)
                }
                return nil
            }
            if ObjectIdentifier(command) == ObjectIdentifier(Flexctl.self), word == "help" { return nil }
            let names = subs.map { $0._commandName }
            let path = commandPath(command).joined(separator: " ")
            if let near = closestName(to: word, among: names) {
                return ("'\(word)' is not a subcommand of '\(path)'; did you mean '\(near)'?", command)
            }
            return ("'\(word)' is not a subcommand of '\(path)'; valid: \(names.joined(separator: ", "))", command)
        }
        return nil
    }
}

/// The name in `names` closest to `word` (case-insensitive edit distance) if it is close enough to be a typo:
/// at most one edit for short names, a third of the name's length for longer ones; or the one name `word` is a
/// prefix of (`comp` → `compress`).
func closestName(to word: String, among names: [String]) -> String? {
    let w = word.lowercased()
    let prefixed = names.filter { $0.hasPrefix(w) }
    if prefixed.count == 1, w.count >= 2 { return prefixed[0] }
    var best: (name: String, distance: Int)?
    for n in names {
        let d = editDistance(w, n.lowercased())
        if d < (best?.distance ?? .max) { best = (n, d) }
    }
    guard let best, best.distance <= max(1, best.name.count / 3) else { return nil }
    return best.name
}

/// Levenshtein distance (insertions, deletions, substitutions; a swap of neighbours counts as one edit too).
func editDistance(_ a: String, _ b: String) -> Int {
    let a = Array(a), b = Array(b)
    if a.isEmpty { return b.count }
    if b.isEmpty { return a.count }
    var d = [[Int]](repeating: [Int](repeating: 0, count: b.count + 1), count: a.count + 1)
    for i in 0...a.count { d[i][0] = i }
    for j in 0...b.count { d[0][j] = j }
    for i in 1...a.count {
        for j in 1...b.count {
            d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] { d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1) }
        }
    }
    return d[a.count][b.count]
}
