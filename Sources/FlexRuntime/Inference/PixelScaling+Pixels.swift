extension PixelScaling {
    /// The model-scale value of an 8-bit pixel p: p/127.5 − 1 (`minus_one_to_one`) or p/255 (`zero_to_one`).
    @inlinable
    public func modelValue(pixel p: UInt8) -> Float {
        switch self {
        case .minusOneToOne: Float(p) / 127.5 - 1
        case .zeroToOne: Float(p) / 255
        }
    }

    /// The nearest 8-bit pixel of a model-scale value (the inverse of `modelValue(pixel:)`), clamped to
    /// 0...255; NaN maps to 0.
    @inlinable
    public func pixel(modelValue x: Float) -> UInt8 {
        let p: Float = switch self {
        case .minusOneToOne: (x + 1) * 127.5
        case .zeroToOne: x * 255
        }
        guard p == p else { return 0 }
        return UInt8(min(max(p.rounded(), 0), 255))
    }

    /// The model-scale interval pixels map to: [−1, 1] or [0, 1].
    public var modelRange: ClosedRange<Float> {
        switch self {
        case .minusOneToOne: -1...1
        case .zeroToOne: 0...1
        }
    }
}

/// ITU-R BT.601 luma of 8-bit R, G, B: round(0.299 R + 0.587 G + 0.114 B), halves up, in exact integer
/// arithmetic (so gray stays gray). The one RGB → gray rule of the data loaders and the image codec.
@inlinable
public func bt601Luma(_ r: UInt8, _ g: UInt8, _ b: UInt8) -> UInt8 {
    let weighted: Int = 299 * Int(r) + 587 * Int(g) + 114 * Int(b)
    return UInt8(truncatingIfNeeded: (weighted + 500) / 1000)
}
