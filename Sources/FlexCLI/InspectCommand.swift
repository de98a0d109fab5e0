import ArgumentParser
import Foundation
import FlexRuntime

/// `flexctl inspect MODEL.h5 [--json]`: what a checkpoint holds — format, task, fingerprint, input
/// specification, architecture, per-slot α/β statistics and provenance.
public struct InspectCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Describe a checkpoint: format, task, fingerprint, input, architecture, alpha/beta statistics, provenance.",
        discussion: """
        Reads the checkpoint with the strict reader; a file it refuses prints the reader's full report (one \
        line per problem: FILE: HDF5-PATH: message) on standard error and exits with code 1, printing nothing \
        on standard output. Histograms have 10 bins, over [0, 1] for alpha and over [min, max] for beta.
        """
    )

    @Argument(help: ArgumentHelp("The checkpoint file (HDF5).", valueName: "model.h5"), completion: .file())
    public var model: String

    @Flag(help: "Print one JSON object instead of text.")
    public var json = false

    public init() {}

    public func run() throws {
        let checkpoint = try Checkpoint.read(from: model)  // a CheckpointError prints as "Error: <report>", exit 1
        let report = try Self.report(checkpoint, file: model)
        // Text shows strings from the file (provenance, series names, activation names): terminal-safe.
        writeStandardOutput(json ? report.json() : terminalSafe(report.text(), keepNewlines: true))
    }

    /// Histogram bins for α and β.
    public static let bins = 10

    /// Builds the report of a checkpoint (read from `file`, which the report names).
    public static func report(_ checkpoint: Checkpoint, file: String) throws -> Report {
        let model = try checkpoint.makeModel()
        return Report(file: file, checkpoint: checkpoint, model: model,
                      activations: model.activationStatistics(bins: bins))
    }

    /// Everything `inspect` prints, rendered as text or JSON.
    public struct Report {
        public var file: String
        public var checkpoint: Checkpoint
        public var model: Sequential
        public var activations: [ActivationSlotStatistics]

        /// The index of the encoder's last layer for an image auto-encoder with a valid split.
        var codeLayer: Int? {
            guard case let .image(s) = checkpoint.input, s.encoderLayers >= 1, s.encoderLayers <= model.layers.count
            else { return nil }
            return s.encoderLayers - 1
        }

        // MARK: Text

        public func text() -> String {
            var out: [String] = []
            let c = checkpoint
            var head: [(String, String)] = [
                ("file", file),
                ("format", "\(Checkpoint.formatName) \(c.formatVersion).\(c.formatMinorVersion), written by flexctl "
                    + "\(c.flexctlVersion), stored as \(c.storedType.rawValue)"),
                ("task", c.task.rawValue),
                ("fingerprint", c.fingerprint),
            ]
            switch c.input {
            case let .image(s):
                head.append(("input", "image \(s.channels)×\(s.height)×\(s.width), pixels \(s.pixelScaling.rawValue) "
                    + "(x = \(s.pixelScaling == .minusOneToOne ? "p/127.5 − 1" : "p/255"))"))
                if let k = codeLayer {
                    head.append(("code", "\(formatShape(model.layerOutputShapes[k])) after the encoder, layers 0–\(k) "
                        + "(\(model.layerOutputShapes[k].reduce(1, *)) values per image)"))
                }
            case let .series(s):
                head.append(("input", "series, window \(s.window) × \(s.features.count) feature"
                    + "\(s.features.count == 1 ? "" : "s"), horizon \(s.horizon), transform \(s.transform)"))
                head.append(("targets", s.targets.joined(separator: ", ")))
            }
            out += aligned(head.map { [$0.0, $0.1] }, indent: "")
            if case let .series(s) = c.input {
                out.append("")
                out.append("normalization (fitted on the training split)")
                var rows = [["feature", "mean", "std", "target"]]
                for (j, name) in s.features.enumerated() {
                    rows.append([name, num(s.normalization.mean[safe: j]), num(s.normalization.std[safe: j]),
                                 s.targets.contains(name) ? "yes" : ""])
                }
                out += table(rows, right: [1, 2])
            }

            out.append("")
            out.append("architecture (\(model.layers.count) layers, \(model.parameterCount) parameters)")
            var rows = [["layer", "kind", "output", "parameters"]]
            for (i, layer) in model.layers.enumerated() {
                rows.append([layer.name, layer.spec.summary,
                             formatShape(model.layerOutputShapes[i]) + (i == codeLayer ? " code" : ""),
                             String(layer.parameterCount)])
            }
            rows.append(["total", "", "", String(model.parameterCount)])
            out += table(rows, right: [3])

            out.append("")
            out.append("activation parameters (\(bins)-bin histograms: alpha over [0, 1], beta over [min, max])")
            var arows = [["slot", "member", "units", "parameter", "mean", "std", "min", "max", "histogram"]]
            for a in activations {
                var params = a.alpha.map { ($0.label, $0.statistics) }
                if let b = a.beta { params.append(("beta", b)) }
                if params.isEmpty {
                    arows.append([a.path, a.member, String(a.units), "(none)", "", "", "", "", ""])
                }
                for (k, (label, s)) in params.enumerated() {
                    arows.append([k == 0 ? a.path : "", k == 0 ? a.member : "", k == 0 ? String(a.units) : "", label,
                                  NumberText.table(s.mean), NumberText.table(s.std), NumberText.table(s.min),
                                  NumberText.table(s.max), "|" + histogramBar(s.histogram) + "|"])
                }
            }
            if activations.isEmpty { out.append("  (no activation slots)") } else { out += table(arows, right: [2, 4, 5, 6, 7]) }

            out.append("")
            if let p = c.provenance {
                out.append("provenance")
                out += aligned(provenanceRows(p))
            } else {
                out.append("provenance: none recorded")
            }
            return out.joined(separator: "\n") + "\n"
        }

        private func provenanceRows(_ p: Provenance) -> [[String]] {
            var rows: [[String]] = []
            if let d = p.dataset { rows.append(["dataset", d]) }
            let sizes = [("train", p.trainSize), ("validation", p.validationSize), ("test", p.testSize)]
                .compactMap { name, v in v.map { "\(name) \($0)" } }
            if !sizes.isEmpty { rows.append(["sizes", sizes.joined(separator: ", ")]) }
            if let s = p.seed { rows.append(["seed", String(s)]) }
            if let e = p.epochs { rows.append(["epochs", String(e)]) }
            if let o = p.optimizer {
                rows.append(["optimizer", "\(o.name), learning rate \(num(o.learningRate)), beta1 \(num(o.beta1)), "
                    + "beta2 \(num(o.beta2)), epsilon \(num(o.epsilon))"])
            }
            if let r = p.regularizer {
                rows.append(["regularizer", "delta1 \(num(r.delta1)), delta2 \(num(r.delta2)), delta3 \(num(r.delta3)), "
                    + "margin \(num(r.margin))"])
            }
            if let t = p.created { rows.append(["created", t]) }
            let finals = [("train", p.trainLoss.last), ("validation", p.validationLoss.last), ("test", p.testLoss)]
                .compactMap { name, v in v.map { "\(name) \(NumberText.table($0))" } }
            if !finals.isEmpty { rows.append(["final loss", finals.joined(separator: ", ")]) }
            let curves = [("train loss", p.trainLoss), ("validation loss", p.validationLoss)].filter { !$0.1.isEmpty }
            let finite = curves.flatMap(\.1).filter(\.isFinite)
            if let lo = finite.min(), let hi = finite.max() {
                for (name, v) in curves {
                    rows.append([name, "|" + sparkline(v, lo: lo, hi: hi) + "| \(v.count) epoch\(v.count == 1 ? "" : "s"), "
                        + "\(NumberText.table(v.first!)) → \(NumberText.table(v.last!))"])
                }
                if curves.count > 1 { rows.append(["", "(both curves on one scale, \(NumberText.table(lo)) to \(NumberText.table(hi)))"]) }
            }
            return rows
        }

        // MARK: JSON

        public func json() -> String {
            let c = checkpoint
            var input: [(String, InspectJSON)] = [("kind", .string(c.input.kindName))]
            switch c.input {
            case let .image(s):
                input += [("channels", .int(s.channels)), ("height", .int(s.height)), ("width", .int(s.width)),
                          ("pixel_scaling", .string(s.pixelScaling.rawValue)), ("encoder_layers", .int(s.encoderLayers))]
                if let k = codeLayer { input.append(("code_shape", .ints(model.layerOutputShapes[k]))) }
            case let .series(s):
                input += [("features", .array(s.features.map(InspectJSON.string))),
                          ("targets", .array(s.targets.map(InspectJSON.string))),
                          ("window", .int(s.window)), ("horizon", .int(s.horizon)), ("transform", .string(s.transform.rawValue)),
                          ("normalization", .object([("mean", .numbers(s.normalization.mean)),
                                                     ("std", .numbers(s.normalization.std))]))]
            }
            let layers: [InspectJSON] = model.layers.enumerated().map { i, layer in
                .object([("layer", .string(layer.name)), ("kind", .string(layer.spec.kindName)),
                         ("summary", .string(layer.spec.summary)), ("spec", .raw(layer.spec.canonicalJSON)),
                         ("output_shape", .ints(model.layerOutputShapes[i])),
                         ("parameters", .int(layer.parameterCount))])
            }
            func stats(_ s: ParameterStatistics) -> [(String, InspectJSON)] {
                [("count", .int(s.count)), ("mean", .number(s.mean)), ("std", .number(s.std)), ("min", .number(s.min)),
                 ("max", .number(s.max)), ("histogram_range", .numbers([s.range.lowerBound, s.range.upperBound])),
                 ("histogram", .ints(s.histogram))]
            }
            let slots: [InspectJSON] = activations.map { a in
                .object([("slot", .string(a.path)), ("layer", .int(a.layer)), ("member", .string(a.member)),
                         ("units", .int(a.units)),
                         ("alpha", .array(a.alpha.map { .object([("label", .string($0.label))] + stats($0.statistics)) })),
                         ("beta", a.beta.map { .object(stats($0)) } ?? .null)])
            }
            var provenance = InspectJSON.null
            if let p = c.provenance {
                func opt(_ v: Int?) -> InspectJSON { v.map(InspectJSON.int) ?? .null }
                provenance = .object([
                    ("dataset", p.dataset.map(InspectJSON.string) ?? .null),
                    ("train_size", opt(p.trainSize)), ("validation_size", opt(p.validationSize)),
                    ("test_size", opt(p.testSize)), ("seed", opt(p.seed)), ("epochs", opt(p.epochs)),
                    ("optimizer", p.optimizer.map { o in
                        .object([("name", .string(o.name)), ("learning_rate", .number(o.learningRate)),
                                 ("beta1", .number(o.beta1)), ("beta2", .number(o.beta2)), ("epsilon", .number(o.epsilon))])
                    } ?? .null),
                    ("regularizer", p.regularizer.map { r in
                        .object([("delta1", .number(r.delta1)), ("delta2", .number(r.delta2)),
                                 ("delta3", .number(r.delta3)), ("margin", .number(r.margin))])
                    } ?? .null),
                    ("created", p.created.map(InspectJSON.string) ?? .null),
                    ("train_loss", .numbers(p.trainLoss)), ("validation_loss", .numbers(p.validationLoss)),
                    ("test_loss", p.testLoss.map(InspectJSON.number) ?? .null),
                ])
            }
            let root = InspectJSON.object([
                ("file", .string(file)),
                ("format", .string(Checkpoint.formatName)), ("format_version", .int(c.formatVersion)),
                ("format_minor_version", .int(c.formatMinorVersion)), ("flexctl_version", .string(c.flexctlVersion)),
                ("stored_type", .string(c.storedType.rawValue)),
                ("task", .string(c.task.rawValue)), ("fingerprint", .string(c.fingerprint)),
                ("input", .object(input)),
                ("architecture", .array(layers)), ("total_parameters", .int(model.parameterCount)),
                ("activations", .array(slots)),
                ("provenance", provenance),
            ])
            return root.rendered() + "\n"
        }
    }
}

