/// A range asymmetric numeral system (rANS) coder with a 32-bit state, byte-wise renormalisation and 16-bit
/// precision, coding Int32 symbols with one ``CDFTable`` per symbol (e.g. per latent channel) and an escape for
/// values outside a table's range. Any Int32 round-trips.
///
/// Design: Duda's asymmetric numeral systems (arXiv:0902.0271, arXiv:1311.2540) in the configuration of Fabian
/// Giesen's public-domain ryg_rans "rans_byte" (https://github.com/rygorous/ryg_rans and his blog series
/// "rANS notes"): state x in [L, 256·L) with L = 2^23, bytes leave the bottom of the state before a symbol is
/// pushed so that it stays below 2^31, and the decoder refills bytes while x < L. CompressAI's rans_interface
/// (Bégaint et al. 2020), used for Ballé et al. 2018's factorized prior, codes with ryg_rans' 64-bit sibling
/// (rans64, 32-bit words) at the same 16-bit precision and escapes values outside the table via an overflow
/// symbol followed by bypass-coded 4-bit chunks; the escape code here is our own (an Elias-gamma code, below),
/// cheaper for values just outside the range, the common case. Written from the published descriptions, not
/// copied.
///
/// Byte format (docs/entropy-coding.md): rANS decodes in the reverse order of encoding, so the encoder walks
/// the symbols from last to first, collects the bytes it emits, appends the final state, and reverses the lot.
/// The stream is the final encoder state as 4 bytes, little-endian (the decoder's initial state), then the
/// renormalisation bytes in the order the decoder reads them. The decoder must end in the encoder's initial
/// state L with every byte consumed. That catches truncation, leftover bytes and most corruptions, but it is
/// not a checksum: after a corrupted byte the decoder can fall back onto the encoder's trajectory a few symbols
/// later, and escaped values' bypass bits are raw (measured: ~0.4% of single-byte corruptions pass; see
/// docs/entropy-coding.md). Containers carry a CRC.
///
/// Escape code, in decoding order, after the escape symbol (the table's last index): one bypass bit for the
/// side (0: above the range, 1: below), then the distance d ≥ 1 from the nearest end of the range (value =
/// max + d or min − d; d < 2^32) in Elias-gamma form: with n the bit length of d (1...32), n − 1 zero bits and
/// a terminating one bit (omitted when n = 32, so the run is bounded), then the n − 1 bits of d below its
/// leading one (high part first, in chunks of at most 16 bits). Bypass bits are equiprobable symbols coded
/// through the same state (frequency 1 at k bits of precision), so an escape costs its table frequency plus
/// 2n bits, and decoding it takes at most 35 rANS steps: bounded work per symbol on any input.
public enum RANS {
    /// The lower end of the normalised state interval, L = 2^23 (rans_byte's RANS_BYTE_L). The encoder starts
    /// in this state and the decoder must end in it.
    public static let initialState: UInt32 = 1 << 23
    /// The state's size in the stream.
    public static let stateBytes = 4

    /// The bypass bits an escaped value costs at `distance` (≥ 1) from the table's range: side bit, Elias-gamma
    /// prefix and suffix (the terminator is omitted at 32-bit distances).
    public static func escapeBypassBits(distance: UInt32) -> Int {
        let n = 32 - distance.leadingZeroBitCount
        return 1 + (n - 1) + (n < 32 ? 1 : 0) + (n - 1)
    }

    // MARK: - Encoding

