import FlexIO
import FlexPlot

/// The experiment's figures, each as PNG and SVG in `plots/`:
/// - `validation.{png,svg}`: the validation loss per epoch, the mean over an arm's runs (runs that stopped early
///   drop out of the later epochs' means);
/// - more with the other plot kinds (test MSE per arm, α/β histograms per slot).
struct ExperimentPlots {
    var config: ExperimentConfig
    var results: [RunID: RunResult]

    func runs(of arm: Arm) -> [RunResult] {
        results.values.filter { $0.arm == arm.name }.sorted { $0.run < $1.run }
    }

    func write(to folder: String) throws(ExperimentError) {
        guard !results.isEmpty else { return }
        do { try makeDirectories(folder) } catch {
            throw ExperimentError(file: error.path, "cannot create the plots folder: \(error.reason)")
        }
        do {
            for ext in ["png", "svg"] {
                try validationPlot().write(to: "\(folder)/validation.\(ext)")
            }
        } catch {
            throw ExperimentError(file: error.path, "cannot write: \(error.reason)")
        }
    }

    /// Mean validation loss per epoch and arm.
    func validationPlot() -> LinePlot {
        var plot = LinePlot(title: "Validation loss (mean over runs)", xLabel: "epoch", yLabel: "MSE")
        plot.xAxis = .integer
        for arm in config.arms {
            let curves = runs(of: arm).map { $0.curve.compactMap(\.validationLoss) }.filter { !$0.isEmpty }
            guard let longest = curves.map(\.count).max() else { continue }
            var x: [Double] = [], y: [Double] = []
            for e in 0..<longest {
                let values = curves.compactMap { e < $0.count ? $0[e] : nil }
                x.append(Double(e + 1))
                y.append(values.reduce(0, +) / Double(values.count))
            }
            plot.addSeries(name: arm.name, x: x, y: y)
        }
        return plot
    }
}
