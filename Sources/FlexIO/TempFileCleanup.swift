// Temporary files never outlive flexctl: removed on every error path by the writer, on SIGINT/SIGTERM/SIGHUP
// by a signal handler, and — after a SIGKILL, a crash or a power loss — by the next flexctl that writes into
// the same folder (they carry the PID of the process that wrote them).
import CFlexSupport
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Installs handlers for SIGINT, SIGTERM and SIGHUP that remove every temporary file being written, then
/// restore the default action and re-raise the signal, so the process still ends as killed by it (exit status
/// 130, 143, 129 in a shell). Signals the parent set to be ignored (nohup) stay ignored. Call it at start-up,
/// and again to restore it after installing another handler (see `unlinkRegisteredTempFiles()`).
public func installTempFileCleanupOnSignals() {
    _ = flex_temp_install_signal_cleanup()
}

/// Removes every temporary file being written (unlink only; async-signal-safe). For signal handlers that
/// replace the one of `installTempFileCleanupOnSignals()`: call it before ending the process from the handler.
/// Writes in progress then fail (their temporary file is gone), so only call it when the process is ending.
public func unlinkRegisteredTempFiles() {
    flex_temp_unlink_all()
}

/// The PID in a temporary file name `.NAME.flexctl-tmp-PID-XXXXXX`, or nil if `name` is not one.
public func flexctlTempFilePID(_ name: String) -> Int32? {
    let bytes = Array(name.utf8), marker = Array(tempMarker.utf8)
    guard bytes.first == UInt8(ascii: "."), bytes.count > marker.count + 8 else { return nil }
    // The last occurrence of the marker (the destination's own name may contain it).
    var at = bytes.count - marker.count
    while at > 0, !bytes[at..<(at + marker.count)].elementsEqual(marker) { at -= 1 }
    guard at > 0 else { return nil }
    let rest = bytes[(at + marker.count)...]
    guard let dash = rest.firstIndex(of: UInt8(ascii: "-")) else { return nil }
    let digits = rest[..<dash], suffix = rest[(dash + 1)...]
    func isDigit(_ b: UInt8) -> Bool { b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9") }
    func isAlphanumeric(_ b: UInt8) -> Bool {
        isDigit(b) || (b >= UInt8(ascii: "a") && b <= UInt8(ascii: "z")) || (b >= UInt8(ascii: "A") && b <= UInt8(ascii: "Z"))
    }
    guard !digits.isEmpty, digits.count <= 10, digits.allSatisfy(isDigit),
          suffix.count == 6, suffix.allSatisfy(isAlphanumeric),
          let pid = Int32(String(decoding: digits, as: UTF8.self)), pid > 0 else { return nil }
    return pid
}

/// Removes the temporary files in `folder` left by flexctl processes that no longer run (their PID, taken
/// from the name, does not exist: `kill(pid, 0)` fails with ESRCH). Files of live processes — this one
/// included — and anything that is not a regular file are kept. Returns the names removed.
///
/// A PID is only meaningful on this machine and in this PID namespace: in a folder shared with another
/// machine or container, a temporary file of a run there can look stale. Removing it makes that run fail
/// with an error (its file cannot be moved into place); it never loses data.
@discardableResult
public func removeStaleTempFiles(in folder: String) -> [String] {
    guard let dir = opendir(folder) else { return [] }
    defer { closedir(dir) }
    let me = getpid()
    var removed: [String] = []
    while let entry = readdir(dir) {
        let name = withUnsafePointer(to: &entry.pointee.d_name) { pointer in
            pointer.withMemoryRebound(to: CChar.self, capacity: MemoryLayout.size(ofValue: entry.pointee.d_name)) {
                String(cString: $0)
            }
        }
        guard let pid = flexctlTempFilePID(name), pid != me else { continue }
        guard kill(pid, 0) != 0, errno == ESRCH else { continue }
        let path = (folder.hasSuffix("/") ? folder : folder + "/") + name
        var st = stat()
        guard lstat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { continue }
        if unlink(path) == 0 { removed.append(name) }
    }
    return removed
}

/// Folders already cleaned by this process (a folder job writes thousands of files into one folder: one scan).
private let cleanedFolders = Mutex<Set<String>>([])

func removeStaleTempFilesOnce(in folder: String) {
    let first = cleanedFolders.withLock { $0.insert(folder).inserted }
    if first { removeStaleTempFiles(in: folder) }
}
