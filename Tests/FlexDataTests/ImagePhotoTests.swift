// PhotoPatchSampler: determinism, the held-out split by rows, gray/RGB/RGBA photos, uniform sampling, errors.
import FlexData
import Foundation
import Testing

/// A scratch folder holding copies of the named fixture PNGs (copied in the given order).
func photoFolder(_ names: [String]) throws -> String {
    let folder = try imageScratchFolder()
    for name in names {
        try FileManager.default.copyItem(atPath: ImageFixtures.path(name), toPath: folder + "/" + name)
    }
    return folder
}

let allFixturePNGs = ["gray-40x50.png", "rgb-36x30.png", "rgba-30x44.png"]

@Suite("Images: photo patches")
struct ImagePhotoTests {
    @Test("names are sorted; split rows are height − round(0.2 · height)")
    func photos() throws {
        let sampler = try PhotoPatchSampler(folder: ImageFixtures.folder, patchSize: 8)
        #expect(sampler.photoNames == allFixturePNGs)  // the JSON and .gz fixtures are ignored
        #expect(sampler.photoSize(0) == (40, 50) && sampler.splitRow(0) == 40)
        #expect(sampler.photoSize(1) == (36, 30) && sampler.splitRow(1) == 24)
        #expect(sampler.photoSize(2) == (30, 44) && sampler.splitRow(2) == 35)
        // rgb-36x30 has 6 test rows: too few for 8×8 patches, so it is skipped for the test part only.
        #expect(sampler.positionCounts(.train) == [33 * 33, 29 * 17, 23 * 28])
        #expect(sampler.positionCounts(.test) == [33 * 3, 0, 23 * 2])
    }

    @Test("the same seed gives the same patches, another seed other patches")
    func determinism() throws {
        let sampler = try PhotoPatchSampler(folder: ImageFixtures.folder, patchSize: 8)
        let a = sampler.sample(count: 200, seed: 42, part: .train)
        let b = sampler.sample(count: 200, seed: 42, part: .train)
        let c = sampler.sample(count: 200, seed: 43, part: .train)
        #expect(a == b)
        #expect(a.pixels != c.pixels)
        #expect(a.count == 200 && a.channels == 3 && a.height == 8 && a.width == 8 && a.labels == nil)
        #expect(sampler.sample(count: 50, seed: 42, part: .test) == sampler.sample(count: 50, seed: 42, part: .test))
        // Independent of the order the files were created in (and so of the listing order).
        let reversed = try PhotoPatchSampler(folder: try photoFolder(allFixturePNGs.reversed()), patchSize: 8)
        #expect(reversed.sample(count: 200, seed: 42, part: .train).pixels == a.pixels)
    }

    @Test("train patches lie in the top rows, test patches in the bottom rows")
    func noOverlap() throws {
        let sampler = try PhotoPatchSampler(folder: ImageFixtures.folder, patchSize: 8)
        for part in [PhotoPatchSampler.Part.train, .test] {
            let positions = sampler.positions(count: 3000, seed: 7, part: part)
            var used = Set<Int>()
            for p in positions {
                let (width, height) = sampler.photoSize(p.photo)
                let split = sampler.splitRow(p.photo)
                #expect(p.x >= 0 && p.x + 8 <= width)
                if part == .train {
                    #expect(p.y >= 0 && p.y + 8 <= split, "\(p)")
                } else {
                    #expect(p.y >= split && p.y + 8 <= height, "\(p)")
                }
                used.insert(p.photo)
            }
            #expect(used == (part == .train ? [0, 1, 2] : [0, 2]))
        }
        // The same seen through the pixels: gray-40x50 has values < 100 in its top 40 rows and ≥ 150 below.
        let gray = try PhotoPatchSampler(folder: try photoFolder(["gray-40x50.png"]), patchSize: 8, channels: 1)
        let train = gray.sample(count: 500, seed: 1, part: .train)
        let test = gray.sample(count: 500, seed: 1, part: .test)
        #expect(train.pixels.allSatisfy { $0 < 100 })
        #expect(test.pixels.allSatisfy { $0 >= 150 })
    }

    @Test("photos are chosen in proportion to their valid positions")
    func uniform() throws {
        let sampler = try PhotoPatchSampler(folder: ImageFixtures.folder, patchSize: 8)
        let counts = sampler.positionCounts(.train)
        let total = Double(counts.reduce(0, +))
        let n = 30000
        var seen = [0, 0, 0]
        for p in sampler.positions(count: n, seed: 3, part: .train) { seen[p.photo] += 1 }
        for i in 0..<3 {
            let expected = Double(n) * Double(counts[i]) / total
            // 5 standard deviations of a binomial count.
            let sd = (expected * (1 - Double(counts[i]) / total)).squareRoot()
            #expect(abs(Double(seen[i]) - expected) < 5 * sd, "photo \(i): \(seen[i]) vs \(expected)")
        }
        // Every corner of the gray photo's train part is reachable.
        let ys = sampler.positions(count: n, seed: 3, part: .train).filter { $0.photo == 0 }
        #expect(ys.contains { $0.y == 0 } && ys.contains { $0.y == 32 } && ys.contains { $0.x == 0 } && ys.contains { $0.x == 32 })
    }

