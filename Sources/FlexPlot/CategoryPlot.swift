import FlexIO

/// The summary a box shows: quartiles and Tukey's whiskers.
public struct BoxSummary: Sendable, Equatable {
    public var lowerQuartile: Double
    public var median: Double
    public var upperQuartile: Double
    /// The smallest value at or above `lowerQuartile − 1.5 × IQR` (Tukey): a single wild run does not stretch
    /// the whisker, and still shows as a point beyond it.
    public var lowerWhisker: Double
    /// The largest value at or below `upperQuartile + 1.5 × IQR`.
    public var upperWhisker: Double

    /// The summary of `values` (not empty, finite: `PlotSample` guarantees both). Quartiles interpolate
    /// linearly between order statistics (position p·(n − 1), as NumPy's and R's defaults do), so a single
    /// value is its own box.
    public init(_ values: [Double]) {
        precondition(!values.isEmpty, "BoxSummary of no values")
        let v = values.sorted()
        func quantile(_ p: Double) -> Double {
            let h = p * Double(v.count - 1)
            let i = Int(h.rounded(.down))
            return i + 1 < v.count ? v[i] + (h - Double(i)) * (v[i + 1] - v[i]) : v[i]
        }
        let q1 = quantile(0.25), q3 = quantile(0.75)
        let reach = 1.5 * (q3 - q1)
        lowerQuartile = q1
        median = quantile(0.5)
        upperQuartile = q3
        lowerWhisker = v.first { $0 >= q1 - reach } ?? v[0]
        upperWhisker = v.last { $0 <= q3 + reach } ?? v[v.count - 1]
    }
}

/// Categories side by side, each a box plot with its values as points over it: e.g. the test MSE of every run
/// of each arm of an experiment. Rendered to SVG or PNG like `LinePlot`.
///
/// Each category gets a box from the lower to the upper quartile, a median line, whiskers to the most extreme
/// values within 1.5 IQR of the box (`BoxSummary`), and all its values as dots spread sideways by a fixed
/// pattern (`jitter(_:)`), so every run is visible and two renders are the same to the byte. Category names go
/// under the axis; when the widest would not fit its slot they are rotated to run upwards (past a third of the
/// image height their middle gives way to "..").
///
///     var plot = CategoryPlot(title: "Test MSE", yLabel: "MSE")
///     try plot.add(name: "relu", values: mse["relu"]!)
///     try plot.write(to: "mse.svg")
public struct CategoryPlot: SamplePlot {
    public var title: String
    public var xLabel: String
    public var yLabel: String
    public var categories: [PlotSample]
    /// The same, for `SamplePlot`'s `add` and `resolvedColors`.
    public var samples: [PlotSample] {
        get { categories }
        set { categories = newValue }
    }
    /// Image size in pixels (SVG user units).
    public var width = 800, height = 500
    /// Fixed y range; `nil` fits all values (widened to nice tick bounds).
    public var yRange: ClosedRange<Double>?
    /// Size of one bitmap-font pixel in the PNG; also sets SVG font sizes.
    public var textScale = 2

    public init(title: String = "", xLabel: String = "", yLabel: String = "", categories: [PlotSample] = []) {
        self.title = title
        self.xLabel = xLabel
        self.yLabel = yLabel
        self.categories = categories
    }

    /// The sideways offset of a category's `index`-th point, in −0.5 ..< 0.5 of the spread: the fractional parts
    /// of multiples of the golden ratio, which fill the interval evenly for any count without a random generator.
    public static func jitter(_ index: Int) -> Double {
        let t = Double(index) * 0.618_033_988_749_895
        return t - t.rounded(.down) - 0.5
    }

    // MARK: Layout

    func layout() -> PlotLayout {
        // 5% of the range is added above and below, so the extreme runs' dots do not sit on the frame.
        let all = categories.flatMap(\.values)
        let lo = all.min() ?? 0, hi = all.max() ?? 1, margin = (hi - lo) * 0.05
        let y = yRange.map { ($0.lowerBound, $0.upperBound) } ?? (lo - margin, hi + margin)
        return PlotLayout(width: width, height: height, textScale: textScale, title: title, xLabel: xLabel,
                          yLabel: yLabel, x: .categories(categories.map(\.name)), y: y, legend: [])
    }

    /// The category names as drawn in the PNG, with the pixel box each covers: tests check that no two overlap.
    public func categoryLabelExtents() -> [(text: String, left: Int, right: Int, top: Int, bottom: Int)] {
        layout().xTickLabels().map { ($0.text, $0.left, $0.right, $0.top, $0.bottom) }
    }

    /// Where `value` of category `index` lands in the PNG on the category's centre line (the pixel containing it).
    public func pixelPosition(category index: Int, value: Double) -> (x: Int, y: Int) {
        let L = layout()
        return (Int(L.px(Double(index)).rounded(.down)), Int(L.py(value).rounded(.down)))
    }

    /// The pixel geometry of one category: the box's half width, the points' positions.
    struct Glyphs {
        var center: Double
        var halfWidth: Double
        var box: BoxSummary
        var points: [(x: Double, y: Double)]
    }

