import Dispatch
import FlexEntropyModel
import FlexHDF5
import FlexIO
import FlexRuntime
import FlexTraining
import RealModule
import Synchronization

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// One line of a codec run's log: means over the steps since the previous line.
public struct CodecLogRecord: Codable, Sendable, Equatable {
    public var step: Int
    public var loss: Double
    public var bitsPerPixel: Double
    public var psnr: Double
    public var auxiliaryLoss: Double
    public var learningRate: Double
    /// Wall-clock seconds of these steps.
    public var seconds: Double
}

/// The codec coded as it will be (rounded latents, clamped 8-bit pixels) on the held-out photos.
public struct CodecTestRecord: Codable, Sendable, Equatable {
    public var step: Int
    /// The entropy model's ideal rate of the rounded latents (the coded size is within about 1% of it).
    public var bitsPerPixel: Double
    /// PSNR of all test pixels together (RGB, 8 bits).
    public var psnr: Double
    public var loss: Double
}

/// What a codec run records besides its tensors (the JSON root attribute `state` of state.h5).
public struct CodecRunState: Codable, Sendable, Equatable {
    public var options: CodecTrainingOptions
    public var channels: Int
    public var latentChannels: Int
    /// `gdn` or an activation member name.
    public var nonlinearity: String
    public var trainFolders: [String]
    public var testFolders: [String]
    public var threads: Int
    public var stepsDone: Int
    public var elapsedSeconds: Double
    public var log: [CodecLogRecord]
    public var tests: [CodecTestRecord]
    /// Where the initial parameters came from (a run folder's state.h5 for fine-tuning), if not from the seed.
    public var initializedFrom: String?

    public init(options: CodecTrainingOptions, channels: Int, latentChannels: Int, nonlinearity: String,
                trainFolders: [String], testFolders: [String], threads: Int, stepsDone: Int = 0,
                elapsedSeconds: Double = 0, log: [CodecLogRecord] = [], tests: [CodecTestRecord] = [],
                initializedFrom: String? = nil) {
        self.options = options
        self.channels = channels
        self.latentChannels = latentChannels
        self.nonlinearity = nonlinearity
        self.trainFolders = trainFolders
        self.testFolders = testFolders
        self.threads = threads
        self.stepsDone = stepsDone
        self.elapsedSeconds = elapsedSeconds
        self.log = log
        self.tests = tests
        self.initializedFrom = initializedFrom
    }

    public var architecture: CodecArchitecture {
        get throws(ConfigurationError) {
            CodecArchitecture(channels: channels, latentChannels: latentChannels,
                              nonlinearity: try CodecNonlinearity.named(nonlinearity))
        }
    }
}

/// A codec training run: the state (`CodecRunState` plus the parameters and both optimisers' moments), kept
/// in `state.h5` and written atomically, so a run stopped at any moment resumes from its last save. Crops and
/// noise of step t are drawn from generators seeded by (seed, t) alone, so a resumed run takes exactly the
/// steps an uninterrupted one would.
public final class CodecTrainingRun {
    public var state: CodecRunState
    public let trainer: CodecTrainer
    public let train: PhotoCrops
    public let test: PhotoCrops?

    public static let formatName = "flexctl-codec-training-state"
    public static let formatVersion = 1
    /// Steps per log line.
    public static let logEvery = 50

    public init(state: CodecRunState, parameters: [(name: String, tensor: Tensor)]?, optimizers: (Adam, Adam)?,
                train: PhotoCrops, test: PhotoCrops?) throws {
        try state.options.validate()
        let model = try TrainableCodec(architecture: try state.architecture, crop: state.options.crop, seed: state.options.seed)
        if let parameters { try model.load(parameters) }
        trainer = CodecTrainer(model: model, options: state.options, threads: state.threads)
        if let (main, aux) = optimizers {
            trainer.optimizer = main
            trainer.auxiliaryOptimizer = aux
        }
        self.state = state
        self.train = train
        self.test = test
    }

    public enum Event: Sendable {
        case progress(step: Int, loss: Double, stepsPerSecond: Double)
        case logged(CodecLogRecord)
        case tested(CodecTestRecord)
        case saved(step: Int)
    }

