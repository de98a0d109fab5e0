/// An image file (PNG or JPEG) that could not be read: `FILE: reason`. One type for both readers, so that
/// callers map one error to their own (FlexCodec's `CodecError`, FlexData's loaders).
public struct ImageReadError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The file as given by the caller.
    public var file: String
    /// What was wrong: expected vs found, or the library's (libpng's, libjpeg-turbo's) message.
    public var reason: String

    public init(file: String, reason: String) {
        self.file = file
        self.reason = reason
    }

    public var description: String { "\(file): \(reason)" }
}
