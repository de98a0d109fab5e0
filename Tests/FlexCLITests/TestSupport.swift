import Foundation
import Testing

/// A fresh temporary folder, removed by `cleanup()`.
struct TempDir {
    let path: String

    init() throws {
        let base = FileManager.default.temporaryDirectory.path
        path = "\(base)/flexcli-tests-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    func file(_ name: String) -> String { "\(path)/\(name)" }

    func contents() -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted()
    }

    func cleanup() { try? FileManager.default.removeItem(atPath: path) }
}

/// Snapshot files live in `Tests/FlexCLITests/Snapshots`. Set `FLEXCTL_UPDATE_SNAPSHOTS=1` to rewrite them.
enum Snapshot {
    static var folder: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Snapshots")
    }

    static var updating: Bool { ProcessInfo.processInfo.environment["FLEXCTL_UPDATE_SNAPSHOTS"] == "1" }

    /// Compares `actual` with the named snapshot (or records it when updating).
    static func check(_ actual: String, named name: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let url = folder.appendingPathComponent(name)
        if updating {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            try actual.write(to: url, atomically: true, encoding: .utf8)
            return
        }
        guard let expected = try? String(contentsOf: url, encoding: .utf8) else {
            Issue.record("missing snapshot \(url.path); run with FLEXCTL_UPDATE_SNAPSHOTS=1 to record it",
                         sourceLocation: sourceLocation)
            return
        }
        #expect(actual == expected,
                "output differs from snapshot \(name); if the change is intended, rerun with FLEXCTL_UPDATE_SNAPSHOTS=1",
                sourceLocation: sourceLocation)
    }
}

/// The independent reference for p-sig-ramp: o(z) = α·σ(z) + (1 − α)·clip(βz + 1/2, 0, 1) (paper eq. 5),
/// written out here from the formula, not from the library.
func pSigRampReference(_ z: Double, alpha a: Double, beta b: Double)
    -> (value: Double, dz: Double, dAlpha: Double, dBeta: Double) {
    let s = 1 / (1 + exp(-z))
    let u = b * z + 0.5
    let inside = u > 0 && u < 1
    let ramp = min(max(u, 0), 1)
    return (a * s + (1 - a) * ramp,
            a * s * (1 - s) + (1 - a) * (inside ? b : 0),
            s - ramp,
            (1 - a) * (inside ? z : 0))
}
