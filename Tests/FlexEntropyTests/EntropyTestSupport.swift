@testable import FlexEntropy

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Seeded, deterministic random numbers (SplitMix64).
struct Rng {
    var state: UInt64
    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func below(_ n: Int) -> Int { n <= 1 ? 0 : Int(next() % UInt64(n)) }
    mutating func unit() -> Double { Double(next() >> 11) / Double(1 << 53) }
    mutating func int32() -> Int32 { Int32(truncatingIfNeeded: next()) }
}

/// A random table: a random range (size 1–300, anywhere in Int32 but often near 0) and a random PMF that mixes
/// a peaked shape, noise and exact zeros, with a random tail mass (sometimes 0).
func randomTable(_ rng: inout Rng) -> CDFTable {
    let n = 1 + rng.below(300)
    let minSymbol: Int32
    switch rng.below(4) {
    case 0: minSymbol = Int32.min
    case 1: minSymbol = Int32.max - Int32(n - 1)
    default: minSymbol = Int32(rng.below(200)) - 150
    }
    let centre = Double(rng.below(n))
    let width = 0.5 + rng.unit() * Double(n) / 3
    var pmf = (0..<n).map { i -> Double in
        let z = (Double(i) - centre) / width
        return exp(-0.5 * z * z) + (rng.below(4) == 0 ? 0 : rng.unit() * 0.01)
    }
    if n > 2 { pmf[rng.below(n)] = 0 }
    let tail = rng.below(3) == 0 ? 0 : rng.unit() * 0.05
    return try! CDFTable(quantizing: pmf, minSymbol: minSymbol, tailMass: tail)
}

/// A value drawn from a table's quantised distribution; an escape draw becomes a random out-of-range value
/// (near the range or anywhere in Int32).
func sample(_ table: CDFTable, _ rng: inout Rng) -> Int32 {
    let slot = UInt32(rng.below(Int(CDFTable.total)))
    var i = 0
    while table.cdf[i + 1] <= slot { i += 1 }
    if i < table.escapeIndex { return table.minSymbol + Int32(i) }
    return outOfRange(table, &rng) ?? table.minSymbol
}

/// A random value outside the table's range, or nil if the table covers all of Int32 (impossible: ≤ 65535 values).
func outOfRange(_ table: CDFTable, _ rng: inout Rng) -> Int32? {
    for _ in 0..<100 {
        let v: Int
        switch rng.below(4) {
        case 0: v = Int(table.maxSymbol) + 1 + rng.below(40)
        case 1: v = Int(table.minSymbol) - 1 - rng.below(40)
        case 2: v = rng.below(2) == 0 ? Int(Int32.min) : Int(Int32.max)
        default: v = Int(rng.int32())
        }
        if v >= Int(Int32.min), v <= Int(Int32.max), v < Int(table.minSymbol) || v > Int(table.maxSymbol) {
            return Int32(v)
        }
    }
    return nil
}

/// Encodes, decodes and returns (bytes, decoded).
func roundTrip(_ symbols: [Int32], _ indices: [Int32], _ tables: [CDFTable]) throws -> ([UInt8], [Int32]) {
    let bytes = try RANS.encode(symbols, tableIndices: indices, tables: tables)
    return (bytes, try RANS.decode(bytes, tableIndices: indices, tables: tables))
}

/// −Σ log2 p(symbol) under the quantised tables, escape bits included.
func idealBits(_ symbols: [Int32], _ indices: [Int32], _ tables: [CDFTable]) -> Double {
    var bits = 0.0
    for j in symbols.indices { bits += tables[Int(indices[j])].idealBits(of: symbols[j]) }
    return bits
}
