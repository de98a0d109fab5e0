import ArgumentParser
import FlexIO
import FlexPlot
import FlexRuntime
import FlexTraining

/// `flexctl activation NAME`: tabulates a member of the flexible family and its derivatives on a grid,
/// optionally plotting o(z) and dO/dz.
public struct ActivationCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "activation",
        abstract: "Tabulate an activation function and its derivatives over a grid of z.",
        discussion: """
        Prints z, o(z), dO/dz, dO/dalpha (one column per stored alpha) and dO/dbeta (one per beta) for z \
        from --from to --to in steps of --step (--to included when it lies on the grid). Members: \
        \(ActivationFunction.memberNames.joined(separator: ", ")).

        --alpha takes the free weights: one value for a two-component member (the components get alpha and \
        1 - alpha); for a member with K >= 3 components, K-1 values (the last weight is 1 minus their sum) \
        or all K values summing to 1. Without --alpha/--beta the member's initial values are used.
        """
    )

    /// The most grid points one call prints.
    public static let maxPoints = 100_000

    @Argument(help: ArgumentHelp("The member's name, e.g. p-sig-ramp.", valueName: "name"),
              completion: .list(ActivationFunction.memberNames))
    public var name: String

    @Option(parsing: .unconditional,
            help: ArgumentHelp("Free alpha weights, comma-separated (default: the member's initial alpha).",
                               valueName: "a[,a2...]"))
    public var alpha: String?

    @Option(parsing: .unconditional,
            help: ArgumentHelp("Beta, comma-separated if the member has several (default: initial beta).",
                               valueName: "b"))
    public var beta: String?

    @Option(parsing: .unconditional, help: ArgumentHelp("First z, in \(OptionBounds.gridEnd.text).", valueName: "x"))
    public var from: Double = -4

    @Option(parsing: .unconditional, help: ArgumentHelp("Last z (included when on the grid), in \(OptionBounds.gridEnd.text).", valueName: "y"))
    public var to: Double = 4

    @Option(parsing: .unconditional, help: ArgumentHelp("Grid spacing, in \(OptionBounds.gridStep.text); at most \(maxPoints) points.", valueName: "s"))
    public var step: Double = 0.5

    @OptionGroup public var output: OutputOptions

    @Option(help: ArgumentHelp("Also plot o(z) and dO/dz to this file (.png or .svg).", valueName: "file"))
    public var plot: String?

    public init() {}

    // MARK: Validation

    /// Everything the command needs, checked.
    public struct Resolved: Sendable {
        public var function: ActivationFunction
        public var alpha: [Double]
        public var beta: [Double]
        public var grid: [Double]
    }

    public func validate() throws {
        _ = try resolve()
    }

    /// Checks every input and resolves defaults; throws `ValidationError`s that quote the bad value.
    public func resolve() throws -> Resolved {
        let function: ActivationFunction
        do {
            function = try ActivationFunction.member(name)
        } catch {
            throw ValidationError(
                "unknown activation '\(name)'; valid members: \(ActivationFunction.memberNames.joined(separator: ", "))")
        }
        var alphaValues = try resolveAlpha(function)
        let betaValues = try resolveBeta(function)
        do {
            try function.validate(alpha: alphaValues, beta: betaValues)
        } catch {
            throw ValidationError("\(describeParameters(function, alphaValues, betaValues)): \(error.message)")
        }
        // Within the tolerance `validate` allows, put α exactly on its feasible set (as training does).
        if function.alphaWidth == 1 {
            alphaValues = alphaValues.map { min(max($0, 0), 1) }
        } else if function.alphaWidth > 1 {
            ActivationFunction.projectOntoSimplex(&alphaValues)
        }
        let grid = try Self.makeGrid(from: from, to: to, step: step)
        if let plot {
            guard LinePlot.Format(path: plot) != nil else {
                throw ValidationError("--plot '\(plot)': unsupported file type; use a .png or .svg file name")
            }
            if let reason = reasonPathIsNotWritable(plot) {
                throw ValidationError("--plot '\(plot)': cannot write there (\(reason))")
            }
        }
        return Resolved(function: function, alpha: alphaValues, beta: betaValues, grid: grid)
    }

    private func describeParameters(_ f: ActivationFunction, _ a: [Double], _ b: [Double]) -> String {
        var parts: [String] = []
        if let alpha { parts.append("--alpha '\(alpha)'") } else if !a.isEmpty { parts.append("alpha \(list(a))") }
        if let beta { parts.append("--beta '\(beta)'") } else if !b.isEmpty { parts.append("beta \(list(b))") }
        return parts.isEmpty ? "'\(f.name)'" : parts.joined(separator: " with ")
    }

    private func list(_ v: [Double]) -> String { v.map(NumberText.exact).joined(separator: ",") }

    /// Parses `a,b,c` into finite Doubles.
    static func parseList(_ text: String, option: String) throws -> [Double] {
        let parts = text.split(separator: ",", omittingEmptySubsequences: false)
            .map { $0.drop(while: { $0 == " " || $0 == "\t" }) }
            .map { String($0.reversed().drop(while: { $0 == " " || $0 == "\t" }).reversed()) }
        var values: [Double] = []
        for p in parts {
            guard let v = Double(p), v.isFinite else {
                throw ValidationError("\(option) '\(text)': '\(p)' is not a finite number")
            }
            values.append(v)
        }
        return values
    }

    func resolveAlpha(_ f: ActivationFunction) throws -> [Double] {
        let width = f.alphaWidth
        guard let alpha else { return doubles(f.defaultAlpha()) }
        if width == 0 {
            throw ValidationError("--alpha '\(alpha)': '\(f.name)' has no alpha weights; leave out --alpha")
        }
        let values = try Self.parseList(alpha, option: "--alpha")
        if width == 1 {
            guard values.count == 1 else {
                throw ValidationError("--alpha '\(alpha)': '\(f.name)' takes 1 value (its components get alpha and "
                    + "1 - alpha), found \(values.count)")
            }
            return values
        }
        // K >= 3 stored weights on the simplex; the tolerance matches `validate(alpha:beta:)`'s (1e-4).
        let tolerance = 1e-4
        let onSimplex = "alpha must lie on the simplex (every weight >= 0, sum 1)"
        if let bad = values.first(where: { $0 < -tolerance }) {
            throw ValidationError("--alpha '\(alpha)': weight \(NumberText.exact(bad)) is negative; \(onSimplex)")
        }
        let sum = values.reduce(0, +)
        if values.count == width - 1 {
            let last = 1 - sum
            if last < -tolerance {
                throw ValidationError("--alpha '\(alpha)': the values sum to \(NumberText.short(sum)) > 1, which "
                    + "leaves alpha\(width) = \(NumberText.short(last)); \(onSimplex)")
            }
            return values + [Swift.max(0, last)]
        }
        if values.count == width {
            guard abs(sum - 1) <= tolerance else {
                throw ValidationError("--alpha '\(alpha)': \(width) values must sum to 1, found "
                    + "\(NumberText.short(sum)); \(onSimplex)")
            }
            return values
        }
        throw ValidationError("--alpha '\(alpha)': '\(f.name)' has \(width) weights: give \(width - 1) values "
            + "(alpha\(width) = 1 - their sum) or \(width) values summing to 1, found \(values.count)")
    }

    func resolveBeta(_ f: ActivationFunction) throws -> [Double] {
        guard let beta else { return doubles(f.defaultBeta()) }
        if f.betaWidth == 0 {
            throw ValidationError("--beta '\(beta)': '\(f.name)' has no beta parameter; leave out --beta")
        }
        let values = try Self.parseList(beta, option: "--beta")
        guard values.count == f.betaWidth else {
            throw ValidationError("--beta '\(beta)': '\(f.name)' takes \(f.betaWidth) value"
                + "\(f.betaWidth == 1 ? "" : "s"), found \(values.count)")
        }
        return values
    }

    /// The z grid: `from`, `from + step`, ... up to `to`, with `to` included when it lands on the grid
    /// (within rounding). Decimal inputs give decimal points (-4, -3.9, ... not -3.9000000000000004).
    public static func makeGrid(from: Double, to: Double, step: Double) throws -> [Double] {
        let t = NumberText.short
        try OptionBounds.gridEnd.check(from, "--from")
        try OptionBounds.gridEnd.check(to, "--to")
        try OptionBounds.gridStep.check(step, "--step")
        guard from < to else {
            throw ValidationError("--from \(t(from)) must be below --to \(t(to))")
        }
        let intervals = (to - from) / step
        guard intervals.isFinite, intervals < Double(maxPoints) else {
            throw ValidationError("--from \(t(from)) --to \(t(to)) --step \(t(step)) gives "
                + "\(intervals < 1e15 ? String(Int(intervals) + 1) : "too many") points; the limit is \(maxPoints) "
                + "(use a larger --step or a shorter range)")
        }
        // Exact decimal arithmetic when all three are short decimals.
        if let d = [from, to, step].map(decimals).reduce(Optional(0), { a, b in
            guard let a, let b else { return nil }
            return Swift.max(a, b)
        }) {
            let scale = pow10(d)
            let f = (from * scale).rounded(), e = (to * scale).rounded(), s = (step * scale).rounded()
            if s > 0, Swift.max(abs(f), abs(e)) < 1e15 {
                let n = Int((e - f) / s) // intervals, rounded down: exact for integers below 2^53
                var grid = (0...n).map { (f + Double($0) * s) / scale }
                if grid.count > maxPoints { grid.removeLast(grid.count - maxPoints) }
                return grid.map { $0 == 0 ? 0 : $0 }
            }
        }
        let n = Int((intervals + 1e-9 * Swift.max(1, intervals)).rounded(.down))
        var grid = (0...n).map { from + Double($0) * step }
        if abs(grid[n] - to) <= 1e-9 * step { grid[n] = to }
        return grid.map { abs($0) < 1e-12 * step ? 0 : $0 }
    }

    private static func pow10(_ d: Int) -> Double {
        var p = 1.0
        for _ in 0..<d { p *= 10 }
        return p
    }

    /// The number of decimals (up to 9) that writes `x` exactly, or `nil`.
    private static func decimals(_ x: Double) -> Int? {
        for d in 0...9 {
            let s = x * pow10(d)
            if abs(s - s.rounded()) <= Swift.max(1e-7, 4 * s.ulp) { return d }
        }
        return nil
    }

    // MARK: Output

    /// The table as data: column names and one row of numbers per grid point.
    public struct Table: Sendable, Equatable {
        public var member: String
        public var alpha: [Double]
        public var beta: [Double]
        public var columns: [String]
        public var rows: [[Double]]
    }

    /// Column names: `z`, `o(z)`, `dO/dz`, then `dO/dalpha` (or `dO/dalpha1`...), then `dO/dbeta` (or numbered).
    public static func columnNames(alphaCount: Int, betaCount: Int) -> [String] {
        ["z", "o(z)", "dO/dz"] + numbered("dO/dalpha", alphaCount) + numbered("dO/dbeta", betaCount)
    }

    /// The same columns as CSV and JSON name them (snake_case, no punctuation): `z`, `o`, `do_dz`, `do_dalpha`
    /// (or `do_dalpha1`...), `do_dbeta`.
    public static func machineColumnNames(alphaCount: Int, betaCount: Int) -> [String] {
        ["z", "o", "do_dz"] + numbered("do_dalpha", alphaCount) + numbered("do_dbeta", betaCount)
    }

    private static func numbered(_ base: String, _ n: Int) -> [String] {
        n == 1 ? [base] : (0..<n).map { "\(base)\($0 + 1)" }
    }

    /// Evaluates the member on the grid.
    public static func tabulate(_ r: Resolved) -> Table {
        let rows = r.grid.map { z -> [Double] in
            let p = r.function.evaluate(z, alpha: r.alpha, beta: r.beta)
            return [z, p.value, p.dz] + p.dAlpha + p.dBeta
        }
        // evaluate returns one ∂o/∂α per stored α and one ∂o/∂β per β.
        return Table(member: r.function.name, alpha: r.alpha, beta: r.beta,
                     columns: columnNames(alphaCount: r.alpha.count, betaCount: r.beta.count), rows: rows)
    }

    /// The table rendered in `format`.
    public static func render(_ t: Table, format: OutputFormat) -> String {
        switch format {
        case .table: renderTable(t)
        case .csv: renderCSV(t)
        case .json: renderJSON(t)
        }
    }

    static func renderTable(_ t: Table) -> String {
        var out = "member: \(t.member)"
        if !t.alpha.isEmpty { out += "   alpha: " + t.alpha.map(NumberText.exact).joined(separator: ", ") }
        if !t.beta.isEmpty { out += "   beta: " + t.beta.map(NumberText.exact).joined(separator: ", ") }
        out += "\n"
        let cells = t.rows.map { row in row.enumerated().map { $0 == 0 ? NumberText.exact($1) : NumberText.table($1) } }
        let lines = TextTable.render([t.columns] + cells, right: Set(t.columns.indices))
        return out + lines.joined(separator: "\n") + "\n"
    }

    static func machineColumns(_ t: Table) -> [String] {
        machineColumnNames(alphaCount: t.alpha.count, betaCount: t.beta.count)
    }

    static func renderCSV(_ t: Table) -> String {
        var out = machineColumns(t).joined(separator: ",") + "\n"
        for row in t.rows { out += row.map(NumberText.exact).joined(separator: ",") + "\n" }
        return out
    }

    static func renderJSON(_ t: Table) -> String {
        JSONOutput.document(kind: "activation_table", ActivationJSON(
            member: t.member, alpha: JSONNumber.list(t.alpha), beta: JSONNumber.list(t.beta), columns: machineColumns(t),
            rows: t.rows.map { ActivationJSON.Row(columns: machineColumns(t), values: JSONNumber.list($0)) }))
    }

    /// Points per plot: enough that a curve looks smooth at any plot width flexctl draws.
    public static let plotSamples = 2001

    /// The z values a plot draws over `[from, to]`: `plotSamples` evenly spaced points plus the member's kink
    /// points inside the range (a ramp's corners, ReLU's 0), independent of the table's `--step`, so that a
    /// corner is drawn as a corner and not as a slope between two grid points.
    public static func plotPoints(_ r: Resolved, from: Double, to: Double) -> [Double] {
        guard from < to else { return [from] }
        let n = plotSamples - 1
        var z = (0...n).map { from + (to - from) * Double($0) / Double(n) }
        z += r.function.kinks(beta: r.beta).filter { $0 > from && $0 < to }
        return Array(Set(z)).sorted()
    }

    /// The plot of o(z) and dO/dz over `[from, to]`, sampled at `plotPoints`.
    public static func makePlot(_ r: Resolved, from: Double, to: Double) -> LinePlot {
        var title = r.function.name
        var params: [String] = []
        if !r.alpha.isEmpty { params.append("alpha=" + r.alpha.map(NumberText.exact).joined(separator: ",")) }
        if !r.beta.isEmpty { params.append("beta=" + r.beta.map(NumberText.exact).joined(separator: ",")) }
        if !params.isEmpty { title += " (" + params.joined(separator: ", ") + ")" }
        var plot = LinePlot(title: title, xLabel: "z", yLabel: "o(z), dO/dz")
        let z = plotPoints(r, from: from, to: to)
        let p = z.map { r.function.evaluate($0, alpha: r.alpha, beta: r.beta) }
        plot.addSeries(name: "o(z)", x: z, y: p.map(\.value))
        plot.addSeries(name: "dO/dz", x: z, y: p.map(\.dz))
        return plot
    }

    /// What `run` prints, after writing the plot file if one was asked for. The plot is written first,
    /// so a failure leaves no partial output on standard output.
    public func execute() throws -> String {
        let r = try resolve()
        let table = Self.tabulate(r)
        if let plot {
            do {
                try Self.makePlot(r, from: from, to: to).write(to: plot)
            } catch {
                throw CLIError("--plot: \(error.description)")
            }
        }
        return Self.render(table, format: output.resolved)
    }

    public func run() throws {
        writeStandardOutput(try execute())
    }
}

/// `activation`'s JSON document: the member, its α and β, the column names and one object per z.
struct ActivationJSON: Encodable {
    var member: String
    var alpha: [JSONNumber]
    var beta: [JSONNumber]
    var columns: [String]
    var rows: [Row]

    /// One grid point, keyed by the column names.
    struct Row: Encodable {
        var columns: [String]
        var values: [JSONNumber]

        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: NameKey.self)
            for (name, v) in zip(columns, values) { try c.encode(v, forKey: NameKey(name)) }
        }
    }
}

/// Default parameters arrive as Float (the layers' storage type); print them as the short decimals they
/// were written as (0.1, not 0.10000000149011612).
func doubles<T: BinaryFloatingPoint>(_ values: [T]) -> [Double] {
    values.map { v in
        if let f = v as? Float { return Double("\(f)") ?? Double(f) }
        return Double(v)
    }
}
