#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A file that could not be written (or encoded). The message names the file and the cause.
public struct FileWriteError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The path the caller asked for.
    public var path: String
    /// What went wrong, e.g. `Permission denied` or a libpng message.
    public var reason: String

    public init(path: String, reason: String) {
        self.path = path
        self.reason = reason
    }

    public var description: String { "cannot write '\(path)': \(reason)" }
}

/// The folder part of a path (`.` for a bare file name).
func parentDirectory(of path: String) -> String {
    guard let slash = path.lastIndex(of: "/") else { return "." }
    if slash == path.startIndex { return "/" }
    return String(path[..<slash])
}

/// Whether a file can be created at `path`: the parent folder exists, is a folder and is writable,
/// and `path` itself is not a folder. Returns the reason when it cannot, `nil` when it can.
public func reasonPathIsNotWritable(_ path: String) -> String? {
    if path.isEmpty { return "empty path" }
    if path.hasSuffix("/") { return "is a directory" }
    var st = stat()
    if stat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR { return "is a directory" }
    let dir = parentDirectory(of: path)
    guard stat(dir, &st) == 0 else { return "folder '\(dir)' does not exist" }
    guard (st.st_mode & S_IFMT) == S_IFDIR else { return "'\(dir)' is not a folder" }
    guard access(dir, W_OK) == 0 else { return "folder '\(dir)' is not writable (\(errnoMessage(errno)))" }
    return nil
}

func errnoMessage(_ code: Int32) -> String {
    guard let s = strerror(code) else { return "error \(code)" }
    return String(cString: s)
}

/// Writes `bytes` to `path` atomically: the data go to a temporary file in the same folder, which is
/// flushed and then renamed over `path`. On any failure the temporary file is removed and `path` is
/// left as it was (absent or with its old content), so a reader never sees partial output.
///
/// `durable: false` skips the fsync before the rename: the replacement is still atomic for readers and
/// if the process dies, but after a power loss the file may be empty. Batch jobs writing thousands of small
/// files use it and flush the whole file system once at the end (`syncFileSystem(containing:)`).
public func writeFileAtomically(path: String, bytes: [UInt8], durable: Bool = true) throws(FileWriteError) {
    if let reason = reasonPathIsNotWritable(path) { throw FileWriteError(path: path, reason: reason) }
    let dir = parentDirectory(of: path)
    let base = path.split(separator: "/").last.map(String.init) ?? path
    var template = Array("\(dir)/.\(base).tmp-XXXXXX".utf8CString)
    let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
    guard fd >= 0 else {
        throw FileWriteError(path: path, reason: "cannot create a temporary file in '\(dir)': \(errnoMessage(errno))")
    }
    let tempPath = template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    func fail(_ what: String, _ code: Int32) -> FileWriteError {
        close(fd)
        unlink(tempPath)
        return FileWriteError(path: path, reason: "\(what): \(errnoMessage(code))")
    }
    var written = 0
    let failure: FileWriteError? = bytes.withUnsafeBytes { raw -> FileWriteError? in
        while written < raw.count {
            let n = write(fd, raw.baseAddress! + written, raw.count - written)
            if n < 0 {
                if errno == EINTR { continue }
                return fail("write failed", errno)
            }
            written += n
        }
        return nil
    }
    if let failure { throw failure }
    // mkstemp creates 0600; give the file the usual permissions (0644 less the umask).
    let mask = umask(0)
    umask(mask)
    fchmod(fd, 0o644 & ~mask)
    if durable, fsync(fd) != 0 { throw fail("fsync failed", errno) }
    if close(fd) != 0 {
        let code = errno
        unlink(tempPath)
        throw FileWriteError(path: path, reason: "close failed: \(errnoMessage(code))")
    }
    if rename(tempPath, path) != 0 {
        let code = errno
        unlink(tempPath)
        throw FileWriteError(path: path, reason: "rename failed: \(errnoMessage(code))")
    }
}

/// Flushes written data to disk after a batch of `durable: false` writes (one `sync()` for the batch).
public func syncFileSystem(containing path: String) {
    sync()
}

/// Writes UTF-8 text atomically (see `writeFileAtomically(path:bytes:)`).
public func writeFileAtomically(path: String, text: String) throws(FileWriteError) {
    try writeFileAtomically(path: path, bytes: Array(text.utf8))
}
