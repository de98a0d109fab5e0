// A small Swift wrapper over the HDF5 C library: files, groups, float datasets of any rank, scalar attributes.
// Internal to flexctl; no stable API.
//
// - Every call into HDF5 holds one process-wide recursive lock (Debian's libhdf5 is not built thread-safe).
// - HDF5's automatic error printing is turned off; a failing call becomes an `HDF5Error` naming the file,
//   the HDF5 path and HDF5's own innermost description.
// - Strings are written as variable-length UTF-8 (h5py returns `str`); both variable-length and fixed-length
//   strings are read.

import CHDF5

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

// MARK: Errors

/// A failed HDF5 operation.
public struct HDF5Error: Error, CustomStringConvertible, Equatable, Sendable {
    /// The file on disk.
    public var file: String
    /// The HDF5 path of the object concerned (`/layers/0/weight`), `/` for the root, empty for the file itself.
    public var path: String
    /// What failed, e.g. `cannot open dataset`.
    public var message: String
    /// HDF5's innermost error description, e.g. `truncated file: eof = 800, ...` (may be empty).
    public var detail: String

    public init(file: String, path: String, message: String, detail: String = "") {
        self.file = file
        self.path = path
        self.message = message
        self.detail = detail
    }

    public var description: String {
        var s = file
        if !path.isEmpty { s += ": \(path)" }
        s += ": \(message)"
        if !detail.isEmpty { s += " (HDF5: \(detail))" }
        return s
    }
}

// MARK: Lock

/// A process-wide recursive mutex around every HDF5 call.
final class HDF5Lock: @unchecked Sendable {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>

    init() {
        mutex = .allocate(capacity: 1)
        var attr = pthread_mutexattr_t()
        pthread_mutexattr_init(&attr)
        pthread_mutexattr_settype(&attr, Int32(PTHREAD_MUTEX_RECURSIVE))
        pthread_mutex_init(mutex, &attr)
        pthread_mutexattr_destroy(&attr)
    }

    func locked<R, E: Error>(_ body: () throws(E) -> R) throws(E) -> R {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        _ = chdf5_silence_errors()
        return try body()
    }
}

let hdf5Lock = HDF5Lock()