    func glyphs(_ L: PlotLayout) -> [Glyphs] {
        let slot = L.px(1) - L.px(0)
        let half = Swift.max(3, Swift.min(slot * 0.25, 60))
        return categories.enumerated().map { i, cat in
            let cx = L.px(Double(i))
            let points = cat.values.enumerated().map { k, v in
                (cx + CategoryPlot.jitter(k) * 1.6 * half, L.py(v))
            }
            return Glyphs(center: cx, halfWidth: half, box: BoxSummary(cat.values), points: points)
        }
    }

    static let boxOpacity = 0.25
    static let pointRadius = 3.0

    // MARK: PNG

    /// Renders the plot to an RGB raster.
    public func raster() -> RasterCanvas {
        let L = layout()
        var c = L.canvas()
        L.drawAxes(on: &c)
        let colors = resolvedColors
        // Vertical positions are held inside the frame, so a fixed `yRange` cuts boxes instead of spilling them.
        func row(_ v: Double) -> Int { Swift.min(L.plotY1 - 1, Swift.max(L.plotY0 + 1, Int(L.py(v).rounded()))) }
        for (g, color) in zip(glyphs(L), colors) {
            let x0 = Int((g.center - g.halfWidth).rounded()), x1 = Int((g.center + g.halfWidth).rounded())
            let xc = Int(g.center.rounded(.down))
            let top = row(g.box.upperQuartile), bottom = row(g.box.lowerQuartile)
            c.fillRect(x0: x0, y0: top, x1: x1 + 1, y1: bottom + 1, color: color, opacity: CategoryPlot.boxOpacity)
            c.hLine(y: top, x0: x0, x1: x1, color: color)
            c.hLine(y: bottom, x0: x0, x1: x1, color: color)
            c.vLine(x: x0, y0: top, y1: bottom, color: color)
            c.vLine(x: x1, y0: top, y1: bottom, color: color)
            let hiW = row(g.box.upperWhisker), loW = row(g.box.lowerWhisker)
            let cap = Int((g.halfWidth / 2).rounded())
            c.vLine(x: xc, y0: hiW, y1: top, color: color)
            c.vLine(x: xc, y0: bottom, y1: loW, color: color)
            c.hLine(y: hiW, x0: xc - cap, x1: xc + cap, color: color)
            c.hLine(y: loW, x0: xc - cap, x1: xc + cap, color: color)
            let median = row(g.box.median)
            c.fillRect(x0: x0, y0: median, x1: x1 + 1, y1: median + 2, color: PlotInk.text)
            for p in g.points {
                c.polyline([(p.x + 0.5, p.y + 0.5)], color: color, lineWidth: 2 * CategoryPlot.pointRadius,
                           clip: L.rasterClip)
            }
        }
        L.drawAnnotations(on: &c)
        return c
    }

    // MARK: SVG

    /// The plot as a standalone SVG document: per category a `<rect class="box">`, a `<line class="median">`,
    /// two `<line class="whisker">` with a `<line class="cap">` each, and a `<circle class="point">` per value.
    public func svg() -> String {
        let L = layout()
        let f = L.f
        var out = L.svgOpen() + L.svgAxes() + L.svgText()
        out += L.svgClippedGroup(attributes: "stroke-width=\"1.5\"")
        for ((g, color), cat) in zip(zip(glyphs(L), resolvedColors), categories) {
            let x0 = f(g.center - g.halfWidth), xc = f(g.center), x1 = f(g.center + g.halfWidth)
            let top = L.py(g.box.upperQuartile), bottom = L.py(g.box.lowerQuartile)
            out += "<g><title>\(xmlEscape(cat.name))</title>\n"
            out += "<rect class=\"box\" x=\"\(x0)\" y=\"\(f(top))\" width=\"\(f(2 * g.halfWidth))\" "
                + "height=\"\(f(bottom - top))\" fill=\"\(color.hex)\" fill-opacity=\"\(CategoryPlot.boxOpacity)\" "
                + "stroke=\"\(color.hex)\"/>\n"
            for (end, edge) in [(g.box.upperWhisker, top), (g.box.lowerWhisker, bottom)] {
                out += "<line class=\"whisker\" x1=\"\(xc)\" y1=\"\(f(edge))\" x2=\"\(xc)\" y2=\"\(f(L.py(end)))\" "
                    + "stroke=\"\(color.hex)\"/>\n"
                out += "<line class=\"cap\" x1=\"\(f(g.center - g.halfWidth / 2))\" y1=\"\(f(L.py(end)))\" "
                    + "x2=\"\(f(g.center + g.halfWidth / 2))\" y2=\"\(f(L.py(end)))\" stroke=\"\(color.hex)\"/>\n"
            }
            out += "<line class=\"median\" x1=\"\(x0)\" y1=\"\(f(L.py(g.box.median)))\" x2=\"\(x1)\" "
                + "y2=\"\(f(L.py(g.box.median)))\" stroke=\"#222222\" stroke-width=\"2\"/>\n"
            for p in g.points {
                out += "<circle class=\"point\" cx=\"\(f(p.x))\" cy=\"\(f(p.y))\" r=\"\(f(CategoryPlot.pointRadius))\" "
                    + "fill=\"\(color.hex)\"/>\n"
            }
            out += "</g>\n"
        }
        return out + "</g>\n</svg>\n"
    }
}
