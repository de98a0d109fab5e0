import FlexCLI
import FlexIO
import FlexPlot
import FlexImageIO
import FlexRuntime
import Foundation
import Testing
#if canImport(FoundationXML)
import FoundationXML
#endif

/// Counts elements by name while parsing.
private final class ElementCounter: NSObject, XMLParserDelegate {
    var counts: [String: Int] = [:]
    var texts: [String] = []
    private var inText = false
    private var current = ""
    func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
                attributes: [String: String] = [:]) {
        counts[name, default: 0] += 1
        if name == "text" { inText = true; current = "" }
    }
    func parser(_ parser: XMLParser, foundCharacters string: String) {
        if inText { current += string }
    }
    func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
        if name == "text" { texts.append(current); inText = false }
    }
}

private func activationPlot() throws -> LinePlot {
    let command = try #require(try Flexctl.parseAsRoot(["activation", "p-sig-ramp", "--alpha", "0.5", "--beta", "0.5"])
        as? ActivationCommand)
    return ActivationCommand.makePlot(try command.resolve(), from: command.from, to: command.to)
}

@Suite("FlexPlot")
struct PlotTests {
    @Test("nice ticks")
    func ticks() {
        let t = AxisTicks(min: -4, max: 4, target: 4)
        #expect(t.values == [-4, -2, 0, 2, 4])
        #expect(t.labels == ["-4", "-2", "0", "2", "4"])
        let u = AxisTicks(min: 0.003, max: 0.97, target: 5)
        #expect(u.lower == 0 && u.upper == 1 && u.step == 0.2)
        #expect(u.labels == ["0.0", "0.2", "0.4", "0.6", "0.8", "1.0"])
        let flat = AxisTicks(min: 3, max: 3)
        #expect(flat.lower < 3 && flat.upper > 3)
        let tiny = AxisTicks(min: -0.0004, max: 0.0011, target: 5)
        #expect(tiny.labels.contains("0.0000"))
        #expect(!tiny.labels.contains { $0.hasPrefix("-0.0000") })
    }

    @Test("SVG parses as XML, has one path per series and readable labels")
    func svg() throws {
        var plot = try activationPlot()
        plot.xLabel = "z <input> & \"more\""
        let svg = plot.svg()
        let parser = XMLParser(data: Data(svg.utf8))
        let counter = ElementCounter()
        parser.delegate = counter
        #expect(parser.parse(), "SVG is not well-formed XML: \(String(describing: parser.parserError))")
        #expect(counter.counts["svg"] == 1)
        #expect(counter.counts["path"] == 2)
        #expect(counter.texts.contains("o(z)"))
        #expect(counter.texts.contains("dO/dz"))
        #expect(counter.texts.contains("z <input> & \"more\""))
        #expect(counter.texts.contains("p-sig-ramp (alpha=0.5, beta=0.5)"))
    }

    @Test("PNG: valid file with the expected size, white background, both series drawn")
    func png() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let plot = try activationPlot()
        let path = dir.file("plot.png")
        try plot.write(to: path)
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        #expect(Array(bytes.prefix(8)) == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        #expect(Array(bytes[12..<16]) == Array("IHDR".utf8))
        func be32(_ i: Int) -> Int { bytes[i..<(i + 4)].reduce(0) { $0 << 8 | Int($1) } }
        #expect(be32(16) == 800 && be32(20) == 500)

