import FlexData
import FlexRuntime
import Foundation
import Testing

/// Mutation fuzzing of the CSV series reader (`SeriesFile.parse`), seeded from the shipped samples
/// (samples/series) and every series fixture. Each mutant must parse into a valid result or throw a
/// `DataError` naming the file with a message; a crash or a trap ends the whole test process.
/// FLEXCTL_FUZZ_CASES raises the number of cases for a nightly-size run.
@Suite("CSV series: mutation fuzzing")
struct SeriesFuzzTests {
    static let samples = SeriesPaths.testsFolder.appendingPathComponent("../../samples/series").standardized.path

    static func csvFiles(_ folder: String) throws -> [[UInt8]] {
        try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.hasSuffix(".csv") }.sorted()
            .map { Array(try Data(contentsOf: URL(fileURLWithPath: folder + "/" + $0))) }
    }

    /// Texts a CSV mutant gains: structure (quotes, separators, line breaks, BOM), number and date forms at
    /// and beyond their limits, and bytes that are not UTF-8 text.
    static let tokens: [[UInt8]] = [
        "\"", ",", "\r", "\n", "\r\n", "\"\"", ",,,,", "\"a,b\"", "\u{FEFF}", "-", "", " ", "\t", "NaN", "nan",
        "inf", "-inf", "1e309", "-1e309", "1e-400", "0", "-0", "9999999999999999999999999", "0x10", "1,234.5",
        "12.5K", "3M", "1.2B", "-0.59%", "%", "K", "Feb 30, 2019", "Dec 31, 9999", "Jan 01, 0000", "2019-02-29",
        "2020-02-29", "9999-99-99", "0000-00-00", "Date", "Price", "date", "Vol.", "Change %", "Ω", "日本",
        "\u{7F}", "\u{1}",
    ].map { Array($0.utf8) } + [[0xC3], [0xFF], [0xE2, 0x82], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0],
                              [0x1F, 0x8B], [0xFF, 0xFE], [0x50, 0x4B, 3, 4]]

    struct Mutations {
        var rng: SplitMix64
        mutating func below(_ n: Int) -> Int { n <= 1 ? 0 : Int(rng.next() % UInt64(n)) }

        /// One to three mutations: bytes flipped or set, tokens inserted or written over, ranges deleted or
        /// duplicated, lines swapped, duplicated or deleted, truncation.
        mutating func mutate(_ b: inout [UInt8]) {
            for _ in 0..<(1 + below(3)) {
                guard !b.isEmpty else { b = SeriesFuzzTests.tokens[below(SeriesFuzzTests.tokens.count)]; continue }
                let p = below(b.count)
                switch below(10) {
                case 0: b[p] ^= 1 << UInt8(below(8))
                case 1: b[p] = UInt8(truncatingIfNeeded: rng.next())
                case 2, 3: b.insert(contentsOf: SeriesFuzzTests.tokens[below(SeriesFuzzTests.tokens.count)], at: p)
                case 4:
                    let t = SeriesFuzzTests.tokens[below(SeriesFuzzTests.tokens.count)]
                    b.replaceSubrange(p..<min(b.count, p + max(1, t.count)), with: t)
                case 5: b.removeSubrange(p..<min(b.count, p + 1 + below(64)))
                case 6: b.insert(contentsOf: b[p..<min(b.count, p + 1 + below(200))], at: below(b.count + 1))
                case 7, 8:
                    // Line-level: lines end with CR, LF or CRLF; the break is kept with its line.
                    var lines: [ArraySlice<UInt8>] = [], start = 0
                    for (i, c) in b.enumerated() where c == 10 || (c == 13 && (i + 1 == b.count || b[i + 1] != 10)) {
                        lines.append(b[start...i])
                        start = i + 1
                    }
                    if start < b.count { lines.append(b[start...]) }
                    let a = below(lines.count), z = below(lines.count)
                    switch below(3) {
                    case 0: lines.swapAt(a, z)
                    case 1: lines.insert(lines[a], at: z)
                    default: lines.remove(at: a)
                    }
                    b = Array(lines.joined())
                default: b.removeSubrange(p...)
                }
            }
        }
    }

    @Test func mutatedCSVsParseOrGiveOneError() throws {
        let name = "fuzz.csv"
        // Half of the cases start from the shipped samples (valid investing.com exports), half from any file
        // including the fixtures of every error the reader reports.
        // The samples are cut to their header and first 40 rows (the CR line breaks kept) to keep cases fast; every
        // 25th case takes a whole file.
        let whole = try Self.csvFiles(Self.samples)
        let real = whole.map { b in Array(b.split(separator: 13, maxSplits: 41, omittingEmptySubsequences: false).dropLast().joined(separator: [13])) + [13] }
        let all = real + (try Self.csvFiles(SeriesPaths.testsFolder.appendingPathComponent("Fixtures/series").path))
        #expect(whole.count == 4 && all.count >= 20)
        #expect(try real.allSatisfy { try SeriesFile.parse(bytes: $0, file: name).first?.values.count == 40 })
        var m = Mutations(rng: SplitMix64(seed: 0x4353_5601))
        let columns: [String?] = [nil, nil, nil, nil, nil, nil, "Price", "Open", "Vol.", "Change %", "Date", "value"]
        var parsed = 0, refused = 0, slowest = 0.0
        let cases = fuzzCases(3000)
        for i in 0..<cases {
            var b = i % 25 == 0 ? whole[(i / 25) % whole.count] : i % 2 == 0 ? real[(i / 2) % real.count] : all[(i / 2) % all.count]
            m.mutate(&b)
            let column = columns[m.below(columns.count)]
            let start = MonotonicClock.nanoseconds()
            do throws(DataError) {
                let series = try SeriesFile.parse(bytes: b, file: name, column: column)
                parsed += 1
                // A result keeps the reader's promises: finite values, one date per value, dates increasing.
                for s in series {
                    let datesOK = s.dates.map { d in d.count == s.values.count && zip(d, d.dropFirst()).allSatisfy { $0 < $1 } } ?? true
                    if s.values.isEmpty || !s.values.allSatisfy(\.isFinite) || !datesOK || s.file != name {
                        Issue.record("case \(i): a series breaking the reader's promises: \(s.name), \(s.values.count) values")
                    }
                }
            } catch {
                refused += 1
                if error.file != name || error.message.isEmpty { Issue.record("case \(i): unclear error \(error)") }
            }
            slowest = max(slowest, Double(MonotonicClock.nanoseconds() - start) / 1e9)
        }
        #expect(parsed + refused == cases)
        // Both outcomes are reached (most mutants of a real file break one row; many still parse).
        #expect(parsed > cases / 20 && refused > cases / 5, "parsed \(parsed), refused \(refused)")
        #expect(slowest < 2, "slowest case took \(slowest) s")
    }
}

/// How many cases a fuzzer runs: `standard` in the test suite, FLEXCTL_FUZZ_CASES for a nightly-size run.
func fuzzCases(_ standard: Int) -> Int {
    if let text = ProcessInfo.processInfo.environment["FLEXCTL_FUZZ_CASES"], let n = Int(text), n > 0 { return n }
    return standard
}
