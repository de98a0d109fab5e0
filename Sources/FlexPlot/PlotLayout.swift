import FlexIO
import FlexImageIO

/// Why a plot's data were refused: mismatched lengths, non-finite values, an empty category. Thrown when the
/// data are handed over, so a plot that exists can always be drawn.
public struct PlotDataError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Throws unless every value is finite; `what` names the values in the message.
func requireFinite(_ values: [Double], _ what: String) throws(PlotDataError) {
    if let i = values.firstIndex(where: { !$0.isFinite }) {
        throw PlotDataError("\(what): value \(i) is \(values[i]); only finite values can be plotted")
    }
}

/// The colours of the chrome every plot kind shares.
enum PlotInk {
    static let grid = RGBColor(red: 0xE3, green: 0xE3, blue: 0xE3)
    static let axis = RGBColor(red: 0x33, green: 0x33, blue: 0x33)
    static let text = RGBColor(red: 0x22, green: 0x22, blue: 0x22)
}

/// What runs along the bottom of a plot.
enum XAxisSpec {
    /// A numeric axis over a data range, with nice ticks of the given kind.
    case numeric(lower: Double, upper: Double, kind: AxisKind)
    /// Named slots, category `i` centred on x = i (the axis runs from −0.5 to n − 0.5).
    case categories([String])
}

/// How a legend entry shows its colour: a line (line plots) or a filled box (bars).
enum LegendSwatch { case line, box }

struct LegendItem {
    var name: String
    var color: RGBColor
    var x: Int
    var y: Int
}

/// One x tick label as drawn in the raster: the tick column and the pixel box the text covers.
struct XTickLabel {
    var text: String
    var tick: Int
    var left: Int, right: Int, top: Int, bottom: Int
}

/// The placement of everything but the data, shared by `LinePlot`, `CategoryPlot` and `Histogram` so that the
/// three kinds look alike and the margin arithmetic lives in one place. SVG and PNG are both drawn from it.
struct PlotLayout {
    var width: Int, height: Int
    /// Size of one bitmap-font pixel.
    var scale: Int
    var plotX0: Int, plotY0: Int, plotX1: Int, plotY1: Int
    var xTicks: AxisTicks
    var yTicks: AxisTicks
    var charHeight: Int
    var title: String, xLabel: String, yLabel: String
    var titleY: Int
    var legend: [LegendItem]
    var legendSwatch: LegendSwatch
    var xLabelY: Int
    var yLabelX: Int
    /// Category names run bottom to top under their slots: horizontally, the widest would not fit its slot.
    var verticalXLabels = false
    /// Vertical grid lines at the x ticks (numeric axes only: category slots are not a scale).
    var xGrid = true
    /// Draw every `xLabelStride`-th x tick label: with more categories than glyph heights fit, the others would
    /// overprint.
    var xLabelStride = 1

    static let tickLength = 5
    static let swatchWidth = 24
    static let padding = 12
    static let minimumWidth = 200, minimumHeight = 150

    // Pixel positions are clamped to ±1e6 (far outside any canvas, so lines keep their direction) and
    // infinities to those bounds, so no value from a file can make a pixel coordinate unrepresentable.
    func px(_ x: Double) -> Double {
        clampPixel(Double(plotX0) + (x - xTicks.lower) / (xTicks.upper - xTicks.lower) * Double(plotX1 - plotX0))
    }
    func py(_ y: Double) -> Double {
        clampPixel(Double(plotY1) - (y - yTicks.lower) / (yTicks.upper - yTicks.lower) * Double(plotY1 - plotY0))
    }
    func clampPixel(_ v: Double) -> Double { v.isNaN ? 0 : Swift.min(Swift.max(v, -1e6), 1e6) }

    /// The clip rectangle of the plot area for `RasterCanvas` drawing (inside the frame).
    var rasterClip: (x0: Int, y0: Int, x1: Int, y1: Int) { (plotX0 + 1, plotY0 + 1, plotX1, plotY1) }

    /// Each drawn x tick label with the pixels it covers in the raster: centred on its tick, or, vertical,
    /// centred on it across and ending just below the tick mark.
    func xTickLabels() -> [XTickLabel] {
        let top = plotY1 + PlotLayout.tickLength + 6
        return zip(xTicks.values, xTicks.labels).enumerated().compactMap { i, tick in
            guard i % xLabelStride == 0 else { return nil }
            let x = Int(px(tick.0).rounded(.down))
            let tw = RasterCanvas.textWidth(tick.1, scale: scale)
            if verticalXLabels {
                return XTickLabel(text: tick.1, tick: x, left: x - charHeight / 2, right: x - charHeight / 2 + charHeight,
                                  top: top, bottom: top + tw)
            }
            return XTickLabel(text: tick.1, tick: x, left: x - tw / 2, right: x - tw / 2 + tw, top: top,
                              bottom: top + charHeight)
        }
    }

