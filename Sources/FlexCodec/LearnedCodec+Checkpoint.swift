import FlexRuntime

extension LearnedCodec {
    /// The codec of an `image-codec` checkpoint: its first `analysis_layers` layers are the analysis
    /// transform, the rest the synthesis; the tables and medians come from `/entropy_model`; `.flexz` files
    /// record the checkpoint's fingerprint.
    public convenience init(checkpoint: Checkpoint, file: String, bandPixels: Int = LearnedCodec.defaultBandPixels) throws(CodecError) {
        guard checkpoint.task == .imageCodec, case let .codec(spec) = checkpoint.input, let coding = checkpoint.entropyTables else {
            throw CodecError(file: file, "this checkpoint is a \(checkpoint.task.rawValue), not a learned image codec (task image-codec)")
        }
        let model: Sequential
        do { model = try checkpoint.makeModel() } catch {
            throw CodecError(file: file, "cannot build the codec's transforms: \(error)")
        }
        let split = spec.analysisLayers
        try self.init(analysis: Array(model.layers[..<split]), synthesis: Array(model.layers[split...]),
                      medians: coding.medians, tables: coding.tables, fingerprint: checkpoint.fingerprint,
                      model: file, bandPixels: bandPixels)
    }
}
