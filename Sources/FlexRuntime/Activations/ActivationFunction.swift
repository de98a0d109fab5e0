// The flexible activation family (Jie, Gao, Vasnev, Tran 2020, eq. 1): o(z) = Σ_k α_k f_k(z; β), with
// per-unit α on the simplex and at most one per-unit β shared by the parametric components.
// See docs/activations.md for the members, the principle checks, defaults and broadcasting rules.

/// A closed interval over the extended reals (either end may be infinite).
///
/// Domains and ranges are compared as closed hulls: the sigmoid's range (0, 1) is stored as [0, 1], so the
/// ramp's [0, 1] lies within it. In JSON an infinite end is written as `null`.
public struct Interval: Sendable, Equatable, Codable, CustomStringConvertible {
    public var lower: Double
    public var upper: Double

    public init(_ lower: Double, _ upper: Double) {
        precondition(!lower.isNaN && !upper.isNaN && lower <= upper, "Interval: invalid bounds \(lower), \(upper)")
        self.lower = lower
        self.upper = upper
    }

    /// (−∞, ∞).
    public static let real = Interval(-.infinity, .infinity)

    /// Both ends finite.
    public var isBounded: Bool { lower.isFinite && upper.isFinite }
    /// `other` ⊆ `self`.
    public func contains(_ other: Interval) -> Bool { lower <= other.lower && other.upper <= upper }
    /// `x` ∈ `self`.
    public func contains(_ x: Double) -> Bool { lower <= x && x <= upper }
    /// The nearest point of the interval to `x`.
    public func clamp(_ x: Double) -> Double { Swift.min(Swift.max(x, lower), upper) }

    public var description: String {
        func f(_ v: Double) -> String {
            if v == .infinity { return "∞" }
            if v == -.infinity { return "-∞" }
            return v == v.rounded() && abs(v) < 1e15 ? String(Int(v)) : "\(v)"
        }
        return (lower.isFinite ? "[" : "(") + f(lower) + ", " + f(upper) + (upper.isFinite ? "]" : ")")
    }

    private enum CodingKeys: String, CodingKey { case lower, upper }
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let lo = try c.decodeIfPresent(Double.self, forKey: .lower) ?? -.infinity
        let hi = try c.decodeIfPresent(Double.self, forKey: .upper) ?? .infinity
        guard !lo.isNaN, !hi.isNaN, lo <= hi else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "invalid interval [\(lo), \(hi)]"))
        }
        self.init(lo, hi)
    }
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        if lower.isFinite { try c.encode(lower, forKey: .lower) } else { try c.encodeNil(forKey: .lower) }
        if upper.isFinite { try c.encode(upper, forKey: .upper) } else { try c.encodeNil(forKey: .upper) }
    }
}

/// One component f_k(z; β) of a combination, as data.
public struct Component: Sendable, Equatable, Codable, CustomStringConvertible {
    /// The built-in kernels that evaluate a component (value, ∂/∂z, ∂/∂β; see docs/activations.md).
    public enum Kernel: String, Sendable, Equatable, Codable, CaseIterable {
        /// z
        case identity
        /// max(z, 0)
        case relu
        /// ELU(z; β) = z if z > 0 else β(e^z − 1)
        case elu
        /// −ELU(−z; β) = z if z < 0 else β(1 − e^−z)
        case negatedELU = "neg-elu"
        /// ELU(z; β) − ELU(−z; β) (odd)
        case symmetricELU = "sym-elu"
        /// 1/(1 + e^−z)
        case sigmoid
        /// tanh z
        case tanh
        /// clip(βz + 1/2, 0, 1): the sigmoid's ramp substitute (eq. 5)
        case sigmoidRamp = "sig-ramp"
        /// clip(βz, −1, 1): the tanh's ramp substitute (hardtanh of βz)
        case tanhRamp = "tanh-ramp"
        /// z if z > 0 else βz (PReLU, slope β)
        case prelu

        /// β used when the component has no learnable β (ELU family 1, ramps 1/4 and 1, PReLU 0.25).
        public var fixedBeta: Double {
            switch self {
            case .elu, .negatedELU, .symmetricELU, .tanhRamp: 1
            case .sigmoidRamp: 0.25
            case .prelu: 0.25
            case .identity, .relu, .sigmoid, .tanh: 0
            }
        }

