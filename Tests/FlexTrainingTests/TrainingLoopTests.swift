import FlexRuntime
import FlexTraining
import Foundation
import Testing

@Suite struct TrainingLoopTests {
    static let options = TrainingOptions(epochs: 3, batchSize: 16, seed: 7, patience: nil, threads: 2)

    static func data(_ n: Int, seed: UInt64) throws -> TensorDataset {
        try TensorDataset(autoencoderInputs: TrainerTests.images(n, seed: seed).scalars, shape: [1, 8, 8])
    }

    /// A fresh loop over the toy CAE with the regulariser on.
    static func loop(_ options: TrainingOptions = options, state: TrainingState? = nil,
                     validation: TensorDataset? = nil) throws -> TrainingLoop {
        let model = try TrainerTests.toyCAE("p-e2-relu", seed: options.seed)
        let trainer = Trainer(model: model, optimizer: Adam(learningRate: 1e-2),
                              regularizer: LayerwiseRegularizer(delta1: 1e-3, delta2: 1e-3, delta3: 1e-3, margin: 0.05))
        return try TrainingLoop(trainer: trainer, options: options, train: try data(100, seed: 1),
                                validation: try validation ?? data(20, seed: 2), test: try data(20, seed: 3), state: state)
    }

    static func bits(_ ps: [(name: String, tensor: Tensor)]) -> [[UInt32]] {
        ps.map { $0.tensor.scalars.map(\.bitPattern) }
    }

    @Test func sameSeedAndThreadsGiveIdenticalRuns() throws {
        let a = try Self.loop(), b = try Self.loop()
        #expect(try a.run() == .finished(.completed))
        #expect(try b.run() == .finished(.completed))
        #expect(Self.bits(a.state.parameters) == Self.bits(b.state.parameters))
        #expect(a.state.history.map(\.trainLoss) == b.state.history.map(\.trainLoss))
        #expect(a.state.history.count == 3)
        #expect(a.state.testLoss != nil)
        // The loss goes down.
        #expect(a.state.history[2].trainLoss < a.state.history[0].trainLoss)
    }

    @Test func differentSeedsGiveDifferentRuns() throws {
        var o = Self.options
        o.seed = 8
        let a = try Self.loop(), b = try Self.loop(o)
        _ = try a.run()
        _ = try b.run()
        #expect(Self.bits(a.state.parameters) != Self.bits(b.state.parameters))
    }

    /// Interrupt after every possible batch count inside the run (mid-epoch and at epoch ends), save the state
    /// to a file, read it back into a fresh loop and finish: the result is bit-identical to an uninterrupted run.
    @Test func resumingFromAnyBatchReproducesTheUninterruptedRun() throws {
        let reference = try Self.loop()
        _ = try reference.run()
        let dir = FileManager.default.temporaryDirectory.path + "/flex-loop-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/state.h5"
        let perEpoch = 7  // ceil(100 / 16)
        for stopAfter in [1, 3, 6, 7, 8, 13, 15, 20] {
            let first = try Self.loop()
            var steps = 0
            first.onEvent = { if case .batch = $0 { steps += 1 } }
            first.shouldStop = { steps >= stopAfter }
            first.saveState = { try $0.write(to: path) }
            #expect(try first.run() == .interrupted, "stop after \(stopAfter)")
            let saved = try TrainingState.read(from: path)
            #expect(saved.epochsCompleted * perEpoch + saved.batchesCompleted == stopAfter)
            let second = try Self.loop(state: saved)
            second.saveState = { try $0.write(to: path) }
            #expect(try second.run() == .finished(.completed))
            #expect(Self.bits(second.state.parameters) == Self.bits(reference.state.parameters), "stop after \(stopAfter)")
            #expect(second.state.history.map(\.trainLoss) == reference.state.history.map(\.trainLoss))
            #expect(second.state.history.map(\.validationLoss) == reference.state.history.map(\.validationLoss))
            #expect(second.state.testLoss == reference.state.testLoss)
            #expect(second.trainer.optimizer.state == reference.trainer.optimizer.state)
        }
    }

    @Test func earlyStoppingRestoresTheBestWeights() throws {
        // Validation on noise that the model cannot learn: its loss stops improving within a few epochs, and
        // patience 2 stops the run with the best epoch's weights.
        var o = Self.options
        o.epochs = 30
        o.patience = 2
        var rng = SplitMix64(seed: 99)
        let noise = try TensorDataset(autoencoderInputs: (0..<(20 * 64)).map { _ in rng.uniform(-1, 1) }, shape: [1, 8, 8])
        let l = try Self.loop(o, validation: noise)
        var stopped: (Int, Int)?
        l.onEvent = { if case let .earlyStop(e, b) = $0 { stopped = (e, b) } }
        let outcome = try l.run()
        let best = try #require(l.state.bestEpoch)
        #expect(outcome == .finished(.earlyStopped))
        let (e, b) = try #require(stopped)
        #expect(b == best && e == best + 2 && e < 30)
        #expect(l.state.history.count == e)
        #expect(Self.bits(l.state.finalParameters(patience: 2)) == Self.bits(try #require(l.state.bestParameters)))
        #expect(Self.bits(l.trainer.model.namedParameters) == Self.bits(try #require(l.state.bestParameters)))
        let v = l.state.history.compactMap(\.validationLoss)
        #expect(l.state.bestValidationLoss == v.min())
        // The test loss is that of the restored model.
        let t = try TrainingLoop.meanSquaredError(of: l.trainer.model, on: try Self.data(20, seed: 3), threads: 1)
        #expect(abs(t - (l.state.testLoss ?? .nan)) < 1e-12 * max(1, t))
    }

    @Test func stateFileRoundTripsAndRejectsOtherFiles() throws {
        let l = try Self.loop()
        _ = try l.run()
        let dir = FileManager.default.temporaryDirectory.path + "/flex-state-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try l.state.write(to: dir + "/s.h5")
        let r = try TrainingState.read(from: dir + "/s.h5")
        #expect(Self.bits(r.parameters) == Self.bits(l.state.parameters))
        #expect(r.optimizer == l.state.optimizer)
        #expect(r.history == l.state.history)
        #expect(r.finished == .completed)
        // Only the state file remains in the folder (no temporary files).
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["s.h5"])
        try Data("not hdf5".utf8).write(to: URL(fileURLWithPath: dir + "/bad.h5"))
        #expect { try TrainingState.read(from: dir + "/bad.h5") } throws: {
            "\($0)".contains("bad.h5") && "\($0)".contains("not an HDF5 file")
        }
        #expect { try TrainingState.read(from: dir + "/missing.h5") } throws: { "\($0)".contains("missing.h5") }
    }
}
