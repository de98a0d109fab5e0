// Reading untrusted HDF5 files: libhdf5 parses them in an isolated child process (CFlexHDF5/snapshot.c) and
// this file turns the child's bounded record stream into an in-memory tree with the same reading interface as
// `HDF5Group` (members, attributes, float datasets), so readers are written once against plain values.
//
// Why a child process: Debian 12's libhdf5 1.10.8 can crash (SIGSEGV), loop or allocate without bound on
// damaged or crafted files, and HDF5 lets a file refer to other files (external storage, external links,
// virtual datasets). In the child, libhdf5 sees only the file's bytes (the core driver, never a path), the
// structure is checked against `HDF5Limits` before any value is read, and a crash, hang or runaway allocation
// ends only the child: the parent reports one clear error.

import CFlexHDF5
import CHDF5
import FlexIO

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// What an untrusted HDF5 file may contain (docs/checkpoint-format.md, "Limits").
public struct HDF5Limits: Sendable, Equatable {
    /// Bytes of the file itself.
    public var maxFileBytes: Int = 1 << 30
    /// Groups nested below the root.
    public var maxDepth: Int = 4
    /// Groups and datasets in the file.
    public var maxObjects: Int = 65_536
    /// Members of one group.
    public var maxMembers: Int = 4_096
    /// Attributes of one object.
    public var maxAttributes: Int = 64
    /// Bytes of one link or attribute name.
    public var maxNameBytes: Int = 256
    /// Dimensions of one dataset or attribute.
    public var maxRank: Int = 4
    /// Values in one dataset (and in one chunk of it); also the largest dimension.
    public var maxDatasetElements: Int = 1 << 26
    /// Values in all datasets together.
    public var maxTotalElements: Int = 1 << 27
    /// Bytes of one string attribute.
    public var maxStringBytes: Int = 4 << 20
    /// Address space the reading process may add to its own.
    public var memoryBytes: Int = 4 << 30
    /// Wall-clock time for reading the file, in seconds (plus one second per 50 MB of file).
    public var timeoutSeconds: Double = 10

    public init() {}

    /// The limits flexctl applies to checkpoints and training states.
    public static let `default` = HDF5Limits()
}

/// An HDF5 file read into memory through the isolated reader. Read-only.
public final class HDF5Snapshot: Sendable {
    /// The file's path (or the name given for bytes).
    public let file: String
    /// The root group `/`.
    public let root: HDF5SnapshotGroup

    init(file: String, root: HDF5SnapshotGroup) {
        self.file = file
        self.root = root
    }

    /// Reads the regular file at `path` (never a FIFO or device; at most `limits.maxFileBytes`) and parses it
    /// in an isolated child process. Every failure is an `HDF5Error` with `path` naming the object concerned.
    public static func read(_ path: String, limits: HDF5Limits = .default) throws(HDF5Error) -> HDF5Snapshot {
        // FlexIO's reader: opened without blocking (a FIFO never hangs), regular files only, size capped.
        let bytes: [UInt8]
        do { bytes = try readRegularFile(path, maxBytes: limits.maxFileBytes) } catch {
            throw HDF5Error(file: path, path: "", message: error.reason)
        }
        return try read(bytes: bytes, name: path, limits: limits)
    }