        /// The feasible set of β (what `project` clamps to): ramp slopes and ELU scales ≥ `minimumScale`,
        /// PReLU's slope unconstrained (as PyTorch), kernels without β: all of ℝ (β unused).
        public var betaDomain: Interval {
            switch self {
            case .elu, .negatedELU, .symmetricELU, .sigmoidRamp, .tanhRamp: Interval(ActivationFunction.minimumScale, .infinity)
            case .prelu, .identity, .relu, .sigmoid, .tanh: .real
            }
        }

        /// Whether β enters the kernel at all.
        public var usesBeta: Bool {
            switch self {
            case .identity, .relu, .sigmoid, .tanh: false
            default: true
            }
        }

        /// The closed hull of the values the kernel takes over its domain for any feasible β (for a fixed β,
        /// see `range(beta:)`).
        public func range(beta: Double?) -> Interval {
            switch self {
            case .identity, .symmetricELU, .prelu: .real
            case .relu: Interval(0, .infinity)
            case .elu: Interval(beta.map { -$0 } ?? -.infinity, .infinity)
            case .negatedELU: Interval(-.infinity, beta ?? .infinity)
            case .sigmoid, .sigmoidRamp: Interval(0, 1)
            case .tanh, .tanhRamp: Interval(-1, 1)
            }
        }
    }

    /// Display name, e.g. `ramp`.
    public var name: String
    /// Where the component is defined (ℝ for all built-in kernels).
    public var domain: Interval
    /// The closed hull of its values.
    public var range: Interval
    /// Whether the component reads the unit's learnable β (otherwise it uses `kernel.fixedBeta`).
    public var hasBeta: Bool
    /// How it is evaluated.
    public var kernel: Kernel

    public init(name: String, domain: Interval, range: Interval, hasBeta: Bool, kernel: Kernel) {
        self.name = name
        self.domain = domain
        self.range = range
        self.hasBeta = hasBeta
        self.kernel = kernel
    }

    /// A component with the kernel's natural domain (ℝ) and range.
    public init(_ kernel: Kernel, name: String? = nil, hasBeta: Bool = false) {
        let learnable = hasBeta && kernel.usesBeta
        self.init(name: name ?? kernel.rawValue, domain: .real,
                  range: kernel.range(beta: learnable ? nil : kernel.fixedBeta), hasBeta: learnable, kernel: kernel)
    }

    public static let identity = Component(.identity)
    public static let relu = Component(.relu)
    /// ELU with β fixed to 1 (range [−1, ∞)).
    public static let elu = Component(.elu)
    /// −ELU(−z) with β fixed to 1 (range (−∞, 1]).
    public static let negatedELU = Component(.negatedELU)
    public static let sigmoid = Component(.sigmoid)
    public static let tanh = Component(.tanh)
    /// clip(βz + 1/2, 0, 1) with a learnable slope β.
    public static let sigmoidRamp = Component(.sigmoidRamp, name: "ramp", hasBeta: true)
    /// clip(βz, −1, 1) with a learnable slope β.
    public static let tanhRamp = Component(.tanhRamp, name: "hardtanh-ramp", hasBeta: true)
    /// ELU(z; β) − ELU(−z; β) with a learnable scale β.
    public static let symmetricELU = Component(.symmetricELU, name: "elu-odd", hasBeta: true)
    /// PReLU with a learnable slope β.
    public static let prelu = Component(.prelu, hasBeta: true)

    public var description: String { "\(name) (domain \(domain), range \(range)\(hasBeta ? ", β" : ""))" }
}

/// An activation function of the flexible family (eq. 1): o(z) = Σ_k α_k f_k(z; β), with per-unit α, β.
///
/// Per unit it stores `alphaWidth` α values and `betaWidth` β values: a single component has no α; two
/// components share one free weight α (the first gets α, the second 1 − α); K ≥ 3 components store a point
/// of the simplex (α_k ≥ 0, Σ α_k = 1). One β per unit at most, shared by the components with `hasBeta`.
public struct ActivationFunction: Sendable, Equatable, Codable, CustomStringConvertible {
    /// The member's name, e.g. `p-e2-relu`.
    public var name: String
    /// α values stored per unit: 0 (no α), 1 (one free weight: components get α and 1−α), or K (simplex).
    public private(set) var alphaWidth: Int
    /// β values stored per unit (0 or 1).
    public private(set) var betaWidth: Int
    /// The baseline the principles are checked against (e.g. sigmoid for P-Sig-Ramp).
    public private(set) var baseline: Component
    /// The components f_k, in α order.
    public private(set) var components: [Component]
    /// Initial α for one unit (`alphaWidth` values).
    public private(set) var initialAlpha: [Double]
    /// Initial β for one unit (`betaWidth` values).
    public private(set) var initialBeta: [Double]