        let image = try readPNG(path: path, channels: 3)
        #expect(image.width == 800 && image.height == 500)
        func color(_ x: Int, _ y: Int) -> RGBColor {
            let i = 3 * (y * image.width + x)
            return RGBColor(red: image.pixels[i], green: image.pixels[i + 1], blue: image.pixels[i + 2])
        }
        #expect(color(2, 2) == .white)
        let all = (0..<(image.width * image.height)).map { color($0 % image.width, $0 / image.width) }
        let counts = Dictionary(all.map { ($0, 1) }, uniquingKeysWith: +)
        for c in RGBColor.palette.prefix(2) {
            #expect((counts[c] ?? 0) > 300, "series colour \(c.hex) barely drawn")
        }
        #expect(dir.contents() == ["plot.png"])
    }

    @Test("writePNG: gray, RGB and RGBA round-trip; errors name the file; nothing partial is left")
    func writePNGRoundTrip() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        for channels in [1, 3, 4] {
            let w = 7, h = 5
            let pixels = (0..<(w * h * channels)).map { UInt8(($0 * 37) & 0xFF) }
            let path = dir.file("img\(channels).png")
            try writePNG(path: path, width: w, height: h, channels: channels, pixels: pixels)
            let back = try readPNG(path: path, channels: channels)
            #expect(back.width == w && back.height == h)
            #expect(back.pixels == pixels)
        }
        // Overwrite replaces atomically.
        try writePNG(path: dir.file("img1.png"), width: 1, height: 1, channels: 1, pixels: [9])
        #expect(try readPNG(path: dir.file("img1.png"), channels: 1).pixels == [9])

        let missing = dir.file("no/such/folder/x.png")
        #expect {
            try writePNG(path: missing, width: 1, height: 1, channels: 1, pixels: [0])
        } throws: { error in
            "\(error)".contains(missing)
        }
        #expect {
            try writePNG(path: dir.file("bad.png"), width: 2, height: 2, channels: 3, pixels: [0, 1, 2])
        } throws: { error in
            "\(error)".contains("bad.png") && "\(error)".contains("expected 12 bytes")
        }
        #expect {
            try writePNG(path: dir.file("bad2.png"), width: 1, height: 1, channels: 2, pixels: [0, 0])
        } throws: { error in
            "\(error)".contains("bad2.png") && "\(error)".contains("channel")
        }
        #expect(dir.contents() == ["img1.png", "img3.png", "img4.png"])
    }

    @Test("readPNG of a non-PNG file reports the file")
    func readGarbage() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        try writeFileAtomically(path: dir.file("fake.png"), text: "not a png")
        #expect {
            _ = try readPNG(path: dir.file("fake.png"))
        } throws: { error in
            "\(error)".contains("fake.png")
        }
    }

    @Test("an unsupported extension is refused")
    func badExtension() throws {
        #expect(throws: FileWriteError.self) { try LinePlot().write(to: "/tmp/x.gif") }
        #expect(LinePlot.Format(path: "a/b.SVG") == .svg)
        #expect(LinePlot.Format(path: "a.b/c") == nil)
    }

    @Test("non-finite points break the line instead of breaking the plot")
    func nonFinite() {
        var plot = LinePlot(title: "gaps")
        plot.addSeries(name: "s", x: [0, 1, 2, 3, 4], y: [0, 1, .nan, 3, .infinity])
        let svg = plot.svg()
        #expect(svg.contains("M"))
        #expect(!svg.contains("nan"))
        _ = plot.raster()
    }

    /// Values near the largest double (a crafted CSV's prices, a diverging loss) used to overflow the axis
    /// range and trap converting pixel positions to Int.
    @Test("extreme finite values plot without trapping", arguments: [1.7e308, -1.7e308, 1e300, 5e-324])
    func extremeValues(_ big: Double) {
        var plot = LinePlot(title: "extreme")
        plot.addSeries(name: "s", x: [0, 1, 2, 3], y: [0, big, -big, 1])
        plot.addSeries(name: "t", x: [0, big, 2, 3], y: [1, 2, 3, 4])
        #expect(plot.svg().contains("<svg"))
        _ = plot.raster()
        _ = AxisTicks(min: -Double.greatestFiniteMagnitude, max: Double.greatestFiniteMagnitude)
    }

    @Test("an epoch axis has whole-number ticks only, for any number of epochs and plot width")
    func integerTicks() {
        for epochs in 1...120 {
            for target in 2...10 {
                let t = AxisTicks(min: 1, max: Double(epochs), target: target, kind: .integer)
                #expect(t.values.allSatisfy { $0 == $0.rounded() }, "\(epochs) epochs, target \(target): \(t.values)")
                #expect(t.labels.allSatisfy { !$0.contains(".") }, "\(t.labels)")
                #expect(t.lower <= 1 && t.upper >= Double(epochs))
            }
        }
        // The numeric axis still puts 2.5-steps where they fit (unchanged), the integer one does not.
        #expect(AxisTicks(min: 0, max: 10, target: 4).labels.contains("2.5"))
        #expect(!AxisTicks(min: 0, max: 10, target: 4, kind: .integer).labels.contains("2.5"))
        var plot = LinePlot(title: "Loss per epoch", xLabel: "epoch", yLabel: "MSE")
        plot.xAxis = .integer
        plot.addSeries(name: "train", x: [1, 2, 3, 4, 5], y: [5, 4, 3, 2, 1])
        let labels = plot.xTickLabelExtents().map(\.text)
        #expect(!labels.isEmpty && labels.allSatisfy { Int($0) != nil }, "\(labels)")
    }

    @Test("a date axis is labelled with calendar dates, ticks on month or year starts")
    func dateTicks() {
        #expect(CivilDate(year: 2019, month: 6, day: 1).daysSinceEpoch == 18048)
        #expect(CivilDate(year: 1900, month: 3, day: 1).daysSinceEpoch == -25508)
        for d in stride(from: -40000, through: 40000, by: 997) {
            let c = CivilDate(daysSinceEpoch: d)
            #expect(c.daysSinceEpoch == d && (1...12).contains(c.month) && (1...31).contains(c.day))
        }
        // About a year and a half of trading days: month labels.
        let from = Double(CivilDate(year: 2018, month: 12, day: 7).daysSinceEpoch)
        let to = Double(CivilDate(year: 2019, month: 12, day: 30).daysSinceEpoch)
        let t = AxisTicks(min: from, max: to, target: 6, kind: .date)
        #expect(t.labels.count >= 3)
        for (v, label) in zip(t.values, t.labels) {
            let c = CivilDate(daysSinceEpoch: Int(v))
            #expect(c.day == 1 && v >= from && v <= to)
            #expect(label == String(c.year) || label == CivilDate(year: c.year, month: c.month, day: 1).description.dropLast(3),
                    "\(label) for \(c)")
            #expect(label.allSatisfy { $0.isNumber || $0 == "-" }, "decimal year? \(label)")
        }
        #expect(t.labels.contains("2019-06") || t.labels.contains("2019-07"), "\(t.labels)")
        // Ten years: year labels.
        let decade = AxisTicks(min: Double(CivilDate(year: 2010, month: 1, day: 12).daysSinceEpoch), max: to, target: 6,
                               kind: .date)
        #expect(decade.labels.allSatisfy { $0.count == 4 && Int($0) != nil }, "\(decade.labels)")
        // Two weeks: day labels.
        let days = AxisTicks(min: to - 14, max: to, target: 6, kind: .date)
        #expect(days.labels.allSatisfy { $0.count == 10 }, "\(days.labels)")
    }

    @Test("the last x tick label fits in the image (never clipped at the right edge)",
          arguments: [(0.0, 1_000_000.0), (0.0, 123_456.789), (1.0, 37.0), (-5e6, 5e6), (0.001, 0.0123)])
    func lastLabelFits(_ range: (Double, Double)) throws {
        for width in [200, 333, 500, 800, 1000] {
            for scale in [1, 2, 3] {
                var plot = LinePlot(title: "t", xLabel: "x", yLabel: "y", width: width, height: 300, textScale: scale)
                plot.addSeries(name: "s", x: [range.0, range.1], y: [0, 1])
                let extents = plot.xTickLabelExtents()
                #expect(!extents.isEmpty)
                for e in extents {
                    #expect(e.left >= 0 && e.right <= width, "\(e.text) covers \(e.left)..<\(e.right) of \(width) px (scale \(scale))")
                }
            }
        }
        // The raster agrees: no text ink in the last columns.
        var plot = LinePlot(title: "t", xLabel: "x", yLabel: "y", width: 400, height: 300)
        plot.addSeries(name: "s", x: [range.0, range.1], y: [0, 1], color: RGBColor(red: 0, green: 0, blue: 255))
        let c = plot.raster()
        for y in 0..<c.height {
            for x in (c.width - 2)..<c.width {
                let i = 3 * (y * c.width + x)
                #expect(c.pixels[i] == 255 && c.pixels[i + 1] == 255 && c.pixels[i + 2] == 255, "ink at (\(x), \(y))")
            }
        }
    }

    @Test("spans are drawn behind the series with their labels")
    func spans() throws {
        var plot = LinePlot(title: "splits", width: 600, height: 300)
        plot.addSeries(name: "s", x: [0, 100], y: [0, 1])
        plot.spans = [PlotSpan(label: "train", from: 0, to: 60, color: PlotSpan.splitColors[0]),
                      PlotSpan(label: "test", from: 60, to: 100, color: PlotSpan.splitColors[2])]
        let svg = plot.svg()
        #expect(svg.components(separatedBy: "class=\"span\"").count == 3)
        #expect(svg.contains(">train</text>") && svg.contains(">test</text>"))
        let c = plot.raster()
        let counts = Dictionary((0..<(c.width * c.height)).map {
            (RGBColor(red: c.pixels[3 * $0], green: c.pixels[3 * $0 + 1], blue: c.pixels[3 * $0 + 2]), 1)
        }, uniquingKeysWith: +)
        #expect((counts[PlotSpan.splitColors[0]] ?? 0) > 1000 && (counts[PlotSpan.splitColors[2]] ?? 0) > 1000)
    }

    @Test("activation --plot samples finely and through the kinks, whatever the table's --step")
    func activationKinks() throws {
        for step in ["0.3", "0.5", "1.7"] {
            let command = try #require(try Flexctl.parseAsRoot(["activation", "p-sig-ramp", "--alpha", "0.5", "--beta", "0.5",
                                                                "--step", step]) as? ActivationCommand)
            let r = try command.resolve()
            let plot = ActivationCommand.makePlot(r, from: command.from, to: command.to)
            let z = plot.series[0].x
            // The ramp clip(0.5 z + 0.5, 0, 1) has its corners at z = ±1.
            #expect(r.function.kinks(beta: r.beta) == [-1, 1])
            #expect(z.contains(-1) && z.contains(1), "step \(step)")
            #expect(z.count >= ActivationCommand.plotSamples && z == z.sorted())
            #expect(z.first == -4 && z.last == 4)
            // At a corner the drawn value is exact: 0.5·σ(1) + 0.5·1.
            let i = try #require(z.firstIndex(of: 1))
            #expect(abs(plot.series[0].y[i] - (0.5 / (1 + exp(-1.0)) + 0.5)) < 1e-12)
            // Sampling is fine enough: no gap wider than 1/250 of the range.
            #expect(zip(z, z.dropFirst()).allSatisfy { $1 - $0 <= 8.0 / 2000 + 1e-12 })
        }
        // ReLU's kink at 0 and the tanh ramp's at ±1/β, from the runtime's one definition.
        #expect(try ActivationFunction.member("relu").kinks(beta: []) == [0])
        let tanhRamp = try ActivationFunction.member("p-tanh-ramp").kinks(beta: [0.4])
        #expect(tanhRamp.count == 2 && abs(tanhRamp[0] + 2.5) < 1e-12 && abs(tanhRamp[1] - 2.5) < 1e-12)
        #expect(try ActivationFunction.member("tanh").kinks(beta: []).isEmpty)
    }
}
