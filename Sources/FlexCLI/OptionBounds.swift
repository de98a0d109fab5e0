import ArgumentParser
import FlexRuntime

/// The allowed values of every numeric option, one entry per concept, so that an option means the same range
/// in every subcommand that has it (docs/cli.md, "Option ranges"). Commands check them in `validate()`; a value
/// outside is a usage error (exit 64) quoting the option, the value and the range:
/// `--threads 999999999999: expected 1...256`.
///
/// Upper limits exist because each of these sizes an allocation or a loop: `--threads` one workspace per
/// thread, `--patches` the training set in memory, `--window`/`--hidden`/`--layers` the model, `--epochs` the
/// run's history. Without them a typo aborts the process on an absurd allocation instead of giving a message.
enum OptionBounds {
    /// `--threads` (compress, decompress, forecast, train, bench).
    static let threads = IntBounds(1...256)
    /// The thread count when `--threads` is not given: the processors, within `threads` (a run started on a
    /// bigger machine must still be resumable, since resume holds run.json to the same range).
    static var defaultThreads: Int { min(Inference.defaultThreads, threads.range.upperBound) }
    /// `compress image --bits`: bits per code value (the .flexz format stores 1–16).
    static let bits = IntBounds(1...16)
    /// `forecast --horizon`: steps forecast ahead, each fed back as the next input. Each step runs the model
    /// over a whole window (time linear in K, about 10 ms a step for a small LSTM in a debug build), and after a
    /// few hundred fed-back steps the forecast says nothing about the market: 1000 steps (four trading years)
    /// bounds the run to seconds.
    static let forecastSteps = IntBounds(1...1_000)
    /// `train forecast --horizon`: days between a window's last day and its target.
    static let targetHorizon = IntBounds(1...1_000)
    /// `train forecast --window`: days per input window.
    static let window = IntBounds(1...1_000)
    /// `train forecast --hidden`: LSTM hidden units.
    static let hidden = IntBounds(1...1_024)
    /// `train forecast --layers`: stacked LSTM layers.
    static let lstmLayers = IntBounds(1...8)
    /// `train --epochs` (also when resuming).
    static let epochs = IntBounds(1...100_000)
    /// `train --patience`: epochs without a lower validation loss.
    static let patience = IntBounds(1...100_000)
    /// `train --batch-size`.
    static let batchSize = IntBounds(1...65_536)
    /// `train codec --channels/--latent-channels`, `bench --channels/--latent-channels`: the codec's N and M
    /// (each sizes C² GDN matrices and 25·C² convolution weights).
    static let codecChannels = IntBounds(1...1_024)
    /// `train cae --patches`: 32×32 patches sampled from a photo folder (a fifth as many again for testing).
    static let patches = IntBounds(1...1_000_000)
    /// `train --lr`: Adam's learning rate.
    static let learningRate = RealBounds(0, 1, lowerIncluded: false, upperIncluded: true)
    /// `train --val-split`, `train --test-split`: fractions held out.
    static let split = RealBounds(0, 1, lowerIncluded: true, upperIncluded: false)
    /// `train --reg-mean`, `--reg-default`, `--reg-boundary`: regulariser weights δ1, δ2, δ3.
    static let regularizerWeight = RealBounds(0, 1_000, lowerIncluded: true, upperIncluded: true)
    /// `train --margin`: the regulariser's margin Δ (α is penalised beyond 1 − Δ and below Δ).
    static let margin = RealBounds(0, 0.5, lowerIncluded: true, upperIncluded: false)
    /// `bench --seconds`: measuring time per workload.
    static let benchSeconds = RealBounds(0, 600, lowerIncluded: false, upperIncluded: true)
    /// `activation --from`, `--to`: ends of the z grid.
    static let gridEnd = RealBounds(-1e6, 1e6, lowerIncluded: true, upperIncluded: true)
    /// `activation --step`: the grid spacing (the grid's points are limited separately, to
    /// `ActivationCommand.maxPoints`).
    static let gridStep = RealBounds(0, 2e6, lowerIncluded: false, upperIncluded: true)
}

/// An integer option's range, written `1...256` in messages and docs.
struct IntBounds: Sendable {
    let range: ClosedRange<Int>
    init(_ range: ClosedRange<Int>) { self.range = range }

    var text: String { "\(range.lowerBound)...\(range.upperBound)" }

    /// What is wrong with `value` ("expected 1...256"), or nil when it is in the range.
    func problem(_ value: Int) -> String? { range.contains(value) ? nil : "expected \(text)" }

    /// Throws a usage error naming `option` when `value` is given and outside the range.
    func check(_ value: Int?, _ option: String) throws {
        guard let value, let p = problem(value) else { return }
        throw ValidationError("\(option) \(value): \(p)")
    }
}

/// A real option's range: always finite, with each end included or not, written `(0, 1]` in messages and docs.
struct RealBounds: Sendable {
    let lower: Double, upper: Double
    let lowerIncluded: Bool, upperIncluded: Bool

    init(_ lower: Double, _ upper: Double, lowerIncluded: Bool, upperIncluded: Bool) {
        self.lower = lower
        self.upper = upper
        self.lowerIncluded = lowerIncluded
        self.upperIncluded = upperIncluded
    }

    var text: String {
        (lowerIncluded ? "[" : "(") + NumberText.short(lower) + ", " + NumberText.short(upper) + (upperIncluded ? "]" : ")")
    }

    func contains(_ v: Double) -> Bool {
        v.isFinite && (lowerIncluded ? v >= lower : v > lower) && (upperIncluded ? v <= upper : v < upper)
    }

    /// What is wrong with `value` ("expected a number in (0, 1]"), or nil when it is in the range (NaN and
    /// infinities never are).
    func problem(_ value: Double) -> String? {
        contains(value) ? nil : "expected a \(value.isFinite ? "" : "finite ")number in \(text)"
    }

    /// Throws a usage error naming `option` when `value` is given and outside the range.
    func check(_ value: Double?, _ option: String) throws {
        guard let value, let p = problem(value) else { return }
        throw ValidationError("\(option) \(NumberText.short(value)): \(p)")
    }
}