    /// Lays out a plot of `width` × `height` pixels (at least 200 × 150).
    init(width: Int, height: Int, textScale: Int, title: String, xLabel: String, yLabel: String, x: XAxisSpec,
         y: (lower: Double, upper: Double), yKind: AxisKind = .numeric,
         legend entries: [(name: String, color: RGBColor)], legendSwatch: LegendSwatch = .line) {
        let s = Swift.max(1, textScale)
        let ch = BitmapFont.glyphHeight * s
        let pad = PlotLayout.padding
        let w = Swift.max(width, PlotLayout.minimumWidth), h = Swift.max(height, PlotLayout.minimumHeight)
        self.width = w
        self.height = h
        self.scale = s
        self.charHeight = ch
        self.title = title
        self.xLabel = xLabel
        self.yLabel = yLabel
        self.legendSwatch = legendSwatch

        var cursor = pad
        titleY = cursor
        if !title.isEmpty { cursor += ch + 10 }
        xLabelY = h - pad - ch
        yLabelX = pad

        // Bottom margin: tick labels (their depth: one glyph row, or the longest vertical category name), then
        // the x label.
        func bottom(labelDepth: Int) -> Int {
            h - pad - (xLabel.isEmpty ? 0 : ch + 10) - labelDepth - 8 - PlotLayout.tickLength
        }
        // y ticks: about one per 70 px of a first guess at the plot height.
        let guessTop = cursor + (entries.isEmpty ? 0 : ch + 12)
        func yAxis(plotY1: Int) -> (AxisTicks, plotX0: Int) {
            let target = Swift.max(2, Swift.min(10, (plotY1 - guessTop) / 70))
            let ticks = AxisTicks(min: y.lower, max: y.upper, target: target, kind: yKind)
            let labelWidth = ticks.labels.map { RasterCanvas.textWidth($0, scale: s) }.max() ?? 0
            return (ticks, pad + (yLabel.isEmpty ? 0 : ch + 10) + labelWidth + 6 + PlotLayout.tickLength)
        }
        plotY1 = bottom(labelDepth: ch)
        let first = yAxis(plotY1: plotY1)
        yTicks = first.0
        plotX0 = first.plotX0
        plotX1 = w - 20
        xTicks = AxisTicks(min: 0, max: 1)
        plotY0 = 0
        legend = []

        switch x {
        case let .numeric(lower, upper, kind):
            // The right margin must hold the last tick label, which is centred on its tick and so reaches half
            // its width past it; the ticks depend on the plot width, so the two are settled together.
            let probe = AxisTicks(min: lower, max: upper, target: 6, kind: kind)
            let maxLabel = probe.labels.map { RasterCanvas.textWidth($0, scale: s) }.max() ?? 0
            xTicks = probe
            for _ in 0..<4 {
                let target = Swift.max(2, Swift.min(10, (plotX1 - plotX0) / Swift.max(80, maxLabel + 30)))
                xTicks = AxisTicks(min: lower, max: upper, target: target, kind: kind)
                let overflow = xTickLabels().map { $0.right }.max().map { $0 - (w - 4) } ?? 0
                if overflow <= 0 { break }
                plotX1 -= overflow
            }
        case let .categories(names):
            xGrid = false
            xTicks = AxisTicks(lower: -0.5, upper: Double(Swift.max(names.count, 1)) - 0.5, step: 1,
                               values: names.indices.map(Double.init), labels: names)
            // Horizontal names when the widest fits its slot with a little air; otherwise rotated, which needs
            // only a glyph height per slot but deepens the bottom margin to the longest name (names longer
            // than a third of the image height lose their middle to "..").
            let widest = names.map { RasterCanvas.textWidth($0, scale: s) }.max() ?? 0
            let slot = Double(plotX1 - plotX0) / Double(Swift.max(names.count, 1))
            if Double(widest) > slot - 8 {
                verticalXLabels = true
                let maxDepth = Swift.max(ch, h / 3)
                let cut = names.map { PlotLayout.truncate($0, toWidth: maxDepth, scale: s) }
                xTicks.labels = cut
                let depth = cut.map { RasterCanvas.textWidth($0, scale: s) }.max() ?? ch
                plotY1 = bottom(labelDepth: depth)
                let second = yAxis(plotY1: plotY1)
                yTicks = second.0
                plotX0 = second.plotX0
                let narrowSlot = Double(plotX1 - plotX0) / Double(Swift.max(names.count, 1))
                xLabelStride = Swift.max(1, Int((Double(ch + 2) / narrowSlot).rounded(.up)))
            }
        }

        // Legend rows between the title and the plot, wrapping at the plot's right edge.
        var items: [LegendItem] = []
        var lx = plotX0, ly = cursor
        for (name, color) in entries {
            let itemWidth = PlotLayout.swatchWidth + 8 + RasterCanvas.textWidth(name, scale: s)
            if lx > plotX0, lx + itemWidth > plotX1 {
                lx = plotX0
                ly += ch + 8
            }
            items.append(LegendItem(name: name, color: color, x: lx, y: ly))
            lx += itemWidth + 24
        }
        legend = items
        let legendBottom = items.map { $0.y + ch }.max() ?? (cursor - 4)
        plotY0 = legendBottom + 12 + ch / 2
        plotY1 = Swift.max(plotY1, plotY0 + 20)
    }

