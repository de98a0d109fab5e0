#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// flexctl's one JSON writer. Every JSON document a command prints is an `Encodable` value rendered here:
/// keys in snake_case (Swift's camelCase property names converted; types of the runtime that spell their keys
/// out already use snake_case), sorted, two-space indentation; non-finite numbers as `null` (use `JSONNumber`).
/// Documents carry `schema_version` (`JSONDocument`); the schemas are in docs/cli.md, "JSON output".
enum JSONOutput {
    /// The version of every document's schema: raised when a key is renamed or removed or its meaning
    /// changes (new keys do not raise it).
    static let schemaVersion = 1

    /// `value` as JSON text ending with a line break.
    static func render(_ value: some Encodable) -> String {
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

    /// A top-level document: `schema_version` and `kind` next to the fields of `body`.
    static func document(kind: String, _ body: some Encodable) -> String {
        render(JSONDocument(kind: kind, body: body))
    }
}

/// A top-level JSON document: `{"kind": ..., "schema_version": 1, <the body's fields>}`.
struct JSONDocument<Body: Encodable>: Encodable {
    var kind: String
    var body: Body

    private enum Keys: String, CodingKey { case kind, schemaVersion }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: Keys.self)
        try c.encode(kind, forKey: .kind)
        try c.encode(JSONOutput.schemaVersion, forKey: .schemaVersion)
        try body.encode(to: encoder)
    }
}

/// A number in a JSON document: NaN and infinities (which JSON cannot write) as `null`.
struct JSONNumber: Encodable, Equatable, Sendable {
    var value: Double
    init(_ value: Double) { self.value = value }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        if value.isFinite { try c.encode(value) } else { try c.encodeNil() }
    }
}

extension Array where Element == Double {
    /// The values as JSON numbers (non-finite ones become `null`).
    var json: [JSONNumber] { map(JSONNumber.init) }
}

extension Optional where Wrapped == Double {
    /// The value as a JSON number, or nil (written as `null` by `encode`, or left out by `encodeIfPresent`).
    var json: JSONNumber? { map(JSONNumber.init) }
}

/// A value that is written as `null` when absent (a plain optional property would be left out of its object).
struct Nullable<Wrapped: Encodable>: Encodable {
    var value: Wrapped?
    init(_ value: Wrapped?) { self.value = value }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        if let value { try c.encode(value) } else { try c.encodeNil() }
    }
}

/// An object key chosen at run time (column names).
struct NameKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(_ name: String) { stringValue = name }
    init?(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}
