import ArgumentParser
@testable import FlexCLI
import FlexForecast
import Foundation
import Testing

/// Strings from files (series and model names, provenance, quoted values) reach the terminal escaped.
@Suite("terminal-safe output, and other red-team round-2 fixes")
struct TerminalSafeTests {
    @Test func controlAndInvisibleCharactersAreEscaped() {
        #expect(terminalSafe("a\u{1B}[2Jb") == "a\\u001B[2Jb")
        #expect(terminalSafe("\u{9B}31m") == "\\u009B31m")
        #expect(terminalSafe("FT\u{202E}SE\u{200B}\u{FEFF}") == "FT\\u202ESE\\u200B\\uFEFF")
        // A tag character (above U+FFFF) as a JSON surrogate pair.
        #expect(terminalSafe("x\u{E0041}") == "x\\uDB40\\uDC41")
        #expect(terminalSafe("line\nnext\ttab") == "line\\u000Anext\ttab")
        #expect(terminalSafe("line\nnext", keepNewlines: true) == "line\nnext")
        #expect(terminalSafe("plain é ü 中") == "plain é ü 中")
    }

    /// The escapes are JSON's own, so JSON output stays valid and decodes to the same text.
    @Test func jsonStaysValidWithTheSameContent() throws {
        let name = "FT\u{1B}[2J\u{202E}\u{9B}SE"
        let json = "{\"name\":\"" + name + "\"}"
        let safe = terminalSafe(json, keepNewlines: true)
        #expect(!safe.unicodeScalars.contains { isControl($0) })
        let decoded = try JSONSerialization.jsonObject(with: Data(safe.utf8)) as? [String: String]
        #expect(decoded?["name"] == name)
    }

    /// Prices alternating between 1e150 and 1e-150 give returns no float32 holds: an error, not NaN forecasts.
    @Test func nonFiniteModelInputsAreRefused() {
        #expect(throws: (any Error).self) { try ForecastEngine.checkFinite([0.5, .infinity, 1], what: "the last 3 days") }
        #expect(throws: (any Error).self) { try ForecastEngine.checkFinite([.nan], what: "x") }
        #expect(throws: Never.self) { try ForecastEngine.checkFinite([0, -3.4e38, 3.4e38], what: "x") }
    }

    /// `--step 1e-300` used to trap converting the point count to Int in its own error message.
    @Test func tinyStepIsAUsageErrorNotATrap() {
        #expect(throws: ValidationError.self) { try ActivationCommand.makeGrid(from: -4, to: 4, step: 1e-300) }
        #expect(throws: ValidationError.self) { try ActivationCommand.makeGrid(from: -4, to: 4, step: 1e-19) }
    }
}