    /// Smallest ramp slope / ELU scale kept by `project` (β ≥ 1e-3).
    public static let minimumScale: Double = 1e-3
    /// Tolerance on the simplex used by `validate`: each α_k ≥ −tol and |Σ α_k − 1| ≤ tol, tol = 1e-4
    /// (Float storage of K values after projection is exact to about K·6e-8; 1e-4 also admits values printed
    /// with 4–5 decimals). A free weight must lie in [−tol, 1 + tol].
    public static let simplexTolerance: Double = 1e-4

    /// The built-in members, in the order `flexctl activation` lists them.
    public static let memberNames: [String] = [
        "identity", "relu", "elu", "prelu", "sigmoid", "tanh",
        "p-sig-ramp", "p-tanh-ramp", "p-e-relu", "p-e2-relu", "p-e2-id",
    ]

    /// A built-in member by name (case-insensitive); an unknown name throws a message listing the valid names.
    public static func member(_ name: String) throws(ConfigurationError) -> ActivationFunction {
        let key = name.lowercased()
        func make(_ base: Component, _ comps: [Component], alpha: [Double]? = nil, beta: [Double]? = nil)
            throws(ConfigurationError) -> ActivationFunction {
            try combination(name: key, baseline: base, components: comps, initialAlpha: alpha, initialBeta: beta)
        }
        switch key {
        case "identity": return try make(.identity, [.identity])
        case "relu": return try make(.relu, [.relu])
        case "elu": return try make(.elu, [.elu])
        case "prelu": return try make(.relu, [.prelu], beta: [0.25])
        case "sigmoid": return try make(.sigmoid, [.sigmoid])
        case "tanh": return try make(.tanh, [.tanh])
        case "p-sig-ramp": return try make(.sigmoid, [.sigmoid, .sigmoidRamp], alpha: [1], beta: [0.1])
        case "p-tanh-ramp": return try make(.tanh, [.tanh, .tanhRamp], alpha: [1], beta: [0.4])
        case "p-e-relu": return try make(.relu, [.relu, .elu, .negatedELU], alpha: [1, 0, 0])
        case "p-e2-relu": return try make(.relu, [.relu, .symmetricELU], alpha: [1], beta: [1])
        case "p-e2-id": return try make(.identity, [.identity, .symmetricELU], alpha: [0.5], beta: [1])
        default:
            throw ConfigurationError("unknown activation '\(name)'; valid names: \(memberNames.joined(separator: ", "))")
        }
    }

    /// The admissible range of a baseline for Principle 2: its range if bounded on both sides (sigmoid
    /// [0, 1], tanh [−1, 1]); otherwise all of ℝ — for unbounded baselines (identity, ReLU family)
    /// `combination` instead requires every component to be unbounded (above or below) as well.
    public static func admissibleRange(of baseline: Component) -> Interval {
        baseline.range.isBounded ? baseline.range : .real
    }

