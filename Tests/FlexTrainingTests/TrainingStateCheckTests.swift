import FlexRuntime
import FlexTraining
import Foundation
import Testing

/// A state file may come from anyone: every field is checked when it is read (on its own) and when a loop
/// adopts it (against the run), with one message naming the field, instead of a trap in the loop.
@Suite struct TrainingStateCheckTests {
    /// The state of the toy run interrupted at epoch 2 after 3 of its 7 batches (100 samples, batches of 16).
    static func interruptedState() throws -> TrainingState {
        let loop = try TrainingLoopTests.loop()
        var steps = 0
        loop.onEvent = { if case .batch = $0 { steps += 1 } }
        loop.shouldStop = { steps >= 10 }
        #expect(try loop.run() == .interrupted)
        #expect(loop.state.epochsCompleted == 1 && loop.state.batchesCompleted == 3)
        return loop.state
    }

    @Test("read refuses each impossible field with one message naming the file and the field")
    func readRefusesCraftedFields() throws {
        let good = try Self.interruptedState()
        let dir = FileManager.default.temporaryDirectory.path + "/flex-state-checks-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/state.h5"
        // The real state reads back and fits its run.
        try good.write(to: path)
        let back = try TrainingState.read(from: path)
        #expect(back.problem(model: try TrainingLoopTests.loop().trainer.model, options: TrainingLoopTests.options, trainCount: 100) == nil)

        let cases: [(String, (inout TrainingState) -> Void)] = [
            ("field 'batchesCompleted' is -1; expected 0 or more", { $0.batchesCompleted = -1 }),
            ("field 'epochsCompleted' is -2; expected 0 or more", { $0.epochsCompleted = -2 }),
            ("fields 'batchesCompleted' (7) and 'partialSteps' (3) disagree; expected one step per completed batch",
             { $0.batchesCompleted = 7 }),
            ("field 'elapsedSeconds' is 1e+300; expected a number of seconds in 0...1e9", { $0.elapsedSeconds = 1e300 }),
            ("field 'partialSeconds' is inf; expected a number of seconds in 0...1e9", { $0.partialSeconds = .infinity }),
            ("field 'partialSeconds' is -1.0; expected a number of seconds in 0...1e9", { $0.partialSeconds = -1 }),
            ("field 'partialLossSum' is nan; expected a number in 0...1e100", { $0.partialLossSum = .nan }),
            ("field 'partialSamples' is -5; expected 0 or more", { $0.partialSamples = -5 }),
            ("field 'history[0].trainLoss' is -1.0; expected a number in 0...1e100", { $0.history[0].trainLoss = -1 }),
            ("field 'history[0].regularization' is 1e+300; expected a number in 0...1e100", { $0.history[0].regularization = 1e300 }),
            ("field 'history[0].validationLoss' is -inf; expected a number in 0...1e100, nan or inf",
             { $0.history[0].validationLoss = -.infinity }),
            ("field 'history[0].seconds' is 1e+300; expected a number of seconds in 0...1e9", { $0.history[0].seconds = 1e300 }),
            ("field 'history[0].epoch' is 9; expected 1", { $0.history[0].epoch = 9 }),
            ("field 'history' is 2 records; expected one per completed epoch (1, 'epochsCompleted')",
             { $0.history.append($0.history[0]) }),
            ("field 'bestEpoch' is 5; expected a completed epoch, 1...1", { $0.bestEpoch = 5 }),
            ("field 'bestEpoch' is missing; expected present exactly when 'bestValidationLoss' is (\(good.bestValidationLoss!))",
             { $0.bestEpoch = nil }),
            ("field 'epochsWithoutImprovement' is 3; expected 0 (epochs after 'bestEpoch' 1)", { $0.epochsWithoutImprovement = 3 }),
            ("field 'testLoss' is 0.5; expected none before the run finished", { $0.testLoss = 0.5 }),
            ("field 'optimizer.step' is -1; expected 0 or more", { $0.optimizer.state.step = -1 }),
            ("optimizer: Adam: 1 learning-rate multipliers for \(good.parameters.count) parameter tensors",
             { $0.optimizer.learningRateMultipliers = [1] }),
            ("optimizer: Adam: invalid beta1 1.5 (need 0 <= beta1 < 1)", { $0.optimizer.beta1 = 1.5 }),
            ("field 'optimizer.learningRateMultipliers[1]' is nan; expected a finite non-negative number",
             { $0.optimizer.learningRateMultipliers = [1, .nan] + Array(repeating: 1, count: good.parameters.count - 2) }),
            ("dataset '/adam_m/2': expected finite values, found nan or inf", { $0.optimizer.state.firstMoments[2][0] = .nan }),
            ("dataset '/adam_v/0': expected finite non-negative values, found a negative, nan or inf",
             { $0.optimizer.state.secondMoments[0][0] = -1 }),
        ]
        for (message, change) in cases {
            var crafted = good
            change(&crafted)
            try crafted.write(to: path)
            #expect { try TrainingState.read(from: path) } throws: { error in
                let e = error as? TrainingStateError
                #expect(e?.file == path)
                #expect(e?.message == message)
                return e?.message == message
            }
        }
    }

    @Test("a loop refuses a state that does not fit its run (position, samples, steps, parameters)")
    func loopRefusesAStateOfAnotherRun() throws {
        let good = try Self.interruptedState()
        // Loop options: 3 epochs of 7 batches of 16 over 100 samples; the state is at epoch 2 after batch 3.
        let cases: [(String, (inout TrainingState) -> Void)] = [
            // Past the end of the epoch: the loop's range b..<7 would trap.
            ("field 'batchesCompleted' is 8; expected 0...7 (the run's batches per epoch)",
             { $0.batchesCompleted = 8; $0.partialSteps = 8 }),
            ("field 'batchesCompleted' is -1; expected 0...7 (the run's batches per epoch)",
             { $0.batchesCompleted = -1; $0.partialSteps = -1 }),
            ("field 'epochsCompleted' is 4; expected 0...3 (the run's epochs)", { $0.epochsCompleted = 4 }),
            ("field 'partialSamples' is 1000; expected 48 (the samples of 3 batches of 16)", { $0.partialSamples = 1000 }),
            ("field 'optimizer.step' is \(Int.max); expected 10 (one step per batch: 1 epochs of 7 batches and 3)",
             { $0.optimizer.state.step = .max }),
            ("parameter 0 is nope \(formatShape(good.parameters[0].tensor.shape)); expected the model's \(good.parameters[0].name) \(formatShape(good.parameters[0].tensor.shape))",
             { $0.parameters[0].name = "nope"; $0.bestParameters?[0].name = "nope" }),
            ("field 'parameterNames' is '\(good.parameters[0].name)' twice; expected each parameter once",
             { $0.parameters[1].name = $0.parameters[0].name; $0.bestParameters?[1].name = $0.parameters[0].name }),
            // A name from the file is shown without its escape sequences.
            ("parameter 0 is ?[2J \(formatShape(good.parameters[0].tensor.shape)); expected the model's \(good.parameters[0].name) \(formatShape(good.parameters[0].tensor.shape))",
             { $0.parameters[0].name = "\u{1B}[2J"; $0.bestParameters?[0].name = "\u{1B}[2J" }),
            ("best parameter 1 is \(good.parameters[0].name) \(formatShape(good.parameters[0].tensor.shape)); expected \(good.parameters[1].name) \(formatShape(good.parameters[1].tensor.shape)) as in 'parameterNames'",
             { $0.bestParameters?[1] = $0.parameters[0] }),
        ]
        for (message, change) in cases {
            var crafted = good
            change(&crafted)
            #expect { try TrainingLoopTests.loop(state: crafted) } throws: { error in
                let text = "\(error)"
                #expect(text == "the training state does not fit this run: \(message)")
                return text.hasSuffix(message)
            }
        }
        // The untouched state is adopted and finishes the run.
        #expect(try TrainingLoopTests.loop(state: good).run() == .finished(.completed))
    }
}