    /// `text` cut to at most `width` pixels at `scale` by dropping its middle for "..": arm names often share a
    /// prefix and differ at the end, so both ends are kept.
    static func truncate(_ text: String, toWidth width: Int, scale: Int) -> String {
        guard RasterCanvas.textWidth(text, scale: scale) > width else { return text }
        let chars = Array(text)
        for keep in stride(from: chars.count - 1, to: 0, by: -1) {
            let head = (keep + 1) / 2
            let cut = String(chars[..<head]) + ".." + String(chars[(chars.count - (keep - head))...])
            if RasterCanvas.textWidth(cut, scale: scale) <= width { return cut }
        }
        return ".."
    }

    // MARK: PNG

    /// A white canvas of the plot's size.
    func canvas() -> RasterCanvas { RasterCanvas(width: width, height: height) }

    /// Grid, ticks, tick labels and the frame: drawn before the data, which go on top.
    func drawAxes(on c: inout RasterCanvas) {
        for t in xTickLabels() {
            if xGrid { c.vLine(x: t.tick, y0: plotY0, y1: plotY1, color: PlotInk.grid) }
        }
        for v in xTicks.values {
            c.vLine(x: Int(px(v).rounded(.down)), y0: plotY1, y1: plotY1 + PlotLayout.tickLength, color: PlotInk.axis)
        }
        for t in xTickLabels() {
            if verticalXLabels {
                c.text(t.text, x: t.left, y: t.bottom, scale: scale, color: PlotInk.text, vertical: true)
            } else {
                c.text(t.text, x: t.left, y: t.top, scale: scale, color: PlotInk.text)
            }
        }
        for (v, label) in zip(yTicks.values, yTicks.labels) {
            let y = Int(py(v).rounded(.down))
            c.hLine(y: y, x0: plotX0, x1: plotX1, color: PlotInk.grid)
            c.hLine(y: y, x0: plotX0 - PlotLayout.tickLength, x1: plotX0, color: PlotInk.axis)
            let tw = RasterCanvas.textWidth(label, scale: scale)
            c.text(label, x: plotX0 - PlotLayout.tickLength - 6 - tw, y: y - charHeight / 2, scale: scale,
                   color: PlotInk.text)
        }
        c.hLine(y: plotY0, x0: plotX0, x1: plotX1, color: PlotInk.axis)
        c.hLine(y: plotY1, x0: plotX0, x1: plotX1, color: PlotInk.axis)
        c.vLine(x: plotX0, y0: plotY0, y1: plotY1, color: PlotInk.axis)
        c.vLine(x: plotX1, y0: plotY0, y1: plotY1, color: PlotInk.axis)
    }

