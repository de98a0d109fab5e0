import FlexIO
import Foundation
import Testing

/// A fresh temporary folder, removed by `cleanup()`.
struct TempDir {
    let path: String

    init() throws {
        path = FileManager.default.temporaryDirectory.path + "/flexio-tests-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    func file(_ name: String) -> String { "\(path)/\(name)" }

    /// Every entry, hidden ones included, sorted.
    func contents() -> [String] { ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted() }

    func cleanup() { try? FileManager.default.removeItem(atPath: path) }
}

/// Seconds since an arbitrary start.
func now() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_MONOTONIC, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
}

@Suite("readRegularFile: regular files only, bounded, exactly their size")
struct FileReadTests {
    /// The error `body` throws (nil if none), and how long it took.
    func failure(_ body: () throws -> Void) -> (FileReadError?, Double) {
        let t0 = now()
        do { try body() } catch {
            #expect(error is FileReadError, "\(error)")
            return (error as? FileReadError, now() - t0)
        }
        return (nil, now() - t0)
    }

    @Test("a regular file is read whole; an empty file is empty")
    func regular() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let bytes = (0..<100_000).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        try Data(bytes).write(to: URL(fileURLWithPath: dir.file("a")))
        #expect(try readRegularFile(dir.file("a"), maxBytes: bytes.count) == bytes ? true : false)
        try Data().write(to: URL(fileURLWithPath: dir.file("empty")))
        #expect(try readRegularFile(dir.file("empty"), maxBytes: 0) == [])
        // Through a symbolic link: the link's target is what is opened and checked.
        try FileManager.default.createSymbolicLink(atPath: dir.file("link"), withDestinationPath: dir.file("a"))
        #expect(try readRegularFile(dir.file("link"), maxBytes: 1 << 20) == bytes ? true : false)
    }

    @Test("a FIFO without a writer is refused at once, naming the file and its kind")
    func fifo() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        #expect(mkfifo(dir.file("pipe"), 0o600) == 0)
        let (error, seconds) = failure { _ = try readRegularFile(dir.file("pipe"), maxBytes: 1 << 20) }
        #expect(error == FileReadError(path: dir.file("pipe"), reason: "is a FIFO, expected a regular file"))
        #expect(error?.description == "cannot read '\(dir.file("pipe"))': is a FIFO, expected a regular file")
        #expect(seconds < 1)
        let (e2, _) = failure { _ = try openRegularFile(dir.file("pipe"), maxBytes: 1 << 20) }
        #expect(e2?.reason == "is a FIFO, expected a regular file")
    }

    @Test("devices (/dev/null, /dev/zero) and folders are refused, naming their kind")
    func devicesAndFolders() throws {
        for device in ["/dev/null", "/dev/zero", "/dev/urandom"] {
            let (error, seconds) = failure { _ = try readRegularFile(device, maxBytes: 1 << 30) }
            #expect(error == FileReadError(path: device, reason: "is a character device, expected a regular file"))
            #expect(seconds < 1)
        }
        let dir = try TempDir()
        defer { dir.cleanup() }
        let (error, _) = failure { _ = try readRegularFile(dir.path, maxBytes: 1 << 30) }
        #expect(error == FileReadError(path: dir.path, reason: "is a folder, expected a regular file"))
        let (missing, _) = failure { _ = try readRegularFile(dir.file("nope"), maxBytes: 10) }
        #expect(missing == FileReadError(path: dir.file("nope"), reason: "no such file"))
    }

    @Test("a file over the limit is refused before reading (a sparse 4 GiB file), naming its size and the limit")
    func tooLarge() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let fd = open(dir.file("big"), O_WRONLY | O_CREAT, 0o644)
        #expect(fd >= 0)
        #expect(ftruncate(fd, 4 << 30) == 0)
        close(fd)
        let (error, seconds) = failure { _ = try readRegularFile(dir.file("big"), maxBytes: 512 << 20) }
        #expect(error == FileReadError(path: dir.file("big"), reason:
            "is 4294967296 bytes, more than the 536870912 bytes (512 MiB) accepted"))
        #expect(seconds < 1)
        // One byte over the limit is over; exactly the limit is read.
        try Data(repeating: 1, count: 11).write(to: URL(fileURLWithPath: dir.file("eleven")))
        let (over, _) = failure { _ = try readRegularFile(dir.file("eleven"), maxBytes: 10) }
        #expect(over?.reason == "is 11 bytes, more than the 10 bytes (10 bytes) accepted")
        #expect(try readRegularFile(dir.file("eleven"), maxBytes: 11).count == 11)
    }

    @Test("a file that shrinks or grows while read is an error; streaming reads deliver exactly the size")
    func changingFiles() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        try Data(repeating: 5, count: 1000).write(to: URL(fileURLWithPath: dir.file("f")))
        let shrinking = try openRegularFile(dir.file("f"), maxBytes: 1 << 20)
        #expect(shrinking.size == 1000)
        #expect(try shrinking.read(count: 600).count == 600)
        #expect(truncate(dir.file("f"), 700) == 0)
        let (shrank, _) = failure { _ = try shrinking.read(count: 400) }
        #expect(shrank?.reason == "the file shrank while being read: it had 1000 bytes when opened, ended after 700")

        try Data(repeating: 5, count: 1000).write(to: URL(fileURLWithPath: dir.file("g")))
        let growing = try openRegularFile(dir.file("g"), maxBytes: 1 << 20)
        let handle = try #require(FileHandle(forWritingAtPath: dir.file("g")))
        handle.seekToEndOfFile()
        handle.write(Data([1, 2, 3]))
        try handle.close()
        // Reads stop at the size the file had when opened...
        #expect(try growing.read(count: 5000).count == 1000)
        #expect(growing.remaining == 0)
        #expect(try growing.read(count: 10) == [])
        // ... and the growth is reported.
        let (grew, _) = failure { try growing.checkAtEnd() }
        #expect(grew?.reason == "the file grew while being read: it had 1000 bytes when opened")
        try growing.rewind()
        #expect(growing.offset == 0)
        #expect(try growing.read(count: 3) == [5, 5, 5])
    }

    @Test("limits print in binary units")
    func units() {
        #expect(byteCountText(1 << 30) == "1 GiB")
        #expect(byteCountText(256 << 20) == "256 MiB")
        #expect(byteCountText(64 << 10) == "64 KiB")
        #expect(byteCountText(1000) == "1000 bytes")
        #expect(byteCountText(1) == "1 byte")
    }
}
