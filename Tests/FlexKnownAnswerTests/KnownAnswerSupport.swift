// Known-answer tests against PyTorch: loading Reference/reference.json and comparing tensors.
// Used by both the forward and the gradient known-answer tests of this target. See docs/reference-tests.md.
import Foundation
import FlexRuntime
import Testing

// MARK: - The reference file

/// A tensor as stored in reference.json: PyTorch layout, row-major, float64 values printed with 9 digits.
struct RefTensor: Decodable, Sendable {
    let shape: [Int]
    let data: [Double]
    /// The values as a float32 `Tensor` (inputs and parameters were rounded to float32 by the script, so this
    /// is exactly what PyTorch computed with).
    var tensor: Tensor { Tensor(shape: shape, scalars: data.map { Float($0) }) }
}

/// Layer sizes of a case (`in`/`out`/`kernel`/... for conv, pool and linear; `member`/`units` for
/// activations; `input_size`/... for LSTM).
struct RefSpec: Decodable, Sendable {
    let inChannels: Int?, outChannels: Int?, kernel: Int?, stride: Int?, padding: Int?, outputPadding: Int?
    let member: String?, units: Int?
    let inputSize: Int?, hiddenSize: Int?, numLayers: Int?, gate: String?, cell: String?
    let kind: String?

    enum CodingKeys: String, CodingKey {
        case inChannels = "in", outChannels = "out", kernel, stride, padding, outputPadding = "output_padding"
        case member, units, kind
        case inputSize = "input_size", hiddenSize = "hidden_size", numLayers = "num_layers", gate, cell
    }
}

/// One case of reference.json; which fields are present depends on `kind`.
struct RefCase: Decodable, Sendable {
    let name: String
    /// `conv2d`, `conv_transpose2d`, `maxpool2d`, `linear`, `activation`, `lstm`, `cae`, `adam`.
    let kind: String
    let spec: RefSpec?
    /// CAE cases: the layer list as the script built it.
    let architecture: [RefSpec]?
    let input: RefTensor?
    /// Parameters by name (layer cases: `weight`, `alpha`, ...; CAE cases: `layers.0.weight`, ...).
    let params: [String: RefTensor]?
    let output: RefTensor?
    /// The weighting of L = Σ w ⊙ y (layer cases).
    let w: RefTensor?
    let gradInput: RefTensor?
    let gradParams: [String: RefTensor]?
    /// CAE cases: MSE target and loss (mean over all elements).
    let target: RefTensor?
    let loss: Double?
    // Adam
    let lr: Double?, beta1: Double?, beta2: Double?, eps: Double?, weightDecay: Double?
    let initial: RefTensor?
    let gradients: [RefTensor]?
    let afterSteps: [RefTensor]?

    enum CodingKeys: String, CodingKey {
        case name, kind, spec, architecture, input, params, output, w, target, loss, lr, beta1, beta2, eps, initial, gradients
        case gradInput = "grad_input", gradParams = "grad_params", weightDecay = "weight_decay", afterSteps = "after_steps"
    }
}

struct RefGenerator: Decodable, Sendable {
    let command: String
    let torch: String
    let numpy: String
}

struct ReferenceFile: Decodable, Sendable {
    let generator: RefGenerator
    let cases: [RefCase]
}

enum KnownAnswer {
    /// The decoded file, read once per test process.
    static let file: Result<ReferenceFile, any Error> = Result {
        let data = try Data(contentsOf: referenceURL())
        return try JSONDecoder().decode(ReferenceFile.self, from: data)
    }

    /// All cases of one kind (empty if the file did not load; `referenceFileLoads` then fails).
    static func cases(_ kind: String) -> [RefCase] {
        (try? file.get().cases.filter { $0.kind == kind }) ?? []
    }

    /// Case names of one kind, as test arguments.
    static func names(_ kind: String) -> [String] { cases(kind).map(\.name) }

    /// The case of a kind with a name.
    static func `case`(_ kind: String, _ name: String) throws -> RefCase {
        let all = try file.get().cases
        guard let c = all.first(where: { $0.kind == kind && $0.name == name }) else {
            throw ConfigurationError("reference.json has no \(kind) case named '\(name)'")
        }
        return c
    }
}

// MARK: - Building layers from a case

extension RefCase {
    /// The flexctl layer spec of a layer case.
    func layerSpec() throws -> LayerSpec {
        guard let s = spec else { throw ConfigurationError("\(name): no spec") }
        switch kind {
        case "conv2d":
            return .conv2d(inChannels: s.inChannels!, outChannels: s.outChannels!, kernel: s.kernel!, stride: s.stride!,
                           padding: s.padding!)
        case "conv_transpose2d":
            return .convTranspose2d(inChannels: s.inChannels!, outChannels: s.outChannels!, kernel: s.kernel!,
                                    stride: s.stride!, padding: s.padding!, outputPadding: s.outputPadding ?? 0)
        case "maxpool2d":
            return .maxPool2d(kernel: s.kernel!, stride: s.stride!)
        case "linear":
            return .dense(inFeatures: s.inChannels!, outFeatures: s.outChannels!)
        case "activation":
            return .activation(try ActivationFunction.member(s.member!), units: s.units!)
        case "lstm":
            return .lstm(inputSize: s.inputSize!, hiddenSize: s.hiddenSize!, numLayers: s.numLayers!,
                         gate: try ActivationFunction.member(s.gate!), cell: try ActivationFunction.member(s.cell!))
        default:
            throw ConfigurationError("\(name): '\(kind)' is not a layer case")
        }
    }