    /// Title (bold: drawn twice, one pixel apart), legend and axis labels: drawn after the data.
    func drawAnnotations(on c: inout RasterCanvas) {
        let s = scale, ch = charHeight
        if !title.isEmpty {
            let tw = RasterCanvas.textWidth(title, scale: s) + 1
            let x = (plotX0 + plotX1) / 2 - tw / 2
            c.text(title, x: x, y: titleY, scale: s, color: .black)
            c.text(title, x: x + 1, y: titleY, scale: s, color: .black)
        }
        for item in legend {
            switch legendSwatch {
            case .line:
                let yMid = Double(item.y) + Double(ch) / 2
                c.polyline([(Double(item.x), yMid), (Double(item.x + PlotLayout.swatchWidth), yMid)],
                           color: item.color, lineWidth: 3)
            case .box:
                c.fillRect(x0: item.x, y0: item.y, x1: item.x + PlotLayout.swatchWidth, y1: item.y + ch, color: item.color)
            }
            c.text(item.name, x: item.x + PlotLayout.swatchWidth + 8, y: item.y, scale: s, color: PlotInk.text)
        }
        if !xLabel.isEmpty {
            let tw = RasterCanvas.textWidth(xLabel, scale: s)
            c.text(xLabel, x: (plotX0 + plotX1) / 2 - tw / 2, y: xLabelY, scale: s, color: PlotInk.text)
        }
        if !yLabel.isEmpty {
            let tw = RasterCanvas.textWidth(yLabel, scale: s)
            c.text(yLabel, x: yLabelX, y: (plotY0 + plotY1) / 2 + tw / 2, scale: s, color: PlotInk.text, vertical: true)
        }
    }

    // MARK: SVG

    var fontSize: Int { 7 * scale }

    /// Two decimals: enough for pixel positions, and the same on every machine.
    func f(_ v: Double) -> String { formatC("%.2f", v) }

    /// SVG path data through `points` ("M x y L x y ...").
    func pathData(_ points: [(x: Double, y: Double)]) -> String {
        points.enumerated().map { k, p in (k == 0 ? "M" : "L") + "\(f(p.x)) \(f(p.y))" }.joined(separator: " ")
    }

    /// The document's opening, a `<title>` and the white background.
    func svgOpen() -> String {
        var out = """
        <?xml version="1.0" encoding="UTF-8"?>
        <svg xmlns="http://www.w3.org/2000/svg" width="\(width)" height="\(height)" viewBox="0 0 \(width) \(height)" \
        font-family="DejaVu Sans, Helvetica, Arial, sans-serif" font-size="\(fontSize)">

        """
        if !title.isEmpty { out += "<title>\(xmlEscape(title))</title>\n" }
        out += "<rect x=\"0\" y=\"0\" width=\"\(width)\" height=\"\(height)\" fill=\"#ffffff\"/>\n"
        return out
    }

    /// Grid, tick marks and the frame.
    func svgAxes() -> String {
        // Rules on pixel centres (x.5), like the raster's 1-pixel lines.
        func vertical(_ v: Double, from y0: Int, to y1: Int) -> String {
            let x = f(px(v).rounded(.down) + 0.5)
            return "<line x1=\"\(x)\" y1=\"\(y0)\" x2=\"\(x)\" y2=\"\(y1)\"/>\n"
        }
        func horizontal(_ v: Double, from x0: Int, to x1: Int) -> String {
            let y = f(py(v).rounded(.down) + 0.5)
            return "<line x1=\"\(x0)\" y1=\"\(y)\" x2=\"\(x1)\" y2=\"\(y)\"/>\n"
        }
        var out = "<g stroke=\"#e3e3e3\" stroke-width=\"1\">\n"
        out += (xGrid ? xTicks.values : []).map { vertical($0, from: plotY0, to: plotY1) }.joined()
        out += yTicks.values.map { horizontal($0, from: plotX0, to: plotX1) }.joined()
        out += "</g>\n<g stroke=\"#333333\" stroke-width=\"1\">\n"
        out += xTicks.values.map { vertical($0, from: plotY1, to: plotY1 + PlotLayout.tickLength) }.joined()
        out += yTicks.values.map { horizontal($0, from: plotX0 - PlotLayout.tickLength, to: plotX0) }.joined()
        out += "</g>\n"
        out += "<rect x=\"\(plotX0).5\" y=\"\(plotY0).5\" width=\"\(plotX1 - plotX0)\" "
            + "height=\"\(plotY1 - plotY0)\" fill=\"none\" stroke=\"#333333\" stroke-width=\"1\"/>\n"
        return out
    }

