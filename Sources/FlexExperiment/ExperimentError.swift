/// What went wrong in an experiment: a bad arm or shard, a results file that is not what the format allows, shards
/// of different experiments. `description` is the message users see: it names the file (when there is one), the
/// field and what was expected.
public struct ExperimentError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The file the problem is in, nil for a problem with the options.
    public var file: String?
    public var message: String

    public init(file: String? = nil, _ message: String) {
        self.file = file
        self.message = message
    }

    public var description: String { file.map { "\($0): \(message)" } ?? message }
}
