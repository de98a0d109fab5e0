import Testing

@testable import FlexEntropy

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

@Suite("CDF tables: quantisation and validation")
struct CDFTableTests {
    /// The cross-entropy in bits, −Σ p_i log2(f_i / 2^16), of normalised weights under frequencies.
    func crossEntropy(_ weights: [Double], _ freq: [UInt32]) -> Double {
        let total = weights.reduce(0, +)
        var h = 0.0
        for i in weights.indices where weights[i] > 0 {
            h -= weights[i] / total * log2(Double(freq[i]) / Double(CDFTable.total))
        }
        return h
    }

    func frequencies(_ t: CDFTable) -> [UInt32] { (0..<t.symbolCount).map { t.frequency(ofIndex: $0) } }

    /// The usual alternative: each symbol 1 + its largest-remainder share of the 2^16 − K free units.
    func largestRemainder(_ weights: [Double]) -> [UInt32] {
        let k = weights.count
        let total = weights.reduce(0, +)
        let free = Double(Int(CDFTable.total) - k)
        var freq = weights.map { UInt32(1 + (free * $0 / total).rounded(.down)) }
        let rest = Int(CDFTable.total) - freq.reduce(0) { $0 + Int($1) }
        let order = weights.indices.sorted {
            let a = free * weights[$0] / total
            let b = free * weights[$1] / total
            return a - a.rounded(.down) > b - b.rounded(.down)
        }
        for i in order.prefix(rest) { freq[i] += 1 }
        return freq
    }

    @Test("random PMFs (zeros, denormals, huge values): sum 2^16, every frequency ≥ 1, exactly optimal")
    func sumsMinimumsOptimality() throws {
        var rng = Rng(seed: 17)
        for trial in 0..<200 {
            let n = 1 + rng.below(trial < 20 ? 3000 : 200)
            let scale = [1.0, 1e-300, 1e300 / Double(n + 1), Double.leastNonzeroMagnitude][rng.below(4)]
            var pmf = (0..<n).map { _ in rng.below(5) == 0 ? 0 : rng.unit() * rng.unit() * scale }
            if trial % 7 == 0 { pmf[rng.below(n)] = Double.leastNonzeroMagnitude }
            if !pmf.contains(where: { $0 > 0 }) { pmf[0] = scale }
            let tail = rng.below(2) == 0 ? 0 : rng.unit() * scale
            let t = try CDFTable(quantizing: pmf, minSymbol: Int32(rng.below(100)) - 50, tailMass: tail)
            let f = frequencies(t)
            #expect(t.cdf.first == 0 && t.cdf.last == CDFTable.total)
            #expect(f.count == n + 1 && f.allSatisfy { $0 >= 1 })
            // Optimality (separable concave objective: no single unit moved from j to i may save bits).
            let w = pmf + [tail]
            var bestGain = 0.0
            var leastLoss = Double.infinity
            for i in w.indices {
                bestGain = max(bestGain, w[i] * log1p(1 / Double(f[i])))
                if f[i] > 1 { leastLoss = min(leastLoss, w[i] * log(Double(f[i]) / Double(f[i] - 1))) }
            }
            #expect(bestGain <= leastLoss * (1 + 1e-12), "trial \(trial): a moved unit would save bits")
            // The stored integers validate and give the same table.
            #expect(try CDFTable(minSymbol: t.minSymbol, cdf: t.cdf) == t)
            if scale == 1 {
                #expect(crossEntropy(w, f) <= crossEntropy(w, largestRemainder(w)) + 1e-12, "trial \(trial)")
            }
        }
    }

    @Test("a smooth PMF loses little: KL(p ‖ quantised) < 0.002 bits, < 0.1% of the entropy")
    func smoothKL() throws {
        // A discretised Gaussian with σ = 6 on [−40, 40] and its tail mass, like a latent channel's density.
        let sigma = 6.0
        func cdf(_ x: Double) -> Double { 0.5 * erfc(-x / (sigma * 2.0.squareRoot())) }
        let pmf = (-40...40).map { cdf(Double($0) + 0.5) - cdf(Double($0) - 0.5) }
        let tail = 1 - pmf.reduce(0, +)
        let t = try CDFTable(quantizing: pmf, minSymbol: -40, tailMass: max(tail, 0))
        let w = pmf + [max(tail, 0)]
        let f = frequencies(t)
        let total = w.reduce(0, +)
        var entropy = 0.0
        for p in w where p > 0 { entropy -= p / total * log2(p / total) }
        let kl = crossEntropy(w, f) - entropy
        #expect(kl >= 0 && kl < 0.002, "KL \(kl) bits")
        #expect(kl < entropy * 0.001, "KL \(kl) bits of entropy \(entropy)")
    }

