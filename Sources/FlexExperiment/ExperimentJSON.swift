import FlexIO
import FlexRuntime

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Reading and writing the experiment's JSON files (experiment.json, result.json, summary.json) with FlexRuntime's
/// JSON conventions (`JSONOutput`: snake_case keys, sorted): files are read with a size bound and written
/// atomically; a value that cannot be written (a non-finite number) is an error, never a crash.
enum ExperimentJSON {
    static func write(_ value: some Encodable, to path: String, mode: WriteMode = .replace) throws(ExperimentError) {
        guard let text = JSONOutput.renderIfFinite(value) else {
            throw ExperimentError(file: path, "not written: a value is not a finite number")
        }
        do { try writeFileAtomically(path: path, text: text, mode: mode) } catch {
            throw ExperimentError(file: path, error.isAlreadyExists ? "already exists" : "cannot write: \(error.reason)")
        }
    }

    /// Decodes `path` (a regular file of at most `maximumBytes`), naming the file and the field on errors.
    static func read<T: Decodable>(_ path: String, maximumBytes: Int, what: String) throws(ExperimentError) -> T {
        let bytes: [UInt8]
        do { bytes = try readRegularFile(path, maxBytes: maximumBytes) } catch {
            throw ExperimentError(file: path, error.reason)
        }
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        do { return try decoder.decode(T.self, from: Data(bytes)) } catch {
            throw ExperimentError(file: path, "not \(what): \(decodingMessage(error))")
        }
    }
}
