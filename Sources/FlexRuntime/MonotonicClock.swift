// The one clock of flexctl for measuring durations (training epochs, benchmarks, compression timings,
// progress rates): CLOCK_MONOTONIC, which never jumps with the wall clock (NTP, the user setting the date).
// Calendar timestamps (a run's creation time) are not durations and use the wall clock where they are made.
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Monotonic time for measuring durations.
public enum MonotonicClock {
    /// Nanoseconds since an arbitrary fixed point (the system's boot on Linux).
    public static func nanoseconds() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
    }

    /// Seconds since the same fixed point as `nanoseconds()`.
    public static func seconds() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
    }

    /// Seconds elapsed since `start` (a `seconds()` reading).
    public static func seconds(since start: Double) -> Double { seconds() - start }
}
