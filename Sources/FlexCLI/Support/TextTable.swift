/// flexctl's one text-table renderer: a header row, a dashed rule, columns separated by two spaces, chosen
/// columns right-aligned, no trailing spaces; an empty row prints as an empty line. Cells are made
/// terminal-safe (they may quote names from files) before they are measured, so escapes never shift columns.
enum TextTable {
    /// The table's lines (without line breaks), each prefixed with `indent`.
    static func render(_ rows: [[String]], right: Set<Int>, indent: String = "") -> [String] {
        guard !rows.isEmpty else { return [] }
        let safe = rows.map { $0.map { terminalSafe($0) } }
        let columns = safe.map(\.count).max() ?? 0
        var widths = [Int](repeating: 0, count: columns)
        for r in safe {
            for (i, cell) in r.enumerated() { widths[i] = max(widths[i], cell.count) }
        }
        var out = [line(safe[0], widths: widths, right: right, indent: indent),
                   indent + widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ")]
        for r in safe.dropFirst() { out.append(r.isEmpty ? "" : line(r, widths: widths, right: right, indent: indent)) }
        return out
    }

    /// One row with the given column widths (cells wider than their column push the rest right). Tables printed
    /// row by row as results arrive (`bench`) use this with widths fixed in advance.
    static func line(_ cells: [String], widths: [Int], right: Set<Int>, indent: String = "") -> String {
        var parts: [String] = []
        for (i, w) in widths.enumerated() {
            let cell = i < cells.count ? terminalSafe(cells[i]) : ""
            let pad = String(repeating: " ", count: max(0, w - cell.count))
            parts.append(right.contains(i) ? pad + cell : cell + pad)
        }
        var s = indent + parts.joined(separator: "  ")
        while s.last == " " { s.removeLast() }
        return s
    }
}