    @Test("invalid PMFs are refused with the offending value")
    func invalidPMFs() throws {
        #expect(throws: EntropyError.invalidProbability(index: 1, value: -0.5)) {
            try CDFTable(quantizing: [1, -0.5], minSymbol: 0)
        }
        #expect(throws: EntropyError.invalidProbability(index: 0, value: .infinity)) {
            try CDFTable(quantizing: [.infinity, 1], minSymbol: 0)
        }
        #expect(throws: EntropyError.invalidProbability(index: -1, value: -1)) {
            try CDFTable(quantizing: [1], minSymbol: 0, tailMass: -1)
        }
        do {
            _ = try CDFTable(quantizing: [1, .nan], minSymbol: 0)
            Issue.record("NaN accepted")
        } catch {
            guard case .invalidProbability(let index, let value) = error, index == 1, value.isNaN else {
                Issue.record("expected invalidProbability(1, nan), got \(error)")
                return
            }
        }
        #expect(throws: EntropyError.emptyRange) { try CDFTable(quantizing: [], minSymbol: 0) }
        #expect(throws: EntropyError.zeroMass) { try CDFTable(quantizing: [0, 0], minSymbol: 0, tailMass: 0) }
        #expect(throws: EntropyError.tooManySymbols(found: 65537, limit: 65536)) {
            try CDFTable(quantizing: [Double](repeating: 1, count: 65536), minSymbol: 0)
        }
        #expect(throws: EntropyError.rangeOverflow(minSymbol: Int32.max, count: 2)) {
            try CDFTable(quantizing: [1, 1], minSymbol: Int32.max)
        }
        #expect(try CDFTable(quantizing: [1, 1], minSymbol: Int32.max - 1).maxSymbol == Int32.max)
    }

    @Test("stored tables are validated: length, start, end, every frequency ≥ 1, range")
    func validation() throws {
        #expect(throws: EntropyError.invalidTableLength(found: 2, minimum: 3, maximum: 65537)) {
            try CDFTable(minSymbol: 0, cdf: [0, 65536])
        }
        #expect(throws: EntropyError.invalidTableLength(found: 65538, minimum: 3, maximum: 65537)) {
            try CDFTable(minSymbol: 0, cdf: [UInt32](0...65537))
        }
        #expect(throws: EntropyError.cdfDoesNotStartAtZero(found: 1)) { try CDFTable(minSymbol: 0, cdf: [1, 2, 65536]) }
        #expect(throws: EntropyError.cdfDoesNotEndAtTotal(expected: 65536, found: 65535)) {
            try CDFTable(minSymbol: 0, cdf: [0, 2, 65535])
        }
        #expect(throws: EntropyError.nonPositiveFrequency(symbolIndex: 1, cdfLow: 5, cdfHigh: 5)) {
            try CDFTable(minSymbol: 0, cdf: [0, 5, 5, 65536])
        }
        #expect(throws: EntropyError.nonPositiveFrequency(symbolIndex: 1, cdfLow: 70000, cdfHigh: 10)) {
            try CDFTable(minSymbol: 0, cdf: [0, 70000, 10, 65536])
        }
        #expect(throws: EntropyError.rangeOverflow(minSymbol: Int32.max, count: 2)) {
            try CDFTable(minSymbol: Int32.max, cdf: [0, 1, 2, 65536])
        }
        let full = try CDFTable(minSymbol: Int32.min, cdf: [UInt32](0...65536))
        #expect(full.symbolCount == 65536 && full.escapeIndex == 65535 && full.maxSymbol == Int32.min + 65534)
        #expect(EntropyError.cdfDoesNotEndAtTotal(expected: 65536, found: 65535).description
            == "CDF ends at 65535; expected 65536")
    }
}
