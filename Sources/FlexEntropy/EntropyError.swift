/// Every way building a table, validating a stored table, encoding or decoding can fail. Messages say what was
/// expected and what was found; decoding errors name the byte position in the stream.
public enum EntropyError: Error, Equatable, Sendable, CustomStringConvertible {
    // Building a table from a probability mass function.
    /// A probability that is NaN, infinite or negative (`index` is the position in the PMF; -1 is the tail mass).
    case invalidProbability(index: Int, value: Double)
    /// Every probability (and the tail mass) is zero: there is no distribution to quantise.
    case zeroMass
    /// The PMF has no symbols.
    case emptyRange
    /// More symbols (the escape included) than the 16-bit precision can give frequency ≥ 1 each.
    case tooManySymbols(found: Int, limit: Int)
    /// `minSymbol + count - 1` does not fit in Int32.
    case rangeOverflow(minSymbol: Int32, count: Int)

    // Validating a table (e.g. read from an untrusted file).
    /// The CDF has fewer than 3 entries (one in-range symbol and the escape) or more than the limit.
    case invalidTableLength(found: Int, minimum: Int, maximum: Int)
    /// The CDF does not start at 0.
    case cdfDoesNotStartAtZero(found: UInt32)
    /// The CDF does not end at 1 << 16.
    case cdfDoesNotEndAtTotal(expected: UInt32, found: UInt32)
    /// cdf[index + 1] <= cdf[index]: symbol `index` would have frequency 0 (or the CDF decreases).
    case nonPositiveFrequency(symbolIndex: Int, cdfLow: UInt32, cdfHigh: UInt32)

    // Encoding and decoding.
    /// The symbol and table-index arrays differ in length.
    case countMismatch(symbols: Int, tableIndices: Int)
    /// A table index outside 0..<tableCount.
    case tableIndexOutOfRange(symbolIndex: Int, tableIndex: Int32, tableCount: Int)
    /// The stream is shorter than the 4-byte initial state.
    case streamTooShort(found: Int, minimum: Int)
    /// The initial state (the first 4 bytes) is outside the coder's range [2^23, 2^31).
    case invalidInitialState(found: UInt32)
    /// The stream ended while decoding symbol `symbolIndex`: byte `bytePosition` was needed.
    case streamTruncated(symbolIndex: Int, bytePosition: Int)
    /// An escaped value that does not fit in Int32 (or lies on the wrong side of the table's range).
    case escapeOutOfRange(symbolIndex: Int, bytePosition: Int)
    /// After the last symbol the state is not the encoder's initial state: the stream is corrupt.
    case corruptFinalState(expected: UInt32, found: UInt32, bytePosition: Int)
    /// Bytes are left after the last symbol.
    case trailingBytes(bytePosition: Int, count: Int)

    public var description: String {
        switch self {
        case .invalidProbability(let index, let value):
            let what = index < 0 ? "the tail mass" : "probability \(index)"
            return "\(what) is \(value); expected a finite number ≥ 0"
        case .zeroMass: return "every probability is 0; expected a positive total mass"
        case .emptyRange: return "the probability mass function is empty; expected at least one symbol"
        case .tooManySymbols(let found, let limit):
            return "\(found) symbols (escape included); expected at most \(limit) at 16-bit precision"
        case .rangeOverflow(let minSymbol, let count):
            return "symbols \(minSymbol) + \(count) - 1 overflow Int32; expected the range to end at most at \(Int32.max)"
        case .invalidTableLength(let found, let minimum, let maximum):
            return "CDF table with \(found) entries; expected \(minimum)...\(maximum)"
        case .cdfDoesNotStartAtZero(let found): return "CDF starts at \(found); expected 0"
        case .cdfDoesNotEndAtTotal(let expected, let found): return "CDF ends at \(found); expected \(expected)"
        case .nonPositiveFrequency(let symbolIndex, let lo, let hi):
            return "CDF entries \(symbolIndex) and \(symbolIndex + 1) are \(lo) and \(hi); expected strictly increasing (every frequency ≥ 1)"
        case .countMismatch(let symbols, let tableIndices):
            return "\(symbols) symbols but \(tableIndices) table indices; expected one table index per symbol"
        case .tableIndexOutOfRange(let symbolIndex, let tableIndex, let tableCount):
            return "symbol \(symbolIndex) uses table \(tableIndex); expected 0..<\(tableCount)"
        case .streamTooShort(let found, let minimum):
            return "entropy-coded stream of \(found) bytes; expected at least \(minimum)"
        case .invalidInitialState(let found):
            return "entropy-coded stream starts with state \(found); expected 2^23...2^31 - 1"
        case .streamTruncated(let symbolIndex, let bytePosition):
            return "entropy-coded stream ends at byte \(bytePosition) while decoding symbol \(symbolIndex); expected more bytes"
        case .escapeOutOfRange(let symbolIndex, let bytePosition):
            return "symbol \(symbolIndex) (near byte \(bytePosition)) escapes to a value outside Int32 or inside the table's range; expected a value outside the table's range"
        case .corruptFinalState(let expected, let found, let bytePosition):
            return "entropy-coded stream ends (byte \(bytePosition)) in state \(found); expected \(expected): the stream is corrupt"
        case .trailingBytes(let bytePosition, let count):
            return "\(count) bytes left after the last symbol at byte \(bytePosition); expected none"
        }
    }
}
