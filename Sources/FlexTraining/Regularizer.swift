import FlexRuntime

/// One layer's activation parameters (α or β) as seen by the layer-wise regulariser: layer j of eq. 7.
///
/// `values` is laid out `[units, width]` row-major: unit (neuron/channel) i, component k at `i * width + k`.
/// This is exactly how the activation layers store α (`[units * alphaWidth]`) and β (`[units * betaWidth]`),
/// so a layer's parameter tensor can be passed as is.
public struct RegularizerGroup: Sendable, Equatable {
    /// Lower and upper bound of a parameter's intended domain, e.g. `0...1` for α.
    public struct Bounds: Sendable, Equatable, Codable {
        public var lower: Float
        public var upper: Float
        public init(lower: Float, upper: Float) {
            self.lower = lower
            self.upper = upper
        }
        /// [0, 1], the domain of α.
        public static let unitInterval = Bounds(lower: 0, upper: 1)
    }

    /// A label for messages, e.g. `layers.1.alpha`.
    public let name: String
    /// θ_ijk, laid out `[units, width]`.
    public let values: [Float]
    /// m_j, the number of units (neurons, channels or LSTM hidden units) of the layer.
    public let units: Int
    /// K, the number of components per unit (α: the stored α width; β: the stored β width).
    public let width: Int
    /// θ_k0, the default value of each component (`width` values), e.g. the one-hot α that recovers ReLU.
    public let defaults: [Float]
    /// The domain for the boundary term, or nil to exclude this group from the boundary term.
    public let bounds: Bounds?
    /// λ_j, this layer's weight in the towards-mean term (default 1).
    public let lambda: Float

    /// - Throws: `ConfigurationError` when `values.count != units * width`, `defaults.count != width`,
    ///   `units < 1`, `width < 1`, `bounds.lower > bounds.upper` or λ is negative or not finite.
    public init(name: String = "", values: [Float], units: Int, width: Int, defaults: [Float],
                bounds: Bounds? = .unitInterval, lambda: Float = 1) throws(ConfigurationError) {
        guard units >= 1, width >= 1 else {
            throw ConfigurationError("regulariser group \(name): units and width must be positive, found [\(units), \(width)]")
        }
        guard values.count == units * width else {
            throw ConfigurationError("regulariser group \(name): \(values.count) values for [units, width] = [\(units), \(width)] (need \(units * width))")
        }
        guard defaults.count == width else {
            throw ConfigurationError("regulariser group \(name): \(defaults.count) default values for width \(width)")
        }
        if let bounds, !(bounds.lower <= bounds.upper) {
            throw ConfigurationError("regulariser group \(name): bounds \(bounds.lower)...\(bounds.upper) are not ordered")
        }
        guard lambda >= 0, lambda.isFinite else {
            throw ConfigurationError("regulariser group \(name): lambda must be finite and >= 0, found \(lambda)")
        }
        self.name = name
        self.values = values
        self.units = units
        self.width = width
        self.defaults = defaults
        self.bounds = bounds
        self.lambda = lambda
    }
}

