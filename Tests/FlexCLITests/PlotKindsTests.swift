import FlexIO
import FlexImageIO
import FlexPlot
import Foundation
import Testing
#if canImport(FoundationXML)
import FoundationXML
#endif

/// Collects every element's name and attributes while parsing, so tests count classes and read attributes.
private final class ElementCollector: NSObject, XMLParserDelegate {
    var elements: [(name: String, attributes: [String: String])] = []
    var texts: [String] = []
    private var inText = false
    private var current = ""
    func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
                attributes: [String: String] = [:]) {
        elements.append((name, attributes))
        if name == "text" { inText = true; current = "" }
    }
    func parser(_ parser: XMLParser, foundCharacters string: String) {
        if inText { current += string }
    }
    func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
        if name == "text" { texts.append(current); inText = false }
    }
    func with(class name: String) -> [[String: String]] {
        elements.filter { $0.attributes["class"] == name }.map(\.attributes)
    }
}

private func parseSVG(_ svg: String) throws -> ElementCollector {
    let parser = XMLParser(data: Data(svg.utf8))
    let collector = ElementCollector()
    parser.delegate = collector
    #expect(parser.parse(), "SVG is not well-formed XML: \(String(describing: parser.parserError))")
    return collector
}

/// A decoded RGB PNG with pixel access.
private struct Decoded {
    let image: PNGImage
    init(_ bytes: [UInt8]) throws {
        image = try decodePNG(bytes, name: "<test>")
        #expect(image.channels == 3)
    }
    func color(_ x: Int, _ y: Int) -> RGBColor {
        let i = 3 * (y * image.width + x)
        return RGBColor(red: image.pixels[i], green: image.pixels[i + 1], blue: image.pixels[i + 2])
    }
    /// How many pixels have exactly `c`.
    func count(_ c: RGBColor) -> Int {
        (0..<(image.width * image.height)).reduce(0) { n, i in
            n + (image.pixels[3 * i] == c.red && image.pixels[3 * i + 1] == c.green && image.pixels[3 * i + 2] == c.blue ? 1 : 0)
        }
    }
}

/// `color` blended at `alpha` over `base`, rounded as the raster blends.
private func blended(_ color: RGBColor, _ alpha: Double, over base: RGBColor = .white) -> RGBColor {
    func mix(_ old: UInt8, _ new: UInt8) -> UInt8 { UInt8((Double(old) * (1 - alpha) + Double(new) * alpha).rounded()) }
    return RGBColor(red: mix(base.red, color.red), green: mix(base.green, color.green), blue: mix(base.blue, color.blue))
}

private let gridColor = RGBColor(red: 0xE3, green: 0xE3, blue: 0xE3)

@Suite("FlexPlot: bands, category plots, histograms")
struct PlotKindsTests {
    // MARK: Bands

    private func bandPlot() throws -> LinePlot {
        var plot = LinePlot(title: "mean ± sd", xLabel: "epoch", yLabel: "MSE", width: 600, height: 400)
        let x = (0..<11).map(Double.init)
        let mean = x.map { _ in 1.0 }
        try plot.add(PlotSeries(name: "relu", x: x, y: mean, band: PlotBand(center: mean, spread: x.map { _ in 4 })))
        plot.addSeries(name: "plain", x: x, y: x.map { $0 / 10 })
        return plot
    }