/// Takes HDF5's innermost error description off the error stack (and clears it).
func takeHDF5Error() -> String {
    var buffer = [CChar](repeating: 0, count: 512)
    chdf5_take_error(&buffer, buffer.count)
    return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

/// Whether the linked libhdf5 was built thread-safe (FlexHDF5 serialises its calls either way).
public var hdf5IsThreadSafe: Bool { hdf5Lock.locked { chdf5_is_threadsafe() != 0 } }

/// The linked libhdf5's version, e.g. `1.10.8`.
public var hdf5LibraryVersion: String {
    hdf5Lock.locked {
        var a: UInt32 = 0, b: UInt32 = 0, c: UInt32 = 0
        _ = H5get_libversion(&a, &b, &c)
        return "\(a).\(b).\(c)"
    }
}

// MARK: Types

/// The element type of a dataset or attribute as stored in the file.
public enum HDF5StoredType: Equatable, Sendable, CustomStringConvertible {
    /// IEEE float of 16, 32 or 64 bits (or another size for unusual files).
    case float(bits: Int)
    case integer(bits: Int, signed: Bool)
    case string(variableLength: Bool)
    /// Anything else (compound, enum, array, ...), described by its HDF5 class.
    case other(String)

    public var description: String {
        switch self {
        case let .float(bits): "float\(bits)"
        case let .integer(bits, signed): "\(signed ? "int" : "uint")\(bits)"
        case let .string(v): v ? "string" : "fixed-length string"
        case let .other(s): s
        }
    }

    public var isFloat: Bool { if case .float = self { true } else { false } }
}

/// How float datasets are stored.
public enum HDF5FloatStorage: String, Sendable, CaseIterable {
    /// IEEE binary16 (h5py's `float16`).
    case float16
    /// IEEE binary32, `H5T_IEEE_F32LE`.
    case float32
    /// IEEE binary64, `H5T_IEEE_F64LE`.
    case float64
}

/// A scalar attribute value, or the description of one this wrapper does not read.
public enum HDF5AttributeValue: Equatable, Sendable, CustomStringConvertible {
    case int64(Int64)
    case double(Double)
    case string(String)
    /// An attribute of another type or shape (e.g. an array); `type` and `shape` say what it is.
    case unsupported(type: HDF5StoredType, shape: [Int])

    /// What kind of value this is: `int64`, `float64`, `string` or e.g. `int32 array [3]`.
    public var typeDescription: String {
        switch self {
        case .int64: "int64"
        case .double: "float64"
        case .string: "string"
        case let .unsupported(type, shape): shape.isEmpty ? "\(type)" : "\(type) array \(shapeText(shape))"
        }
    }

    public var description: String {
        switch self {
        case let .int64(v): "\(v)"
        case let .double(v): "\(v)"
        case let .string(s): "\"\(s)\""
        case .unsupported: typeDescription
        }
    }
}

/// A float dataset read into memory as `Float`.
public struct HDF5FloatArray: Sendable, Equatable {
    public var shape: [Int]
    public var values: [Float]
    /// The type in the file (converted to float32 on read).
    public var storedType: HDF5StoredType
}

/// What a group member is.
public enum HDF5ObjectKind: String, Sendable, Equatable {
    case group, dataset, datatype, other
}

func shapeText(_ shape: [Int]) -> String { "[" + shape.map(String.init).joined(separator: ", ") + "]" }

// MARK: File

/// An open HDF5 file. Closed by `close()` or when released; closing closes every object opened in it.
public final class HDF5File: @unchecked Sendable {
    /// The path on disk.
    public let path: String
    let id: hid_t
    private(set) var isOpen = true

    private init(path: String, id: hid_t) {
        self.path = path
        self.id = id
    }

    /// Whether `path` starts with (or holds at a user-block offset) the HDF5 signature. False for a missing
    /// or unreadable file.
    public static func hasSignature(_ path: String) -> Bool {
        hdf5Lock.locked {
            let r = H5Fis_hdf5(path)
            _ = takeHDF5Error()
            return r > 0
        }
    }

    /// Opens an existing file, read-only unless `writable`. Only for files this process wrote itself (tests,
    /// tools): libhdf5 must never parse a file that may come from someone else in flexctl's own process —
    /// read those with `HDF5Snapshot.read(_:limits:)`.
    public static func open(_ path: String, writable: Bool = false) throws(HDF5Error) -> HDF5File {
        try hdf5Lock.locked { () throws(HDF5Error) -> HDF5File in
            let fapl = chdf5_fapl_strong_close()
            defer { if fapl >= 0 { H5Pclose(fapl) } }
            let id = H5Fopen(path, writable ? chdf5_acc_rdwr() : chdf5_acc_rdonly(), fapl)
            guard id >= 0 else {
                throw HDF5Error(file: path, path: "", message: "cannot open as an HDF5 file", detail: takeHDF5Error())
            }
            return HDF5File(path: path, id: id)
        }
    }

    /// Creates a new file; fails if it exists unless `overwrite`.
    public static func create(_ path: String, overwrite: Bool = false) throws(HDF5Error) -> HDF5File {
        try hdf5Lock.locked { () throws(HDF5Error) -> HDF5File in
            let fapl = chdf5_fapl_strong_close()
            defer { if fapl >= 0 { H5Pclose(fapl) } }
            let id = H5Fcreate(path, overwrite ? chdf5_acc_trunc() : chdf5_acc_excl(), chdf5_p_default(), fapl)
            guard id >= 0 else {
                throw HDF5Error(file: path, path: "", message: "cannot create the HDF5 file", detail: takeHDF5Error())
            }
            return HDF5File(path: path, id: id)
        }
    }

    /// Creates a new file in memory (nothing touches the disk); `name` only labels errors. Take its bytes
    /// with `image()` and write them with an atomic writer.
    public static func createInMemory(name: String) throws(HDF5Error) -> HDF5File {
        try hdf5Lock.locked { () throws(HDF5Error) -> HDF5File in
            let fapl = chdf5_fapl_memory()
            defer { if fapl >= 0 { H5Pclose(fapl) } }
            // The core driver still needs a unique name among open files.
            let unique = "flexctl-memory-\(getpid())-\(UInt64.random(in: 0 ... .max))"
            let id = H5Fcreate(unique, chdf5_acc_trunc(), chdf5_p_default(), fapl)
            guard id >= 0 else {
                throw HDF5Error(file: name, path: "", message: "cannot create the HDF5 file in memory", detail: takeHDF5Error())
            }
            return HDF5File(path: name, id: id)
        }
    }

    /// The complete file image of an open file (for files made with `createInMemory`).
    public func image() throws(HDF5Error) -> [UInt8] {
        try hdf5Lock.locked { () throws(HDF5Error) -> [UInt8] in
            try checkOpen("")
            guard H5Fflush(id, H5F_SCOPE_GLOBAL) >= 0 else {
                throw HDF5Error(file: path, path: "", message: "cannot flush the file", detail: takeHDF5Error())
            }
            let size = H5Fget_file_image(id, nil, 0)
            guard size > 0 else {
                throw HDF5Error(file: path, path: "", message: "cannot take the file image", detail: takeHDF5Error())
            }
            var bytes = [UInt8](repeating: 0, count: size)
            let got = bytes.withUnsafeMutableBytes { H5Fget_file_image(id, $0.baseAddress, $0.count) }
            guard got == size else {
                throw HDF5Error(file: path, path: "", message: "cannot take the file image", detail: takeHDF5Error())
            }
            return bytes
        }
    }

    /// Flushes and closes the file (and every object still open in it).
    public func close() throws(HDF5Error) {
        try hdf5Lock.locked { () throws(HDF5Error) in
            guard isOpen else { return }
            isOpen = false
            guard H5Fclose(id) >= 0 else {
                throw HDF5Error(file: path, path: "", message: "cannot close the file", detail: takeHDF5Error())
            }
        }
    }

    deinit {
        if isOpen { hdf5Lock.locked { _ = H5Fclose(id); _ = takeHDF5Error() } }
    }

    /// The root group `/`.
    public func root() throws(HDF5Error) -> HDF5Group { try group("/") }

    /// Opens a group by absolute path.
    public func group(_ absolutePath: String) throws(HDF5Error) -> HDF5Group {
        try hdf5Lock.locked { () throws(HDF5Error) -> HDF5Group in
            try checkOpen(absolutePath)
            let g = H5Gopen2(id, absolutePath, chdf5_p_default())
            guard g >= 0 else {
                throw HDF5Error(file: path, path: absolutePath, message: "cannot open group", detail: takeHDF5Error())
            }
            return HDF5Group(file: self, path: absolutePath, id: g)
        }
    }

    func checkOpen(_ objectPath: String) throws(HDF5Error) {
        guard isOpen else { throw HDF5Error(file: path, path: objectPath, message: "the file is closed") }
    }
}

// MARK: Group

/// An open group (the root included). Attributes, member listing, float datasets.
public final class HDF5Group: @unchecked Sendable {
    public let file: HDF5File
    /// Absolute HDF5 path, `/` for the root.
    public let path: String
    let id: hid_t

    init(file: HDF5File, path: String, id: hid_t) {
        self.file = file
        self.path = path
        self.id = id
    }

    deinit {
        let file = self.file, id = self.id
        hdf5Lock.locked { if file.isOpen { _ = H5Gclose(id); _ = takeHDF5Error() } }
    }

    /// The absolute path of a member.
    public func childPath(_ name: String) -> String { path == "/" ? "/" + name : path + "/" + name }

    func error(_ name: String?, _ message: String) -> HDF5Error {
        HDF5Error(file: file.path, path: name.map(childPath) ?? path, message: message, detail: takeHDF5Error())
    }

    func locked<R>(_ body: () throws(HDF5Error) -> R) throws(HDF5Error) -> R {
        try hdf5Lock.locked { () throws(HDF5Error) -> R in
            try file.checkOpen(path)
            return try body()
        }
    }

    // MARK: Members

    /// Names and kinds of the members, in name order.
    public func members() throws(HDF5Error) -> [(name: String, kind: HDF5ObjectKind)] {
        try locked { () throws(HDF5Error) -> [(name: String, kind: HDF5ObjectKind)] in
            final class Box { var names: [String] = [] }
            let box = Box()
            var idx: hsize_t = 0
            let rc = withUnsafeMutablePointer(to: &idx) { idxPtr in
                H5Literate(id, H5_INDEX_NAME, H5_ITER_INC, idxPtr, { _, name, _, data in
                    let box = Unmanaged<Box>.fromOpaque(data!).takeUnretainedValue()
                    box.names.append(String(cString: name!))
                    return 0
                }, Unmanaged.passUnretained(box).toOpaque())
            }
            guard rc >= 0 else { throw error(nil, "cannot list the group's members") }
            var out: [(name: String, kind: HDF5ObjectKind)] = []
            for name in box.names {
                let o = H5Oopen(id, name, chdf5_p_default())
                guard o >= 0 else {
                    _ = takeHDF5Error()
                    out.append((name, .other))
                    continue
                }
                let kind: HDF5ObjectKind = switch H5Iget_type(o) {
                case H5I_GROUP: .group
                case H5I_DATASET: .dataset
                case H5I_DATATYPE: .datatype
                default: .other
                }
                H5Oclose(o)
                out.append((name, kind))
            }
            return out
        }
    }

    /// Whether a member (link) named `name` exists.
    public func contains(_ name: String) throws(HDF5Error) -> Bool {
        try locked { () throws(HDF5Error) -> Bool in
            let r = H5Lexists(id, name, chdf5_p_default())
            guard r >= 0 else { throw error(name, "cannot look up member") }
            return r > 0
        }
    }

    /// Opens a member group.
    public func group(_ name: String) throws(HDF5Error) -> HDF5Group {
        try locked { () throws(HDF5Error) -> HDF5Group in
            let g = H5Gopen2(id, name, chdf5_p_default())
            guard g >= 0 else { throw error(name, "cannot open group") }
            return HDF5Group(file: file, path: childPath(name), id: g)
        }
    }

    /// Creates a member group.
    public func createGroup(_ name: String) throws(HDF5Error) -> HDF5Group {
        try locked { () throws(HDF5Error) -> HDF5Group in
            let g = H5Gcreate2(id, name, chdf5_p_default(), chdf5_p_default(), chdf5_p_default())
            guard g >= 0 else { throw error(name, "cannot create group") }
            return HDF5Group(file: file, path: childPath(name), id: g)
        }
    }

    /// Removes a member (its link; the space is not reclaimed).
    public func delete(_ name: String) throws(HDF5Error) {
        try locked { () throws(HDF5Error) in
            guard H5Ldelete(id, name, chdf5_p_default()) >= 0 else { throw error(name, "cannot delete member") }
        }
    }

    // MARK: Attributes

    /// Names of the group's attributes, in name order.
    public func attributeNames() throws(HDF5Error) -> [String] {
        try locked { () throws(HDF5Error) -> [String] in
            final class Box { var names: [String] = [] }
            let box = Box()
            var idx: hsize_t = 0
            let rc = withUnsafeMutablePointer(to: &idx) { idxPtr in
                H5Aiterate2(id, H5_INDEX_NAME, H5_ITER_INC, idxPtr, { _, name, _, data in
                    let box = Unmanaged<Box>.fromOpaque(data!).takeUnretainedValue()
                    box.names.append(String(cString: name!))
                    return 0
                }, Unmanaged.passUnretained(box).toOpaque())
            }
            guard rc >= 0 else { throw error(nil, "cannot list the attributes") }
            return box.names
        }
    }

    /// Reads an attribute; nil if absent. Scalars (or single-element arrays) of integer, float or string
    /// type are returned as values; anything else as `.unsupported` with its type and shape.
    public func attribute(_ name: String) throws(HDF5Error) -> HDF5AttributeValue? {
        try locked { () throws(HDF5Error) -> HDF5AttributeValue? in
            let exists = H5Aexists(id, name)
            guard exists >= 0 else { throw error(nil, "cannot look up attribute '\(name)'") }
            if exists == 0 { return nil }
            let a = H5Aopen(id, name, chdf5_p_default())
            guard a >= 0 else { throw error(nil, "cannot open attribute '\(name)'") }
            defer { H5Aclose(a) }
            let ftype = H5Aget_type(a)
            guard ftype >= 0 else { throw error(nil, "cannot read the type of attribute '\(name)'") }
            defer { H5Tclose(ftype) }
            let space = H5Aget_space(a)
            guard space >= 0 else { throw error(nil, "cannot read the shape of attribute '\(name)'") }
            defer { H5Sclose(space) }
            let shape = try spaceShape(space, name)
            let type = storedType(ftype)
            let count = shape.reduce(1, *)
            guard count == 1, shape.count <= 1 else { return .unsupported(type: type, shape: shape) }
            switch type {
            case .integer:
                var v: Int64 = 0
                guard H5Aread(a, chdf5_native_int64(), &v) >= 0 else { throw error(nil, "cannot read attribute '\(name)'") }
                return .int64(v)
            case .float:
                var v: Double = 0
                guard H5Aread(a, chdf5_native_double(), &v) >= 0 else { throw error(nil, "cannot read attribute '\(name)'") }
                return .double(v)
            case .string(variableLength: true):
                let mtype = H5Tcopy(chdf5_c_s1())
                defer { H5Tclose(mtype) }
                H5Tset_size(mtype, chdf5_variable())
                H5Tset_cset(mtype, H5Tget_cset(ftype))
                var ptr: UnsafeMutablePointer<CChar>? = nil
                guard H5Aread(a, mtype, &ptr) >= 0 else { throw error(nil, "cannot read string attribute '\(name)'") }
                let s = ptr.map { String(cString: $0) } ?? ""
                _ = chdf5_reclaim_strings(mtype, space, &ptr)
                return .string(s)
            case .string(variableLength: false):
                let size = H5Tget_size(ftype)
                let mtype = H5Tcopy(chdf5_c_s1())
                defer { H5Tclose(mtype) }
                H5Tset_size(mtype, size)
                H5Tset_cset(mtype, H5Tget_cset(ftype))
                H5Tset_strpad(mtype, H5T_STR_NULLPAD)
                var buffer = [UInt8](repeating: 0, count: size + 1)
                guard H5Aread(a, mtype, &buffer) >= 0 else { throw error(nil, "cannot read string attribute '\(name)'") }
                var bytes = Array(buffer.prefix(size).prefix { $0 != 0 })
                if H5Tget_strpad(ftype) == H5T_STR_SPACEPAD { while bytes.last == 0x20 { bytes.removeLast() } }
                return .string(String(decoding: bytes, as: UTF8.self))
            default:
                return .unsupported(type: type, shape: shape)
            }
        }
    }

    /// Writes (or replaces) a scalar attribute: int64, float64 or variable-length UTF-8 string.
    public func setAttribute(_ name: String, _ value: HDF5AttributeValue) throws(HDF5Error) {
        try locked { () throws(HDF5Error) in
            if H5Aexists(id, name) > 0 {
                guard H5Adelete(id, name) >= 0 else { throw error(nil, "cannot replace attribute '\(name)'") }
            }
            _ = takeHDF5Error()
            let space = H5Screate(H5S_SCALAR)
            guard space >= 0 else { throw error(nil, "cannot create a scalar dataspace") }
            defer { H5Sclose(space) }
            func create(_ ftype: hid_t) throws(HDF5Error) -> hid_t {
                let a = H5Acreate2(id, name, ftype, space, chdf5_p_default(), chdf5_p_default())
                guard a >= 0 else { throw error(nil, "cannot create attribute '\(name)'") }
                return a
            }
            var rc: herr_t
            switch value {
            case var .int64(v):
                let a = try create(chdf5_std_i64le())
                defer { H5Aclose(a) }
                rc = H5Awrite(a, chdf5_native_int64(), &v)
            case var .double(v):
                let a = try create(chdf5_ieee_f64le())
                defer { H5Aclose(a) }
                rc = H5Awrite(a, chdf5_native_double(), &v)
            case let .string(s):
                let t = H5Tcopy(chdf5_c_s1())
                defer { H5Tclose(t) }
                H5Tset_size(t, chdf5_variable())
                H5Tset_cset(t, H5T_CSET_UTF8)
                let a = try create(t)
                defer { H5Aclose(a) }
                rc = s.withCString { cs in
                    var p: UnsafePointer<CChar>? = cs
                    return H5Awrite(a, t, &p)
                }
            case .unsupported:
                throw HDF5Error(file: file.path, path: path, message: "cannot write an attribute of type \(value.typeDescription)")
            }
            guard rc >= 0 else { throw error(nil, "cannot write attribute '\(name)'") }
        }
    }

    /// Removes an attribute.
    public func deleteAttribute(_ name: String) throws(HDF5Error) {
        try locked { () throws(HDF5Error) in
            guard H5Adelete(id, name) >= 0 else { throw error(nil, "cannot delete attribute '\(name)'") }
        }
    }

    // MARK: Datasets

    /// Shape and stored type of a member dataset.
    public func datasetInfo(_ name: String) throws(HDF5Error) -> (shape: [Int], type: HDF5StoredType) {
        try locked { () throws(HDF5Error) -> (shape: [Int], type: HDF5StoredType) in
            let d = try openDataset(name)
            defer { H5Dclose(d) }
            return try info(d, name)
        }
    }

    /// Reads a float dataset (float16, float32 or float64; HDF5 converts to float32).
    public func readFloats(_ name: String) throws(HDF5Error) -> HDF5FloatArray {
        try locked { () throws(HDF5Error) -> HDF5FloatArray in
            let d = try openDataset(name)
            defer { H5Dclose(d) }
            let (shape, type) = try info(d, name)
            guard type.isFloat else {
                throw HDF5Error(file: file.path, path: childPath(name), message: "expected a float dataset, found \(type)")
            }
            let n = shape.reduce(1, *)
            var values = [Float](repeating: 0, count: n)
            if n > 0 {
                let rc = values.withUnsafeMutableBytes { H5Dread(d, chdf5_native_float(), chdf5_s_all(), chdf5_s_all(), chdf5_p_default(), $0.baseAddress) }
                guard rc >= 0 else { throw error(name, "cannot read dataset") }
            }
            return HDF5FloatArray(shape: shape, values: values, storedType: type)
        }
    }

    /// Reads a float dataset as float64.
    public func readDoubles(_ name: String) throws(HDF5Error) -> (shape: [Int], values: [Double], storedType: HDF5StoredType) {
        try locked { () throws(HDF5Error) -> (shape: [Int], values: [Double], storedType: HDF5StoredType) in
            let d = try openDataset(name)
            defer { H5Dclose(d) }
            let (shape, type) = try info(d, name)
            guard type.isFloat else {
                throw HDF5Error(file: file.path, path: childPath(name), message: "expected a float dataset, found \(type)")
            }
            let n = shape.reduce(1, *)
            var values = [Double](repeating: 0, count: n)
            if n > 0 {
                let rc = values.withUnsafeMutableBytes { H5Dread(d, chdf5_native_double(), chdf5_s_all(), chdf5_s_all(), chdf5_p_default(), $0.baseAddress) }
                guard rc >= 0 else { throw error(name, "cannot read dataset") }
            }
            return (shape, values, type)
        }
    }

    /// Writes a new float dataset `values` (row-major) of `shape`, stored as `storage`; float16 values are
    /// rounded to nearest-even here (so the stored values are exactly `Float(Float16(x))`). `compress` makes
    /// it chunked (one chunk) with the shuffle filter and gzip level 4 (not for empty or rank-0 datasets).
    public func writeFloats(_ name: String, shape: [Int], values: [Float], storage: HDF5FloatStorage = .float32,
                            compress: Bool = false) throws(HDF5Error) {
        precondition(shape.reduce(1, *) == values.count, "writeFloats: shape \(shape) for \(values.count) values")
        try locked { () throws(HDF5Error) in
            switch storage {
            case .float32:
                try write(name, shape: shape, fileType: chdf5_ieee_f32le(), memType: chdf5_native_float(), compress: compress) { values.withUnsafeBytes { $0.baseAddress } }
            case .float64:
                let doubles = values.map(Double.init)
                try write(name, shape: shape, fileType: chdf5_ieee_f64le(), memType: chdf5_native_double(), compress: compress) { doubles.withUnsafeBytes { $0.baseAddress } }
            case .float16:
                let half = chdf5_ieee_f16le_create()
                guard half >= 0 else { throw error(name, "cannot create the float16 type") }
                defer { H5Tclose(half) }
                let bits = values.map { float16Bits($0) }
                try write(name, shape: shape, fileType: half, memType: half, compress: compress) { bits.withUnsafeBytes { $0.baseAddress } }
            }
        }
    }

    /// Writes a new float64 dataset.
    public func writeDoubles(_ name: String, shape: [Int], values: [Double], compress: Bool = false) throws(HDF5Error) {
        precondition(shape.reduce(1, *) == values.count, "writeDoubles: shape \(shape) for \(values.count) values")
        try locked { () throws(HDF5Error) in
            try write(name, shape: shape, fileType: chdf5_ieee_f64le(), memType: chdf5_native_double(), compress: compress) { values.withUnsafeBytes { $0.baseAddress } }
        }
    }

    /// Writes a new int64 dataset (for tools and tests).
    public func writeInt64s(_ name: String, shape: [Int], values: [Int64]) throws(HDF5Error) {
        precondition(shape.reduce(1, *) == values.count, "writeInt64s: shape \(shape) for \(values.count) values")
        try locked { () throws(HDF5Error) in
            try write(name, shape: shape, fileType: chdf5_std_i64le(), memType: chdf5_native_int64(), compress: false) { values.withUnsafeBytes { $0.baseAddress } }
        }
    }

    /// Writes a new int32 dataset (`H5T_STD_I32LE`; the learned codec's entropy-coding tables).
    public func writeInt32s(_ name: String, shape: [Int], values: [Int32]) throws(HDF5Error) {
        precondition(shape.reduce(1, *) == values.count, "writeInt32s: shape \(shape) for \(values.count) values")
        try locked { () throws(HDF5Error) in
            try write(name, shape: shape, fileType: chdf5_std_i32le(), memType: chdf5_native_int32(), compress: false) { values.withUnsafeBytes { $0.baseAddress } }
        }
    }

    /// The data pointer is taken inside `data` only for the duration of the write (the arrays outlive it).
    private func write(_ name: String, shape: [Int], fileType: hid_t, memType: hid_t, compress: Bool,
                       data: () -> UnsafeRawPointer?) throws(HDF5Error) {
        var dims = shape.map { hsize_t($0) }
        let space = shape.isEmpty ? H5Screate(H5S_SCALAR) : H5Screate_simple(Int32(shape.count), &dims, nil)
        guard space >= 0 else { throw error(name, "cannot create dataspace \(shapeText(shape))") }
        defer { H5Sclose(space) }
        let dcpl = H5Pcreate(chdf5_p_dataset_create())
        guard dcpl >= 0 else { throw error(name, "cannot create dataset properties") }
        defer { H5Pclose(dcpl) }
        if compress, !shape.isEmpty, shape.allSatisfy({ $0 > 0 }) {
            guard H5Pset_chunk(dcpl, Int32(shape.count), &dims) >= 0, H5Pset_shuffle(dcpl) >= 0,
                  H5Pset_deflate(dcpl, 4) >= 0 else { throw error(name, "cannot set up compression") }
        }
        let d = H5Dcreate2(id, name, fileType, space, chdf5_p_default(), dcpl, chdf5_p_default())
        guard d >= 0 else { throw error(name, "cannot create dataset") }
        defer { H5Dclose(d) }
        if shape.reduce(1, *) > 0 || shape.isEmpty {
            // The closure form keeps the pointer valid only inside it, so call H5Dwrite right away.
            let p = data()
            guard H5Dwrite(d, memType, chdf5_s_all(), chdf5_s_all(), chdf5_p_default(), p) >= 0 else {
                throw error(name, "cannot write dataset")
            }
        }
    }

    private func openDataset(_ name: String) throws(HDF5Error) -> hid_t {
        let d = H5Dopen2(id, name, chdf5_p_default())
        guard d >= 0 else { throw error(name, "cannot open dataset") }
        return d
    }

    private func info(_ d: hid_t, _ name: String) throws(HDF5Error) -> (shape: [Int], type: HDF5StoredType) {
        let t = H5Dget_type(d)
        guard t >= 0 else { throw error(name, "cannot read the dataset's type") }
        defer { H5Tclose(t) }
        let s = H5Dget_space(d)
        guard s >= 0 else { throw error(name, "cannot read the dataset's shape") }
        defer { H5Sclose(s) }
        return (try spaceShape(s, name), storedType(t))
    }

    private func spaceShape(_ space: hid_t, _ name: String) throws(HDF5Error) -> [Int] {
        let rank = H5Sget_simple_extent_ndims(space)
        guard rank >= 0 else { throw error(name, "cannot read the shape") }
        var dims = [hsize_t](repeating: 0, count: Int(rank))
        if rank > 0 { H5Sget_simple_extent_dims(space, &dims, nil) }
        return dims.map { Int($0) }
    }
}

/// Classifies an HDF5 datatype.
func storedType(_ t: hid_t) -> HDF5StoredType {
    let size = H5Tget_size(t)
    switch H5Tget_class(t) {
    case H5T_FLOAT: return .float(bits: 8 * size)
    case H5T_INTEGER: return .integer(bits: 8 * size, signed: H5Tget_sign(t) == H5T_SGN_2)
    case H5T_STRING: return .string(variableLength: H5Tis_variable_str(t) > 0)
    case H5T_COMPOUND: return .other("compound")
    case H5T_ENUM: return .other("enum")
    case H5T_ARRAY: return .other("array type")
    case H5T_VLEN: return .other("variable-length sequence")
    case H5T_OPAQUE: return .other("opaque")
    case H5T_BITFIELD: return .other("bitfield")
    case H5T_REFERENCE: return .other("reference")
    case H5T_TIME: return .other("time")
    default: return .other("unknown type")
    }
}

/// IEEE binary16 bits of `x`, rounded to nearest-even (as `Float16(x)`).
@inline(__always)
func float16Bits(_ x: Float) -> UInt16 {
    Float16(x).bitPattern
}

/// `Float(Float16(x))`: `x` rounded to the nearest float16 value (nearest-even), as a float32.
public func roundedToFloat16(_ x: Float) -> Float {
    Float(Float16(x))
}
