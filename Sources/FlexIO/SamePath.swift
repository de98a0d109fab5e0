// Whether two paths name the same file, for the checks that an output is neither an input nor another output
// (the CLI's outputs, a checkpoint written over the file it was read from). Comparing the strings is not enough: `same.png`, `./same.png` and `dir/../same.png`
// are one file, and so are two names of one existing file (a hard link, a symbolic link).

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// True when `a` and `b` name the same file: both exist and have the same device and inode (after following
/// symbolic links), or their normalised absolute forms are equal (`.` and `..` resolved, duplicate slashes
/// dropped, relative paths taken from the current folder; the containing folder resolved with `realpath` when
/// it exists). "-" (standard input or output) is never a file.
public func sameFile(_ a: String, _ b: String) -> Bool {
    if a == "-" || b == "-" { return a == b }
    if a == b { return true }
    var sa = stat(), sb = stat()
    if stat(a, &sa) == 0, stat(b, &sb) == 0 {
        return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino
    }
    return resolvedPath(a) == resolvedPath(b)
}

/// `path` made absolute and normalised (see `normalizedPath`), its folder resolved through symbolic links when
/// that folder exists, so `link/x` and `target/x` compare equal for a file not created yet.
public func resolvedPath(_ path: String) -> String {
    let normal = normalizedPath(path)
    guard let slash = normal.lastIndex(of: "/") else { return normal }
    let folder = slash == normal.startIndex ? "/" : String(normal[..<slash])
    let name = normal[normal.index(after: slash)...]
    guard let r = realpath(folder, nil) else { return normal }
    defer { free(r) }
    let real = String(cString: r)
    return real == "/" ? "/" + name : real + "/" + name
}

/// `path` as an absolute path without `.`, `..` or empty components, relative paths taken from the current
/// folder. Purely textual (`..` after a symbolic link is resolved textually).
public func normalizedPath(_ path: String) -> String {
    let absolute = path.hasPrefix("/") ? path : currentDirectory() + "/" + path
    var parts: [Substring] = []
    for part in absolute.split(separator: "/", omittingEmptySubsequences: true) {
        switch part {
        case ".": continue
        case "..": if !parts.isEmpty { parts.removeLast() }
        default: parts.append(part)
        }
    }
    return "/" + parts.joined(separator: "/")
}

/// The current folder (getcwd), "." if it cannot be found.
func currentDirectory() -> String {
    guard let p = getcwd(nil, 0) else { return "." }
    defer { free(p) }
    return String(cString: p)
}
