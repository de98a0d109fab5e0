// Square patches sampled from a folder of PNG photos, with a held-out split by rows. See docs/data-formats.md,
// "Images".
import FlexImageIO
import FlexRuntime

/// Seeded sampler of square patches from a folder of PNG photos (gray/RGB/RGBA, samples as stored; alpha dropped; gray → RGB by
/// replication when channels == 3; RGB → gray by BT.601 luma when channels == 1).
///
/// Held-out split without overlap: for every photo of height H, the test part is its bottom
/// round(H · testFraction) rows and the train part the rows above; train patches lie entirely in the train part and
/// test patches entirely in the test part. Photos too small for a patch in a part are skipped for that part; a
/// part with no photo at all is an error naming the folder and the minimum size.
///
/// Patches are drawn uniformly over all valid positions of the part: a photo with probability ∝ its number of
/// valid positions, then a uniform position in it (one draw of a SplitMix64 stream). Deterministic for a seed and
/// independent of the file system's listing order (file names are sorted).
public struct PhotoPatchSampler: Sendable {
    /// Which rows of the photos patches come from.
    public enum Part: Sendable { case train, test }

    /// Where a patch lies: photo index (into `photoNames`) and its top-left corner.
    public struct Position: Sendable, Equatable, Hashable {
        public var photo: Int, x: Int, y: Int
        public init(photo: Int, x: Int, y: Int) {
            self.photo = photo
            self.x = x
            self.y = y
        }
    }

    /// The folder as given.
    public let folder: String
    /// Side of the square patches.
    public let patchSize: Int
    /// 1 (gray) or 3 (RGB).
    public let channels: Int
    /// Fraction of each photo's rows (at the bottom) reserved for the test part.
    public let testFraction: Double
    /// The PNG files used, sorted by name.
    public var photoNames: [String]

    private var photos: [Photo]

    private struct Photo: Sendable {
        var width: Int, height: Int
        /// Planar: `channels` planes of height × width.
        var pixels: [UInt8]
        /// First row of the test part.
        var splitRow: Int
    }

    /// Loads every `*.png` in `folder` (not hidden files; names sorted) as `channels` (1 or 3) 8-bit channels.
    public init(folder: String, patchSize: Int = 32, channels: Int = 3, testFraction: Double = 0.2) throws(DataError) {
        guard channels == 1 || channels == 3 else {
            throw DataError(file: folder, message: "patches must have 1 (gray) or 3 (RGB) channels, not \(channels)")
        }
        guard patchSize > 0 else {
            throw DataError(file: folder, message: "patch size must be positive, not \(patchSize)")
        }
        guard testFraction > 0, testFraction < 1 else {
            throw DataError(file: folder, message: "test fraction must be between 0 and 1 (exclusive), not \(testFraction)")
        }
        self.folder = folder
        self.patchSize = patchSize
        self.channels = channels
        self.testFraction = testFraction

        guard imagePathKind(folder) == .folder else {
            throw DataError(file: folder, message: "not a folder; expected a folder of PNG photos")
        }
        let names = try imageFolderEntries(folder).filter {
            !$0.hasPrefix(".") && $0.lowercased().hasSuffix(".png") && imagePathKind(imageJoin(folder, $0)) == .file
        }
        guard !names.isEmpty else {
            throw DataError(file: folder, message: "no PNG files (*.png) in this folder")
        }
        var photos: [Photo] = []
        for name in names {
            let path = imageJoin(folder, name)
            let bytes = try readWholeImageFile(path, maxBytes: maximumPNGFileBytes)
            let image: PNGImage
            do {
                image = try decodePNG(bytes, name: path)
            } catch {
                throw DataError(file: path, message: error.reason)
            }
            let split = image.height - Int((Double(image.height) * testFraction).rounded())
            photos.append(Photo(width: image.width, height: image.height,
                                pixels: Self.planar(image, channels: channels), splitRow: split))
        }
        self.photoNames = names
        self.photos = photos

        for part in [Part.train, .test] where positionCounts(part).allSatisfy({ $0 == 0 }) {
            let (minWidth, minHeight) = minimumSize()
            let sizes = zip(names, photos).map { "\($0) \($1.width)×\($1.height)" }.joined(separator: ", ")
            let percent = Int((testFraction * 100).rounded())
            throw DataError(file: folder, message:
                "no photo is large enough for \(patchSize)×\(patchSize) patches in the \(part == .train ? "train part (top \(100 - percent)% of rows)" : "test part (bottom \(percent)% of rows)"); "
                + "a photo needs at least \(minWidth) columns and \(minHeight) rows for both parts; found \(sizes)")
        }
    }

    /// Width and height of photo `index`.
    public func photoSize(_ index: Int) -> (width: Int, height: Int) {
        (photos[index].width, photos[index].height)
    }

