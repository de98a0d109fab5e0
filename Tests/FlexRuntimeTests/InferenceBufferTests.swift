import Dispatch
import FlexRuntime
import Synchronization
import Testing

// Buffered forward passes (`Workspace`, `forward(_:into:workspace:)`, the sessions' `…(_:into:)` calls):
// results bit-identical to the allocating path, and no buffer growth once warmed up.

private func noise(_ shape: [Int], seed: UInt64, range: ClosedRange<Float> = -1...1) -> Tensor {
    var rng = SplitMix64(seed: seed)
    return Tensor(shape: shape, scalars: (0..<shape.reduce(1, *)).map { _ in rng.uniform(range.lowerBound, range.upperBound) })
}

/// Moves every activation's α and β off their initial values (α on the simplex rows, β in [0.5, 1.5]).
private func perturbActivations(_ model: Sequential, seed: UInt64) {
    var rng = SplitMix64(seed: seed)
    for layer in model.layers {
        guard let act = layer as? Activation else { continue }
        perturb(act, &rng)
    }
}

private func perturb(_ act: Activation, _ rng: inout SplitMix64) {
    if let i = act.alphaIndex {
        let w = act.function.alphaWidth
        var a = act.parameters[i].scalars
        if w == 1 {
            a = a.map { _ in rng.uniform(0, 1) }
        } else {
            for u in 0..<act.units {
                let row = (0..<w).map { _ in rng.uniform(0.1, 1) }
                let sum = row.reduce(0, +)
                for j in 0..<w { a[u * w + j] = row[j] / sum }
            }
        }
        act.parameters[i].scalars = a
    }
    if let i = act.betaIndex {
        act.parameters[i].scalars = act.parameters[i].scalars.map { _ in rng.uniform(0.5, 1.5) }
    }
}

/// A tensor of `shape` full of NaN: a buffer whose stale contents must all be overwritten.
private func garbage(_ shape: [Int]) -> Tensor { Tensor(shape: shape, repeating: .nan) }

/// Dirties scratch slots 0–4 of `ws` with NaN so that a layer reading stale scratch would show.
private func dirty(_ ws: Workspace) {
    for slot in 0..<5 { ws.scratch(slot, count: 4096).update(repeating: .nan, count: 4096) }
}

/// Bitwise equality (NaN-safe, distinguishes −0 from +0).
private func identical(_ a: Tensor, _ b: Tensor) -> Bool {
    a.shape == b.shape && zip(a.scalars, b.scalars).allSatisfy { $0.bitPattern == $1.bitPattern }
}

private func cae(_ name: String, member: String = "p-e2-relu", seed: UInt64 = 5) throws -> Sequential {
    let model = try Sequential(specs: Architecture.named(name, activation: .member(member)),
                               inputShape: Architecture.inputShape(of: name)!, seed: seed)
    perturbActivations(model, seed: seed &+ 1)
    return model
}

private func forecaster(features: Int = 3, targets: Int = 3, seed: UInt64 = 3) throws -> Sequential {
    let specs = Architecture.lstmForecaster(features: features, hidden: 5, layers: 2, targets: targets,
                                            gate: try .member("p-sig-ramp"), cell: try .member("p-tanh-ramp"))
    let model = try Sequential(specs: specs, inputShape: [6, features], seed: seed)
    var rng = SplitMix64(seed: seed &+ 1)
    for layer in model.layers {
        guard let lstm = layer as? LSTM else { continue }
        for (i, name) in lstm.parameterNames.enumerated() where name.contains("beta") || name.contains("alpha") {
            lstm.parameters[i].scalars = lstm.parameters[i].scalars.map { _ in rng.uniform(0.2, 1) }
        }
    }
    return model
}

