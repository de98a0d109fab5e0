// Throughput of FlexEntropy's rANS coder, release build. Not part of the package: scripts/bench-entropy
// compiles it together with Sources/FlexEntropy/*.swift into one optimised binary and runs it.
// Workload: a latent-like stream — 192 channels of discretised Laplacians (scales 0.5–8, range ±40, tail 1e-4),
// 768×512 / 16² × 192 = 294,912 symbols (the latent of a 768×512 photo at 1/16 resolution and M = 192).
#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

func seconds() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_MONOTONIC, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
}

nonisolated(unsafe) var state: UInt64 = 12345
func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
}

@main
enum EntropyBench {
    static func main() {
        let channels = 192
        var t0 = seconds()
        let tables = (0..<channels).map { c -> CDFTable in
            let b = 0.5 + 7.5 * Double(c) / Double(channels - 1)
            return try! CDFTable(quantizing: (-40...40).map { exp(-abs(Double($0)) / b) }, minSymbol: -40, tailMass: 1e-4)
        }
        let buildTime = seconds() - t0
        let n = 768 * 512 / 256 * channels
        let indices = (0..<n).map { Int32($0 / (n / channels)) }  // channel-major, as a CHW latent
        var symbols = [Int32](repeating: 0, count: n)
        for j in 0..<n {
            let t = tables[Int(indices[j])]
            let slot = UInt32(next() & 0xFFFF)
            var i = 0
            while t.cdf[i + 1] <= slot { i += 1 }
            symbols[j] = i < t.escapeIndex ? t.minSymbol + Int32(i) : Int32(truncatingIfNeeded: Int(next() % 1000) - 500)
        }
        var bytes: [UInt8] = []
        var bestEnc = Double.infinity
        var bestDec = Double.infinity
        for _ in 0..<5 {
            t0 = seconds()
            bytes = try! RANS.encode(symbols, tableIndices: indices, tables: tables)
            bestEnc = min(bestEnc, seconds() - t0)
            t0 = seconds()
            let decoded = try! RANS.decode(bytes, tableIndices: indices, tables: tables)
            bestDec = min(bestDec, seconds() - t0)
            precondition(decoded == symbols)
        }
        print("tables: \(channels) built in \(Int(buildTime * 1000)) ms")
        print("symbols: \(n), bytes: \(bytes.count) (\(Double(bytes.count * 8) / Double(n)) bits/symbol)")
        print("encode: \(Int(bestEnc * 1e6)) µs, \(Int(Double(n) / bestEnc / 1e6)) M symbols/s")
        print("decode: \(Int(bestDec * 1e6)) µs, \(Int(Double(n) / bestDec / 1e6)) M symbols/s")
    }
}
