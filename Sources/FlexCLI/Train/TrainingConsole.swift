import FlexRuntime
import FlexTraining

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Progress of a training run. On a terminal (standard error is a TTY) a one-line progress bar with the
/// epoch's running loss, throughput and ETA, drawn as soon as training starts, redrawn at most ten times a
/// second and cut to the terminal's width; otherwise nothing per batch. Each finished epoch prints one plain
/// line on standard output (the run's results); notes (early stopping) go to standard error.
final class TrainingConsole {
    let totalEpochs: Int
    let trainCount: Int
    let sampleNoun: String
    let showBar: Bool
    /// Only the bar: no line per epoch, no note on early stopping (`flexctl experiment` prints one line per run).
    let quiet: Bool
    /// Put before the bar's epoch (`relu run 2/10`).
    let label: String?
    private var lastDraw = 0.0
    private var barVisible = false

    init(totalEpochs: Int, trainCount: Int, sampleNoun: String, progress: Bool, quiet: Bool = false, label: String? = nil) {
        self.quiet = quiet
        self.label = label
        self.totalEpochs = totalEpochs
        self.trainCount = trainCount
        self.sampleNoun = sampleNoun
        showBar = progress && standardErrorIsTerminal()
    }

    /// Draws the bar at 0% before the first batch, so a terminal shows at once that training has begun.
    func start(epoch: Int, batches: Int) {
        guard showBar else { return }
        draw(epoch: epoch, batch: 0, batches: batches, loss: nil, rate: 0)
    }

    private func draw(epoch: Int, batch: Int, batches: Int, loss: Double?, rate: Double) {
        // Remaining samples of this epoch and of the epochs after it, at the epoch's throughput so far.
        let perBatch = Double(trainCount) / Double(max(batches, 1))
        let remaining = Double(batches - batch) * perBatch + Double(totalEpochs - epoch) * Double(trainCount)
        let eta = rate > 0 ? remaining / rate : .infinity
        let head = (label.map { $0 + " · " } ?? "") + "epoch \(epoch)/\(totalEpochs)"
        let tail = [cFormat("%3d%%", Int32(batch * 100 / max(batches, 1))) + " \(batch)/\(batches)",
                    "loss " + (loss.map { cFormat("%.6f", $0) } ?? "…"),
                    rate > 0 ? "\(rateText(rate)) \(sampleNoun)/s" : "",
                    rate > 0 ? "ETA \(duration(eta))" : ""].filter { !$0.isEmpty }
        writeErrorLine(control: "\r\u{1B}[2K", progressLine(head: head, fraction: Double(batch) / Double(max(batches, 1)),
                                                          tail: tail, columns: terminalColumns()))
        barVisible = true
    }

    func handle(_ event: TrainingEvent) {
        switch event {
        case let .batch(epoch, batch, batches, loss, rate):
            guard showBar else { return }
            let t = monotonicSeconds()
            guard batch == batches || t - lastDraw >= 0.1 else { return }
            lastDraw = t
            draw(epoch: epoch, batch: batch, batches: batches, loss: loss, rate: rate)
        case let .epoch(r, improved):
            clearBar()
            guard !quiet else { return }
            var parts = [String(repeating: " ", count: max(0, String(totalEpochs).count - String(r.epoch).count)) + "epoch \(r.epoch)/\(totalEpochs)",
                         "train " + NumberText.table(r.trainLoss)]
            if let v = r.validationLoss { parts.append("val " + NumberText.table(v) + (improved ? " *" : "  ")) }
            parts.append("reg " + cFormat("%.3g", r.regularization))
            if let a = r.alpha { parts.append(cFormat("alpha %.3f [%.3f, %.3f]", a.mean, a.min, a.max)) }
            if let b = r.beta { parts.append(cFormat("beta %.3f [%.3f, %.3f]", b.mean, b.min, b.max)) }
            parts.append(duration(r.seconds))
            writeOutput(parts.joined(separator: "  ") + "\n")
        case let .earlyStop(epoch, best):
            clearBar()
            guard !quiet else { return }
            writeError("early stopping after epoch \(epoch): no lower validation loss for \(epoch - best) epochs; restoring the weights of epoch \(best)\n")
        }
    }

    func clearBar() {
        if barVisible { writeErrorLine(control: "\r\u{1B}[2K"); barVisible = false }
    }
}

/// Text to standard output, terminal-safe (see `writeStandardOutput`).
func writeOutput(_ s: String) {
    writeStandardOutput(s)
}

/// Text to standard error, terminal-safe: notes and messages quote names from files (series, models).
func writeError(_ s: String) {
    writeStream(STDERR_FILENO, Array(terminalSafe(s, keepNewlines: true).utf8))
}

/// flexctl's own terminal control (a progress bar's "return and clear the line") followed by `text`, which is
/// made terminal-safe.
func writeErrorLine(control: String, _ text: String = "") {
    writeStream(STDERR_FILENO, Array((control + terminalSafe(text, keepNewlines: true)).utf8))
}

/// `12,345` samples per second; `?` for a rate no Int holds (a clock that jumped, a crafted state).
func rateText(_ rate: Double) -> String {
    guard rate.isFinite, rate >= 0, rate < 1e15 else { return "?" }
    return groupedInteger(Int(rate))
}

/// `1:02:03`, `2:03` or `4.2 s`; `?` for a negative, non-finite or absurd (over 10^12 s) duration, which no
/// Int conversion may see.
func duration(_ seconds: Double) -> String {
    guard seconds.isFinite, seconds >= 0, seconds < 1e12 else { return "?" }
    if seconds < 60 { return cFormat("%.1f s", seconds) }
    let s = Int(seconds.rounded())
    return s >= 3600 ? cFormat("%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60) : cFormat("%ld:%02ld", s / 60, s % 60)
}

/// `12,345`.
func groupedInteger(_ v: Int) -> String {
    let digits = String(abs(v))
    var out = ""
    for (i, c) in digits.enumerated() {
        if i > 0, (digits.count - i) % 3 == 0 { out.append(",") }
        out.append(c)
    }
    return (v < 0 ? "-" : "") + out
}

/// The one clock (`MonotonicClock`), in seconds.
func monotonicSeconds() -> Double { MonotonicClock.seconds() }
