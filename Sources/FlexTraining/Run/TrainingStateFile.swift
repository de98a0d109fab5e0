// The training state file (`state.h5` in a run folder; docs/training.md): HDF5, written atomically so that
// killing the process at any moment leaves either the previous complete file or the new complete file.

import FlexHDF5
import FlexIO
import FlexRuntime

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A problem with a training state file or a run folder: `FILE: message`.
public struct TrainingStateError: Error, CustomStringConvertible, Equatable, Sendable {
    public var file: String
    public var message: String
    public init(file: String, message: String) {
        self.file = file
        self.message = message
    }
    public var description: String { "\(file): \(message)" }
}

/// The scalar part of the state, stored as the JSON root attribute `state`.
struct StateScalars: Codable {
    var epochsCompleted: Int
    var batchesCompleted: Int
    var partialLossSum: Double
    var partialRegularizationSum: Double
    var partialSamples: Int
    var partialSteps: Int
    var partialSeconds: Double
    /// Decimal string: JSON numbers cannot hold every UInt64 exactly in every reader.
    var randomState: String
    var history: [EpochRecord]
    var bestValidationLoss: Double?
    var bestEpoch: Int?
    var epochsWithoutImprovement: Int
    var finished: FinishReason?
    var testLoss: Double?
    var elapsedSeconds: Double
    var parameterNames: [String]
    var hasBestParameters: Bool
    var optimizer: AdamSettings
}

/// Adam without its moments (those are datasets).
struct AdamSettings: Codable {
    var learningRate: Double
    var beta1: Double
    var beta2: Double
    var epsilon: Double
    var weightDecay: Double
    var learningRateMultipliers: [Double]?
    var step: Int
    var shapes: [[Int]]
}

extension TrainingState {
    /// The root attribute `format`.
    public static let formatName = "flexctl-training-state"
    public static let formatVersion = 1

    /// Writes the state to `path` atomically (temporary file in the same folder, fsync, rename, fsync of the
    /// folder). Replaces an existing state file.
    public func write(to path: String) throws(TrainingStateError) {
        let scalars = StateScalars(
            epochsCompleted: epochsCompleted, batchesCompleted: batchesCompleted, partialLossSum: partialLossSum,
            partialRegularizationSum: partialRegularizationSum, partialSamples: partialSamples,
            partialSteps: partialSteps, partialSeconds: partialSeconds, randomState: String(randomState),
            history: history, bestValidationLoss: bestValidationLoss, bestEpoch: bestEpoch,
            epochsWithoutImprovement: epochsWithoutImprovement, finished: finished, testLoss: testLoss,
            elapsedSeconds: elapsedSeconds, parameterNames: parameters.map(\.name),
            hasBestParameters: bestParameters != nil,
            optimizer: AdamSettings(
                learningRate: optimizer.learningRate, beta1: optimizer.beta1, beta2: optimizer.beta2,
                epsilon: optimizer.epsilon, weightDecay: optimizer.weightDecay,
                learningRateMultipliers: optimizer.learningRateMultipliers, step: optimizer.state.step,
                shapes: optimizer.state.shapes))
        let json: String
        do {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
            json = String(decoding: try encoder.encode(scalars), as: UTF8.self)
        } catch {
            throw TrainingStateError(file: path, message: "cannot encode the state: \(error)")
        }
        // Built in memory, written by FlexIO's atomic writer (see Checkpoint.write(to:options:)).
        let bytes: [UInt8]
        do {
            let file = try HDF5File.createInMemory(name: path)
            let root = try file.root()
            try root.setAttribute("format", .string(Self.formatName))
            try root.setAttribute("format_version", .int64(Int64(Self.formatVersion)))
            try root.setAttribute("state", .string(json))
            let p = try root.createGroup("parameters")
            for (name, t) in parameters { try p.writeFloats(name, shape: t.shape, values: t.scalars) }
            if let best = bestParameters {
                let g = try root.createGroup("best")
                for (name, t) in best { try g.writeFloats(name, shape: t.shape, values: t.scalars) }
            }
            let m = try root.createGroup("adam_m"), v = try root.createGroup("adam_v")
            for (i, shape) in optimizer.state.shapes.enumerated() {
                try m.writeFloats(String(i), shape: shape, values: optimizer.state.firstMoments[i])
                try v.writeFloats(String(i), shape: shape, values: optimizer.state.secondMoments[i])
            }
            bytes = try file.image()
            try file.close()
        } catch {
            throw TrainingStateError(file: path, message: "\(error)")
        }
        do {
            try writeFileAtomically(path: path, bytes: bytes, mode: .replace)
        } catch {
            throw TrainingStateError(file: path, message: error.reason)
        }
    }

