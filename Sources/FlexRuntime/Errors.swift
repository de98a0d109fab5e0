/// A tensor whose shape does not fit the layer it is given to.
public struct ShapeMismatch: Error, CustomStringConvertible, Equatable, Sendable {
    /// The layer's name in the model, e.g. `encoder.2 (Conv2d)`.
    public var layer: String
    /// What the layer expects, e.g. `[N, 16, H, W]`.
    public var expected: String
    /// The shape found.
    public var found: [Int]
    /// Extra explanation, e.g. "output would be empty".
    public var detail: String?

    public init(layer: String, expected: String, found: [Int], detail: String? = nil) {
        self.layer = layer
        self.expected = expected
        self.found = found
        self.detail = detail
    }

    public var description: String {
        var s = "\(layer): expected input of shape \(expected), found \(formatShape(found))"
        if let detail { s += " (\(detail))" }
        return s
    }
}

/// An invalid configuration value (a layer spec, an activation parameter, ...).
public struct ConfigurationError: Error, CustomStringConvertible, Equatable, Sendable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
