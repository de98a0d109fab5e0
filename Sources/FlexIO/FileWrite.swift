// The one file writer of flexctl: every output (images, .flexz, plots, reports, run files, checkpoints) is
// written to a temporary file in the destination folder and moved into place only when complete, so a reader
// never sees partial output and an error (a full disk included) or a signal leaves nothing behind.
import CFlexSupport

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
    /// What went wrong, e.g. `Permission denied`, `already exists` or a libpng message.
    public var reason: String

    public init(path: String, reason: String) {
        self.path = path
        self.reason = reason
    }

    /// The reason of a `.createNew` write whose destination exists (or appeared while writing).
    public static let alreadyExistsReason = "already exists"

    /// The destination existed, so a `.createNew` write left it alone.
    public var isAlreadyExists: Bool { reason == Self.alreadyExistsReason }

    public var description: String { "cannot write '\(path)': \(reason)" }
}

/// What a write does when the destination exists.
public enum WriteMode: Sendable {
    /// Never replace: fail with reason "already exists" if the path exists. The check is atomic (the complete
    /// file is hard-linked into place, or renamed with RENAME_NOREPLACE), so of two concurrent writers exactly
    /// one succeeds and the other's data never replaces it.
    case createNew
    /// Replace an existing file atomically (rename).
    case replace
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

/// Writes `bytes` to `path` atomically: the data go to a temporary file `.NAME.flexctl-tmp-PID-XXXXXX` in
/// the same folder, which is flushed and then moved into place — renamed over `path` (`.replace`), or
/// hard-linked to `path`, which fails if `path` exists (`.createNew`; file systems without hard links use
/// `renameat2(RENAME_NOREPLACE)`). On any failure the temporary file is removed and `path` is left as it was
/// (absent or with its old content). While it exists, the temporary file is registered for removal on
/// SIGINT/SIGTERM/SIGHUP (`installTempFileCleanupOnSignals()`); the first write into a folder also removes
/// temporary files that killed flexctl processes left there (`removeStaleTempFiles(in:)`).
///
/// `durable: false` skips the fsyncs: the replacement is still atomic for readers and if the process dies,
/// but after a power loss the file may be empty. Batch jobs writing thousands of small files use it and
/// flush the whole file system once at the end (`syncFileSystem(containing:)`).
public func writeFileAtomically(path: String, bytes: [UInt8], mode: WriteMode = .replace,
                                durable: Bool = true) throws(FileWriteError) {
    if let reason = reasonPathIsNotWritable(path) { throw FileWriteError(path: path, reason: reason) }
    var st = stat()
    // Not the guarantee (that is the link below) but spares writing a large file only to find the name taken.
    if mode == .createNew, lstat(path, &st) == 0 {
        throw FileWriteError(path: path, reason: FileWriteError.alreadyExistsReason)
    }
    let dir = parentDirectory(of: path)
    removeStaleTempFilesOnce(in: dir)
    let temp = try TempFile.create(for: path, in: dir)
    defer { temp.discard() }

    let failure: FileWriteError? = bytes.withUnsafeBytes { raw -> FileWriteError? in
        var written = 0
        while written < raw.count {
            // At most 1 GiB per call: Linux writes at most 0x7ffff000 bytes at once anyway.
            let n = write(temp.fd, raw.baseAddress! + written, min(raw.count - written, 1 << 30))
            if n < 0 {
                if errno == EINTR { continue }
                return FileWriteError(path: path, reason: "write failed: \(errnoMessage(errno))")
            }
            written += n
        }
        return nil
    }
    if let failure { throw failure }
    if durable, fsync(temp.fd) != 0 {
        throw FileWriteError(path: path, reason: "fsync failed: \(errnoMessage(errno))")
    }
    // close() can report a deferred write error (NFS, some FUSE file systems): the file is then not complete.
    if temp.close() != 0 {
        throw FileWriteError(path: path, reason: "close failed: \(errnoMessage(errno))")
    }
    switch mode {
    case .replace:
        if rename(temp.path, path) != 0 {
            throw FileWriteError(path: path, reason: "rename failed: \(errnoMessage(errno))")
        }
        temp.moved()
    case .createNew:
        try linkNoReplace(temp.path, path)
        // `path` is complete; the temporary name is removed by discard() (a failure there only leaves a
        // second name of the same file, which the stale-file cleanup would not touch while we live).
    }
    if durable { syncDirectory(dir) }
}

/// Writes UTF-8 text atomically (see `writeFileAtomically(path:bytes:mode:durable:)`).
public func writeFileAtomically(path: String, text: String, mode: WriteMode = .replace) throws(FileWriteError) {
    try writeFileAtomically(path: path, bytes: Array(text.utf8), mode: mode)
}

/// Flushes written data to disk after a batch of `durable: false` writes (one `sync()` for the batch).
public func syncFileSystem(containing path: String) {
    sync()
}

/// Makes `temp` appear at `path` only if `path` does not exist.
private func linkNoReplace(_ temp: String, _ path: String) throws(FileWriteError) {
    if link(temp, path) == 0 { return }
    let e = errno
    if e == EEXIST { throw FileWriteError(path: path, reason: FileWriteError.alreadyExistsReason) }
    // File systems without hard links (FAT, some FUSE and network file systems) say EPERM, ENOTSUP or ENOSYS.
    guard e == EPERM || e == ENOTSUP || e == EOPNOTSUPP || e == ENOSYS || e == EMLINK else {
        throw FileWriteError(path: path, reason: "cannot link the written file into place: \(errnoMessage(e))")
    }
    if flex_rename_noreplace(temp, path) == 0 { return }
    let r = errno
    if r == EEXIST { throw FileWriteError(path: path, reason: FileWriteError.alreadyExistsReason) }
    if r == EINVAL || r == ENOSYS || r == ENOTSUP || r == EOPNOTSUPP {
        throw FileWriteError(path: path, reason:
            "the file system supports neither hard links nor renaming without replacing (\(errnoMessage(e)), "
            + "\(errnoMessage(r))), so the file cannot be created without risking to replace another; "
            + "write it elsewhere, or allow replacing (--overwrite)")
    }
    throw FileWriteError(path: path, reason: "cannot move the written file into place: \(errnoMessage(r))")
}

/// fsync of a folder, so a rename or link in it survives a power loss. Errors are ignored: some file systems
/// refuse fsync on folders, and the file itself is already on disk.
private func syncDirectory(_ dir: String) {
    let fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    guard fd >= 0 else { return }
    _ = fsync(fd)
    close(fd)
}

// MARK: - Temporary files

/// close(2), callable where a method named `close` hides it.
func systemClose(_ fd: Int32) -> Int32 { close(fd) }

/// The part of a temporary file's name between the destination's name and the PID.
let tempMarker = ".flexctl-tmp-"

/// A temporary file being written, registered for removal on signals until it is moved or discarded.
final class TempFile {
    let path: String
    private(set) var fd: Int32
    private var slot: Int32
    private var exists = true

