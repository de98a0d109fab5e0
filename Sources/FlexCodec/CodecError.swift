/// A problem with an image, a `.flexz` file or a model: `FILE: message` (the message names the field or
/// byte offset and what was expected).
public struct CodecError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The file as given by the user (`<stdin>` for standard input).
    public var file: String
    public var message: String

    public init(file: String, _ message: String) {
        self.file = file
        self.message = message
    }

    public var description: String { "\(file): \(message)" }
}
