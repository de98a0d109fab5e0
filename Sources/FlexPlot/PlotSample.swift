/// A named set of values with no x: one category of a `CategoryPlot` (an arm and its runs' test MSE) or one
/// series of a `Histogram` (all α of a layer across an arm's runs).
public struct PlotSample: Sendable, Equatable {
    public let name: String
    public let values: [Double]
    /// `nil`: the next palette colour.
    public var color: RGBColor?

    /// Throws when there are no values (a box or a histogram of nothing says nothing, and an arm with no
    /// finished run should be noticed) or when one is not finite (a diverged run is not a point on an axis).
    public init(name: String, values: [Double], color: RGBColor? = nil) throws(PlotDataError) {
        guard !values.isEmpty else { throw PlotDataError("'\(name)': no values") }
        try requireFinite(values, "'\(name)'")
        self.name = name
        self.values = values
        self.color = color
    }
}

/// Each item's own colour, or the palette's, in order.
func resolveColors(_ colors: [RGBColor?]) -> [RGBColor] {
    colors.enumerated().map { i, c in c ?? RGBColor.palette[i % RGBColor.palette.count] }
}

/// A plot drawn from `PlotSample`s (a `CategoryPlot`'s categories, a `Histogram`'s series), which are added and
/// coloured alike.
public protocol SamplePlot: RenderablePlot {
    var samples: [PlotSample] { get set }
}

extension SamplePlot {
    /// Appends a sample; throws when `values` is empty or holds a non-finite value.
    public mutating func add(name: String, values: [Double], color: RGBColor? = nil) throws(PlotDataError) {
        samples.append(try PlotSample(name: name, values: values, color: color))
    }

    /// The colour each sample is drawn in.
    public var resolvedColors: [RGBColor] { resolveColors(samples.map(\.color)) }
}
