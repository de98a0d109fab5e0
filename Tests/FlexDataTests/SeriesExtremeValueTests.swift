@testable import FlexData
import Foundation
import Testing

@Suite("series: extreme values and folder inputs")
struct SeriesExtremeValueTests {
    @Test func infiniteReturnsAreRefusedWithTheDate() throws {
        let d = [Day(year: 2020, month: 1, day: 6), Day(year: 2020, month: 1, day: 7), Day(year: 2020, month: 1, day: 8)]
        let a = try AlignedSeries.align([PriceSeries(name: "X", file: "x.csv", dates: d, values: [7000, .leastNonzeroMagnitude, 7000])])
        #expect { try a.transformed(.returns) } throws: { e in
            let m = "\(e)"
            return m.contains("x.csv") && m.contains("2020-01-08") && m.contains("inf")
        }
    }

    @Test func aFolderWithOneIDXFileLoads() throws {
        let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/images").path
        let data = try ImageData.load(path: folder)
        #expect(data.train.count == 20 && data.train.labels?.count == 20 && data.test == nil)
    }
}
