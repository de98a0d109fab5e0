#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// C's printf formatting of numbers (`cFormat("%.2f", x)`, `cFormat("%5d", n)`): flexctl's one number
/// formatter for fixed decimals, widths and scientific notation. Foundation's `String(format:)` would pull the
/// whole of Foundation (and ICU) into the binary for this; `vsnprintf` is in the C library, and in the "C"
/// locale (Swift programs never call `setlocale`) it always writes `.` as the decimal point.
///
/// Only numeric conversions (`d`, `u`, `x`, `f`, `e`, `g`, with flags, width and precision) are meant: Swift
/// strings are not C variadic arguments.
public func cFormat(_ format: String, _ arguments: CVarArg...) -> String {
    var capacity = 64
    while true {
        var buffer = [CChar](repeating: 0, count: capacity)
        // A va_list is used once: each attempt makes its own.
        let needed = withVaList(arguments) { va in
            buffer.withUnsafeMutableBufferPointer { Int(vsnprintf($0.baseAddress, capacity, format, va)) }
        }
        guard needed >= 0 else { return "?" }
        if needed < capacity {
            return String(decoding: buffer[..<needed].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
        capacity = needed + 1
    }
}
