import FlexCodec
import FlexIO
import FlexRuntime

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Problems with codec training data or runs: `FILE: message`.
public struct CodecTrainingError: Error, CustomStringConvertible, Equatable, Sendable {
    public var file: String
    public var message: String
    public init(file: String, _ message: String) {
        self.file = file
        self.message = message
    }
    public var description: String { file.isEmpty ? message : "\(file): \(message)" }
}

/// The photos a codec trains or is evaluated on, decoded to 8-bit RGB in memory, and random square crops
/// of them (random position, random horizontal flip) as `[N, 3, P, P]` tensors with values p/255.
///
/// Folders are read in name order (PNG, JPEG, PGM, PPM; other files are skipped), so the same folder and seed
/// give the same crops on every machine. Gray photos are replicated to three channels; alpha is dropped.
public struct PhotoCrops: Sendable {
    public struct Photo: Sendable {
        public var name: String
        public var width: Int
        public var height: Int
        /// RGB, row-major, interleaved.
        public var pixels: [UInt8]
    }

    public let photos: [Photo]
    /// What was read, e.g. `27 photos, 12.3 MP from .corpus/train`.
    public let summary: String
    /// Largest accepted photo file (bytes) and count of photos.
    public static let maximumFileBytes = 256 << 20
    public static let maximumPhotos = 100_000

    /// Reads every image file in `folders` (sorted by name within each folder). Photos smaller than
    /// `minimumSide` in either dimension are refused with a message naming them.
    public init(folders: [String], minimumSide: Int) throws(CodecTrainingError) {
        var photos: [Photo] = []
        for folder in folders {
            var names: [String] = []
            guard let dir = opendir(folder) else {
                throw CodecTrainingError(file: folder, "cannot open the folder (\(String(cString: strerror(errno)))); expected a folder of PNG or JPEG photos")
            }
            while let entry = readdir(dir) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
                if ImageFile.isReadable(path: name) { names.append(name) }
            }
            closedir(dir)
            names.sort()
            guard !names.isEmpty else {
                throw CodecTrainingError(file: folder, "no PNG, JPEG, PGM or PPM files in this folder")
            }
            for name in names {
                guard photos.count < Self.maximumPhotos else {
                    throw CodecTrainingError(file: folder, "more than \(Self.maximumPhotos) photos")
                }
                let path = folder.hasSuffix("/") ? folder + name : folder + "/" + name
                let bytes: [UInt8]
                do { bytes = try readRegularFile(path, maxBytes: Self.maximumFileBytes) } catch {
                    throw CodecTrainingError(file: path, error.reason)
                }
                var image: RasterImage
                do { image = try ImageFile.decode(bytes, name: path) } catch {
                    throw CodecTrainingError(file: path, error.message)
                }
                image = image.droppingAlpha().converted(toChannels: 3)
                guard image.width >= minimumSide, image.height >= minimumSide else {
                    throw CodecTrainingError(file: path, "photo is \(image.width)x\(image.height); training crops need at least \(minimumSide)x\(minimumSide)")
                }
                photos.append(Photo(name: path, width: image.width, height: image.height, pixels: image.pixels))
            }
        }
        self.photos = photos
        let mp = Double(photos.reduce(0) { $0 + $1.width * $1.height }) / 1e6
        summary = "\(photos.count) photo\(photos.count == 1 ? "" : "s"), \((mp * 10).rounded() / 10) MP from \(folders.joined(separator: ", "))"
    }

    /// A batch of `count` random `size`×`size` crops drawn with `rng`: each picks a photo with probability
    /// proportional to its number of crop positions, a uniform position, and a horizontal flip with
    /// probability ½.
    public func batch(count: Int, size: Int, rng: inout SplitMix64) -> Tensor {
        let weights = photos.map { Double(($0.width - size + 1) * ($0.height - size + 1)) }
        let total = weights.reduce(0, +)
        let plane = size * size
        var out = [Float](repeating: 0, count: count * 3 * plane)
        for b in 0..<count {
            var pick = Double(rng.next() >> 11) * 0x1p-53 * total
            var index = photos.count - 1
            for (i, w) in weights.enumerated() {
                if pick < w { index = i; break }
                pick -= w
            }
            let photo = photos[index]
            let x0 = Int(rng.next() % UInt64(photo.width - size + 1))
            let y0 = Int(rng.next() % UInt64(photo.height - size + 1))
            let flip = rng.next() & 1 == 1
            photo.pixels.withUnsafeBufferPointer { src in
                out.withUnsafeMutableBufferPointer { dst in
                    for y in 0..<size {
                        let row = ((y0 + y) * photo.width + x0) * 3
                        for x in 0..<size {
                            let sx = flip ? size - 1 - x : x
                            let s = row + sx * 3
                            let d = b * 3 * plane + y * size + x
                            dst[d] = Float(src[s]) / 255
                            dst[d + plane] = Float(src[s + 1]) / 255
                            dst[d + 2 * plane] = Float(src[s + 2]) / 255
                        }
                    }
                }
            }
        }
        return Tensor(shape: [count, 3, size, size], scalars: out)
    }

    /// Photo `i` cropped to the largest size divisible by `multiple` (top-left aligned), as `[1, 3, H, W]`.
    public func wholePhoto(_ i: Int, multiple: Int) -> Tensor {
        let p = photos[i]
        let w = p.width / multiple * multiple, h = p.height / multiple * multiple
        var out = [Float](repeating: 0, count: 3 * w * h)
        for y in 0..<h {
            for x in 0..<w {
                let s = (y * p.width + x) * 3
                for c in 0..<3 { out[(c * h + y) * w + x] = Float(p.pixels[s + c]) / 255 }
            }
        }
        return Tensor(shape: [1, 3, h, w], scalars: out)
    }
}