@Suite("inference buffers: layers")
struct WorkspaceLayerTests {
    /// Runs `layer` for several batch sizes (changing and repeated) through one workspace and one output
    /// tensor, both dirty, and compares each result with a fresh allocating forward pass.
    private func check(_ layer: any Layer, perSample: [Int], batches: [Int] = [3, 1, 8, 8, 5, 8], seed: UInt64) throws {
        let ws = Workspace()
        var out = Tensor.empty
        for (k, n) in batches.enumerated() {
            let x = noise([n] + perSample, seed: seed &+ UInt64(k))
            let expected = try layer.forward(x)
            dirty(ws)
            if out.shape == expected.shape { out = garbage(out.shape) }
            try layer.forward(x, into: &out, workspace: ws)
            #expect(identical(out, expected), "\(layer.label) batch \(n)")
            var fresh = garbage(expected.shape)
            try layer.forward(x, into: &fresh, workspace: Workspace())
            #expect(identical(fresh, expected), "\(layer.label) batch \(n), output of the right shape")
        }
    }

    @Test("Conv2d, ConvTranspose2d, MaxPool2d, Dense: into a reused output and workspace = allocating forward")
    func kernels() throws {
        var rng = SplitMix64(seed: 1)
        try check(Conv2d(inputChannels: 3, outputChannels: 5, kernelSize: 3, stride: 2, padding: 1, rng: &rng),
                  perSample: [3, 11, 9], seed: 10)
        try check(Conv2d(inputChannels: 1, outputChannels: 16, kernelSize: 3, stride: 3, padding: 1, rng: &rng),
                  perSample: [1, 28, 28], batches: [128, 7, 128], seed: 11)
        try check(ConvTranspose2d(inputChannels: 4, outputChannels: 3, kernelSize: 3, stride: 2, padding: 1,
                                  outputPadding: 1, rng: &rng), perSample: [4, 5, 6], seed: 12)
        try check(ConvTranspose2d(inputChannels: 8, outputChannels: 16, kernelSize: 3, stride: 2, rng: &rng),
                  perSample: [8, 2, 2], batches: [128, 3, 128], seed: 13)
        try check(MaxPool2d(kernelSize: 2, stride: 2), perSample: [3, 7, 8], seed: 14)
        try check(MaxPool2d(kernelSize: 3, stride: 1), perSample: [2, 5, 5], seed: 15)
        try check(Dense(inputFeatures: 7, outputFeatures: 5, rng: &rng), perSample: [7], seed: 16)
    }

    @Test("Activation: every member, out of place and in place, = allocating forward", arguments: ActivationFunction.memberNames)
    func activations(member: String) throws {
        var rng = SplitMix64(seed: 2)
        let act = Activation(name: "act", function: try .member(member), units: 3)
        perturb(act, &rng)
        try check(act, perSample: [3, 5, 7], seed: 20)
        try check(act, perSample: [3], seed: 21)
        let ws = Workspace()
        for n in [4, 1, 4] {
            let x = noise([n, 3, 40, 30], seed: 22, range: -3...3)  // 1,200 elements per sample: several blocks
            var y = x
            dirty(ws)
            try act.forward(inPlace: &y, workspace: ws)
            #expect(identical(y, try act.forward(x)), "\(member) in place, batch \(n)")
        }
    }

    @Test("LSTM: the trace-free pass through a workspace = the recording pass")
    func lstm() throws {
        var rng = SplitMix64(seed: 3)
        for layers in [1, 3] {
            let lstm = LSTM(inputSize: 4, hiddenSize: 6, numLayers: layers, gate: try .member("p-sig-ramp"),
                            cell: try .member("p-e2-id"), rng: &rng)
            for (i, name) in lstm.parameterNames.enumerated() where name.contains("beta") {
                lstm.parameters[i].scalars = lstm.parameters[i].scalars.map { _ in rng.uniform(0.5, 1.5) }
            }
            let ws = Workspace()
            var out = Tensor.empty
            for (k, n) in [5, 2, 5, 9].enumerated() {
                let x = noise([n, 7, 4], seed: 30 &+ UInt64(k))
                let expected = try lstm.forwardRecording(x).output
                dirty(ws)
                try lstm.forward(x, into: &out, workspace: ws)
                #expect(identical(out, expected), "layers \(layers), batch \(n)")
                #expect(identical(try lstm.forward(x), expected))
            }
        }
    }

