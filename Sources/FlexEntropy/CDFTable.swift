#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// A quantised cumulative distribution over the integers `minSymbol ... maxSymbol` plus one escape symbol, at
/// 16-bit precision: what the rANS coder (``RANS``) codes with, and what a checkpoint stores per latent channel
/// (its `minSymbol` as the offset, `cdf.count` as the length, and the `cdf` integers; docs/entropy-coding.md).
///
/// Symbol index `i` (0-based) stands for the value `minSymbol + i` for `i < symbolCount - 1`; the last index is
/// the escape, which announces a value outside the range coded after it with a bypass code. Symbol `i` has
/// frequency `cdf[i + 1] - cdf[i]` out of `total` = 2^16. Invariants (checked by `init(minSymbol:cdf:)`, so a
/// table read from an untrusted file is safe to code with): `cdf[0] == 0`, `cdf.last == total`, strictly
/// increasing (every frequency ≥ 1, so every value, in range or escaped, stays codable), at least one in-range
/// symbol, at most 2^16 symbols with the escape, and the range fits in Int32.
public struct CDFTable: Equatable, Sendable {
    /// Bits of precision: frequencies sum to 1 << 16. 16 bits with a 32-bit state and byte-wise renormalisation
    /// is Giesen's rans_byte configuration (state in [2^23, 2^31), so 2^31 / 2^16 leaves 15 bits for the
    /// division, no overflow) and CompressAI's; the rounding loss at this precision is well under 1%.
    public static let precisionBits: UInt32 = 16
    /// The sum of the frequencies, 1 << 16.
    public static let total: UInt32 = 1 << precisionBits
    /// The most symbols a table may have, escape included: each needs frequency ≥ 1.
    public static let maxSymbolCount = Int(total)

    /// The smallest value in range (the table's offset).
    public let minSymbol: Int32
    /// `symbolCount + 1` cumulative frequencies, from 0 to `total`.
    public let cdf: [UInt32]

    /// Symbols including the escape.
    public var symbolCount: Int { cdf.count - 1 }
    /// The index of the escape symbol (the last one).
    public var escapeIndex: Int { cdf.count - 2 }
    /// The largest value in range.
    public var maxSymbol: Int32 { Int32(Int(minSymbol) + cdf.count - 3) }

    /// The frequency of symbol index `i` (the escape is `escapeIndex`).
    public func frequency(ofIndex i: Int) -> UInt32 { cdf[i + 1] - cdf[i] }

    /// A table from stored integers, validated: use this for tables read from files.
    public init(minSymbol: Int32, cdf: [UInt32]) throws(EntropyError) {
        guard cdf.count >= 3, cdf.count <= Self.maxSymbolCount + 1 else {
            throw .invalidTableLength(found: cdf.count, minimum: 3, maximum: Self.maxSymbolCount + 1)
        }
        // In-range symbols are cdf.count - 2; the largest value must fit in Int32.
        guard Int(minSymbol) + (cdf.count - 2) - 1 <= Int(Int32.max) else {
            throw .rangeOverflow(minSymbol: minSymbol, count: cdf.count - 2)
        }
        guard cdf[0] == 0 else { throw .cdfDoesNotStartAtZero(found: cdf[0]) }
        guard cdf[cdf.count - 1] == Self.total else {
            throw .cdfDoesNotEndAtTotal(expected: Self.total, found: cdf[cdf.count - 1])
        }
        for i in 0..<(cdf.count - 1) where cdf[i + 1] <= cdf[i] {
            throw .nonPositiveFrequency(symbolIndex: i, cdfLow: cdf[i], cdfHigh: cdf[i + 1])
        }
        self.minSymbol = minSymbol
        self.cdf = cdf
    }