    /// Encodes `symbols[j]` with `tables[tableIndices[j]]` for every j. Throws if the arrays differ in length or
    /// an index is out of range; every Int32 value is codable.
    public static func encode(_ symbols: [Int32], tableIndices: [Int32], tables: [CDFTable]) throws(EntropyError)
        -> [UInt8]
    {
        guard symbols.count == tableIndices.count else {
            throw .countMismatch(symbols: symbols.count, tableIndices: tableIndices.count)
        }
        let flat = FlatTables(tables)
        var encoder = Encoder(capacity: symbols.count / 2 + 64)
        var j = symbols.count - 1
        while j >= 0 {
            let t = Int(tableIndices[j])
            guard t >= 0, t < flat.count else {
                throw .tableIndexOutOfRange(symbolIndex: j, tableIndex: tableIndices[j], tableCount: flat.count)
            }
            let base = flat.base[t]
            let lo = flat.minSymbol[t]
            let hi = flat.maxSymbol[t]
            let v = Int(symbols[j])
            if v >= lo, v <= hi {
                let start = flat.cdf[base + v - lo]
                encoder.put(start: start, freq: flat.cdf[base + v - lo + 1] &- start)
            } else {
                // Pushed in the reverse of the decoding order (see the type's comment).
                let above = v > hi
                // 1 ... 2^32 - 1: both ends and v are Int32.
                let distance = UInt32(above ? v - hi : lo - v)
                let m = 31 - distance.leadingZeroBitCount  // bits below the leading one, 0...31
                let suffix = distance & ((1 << UInt32(m)) &- 1)
                if m > 16 {
                    encoder.putBits(suffix & 0xFFFF, count: 16)
                    encoder.putBits(suffix >> 16, count: m - 16)
                } else if m > 0 {
                    encoder.putBits(suffix, count: m)
                }
                if m < 31 { encoder.putBits(1, count: 1) }
                for _ in 0..<m { encoder.putBits(0, count: 1) }
                encoder.putBits(above ? 0 : 1, count: 1)
                let e = flat.escapeIndex[t]
                let start = flat.cdf[base + e]
                encoder.put(start: start, freq: flat.cdf[base + e + 1] &- start)
            }
            j -= 1
        }
        return encoder.finish()
    }

    /// The encoder's state and its bytes, in reverse order until `finish`.
    struct Encoder {
        var x: UInt32 = RANS.initialState
        var reversed: [UInt8] = []

        init(capacity: Int) { reversed.reserveCapacity(capacity) }

        /// Pushes a symbol with cumulative frequency `start` and frequency `freq` (≥ 1, < 2^16) out of 2^16.
        /// First emits bytes until x < 2^15 · freq, so that the new state x / freq · 2^16 + ... stays < 2^31
        /// (and ≥ 2^23, as the bytes removed were only those above L · 256 / 2^16 · freq).
        @inline(__always)
        mutating func put(start: UInt32, freq: UInt32) {
            let xMax = ((RANS.initialState >> CDFTable.precisionBits) << 8) &* freq
            while x >= xMax {
                reversed.append(UInt8(truncatingIfNeeded: x))
                x >>= 8
            }
            x = ((x / freq) << CDFTable.precisionBits) &+ (x % freq) &+ start
        }

        /// Pushes `count` (1...16) equiprobable bits: a symbol of frequency 1 at `count` bits of precision.
        @inline(__always)
        mutating func putBits(_ value: UInt32, count: Int) {
            let k = UInt32(count)
            let xMax = (RANS.initialState >> k) << 8
            while x >= xMax {
                reversed.append(UInt8(truncatingIfNeeded: x))
                x >>= 8
            }
            x = (x << k) | value
        }

        /// The stream: the final state (little-endian), then the emitted bytes in decoding order.
        mutating func finish() -> [UInt8] {
            reversed.append(UInt8(truncatingIfNeeded: x >> 24))
            reversed.append(UInt8(truncatingIfNeeded: x >> 16))
            reversed.append(UInt8(truncatingIfNeeded: x >> 8))
            reversed.append(UInt8(truncatingIfNeeded: x))
            reversed.reverse()
            return reversed
        }
    }

    // MARK: - Decoding