    /// All text but the legend's: tick labels, axis labels, the title, and `extra` (a plot kind's own labels).
    func svgText(extra: String = "") -> String {
        var out = "<g fill=\"#222222\">\n" + extra
        let labelTop = plotY1 + PlotLayout.tickLength + 6
        for (i, (v, label)) in zip(xTicks.values, xTicks.labels).enumerated() where i % xLabelStride == 0 {
            if verticalXLabels {
                // Rotated like the y label, ending just below the tick.
                let x = f(px(v) + Double(fontSize) * 0.35)
                out += "<text class=\"category\" x=\"\(x)\" y=\"\(labelTop)\" transform=\"rotate(-90 \(x) \(labelTop))\" "
                    + "text-anchor=\"end\">\(xmlEscape(label))</text>\n"
            } else {
                out += "<text x=\"\(f(px(v)))\" y=\"\(labelTop + fontSize)\" "
                    + "text-anchor=\"middle\">\(xmlEscape(label))</text>\n"
            }
        }
        for (v, label) in zip(yTicks.values, yTicks.labels) {
            out += "<text x=\"\(plotX0 - PlotLayout.tickLength - 6)\" y=\"\(f(py(v) + Double(fontSize) * 0.35))\" "
                + "text-anchor=\"end\">\(xmlEscape(label))</text>\n"
        }
        if !xLabel.isEmpty {
            out += "<text x=\"\((plotX0 + plotX1) / 2)\" y=\"\(xLabelY + fontSize)\" "
                + "text-anchor=\"middle\">\(xmlEscape(xLabel))</text>\n"
        }
        if !yLabel.isEmpty {
            let cx = yLabelX + fontSize, cy = (plotY0 + plotY1) / 2
            out += "<text x=\"\(cx)\" y=\"\(cy)\" transform=\"rotate(-90 \(cx) \(cy))\" "
                + "text-anchor=\"middle\">\(xmlEscape(yLabel))</text>\n"
        }
        if !title.isEmpty {
            out += "<text x=\"\((plotX0 + plotX1) / 2)\" y=\"\(titleY + fontSize)\" text-anchor=\"middle\" "
                + "font-weight=\"bold\" font-size=\"\(fontSize + 2)\">\(xmlEscape(title))</text>\n"
        }
        return out + "</g>\n"
    }

    /// The clip path of the plot area and the opening of a group clipped to it (close with `</g>`).
    func svgClippedGroup(attributes: String) -> String {
        "<defs><clipPath id=\"plot-area\"><rect x=\"\(plotX0)\" y=\"\(plotY0)\" "
            + "width=\"\(plotX1 - plotX0)\" height=\"\(plotY1 - plotY0)\"/></clipPath></defs>\n"
            + "<g clip-path=\"url(#plot-area)\" \(attributes)>\n"
    }

    /// The legend (empty without entries).
    func svgLegend() -> String {
        guard !legend.isEmpty else { return "" }
        var out = "<g>\n"
        for item in legend {
            switch legendSwatch {
            case .line:
                let yMid = item.y + charHeight / 2
                out += "<line x1=\"\(item.x)\" y1=\"\(yMid)\" x2=\"\(item.x + PlotLayout.swatchWidth)\" y2=\"\(yMid)\" "
                    + "stroke=\"\(item.color.hex)\" stroke-width=\"3\"/>\n"
            case .box:
                out += "<rect x=\"\(item.x)\" y=\"\(item.y)\" width=\"\(PlotLayout.swatchWidth)\" height=\"\(charHeight)\" "
                    + "fill=\"\(item.color.hex)\"/>\n"
            }
            out += "<text x=\"\(item.x + PlotLayout.swatchWidth + 8)\" y=\"\(item.y + fontSize)\" "
                + "fill=\"#222222\">\(xmlEscape(item.name))</text>\n"
        }
        return out + "</g>\n"
    }
}

// MARK: Files

/// Output formats, chosen from a path's extension.
public enum PlotFormat: String, Sendable, CaseIterable {
    case png, svg

    /// The format for `path`'s extension (case-insensitive), or `nil` for any other extension.
    public init?(path: String) {
        let name = path.split(separator: "/").last.map(String.init) ?? path
        guard let dot = name.lastIndex(of: "."), dot != name.startIndex else { return nil }
        self.init(rawValue: name[name.index(after: dot)...].lowercased())
    }
}

/// What every plot kind renders to, and through it, PNG bytes and files.
public protocol RenderablePlot: Sendable {
    /// The plot as an RGB raster.
    func raster() -> RasterCanvas
    /// The plot as a standalone SVG document, laid out as the raster.
    func svg() -> String
}

extension RenderablePlot {
    /// `LinePlot.Format`, `Histogram.Format`, ...
    public typealias Format = PlotFormat

    /// The plot as PNG bytes (RGB, 8 bits per channel).
    public func pngData() throws(FileWriteError) -> [UInt8] {
        let c = raster()
        return try encodePNG(width: c.width, height: c.height, channels: 3, pixels: c.pixels, label: "<plot>")
    }

    /// Writes the plot as PNG or SVG according to `path`'s extension (`PlotFormat`), atomically
    /// (`writeFileAtomically`); only the chosen format is rendered.
    public func write(to path: String, mode: WriteMode = .replace) throws(FileWriteError) {
        guard let format = PlotFormat(path: path) else {
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
