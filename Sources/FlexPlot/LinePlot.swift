import FlexIO
import FlexImageIO

/// One named line of a `LinePlot`.
public struct PlotSeries: Sendable {
    /// The legend entry.
    public var name: String
    public var x: [Double]
    public var y: [Double]
    /// `nil`: the next palette colour.
    public var color: RGBColor?
    /// Line width in pixels.
    public var lineWidth: Double
    /// A shaded range around the line (e.g. mean ± one standard deviation across runs), one lower and upper
    /// value per x, drawn translucent in the series' colour beneath the line. Set it with `setBand(_:)`,
    /// which checks it against x.
    public private(set) var band: PlotBand?

    /// A series of points (x[i], y[i]). Non-finite values break the line. Precondition: equal counts.
    public init(name: String, x: [Double], y: [Double], color: RGBColor? = nil, lineWidth: Double = 2) {
        precondition(x.count == y.count, "PlotSeries '\(name)': \(x.count) x values but \(y.count) y values")
        self.name = name
        self.x = x
        self.y = y
        self.color = color
        self.lineWidth = lineWidth
    }

    /// A series with a band. Throws when x and y, or the band and x, differ in length (the data come from
    /// files, so a mismatch is an input error here, not a programming error).
    public init(name: String, x: [Double], y: [Double], band: PlotBand, color: RGBColor? = nil,
                lineWidth: Double = 2) throws(PlotDataError) {
        guard x.count == y.count else {
            throw PlotDataError("series '\(name)': \(x.count) x values but \(y.count) y values")
        }
        self.init(name: name, x: x, y: y, color: color, lineWidth: lineWidth)
        try setBand(band)
    }

    /// Sets (or, with `nil`, removes) the band; throws unless it has one value per x.
    public mutating func setBand(_ band: PlotBand?) throws(PlotDataError) {
        if let band, band.count != x.count {
            throw PlotDataError("series '\(name)': the band has \(band.count) values but there are \(x.count) x values")
        }
        self.band = band
    }
}

/// A shaded range around a series: at each x, from `lower` to `upper` (either may be the larger).
public struct PlotBand: Sendable, Equatable {
    public let lower: [Double]
    public let upper: [Double]

    /// Throws unless the two edges have the same length and every value is finite: a band with a hole would
    /// need a rule for closing it, and a NaN standard deviation is a sign of a broken run worth hearing about.
    public init(lower: [Double], upper: [Double]) throws(PlotDataError) {
        guard lower.count == upper.count else {
            throw PlotDataError("band: \(lower.count) lower values but \(upper.count) upper values")
        }
        try requireFinite(lower, "band lower edge")
        try requireFinite(upper, "band upper edge")
        self.lower = lower
        self.upper = upper
    }

    /// `center[i] ± spread[i]`, e.g. mean ± standard deviation.
    public init(center: [Double], spread: [Double]) throws(PlotDataError) {
        guard center.count == spread.count else {
            throw PlotDataError("band: \(center.count) centre values but \(spread.count) spread values")
        }
        try self.init(lower: zip(center, spread).map { $0 - $1 }, upper: zip(center, spread).map { $0 + $1 })
    }

    public var count: Int { lower.count }

    /// How opaque the band's fill is: light enough that grid lines and other bands show through.
    static let opacity = 0.25
}

/// A shaded stretch of the x axis with a label, drawn behind the series (e.g. a backtest's train, validation
/// and test splits).
public struct PlotSpan: Sendable, Equatable {
    public var label: String
    /// x range in data units (clipped to the axis when drawn).
    public var from: Double
    public var to: Double
    public var color: RGBColor

    public init(label: String, from: Double, to: Double, color: RGBColor) {
        self.label = label
        self.from = Swift.min(from, to)
        self.to = Swift.max(from, to)
        self.color = color
    }

    /// Light fills that keep the series readable: train, validation, test.
    public static let splitColors = [RGBColor(red: 0xE8, green: 0xF0, blue: 0xFA),
                                     RGBColor(red: 0xFB, green: 0xF0, blue: 0xDC),
                                     RGBColor(red: 0xE6, green: 0xF4, blue: 0xE6)]
}

/// A line plot with a title, axis labels, automatic nice ticks, a grid and a legend, rendered to SVG
/// text or to a PNG raster (with an embedded 5x7 bitmap font, so PNG text is ASCII only; other
/// characters draw as `?`).
///
///     var plot = LinePlot(title: "Loss", xLabel: "epoch", yLabel: "MSE")
///     plot.add(PlotSeries(name: "train", x: epochs, y: train))
///     try plot.write(to: "loss.png")   // or .svg
public struct LinePlot: RenderablePlot {
    public var title: String
    public var xLabel: String
    public var yLabel: String
    public var series: [PlotSeries]
    /// Image size in pixels (SVG user units).
    public var width: Int
    public var height: Int
    /// Fixed axis ranges; `nil` fits the data (widened to nice tick bounds).
    public var xRange: ClosedRange<Double>?
    public var yRange: ClosedRange<Double>?
    /// Size of one bitmap-font pixel in the PNG (2 → 10x14-pixel glyphs); also sets SVG font sizes.
    public var textScale: Int
    /// What the x values are: `.integer` for epochs (whole-number ticks), `.date` for days since 1970-01-01
    /// (calendar labels).
    public var xAxis: AxisKind = .numeric
    /// Shaded x ranges with labels, drawn behind the grid and the series.
    public var spans: [PlotSpan] = []

