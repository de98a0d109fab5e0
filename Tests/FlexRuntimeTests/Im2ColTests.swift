import FlexRuntime
import Testing

/// `im2col`'s two loops (strided runs, table gather) against its definition, element by element, on geometries that reach every edge case of its
/// strided runs: strides 1–3, paddings 0–3 (including wider than the kernel's reach, so whole output lines
/// or columns are padding), kernels 1–5, images smaller than the kernel, non-square images, rows wide enough
/// for stride 2's 8-wide vector runs and their scalar tails, batches of 1–3.
@Suite struct Im2ColTests {
    @Test func matchesTheDefinition() {
        var checked = 0
        for (h, w) in [(1, 1), (4, 7), (9, 5), (16, 16), (6, 41), (5, 64)] {
            for kernel in [1, 2, 3, 5] {
                for stride in 1...3 {
                    for padding in 0...3 {
                        let g = ConvGeometry(channels: 2, height: h, width: w, kernel: kernel, stride: stride, padding: padding)
                        guard g.outputHeight > 0, g.outputWidth > 0 else { continue }
                        for batch in [1, 3] {
                            let image = (0..<(batch * 2 * h * w)).map { Float($0 + 1) }
                            var columns = [Float](repeating: .nan, count: g.patchSize * batch * g.outputPixels)
                            var gathered = columns
                            image.withUnsafeBufferPointer { ip in
                                columns.withUnsafeMutableBufferPointer { cp in
                                    im2colRuns(ip.baseAddress!, batch: batch, geometry: g, columns: cp.baseAddress!)
                                }
                                gathered.withUnsafeMutableBufferPointer { cp in
                                    im2colGather(ip.baseAddress!, batch: batch, geometry: g, columns: cp.baseAddress!)
                                }
                            }
                            var ok = columns == gathered
                            for c in 0..<2 { for kh in 0..<kernel { for kw in 0..<kernel {
                                let r = (c * kernel + kh) * kernel + kw
                                for b in 0..<batch { for oy in 0..<g.outputHeight { for ox in 0..<g.outputWidth {
                                    let iy = oy * stride - padding + kh, ix = ox * stride - padding + kw
                                    let expected: Float = iy >= 0 && iy < h && ix >= 0 && ix < w
                                        ? image[((b * 2 + c) * h + iy) * w + ix] : 0
                                    let col = b * g.outputPixels + oy * g.outputWidth + ox
                                    if columns[r * batch * g.outputPixels + col] != expected { ok = false }
                                } } }
                            } } }
                            #expect(ok, "\(h)×\(w) kernel \(kernel) stride \(stride) padding \(padding) batch \(batch)")
                            checked += 1
                        }
                    }
                }
            }
        }
        #expect(checked > 100)
    }

    /// `col2im`'s two loops (strided runs, table scatter) bit for bit on the same geometries, adding into an image
    /// that already holds values (overlapping windows add several terms into one pixel, in row order).
    @Test func col2imLoopsAgree() {
        var checked = 0
        for (h, w) in [(1, 1), (4, 7), (9, 5), (16, 16), (6, 41), (5, 64)] {
            for kernel in [1, 2, 3, 5] {
                for stride in 1...3 {
                    for padding in 0...3 {
                        let g = ConvGeometry(channels: 2, height: h, width: w, kernel: kernel, stride: stride, padding: padding)
                        guard g.outputHeight > 0, g.outputWidth > 0 else { continue }
                        let batch = 2
                        let columns = (0..<(g.patchSize * batch * g.outputPixels)).map { Float(($0 * 7919) % 1009) / 37 - 13 }
                        let start = (0..<(batch * 2 * h * w)).map { Float(($0 * 104729) % 997) / 91 }
                        var runs = start, scatter = start
                        columns.withUnsafeBufferPointer { cp in
                            runs.withUnsafeMutableBufferPointer { col2imRuns(cp.baseAddress!, batch: batch, geometry: g, image: $0.baseAddress!) }
                            scatter.withUnsafeMutableBufferPointer { col2imScatter(cp.baseAddress!, batch: batch, geometry: g, image: $0.baseAddress!) }
                        }
                        #expect(zip(runs, scatter).allSatisfy { $0.bitPattern == $1.bitPattern },
                                "\(h)×\(w) kernel \(kernel) stride \(stride) padding \(padding)")
                        checked += 1
                    }
                }
            }
        }
        #expect(checked > 50)
    }
}
