// The learned codec's `/entropy_model` group (docs/checkpoint-format.md, "Entropy model"): the integer CDF tables
// and medians the codec codes with, and optionally the float density parameters training resumes from. Every
// size is checked against the limits from the datasets' shapes before any table is built, and every table is
// validated by `CDFTable(minSymbol:cdf:)`, so the tables a checkpoint yields are safe to code with.

import FlexEntropy
import FlexHDF5

extension CheckpointReader {
    static var maxDensityLayers: Int { EntropyCodingTables.maxDensityLayers }
    static var maxDensityWidth: Int { EntropyCodingTables.maxDensityWidth }
    /// Invalid table rows reported one by one; the rest are counted.
    static let maxReportedRows = 3

    /// Reads `/entropy_model`; nil when anything is wrong (every problem is added). `latentChannels` is M from
    /// the input specification, when it parsed.
    mutating func readEntropyModel(_ root: HDF5SnapshotGroup, latentChannels: Int?, strict: Bool)
        -> (tables: EntropyCodingTables, density: [(name: String, tensor: Tensor)])? {
        let path = "/entropy_model"
        let g: HDF5SnapshotGroup
        do { g = try root.group("entropy_model") } catch {
            add(path, "expected a group holding the datasets medians, min_symbol, cdf_length and cdf, found a dataset")
            return nil
        }
        let before = problems.count
        let known = ["medians", "min_symbol", "cdf_length", "cdf", "density"]
        if strict, let names = try? g.attributeNames() {
            for n in names { add(path, "unexpected attribute '\(n)' (the entropy model has no attributes)") }
        }
        let members = listMembers(g)
        if strict {
            for (name, kind) in members where !known.contains(name) {
                add(g.childPath(name), "unexpected \(kind.rawValue) (the entropy model holds medians, min_symbol, cdf_length, cdf and optionally the group density)")
            }
        }

        // Shapes and types first: M and L are bounded before anything is built from them.
        func info(_ name: String, _ expected: String) -> (shape: [Int], type: HDF5StoredType)? {
            let p = g.childPath(name)
            guard let m = members.first(where: { $0.name == name }) else {
                add(p, "missing dataset (expected \(expected))")
                return nil
            }
            guard m.kind == .dataset, let i = try? g.datasetInfo(name) else {
                add(p, "expected a dataset \(expected), found a \(m.kind.rawValue)")
                return nil
            }
            return i
        }
        let mText = latentChannels.map { "M = \($0)" } ?? "M"
        let mediansInfo = info("medians", "float32 [\(mText)]")
        let minInfo = info("min_symbol", "int32 [\(mText)]")
        let lengthInfo = info("cdf_length", "int32 [\(mText)]")
        let cdfInfo = info("cdf", "int32 [\(mText), L]")

        // M: from medians, else from any other dataset; then every dataset must agree with it.
        var channels: Int?
        for (name, i) in [("medians", mediansInfo), ("min_symbol", minInfo), ("cdf_length", lengthInfo)] {
            guard let i else { continue }
            if i.shape.count != 1 {
                add(g.childPath(name), "wrong rank: expected rank 1 [\(mText)], found rank \(i.shape.count) \(formatShape(i.shape))")
            } else if channels == nil {
                channels = i.shape[0]
            }
        }
        if channels == nil, let i = cdfInfo, i.shape.count == 2 { channels = i.shape[0] }
        guard let m = channels else { return nil }
        if let expected = latentChannels, m != expected {
            add(path, "expected one table per latent channel, latent_channels = \(expected) (attribute 'input'), found \(m) channels")
            return nil
        }
        guard m >= 1, m <= EntropyCodingTables.maxChannels else {
            add(path, "expected 1...\(EntropyCodingTables.maxChannels) channels, found \(m)")
            return nil
        }
        for (name, i) in [("medians", mediansInfo), ("min_symbol", minInfo), ("cdf_length", lengthInfo)] {
            if let i, i.shape.count == 1, i.shape[0] != m {
                add(g.childPath(name), "expected shape \(formatShape([m])) (one per latent channel), found \(formatShape(i.shape))")
            }
        }
        if let i = mediansInfo, i.type != .float(bits: 32) {
            add(g.childPath("medians"), "wrong dtype: expected float32 (stored exactly, the symbols are offsets from it), found \(i.type)")
        }
        for (name, i) in [("min_symbol", minInfo), ("cdf_length", lengthInfo), ("cdf", cdfInfo)] {
            guard let i else { continue }
            if case .integer = i.type {} else {
                add(g.childPath(name), "wrong dtype: expected int32 (or another integer type), found \(i.type)")
            }
        }
        let maxLength = CDFTable.maxSymbolCount + 1
        if let i = cdfInfo {
            if i.shape.count != 2 {
                add(g.childPath("cdf"), "wrong rank: expected rank 2 [\(m), L], found rank \(i.shape.count) \(formatShape(i.shape))")
            } else if i.shape[0] != m {
                add(g.childPath("cdf"), "expected \(m) rows (one per latent channel), found \(formatShape(i.shape))")
            } else if i.shape[1] < 3 || i.shape[1] > maxLength {
                add(g.childPath("cdf"), "expected L (the longest table) in 3...\(maxLength) (at most \(CDFTable.maxSymbolCount) symbols with the escape), found \(formatShape(i.shape))")
            } else if m * i.shape[1] > EntropyCodingTables.maxStoredEntries {
                add(g.childPath("cdf"), "\(formatShape(i.shape)) holds \(m * i.shape[1]) entries; at most \(EntropyCodingTables.maxStoredEntries) are allowed")
            }
        }
        guard problems.count == before, cdfInfo != nil, mediansInfo != nil, minInfo != nil, lengthInfo != nil else {
            return nil
        }

        // Values.
        let medians: [Float], minSymbols: [Int64], lengths: [Int64], cdf: [Int64]
        do {
            medians = try g.readFloats("medians").values
            minSymbols = try g.readInt64s("min_symbol").values
            lengths = try g.readInt64s("cdf_length").values
            cdf = try g.readInt64s("cdf").values
        } catch {
            add(error.path, "cannot read the values (HDF5: \(error.detail.isEmpty ? error.message : error.detail))")
            return nil
        }
        let width = cdfInfo!.shape[1]
        let badMedians = medians.indices.filter { !medians[$0].isFinite }
        if let first = badMedians.first {
            add(g.childPath("medians"), "\(badMedians.count) of \(m) values \(badMedians.count == 1 ? "is" : "are") NaN or infinite (first at [\(first)]: \(medians[first]))")
        }
        var tables: [CDFTable] = []
        tables.reserveCapacity(m)
        var badRows: [(row: Int, path: String, message: String)] = []
        for c in 0..<m {
            let length = lengths[c]
            guard length >= 3, length <= Int64(width) else {
                badRows.append((c, g.childPath("cdf_length"), "channel \(c): expected a table length in 3...\(width) (L, the width of \(path)/cdf), found \(length)"))
                continue
            }
            guard let minSymbol = Int32(exactly: minSymbols[c]) else {
                badRows.append((c, g.childPath("min_symbol"), "channel \(c): expected an int32, found \(minSymbols[c])"))
                continue
            }
            let row = cdf[(c * width)..<((c + 1) * width)]
            let entries = row.prefix(Int(length))
            if let i = entries.firstIndex(where: { $0 < 0 || $0 > Int64(CDFTable.total) }) {
                badRows.append((c, g.childPath("cdf"), "row \(c): entry \(i - row.startIndex) is \(row[i]); expected 0...\(CDFTable.total)"))
                continue
            }
            if let i = row.dropFirst(Int(length)).firstIndex(where: { $0 != 0 }) {
                badRows.append((c, g.childPath("cdf"), "row \(c): padding entry \(i - row.startIndex) (after cdf_length[\(c)] = \(length) entries) is \(row[i]); expected 0"))
                continue
            }
            do {
                tables.append(try CDFTable(minSymbol: minSymbol, cdf: entries.map { UInt32($0) }))
            } catch {
                badRows.append((c, g.childPath("cdf"), "row \(c): \(error)"))
            }
        }
        for bad in badRows.prefix(Self.maxReportedRows) { add(bad.path, bad.message) }
        if badRows.count > Self.maxReportedRows {
            add(path, "\(badRows.count) of \(m) tables are invalid (the first \(Self.maxReportedRows) are reported)")
        }

        var density: [(name: String, tensor: Tensor)] = []
        if let member = members.first(where: { $0.name == "density" }) {
            if member.kind != .group {
                add(g.childPath("density"), "expected a group of density parameters, found a \(member.kind.rawValue)")
            } else if let d = try? g.group("density"), let read = readDensity(d, channels: m) {
                density = read
            }
        }
        guard problems.count == before else { return nil }
        return (EntropyCodingTables(medians: medians, tables: tables), density)
    }