/// The layer-wise regulariser of eq. 7 (Jie, Gao, Vasnev, Tran 2020) with its gradient.
///
/// For groups (layers) j = 1…J with values θ_ijk (unit i < m_j, component k < K_j), n = Σ_j m_j·K_j the total
/// number of values passed to one `evaluate` call, mean_i θ_ijk = (1/m_j) Σ_i θ_ijk, and [x]₊ = max(x, 0):
///
///     R_mean     = δ1 · Σ_j (λ_j / m_j) · Σ_i Σ_k (θ_ijk − mean_i θ_ijk)²
///     R_default  = (δ2 / n) · Σ_j Σ_i Σ_k (θ_k0 − θ_ijk)²
///     R_boundary = (δ3 / n) · Σ_{j bounded} Σ_i Σ_k ( [θ_ijk − (u_j − Δ)]₊² + [(l_j − Δ) − θ_ijk]₊² )
///
/// With α's bounds [l, u] = [0, 1] the boundary term is eq. 7's `ReLU(θ − (1 − Δ))² + ReLU(−Δ − θ)²`: the upper
/// penalty starts Δ *inside* the domain, the lower one Δ *outside* it (both thresholds are the bound minus Δ).
/// For β give each group its own bounds; groups with `bounds == nil` add nothing to R_boundary but still
/// count in n.
///
/// Gradients (∂R/∂θ_ijk, the mean's dependence on θ cancels because Σ_i (θ_ijk − mean) = 0):
///
///     2 δ1 λ_j / m_j · (θ_ijk − mean_i θ_ijk)  +  2 δ2 / n · (θ_ijk − θ_k0)
///       + 2 δ3 / n · ( [θ_ijk − (u_j − Δ)]₊ − [(l_j − Δ) − θ_ijk]₊ )
///
/// Everything is accumulated in `Double`; gradients are rounded to `Float` once.
public struct LayerwiseRegularizer: Sendable, Equatable, Codable {
    /// δ1, weight of the towards-the-layer-mean term.
    public var delta1: Double
    /// δ2, weight of the towards-the-default term.
    public var delta2: Double
    /// δ3, weight of the boundary term.
    public var delta3: Double
    /// Δ, the boundary margin.
    public var margin: Double

    public init(delta1: Double = 0, delta2: Double = 0, delta3: Double = 0, margin: Double = 0) {
        self.delta1 = delta1
        self.delta2 = delta2
        self.delta3 = delta3
        self.margin = margin
    }

    /// True when every δ is zero (evaluating would return zeros).
    public var isDisabled: Bool { delta1 == 0 && delta2 == 0 && delta3 == 0 }

    /// The regulariser's value R = R_mean + R_default + R_boundary, the three terms, and ∂R/∂values for each
    /// group (same layout as `values`).
    public func evaluate(_ groups: [RegularizerGroup])
        -> (loss: Double, terms: (mean: Double, default: Double, boundary: Double), gradients: [[Float]])
    {
        let n = groups.reduce(0) { $0 + $1.values.count }
        guard n > 0 else { return (0, (0, 0, 0), groups.map { _ in [] }) }
        let perValue = 1 / Double(n)
        var meanTerm = 0.0, defaultTerm = 0.0, boundaryTerm = 0.0
        var gradients: [[Float]] = []
        gradients.reserveCapacity(groups.count)
        let delta = margin

        for group in groups {
            let m = group.units, k = group.width
            let theta = group.values
            var grad = [Double](repeating: 0, count: theta.count)

            // Towards the layer mean, per component.
            if delta1 != 0 {
                var mean = [Double](repeating: 0, count: k)
                for i in 0..<m { for c in 0..<k { mean[c] += Double(theta[i * k + c]) } }
                for c in 0..<k { mean[c] /= Double(m) }
                let w = delta1 * Double(group.lambda) / Double(m)
                var s = 0.0
                for i in 0..<m {
                    for c in 0..<k {
                        let d = Double(theta[i * k + c]) - mean[c]
                        s += d * d
                        grad[i * k + c] += 2 * w * d
                    }
                }
                meanTerm += w * s
            }

            // Towards the default.
            if delta2 != 0 {
                let w = delta2 * perValue
                var s = 0.0
                for i in 0..<m {
                    for c in 0..<k {
                        let d = Double(theta[i * k + c]) - Double(group.defaults[c])
                        s += d * d
                        grad[i * k + c] += 2 * w * d
                    }
                }
                defaultTerm += w * s
            }

            // Boundary.
            if delta3 != 0, let bounds = group.bounds {
                let w = delta3 * perValue
                let upper = Double(bounds.upper) - delta, lower = Double(bounds.lower) - delta
                var s = 0.0
                for e in theta.indices {
                    let x = Double(theta[e])
                    let over = max(x - upper, 0), under = max(lower - x, 0)
                    s += over * over + under * under
                    grad[e] += 2 * w * (over - under)
                }
                boundaryTerm += w * s
            }
            gradients.append(grad.map { Float($0) })
        }
        return (meanTerm + defaultTerm + boundaryTerm, (meanTerm, defaultTerm, boundaryTerm), gradients)
    }
}