    /// Builds a combination o(z) = Σ α_k f_k(z; β) from components, checking the paper's principles:
    ///
    /// - Principle 1: every component's domain equals the baseline's domain;
    /// - Principle 2: every component's range lies within `admissibleRange(of: baseline)`, and a baseline
    ///   with an unbounded range admits only components with unbounded ranges (so sigmoid or tanh cannot
    ///   join a ReLU-family combination, while ELU, −ELU(−z) and ELU(z) − ELU(−z) can);
    /// - each component's declared range contains what its kernel actually produces (so a component cannot
    ///   pass Principle 2 by declaring a narrower range than it has).
    ///
    /// `initialAlpha`/`initialBeta` default to full weight on the first component and the first parametric
    /// component's `fixedBeta`; they are checked with `validate`.
    public static func combination(name: String, baseline: Component, components: [Component],
                                   initialAlpha: [Double]? = nil, initialBeta: [Double]? = nil)
        throws(ConfigurationError) -> ActivationFunction {
        guard !components.isEmpty else { throw ConfigurationError("activation '\(name)': a combination needs at least one component") }
        let admissible = admissibleRange(of: baseline)
        for c in components {
            guard c.domain == baseline.domain else {
                throw ConfigurationError(
                    "activation '\(name)': component '\(c.name)' has domain \(c.domain) and range \(c.range), but baseline '\(baseline.name)' has domain \(baseline.domain) (range \(baseline.range)); Principle 1 requires the same domain")
            }
            guard admissible.contains(c.range) else {
                throw ConfigurationError(
                    "activation '\(name)': component '\(c.name)' has domain \(c.domain) and range \(c.range), which is not within the range \(admissible) of bounded baseline '\(baseline.name)' (domain \(baseline.domain)); Principle 2 requires every component's range to lie within the baseline's")
            }
            guard baseline.range.isBounded || !c.range.isBounded else {
                throw ConfigurationError(
                    "activation '\(name)': component '\(c.name)' has the bounded range \(c.range), but baseline '\(baseline.name)' has the unbounded range \(baseline.range); Principle 2 requires the components of an unbounded baseline to be unbounded too")
            }
            let natural = c.kernel.range(beta: c.hasBeta ? nil : c.kernel.fixedBeta)
            guard c.range.contains(natural) else {
                throw ConfigurationError(
                    "activation '\(name)': component '\(c.name)' declares range \(c.range) but its kernel '\(c.kernel.rawValue)' takes values in \(natural)")
            }
            guard c.domain.contains(Interval.real) else {
                throw ConfigurationError("activation '\(name)': component '\(c.name)' has domain \(c.domain); the kernels are defined on all of ℝ, so only (-∞, ∞) is supported")
            }
        }
        let k = components.count
        var f = ActivationFunction(name: name, alphaWidth: k == 1 ? 0 : (k == 2 ? 1 : k),
                                   betaWidth: components.contains { $0.hasBeta } ? 1 : 0,
                                   baseline: baseline, components: components, initialAlpha: [], initialBeta: [])
        let defaultAlpha: [Double] = f.alphaWidth == 0 ? [] : (f.alphaWidth == 1 ? [1] : [1] + Array(repeating: 0, count: k - 1))
        let defaultBeta: [Double] = f.betaWidth == 0 ? [] : [components.first { $0.hasBeta }!.kernel.fixedBeta]
        let alpha = initialAlpha ?? defaultAlpha
        let beta = initialBeta ?? defaultBeta
        do throws(ConfigurationError) {
            try f.validate(alpha: alpha, beta: beta)
        } catch {
            throw ConfigurationError("activation '\(name)': invalid initial parameters: \(error.message)")
        }
        f.initialAlpha = alpha
        f.initialBeta = beta
        return f
    }

    private init(name: String, alphaWidth: Int, betaWidth: Int, baseline: Component, components: [Component],
                 initialAlpha: [Double], initialBeta: [Double]) {
        self.name = name
        self.alphaWidth = alphaWidth
        self.betaWidth = betaWidth
        self.baseline = baseline
        self.components = components
        self.initialAlpha = initialAlpha
        self.initialBeta = initialBeta
    }

    /// Initial α for one unit (`alphaWidth` values).
    public func defaultAlpha() -> [Float] { initialAlpha.map(Float.init) }
    /// Initial β for one unit (`betaWidth` values).
    public func defaultBeta() -> [Float] { initialBeta.map(Float.init) }

    /// The feasible set of the shared β: the intersection of the parametric components' `betaDomain`s.
    public var betaDomain: Interval {
        var lo = -Double.infinity, hi = Double.infinity
        for c in components where c.hasBeta {
            lo = Swift.max(lo, c.kernel.betaDomain.lower)
            hi = Swift.min(hi, c.kernel.betaDomain.upper)
        }
        return Interval(lo, Swift.max(lo, hi))
    }

    /// The weight each component gets from one unit's α: baseline 1; free weight (α, 1 − α); simplex α.
    @inlinable
    public func componentWeights<T: FloatingPoint>(_ alpha: [T]) -> [T] {
        switch alphaWidth {
        case 0: [1]
        case 1: [alpha[0], 1 - alpha[0]]
        default: alpha
        }
    }

