import FlexRuntime

/// What `compress --report` prints: sizes, the code, bits per pixel, PSNR and MSE of the decoded image against
/// the input (8-bit, on the channels the model codes) and the time taken. JSON kind `compress_report`
/// (docs/cli.md, "JSON output").
struct CompressReport: Encodable {
    var input: String
    var width: Int
    var height: Int
    /// `gray`, `gray+alpha`, `RGB` or `RGBA`: the input image's channels.
    var channels: String
    var inputBytes: Int
    var model: String
    /// `autoencoder` (a CAE checkpoint, tiles) or `learned` (an image-codec checkpoint, whole images).
    var codec: String
    /// Code values per tile: channels, height, width (autoencoder).
    var codeShape: [Int]?
    /// The model's tile: height, width (autoencoder).
    var tileShape: [Int]?
    /// Tiles down and across (autoencoder).
    var tiles: [Int]?
    var bits: Int?
    /// The quality level chosen among the shipped models (learned codec without --model).
    var quality: Int?
    /// The rate–distortion weight the learned model was trained with.
    var lambda: JSONNumber?
    /// Latent channels, height, width (learned).
    var latentShape: [Int]?
    /// Horizontal bands the image was coded in (learned).
    var bands: Int?
    var output: String
    var outputBytes: Int
    /// Input file bytes per output byte.
    var compressionRatio: JSONNumber
    var bitsPerPixel: JSONNumber
    /// `null` in JSON (`inf` in the table) when the decoded image equals the input.
    var psnrDb: JSONNumber
    var mse: JSONNumber
    /// The channels PSNR and MSE compare: `gray` or `RGB`.
    var comparedChannels: String
    var totalMs: JSONNumber
    var compressMs: JSONNumber

    func rendered(_ format: OutputFormat) -> String {
        switch format {
        case .json: return JSONOutput.document(kind: "compress_report", self)
        case .csv: return csvRecord(csvFields)
        case .table:
            let rows = [
                ["input", "\(input): \(width)×\(height) \(channels), \(inputBytes) bytes"],
                ["model", modelDescription],
                ["output", "\(output): \(outputBytes) bytes (\(NumberText.fixed(compressionRatio.value, 1)):1 against the input file)"],
                ["bits/pixel", NumberText.fixed(bitsPerPixel.value, 4)],
                ["PSNR", (psnrDb.value.isFinite ? NumberText.fixed(psnrDb.value, 2) + " dB" : "inf (lossless)")
                    + "   MSE \(NumberText.fixed(mse.value, 3)) (decoded vs input, 8-bit \(comparedChannels))"],
                ["time", "\(NumberText.fixed(totalMs.value, 1)) ms total, \(NumberText.fixed(compressMs.value, 1)) ms compressing"],
            ]
            return keyValueLines(rows)
        }
    }

    private var modelDescription: String {
        if let latentShape {
            return "\(model) (learned codec\(quality.map { ", quality \($0)" } ?? "")\(lambda.map { ", λ \(NumberText.exact($0.value))" } ?? ""), "
                + "latents \(latentShape.map(String.init).joined(separator: "×")), \(bands ?? 1) band\(bands == 1 ? "" : "s"))"
        }
        let c = codeShape ?? [], t = tileShape ?? [0, 0], n = tiles ?? [0, 0]
        return "\(model) (\(c.map(String.init).joined(separator: "×")) code per \(t[1])×\(t[0]) tile, \(n[1])×\(n[0]) tiles, \(bits ?? 0) bits)"
    }

    /// The CSV columns: the JSON keys (every one, empty where it does not apply), the shapes written as `16x5x5`.
    private var csvFields: [(String, String)] {
        func shape(_ s: [Int]?) -> String { s.map { $0.map(String.init).joined(separator: "x") } ?? "" }
        return [("input", input), ("width", "\(width)"), ("height", "\(height)"), ("channels", channels),
         ("input_bytes", "\(inputBytes)"), ("model", model), ("codec", codec),
         ("code_shape", shape(codeShape)), ("tile_shape", shape(tileShape)), ("tiles", shape(tiles)),
         ("bits", bits.map(String.init) ?? ""), ("quality", quality.map(String.init) ?? ""),
         ("lambda", lambda.map { NumberText.exact($0.value) } ?? ""), ("latent_shape", shape(latentShape)),
         ("bands", bands.map(String.init) ?? ""), ("output", output),
         ("output_bytes", "\(outputBytes)"), ("compression_ratio", NumberText.exact(compressionRatio.value)),
         ("bits_per_pixel", NumberText.exact(bitsPerPixel.value)),
         ("psnr_db", psnrDb.value.isFinite ? NumberText.exact(psnrDb.value) : ""), ("mse", NumberText.exact(mse.value)),
         ("compared_channels", comparedChannels), ("total_ms", NumberText.exact(totalMs.value)),
         ("compress_ms", NumberText.exact(compressMs.value))]
    }
}

/// What `decompress --report` prints: the input, the model found, the image and the time taken. JSON kind
/// `decompress_report`.
struct DecompressReport: Encodable {
    var input: String
    var inputBytes: Int
    var model: String
    var fingerprint: String
    var width: Int
    var height: Int
    var channels: String
    var output: String
    var outputBytes: Int
    var totalMs: JSONNumber

    func rendered(_ format: OutputFormat) -> String {
        switch format {
        case .json: return JSONOutput.document(kind: "decompress_report", self)
        case .csv:
            return csvRecord([("input", input), ("input_bytes", "\(inputBytes)"), ("model", model),
                              ("fingerprint", fingerprint), ("width", "\(width)"), ("height", "\(height)"),
                              ("channels", channels), ("output", output), ("output_bytes", "\(outputBytes)"),
                              ("total_ms", NumberText.exact(totalMs.value))])
        case .table:
            return keyValueLines([
                ["input", "\(input): \(inputBytes) bytes"],
                ["model", "\(model) (\(fingerprint))"],
                ["output", "\(output): \(width)×\(height) \(channels), \(outputBytes) bytes"],
                ["time", "\(NumberText.fixed(totalMs.value, 1)) ms total"],
            ])
        }
    }
}

/// `key  value` lines, the keys padded to one width (terminal-safe: values quote file names).
func keyValueRows(_ rows: [[String]], indent: String = "") -> [String] {
    let width = rows.map { $0[0].count }.max() ?? 0
    return rows.map { row in
        indent + row[0] + String(repeating: " ", count: width - row[0].count) + "  " + terminalSafe(row[1])
    }
}

/// `keyValueRows` as text ending with a line break.
func keyValueLines(_ rows: [[String]], indent: String = "") -> String {
    keyValueRows(rows, indent: indent).joined(separator: "\n") + "\n"
}

/// A CSV document of one record: the names as the header line, then the values.
func csvRecord(_ fields: [(String, String)]) -> String {
    fields.map { csvField($0.0) }.joined(separator: ",") + "\n" + fields.map { csvField($0.1) }.joined(separator: ",") + "\n"
}