    @Test("shape errors are the same as the allocating forward's")
    func errors() throws {
        var rng = SplitMix64(seed: 4)
        let layers: [(any Layer, Tensor)] = [
            (Conv2d(inputChannels: 2, outputChannels: 3, kernelSize: 3, rng: &rng), Tensor(shape: [1, 3, 5, 5])),
            (ConvTranspose2d(inputChannels: 2, outputChannels: 3, kernelSize: 3, rng: &rng), Tensor(shape: [1, 2, 5])),
            (MaxPool2d(kernelSize: 3, stride: 1), Tensor(shape: [1, 2, 2, 2])),
            (Dense(inputFeatures: 3, outputFeatures: 2, rng: &rng), Tensor(shape: [2, 4])),
            (Activation(name: "a", function: try .member("relu"), units: 3), Tensor(shape: [2, 4])),
        ]
        for (layer, x) in layers {
            var thrown: ShapeMismatch?
            do { _ = try layer.forward(x) } catch { thrown = error }
            #expect(thrown != nil)
            var out = Tensor.empty
            #expect(throws: thrown!) { try layer.forward(x, into: &out, workspace: Workspace()) }
        }
    }
}

@Suite("inference buffers: models and sessions")
struct WorkspaceModelTests {
    @Test("CAE1/2/3: forward into workspaces (1 and 2 threads, several batch sizes) = allocating forward",
          arguments: Architecture.caeNames)
    func caes(name: String) throws {
        let model = try cae(name)
        let single = Workspace(), pair = [Workspace(), Workspace()]
        var a = Tensor.empty, b = Tensor.empty
        for (k, n) in [1, 7, 2, 7, 16, 7].enumerated() {
            let x = noise([n] + model.inputShape, seed: 40 &+ UInt64(k))
            let expected = try model.forward(x)
            try model.forward(x, into: &a, workspace: single)
            try model.forward(x, into: &b, workspaces: pair)
            #expect(identical(a, expected), "\(name) batch \(n), 1 workspace")
            #expect(identical(b, expected), "\(name) batch \(n), 2 workspaces")
            #expect(identical(try model.forward(x, threads: 2), expected))
        }
    }

    @Test("forecaster: forward into workspaces = allocating forward")
    func forecasterModel() throws {
        let model = try forecaster()
        let single = Workspace(), pair = [Workspace(), Workspace()]
        var a = Tensor.empty, b = Tensor.empty
        for (k, n) in [4, 1, 4, 11].enumerated() {
            let x = noise([n, 6, 3], seed: 50 &+ UInt64(k))
            let expected = try model.forward(x)
            try model.forward(x, into: &a, workspace: single)
            try model.forward(x, into: &b, workspaces: pair)
            #expect(identical(a, expected) && identical(b, expected), "batch \(n)")
        }
    }

