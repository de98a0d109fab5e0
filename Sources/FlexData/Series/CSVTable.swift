// A strict, byte-level CSV tokenizer for the series readers: one pass over the file's bytes, fields as byte
// ranges (no String per field), any line ending (CRLF, LF or bare CR), quoted fields as RFC 4180.

import FlexIO

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// One field of a CSV record: bytes `start..<end` of the file (without the quotes of a quoted field).
struct CSVField {
    var start: Int
    var end: Int
    /// The field was enclosed in double quotes.
    var quoted: Bool
    /// The quoted field contains `""` (an escaped quote), so its text is not the plain byte range.
    var escapedQuote: Bool
}

/// A tokenized CSV file: records (non-empty lines) of fields, stored flat.
struct CSVTable {
    /// The file's bytes (including any byte-order mark).
    var bytes: [UInt8]
    /// Every record's fields, one record after the other.
    var fields: [CSVField] = []
    /// Record r has fields `fields[recordStart[r]..<recordStart[r + 1]]`.
    var recordStart: [Int] = [0]
    /// The 1-based line on which each record starts (the header is line 1 unless blank lines precede it).
    var recordLine: [Int] = []

    var recordCount: Int { recordLine.count }

    func fieldCount(_ record: Int) -> Int { recordStart[record + 1] - recordStart[record] }

    func field(_ record: Int, _ column: Int) -> CSVField { fields[recordStart[record] + column] }