// MARK: Text helpers

private func num(_ v: Double?) -> String { v.map(NumberText.short) ?? "?" }

private extension Array {
    subscript(safe i: Int) -> Element? { indices.contains(i) ? self[i] : nil }
}

/// One character per bin: blank for an empty bin, else ▁…█ by the count relative to the largest bin.
func histogramBar(_ counts: [Int]) -> String {
    let levels = Array("▁▂▃▄▅▆▇█")
    let top = counts.max() ?? 0
    return String(counts.map { c -> Character in
        guard c > 0, top > 0 else { return " " }
        return levels[max(0, min(7, Int((Double(c) / Double(top) * 8).rounded(.up)) - 1))]
    })
}

/// A sparkline of `values` on the scale [lo, hi], at most `width` characters (longer series are averaged
/// into `width` buckets); non-finite values show as `?`.
func sparkline(_ values: [Double], lo: Double, hi: Double, width: Int = 60) -> String {
    let levels = Array("▁▂▃▄▅▆▇█")
    let n = values.count
    let buckets = min(n, width)
    return String((0..<buckets).map { b -> Character in
        let chunk = values[(b * n / buckets) ..< ((b + 1) * n / buckets)]
        let v = chunk.reduce(0, +) / Double(chunk.count)
        guard v.isFinite else { return "?" }
        let t = hi > lo ? (v - lo) / (hi - lo) : 0
        return levels[max(0, min(7, Int((t * 7).rounded())))]
    })
}

