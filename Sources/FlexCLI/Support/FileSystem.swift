#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

// The few file-system questions the commands ask, answered with POSIX calls (Foundation's FileManager is not
// linked into flexctl). Reading and writing files, and making folders, goes through FlexIO.

import FlexIO

/// What is at a path (symbolic links followed), or nil when nothing is (or it cannot be examined).
enum FileKind: Equatable {
    case regular, directory, other

    init?(path: String) {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        switch st.st_mode & S_IFMT {
        case S_IFREG: self = .regular
        case S_IFDIR: self = .directory
        default: self = .other
        }
    }
}

/// Whether `path` is a symbolic link (not followed).
func isSymbolicLink(_ path: String) -> Bool {
    var st = stat()
    return lstat(path, &st) == 0 && st.st_mode & S_IFMT == S_IFLNK
}

/// Whether `path` names a folder ("-", standard input or output, never does).
func isDirectory(_ path: String) -> Bool { path != "-" && FileKind(path: path) == .directory }

/// The text of the C library's message for `code` (`No such file or directory`).
func systemMessage(_ code: Int32) -> String { String(cString: strerror(code)) }

/// A failure to list a folder, with the system's reason.
struct DirectoryListError: Error {
    var code: Int32
    var reason: String { systemMessage(code) }
}

/// The names in a folder (without `.` and `..`), unsorted.
func directoryEntries(_ path: String) throws(DirectoryListError) -> [String] {
    guard let dir = opendir(path) else { throw DirectoryListError(code: errno) }
    defer { closedir(dir) }
    var names: [String] = []
    while let entry = readdir(dir) {
        let name = withUnsafePointer(to: entry.pointee.d_name) {
            $0.withMemoryRebound(to: CChar.self, capacity: MemoryLayout.size(ofValue: entry.pointee.d_name)) {
                String(cString: $0)
            }
        }
        if name != ".", name != ".." { names.append(name) }
    }
    return names
}

/// The current working folder.
func currentDirectory() -> String {
    guard let p = getcwd(nil, 0) else { return "." }
    defer { free(p) }
    return String(cString: p)
}

/// An environment variable, or nil.
func environmentValue(_ name: String) -> String? {
    guard let v = getenv(name) else { return nil }
    return String(cString: v)
}

/// The folder for temporary files: `$TMPDIR`, else `/tmp`.
func temporaryDirectory() -> String {
    if let t = environmentValue("TMPDIR"), !t.isEmpty { return t }
    return "/tmp"
}

/// The path of the running executable (`/proc/self/exe` on Linux), or nil where it cannot be found.
func executablePath() -> String? {
    var buffer = [CChar](repeating: 0, count: 4096)
    let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
    guard n > 0 else { return nil }
    return String(decoding: buffer[..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

/// Ends the process with `code` (C's `exit`: atexit handlers run, stdio is flushed). A function of its own because
/// inside a command's scope `exit` names ArgumentParser's `exit(withError:)`.
func exitProcess(_ code: Int32) -> Never { exit(code) }
