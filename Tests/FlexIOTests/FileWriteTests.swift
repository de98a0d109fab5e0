import FlexIO
import Foundation
import Synchronization
import Testing

@Suite("writeFileAtomically: complete files or nothing, no replacing with .createNew, no temporary file left")
struct FileWriteTests {
    func bytes(of path: String) throws -> [UInt8] { [UInt8](try Data(contentsOf: URL(fileURLWithPath: path))) }

    func writeError(_ body: () throws -> Void) -> FileWriteError? {
        do { try body() } catch {
            #expect(error is FileWriteError, "\(error)")
            return error as? FileWriteError
        }
        return nil
    }

    @Test("replace writes and replaces; createNew refuses an existing file (or a dangling link) and keeps it")
    func modes() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let path = dir.file("out.bin")
        try writeFileAtomically(path: path, bytes: [1, 2, 3])
        #expect(try bytes(of: path) == [1, 2, 3])
        try writeFileAtomically(path: path, bytes: [4, 5], mode: .replace)
        #expect(try bytes(of: path) == [4, 5])
        let refused = writeError { try writeFileAtomically(path: path, bytes: [9], mode: .createNew) }
        #expect(refused == FileWriteError(path: path, reason: "already exists"))
        #expect(refused?.isAlreadyExists == true)
        #expect(refused?.description == "cannot write '\(path)': already exists")
        #expect(try bytes(of: path) == [4, 5])
        try writeFileAtomically(path: dir.file("new.txt"), text: "hello\n", mode: .createNew)
        #expect(try bytes(of: dir.file("new.txt")) == Array("hello\n".utf8))
        try FileManager.default.createSymbolicLink(atPath: dir.file("dangling"), withDestinationPath: dir.file("nowhere"))
        #expect(writeError { try writeFileAtomically(path: dir.file("dangling"), bytes: [1], mode: .createNew) }?.isAlreadyExists == true)
        #expect(!FileManager.default.fileExists(atPath: dir.file("nowhere")))
        // Not durable (batch jobs): the same result.
        try writeFileAtomically(path: dir.file("fast"), bytes: [7], mode: .createNew, durable: false)
        #expect(try bytes(of: dir.file("fast")) == [7])
        #expect(dir.contents() == ["dangling", "fast", "new.txt", "out.bin"])
    }

    @Test("unwritable destinations are refused with one message; nothing is left")
    func unwritable() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        #expect(writeError { try writeFileAtomically(path: dir.file("no/such/folder/x"), bytes: [1]) }?.reason
                    == "folder '\(dir.file("no/such/folder"))' does not exist")
        #expect(writeError { try writeFileAtomically(path: dir.path, bytes: [1]) }?.reason == "is a directory")
        // A name too long for the file system: the temporary name is shortened, the final name fails to link.
        let long = dir.file(String(repeating: "é", count: 140))  // 280 bytes > NAME_MAX
        let e = writeError { try writeFileAtomically(path: long, bytes: [1], mode: .createNew) }
        #expect(e?.reason.contains("File name too long") == true, "\(String(describing: e))")
        #expect(dir.contents().isEmpty)
    }

    @Test("16 threads writing .createNew to one path: exactly one succeeds, the file is its bytes, no temporary left")
    func concurrentCreateNew() throws {
        for round in 0..<5 {
            let dir = try TempDir()
            defer { dir.cleanup() }
            let path = dir.file("race.bin")
            let writers = 16
            let outcomes = Mutex<[Int: FileWriteError?]>([:])
            // Real threads released together (not a thread pool of one per processor), so that many writers are
            // past the writer's early existence check before the first one finishes: only the atomic link can
            // then keep all but one from replacing the file.
            let ready = DispatchSemaphore(value: 0), go = DispatchSemaphore(value: 0), done = DispatchSemaphore(value: 0)
            for i in 0..<writers {
                Thread {
                    let payload = [UInt8](repeating: UInt8(i + 1), count: 1 << 20)
                    ready.signal()
                    go.wait()
                    var failure: FileWriteError?
                    do { try writeFileAtomically(path: path, bytes: payload, mode: .createNew, durable: round % 2 == 0) } catch {
                        failure = error as? FileWriteError ?? FileWriteError(path: path, reason: "\(error)")
                    }
                    outcomes.withLock { $0[i] = failure }
                    done.signal()
                }.start()
            }
            for _ in 0..<writers { ready.wait() }
            for _ in 0..<writers { go.signal() }
            for _ in 0..<writers { done.wait() }
            let all = outcomes.withLock { $0 }
            let winners = all.filter { $0.value == nil }.map(\.key)
            #expect(winners.count == 1, "round \(round): \(all)")
            let losers = all.values.compactMap { $0 }
            #expect(losers.count == writers - 1 && losers.allSatisfy { $0.isAlreadyExists })
            let content = try bytes(of: path)
            // A Bool, not the arrays: on failure the testing library would diff two 1 MB arrays for minutes.
            let whole = winners.count == 1 && content.count == 1 << 20 && content.allSatisfy { $0 == UInt8(winners[0] + 1) }
            #expect(whole, "round \(round): \(content.count) bytes, not the winner's")
            #expect(dir.contents() == ["race.bin"])
        }
    }

    @Test("threads replacing one path: a reader only ever sees one writer's complete bytes")
    func concurrentReplace() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let path = dir.file("r.bin")
        try writeFileAtomically(path: path, bytes: [UInt8](repeating: 0, count: 1 << 18))
        let bad = Atomic<Int>(0)
        DispatchQueue.concurrentPerform(iterations: 9) { i in
            if i == 0 {
                for _ in 0..<200 {
                    let b = (try? readRegularFile(path, maxBytes: 1 << 20)) ?? []
                    if b.count != 1 << 18 || b.contains(where: { $0 != b[0] }) { bad.add(1, ordering: .relaxed) }
                }
            } else {
                for _ in 0..<20 {
                    try? writeFileAtomically(path: path, bytes: [UInt8](repeating: UInt8(i), count: 1 << 18), durable: false)
                }
            }
        }
        #expect(bad.load(ordering: .relaxed) == 0)
        #expect(dir.contents() == ["r.bin"])
    }

    @Test("temporary file names carry the PID; stale ones of dead processes are removed, live ones kept")
    func staleTemps() throws {
        #expect(flexctlTempFilePID(".a.png.flexctl-tmp-123-abcDE9") == 123)
        #expect(flexctlTempFilePID(".x.flexctl-tmp-1.flexctl-tmp-77-zzzzzz") == 77)
        for name in ["a.flexctl-tmp-123-abcdef", ".a.flexctl-tmp-123-abcde", ".a.flexctl-tmp-x1-abcdef",
                     ".a.flexctl-tmp--abcdef", ".a.tmp-abcdef", ".a.flexctl-tmp-123-abc/ef", ".flexctl-tmp-12-abcdef"] {
            #expect(flexctlTempFilePID(name) == nil, "\(name)")
        }
        let dead = Process()
        dead.executableURL = URL(fileURLWithPath: "/bin/true")
        try dead.run()
        dead.waitUntilExit()
        let live = Process()
        live.executableURL = URL(fileURLWithPath: "/bin/sleep")
        live.arguments = ["60"]
        try live.run()
        defer { kill(live.processIdentifier, SIGKILL); live.waitUntilExit() }

        let dir = try TempDir()
        defer { dir.cleanup() }
        let staleName = ".a.png.flexctl-tmp-\(dead.processIdentifier)-abcdef"
        let liveName = ".b.png.flexctl-tmp-\(live.processIdentifier)-abcdef"
        let ownName = ".c.png.flexctl-tmp-\(getpid())-abcdef"
        let folderName = ".d.flexctl-tmp-\(dead.processIdentifier)-abcdef"
        for n in [staleName, liveName, ownName, "other.txt"] { try Data([1]).write(to: URL(fileURLWithPath: dir.file(n))) }
        try FileManager.default.createDirectory(atPath: dir.file(folderName), withIntermediateDirectories: false)
        #expect(removeStaleTempFiles(in: dir.path) == [staleName])
        #expect(dir.contents() == [liveName, ownName, folderName, "other.txt"].sorted())

        // The first write into a folder cleans it.
        let dir2 = try TempDir()
        defer { dir2.cleanup() }
        try Data([1]).write(to: URL(fileURLWithPath: dir2.file(staleName)))
        try Data([1]).write(to: URL(fileURLWithPath: dir2.file(liveName)))
        try writeFileAtomically(path: dir2.file("out"), bytes: [1], mode: .createNew)
        #expect(dir2.contents() == [liveName, "out"].sorted())
    }

    @Test("a full disk (a 64 KiB tmpfs): one message with 'No space left', nothing left, the old file kept")
    func fullDisk() throws {
        guard getuid() == 0 else {
            print("skipped: mounting a small tmpfs needs root; run the tests as root to check a full disk")
            return
        }
        let dir = try TempDir()
        defer { dir.cleanup() }
        let mount = dir.file("small")
        try FileManager.default.createDirectory(atPath: mount, withIntermediateDirectories: false)
        let mounted = Process()
        mounted.executableURL = URL(fileURLWithPath: "/bin/mount")
        mounted.arguments = ["-t", "tmpfs", "-o", "size=64k", "tmpfs", mount]
        try mounted.run()
        mounted.waitUntilExit()
        try #require(mounted.terminationStatus == 0, "cannot mount a tmpfs")
        defer {
            let u = Process()
            u.executableURL = URL(fileURLWithPath: "/bin/umount")
            u.arguments = [mount]
            try? u.run()
            u.waitUntilExit()
        }
        let big = [UInt8](repeating: 3, count: 1 << 20)
        for mode in [WriteMode.createNew, .replace] {
            let e = writeError { try writeFileAtomically(path: mount + "/big.bin", bytes: big, mode: mode) }
            #expect(e?.path == mount + "/big.bin")
            #expect(e?.reason == "write failed: No space left on device", "\(String(describing: e))")
            #expect(((try? FileManager.default.contentsOfDirectory(atPath: mount)) ?? ["?"]).isEmpty)
        }
        // Replacing an existing file on a full disk keeps the old file.
        try writeFileAtomically(path: mount + "/keep.bin", bytes: [1, 2, 3])
        #expect(writeError { try writeFileAtomically(path: mount + "/keep.bin", bytes: big) } != nil)
        #expect(try bytes(of: mount + "/keep.bin") == [1, 2, 3])
        #expect(try FileManager.default.contentsOfDirectory(atPath: mount) == ["keep.bin"])
    }
}
