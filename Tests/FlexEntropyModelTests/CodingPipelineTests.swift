import FlexEntropy
import FlexEntropyModel
import FlexRuntime
import RealModule
import Testing

/// The learned codec's entropy path end to end, as a later `.flexz` version 2 will run it: the density's PMFs
/// (FlexEntropyModel) quantised to 16-bit CDF tables and used by the rANS coder (FlexEntropy). Checks that the
/// two modules agree on the symbol convention (symbol q = round(y − median), table index q − minimum), that the
/// stream decodes to the same symbols, and that the coded size is what the model's rate estimate predicts.
@Suite("entropy coding pipeline: density → CDF tables → rANS")
struct CodingPipelineTests {
    @Test("latents inside the learned support: lossless, coded size within 1% (+64 bits) of the estimated rate")
    func insideSupport() throws {
        var rng = SplitMix64(seed: 11)
        let channels = 6
        let model = try EntropyBottleneck(channels: channels, initScale: 8, rng: &rng)
        let shape = [3, channels, 24, 24]
        let count = shape.reduce(1, *), inner = 24 * 24
        // Channel c's latents spread over ±(c + 1): each channel has its own entropy, all inside the support.
        let y = Tensor(shape: shape, scalars: (0..<count).map { i in
            let c = (i / inner) % channels
            return rng.uniform(-Float(c + 1), Float(c + 1))
        })
        let (values, symbols) = try model.quantize(y)
        let pmfs = try model.channelPMFs()
        #expect(pmfs.count == channels)
        let tables = try pmfs.map { p throws(EntropyError) in
            try CDFTable(quantizing: p.pmf, minSymbol: Int32(p.minimum), tailMass: p.tailMass)
        }
        let indices = (0..<count).map { Int32(($0 / inner) % channels) }
        let bytes = try RANS.encode(symbols, tableIndices: indices, tables: tables)
        let decoded = try RANS.decode(bytes, tableIndices: indices, tables: tables)
        #expect(decoded == symbols)

        let estimated = try model.rate(values).bits
        let coded = Double(bytes.count * 8)
        #expect(abs(coded - estimated) <= 0.01 * estimated + 64,
                "coded \(coded) bits, the model estimates \(estimated) bits for \(count) symbols")
        // And the estimate is not trivially small: several bits per symbol for these spreads.
        #expect(estimated / Double(count) > 1)
        // Symbol by symbol, the table's code length matches the model's −log2 likelihood (a table shifted by one
        // symbol keeps the total close for a smooth density, but not this).
        let likelihoods = try model.rate(values).likelihoods
        var difference = 0.0
        for i in 0..<count {
            let table = tables[Int(indices[i])]
            difference += abs(table.idealBits(of: symbols[i]) + Double.log2(Double(likelihoods.scalars[i])))
        }
        #expect(difference / Double(count) < 0.01, "mean |table bits − model bits| per symbol: \(difference / Double(count))")
    }

    @Test("latents far outside the support take the escape and still round-trip")
    func outsideSupport() throws {
        var rng = SplitMix64(seed: 12)
        let model = try EntropyBottleneck(channels: 2, initScale: 4, rng: &rng)
        let y = Tensor(shape: [1, 2, 4, 4], scalars: (0..<32).map { i in
            i % 3 == 0 ? Float(i) * 1e4 * (i % 2 == 0 ? 1 : -1) : rng.uniform(-2, 2)
        })
        let (_, symbols) = try model.quantize(y)
        let tables = try model.channelPMFs().map { p throws(EntropyError) in
            try CDFTable(quantizing: p.pmf, minSymbol: Int32(p.minimum), tailMass: p.tailMass)
        }
        let indices = (0..<32).map { Int32(($0 / 16) % 2) }
        let bytes = try RANS.encode(symbols, tableIndices: indices, tables: tables)
        #expect(try RANS.decode(bytes, tableIndices: indices, tables: tables) == symbols)
    }
}
