import RealModule

// The scalar reference: o(z), ∂o/∂z, ∂o/∂α, ∂o/∂β in any real type (Double for tests and the CLI).
// Kink conventions follow PyTorch's autograd (see docs/activations.md):
// relu'(0) = 0; ELU'(z) = β·e^z for z ≤ 0 (so ELU'(0) = β); ELU(z) − ELU(−z) is smooth at 0 (slope 1 + β);
// PReLU'(0) = β; ramp/hardtanh derivatives are nonzero only strictly inside the linear part.

/// The value and derivatives of an activation at one point, for one unit's parameters.
public struct ActivationPoint<T: BinaryFloatingPoint & Sendable>: Sendable, Equatable {
    /// o(z)
    public var value: T
    /// ∂o/∂z
    public var dz: T
    /// ∂o/∂α_k for each stored α (`alphaWidth` values; for one free weight f_1 − f_2).
    public var dAlpha: [T]
    /// ∂o/∂β (`betaWidth` values).
    public var dBeta: [T]

    public init(value: T, dz: T, dAlpha: [T], dBeta: [T]) {
        self.value = value
        self.dz = dz
        self.dAlpha = dAlpha
        self.dBeta = dBeta
    }
}

extension Component.Kernel {
    /// f(z; β), ∂f/∂z, ∂f/∂β at a point.
    @inlinable
    public func evaluate<T: Real & BinaryFloatingPoint>(_ z: T, beta b: T) -> (f: T, dz: T, db: T) {
        switch self {
        case .identity:
            return (z, 1, 0)
        case .relu:
            return z > 0 ? (z, 1, 0) : (0, 0, 0)
        case .elu:
            if z > 0 { return (z, 1, 0) }
            let em1 = T.expMinusOne(z)
            return (b * em1, b * T.exp(z), em1)
        case .negatedELU:
            if z < 0 { return (z, 1, 0) }
            let em1 = T.expMinusOne(-z)
            return (-b * em1, b * T.exp(-z), -em1)
        case .symmetricELU:
            // ELU(z) − ELU(−z) is differentiable at 0 (both one-sided slopes are 1 + β), so z = 0 gets its exact
            // derivative 1 + β rather than the sum of the halves' torch subgradients (2β).
            let (f1, d1, b1) = Component.Kernel.elu.evaluate(z, beta: b)
            let (f2, d2, b2) = Component.Kernel.elu.evaluate(-z, beta: b)
            return (f1 - f2, z == 0 ? 1 + b : d1 + d2, b1 - b2)
        case .sigmoid:
            let s = z >= 0 ? 1 / (1 + T.exp(-z)) : T.exp(z) / (1 + T.exp(z))
            return (s, s * (1 - s), 0)
        case .tanh:
            let t = T.tanh(z)
            return (t, 1 - t * t, 0)
        case .sigmoidRamp:
            let u = b * z + T(0.5)
            if u <= 0 { return (0, 0, 0) }
            if u >= 1 { return (1, 0, 0) }
            return (u, b, z)
        case .tanhRamp:
            let u = b * z
            if u <= -1 { return (-1, 0, 0) }
            if u >= 1 { return (1, 0, 0) }
            return (u, b, z)
        case .prelu:
            return z > 0 ? (z, 1, 0) : (b * z, b, z)
        }
    }
}

extension ActivationFunction {
    /// o(z), ∂o/∂z, ∂o/∂α, ∂o/∂β for one unit's parameters (`alpha`: `alphaWidth` values, `beta`:
    /// `betaWidth` values). Precondition: the counts match.
    public func evaluate<T: Real & BinaryFloatingPoint>(_ z: T, alpha: [T], beta: [T]) -> ActivationPoint<T> {
        precondition(alpha.count == alphaWidth, "\(name): expected \(alphaWidth) α values, found \(alpha.count)")
        precondition(beta.count == betaWidth, "\(name): expected \(betaWidth) β values, found \(beta.count)")
        let w = componentWeights(alpha)
        var value: T = 0, dz: T = 0, dBeta: T = 0
        var fs: [T] = []
        fs.reserveCapacity(components.count)
        for (k, c) in components.enumerated() {
            let b = c.hasBeta ? beta[0] : T(c.kernel.fixedBeta)
            let (f, d, db) = c.kernel.evaluate(z, beta: b)
            value += w[k] * f
            dz += w[k] * d
            if c.hasBeta { dBeta += w[k] * db }
            fs.append(f)
        }
        let dAlpha: [T] = switch alphaWidth {
        case 0: []
        case 1: [fs[0] - fs[1]]
        default: fs
        }
        return ActivationPoint(value: value, dz: dz, dAlpha: dAlpha, dBeta: betaWidth == 1 ? [dBeta] : [])
    }
}

extension Component.Kernel {
    /// The points where f(z; β) or its derivative jumps (ReLU's 0, a ramp's two corners), in increasing order:
    /// a plot or a grid that does not contain them draws a kink as a slope.
    public func kinks(beta b: Double) -> [Double] {
        switch self {
        case .relu, .elu, .negatedELU, .symmetricELU, .prelu: [0]
        case .sigmoidRamp: b > 0 ? [-0.5 / b, 0.5 / b] : []
        case .tanhRamp: b > 0 ? [-1 / b, 1 / b] : []
        case .identity, .sigmoid, .tanh: []
        }
    }
}

extension ActivationFunction {
    /// The kink points of the member for one unit's β (`betaWidth` values), sorted and without repeats.
    public func kinks(beta: [Double]) -> [Double] {
        let points = components.flatMap { c in
            c.kernel.kinks(beta: c.hasBeta && !beta.isEmpty ? beta[0] : Double(c.kernel.fixedBeta))
        }
        return Array(Set(points.filter(\.isFinite))).sorted()
    }
}
