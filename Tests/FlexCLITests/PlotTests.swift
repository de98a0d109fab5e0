import FlexCLI
import FlexIO
import FlexPlot
import Foundation
import Testing
#if canImport(FoundationXML)
import FoundationXML
#endif

/// Counts elements by name while parsing.
private final class ElementCounter: NSObject, XMLParserDelegate {
    var counts: [String: Int] = [:]
    var texts: [String] = []
    private var inText = false
    private var current = ""
    func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
                attributes: [String: String] = [:]) {
        counts[name, default: 0] += 1
        if name == "text" { inText = true; current = "" }
    }
    func parser(_ parser: XMLParser, foundCharacters string: String) {
        if inText { current += string }
    }
    func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
        if name == "text" { texts.append(current); inText = false }
    }
}

private func activationPlot() throws -> LinePlot {
    let command = try #require(try Flexctl.parseAsRoot(["activation", "p-sig-ramp", "--alpha", "0.5", "--beta", "0.5"])
        as? ActivationCommand)
    return ActivationCommand.makePlot(ActivationCommand.tabulate(try command.resolve()))
}

@Suite("FlexPlot")
struct PlotTests {
    @Test("nice ticks")
    func ticks() {
        let t = AxisTicks(min: -4, max: 4, target: 4)
        #expect(t.values == [-4, -2, 0, 2, 4])
        #expect(t.labels == ["-4", "-2", "0", "2", "4"])
        let u = AxisTicks(min: 0.003, max: 0.97, target: 5)
        #expect(u.lower == 0 && u.upper == 1 && u.step == 0.2)
        #expect(u.labels == ["0.0", "0.2", "0.4", "0.6", "0.8", "1.0"])
        let flat = AxisTicks(min: 3, max: 3)
        #expect(flat.lower < 3 && flat.upper > 3)
        let tiny = AxisTicks(min: -0.0004, max: 0.0011, target: 5)
        #expect(tiny.labels.contains("0.0000"))
        #expect(!tiny.labels.contains { $0.hasPrefix("-0.0000") })
    }

    @Test("SVG parses as XML, has one path per series and readable labels")
    func svg() throws {
        var plot = try activationPlot()
        plot.xLabel = "z <input> & \"more\""
        let svg = plot.svg()
        let parser = XMLParser(data: Data(svg.utf8))
        let counter = ElementCounter()
        parser.delegate = counter
        #expect(parser.parse(), "SVG is not well-formed XML: \(String(describing: parser.parserError))")
        #expect(counter.counts["svg"] == 1)
        #expect(counter.counts["path"] == 2)
        #expect(counter.texts.contains("o(z)"))
        #expect(counter.texts.contains("dO/dz"))
        #expect(counter.texts.contains("z <input> & \"more\""))
        #expect(counter.texts.contains("p-sig-ramp (alpha=0.5, beta=0.5)"))
    }

    @Test("PNG: valid file with the expected size, white background, both series drawn")
    func png() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let plot = try activationPlot()
        let path = dir.file("plot.png")
        try plot.write(to: path)
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        #expect(Array(bytes.prefix(8)) == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        #expect(Array(bytes[12..<16]) == Array("IHDR".utf8))
        func be32(_ i: Int) -> Int { bytes[i..<(i + 4)].reduce(0) { $0 << 8 | Int($1) } }
        #expect(be32(16) == 800 && be32(20) == 500)

        let image = try readPNG(path: path, channels: 3)
        #expect(image.width == 800 && image.height == 500)
        func color(_ x: Int, _ y: Int) -> RGBColor {
            let i = 3 * (y * image.width + x)
            return RGBColor(red: image.pixels[i], green: image.pixels[i + 1], blue: image.pixels[i + 2])
        }
        #expect(color(2, 2) == .white)
        let all = (0..<(image.width * image.height)).map { color($0 % image.width, $0 / image.width) }
        let counts = Dictionary(all.map { ($0, 1) }, uniquingKeysWith: +)
        for c in RGBColor.palette.prefix(2) {
            #expect((counts[c] ?? 0) > 300, "series colour \(c.hex) barely drawn")
        }
        #expect(dir.contents() == ["plot.png"])
    }

    @Test("writePNG: gray, RGB and RGBA round-trip; errors name the file; nothing partial is left")
    func writePNGRoundTrip() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        for channels in [1, 3, 4] {
            let w = 7, h = 5
            let pixels = (0..<(w * h * channels)).map { UInt8(($0 * 37) & 0xFF) }
            let path = dir.file("img\(channels).png")
            try writePNG(path: path, width: w, height: h, channels: channels, pixels: pixels)
            let back = try readPNG(path: path, channels: channels)
            #expect(back.width == w && back.height == h)
            #expect(back.pixels == pixels)
        }
        // Overwrite replaces atomically.
        try writePNG(path: dir.file("img1.png"), width: 1, height: 1, channels: 1, pixels: [9])
        #expect(try readPNG(path: dir.file("img1.png"), channels: 1).pixels == [9])

        let missing = dir.file("no/such/folder/x.png")
        #expect {
            try writePNG(path: missing, width: 1, height: 1, channels: 1, pixels: [0])
        } throws: { error in
            "\(error)".contains(missing)
        }
        #expect {
            try writePNG(path: dir.file("bad.png"), width: 2, height: 2, channels: 3, pixels: [0, 1, 2])
        } throws: { error in
            "\(error)".contains("bad.png") && "\(error)".contains("expected 12 bytes")
        }
        #expect {
            try writePNG(path: dir.file("bad2.png"), width: 1, height: 1, channels: 2, pixels: [0, 0])
        } throws: { error in
            "\(error)".contains("bad2.png") && "\(error)".contains("channel")
        }
        #expect(dir.contents() == ["img1.png", "img3.png", "img4.png"])
    }

    @Test("readPNG of a non-PNG file reports the file")
    func readGarbage() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        try writeFileAtomically(path: dir.file("fake.png"), text: "not a png")
        #expect {
            _ = try readPNG(path: dir.file("fake.png"))
        } throws: { error in
            "\(error)".contains("fake.png")
        }
    }

    @Test("an unsupported extension is refused")
    func badExtension() throws {
        #expect(throws: FileWriteError.self) { try LinePlot().write(to: "/tmp/x.gif") }
        #expect(LinePlot.Format(path: "a/b.SVG") == .svg)
        #expect(LinePlot.Format(path: "a.b/c") == nil)
    }

    @Test("non-finite points break the line instead of breaking the plot")
    func nonFinite() {
        var plot = LinePlot(title: "gaps")
        plot.addSeries(name: "s", x: [0, 1, 2, 3, 4], y: [0, 1, .nan, 3, .infinity])
        let svg = plot.svg()
        #expect(svg.contains("M"))
        #expect(!svg.contains("nan"))
        _ = plot.raster()
    }

    /// Values near the largest double (a crafted CSV's prices, a diverging loss) used to overflow the axis
    /// range and trap converting pixel positions to Int.
    @Test("extreme finite values plot without trapping", arguments: [1.7e308, -1.7e308, 1e300, 5e-324])
    func extremeValues(_ big: Double) {
        var plot = LinePlot(title: "extreme")
        plot.addSeries(name: "s", x: [0, 1, 2, 3], y: [0, big, -big, 1])
        plot.addSeries(name: "t", x: [0, big, 2, 3], y: [1, 2, 3, 4])
        #expect(plot.svg().contains("<svg"))
        _ = plot.raster()
        _ = AxisTicks(min: -Double.greatestFiniteMagnitude, max: Double.greatestFiniteMagnitude)
    }
}
