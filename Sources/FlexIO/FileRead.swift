// Reading input files that may come from anyone: only regular files (a FIFO, a device or a folder is refused
// at once instead of blocking or reading forever), at most a given number of bytes (checked against the size
// before anything is allocated), and exactly the size the file had when opened.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// An input file that could not be read: `cannot read 'PATH': REASON`, e.g. `is a FIFO, expected a regular
/// file` or `is 600000000 bytes, more than the 536870912 bytes (512 MiB) accepted`.
public struct FileReadError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The path as given by the user.
    public var path: String
    /// What is wrong (without the path), for callers that wrap it in their own error naming the file.
    public var reason: String

    public init(path: String, reason: String) {
        self.path = path
        self.reason = reason
    }

    public var description: String { "cannot read '\(path)': \(reason)" }
}

/// `512 MiB`, `1 GiB`, `300 KiB`, `17 bytes`: a limit for messages.
public func byteCountText(_ n: Int) -> String {
    for (shift, unit) in [(30, "GiB"), (20, "MiB"), (10, "KiB")] where n >= 1 << shift && n % (1 << shift) == 0 {
        return "\(n >> shift) \(unit)"
    }
    return n == 1 ? "1 byte" : "\(n) bytes"
}

/// read(2) and pread(2), callable where methods named `read` hide them.
func systemRead(_ fd: Int32, _ buffer: UnsafeMutableRawPointer?, _ count: Int) -> Int { read(fd, buffer, count) }
func systemPread(_ fd: Int32, _ buffer: UnsafeMutableRawPointer?, _ count: Int, _ offset: off_t) -> Int {
    pread(fd, buffer, count, offset)
}

/// What a file of mode `mode` is, for messages: `a FIFO`, `a character device`, `a folder`, ….
func fileKind(_ mode: mode_t) -> String {
    switch mode & S_IFMT {
    case S_IFREG: "a regular file"
    case S_IFDIR: "a folder"
    case S_IFIFO: "a FIFO"
    case S_IFCHR: "a character device"
    case S_IFBLK: "a block device"
    case S_IFSOCK: "a socket"
    case S_IFLNK: "a symbolic link"
    default: "not a regular file"
    }
}

/// A regular file opened for reading, of a size fixed when it was opened: `read(into:)` delivers exactly
/// `size` bytes in all and fails if the file shrinks meanwhile; `checkAtEnd()` fails if it grew.
public final class RegularFile {
    /// The path as given.
    public let path: String
    /// The size when opened (`fstat` of the open file).
    public let size: Int
    /// Bytes delivered so far.
    public private(set) var offset = 0
    private var fd: Int32

    init(path: String, fd: Int32, size: Int) {
        self.path = path
        self.fd = fd
        self.size = size
    }

    deinit { close() }

    /// Bytes not yet read.
    public var remaining: Int { size - offset }

    /// Fills `buffer` with the next bytes, or with as many as remain of `size`; returns the count. A file that
    /// ends before `size` bytes (it shrank while read) is an error.
    public func read(into buffer: UnsafeMutableRawBufferPointer) throws(FileReadError) -> Int {
        let want = min(buffer.count, remaining)
        var done = 0
        while done < want {
            guard fd >= 0 else { throw FileReadError(path: path, reason: "read after close") }
            // At most 1 GiB per call: Linux reads at most 0x7ffff000 bytes at once anyway.
            let n = systemRead(fd, buffer.baseAddress! + done, min(want - done, 1 << 30))
            if n < 0 {
                if errno == EINTR { continue }
                throw FileReadError(path: path, reason: "read error at byte \(offset + done): \(errnoMessage(errno))")
            }
            if n == 0 {
                throw FileReadError(path: path, reason:
                    "the file shrank while being read: it had \(size) bytes when opened, ended after \(offset + done)")
            }
            done += n
        }
        offset += done
        return done
    }

    /// The next `count` bytes (fewer only if fewer remain of `size`).
    public func read(count: Int) throws(FileReadError) -> [UInt8] {
        var failure: FileReadError?
        let bytes = [UInt8](unsafeUninitializedCapacity: min(max(count, 0), remaining)) { buffer, initialized in
            do throws(FileReadError) {
                initialized = try read(into: UnsafeMutableRawBufferPointer(buffer))
            } catch {
                failure = error
                initialized = 0
            }
        }
        if let failure { throw failure }
        return bytes
    }

