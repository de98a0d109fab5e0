// Timing of the factorized entropy model; built and run by scripts/bench-entropy-model.
// Reports wall time and process CPU time (all threads) per call: on a loaded machine the wall time says little,
// the CPU time divided by the cores available is what an idle machine would show.
import Dispatch
import FlexEntropyModel
import FlexRuntime
#if canImport(Glibc)
import Glibc
#endif

func cpuNanoseconds() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

var rng = SplitMix64(seed: 1)
let model = try EntropyBottleneck(channels: 192, rng: &rng)
var y = Tensor(shape: [8, 192, 16, 16])
for i in 0..<y.count { y.scalars[i] = rng.uniform(-15, 15) }
var sink = 0.0
var wall: [String: [Double]] = [:], cpu: [String: [Double]] = [:]
func time(_ name: String, _ body: () throws -> Double) rethrows {
    let w = DispatchTime.now().uptimeNanoseconds, c = cpuNanoseconds()
    sink += try body()
    wall[name, default: []].append(Double(DispatchTime.now().uptimeNanoseconds - w) / 1e6)
    cpu[name, default: []].append(Double(cpuNanoseconds() - c) / 1e6)
}
let names = ["forward (rate)", "forward + backward", "auxiliaryLoss", "channelPMFs"]
for _ in 0..<7 {
    try time(names[0]) { try model.rate(y).bits }
    try time(names[1]) { let (r, g) = try model.rateWithGradients(y); return r.bits + Double(g.latents.scalars[0]) }
    time(names[2]) { model.auxiliaryLoss().loss }
    try time(names[3]) { try model.channelPMFs()[0].tailMass }
}
func median(_ a: [Double]) -> Double { a.sorted()[a.count / 2] }
func f(_ x: Double) -> String { String(Double(Int(x * 10)) / 10) }
print("latents [8, 192, 16, 16] (\(y.count) values), 7 runs; median ms (wall, process CPU)")
for n in names {
    print("  \(n): wall \(f(median(wall[n]!))) (min \(f(wall[n]!.min()!))), CPU \(f(median(cpu[n]!)))")
}
print("checksum \(sink)")
