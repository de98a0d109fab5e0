// How many bytes the codec's inputs may have on disk (or on standard input); larger files are refused, naming
// their size and the limit, before anything is allocated. See docs/data-formats.md and docs/flexz-format.md.

extension ImageFile {
    /// Largest PNG, JPEG, PGM or PPM file read: 512 MiB (an 8192 × 8192 16-bit RGB PPM is 384 MiB).
    public static let maximumFileBytes = 512 << 20
}

extension FlexzFile {
    /// Largest .flexz file read: 512 MiB.
    public static let maximumFileBytes = 512 << 20
}
