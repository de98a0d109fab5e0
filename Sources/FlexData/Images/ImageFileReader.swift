// Reading image data files: whole files, and a sequential reader that inflates gzip on the fly straight into the
// caller's buffer (zlib's inflate with windowBits 15 + 32; gzip detected by its magic 1f 8b, not the file name).
import CZlib

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Opens `path` for reading, refusing folders and missing files with a `DataError` naming the path.
/// Returns the stream and the file size.
private func openImageFile(_ path: String) throws(DataError) -> (UnsafeMutablePointer<FILE>, Int) {
    var info = stat()
    guard stat(path, &info) == 0 else {
        throw DataError(file: path, message: "cannot open: \(String(cString: strerror(errno)))")
    }
    if (info.st_mode & S_IFMT) == S_IFDIR {
        throw DataError(file: path, message: "is a folder, expected a file")
    }
    guard let file = fopen(path, "rb") else {
        throw DataError(file: path, message: "cannot open: \(String(cString: strerror(errno)))")
    }
    return (file, Int(info.st_size))
}

/// Reads up to `count` bytes into `base`, looping over short reads; fewer only at the end of the file.
private func readFully(_ file: UnsafeMutablePointer<FILE>, _ base: UnsafeMutableRawPointer, _ count: Int,
                       path: String, offset: Int) throws(DataError) -> Int {
    var done = 0
    while done < count {
        let n = fread(base + done, 1, count - done, file)
        if n == 0 {
            if ferror(file) != 0 {
                throw DataError(file: path, position: "byte \(offset + done)",
                                message: "read error: \(String(cString: strerror(errno)))")
            }
            break
        }
        done += n
    }
    return done
}

/// The whole file's bytes (no decompression), read into one preallocated buffer.
func readWholeImageFile(_ path: String) throws(DataError) -> [UInt8] {
    let (file, size) = try openImageFile(path)
    defer { fclose(file) }
    var failure: DataError?
    let bytes = [UInt8](unsafeUninitializedCapacity: size) { buffer, initialized in
        do throws(DataError) {
            initialized = try readFully(file, UnsafeMutableRawPointer(buffer.baseAddress!), size, path: path, offset: 0)
        } catch {
            failure = error
            initialized = 0
        }
    }
    if let failure { throw failure }
    guard bytes.count == size else {
        throw DataError(file: path, position: "byte \(bytes.count)",
                        message: "file shrank while reading: expected \(size) bytes, read \(bytes.count)")
    }
    return bytes
}

/// The first `count` bytes of a file (fewer if it is shorter).
func imageFileStart(_ path: String, count: Int) throws(DataError) -> [UInt8] {
    let (file, _) = try openImageFile(path)
    defer { fclose(file) }
    var bytes = [UInt8](repeating: 0, count: count)
    let got = bytes.withUnsafeMutableBytes { raw in fread(raw.baseAddress!, 1, count, file) }
    return Array(bytes.prefix(got))
}

/// Sequential reader of a file's content, transparently decompressing gzip (one or more concatenated members).
/// `position` counts content bytes delivered so far (decompressed bytes for gzip).
final class ImageByteReader {
    let path: String
    /// True when the file starts with the gzip magic 1f 8b.
    let isGzip: Bool
    /// Size of the file on disk (compressed size for gzip).
    let fileSize: Int
    /// Content bytes delivered so far.
    private(set) var position = 0

    private var file: UnsafeMutablePointer<FILE>?
    private var compressed = UnsafeMutableBufferPointer<UInt8>(start: nil, count: 0)
    private var stream: UnsafeMutablePointer<z_stream>?
    private var handedToZlib = 0
    private var ended = false

    init(path: String) throws(DataError) {
        self.path = path
        let (file, size) = try openImageFile(path)
        fileSize = size
        var magic: [UInt8] = [0, 0]
        let got = magic.withUnsafeMutableBytes { raw in fread(raw.baseAddress!, 1, 2, file) }
        isGzip = got == 2 && magic == [0x1F, 0x8B]
        if !isGzip {
            rewind(file)
            self.file = file
            return
        }
        // gzip: the compressed bytes in memory, inflated on demand into the caller's buffers.
        rewind(file)
        defer { fclose(file) }
        compressed = .allocate(capacity: size)
        let read = try readFully(file, UnsafeMutableRawPointer(compressed.baseAddress!), size, path: path, offset: 0)
        guard read == size else {
            throw DataError(file: path, position: "byte \(read)",
                            message: "file shrank while reading: expected \(size) bytes, read \(read)")
        }
        let stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
        stream.initialize(to: z_stream())
        self.stream = stream
        guard czlib_inflateInit2(stream, 15 + 32) == Z_OK else {
            throw DataError(file: path, message: "cannot initialise zlib")
        }
    }

    deinit {
        if let file { fclose(file) }
        if let stream {
            inflateEnd(stream)
            stream.deallocate()
        }
        compressed.deallocate()
    }