    /// Parses an HDF5 file image held in memory, in an isolated child process.
    public static func read(bytes: [UInt8], name: String, limits: HDF5Limits = .default) throws(HDF5Error) -> HDF5Snapshot {
        func fail(_ message: String, _ path: String = "") -> HDF5Error { HDF5Error(file: name, path: path, message: message) }
        if bytes.isEmpty { throw fail("not an HDF5 file: the file is empty (0 bytes)") }
        guard hasHDF5Signature(bytes) else {
            throw fail("not an HDF5 file: no HDF5 signature in its \(bytes.count) bytes")
        }
        guard bytes.count <= limits.maxFileBytes else {
            throw fail("the file has \(bytes.count) bytes; at most \(limits.maxFileBytes) are allowed")
        }
        var c = flexh5_limits()
        c.max_depth = UInt32(clamping: limits.maxDepth)
        c.max_objects = UInt32(clamping: limits.maxObjects)
        c.max_members = UInt32(clamping: limits.maxMembers)
        c.max_attributes = UInt32(clamping: limits.maxAttributes)
        c.max_name_bytes = UInt32(clamping: limits.maxNameBytes)
        c.max_rank = UInt32(clamping: min(limits.maxRank, 32))
        c.max_dataset_elements = UInt64(clamping: limits.maxDatasetElements)
        c.max_total_elements = UInt64(clamping: limits.maxTotalElements)
        c.max_string_bytes = UInt64(clamping: limits.maxStringBytes)
        // Values are sent as 4 or 8 bytes each, plus names, attributes and framing.
        c.max_output_bytes = UInt64(clamping: limits.maxTotalElements) * 8 + 64 << 20
        c.memory_bytes = UInt64(clamping: limits.memoryBytes)
        let seconds = limits.timeoutSeconds + Double(bytes.count) / 50e6
        c.timeout_ms = UInt32(clamping: Int((seconds * 1000).rounded(.up)))

        var out: UnsafeMutablePointer<UInt8>? = nil
        var outSize = 0
        var detail: Int32 = 0
        let rc = hdf5Lock.locked {
            bytes.withUnsafeBytes { flexh5_snapshot($0.baseAddress, $0.count, &c, &out, &outSize, &detail) }
        }
        defer { free(out) }
        switch Int(rc) {
        case Int(FLEXH5_OK): break
        case Int(FLEXH5_CRASHED):
            throw fail("damaged or crafted HDF5 file: the HDF5 library crashed reading it (\(signalName(detail))); nothing from it was used")
        case Int(FLEXH5_TIMED_OUT):
            throw fail("damaged or crafted HDF5 file: the HDF5 library did not finish reading it within \(Int(seconds.rounded(.up))) s; nothing from it was used")
        case Int(FLEXH5_EXITED):
            throw fail("damaged or crafted HDF5 file: the HDF5 reader stopped (exit status \(detail)), e.g. over its memory limit of \(limits.memoryBytes >> 20) MiB; nothing from it was used")
        case Int(FLEXH5_TOO_LARGE):
            throw fail("the file holds more data than allowed (\(c.max_output_bytes) bytes)")
        default:
            throw fail("cannot start the isolated HDF5 reader: \(String(cString: strerror(detail)))")
        }
        let stream = UnsafeBufferPointer(start: out, count: outSize)
        var parser = SnapshotParser(stream: stream, file: name)
        return try parser.parse()
    }
}

/// Whether `bytes` hold the HDF5 signature at offset 0 or at a user-block offset (512, 1024, 2048, …).
public func hasHDF5Signature(_ bytes: [UInt8]) -> Bool {
    let signature: [UInt8] = [0x89, 0x48, 0x44, 0x46, 0x0D, 0x0A, 0x1A, 0x0A]
    var offset = 0
    while offset + 8 <= bytes.count {
        if bytes[offset..<(offset + 8)].elementsEqual(signature) { return true }
        offset = offset == 0 ? 512 : offset * 2
    }
    return false
}

func signalName(_ s: Int32) -> String {
    switch s {
    case SIGSEGV: "SIGSEGV"
    case SIGBUS: "SIGBUS"
    case SIGABRT: "SIGABRT"
    case SIGILL: "SIGILL"
    case SIGFPE: "SIGFPE"
    case SIGTRAP: "SIGTRAP"
    default: "signal \(s)"
    }
}

// MARK: The tree

/// A dataset as read: its stored type and shape, and its values when they are floats or integers.
public struct HDF5SnapshotDataset: Sendable {
    public let shape: [Int]
    public let type: HDF5StoredType
    enum Values: Sendable { case none, float32([Float]), float64([Double]), int64([Int64]) }
    let values: Values
}