    /// `/entropy_model/density`: `EntropyBottleneck`'s parameters for some K ≥ 1 layers, `matrix{k}` [M, w(k+1),
    /// w(k)], `bias{k}` [M, w(k+1)] for k < K, `factor{k}` [M, w(k+1)] for k < K − 1, `quantiles` [M, 3], with
    /// w(0) = w(K) = 1 and hidden widths read from the matrices; any float type, finite values. Empty group:
    /// no density. Returned in `EntropyBottleneck.parameterNames` order.
    mutating func readDensity(_ g: HDF5SnapshotGroup, channels m: Int) -> [(name: String, tensor: Tensor)]? {
        let before = problems.count
        let members = listMembers(g)
        if members.isEmpty { return [] }
        var layers = 0
        while layers <= Self.maxDensityLayers, members.contains(where: { $0.name == "matrix\(layers)" }) { layers += 1 }
        guard layers >= 1, layers <= Self.maxDensityLayers else {
            add(g.path, layers == 0 ? "expected the datasets matrix0…, bias0…, factor0…, quantiles (or none), found no matrix0"
                : "expected at most \(Self.maxDensityLayers) density layers (matrix0 … matrix\(Self.maxDensityLayers - 1)), found more")
            return nil
        }
        let names = EntropyCodingTables.densityLayout(channels: m, widths: [Int](repeating: 1, count: layers + 1)).map(\.name)
        for (name, kind) in members where !names.contains(name) || kind != .dataset {
            add(g.childPath(name), "unexpected \(kind.rawValue): a density of \(layers) layers has the datasets \(names.joined(separator: ", "))")
        }
        // The widths from the matrices' shapes, checked before reading any values.
        var widths = [1]
        for k in 0..<layers {
            let name = "matrix\(k)"
            guard let i = try? g.datasetInfo(name), i.shape.count == 3, i.shape[0] == m, i.shape[2] == widths[k],
                  i.shape[1] >= 1, i.shape[1] <= Self.maxDensityWidth, k < layers - 1 || i.shape[1] == 1 else {
                let found = (try? g.datasetInfo(name)).map { formatShape($0.shape) } ?? "no dataset"
                let out = k == layers - 1 ? "1" : "w in 1...\(Self.maxDensityWidth)"
                add(g.childPath(name), "expected shape [\(m), \(out), \(widths[k])] (channels, outputs, inputs of density layer \(k)), found \(found)")
                return nil
            }
            widths.append(i.shape[1])
        }
        var out: [(name: String, tensor: Tensor)] = []
        var types: [HDF5StoredType] = []  // the density is always written as float32; not part of storedType
        for (name, shape) in EntropyCodingTables.densityLayout(channels: m, widths: widths) {
            let p = g.childPath(name)
            guard let member = members.first(where: { $0.name == name }) else {
                add(p, "missing dataset (expected float32 \(formatShape(shape)))")
                continue
            }
            guard member.kind == .dataset else { continue }  // reported above
            if let t = readParameter(g, name, path: p, shape: shape, types: &types) { out.append((name, t)) }
        }
        return problems.count == before ? out : nil
    }
}
