// Reading image data files: whole files, and a sequential reader that inflates gzip on the fly straight into the
// caller's buffer (zlib's inflate with windowBits 15 + 32; gzip detected by its magic 1f 8b, not the file name).
import FlexIO
import FlexImageIO

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Opens `path` for reading with `openRegularFile`: a FIFO, device or folder is refused at once (never read or
/// waited on), as is a file over `maxBytes`; errors are `DataError`s naming the path.
private func openImageFile(_ path: String, maxBytes: Int) throws(DataError) -> RegularFile {
    do { return try openRegularFile(path, maxBytes: maxBytes) } catch { throw DataError(file: path, message: error.reason) }
}

/// Fills `buffer` from `file` (fewer bytes only at the end of the file), as a `DataError`.
private func readFully(_ file: RegularFile, _ buffer: UnsafeMutableRawBufferPointer) throws(DataError) -> Int {
    do { return try file.read(into: buffer) } catch { throw DataError(file: file.path, message: error.reason) }
}

/// The whole file's bytes (no decompression), read into one preallocated buffer; at most `maxBytes`.
func readWholeImageFile(_ path: String, maxBytes: Int) throws(DataError) -> [UInt8] {
    do { return try readRegularFile(path, maxBytes: maxBytes) } catch { throw DataError(file: path, message: error.reason) }
}

/// The first `count` bytes of a file (fewer if it is shorter).
func imageFileStart(_ path: String, count: Int) throws(DataError) -> [UInt8] {
    let file = try openImageFile(path, maxBytes: .max)
    defer { file.close() }
    do { return try file.read(count: count) } catch { throw DataError(file: path, message: error.reason) }
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

    private var file: RegularFile?
    private var inflater: GzipInflater?

    /// Opens `path`, a regular file of at most `maxBytes` bytes on disk (compressed size for gzip).
    init(path: String, maxBytes: Int) throws(DataError) {
        self.path = path
        let file = try openImageFile(path, maxBytes: maxBytes)
        fileSize = file.size
        do {
            isGzip = try file.read(count: 2) == [0x1F, 0x8B]
            try file.rewind()
        } catch {
            throw DataError(file: path, message: error.reason)
        }
        if !isGzip {
            self.file = file
            return
        }
        // gzip: the compressed bytes in memory, inflated on demand into the caller's buffers.
        defer { file.close() }
        let compressed = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: file.size)
        do throws(DataError) {
            _ = try readFully(file, UnsafeMutableRawBufferPointer(compressed))
            do { try file.checkAtEnd() } catch { throw DataError(file: path, message: error.reason) }
        } catch {
            compressed.deallocate()
            throw error
        }
        do { inflater = try GzipInflater(taking: compressed) } catch {
            throw DataError(file: path, message: error.message)
        }
    }

    deinit {
        file?.close()
    }

    /// Where the reader is in the file on disk, for messages: `byte N`, or `compressed byte N` for gzip.
    var compressedPosition: Int { inflater?.compressedPosition ?? 0 }

    /// Fills `buffer` completely unless the content ends first; returns the number of bytes written.
    func read(into buffer: UnsafeMutableRawBufferPointer) throws(DataError) -> Int {
        guard buffer.count > 0 else { return 0 }
        let produced: Int
        if let file {
            produced = try readFully(file, buffer)
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
        if let file {
            do { try file.checkAtEnd() } catch { throw DataError(file: path, message: error.reason) }
            return file.remaining
        }
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
        guard let inflater else { return 0 }
        do { return try inflater.inflate(into: buffer) } catch {
            throw DataError(file: path, position: error.compressedOffset.map { "compressed byte \($0)" } ?? "", message: error.message)
        }
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
