import FlexRuntime

/// What an experiment trains: `flexctl experiment cae` (auto-encoders) or `flexctl experiment forecast` (LSTMs).
public enum ExperimentTask: String, Codable, Sendable, CaseIterable {
    case cae, forecast
}

/// One arm of an experiment: the models trained with one choice of nonlinearity (and regulariser).
///
/// Written `member[+key=value...]`, e.g. `relu`, `p-e2-relu+reg-mean=0.01`; for `forecast` the member is the
/// gates' and `cell=` sets the cell's (`p-sig-ramp+cell=p-tanh-ramp`). Keys: `reg-mean`, `reg-default`,
/// `reg-boundary` (the regulariser's weights δ1, δ2, δ3), `margin` (Δ) and, for `forecast`, `cell`. A key not
/// given takes the experiment's value (its `--reg-mean` etc.).
public struct Arm: Codable, Sendable, Equatable, Hashable {
    /// The arm as written (lowercased): its name in tables, plots and folder names.
    public var name: String
    /// The CAE's hidden activation, or the forecaster's gate member.
    public var activation: String
    /// The forecaster's cell member (nil: the experiment's `--cell`).
    public var cell: String?
    public var regMean: Double?
    public var regDefault: Double?
    public var regBoundary: Double?
    public var margin: Double?

    /// Parses one arm. Throws a message naming the arm and what was expected.
    public init(parsing text: String, task: ExperimentTask) throws(ExperimentError) {
        let spec = text.lowercased()
        let parts = spec.split(separator: "+", omittingEmptySubsequences: false).map(String.init)
        func fail(_ why: String) -> ExperimentError { ExperimentError("arm '\(text)': \(why)") }
        guard let member = parts.first, !member.isEmpty else { throw fail("expected member[+key=value...], e.g. p-e2-relu+reg-mean=0.01") }
        do { _ = try ActivationFunction.member(member) } catch { throw fail(error.message) }
        name = spec
        activation = member
        var seen: Set<String> = []
        for part in parts.dropFirst() {
            let kv = part.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
            guard kv.count == 2, !kv[0].isEmpty, !kv[1].isEmpty else {
                throw fail("'\(part)' is not key=value (keys: \(Arm.keys(task).joined(separator: ", ")))")
            }
            let (key, value) = (kv[0], kv[1])
            guard Arm.keys(task).contains(key) else {
                throw fail("unknown key '\(key)'; valid for \(task.rawValue): \(Arm.keys(task).joined(separator: ", "))")
            }
            guard seen.insert(key).inserted else { throw fail("key '\(key)' is given twice") }
            if key == "cell" {
                do { _ = try ActivationFunction.member(value) } catch { throw fail("cell: \(error.message)") }
                cell = value
                continue
            }
            guard let v = Double(value), v.isFinite, v >= 0 else {
                throw fail("\(key) '\(value)': expected a number ≥ 0")
            }
            switch key {
            case "reg-mean": regMean = v
            case "reg-default": regDefault = v
            case "reg-boundary": regBoundary = v
            default: margin = v
            }
        }
    }

    /// The keys an arm of `task` may set.
    public static func keys(_ task: ExperimentTask) -> [String] {
        ["reg-mean", "reg-default", "reg-boundary", "margin"] + (task == .forecast ? ["cell"] : [])
    }

    /// Whether the arm has a flexible activation (a member with mixing weights α): the CAE's activation, or the
    /// forecaster's gate or cell. PReLU (β only) and the fixed functions are baselines.
    public func isFlexible(defaultCell: String?) -> Bool {
        [activation, cell ?? defaultCell].compactMap { $0 }.contains { name in
            ((try? ActivationFunction.member(name))?.alphaWidth ?? 0) > 0
        }
    }
}

/// Parses `--arms a,b,c`: at least two distinct arms.
public func parseArms(_ list: [String], task: ExperimentTask) throws(ExperimentError) -> [Arm] {
    var arms: [Arm] = []
    for text in list {
        let arm = try Arm(parsing: text, task: task)
        guard !arms.contains(where: { $0.name == arm.name }) else {
            throw ExperimentError("arm '\(text)' is given twice")
        }
        arms.append(arm)
    }
    guard arms.count >= 2 else {
        throw ExperimentError("--arms: expected at least two arms to compare, found \(arms.count)")
    }
    return arms
}
