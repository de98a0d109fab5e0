import FlexIO

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Reading and writing the experiment's JSON files (experiment.json, result.json, summary.json): keys in
/// snake_case, sorted; files are read with a size bound and written atomically.
enum ExperimentJSON {
    /// Pretty text for files people read.
    static func text(_ value: some Encodable) -> String {
        encode(value, pretty: true) + "\n"
    }

    /// One line, sorted keys: the text the fingerprint hashes.
    static func canonical(_ value: some Encodable) -> String {
        encode(value, pretty: false)
    }

    private static func encode(_ value: some Encodable, pretty: Bool) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = pretty ? [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes] : [.sortedKeys, .withoutEscapingSlashes]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        do {
            return String(decoding: try encoder.encode(value), as: UTF8.self)
        } catch {
            // Every Double written is finite (the results are checked before they are recorded).
            preconditionFailure("JSON encoding failed: \(error)")
        }
    }

    static func write(_ value: some Encodable, to path: String, mode: WriteMode = .replace) throws(ExperimentError) {
        do { try writeFileAtomically(path: path, text: text(value), mode: mode) } catch {
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
            throw ExperimentError(file: path, "not \(what): \(describe(error))")
        }
    }

    /// The field path and what is wrong, from a decoding error.
    static func describe(_ error: any Error) -> String {
        guard let e = error as? DecodingError else { return "invalid JSON" }
        func path(_ c: DecodingError.Context) -> String {
            let p = c.codingPath.map { $0.intValue.map { "[\($0)]" } ?? snake($0.stringValue) }.joined(separator: ".")
            return p.isEmpty ? "" : "field '\(p)': "
        }
        switch e {
        case let .keyNotFound(k, c): return "\(path(c))missing field '\(snake(k.stringValue))'"
        case let .typeMismatch(_, c), let .valueNotFound(_, c), let .dataCorrupted(c): return "\(path(c))\(c.debugDescription)"
        @unknown default: return "invalid JSON"
        }
    }

    /// `regMean` → `reg_mean` (the decoder reports Swift's names).
    static func snake(_ s: String) -> String {
        var out = ""
        for c in s {
            if c.isUppercase { out += "_" + c.lowercased() } else { out.append(c) }
        }
        return out
    }
}
