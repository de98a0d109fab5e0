/// Reusable buffers for forward passes: scratch memory by slot and one output tensor per layer (or other
/// owner), both kept between calls so that repeated passes with the same batch size allocate nothing.
///
/// - `scratch(_:count:)` hands out raw float memory by slot (the layers use slots 0, 1, 2 for their
///   im2col columns, GEMM results and activation-parameter rows); a slot grows when a call needs more than
///   it has and never shrinks.
/// - `tensorSlot(for:)` gives each owner (a layer, or a `Sequential` for its shard input/output) a kept
///   `Tensor` (`tensor(_:)`, `withTensor(_:_:)`), which the layers' `forward(_:into:workspace:)` reallocate
///   only when its element count changes (a new batch size).
///
/// `allocations` counts every scratch (re)allocation and every output tensor whose storage had to be
/// (re)allocated or copied (copy-on-write of shared storage), so a test can check that a warmed-up
/// workspace stops allocating.
///
/// Not thread-safe: use one workspace per thread (the sessions keep one per shard).
public final class Workspace {
    /// Scratch (re)allocations plus tensor-storage (re)allocations made through this workspace so far.
    public private(set) var allocations = 0
    private var buffers: [MutableFloatPointer?] = []
    private var capacities: [Int] = []
    private var tensors: [Tensor] = []
    private var tensorSlots: [TensorKey: Int] = [:]

    struct TensorKey: Hashable {
        var owner: ObjectIdentifier
        var role: Int
    }

    public init() {}

    deinit {
        for case let p? in buffers { p.deallocate() }
    }

    /// At least `count` floats of scratch for `slot` (contents undefined). The memory stays valid until the
    /// next call for the same slot that needs more, or until the workspace is released.
    public func scratch(_ slot: Int, count: Int) -> MutableFloatPointer {
        while buffers.count <= slot {
            buffers.append(nil)
            capacities.append(0)
        }
        if let p = buffers[slot], capacities[slot] >= count { return p }
        buffers[slot]?.deallocate()
        let capacity = max(count, 8)
        let p = MutableFloatPointer.allocate(capacity: capacity)
        buffers[slot] = p
        capacities[slot] = capacity
        allocations += 1
        return p
    }

    /// Floats currently held as scratch (all slots).
    public var scratchCapacity: Int { capacities.reduce(0, +) }

    /// The slot of the tensor kept for `owner` (created empty on first use); `role` distinguishes several
    /// tensors of one owner.
    public func tensorSlot(for owner: AnyObject, role: Int = 0) -> Int {
        let key = TensorKey(owner: ObjectIdentifier(owner), role: role)
        if let i = tensorSlots[key] { return i }
        tensors.append(.empty)
        tensorSlots[key] = tensors.count - 1
        return tensors.count - 1
    }

    /// The tensor in `slot` (a copy sharing its storage: read it, do not keep it across calls that write
    /// the slot, or the next write copies the storage).
    public func tensor(_ slot: Int) -> Tensor { tensors[slot] }

    /// Lends the tensor in `slot` to `body` for writing. It is moved out of the workspace meanwhile, so
    /// `body` may use the workspace (other slots, scratch) freely.
    public func withTensor<R, E: Error>(_ slot: Int, _ body: (inout Tensor) throws(E) -> R) throws(E) -> R {
        var t = Tensor.empty
        swap(&t, &tensors[slot])
        defer { swap(&t, &tensors[slot]) }
        return try countingCopies(of: &t, body)
    }

    /// Runs `body` on `tensor` and counts in `allocations` a storage copy made while the element count
    /// stayed the same: a copy-on-write because the storage was shared (reallocations for a new size are
    /// counted by `Tensor.prepare`).
    public func countingCopies<R, E: Error>(of tensor: inout Tensor, _ body: (inout Tensor) throws(E) -> R) throws(E) -> R {
        let count = tensor.count
        let storage = tensor.scalars.withUnsafeBufferPointer { $0.baseAddress }
        defer {
            if count > 0, tensor.count == count, tensor.scalars.withUnsafeBufferPointer({ $0.baseAddress }) != storage {
                allocations += 1
            }
        }
        return try body(&tensor)
    }

    /// Records an allocation made on this workspace's behalf (by `Tensor.prepare(shape:workspace:)`).
    func countAllocation() { allocations += 1 }
}

extension Tensor {
    /// Makes this tensor `shape`, keeping its storage when the element count is unchanged (its contents are
    /// then stale: the caller overwrites every element). Otherwise allocates uninitialised storage and counts
    /// the allocation in `workspace`. Storage shared with another tensor is copied on the caller's first
    /// write (value semantics), as for any array.
    public mutating func prepare(shape newShape: [Int], workspace: Workspace?) {
        if shape == newShape { return }
        let n = newShape.reduce(1, *)
        if scalars.count != n {
            scalars = uninitializedFloats(n)
            workspace?.countAllocation()
        }
        self = Tensor(shape: newShape, scalars: scalars)
    }

    /// An empty placeholder (`[0]`) for `forward(_:into:workspace:)` to fill.
    public static let empty = Tensor(shape: [0], scalars: [])
}