    /// Fails if the file has more bytes after `size` (it grew while being read).
    public func checkAtEnd() throws(FileReadError) {
        guard fd >= 0 else { return }
        var probe: UInt8 = 0
        while true {
            let n = systemPread(fd, &probe, 1, off_t(size))
            if n < 0, errno == EINTR { continue }
            if n > 0 {
                throw FileReadError(path: path, reason:
                    "the file grew while being read: it had \(size) bytes when opened")
            }
            return
        }
    }

    /// Goes back to the first byte (e.g. after peeking at a signature).
    public func rewind() throws(FileReadError) {
        guard fd >= 0, lseek(fd, 0, SEEK_SET) == 0 else {
            throw FileReadError(path: path, reason: "cannot go back to the start: \(errnoMessage(errno))")
        }
        offset = 0
    }

    /// Closes the file (also done when the object goes away).
    public func close() {
        if fd >= 0 { _ = systemClose(fd) }
        fd = -1
    }
}

/// Opens `path` for reading if it is a regular file of at most `maxBytes` bytes.
///
/// The file is opened with O_NONBLOCK (so opening a FIFO never waits for a writer) and O_NOCTTY, then the
/// *opened* file is checked with fstat — no race with a rename between a check and the open. Anything but a
/// regular file is refused, naming its kind ("is a FIFO, expected a regular file"), as is a file larger than
/// `maxBytes`, naming its size and the limit. O_NONBLOCK is then cleared for ordinary blocking reads.
public func openRegularFile(_ path: String, maxBytes: Int) throws(FileReadError) -> RegularFile {
    if path.isEmpty { throw FileReadError(path: path, reason: "empty path") }
    let fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC)
    if fd < 0 {
        let e = errno
        if e == ENOENT { throw FileReadError(path: path, reason: "no such file") }
        // A socket (or a device without a driver) cannot be opened at all: name what it is.
        var st = stat()
        if stat(path, &st) == 0, (st.st_mode & S_IFMT) != S_IFREG {
            throw FileReadError(path: path, reason: "is \(fileKind(st.st_mode)), expected a regular file")
        }
        throw FileReadError(path: path, reason: errnoMessage(e))
    }
    var st = stat()
    guard fstat(fd, &st) == 0 else {
        let e = errno
        _ = systemClose(fd)
        throw FileReadError(path: path, reason: errnoMessage(e))
    }
    guard (st.st_mode & S_IFMT) == S_IFREG else {
        _ = systemClose(fd)
        throw FileReadError(path: path, reason: "is \(fileKind(st.st_mode)), expected a regular file")
    }
    let size = Int(st.st_size)
    guard size <= maxBytes else {
        _ = systemClose(fd)
        throw FileReadError(path: path, reason:
            "is \(size) bytes, more than the \(maxBytes) bytes (\(byteCountText(maxBytes))) accepted")
    }
    let flags = fcntl(fd, F_GETFL)
    if flags >= 0 { _ = fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) }
    return RegularFile(path: path, fd: fd, size: size)
}

/// The bytes of the regular file at `path` (see `openRegularFile(_:maxBytes:)`), read into one preallocated
/// buffer of the size the file had when opened; a file that shrinks or grows while read is an error.
public func readRegularFile(_ path: String, maxBytes: Int) throws(FileReadError) -> [UInt8] {
    let file = try openRegularFile(path, maxBytes: maxBytes)
    defer { file.close() }
    let bytes = try file.read(count: file.size)
    try file.checkAtEnd()
    return bytes
}

/// Standard input to its end, refusing more than `maxBytes` bytes (`name` labels errors, e.g. `<stdin>`).
/// Unlike a named file, standard input may be a pipe or a terminal: the user chose it, so it is read as it is.
public func readStandardInput(maxBytes: Int, name: String = "<stdin>") throws(FileReadError) -> [UInt8] {
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 1 << 16)
    while true {
        let n = chunk.withUnsafeMutableBytes { read(STDIN_FILENO, $0.baseAddress, $0.count) }
        if n < 0 {
            if errno == EINTR { continue }
            throw FileReadError(path: name, reason: "read error: \(errnoMessage(errno))")
        }
        if n == 0 { return bytes }
        guard bytes.count + n <= maxBytes else {
            throw FileReadError(path: name, reason:
                "more than \(maxBytes) bytes (\(byteCountText(maxBytes))), the most accepted")
        }
        bytes.append(contentsOf: chunk[0..<n])
    }
}