    @Test("a model input of the wrong shape throws the model's mismatch; nothing is written")
    func modelInputError() throws {
        let model = try cae("cae1")
        var out = Tensor.empty
        #expect(throws: ShapeMismatch(layer: "model input", expected: "[N, 1, 28, 28]", found: [2, 1, 28, 27])) {
            try model.forward(Tensor(shape: [2, 1, 28, 27]), into: &out, workspaces: [Workspace(), Workspace()])
        }
        #expect(out.shape == [0])
    }

    @Test("image sessions: encode/decode/reconstruct into buffers = the model's forward, threads 1 and 2",
          arguments: Architecture.caeNames)
    func imageSessions(name: String) throws {
        let model = try cae(name)
        let spec = ImageInputSpec(channels: model.inputShape[0], height: model.inputShape[1], width: model.inputShape[2],
                                  pixelScaling: .minusOneToOne, encoderLayers: Architecture.encoderLayerCount[name]!)
        let checkpoint = Checkpoint(model: model, task: .imageAutoencoder, input: .image(spec))
        let split = spec.encoderLayers
        for threads in [1, 2] {
            let session = try ImageCodecSession(checkpoint: checkpoint, threads: threads)
            var codes = Tensor.empty, images = Tensor.empty, whole = Tensor.empty
            for (k, n) in [3, 1, 3, 8].enumerated() {
                let x = noise([n] + model.inputShape, seed: 60 &+ UInt64(k))
                try session.encode(x, into: &codes)
                try session.decode(codes, into: &images)
                try session.reconstruct(x, into: &whole)
                #expect(identical(codes, try model.forward(x, layers: 0..<split)), "\(name) threads \(threads) batch \(n)")
                #expect(identical(images, try model.forward(x)))
                #expect(identical(whole, images))
                let returnedCodes = try session.encode(x), returnedImages = try session.decode(codes)
                #expect(identical(returnedCodes, codes) && identical(returnedImages, images))
            }
        }
    }

    @Test("forecast sessions: predict/forecast into buffers = the model step by step, threads 1 and 2")
    func forecastSessions() throws {
        let model = try forecaster()
        let names = ["a", "b", "c"]
        let spec = SeriesInputSpec(features: names, targets: names, window: 6, horizon: 1, transform: .returns,
                                   normalization: Normalization(mean: [0, 0, 0], std: [1, 1, 1]))
        let checkpoint = Checkpoint(model: model, task: .forecaster, input: .series(spec))
        for threads in [1, 2] {
            let session = try ForecastSession(checkpoint: checkpoint, threads: threads)
            var p = Tensor.empty, f = Tensor.empty
            for (k, n) in [3, 1, 3, 5].enumerated() {
                let x = noise([n, 6, 3], seed: 70 &+ UInt64(k))
                try session.predict(x, into: &p)
                #expect(identical(p, try model.forward(x)), "threads \(threads) batch \(n)")
                try session.forecast(windows: x, steps: 4, into: &f)
                #expect(identical(f, try session.forecast(windows: x, steps: 4)))
                var window = x
                for s in 0..<4 {
                    let y = try model.forward(window)
                    for i in 0..<n {
                        #expect(Array(f.scalars[(i * 4 + s) * 3 ..< (i * 4 + s + 1) * 3]) == Array(y.scalars[i * 3 ..< (i + 1) * 3]))
                    }
                    var next = [Float]()
                    for i in 0..<n {
                        next.append(contentsOf: window.scalars[(i * 18 + 3) ..< (i + 1) * 18])
                        next.append(contentsOf: y.scalars[i * 3 ..< (i + 1) * 3])
                    }
                    window = Tensor(shape: [n, 6, 3], scalars: next)
                }
            }
        }
    }

    @Test("after a warm-up call, repeated encode/decode of the same batch size allocate no buffers")
    func imageSessionAllocatesOnce() throws {
        let model = try cae("cae2")
        let spec = ImageInputSpec(channels: 1, height: 28, width: 28, pixelScaling: .minusOneToOne, encoderLayers: 6)
        let checkpoint = Checkpoint(model: model, task: .imageAutoencoder, input: .image(spec))
        for threads in [1, 2] {
            let session = try ImageCodecSession(checkpoint: checkpoint, threads: threads)
            let x = noise([32, 1, 28, 28], seed: 80)
            var codes = Tensor.empty, images = Tensor.empty
            try session.encode(x, into: &codes)
            try session.decode(codes, into: &images)
            let warm = session.bufferAllocations
            #expect(warm > 0)
            let codeStorage = codes.scalars.withUnsafeBufferPointer { $0.baseAddress }
            let imageStorage = images.scalars.withUnsafeBufferPointer { $0.baseAddress }
            for _ in 0..<5 {
                try session.encode(x, into: &codes)
                try session.decode(codes, into: &images)
            }
            #expect(session.bufferAllocations == warm, "threads \(threads)")
            #expect(codes.scalars.withUnsafeBufferPointer { $0.baseAddress } == codeStorage)
            #expect(images.scalars.withUnsafeBufferPointer { $0.baseAddress } == imageStorage)
            // The returning calls reuse the same session buffers: each allocates only its result.
            _ = try session.decode(try session.encode(x))
            #expect(session.bufferAllocations == warm + 2)
            try session.reconstruct(x, into: &images)  // warms the whole model's own slots
            let warmAll = session.bufferAllocations
            _ = try session.reconstruct(x)
            #expect(session.bufferAllocations == warmAll + 1)
            try session.reconstruct(x, into: &images)
            try session.encode(x, into: &codes)
            #expect(session.bufferAllocations == warmAll + 1)
            // A result the caller still shares is copied on the next write into it (counted).
            let kept = codes
            try session.encode(x, into: &codes)
            #expect(session.bufferAllocations == warmAll + 2)
            #expect(identical(kept, codes))
            // A new batch size grows the buffers once, then they are stable again.
            let before = session.bufferAllocations
            let small = noise([5, 1, 28, 28], seed: 81)
            try session.encode(small, into: &codes)
            let grown = session.bufferAllocations
            #expect(grown > before)
            for _ in 0..<3 { try session.encode(small, into: &codes) }
            #expect(session.bufferAllocations == grown)
        }
    }

    @Test("after a warm-up call, repeated predictions and forecasts allocate no buffers")
    func forecastSessionAllocatesOnce() throws {
        let model = try forecaster()
        let names = ["a", "b", "c"]
        let spec = SeriesInputSpec(features: names, targets: names, window: 6, horizon: 1, transform: .returns,
                                   normalization: Normalization(mean: [0, 0, 0], std: [1, 1, 1]))
        let session = try ForecastSession(checkpoint: Checkpoint(model: model, task: .forecaster, input: .series(spec)),
                                          threads: 2)
        let x = noise([10, 6, 3], seed: 90)
        var p = Tensor.empty, f = Tensor.empty
        try session.predict(x, into: &p)
        try session.forecast(windows: x, steps: 3, into: &f)
        let warm = session.bufferAllocations
        for _ in 0..<5 {
            try session.predict(x, into: &p)
            try session.forecast(windows: x, steps: 3, into: &f)
        }
        #expect(session.bufferAllocations == warm)
    }

    @Test("a workspace reused by a model does not grow after the first call")
    func workspaceStable() throws {
        let model = try cae("cae3")
        let ws = Workspace()
        var y = Tensor.empty
        let x = noise([6, 3, 32, 32], seed: 95)
        try model.forward(x, into: &y, workspace: ws)
        let (allocations, capacity) = (ws.allocations, ws.scratchCapacity)
        for _ in 0..<4 { try model.forward(x, into: &y, workspace: ws) }
        #expect(ws.allocations == allocations && ws.scratchCapacity == capacity)
    }

    @Test("a session used from several threads at once gives the same results")
    func concurrentCalls() throws {
        let model = try cae("cae2")
        let spec = ImageInputSpec(channels: 1, height: 28, width: 28, pixelScaling: .minusOneToOne, encoderLayers: 6)
        let session = try ImageCodecSession(checkpoint: Checkpoint(model: model, task: .imageAutoencoder, input: .image(spec)),
                                            threads: 2)
        let inputs = (0..<6).map { noise([4, 1, 28, 28], seed: 100 &+ UInt64($0)) }
        let expected = try inputs.map { try model.forward($0) }
        let results = Mutex<[Tensor?]>(Array(repeating: nil, count: inputs.count))
        DispatchQueue.concurrentPerform(iterations: inputs.count) { i in
            let y = try? session.reconstruct(inputs[i])
            results.withLock { $0[i] = y }
        }
        let got = results.withLock { $0 }
        for i in inputs.indices { #expect(got[i].map { identical($0, expected[i]) } == true, "call \(i)") }
    }
}