    /// The layer with the reference parameters loaded. Checks that the layer has exactly the parameters
    /// the reference sets (so no parameter keeps a default value unnoticed).
    func makeLayer(sourceLocation: SourceLocation = #_sourceLocation) throws -> any Layer {
        var rng = SplitMix64(seed: 1)
        let layer = try layerSpec().makeLayer(name: "ref", rng: &rng)
        let params = self.params ?? [:]
        #expect(Set(layer.parameterNames) == Set(params.keys),
                "\(name): layer parameters \(layer.parameterNames.sorted()) != reference \(params.keys.sorted())",
                sourceLocation: sourceLocation)
        for (key, value) in params { try layer.setParameter(key, value.tensor) }
        return layer
    }

    /// Per-sample input shape of a CAE case.
    var perSampleInputShape: [Int] { Array(input!.shape.dropFirst()) }
}

// MARK: - Comparing

/// Result of comparing a float32 tensor with a float64 reference.
///
/// Element e passes when |a − e| ≤ tol · (|e| + max|E|): relative to the element for large values and
/// relative to the tensor's scale for small ones (float32 results of sums and chains carry errors that
/// scale with the size of the terms, not of the result). See docs/reference-tests.md.
struct Comparison: CustomStringConvertible {
    var shapeMatches: Bool
    var actualShape: [Int], expectedShape: [Int]
    /// Largest |a − e| / allowed over the elements (≤ 1 passes).
    var worstRatio: Double = 0
    var worstIndex: [Int] = []
    var worstActual: Float = 0, worstExpected: Double = 0, worstAllowed: Double = 0
    var failing = 0
    var count = 0
    var tolerance: Double

    var passes: Bool { shapeMatches && failing == 0 }

    var description: String {
        guard shapeMatches else { return "shape \(formatShape(actualShape)) != expected \(formatShape(expectedShape))" }
        let diff = abs(Double(worstActual) - worstExpected)
        return "\(failing) of \(count) elements outside tol \(tolerance); worst at \(formatShape(worstIndex)): "
            + "got \(worstActual), expected \(worstExpected), |diff| \(diff) (allowed \(worstAllowed), ratio \(String(format: "%.3g", worstRatio)))"
    }
}

func compare(_ actual: Tensor, _ expected: RefTensor, tolerance: Double) -> Comparison {
    var c = Comparison(shapeMatches: actual.shape == expected.shape, actualShape: actual.shape,
                       expectedShape: expected.shape, tolerance: tolerance)
    guard c.shapeMatches else { return c }
    let scale = expected.data.reduce(0) { max($0, abs($1)) }
    let floor = scale > 0 ? scale : 1
    c.count = expected.data.count
    var worst = -1
    for i in 0..<expected.data.count {
        let e = expected.data[i], a = Double(actual.scalars[i])
        let allowed = tolerance * (abs(e) + floor)
        let ratio = a.isNaN ? .infinity : abs(a - e) / allowed
        if ratio > 1 { c.failing += 1 }
        if ratio > c.worstRatio || worst < 0 {
            c.worstRatio = ratio; worst = i
            c.worstActual = actual.scalars[i]; c.worstExpected = e; c.worstAllowed = allowed
        }
    }
    // Multi-index of the worst element.
    var rest = max(worst, 0)
    var index = [Int](repeating: 0, count: expected.shape.count)
    for d in stride(from: expected.shape.count - 1, through: 0, by: -1) {
        index[d] = rest % expected.shape[d]; rest /= expected.shape[d]
    }
    c.worstIndex = index
    return c
}

/// Expects `actual` to match the reference within `tolerance`; on failure the message names the worst
/// element (multi-index, values, ratio) and how many elements are outside.
@discardableResult
func expectClose(_ actual: Tensor, _ expected: RefTensor, tolerance: Double = KnownAnswerTolerance.layer,
                 _ what: @autoclosure () -> String, sourceLocation: SourceLocation = #_sourceLocation) -> Comparison {
    let c = compare(actual, expected, tolerance: tolerance)
    if !c.passes { Issue.record("\(what()): \(c)", sourceLocation: sourceLocation) }
    if KnownAnswer.verbose {
        // KNOWN_ANSWER_VERBOSE=1: one line per comparison with the worst element, to see the margins.
        print("KnownAnswer \(c.passes ? "ok  " : "FAIL") \(what()): worst ratio \(String(format: "%.3g", c.worstRatio)) at \(formatShape(c.worstIndex)), |diff| \(String(format: "%.3g", abs(Double(c.worstActual) - c.worstExpected))) (tol \(tolerance))")
    }
    return c
}

extension KnownAnswer {
    static let verbose = ProcessInfo.processInfo.environment["KNOWN_ANSWER_VERBOSE"] != nil
}

/// Tolerances (see docs/reference-tests.md for the reasoning and measurements).
enum KnownAnswerTolerance {
    /// Single layers and activations: float32 vs float64 of the same formula.
    static let layer = 1e-5
    /// Compositions (LSTM over 6 steps, whole CAEs, their gradients).
    static let composite = 3e-5
    /// The Adam update (after − before), which is ~1e-2 of the parameters it is added to.
    static let adamUpdate = 1e-4
}
