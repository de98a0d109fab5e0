import FlexRuntime
import Foundation

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
        let s = String(format: "%.12g", v)
        return s == "-0" ? "0" : s
    }

    /// A JSON number, or `null` for NaN and infinities (JSON has no such numbers).
    static func json(_ v: Double) -> String {
        v.isFinite ? exact(v) : "null"
    }

    /// Fixed six decimals for tables (`-0.000000` shown as `0.000000`); scientific for very large or
    /// very small non-zero magnitudes.
    static func table(_ v: Double) -> String {
        if !v.isFinite { return exact(v) }
        if v != 0, abs(v) >= 1e7 || abs(v) < 1e-6 { return String(format: "%.5e", v) }
        let s = String(format: "%.6f", v)
        return s == "-0.000000" ? "0.000000" : s
    }
}

/// Text for a JSON string literal.
func jsonString(_ s: String) -> String { JSONText.string(s) }

/// A CSV field, quoted when it holds a comma, quote or line break.
func csvField(_ s: String) -> String {
    guard s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return s }
    return "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\""
}

/// `s` safe to print on a terminal: control characters (C0, DEL, C1 — e.g. ESC starting a colour or cursor
/// sequence) taken from a file are shown escaped (`\u{1B}`) instead of being interpreted, so a crafted file
/// cannot rewrite the screen or fake lines of output. `keepNewlines` keeps line feeds (multi-line reports).
func terminalSafe(_ s: String, keepNewlines: Bool = false) -> String {
    guard s.unicodeScalars.contains(where: { isControl($0) && !(keepNewlines && $0 == "\n") }) else { return s }
    var out = String.UnicodeScalarView()
    for u in s.unicodeScalars {
        if isControl(u) && !(keepNewlines && u == "\n") {
            out.append(contentsOf: "\\u{\(String(u.value, radix: 16, uppercase: true))}".unicodeScalars)
        } else {
            out.append(u)
        }
    }
    return String(out)
}

private func isControl(_ u: Unicode.Scalar) -> Bool {
    u.value < 0x20 && u != "\t" || (0x7F...0x9F).contains(u.value) || u.value == 0x202E || u.value == 0x2066 || u.value == 0x2067
        || u.value == 0x2068 || u.value == 0x202D
}

/// Writes text to standard output without buffering surprises.
func writeStandardOutput(_ text: String) {
    writeStream(STDOUT_FILENO, Array(text.utf8))
}

/// Writes all of `bytes` to a file descriptor (1 or 2). If standard output cannot be written (a full disk,
/// a reader that went away: `flexctl ... | head`), the command stops with one message on standard error and
/// exit code 1, instead of Foundation's FileHandle trapping or SIGPIPE killing the process without a word
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
