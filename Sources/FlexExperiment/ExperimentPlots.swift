import FlexIO
import FlexPlot

/// The experiment's figures, each as PNG and SVG in `plots/`:
/// - `validation`: the validation loss per epoch, mean over an arm's runs with a band of ± one standard deviation
///   (runs that stopped early drop out of the later epochs: each epoch's mean is over the runs that reached it);
/// - `test-mse`: the test MSE of every run, per arm (box: quartiles and median; whiskers to 1.5 IQR; every run
///   a point);
/// - `alpha-<slot>`, `beta-<slot>`: histograms of the final α (first mixing weight) and β of every unit of that
///   activation slot over all runs, one series per arm that has them.
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
        var plots: [(String, any RenderablePlot)] = [("validation", validationPlot()), ("test-mse", testPlot())]
        for (slot, kind, plot) in parameterHistograms() { plots.append(("\(kind)-\(fileName(slot))", plot)) }
        do {
            for (name, plot) in plots {
                for ext in ["png", "svg"] { try plot.write(to: "\(folder)/\(name).\(ext)") }
            }
        } catch {
            throw ExperimentError(file: error.path, "cannot write: \(error.reason)")
        }
    }

    /// Mean validation loss per epoch and arm, with ± one standard deviation where two or more runs reached the epoch.
    func validationPlot() -> LinePlot {
        var plot = LinePlot(title: "Validation loss, mean and sd over runs", xLabel: "epoch", yLabel: "MSE")
        plot.xAxis = .integer
        // The first epochs' losses are many times the final ones: the y axis starts at the lowest mean and ends at
        // the highest mean from a tenth of the way on, so that the differences between the arms show (earlier
        // epochs run off the top).
        var low = Double.infinity, high = -Double.infinity
        for arm in config.arms {
            let curves = runs(of: arm).map { $0.curve.compactMap(\.validationLoss) }.filter { !$0.isEmpty }
            guard let longest = curves.map(\.count).max() else { continue }
            var x: [Double] = [], mean: [Double] = [], sd: [Double] = []
            for e in 0..<longest {
                let values = curves.compactMap { e < $0.count ? $0[e] : nil }
                let m = values.reduce(0, +) / Double(values.count)
                let v = values.count > 1 ? values.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(values.count - 1) : 0
                x.append(Double(e + 1))
                mean.append(m)
                sd.append(v.squareRoot())
            }
            // Finite by construction (results are checked to be finite), so the band is valid.
            low = min(low, mean.min()!)
            high = max(high, mean[(mean.count / 10)...].max()!)
            if let band = try? PlotBand(center: mean, spread: sd),
               let series = try? PlotSeries(name: arm.name, x: x, y: mean, band: band) {
                plot.add(series)
            }
        }
        if low < high { plot.yRange = (low - 0.05 * (high - low))...(high + 0.05 * (high - low)) }
        return plot
    }

    /// The test MSE of every run, per arm.
    func testPlot() -> CategoryPlot {
        var plot = CategoryPlot(title: "Test MSE per run", xLabel: "arm", yLabel: "test MSE")
        // Room for long arm names (`p-sig-ramp+cell=p-tanh-ramp`), which the plot writes upwards under the axis.
        let longest = config.arms.map(\.name.count).max() ?? 0
        plot.height = max(plot.height, 360 + 14 * longest)
        for arm in config.arms {
            let values = runs(of: arm).map(\.testMSE)
            if !values.isEmpty { try? plot.add(name: arm.name, values: values) }
        }
        return plot
    }

    /// One histogram per activation slot and parameter (α, β) that some arm has.
    func parameterHistograms() -> [(slot: String, kind: String, plot: Histogram)] {
        var slots: [String] = []
        for r in results.values.sorted(by: { RunID(arm: $0.arm, run: $0.run) < RunID(arm: $1.arm, run: $1.run) }) {
            for s in r.activations where !slots.contains(s.slot) { slots.append(s.slot) }
        }
        var out: [(String, String, Histogram)] = []
        for slot in slots {
            for kind in ["alpha", "beta"] {
                var h = Histogram(title: "\(kind == "alpha" ? "alpha (first mixing weight)" : "beta") of \(slot), all runs",
                                  xLabel: kind, yLabel: "units")
                for arm in config.arms {
                    let values = runs(of: arm).flatMap { r in
                        r.activations.filter { $0.slot == slot }.flatMap { kind == "alpha" ? $0.alpha : $0.beta }
                    }
                    if !values.isEmpty { try? h.add(name: arm.name, values: values) }
                }
                if !h.series.isEmpty { out.append((slot, kind, h)) }
            }
        }
        return out
    }

    /// A slot's name as a file name: `layers.1` → `layers-1`.
    func fileName(_ slot: String) -> String {
        String(slot.map { $0.isLetter || $0.isNumber || $0 == "_" ? $0 : "-" })
    }
}