/// `key  value` lines with the keys padded to one width.
private func aligned(_ rows: [[String]], indent: String = "  ") -> [String] {
    let w = rows.map { $0[0].count }.max() ?? 0
    return rows.map { indent + $0[0].padding(toLength: w, withPad: " ", startingAt: 0) + "  " + terminalSafe($0[1]) }
}

/// A table with a header row, a rule, columns separated by two spaces; columns in `right` right-aligned.
private func table(_ rows: [[String]], right: Set<Int>) -> [String] {
    let columns = rows.map(\.count).max() ?? 0
    let widths = (0..<columns).map { c in rows.map { c < $0.count ? terminalSafe($0[c]).count : 0 }.max() ?? 0 }
    func line(_ cells: [String]) -> String {
        let parts = (0..<columns).map { c -> String in
            let s = c < cells.count ? terminalSafe(cells[c]) : ""
            let pad = String(repeating: " ", count: widths[c] - s.count)
            return right.contains(c) ? pad + s : s + pad
        }
        return ("  " + parts.joined(separator: "  ")).replacingOccurrences(of: "\\s+$", with: "", options: .regularExpression)
    }
    var out = [line(rows[0]), line(widths.map { String(repeating: "-", count: $0) })]
    out += rows.dropFirst().map(line)
    return out
}

