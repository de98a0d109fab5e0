import FlexEntropy
import FlexEntropyModel
import FlexRuntime

extension TrainableCodec {
    /// The codec as an inference checkpoint (task `image-codec`, docs/checkpoint-format.md): the analysis and
    /// synthesis layers as one layer list (`layers.0` … `layers.6` analysis, then the synthesis), the
    /// entropy model exported to integer CDF tables (one per latent channel: the density's probability mass
    /// of each integer offset from the channel's median, quantised to 16 bits, with the mass outside the
    /// learned quantiles as the escape), and the float density parameters for fine-tuning.
    public func checkpoint(lambda: Double, provenance: Provenance? = nil) throws -> Checkpoint {
        let specs = architecture.analysis + architecture.synthesis
        let s = CodecArchitecture.stride
        let whole = try Sequential(specs: specs, inputShape: [architecture.imageChannels, s, s])
        let layers = analysis.layers + synthesis.layers
        for (target, source) in zip(whole.layers, layers) { target.parameters = source.parameters }
        let tables = try bottleneck.exportTables { _, pmf in
            try CDFTable(quantizing: pmf.pmf, minSymbol: Int32(pmf.minimum), tailMass: pmf.tailMass)
        }
        let coding = EntropyCodingTables(medians: bottleneck.medians, tables: tables)
        let density = zip(bottleneck.parameterNames, bottleneck.parameters).map { (name: $0, tensor: $1) }
        return Checkpoint(model: whole, task: .imageCodec, input: .codec(CodecInputSpec(architecture, lambda: lambda)),
                          provenance: provenance, entropyTables: coding, entropyDensity: density)
    }
}

extension TrainableCodec {
    /// The parameters of a codec checkpoint (`image-codec` with its density parameters, as `export` writes
    /// them) in `namedParameters` order, for starting a training from a shipped model: the checkpoint's
    /// architecture must be this codec's, layer for layer.
    public static func parameters(of checkpoint: Checkpoint, for architecture: CodecArchitecture, file: String) throws
        -> [(name: String, tensor: Tensor)] {
        func fail(_ m: String) -> ConfigurationError { ConfigurationError("\(file): \(m)") }
        guard checkpoint.task == .imageCodec, case let .codec(spec) = checkpoint.input else {
            throw fail("its task is \(checkpoint.task.rawValue); --init-from needs a learned codec (image-codec) or a codec run folder")
        }
        let expected = architecture.analysis + architecture.synthesis
        guard checkpoint.architecture == expected, spec.analysisLayers == architecture.analysis.count else {
            throw fail("its codec is not N=\(architecture.channels), M=\(architecture.latentChannels), \(architecture.nonlinearity) (the layers differ)")
        }
        guard !checkpoint.entropyDensity.isEmpty else {
            throw fail("the checkpoint has no density parameters (/entropy_model/density), so the entropy model cannot be trained further")
        }
        let split = architecture.analysis.count
        var out: [(name: String, tensor: Tensor)] = []
        for (name, tensor) in checkpoint.parameters {
            // `layers.I.NAME` → analysis.layers.I.NAME or synthesis.layers.(I − split).NAME.
            let parts = name.split(separator: ".", maxSplits: 2)
            guard parts.count == 3, parts[0] == "layers", let i = Int(parts[1]) else { throw fail("unexpected parameter \(name)") }
            out.append((i < split ? "analysis.layers.\(i).\(parts[2])" : "synthesis.layers.\(i - split).\(parts[2])", tensor))
        }
        out += checkpoint.entropyDensity.map { (name: "entropy.\($0.name)", tensor: $0.tensor) }
        return out
    }
}
