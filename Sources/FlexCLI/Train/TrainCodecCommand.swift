import ArgumentParser
import FlexCodecTraining
import FlexIO
import FlexRuntime
import FlexTraining

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `flexctl train codec`: a learned image codec on the rate–distortion loss (docs/codec.md).
struct TrainCodecCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "codec",
        abstract: "Train a learned image codec (analysis/synthesis transforms + factorized entropy model) on photos.",
        discussion: """
        Minimises λ·255²·MSE + bits per pixel on random crops (with horizontal flips) of the photos in --data, \
        with uniform noise in place of rounding (Ballé et al. 2018). Every --test-every steps the codec is \
        measured as it will code (rounded latents, 8-bit pixels) on the photos in --test. The run folder \
        (--out) holds state.h5 (everything needed to resume; saved atomically every --save-every seconds and \
        at the end), log.csv and test.csv. Ctrl-C or SIGTERM saves and exits (130/143); \
        `flexctl train codec --resume RUN_DIR` continues exactly: crops and noise of step t depend only on \
        the seed and t. `--init-from RUN_DIR` starts from another run's weights (fine-tuning a lower rate from \
        a higher one). `flexctl export RUN_DIR --output MODEL.h5` writes the codec checkpoint.
        """)

    @Option(name: .customLong("data"), help: ArgumentHelp("Folder of training photos (PNG/JPEG/PGM/PPM); repeat for more.", valueName: "dir"),
            completion: .directory)
    var data: [String] = []

    @Option(name: .customLong("test"), help: ArgumentHelp("Folder of held-out photos to measure on.", valueName: "dir"), completion: .directory)
    var test: [String] = []

    @Option(help: "Rate–distortion weight λ in λ·255²·MSE + bpp (larger: more bits, higher quality).")
    var lambda: Double?

    @Option(name: .customLong("channels"), help: "Hidden channels N of the transforms.")
    var channels: Int = 64

    @Option(name: .customLong("latent-channels"), help: "Latent channels M.")
    var latentChannels: Int = 96

    @Option(help: "Nonlinearity between the convolutions: gdn (GDN/IGDN) or any activation member (relu, p-e2-relu, ...).")
    var nonlinearity: String = "gdn"

    @Option(help: "Square crop side in pixels (a multiple of 16).")
    var crop: Int = 128

    @Option(name: .customLong("batch-size"), help: "Crops per step.")
    var batchSize: Int = 8

    @Option(help: "Optimiser steps.")
    var steps: Int?

    @Option(help: "Adam's learning rate.")
    var lr: Double = 1e-4

    @Option(name: .customLong("lr-decay-at"), help: "Fraction of the steps after which the learning rate is multiplied by --lr-decay.")
    var lrDecayAt: Double = 0.9

    @Option(name: .customLong("lr-decay"), help: "The learning-rate factor applied at --lr-decay-at.")
    var lrDecay: Double = 0.1

    @Option(name: .customLong("clip-norm"), help: "Clip the gradient to this global L2 norm (0: no clipping).")
    var clipNorm: Double = 1

    @Option(help: "Seed of the initialisation, the crops and the noise.")
    var seed: UInt64 = 0

    @Option(help: "Worker threads (default: the number of processors). The same seed and thread count give identical runs.")
    var threads: Int?

    @Option(name: .customLong("test-every"), help: "Measure on the test photos every this many steps (0: only at the end).")
    var testEvery: Int = 1000

    @Option(name: .customLong("save-every"), help: "Save the state at least this often, in seconds.")
    var saveEvery: Double = 300

    @Option(name: .customLong("init-from"), help: ArgumentHelp("Start from the weights of this codec run folder or codec checkpoint (same N, M, nonlinearity).", valueName: "run-dir|model.h5"),
            completion: .directory)
    var initFrom: String?

    @Option(help: ArgumentHelp("The run folder to create (default: runs/codec-<timestamp>).", valueName: "run-dir"), completion: .directory)
    var out: String?

    @Option(help: ArgumentHelp("Continue the codec run in this folder (--steps may extend it; other options come from the run).", valueName: "run-dir"),
            completion: .directory)
    var resume: String?

    @Flag(name: .customLong("no-progress"), help: "No progress bar, even on a terminal.")
    var noProgress = false

    static let stateFile = "state.h5"

    func validate() throws {
        if resume != nil {
            let fixed = [(lambda != nil, "--lambda"), (!data.isEmpty, "--data"), (out != nil, "--out"), (initFrom != nil, "--init-from")]
            if let f = fixed.first(where: { $0.0 }) {
                throw ValidationError("\(f.1) cannot be combined with --resume: a resumed run keeps its own settings (only --steps may extend it)")
            }
            return
        }
        guard !data.isEmpty else { throw ValidationError("--data DIR is required (a folder of training photos)") }
        guard lambda != nil else { throw ValidationError("--lambda is required (e.g. 0.0067 for about 0.3–0.5 bpp)") }
        guard steps != nil else { throw ValidationError("--steps is required") }
        try OptionBounds.codecChannels.check(channels, "--channels")
        try OptionBounds.codecChannels.check(latentChannels, "--latent-channels")
        if let t = threads, !OptionBounds.threads.range.contains(t) { throw ValidationError("--threads \(t): expected \(OptionBounds.threads.text)") }
        guard testEvery >= 0 else { throw ValidationError("--test-every \(testEvery): expected >= 0") }
        guard saveEvery.isFinite, saveEvery >= 0 else { throw ValidationError("--save-every \(saveEvery): expected >= 0 seconds") }
    }

    func run() throws {
        let progress = !noProgress
        if let resume {
            let statePath = resume + "/" + Self.stateFile
            guard pathExists(statePath) else { throw CLIError("\(resume): not a codec run folder (\(Self.stateFile) is missing)") }
            var (state, parameters, optimizers) = try CodecTrainingRun.read(from: statePath)
            if let steps {
                guard steps >= state.stepsDone else { throw CLIError("--steps \(steps): the run has already taken \(state.stepsDone) steps") }
                state.options.steps = steps
            }
            guard state.stepsDone < state.options.steps else {
                writeError("\(resume): the run has already taken all \(state.stepsDone) steps; extend it with --steps N, or export it with `flexctl export \(resume) --output MODEL.h5`\n")
                return
            }
            let train = try PhotoCrops(folders: state.trainFolders, minimumSide: state.options.crop)
            let test = state.testFolders.isEmpty ? nil : try PhotoCrops(folders: state.testFolders, minimumSide: CodecArchitecture.stride)
            let run = try CodecTrainingRun(state: state, parameters: parameters, optimizers: optimizers, train: train, test: test)
            writeError("resuming \(resume) at step \(state.stepsDone + 1) of \(state.options.steps)\n")
            try execute(run, folder: resume, progress: progress)
            return
        }
        let options = CodecTrainingOptions(lambda: lambda!, crop: crop, batch: batchSize, steps: steps!, learningRate: lr,
                                           decayFactor: lrDecay, decayAt: lrDecayAt, clipNorm: clipNorm, seed: seed)
        do { try options.validate() } catch { throw CLIError(error.message) }
        _ = try CodecNonlinearity.named(nonlinearity)
        let train = try PhotoCrops(folders: data.map(absolutePath), minimumSide: crop)
        let test = test.isEmpty ? nil : try PhotoCrops(folders: self.test.map(absolutePath), minimumSide: CodecArchitecture.stride)
        var initial: [(name: String, tensor: Tensor)]?
        if let initFrom {
            let architecture = CodecArchitecture(channels: channels, latentChannels: latentChannels,
                                                 nonlinearity: try CodecNonlinearity.named(nonlinearity))
            if isDirectory(initFrom) {
                let (s, p, _) = try CodecTrainingRun.read(from: initFrom + "/" + Self.stateFile)
                guard s.channels == channels, s.latentChannels == latentChannels, s.nonlinearity == nonlinearity else {
                    throw CLIError("--init-from \(initFrom): its codec is N=\(s.channels), M=\(s.latentChannels), \(s.nonlinearity); this run asks for N=\(channels), M=\(latentChannels), \(nonlinearity)")
                }
                initial = p
            } else {
                // A codec checkpoint (e.g. a shipped level): its weights and density; fresh optimisers.
                let checkpoint = try Checkpoint.read(from: initFrom)
                initial = try TrainableCodec.parameters(of: checkpoint, for: architecture, file: initFrom)
            }
        }
        let state = CodecRunState(options: options, channels: channels, latentChannels: latentChannels,
                                  nonlinearity: nonlinearity, trainFolders: data.map(absolutePath),
                                  testFolders: self.test.map(absolutePath), threads: threads ?? OptionBounds.defaultThreads,
                                  stepsDone: 0, elapsedSeconds: 0, log: [], tests: [],
                                  initializedFrom: initFrom.map(absolutePath))
        let run = try CodecTrainingRun(state: state, parameters: initial, optimizers: nil, train: train, test: test)
        let folder = out ?? "runs/codec-\(timestampForPath())"
        if pathExists(folder + "/" + Self.stateFile) {
            throw CLIError("--out \(folder): already holds a run; continue it with `flexctl train codec --resume \(folder)` or choose another --out")
        }
        do { _ = try makeDirectories(folder) } catch { throw CLIError("--out \(folder): cannot create the run folder: \(error.path): \(error.reason)") }
        let m = run.trainer.model
        let count = m.namedParameters.reduce(0) { $0 + $1.tensor.count }
        writeError("data: \(train.summary)" + (test.map { "; test: \($0.summary)" } ?? "") + "\n")
        writeError("model: codec N=\(channels) M=\(latentChannels) \(nonlinearity) (\(groupedInteger(count)) parameters); λ=\(options.lambda), \(options.steps) steps of \(options.batch) crops of \(options.crop)x\(options.crop), \(state.threads) thread\(state.threads == 1 ? "" : "s")\n")
        writeError("run folder: \(folder)\n")
        try execute(run, folder: folder, progress: progress)
    }

    private func execute(_ run: CodecTrainingRun, folder: String, progress: Bool) throws {
        let statePath = folder + "/" + Self.stateFile
        SignalTrap.install()
        defer { SignalTrap.remove() }
        let total = run.state.options.steps
        let showBar = progress && standardErrorIsTerminal()
        var lastDraw = 0.0
        func logFiles() throws {
            var log = "step,loss,bpp,psnr_db,aux_loss,learning_rate,seconds\n"
            for r in run.state.log {
                log += "\(r.step),\(r.loss),\(r.bitsPerPixel),\(r.psnr),\(r.auxiliaryLoss),\(r.learningRate),\(r.seconds)\n"
            }
            try writeFileAtomically(path: folder + "/log.csv", text: log)
            var test = "step,bpp,psnr_db,loss\n"
            for r in run.state.tests { test += "\(r.step),\(r.bitsPerPixel),\(r.psnr),\(r.loss)\n" }
            try writeFileAtomically(path: folder + "/test.csv", text: test)
        }
        let done = try run.run(statePath: statePath, testEvery: testEvery, saveEvery: saveEvery,
                               shouldStop: { SignalTrap.signalReceived != 0 }) { event in
            switch event {
            case let .progress(step, loss, rate):
                guard showBar else { return }
                let t = monotonicSeconds()
                guard t - lastDraw >= 0.2 else { return }
                lastDraw = t
                writeErrorLine(control: "\r\u{1B}[2K", progressLine(
                    head: "step \(step)/\(total)", fraction: Double(step) / Double(total),
                    tail: ["loss " + cFormat("%.4f", loss), cFormat("%.2f steps/s", rate),
                           "ETA \(duration(Double(total - step) / max(rate, 1e-9)))"], columns: terminalColumns()))
            case let .logged(r):
                if showBar { writeErrorLine(control: "\r\u{1B}[2K") }
                writeOutput(cFormat("step %7ld  loss %.4f  bpp %.4f  PSNR %.2f dB  aux %.1f  lr %.1e  %.1f s\n",
                                    r.step, r.loss, r.bitsPerPixel, r.psnr, r.auxiliaryLoss, r.learningRate, r.seconds))
            case let .tested(r):
                if showBar { writeErrorLine(control: "\r\u{1B}[2K") }
                writeOutput(cFormat("test at step %ld: %.4f bpp, PSNR %.2f dB, loss %.4f\n", r.step, r.bitsPerPixel, r.psnr, r.loss))
            case .saved:
                try? logFiles()
            }
        }
        if showBar { writeErrorLine(control: "\r\u{1B}[2K") }
        try logFiles()
        if !done {
            let sig = SignalTrap.signalReceived
            writeError("\(sig == SIGTERM ? "terminated" : "interrupted"): state saved to \(statePath) at step \(run.state.stepsDone); continue with `flexctl train codec --resume \(folder)`\n")
            throw ExitCode(sig == SIGTERM ? 143 : 130)
        }
        writeOutput("finished \(run.state.stepsDone) steps in \(duration(run.state.elapsedSeconds)); export with `flexctl export \(folder) --output MODEL.h5`\n")
    }
}
