import CFlexSupport

/// flexctl's version: one number for the command line, the C API and the checkpoints' provenance.
public enum FlexctlVersion {
    /// Semantic version of the release.
    public static let number = "0.2.0"

    /// The git commit the release build recorded (scripts/build-release), or nil for builds that did not
    /// record one (`swift build`, a package depending on flexctl).
    public static var commit: String? {
        let text = String(cString: flex_build_commit())
        return text.isEmpty ? nil : text
    }

    /// "0.2.0 (commit 1a2b3c4d5e6f)" or "0.2.0 (commit not recorded: not built by scripts/build-release)".
    public static var description: String {
        if let commit { return "\(number) (commit \(commit))" }
        return "\(number) (commit not recorded: not built by scripts/build-release)"
    }
}
