import FlexIO

/// Bin edges and, per series, the count in each bin.
public struct HistogramBins: Sendable, Equatable {
    /// `bins + 1` increasing edges; bin k is [edges[k], edges[k + 1]), the last one closed.
    public var edges: [Double]
    /// `counts[series][bin]`.
    public var counts: [[Int]]
}

/// Several distributions overlaid on one set of bins (e.g. all α of one layer across runs, one series per
/// arm): translucent bars with a step outline, or the outlines alone. Rendered to SVG or PNG like `LinePlot`.
///
///     var plot = Histogram(title: "alpha, layer 1", xLabel: "alpha")
///     try plot.add(name: "p-e2-relu", values: alphas)
///     try plot.write(to: "alpha.png")
public struct Histogram: SamplePlot {
    public enum Style: Sendable, Equatable {
        /// Translucent filled bars, so overlapping series show through each other, each with its outline.
        case bars
        /// Outlines only: clearer with more than two or three series.
        case steps
    }

    public var title: String
    public var xLabel: String
    public var yLabel: String
    public var series: [PlotSample]
    /// The same, for `SamplePlot`'s `add` and `resolvedColors`.
    public var samples: [PlotSample] {
        get { series }
        set { series = newValue }
    }
    /// Number of bins; `nil` chooses by Sturges' rule on the largest series (⌈log₂ n⌉ + 1). Held to 1...1000.
    public var binCount: Int?
    /// The binned range; `nil` is the common range of all series. Values outside it are not counted.
    public var range: ClosedRange<Double>?
    /// Image size in pixels (SVG user units).
    public var width = 800, height = 500
    /// Size of one bitmap-font pixel in the PNG; also sets SVG font sizes.
    public var textScale = 2
    public var style = Style.bars

    public init(title: String = "", xLabel: String = "", yLabel: String = "count", series: [PlotSample] = []) {
        self.title = title
        self.xLabel = xLabel
        self.yLabel = yLabel
        self.series = series
    }

    /// The bins every series shares and the counts. A range of one value is widened (by 5% of it, or ±0.5
    /// around 0) so that it has a width to divide.
    public func bins() -> HistogramBins {
        let all = series.flatMap(\.values)
        var lo = range?.lowerBound ?? all.min() ?? 0, hi = range?.upperBound ?? all.max() ?? 1
        if hi <= lo {
            let pad = lo == 0 ? 0.5 : abs(lo) * 0.05
            lo -= pad
            hi += pad
        }
        // ⌈log₂ n⌉ is the bit width of n − 1.
        let largest = Swift.max(1, series.map(\.values.count).max() ?? 1)
        let sturges = Int.bitWidth - (largest - 1).leadingZeroBitCount + 1
        let n = Swift.min(1000, Swift.max(1, binCount ?? sturges))
        let edges = (0...n).map { k in k == n ? hi : lo + (hi - lo) * Double(k) / Double(n) }
        let counts = series.map { s in
            var c = [Int](repeating: 0, count: n)
            for v in s.values where v >= lo && v <= hi {
                c[Swift.min(n - 1, Int(((v - lo) / (hi - lo) * Double(n)).rounded(.down)))] += 1
            }
            return c
        }
        return HistogramBins(edges: edges, counts: counts)
    }

    // MARK: Layout

    func layout(_ b: HistogramBins) -> PlotLayout {
        // 5% headroom, so the tallest bar's top is not lost in the frame.
        let top = Double(b.counts.flatMap { $0 }.max() ?? 1) * 1.05
        return PlotLayout(width: width, height: height, textScale: textScale, title: title, xLabel: xLabel,
                          yLabel: yLabel, x: .numeric(lower: b.edges[0], upper: b.edges[b.edges.count - 1], kind: .numeric),
                          y: (0, Swift.max(1, top)), yKind: .integer,
                          legend: zip(series, resolvedColors).map { ($0.name, $1) }, legendSwatch: .box)
    }

    /// A series' outline in pixels: up from the axis at the first edge, along each bin's top, down at the last.
    func outline(_ counts: [Int], _ b: HistogramBins, _ L: PlotLayout) -> [(x: Double, y: Double)] {
        var pts = [(L.px(b.edges[0]), L.py(0))]
        for (k, count) in counts.enumerated() {
            pts.append((L.px(b.edges[k]), L.py(Double(count))))
            pts.append((L.px(b.edges[k + 1]), L.py(Double(count))))
        }
        pts.append((L.px(b.edges[b.edges.count - 1]), L.py(0)))
        return pts
    }

    static let barOpacity = 0.35

    // MARK: PNG

    /// Renders the plot to an RGB raster.
    public func raster() -> RasterCanvas {
        let b = bins()
        let L = layout(b)
        var c = L.canvas()
        L.drawAxes(on: &c)
        let colors = resolvedColors
        // Columns are rounded edges and bars end at the frame's bottom row, so neighbouring bins tile without
        // a gap or a doubly blended column.
        let columns = b.edges.map { Int(L.px($0).rounded()) }
        if style == .bars {
            for (counts, color) in zip(b.counts, colors) {
                for (k, count) in counts.enumerated() where count > 0 {
                    c.fillRect(x0: columns[k], y0: Int(L.py(Double(count)).rounded()), x1: columns[k + 1], y1: L.plotY1,
                               color: color, opacity: Histogram.barOpacity)
                }
            }
        }
        for (counts, color) in zip(b.counts, colors) {
            c.polyline(outline(counts, b, L).map { ($0.x + 0.5, $0.y + 0.5) }, color: color,
                       lineWidth: style == .bars ? 1.5 : 2, clip: L.rasterClip)
        }
        L.drawAnnotations(on: &c)
        return c
    }

    // MARK: SVG

    /// The plot as a standalone SVG document: with `.bars`, a `<rect class="bin">` per series and non-empty
    /// bin; with either style a `<path class="outline">` per series.
    public func svg() -> String {
        let b = bins()
        let L = layout(b)
        let f = L.f
        var out = L.svgOpen() + L.svgAxes() + L.svgText()
        out += L.svgClippedGroup(attributes: "stroke-linejoin=\"round\"")
        let colors = resolvedColors
        if style == .bars {
            for (counts, color) in zip(b.counts, colors) {
                for (k, count) in counts.enumerated() where count > 0 {
                    let x0 = L.px(b.edges[k]), top = L.py(Double(count))
                    out += "<rect class=\"bin\" x=\"\(f(x0))\" y=\"\(f(top))\" width=\"\(f(L.px(b.edges[k + 1]) - x0))\" "
                        + "height=\"\(f(Double(L.plotY1) - top))\" fill=\"\(color.hex)\" "
                        + "fill-opacity=\"\(Histogram.barOpacity)\"/>\n"
                }
            }
        }
        for ((counts, color), s) in zip(zip(b.counts, colors), series) {
            out += "<path class=\"outline\" d=\"\(L.pathData(outline(counts, b, L)))\" fill=\"none\" stroke=\"\(color.hex)\" "
                + "stroke-width=\"\(style == .bars ? "1.5" : "2")\"><title>\(xmlEscape(s.name))</title></path>\n"
        }
        return out + "</g>\n" + L.svgLegend() + "</svg>\n"
    }
}
