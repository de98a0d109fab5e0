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
