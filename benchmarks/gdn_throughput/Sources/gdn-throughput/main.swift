import FlexRuntime
import FlexTraining

// Best of `repeats` timed runs after one warm-up, single thread (the layer does not split the batch itself).
let shape = [8, 128, 64, 64]
let repeats = 5
var rng = SplitMix64(seed: 1)
let x = Tensor(shape: shape, scalars: (0..<shape.reduce(1, *)).map { _ in rng.uniform(-2, 2) })
let g = Tensor(shape: shape, scalars: (0..<shape.reduce(1, *)).map { _ in rng.uniform(-1, 1) })
let pixels = Double(shape[0] * shape[2] * shape[3])
// Multiply-adds of the normaliser's matrix product per pass (C² per pixel); backward does two such products
// plus the recomputed normaliser.
let gemmFlops = 2 * pixels * Double(shape[1] * shape[1])

func best(_ body: () throws -> Void) rethrows -> Double {
    try body()
    var t = Double.infinity
    for _ in 0..<repeats {
        let start = MonotonicClock.seconds()
        try body()
        t = min(t, MonotonicClock.seconds(since: start))
    }
    return t
}

for inverse in [false, true] {
    let layer = GDN(name: "gdn", channels: shape[1], inverse: inverse)
    var output = Tensor.empty
    let workspace = Workspace()
    let forward = try best { try layer.forward(x, into: &output, workspace: workspace) }
    var cache = LayerCache()
    _ = try layer.forward(x, cache: &cache)
    let backward = best {
        var grads = layer.zeroGradients()
        _ = layer.backward(g, cache: cache, gradients: &grads, needsInputGradient: true)
    }
    let name = inverse ? "IGDN" : "GDN"
    func line(_ what: String, _ t: Double, _ products: Double) -> String {
        let ms = (t * 1e4).rounded() / 10
        let mpix = (pixels / t / 1e5).rounded() / 10
        let gflops = (products * gemmFlops / t / 1e8).rounded() / 10
        return "\(name) \(what) \(shape): \(ms) ms (\(mpix) Mpixel/s, \(gflops) GFLOP/s in the matrix products)"
    }
    print(line("forward ", forward, 1))
    print(line("backward", backward, 3))
}
