import FlexRuntime
import Foundation

/// How many cases a fuzzer runs: `standard` in the test suite (a few seconds), or FLEXCTL_FUZZ_CASES for a
/// nightly-size run (e.g. FLEXCTL_FUZZ_CASES=200000 swift test --filter Fuzz).
func fuzzCases(_ standard: Int) -> Int {
    if let text = ProcessInfo.processInfo.environment["FLEXCTL_FUZZ_CASES"], let n = Int(text), n > 0 { return n }
    return standard
}

/// Seeded, deterministic mutations of a file's bytes: bit flips, byte sets, "interesting" 8/16/32-bit values
/// (0, 0xFF, 0x7FFFFFFF, 2^16, ...) at random offsets or at the offsets of header fields, insertion, deletion
/// and duplication of ranges, truncation.
struct Mutator {
    var rng: SplitMix64

    init(seed: UInt64) { rng = SplitMix64(seed: seed) }

    enum Endian { case big, little }

    static let interestingBytes: [UInt8] = [0, 1, 0x7F, 0x80, 0xFE, 0xFF]
    static let interestingWords: [UInt32] = [
        0, 1, 2, 0x7F, 0xFF, 0x100, 0x7FFF, 0x8000, 0xFFFF, 0x1_0000, 0x1_0001, 0x100_0000, 0x7FFF_FFFF,
        0x8000_0000, 0xFFFF_FFFE, 0xFFFF_FFFF,
    ]

    mutating func below(_ n: Int) -> Int { n <= 1 ? 0 : Int(rng.next() % UInt64(n)) }
    mutating func oneIn(_ n: Int) -> Bool { below(n) == 0 }
    mutating func byte() -> UInt8 { UInt8(truncatingIfNeeded: rng.next()) }

    /// Applies 1–`maxRounds` random mutations. `fields` are offsets of header fields (lengths, sizes, counts)
    /// that the value mutations prefer half of the time.
    mutating func mutate(_ b: inout [UInt8], endian: Endian, fields: [Int] = [], maxRounds: Int = 4) {
        for _ in 0..<(1 + below(maxRounds)) {
            if b.isEmpty {
                b = (0..<(1 + below(16))).map { _ in byte() }
                continue
            }
            let p = !fields.isEmpty && oneIn(2) ? min(fields[below(fields.count)], b.count - 1) : below(b.count)
            switch below(9) {
            case 0: b[p] ^= 1 << UInt8(below(8))
            case 1: b[p] = byte()
            case 2: b[p] = Self.interestingBytes[below(Self.interestingBytes.count)]
            case 3: put(&b, at: p, Self.interestingWords[below(Self.interestingWords.count)] & 0xFFFF, bytes: 2, endian)
            case 4: put(&b, at: p, Self.interestingWords[below(Self.interestingWords.count)], bytes: 4, endian)
            case 5: b.insert(contentsOf: (0..<(1 + below(32))).map { _ in byte() }, at: p)
            case 6: b.removeSubrange(p..<min(b.count, p + 1 + below(32)))
            case 7:
                let range = Array(b[p..<min(b.count, p + 1 + below(64))])
                b.insert(contentsOf: range, at: below(b.count + 1))
            default: b.removeSubrange(p...)
            }
        }
    }

    private func put(_ b: inout [UInt8], at p: Int, _ v: UInt32, bytes: Int, _ endian: Endian) {
        for k in 0..<bytes where p + k < b.count {
            let shift = endian == .big ? 8 * (bytes - 1 - k) : 8 * k
            b[p + k] = UInt8(truncatingIfNeeded: v >> UInt32(shift))
        }
    }
}

/// Runs `body` over `count` cases and returns the slowest case's time in seconds (a hang shows up as a test
/// that never ends; a case that is merely slow fails the caller's bound).
func slowestCase(_ count: Int, _ body: (Int) -> Void) -> Double {
    var slowest = 0.0
    for i in 0..<count {
        let start = MonotonicClock.nanoseconds()
        body(i)
        slowest = max(slowest, Double(MonotonicClock.nanoseconds() - start) / 1e9)
    }
    return slowest
}