    @Test("pixels: RGB exact, RGBA alpha dropped, gray replicated to RGB, RGB to gray by luma")
    func pixels() throws {
        let sampler = try PhotoPatchSampler(folder: ImageFixtures.folder, patchSize: 8)
        let positions = sampler.positions(count: 300, seed: 11, part: .train)
        let set = sampler.sample(count: 300, seed: 11, part: .train)
        let graySampler = try PhotoPatchSampler(folder: ImageFixtures.folder, patchSize: 8, channels: 1)
        let gray = graySampler.sample(count: 300, seed: 11, part: .train)
        #expect(graySampler.positions(count: 300, seed: 11, part: .train) == positions)
        for (n, p) in positions.enumerated() {
            for c in 0..<3 {
                for row in 0..<8 {
                    for col in 0..<8 {
                        let (x, y) = (p.x + col, p.y + row)
                        let expected: UInt8 = switch p.photo {
                        case 0: ImageFixtures.grayPixel(x, y)
                        case 1: ImageFixtures.rgbPixel(x, y)[c]
                        default: ImageFixtures.rgbaPixel(x, y)[c]
                        }
                        let got = set.pixels[n * 192 + c * 64 + row * 8 + col]
                        if got != expected {
                            Issue.record("photo \(p.photo) (\(x), \(y)) channel \(c): \(got) ≠ \(expected)")
                            return
                        }
                    }
                }
            }
        }
        // Gray patches are the luma of the RGB ones (gray photos unchanged).
        let rgb = ImageSet(count: 300, channels: 3, height: 8, width: 8, pixels: set.pixels, source: "")
        #expect(gray.pixels == (try rgb.converted(toChannels: 1)).pixels)
    }

    @Test("the fixture PNGs match what the Python script wrote")
    func fixtureRows() throws {
        for (name, png) in ImageFixtures.reference.pngs {
            let x = (0..<png.width).flatMap { x -> [UInt8] in
                switch png.channels {
                case 1: [ImageFixtures.grayPixel(x, 0)]
                case 3: ImageFixtures.rgbPixel(x, 0)
                default: ImageFixtures.rgbaPixel(x, 0)
                }
            }
            #expect(x.map(Int.init) == png.first_row, "\(name)")
        }
    }

    @Test("folders without usable photos are errors naming the folder")
    func errors() throws {
        let empty = try imageScratchFolder()
        try writeBytes(Array("not a photo".utf8), to: empty + "/notes.txt")
        expectDataError(file: empty, position: "", ["no PNG files"]) { () throws(DataError) in
            _ = try PhotoPatchSampler(folder: empty)
        }
        // rgb-36x30 alone is too small for 32×32 patches in either part.
        let small = try photoFolder(["rgb-36x30.png"])
        expectDataError(file: small, position: "", ["32×32", "at least 32 columns and 158 rows", "rgb-36x30.png 36×30"]) {
            () throws(DataError) in _ = try PhotoPatchSampler(folder: small, patchSize: 32)
        }
        // With 8×8 patches it has train positions but no test positions.
        expectDataError(file: small, position: "", ["test part (bottom 20% of rows)", "at least 8 columns and 38 rows"]) {
            () throws(DataError) in _ = try PhotoPatchSampler(folder: small, patchSize: 8)
        }
        let broken = try imageScratchFolder()
        try writeBytes(Array("not a photo".utf8), to: broken + "/fake.png")
        expectDataError(file: broken + "/fake.png", position: "", []) { () throws(DataError) in
            _ = try PhotoPatchSampler(folder: broken)
        }
        expectDataError(file: empty + "/nothing", position: "", ["not a folder"]) { () throws(DataError) in
            _ = try PhotoPatchSampler(folder: empty + "/nothing")
        }
        expectDataError(file: small, position: "", ["1 (gray) or 3 (RGB)"]) { () throws(DataError) in
            _ = try PhotoPatchSampler(folder: small, channels: 4)
        }
    }

    @Test("the shared photos: all 13 load (gray, RGB, RGBA) and sample", .enabled(if: ImageFixtures.exists(ImageFixtures.photosFolder)))
    func sharedPhotos() throws {
        let sampler = try PhotoPatchSampler(folder: ImageFixtures.photosFolder)
        #expect(sampler.photoNames.count == 13 && sampler.photoNames.contains("horse.png"))
        #expect(sampler.positionCounts(.train).allSatisfy { $0 > 0 })
        #expect(sampler.positionCounts(.test).allSatisfy { $0 > 0 })
        let set = sampler.sample(count: 64, seed: 0, part: .test)
        #expect(set.count == 64 && set.channels == 3 && set.height == 32 && set.width == 32)
    }
}