    /// Where the reader is in the file on disk, for messages: `byte N`, or `compressed byte N` for gzip.
    var compressedPosition: Int {
        guard let stream, let start = compressed.baseAddress, let next = stream.pointee.next_in else { return 0 }
        return next - start
    }

    /// Fills `buffer` completely unless the content ends first; returns the number of bytes written.
    func read(into buffer: UnsafeMutableRawBufferPointer) throws(DataError) -> Int {
        guard buffer.count > 0 else { return 0 }
        let produced: Int
        if let file {
            produced = try readFully(file, buffer.baseAddress!, buffer.count, path: path, offset: position)
        } else {
            produced = try inflate(into: buffer)
        }
        position += produced
        return produced
    }

    /// Reads up to `count` bytes (fewer only at the end of the content).
    func read(count: Int) throws(DataError) -> [UInt8] {
        var failure: DataError?
        let bytes = [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            do throws(DataError) {
                initialized = try read(into: UnsafeMutableRawBufferPointer(buffer))
            } catch {
                failure = error
                initialized = 0
            }
        }
        if let failure { throw failure }
        return bytes
    }

    /// Consumes the rest of the content and returns how many bytes it had.
    func countRemaining() throws(DataError) -> Int {
        if file != nil { return max(0, fileSize - position) }
        let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 16, alignment: 1)
        defer { scratch.deallocate() }
        var total = 0
        while true {
            let n = try read(into: scratch)
            total += n
            if n < scratch.count { return total }
        }
    }

    private func inflate(into buffer: UnsafeMutableRawBufferPointer) throws(DataError) -> Int {
        guard let stream else { return 0 }
        var produced = 0
        let chunk = 1 << 30
        while produced < buffer.count && !ended {
            if stream.pointee.avail_in == 0 {
                let remaining = compressed.count - handedToZlib
                if remaining == 0 {
                    throw DataError(file: path, position: "compressed byte \(compressed.count)",
                                    message: "gzip data ends unexpectedly after \(position + produced) decompressed bytes (truncated .gz file)")
                }
                stream.pointee.next_in = compressed.baseAddress! + handedToZlib
                stream.pointee.avail_in = uInt(min(remaining, chunk))
                handedToZlib += min(remaining, chunk)
            }
            let want = min(buffer.count - produced, chunk)
            stream.pointee.next_out = (buffer.baseAddress! + produced).assumingMemoryBound(to: Bytef.self)
            stream.pointee.avail_out = uInt(want)
            let rc = CZlib.inflate(stream, Z_NO_FLUSH)
            produced += want - Int(stream.pointee.avail_out)
            switch rc {
            case Z_OK:
                continue
            case Z_STREAM_END:
                let at = compressedPosition
                if at == compressed.count {
                    ended = true
                } else if compressed.count - at >= 2 && compressed[at] == 0x1F && compressed[at + 1] == 0x8B {
                    inflateReset(stream)  // another gzip member follows
                } else {
                    throw DataError(file: path, position: "compressed byte \(at)",
                                    message: "\(compressed.count - at) unexpected bytes after the end of the gzip data")
                }
            case Z_BUF_ERROR where stream.pointee.avail_in == 0 && handedToZlib == compressed.count:
                throw DataError(file: path, position: "compressed byte \(compressed.count)",
                                message: "gzip data ends unexpectedly after \(position + produced) decompressed bytes (truncated .gz file)")
            default:
                throw DataError(file: path, position: "compressed byte \(compressedPosition)",
                                message: "corrupt gzip data after \(position + produced) decompressed bytes: "
                                    + String(cString: czlib_inflate_problem(stream, rc)))
            }
        }
        return produced
    }
}

// MARK: - Folders

/// What is at a path: nothing, a file or a folder.
enum ImagePathKind {
    case missing, file, folder
}

func imagePathKind(_ path: String) -> ImagePathKind {
    var info = stat()
    guard stat(path, &info) == 0 else { return .missing }
    return (info.st_mode & S_IFMT) == S_IFDIR ? .folder : .file
}

/// The names of the entries of a folder (not `.` and `..`), sorted by their UTF-8 bytes so the result does not
/// depend on the file system's listing order.
func imageFolderEntries(_ folder: String) throws(DataError) -> [String] {
    guard let dir = opendir(folder) else {
        throw DataError(file: folder, message: "cannot list folder: \(String(cString: strerror(errno)))")
    }
    defer { closedir(dir) }
    var names: [String] = []
    while let entry = readdir(dir) {
        let name = withUnsafePointer(to: &entry.pointee.d_name) { pointer in
            pointer.withMemoryRebound(to: CChar.self, capacity: MemoryLayout.size(ofValue: entry.pointee.d_name)) {
                String(cString: $0)
            }
        }
        if name != "." && name != ".." { names.append(name) }
    }
    return names.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
}

/// `folder/name`, without doubling a trailing slash.
func imageJoin(_ folder: String, _ name: String) -> String {
    folder.hasSuffix("/") ? folder + name : folder + "/" + name
}
