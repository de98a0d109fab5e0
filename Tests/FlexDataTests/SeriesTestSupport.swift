import FlexData
import Foundation
import Testing

/// Paths of the series fixtures (Fixtures/series, next to this file) and of the real data in ../shared.
enum SeriesPaths {
    static let testsFolder = URL(fileURLWithPath: #filePath).deletingLastPathComponent()

    /// A fixture file in Fixtures/series.
    static func fixture(_ name: String) -> String {
        testsFolder.appendingPathComponent("Fixtures/series").appendingPathComponent(name).path
    }

    /// ../shared/data/indices relative to the repository (the investing.com exports).
    static let indices = testsFolder.appendingPathComponent("../../../shared/data/indices").standardized.path

    /// Whether the real data is there (it is on CI; the tests that need it are skipped with a note otherwise).
    static var indicesAvailable: Bool {
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: indices, isDirectory: &isDirectory) && isDirectory.boolValue
    }

    static func index(_ file: String) -> String { indices + "/" + file }

    /// The paper's four series (S&P/ASX 200, FTSE 100, KOSPI, RTSI), in the paper's order.
    static let paperFiles = ["S&P_ASX All Australian 200 Historical Data.csv", "FTSE 100.csv",
                             "KOSPI Historical Data.csv", "RTSI Historical Data.csv"]
}

/// Expects `body` to throw a `DataError` for `file` at `position` with exactly `message`.
func expectSeriesError(file: String, position: String, _ message: String,
                     sourceLocation: SourceLocation = #_sourceLocation,
                     _ body: () throws -> Void) {
    do {
        try body()
        Issue.record("no error; expected \(file): \(position): \(message)", sourceLocation: sourceLocation)
    } catch let error as DataError {
        #expect(error.file == file, sourceLocation: sourceLocation)
        #expect(error.position == position, sourceLocation: sourceLocation)
        #expect(error.message == message, sourceLocation: sourceLocation)
        // The printed form names the file and the position.
        #expect(error.description == (position.isEmpty ? "\(file): \(message)" : "\(file): \(position): \(message)"),
                sourceLocation: sourceLocation)
    } catch {
        Issue.record("\(error) is not a DataError; expected \(file): \(position): \(message)", sourceLocation: sourceLocation)
    }
}

/// |a − b| ≤ tolerance · |b| (or a == b).
func seriesIsClose(_ a: Double, _ b: Double, relative tolerance: Double) -> Bool {
    a == b || abs(a - b) <= tolerance * abs(b)
}
