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

    /// A series of points (x[i], y[i]). Non-finite values break the line. Precondition: equal counts.
    public init(name: String, x: [Double], y: [Double], color: RGBColor? = nil, lineWidth: Double = 2) {
        precondition(x.count == y.count, "PlotSeries '\(name)': \(x.count) x values but \(y.count) y values")
        self.name = name
        self.x = x
        self.y = y
        self.color = color
        self.lineWidth = lineWidth
    }
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
public struct LinePlot: Sendable {
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
        series.enumerated().map { i, s in s.color ?? RGBColor.palette[i % RGBColor.palette.count] }
    }

    // MARK: Layout (shared by SVG and PNG)

    struct LegendItem {
        var name: String
        var color: RGBColor
        var x: Int
        var y: Int
    }

    struct Layout {
        var plotX0: Int, plotY0: Int, plotX1: Int, plotY1: Int
        var xTicks: AxisTicks
        var yTicks: AxisTicks
        var charHeight: Int
        var titleY: Int
        var legend: [LegendItem]
        var xLabelY: Int
        var yLabelX: Int
        static let tickLength = 5
        static let legendSwatch = 24

        // Pixel positions are clamped to ±1e6 (far outside any canvas, so lines keep their direction) and
        // infinities to those bounds, so no value from a file can make a pixel coordinate unrepresentable.
        func px(_ x: Double) -> Double {
            clampPixel(Double(plotX0) + (x - xTicks.lower) / (xTicks.upper - xTicks.lower) * Double(plotX1 - plotX0))
        }
        func py(_ y: Double) -> Double {
            clampPixel(Double(plotY1) - (y - yTicks.lower) / (yTicks.upper - yTicks.lower) * Double(plotY1 - plotY0))
        }
        func clampPixel(_ v: Double) -> Double { v.isNaN ? 0 : Swift.min(Swift.max(v, -1e6), 1e6) }

        /// Each x tick label with the pixel columns it covers in the raster (centred on its tick).
        func xTickLabels(scale: Int) -> [(text: String, tick: Int, left: Int, right: Int)] {
            zip(xTicks.values, xTicks.labels).map { v, label in
                let x = Int(px(v).rounded(.down))
                let tw = RasterCanvas.textWidth(label, scale: scale)
                return (label, x, x - tw / 2, x - tw / 2 + tw)
            }
        }
    }

    /// The x tick labels as drawn in the PNG, with the pixel columns each covers (`left ..< right`): tests
    /// check that every label lies within the image.
    public func xTickLabelExtents() -> [(text: String, left: Int, right: Int)] {
        layout().xTickLabels(scale: Swift.max(1, textScale)).map { ($0.text, $0.left, $0.right) }
    }

    func dataRange(_ values: (PlotSeries) -> [Double]) -> (Double, Double)? {
        var lo = Double.infinity, hi = -Double.infinity
        for s in series {
            let xs = values(s)
            for (i, v) in xs.enumerated() where v.isFinite && s.x[i].isFinite && s.y[i].isFinite {
                lo = Swift.min(lo, v)
                hi = Swift.max(hi, v)
            }
        }
        return lo <= hi ? (lo, hi) : nil
    }

    func layout() -> Layout {
        let s = Swift.max(1, textScale)
        let ch = BitmapFont.glyphHeight * s
        let pad = 12
        let w = Swift.max(width, 200), h = Swift.max(height, 150)

        let (xlo, xhi) = xRange.map { ($0.lowerBound, $0.upperBound) } ?? dataRange { $0.x } ?? (0, 1)
        let (ylo, yhi) = yRange.map { ($0.lowerBound, $0.upperBound) } ?? dataRange { $0.y } ?? (0, 1)

        var cursor = pad
        let titleY = cursor
        if !title.isEmpty { cursor += ch + 10 }

        // Bottom margin: tick labels, then the x label.
        let plotY1 = h - pad - (xLabel.isEmpty ? 0 : ch + 10) - ch - 8 - Layout.tickLength
        let xLabelY = h - pad - ch

        // Legend rows are laid out once the left margin is known; estimate its height first.
        let colors = resolvedColors
        func legendRows(x0: Int, x1: Int) -> [LegendItem] {
            var items: [LegendItem] = []
            var x = x0, y = cursor
            for (i, ser) in series.enumerated() {
                let itemWidth = Layout.legendSwatch + 8 + RasterCanvas.textWidth(ser.name, scale: s)
                if x > x0, x + itemWidth > x1 {
                    x = x0
                    y += ch + 8
                }
                items.append(LegendItem(name: ser.name, color: colors[i], x: x, y: y))
                x += itemWidth + 24
            }
            return items
        }

        // y ticks: about one per 70 px of a first guess at the plot height.
        let guessTop = cursor + (series.isEmpty ? 0 : ch + 12)
        let yTarget = Swift.max(2, Swift.min(10, (plotY1 - guessTop) / 70))
        let yTicks = AxisTicks(min: ylo, max: yhi, target: yTarget)
        let tickLabelWidth = yTicks.labels.map { RasterCanvas.textWidth($0, scale: s) }.max() ?? 0
        let yLabelX = pad
        let plotX0 = pad + (yLabel.isEmpty ? 0 : ch + 10) + tickLabelWidth + 6 + Layout.tickLength

        // x ticks: the right margin must hold the last tick label, which is centred on its tick and so reaches
        // half its width past it; the ticks depend on the plot width, so the two are settled together.
        let xTicksProbe = AxisTicks(min: xlo, max: xhi, target: 6, kind: xAxis)
        let maxXLabel = xTicksProbe.labels.map { RasterCanvas.textWidth($0, scale: s) }.max() ?? 0
        var plotX1 = w - 20
        var xTicks = xTicksProbe
        for _ in 0..<4 {
            let xTarget = Swift.max(2, Swift.min(10, (plotX1 - plotX0) / Swift.max(80, maxXLabel + 30)))
            xTicks = AxisTicks(min: xlo, max: xhi, target: xTarget, kind: xAxis)
            let probe = Layout(plotX0: plotX0, plotY0: 0, plotX1: plotX1, plotY1: 1, xTicks: xTicks, yTicks: yTicks,
                               charHeight: ch, titleY: 0, legend: [], xLabelY: 0, yLabelX: 0)
            let overflow = probe.xTickLabels(scale: s).map { $0.right }.max().map { $0 - (w - 4) } ?? 0
            if overflow <= 0 { break }
            plotX1 -= overflow
        }

        let legend = legendRows(x0: plotX0, x1: plotX1)
        let legendBottom = legend.map { $0.y + ch }.max() ?? (cursor - 4)
        let plotY0 = legendBottom + 12 + ch / 2

        return Layout(plotX0: plotX0, plotY0: plotY0, plotX1: plotX1, plotY1: Swift.max(plotY1, plotY0 + 20),
                      xTicks: xTicks, yTicks: yTicks, charHeight: ch, titleY: titleY, legend: legend,
                      xLabelY: xLabelY, yLabelX: yLabelX)
    }

    // MARK: PNG

    /// Renders the plot to an RGB raster.
    public func raster() -> RasterCanvas {
        let L = layout()
        let s = Swift.max(1, textScale)
        let ch = L.charHeight
        let w = Swift.max(width, 200), h = Swift.max(height, 150)
        var c = RasterCanvas(width: w, height: h)
        let grid = RGBColor(red: 0xE3, green: 0xE3, blue: 0xE3)
        let axis = RGBColor(red: 0x33, green: 0x33, blue: 0x33)
        let ink = RGBColor(red: 0x22, green: 0x22, blue: 0x22)

        // Spans (behind everything else), labelled at the top of the plot area.
        for span in spans {
            let x0 = Swift.max(L.plotX0 + 1, Int(L.px(span.from).rounded(.down)))
            let x1 = Swift.min(L.plotX1 - 1, Int(L.px(span.to).rounded(.down)))
            guard x0 <= x1 else { continue }
            c.fillRect(x0: x0, y0: L.plotY0 + 1, x1: x1, y1: L.plotY1 - 1, color: span.color)
        }
        // Grid and ticks.
        for t in L.xTickLabels(scale: s) {
            c.vLine(x: t.tick, y0: L.plotY0, y1: L.plotY1, color: grid)
            c.vLine(x: t.tick, y0: L.plotY1, y1: L.plotY1 + Layout.tickLength, color: axis)
            c.text(t.text, x: t.left, y: L.plotY1 + Layout.tickLength + 6, scale: s, color: ink)
        }
        for span in spans {
            let x0 = Swift.max(L.plotX0 + 1, Int(L.px(span.from).rounded(.down)))
            let x1 = Swift.min(L.plotX1 - 1, Int(L.px(span.to).rounded(.down)))
            let tw = RasterCanvas.textWidth(span.label, scale: s)
            guard x0 <= x1, tw <= x1 - x0 - 4 else { continue }  // a label that does not fit is left out
            c.text(span.label, x: (x0 + x1) / 2 - tw / 2, y: L.plotY0 + 4, scale: s, color: ink)
        }
        for (v, label) in zip(L.yTicks.values, L.yTicks.labels) {
            let y = Int(L.py(v).rounded(.down))
            c.hLine(y: y, x0: L.plotX0, x1: L.plotX1, color: grid)
            c.hLine(y: y, x0: L.plotX0 - Layout.tickLength, x1: L.plotX0, color: axis)
            let tw = RasterCanvas.textWidth(label, scale: s)
            c.text(label, x: L.plotX0 - Layout.tickLength - 6 - tw, y: y - ch / 2, scale: s, color: ink)
        }
        // Frame.
        c.hLine(y: L.plotY0, x0: L.plotX0, x1: L.plotX1, color: axis)
        c.hLine(y: L.plotY1, x0: L.plotX0, x1: L.plotX1, color: axis)
        c.vLine(x: L.plotX0, y0: L.plotY0, y1: L.plotY1, color: axis)
        c.vLine(x: L.plotX1, y0: L.plotY0, y1: L.plotY1, color: axis)

        // Series, clipped to the frame.
        let colors = resolvedColors
        for (i, ser) in series.enumerated() {
            let pts: [(x: Double, y: Double)?] = zip(ser.x, ser.y).map { x, y in
                x.isFinite && y.isFinite ? (L.px(x) + 0.5, L.py(y) + 0.5) : nil
            }
            c.polyline(pts, color: colors[i], lineWidth: ser.lineWidth,
                       clip: (L.plotX0 + 1, L.plotY0 + 1, L.plotX1, L.plotY1))
        }

        // Title (bold: drawn twice, one pixel apart), legend, axis labels.
        if !title.isEmpty {
            let tw = RasterCanvas.textWidth(title, scale: s) + 1
            let x = (L.plotX0 + L.plotX1) / 2 - tw / 2
            c.text(title, x: x, y: L.titleY, scale: s, color: .black)
            c.text(title, x: x + 1, y: L.titleY, scale: s, color: .black)
        }
        for item in L.legend {
            let yMid = Double(item.y) + Double(ch) / 2
            c.polyline([(Double(item.x), yMid), (Double(item.x + Layout.legendSwatch), yMid)], color: item.color,
                       lineWidth: 3)
            c.text(item.name, x: item.x + Layout.legendSwatch + 8, y: item.y, scale: s, color: ink)
        }
        if !xLabel.isEmpty {
            let tw = RasterCanvas.textWidth(xLabel, scale: s)
            c.text(xLabel, x: (L.plotX0 + L.plotX1) / 2 - tw / 2, y: L.xLabelY, scale: s, color: ink)
        }
        if !yLabel.isEmpty {
            let tw = RasterCanvas.textWidth(yLabel, scale: s)
            c.text(yLabel, x: L.yLabelX, y: (L.plotY0 + L.plotY1) / 2 + tw / 2, scale: s, color: ink, vertical: true)
        }
        return c
    }

    /// The plot as PNG bytes (RGB, 8 bits per channel).
    public func pngData() throws(FileWriteError) -> [UInt8] {
        let c = raster()
        return try encodePNG(width: c.width, height: c.height, channels: 3, pixels: c.pixels, label: "<plot>")
    }

    // MARK: SVG

    /// The plot as a standalone SVG document. Series are `<path>` elements (one per series); the frame,
    /// grid, ticks and legend swatches are `<line>`/`<rect>` elements.
    public func svg() -> String {
        let L = layout()
        let s = Swift.max(1, textScale)
        let fontSize = 7 * s
        let w = Swift.max(width, 200), h = Swift.max(height, 150)
        func f(_ v: Double) -> String { formatC("%.2f", v) }
        var out = """
        <?xml version="1.0" encoding="UTF-8"?>
        <svg xmlns="http://www.w3.org/2000/svg" width="\(w)" height="\(h)" viewBox="0 0 \(w) \(h)" \
        font-family="DejaVu Sans, Helvetica, Arial, sans-serif" font-size="\(fontSize)">

        """
        if !title.isEmpty { out += "<title>\(xmlEscape(title))</title>\n" }
        out += "<rect x=\"0\" y=\"0\" width=\"\(w)\" height=\"\(h)\" fill=\"#ffffff\"/>\n"
        var spanLabels = ""
        for span in spans {
            let x0 = Swift.max(Double(L.plotX0), L.px(span.from)), x1 = Swift.min(Double(L.plotX1), L.px(span.to))
            guard x0 < x1 else { continue }
            out += "<rect class=\"span\" x=\"\(f(x0))\" y=\"\(L.plotY0)\" width=\"\(f(x1 - x0))\" "
                + "height=\"\(L.plotY1 - L.plotY0)\" fill=\"\(span.color.hex)\"><title>\(xmlEscape(span.label))</title></rect>\n"
            if Double(RasterCanvas.textWidth(span.label, scale: s)) <= x1 - x0 - 4 {
                spanLabels += "<text x=\"\(f((x0 + x1) / 2))\" y=\"\(L.plotY0 + 4 + fontSize)\" "
                    + "text-anchor=\"middle\">\(xmlEscape(span.label))</text>\n"
            }
        }
        out += "<g stroke=\"#e3e3e3\" stroke-width=\"1\">\n"
        for v in L.xTicks.values {
            let x = f(L.px(v).rounded(.down) + 0.5)
            out += "<line x1=\"\(x)\" y1=\"\(L.plotY0)\" x2=\"\(x)\" y2=\"\(L.plotY1)\"/>\n"
        }
        for v in L.yTicks.values {
            let y = f(L.py(v).rounded(.down) + 0.5)
            out += "<line x1=\"\(L.plotX0)\" y1=\"\(y)\" x2=\"\(L.plotX1)\" y2=\"\(y)\"/>\n"
        }
        out += "</g>\n<g stroke=\"#333333\" stroke-width=\"1\">\n"
        for v in L.xTicks.values {
            let x = f(L.px(v).rounded(.down) + 0.5)
            out += "<line x1=\"\(x)\" y1=\"\(L.plotY1)\" x2=\"\(x)\" y2=\"\(L.plotY1 + Layout.tickLength)\"/>\n"
        }
        for v in L.yTicks.values {
            let y = f(L.py(v).rounded(.down) + 0.5)
            out += "<line x1=\"\(L.plotX0 - Layout.tickLength)\" y1=\"\(y)\" x2=\"\(L.plotX0)\" y2=\"\(y)\"/>\n"
        }
        out += "</g>\n"
        out += "<rect x=\"\(L.plotX0).5\" y=\"\(L.plotY0).5\" width=\"\(L.plotX1 - L.plotX0)\" "
            + "height=\"\(L.plotY1 - L.plotY0)\" fill=\"none\" stroke=\"#333333\" stroke-width=\"1\"/>\n"

        out += "<g fill=\"#222222\">\n" + spanLabels
        for (v, label) in zip(L.xTicks.values, L.xTicks.labels) {
            out += "<text x=\"\(f(L.px(v)))\" y=\"\(L.plotY1 + Layout.tickLength + 6 + fontSize)\" "
                + "text-anchor=\"middle\">\(xmlEscape(label))</text>\n"
        }
        for (v, label) in zip(L.yTicks.values, L.yTicks.labels) {
            out += "<text x=\"\(L.plotX0 - Layout.tickLength - 6)\" y=\"\(f(L.py(v) + Double(fontSize) * 0.35))\" "
                + "text-anchor=\"end\">\(xmlEscape(label))</text>\n"
        }
        if !xLabel.isEmpty {
            out += "<text x=\"\((L.plotX0 + L.plotX1) / 2)\" y=\"\(L.xLabelY + fontSize)\" "
                + "text-anchor=\"middle\">\(xmlEscape(xLabel))</text>\n"
        }
        if !yLabel.isEmpty {
            let cx = L.yLabelX + fontSize, cy = (L.plotY0 + L.plotY1) / 2
            out += "<text x=\"\(cx)\" y=\"\(cy)\" transform=\"rotate(-90 \(cx) \(cy))\" "
                + "text-anchor=\"middle\">\(xmlEscape(yLabel))</text>\n"
        }
        if !title.isEmpty {
            out += "<text x=\"\((L.plotX0 + L.plotX1) / 2)\" y=\"\(L.titleY + fontSize)\" text-anchor=\"middle\" "
                + "font-weight=\"bold\" font-size=\"\(fontSize + 2)\">\(xmlEscape(title))</text>\n"
        }
        out += "</g>\n"

        // Series, clipped to the frame.
        out += "<defs><clipPath id=\"plot-area\"><rect x=\"\(L.plotX0)\" y=\"\(L.plotY0)\" "
            + "width=\"\(L.plotX1 - L.plotX0)\" height=\"\(L.plotY1 - L.plotY0)\"/></clipPath></defs>\n"
        out += "<g clip-path=\"url(#plot-area)\" fill=\"none\" stroke-linejoin=\"round\" stroke-linecap=\"round\">\n"
        let colors = resolvedColors
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
        out += "</g>\n"

        // Legend.
        if !L.legend.isEmpty {
            out += "<g>\n"
            for item in L.legend {
                let yMid = item.y + L.charHeight / 2
                out += "<line x1=\"\(item.x)\" y1=\"\(yMid)\" x2=\"\(item.x + Layout.legendSwatch)\" y2=\"\(yMid)\" "
                    + "stroke=\"\(item.color.hex)\" stroke-width=\"3\"/>\n"
                out += "<text x=\"\(item.x + Layout.legendSwatch + 8)\" y=\"\(item.y + fontSize)\" "
                    + "fill=\"#222222\">\(xmlEscape(item.name))</text>\n"
            }
            out += "</g>\n"
        }
        out += "</svg>\n"
        return out
    }

    // MARK: Files

    /// Output formats, chosen from a path's extension.
    public enum Format: String, Sendable, CaseIterable {
        case png, svg

        /// The format for `path`'s extension (case-insensitive), or `nil` for any other extension.
        public init?(path: String) {
            let name = path.split(separator: "/").last.map(String.init) ?? path
            guard let dot = name.lastIndex(of: "."), dot != name.startIndex else { return nil }
            self.init(rawValue: name[name.index(after: dot)...].lowercased())
        }
    }

    /// Writes the plot as PNG or SVG according to `path`'s extension, atomically (`writeFileAtomically`).
    public func write(to path: String, mode: WriteMode = .replace) throws(FileWriteError) {
        guard let format = Format(path: path) else {
            throw FileWriteError(path: path, reason: "unsupported extension; use .png or .svg")
        }
        switch format {
        case .png:
            let c = raster()
            try writePNG(path: path, width: c.width, height: c.height, channels: 3, pixels: c.pixels, mode: mode)
        case .svg:
            try writeFileAtomically(path: path, text: svg(), mode: mode)
        }
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
