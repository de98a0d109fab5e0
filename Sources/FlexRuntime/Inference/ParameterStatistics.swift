/// Summary statistics of a set of parameter values: mean, population standard deviation, extremes and a
/// histogram of `bins` equal-width bins over `range`.
public struct ParameterStatistics: Sendable, Equatable {
    public var count: Int
    public var mean: Double
    /// Population standard deviation (divides by `count`).
    public var std: Double
    public var min: Double
    public var max: Double
    /// The histogram's interval: [0, 1] for α, [min, max] for β.
    public var range: ClosedRange<Double>
    /// Counts per bin; a value equal to the upper end falls in the last bin. Values outside `range` are not
    /// counted (α outside [0, 1] cannot occur in a checkpoint the reader accepts).
    public var histogram: [Int]

    /// Statistics of `values` with a histogram over `range` (default: [min, max] of the values).
    public init(_ values: [Float], bins: Int = 10, range: ClosedRange<Double>? = nil) {
        precondition(bins >= 1, "bins must be positive")
        let v = values.map(Double.init)
        count = v.count
        let lo = v.min() ?? 0, hi = v.max() ?? 0
        min = lo
        max = hi
        mean = v.isEmpty ? 0 : v.reduce(0, +) / Double(v.count)
        let m = mean
        std = v.isEmpty ? 0 : (v.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(v.count)).squareRoot()
        let r = range ?? lo...hi
        self.range = r
        var h = [Int](repeating: 0, count: bins)
        let width = r.upperBound - r.lowerBound
        for x in v where r.contains(x) {
            let b = width > 0 ? Int((x - r.lowerBound) / width * Double(bins)) : 0
            h[Swift.min(b, bins - 1)] += 1
        }
        histogram = h
    }
}

/// The α/β statistics of one activation slot: an `Activation` layer, or one of the five nonlinearities
/// (i, f, g, o, c) of one stacked layer of an LSTM.
public struct ActivationSlotStatistics: Sendable, Equatable {
    /// Index of the layer in the model.
    public var layer: Int
    /// Dotted path: `layers.1` for an Activation layer, `layers.0.i_l0` for an LSTM nonlinearity.
    public var path: String
    /// The member's name, e.g. `p-e2-relu`.
    public var member: String
    public var units: Int
    /// One entry per stored α column: `alpha` (one free weight) or `alpha[k]` with the component's name for
    /// K ≥ 3 components (e.g. `alpha[2] elu`); histograms over [0, 1].
    public var alpha: [(label: String, statistics: ParameterStatistics)]
    /// β's statistics (histogram over [min, max]), nil when the member has no β.
    public var beta: ParameterStatistics?

    public static func == (a: Self, b: Self) -> Bool {
        a.layer == b.layer && a.path == b.path && a.member == b.member && a.units == b.units && a.beta == b.beta
            && a.alpha.map(\.label) == b.alpha.map(\.label) && a.alpha.map(\.statistics) == b.alpha.map(\.statistics)
    }

    /// Statistics of one slot from its stored α (`[units]` or `[units, K]`) and β (`[units]`).
    public init(layer: Int, path: String, function: ActivationFunction, units: Int, alpha: Tensor?, beta: Tensor?,
                bins: Int = 10) {
        self.layer = layer
        self.path = path
        self.member = function.name
        self.units = units
        var a: [(String, ParameterStatistics)] = []
        if let alpha {
            let k = function.alphaWidth
            if k == 1 {
                a.append(("alpha", ParameterStatistics(alpha.scalars, bins: bins, range: 0...1)))
            } else if k > 1 {
                let slot = ActivationSlot(nonlinearity: nil, stackedLayer: 0, function: function, units: units)
                for c in 0..<k {
                    let column = slot.alphaColumn(c, of: alpha)
                    a.append(("alpha[\(c + 1)] \(function.components[c].name)",
                              ParameterStatistics(column, bins: bins, range: 0...1)))
                }
            }
        }
        self.alpha = a
        self.beta = beta.map { ParameterStatistics($0.scalars, bins: bins) }
    }
}

extension Sequential {
    /// α/β statistics of every activation slot, in layer order (for an LSTM: per stacked layer, nonlinearities
    /// i, f, g, o, c). Slots whose member has neither α nor β (e.g. `tanh`) are listed with no statistics.
    public func activationStatistics(bins: Int = 10) -> [ActivationSlotStatistics] {
        activationSlots.map { i, s in
            ActivationSlotStatistics(layer: i, path: s.name, function: s.function, units: s.units,
                                     alpha: s.alphaIndex.map { layers[i].parameters[$0] },
                                     beta: s.betaIndex.map { layers[i].parameters[$0] }, bins: bins)
        }
    }
}