    /// Reads a state written by `write(to:)`, checking the format, every dataset's presence and shape, and every
    /// field against the others (`ownProblem()`); `problem(model:options:trainCount:)` checks it against a run.
    public static func read(from path: String) throws(TrainingStateError) -> TrainingState {
        func fail(_ m: String) -> TrainingStateError { TrainingStateError(file: path, message: m) }
        guard access(path, F_OK) == 0 else { throw fail("no training state here (\(String(cString: strerror(errno))))") }
        do {
            // A run folder may come from someone else too: libhdf5 parses the file in an isolated child
            // (HDF5Snapshot), with the checkpoint limits, and nothing outside the file is read.
            let snapshot: HDF5Snapshot
            do { snapshot = try HDF5Snapshot.read(path) } catch {
                if error.message.hasPrefix("not an HDF5 file") { throw fail("not an HDF5 file (a training state file is HDF5)") }
                throw error
            }
            let root = snapshot.root
            guard case .string(Self.formatName)? = try root.attribute("format") else {
                throw fail("root attribute 'format' must be '\(Self.formatName)'; this is not a training state file")
            }
            guard case .int64(let version)? = try root.attribute("format_version") else {
                throw fail("root attribute 'format_version' (integer) is missing")
            }
            guard version == Self.formatVersion else {
                throw fail("training state format version \(version); this flexctl reads version \(Self.formatVersion)")
            }
            guard case .string(let json)? = try root.attribute("state") else {
                throw fail("root attribute 'state' (JSON string) is missing")
            }
            let s: StateScalars
            do {
                let decoder = JSONDecoder()
                decoder.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
                s = try decoder.decode(StateScalars.self, from: Data(json.utf8))
            } catch {
                throw fail("root attribute 'state' is not valid state JSON: \(error)")
            }
            guard let random = UInt64(s.randomState) else {
                // Shown shortened and without control characters (`shown`): the text comes from the file.
                throw fail("field 'randomState' is '\(shown(s.randomState))'; expected an unsigned 64-bit integer in decimal")
            }
            func tensors(_ group: String) throws -> [(name: String, tensor: Tensor)] {
                let g = try root.group(group)
                return try s.parameterNames.map { name in
                    let a = try g.readFloats(name)
                    return (name, Tensor(shape: a.shape, scalars: a.values))
                }
            }
            let parameters = try tensors("parameters")
            // The moments' shapes before any moment is read: none before the first step, else the parameters'.
            if !s.optimizer.shapes.isEmpty,
               let problem = TrainingState(parameters: parameters, optimizer: Adam(), seed: 0).shapesProblem(s.optimizer.shapes) {
                throw fail(problem)
            }
            var optimizer = Adam(learningRate: s.optimizer.learningRate, beta1: s.optimizer.beta1,
                                 beta2: s.optimizer.beta2, epsilon: s.optimizer.epsilon,
                                 weightDecay: s.optimizer.weightDecay,
                                 learningRateMultipliers: s.optimizer.learningRateMultipliers)
            optimizer.state.step = s.optimizer.step
            optimizer.state.shapes = s.optimizer.shapes
            let m = try root.group("adam_m"), v = try root.group("adam_v")
            for (i, shape) in s.optimizer.shapes.enumerated() {
                let a = try m.readFloats(String(i)), b = try v.readFloats(String(i))
                guard a.shape == shape, b.shape == shape else {
                    throw fail("Adam moments \(i): expected shape \(shape), found \(a.shape) and \(b.shape)")
                }
                optimizer.state.firstMoments.append(a.values)
                optimizer.state.secondMoments.append(b.values)
            }
            var state = TrainingState(parameters: parameters, optimizer: optimizer, seed: random)
            state.bestParameters = s.hasBestParameters ? try tensors("best") : nil
            state.epochsCompleted = s.epochsCompleted
            state.batchesCompleted = s.batchesCompleted
            state.partialLossSum = s.partialLossSum
            state.partialRegularizationSum = s.partialRegularizationSum
            state.partialSamples = s.partialSamples
            state.partialSteps = s.partialSteps
            state.partialSeconds = s.partialSeconds
            state.history = s.history
            state.bestValidationLoss = s.bestValidationLoss
            state.bestEpoch = s.bestEpoch
            state.epochsWithoutImprovement = s.epochsWithoutImprovement
            state.finished = s.finished
            state.testLoss = s.testLoss
            state.elapsedSeconds = s.elapsedSeconds
            if let problem = state.ownProblem() { throw fail(problem) }
            return state
        } catch let e as TrainingStateError {
            throw e
        } catch let e as HDF5Error {
            throw fail(e.path.isEmpty ? e.message : "\(e.path): \(e.message)")
        } catch {
            throw fail("\(error)")
        }
    }
}