    public init(title: String = "", xLabel: String = "", yLabel: String = "", series: [PlotSeries] = [],
                width: Int = 800, height: Int = 500, textScale: Int = 2) {
        self.title = title
        self.xLabel = xLabel
        self.yLabel = yLabel
        self.series = series
        self.width = width
        self.height = height
        self.textScale = textScale
    }

    /// Appends a series.
    public mutating func add(_ s: PlotSeries) { series.append(s) }

    /// Appends a series built from points.
    public mutating func addSeries(name: String, x: [Double], y: [Double], color: RGBColor? = nil) {
        series.append(PlotSeries(name: name, x: x, y: y, color: color))
    }

    /// The colour each series is drawn in.
    public var resolvedColors: [RGBColor] {
        resolveColors(series.map(\.color))
    }

    // MARK: Layout (shared by SVG and PNG)

    /// The x tick labels as drawn in the PNG, with the pixel columns each covers (`left ..< right`): tests
    /// check that every label lies within the image.
    public func xTickLabelExtents() -> [(text: String, left: Int, right: Int)] {
        layout().xTickLabels().map { ($0.text, $0.left, $0.right) }
    }

    /// Where the data point (x, y) lands in the PNG (the pixel containing it), for tests and annotations.
    public func pixelPosition(x: Double, y: Double) -> (x: Int, y: Int) {
        let L = layout()
        return (Int(L.px(x).rounded(.down)), Int(L.py(y).rounded(.down)))
    }

    /// The finite range of `values` over the drawn points (both coordinates finite), bands included when `bands`.
    func dataRange(_ values: (PlotSeries) -> [Double], bands: Bool = false) -> (Double, Double)? {
        var lo = Double.infinity, hi = -Double.infinity
        for s in series {
            let xs = values(s)
            for (i, v) in xs.enumerated() where v.isFinite && s.x[i].isFinite && s.y[i].isFinite {
                lo = Swift.min(lo, v)
                hi = Swift.max(hi, v)
            }
            // A band counts where its x is finite, even where the line has a gap: it is drawn there.
            if bands, let band = s.band {
                for i in 0..<Swift.min(band.count, s.x.count) where s.x[i].isFinite {
                    lo = Swift.min(lo, band.lower[i], band.upper[i])
                    hi = Swift.max(hi, band.lower[i], band.upper[i])
                }
            }
        }
        return lo <= hi ? (lo, hi) : nil
    }

    func layout() -> PlotLayout {
        let (xlo, xhi) = xRange.map { ($0.lowerBound, $0.upperBound) } ?? dataRange { $0.x } ?? (0, 1)
        let (ylo, yhi) = yRange.map { ($0.lowerBound, $0.upperBound) } ?? dataRange({ $0.y }, bands: true) ?? (0, 1)
        return PlotLayout(width: width, height: height, textScale: textScale, title: title, xLabel: xLabel,
                          yLabel: yLabel, x: .numeric(lower: xlo, upper: xhi, kind: xAxis), y: (ylo, yhi),
                          legend: zip(series, resolvedColors).map { ($0.name, $1) })
    }

    /// A band's outline as polygons in pixels, one per run of finite x: along the upper edge, back along the lower.
    func bandPolygons(_ s: PlotSeries, _ L: PlotLayout) -> [[(x: Double, y: Double)]] {
        guard let band = s.band else { return [] }
        var polygons: [[(x: Double, y: Double)]] = []
        var run: [Int] = []
        func flush() {
            if run.count >= 2 {
                polygons.append(run.map { (L.px(s.x[$0]), L.py(band.upper[$0])) }
                    + run.reversed().map { (L.px(s.x[$0]), L.py(band.lower[$0])) })
            }
            run = []
        }
        for i in 0..<Swift.min(band.count, s.x.count) {
            if s.x[i].isFinite { run.append(i) } else { flush() }
        }
        flush()
        return polygons
    }

    // MARK: PNG

