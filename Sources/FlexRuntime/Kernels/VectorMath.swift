// Vectorised elementary functions for the activation kernels (and anyone else who needs exp/sigmoid/tanh on
// eight lanes at once, e.g. LSTM gates).
//
// The functions are C (Sources/CFlexKernels/kernels_body.h, "Elementary functions on 8 lanes", where the
// method and its accuracy are described): exp by Cody–Waite range reduction and the Cephes `expf` minimax
// polynomial, expm1 from the same reduction without cancellation near 0, sigmoid from e^−|x| so neither tail
// overflows, tanh from expm1(−2|x|). Inputs are clamped to [-87.3, 88.3] so that 2^n stays a normal float.
// Measured accuracy (ActivationKernelTests in Tests/FlexRuntimeTests/ActivationTests.swift, against
// double-precision exp; KernelPathTests for both compiled variants): exp's max relative error under 1 ulp on
// [-87, 88], asserted 1.5e-7 (exp, expm1, sigmoid) and 2.5e-7 (tanh).

import CFlexKernels

public enum VectorMath {
    public typealias V = SIMD8<Float>

    @inline(__always)
    static func apply(_ function: flexk_function, _ x: V) -> V {
        var input = x, output = V()
        withUnsafePointer(to: &input) { xp in
            withUnsafeMutablePointer(to: &output) { yp in
                xp.withMemoryRebound(to: Float.self, capacity: 8) { xf in
                    yp.withMemoryRebound(to: Float.self, capacity: 8) { yf in
                        flexk_vector_math(Int32(function.rawValue), xf, yf, 8)
                    }
                }
            }
        }
        return output
    }

    /// e^x on eight lanes.
    public static func exp(_ x: V) -> V { apply(FLEXK_EXP, x) }

    /// e^x − 1 on eight lanes, accurate near 0.
    public static func expm1(_ x: V) -> V { apply(FLEXK_EXPM1, x) }

    /// The logistic function 1/(1 + e^−x) on eight lanes.
    public static func sigmoid(_ x: V) -> V { apply(FLEXK_SIGMOID_FN, x) }

    /// tanh x on eight lanes, accurate near 0.
    public static func tanh(_ x: V) -> V { apply(FLEXK_TANH_FN, x) }
}
