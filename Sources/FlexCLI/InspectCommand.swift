import ArgumentParser
import FlexRuntime

/// `flexctl inspect MODEL.h5 [--format table|json|csv]`: what a checkpoint holds — format, task, fingerprint, input
/// specification, architecture, per-slot α/β statistics and provenance.
public struct InspectCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Describe a checkpoint: format, task, fingerprint, input, architecture, alpha/beta statistics, provenance.",
        discussion: """
        Reads the checkpoint with the strict reader; a file it refuses prints the reader's full report (one \
        line per problem: FILE: HDF5-PATH: message) on standard error and exits with code 1, printing nothing \
        on standard output. Histograms have 10 bins, over [0, 1] for alpha and over [min, max] for beta. \
        --format json prints everything as one JSON document; --format csv prints the alpha/beta statistics, \
        one line per slot and parameter (docs/cli.md).
        """
    )

    @Argument(help: ArgumentHelp("The checkpoint file (HDF5).", valueName: "model.h5"), completion: .file())
    public var model: String

    @OptionGroup public var output: OutputOptions

    public init() {}

    public func run() throws {
        let checkpoint = try Checkpoint.read(from: model)  // a CheckpointError prints as "Error: <report>", exit 1
        let report = try Self.report(checkpoint, file: model)
        // Text shows strings from the file (provenance, series names, activation names): terminal-safe.
        writeStandardOutput(report.rendered(output.resolved))
    }

    /// Histogram bins for α and β (the same in the text and in the JSON document).
    public static let bins = CheckpointDescription.histogramBins

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
        var codeLayer: Int? { CheckpointDescription.codeLayer(checkpoint, model: model) }

        /// The index of the analysis transform's last layer for a codec.
        var latentLayer: Int? {
            guard case let .codec(s) = checkpoint.input, s.analysisLayers >= 1, s.analysisLayers <= model.layers.count
            else { return nil }
            return s.analysisLayers - 1
        }

        /// The report in `format`.
        public func rendered(_ format: OutputFormat) -> String {
            switch format {
            case .table: text()
            case .json: json()
            case .csv: csv()
            }
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
            case let .codec(s):
                head.append(("input", "codec, \(s.imageChannels)-channel images padded to multiples of \(s.stride), pixels "
                    + "\(s.pixelScaling.rawValue) (x = \(s.pixelScaling == .minusOneToOne ? "p/127.5 − 1" : "p/255"))"))
                let latent = s.analysisLayers >= 1 && s.analysisLayers <= model.layers.count
                    ? " (\(formatShape(model.layerOutputShapes[s.analysisLayers - 1])) per \(s.stride)×\(s.stride) block)" : ""
                head.append(("latents", "\(s.latentChannels) channels after the analysis, layers 0–\(s.analysisLayers - 1)\(latent)"))
                head.append(("lambda", "\(num(s.lambda)) (rate–distortion weight in training)"))
            }
            if let e = c.entropyTables {
                let d = CheckpointDescription.EntropyModel(e, density: c.entropyDensity)
                let symbols = d.tables.map(\.symbols)
                let medians = d.tables.map(\.median.value).filter(\.isFinite)
                var text = "\(d.channels) tables, \(d.totalTableEntries) CDF entries (longest \(d.maxCdfLength)), "
                    + "symbols \(d.minSymbol)…\(d.maxSymbol), \(symbols.min() ?? 0)–\(symbols.max() ?? 0) per table with the escape"
                if let lo = medians.min(), let hi = medians.max() {
                    text += ", medians \(num(lo))…\(num(hi))"
                }
                text += d.densityParameters.isEmpty ? ", no density parameters"
                    : ", density parameters \(d.densityParameters.joined(separator: " "))"
                head.append(("entropy model", text))
            }
            out += keyValueRows(head.map { [$0.0, $0.1] })
            if case let .series(s) = c.input {
                out.append("")
                out.append("normalization (fitted on the training split)")
                var rows = [["feature", "mean", "std", "target"]]
                for (j, name) in s.features.enumerated() {
                    rows.append([name, num(s.normalization.mean[safe: j]), num(s.normalization.std[safe: j]),
                                 s.targets.contains(name) ? "yes" : ""])
                }
                out += TextTable.render(rows, right: [1, 2], indent: "  ")
            }

            out.append("")
            out.append("architecture (\(model.layers.count) layers, \(model.parameterCount) parameters)")
            var rows = [["layer", "kind", "output", "parameters"]]
            for (i, layer) in model.layers.enumerated() {
                rows.append([layer.name, layer.spec.summary,
                             formatShape(model.layerOutputShapes[i]) + (i == codeLayer ? " code" : "")
                                 + (i == latentLayer ? " latents" : ""),
                             String(layer.parameterCount)])
            }
            rows.append(["total", "", "", String(model.parameterCount)])
            out += TextTable.render(rows, right: [3], indent: "  ")

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
            if activations.isEmpty { out.append("  (no activation slots)") } else { out += TextTable.render(arows, right: [2, 4, 5, 6, 7], indent: "  ") }

            out.append("")
            if let p = c.provenance {
                out.append("provenance")
                out += keyValueRows(provenanceRows(p), indent: "  ")
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

        // MARK: CSV

        /// The activation statistics: one line per slot and stored parameter (a slot without parameters gets
        /// one line with an empty parameter); the histogram's counts separated by spaces.
        public func csv() -> String {
            var lines = ["slot,layer,member,units,parameter,count,mean,std,min,max,histogram_min,histogram_max,histogram"]
            for a in activations {
                var params = a.alpha.map { ($0.label, $0.statistics) }
                if let b = a.beta { params.append(("beta", b)) }
                let head = [a.path, String(a.layer), a.member, String(a.units)]
                if params.isEmpty { lines.append((head + Array(repeating: "", count: 9)).map(csvField).joined(separator: ",")) }
                for (label, s) in params {
                    let cells = head + [label, String(s.count)] + [s.mean, s.std, s.min, s.max, s.range.lowerBound, s.range.upperBound].map(NumberText.exact)
                        + [s.histogram.map(String.init).joined(separator: " ")]
                    lines.append(cells.map(csvField).joined(separator: ","))
                }
            }
            return lines.joined(separator: "\n") + "\n"
        }

        // MARK: JSON

        /// The JSON document (kind `checkpoint`; docs/cli.md, "JSON output"): the runtime's description of the
        /// checkpoint, the same document the C API's `flexctl_model_describe` returns.
        public func json() -> String {
            CheckpointDescription(checkpoint: checkpoint, model: model, file: file, activations: activations).json
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