    /// Decodes `tableIndices.count` symbols, symbol j with `tables[tableIndices[j]]` — the same tables and
    /// indices the encoder used (they are not in the stream). Safe on hostile bytes: every read is checked, the
    /// work per symbol is bounded (one table search and at most 35 bypass steps, plus the bytes it consumes),
    /// and the output is exactly `tableIndices.count` values, which the caller bounds. Throws when the stream
    /// ends early, an escape decodes to a value outside Int32, bytes are left over, or the final state is not
    /// the encoder's initial one.
    public static func decode(_ bytes: [UInt8], tableIndices: [Int32], tables: [CDFTable]) throws(EntropyError)
        -> [Int32]
    {
        guard bytes.count >= stateBytes else { throw .streamTooShort(found: bytes.count, minimum: stateBytes) }
        var d = Decoder(bytes: bytes)
        guard d.x >= initialState, d.x < initialState << 8 else { throw .invalidInitialState(found: d.x) }
        let flat = FlatTables(tables)
        var out = [Int32](repeating: 0, count: tableIndices.count)
        for j in 0..<tableIndices.count {
            let t = Int(tableIndices[j])
            guard t >= 0, t < flat.count else {
                throw .tableIndexOutOfRange(symbolIndex: j, tableIndex: tableIndices[j], tableCount: flat.count)
            }
            let base = flat.base[t]
            let symbolCount = flat.escapeIndex[t] + 1
            // The symbol i with cdf[i] <= slot < cdf[i + 1]: binary search (cdf[0] = 0 <= slot < 2^16 = cdf[count]).
            let slot = d.x & (CDFTable.total - 1)
            var lo = 0
            var hi = symbolCount
            while hi - lo > 1 {
                let mid = (lo + hi) >> 1
                if flat.cdf[base + mid] <= slot { lo = mid } else { hi = mid }
            }
            let start = flat.cdf[base + lo]
            let freq = flat.cdf[base + lo + 1] &- start
            // freq ≤ 2^16 - 1 and x >> 16 < 2^15 (x < 2^31), slot - start < freq: no overflow, and x < 2^31 again.
            d.x = freq &* (d.x >> CDFTable.precisionBits) &+ (slot &- start)
            try d.refill(symbol: j)
            if lo != flat.escapeIndex[t] {
                out[j] = Int32(truncatingIfNeeded: flat.minSymbol[t] + lo)
                continue
            }
            let below = try d.getBits(1, symbol: j) == 1
            var m = 0
            while m < 31 {
                if try d.getBits(1, symbol: j) == 1 { break }
                m += 1
            }
            var suffix: UInt32 = 0
            if m > 16 {
                suffix = try d.getBits(m - 16, symbol: j) << 16
                suffix |= try d.getBits(16, symbol: j)
            } else if m > 0 {
                suffix = try d.getBits(m, symbol: j)
            }
            let distance = Int((UInt32(1) << UInt32(m)) | suffix)
            let value = below ? flat.minSymbol[t] - distance : flat.maxSymbol[t] + distance
            guard value >= Int(Int32.min), value <= Int(Int32.max) else {
                throw .escapeOutOfRange(symbolIndex: j, bytePosition: d.position)
            }
            out[j] = Int32(value)
        }
        guard d.x == initialState else {
            throw .corruptFinalState(expected: initialState, found: d.x, bytePosition: d.position)
        }
        guard d.position == bytes.count else {
            throw .trailingBytes(bytePosition: d.position, count: bytes.count - d.position)
        }
        return out
    }

    /// The decoder's state and read position. The state stays in [2^23, 2^31) after every refill.
    struct Decoder {
        let bytes: [UInt8]
        var x: UInt32
        var position: Int

        init(bytes: [UInt8]) {
            self.bytes = bytes
            x = UInt32(bytes[0]) | UInt32(bytes[1]) << 8 | UInt32(bytes[2]) << 16 | UInt32(bytes[3]) << 24
            position = RANS.stateBytes
        }

        /// Reads bytes while x < L. Before a step x ≥ 2^23, and a step leaves x ≥ freq · (x >> 16) ≥ 2^7 (or
        /// x >> k ≥ 2^7 for k ≤ 16 bypass bits), so this reads at most 3 bytes.
        @inline(__always)
        mutating func refill(symbol: Int) throws(EntropyError) {
            while x < RANS.initialState {
                guard position < bytes.count else { throw .streamTruncated(symbolIndex: symbol, bytePosition: position) }
                x = (x << 8) | UInt32(bytes[position])
                position += 1
            }
        }

        /// Pops `count` (1...16) equiprobable bits.
        @inline(__always)
        mutating func getBits(_ count: Int, symbol: Int) throws(EntropyError) -> UInt32 {
            let k = UInt32(count)
            let value = x & ((1 << k) &- 1)
            x >>= k
            try refill(symbol: symbol)
            return value
        }
    }
}

/// The tables' CDFs in one array with per-table bases, so the hot loops index flat arrays (no nested array
/// access per symbol). Built once per encode/decode call.
struct FlatTables {
    var cdf: [UInt32] = []
    var base: [Int] = []
    var minSymbol: [Int] = []
    var maxSymbol: [Int] = []
    var escapeIndex: [Int] = []
    var count: Int { base.count }

    init(_ tables: [CDFTable]) {
        cdf.reserveCapacity(tables.reduce(0) { $0 + $1.cdf.count })
        for t in tables {
            base.append(cdf.count)
            cdf.append(contentsOf: t.cdf)
            minSymbol.append(Int(t.minSymbol))
            maxSymbol.append(Int(t.maxSymbol))
            escapeIndex.append(t.escapeIndex)
        }
    }
}