    /// The text of a field (`""` unescaped), for names and messages. One pass over the field's bytes.
    func text(_ f: CSVField) -> String {
        guard f.escapedQuote else { return String(decoding: bytes[f.start..<f.end], as: UTF8.self) }
        var out: [UInt8] = []
        out.reserveCapacity(f.end - f.start)
        var k = f.start
        while k < f.end {
            out.append(bytes[k])
            // Inside a quoted field every quote is doubled: keep one of the two.
            k += bytes[k] == CSVReader.quote ? 2 : 1
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The text of a field for an error message: quoted and shortened by `MessageText.quoted` (only the
    /// field's first bytes are decoded, so a huge field costs nothing).
    func quotedForMessage(_ f: CSVField) -> String {
        let prefixEnd = min(f.end, f.start + 4 * (MessageText.maximumCharacters + 1))
        var shown = CSVField(start: f.start, end: prefixEnd, quoted: f.quoted, escapedQuote: f.escapedQuote)
        // Never cut a doubled quote in half (the unescaping steps over pairs).
        if f.escapedQuote, prefixEnd < f.end, bytes[prefixEnd - 1] == CSVReader.quote {
            var q = 0
            var k = prefixEnd - 1
            while k >= f.start, bytes[k] == CSVReader.quote { q += 1; k -= 1 }
            if q % 2 == 1 { shown.end -= 1 }
        }
        return MessageText.quoted(text(shown), truncated: prefixEnd < f.end)
    }
}

/// File content quoted in error messages: a file may come from anyone, so what it says is shown short (at most
/// `maximumCharacters` characters, then `…`) and with control characters escaped (`\n`, `\t`, `\u{1B}`), so
/// a message can neither echo a whole file nor drive the terminal. Every message of the series readers that
/// quotes a file's content (a field, a column name) goes through here.
public enum MessageText {
    /// Characters of file content quoted in one place of a message.
    public static let maximumCharacters = 60

    /// `text` between single quotes, shortened and escaped as above; `truncated` says `text` is already only a
    /// prefix of the content (so `…` is due even if it is short).
    public static func quoted(_ text: some StringProtocol, truncated: Bool = false) -> String {
        "'" + shortened(text, truncated: truncated) + "'"
    }

    /// `text` shortened and escaped as above, without quotes.
    public static func shortened(_ text: some StringProtocol, truncated: Bool = false) -> String {
        var out = ""
        var count = 0
        var cut = truncated
        for scalar in text.unicodeScalars {
            if count == maximumCharacters { cut = true; break }
            count += 1
            switch scalar {
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value) || scalar.value == 0x2028 || scalar.value == 0x2029 {
                    out += "\\u{" + String(scalar.value, radix: 16, uppercase: true) + "}"
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return cut ? out + "…" : out
    }

    /// Column names for a message: each shortened (and quoted with `quote`), at most `maximumNames` of them,
    /// then how many there are.
    public static func list(_ names: [String], quote: Bool = true, maximumNames: Int = 10) -> String {
        joined(names.prefix(maximumNames).map { quote ? quoted($0) : shortened($0) }, count: names.count)
    }

    /// Items already made safe for a message (e.g. a quoted name and a date range), comma-separated, the
    /// first `maximumItems` of `count` (`items.count` by default), then how many there are.
    public static func joined(_ items: [String], count: Int? = nil, maximumItems: Int = 10) -> String {
        let total = count ?? items.count
        let shown = items.prefix(maximumItems).joined(separator: ", ")
        return total > min(maximumItems, items.count) ? shown + ", … (\(total) in all)" : shown
    }
}

enum CSVReader {
    static let quote = UInt8(ascii: "\""), comma = UInt8(ascii: ","), cr = UInt8(ascii: "\r"),
               lf = UInt8(ascii: "\n"), space = UInt8(ascii: " "), tab = UInt8(ascii: "\t")

    /// Reads the whole file at `path` with `readRegularFile`: a FIFO, device or folder is refused at once, as is
    /// a file over `maxBytes`.
    static func readFile(_ path: String, maxBytes: Int) throws(DataError) -> [UInt8] {
        do { return try readRegularFile(path, maxBytes: maxBytes) } catch { throw DataError(file: path, message: error.reason) }
    }

    /// Checks that `bytes` can be CSV text: not empty, not compressed, not UTF-16, no NUL byte, valid UTF-8.
    /// Returns the offset after a UTF-8 byte-order mark (0 without one).
    static func checkText(_ bytes: [UInt8], file: String) throws(DataError) -> Int {
        if bytes.isEmpty { throw DataError(file: file, message: "the file is empty (0 bytes); expected a CSV file with a header line") }
        if bytes.count >= 2, bytes[0] == 0x1F, bytes[1] == 0x8B {
            throw DataError(file: file, message: "is gzip-compressed; expected a CSV text file (decompress it first, e.g. with gunzip)")
        }
        if bytes.count >= 4, bytes[0] == 0x50, bytes[1] == 0x4B, bytes[2] == 3, bytes[3] == 4 {
            throw DataError(file: file, message: "is a ZIP archive (or a spreadsheet); expected a CSV text file (export or unzip it as CSV first)")
        }
        if bytes.count >= 2, (bytes[0] == 0xFF && bytes[1] == 0xFE) || (bytes[0] == 0xFE && bytes[1] == 0xFF) {
            throw DataError(file: file, message: "is UTF-16 text (byte-order mark \(hex(bytes[0])) \(hex(bytes[1]))); expected UTF-8 (save it as UTF-8 CSV)")
        }
        let bom = bytes.count >= 3 && bytes[0] == 0xEF && bytes[1] == 0xBB && bytes[2] == 0xBF ? 3 : 0
        let problem: (offset: Int, nul: Bool)? = bytes.withUnsafeBufferPointer { p in
            if let z = memchr(p.baseAddress!, 0, p.count) {
                return (UnsafeRawPointer(z) - UnsafeRawPointer(p.baseAddress!), true)
            }
            if let bad = firstInvalidUTF8(p) { return (bad, false) }
            return nil
        }
        if let problem {
            let line = lineNumber(of: problem.offset, in: bytes, from: bom)
            if problem.nul {
                throw DataError(file: file, position: "byte \(problem.offset)",
                                message: "not a text file: found a NUL byte (0x00, binary data) on line \(line); expected a CSV text file")
            }
            throw DataError(file: file, position: "line \(line)",
                            message: "not UTF-8 text: invalid byte \(hex(bytes[problem.offset])) at byte \(problem.offset); expected a UTF-8 CSV file")
        }
        if bom == bytes.count {
            throw DataError(file: file, message: "the file is empty (only a UTF-8 byte-order mark); expected a CSV file with a header line")
        }
        return bom
    }

    static func hex(_ b: UInt8) -> String {
        let digits = Array("0123456789ABCDEF")
        return "0x" + String(digits[Int(b >> 4)]) + String(digits[Int(b & 15)])
    }

    /// The 1-based line holding byte `offset` (CRLF, LF and bare CR each end a line).
    static func lineNumber(of offset: Int, in bytes: [UInt8], from start: Int) -> Int {
        var line = 1, i = start
        while i < offset {
            if bytes[i] == lf { line += 1 } else if bytes[i] == cr {
                line += 1
                if i + 1 < bytes.count, bytes[i + 1] == lf { i += 1 }
            }
            i += 1
        }
        return line
    }

    /// The offset of the first byte that is not part of well-formed UTF-8 (RFC 3629: no overlong forms, no
    /// surrogates, nothing above U+10FFFF), or nil.
    static func firstInvalidUTF8(_ p: UnsafeBufferPointer<UInt8>) -> Int? {
        let n = p.count
        var i = 0
        while i < n {
            // ASCII fast path, 8 bytes at a time.
            while i + 8 <= n {
                let w = UnsafeRawPointer(p.baseAddress! + i).loadUnaligned(as: UInt64.self)
                if w & 0x8080_8080_8080_8080 != 0 { break }
                i += 8
            }
            guard i < n else { break }
            let b = p[i]
            if b < 0x80 { i += 1; continue }
            @inline(__always) func cont(_ k: Int) -> Bool { k < n && p[k] & 0xC0 == 0x80 }
            if b >= 0xC2 && b <= 0xDF {
                guard cont(i + 1) else { return i }
                i += 2
            } else if b >= 0xE0 && b <= 0xEF {
                guard cont(i + 1), cont(i + 2) else { return i }
                let b1 = p[i + 1]
                if b == 0xE0 && b1 < 0xA0 { return i }     // overlong
                if b == 0xED && b1 >= 0xA0 { return i }    // surrogate
                i += 3
            } else if b >= 0xF0 && b <= 0xF4 {
                guard cont(i + 1), cont(i + 2), cont(i + 3) else { return i }
                let b1 = p[i + 1]
                if b == 0xF0 && b1 < 0x90 { return i }     // overlong
                if b == 0xF4 && b1 >= 0x90 { return i }    // above U+10FFFF
                i += 4
            } else {
                return i
            }
        }
        return nil
    }

    /// Splits `bytes` (from `start`, after any byte-order mark) into records and fields. Empty lines are skipped;
    /// spaces and tabs around unquoted fields and around the quotes of quoted fields are dropped. A quoted field
    /// may hold commas, line breaks and `""`; a quote inside an unquoted field, text after a closing quote and a
    /// quote that is never closed are errors.
    ///
    /// A record longer than `maximumRecordBytes` is an error found while scanning it (a line of a few hundred MB
    /// would otherwise become one huge field, header or number), and so is a record after `maximumRecords` (the
    /// header and the data rows), before its fields are stored, and a field after `maximumFields` in all (each
    /// field is stored as 24 bytes: 256 MiB of commas would otherwise need 6 GB).
    static func tokenize(_ bytes: [UInt8], start: Int, file: String,
                         maximumRecordBytes: Int = SeriesFile.maximumLineBytes,
                         maximumRecords: Int = SeriesFile.maximumRows + 1,
                         maximumFields: Int = SeriesFile.maximumFields) throws(DataError) -> CSVTable {
        var table = CSVTable(bytes: bytes)
        let outcome: DataError? = bytes.withUnsafeBufferPointer { p -> DataError? in
            let n = p.count
            var i = start
            var line = 1
            // A guess for ordinary files, capped: the arrays still grow as needed, but a big file of few fields
            // (long lines) does not reserve memory it never uses.
            table.fields.reserveCapacity(min(n / 8, 1 << 20))
            table.recordLine.reserveCapacity(min(n / 40, 1 << 18))
            table.recordStart.reserveCapacity(min(n / 40, 1 << 18))
            /// Index after the line break at `k` (CRLF counts once).
            @inline(__always) func afterBreak(_ k: Int) -> Int {
                p[k] == cr && k + 1 < n && p[k + 1] == lf ? k + 2 : k + 1
            }
            while i < n {
                if p[i] == cr || p[i] == lf {   // an empty line
                    i = afterBreak(i)
                    line += 1
                    continue
                }
                let recordLine = line
                if table.recordLine.count == maximumRecords {
                    return DataError(file: file, position: "line \(recordLine)",
                                     message: "the file has more than \(maximumRecords - 1) data rows; at most \(maximumRecords - 1) are read")
                }
                // Scanning stops at `limit`: reaching it inside the record means the record is too long.
                let limit = min(n, i + maximumRecordBytes + 1)
                func tooLong() -> DataError {
                    DataError(file: file, position: "line \(recordLine)",
                              message: "the line is longer than \(maximumRecordBytes) bytes (the limit for one line, or one record with quoted line breaks); expected a CSV file of short lines")
                }
                var column = 1
                while true {
                    if table.fields.count == maximumFields {
                        return DataError(file: file, position: "line \(line)",
                                         message: "the file has more than \(maximumFields) fields (rows × columns); at most \(maximumFields) are read")
                    }
                    var j = i
                    while j < limit, p[j] == space || p[j] == tab { j += 1 }
                    if j == limit, limit < n { return tooLong() }
                    if j < n, p[j] == quote {
                        let openLine = line
                        j += 1
                        let s = j
                        var escaped = false
                        while true {
                            if j >= limit, limit < n { return tooLong() }
                            guard j < n else {
                                return DataError(file: file, position: "line \(openLine)",
                                                 message: "field \(column): the quote opened here is never closed")
                            }
                            let c = p[j]
                            if c == quote {
                                if j + 1 < n, p[j + 1] == quote { escaped = true; j += 2; continue }
                                break
                            }
                            if c == lf || c == cr {
                                j = afterBreak(j)
                                line += 1
                                continue
                            }
                            j += 1
                        }
                        let e = j
                        j += 1
                        while j < limit, p[j] == space || p[j] == tab { j += 1 }
                        if j == limit, limit < n { return tooLong() }
                        if j < n, p[j] != comma, p[j] != cr, p[j] != lf {
                            return DataError(file: file, position: "line \(line)",
                                             message: "field \(column): unexpected \(describe(p[j])) after the closing quote; expected a comma or the end of the line")
                        }
                        table.fields.append(CSVField(start: s, end: e, quoted: true, escapedQuote: escaped))
                    } else {
                        let s = j
                        while j < limit {
                            let c = p[j]
                            if c == comma || c == cr || c == lf { break }
                            if c == quote {
                                return DataError(file: file, position: "line \(line)",
                                                 message: "field \(column): a quote inside an unquoted field; quote the whole field (\"...\") and double any quote in it")
                            }
                            j += 1
                        }
                        if j == limit, limit < n { return tooLong() }
                        var e = j
                        while e > s, p[e - 1] == space || p[e - 1] == tab { e -= 1 }
                        table.fields.append(CSVField(start: s, end: e, quoted: false, escapedQuote: false))
                    }
                    if j < n, p[j] == comma {
                        i = j + 1
                        column += 1
                        continue
                    }
                    // End of the record: a line break or the end of the file.
                    if j < n {
                        i = afterBreak(j)
                        line += 1
                    } else {
                        i = n
                    }
                    break
                }
                table.recordLine.append(recordLine)
                table.recordStart.append(table.fields.count)
            }
            return nil
        }
        if let outcome { throw outcome }
        return table
    }

    static func describe(_ b: UInt8) -> String {
        b >= 0x21 && b < 0x7F ? "character '\(Character(Unicode.Scalar(b)))'" : "byte \(hex(b))"
    }
}
