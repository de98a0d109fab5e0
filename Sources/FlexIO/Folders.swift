// Folders: whether a path exists, and making a folder with its missing parents (run folders, experiment
// folders, output folders), in one place for every target.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Whether something exists at `path` (a broken symbolic link counts: `lstat`).
public func pathExists(_ path: String) -> Bool {
    var st = stat()
    return lstat(path, &st) == 0
}

/// Creates `path` and any missing parent folders; returns the folders it made, outermost first. On a failure it
/// removes what it made and throws the failing folder and the system's reason.
@discardableResult
public func makeDirectories(_ path: String) throws(FileWriteError) -> [String] {
    var missing: [String] = []
    var p = path
    while !p.isEmpty, p != "/", !pathExists(p) {
        missing.insert(p, at: 0)
        p = parentPath(p)
    }
    var created: [String] = []
    for folder in missing {
        if mkdir(folder, 0o777) == 0 {
            created.append(folder)
        } else if errno != EEXIST {
            let reason = String(cString: strerror(errno))
            for made in created.reversed() { rmdir(made) }
            throw FileWriteError(path: folder, reason: reason)
        }
    }
    return created
}

/// `a/b/c` → `a/b`, `c` → `` (the current folder), `/c` → `/`.
public func parentPath(_ path: String) -> String {
    var p = Substring(path)
    while p.count > 1, p.last == "/" { p.removeLast() }
    guard let slash = p.lastIndex(of: "/") else { return "" }
    if slash == p.startIndex { return "/" }
    return String(p[..<slash])
}