    /// Quantises a probability mass function over `minSymbol ..< minSymbol + pmf.count` (e.g. a learned
    /// density's mass per integer bin), with `tailMass` the probability of values outside that range (it becomes
    /// the escape's frequency), to integer frequencies summing to 2^16 with every symbol and the escape ≥ 1.
    ///
    /// The inputs need not be normalised (only ratios matter). NaN, infinities and negative values are refused
    /// (a density model that produces them is broken, and guessing would hide it); zeros and denormals are fine
    /// (such symbols get the minimum frequency 1, so they stay codable at ≤ 16 bits).
    ///
    /// Rounding: the frequencies minimise the cross-entropy −Σ p_i log2(f_i / 2^16) — i.e. the expected code
    /// length, equivalently KL(p ‖ f / 2^16) — exactly, among all integer f with f_i ≥ 1 and Σ f_i = 2^16.
    /// Every f_i starts at 1 and the remaining 2^16 − K units go one at a time to the symbol whose next unit
    /// saves most bits, p_i · log(1 + 1/f_i). The saving is decreasing in f_i (the objective is separable and
    /// concave in each f_i), so this greedy allocation is optimal (Gross 1956; Fox 1966, "discrete optimisation
    /// via marginal analysis"). That beats the common alternatives: largest-remainder rounding of 2^16 · p
    /// minimises the absolute rounding error, not the bits, and the lifts to 1 it needs must be paid for by some
    /// symbol, which it picks without looking at the cost; CompressAI's pmf_to_quantized_cdf takes those units
    /// from the largest frequency, also a heuristic. Cost: O(K log K) with the warm start below, once per table
    /// at export. Ties go to the lower index, so the result is deterministic; tables are built once and
    /// stored as integers, so decoding never depends on this floating-point code.
    public init(quantizing pmf: [Double], minSymbol: Int32, tailMass: Double = 0) throws(EntropyError) {
        guard !pmf.isEmpty else { throw .emptyRange }
        let k = pmf.count + 1
        guard k <= Self.maxSymbolCount else { throw .tooManySymbols(found: k, limit: Self.maxSymbolCount) }
        guard Int(minSymbol) + pmf.count - 1 <= Int(Int32.max) else {
            throw .rangeOverflow(minSymbol: minSymbol, count: pmf.count)
        }
        var weights = pmf
        weights.append(tailMass)
        var anyPositive = false
        for (i, w) in weights.enumerated() {
            guard w.isFinite, w >= 0 else { throw .invalidProbability(index: i == pmf.count ? -1 : i, value: w) }
            if w > 0 { anyPositive = true }
        }
        guard anyPositive else { throw .zeroMass }

        // Warm start, so that the heap does O(K) steps rather than 2^16: with p normalised and λ the smallest
        // saving the optimum takes, every unit f → f + 1 with saving > λ is taken, p·ln(1 + 1/f) ≥ p / (f + 1),
        // and λ ≤ 1 / (2^16 − K) (each f_i ≤ 1 + p_i / λ, summed). So every unit with f + 1 < p_i (2^16 − K) is
        // in the optimum: f_i ≥ ⌈p_i (2^16 − K)⌉ − 1. Starting two below that (a margin for rounding) gives the
        // same result as the greedy from all ones — the units skipped are strictly above the threshold, so no
        // tie-break differs. Weights are scaled by their maximum first so the sum cannot overflow.
        let free = Int(Self.total) - k
        let largest = weights.max()!
        let scaledSum = weights.reduce(0) { $0 + $1 / largest }
        var freq = [UInt32](repeating: 1, count: k)
        var assigned = k
        for i in 0..<k {
            let share = Double(free) * (weights[i] / largest) / scaledSum
            let start = Int(share.rounded(.down)) - 2
            if start > 1 {
                freq[i] = UInt32(start)
                assigned += start - 1
            }
        }
        // Max-heap of (saving of the next unit, index); symbols of zero mass never gain and stay out.
        var heap = MarginalHeap()
        heap.reserve(k)
        for i in 0..<k where weights[i] > 0 { heap.push(gain: weights[i] * log1p(1.0 / Double(freq[i])), index: i) }
        var remaining = Int(Self.total) - assigned
        // The warm start is below the optimum, whose sum is 2^16 (a failure here is a bug, not bad input).
        precondition(remaining >= 0, "CDF warm start over-assigned \(-remaining) units")
        while remaining > 0 {
            let i = heap.popMax()
            freq[i] += 1
            remaining -= 1
            heap.push(gain: weights[i] * log1p(1.0 / Double(freq[i])), index: i)
        }
        var cdf = [UInt32](repeating: 0, count: k + 1)
        for i in 0..<k { cdf[i + 1] = cdf[i] + freq[i] }
        self.minSymbol = minSymbol
        self.cdf = cdf
    }

    /// The ideal code length in bits of `value` under this table: −log2(f / 2^16) for a value in range; for an
    /// escaped value, the escape's cost plus the bypass bits (``RANS/escapeBypassBits(distance:)``).
    public func idealBits(of value: Int32) -> Double {
        let v = Int(value)
        if v >= Int(minSymbol), v <= Int(maxSymbol) {
            return -log2(Double(frequency(ofIndex: v - Int(minSymbol))) / Double(Self.total))
        }
        let distance = v > Int(maxSymbol) ? UInt32(v - Int(maxSymbol)) : UInt32(Int(minSymbol) - v)
        return -log2(Double(frequency(ofIndex: escapeIndex)) / Double(Self.total))
            + Double(RANS.escapeBypassBits(distance: distance))
    }
}

/// A binary max-heap of (gain, index) with ties broken towards the lower index, for the greedy quantiser.
struct MarginalHeap {
    private var gains: [Double] = []
    private var indices: [Int] = []

    mutating func reserve(_ n: Int) {
        gains.reserveCapacity(n)
        indices.reserveCapacity(n)
    }

    /// Whether entry a ranks above entry b.
    private func above(_ a: Int, _ b: Int) -> Bool {
        gains[a] > gains[b] || (gains[a] == gains[b] && indices[a] < indices[b])
    }

    private mutating func swapAt(_ a: Int, _ b: Int) {
        gains.swapAt(a, b)
        indices.swapAt(a, b)
    }

    mutating func push(gain: Double, index: Int) {
        gains.append(gain)
        indices.append(index)
        var c = gains.count - 1
        while c > 0 {
            let p = (c - 1) / 2
            guard above(c, p) else { break }
            swapAt(c, p)
            c = p
        }
    }

    /// Removes and returns the top index. The caller guarantees the heap is not empty (a positive weight exists,
    /// and a popped entry is always pushed back).
    mutating func popMax() -> Int {
        let top = indices[0]
        let last = gains.count - 1
        swapAt(0, last)
        gains.removeLast()
        indices.removeLast()
        var p = 0
        let n = gains.count
        while true {
            let l = 2 * p + 1
            let r = l + 1
            var best = p
            if l < n, above(l, best) { best = l }
            if r < n, above(r, best) { best = r }
            if best == p { break }
            swapAt(p, best)
            p = best
        }
        return top
    }
}