    @Test("a band is a translucent polygon in the series' colour, included in the y range")
    func bandSVGAndRange() throws {
        let plot = try bandPlot()
        let svg = try parseSVG(plot.svg())
        let bands = svg.with(class: "band")
        #expect(bands.count == 1)
        #expect(bands.first?["fill"] == RGBColor.palette[0].hex)
        #expect(bands.first?["fill-opacity"] == "0.25")
        // 11 points along the top, 11 back along the bottom, closed.
        let d = try #require(bands.first?["d"])
        #expect(d.split(separator: " ").filter { $0.hasPrefix("M") || $0.hasPrefix("L") }.count == 22 && d.hasSuffix("Z"))
        // The band reaches 5 and −3 while the lines stay in 0...1: the axis must cover the band.
        let numbers = svg.texts.compactMap(Double.init)
        #expect(numbers.min()! <= -3 && numbers.contains { $0 >= 5 }, "\(svg.texts)")
        let top = plot.pixelPosition(x: 5, y: 5), bottom = plot.pixelPosition(x: 5, y: -3)
        #expect(top.y > 0 && bottom.y < 400 && top.y < bottom.y)
        // A gap in x splits the band in two.
        var gappy = LinePlot()
        try gappy.add(PlotSeries(name: "g", x: [0, 1, .nan, 3, 4], y: [1, 1, 1, 1, 1],
                                 band: PlotBand(lower: [0, 0, 0, 0, 0], upper: [2, 2, 2, 2, 2])))
        #expect(try parseSVG(gappy.svg()).with(class: "band").count == 2)
    }

    @Test("PNG: the band is blended into the raster where it must be, and only there")
    func bandPNG() throws {
        let plot = try bandPlot()
        let png = try Decoded(plot.pngData())
        #expect(png.image.width == 600 && png.image.height == 400)
        let fill = blended(RGBColor.palette[0], 0.25)
        let fillOnGrid = blended(RGBColor.palette[0], 0.25, over: gridColor)
        // Inside the band (between the line at 1 and the edge at 5), away from the other series.
        let inside = plot.pixelPosition(x: 2.3, y: 3.3)
        let c = png.color(inside.x, inside.y)
        #expect(c == fill || c == fillOnGrid, "band pixel \(c.hex), expected \(fill.hex)")
        #expect(png.count(fill) > 5000)
        // Above the band: background or grid only.
        let above = plot.pixelPosition(x: 2.3, y: 5.6)
        #expect([RGBColor.white, gridColor].contains(png.color(above.x, above.y)))
        // The line itself is drawn over the band in the full colour.
        #expect(png.count(RGBColor.palette[0]) > 200)
    }

