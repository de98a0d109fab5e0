import FlexRuntime

extension SplitMix64 {
    /// A uniform integer in 0..<n (Lemire's multiply-shift with rejection; n ≥ 1). A fixed algorithm, so the
    /// same state gives the same draws on every platform and Swift version (unlike `Int.random(in:using:)`,
    /// whose algorithm the standard library may change).
    public mutating func uniform(below n: Int) -> Int {
        precondition(n >= 1)
        let bound = UInt64(n)
        var m = next().multipliedFullWidth(by: bound)
        if m.low < bound {
            let threshold = (0 &- bound) % bound
            while m.low < threshold { m = next().multipliedFullWidth(by: bound) }
        }
        return Int(m.high)
    }

    /// A Fisher–Yates permutation of 0..<n.
    public mutating func permutation(_ n: Int) -> [Int] {
        var p = Array(0..<n)
        if n > 1 {
            for i in stride(from: n - 1, to: 0, by: -1) { p.swapAt(i, uniform(below: i + 1)) }
        }
        return p
    }
}
