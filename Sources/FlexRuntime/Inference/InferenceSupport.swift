import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A checkpoint that does not fit the session it is given to, or a request the model cannot answer
/// (e.g. a k-step forecast from a model whose targets are not its features).
public struct InferenceError: Error, CustomStringConvertible, Equatable, Sendable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Inference defaults shared by the sessions.
public enum Inference {
    /// The number of online processors (at least 1): the sessions' default worker-thread count.
    public static var defaultThreads: Int {
        max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
    }
}

extension Sequential {
    /// A model running layers `range` of this one: it shares the layer objects (and so their parameters and
    /// names, `layers.3` stays `layers.3`) and starts from the per-sample shape this model has before
    /// `range.lowerBound`. Used to run the encoder or decoder half of an auto-encoder through
    /// `forward(_:threads:)`.
    public func submodel(layers range: Range<Int>) throws(ConfigurationError) -> Sequential {
        guard range.lowerBound >= 0, range.upperBound <= layers.count else {
            throw ConfigurationError("layers \(range.lowerBound)..<\(range.upperBound) out of 0..<\(layers.count)")
        }
        let start = range.lowerBound == 0 ? inputShape : layerOutputShapes[range.lowerBound - 1]
        let sub = try Sequential(specs: Array(specs[range]), inputShape: start)
        sub.layers = Array(layers[range])
        return sub
    }
}

/// `[N, 1, 28, 28]` for a per-sample shape `[1, 28, 28]`: the batched shape as messages print it.
func batchedShapeText(_ perSample: [Int]) -> String {
    "[N" + perSample.map { ", \($0)" }.joined() + "]"
}

/// The buffers a session owns: one workspace per shard (each keeping its layers' outputs, shard copies and
/// scratch) plus tensors for the session's own intermediate values (a forecast's sliding window and step
/// output). Calls that find the buffers in use by another thread run with fresh ones instead, so a session
/// stays usable from several threads at once; only the uncontended path reuses memory.
final class SessionBuffers: Sendable {
    /// Only touched under the lock (or as a caller's private fresh copy).
    struct State: @unchecked Sendable {
        var workspaces: [Workspace]
        var tensors: [Tensor]
        init(threads: Int, tensors: Int) {
            workspaces = (0..<threads).map { _ in Workspace() }
            self.tensors = Array(repeating: .empty, count: tensors)
        }
    }

    private let state: Mutex<State>
    let threads: Int, tensorCount: Int

    init(threads: Int, tensors: Int = 0) {
        self.threads = threads
        self.tensorCount = tensors
        state = Mutex(State(threads: threads, tensors: tensors))
    }

    /// Runs `body` with the session's buffers, or with fresh ones when another thread holds them.
    func with<R: Sendable>(_ body: (inout State) throws -> R) throws -> R {
        let owned = state.withLockIfAvailable { (s: inout State) -> Result<R, any Error> in
            do { return .success(try body(&s)) } catch { return .failure(error) }
        }
        if let owned { return try owned.get() }
        var fresh = State(threads: threads, tensors: tensorCount)
        return try body(&fresh)
    }

    /// Scratch and tensor-storage (re)allocations of the owned workspaces so far (for tests and tools).
    var allocations: Int {
        state.withLock { $0.workspaces.reduce(0) { $0 + $1.allocations } }
    }
}