    private init(path: String, fd: Int32, slot: Int32) {
        self.path = path
        self.fd = fd
        self.slot = slot
    }

    /// Creates `DIR/.NAME.flexctl-tmp-PID-XXXXXX` (mode 0666 less the umask, like any new file), registering
    /// the name *before* creating the file so no signal can leave it behind.
    static func create(for destination: String, in dir: String) throws(FileWriteError) -> TempFile {
        // File names are at most 255 bytes: keep the destination's name short enough for the suffix.
        var base = Array((destination.split(separator: "/", omittingEmptySubsequences: true).last.map(String.init)
            ?? destination).utf8.prefix(200))
        while let last = base.last, last & 0xC0 == 0x80 { base.removeLast() }  // no half UTF-8 character
        if let last = base.last, last >= 0xC0 { base.removeLast() }
        let prefix = dir + "/." + String(decoding: base, as: UTF8.self) + tempMarker + String(getpid()) + "-"
        let alphabet = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
        var lastError: Int32 = 0
        for _ in 0..<100 {
            var generator = SystemRandomNumberGenerator()
            let suffix = String((0..<6).map { _ in alphabet[Int(generator.next(upperBound: UInt64(alphabet.count)))] })
            let path = prefix + suffix
            let slot = flex_temp_register(path)
            let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o666)
            if fd >= 0 { return TempFile(path: path, fd: fd, slot: slot) }
            lastError = errno
            flex_temp_unregister(slot)
            if lastError != EEXIST { break }
        }
        throw FileWriteError(path: destination,
                             reason: "cannot create a temporary file in '\(dir)': \(errnoMessage(lastError))")
    }

    func close() -> Int32 {
        let rc = systemClose(fd)
        fd = -1
        return rc
    }

    /// The file was renamed to its destination: nothing to remove.
    func moved() {
        exists = false
        flex_temp_unregister(slot)
        slot = -1
    }

    /// Closes and removes the file unless it was moved.
    func discard() {
        if fd >= 0 { _ = close() }
        if exists { unlink(path) }
        exists = false
        flex_temp_unregister(slot)
        slot = -1
    }

    deinit { discard() }
}
