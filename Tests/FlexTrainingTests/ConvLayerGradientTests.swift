import FlexRuntime
import FlexTraining
import Testing

/// Finite-difference checks of Conv2d, ConvTranspose2d, MaxPool2d and Dense backward passes, on the
/// configurations the paper's CAEs use plus odd sizes.
@Suite struct ConvLayerGradientTests {
    @Test(arguments: [
        (1, 16, 3, 3, 1, 28), (16, 8, 3, 2, 1, 5), (3, 12, 4, 2, 1, 8), (2, 3, 3, 1, 0, 7), (2, 2, 2, 2, 1, 5),
    ])
    func conv2d(_ c: (Int, Int, Int, Int, Int, Int)) throws {
        var rng = SplitMix64(seed: 1)
        let layer = Conv2d(name: "conv", inputChannels: c.0, outputChannels: c.1, kernelSize: c.2,
                           stride: c.3, padding: c.4, rng: &rng)
        try checkLayerGradients(layer, input: randomTensor([2, c.0, c.5, c.5], seed: 2))
    }

    @Test(arguments: [
        (16, 8, 5, 3, 1, 0, 5), (8, 1, 2, 2, 1, 0, 15), (8, 16, 3, 2, 0, 0, 2), (4, 3, 4, 2, 1, 0, 4), (3, 2, 3, 2, 1, 1, 3),
    ])
    func convTranspose2d(_ c: (Int, Int, Int, Int, Int, Int, Int)) throws {
        var rng = SplitMix64(seed: 3)
        let layer = ConvTranspose2d(name: "convT", inputChannels: c.0, outputChannels: c.1, kernelSize: c.2,
                                    stride: c.3, padding: c.4, outputPadding: c.5, rng: &rng)
        try checkLayerGradients(layer, input: randomTensor([2, c.0, c.6, c.6], seed: 4))
    }

    @Test(arguments: [(2, 2, 10), (2, 1, 3), (3, 2, 7)])
    func maxPool2d(_ c: (Int, Int, Int)) throws {
        // A shuffled ramp: all values distinct and at least 4/count apart (> 2·eps), so no perturbation
        // changes a window's winner; the max is then linear and the differences exact.
        let layer = MaxPool2d(name: "pool", kernelSize: c.0, stride: c.1)
        let count = 2 * 3 * c.2 * c.2
        var rng = SplitMix64(seed: 5)
        var values = (0..<count).map { Float($0) * 4 / Float(count) - 2 }
        values.shuffle(using: &rng)
        try checkLayerGradients(layer, input: Tensor(shape: [2, 3, c.2, c.2], scalars: values), eps: 1e-3, tolerance: 1e-2)
    }

    @Test(arguments: [(16, 1, 3), (5, 3, 4), (20, 17, 2)])
    func dense(_ c: (Int, Int, Int)) throws {
        var rng = SplitMix64(seed: 6)
        let layer = Dense(name: "dense", inputFeatures: c.0, outputFeatures: c.1, rng: &rng)
        try checkLayerGradients(layer, input: randomTensor([c.2, c.0], seed: 8))
    }
}