    @Test("band validation: lengths, finiteness")
    func bandValidation() throws {
        #expect(throws: PlotDataError.self) { try PlotBand(lower: [0, 1], upper: [1]) }
        #expect(throws: PlotDataError.self) { try PlotBand(lower: [0, .nan], upper: [1, 2]) }
        #expect(throws: PlotDataError.self) { try PlotBand(lower: [0, 1], upper: [1, .infinity]) }
        #expect(throws: PlotDataError.self) { try PlotBand(center: [0, 1], spread: [1]) }
        let band = try PlotBand(lower: [0, 1, 2], upper: [1, 2, 3])
        #expect {
            try PlotSeries(name: "s", x: [0, 1], y: [0, 1], band: band)
        } throws: { error in
            "\(error)".contains("'s'") && "\(error)".contains("3") && "\(error)".contains("2")
        }
        #expect(throws: PlotDataError.self) { try PlotSeries(name: "s", x: [0, 1, 2], y: [0, 1], band: band) }
        var s = try PlotSeries(name: "s", x: [0, 1, 2], y: [0, 1, 2], band: band)
        #expect(s.band == band)
        try s.setBand(nil)
        #expect(s.band == nil)
        #expect(throws: PlotDataError.self) { try s.setBand(PlotBand(lower: [0], upper: [0])) }
    }

    // MARK: Category plots

    @Test("box summary: interpolated quartiles, Tukey whiskers")
    func boxSummary() {
        let b = BoxSummary([9, 2, 3, 4, 5, 6, 7, 8, 1, 100])
        #expect(b.lowerQuartile == 3.25 && b.median == 5.5 && b.upperQuartile == 7.75)
        // IQR 4.5: the fences are −3.5 and 14.5, so 100 is beyond the upper whisker, which stops at 9.
        #expect(b.lowerWhisker == 1 && b.upperWhisker == 9)
        let one = BoxSummary([2])
        #expect(one.lowerQuartile == 2 && one.median == 2 && one.upperQuartile == 2 && one.upperWhisker == 2)
    }

    private func armsPlot(names: [String] = ["relu", "p-e2-relu", "tanh"], width: Int = 800) throws -> CategoryPlot {
        var plot = CategoryPlot(title: "Test MSE", yLabel: "MSE")
        plot.width = width
        for (i, name) in names.enumerated() {
            try plot.add(name: name, values: [1, 2, 3, 4, 5].map { $0 + Double(i) * 0.1 })
        }
        return plot
    }

    @Test("category plot SVG: one box, median and two whiskers per category, a point per value, the names")
    func categorySVG() throws {
        var plot = try armsPlot()
        try plot.add(name: "wild", values: [1, 1.5, 2, 2.5, 30, 2.2, 1.8])
        let svg = try parseSVG(plot.svg())
        #expect(svg.with(class: "box").count == 4)
        #expect(svg.with(class: "median").count == 4)
        #expect(svg.with(class: "whisker").count == 8 && svg.with(class: "cap").count == 8)
        #expect(svg.with(class: "point").count == 3 * 5 + 7)
        for name in ["relu", "p-e2-relu", "tanh", "wild", "Test MSE", "MSE"] {
            #expect(svg.texts.contains(name), "\(name) missing")
        }
        // Each box's fill is its category's colour, translucent.
        let boxes = svg.with(class: "box")
        #expect(boxes.map { $0["fill"] } == RGBColor.palette.prefix(4).map(\.hex))
        #expect(boxes.allSatisfy { $0["fill-opacity"] == "0.25" })
        // Points of one category are spread sideways (no two at the same x) and stay within the box's width.
        let points = svg.with(class: "point").prefix(5).compactMap { $0["cx"].flatMap(Double.init) }
        let box = try #require(boxes.first)
        let x0 = try #require(box["x"].flatMap(Double.init)), bw = try #require(box["width"].flatMap(Double.init))
        #expect(Set(points).count == 5 && points.allSatisfy { $0 > x0 && $0 < x0 + bw })
    }

    @Test("the jitter pattern is fixed, spread over −0.5..<0.5")
    func jitter() {
        let j = (0..<50).map(CategoryPlot.jitter)
        #expect(j.allSatisfy { $0 >= -0.5 && $0 < 0.5 })
        #expect(Set(j).count == 50)
        // Any ten consecutive offsets cover both sides.
        #expect(j.prefix(10).contains { $0 < -0.25 } && j.prefix(10).contains { $0 > 0.25 })
        #expect(j == (0..<50).map(CategoryPlot.jitter))
    }

    @Test("category PNG: box fill in the category's colour between the quartiles")
    func categoryPNG() throws {
        let plot = try armsPlot()
        let png = try Decoded(plot.pngData())
        #expect(png.image.width == 800 && png.image.height == 500)
        for (i, color) in RGBColor.palette.prefix(3).enumerated() {
            // Values 1...5 (+0.1 i): quartiles at 2 and 4, median 3. Halfway between the points at 2 and 3 lies
            // box fill only.
            let p = plot.pixelPosition(category: i, value: 2.4 + Double(i) * 0.1)
            let c = png.color(p.x, p.y)
            #expect(c == blended(color, 0.25) || c == blended(color, 0.25, over: gridColor), "category \(i): \(c.hex)")
            // Above the upper whisker (at 5): no box.
            let q = plot.pixelPosition(category: i, value: 5.4 + Double(i) * 0.1)
            #expect([RGBColor.white, gridColor].contains(png.color(q.x, q.y)))
            #expect(png.count(color) > 100, "points and outline of category \(i)")
        }
    }

    @Test("category names never overlap: short ones lie flat, long ones are rotated", arguments: [400, 800])
    func categoryLabels(width: Int) throws {
        // Three short names lie flat in 800 px (in 400, "p-e2-relu" is wider than its slot).
        let short = try armsPlot(width: 800).categoryLabelExtents()
        #expect(short.count == 3 && short.allSatisfy { $0.bottom - $0.top == 16 && $0.right - $0.left > 16 })
        let names = (0..<9).map { "p-e2-relu-arm-with-a-long-name-\($0)" }
        let plot = try armsPlot(names: names, width: width)
        let long = plot.categoryLabelExtents()
        #expect(!long.isEmpty)
        for e in long {
            #expect(e.bottom - e.top > e.right - e.left, "\(e.text) not rotated")
            #expect(e.left >= 0 && e.right <= width && e.bottom <= 500, "\(e.text) outside the image")
        }
        for (a, b) in zip(long, long.dropFirst()) {
            #expect(a.right <= b.left, "\(a.text) overlaps \(b.text)")
        }
        // Names longer than a third of the height lose their middle, visibly; their distinct ends stay.
        #expect(long.allSatisfy { $0.text.contains("..") && $0.bottom - $0.top <= 500 / 3 })
        #expect(Set(long.map(\.text)).count == long.count && long[3].text.hasPrefix("p-e2-") && long[3].text.hasSuffix("-3"))
        let svg = try parseSVG(plot.svg())
        #expect(svg.with(class: "category").count == long.count)
        #expect(svg.with(class: "category").allSatisfy { $0["transform"]?.hasPrefix("rotate(-90") == true })
        // And the PNG has no ink in the last column (nothing pushed off the right edge).
        let c = plot.raster()
        #expect((0..<c.height).allSatisfy { c.pixel(x: c.width - 1, y: $0) == .white })
    }

    @Test("category validation: empty categories and non-finite values are refused")
    func categoryValidation() throws {
        var plot = CategoryPlot()
        #expect {
            try plot.add(name: "relu", values: [])
        } throws: { error in
            "\(error)".contains("relu") && "\(error)".contains("no values")
        }
        #expect(throws: PlotDataError.self) { try plot.add(name: "x", values: [1, .nan]) }
        #expect(throws: PlotDataError.self) { try plot.add(name: "x", values: [-.infinity]) }
        #expect(plot.categories.isEmpty)
        #expect(throws: PlotDataError.self) { try PlotSample(name: "h", values: []) }
        // An empty plot still renders (a frame, no boxes).
        #expect(try parseSVG(plot.svg()).with(class: "box").isEmpty)
        _ = plot.raster()
    }

    // MARK: Histograms

    @Test("histogram bins: common range, given or automatic count, last bin closed")
    func histogramBins() throws {
        var h = Histogram(title: "alpha", xLabel: "alpha")
        try h.add(name: "a", values: (0...10).map(Double.init))
        try h.add(name: "b", values: [2, 2.5, 3])
        h.binCount = 5
        let b = h.bins()
        #expect(b.edges == [0, 2, 4, 6, 8, 10])
        #expect(b.counts == [[2, 2, 2, 2, 3], [0, 3, 0, 0, 0]])
        // Sturges: ⌈log₂ 16⌉ + 1 = 5 bins, ⌈log₂ 17⌉ + 1 = 6.
        h.binCount = nil
        h.series = [try PlotSample(name: "s", values: (0..<16).map(Double.init))]
        #expect(h.bins().counts[0].count == 5)
        h.series = [try PlotSample(name: "s", values: (0..<17).map(Double.init))]
        #expect(h.bins().counts[0].count == 6)
        // An explicit range leaves values outside it out; one value alone still gets a bin with a width.
        h.range = 0...4
        h.binCount = 2
        #expect(h.bins().counts == [[2, 3]])
        h.range = nil
        h.series = [try PlotSample(name: "s", values: [3, 3])]
        let flat = h.bins()
        #expect(flat.edges.first! < 3 && flat.edges.last! > 3 && flat.counts[0].reduce(0, +) == 2)
    }

    private func alphaHistogram(style: Histogram.Style = .bars) throws -> Histogram {
        var h = Histogram(title: "alpha, layer 1", xLabel: "alpha")
        h.style = style
        h.binCount = 5
        // Bins of 0.5 over 0...2.5: relu [2, 3, 2, 0, 0], p-e2-relu [0, 0, 0, 3, 3] (2.5 in the closed last bin).
        try h.add(name: "relu", values: [0, 0.25, 0.5, 0.5, 0.75, 1, 1])
        try h.add(name: "p-e2-relu", values: [1.5, 1.75, 1.75, 2, 2, 2.5])
        return h
    }

    @Test("histogram SVG: a bar per non-empty bin and series, an outline per series, a legend")
    func histogramSVG() throws {
        let h = try alphaHistogram()
        #expect(h.bins().counts == [[2, 3, 2, 0, 0], [0, 0, 0, 3, 3]])
        let nonEmpty = 5
        let svg = try parseSVG(h.svg())
        let bars = svg.with(class: "bin")
        #expect(bars.count == nonEmpty)
        #expect(bars.filter { $0["fill"] == RGBColor.palette[0].hex }.count == 3)
        #expect(bars.allSatisfy { $0["fill-opacity"] == "0.35" })
        #expect(svg.with(class: "outline").count == 2)
        #expect(svg.texts.contains("relu") && svg.texts.contains("p-e2-relu") && svg.texts.contains("alpha"))
        // The y axis reaches the largest count.
        #expect(svg.texts.contains("3"))
        let steps = try parseSVG(try alphaHistogram(style: .steps).svg())
        #expect(steps.with(class: "bin").isEmpty && steps.with(class: "outline").count == 2)
    }

    @Test("histogram PNG: translucent bars in each series' colour")
    func histogramPNG() throws {
        let h = try alphaHistogram()
        let png = try Decoded(h.pngData())
        #expect(png.image.width == 800 && png.image.height == 500)
        for color in RGBColor.palette.prefix(2) {
            #expect(png.count(blended(color, 0.35)) > 3000, "bars of \(color.hex)")
        }
        let steps = try Decoded(alphaHistogram(style: .steps).pngData())
        #expect(steps.count(blended(RGBColor.palette[0], 0.35)) == 0)
        #expect(steps.count(RGBColor.palette[0]) > 200)
    }

    // MARK: All kinds

    @Test("two renders are identical to the byte; files by extension, atomically")
    func deterministicAndFiles() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let band = try bandPlot(), arms = try armsPlot(), hist = try alphaHistogram()
        #expect(try band.pngData() == band.pngData() && band.svg() == band.svg())
        #expect(try arms.pngData() == arms.pngData() && arms.svg() == arms.svg())
        #expect(try hist.pngData() == hist.pngData() && hist.svg() == hist.svg())
        #expect(try armsPlot().svg() == arms.svg())
        try arms.write(to: dir.file("arms.png"))
        try arms.write(to: dir.file("arms.svg"))
        try hist.write(to: dir.file("hist.PNG"))
        try hist.write(to: dir.file("hist.svg"))
        #expect(try readPNG(path: dir.file("arms.png"), channels: 3).pixels == decodePNG(arms.pngData(), name: "").pixels)
        #expect(try String(contentsOfFile: dir.file("hist.svg"), encoding: .utf8) == hist.svg())
        #expect(try readPNG(path: dir.file("hist.PNG"), channels: 3).width == 800)
        #expect(throws: FileWriteError.self) { try arms.write(to: dir.file("arms.gif")) }
        #expect(throws: FileWriteError.self) { try hist.write(to: dir.file("hist")) }
        #expect(Histogram.Format(path: "a/b.SVG") == .svg && CategoryPlot.Format(path: "x.png") == .png)
        #expect(LinePlot.Format(path: "a.b/c") == nil)
        // Empty plots still render: a frame and axes.
        let empty = Histogram()
        #expect(try parseSVG(empty.svg()).with(class: "bin").isEmpty)
        #expect(try Decoded(empty.pngData()).image.width == 800)
        #expect(dir.contents() == ["arms.png", "arms.svg", "hist.PNG", "hist.svg"])
    }
}