    /// First row of photo `index`'s test part (rows above it are the train part).
    public func splitRow(_ index: Int) -> Int { photos[index].splitRow }

    /// Number of valid patch positions in each photo for `part` (0 when the photo is too small for it).
    public func positionCounts(_ part: Part) -> [Int] {
        photos.map { p in
            let rows = part == .train ? p.splitRow : p.height - p.splitRow
            guard p.width >= patchSize, rows >= patchSize else { return 0 }
            return (p.width - patchSize + 1) * (rows - patchSize + 1)
        }
    }

    /// The top-left corners `sample(count:seed:part:)` uses, in order.
    public func positions(count: Int, seed: UInt64, part: Part) -> [Position] {
        let counts = positionCounts(part)
        var cumulative: [Int] = []  // cumulative[i] = positions in photos 0..<i
        cumulative.reserveCapacity(counts.count + 1)
        var total = 0
        for c in counts {
            cumulative.append(total)
            total += c
        }
        precondition(total > 0, "no valid positions")  // init guarantees both parts have some
        var rng = PatchRandom(seed: seed)
        var out: [Position] = []
        out.reserveCapacity(count)
        for _ in 0..<count {
            let r = Int(rng.below(UInt64(total)))
            // Last photo whose cumulative start is <= r (photos with no positions are never selected).
            var lo = 0, hi = counts.count - 1
            while lo < hi {
                let mid = (lo + hi + 1) / 2
                if cumulative[mid] <= r { lo = mid } else { hi = mid - 1 }
            }
            let p = photos[lo]
            let local = r - cumulative[lo]
            let across = p.width - patchSize + 1
            let top = part == .train ? 0 : p.splitRow
            out.append(Position(photo: lo, x: local % across, y: top + local / across))
        }
        return out
    }

    /// `count` patches of `part`, drawn with `seed` (see the type's description), as a `channels`×`patchSize`×
    /// `patchSize` image set without labels.
    public func sample(count: Int, seed: UInt64, part: Part) -> ImageSet {
        let positions = positions(count: count, seed: seed, part: part)
        let size = patchSize, plane = size * size, imageSize = channels * plane
        var pixels = [UInt8](repeating: 0, count: count * imageSize)
        pixels.withUnsafeMutableBufferPointer { dst in
            for (n, position) in positions.enumerated() {
                let p = photos[position.photo]
                p.pixels.withUnsafeBufferPointer { src in
                    for c in 0..<channels {
                        for row in 0..<size {
                            let from = (c * p.height + position.y + row) * p.width + position.x
                            dst.baseAddress!.advanced(by: n * imageSize + c * plane + row * size)
                                .update(from: src.baseAddress!.advanced(by: from), count: size)
                        }
                    }
                }
            }
        }
        return ImageSet(count: count, channels: channels, height: size, width: size, pixels: pixels,
                        source: "\(part == .train ? "train" : "test") patches \(size)×\(size) of \(photos.count) photos in \(folder) (seed \(seed))")
    }

    /// Smallest photo (width, height) that has a patch position in both parts.
    private func minimumSize() -> (Int, Int) {
        var height = patchSize
        while height < patchSize * 1_000_000 {
            let test = Int((Double(height) * testFraction).rounded())
            if height - test >= patchSize && test >= patchSize { break }
            height += 1
        }
        return (patchSize, height)
    }

    /// The file's samples (gray, gray+alpha, RGB or RGBA, as stored) → planar RGB (alpha dropped, gray
    /// replicated) or gray (BT.601 luma of colour; gray files unchanged).
    private static func planar(_ image: PNGImage, channels: Int) -> [UInt8] {
        let plane = image.width * image.height, c = image.channels
        var out = [UInt8](repeating: 0, count: channels * plane)
        out.withUnsafeMutableBufferPointer { dst in
            image.pixels.withUnsafeBufferPointer { src in
                for i in 0..<plane {
                    if c <= 2 {
                        for k in 0..<channels { dst[k * plane + i] = src[c * i] }
                    } else if channels == 3 {
                        for k in 0..<3 { dst[k * plane + i] = src[c * i + k] }
                    } else {
                        dst[i] = bt601Luma(src[c * i], src[c * i + 1], src[c * i + 2])
                    }
                }
            }
        }
        return out
    }
}

/// SplitMix64 with an unbiased bounded draw (Lemire's multiply-and-reject).
private struct PatchRandom {
    var state: UInt64
    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in 0 ..< bound (bound > 0).
    mutating func below(_ bound: UInt64) -> UInt64 {
        var m = next().multipliedFullWidth(by: bound)
        if m.low < bound {
            let threshold = (0 &- bound) % bound
            while m.low < threshold { m = next().multipliedFullWidth(by: bound) }
        }
        return m.high
    }
}