/// A group of an `HDF5Snapshot`, read like an `HDF5Group` (the same methods, never touching libhdf5).
public final class HDF5SnapshotGroup: @unchecked Sendable {
    /// The file's path.
    public let file: String
    /// Absolute HDF5 path, `/` for the root.
    public let path: String
    /// Members in name order.
    fileprivate(set) var memberList: [(name: String, kind: HDF5ObjectKind)] = []
    fileprivate(set) var groups: [String: HDF5SnapshotGroup] = [:]
    fileprivate(set) var datasets: [String: HDF5SnapshotDataset] = [:]
    /// Attributes in name order.
    fileprivate(set) var attributeList: [(name: String, value: HDF5AttributeValue)] = []

    init(file: String, path: String) {
        self.file = file
        self.path = path
    }

    /// The absolute path of a member.
    public func childPath(_ name: String) -> String { path == "/" ? "/" + name : path + "/" + name }

    func missing(_ name: String, _ what: String) -> HDF5Error {
        HDF5Error(file: file, path: childPath(name), message: "cannot open \(what)", detail: "no \(what) named '\(name)'")
    }

    /// Names and kinds of the members, in name order.
    public func members() throws(HDF5Error) -> [(name: String, kind: HDF5ObjectKind)] { memberList }

    /// Whether a member named `name` exists.
    public func contains(_ name: String) throws(HDF5Error) -> Bool { memberList.contains { $0.name == name } }

    /// A member group.
    public func group(_ name: String) throws(HDF5Error) -> HDF5SnapshotGroup {
        guard let g = groups[name] else { throw missing(name, "group") }
        return g
    }

    /// Names of the attributes, in name order.
    public func attributeNames() throws(HDF5Error) -> [String] { attributeList.map(\.name) }

    /// An attribute's value; nil if absent (see `HDF5Group.attribute(_:)`).
    public func attribute(_ name: String) throws(HDF5Error) -> HDF5AttributeValue? {
        attributeList.first { $0.name == name }?.value
    }

    /// A member dataset.
    public func dataset(_ name: String) throws(HDF5Error) -> HDF5SnapshotDataset {
        guard let d = datasets[name] else { throw missing(name, "dataset") }
        return d
    }

    /// Shape and stored type of a member dataset.
    public func datasetInfo(_ name: String) throws(HDF5Error) -> (shape: [Int], type: HDF5StoredType) {
        let d = try dataset(name)
        return (d.shape, d.type)
    }

    /// A float dataset as float32 (float16 and float32 exactly; float64 rounded to nearest).
    public func readFloats(_ name: String) throws(HDF5Error) -> HDF5FloatArray {
        let d = try dataset(name)
        switch d.values {
        case let .float32(v): return HDF5FloatArray(shape: d.shape, values: v, storedType: d.type)
        case let .float64(v): return HDF5FloatArray(shape: d.shape, values: v.map { Float($0) }, storedType: d.type)
        default:
            throw HDF5Error(file: file, path: childPath(name), message: "expected a float dataset, found \(d.type)")
        }
    }

    /// A float dataset as float64.
    public func readDoubles(_ name: String) throws(HDF5Error) -> (shape: [Int], values: [Double], storedType: HDF5StoredType) {
        let d = try dataset(name)
        switch d.values {
        case let .float32(v): return (d.shape, v.map(Double.init), d.type)
        case let .float64(v): return (d.shape, v, d.type)
        default:
            throw HDF5Error(file: file, path: childPath(name), message: "expected a float dataset, found \(d.type)")
        }
    }

    /// An integer dataset as int64.
    public func readInt64s(_ name: String) throws(HDF5Error) -> (shape: [Int], values: [Int64]) {
        let d = try dataset(name)
        guard case let .int64(v) = d.values else {
            throw HDF5Error(file: file, path: childPath(name), message: "expected an integer dataset, found \(d.type)")
        }
        return (d.shape, v)
    }
}

