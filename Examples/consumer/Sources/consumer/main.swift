// Loads a shipped image autoencoder with FlexRuntime, reconstructs a PNG sample with it and prints the
// reconstruction's quality (the example of embedding the runtime; see README.md in this folder).
//
//     consumer MODEL.h5 IMAGE.png MIN_PSNR_DB
//
// Exits 1 when the PSNR is below MIN_PSNR_DB (scripts/test uses this as a check that the runtime works when
// linked into another package), 2 on bad arguments or unreadable files.

import FlexCodec
import FlexRuntime

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

func fail(_ message: String, code: Int32 = 2) -> Never {
    let line = Array("consumer: \(message)\n".utf8)
    _ = line.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    exit(code)
}

/// The whole file (a sample of a few kilobytes; an application would use its own I/O).
func readFile(_ path: String) -> [UInt8] {
    guard let f = fopen(path, "rb") else { fail("cannot open \(path): \(String(cString: strerror(errno)))") }
    defer { fclose(f) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = chunk.withUnsafeMutableBytes { fread($0.baseAddress, 1, $0.count, f) }
        if n == 0 { break }
        bytes += chunk[0..<n]
    }
    if ferror(f) != 0 { fail("cannot read \(path)") }
    return bytes
}

let args = CommandLine.arguments
guard args.count == 4, let minPSNR = Double(args[3]) else { fail("usage: consumer MODEL.h5 IMAGE.png MIN_PSNR_DB") }

do {
    let session = try ImageCodecSession(path: args[1], threads: 1)
    let image = try ImageFile.decode(readFile(args[2]), name: args[2])
    let shape = session.inputShape  // [C, H, W]
    guard image.channels == shape[0], image.height == shape[1], image.width == shape[2] else {
        fail("\(args[2]): \(image.width)×\(image.height)×\(image.channels), the model takes \(shape[2])×\(shape[1])×\(shape[0])")
    }
    // RasterImage is interleaved HWC; the model takes CHW.
    var chw = [UInt8](repeating: 0, count: image.pixels.count)
    for y in 0..<image.height {
        for x in 0..<image.width {
            for c in 0..<image.channels {
                chw[(c * image.height + y) * image.width + x] = image.pixels[(y * image.width + x) * image.channels + c]
            }
        }
    }
    let input = try session.modelInput(pixels: chw, count: 1)
    let code = try session.encode(input)
    let output = session.pixels(try session.decode(code))
    var hwc = [UInt8](repeating: 0, count: output.count)
    for y in 0..<image.height {
        for x in 0..<image.width {
            for c in 0..<image.channels {
                hwc[(y * image.width + x) * image.channels + c] = output[(c * image.height + y) * image.width + x]
            }
        }
    }
    let restored = RasterImage(width: image.width, height: image.height, channels: image.channels, pixels: hwc)
    let (mse, psnr) = imageDistortion(image, restored)
    print("model \(session.fingerprint.prefix(19))…: \(image.width)×\(image.height) image → code \(code.shape) → PSNR \((psnr * 100).rounded() / 100) dB (MSE \((mse * 100).rounded() / 100))")
    if !(psnr >= minPSNR) { fail("PSNR \(psnr) dB is below \(minPSNR) dB", code: 1) }
} catch {
    fail("\(error)")
}
