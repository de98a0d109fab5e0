/// Every failure of FlexStats: what was wrong, and a message that says what was expected and what was found.
public struct StatisticsError: Error, Equatable, Sendable, CustomStringConvertible {
    public enum Kind: Equatable, Sendable {
        /// An argument outside the function's domain (a shape parameter ≤ 0, x outside [0, 1], a NaN, a
        /// p-value outside [0, 1], samples of different lengths for a paired test, ...).
        case invalidArgument
        /// Fewer observations than the statistic needs (a variance needs 2).
        case tooFewSamples
        /// The t statistic's standard error is 0 (constant samples or constant paired differences), so the
        /// statistic is 0/0 or ±∞ and no p-value exists.
        case zeroVariance
        /// The continued fraction did not reach full precision within its iteration cap. Reported instead of
        /// returning a value that may be wrong.
        case noConvergence
    }

    public var kind: Kind
    public var message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }
}