// MARK: Parsing the child's stream

/// Parses the record stream of snapshot.c. The stream comes from our own child, but a memory-corruption bug
/// in libhdf5 could have garbled it, so every length is checked before it is used.
struct SnapshotParser {
    let stream: UnsafeBufferPointer<UInt8>
    let file: String
    var pos = 0

    init(stream: UnsafeBufferPointer<UInt8>, file: String) {
        self.stream = stream
        self.file = file
    }

    func malformed(_ what: String) -> HDF5Error {
        HDF5Error(file: file, path: "", message: "damaged or crafted HDF5 file: the isolated reader returned malformed data (\(what))")
    }

    mutating func bytes(_ n: Int) throws(HDF5Error) -> UnsafeBufferPointer<UInt8> {
        guard n >= 0, n <= stream.count - pos else { throw malformed("truncated at byte \(pos)") }
        defer { pos += n }
        return UnsafeBufferPointer(rebasing: stream[pos..<(pos + n)])
    }

    mutating func u8() throws(HDF5Error) -> UInt8 { try bytes(1)[0] }

    mutating func u32() throws(HDF5Error) -> Int {
        let b = try bytes(4)
        return Int(UInt32(b[0]) | UInt32(b[1]) << 8 | UInt32(b[2]) << 16 | UInt32(b[3]) << 24)
    }

    mutating func u64() throws(HDF5Error) -> UInt64 {
        let b = try bytes(8)
        var v: UInt64 = 0
        for i in (0..<8).reversed() { v = v << 8 | UInt64(b[i]) }
        return v
    }

    mutating func string() throws(HDF5Error) -> String {
        let n = try u32()
        return String(decoding: try bytes(n), as: UTF8.self)
    }

    mutating func type() throws(HDF5Error) -> HDF5StoredType {
        let cls = try u8()
        let size = try u32()
        let signed = try u8() != 0
        let desc = try string()
        switch cls {
        case 1: return .float(bits: 8 * size)
        case 2: return .integer(bits: 8 * size, signed: signed)
        case 3: return .string(variableLength: true)
        case 4: return .string(variableLength: false)
        default: return .other(desc)
        }
    }

    mutating func shape() throws(HDF5Error) -> [Int] {
        let rank = Int(try u8())
        var dims: [Int] = []
        for _ in 0..<rank {
            let d = try u64()
            guard d <= UInt64(Int32.max) else { throw malformed("dimension \(d)") }
            dims.append(Int(d))
        }
        return dims
    }

    mutating func values<T>(_: T.Type, count: Int) throws(HDF5Error) -> [T] {
        let (bytesNeeded, overflow) = count.multipliedReportingOverflow(by: MemoryLayout<T>.size)
        guard !overflow else { throw malformed("value count \(count)") }
        let raw = try bytes(bytesNeeded)
        return [T](unsafeUninitializedCapacity: count) { buffer, initialized in
            UnsafeMutableRawBufferPointer(buffer).copyMemory(from: UnsafeRawBufferPointer(raw))
            initialized = count
        }
    }

    /// The parent path and the last name of an absolute path.
    func split(_ path: String) -> (parent: String, name: String)? {
        guard path.hasPrefix("/"), path != "/", let slash = path.lastIndex(of: "/") else { return nil }
        let parent = slash == path.startIndex ? "/" : String(path[..<slash])
        return (parent, String(path[path.index(after: slash)...]))
    }