    /// Checks one unit's parameters: counts (`alphaWidth`, `betaWidth`), finiteness, α ∈ [0, 1] for a free
    /// weight or on the simplex (tolerance `simplexTolerance`) for K ≥ 3 components, β within `betaDomain`.
    public func validate(alpha: [Double], beta: [Double]) throws(ConfigurationError) {
        let tol = Self.simplexTolerance
        guard alpha.count == alphaWidth else {
            throw ConfigurationError("\(name): expected \(alphaWidth) α value\(alphaWidth == 1 ? "" : "s") per unit, found \(alpha.count)")
        }
        guard beta.count == betaWidth else {
            throw ConfigurationError("\(name): expected \(betaWidth) β value\(betaWidth == 1 ? "" : "s") per unit, found \(beta.count)")
        }
        if let bad = alpha.first(where: { !$0.isFinite }) { throw ConfigurationError("\(name): α must be finite, found \(bad)") }
        if let bad = beta.first(where: { !$0.isFinite }) { throw ConfigurationError("\(name): β must be finite, found \(bad)") }
        if alphaWidth == 1 {
            guard alpha[0] >= -tol, alpha[0] <= 1 + tol else {
                throw ConfigurationError("\(name): α must lie in [0, 1] (weights α on \(components[0].name), 1−α on \(components[1].name)), found \(alpha[0])")
            }
        } else if alphaWidth > 1 {
            if let i = alpha.firstIndex(where: { $0 < -tol }) {
                throw ConfigurationError("\(name): α must lie on the simplex (α_k ≥ 0, Σα = 1); α[\(i)] (\(components[i].name)) = \(alpha[i]) is negative")
            }
            let sum = alpha.reduce(0, +)
            guard abs(sum - 1) <= tol else {
                throw ConfigurationError("\(name): α must lie on the simplex (α_k ≥ 0, Σα = 1 within \(tol)); Σα = \(sum) for \(alpha)")
            }
        }
        if betaWidth == 1 {
            let d = betaDomain
            guard d.contains(beta[0]) else {
                throw ConfigurationError("\(name): β must lie in \(d), found \(beta[0])")
            }
        }
    }

    /// Checks the parameters of `units` units stored as the layer stores them (α `[units * alphaWidth]`,
    /// β `[units * betaWidth]`); the message names the first bad unit.
    public func validate(alpha: [Float], beta: [Float], units: Int) throws(ConfigurationError) {
        guard alpha.count == units * alphaWidth else {
            throw ConfigurationError("\(name): expected \(units * alphaWidth) α values for \(units) units, found \(alpha.count)")
        }
        guard beta.count == units * betaWidth else {
            throw ConfigurationError("\(name): expected \(units * betaWidth) β values for \(units) units, found \(beta.count)")
        }
        for u in 0..<units {
            do throws(ConfigurationError) {
                try validate(alpha: alpha[(u * alphaWidth)..<((u + 1) * alphaWidth)].map(Double.init),
                             beta: beta[(u * betaWidth)..<((u + 1) * betaWidth)].map(Double.init))
            } catch {
                throw ConfigurationError("unit \(u): \(error.message)")
            }
        }
    }

    public var description: String { name }

    // MARK: Codable

    private enum CodingKeys: String, CodingKey { case name, baseline, components, alpha, beta }

    /// Encoded as `{"name", "baseline", "components", "alpha", "beta"}` (alpha/beta: the initial values).
    /// Decoding also accepts a bare member name (`"p-e2-relu"`), and re-checks the principles.
    public init(from decoder: any Decoder) throws {
        if let single = try? decoder.singleValueContainer(), let s = try? single.decode(String.self) {
            do { self = try Self.member(s) } catch {
                throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: error.message))
            }
            return
        }
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let name = try c.decode(String.self, forKey: .name)
        guard c.contains(.components) else {
            do { self = try Self.member(name) } catch {
                throw DecodingError.dataCorruptedError(forKey: .name, in: c, debugDescription: error.message)
            }
            return
        }
        let baseline = try c.decode(Component.self, forKey: .baseline)
        let components = try c.decode([Component].self, forKey: .components)
        let alpha = try c.decodeIfPresent([Double].self, forKey: .alpha)
        let beta = try c.decodeIfPresent([Double].self, forKey: .beta)
        do {
            self = try Self.combination(name: name, baseline: baseline, components: components,
                                        initialAlpha: alpha, initialBeta: beta)
        } catch {
            throw DecodingError.dataCorruptedError(forKey: .components, in: c, debugDescription: error.message)
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(name, forKey: .name)
        try c.encode(baseline, forKey: .baseline)
        try c.encode(components, forKey: .components)
        try c.encode(initialAlpha, forKey: .alpha)
        try c.encode(initialBeta, forKey: .beta)
    }
}
