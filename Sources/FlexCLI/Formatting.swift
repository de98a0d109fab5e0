import FlexRuntime

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Number formatting shared by the commands.
enum NumberText {
    /// Shortest text that reads back as the same Double (`0.5`, `-4`, `1e-05`); integral values print
    /// without `.0`. Non-finite values print as `nan`, `inf`, `-inf`.
    static func exact(_ v: Double) -> String {
        if v.isNaN { return "nan" }
        if v.isInfinite { return v < 0 ? "-inf" : "inf" }
        if v == v.rounded(), abs(v) < 1e15 { return String(Int64(v)) }
        return "\(v)"
    }

    /// Up to 12 significant digits, for messages (`1.3`, not `1.2999999999999998`).
    static func short(_ v: Double) -> String {
        guard v.isFinite else { return exact(v) }
        let s = cFormat("%.12g", v)
        return s == "-0" ? "0" : s
    }

    /// Fixed `digits` decimals (`-0.00` shown as `0.00`); non-finite values as `nan`, `inf`, `-inf`.
    static func fixed(_ v: Double, _ digits: Int) -> String {
        guard v.isFinite else { return exact(v) }
        let s = cFormat("%.*f", Int32(digits), v)
        return s.hasPrefix("-") && s.dropFirst().allSatisfy({ $0 == "0" || $0 == "." }) ? String(s.dropFirst()) : s
    }

    /// Fixed six decimals for tables (`-0.000000` shown as `0.000000`); scientific for very large or
    /// very small non-zero magnitudes.
    static func table(_ v: Double) -> String {
        if !v.isFinite { return exact(v) }
        if v != 0, abs(v) >= 1e7 || abs(v) < 1e-6 { return cFormat("%.5e", v) }
        let s = cFormat("%.6f", v)
        return s == "-0.000000" ? "0.000000" : s
    }
}

/// A CSV field, quoted when it holds a comma, quote or line break.
func csvField(_ s: String) -> String {
    // Scalars, not Characters: "\r\n" is one Character, equal to neither "\r" nor "\n".
    guard s.unicodeScalars.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return s }
    var out = "\""
    for c in s {
        if c == "\"" { out += "\"\"" } else { out.append(c) }
    }
    return out + "\""
}

/// `s` safe to print on a terminal: control characters (C0, DEL, C1 — e.g. ESC starting a colour or cursor
/// sequence) taken from a file are shown escaped (`\u001B`) instead of being interpreted, so a crafted file
/// cannot rewrite the screen or fake lines of output. `keepNewlines` keeps line feeds (multi-line reports).
func terminalSafe(_ s: String, keepNewlines: Bool = false) -> String {
    guard s.unicodeScalars.contains(where: { isControl($0) && !(keepNewlines && $0 == "\n") }) else { return s }
    var out = String.UnicodeScalarView()
    for u in s.unicodeScalars {
        if isControl(u) && !(keepNewlines && u == "\n") {
            // JSON's escape form (\u001B; a surrogate pair above U+FFFF), so JSON output stays valid JSON
            // with the same content, and text output stays readable.
            func hex4(_ v: UInt32) -> String {
                let h = String(v, radix: 16, uppercase: true)
                return "\\u" + String(repeating: "0", count: 4 - h.count) + h
            }
            let escaped = u.value > 0xFFFF
                ? hex4(0xD800 + ((u.value - 0x10000) >> 10)) + hex4(0xDC00 + ((u.value - 0x10000) & 0x3FF))
                : hex4(u.value)
            out.append(contentsOf: escaped.unicodeScalars)
        } else {
            out.append(u)
        }
    }
    return String(out)
}

/// C0 controls but tab, DEL, C1 controls, and the invisible format characters that reorder or hide text
/// (zero-width and bidirectional marks and overrides, line and paragraph separators, BOM, tag characters).
func isControl(_ u: Unicode.Scalar) -> Bool {
    switch u.value {
    case 0x09: false
    case 0x00...0x1F, 0x7F...0x9F: true
    case 0x200B...0x200F, 0x2028...0x202E, 0x2060...0x206F, 0xFEFF, 0xE0000...0xE007F: true
    default: false
    }
}

/// Writes text to standard output without buffering surprises, terminal-safe: every text flexctl prints may
/// quote a file (series and model names, provenance), so control characters are shown escaped. (Binary output,
/// `decompress -o -`, goes through `writeStream` untouched.)
func writeStandardOutput(_ text: String) {
    writeStream(STDOUT_FILENO, Array(terminalSafe(text, keepNewlines: true).utf8))
}

/// Writes all of `bytes` to a file descriptor (1 or 2). If standard output cannot be written (a full disk,
/// a reader that went away: `flexctl ... | head`), the command stops with one message on standard error and
/// exit code 1, instead of a trap or SIGPIPE killing the process without a word
/// (`Flexctl.main` ignores SIGPIPE, so a closed pipe arrives here as EPIPE). Errors writing standard error
/// itself are ignored: there is nowhere left to report them.
func writeStream(_ fd: Int32, _ bytes: [UInt8]) {
    var written = 0
    bytes.withUnsafeBytes { raw in
        while written < raw.count {
            let n = write(fd, raw.baseAddress! + written, raw.count - written)
            if n < 0 {
                if errno == EINTR { continue }
                let code = errno
                if fd != STDERR_FILENO { standardOutputFailed(code) }
                return
            }
            written += n
        }
    }
}

/// Reports a failed write to standard output (errno `code`) and ends the process with exit code 1 (`exitNow`:
/// with `_exit`, for callers already inside `exit`'s handlers).
func standardOutputFailed(_ code: Int32, exitNow: Bool = false) -> Never {
    let reason = code == EPIPE
        ? "standard output was closed before everything was written (broken pipe)"
        : "cannot write to standard output: \(String(cString: strerror(code)))"
    let m = "Error: \(reason)\n"
    _ = m.utf8CString.withUnsafeBufferPointer { write(STDERR_FILENO, $0.baseAddress, $0.count - 1) }
    if exitNow { _exit(1) }
    exit(1)
}