// MARK: JSON

/// A JSON value with ordered object keys, rendered with two-space indentation (arrays of numbers on one line).
indirect enum InspectJSON {
    case object([(String, InspectJSON)])
    case array([InspectJSON])
    case string(String)
    case number(Double)
    case int(Int)
    case null
    /// Pre-rendered JSON text (e.g. a layer spec as the checkpoint stores it).
    case raw(String)

    static func ints(_ v: [Int]) -> InspectJSON { .array(v.map(InspectJSON.int)) }
    static func numbers(_ v: [Double]) -> InspectJSON { .array(v.map(InspectJSON.number)) }

    func rendered(indent: String = "") -> String {
        let inner = indent + "  "
        switch self {
        case let .object(fields):
            guard !fields.isEmpty else { return "{}" }
            return "{\n" + fields.map { inner + jsonString($0.0) + ": " + $0.1.rendered(indent: inner) }
                .joined(separator: ",\n") + "\n" + indent + "}"
        case let .array(items):
            guard !items.isEmpty else { return "[]" }
            if items.allSatisfy(\.isScalar) {
                return "[" + items.map { $0.rendered() }.joined(separator: ", ") + "]"
            }
            return "[\n" + items.map { inner + $0.rendered(indent: inner) }.joined(separator: ",\n") + "\n" + indent + "]"
        case let .string(s): return jsonString(s)
        case let .number(v): return NumberText.json(v)
        case let .int(v): return String(v)
        case .null: return "null"
        case let .raw(s): return s
        }
    }

    private var isScalar: Bool {
        switch self {
        case .object, .array, .raw: false
        default: true
        }
    }
}