    mutating func parse() throws(HDF5Error) -> HDF5Snapshot {
        guard stream.count >= 8, try bytes(4).elementsEqual("FH5S".utf8), try u32() == 2 else {
            throw malformed("no stream header")
        }
        var groups: [String: HDF5SnapshotGroup] = [:]
        var datasetParents: [String: HDF5SnapshotGroup] = [:]
        var datasetAttributes: Set<String> = []
        var awaitingValues: [String: (elem: UInt8, count: Int)] = [:]
        var root: HDF5SnapshotGroup?
        while true {
            let kind = try u8()
            switch kind {
            case UInt8(ascii: "G"):
                let path = try string()
                let g = HDF5SnapshotGroup(file: file, path: path)
                if path == "/" {
                    guard root == nil else { throw malformed("two roots") }
                    root = g
                } else {
                    guard let (parentPath, name) = split(path), let parent = groups[parentPath] else {
                        throw malformed("group \(path) before its parent")
                    }
                    parent.memberList.append((name, .group))
                    parent.groups[name] = g
                }
                groups[path] = g
            case UInt8(ascii: "D"):
                let path = try string()
                guard let (parentPath, name) = split(path), let parent = groups[parentPath] else {
                    throw malformed("dataset \(path) before its group")
                }
                let type = try type()
                let shape = try shape()
                let elem = try u8()
                if elem != 0 {
                    let count64 = try u64()
                    guard count64 <= UInt64(Int32.max), Int(count64) == shape.reduce(1, *) else {
                        throw malformed("\(count64) values for shape \(shape)")
                    }
                    guard [4, 8, UInt8(ascii: "i")].contains(elem) else { throw malformed("value kind \(elem)") }
                    awaitingValues[path] = (elem, Int(count64))
                }
                guard parent.datasets[name] == nil else { throw malformed("dataset \(path) twice") }
                parent.memberList.append((name, .dataset))
                parent.datasets[name] = HDF5SnapshotDataset(shape: shape, type: type, values: .none)
                datasetParents[path] = parent
            case UInt8(ascii: "V"):
                let path = try string()
                let elem = try u8()
                let count64 = try u64()
                guard let (parentPath, name) = split(path), let parent = datasetParents[path],
                      parent.path == parentPath, let expected = awaitingValues.removeValue(forKey: path),
                      expected.elem == elem, UInt64(expected.count) == count64, let d = parent.datasets[name] else {
                    throw malformed("values for \(path) that were not announced")
                }
                let values: HDF5SnapshotDataset.Values
                switch elem {
                case 4: values = .float32(try self.values(Float.self, count: expected.count))
                case 8: values = .float64(try self.values(Double.self, count: expected.count))
                default: values = .int64(try self.values(Int64.self, count: expected.count))
                }
                parent.datasets[name] = HDF5SnapshotDataset(shape: d.shape, type: d.type, values: values)
            case UInt8(ascii: "A"):
                let path = try string()
                let name = try string()
                let type = try type()
                let shape = try shape()
                let valueKind = try u8()
                let value: HDF5AttributeValue
                switch valueKind {
                case 0: value = .unsupported(type: type, shape: shape)
                case 1: value = .int64(Int64(bitPattern: try u64()))
                case 2: value = .double(Double(bitPattern: try u64()))
                case 3: value = .string(try string())
                default: throw malformed("attribute value kind \(valueKind)")
                }
                if let g = groups[path] {
                    g.attributeList.append((name, value))
                } else if datasetParents[path] != nil {
                    // Attributes of datasets are checked by the walk but are not part of any format flexctl reads.
                    datasetAttributes.insert(path)
                } else {
                    throw malformed("attribute of unknown object \(path)")
                }
            case UInt8(ascii: "E"):
                let path = try string()
                let message = try string()
                throw HDF5Error(file: file, path: path, message: message)
            case UInt8(ascii: "Z"):
                guard let root else { throw malformed("no root group") }
                guard awaitingValues.isEmpty else { throw malformed("no values for \(awaitingValues.keys.sorted()[0])") }
                guard pos == stream.count else { throw malformed("data after the end record") }
                return HDF5Snapshot(file: file, root: root)
            default:
                throw malformed("record kind \(kind)")
            }
        }
    }
}
