// FoundationEssentials only for JSONEncoder (as in the checkpoint reader).
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// flexctl's one writer of JSON output documents, shared by the CLI (`--format json`) and the C API
/// (`flexctl_model_describe`). Every document is an `Encodable` value rendered here: keys in snake_case (Swift's
/// camelCase property names converted; types of the runtime that spell their keys out already use snake_case),
/// sorted, two-space indentation; non-finite numbers as `null` (use `JSONNumber`). Documents carry `kind` and
/// `schema_version` (`JSONDocument`); the schemas are in docs/cli.md, "JSON output".
///
/// Not to be confused with `JSONText`, the canonical serializer of the checkpoint's stored attributes: that text
/// is part of the file format (the fingerprint covers it), while these documents are output for people and
/// programs.
public enum JSONOutput {
    /// The version of every document's schema: raised when a key is renamed or removed or its meaning
    /// changes (new keys do not raise it).
    public static let schemaVersion = 1

    /// `value` as JSON text ending with a line break.
    public static func render(_ value: some Encodable) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        do {
            return String(decoding: try encoder.encode(value), as: UTF8.self) + "\n"
        } catch {
            // Only a non-finite Double can fail, and every Double goes through JSONNumber.
            preconditionFailure("JSON encoding failed: \(error)")
        }
    }

    /// `value` as JSON text ending with a line break, or nil when it holds a non-finite number (for files written
    /// from values that came from other files, which must not crash the writer).
    public static func renderIfFinite(_ value: some Encodable, pretty: Bool = true) -> String? {
        let encoder = JSONEncoder()
        encoder.outputFormatting = pretty ? [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes] : [.sortedKeys, .withoutEscapingSlashes]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        guard let data = try? encoder.encode(value) else { return nil }
        return String(decoding: data, as: UTF8.self) + (pretty ? "\n" : "")
    }

    /// A top-level document: `schema_version` and `kind` next to the fields of `body`.
    public static func document(kind: String, _ body: some Encodable) -> String {
        render(JSONDocument(kind: kind, body: body))
    }
}

/// A top-level JSON document: `{"kind": ..., "schema_version": 1, <the body's fields>}`.
public struct JSONDocument<Body: Encodable>: Encodable {
    public var kind: String
    public var body: Body

    public init(kind: String, body: Body) {
        self.kind = kind
        self.body = body
    }

    private enum Keys: String, CodingKey { case kind, schemaVersion }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: Keys.self)
        try c.encode(kind, forKey: .kind)
        try c.encode(JSONOutput.schemaVersion, forKey: .schemaVersion)
        try body.encode(to: encoder)
    }
}

/// A number in a JSON document: NaN and infinities (which JSON cannot write) as `null`.
public struct JSONNumber: Encodable, Equatable, Sendable {
    public var value: Double
    public init(_ value: Double) { self.value = value }

    /// The values as JSON numbers (non-finite ones become `null`).
    public static func list(_ values: [Double]) -> [JSONNumber] { values.map(JSONNumber.init) }

    /// The value as a JSON number, or nil (written as `null` by `encode`, or left out by `encodeIfPresent`).
    public static func optional(_ value: Double?) -> JSONNumber? { value.map(JSONNumber.init) }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        if value.isFinite { try c.encode(value) } else { try c.encodeNil() }
    }
}

/// A value that is written as `null` when absent (a plain optional property would be left out of its object).
public struct Nullable<Wrapped: Encodable>: Encodable {
    public var value: Wrapped?
    public init(_ value: Wrapped?) { self.value = value }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        if let value { try c.encode(value) } else { try c.encodeNil() }
    }
}

extension Nullable: Sendable where Wrapped: Sendable {}
extension Nullable: Equatable where Wrapped: Equatable {}

/// An object key chosen at run time (column names).
public struct NameKey: CodingKey, Sendable {
    public var stringValue: String
    public var intValue: Int? { nil }
    public init(_ name: String) { stringValue = name }
    public init?(stringValue: String) { self.stringValue = stringValue }
    public init?(intValue: Int) { nil }
}

/// A short description of a JSON decoding error: the field's path in snake_case and what is wrong
/// (`field 'training.batch_size': expected Int`), for messages that name the file and the field.
public func decodingMessage(_ error: any Error) -> String {
    guard let e = error as? DecodingError else { return "invalid JSON" }
    func snake(_ s: String) -> String {
        var out = ""
        for c in s { if c.isUppercase { out += "_" + c.lowercased() } else { out.append(c) } }
        return out
    }
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
