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

    /// The text of a field (`""` unescaped), for names and messages.
    func text(_ f: CSVField) -> String {
        let s = String(decoding: bytes[f.start..<f.end], as: UTF8.self)
        return f.escapedQuote ? s.replacingAll("\"\"", with: "\"") : s
    }

    /// The text of a field for an error message: quoted, shortened to 40 characters.
    func quotedForMessage(_ f: CSVField) -> String {
        let t = text(f)
        return t.count > 40 ? "'" + t.prefix(40) + "…'" : "'" + t + "'"
    }
}

extension String {
    /// `self` with every occurrence of `target` replaced (no Foundation).
    fileprivate func replacingAll(_ target: String, with replacement: String) -> String {
        var out = ""
        var rest = Substring(self)
        while let r = rest.firstRange(of: target) {
            out += rest[..<r.lowerBound]
            out += replacement
            rest = rest[r.upperBound...]
        }
        return out + rest
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
    static func tokenize(_ bytes: [UInt8], start: Int, file: String) throws(DataError) -> CSVTable {
        var table = CSVTable(bytes: bytes)
        let outcome: DataError? = bytes.withUnsafeBufferPointer { p -> DataError? in
            let n = p.count
            var i = start
            var line = 1
            table.fields.reserveCapacity(n / 8)
            table.recordLine.reserveCapacity(n / 40)
            table.recordStart.reserveCapacity(n / 40)
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
                var column = 1
                while true {
                    var j = i
                    while j < n, p[j] == space || p[j] == tab { j += 1 }
                    if j < n, p[j] == quote {
                        let openLine = line
                        j += 1
                        let s = j
                        var escaped = false
                        while true {
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
                        while j < n, p[j] == space || p[j] == tab { j += 1 }
                        if j < n, p[j] != comma, p[j] != cr, p[j] != lf {
                            return DataError(file: file, position: "line \(line)",
                                             message: "field \(column): unexpected \(describe(p[j])) after the closing quote; expected a comma or the end of the line")
                        }
                        table.fields.append(CSVField(start: s, end: e, quoted: true, escapedQuote: escaped))
                    } else {
                        let s = j
                        while j < n {
                            let c = p[j]
                            if c == comma || c == cr || c == lf { break }
                            if c == quote {
                                return DataError(file: file, position: "line \(line)",
                                                 message: "field \(column): a quote inside an unquoted field; quote the whole field (\"...\") and double any quote in it")
                            }
                            j += 1
                        }
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
