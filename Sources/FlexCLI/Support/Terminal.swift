#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Columns of the terminal that standard error shows on: its window size (`TIOCGWINSZ`), else `$COLUMNS`, else
/// 80. Progress lines are cut to fit, so that a narrow terminal never wraps them into a new line per redraw.
func terminalColumns() -> Int {
    var size = winsize()
    if ioctl(STDERR_FILENO, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 { return Int(size.ws_col) }
    if let c = environmentValue("COLUMNS").flatMap({ Int($0) }), c > 0 { return c }
    return 80
}

/// Whether standard error is a terminal (progress lines are drawn only then).
func standardErrorIsTerminal() -> Bool { isatty(STDERR_FILENO) == 1 }

/// A progress line that fits in `columns - 1` characters (the last column is left free: some terminals wrap as
/// soon as it is written): `head`, then a bar of `#` and `.` between 10 and 30 characters wide when there is
/// room, then `tail`; the parts of `tail` that do not fit are left out from the end.
func progressLine(head: String, fraction: Double, tail: [String], columns: Int) -> String {
    let limit = max(20, columns - 1)
    var parts = tail
    func text(bar: Int) -> String {
        let filled = max(0, min(bar, Int((fraction * Double(bar)).rounded(.down))))
        let barText = bar > 0 ? " [" + String(repeating: "#", count: filled) + String(repeating: ".", count: bar - filled) + "]" : ""
        return ([head + barText] + parts).joined(separator: "  ")
    }
    while true {
        let without = text(bar: 0).count
        let room = limit - without - 3
        if room >= 10 { return text(bar: min(30, room)) }
        if parts.isEmpty { return String(text(bar: 0).prefix(limit)) }
        parts.removeLast()
    }
}
