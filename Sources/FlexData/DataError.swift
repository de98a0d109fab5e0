// Errors of the data loaders: one message naming the file, the position in it and what was expected.

/// A problem with an input data file: `FILE: POSITION: message` (position such as `line 12`, `byte 16`,
/// `record 3`; empty for the file as a whole).
public struct DataError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The file as given by the user.
    public var file: String
    /// Where in the file (`line 12`, `byte 16`, `record 3`, `column 'Price'`), or empty.
    public var position: String
    /// What was expected and what was found.
    public var message: String

    public init(file: String, position: String = "", message: String) {
        self.file = file
        self.position = position
        self.message = message
    }

    public var description: String {
        position.isEmpty ? "\(file): \(message)" : "\(file): \(position): \(message)"
    }
}
