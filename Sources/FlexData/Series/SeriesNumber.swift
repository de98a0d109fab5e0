// Numbers as investing.com and plain CSV files write them, parsed from bytes.

enum SeriesNumber {
    /// Powers of ten exactly representable as Double (10^0 … 10^22).
    private static let exactPowers: [Double] = {
        var p: [Double] = [1]
        for _ in 1...22 { p.append(p[p.count - 1] * 10) }
        return p
    }()

    /// Parses `p` (the bytes of one field, without quotes or surrounding spaces). Grammar:
    ///
    ///     [+|-] digits-with-optional-thousands-commas [. digits] [e|E [+|-] digits] [K|M|B|T|%]
    ///
    /// where thousands separators must group exactly three digits (`7,542.44`, `12,345,678`; not `75,42`),
    /// at least one digit is required, and an exponent cannot be combined with K/M/B/T. K, M, B, T scale by
    /// 10^3, 10^6, 10^9, 10^12 (`1.23K` = 1230); `%` is dropped and the value stays in percent (`-0.52%` = −0.52).
    /// `inf`, `infinity`, `nan` (any case, with a sign) give non-finite values so callers can say so.
    /// The result is correctly rounded (Clinger's exact fast path, otherwise the standard library's parser).
    static func parse(_ p: UnsafeBufferPointer<UInt8>) -> Double? {
        let n = p.count
        guard n > 0 else { return nil }
        var k = 0
        var negative = false
        if p[0] == UInt8(ascii: "-") || p[0] == UInt8(ascii: "+") {
            negative = p[0] == UInt8(ascii: "-")
            k = 1
        }
        // Non-finite spellings.
        if k < n, p[k] | 0x20 == UInt8(ascii: "i") || p[k] | 0x20 == UInt8(ascii: "n") {
            // The longest spelling is "infinity": a longer word (a column name of a megabyte) is not one.
            guard n - k <= 8 else { return nil }
            var word = ""
            for c in p[k...] { word.unicodeScalars.append(Unicode.Scalar(c | 0x20)) }
            switch word {
            case "inf", "infinity": return negative ? -.infinity : .infinity
            case "nan": return .nan
            default: return nil
            }
        }
        var mantissa: UInt64 = 0
        var significant = 0         // digits accumulated into mantissa (after leading zeros)
        var overflow = false
        var decimalExponent = 0     // mantissa × 10^decimalExponent
        var intDigits = 0, fracDigits = 0
        var groupLength = 0, sawComma = false
        @inline(__always) func take(_ d: UInt8) {
            if significant < 19 {
                mantissa = mantissa &* 10 &+ UInt64(d)
                if mantissa != 0 { significant += 1 }
            } else {
                overflow = true
            }
        }
        while k < n {
            let c = p[k]
            let d = c &- 48
            if d < 10 {
                take(d)
                if overflow { decimalExponent += 1 }
                intDigits += 1
                groupLength += 1
                k += 1
            } else if c == UInt8(ascii: ",") {
                guard intDigits > 0, sawComma ? groupLength == 3 : groupLength <= 3 else { return nil }
                sawComma = true
                groupLength = 0
                k += 1
            } else {
                break
            }
        }
        if sawComma, groupLength != 3 { return nil }
        if k < n, p[k] == UInt8(ascii: ".") {
            k += 1
            while k < n {
                let d = p[k] &- 48
                guard d < 10 else { break }
                if !overflow {
                    take(d)
                    if !overflow { decimalExponent -= 1 }
                }
                fracDigits += 1
                k += 1
            }
        }
        guard intDigits + fracDigits > 0 else { return nil }
        var exponent = 0
        var hasExponent = false
        if k < n, p[k] | 0x20 == UInt8(ascii: "e") {
            hasExponent = true
            k += 1
            var expNegative = false
            if k < n, p[k] == UInt8(ascii: "-") || p[k] == UInt8(ascii: "+") {
                expNegative = p[k] == UInt8(ascii: "-")
                k += 1
            }
            var expDigits = 0
            while k < n, p[k] &- 48 < 10 {
                if exponent < 100_000 { exponent = exponent * 10 + Int(p[k] &- 48) }
                expDigits += 1
                k += 1
            }
            guard expDigits > 0 else { return nil }
            if expNegative { exponent = -exponent }
        }
        if k < n {
            let scale: Int
            switch p[k] {
            case UInt8(ascii: "K"): scale = 3
            case UInt8(ascii: "M"): scale = 6
            case UInt8(ascii: "B"): scale = 9
            case UInt8(ascii: "T"): scale = 12
            case UInt8(ascii: "%"): scale = 0
            default: return nil
            }
            guard !(hasExponent && scale > 0) else { return nil }
            exponent += scale
            k += 1
        }
        guard k == n else { return nil }
        // Clinger's fast path: an integer mantissa below 2^53 times an exact power of ten is correctly rounded.
        let e10 = decimalExponent + exponent
        if !overflow, mantissa <= 1 << 53, abs(e10) <= 22 {
            let m = Double(mantissa)
            let v = e10 < 0 ? m / exactPowers[-e10] : m * exactPowers[e10]
            return negative ? -v : v
        }
        // Otherwise rebuild the plain decimal text and let the standard library round it.
        var text = negative ? "-" : ""
        var digitsSeen = 0
        for c in p {
            if c &- 48 < 10 { text.unicodeScalars.append(Unicode.Scalar(c)); digitsSeen += 1 }
            if digitsSeen == intDigits + fracDigits { break }
            if c == UInt8(ascii: ".") { text += "." }
        }
        text += "e\(exponent)"
        return Double(text)
    }
}
