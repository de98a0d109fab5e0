/// An RGB raster (8 bits per channel, rows top to bottom) with the few primitives a line plot needs:
/// filled rectangles, crisp 1-pixel rules, anti-aliased polylines and bitmap-font text.
public struct RasterCanvas: Sendable {
    public let width: Int
    public let height: Int
    /// Interleaved RGB bytes, `width * height * 3`.
    public private(set) var pixels: [UInt8]

    public init(width: Int, height: Int, background: RGBColor = .white) {
        precondition(width > 0 && height > 0, "canvas size must be positive, found \(width)x\(height)")
        self.width = width
        self.height = height
        var px = [UInt8](repeating: 0, count: width * height * 3)
        for i in 0..<(width * height) {
            px[3 * i] = background.red
            px[3 * i + 1] = background.green
            px[3 * i + 2] = background.blue
        }
        self.pixels = px
    }

    /// The pixel at (x, y); for tests.
    public func pixel(x: Int, y: Int) -> RGBColor {
        let i = 3 * (y * width + x)
        return RGBColor(red: pixels[i], green: pixels[i + 1], blue: pixels[i + 2])
    }

    /// Blends `color` over the pixel with coverage `a` in 0...1. Off-canvas pixels are ignored.
    @inline(__always)
    mutating func blend(x: Int, y: Int, color: RGBColor, coverage a: Double) {
        guard x >= 0, y >= 0, x < width, y < height, a > 0 else { return }
        let i = 3 * (y * width + x)
        if a >= 1 {
            pixels[i] = color.red
            pixels[i + 1] = color.green
            pixels[i + 2] = color.blue
            return
        }
        func mix(_ old: UInt8, _ new: UInt8) -> UInt8 {
            UInt8((Double(old) * (1 - a) + Double(new) * a).rounded())
        }
        pixels[i] = mix(pixels[i], color.red)
        pixels[i + 1] = mix(pixels[i + 1], color.green)
        pixels[i + 2] = mix(pixels[i + 2], color.blue)
    }

    /// Fills the rectangle [x0, x1) × [y0, y1), clipped to the canvas; `opacity` < 1 blends the colour over
    /// what is there (translucent bars).
    public mutating func fillRect(x0: Int, y0: Int, x1: Int, y1: Int, color: RGBColor, opacity: Double = 1) {
        for y in Swift.max(0, y0)..<Swift.min(height, Swift.max(y1, y0)) {
            for x in Swift.max(0, x0)..<Swift.min(width, Swift.max(x1, x0)) {
                blend(x: x, y: y, color: color, coverage: opacity)
            }
        }
    }

    /// Fills a polygon (even-odd rule) with `color` blended at `opacity`, each pixel in or out by its centre.
    /// Not anti-aliased: the shapes it fills (a band under a line) have their edges drawn over them, and a
    /// hard edge keeps every inside pixel the one blended colour. Clipped to `clip` when given.
    public mutating func fillPolygon(_ points: [(x: Double, y: Double)], color: RGBColor, opacity: Double = 1,
                                     clip: (x0: Int, y0: Int, x1: Int, y1: Int)? = nil) {
        guard points.count >= 3, points.allSatisfy({ $0.x.isFinite && $0.y.isFinite && abs($0.x) < 1e7 && abs($0.y) < 1e7 })
        else { return }
        let cx0 = Swift.max(0, clip?.x0 ?? 0), cy0 = Swift.max(0, clip?.y0 ?? 0)
        let cx1 = Swift.min(width, clip?.x1 ?? width), cy1 = Swift.min(height, clip?.y1 ?? height)
        let ys = points.map(\.y)
        let rowLo = Swift.max(cy0, Int(ys.min()!.rounded(.down))), rowHi = Swift.min(cy1 - 1, Int(ys.max()!.rounded(.up)))
        guard cx0 < cx1, rowLo <= rowHi else { return }
        for row in rowLo...rowHi {
            let yc = Double(row) + 0.5
            var crossings: [Double] = []
            for (i, a) in points.enumerated() {
                let b = points[(i + 1) % points.count]
                if (a.y <= yc) != (b.y <= yc) { crossings.append(a.x + (yc - a.y) * (b.x - a.x) / (b.y - a.y)) }
            }
            crossings.sort()
            // Pixel x is inside when its centre x + 0.5 lies in [left, right).
            for k in stride(from: 0, to: crossings.count - 1, by: 2) {
                let first = Swift.max(cx0, Int((crossings[k] - 0.5).rounded(.up)))
                let last = Swift.min(cx1, Int((crossings[k + 1] - 0.5).rounded(.up)))
                for x in first..<Swift.max(first, last) { blend(x: x, y: row, color: color, coverage: opacity) }
            }
        }
    }

    /// A 1-pixel horizontal rule from x0 to x1 inclusive.
    public mutating func hLine(y: Int, x0: Int, x1: Int, color: RGBColor) {
        fillRect(x0: Swift.min(x0, x1), y0: y, x1: Swift.max(x0, x1) + 1, y1: y + 1, color: color)
    }

