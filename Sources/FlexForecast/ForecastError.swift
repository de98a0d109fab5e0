/// Why the forecasting engine refused a request. Readers' own errors (`DataError` for series files,
/// `CheckpointError` for checkpoints) pass through unchanged; this type covers what the engine itself checks.
/// `description` is the full message (names the file or series, and what was expected and found).
public struct ForecastError: Error, CustomStringConvertible, Equatable, Sendable {
    /// What kind of problem it is, for callers that react differently (the CLI, the C API's status codes).
    public enum Kind: Sendable, Equatable {
        /// The checkpoint is not a forecaster, or its model and input specification do not agree.
        case unsuitableModel
        /// A series mapping names no feature of the model, or maps one twice, or its file lacks the series.
        case mapping
        /// The model's series are not all provided, or one is provided twice.
        case series
        /// The request does not fit the model or the data (k > 1 steps without feedback, too few rows or
        /// backtest days, inputs that are not finite after the transform, a bad argument).
        case request
    }

    public var kind: Kind
    public var message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }
}
