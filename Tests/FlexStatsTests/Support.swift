@testable import FlexStats

/// The comparison rule of every FlexStats test: relative error ≤ tolerance where the expected value exceeds
/// or equals 1e-300; below that (deep underflow, where doubles keep few digits) both values must be ≤ 1e-300.
/// Returns a message on a mismatch, nil when close.
func mismatch(_ found: Double, _ expected: Double, _ tolerance: Double, _ what: @autoclosure () -> String) -> String? {
    if abs(expected) >= 1e-300 {
        let error = abs(found - expected) / abs(expected)
        return error <= tolerance ? nil : "\(what()): found \(found), expected \(expected) (relative error \(error), tolerance \(tolerance))"
    }
    return abs(found) <= 1e-300 ? nil : "\(what()): found \(found), expected \(expected) (≤ 1e-300)"
}

/// `mismatch` at the default tolerance, 1e-10 relative.
func mismatch(_ found: Double, _ expected: Double, _ what: @autoclosure () -> String) -> String? {
    mismatch(found, expected, 1e-10, what())
}

func alternative(_ name: String) -> Alternative {
    switch name {
    case "less": return .less
    case "greater": return .greater
    default: return .twoSided
    }
}

/// The error kind a throwing call produced, nil if it returned.
func errorKind<T>(_ body: () throws(StatisticsError) -> T) -> StatisticsError.Kind? {
    do {
        _ = try body()
        return nil
    } catch {
        return error.kind
    }
}