    /// A 1-pixel vertical rule from y0 to y1 inclusive.
    public mutating func vLine(x: Int, y0: Int, y1: Int, color: RGBColor) {
        fillRect(x0: x, y0: Swift.min(y0, y1), x1: x + 1, y1: Swift.max(y0, y1) + 1, color: color)
    }

    /// An anti-aliased polyline of the given width (pixel centres are at integer + 0.5).
    ///
    /// Coverage is accumulated per polyline with `max`, then composited once, so joints between
    /// segments are not darkened twice. `nil` points break the line. Drawing is clipped to `clip`
    /// (x0, y0, x1, y1 in pixels) when given.
    public mutating func polyline(_ points: [(x: Double, y: Double)?], color: RGBColor, lineWidth: Double = 2,
                                  clip: (x0: Int, y0: Int, x1: Int, y1: Int)? = nil) {
        let cx0 = Swift.max(0, clip?.x0 ?? 0), cy0 = Swift.max(0, clip?.y0 ?? 0)
        let cx1 = Swift.min(width, clip?.x1 ?? width), cy1 = Swift.min(height, clip?.y1 ?? height)
        guard cx0 < cx1, cy0 < cy1 else { return }
        let mw = cx1 - cx0
        var mask = [Float](repeating: 0, count: mw * (cy1 - cy0))
        let half = lineWidth / 2
        var touched = false
        func cover(_ ax: Double, _ ay: Double, _ bx: Double, _ by: Double) {
            let pad = half + 1
            let xmin = Swift.max(cx0, Int((Swift.min(ax, bx) - pad).rounded(.down)))
            let xmax = Swift.min(cx1 - 1, Int((Swift.max(ax, bx) + pad).rounded(.up)))
            let ymin = Swift.max(cy0, Int((Swift.min(ay, by) - pad).rounded(.down)))
            let ymax = Swift.min(cy1 - 1, Int((Swift.max(ay, by) + pad).rounded(.up)))
            guard xmin <= xmax, ymin <= ymax else { return }
            let dx = bx - ax, dy = by - ay
            let len2 = dx * dx + dy * dy
            for py in ymin...ymax {
                let y = Double(py) + 0.5
                for px in xmin...xmax {
                    let x = Double(px) + 0.5
                    var t = len2 > 0 ? ((x - ax) * dx + (y - ay) * dy) / len2 : 0
                    t = Swift.min(1, Swift.max(0, t))
                    let ex = ax + t * dx - x, ey = ay + t * dy - y
                    let d = (ex * ex + ey * ey).squareRoot()
                    let c = Float(Swift.min(1, Swift.max(0, half + 0.5 - d)))
                    if c > 0 {
                        let k = (py - cy0) * mw + (px - cx0)
                        if c > mask[k] { mask[k] = c }
                    }
                }
            }
            touched = true
        }
        var previous: (x: Double, y: Double)?
        for p in points {
            guard let p, p.x.isFinite, p.y.isFinite, abs(p.x) < 1e7, abs(p.y) < 1e7 else {
                previous = nil
                continue
            }
            if let q = previous { cover(q.x, q.y, p.x, p.y) } else { cover(p.x, p.y, p.x, p.y) }
            previous = p
        }
        guard touched else { return }
        for py in cy0..<cy1 {
            for px in cx0..<cx1 {
                let c = mask[(py - cy0) * mw + (px - cx0)]
                if c > 0 { blend(x: px, y: py, color: color, coverage: Double(c)) }
            }
        }
    }

    /// Draws one line of text with its top-left corner at (x, y); each font pixel is `scale` pixels.
    /// With `vertical`, the text runs bottom to top (rotated 90° anticlockwise) starting at (x, y) as its
    /// bottom-left corner.
    public mutating func text(_ s: String, x: Int, y: Int, scale: Int = 1, color: RGBColor = .black,
                              vertical: Bool = false) {
        var penX = 0
        for ch in s {
            let cols = BitmapFont.glyph(ch)
            for (cx, bits) in cols.enumerated() {
                for row in 0..<BitmapFont.glyphHeight where bits & (1 << row) != 0 {
                    let fx = penX + cx, fy = row
                    for sy in 0..<scale {
                        for sx in 0..<scale {
                            if vertical {
                                // Font (fx, fy) maps to canvas (x + fy, y - fx): rotated anticlockwise.
                                blend(x: x + fy * scale + sy, y: y - fx * scale - sx, color: color, coverage: 1)
                            } else {
                                blend(x: x + fx * scale + sx, y: y + fy * scale + sy, color: color, coverage: 1)
                            }
                        }
                    }
                }
            }
            penX += BitmapFont.advance
        }
    }

    /// Text width in canvas pixels at `scale`.
    public static func textWidth(_ s: String, scale: Int = 1) -> Int { BitmapFont.textWidth(s) * scale }
    /// Glyph height in canvas pixels at `scale`.
    public static func textHeight(scale: Int = 1) -> Int { BitmapFont.glyphHeight * scale }
}