    /// Trains until `state.options.steps` or until `shouldStop()` (polled between steps), evaluating on the
    /// test photos every `testEvery` steps and at the end, and saving to `statePath` every `saveEvery`
    /// seconds, at a stop and at the end. Returns true when all steps are done.
    public func run(statePath: String, testEvery: Int, saveEvery: Double, shouldStop: () -> Bool,
                    onEvent: (Event) -> Void) throws -> Bool {
        let o = state.options
        var window = (loss: 0.0, bpp: 0.0, sq: 0.0, values: 0, aux: 0.0, steps: 0)
        var windowStart = MonotonicClock.seconds()
        var lastSave = windowStart
        var lastTick = windowStart
        while state.stepsDone < o.steps {
            if shouldStop() { break }
            let t = state.stepsDone
            var rng = SplitMix64(seed: o.seed ^ (0xC0DE_C0DE_0000_0000 &+ UInt64(t) &* 0x9E37_79B9_7F4A_7C15))
            let batch = train.batch(count: o.batch, size: o.crop, rng: &rng)
            let r = try trainer.step(batch: batch, noise: rng.next(), step: t)
            state.stepsDone += 1
            let e = r.evaluation
            window.loss += e.loss(lambda: o.lambda)
            window.bpp += e.bitsPerPixel
            window.sq += e.squaredError
            window.values += e.values
            window.aux += r.auxiliaryLoss
            window.steps += 1
            let now = MonotonicClock.seconds()
            state.elapsedSeconds += now - lastTick
            lastTick = now
            onEvent(.progress(step: state.stepsDone, loss: window.loss / Double(window.steps),
                              stepsPerSecond: Double(window.steps) / max(now - windowStart, 1e-9)))
            if window.steps == Self.logEvery || state.stepsDone == o.steps {
                let mse = window.sq / Double(max(window.values, 1))
                let record = CodecLogRecord(step: state.stepsDone, loss: window.loss / Double(window.steps),
                                            bitsPerPixel: window.bpp / Double(window.steps),
                                            psnr: -10 * log10(max(mse, 1e-20)), auxiliaryLoss: window.aux / Double(window.steps),
                                            learningRate: o.learningRate(atStep: t), seconds: now - windowStart)
                state.log.append(record)
                onEvent(.logged(record))
                window = (0, 0, 0, 0, 0, 0)
                windowStart = MonotonicClock.seconds()
            }
            if test != nil, (testEvery > 0 && state.stepsDone % testEvery == 0) || state.stepsDone == o.steps {
                let record = try evaluateTest()
                state.tests.append(record)
                onEvent(.tested(record))
                windowStart = MonotonicClock.seconds()
                lastTick = windowStart
            }
            if MonotonicClock.seconds() - lastSave >= saveEvery {
                try write(to: statePath)
                onEvent(.saved(step: state.stepsDone))
                lastSave = MonotonicClock.seconds()
                lastTick = lastSave
            }
        }
        try write(to: statePath)
        onEvent(.saved(step: state.stepsDone))
        return state.stepsDone >= o.steps
    }

    /// The codec on every test photo (cropped to multiples of 16), photos spread over the threads.
    public func evaluateTest() throws -> CodecTestRecord {
        guard let test else { throw ConfigurationError("no test photos") }
        let model = trainer.model
        let count = test.photos.count
        // Each photo's slot is written by exactly one worker; they are added in photo order.
        let results = Mutex<[Result<TrainableCodec.Evaluation, ShapeMismatch>?]>(Array(repeating: nil, count: count))
        DispatchQueue.concurrentPerform(iterations: count) { i in
            let r = Result { () throws(ShapeMismatch) in try model.evaluate(test.wholePhoto(i, multiple: CodecArchitecture.stride)) }
            results.withLock { $0[i] = r }
        }
        var evaluations: [TrainableCodec.Evaluation] = []
        for r in results.withLock({ $0 }) {
            do { evaluations.append(try r!.get()) } catch { throw ConfigurationError("test evaluation: \(error)") }
        }
        let total = evaluations.reduce(TrainableCodec.Evaluation.zero, +)
        return CodecTestRecord(step: state.stepsDone, bitsPerPixel: total.bitsPerPixel, psnr: total.psnr,
                               loss: total.loss(lambda: state.options.lambda))
    }

    // MARK: State file

    /// Writes state.h5 atomically: root attributes `format`, `format_version`, `state` (JSON), groups
    /// `parameters` (every tensor by its `TrainableCodec.namedParameters` name), `adam_m`, `adam_v` (the main
    /// optimiser's moments by index) and `aux_m`, `aux_v` (the quantiles' optimiser).
    public func write(to path: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        let json = String(decoding: try encoder.encode(Scalars(run: state, main: AdamScalars(trainer.optimizer),
                                                               aux: AdamScalars(trainer.auxiliaryOptimizer))), as: UTF8.self)
        let file = try HDF5File.createInMemory(name: path)
        let root = try file.root()
        try root.setAttribute("format", .string(Self.formatName))
        try root.setAttribute("format_version", .int64(Int64(Self.formatVersion)))
        try root.setAttribute("state", .string(json))
        let p = try root.createGroup("parameters")
        for (name, t) in trainer.model.namedParameters { try p.writeFloats(name, shape: t.shape, values: t.scalars) }
        for (prefix, adam) in [("adam", trainer.optimizer), ("aux", trainer.auxiliaryOptimizer)] {
            let m = try root.createGroup(prefix + "_m"), v = try root.createGroup(prefix + "_v")
            for (i, shape) in adam.state.shapes.enumerated() {
                try m.writeFloats(String(i), shape: shape, values: adam.state.firstMoments[i])
                try v.writeFloats(String(i), shape: shape, values: adam.state.secondMoments[i])
            }
        }
        let bytes = try file.image()
        try file.close()
        do { try writeFileAtomically(path: path, bytes: bytes, mode: .replace) } catch {
            throw CodecTrainingError(file: path, error.reason)
        }
    }