    /// Renders the plot to an RGB raster.
    public func raster() -> RasterCanvas {
        let L = layout()
        var c = L.canvas()

        // Spans (behind everything else), labelled at the top of the plot area.
        let spanColumns = spans.map { span in
            (span, Swift.max(L.plotX0 + 1, Int(L.px(span.from).rounded(.down))),
             Swift.min(L.plotX1 - 1, Int(L.px(span.to).rounded(.down))))
        }
        for (span, x0, x1) in spanColumns where x0 <= x1 {
            c.fillRect(x0: x0, y0: L.plotY0 + 1, x1: x1, y1: L.plotY1 - 1, color: span.color)
        }
        L.drawAxes(on: &c)
        for (span, x0, x1) in spanColumns {
            let tw = RasterCanvas.textWidth(span.label, scale: L.scale)
            guard x0 <= x1, tw <= x1 - x0 - 4 else { continue }  // a label that does not fit is left out
            c.text(span.label, x: (x0 + x1) / 2 - tw / 2, y: L.plotY0 + 4, scale: L.scale, color: PlotInk.text)
        }

        // Bands, then lines, clipped to the frame: every band before any line, so no band veils another's line.
        let colors = resolvedColors
        for (i, ser) in series.enumerated() {
            for polygon in bandPolygons(ser, L) {
                c.fillPolygon(polygon, color: colors[i], opacity: PlotBand.opacity, clip: L.rasterClip)
            }
        }
        for (i, ser) in series.enumerated() {
            let pts: [(x: Double, y: Double)?] = zip(ser.x, ser.y).map { x, y in
                x.isFinite && y.isFinite ? (L.px(x) + 0.5, L.py(y) + 0.5) : nil
            }
            c.polyline(pts, color: colors[i], lineWidth: ser.lineWidth, clip: L.rasterClip)
        }
        L.drawAnnotations(on: &c)
        return c
    }

    // MARK: SVG

    /// The plot as a standalone SVG document. Series are `<path>` elements (one per series, and one with
    /// `class="band"` per stretch of a band); the frame, grid, ticks and legend swatches are `<line>`/`<rect>`
    /// elements.
    public func svg() -> String {
        let L = layout()
        let f = L.f
        var out = L.svgOpen()
        var spanLabels = ""
        for span in spans {
            let x0 = Swift.max(Double(L.plotX0), L.px(span.from)), x1 = Swift.min(Double(L.plotX1), L.px(span.to))
            guard x0 < x1 else { continue }
            out += "<rect class=\"span\" x=\"\(f(x0))\" y=\"\(L.plotY0)\" width=\"\(f(x1 - x0))\" "
                + "height=\"\(L.plotY1 - L.plotY0)\" fill=\"\(span.color.hex)\"><title>\(xmlEscape(span.label))</title></rect>\n"
            if Double(RasterCanvas.textWidth(span.label, scale: L.scale)) <= x1 - x0 - 4 {
                spanLabels += "<text x=\"\(f((x0 + x1) / 2))\" y=\"\(L.plotY0 + 4 + L.fontSize)\" "
                    + "text-anchor=\"middle\">\(xmlEscape(span.label))</text>\n"
            }
        }
        out += L.svgAxes() + L.svgText(extra: spanLabels)

        // Bands, then series, clipped to the frame.
        out += L.svgClippedGroup(attributes: "fill=\"none\" stroke-linejoin=\"round\" stroke-linecap=\"round\"")
        let colors = resolvedColors
        for (i, ser) in series.enumerated() {
            for polygon in bandPolygons(ser, L) {
                out += "<path class=\"band\" d=\"\(L.pathData(polygon)) Z\" fill=\"\(colors[i].hex)\" fill-opacity=\"\(PlotBand.opacity)\" "
                    + "stroke=\"none\"><title>\(xmlEscape(ser.name))</title></path>\n"
            }
        }
        for (i, ser) in series.enumerated() {
            var d = ""
            var penDown = false
            for (x, y) in zip(ser.x, ser.y) {
                guard x.isFinite, y.isFinite else { penDown = false; continue }
                let px = L.px(x), py = L.py(y)
                guard abs(px) < 1e7, abs(py) < 1e7 else { penDown = false; continue }
                d += (d.isEmpty ? "" : " ") + (penDown ? "L" : "M") + "\(f(px)) \(f(py))"
                penDown = true
            }
            out += "<path d=\"\(d)\" stroke=\"\(colors[i].hex)\" stroke-width=\"\(f(ser.lineWidth))\">"
                + "<title>\(xmlEscape(ser.name))</title></path>\n"
        }
        out += "</g>\n" + L.svgLegend() + "</svg>\n"
        return out
    }
}

/// Escapes text for XML character data and attribute values.
public func xmlEscape(_ s: String) -> String {
    var out = ""
    out.reserveCapacity(s.utf8.count)
    for ch in s.unicodeScalars {
        switch ch {
        case "&": out += "&amp;"
        case "<": out += "&lt;"
        case ">": out += "&gt;"
        case "\"": out += "&quot;"
        case "'": out += "&apos;"
        default:
            // Control characters other than tab/newline are not allowed in XML 1.0.
            if ch.value < 0x20 && ch != "\t" && ch != "\n" && ch != "\r" { out += "?" } else { out.unicodeScalars.append(ch) }
        }
    }
    return out
}