    /// Reads a state written by `write(to:)` (libhdf5 parses it in an isolated child), checking the format,
    /// every tensor's name and shape against the model the state describes, and the moments' shapes.
    public static func read(from path: String) throws -> (state: CodecRunState, parameters: [(name: String, tensor: Tensor)], optimizers: (Adam, Adam)) {
        func fail(_ m: String) -> CodecTrainingError { CodecTrainingError(file: path, m) }
        let snapshot: HDF5Snapshot
        do { snapshot = try HDF5Snapshot.read(path) } catch { throw fail(error.message) }
        let root = snapshot.root
        guard case .string(Self.formatName)? = try root.attribute("format") else {
            throw fail("root attribute 'format' must be '\(Self.formatName)'; this is not a codec training state")
        }
        guard case .int64(Int64(Self.formatVersion))? = try root.attribute("format_version") else {
            throw fail("root attribute 'format_version' must be \(Self.formatVersion)")
        }
        guard case .string(let json)? = try root.attribute("state") else { throw fail("root attribute 'state' (JSON) is missing") }
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        let s: Scalars
        do { s = try decoder.decode(Scalars.self, from: Data(json.utf8)) } catch {
            throw fail("root attribute 'state' is not a codec run state: \(error)")
        }
        do { try s.run.options.validate() } catch { throw fail("state options: \(error.message)") }
        guard s.run.stepsDone >= 0, s.run.stepsDone <= s.run.options.steps, s.run.threads >= 1, s.run.threads <= 1024 else {
            throw fail("steps done \(s.run.stepsDone) of \(s.run.options.steps) with \(s.run.threads) threads: expected 0...steps and 1...1024 threads")
        }
        guard s.run.channels >= 1, s.run.channels <= 1024, s.run.latentChannels >= 1, s.run.latentChannels <= 1024 else {
            throw fail("channels \(s.run.channels), latent channels \(s.run.latentChannels): expected 1...1024")
        }
        // The expected names and shapes come from a model built as the state describes it.
        let expected = try TrainableCodec(architecture: try s.run.architecture, crop: s.run.options.crop, seed: 0).namedParameters
        let g = try root.group("parameters")
        var parameters: [(name: String, tensor: Tensor)] = []
        for (name, t) in expected {
            let a = try g.readFloats(name)
            guard a.shape == t.shape else { throw fail("parameters/\(name): expected shape \(t.shape), found \(a.shape)") }
            guard a.values.allSatisfy(\.isFinite) else { throw fail("parameters/\(name): expected finite values") }
            parameters.append((name, Tensor(shape: a.shape, scalars: a.values)))
        }
        func adam(_ prefix: String, _ a: AdamScalars, shapes: [[Int]]) throws -> Adam {
            var o = Adam(learningRate: a.learningRate, beta1: a.beta1, beta2: a.beta2, epsilon: a.epsilon)
            guard a.step >= 0 else { throw fail("\(prefix): step \(a.step) is negative") }
            o.state.step = a.step
            guard a.step == 0 || a.shapes == shapes else { throw fail("\(prefix) moments: shapes \(a.shapes), expected \(shapes)") }
            guard a.step > 0 else { return o }
            o.state.shapes = shapes
            let m = try root.group(prefix + "_m"), v = try root.group(prefix + "_v")
            for (i, shape) in shapes.enumerated() {
                let x = try m.readFloats(String(i)), y = try v.readFloats(String(i))
                guard x.shape == shape, y.shape == shape else { throw fail("\(prefix) moments \(i): expected shape \(shape)") }
                o.state.firstMoments.append(x.values)
                o.state.secondMoments.append(y.values)
            }
            return o
        }
        let shapes = parameters.map(\.tensor.shape)
        let main = try adam("adam", s.main, shapes: Array(shapes.dropLast()))
        let aux = try adam("aux", s.aux, shapes: [shapes.last!])
        return (s.run, parameters, (main, aux))
    }

    struct Scalars: Codable {
        var run: CodecRunState
        var main: AdamScalars
        var aux: AdamScalars
    }

    struct AdamScalars: Codable {
        var learningRate: Double, beta1: Double, beta2: Double, epsilon: Double
        var step: Int
        var shapes: [[Int]]
        init(_ a: Adam) {
            learningRate = a.learningRate; beta1 = a.beta1; beta2 = a.beta2; epsilon = a.epsilon
            step = a.state.step; shapes = a.state.shapes
        }
    }
}

private func log10(_ x: Double) -> Double { Double.log10(x) }
